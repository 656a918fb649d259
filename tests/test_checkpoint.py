"""Checkpointing (transforms/checkpoint.py): `checkpoint(range(n))` loops, `checkpoint(f)` calls and
`memory=` budgets give the fully taped gradient (to 1e-12 relative: the same sums in the same
order) and agree with finite differences, in both jit modes; the tape and snapshot bytes of a
budgeted gradient, measured with tracemalloc while it runs as plain Python, stay within the budget."""
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from adcompiler import CompileError, checkpoint, grad, show, value_and_grad, vjp
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


@pytest.mark.parametrize("jit", JIT_MODES)
def test_checkpointed_loop_with_branch_and_array(jit, matrices):
    W_, h = matrices
    taped = grad(rnn_taped, wrt=(0, 1), jit=jit)(W_, h, 9)
    checkpointed = grad(rnn, wrt=(0, 1), jit=jit)(W_, h, 9)
    for c, t in zip(checkpointed, taped):
        np.testing.assert_allclose(c, t, rtol=1e-12, atol=0)
    np.testing.assert_allclose(checkpointed[0], fd_grad(rnn, [W_, h, 9], 0), rtol=1e-7)
    np.testing.assert_allclose(checkpointed[1], fd_grad(rnn, [W_, h, 9], 1), rtol=1e-7)


@pytest.mark.parametrize("jit", JIT_MODES)
@pytest.mark.parametrize("function", [nested, nested_twice])
def test_checkpointed_nested_loops(jit, function, matrices):
    W_, h = matrices
    taped = grad(nested_taped, wrt=(0, 1), jit=jit)(W_, h, 4, 3)
    checkpointed = grad(function, wrt=(0, 1), jit=jit)(W_, h, 4, 3)
    for c, t in zip(checkpointed, taped):
        np.testing.assert_allclose(c, t, rtol=1e-12, atol=0)
    np.testing.assert_allclose(checkpointed[0], fd_grad(function, [W_, h, 4, 3], 0), rtol=1e-7)


@pytest.mark.parametrize("jit", JIT_MODES)
def test_checkpointed_calls_inside_a_loop(jit, matrices):
    W_, h = matrices
    taped = grad(layers_taped, wrt=(0, 1), jit=jit)(W_, h, 4)
    checkpointed = grad(layers, wrt=(0, 1), jit=jit)(W_, h, 4)
    for c, t in zip(checkpointed, taped):
        np.testing.assert_allclose(c, t, rtol=1e-12, atol=0)
    np.testing.assert_allclose(checkpointed[1], fd_grad(layers, [W_, h, 4], 1), rtol=1e-7)
    assert decorated_layer(h, W_).shape == h.shape  # plain Python: the function itself


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


def test_measured_tape_and_snapshots_within_the_budget():
    args = W.recurrence_inputs(10_000)
    wrt = (0, 1, 2, 3)
    budget = 6000
    taped = grad(W.recurrence_loss, wrt=wrt, jit=False)
    budgeted = grad(W.recurrence_loss, wrt=wrt, jit=False, memory=budget)
    assert _peak_bytes(taped, *args) > 10_000 * 16  # the full tape: two floats per step
    assert _peak_bytes(budgeted, *args) <= budget
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
    assert "checkpointed for at workloads.py:170: its values recomputed in the backward" in text
    assert "rt.checkpoint_chunk(" in text


def test_too_small_a_budget_names_the_loop():
    g = grad(W.recurrence_loss, wrt=(1,), memory=500)
    with pytest.raises(ValueError, match=r"memory=500 bytes is too small for the loop at workloads.py:170"):
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
    with pytest.raises(CompileError, match="memory= cannot bound the tape of a loop that holds another loop"):
        grad(nested_taped, memory=10_000)(np.eye(2), np.ones(2), 3, 2)
