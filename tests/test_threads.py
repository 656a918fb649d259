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

    monkeypatch.setattr(pipeline, "build", counting_build)
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


# ---------------------------------------------------------------- element loops on threads (backend/fuse.py)
# An elementwise chain with vector math outside loops is a kernel of its own whose loop is prange'd
# over fuse.threads() threads: each element is computed alone, so the results do not depend on them.

import os  # noqa: E402

import pytest  # noqa: E402

from adcompiler.backend import fuse  # noqa: E402
from fd import fd_grad  # noqa: E402


def toy_loss(x):
    """W4 (bench/run.py): forward and backward chains, one loop in value_and_grad."""
    return np.sum(2.0 / np.sin(np.exp(-x)))


def toy_gradient(x):
    e = np.exp(-x)
    s = np.sin(e)
    return 2.0 * np.cos(e) * e / (s * s)


@pytest.fixture(scope="module")
def toy():
    """W4's value_and_grad with its kernels compiled (one compilation for the tests below)."""
    previous = os.environ.get("ADCOMPILER_COMPILE")
    os.environ["ADCOMPILER_COMPILE"] = "sync"
    try:
        function = adcompiler.value_and_grad(toy_loss)
        x = np.random.default_rng(3).uniform(-1.0, 3.0, 100_003)  # odd: the threads' chunks differ
        function(x)
    finally:
        os.environ.pop("ADCOMPILER_COMPILE") if previous is None else os.environ.update(ADCOMPILER_COMPILE=previous)
    return function, x


def test_the_chains_run_as_one_threaded_loop(toy):
    function, x = toy
    text = adcompiler.show(function, print_it=False)
    assert "toy_loss_value_and_grad_loop_" in text and "krt.prange(" in text
    value, gradient = function(x)
    assert value == pytest.approx(np.sum(2.0 / np.sin(np.exp(-x))), rel=1e-13)
    # cos(e) near its zero at e = pi/2: an ulp of cos there is 1e-16 absolute, far more relative
    np.testing.assert_allclose(gradient, toy_gradient(x), rtol=1e-12, atol=1e-14)
    small = x[:7]
    np.testing.assert_allclose(adcompiler.grad(toy_loss)(small), fd_grad(toy_loss, (small,), 0), rtol=1e-6)


def test_results_are_bit_identical_on_one_and_two_threads(toy):
    function, x = toy
    try:
        results = []
        for count in (1, 2, 1):
            fuse.set_threads(count)
            results.append(function(x))
    finally:
        fuse.set_threads(None)
    for value, gradient in results[1:]:
        assert value == results[0][0] and np.array_equal(gradient, results[0][1])


def test_the_thread_count_setting(monkeypatch):
    monkeypatch.setenv(fuse.THREADS_ENVIRONMENT_VARIABLE, "3")
    assert fuse.threads() == 3
    assert adcompiler.set_threads is fuse.set_threads
    adcompiler.set_threads(1)
    try:
        assert fuse.threads() == 1
    finally:
        fuse.set_threads(None)
    assert fuse.threads() == 3
    monkeypatch.delenv(fuse.THREADS_ENVIRONMENT_VARIABLE)
    assert fuse.threads() == (os.cpu_count() or 1)
    for wrong in (0, -1, 1.5):
        with pytest.raises(ValueError, match="set_threads"):
            fuse.set_threads(wrong)


def sines(x):
    return np.sum(np.sin(x * 3.0) * np.cos(x + 1.0))


@pytest.mark.parametrize("far", [2.0e6, 1.0e300, np.inf, np.nan])
def test_sin_and_cos_beyond_the_branch_free_range_take_libm(monkeypatch, far):
    """vmath's branch-free sin and cos are right for |x| < vmath.REDUCED only: an element loop
    that meets an argument beyond it (or NaN) runs the array statements, libm's Payne-Hanek."""
    monkeypatch.setenv("ADCOMPILER_COMPILE", "sync")
    x = np.linspace(-4.0, 4.0, 1001)
    x[500] = far
    value, gradient = adcompiler.value_and_grad(sines)(x)
    with np.errstate(invalid="ignore"):  # sin(inf)
        expected = 3.0 * np.cos(x * 3.0) * np.cos(x + 1.0) - np.sin(x * 3.0) * np.sin(x + 1.0)
    if np.isfinite(far):
        assert value == pytest.approx(sines(x), rel=1e-12)
        np.testing.assert_allclose(gradient, expected, rtol=1e-9, atol=1e-12)
    else:
        assert np.isnan(value) and np.isnan(gradient[500])
        np.testing.assert_allclose(np.delete(gradient, 500), np.delete(expected, 500), rtol=1e-9, atol=1e-12)


def test_the_threaded_element_loop_is_vectorised(toy):
    """The kernel's loop, compiled as the kernel is (parallel=True), holds packed-double AVX arithmetic."""
    import re

    import numba
    function, x = toy
    kernels = _kernels(function)
    assert all(hasattr(kernel, "kernel") for kernel in kernels.values())  # all three chains' are threaded
    (kernel,) = [k for name, k in kernels.items() if "value_and_grad_loop_" in name]
    assert kernel.kernel.targetoptions.get("parallel")
    fresh = numba.njit(parallel=True, nogil=True)(kernel.py_func)
    fresh(x, 1.0)
    assembly = "\n".join(fresh.inspect_asm().values())
    assert re.search(r"\bv(mul|fmadd\w*|add|div)pd\s+%[yz]mm", assembly)


def _kernels(function):
    """The kernels of `function`'s one specialisation, as its module binds them."""
    ((_, executable),) = function._specialisations.values()
    return {key: value for key, value in vars(executable.module).items() if "_loop_" in key}
