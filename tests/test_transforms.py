"""Transforms used together: `jit` (compiled without differentiation), gradients called inside
compiled code, second derivatives (`grad` of a function that calls `grad`), `vjp` with array
outputs; each checked against central finite differences or closed forms."""
import numpy as np
import pytest

import adcompiler
from adcompiler import grad, jit, value_and_grad, vjp

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
