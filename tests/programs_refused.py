"""User functions that adcompiler must refuse, for tests/test_errors.py.

Each function has exactly one line marked with the comment `# <- HERE`: the line the
CompileError must point at. The tests find that line with `inspect.getsourcelines`, so
editing this file (adding or moving functions) never breaks them.

This module is never differentiated successfully; most functions are not even valid programs
to run (they are only parsed).
"""
# flake8: noqa
import functools

import numpy as np

from adcompiler import custom_vjp

DOUBLE = functools.partial(np.multiply, 2.0)
GLOBAL_INT32 = np.array([1, 2, 3], dtype=np.int32)
OPTIONS = {"axis": 0}
counter = 0.0


def helper(x):
    return x * 2.0


# ----------------------------------------------------------------- statements inside loops and branches

def list_append_in_while(x):
    ys = []
    while x < 3.0:  # <- HERE
        ys.append(x)
        x = x + 1.0
    return np.sum(np.stack(ys))


def unused_call_in_branch(x):
    y = x * 2.0
    if y > 1.0:
        np.sin(y)  # <- HERE
    return y


def for_else(x):
    y = x
    for i in range(3):  # <- HERE
        y = y * x
    else:
        y = y + 1.0
    return y


# ----------------------------------------------------------------- definitions and scopes

def class_definition(x):
    y = x * 2.0
    class Box:  # <- HERE
        pass
    return y


def global_statement(x):
    global counter  # <- HERE
    return x * counter


def make_nonlocal():
    scale = 2.0

    def nonlocal_statement(x):
        nonlocal scale  # <- HERE
        return x * scale

    return nonlocal_statement


nonlocal_statement = make_nonlocal()


def import_inside(x):
    y = x * 2.0
    import math as m  # <- HERE
    return y


def import_from_inside(x):
    y = x * 2.0
    from math import pi  # <- HERE
    return y * pi


def del_statement(x):
    y = x * 2.0
    z = x * 3.0
    del z  # <- HERE
    return y


# ----------------------------------------------------------------- exceptions and contexts

def try_statement(x):
    y = x * 2.0
    try:  # <- HERE
        y = x * 3.0
    except ValueError:
        y = x
    return y


def with_statement(x):
    y = x * 2.0
    with np.errstate(all="ignore"):  # <- HERE
        y = x * 3.0
    return y


def assert_statement(x):
    y = x * 2.0
    assert x > 0.0  # <- HERE
    return y


def raise_statement(x):
    y = x * 2.0
    raise ValueError("no")  # <- HERE
    return y


# ----------------------------------------------------------------- comprehensions and generators

def list_comprehension_filtered(x):
    y = x * 2.0
    s = [v for v in y if v > 0.0]  # <- HERE
    return np.sum(np.array(s))


def yield_statement(x):
    y = x * 2.0
    yield y  # <- HERE


def yield_value(x):
    y = x * 2.0
    z = yield y  # <- HERE
    return z


def yield_from_statement(x):
    y = x * 2.0
    yield from (y, x)  # <- HERE


async def coroutine_function(x):  # <- HERE
    y = x * 2.0
    return y


# ----------------------------------------------------------------- signatures and calls

def star_args_in_call(x):
    pair = (x, x)
    y = np.multiply(*pair)  # <- HERE
    return y


def varargs_signature(x, *rest):  # <- HERE
    return x * 2.0


def kwargs_signature(x, **options):  # <- HERE
    return x * 2.0


def keyword_only_parameter(x, *,
                           scale=2.0):  # <- HERE
    return x * scale


def keyword_argument(x):
    y = x * 2.0
    z = np.exp(y, out=y)  # <- HERE
    return np.sum(z)


def unsupported_keyword(x):
    y = x * 2.0
    s = np.sum(y, dtype=np.float32)  # <- HERE
    return s


def double_star_in_call(x):
    y = x * 2.0
    s = np.sum(y, **OPTIONS)  # <- HERE
    return s


def axis_from_argument(x, n):
    y = x * 2.0
    s = np.sum(y, axis=n)  # <- HERE
    return np.sum(s)


def axis_out_of_range(x):
    y = x * 2.0
    s = np.sum(y, axis=1)  # <- HERE
    return np.sum(s)


def recursive_call(x):
    y = x * 2.0
    z = recursive_call(y)  # <- HERE
    return z


def helper_called_wrongly(x):
    y = x * 2.0
    z = helper(y, y)  # <- HERE
    return z


def callable_object_call(x):
    y = x * 2.0
    z = DOUBLE(y)  # <- HERE
    return z


def fft_call(x):
    y = x * 2.0
    z = np.fft.fft(y)  # <- HERE
    return np.sum(z)


def no_rule_call(x):
    y = x * 2.0
    z = np.i0(y)  # <- HERE
    return np.sum(z)


def undefined_name(x):
    y = x * 2.0
    z = y * not_defined_anywhere  # <- HERE
    return z


def global_int32_array(x):
    y = x * 2.0
    z = y * GLOBAL_INT32  # <- HERE
    return np.sum(z)


def function_used_as_value(x):
    y = x * 2.0
    z = y * np.sin  # <- HERE
    return np.sum(z)


# ----------------------------------------------------------------- literals and subscripts

def element_assignment(x):
    y = x * 2.0
    x[0] = 1.0  # <- HERE
    return np.sum(y)


def element_augmented_assignment(x):
    y = x[1:]
    y[0] += 1.0  # <- HERE
    return np.sum(y)


def float_array_index(x, idx):
    y = x * 2.0
    z = y[idx]  # <- HERE
    return np.sum(z)


def float_index(x):
    y = x * 2.0
    z = y[1.5]  # <- HERE
    return z


def mask_of_wrong_rank(X, mask):
    Y = X * 2.0
    z = Y[mask]  # <- HERE
    return np.sum(z)


def too_many_indices(x):
    y = x * 2.0
    z = y[0, 1]  # <- HERE
    return z


def shape_index_out_of_range(x):
    y = x * 2.0
    z = y * x.shape[3]  # <- HERE
    return np.sum(z)


def reshape_scalar(x):
    y = x * 2.0
    z = np.reshape(y, (1,))  # <- HERE
    return np.sum(z)


def concatenate_ranks(x, X):
    y = x * 2.0
    z = np.concatenate([y, X])  # <- HERE
    return np.sum(z)


def list_literal(x):
    y = x * 2.0
    z = y * [x, y]  # <- HERE
    return np.sum(z)


def set_literal(x):
    y = x * 2.0
    z = {x, y}  # <- HERE
    return y


def f_string(x):
    y = x * 2.0
    label = f"x = {x}"  # <- HERE
    return y


# ----------------------------------------------------------------- operators

def chained_comparison(x):
    y = x * 2.0
    inside = 0.0 < x < 1.0  # <- HERE
    return y


def matmul_3d(a, b):
    c = a * 2.0
    d = c @ b  # <- HERE
    return np.sum(d)


def inplace_through_alias(a):
    b = a
    a *= 2.0  # <- HERE
    return np.sum(a * b)


def inplace_through_view(a):
    b = a[1:]
    a += 1.0  # <- HERE
    return np.sum(b)


def matmul_scalar(a):
    c = a * 2.0
    d = c @ 2.0  # <- HERE
    return np.sum(d)


# ----------------------------------------------------------------- assignments

def starred_assignment(x):
    y = x * 2.0
    a, *b = y, x, x  # <- HERE
    return a


# ----------------------------------------------------------------- statements and returns

def code_after_return(x):
    y = x * 2.0
    return y
    z = y * 3.0  # <- HERE


def missing_return(x):
    y = x * 2.0
    z = y * 3.0  # <- HERE


def bare_return(x):
    y = x * 2.0
    return  # <- HERE


def expression_statement(x):
    y = x * 2.0
    np.sin(y)  # <- HERE
    return y


def returns_array(x):
    y = x * 2.0
    return np.sin(y)  # <- HERE


def returns_tuple(x):
    y = x * 2.0
    return y, x  # <- HERE


def returns_int(x, n):
    y = x * 2.0
    return n * 3  # <- HERE


def returns_bool(x):
    y = x * 2.0
    return y > 1.0  # <- HERE


# ----------------------------------------------------------------- statements spanning lines:
# the error must point at the line of the construct, not at the statement's first line

def multiline_fence(x):
    y = (x * 2.0 +
         {x})  # <- HERE
    return y


def multiline_lowering(x):
    y = (x * 2.0 +
         (x << 3))  # <- HERE
    return y


def multiline_call(x):
    y = (x * 2.0 +
         np.i0(x))  # <- HERE
    return np.sum(y)


def multiline_matmul_3d(a, b):
    d = (a * 2.0 +
         a @ b)  # <- HERE
    return np.sum(d)


def multiline_matmul_scalar(a):
    d = (a * 2.0 +
         a @ 2.0)  # <- HERE
    return np.sum(d)


def multiline_axis(x, n):
    y = (x * 2.0 +
         np.sum(x,  # <- HERE
                axis=n))
    return np.sum(y)


# ----------------------------------------------------------------- refusals inside the user's own
# functions: the error points into the function that holds the construct

def helper_with_try(x):
    y = x
    try:  # <- HERE
        y = y * x
    finally:
        y = y * 2.0
    return y


def calls_helper_with_try(x):
    y = x * 2.0
    z = helper_with_try(y)
    return z


def ping(x):
    return pong(x * 2.0)


def pong(x):
    z = ping(x)  # <- HERE
    return z + 1.0


@custom_vjp
def two_shares(x):
    return np.sin(x)


@two_shares.defvjp
def two_shares_vjp(g, x, out):
    return g, g  # <- HERE rule


def calls_two_shares(x):
    y = x * 2.0
    z = two_shares(y)  # <- HERE call
    return np.sum(z)
