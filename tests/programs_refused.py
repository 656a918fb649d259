"""User functions that adcompiler must refuse, for tests/test_errors.py.

Each function has exactly one line marked with the comment `# <- HERE`: the line the
CompileError must point at. The tests find that line with `inspect.getsourcelines`, so
editing this file (adding or moving functions) never breaks them.

This module is never differentiated successfully; most functions are not even valid programs
to run (they are only parsed).
"""
# flake8: noqa
import math

import numpy as np

GLOBAL_ARRAY = np.array([1.0, 2.0, 3.0])
counter = 0.0


def helper(x):
    return x * 2.0


# ----------------------------------------------------------------- loops and branches

def for_loop(x):
    y = x
    for _ in range(3):  # <- HERE
        y = y * x
    return y


def while_loop(x):
    y = x
    while y < 10.0:  # <- HERE
        y = y * 2.0
    return y


def if_elif_else(x):
    y = x * 2.0
    if x > 0.0:  # <- HERE
        y = x
    elif x < -1.0:
        y = -x
    else:
        y = 0.0
    return y


def conditional_expression(x):
    y = x * 2.0
    z = x if x > 0.0 else -x  # <- HERE
    return y + z


def and_operator(x, y):
    z = x * y
    c = x > 0.0 and y > 0.0  # <- HERE
    return z


def or_operator(x, y):
    z = x * y
    c = x > 0.0 or y > 0.0  # <- HERE
    return z


def break_in_loop(x):
    y = x
    while True:  # <- HERE
        y = y * 2.0
        break
    return y


def continue_in_loop(x):
    y = x
    for _ in range(3):  # <- HERE
        continue
    return y


# ----------------------------------------------------------------- definitions and scopes

def class_definition(x):
    y = x * 2.0
    class Box:  # <- HERE
        pass
    return y


def nested_function(x):
    y = x * 2.0
    def inner(z):  # <- HERE
        return z
    return y


def lambda_inside(x):
    y = x * 2.0
    square = lambda z: z * z  # <- HERE
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

def generator_expression(x):
    y = x * 2.0
    s = sum(x * k for k in (1.0, 2.0))  # <- HERE
    return y + s


def list_comprehension(x):
    y = x * 2.0
    s = [x * k for k in (1.0, 2.0)]  # <- HERE
    return y


def yield_statement(x):
    y = x * 2.0
    yield y  # <- HERE


def yield_value(x):
    y = x * 2.0
    z = yield y  # <- HERE
    return z


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
    s = np.sum(x, axis=0)  # <- HERE
    return s


def user_function_call(x):
    y = x * 2.0
    z = helper(y)  # <- HERE
    return z


def fft_call(x):
    y = x * 2.0
    z = np.fft.fft(y)  # <- HERE
    return np.sum(z)


def sort_call(x):
    y = x * 2.0
    z = np.sort(y)  # <- HERE
    return np.sum(z)


def undefined_name(x):
    y = x * 2.0
    z = y * not_defined_anywhere  # <- HERE
    return z


def global_array(x):
    y = x * 2.0
    z = y * GLOBAL_ARRAY  # <- HERE
    return np.sum(z)


# ----------------------------------------------------------------- literals and subscripts

def indexing(x):
    y = x * 2.0
    z = y[0]  # <- HERE
    return z


def list_literal(x):
    y = x * 2.0
    z = [x, y]  # <- HERE
    return y


def dict_literal(x):
    y = x * 2.0
    z = {"a": x}  # <- HERE
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


def floor_division(x):
    y = x * 2.0
    z = y // 3.0  # <- HERE
    return z


def modulo(x):
    y = x * 2.0
    z = y % 3.0  # <- HERE
    return z


def matmul_3d(a, b):
    c = a * 2.0
    d = c @ b  # <- HERE
    return np.sum(d)


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


# ----------------------------------------------------------------- a lambda given to grad itself

top_level_lambda = lambda x: x * 2.0  # <- HERE top_level_lambda
