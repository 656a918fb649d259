"""Control flow and in-place updates, end to end: the programs of tests/programs_control.py.

For every entry (function, args_factory, wrt) of `PROGRAMS`, in plain-Python mode (jit=False) and
compiled with Numba (jit=True):

1. `value_and_grad` gives the value of the plain Python function (relative 1e-12) and, for each
   argument in `wrt`, the gradient of central finite differences (tests/fd.py: Richardson-
   extrapolated, step 1e-3) to rtol 1e-6 / atol 1e-8, with the argument's shape, dtype and kind;
2. `adcompiler.jit(f)`, the compiled forward alone, gives the plain Python value (relative 1e-12);
3. the caller's arguments are never modified (compared with copies taken before each call).

Why those tolerances: the programs are smooth at their arguments (every branch condition is at
least ~1e-2 from its threshold for any seed, and the finite differences move one argument by at
most 1e-3), so the finite-difference error is truncation O(h^4 f''''') plus round-off ~1e-16 |f| / h:
on this corpus the estimates at steps 1e-3 and 5e-4 agree to < 4e-10 everywhere (checked over
100 seeds per entry). The while loops with a data-dependent stop (Newton, fixed point) may change
their trip count inside the stencil, but by then an iteration moves the value by < 1e-12, which
costs < 1e-9 in the difference quotient. atol 1e-8 is 10-100x above those errors; rtol 1e-6 is for
gradients of magnitude 10 and more. A real mistake (a derivative of the wrong branch, a value
read after it was overwritten instead of before, a missing iteration) is off by far more.

Each function is transformed once per mode (the transformed objects live in `_TRANSFORMED`, so the
registry entries of one function share one compiled specialisation); before an entry is checked,
the function is first called on the arguments of its first registry entry, so an entry that takes
another path runs code that was specialised while the first path was taken (a compiler that froze
the branch or trip count it saw first fails here). Numba compiles each function in a few seconds:
in jit=True mode only the functions in `NUMBA_BY_DEFAULT` (one or more per construct) run by
default; the others are marked slow (`-m slow`, or `-m ""` for everything).

`REFUSED` entries must raise CompileError naming the construct and pointing at the line marked
`# <- HERE` in programs_control.py. `EITHER` entries (aliasing, views, overlapping slices, types
that change along a path) pin today's outcome: EXACT entries must compile with value and gradient
as above (a CompileError fails), the others must be refused like `REFUSED` entries.
"""
from __future__ import annotations

import copy
import inspect
import math
import os
import warnings

import numpy as np
import pytest

import programs_control as PC
from adcompiler import CompileError, grad, jit as compile_only, value_and_grad
from fd import assert_forward, assert_gradient_like, fd_grad

SEED = 314159

GRAD_RTOL = 1e-6
GRAD_ATOL = 1e-8
VALUE_RTOL = 1e-12
MARKER = "# <- HERE"

# jit=True runs these by default (about one Numba compilation each of value_and_grad and of jit);
# the rest of the corpus is marked slow. Every construct group is represented.
NUMBA_BY_DEFAULT = {
    # if / elif / else, conditional expressions, and / or / not
    "if_elif_else_on_sum", "conditional_expression_guards_index", "and_guards_index",
    "int_or_float_after_if",
    # for loops
    "horner", "zero_trip_range", "int_accumulator_becomes_float", "rnn_tanh", "for_row_in_matrix",
    "shrinking_array_in_loop", "loop_index_after_loop",
    # while, break, continue, return
    "while_grow_until_threshold", "for_break_on_data", "return_inside_loop", "early_return_nested_loops",
    # in-place updates
    "linear_recurrence", "element_augmented_2d", "taped_then_updated_next_iteration",
    "read_before_an_update_used_after_it", "slice_assignment", "forward_looking_update",
    "bubble_sort_weighted",
    # helpers
    "helper_with_early_return",
}
# EITHER entries that jit=True runs by default: where Numba's own semantics differ from NumPy's
# (in-place operations on overlapping views)
EITHER_NUMBA_BY_DEFAULT = {"overlapping_slice_update", "overlapping_slice_assignment"}

MODES = {False: "python", True: "numba"}


# ---------------------------------------------------------------------------- helpers

_TRANSFORMED: dict = {}


def transformed(kind, function, wrt, jit):
    """The one transformed object per (kind, function, wrt, mode) of this session."""
    key = (kind, function, wrt, jit)
    if key not in _TRANSFORMED:
        _TRANSFORMED[key] = compile_only(function, jit=jit) if kind == "jit" \
            else value_and_grad(function, wrt=wrt, jit=jit)
    return _TRANSFORMED[key]


def positions(function, wrt) -> tuple:
    """The argument positions named by `wrt` (an int, a name, or a tuple of them)."""
    names = list(inspect.signature(function).parameters)
    items = (wrt,) if isinstance(wrt, (int, str)) else tuple(wrt)
    return tuple(names.index(w) if isinstance(w, str) else w for w in items)


def assert_unchanged(args, copies, what):
    """Each argument equals its copy taken before the call (values, dtype, shape, kind)."""
    for k, (a, b) in enumerate(zip(args, copies)):
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape \
                and np.array_equal(a, b), f"{what} modified argument {k}: {b!r} became {a!r}"
        else:
            assert type(a) is type(b) and a == b, f"{what} changed argument {k}: {b!r} became {a!r}"


def describe(args) -> str:
    return ", ".join(np.array2string(a, precision=17) if isinstance(a, np.ndarray) else repr(a) for a in args)


def first_entry(registry, function):
    return next(entry for entry in registry if entry[0] is function)


def warm_up(registry, index, rng, kind, jit):
    """Call the transformed function on the arguments of the function's first registry entry
    (a different path) when `index` is not that entry."""
    function, factory, wrt = registry[index]
    first = first_entry(registry, function)
    if first is not registry[index]:
        try:
            transformed(kind, function, wrt, jit)(*first[1](rng))
        except Exception as error:  # noqa: BLE001 - reported as this entry's failure, with its cause
            raise AssertionError(f"the first call of {kind}({function.__name__}, jit={jit}), on the "
                                 f"arguments of its first registry entry, failed: {error!r}") from error


def check_value_and_gradients(function, args, wrt, jit, what):
    """value_and_grad: the Python value, the finite-difference gradients, the arguments untouched."""
    expected = function(*copy.deepcopy(args))
    before = copy.deepcopy(args)
    value, grads = transformed("value_and_grad", function, wrt, jit)(*args)
    assert_unchanged(args, before, f"value_and_grad(jit={jit})")
    assert_forward(value, expected, rtol=VALUE_RTOL)
    places = positions(function, wrt)
    grads = grads if isinstance(wrt, tuple) else (grads,)
    assert isinstance(grads, tuple) and len(grads) == len(places)
    for k, g in zip(places, grads):
        assert_gradient_like(g, args[k], f"{what}, argument {k}")
        expected_g = fd_grad(function, list(args), k)
        np.testing.assert_allclose(
            g, expected_g, rtol=GRAD_RTOL, atol=GRAD_ATOL,
            err_msg=f"{what}: the gradient w.r.t. argument {k} disagrees with finite differences "
                    f"at ({describe(args)})")


def same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def own_functions(function) -> list:
    """`function` and the module-level functions of programs_control it names (its helpers)."""
    found = [function]
    for name in function.__code__.co_names:
        obj = getattr(PC, name, None)
        if inspect.isfunction(obj) and obj.__module__ == PC.__name__ and obj not in found:
            found.append(obj)
    return found


def marked_line(function) -> int:
    """The line marked `# <- HERE` in `function` or in one of the helpers it calls (exactly one)."""
    hits = []
    for obj in own_functions(function):
        lines, start = inspect.getsourcelines(obj)
        hits += [start + i for i, line in enumerate(lines) if MARKER in line]
    assert len(hits) == 1, f"{MARKER!r} must mark exactly one line of {function.__name__} and its helpers"
    return hits[0]


def _params(registry, numba_by_default):
    params = []
    for jit, mode in MODES.items():
        for i, (function, *_) in enumerate(registry):
            marks = [pytest.mark.slow] if jit and function.__name__ not in numba_by_default else []
            params.append(pytest.param(i, jit, id=f"{mode}-{function.__name__}-{i}", marks=marks))
    return params


PROGRAM_CASES = _params(PC.PROGRAMS, NUMBA_BY_DEFAULT)
EITHER_CASES = _params(PC.EITHER, EITHER_NUMBA_BY_DEFAULT)
PROGRAM_IDS = [f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(PC.PROGRAMS)]


# ---------------------------------------------------------------------------- the corpus itself

@pytest.mark.parametrize("index", range(len(PC.PROGRAMS)), ids=PROGRAM_IDS)
def test_program_runs_in_python(index, rng):
    """Each entry is a valid test case: small float64 arguments, a finite float64 scalar value,
    float arguments in `wrt`, and the plain Python function leaves its arguments alone."""
    function, factory, wrt = PC.PROGRAMS[index]
    assert function.__doc__, f"{function.__name__} needs a docstring saying what it exercises"
    args = factory(rng)
    assert isinstance(args, tuple) and len(args) == len(inspect.signature(function).parameters)
    for a in args:
        if isinstance(a, np.ndarray):
            assert a.dtype == np.float64 and a.ndim in (1, 2) and 1 not in a.shape, a
            assert a.size <= 8 if a.ndim == 1 else max(a.shape) <= 5, a.shape
    for k in positions(function, wrt):
        assert isinstance(args[k], (float, np.float64, np.ndarray)), f"wrt names argument {k}: {args[k]!r}"
    before = copy.deepcopy(args)
    value = function(*args)
    assert_unchanged(args, before, "the Python function")
    assert isinstance(value, (float, np.float64)) and math.isfinite(value), repr(value)


def test_every_function_is_registered():
    """A function added to programs_control.py without a registry entry fails here."""
    registered = {entry[0] for entry in PC.PROGRAMS + PC.REFUSED + PC.EITHER}
    defined = {obj for name, obj in vars(PC).items()
               if inspect.isfunction(obj) and obj.__module__ == PC.__name__ and not name.startswith("_")}
    assert {f.__name__ for f in defined - registered} == set()


def test_numba_selection_names_registered_functions():
    names = {entry[0].__name__ for entry in PC.PROGRAMS}
    assert NUMBA_BY_DEFAULT - names == set()
    assert EITHER_NUMBA_BY_DEFAULT - {entry[0].__name__ for entry in PC.EITHER} == set()


# ---------------------------------------------------------------------------- gradients and values

@pytest.mark.parametrize("index, jit", PROGRAM_CASES)
def test_gradient(index, jit, rng):
    """value_and_grad: the Python value and the finite-difference gradient, arguments untouched
    (after a first call on another path of the same function)."""
    function, factory, wrt = PC.PROGRAMS[index]
    warm_up(PC.PROGRAMS, index, rng, "value_and_grad", jit)
    args = factory(rng)
    check_value_and_gradients(function, args, wrt, jit, f"{function.__name__} (jit={jit})")


@pytest.mark.parametrize("index, jit", PROGRAM_CASES)
def test_compiled_forward(index, jit, rng):
    """adcompiler.jit(f): the value of the plain Python function, arguments untouched."""
    function, factory, wrt = PC.PROGRAMS[index]
    warm_up(PC.PROGRAMS, index, rng, "jit", jit)
    args = factory(rng)
    expected = function(*copy.deepcopy(args))
    before = copy.deepcopy(args)
    out = transformed("jit", function, None, jit)(*args)
    assert_unchanged(args, before, f"adcompiler.jit(jit={jit})")
    assert_forward(out, expected, rtol=VALUE_RTOL)


# ---------------------------------------------------------------------------- refusals

def assert_refusal(error, function, fragment):
    """`error` names the construct (`fragment`) and gives the file and line marked HERE."""
    assert fragment.lower() in error.message.lower(), f"message {error.message!r} does not mention {fragment!r}"
    assert error.loc is not None, f"no location for {error.message!r}"
    assert same_file(error.loc.file, PC.__file__), (error.loc.file, PC.__file__)
    line = marked_line(function)
    assert error.loc.line == line, f"error points at line {error.loc.line}, the construct is on line {line}: {error}"
    assert f"{error.loc.file}:{line}" in str(error), str(error)


@pytest.mark.parametrize("function, args, fragment", PC.REFUSED, ids=[entry[0].__name__ for entry in PC.REFUSED])
def test_refused(function, args, fragment):
    """CompileError naming the construct, with the file and line of the construct (marked HERE)."""
    args = copy.deepcopy(args)
    with pytest.raises(CompileError) as info:
        value_and_grad(function, wrt=0, jit=False)(*args)
    assert_refusal(info.value, function, fragment)


@pytest.mark.parametrize("index, jit", EITHER_CASES)
def test_exact_or_refused(index, jit, rng):
    """Aliasing, views and path-dependent types, with the outcome pinned in the registry: an
    EXACT entry gives the value and gradient Python computes, any other is refused like REFUSED."""
    function, factory, wrt, expected = PC.EITHER[index]
    args = factory(rng)
    what = f"{function.__name__} (jit={jit})"
    try:
        check_value_and_gradients(function, args, wrt, jit, what)
    except CompileError as error:
        if expected is PC.EXACT:
            pytest.fail(f"{what} compiled exactly and is now refused: {error}")
        assert_refusal(error, function, expected)
    else:
        assert expected is PC.EXACT, f"{what} was refused and now compiles exactly: pin it as EXACT"


def while_tanh_accumulate(x, n):
    """An array-valued while loop (for vjp): y accumulates n steps of s = tanh(s) * 1.5."""
    y = np.zeros_like(x)
    k = 0
    s = x * 1.0
    while k < n:
        s = np.tanh(s) * 1.5
        y = y + s
        k += 1
    return y


def nested_tanh_accumulate(x, n):
    """Nested loops (for vjp): the inner loop's tape is a list per outer iteration."""
    y = np.zeros_like(x)
    for i in range(n):
        s = x * (1.0 + 0.5 * i)
        for j in range(2):
            s = np.tanh(s) * 1.5
            y = y + s
    return y


def loop_in_the_branch_not_taken(x, n):
    """The branch taken has no loop: the other branch's tape is an empty list."""
    if np.sum(x) > 1.0:
        s = x * 0.0
        k = 0
        while k < n:
            s = s + np.sin(x * (k + 1))
            k += 1
    else:
        s = np.tanh(x)
    return s * s


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("function", [while_tanh_accumulate, nested_tanh_accumulate, loop_in_the_branch_not_taken],
                         ids=lambda f: f.__name__)
def test_vjp_passes_a_loop_tape_between_the_passes(function, jit):
    """vjp runs the forward and the backward as two functions: a loop's tape (a list, a list of
    lists for nested loops) goes from one to the other, silently (no deprecation warning about
    reflected lists), and the pullback can be called again. Under Numba a nested loop's tape
    failed in the backward with "cannot reflect element of reflected container" (a reflected list
    of lists cannot be passed to a compiled function), and an empty tape with "cannot compute
    fingerprint of empty list" (both found by the long Numba run); tapes now cross as typed lists."""
    from adcompiler import vjp
    x, n = np.array([0.3, -0.2, 0.7]), 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, pullback = vjp(function, jit=jit)(x, n)
        for cotangent in (np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, 0.0])):
            got = pullback(cotangent)
            expected = fd_grad(lambda x: float(np.dot(function(x, n), cotangent)), [x], 0)
            np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(value, function(x, n), rtol=1e-12)


# ---------------------------------------------------------------------------- gradients inside compiled code

def branchy_loops(x, y):
    """Branches inside a loop, a triangular inner loop: scalar tapes only."""
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s = s + np.sin(x[i] * y)
        else:
            for j in range(i):
                s = s + x[j] * x[i] * y
    return s * s


def weighted_gradient(x, y):
    """Σ_i i ∂f/∂x_i + ∂f/∂y, with the transform made inside the function (`grad(f)(...)`)."""
    gx, gy = grad(branchy_loops, wrt=(0, 1))(x, y)
    return np.sum(gx * np.arange(3.0)) + gy


def _weighted_gradient_by_fd(x, y):
    gx, gy = fd_grad(branchy_loops, [x, y], 0), fd_grad(branchy_loops, [x, y], 1)
    return np.sum(gx * np.arange(3.0)) + gy


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_second_derivative_through_loops_and_branches(jit):
    """`grad(f)` called inside a function that is differentiated again: f's forward and backward
    (loops, branches, scalar tapes) are spliced in and differentiated; the result is the Hessian
    applied to (0, 1, 2, 1), checked against finite differences of finite differences. (Splicing
    a gradient with loops failed inside adcompiler with AttributeError before.)"""
    x, y = np.array([0.3, -0.5, 0.8]), 0.7
    value = compile_only(weighted_gradient, jit=jit)(x, y)
    assert value == pytest.approx(_weighted_gradient_by_fd(x, y), rel=1e-8)
    got = grad(weighted_gradient, wrt=(0, 1), jit=jit)(x, y)
    expected = [fd_grad(_weighted_gradient_by_fd, [x, y], k, h=1e-2) for k in (0, 1)]
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
    assert got[1] == pytest.approx(expected[1], rel=1e-6)


def while_over_an_array(x):
    s = x * 1.0
    k = 0
    while k < 3:
        s = np.sin(s) * x[0] + 0.5 * s  # (a value the loop keeps on its stack)
        k += 1
    return np.sum(s * s)


def gradient_sum(x):
    return np.sum(grad(while_over_an_array)(x))


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_second_derivative_through_a_while_loop_of_arrays(jit):
    """A `while` loop keeps its arrays on a stack, whose push has derivative rules: the gradient
    of its spliced gradient equals differences of that gradient (computed without splicing)."""
    x = np.array([0.3, 0.5])
    np.testing.assert_allclose(grad(gradient_sum, jit=jit)(x), fd_grad(gradient_sum, [x], 0), rtol=1e-7)


def sines_of_multiples(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sin(x * i)
    return total


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_regression_a_loop_index_is_a_python_int_in_float32_arithmetic(jit):
    """`range` gives Python ints: `x * i` stays float32 for a float32 x (NumPy's rule for weak
    numbers). The index was typed int64, so the value became float64 and the gradient failed
    ("for yields: f64 where f32 is expected")."""
    x = np.float32(0.5)
    value, derivative = value_and_grad(sines_of_multiples, jit=jit)(x, 3)
    assert isinstance(value, np.float32)
    np.testing.assert_array_max_ulp(value, sines_of_multiples(x, 3), maxulp=1 if jit else 0)  # Numba's sinf
    assert isinstance(derivative, np.float32)
    assert derivative == pytest.approx(np.cos(0.5) + 2 * np.cos(1.0), rel=1e-6)
