"""adcompiler.nn: each building block against its textbook formula, its gradient against finite
differences, and the stability of the fused forms at extreme logits."""
import numpy as np
import pytest

from adcompiler import check_grad, nn

RNG = np.random.default_rng(12)
Z = RNG.normal(size=(5, 4)) * 3.0
P = 1.0 / (1.0 + np.exp(-RNG.normal(size=(5, 4))))
Y_BINARY = (RNG.random((5, 4)) > 0.5).astype(np.float64)
Y_ONE_HOT = np.eye(4)[RNG.integers(0, 4, 5)]


def test_activations_match_their_formulas():
    np.testing.assert_allclose(nn.sigmoid(Z), 1.0 / (1.0 + np.exp(-Z)), rtol=1e-14)
    np.testing.assert_allclose(nn.relu(Z), np.where(Z > 0, Z, 0.0))
    np.testing.assert_array_equal(nn.identity(Z), Z)
    np.testing.assert_allclose(nn.tanh(Z), np.tanh(Z))
    e = np.exp(Z)
    np.testing.assert_allclose(nn.softmax(Z), e / e.sum(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(nn.log_softmax(Z), np.log(e / e.sum(axis=1, keepdims=True)), rtol=1e-13)


def test_losses_match_their_formulas():
    assert nn.mse(Z, P) == pytest.approx(np.mean((Z - P) ** 2), rel=1e-14)
    assert nn.mae(Z, P) == pytest.approx(np.mean(np.abs(Z - P)), rel=1e-14)
    bce = -np.mean(Y_BINARY * np.log(P) + (1 - Y_BINARY) * np.log(1 - P))
    assert nn.binary_cross_entropy(P, Y_BINARY) == pytest.approx(bce, rel=1e-13)
    logits = np.log(P / (1 - P))
    assert nn.binary_cross_entropy_with_logits(logits, Y_BINARY) == pytest.approx(bce, rel=1e-12)
    softmax = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    cce = -np.mean(np.sum(Y_ONE_HOT * np.log(softmax), axis=1))
    assert nn.categorical_cross_entropy(softmax, Y_ONE_HOT) == pytest.approx(cce, rel=1e-13)
    assert nn.softmax_cross_entropy(Z, Y_ONE_HOT) == pytest.approx(cce, rel=1e-13)


def test_fused_losses_are_finite_at_extreme_logits():
    huge = np.array([[1000.0, -1000.0, 0.0, 500.0]])
    assert np.isfinite(nn.softmax_cross_entropy(huge, np.eye(4)[[1]]))
    assert np.isfinite(nn.binary_cross_entropy_with_logits(huge, np.array([[0.0, 1.0, 1.0, 0.0]])))
    assert np.all(np.isfinite(nn.softmax(huge)))


def sigmoid_sum(z):
    return np.sum(nn.sigmoid(z) * np.cos(z))


def softmax_weighted(z, w):
    return np.sum(nn.softmax(z) * w)


def fused_bce(z, y):
    return nn.binary_cross_entropy_with_logits(z, y)


def fused_cce(z, y):
    return nn.softmax_cross_entropy(z, y)


def clipped_bce(p, y):
    return nn.binary_cross_entropy(p, y)


def layer(x, W, b):
    return np.sum(np.sin(nn.dense(x, W, b)))


@pytest.mark.parametrize("function, args, wrt", [
    (sigmoid_sum, (Z,), 0),
    (softmax_weighted, (Z, RNG.normal(size=(5, 4))), 0),
    (fused_bce, (Z, Y_BINARY), 0),
    (fused_cce, (Z, Y_ONE_HOT), 0),
    (clipped_bce, (P, Y_BINARY), 0),
    (layer, (RNG.normal(size=(5, 3)), RNG.normal(size=(3, 2)), RNG.normal(size=2)), (0, 1, 2)),
], ids=["sigmoid", "softmax", "bce_logits", "softmax_ce", "bce", "dense"])
def test_gradients_match_finite_differences(function, args, wrt):
    assert check_grad(function, *args, wrt=wrt, mode="element", jit=False) < 1e-6


def test_fused_gradients_are_the_textbook_deltas():
    """sigmoid + BCE gives (p - y) / N; softmax + CE gives (softmax - y) / batch (the notes' 'magic')."""
    import adcompiler

    g = adcompiler.grad(fused_bce, jit=False)(Z, Y_BINARY)
    np.testing.assert_allclose(g, (nn.sigmoid(Z) - Y_BINARY) / Z.size, rtol=1e-12, atol=1e-15)
    g = adcompiler.grad(fused_cce, jit=False)(Z, Y_ONE_HOT)
    np.testing.assert_allclose(g, (nn.softmax(Z) - Y_ONE_HOT) / Z.shape[0], rtol=1e-12, atol=1e-15)


def test_optimisers_take_their_textbook_steps():
    param, grad = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    new, velocity = nn.sgd_momentum(param, grad, np.array([0.1, 0.0]), lr=0.1, momentum=0.9)
    np.testing.assert_allclose(velocity, 0.9 * np.array([0.1, 0.0]) - 0.1 * grad)
    np.testing.assert_allclose(new, param + velocity)
    new, m, v = nn.adam(param, grad, np.zeros(2), np.zeros(2), step=1, lr=0.01)
    # First Adam step: m_hat = grad, v_hat = grad**2, so each parameter moves by lr (up to eps).
    np.testing.assert_allclose(new, param - 0.01 * np.sign(grad), rtol=1e-6)
    np.testing.assert_allclose(m, 0.1 * grad)
    np.testing.assert_allclose(v, 0.001 * grad ** 2)


def test_init_dense_scales():
    W, b = nn.init_dense(np.random.default_rng(0), 400, 300, "relu")
    assert W.shape == (400, 300) and np.array_equal(b, np.zeros(300))
    assert W.std() == pytest.approx(np.sqrt(2.0 / 400), rel=0.02)
    W, _ = nn.init_dense(np.random.default_rng(0), 400, 300, "tanh")
    assert W.std() == pytest.approx(np.sqrt(2.0 / 700), rel=0.02)
