"""Functions inside functions (issue #19): nested `def`s and lambdas with closures over the
enclosing function's variables (late binding), defaults and keyword calls, functions passed to
other functions, helpers in other modules, and recursion unrolled at compile time.

Each program's gradient is checked against central finite differences in float64 (fd.check_vjp),
and its forward value against the plain Python function; each refusal's message, hint and line.
"""
from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import adcompiler
from adcompiler import CompileError, grad, jit
from fd import check_vjp, fd_grad

import functions_helpers as H
from functions_helpers import apply_twice, scaled_tanh

SEED = 19
MARKER = "# <- HERE"


def apply(f, x):
    """A module-level higher-order helper."""
    return f(x)


def make_scaler(a):
    """A factory: the lambda it returns reads `a` of this call after it has returned."""
    return lambda t: a * t


# ---------------------------------------------------------------------------- nested functions

def closure_late_binding(x, y):
    """`inner` reads `a` when it is called (5.0, not 2.0), has a default and is called by keyword."""
    a = 2.0
    def inner(z, k=3.0):
        return z * a + k * y
    square = lambda t: t * t
    a = 5.0
    return np.sum(square(inner(x))) + np.sum(inner(x, k=1.0))


def lambdas_in_a_tuple(x):
    """Lambdas stored in a tuple, called by index and in an unrolled loop over the tuple."""
    fs = (lambda t: np.sin(t), lambda t: t * t, np.cos)
    total = np.sum(fs[1](x))
    for f in fs:
        total = total + np.sum(f(x))
    return total


def passed_to_helpers(x, w):
    """A nested function and a lambda given to module-level helpers (this module's and another's)."""
    def affine(t):
        return w * t + 1.0
    return np.sum(apply(affine, x)) + np.sum(apply_twice(lambda t: np.tanh(t) * w, x))


def closure_in_a_loop(x, w):
    """A closure called inside a loop reads the loop's current values (`i` and `acc`)."""
    def term(t):
        return t * w[i] + 0.1 * acc
    acc = 0.0
    for i in range(3):
        acc = acc + np.sum(term(x))
    return acc


def nested_with_jumps(x):
    """A nested function with an early return in a branch and a loop (canonicalised on its own)."""
    def clipped(t, n):
        if np.sum(t) > 100.0:
            return t * 0.0
        s = t
        for _ in range(n):
            s = s * t
        return s
    return np.sum(clipped(x, 2)) + np.sum(clipped(-x, 1))


def nested_twice(x, y):
    """A function nested in a nested function reads the outermost function's variable."""
    b = np.exp(y)
    def outer(t):
        def inner(u):
            return u * b
        return inner(t) + inner(t * t)
    return np.sum(outer(x))


def keyword_only_parameter(x):
    def scaled(t, *, power=2.0, shift=0.5):
        return t ** power + shift
    return np.sum(scaled(x)) + np.sum(scaled(x, shift=1.0, power=3.0))


def factory_closure(x, w):
    """A lambda returned by a helper reads that helper's parameter after it returned."""
    scale = make_scaler(w)
    return np.sum(scale(x) * x)


def local_shadows_enclosing(x):
    """`s` inside `g` is g's own (assigned there): the enclosing `s` is not read."""
    s = 100.0
    def g(t):
        s = t * 2.0
        return s * t
    return np.sum(g(x)) + s


USE_TANH = True


def function_chosen_by_constant(x):
    """A function picked by a condition known when compiling (a module constant, x.ndim)."""
    act = (lambda t: np.tanh(t)) if USE_TANH else np.sin
    if x.ndim == 1:
        def reduce(t):
            return np.sum(t * t)
    else:
        reduce = np.sum
    return reduce(act(x))


def iterpower_with_nested_def(a, n):
    """Modelled on Tangent's tests/functions.py `iterpower_with_nested_def` (google/tangent,
    Apache-2.0): a nested function called in a `for` loop over range(n)."""
    def times(p, q):
        return p * q
    for _ in range(n):
        a = times(a, a)
    return a


def nested_function(x):
    """Refused before issue #19 (programs_refused.py): a nested def, here also called."""
    y = x * 2.0
    def inner(z):
        return z
    return inner(y) * y


def lambda_inside(x):
    """Refused before issue #19 (programs_refused.py): a lambda bound to a name."""
    y = x * 2.0
    square = lambda z: z * z
    return square(y)


# ---------------------------------------------------------------------------- other modules

def other_module_helpers(x):
    """`H.scaled_tanh` reads H.SCALE from its own module; `scaled_tanh` imported by name."""
    return np.sum(H.scaled_tanh(x)) + np.sum(scaled_tanh(x * 0.5)) + np.sum(H.shifted(x) ** 2)


def reads_other_module_constant(x):
    return np.sum(x * H.SCALE)


# ---------------------------------------------------------------------------- recursion

def power(x, n):
    return 1.0 if n == 0 else x * power(x, n - 1)


def power_by_statements(x, n):
    if n == 0:
        return x * 0.0 + 1.0
    if n % 2 == 0:
        half = power_by_statements(x, n // 2)
        return half * half
    return x * power_by_statements(x, n - 1)


def recursive_power(x):
    return np.sum(power(x, 5)) + np.sum(power_by_statements(x, 6))


def branchy(x, n):
    """Recursion in a loop under a branch on data: each level is unrolled, the branch is an `if`."""
    if n == 0:
        return x
    s = x * 0.0
    for i in range(2):
        if np.sum(x) > 0.0:
            s = s + np.sin(branchy(x * 0.5, n - 1)) * x[i]
        else:
            s = s - x * branchy(x, n - 1)
    return s


def recursion_in_loops_and_branches(x):
    return np.sum(branchy(x, 3))


def total(values):
    """The sum of a tuple, by recursion on its length."""
    return values[0] if len(values) == 1 else values[0] + total(values[1:])


def recursive_tuple_sum(x, y):
    return np.sum(total((x, y * y, np.sin(x), x * y)))


def collapse(x):
    """Sums axis 0 until a scalar is left: the recursion ends on x.ndim."""
    return x if x.ndim == 0 else collapse(np.sum(np.tanh(x), axis=0))


def recursive_on_ndim(X):
    return collapse(X)


def nested_recursion(x):
    """A nested function that calls itself (read from the enclosing function's names)."""
    def horner(coefficients, t):
        if len(coefficients) == 1:
            return coefficients[0] + t * 0.0
        return coefficients[0] + t * horner(coefficients[1:], t)
    return np.sum(horner((1.0, -2.0, 0.5, 3.0), x))


PROGRAMS = [
    (closure_late_binding, lambda rng: (rng.normal(size=3), rng.normal(size=3)), (0, 1)),
    (lambdas_in_a_tuple, lambda rng: (rng.normal(size=4),), 0),
    (passed_to_helpers, lambda rng: (rng.normal(size=3), rng.normal(size=3)), (0, 1)),
    (closure_in_a_loop, lambda rng: (rng.normal(size=2), rng.normal(size=3)), (0, 1)),
    (nested_with_jumps, lambda rng: (rng.normal(size=3),), 0),
    (nested_twice, lambda rng: (rng.normal(size=3), rng.normal(size=3)), (0, 1)),
    (keyword_only_parameter, lambda rng: (rng.uniform(0.5, 2.0, size=3),), 0),
    (factory_closure, lambda rng: (rng.normal(size=3), rng.normal(size=3)), (0, 1)),
    (local_shadows_enclosing, lambda rng: (rng.normal(size=3),), 0),
    (function_chosen_by_constant, lambda rng: (rng.normal(size=3),), 0),
    (iterpower_with_nested_def, lambda rng: (rng.uniform(0.8, 1.2), 3), 0),
    (nested_function, lambda rng: (rng.normal(),), 0),
    (lambda_inside, lambda rng: (rng.normal(),), 0),
    (other_module_helpers, lambda rng: (rng.normal(size=3),), 0),
    (reads_other_module_constant, lambda rng: (rng.normal(size=3),), 0),
    (recursive_power, lambda rng: (rng.normal(size=3),), 0),
    (recursion_in_loops_and_branches, lambda rng: (rng.normal(size=2),), 0),
    (recursive_tuple_sum, lambda rng: (rng.normal(size=3), rng.normal(size=3)), (0, 1)),
    (recursive_on_ndim, lambda rng: (rng.normal(size=(2, 3, 2)),), 0),
    (nested_recursion, lambda rng: (rng.normal(size=3),), 0),
]
JIT_PROGRAMS = {"closure_late_binding", "passed_to_helpers", "recursive_power", "nested_recursion"}


def _modes():
    for function, sample, wrt in PROGRAMS:
        yield pytest.param(function, sample, wrt, False, id=f"{function.__name__}-nojit")
        if function.__name__ in JIT_PROGRAMS:
            yield pytest.param(function, sample, wrt, True, id=f"{function.__name__}-jit")


@pytest.mark.parametrize("function, sample, wrt, jit_mode", list(_modes()))
def test_program_gradient_matches_finite_differences(function, sample, wrt, jit_mode, rng):
    check_vjp(function, sample(rng), wrt, jit_mode, rng)


def test_closure_reads_the_value_at_the_call():
    """Late binding: `inner` multiplies by the last `a` (5.0), as Python does."""
    x, y = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    np.testing.assert_allclose(grad(closure_late_binding, jit=False)(x, y), 2 * (5 * x + 3 * y) * 5 + 5)


def test_recursive_power_is_exact():
    x = np.array([0.5, 1.5, -2.0])
    np.testing.assert_allclose(grad(recursive_power, jit=False)(x), 5 * x ** 4 + 6 * x ** 5, rtol=1e-14)
    np.testing.assert_allclose(fd_grad(recursive_power, [x], 0), 5 * x ** 4 + 6 * x ** 5, rtol=1e-8)


def test_jit_alone_unrolls_recursion():
    """`jit` of a recursive function (nothing differentiated) runs it, unrolled, in both modes."""
    x = np.array([0.5, 1.5, -2.0])
    for mode in (False, True):
        np.testing.assert_allclose(jit(recursive_power, jit=mode)(x), recursive_power(x), rtol=1e-14)


def test_recursion_is_unrolled_per_constant():
    """A different literal depth is a different program (a constant of the call, not an argument)."""
    def cube(x):
        return np.sum(power(x, 3))

    def square(x):
        return np.sum(power(x, 2))
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(grad(cube, jit=False)(x), 3 * x ** 2)
    np.testing.assert_allclose(grad(square, jit=False)(x), 2 * x)


def test_integer_argument_fixes_the_depth_per_specialisation():
    """Recursion on an integer argument of the differentiated function: the first call's lowering
    refuses it as a value, so integer arguments become constants of the specialisation: one build
    per value, each exact."""
    g = grad(power, jit=False)
    for n in (3, 4, 3, 0):
        expected = n * 1.5 ** (n - 1) if n else 0.0
        assert g(1.5, n) == pytest.approx(expected, rel=1e-14)
    keys = [tuple(str(t) for t in key) for key in g.specialisations]
    assert sorted(k[1] for k in keys) == ["i64 = 0", "i64 = 3", "i64 = 4"], keys
    with pytest.raises(CompileError, match="levels deep"):  # too deep even with n known
        g(1.5, 100)


def det_by_rows(A):
    """A determinant by expansion along the first row, recursing on minors made by a slice and
    np.delete: the depth is the shape, fixed once the recursion needs it."""
    n = len(A)
    if n == 1:
        return A[0, 0]
    total = 0.0
    for j in range(A.shape[1]):
        minor = np.delete(A[1:], j, axis=1)
        total += (-1.0) ** j * A[0, j] * det_by_rows(minor)
    return total


def trace_by_slices(A):
    """Recursion on a slice of known length: the trace of a square matrix, one corner at a time."""
    return A[0, 0] if A.shape[0] == 1 else A[0, 0] + trace_by_slices(A[1:, 1:])


@pytest.mark.parametrize("mode", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["nojit", "jit"])
def test_recursion_on_shapes_is_unrolled_per_shape(mode):
    """Recursion that ends on `len(A)`, `A.shape[0]`: the shapes become part of the specialisation
    (one build per shape), each exact: the gradient of det(A) is det(A) inv(A).T."""
    g = adcompiler.value_and_grad(det_by_rows, jit=mode)
    for n in (3, 2, 3, 1):
        A = np.random.default_rng(n).standard_normal((n, n))
        value, gradient = g(A)
        assert value == pytest.approx(np.linalg.det(A), rel=1e-12)
        np.testing.assert_allclose(gradient, np.linalg.det(A) * np.linalg.inv(A).T, rtol=1e-10, atol=1e-12)
    shapes = sorted(str(key[0]) for key in g.specialisations)
    assert shapes == ["f64[1,1]", "f64[2,2]", "f64[3,3]"], shapes
    B = np.arange(16.0).reshape(4, 4)
    assert grad(trace_by_slices, jit=mode)(B).tolist() == np.eye(4).tolist()


def shrink_while_positive(x):
    """Recursion whose depth depends on the values: refused, even with the shape known."""
    return x if np.sum(x) < 0.0 else shrink_while_positive(x - 1.0)  # <- HERE


def test_recursion_on_values_is_refused_at_the_call():
    with pytest.raises(CompileError) as info:
        grad(shrink_while_positive, jit=False)(np.ones(3))
    error = info.value
    assert "`shrink_while_positive` calls itself (recursion)" in error.message
    assert "x.shape[0]" in error.hint
    lines, start = inspect.getsourcelines(shrink_while_positive)
    assert error.loc.line == start + 2


def halve_times(x, n):
    """Recursion on an integer argument that never makes it smaller."""
    return x if n == 0 else halve_times(x * 0.5, n + 1)  # <- HERE


def test_integer_argument_that_never_ends_the_recursion_is_refused():
    with pytest.raises(CompileError) as info:
        grad(halve_times, jit=False)(1.5, 2)
    assert "`halve_times` calls itself (recursion) more than 64 levels deep" in info.value.message
    lines, start = inspect.getsourcelines(halve_times)
    assert info.value.loc.line == start + 2


def test_generated_code_of_unrolled_recursion_is_straight_line():
    """The unrolled program calls no `power` and has no branch: each level's `n == 0` was decided
    when compiling."""
    text = adcompiler.show(grad(recursive_power, jit=False), np.ones(3), print_it=False)
    code = text[text.index("def "):]
    assert "power(" not in code and "if " not in code, code


# ---------------------------------------------------------------------------- other modules: staleness

def test_other_module_global_is_read_again_when_rebound(monkeypatch):
    """Rebinding a global of the helper's module (read through `H.SCALE` and inside H's function)
    recompiles: no stale constant."""
    x = np.array([0.3, -0.7])
    g = grad(other_module_helpers, jit=False)
    h = grad(reads_other_module_constant, jit=False)
    first, first_h = g(x), h(x)
    monkeypatch.setattr(H, "SCALE", 3.0)
    np.testing.assert_allclose(g(x), fd_grad(other_module_helpers, [x], 0), rtol=1e-8)
    np.testing.assert_allclose(h(x), [3.0, 3.0])
    assert not np.allclose(first, g(x)) and np.allclose(first_h, [2.0, 2.0])


def test_other_module_function_is_read_again_when_rebound(monkeypatch):
    x = np.array([0.3, -0.7])
    g = grad(other_module_helpers, jit=False)
    g(x)
    monkeypatch.setattr(H, "shifted", lambda t: t * 3.0)
    np.testing.assert_allclose(g(x), fd_grad(other_module_helpers, (x,), 0), rtol=1e-7, atol=1e-9)  # the new one


# ---------------------------------------------------------------------------- refusals

def returns_nested_function(x):
    def inner(t):
        return t * x
    return inner  # <- HERE


def nested_nonlocal(x):
    total = 0.0
    def add(t):
        nonlocal total  # <- HERE
        total = total + t
        return total
    return add(np.sum(x))


def nested_generator(x):
    def items(t):
        yield t  # <- HERE
    return np.sum(x)


def nested_writes_enclosing_array(x):
    y = x * 2.0
    def put(t):
        y[0] = t  # <- HERE
        return t
    return np.sum(put(np.sum(x)) + y)


def nested_reads_local_before_assignment(x):
    s = 1.0
    def g(t):
        u = s * t  # <- HERE
        s = u
        return s
    return np.sum(g(x))


def data_dependent_recursion(x):
    return np.sum(halve(x))


def halve(x):
    return x if np.sum(x) < 1.0 else halve(x * 0.5)  # <- HERE


def long_body_recursion(x):
    return np.sum(grows(x))


def grows(x):
    """Recursion with a long body, which exhausts Python's stack before 64 levels when unrolled."""
    s = x * 0.0
    for i in range(2):
        if np.sum(x) > 0.0:
            s = s + np.sin(grows(x * 0.5) + 1.0) * x[i]  # <- HERE
        else:
            s = s - x
    return s


def nested_function_used_as_number(x):
    f = lambda t: t * 2.0
    return np.sum(x) + f  # <- HERE


def nested_called_wrongly(x):
    def g(t, u):
        return t * u
    return np.sum(g(x))  # <- HERE


def decorated_nested_function(x):
    @staticmethod  # <- HERE
    def g(t):
        return t
    return np.sum(g(x))


def function_chosen_by_data(x):
    if np.sum(x) > 0.0:  # <- HERE
        act = lambda t: t
    else:
        act = lambda t: 0.1 * t
    return np.sum(act(x))


REFUSALS = [
    (function_chosen_by_data, "`act` is bound to different functions in the two branches", "inside its branch"),
    (returns_nested_function, ["function `inner`", "cannot be returned"], "call it"),
    (nested_nonlocal, "`nonlocal` statement", "return the new one"),
    (nested_generator, "generator (`yield`)", "return a value"),
    (nested_writes_enclosing_array, ["assignment into `y`", "enclosing function's array"], "y = y.copy()"),
    (nested_reads_local_before_assignment, ["`s` is read here before `g` assigns it"], "another name"),
    (data_dependent_recursion, ["`halve` calls itself (recursion)", "64 levels deep", "array's values"], "makes smaller"),
    (long_body_recursion, ["`grows` calls itself (recursion)", "Python's stack"], "makes smaller"),
    (nested_function_used_as_number, "the function `f` cannot be used as a number or array", None),
    (nested_called_wrongly, ["the call of `g` does not match its parameters", "missing"], None),
    (decorated_nested_function, "decorated nested function", "module level"),
]


MARKED_IN = {data_dependent_recursion: halve, long_body_recursion: grows}  # the helper that holds the line


def _marked_line(function) -> int:
    """The line of the program (or of the helper it calls) marked with MARKER."""
    lines, start = inspect.getsourcelines(MARKED_IN.get(function, function))
    (line,) = [start + i for i, text in enumerate(lines) if MARKER in text]
    return line


@pytest.mark.parametrize("function, says, hint", REFUSALS, ids=[r[0].__name__ for r in REFUSALS])
@pytest.mark.parametrize("kind", [grad, jit], ids=["grad", "jit"])
def test_refusal(function, says, hint, kind):
    with pytest.raises(CompileError) as info:
        kind(function, jit=False)(np.array([0.5, 2.0]))
    error = info.value
    for words in [says] if isinstance(says, str) else says:
        assert words in error.message, f"{error.message!r} does not say {words!r}"
    if hint is not None:
        assert hint in (error.hint or ""), f"hint {error.hint!r} does not mention {hint!r}"
    assert os.path.realpath(error.loc.file) == os.path.realpath(__file__)
    assert error.loc.line == _marked_line(function), error


def test_nested_function_never_writes_the_callers_array():
    """A nested function's own copy may be written; the argument it copied from is unchanged."""
    def fill(x):
        def first_set(t):
            u = t.copy()
            u[0] = 10.0
            return u
        return np.sum(first_set(x) * x)
    x = np.array([1.0, 2.0, 3.0])
    kept = x.copy()
    np.testing.assert_allclose(grad(fill, jit=False)(x), [10.0, 4.0, 6.0])
    np.testing.assert_array_equal(x, kept)


# ---------------------------------------------------------------------------- a lambda given to a transform

# Two on one line: each is read as itself (its code's source positions pick it out of the line).
double_sine, cube_sum = (lambda x: np.sum(np.sin(x) * 2.0)), (lambda x: np.sum(x ** 3))
spread_over_lines = (lambda x: 3.0 * np.sum(x *
                                            np.exp(x)))
nested_lambda = lambda x: (lambda t: np.tanh(t) * t)(x) + x[0]  # the inner one inlined, as in a def


@pytest.mark.parametrize("function", [double_sine, cube_sum, spread_over_lines, nested_lambda],
                         ids=["first_on_its_line", "second_on_its_line", "over_lines", "nested"])
@pytest.mark.parametrize("jit_mode", [False, True], ids=["plain", "jit"])
def test_lambda_gradient_matches_finite_differences(function, jit_mode, rng):
    check_vjp(function, (rng.normal(size=3),), 0, jit_mode, rng)


def test_lambda_closing_over_a_local_and_its_transforms(rng):
    """What `jax.grad(lambda ...)` users write: a lambda over the caller's variables, given to
    grad, hessian and vmap; its messages and generated names give its line."""
    w, x = rng.normal(size=3), rng.normal(size=3)
    loss = lambda v: np.sum(w * v ** 2) + np.sum(np.sin(v))  # noqa: E731
    np.testing.assert_allclose(grad(loss)(x), fd_grad(loss, (x,), 0), rtol=1e-7, atol=1e-9)
    scaled = lambda v, k=3.0: k * loss(v)  # noqa: E731 - a default, and a lambda calling one
    np.testing.assert_allclose(grad(scaled)(x), 3.0 * fd_grad(loss, (x,), 0), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(adcompiler.hessian(loss)(x), np.diag(2 * w - np.sin(x)), rtol=1e-12, atol=1e-12)
    batch = rng.normal(size=(4, 3))
    np.testing.assert_allclose(adcompiler.vmap(grad(loss))(batch), [fd_grad(loss, (b,), 0) for b in batch],
                               rtol=1e-7, atol=1e-9)
    line = inspect.currentframe().f_lineno - 8
    assert f"def lambda_{line}_value_and_grad(" in adcompiler.show(grad(loss), x, print_it=False)


def test_lambda_without_source_is_refused():
    with pytest.raises(CompileError) as info:
        grad(eval("lambda x: x * 2.0"))  # noqa: S307 - a lambda with no file to read
    assert "cannot be read" in info.value.message and "def" in info.value.hint
