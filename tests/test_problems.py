"""The benchmark problems of bench/gradbench.py at small sizes, each exact: ADBench's bundle
adjustment blocks, the hand model's Jacobian, k-means' Newton direction and the saddle point's
nested optimisation in all four mode combinations, against float64 finite differences (always)
and JAX (where installed)."""
import numpy as np
import pytest

import adcompiler as ad
from bench import gradbench as problems
from bench.jacobians import BONES, hand
from fd import fd_grad, fd_jacobian

try:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = jnp = None


@pytest.fixture(scope="module")
def ba():
    """ADBench's small BA input (tests/data or the shared copy), its observations' parameters
    perturbed so that each differs."""
    path = problems.BA_DATA / "test.txt"
    if not path.exists():
        pytest.skip("ADBench's BA input is not on this machine")
    cameras, points, weights, features, observations = problems.read_ba(path)
    rng = np.random.default_rng(3)
    parameters = problems.ba_parameters(cameras, points, weights, observations)
    parameters = parameters * (1 + 0.01 * rng.standard_normal(parameters.shape))
    return parameters, features


def test_ba_reader_replicates_adbench_input(ba):
    cameras, points, weights, features, observations = problems.read_ba(problems.BA_DATA / "test.txt", (3, 4, 7))
    assert cameras.shape == (3, 11) and points.shape == (4, 3) and weights.shape == (7,) and features.shape == (7, 2)
    assert observations[:, 0].tolist() == [0, 1, 2, 0, 1, 2, 0] and observations[:, 1].tolist() == [0, 1, 2, 3, 0, 1, 2]


@pytest.mark.parametrize("transform", ["jacfwd", "jacrev"])
def test_ba_blocks_against_differences_and_jax(ba, transform):
    parameters, features = ba
    blocks = ad.vmap(getattr(ad, transform)(problems.ba_observation), jit=False)(parameters, features)
    assert blocks.shape == (parameters.shape[0], 2, 15)
    for k in range(parameters.shape[0]):
        expected = fd_jacobian(problems.ba_observation, (parameters[k], features[k]), 0)
        np.testing.assert_allclose(blocks[k], expected, rtol=1e-6, atol=1e-6)
    if jax is not None:
        theirs = jax.vmap(jax.jacrev(problems.with_module(problems.ba_observation, jnp)))(parameters, features)
        np.testing.assert_allclose(blocks, theirs, rtol=1e-11, atol=1e-9)


def test_hand_jacobian_both_modes():
    rng = np.random.default_rng(5)
    theta, points, weights = rng.normal(size=26) * 0.3, rng.normal(size=(12, 3)), rng.dirichlet(np.ones(BONES), 12)
    forward = ad.jacfwd(hand, jit=False)(theta, points, weights)
    np.testing.assert_allclose(forward, ad.jacrev(hand, jit=False)(theta, points, weights), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forward, fd_jacobian(hand, (theta, points, weights), 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jit", [False, True])
def test_kmeans_newton_direction_against_hand_and_jax(jit):
    rng = np.random.default_rng(9)
    points = rng.normal(size=(60, 3))
    centroids = points[:5] + 0.01  # GradBench's start: points, so that no cluster is empty
    gradient, diagonal = ad.hvp(problems.kmeans_cost, wrt=1, jit=jit)(points, centroids, np.ones(centroids.shape))
    np.testing.assert_allclose(gradient, fd_grad(problems.kmeans_cost, (points, centroids), 1), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(gradient / diagonal, problems.kmeans_by_hand(points, centroids), rtol=1e-12)
    np.testing.assert_allclose(ad.jit(problems.kmeans_newton_direction, jit=jit)(points, centroids),
                               problems.kmeans_by_hand(points, centroids), rtol=1e-12)
    hessian = ad.hessian(problems.kmeans_cost, wrt=1, jit=jit)(points, centroids).reshape(15, 15)
    np.testing.assert_allclose(hessian, np.diag(diagonal.ravel()), atol=1e-12)  # the Hessian is diagonal


STARTS = (np.array([1.0, -0.5]), np.array([0.3, 0.8]))


def saddle_by_differences():
    """The same nested optimisation with every gradient by central differences of f."""
    def gradient(function, x):
        return np.array([(function(x + h) - function(x - h)) / 2e-5 for h in np.eye(x.size) * 1e-5])

    def inner(p1, start):
        p2 = start
        for _ in range(problems.STEPS):
            p2 = p2 + problems.RATE * gradient(lambda q: problems.saddle_f(p1, q), p2)
        return p2
    p1 = STARTS[0]
    for _ in range(problems.STEPS):
        p1 = p1 - problems.RATE * gradient(lambda q: problems.saddle_f(q, inner(q, STARTS[1])), p1)
    return np.concatenate((p1, inner(p1, STARTS[1])))


@pytest.mark.parametrize("modes", ["ff", "fr", "rf", "rr"])
def test_saddle_point_in_each_mode_combination(modes):
    result = problems.saddle(modes, jit=False)(*STARTS)
    np.testing.assert_allclose(result, saddle_by_differences(), rtol=1e-6, atol=1e-8)
    if jax is not None:
        np.testing.assert_allclose(result, problems.saddle_jax(modes)(*STARTS), rtol=1e-12, atol=1e-14)
