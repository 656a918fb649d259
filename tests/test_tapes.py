"""Loop tapes as stacked arrays (transforms/plan.py: Keep.STACK, rules/indexing.py: tape_push, tape_row) and
second derivatives through them.

A `for` loop's array whose shape is the same in every iteration, and any such value of a `while`
loop, is kept in one array with the iteration as its first axis (no list); an array whose shape
changes stays in a list, whose second derivative is refused. Gradients are checked against finite
differences (tests/fd.py), second derivatives against JAX and against differences of the gradient.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from adcompiler import CompileError, grad, show, vjp
from adcompiler.backend import runtime
from fd import fd_grad

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import workloads  # noqa: E402  (GradBench's ode, element by element)

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
from test_batch import with_jax  # noqa: E402 (after JAX's float64 setting)

MODES = pytest.mark.parametrize("compiled", [False, True], ids=["python", "numba"])
# Numba compiles second derivatives slowly: most tests run the plain version (the same source), the
# Numba twin of tape_push is tested directly, through a `while` and in test_compositions.py.
PLAIN = pytest.mark.parametrize("compiled", [False], ids=["python"])
RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 3)) * 0.6
X = RNG.normal(size=3)


def recurrence(W, x):
    """A `for` loop carrying an array of one shape (h: `W @ h + h` has h's length), tanh's output taped."""
    h = x
    total = 0.0
    for i in range(5):
        h = np.tanh(W @ h + h)
        total = total + np.sum(np.sin(h))
    return total


recurrence_jax = with_jax(recurrence)


def long_while(x):
    """A `while` loop of arrays and numbers, run 20 times or so (its stacks double from 8 rows)."""
    s = 0.0
    while s < 8.0:
        x = np.sin(x) * 0.9 + 0.3
        s = s + np.sum(x * x) * 0.2 + np.sin(s) * 0.1
    return s + np.sum(np.cos(x))


def nested(h, w):
    """An outer `for` whose body runs an inner `for` over the rows of w: the outer loop stacks
    the inner loop's stacks (rows of rows)."""
    total = 0.0
    for i in range(3):
        for j in range(w.shape[0]):
            h = np.tanh(h * w[j]) + 0.1
        total = total + np.sum(h * h) * (i + 1)
    return total


def shrinking(x):
    """The carried array loses an element every iteration: its values stay in a list."""
    v = x * 1.0
    for k in range(3):
        v = np.exp(v[1:] * v[:-1]) * 0.5
    return np.sum(v)


def generated(function, *args, wrt=0) -> str:
    return show(function, *args, wrt=wrt, print_it=False)


def test_a_for_loop_stacks_its_fixed_shape_arrays():
    text = generated(recurrence, W, X, wrt=1)
    plan = text.split("# what each backward loop")[1].split("# where each part runs")[0]
    assert "taped in a stack of rows" in plan and "list" not in plan, plan
    code = text.split("# generated Python")[1]
    # made whole before the loop (5 rows of W's length: `W @ h + h` has h's), a row written per iteration
    assert re.search(r"tape_h\w* = np\.empty\(\(5, t\w*\), np\.float64\)", code), code
    assert "tape_row(" in code and "tape_push(" not in code and "empty_list" not in code and ".append(" not in code, code


@PLAIN
def test_gradient_through_stacked_tapes(compiled):
    (got,) = grad(recurrence, wrt=(1,), jit=compiled)(W, X)
    np.testing.assert_allclose(got, fd_grad(recurrence, [W, X], 1), rtol=1e-8)
    np.testing.assert_allclose(grad(recurrence, wrt=0, jit=compiled)(W, X), fd_grad(recurrence, [W, X], 0), rtol=1e-8)


@MODES
def test_a_while_loop_stacks_arrays_and_numbers(compiled):
    x = np.array([0.2, -0.4, 0.7])
    code = generated(long_while, x).split("# generated Python")[1]
    assert "tape_push(" in code and "empty_list" not in code and ".append(" not in code, code
    np.testing.assert_allclose(grad(long_while, jit=compiled)(x), fd_grad(long_while, [x], 0), rtol=1e-7)


@PLAIN
def test_nested_loops_stack_the_inner_stacks(compiled):
    h, w = np.array([0.3, -0.2, 0.5, 0.1]), RNG.normal(size=(2, 4)) * 0.8
    plan = generated(nested, h, w).split("# what each backward loop")[1].split("# where each part runs")[0]
    assert "list" not in plan and "%tape_" in plan, plan  # the outer loop stacks the inner tapes
    code = generated(nested, h, w).split("# generated Python")[1]
    # one tape of rows of rows, made before the outer loop, which the inner loop writes in place
    assert re.search(r"\[i, j\w*\] = krt\.tape_row\(", code) and "tape_push(" not in code, code
    for k in (0, 1):
        got = grad(nested, wrt=k, jit=compiled)(h, w)
        np.testing.assert_allclose(got, fd_grad(nested, [h, w], k), rtol=1e-7)


def hessian_quadratic(x):
    """<grad recurrence, grad recurrence> / 2: its gradient is the Hessian times the gradient."""
    g = grad(recurrence, wrt=1)(W, x)
    return 0.5 * np.sum(g * g)


@PLAIN
def test_grad_of_grad_through_a_stacked_for_loop_against_jax(compiled):
    got = grad(hessian_quadratic, jit=compiled)(X)
    inner = jax.grad(recurrence_jax, argnums=1)
    expected = jax.grad(lambda x: 0.5 * jnp.sum(inner(W, x) ** 2))(X)
    np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-10)


def gradient_in_x(W, x):
    return grad(recurrence, wrt=1)(W, x)


@PLAIN
def test_hessian_vector_product_through_a_stacked_for_loop_against_jax(compiled):
    """vjp(grad(f)) pulls u back through the gradient in x: H u for x, the mixed block for W."""
    u = RNG.normal(size=3)
    _, pullback = vjp(gradient_in_x, wrt=(0, 1), jit=compiled)(W, X)
    d_W, d_x = pullback(u)
    hessian = jax.hessian(recurrence_jax, argnums=1)(W, X)
    np.testing.assert_allclose(d_x, np.asarray(hessian) @ u, rtol=1e-10)
    mixed = jax.jacfwd(jax.grad(recurrence_jax, argnums=1), argnums=0)(W, X)  # d g_i / d W_ab
    np.testing.assert_allclose(d_W, np.einsum("i,iab->ab", u, np.asarray(mixed)), rtol=1e-10)


def while_gradient_sum(x):
    return np.sum(grad(long_while)(x) * np.cos(x))


@PLAIN
def test_grad_of_grad_through_a_growing_while_stack(compiled):
    x = np.array([0.2, -0.4, 0.7])
    np.testing.assert_allclose(grad(while_gradient_sum, jit=compiled)(x), fd_grad(while_gradient_sum, [x], 0),
                               rtol=1e-7)


@PLAIN
def test_a_shape_changing_array_stays_in_a_list(compiled):
    x = np.array([0.3, 0.1, -0.2, 0.4, 0.25])
    plan = generated(shrinking, x).split("# what each backward loop")[1].split("# where each part runs")[0]
    assert "taped in a list" in plan and "stack" not in plan, plan
    np.testing.assert_allclose(grad(shrinking, jit=compiled)(x), fd_grad(shrinking, [x], 0), rtol=1e-8)

    def gradient_norm(x):
        return np.sum(grad(shrinking)(x) ** 2)

    with pytest.raises(CompileError, match="differentiating the gradient of a loop that keeps its values in a list"):
        grad(gradient_norm, jit=compiled)(x)


def resized_after_the_first_iteration(h, W, x):
    """h has 4 elements at first and 2 afterwards: not the same shape, so on a list."""
    for i in range(3):
        t = np.sum(h * h)
        h = np.sin(W @ x) * t
    return np.sum(h)


@PLAIN
def test_a_carried_array_resized_after_the_first_iteration_stays_in_a_list(compiled):
    h, W2, x = np.array([0.3, 0.2, -0.1, 0.4]), RNG.normal(size=(2, 3)), RNG.normal(size=3)
    plan = generated(resized_after_the_first_iteration, h, W2, x).split("# what each backward loop")[1]
    assert "taped in a list" in plan.split("# where each part runs")[0]
    got = grad(resized_after_the_first_iteration, wrt=(0, 1), jit=compiled)(h, W2, x)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], fd_grad(resized_after_the_first_iteration, [h, W2, x], k), rtol=1e-8)


def rows_in_turn(sequence, w, h):
    """LSTM's way (bench/adbench.py): the carried input starts as the sequence's first row and is
    each iteration's next one, so it keeps the initial row's length (a row of `sequence`)."""
    x = sequence[0]
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        h = np.tanh(x * w + h * 0.5)
        total = total + np.sum(h * sequence[t + 1])
        x = sequence[t + 1]
    return total


def rows_then_a_shorter_one(sequence, w, h):
    """As `rows_in_turn`, but the initial input is two elements shorter than the rows after it."""
    x = sequence[0, 2:]
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        total = total + np.sum(np.tanh(x * w[: x.shape[0]]) * h[: x.shape[0]])
        x = sequence[t + 1]
    return total


@MODES
def test_a_carried_row_replaced_by_rows_of_its_shape_is_stacked(compiled):
    sequence, w, h = RNG.normal(size=(6, 4)), RNG.normal(size=4), RNG.normal(size=4)
    text = generated(rows_in_turn, sequence, w, h, wrt=(1, 2))
    plan = text.split("# what each backward loop")[1].split("# where each part runs")[0]
    assert "taped in a stack of rows" in plan and "list" not in plan, plan
    code = text.split("# generated Python")[1]
    assert "tape_row(" in code and "tape_push(" not in code and ".append(" not in code, code
    got = grad(rows_in_turn, wrt=(0, 1, 2), jit=compiled)(sequence, w, h)
    for k in range(3):
        np.testing.assert_allclose(got[k], fd_grad(rows_in_turn, [sequence, w, h], k), rtol=1e-8)


@PLAIN
def test_a_carried_row_replaced_by_longer_rows_stays_in_a_list(compiled):
    sequence, w, h = RNG.normal(size=(5, 4)), RNG.normal(size=4), RNG.normal(size=4)
    plan = generated(rows_then_a_shorter_one, sequence, w, h).split("# what each backward loop")[1]
    assert "taped in a list" in plan.split("# where each part runs")[0], plan
    got = grad(rows_then_a_shorter_one, wrt=(0, 1, 2), jit=compiled)(sequence, w, h)
    for k in range(3):
        np.testing.assert_allclose(got[k], fd_grad(rows_then_a_shorter_one, [sequence, w, h], k), rtol=1e-8)


def gates(weight, h):
    """ADBench LSTM's gates: rows of slices `weight[b:2 * b]` whose lengths are computed before the
    loop (len(range(*slice(b, 2 * b).indices(n)))), broadcast with h's (1 or the other)."""
    b = h.shape[0]
    for t in range(3):
        h = np.tanh(h * weight[b:2 * b] + weight[0:b]) * 0.9 + np.exp(weight[2 * b:] * 0.1)
    return np.sum(h * h)


@MODES
def test_rows_of_slice_lengths_are_made_before_the_loop(compiled):
    weight, h = RNG.normal(size=12), RNG.normal(size=4)
    code = generated(gates, weight, h, wrt=(0, 1)).split("# generated Python")[1]
    assert ".indices(" in code and "tape_row(" in code and "tape_push(" not in code, code
    got = grad(gates, wrt=(0, 1), jit=compiled)(weight, h)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], fd_grad(gates, [weight, h], k), rtol=1e-8, atol=1e-10)  # (FD's noise)
    # a slice of length 1 broadcast with h: the rows have h's length
    got = grad(gates, wrt=(0, 1), jit=compiled)(weight[:7], h[:3])
    np.testing.assert_allclose(got[0], fd_grad(gates, [weight[:7], h[:3]], 0), rtol=1e-8, atol=1e-10)


def test_tape_push_grows_and_checks_shapes_in_python_and_numba():
    import numba
    from adcompiler.backend import runtime_numba  # noqa: F401 (registers the Numba twin)

    @numba.njit
    def pushed(rows, count, capacity):
        stack = np.empty((0, 0), np.float64)
        numbers = np.empty(0, np.float64)
        for k in range(count):
            stack = runtime.tape_push(stack, rows[k], k, capacity)
            numbers = runtime.tape_push(numbers, rows[k, 0], k, capacity)
        return stack, numbers

    rows = np.arange(60.0).reshape(20, 3)
    for push in (pushed.py_func, pushed):
        for capacity in (0, 20):  # a `while` (doubling from 8 rows) and a `for` of 20 iterations
            stack, numbers = push(rows, 20, capacity)
            assert stack.shape[0] >= 20 and np.array_equal(stack[:20], rows) and np.array_equal(numbers[:20], rows[:, 0])
    wrong = numba.njit(lambda stack, value: runtime.tape_push(stack, value, 1, 3))
    for push in (wrong.py_func, wrong):
        with pytest.raises(ValueError, match="changed shape between iterations"):
            push(np.empty((3, 2)), np.ones(3))


def test_a_tape_made_before_its_loop_checks_the_shape_of_each_row_in_python_and_numba():
    import numba
    from adcompiler.backend import runtime_numba  # noqa: F401 (registers the Numba twin)

    @numba.njit
    def stored(tape, value):
        tape[1] = runtime.tape_row(value, tape.shape[1:])
        return tape

    for store in (stored.py_func, stored):
        assert np.array_equal(store(np.zeros((3, 2)), np.ones(2))[1], np.ones(2))
        for value in (np.ones(3), np.ones(1)):  # (a row of length 1 would broadcast, silently)
            with pytest.raises(ValueError, match="changed shape between iterations"):
                store(np.zeros((3, 2)), value)


def test_a_stacked_value_updated_element_by_element_afterwards_is_updated_in_place():
    """The stack stores a row where its value is made, so the element updates after it stay in place
    (stored at the end of the iteration, every element update copied the whole array: n^2 work)."""
    x = np.linspace(0.5, 1.5, 6)
    forward = generated(workloads.ode_elements, x, 3).split("# generated Python")[1].split("_backward")[0]
    assert "tape_row(" in forward and ".copy()" not in forward, forward


@MODES
def test_gradient_of_element_by_element_runge_kutta(compiled):
    x = np.linspace(0.5, 1.5, 6)
    got = grad(workloads.ode_elements, jit=compiled)(x, 3)
    np.testing.assert_allclose(got, fd_grad(workloads.ode_elements, [x, 3], 0), rtol=1e-7)
