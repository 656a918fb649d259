"""Specialisation on argument types: the first pattern of length-1 axes compiles static broadcasting;
other patterns (a last batch of one) share one version that checks broadcasting at run time."""
import numpy as np
import pytest

import adcompiler
from adcompiler import check_grad


def layer_sum(W, b, X):
    return np.sum(np.tanh(X @ W + b))


@pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])
def test_batches_of_one_share_one_runtime_broadcasting_version(jit):
    gradient = adcompiler.grad(layer_sum, wrt=(0, 1), jit=jit)
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    for n in (5, 1, 7, 1, 4):
        X = rng.normal(size=(n, 3))
        gW, gb = gradient(W, b, X)
        assert check_grad(layer_sum, W, b, X, wrt=(0, 1), mode="element", jit=False) < 1e-7
        s = 1.0 - np.tanh(X @ W + b) ** 2
        np.testing.assert_allclose(gW, X.T @ s, rtol=1e-12)
        np.testing.assert_allclose(gb, s.sum(axis=0), rtol=1e-12)
    builds = [built for built, _ in gradient.specialisations.values()]
    assert len(builds) == 2
    exact, general = builds
    assert "rt.unbroadcast" not in exact.source and "rt.sum_axis(" in exact.source
    assert "rt.unbroadcast" in general.source


SCALE = 2.0


def scaled_square(x):
    return np.sum(SCALE * x * x)


def test_a_call_like_one_before_keeps_every_check():
    """A call whose arguments have the classes, dtypes and shapes of one before goes straight to
    its specialisation (api `_fingerprint`); bad arguments still get their errors, 0-d arrays and
    numbers their kinds of gradient, and a rebound global a new build."""
    global SCALE
    gradient = adcompiler.grad(scaled_square, jit=False)
    x = np.array([1.0, -2.0, 0.5])
    for _ in range(2):
        np.testing.assert_array_equal(gradient(x), 4.0 * x)
        with pytest.raises(TypeError, match="cannot differentiate"):
            gradient(np.array([1, 2, 3]))
        with pytest.raises(TypeError, match="dtype"):
            gradient(x.astype(np.int32))
        zero_d = gradient(np.array(1.5))
        assert isinstance(zero_d, np.ndarray) and zero_d.shape == () and zero_d == 6.0
        assert type(gradient(1.5)) is float and gradient(1.5) == 6.0
    assert x.tolist() == [1.0, -2.0, 0.5]
    try:
        SCALE = 3.0
        np.testing.assert_array_equal(gradient(x), 6.0 * x)
    finally:
        SCALE = 2.0
    np.testing.assert_array_equal(gradient(x), 4.0 * x)
