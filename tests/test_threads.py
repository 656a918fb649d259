"""Many threads making the first call of one gradient at once: it is built once, and every thread
gets the right result."""
import threading

import numpy as np

import adcompiler
from adcompiler import pipeline


def softplus_sum(x, w):
    return np.sum(np.log1p(np.exp(x * w)))


def test_concurrent_first_calls_compile_once(monkeypatch):
    builds = []
    original = pipeline.build

    def counting_build(*args, **kwargs):
        builds.append(args[0].name)
        return original(*args, **kwargs)

    monkeypatch.setattr(adcompiler.api, "build", counting_build)
    gradient = adcompiler.grad(softplus_sum, wrt=(0, 1))
    x, w = np.linspace(-1.0, 1.0, 7), np.linspace(0.5, 2.0, 7)
    s = 1.0 / (1.0 + np.exp(-x * w))
    expected = (s * w, s * x)
    results, errors = [None] * 8, []
    start = threading.Barrier(8)

    def call(k):
        try:
            start.wait()
            results[k] = gradient(x, w)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert builds == ["softplus_sum"]
    for gx, gw in results:
        np.testing.assert_allclose(gx, expected[0], rtol=1e-12)
        np.testing.assert_allclose(gw, expected[1], rtol=1e-12)
