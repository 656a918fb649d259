"""jacfwd (vmap of jvp over the basis of tangents: one call), jacobian (the mode chosen by shape)
and hessian (jacfwd of grad), against JAX's and float64 finite differences."""
import numpy as np
import pytest

import adcompiler
from adcompiler import hessian, jacfwd, jacobian
from fd import fd_jacobian

try:  # JAX where it is installed (`pip install -e ".[bench]"`); finite differences always
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = jnp = None


def close_to_jax(actual, jax_transform, function, *args, **kwargs):
    if jax is not None:
        np.testing.assert_allclose(actual, getattr(jax, jax_transform)(function, **kwargs)(*args), rtol=1e-12,
                                   atol=1e-10)


def layer(x, W):
    return np.tanh(W @ x) * x[0]


def layer_jax(x, W):
    return jnp.tanh(W @ x) * x[0]


def rollout(x, a):
    """A loop whose values are taped arrays: the output has more numbers than `a`."""
    h = x
    for _ in range(4):
        h = np.sin(a * h) + 0.5 * h
    return np.concatenate((h, h * h))


def rollout_jax(x, a):
    h = x
    for _ in range(4):
        h = jnp.sin(a * h) + 0.5 * h
    return jnp.concatenate((h, h * h))


def rosenbrock(x):
    total = 0.0
    for i in range(x.shape[0] - 1):
        total = total + (1 - x[i]) ** 2 + 100 * (x[i + 1] - x[i] ** 2) ** 2
    return total


def rosenbrock_jax(x):
    return jnp.sum((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(7)
    return rng.uniform(0.1, 1.0, 4), rng.normal(size=(3, 4)), rng.uniform(0.5, 1.5, 4)


@pytest.mark.parametrize("jit", [False, True])
def test_jacfwd_against_jax_and_differences(inputs, jit):
    x, W, a = inputs
    jac = jacfwd(layer, jit=jit)(x, W)
    close_to_jax(jac, "jacfwd", layer_jax, x, W)
    np.testing.assert_allclose(jac, fd_jacobian(layer, (x, W), 0), rtol=1e-6, atol=1e-9)
    dx, da = jacfwd(rollout, wrt=(0, 1), jit=jit)(x, a)
    assert dx.shape == (8, 4) and da.shape == (8, 4)
    np.testing.assert_allclose(dx, fd_jacobian(rollout, (x, a), 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(da, fd_jacobian(rollout, (x, a), 1), rtol=1e-6, atol=1e-9)
    close_to_jax((dx, da), "jacfwd", rollout_jax, x, a, argnums=(0, 1))


def test_jacfwd_of_a_matrix_argument_has_the_output_shape_then_the_argument_shape(inputs):
    x, W, _ = inputs
    jac = jacfwd(layer, wrt="W", jit=False)(x, W)
    assert jac.shape == (3, 3, 4)
    np.testing.assert_allclose(jac, fd_jacobian(layer, (x, W), 1), rtol=1e-6, atol=1e-9)
    close_to_jax(jac, "jacfwd", layer_jax, x, W, argnums=1)


def test_jacobian_chooses_forward_for_tall_and_reverse_for_wide(inputs):
    x, W, a = inputs
    tall, wide = jacobian(rollout, jit=False), jacobian(layer, wrt=1, jit=False)
    assert tall.mode(x, a) == "forward" and wide.mode(x, W) == "reverse"
    np.testing.assert_allclose(tall(x, a), fd_jacobian(rollout, (x, a), 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(wide(x, W), fd_jacobian(layer, (x, W), 1), rtol=1e-6, atol=1e-9)
    close_to_jax(tall(x, a), "jacrev", rollout_jax, x, a)
    close_to_jax(wide(x, W), "jacrev", layer_jax, x, W, argnums=1)


@pytest.mark.parametrize("jit", [False, True])
def test_hessian_forward_over_reverse_through_a_loop(inputs, jit):
    x = inputs[0]
    h = hessian(rosenbrock, jit=jit)(x)
    close_to_jax(h, "hessian", rosenbrock_jax, x)
    np.testing.assert_allclose(h, fd_jacobian(adcompiler.grad(rosenbrock, jit=False), (x,), 0), rtol=1e-6, atol=1e-6)


def scaled(params):
    return params["w"] * 2.0


def test_refusals():
    with pytest.raises(TypeError, match="one argument"):
        hessian(rosenbrock, wrt=(0, 1))
    with pytest.raises(TypeError, match="use jacrev for parameter trees"):
        jacfwd(scaled)({"w": np.ones(2)})
