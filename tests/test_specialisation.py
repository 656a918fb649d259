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
