"""jacfwd (forward mode over the basis of tangents: one Function), jacobian (the mode chosen by shape)
and hessian (jacfwd of grad), called from Python and inside compiled and differentiated code,
against JAX's and float64 finite differences."""
import numpy as np
import pytest

import adcompiler
from adcompiler import hessian, jacfwd, jacobian
from fd import fd_grad, fd_jacobian

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
    np.testing.assert_allclose(tall(x, a), fd_jacobian(rollout, (x, a), 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(wide(x, W), fd_jacobian(layer, (x, W), 1), rtol=1e-6, atol=1e-9)
    close_to_jax(tall(x, a), "jacrev", rollout_jax, x, a)
    close_to_jax(wide(x, W), "jacrev", layer_jax, x, W, argnums=1)
    source = adcompiler.show(tall, x, a, print_it=False).split("# generated Python")[1]
    assert "if t" in source and " <= " in source  # one Function: both modes, chosen by the sizes


@adcompiler.jit
def sum_of_jacobians(x, W, a):
    """The chosen Jacobian inside compiled code: a wide one and a tall one."""
    return np.sum(jacobian(layer, wrt=1)(x, W)) + np.sum(jacobian(rollout)(x, a))


def test_jacobian_is_spliced_into_compiled_code(inputs):
    x, W, a = inputs
    expected = np.sum(fd_jacobian(layer, (x, W), 1)) + np.sum(fd_jacobian(rollout, (x, a), 0))
    assert sum_of_jacobians(x, W, a) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("jit", [False, True])
def test_hessian_forward_over_reverse_through_a_loop(inputs, jit):
    x = inputs[0]
    h = hessian(rosenbrock, jit=jit)(x)
    close_to_jax(h, "hessian", rosenbrock_jax, x)
    np.testing.assert_allclose(h, fd_jacobian(adcompiler.grad(rosenbrock, jit=False), (x,), 0), rtol=1e-6, atol=1e-6)


def scaled(params):
    return params["w"] * np.sin(params["b"])


def test_jacfwd_of_a_tree_nests_each_leafs_jacobian_as_the_tree():
    params = {"w": np.array([0.3, -1.2]), "b": np.array([0.7, 0.2])}
    jac = jacfwd(scaled, jit=False)(params)
    assert set(jac) == {"w", "b"} and jac["w"].shape == (2, 2)
    np.testing.assert_allclose(jac["w"], np.diag(np.sin(params["b"])), rtol=1e-14)
    np.testing.assert_allclose(jac["b"], np.diag(params["w"] * np.cos(params["b"])), rtol=1e-14)


def pair(x):
    return x, x


def test_refusals():
    with pytest.raises(TypeError, match="one argument"):
        hessian(rosenbrock, wrt=(0, 1))
    with pytest.raises(adcompiler.CompileError, match="returns a tuple"):
        jacfwd(pair)(np.ones(2))


def square_layer(x, W):
    return np.tanh(W @ x) * x


def square_layer_jax(x, W):
    return jnp.tanh(W @ x) * x


def trace_of_jacobian(x, W):
    """A Jacobian inside a differentiated function: its trace, the divergence of the layer."""
    return np.trace(jacfwd(square_layer)(x, W))


def hessian_times(x, v):
    """A Hessian inside a differentiated function: v' H v, H the Rosenbrock Hessian at x."""
    return v @ (hessian(rosenbrock)(x) @ v)


@adcompiler.jit
def newton_step(x):
    """A Hessian inside compiled code: one Newton step on Rosenbrock."""
    return x - np.linalg.solve(hessian(rosenbrock)(x), adcompiler.grad(rosenbrock)(x))


def test_jacfwd_and_hessian_are_spliced_into_compiled_code(inputs):
    x = inputs[0]
    h = hessian(rosenbrock, jit=False)(x)
    expected = x - np.linalg.solve(h, adcompiler.grad(rosenbrock, jit=False)(x))
    np.testing.assert_allclose(newton_step(x), expected, rtol=1e-12)
    if jax is not None:
        np.testing.assert_allclose(newton_step(x), x - jnp.linalg.solve(jax.hessian(rosenbrock_jax)(x),
                                                                        jax.grad(rosenbrock_jax)(x)), rtol=1e-12)


@pytest.mark.parametrize("jit", [False, True])
def test_grad_of_a_jacobians_trace_and_of_a_hessian_quadratic_form(inputs, jit):
    x, W, a = inputs
    W = np.vstack([W, W[:1]])  # square: (4, 4)
    dx, dW = adcompiler.grad(trace_of_jacobian, wrt=(0, 1), jit=jit)(x, W)
    np.testing.assert_allclose(dx, fd_grad(trace_of_jacobian, (x, W), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dW, fd_grad(trace_of_jacobian, (x, W), 1), rtol=1e-6, atol=1e-8)
    gx, gv = adcompiler.grad(hessian_times, wrt=(0, 1), jit=jit)(x, a)
    np.testing.assert_allclose(gx, fd_grad(hessian_times, (x, a), 0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gv, fd_grad(hessian_times, (x, a), 1), rtol=1e-6, atol=1e-6)
    if jax is not None:
        def trace_jax(x, W):
            return jnp.trace(jax.jacfwd(square_layer_jax)(x, W))
        close_to_jax(dx, "grad", trace_jax, x, W)
        close_to_jax(dW, "grad", trace_jax, x, W, argnums=1)
        close_to_jax(gx, "grad", lambda x, v: v @ (jax.hessian(rosenbrock_jax)(x) @ v), x, a)


def test_per_item_jacobians_by_vmap_of_jacfwd(inputs):
    x, W, _ = inputs
    points = np.stack([x, 2 * x, x ** 2])
    per_item = adcompiler.vmap(jacfwd(layer), in_axes=(0, None), jit=False)(points, W)
    assert per_item.shape == (3, 3, 4)
    for k in range(3):
        np.testing.assert_allclose(per_item[k], fd_jacobian(layer, (points[k], W), 0), rtol=1e-6, atol=1e-9)
