"""Transforms used together: `jit` (compiled without differentiation), gradients called inside
compiled code, second derivatives (`grad` of a function that calls `grad`), `vjp` with array
outputs; each checked against central finite differences or closed forms. Second derivatives
through loops whose tapes are stacks (`while` loops, `for` loops of fixed-shape arrays, nested
loops): Hessians by forward over reverse, `vmap` of gradients and Hessians, each against JAX on
the same function (its `np` bound to jax.numpy) and against finite differences of JAX's gradient."""
import numpy as np
import pytest

import adcompiler
from adcompiler import grad, hessian, hvp, jacfwd, jacobian, jit, value_and_grad, vjp, vmap
from fd import fd_jacobian

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
from test_batch import with_jax  # noqa: E402 (after JAX's float64 setting)

MODES = pytest.mark.parametrize("compiled", [False, True], ids=["python", "jit"])


def cubic_sine(x):
    return np.sin(x) * x ** 3


def d_cubic_sine(x):  # the first derivative, by hand, to check the second one against
    return np.cos(x) * x ** 3 + 3 * x ** 2 * np.sin(x)


d_cubic = grad(cubic_sine)
d_cubic_python = grad(cubic_sine, jit=False)


def first_derivative(x):
    return d_cubic(x)


def first_derivative_python(x):
    return d_cubic_python(x)


@MODES
def test_second_derivative_of_a_scalar_function(compiled):
    second = grad(first_derivative if compiled else first_derivative_python, jit=compiled)
    for x in (-1.3, 0.4, 2.0):
        h = 1e-5
        expected = (d_cubic_sine(x + h) - d_cubic_sine(x - h)) / (2 * h)
        assert second(x) == pytest.approx(expected, rel=1e-8)
        assert d_cubic(x) == pytest.approx(d_cubic_sine(x), rel=1e-13)


def energy(x, W):
    return np.sum(np.tanh(W @ x) ** 2)


energy_gradient = grad(energy, jit=False)


def gradient_norm(x, W):
    """|d energy / dx|^2: a second-order quantity (a Hessian-vector product underneath)."""
    g = energy_gradient(x, W)
    return np.sum(g * g)


def test_gradient_of_a_gradient_norm_matches_finite_differences():
    rng = np.random.default_rng(5)
    x, W = rng.normal(size=4), rng.normal(size=(3, 4))
    assert adcompiler.check_grad(gradient_norm, x, W, wrt=(0, 1), mode="element", jit=False) < 1e-6


def loss(W, b, X, y):
    return np.mean((np.tanh(X @ W + b) - y) ** 2)


loss_and_grads = value_and_grad(loss, wrt=("W", "b"))


@jit
def sgd_step(W, b, X, y, lr):
    value, (gW, gb) = loss_and_grads(W, b, X, y)
    return value, W - lr * gW, b - lr * gb


def test_a_compiled_step_equals_the_step_done_in_python():
    rng = np.random.default_rng(6)
    W, b, X, y = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    value, W1, b1 = sgd_step(W, b, X, y, 0.1)
    expected_value, (gW, gb) = value_and_grad(loss, wrt=("W", "b"), jit=False)(W, b, X, y)
    assert value == pytest.approx(expected_value, rel=1e-13)
    np.testing.assert_allclose(W1, W - 0.1 * gW, rtol=1e-13)
    np.testing.assert_allclose(b1, b - 0.1 * gb, rtol=1e-13)
    assert adcompiler.check_grad(loss, W, b, X, y, wrt=(0, 1), jit=False) < 1e-7


@MODES
def test_jit_returns_what_the_function_returns(compiled):
    total, doubled = jit(two_results, jit=compiled)(np.arange(3.0), 2)
    assert total == 6.0 and np.array_equal(doubled, [0.0, 2.0, 4.0])


def two_results(x, n):
    return np.sum(x) * n, x * 2.0


def elementwise(x):
    return np.sin(x) * x


@MODES
def test_vjp_of_an_array_output(compiled):
    x = np.linspace(-1.0, 1.0, 5)
    value, pullback = vjp(elementwise, jit=compiled)(x)
    np.testing.assert_allclose(value, np.sin(x) * x, rtol=1e-13)
    u = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    np.testing.assert_allclose(pullback(u), u * (np.cos(x) * x + np.sin(x)), rtol=1e-12)
    np.testing.assert_allclose(pullback(2 * u), 2 * u * (np.cos(x) * x + np.sin(x)), rtol=1e-12)


# ---------------------------------------------------------------- second derivatives through stacked tapes

LOOP_W = np.array([[0.4, -0.3, 0.2], [0.1, 0.5, -0.4], [-0.2, 0.3, 0.35]])


def sine_while(x):
    """A `while` loop: every value it tapes goes on a stack that doubles when full."""
    s = x
    i = 0
    while i < 3:
        s = np.sin(s) * x
        i += 1
    return np.sum(s)


def recurrence(x):
    """A `for` loop carrying an array of one shape: tanh's outputs taped in a stack of rows."""
    h = x
    total = 0.0
    for i in range(5):
        h = np.tanh(LOOP_W @ h + h)
        total = total + np.sum(np.sin(h))
    return total


def nested_loops(h):
    """The outer loop stacks the inner loop's stacks (rows of rows)."""
    total = 0.0
    for i in range(3):
        for j in range(LOOP_W.shape[0]):
            h = np.tanh(h * LOOP_W[j]) + 0.1
        total = total + np.sum(h * h) * (i + 1)
    return total


def while_in_for(x):
    """A `while` inside a `for`: the outer loop keeps the inner stacks in a list."""
    total = 0.0
    s = x
    for i in range(2):
        j = 0
        while j < 3:
            s = np.sin(s * x) + 0.2
            j += 1
        total = total + np.sum(s)
    return total


def scalar_while(x):
    """A `while` loop that tapes a number as well (a stack of numbers: one batched row per item)."""
    s = 0.5
    i = 0
    while i < 4:
        s = np.sin(s * np.sum(x * x)) + 0.3
        x = np.cos(x) * s
        i += 1
    return np.sum(x) * s


STACKED = [(f, with_jax(f)) for f in (sine_while, scalar_while, recurrence, nested_loops, while_in_for)]
STACKED_IDS = [f.__name__ for f, _ in STACKED]
POINT = np.array([0.3, -0.2, 0.5])
POINTS = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [-0.5, 0.25, 0.15]])


def _jax_hessian(function_jax, x):
    """JAX's Hessian, checked against central differences of JAX's gradient (independent of both)."""
    expected = np.asarray(jax.hessian(function_jax)(x))
    differences = fd_jacobian(lambda y: np.asarray(jax.grad(function_jax)(y)), [x], 0)
    np.testing.assert_allclose(expected, differences, rtol=1e-7, atol=1e-9)
    return expected


@pytest.mark.parametrize("function, function_jax", STACKED, ids=STACKED_IDS)
def test_hessians_through_stacked_tapes_against_jax(function, function_jax):
    expected = _jax_hessian(function_jax, POINT)
    np.testing.assert_allclose(hessian(function, jit=False)(POINT), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jacfwd(grad(function), jit=False)(POINT), expected, rtol=1e-12, atol=1e-14)
    v = np.array([0.4, 1.0, -0.7])
    gradient, product = hvp(function, jit=False)(POINT, v)
    np.testing.assert_allclose(gradient, np.asarray(jax.grad(function_jax)(POINT)), rtol=1e-12)
    np.testing.assert_allclose(product, expected @ v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("function, function_jax", STACKED, ids=STACKED_IDS)
def test_per_example_gradients_through_stacked_tapes_against_jax(function, function_jax):
    """vmap(grad(f)): the stacks hold a batch axis per row (the trip counts are the same for every item)."""
    expected = np.asarray(jax.vmap(jax.grad(function_jax))(POINTS))
    np.testing.assert_allclose(vmap(grad(function), jit=False)(POINTS), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("function, function_jax", STACKED[:4], ids=STACKED_IDS[:4])
def test_jacobians_of_gradients_through_stacks_build_both_modes(function, function_jax):
    """jacobian(grad(f)) makes the reverse-over-reverse branch too (the tape stays a stack)."""
    expected = _jax_hessian(function_jax, POINT)
    np.testing.assert_allclose(jacobian(grad(function), jit=False)(POINT), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("function, function_jax", STACKED[:4], ids=STACKED_IDS[:4])
def test_per_example_hessians_batch_the_batched_stacks_again(function, function_jax):
    """vmap(hessian(f)): the Hessian's batch of stacks batched once more (two batch axes per row)."""
    expected = np.asarray(jax.vmap(jax.hessian(function_jax))(POINTS))
    np.testing.assert_allclose(vmap(hessian(function), jit=False)(POINTS), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_compiled_hessian_through_a_while_loop():
    """The batched push's view of the stack of batched rows under Numba (a kernel carries it)."""
    expected = _jax_hessian(with_jax(sine_while), POINT)
    compiled = hessian(sine_while)
    np.testing.assert_allclose(compiled(POINT), expected, rtol=1e-12, atol=1e-14)
    assert "kernels" in adcompiler.show(compiled, print_it=False).split("# what runs now")[-1]
    np.testing.assert_allclose(vmap(grad(sine_while))(POINTS), np.asarray(jax.vmap(jax.grad(with_jax(sine_while)))(POINTS)),
                               rtol=1e-12, atol=1e-14)
