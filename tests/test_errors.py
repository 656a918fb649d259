"""Refusals and bad inputs: every unsupported construct is a CompileError that names the
construct, points at the user's file and line, and (where there is one) gives a hint; bad
arguments are TypeError/ValueError naming what is wrong; run-time failures name the user's
function and the argument shapes; the user's arrays are never mutated.

The refused functions live in tests/programs_refused.py. Each marks the line the error must point
at with the comment `# <- HERE`; `marked_line` finds it through `inspect.getsourcelines`, so no
test hard-codes a line number.

Almost every test here stops before Numba (at decoration, or while lowering at the first call)
and uses jit=False; the few jit=True tests share one compiled function (`affine_sum`) so the file
stays fast.
"""
from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

from adcompiler import CompileError, grad, value_and_grad, vjp

try:
    from tests import programs_refused as R
except ImportError:  # pytest run from inside tests/
    import programs_refused as R

MARKER = "# <- HERE"


# ---------------------------------------------------------------------------- helpers

def marked_line(obj, marker: str = MARKER) -> int:
    """The absolute line, in obj's file, of the one source line of `obj` containing `marker`."""
    lines, start = inspect.getsourcelines(obj)
    hits = [i for i, line in enumerate(lines) if marker in line]
    assert len(hits) == 1, f"{marker!r} must mark exactly one line of {obj!r}, found {len(hits)}"
    return start + hits[0]


def same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def refusal(function, *args, kind=grad) -> CompileError:
    """The CompileError that `kind(function)` raises when made, or at its first call with `args`."""
    with pytest.raises(CompileError) as info:
        transformed = kind(function, jit=False)
        transformed(*args)
    return info.value


def check_error(error: CompileError, function, *, says, hint, marker=MARKER, file=None):
    """`error` names the construct (every string of `says`), points at the marked line of
    `function` in `file` (default: programs_refused.py), and has a hint containing `hint`
    (when `hint` is None, no hint is required)."""
    message = error.message.lower()
    for words in ([says] if isinstance(says, str) else says):
        assert words.lower() in message, f"message {error.message!r} does not mention {words!r}"
    assert error.loc is not None, f"no location for {error.message!r}"
    assert same_file(error.loc.file, file or R.__file__), (error.loc.file, file or R.__file__)
    expected = marked_line(function, marker)
    assert error.loc.line == expected, \
        f"error points at line {error.loc.line}, the construct is on line {expected}: {error}"
    if hint is not None:
        assert error.hint, f"no hint for {error.message!r}"
        assert hint.lower() in error.hint.lower(), f"hint {error.hint!r} does not mention {hint!r}"
    # str(error): "file:line: in function(): message" and, with a hint, "\n  hint: ..."
    text = str(error)
    assert text.startswith(f"{error.loc.file}:{error.loc.line}: in {error.loc.function}(): {error.message}")
    if error.hint:
        assert text.endswith(f"\n  hint: {error.hint}")


# ---------------------------------------------------------------------------- every refused construct

ARRAY = np.array([1.0, 2.0, 3.0])
MATRIX = np.arange(6.0).reshape(2, 3)

LOOP = "`for` loop"  # the hint of comprehensions: write a for loop

# (function in programs_refused, arguments for the first call, words the message must contain,
#  words the hint must contain or None)
CONSTRUCTS = [
    # statements inside loops and branches are fenced like top-level ones
    ("list_append_in_while", (1.5,), ["list `ys`", "`while` loop"], "preallocate"),
    ("unused_call_in_branch", (1.5,), "expression statement whose value is unused", "assign"),
    ("for_else", (1.5,), "`for ... else`", "flag"),
    # definitions and scopes
    ("class_definition", (1.5,), "class definition", "outside"),
    ("global_statement", (1.5,), "`global`", "argument"),
    ("nonlocal_statement", (1.5,), "`nonlocal`", "argument"),
    ("import_inside", (1.5,), "import", "module level"),
    ("import_from_inside", (1.5,), "import", "module level"),
    ("del_statement", (1.5,), "`del`", "unused"),
    # exceptions and contexts
    ("try_statement", (1.5,), "`try`", "check inputs"),
    ("with_statement", (1.5,), "`with`", "context manager"),
    ("assert_statement", (1.5,), "`assert`", "check inputs"),
    ("raise_statement", (1.5,), "`raise`", "check inputs"),
    # comprehensions and generators
    ("list_comprehension_filtered", (ARRAY,), ["comprehension", "no `if`"], "appending to a list"),
    # `yield` on its own line is a generator, not an unused expression statement
    ("yield_statement", (1.5,), "generator (`yield`)", "return a value"),
    ("yield_value", (1.5,), "generator (`yield`)", "return a value"),      # `z = yield y`
    ("yield_from_statement", (1.5,), "generator (`yield from`)", "return a value"),
    # `await` exists only in an `async def` (anywhere else it is a SyntaxError): the refusal must
    # say that the function is async (the fence's own row reads "an async function")
    ("coroutine_function", (1.5,), "async", None),
    # signatures and calls
    ("star_args_in_call", (1.5,), "star-arguments (`f(*args)`)", "separately"),
    ("varargs_signature", (1.5,), "a `*args` parameter is not supported", "parameter a name"),
    ("kwargs_signature", (1.5,), "a `**kwargs` parameter is not supported", "parameter a name"),
    ("keyword_only_parameter", (1.5,), "keyword-only parameter", "positional"),
    ("keyword_argument", (ARRAY,), ["`np.exp`", "keyword argument", "`out=`"], "by position"),
    ("unsupported_keyword", (ARRAY,), ["`np.sum`", "'dtype'"], "supported arguments"),
    ("double_star_in_call", (ARRAY,), "`**` arguments are not supported", "by name"),
    # the user's own functions are inlined; recursion and bad calls are refused at the call
    ("recursive_call", (1.5,), ["`recursive_call`", "recursion"], "x.shape[0]"),
    ("helper_called_wrongly", (1.5,), ["`helper`", "does not match its parameters", "too many"], "its definition takes"),
    ("callable_object_call", (1.5,), "calling `DOUBLE` is not supported", "your own functions"),
    ("fft_call", (ARRAY,), ["`np.fft.fft` returns an array of dtype complex128", "not supported"], "float64"),
    ("undefined_name", (1.5,), "the name `not_defined_anywhere` is not defined", "pass it in"),
    ("global_int32_array", (ARRAY,), ["`GLOBAL_INT32`", "int32"], "float64"),
    ("no_rule_call", (ARRAY,), ["`np.i0` has no derivative rule", "differentiated value reaches it"], "custom_vjp"),
    # the operand that is not a value is named, as the user wrote it
    ("function_used_as_value", (ARRAY,), "`np.sin` cannot be used as a number or array", "np.sin(x)"),
    # axes and keywords of the NumPy functions that take them
    ("axis_from_argument", (MATRIX, 0), ["axis", "constant known at compile time"], "literal"),
    ("axis_out_of_range", (ARRAY,), ["axis 1", "out of range", "1-D"], "from -1 to 0"),
    # subscripts (reads are supported; writes and unusual indices are not)
    ("element_assignment", (ARRAY,), ["assignment into `x`", "argument", "caller's array"], "x = x.copy()"),
    ("element_augmented_assignment", (ARRAY,), ["assignment into `y`", "argument", "view"], "y = y.copy()"),
    ("float_array_index", (ARRAY, np.zeros((2, 2))), "array index is not supported",
     "integer arrays"),
    ("mask_of_wrong_rank", (MATRIX, np.array([True, False])), "array index is not supported",
     "boolean mask"),
    # the message must say what the index is in the user's words (`float64`), not in the IR's
    # (`weak f64`)
    ("float_index", (ARRAY,), ["index must be an integer", "float"], "int(...)"),
    ("too_many_indices", (ARRAY,), "too many indices for a 1-D array", "at most 1"),
    # `x.shape[3]` of a 1-D array: a refusal at the line, not an IndexError from the compiler
    ("shape_index_out_of_range", (ARRAY,), ["index", "out of range"], "from -1 to 0"),
    # shapes and joins
    ("reshape_scalar", (1.5,), "reshaping to or from a scalar", "ravel"),
    ("concatenate_ranks", (ARRAY, MATRIX), ["np.concatenate", "one rank"], "np.expand_dims"),
    # literals: a list is a value only as an argument of a function that takes a sequence
    # (np.concatenate, np.stack); anywhere else the message must call it a list, as written
    ("list_literal", (1.5,), ["list", "cannot be used as a number or array"], "np.array(...)"),
    ("set_literal", (1.5,), "set literal", "separate arguments"),
    ("f_string", (1.5,), "f-string", "outside"),
    # operators
    ("chained_comparison", (1.5,), "chained comparison", "two values"),
    ("matmul_3d", (np.ones((2, 2, 2)), np.ones(2)), ["`@`", "3-D", "1-D"], "2-D"),  # stacks @ vectors
    ("matmul_scalar", (ARRAY,), "`@` with a scalar operand is not supported", "`*`"),
    ("inplace_through_alias", (ARRAY,), ["`a`", "shares its memory with `b`"], "new array"),
    ("inplace_through_view", (ARRAY,), ["`a`", "shares its memory with `b`"], "new array"),
    # assignments
    ("starred_assignment", (1.5,), "starred assignment (`a, *b = ...`)", "plain names"),
    # statements and returns
    ("code_after_return", (1.5,), "after `return`", "unreachable"),
    ("missing_return", (1.5,), "return", "return"),
    ("bare_return", (1.5,), "return", "return"),
    ("expression_statement", (1.5,), "expression statement", "assign"),
    ("returns_array", (ARRAY,), ["scalar output", "1-D array"], "adcompiler.vjp"),
    ("returns_tuple", (1.5,), "tuple of 2 values", "single value"),
    ("returns_int", (1.5, 2), ["int64", "no gradient"], "float"),
    ("returns_bool", (1.5,), ["bool", "no gradient"], "float"),
    # statements spanning lines: the error points at the construct's line
    ("multiline_fence", (1.5,), "set literal", "separate arguments"),
    ("multiline_lowering", (1.5,), "`<<`", "+ - * /"),
    ("multiline_call", (ARRAY,), "`np.i0`", "supported"),
    ("multiline_matmul_3d", (np.ones((2, 2, 2)), np.ones(2)), ["`@`", "3-D"], "2-D"),
    ("multiline_matmul_scalar", (ARRAY,), ["`@`", "scalar operand"], "`*`"),
    ("multiline_axis", (ARRAY, 0), ["axis", "constant"], "literal"),  # the call's line
]


@pytest.mark.parametrize("name, args, says, hint", CONSTRUCTS, ids=[c[0] for c in CONSTRUCTS])
def test_refused_construct(name, args, says, hint):
    function = getattr(R, name)
    error = refusal(function, *args)
    check_error(error, function, says=says, hint=hint)
    assert error.loc.function == function.__name__


def test_every_refused_program_is_tested():
    """A function added to programs_refused.py without a row in CONSTRUCTS fails here."""
    tested = {c[0] for c in CONSTRUCTS}
    helpers = {"helper", "make_nonlocal", "two_shares_vjp"}
    tested |= {"helper_with_try", "calls_helper_with_try", "ping", "pong", "calls_two_shares"}  # below
    defined = {name for name, obj in vars(R).items()
               if inspect.isfunction(obj) and name not in helpers
               and (obj.__module__ == R.__name__)}
    assert defined - tested == set()


def test_fence_table_hints_reach_the_user():
    """Each construct refused by the fence table carries that table's hint (not an empty one)."""
    from adcompiler.frontend.fence import REFUSED
    import gast
    for name, node in [("try_statement", gast.Try), ("f_string", gast.JoinedStr), ("set_literal", gast.Set),
                       ("yield_statement", gast.Yield)]:
        with pytest.raises(CompileError) as info:
            grad(getattr(R, name), jit=False)
        construct, hint = REFUSED[node]
        assert info.value.message == f"{construct} is not supported"
        assert info.value.hint == hint


def test_refused_at_first_call_again_at_second_call():
    """A refusal found while specialising is not cached as a broken specialisation."""
    transformed = grad(R.axis_from_argument, jit=False)
    for _ in range(2):
        with pytest.raises(CompileError, match="axis must be a constant"):
            transformed(MATRIX, 0)


@pytest.mark.parametrize("kind", [value_and_grad, vjp], ids=["value_and_grad", "vjp"])
def test_other_transforms_refuse_too(kind):
    check_error(refusal(R.try_statement, 1.5, kind=kind), R.try_statement, says="`try` statement", hint="check")
    check_error(refusal(R.no_rule_call, ARRAY, kind=kind), R.no_rule_call, says="`np.i0`", hint="supported")
    check_error(refusal(R.returns_tuple, 1.5, kind=kind), R.returns_tuple, says="tuple", hint="single")


def test_vjp_accepts_an_array_output_that_grad_refuses():
    check_error(refusal(R.returns_array, ARRAY), R.returns_array, says="scalar output", hint="vjp")
    value, pullback = vjp(R.returns_array, jit=False)(ARRAY)
    np.testing.assert_allclose(value, np.sin(2.0 * ARRAY))
    np.testing.assert_allclose(pullback(np.ones(3)), 2.0 * np.cos(2.0 * ARRAY))


def test_builtin_call_hint_does_not_call_it_a_user_function():
    """`np.i0`, `np.fft.fft` are not "your own functions"; neither the message nor the hint
    may say they are (a user function, `helper`, is)."""
    for function, args in [(R.no_rule_call, (ARRAY,)), (R.fft_call, (ARRAY,))]:
        error = refusal(function, *args)
        assert error.hint, f"no hint for {error.message!r}"
        for text in (error.message, error.hint):
            assert "your own function" not in text and "helper" not in text and "inline" not in text, \
                f"{error.message!r} has hint {error.hint!r}"


# ---------------------------------------------------------------------------- the user's own functions

def test_refusal_inside_a_called_function_points_into_it():
    """A refused construct in a function the differentiated one calls: the error names and points
    at the called function's line (where the user must change the code)."""
    error = refusal(R.calls_helper_with_try, 1.5)
    check_error(error, R.helper_with_try, says="`try` statement", hint="check")
    assert error.loc.function == "helper_with_try"


def test_mutual_recursion_is_refused_where_it_closes():
    error = refusal(R.ping, 1.5)
    check_error(error, R.pong, says=["`ping`", "recursion"], hint=None)
    assert error.loc.function == "pong"


def test_recursion_hint_does_not_suggest_a_refused_construct():
    """Loops are refused too: the hint for recursion must not send the user to a loop."""
    error = refusal(R.recursive_call, 1.5)
    assert "loop" not in error.hint.lower(), error.hint


def test_custom_vjp_rule_with_wrong_number_of_shares_points_at_the_user():
    """A rule returning two gradients for a one-parameter function is refused with the function's
    name, the counts and a location in the user's file: the rule's `return` or the call."""
    with pytest.raises(CompileError) as info:
        grad(R.calls_two_shares, jit=False)(ARRAY)
    error = info.value
    assert "`two_shares`" in error.message and "2 gradients" in error.message, error.message
    assert error.hint and "one per parameter" in error.hint
    assert error.loc is not None, f"no location for {error.message!r}"
    assert same_file(error.loc.file, R.__file__)
    assert error.loc.line in (marked_line(R.two_shares_vjp, MARKER + " rule"),
                              marked_line(R.calls_two_shares, MARKER + " call")), error.loc


# ---------------------------------------------------------------------------- refusals in this file

def test_decorator_syntax_points_at_the_user_line():
    with pytest.raises(CompileError) as info:
        @grad(jit=False)
        def decorated(x):
            y = x * 2.0
            z = {y for _ in range(3)}  # <- HERE decorated
            return y
    check_error(info.value, test_decorator_syntax_points_at_the_user_line, says="set comprehension",
                hint=LOOP, marker=MARKER + " decorated", file=__file__)
    assert info.value.loc.function == "decorated"


def test_function_defined_in_a_function_points_at_the_user_line():
    def closure(x):
        y = x * 2.0
        z = y << 2  # <- HERE closure
        return z

    error = refusal(closure, 1.5)
    check_error(error, closure, says="`<<`", hint=None, marker=MARKER + " closure", file=__file__)


def test_not_a_python_function():
    for function in (np.sin, len, np.add):
        with pytest.raises(CompileError, match="not a Python function") as info:
            grad(function, jit=False)
        assert info.value.hint


@pytest.mark.parametrize("function", [np.sum, np.mean], ids=["np.sum", "np.mean"])
def test_library_function_written_in_python_is_refused(function):
    """np.sum is a Python function in NumPy's own source: grad(np.sum) is refused when made, as a
    library function (not by refusing the first `if` of NumPy's source), pointing at its `def`."""
    with pytest.raises(CompileError) as info:
        grad(function, jit=False)
    error = info.value
    name = function.__name__
    assert f"{name} is a library function, not yours" in error.message, error.message
    assert "not supported" not in error.message, error.message
    assert error.hint and "your own function" in error.hint and f"{name}(x)" in error.hint, error.hint
    code = inspect.unwrap(function).__code__
    assert error.loc is not None and error.loc.function == name
    assert same_file(error.loc.file, code.co_filename)
    assert error.loc.line == code.co_firstlineno


def test_function_without_source():
    namespace = {"np": np}
    exec("def no_source(x):\n    return x * 2.0\n", namespace)
    with pytest.raises(CompileError, match="source") as info:
        grad(namespace["no_source"], jit=False)
    assert "no_source" in str(info.value)
    assert info.value.hint


# ---------------------------------------------------------------------------- bad inputs

def two_args(x, n):
    return np.sum(x) * n


@pytest.mark.parametrize("value", [3, np.arange(3), True, np.int64(2)],
                         ids=["int", "int64 array", "bool", "np.int64"])
def test_integer_argument_in_wrt(value):
    with pytest.raises(TypeError) as info:
        grad(two_args, jit=False)(value, 2)
    message = str(info.value)
    assert "'x'" in message and "float" in message


@pytest.mark.parametrize("dtype", ["int32", "complex128", "float16", "uint8", "complex64"])
@pytest.mark.parametrize("position", [0, 1], ids=["differentiated", "not differentiated"])
def test_unsupported_dtype(dtype, position):
    args = [np.ones(3), 2]
    args[position] = np.ones(3, dtype=dtype)
    with pytest.raises(TypeError) as info:
        grad(two_args, jit=False)(*args)
    message = str(info.value)
    assert dtype in message
    assert repr(["x", "n"][position]) in message


@pytest.mark.parametrize("value", ["a string", None, object()],
                         ids=["str", "None", "object"])  # a dict is a tree (tests/test_trees.py)
def test_argument_that_is_not_a_number_or_array(value):
    with pytest.raises(TypeError) as info:
        grad(two_args, jit=False)(np.ones(3), value)
    assert "'n'" in str(info.value)
    assert type(value).__name__ in str(info.value)


@pytest.mark.parametrize("wrt, says", [
    ("z", "'z'"), (("x", "z"), "'z'"), (2, "2"), (-1, "-1"), ((0, 5), "5"),
    ((0, 0), "twice"), (("x", 0), "twice"), ((), "no parameter"),
], ids=["unknown name", "unknown name in tuple", "position too large", "negative position",
        "position too large in tuple", "duplicate position", "name and position", "empty"])
def test_bad_wrt(wrt, says):
    with pytest.raises(ValueError) as info:
        grad(two_args, wrt=wrt, jit=False)
    assert says in str(info.value)


@pytest.mark.parametrize("wrt, shown", [(True, "True"), (1.0, "1.0"), (None, "None"), ((0, True), "True"),
                                        ((1.0,), "1.0"), ({0: 1}, "{0: 1}")],
                         ids=["bool", "float", "None", "bool in tuple", "float in tuple", "dict"])
@pytest.mark.parametrize("kind", [grad, value_and_grad, vjp], ids=["grad", "value_and_grad", "vjp"])
def test_wrt_of_the_wrong_type(kind, wrt, shown):
    """`wrt` is a position, a name or a sequence of them; anything else (True is not position 1)
    is a TypeError when the function is transformed, saying what `wrt` was."""
    with pytest.raises(TypeError) as info:
        kind(two_args, wrt=wrt, jit=False)
    message = str(info.value)
    assert "wrt" in message and shown in message, message


@pytest.mark.parametrize("args, kwargs, says", [
    ((np.ones(3),), {}, "missing a required argument: 'n'"),
    ((), {}, "missing a required argument: 'x'"),
    ((np.ones(3), 2, 3), {}, "too many positional arguments"),
    ((np.ones(3),), {"m": 2}, "'n'"),
    ((np.ones(3), 2), {"x": 1.0}, "multiple values for argument 'x'"),
], ids=["missing second", "none", "too many", "unknown keyword", "twice"])
def test_wrong_arguments_name_the_function(args, kwargs, says):
    for kind in (grad, vjp):
        with pytest.raises(TypeError) as info:
            kind(two_args, jit=False)(*args, **kwargs)
        message = str(info.value)
        assert message.startswith("two_args(): "), message
        assert says in message, message


def test_arguments_by_name_are_accepted():
    """The other side of the argument check: keywords in any order bind like Python's."""
    g = grad(two_args, jit=False)(n=2.0, x=np.ones(3))
    np.testing.assert_allclose(g, [2.0, 2.0, 2.0])


# ---------------------------------------------------------------------------- run-time failures

def affine_sum(W, x, b):
    h = W @ x + b
    return np.sum(h * x)


JIT = pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])


@JIT
def test_shape_mismatch_names_function_and_shapes(jit):
    transformed = grad(affine_sum, wrt=(0, 1, 2), jit=jit)
    bad = [
        (np.ones((3, 4)), np.ones(5), np.ones(3)),   # W @ x: 4 != 5
        (np.ones((3, 3)), np.ones(3), np.ones(4)),   # W @ x + b: 3 != 4
    ]
    for W, x, b in bad:
        with pytest.raises(ValueError) as info:
            transformed(W, x, b)
        error = info.value
        assert not isinstance(error, CompileError)
        message = str(error)
        assert "affine_sum" in message
        for name, value in (("W", W), ("x", x), ("b", b)):
            assert f"{name}: {value.shape}" in message, message
        assert "numba" not in type(error).__module__
    # the specialisation is still usable with consistent shapes
    W, x, b = np.full((3, 3), 2.0), np.arange(3.0), np.ones(3)
    dW, dx, db = transformed(W, x, b)
    np.testing.assert_allclose(db, x)


def check_not_mutated(run, *arrays):
    copies = [a.copy() for a in arrays]
    result = run(*arrays)
    for array, copy in zip(arrays, copies):
        np.testing.assert_array_equal(array, copy)
    return result


@JIT
def test_inputs_are_not_mutated(jit):
    rng = np.random.default_rng(1)
    W, x, b = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)
    grads = check_not_mutated(grad(affine_sum, wrt=(0, 1, 2), jit=jit), W, x, b)
    value, pullback = check_not_mutated(vjp(affine_sum, wrt=(0, 1, 2), jit=jit), W, x, b)
    # backward does not touch the arguments (nor its own residuals: a second pullback agrees)
    first = check_not_mutated(lambda *_: pullback(1.0), W, x, b)
    second = pullback(1.0)
    for g, g1, g2 in zip(grads, first, second):
        np.testing.assert_array_equal(g, g1)
        np.testing.assert_array_equal(g1, g2)
    for g in grads:
        for a in (W, x, b):
            assert not np.shares_memory(g, a)


def reuse_everything(a, b):
    c = np.exp(a) * b + a * a
    d = np.tanh(c) @ b.T
    return np.sum(d * a) + np.mean(b)


def test_inputs_are_not_mutated_with_reuse_and_broadcasting():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    check_not_mutated(value_and_grad(reuse_everything, wrt=(0, 1), jit=False), a, b)
    value, pullback = check_not_mutated(vjp(reuse_everything, wrt=(0, 1), jit=False), a, b)
    cotangent = np.array(1.0)
    check_not_mutated(lambda *_: pullback(cotangent), a, b, cotangent)


def test_vjp_cotangent_is_not_mutated():
    x = np.array([0.5, 1.0, 2.0])
    value, pullback = vjp(R.returns_array, jit=False)(x)
    cotangent = np.array([1.0, -2.0, 3.0])
    check_not_mutated(pullback, cotangent)


@pytest.mark.parametrize("cotangent", [np.ones((3, 2)), np.ones((1, 3)), 1.0, np.array(1.0)],
                         ids=["(3, 2)", "(1, 3)", "float", "0-D array"])
def test_vjp_cotangent_rank_mismatch(cotangent):
    """A cotangent of another rank is refused with the expected and the given shapes (even one
    that would broadcast, such as (1, 3) or a scalar, for a (3,) output)."""
    value, pullback = vjp(R.returns_array, jit=False)(ARRAY)
    with pytest.raises(ValueError) as info:
        pullback(cotangent)
    message = str(info.value)
    assert "returns_array" in message and "(3,)" in message and str(np.shape(cotangent)) in message


def test_vjp_of_a_scalar_output_refuses_an_array_cotangent():
    value, pullback = vjp(squares, jit=False)(ARRAY)
    assert isinstance(value, float)
    with pytest.raises(ValueError) as info:
        pullback(np.ones(1))
    assert "()" in str(info.value) and "(1,)" in str(info.value)
    np.testing.assert_allclose(pullback(np.array(2.0)), 4.0 * ARRAY)


def doubled(x):
    return x * 2.0


@pytest.mark.parametrize("function", [R.returns_array, doubled], ids=["sin", "linear"])
def test_vjp_cotangent_shape_mismatch(function):
    """A cotangent of the right rank but the wrong shape must be refused with a ValueError that
    shows the shapes, not give a gradient of the wrong shape. (For a linear function the backward
    never meets a forward value whose shape would disagree.)"""
    value, pullback = vjp(function, jit=False)(ARRAY)
    assert value.shape == (3,)
    with pytest.raises(ValueError) as info:
        result = pullback(np.ones(4))
        print(f"pullback of a (4,) cotangent for a (3,) output returned shape {np.shape(result)}")
    assert "(4,)" in str(info.value) and "(3,)" in str(info.value)


def squares(x):
    return np.sum(x * x)


def test_nan_in_the_input_gives_nan_in_the_gradient():
    """Documented behaviour: no NaN checking; a NaN input gives NaN in the value and in exactly
    the gradient entries that depend on it (d/dx sum(x*x) = 2x)."""
    x = np.array([1.0, np.nan, 3.0])
    value, g = value_and_grad(squares, jit=False)(x)
    assert np.isnan(value)
    np.testing.assert_array_equal(np.isnan(g), [False, True, False])
    np.testing.assert_allclose(g[[0, 2]], [2.0, 6.0])
    # a NaN in a scalar argument
    value, g = value_and_grad(squares, jit=False)(float("nan"))
    assert np.isnan(value) and np.isnan(g)
    assert isinstance(g, float)
