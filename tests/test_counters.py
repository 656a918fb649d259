"""Counters in loops (transforms/plan.py: `counters`, Keep.UNDONE): an integer a loop steps by
amounts that depend on no carried value (`at = at + 1`, `j += 2`, `at` after an inner loop that
counts it) is not taped; the backward carries it from the loop's result down, undoing each step.

Gradients are checked against finite differences (tests/fd.py): programs with nested counters,
trip counts that change from one iteration to the next, the counter as an index into an array
read and an array written, the counter read after the loop; and programs whose integers are not
counters (a step in an `if`, a `while` loop), which keep their tapes.
"""
from __future__ import annotations

import numpy as np
import pytest

from adcompiler import grad, hessian, show
from fd import fd_grad, fd_jacobian

MODES = pytest.mark.parametrize("compiled", [False, True], ids=["python", "numba"])
RNG = np.random.default_rng(11)


def plan_of(function, *args, wrt=0) -> str:
    """The residual plans `show` prints."""
    text = show(function, *args, wrt=wrt, print_it=False)
    return text.split("# what each backward loop")[1].split("# where each part runs")[0]


def packed_triangle(x, packed):
    """ADBench GMM's inner loops: a lower triangle read from a packed vector by a counter that an
    inner loop of c-dependent length steps; the counter is read again after the loops."""
    d = x.shape[0]
    y = x * 1.0
    at = 0
    for c in range(d):
        for r in range(c + 1, d):
            y[r] = y[r] + packed[at] * x[c]
            at = at + 1
    return np.sum(np.sin(y)) + packed[at - 1] * x[0]


def counter_writes(x, w):
    """A counter stepping by 2 and by an outer number indexes both an array read (w) and an array
    written (out), counted down in a second loop."""
    n = x.shape[0]
    stride = n // 2
    out = np.zeros(1 + n * (2 + stride))
    j = 1
    for i in range(n):
        out[j] = out[j] + w[j] * x[i]
        j += 2
        out[j] = out[j] + np.cos(x[i]) * w[j]
        j = j + stride
    total = 0.0
    for i in range(n):
        j = j - 1
        total = total + out[j] * out[j] * x[i]
    return total + np.sum(np.tanh(out))


def counted_by_the_iteration(x, w):
    """Steps that change from one iteration to the next: the iteration number, and an inner loop
    stepping by the outer iteration number a times."""
    at = 0
    total = 0.0
    for a in range(x.shape[0]):
        at = at + a
        for b in range(a):
            total = total + w[at] * x[b] * (at + 1)
            at = at + a
        total = total + w[at] * x[a]
    return total + np.sin(x[0]) * at


def stepped_in_a_branch(x):
    """An integer stepped only where a branch says: not a counter, so it stays taped."""
    at = 0
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            at = at + 1
        total = total + x[at] * x[i] * x[i]
    return total


def test_a_counter_is_not_taped_where_the_inner_trip_count_changes():
    x, packed = RNG.normal(size=5), RNG.normal(size=10)
    plan = plan_of(packed_triangle, x, packed, wrt=(0, 1))
    assert "%at" in plan and "undoing its step" in plan, plan
    assert "i64 taped" not in plan and "i64[?] taped" not in plan and "list" not in plan, plan


@MODES
def test_gradient_through_a_packed_triangle(compiled):
    x, packed = RNG.normal(size=5), RNG.normal(size=10)
    for k in (0, 1):
        got = grad(packed_triangle, wrt=k, jit=compiled)(x, packed)
        np.testing.assert_allclose(got, fd_grad(packed_triangle, [x, packed], k), rtol=1e-8, atol=1e-10)


@MODES
def test_counters_indexing_an_array_read_and_an_array_written(compiled):
    x, w = RNG.normal(size=6), RNG.normal(size=1 + 6 * (2 + 3))
    plan = plan_of(counter_writes, x, w, wrt=(0, 1))
    assert "undoing its step" in plan and "i64 taped" not in plan, plan
    for k in (0, 1):
        got = grad(counter_writes, wrt=k, jit=compiled)(x, w)
        np.testing.assert_allclose(got, fd_grad(counter_writes, [x, w], k), rtol=1e-8, atol=1e-10)


@MODES
def test_a_counter_stepped_by_the_iteration_number(compiled):
    x, w = RNG.normal(size=5), RNG.normal(size=41)  # at ends at 0 + 1 + ... + 4 + 0 + 1 + 4 + 9 + 16 = 40
    plan = plan_of(counted_by_the_iteration, x, w, wrt=(0, 1))
    assert plan.count("undoing its step") >= 2 and "i64 taped" not in plan and "list" not in plan, plan
    for k in (0, 1):
        got = grad(counted_by_the_iteration, wrt=k, jit=compiled)(x, w)
        np.testing.assert_allclose(got, fd_grad(counted_by_the_iteration, [x, w], k), rtol=1e-8, atol=1e-10)


def test_an_integer_stepped_in_a_branch_stays_taped():
    x = np.array([0.5, -0.3, 0.8, 0.2, -0.6, 0.4])
    plan = plan_of(stepped_in_a_branch, x)
    assert "%at" in plan and "undoing" not in plan and "i64 taped in an array" in plan, plan
    np.testing.assert_allclose(grad(stepped_in_a_branch)(x), fd_grad(stepped_in_a_branch, [x], 0), rtol=1e-8)


def test_second_derivatives_through_undone_counters():
    """The backward's counter loop is itself a loop with a counter (`at = at - 1`): reverse over
    reverse (grad of grad) and forward over reverse (hessian) go through it."""
    x, packed = RNG.normal(size=4), RNG.normal(size=6)

    def gradient_norm(x, packed):
        return np.sum(grad(packed_triangle, wrt=1)(x, packed) ** 2)

    def gradient(packed):
        return grad(packed_triangle, wrt=1)(x, packed)

    got = grad(gradient_norm, wrt=1)(x, packed)
    np.testing.assert_allclose(got, fd_grad(gradient_norm, [x, packed], 1), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(hessian(packed_triangle, wrt=1)(x, packed), fd_jacobian(gradient, [packed], 0),
                               rtol=1e-7, atol=1e-9)
