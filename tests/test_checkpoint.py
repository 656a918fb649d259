"""Checkpointing (transforms/checkpoint.py): `checkpoint(range(n))` loops, `checkpoint(f)` calls and
`memory=` budgets (two levels where they fit, else the binomial schedule) give the fully taped
gradient (to 1e-12 relative, most of them bit for bit: the same sums in the same order) and agree
with finite differences, in both jit modes; the tape and snapshot bytes of a budgeted gradient,
measured with tracemalloc while it runs as plain Python, stay within the budget; the binomial
schedule advances exactly as many iterations as Griewank's minimum (counted where the backward
restores each iteration, checked against the closed form and a dynamic programme)."""
import sys
import tracemalloc
from functools import lru_cache
from math import comb
from pathlib import Path

import numpy as np
import pytest

from adcompiler import CompileError, checkpoint, grad, show, value_and_grad, vjp
from adcompiler.backend import runtime
from fd import fd_grad

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import workloads as W  # noqa: E402

SEED = 17
JIT_MODES = [False, True]


def recurrence(x0, p0, p1, p2, dt, n):
    """W3's recurrence (a scalar loop), with a branch on the state."""
    x = x0
    total = 0.0
    for i in range(n):
        if x > 1.0:
            x = x + dt * (np.sin(x) * p0 - x * x * p1 + p2)
        else:
            x = x + dt * (np.cos(x) * p0 + p2)
        total = total + x * x
    return dt * total


def rnn(W, h, n):
    """An array carried through a loop with a branch on the iteration number."""
    for i in checkpoint(range(n)):
        if i % 2 == 0:
            h = np.tanh(W @ h + 0.1)
        else:
            h = np.sin(h) * 0.9 + 0.05 * h
    return np.sum(h * h)


def rnn_taped(W, h, n):
    for i in range(n):
        if i % 2 == 0:
            h = np.tanh(W @ h + 0.1)
        else:
            h = np.sin(h) * 0.9 + 0.05 * h
    return np.sum(h * h)


def nested(W, h, n, m):
    """Checkpointed iterations holding a plain inner loop, an array and a scalar carried."""
    s = 0.0
    for i in checkpoint(range(n)):
        for j in range(m):
            h = np.tanh(W @ h) + 0.01 * j
            s = s + np.sum(h) * 0.1
    return s + np.sum(h * h)


def nested_twice(W, h, n, m):
    """Both levels checkpointed: the inner loop is recomputed inside the outer's recomputation."""
    s = 0.0
    for i in checkpoint(range(n)):
        for j in checkpoint(range(m)):
            h = np.tanh(W @ h) + 0.01 * j
            s = s + np.sum(h) * 0.1
    return s + np.sum(h * h)


def nested_taped(W, h, n, m):
    s = 0.0
    for i in range(n):
        for j in range(m):
            h = np.tanh(W @ h) + 0.01 * j
            s = s + np.sum(h) * 0.1
    return s + np.sum(h * h)


def layer(h, W):
    return np.tanh(W @ h + 0.1 * np.sin(h))


@checkpoint
def decorated_layer(h, W):
    return np.tanh(W @ h + 0.1 * np.sin(h))


def layers(W, h, n):
    """`checkpoint(f)` inside a loop: each layer's intermediates are recomputed from h and W."""
    for i in range(n):
        h = checkpoint(layer)(h, W) * 0.5 + decorated_layer(h, W)
    return np.sum(h * h)


def layers_taped(W, h, n):
    for i in range(n):
        h = layer(h, W) * 0.5 + layer(h, W)
    return np.sum(h * h)


def array_recurrence(a, x, n):
    """An array carried by a long loop (its snapshots and tape are lists of arrays)."""
    for i in range(n):
        x = x + 0.01 * np.sin(a * x)
    return np.sum(x * x)


def _close(actual, expected, rtol):
    for a, e in zip(np.atleast_1d(actual) if np.ndim(actual) == 0 else actual, expected):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=0)


@pytest.fixture(scope="module")
def matrices():
    rng = np.random.default_rng(SEED)
    return rng.normal(size=(5, 5)) * 0.4, rng.normal(size=5)


@pytest.mark.parametrize("jit", JIT_MODES)
def test_memory_budget_gives_the_taped_gradient_and_fd(jit):
    args = [0.5, 0.5, 0.3, 0.1, 1e-2, 3000]
    wrt = (0, 1, 2, 3)
    taped = grad(recurrence, wrt=wrt, jit=jit)(*args)
    budgeted = grad(recurrence, wrt=wrt, jit=jit, memory=4000)(*args)
    np.testing.assert_allclose(budgeted, taped, rtol=1e-12, atol=0)
    fd = [fd_grad(recurrence, args, k) for k in wrt]
    np.testing.assert_allclose(budgeted, fd, rtol=1e-7)


# (checkpointed function, its taped twin, the arguments past W and h, which gradients finite differences check)
CHECKPOINTED_CASES = {"branch and array": (rnn, rnn_taped, (9,), (0, 1)),
                      "nested loops": (nested, nested_taped, (4, 3), (0,)),
                      "both levels checkpointed": (nested_twice, nested_taped, (4, 3), (0,)),
                      "calls inside a loop": (layers, layers_taped, (4,), (1,))}


@pytest.fixture(scope="module", params=[(case, jit) for case in CHECKPOINTED_CASES for jit in JIT_MODES],
                ids=lambda param: f"{param[0]}-{'numba' if param[1] else 'python'}")
def checkpointed_and_taped(request, matrices):
    """For one case and jit mode: the arguments, the checkpointed gradient and the taped one."""
    function, taped, rest, checked = CHECKPOINTED_CASES[request.param[0]]
    args = [*matrices, *rest]
    jit = request.param[1]
    return function, args, checked, grad(function, wrt=(0, 1), jit=jit)(*args), grad(taped, wrt=(0, 1), jit=jit)(*args)


def test_checkpointed_loops_give_the_taped_gradient_and_fd(checkpointed_and_taped):
    function, args, checked, checkpointed, taped = checkpointed_and_taped
    for c, t in zip(checkpointed, taped):
        np.testing.assert_allclose(c, t, rtol=1e-12, atol=0)
    for k in checked:
        np.testing.assert_allclose(checkpointed[k], fd_grad(function, args, k), rtol=1e-7)


def test_a_checkpointed_function_runs_as_itself_in_python(matrices):
    W_, h = matrices
    np.testing.assert_array_equal(decorated_layer(h, W_), layer(h, W_))


def _peak_bytes(function, *args):
    """The peak of memory allocated (tracemalloc: Python objects and NumPy's arrays) while
    `function(*args)` runs, above what was allocated before."""
    function(*args)  # built and compiled before measuring
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        function(*args)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _recurrence_taped_and_budgeted(budget: int):
    """W3's recurrence at 10,000 steps: its arguments, the fully taped gradient (whose tape is
    measured to be the full one) and the gradient under `memory=budget`, both plain Python."""
    args, wrt = W.recurrence_inputs(10_000), (0, 1, 2, 3)
    taped = grad(W.recurrence_loss, wrt=wrt, jit=False)
    assert _peak_bytes(taped, *args) > 10_000 * 16  # the full tape: two floats per step
    return args, taped, grad(W.recurrence_loss, wrt=wrt, jit=False, memory=budget)


def test_measured_tape_and_snapshots_within_the_budget():
    budget = 6000
    args, taped, budgeted = _recurrence_taped_and_budgeted(budget)
    assert _peak_bytes(budgeted, *args) <= budget
    with pytest.MonkeyPatch.context() as patch:  # two levels fit (about 4.5 KB): no binomial schedule runs
        patch.setattr(runtime, "revolve_restore", None)
        assert budgeted(*args) == taped(*args)


def test_array_tapes_within_the_budget(rng):
    a, x = rng.uniform(0.5, 1.5, size=50), rng.normal(size=50)
    budget = 100_000  # the full tape: 2000 steps of two 400-byte arrays, 1.6 MB
    budgeted = grad(array_recurrence, wrt=(0, 1), jit=False, memory=budget)
    taped = grad(array_recurrence, wrt=(0, 1), jit=False)
    for b, t in zip(budgeted(a, x, 2000), taped(a, x, 2000)):
        np.testing.assert_allclose(b, t, rtol=1e-12, atol=0)
    assert _peak_bytes(budgeted, a, x, 2000) <= budget
    assert _peak_bytes(taped, a, x, 2000) > 2000 * 400
    jitted = grad(array_recurrence, wrt=(0, 1), jit=True, memory=budget)(a, x, 2000)
    for b, t in zip(jitted, taped(a, x, 2000)):
        np.testing.assert_allclose(b, t, rtol=1e-12, atol=0)
    np.testing.assert_allclose(jitted[0], fd_grad(array_recurrence, [a, x, 2000], 0), rtol=1e-7)


def test_value_and_grad_and_vjp_take_a_budget():
    args = W.recurrence_inputs(5000)
    value, grads = value_and_grad(W.recurrence_loss, wrt=(1, 2), memory=4000)(*args)
    taped_value, taped = value_and_grad(W.recurrence_loss, wrt=(1, 2))(*args)
    assert value == taped_value and grads == taped
    out, pullback = vjp(W.recurrence_loss, wrt=(1, 2), memory=4000)(*args)
    assert out == taped_value
    np.testing.assert_allclose(pullback(2.0), [2.0 * g for g in taped], rtol=1e-12, atol=0)


def test_show_tells_what_is_recomputed():
    g = grad(W.recurrence_loss, wrt=(1,), jit=False, memory=4000)
    g(*W.recurrence_inputs(100))
    text = show(g, print_it=False)
    assert "(memory=4000 bytes per loop)" in text
    assert "checkpointed for at workloads.py:170: its values recomputed in the backward" in text  # two levels
    assert "revolved for at workloads.py:170: its values recomputed in the backward, iteration by iteration, from " \
           "snapshots of the carried values, kept by the binomial schedule" in text
    assert "rt.checkpoint_chunk(" in text and "rt.revolve_schedule(" in text  # two levels where they fit, else revolve


def test_too_small_a_budget_names_the_loop():
    g = grad(W.recurrence_loss, wrt=(1,), memory=300)  # not one snapshot besides one iteration's values
    with pytest.raises(ValueError, match=r"memory=300 bytes is too small for the loop at workloads.py:170"):
        g(*W.recurrence_inputs(10_000))


def bad_loop(x, n):
    for i in checkpoint(x):
        x = x * 2.0
    return np.sum(x)


def bad_call(x):
    return checkpoint(x)(x)


def noisy(x, n):
    for i in checkpoint(range(n)):
        x = x * np.random.uniform(0.9, 1.1)
    return x


def long_while(x):
    s = 0.0
    while s < 8.0:
        x = np.sin(x) * 0.9 + 0.3
        s = s + np.sum(x * x) * 0.2
    return s


def test_refusals():
    with pytest.raises(TypeError, match="checkpoint marks a function"):
        checkpoint(3)
    with pytest.raises(ValueError, match="memory must be a positive number of bytes"):
        grad(recurrence, memory=0)
    with pytest.raises(CompileError, match=r"must iterate over checkpoint\(range"):
        grad(bad_loop)(np.ones(3), 2)
    with pytest.raises(CompileError, match="checkpoint takes one function"):
        grad(bad_call)(np.ones(3))
    with pytest.raises(CompileError, match="draws new values at each call, but a checkpointed loop"):
        grad(noisy)(1.0, 3)
    for holds_unknown in (while_in_for, triangle):
        with pytest.raises(CompileError, match=r"test_checkpoint.py:\d+: in \w+\(\): memory= cannot bound the tape of "
                                               r"a loop that holds another loop whose trip count is known only inside"):
            grad(holds_unknown, memory=10_000)(np.ones(3), 4)


def while_in_for(x, n):
    for i in range(n):
        while x[0] < 2.0 * (i + 1):
            x = np.sin(x) + x + 0.5
    return np.sum(x * x)


def triangle(x, n):
    for i in range(n):
        for j in range(i):
            x = np.sin(x) * 0.5 + x
    return np.sum(x * x)


# ---------------------------------------------------------------- the binomial schedule (revolve)

REVOLVE_TRIPS = [0, 1, 2, 3, 7, 13, 97, 500]


@lru_cache(maxsize=None)
def fewest_advances(steps: int, snapshots: int) -> int:
    """The fewest iterations a reversal of `steps` iterations from a snapshot at the first, with
    `snapshots` counting that one, must run without keeping their values: split at m, advance m,
    reverse the rest with one snapshot fewer, then the first m (dynamic programme)."""
    if steps <= 1:
        return 0
    if snapshots == 1:
        return steps * (steps - 1) // 2
    return min(m + fewest_advances(steps - m, snapshots - 1) + fewest_advances(m, snapshots)
               for m in range(1, steps))


def griewank_minimum(steps: int, snapshots: int) -> int:
    """Griewank's closed form of the same: r l - C(s + r, s + 1), r the least with C(s + r, s) >= l."""
    reps = 0
    while comb(snapshots + reps, snapshots) < steps:
        reps += 1
    return reps * steps - comb(snapshots + reps, snapshots + 1) if steps > 1 else 0


def test_the_schedule_advances_the_fewest_iterations():
    for snapshots in range(1, 6):
        for steps in range(1, 90):
            schedule = runtime.revolve_schedule(steps, 10**9, 0, 10**9 // (snapshots + 1) - 8, "here")
            for k in range(steps - 1, -1, -1):
                start = runtime.revolve_restore(schedule, k)
                for position in range(start, k):
                    runtime.revolve_take(schedule, position)
                assert schedule[1] <= schedule[0]
            used = min(snapshots, steps)
            assert schedule[0] == used
            assert schedule[4] == fewest_advances(steps, used) == griewank_minimum(steps, used), (steps, snapshots)


@pytest.fixture(scope="module")
def revolved_recurrence():
    """grad(recurrence) under memory= as plain Python (the same source the kernels run), and the
    taped gradient; `run(args)` runs the first with two levels ruled out (rt.checkpoint_chunk gives
    0: the binomial schedule for any trip count) and returns its gradient and, for each backward
    iteration, (k, the position restored, the snapshots of the schedule)."""
    budgeted = grad(recurrence, wrt=(0, 1, 2, 3), jit=False, memory=700)
    taped = grad(recurrence, wrt=(0, 1, 2, 3), jit=False)

    def run(args):
        restored = []

        def counted(schedule, k):
            start = restore(schedule, k)
            restored.append((k, start, schedule[0]))
            return start

        restore = runtime.revolve_restore
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(runtime, "checkpoint_chunk", lambda *sizes: 0)
            patch.setattr(runtime, "revolve_restore", counted)
            gradient = budgeted(*args)
        return gradient, restored

    return run, taped


@pytest.mark.parametrize("trips", REVOLVE_TRIPS)
def test_revolve_gives_the_taped_gradient_and_advances_the_fewest_iterations(revolved_recurrence, trips):
    run, taped = revolved_recurrence
    args = [0.5, 0.5, 0.3, 0.1, 1e-2, trips]
    gradient, restored = run(args)
    assert gradient == taped(*args)  # bit for bit
    assert [k for k, _, _ in restored] == list(range(trips - 1, -1, -1))  # each backward iteration restores once
    if trips:
        snapshots = restored[0][2]
        assert snapshots <= trips and (trips != 7 or snapshots == 7)  # 7 trips: fewer than the budget's 12 slots
        assert sum(k - start for k, start, _ in restored) == griewank_minimum(trips, snapshots)


@pytest.mark.parametrize("jit", JIT_MODES)
def test_revolve_where_two_levels_do_not_fit(jit):
    args = [0.5, 0.5, 0.3, 0.1, 1e-2, 3000]
    wrt = (0, 1, 2, 3)
    budgeted = grad(recurrence, wrt=wrt, jit=jit, memory=700)(*args)  # two levels would need about 2.4 KB
    np.testing.assert_array_equal(budgeted, grad(recurrence, wrt=wrt, jit=jit)(*args))
    np.testing.assert_allclose(budgeted, [fd_grad(recurrence, args, k) for k in wrt], rtol=1e-7)


def _revolve_bytes(function, args, one_iteration):
    """The peak bytes of `function(*args)` under the binomial schedule (two levels ruled out) above
    those of its call of `one_iteration` (the same objects, one snapshot and one iteration's values),
    and how many backward iterations restored a snapshot in the first."""
    restored = np.zeros(1, np.int64)  # (counted in place: a count that allocates would be measured too)

    def counted(schedule, k):
        restored[0] += 1
        return restore(schedule, k)

    restore = runtime.revolve_restore
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "checkpoint_chunk", lambda *sizes: 0)
        patch.setattr(runtime, "revolve_restore", counted)
        grown = _peak_bytes(function, *args)
        calls = restored[0]
        return grown - _peak_bytes(function, *one_iteration), calls


def test_revolve_tape_and_snapshots_within_the_budget():
    budget = 1000
    args, taped, budgeted = _recurrence_taped_and_budgeted(budget)
    kept, restored = _revolve_bytes(budgeted, args, W.recurrence_inputs(1))
    assert restored == 2 * 10_000  # (two calls)
    assert 24 * 20 < kept <= budget  # (at least 20 snapshots of 24 bytes with the schedule's entry)
    assert budgeted(*args) == taped(*args)


def loop_in_branch(x0, p0, n, flag):
    """A long loop in an `if` body."""
    total = x0 * p0
    if flag > 0:
        x = x0
        for i in range(n):
            x = x + 1e-3 * (np.sin(x) * p0 - 0.3 * x * x + 0.1)
            total = total + x * x
    return total


@pytest.mark.parametrize("jit", JIT_MODES)
def test_a_loop_in_an_if_body_takes_the_budget(jit):
    taped = grad(loop_in_branch, wrt=(0, 1), jit=jit)
    budgeted = grad(loop_in_branch, wrt=(0, 1), jit=jit, memory=1000)
    for flag in (1, 0):
        args = [0.5, 0.7, 5000, flag]
        np.testing.assert_array_equal(budgeted(*args), taped(*args))
    np.testing.assert_allclose(budgeted(*args[:3], 1), [fd_grad(loop_in_branch, [*args[:3], 1], k) for k in (0, 1)],
                               rtol=1e-7)
    if not jit:
        assert _peak_bytes(taped, 0.5, 0.7, 10_000, 1) > 10_000 * 8
        kept, restored = _revolve_bytes(budgeted, (0.5, 0.7, 10_000, 1), (0.5, 0.7, 1, 1))
        assert restored == 2 * 10_000 and 0 < kept <= 1000


@pytest.mark.parametrize("jit", JIT_MODES)
def test_revolve_of_a_carried_array(jit, rng):
    a, x = rng.uniform(0.5, 1.5, size=50), rng.normal(size=50)
    budget = 5_000  # two levels of 2000 steps of two 400-byte arrays would need about 57 KB
    budgeted = grad(array_recurrence, wrt=(0, 1), jit=jit, memory=budget)(a, x, 2000)
    taped = grad(array_recurrence, wrt=(0, 1), jit=jit)(a, x, 2000)
    for b, t in zip(budgeted, taped):
        np.testing.assert_array_equal(b, t)
    np.testing.assert_allclose(budgeted[0], fd_grad(array_recurrence, [a, x, 2000], 0), rtol=1e-7)


@pytest.mark.parametrize("jit", JIT_MODES)
def test_a_revolved_pullback_called_twice_and_value_and_grad(jit):
    args = W.recurrence_inputs(20_000)  # two levels would need about 8 KB
    value, grads = value_and_grad(W.recurrence_loss, wrt=(1, 2), jit=jit, memory=1000)(*args)
    taped_value, taped = value_and_grad(W.recurrence_loss, wrt=(1, 2), jit=jit)(*args)
    assert value == taped_value and grads == taped
    out, pullback = vjp(W.recurrence_loss, wrt=(1, 2), jit=jit, memory=1000)(*args)
    first, second = pullback(2.0), pullback(2.0)  # each backward makes its own schedule and snapshots
    assert out == taped_value and tuple(first) == tuple(second)
    np.testing.assert_allclose(first, [2.0 * g for g in taped], rtol=1e-12, atol=0)


# ---------------------------------------------------------------- memory= for nested loops and while loops


def _schedules(function, args, wrt, budget):
    """The plain gradient under `memory=budget`, and what it gives by each schedule (two levels,
    with revolve ruled out; revolve, with two levels ruled out)."""
    budgeted = grad(function, wrt=wrt, jit=False, memory=budget)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "revolve_restore", None)
        two_levels = budgeted(*args)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "checkpoint_chunk", lambda *sizes: 0)
        revolved = budgeted(*args)
    return budgeted, two_levels, revolved


def _identical(gradients, expected):
    for gradient in gradients:
        for g, e in zip(gradient, expected):
            np.testing.assert_array_equal(g, e)


def test_memory_budget_of_a_loop_holding_another_loop(matrices):
    """The outer loop checkpointed, the inner loop taped within one recomputed iteration: the taped
    gradient bit for bit by both schedules, within the budget (the inner tape sized by its trip
    count: 300 x 3 iterations tape 270 KB)."""
    args = [*matrices, 300, 3]
    taped_gradient = grad(nested_taped, wrt=(0, 1), jit=False)
    taped = taped_gradient(*args)
    budgeted, two_levels, revolved = _schedules(nested_taped, args, (0, 1), 30_000)
    _identical([two_levels, revolved], taped)
    np.testing.assert_allclose(taped[1], fd_grad(nested_taped, args, 1), rtol=1e-7)
    assert _peak_bytes(taped_gradient, *args) > 300 * 3 * 2 * 152
    assert _peak_bytes(budgeted, *args) <= 30_000
    kept, restored = _revolve_bytes(budgeted, args, [*matrices, 1, 3])
    assert restored == 2 * 300 and 0 < kept <= 30_000


def converging(x, a, limit):
    """A `while` loop whose trip count depends on the values (about 170 iterations at limit 2000)."""
    s = 0.0
    while s < limit:
        x = np.sin(a * x) * 0.9 + 0.3
        s = s + np.sum(x * x) * 0.2 + 0.01 * s
    return s + np.sum(np.cos(x))


def converging_trips(x, a, limit):
    s, trips = 0.0, 0
    while s < limit:
        x = np.sin(a * x) * 0.9 + 0.3
        s, trips = s + np.sum(x * x) * 0.2 + 0.01 * s, trips + 1
    return trips


def test_memory_budget_of_a_while_loop(rng):
    """The `while` runs once to count its iterations, then again as a checkpointed `for` of as many:
    the taped gradient bit for bit by both schedules; what each keeps (above the peak of a loop of
    one iteration) within the budget: two levels at 20 KB, revolve at 6 KB (the full tape: 100 KB)."""
    x, a = rng.uniform(-0.5, 0.5, size=20), rng.uniform(0.5, 1.5, size=20)
    args, one_iteration = (x, a, 2000.0), (x, a, 0.5)
    taped_gradient = grad(converging, wrt=(0, 1), jit=False)
    taped = taped_gradient(*args)
    two_level_gradient, two_levels, revolved = _schedules(converging, args, (0, 1), 20_000)
    budgeted = grad(converging, wrt=(0, 1), jit=False, memory=6_000)
    _identical([two_levels, revolved, budgeted(*args)], taped)
    for k in (0, 1):
        np.testing.assert_allclose(taped[k], fd_grad(converging, list(args), k), rtol=1e-7)
    trips = converging_trips(*args)
    taped_bytes = _peak_bytes(taped_gradient, *args) - _peak_bytes(taped_gradient, *one_iteration)
    assert trips > 150 and taped_bytes > trips * 272
    with pytest.MonkeyPatch.context() as patch:  # two levels fit: no binomial schedule runs
        patch.setattr(runtime, "revolve_restore", None)
        assert 0 < _peak_bytes(two_level_gradient, *args) - _peak_bytes(two_level_gradient, *one_iteration) <= 20_000
    kept, restored = _revolve_bytes(budgeted, args, one_iteration)
    assert restored == 2 * trips and 0 < kept <= 6_000


@pytest.mark.slow
def test_compiled_memory_budgets_of_nested_and_while_loops(matrices, rng):
    """The same under Numba, by the schedule each budget chooses (two levels, then revolve)."""
    args = [*matrices, 300, 3]
    taped = grad(nested_taped, wrt=(0, 1))(*args)
    _identical([grad(nested_taped, wrt=(0, 1), memory=budget)(*args) for budget in (30_000, 8_000)], taped)
    x, a = rng.uniform(-0.5, 0.5, size=20), rng.uniform(0.5, 1.5, size=20)
    taped = grad(converging, wrt=(0, 1))(x, a, 2000.0)
    _identical([grad(converging, wrt=(0, 1), memory=budget)(x, a, 2000.0) for budget in (20_000, 6_000)], taped)
