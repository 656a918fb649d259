"""ADBench's GMM and LSTM (bench/adbench.py) against ADBench's reference values (golden.json).

* The readers and the plain Python objectives give ADBench's objective values; the loop-written
  and vectorised objectives agree on larger inputs.
* adcompiler's gradients of the loop-written objectives, jit=True and jit=False, equal ADBench's
  gradients element by element: |a - b| <= 1e-8 * max(1, |a| + |b|).

The data is the vendored copy of ADBench's inputs in tests/data/adbench (MIT licence, see its
LICENSE). Transformed functions are built once per module.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository: adcompiler and bench/

import adcompiler  # noqa: E402
from bench import adbench  # noqa: E402
from fd import fd_grad  # noqa: E402

DATA = ROOT / "tests" / "data" / "adbench"

GMM_FILE = "gmm/test.txt"
LSTM_FILE = "lstm/lstm_l2_c1024.txt"
OBJECTIVE = "objective_calculation_correctness:assertFloatEqual"
GRADIENT = "jacobian_calculation_correctness:expected_gradient"


def assert_adbench_equal(actual, expected, what):
    """ADBench's check, element by element: |a - b| <= 1e-8 * max(1, |a| + |b|)."""
    actual = np.atleast_1d(np.asarray(actual, dtype=np.float64))
    expected = np.atleast_1d(np.asarray(expected, dtype=np.float64))
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, ADBench's {expected.shape}"
    error = np.abs(actual - expected)
    allowed = 1e-8 * np.maximum(1.0, np.abs(actual) + np.abs(expected))
    ok = error <= allowed
    if not ok.all():
        ratio = np.where(np.isnan(error), np.inf, error / allowed)
        i = int(np.argmax(ratio))
        raise AssertionError(f"{what}: {np.count_nonzero(~ok)} of {ok.size} elements differ; worst is "
                             f"element {i}: {float(actual[i])!r}, ADBench {float(expected[i])!r} "
                             f"(|difference| {error[i]:.3g}, allowed {allowed[i]:.3g})")


@pytest.fixture(scope="module")
def golden():
    with open(DATA / "golden.json") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def gmm_args():
    return adbench.read_gmm(DATA / GMM_FILE)


@pytest.fixture(scope="module")
def lstm_args():
    return adbench.read_lstm(DATA / LSTM_FILE)


@pytest.fixture(scope="module", params=[False, True], ids=["python", "jit"])
def gmm_grad(request):
    return adcompiler.grad(adbench.gmm_objective, wrt=(0, 1, 2), jit=request.param)


@pytest.fixture(scope="module", params=[False, True], ids=["python", "jit"])
def lstm_grad(request):
    return adcompiler.grad(adbench.lstm_objective, wrt=(0, 1), jit=request.param)


# ------------------------------------------------------------------- readers and objectives

def test_read_gmm(gmm_args):
    alphas, means, icf, x, gamma, m = gmm_args
    assert (alphas.shape, means.shape, icf.shape, x.shape) == ((3,), (3, 2), (3, 3), (1, 2))
    assert all(a.dtype == np.float64 for a in (alphas, means, icf, x))
    assert (gamma, m) == (1.0, 0)
    _, _, icf10, x10, _, _ = adbench.read_gmm(DATA / "gmm/1k/gmm_d10_K25.txt")
    assert icf10.shape == (25, 55) and x10.shape == (1000, 10)
    assert np.array_equal(adbench.read_gmm(DATA / "gmm/1k/gmm_d10_K25.txt", n=7)[3], x10[:7])


def test_read_gmm_replicates_one_point():
    x = adbench.read_gmm(DATA / "gmm/2.5M/gmm_d2_K5.txt")[3]
    assert x.shape == (2_500_000, 2) and np.all(x == x[0])
    assert adbench.read_gmm(DATA / "gmm/2.5M/gmm_d2_K5.txt", n=10)[3].shape == (10, 2)


def test_read_lstm(lstm_args):
    main, extra, state, sequence = lstm_args
    assert (main.shape, extra.shape, state.shape, sequence.shape) == ((4, 56), (3, 14), (4, 14), (1024, 14))
    assert all(a.dtype == np.float64 for a in lstm_args)


def test_gmm_objective(golden, gmm_args):
    assert_adbench_equal(adbench.gmm_objective(*gmm_args), golden["gmm"][OBJECTIVE], "GMM objective")
    assert_adbench_equal(adbench.gmm_objective_numpy(*gmm_args), golden["gmm"][OBJECTIVE], "GMM objective (NumPy)")


def test_lstm_objective(golden, lstm_args):
    expected = golden["lstm"][OBJECTIVE]  # given to 8 decimal places
    assert adbench.lstm_objective(*lstm_args) == pytest.approx(expected, abs=5e-9)
    assert adbench.lstm_objective_numpy(*lstm_args) == pytest.approx(expected, abs=5e-9)


@pytest.mark.parametrize("name, n", [("gmm/1k/gmm_d2_K10.txt", None), ("gmm/1k/gmm_d10_K5.txt", 100),
                                     ("gmm/2.5M/gmm_d2_K5.txt", 100)])
def test_gmm_loops_equal_numpy(name, n):
    args = adbench.read_gmm(DATA / name, n=n)
    assert adbench.gmm_objective(*args) == pytest.approx(adbench.gmm_objective_numpy(*args), rel=1e-12)


def test_lstm_loops_equal_numpy():
    args = adbench.read_lstm(DATA / "lstm/lstm_l4_c1024.txt")
    assert adbench.lstm_objective(*args) == pytest.approx(adbench.lstm_objective_numpy(*args), rel=1e-12)


# ---------------------------------------------------------------- adcompiler's gradients

def test_gmm_gradient(golden, gmm_args, gmm_grad):
    grads = gmm_grad(*gmm_args)
    assert [g.shape for g in grads] == [a.shape for a in gmm_args[:3]]
    assert_adbench_equal(adbench.gmm_gradient_order(*grads), golden["gmm"][GRADIENT], "GMM gradient")


def test_lstm_gradient(golden, lstm_args, lstm_grad):
    grads = lstm_grad(*lstm_args)
    assert [g.shape for g in grads] == [a.shape for a in lstm_args[:2]]
    assert_adbench_equal(adbench.lstm_gradient_order(*grads), golden["lstm"][GRADIENT], "LSTM gradient")


def gmm_objective_empty(alphas, means, icf, x, wishart_gamma, wishart_m):
    """ADBench's GMM objective as its Python reference writes it: arrays made with np.empty and
    filled element by element (every element written before it is read)."""
    n, d = x.shape
    k_count = alphas.shape[0]
    main_terms = np.empty((n, k_count))
    xc = np.empty(d)
    for k in range(k_count):
        q = np.empty((d, d))
        at = d
        for j in range(d):
            q[j, j] = np.exp(icf[k, j])
            for i in range(j):
                q[i, j] = 0.0
            for i in range(j + 1, d):
                q[i, j] = icf[k, at]
                at = at + 1
        for i in range(n):
            for j in range(d):
                xc[j] = x[i, j] - means[k, j]
            qxc = q @ xc
            main_terms[i, k] = alphas[k] + np.sum(icf[k, :d]) - 0.5 * np.sum(qxc * qxc)
    slse = 0.0
    for i in range(n):
        slse = slse + adbench.logsumexp(main_terms[i])
    constant = -n * d * 0.5 * adbench.LOG_2PI
    return constant + slse - n * adbench.logsumexp(alphas) + adbench.log_wishart_prior(icf, d, wishart_gamma,
                                                                                       wishart_m)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])
def test_gmm_written_with_empty(golden, gmm_args, jit):
    assert_adbench_equal(gmm_objective_empty(*gmm_args), golden["gmm"][OBJECTIVE], "GMM objective (np.empty)")
    grads = adcompiler.grad(gmm_objective_empty, wrt=(0, 1, 2), jit=jit)(*gmm_args)
    assert_adbench_equal(adbench.gmm_gradient_order(*grads), golden["gmm"][GRADIENT], "GMM gradient (np.empty)")
    args = adbench.read_gmm(DATA / "gmm/1k/gmm_d10_K5.txt", n=6)
    for k, g in enumerate(adcompiler.grad(gmm_objective_empty, wrt=(0, 1, 2), jit=jit)(*args)):
        np.testing.assert_allclose(g, fd_grad(adbench.gmm_objective_numpy, args, k), rtol=1e-6, atol=1e-9,
                                   err_msg=f"gradient w.r.t. argument {k}")


def test_gmm_gradient_d10_matches_finite_differences():
    """d = 10 packs many off-diagonal entries per component (the golden case has d = 2)."""
    args = adbench.read_gmm(DATA / "gmm/1k/gmm_d10_K5.txt", n=20)
    grads = adcompiler.grad(adbench.gmm_objective, wrt=(0, 1, 2), jit=False)(*args)
    for k, g in enumerate(grads):
        expected = fd_grad(adbench.gmm_objective_numpy, args, k)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-8 * np.max(np.abs(expected)),
                                   err_msg=f"gradient w.r.t. argument {k}")


# ------------------------------------------- the element-by-element formulations (bench/adbench.py)

def test_element_objectives_equal_the_row_wise_ones(golden, gmm_args, lstm_args):
    assert_adbench_equal(adbench.gmm_objective_elements(*gmm_args), golden["gmm"][OBJECTIVE], "GMM objective (elements)")
    assert adbench.lstm_objective_elements(*lstm_args) == pytest.approx(golden["lstm"][OBJECTIVE], abs=5e-9)
    args = adbench.read_gmm(DATA / "gmm/1k/gmm_d10_K5.txt", n=30)
    assert adbench.gmm_objective_elements(*args) == pytest.approx(adbench.gmm_objective_numpy(*args), rel=1e-12)


@pytest.mark.parametrize("jit", [pytest.param(False, marks=pytest.mark.slow), True], ids=["python", "jit"])
def test_element_gradients(golden, gmm_args, lstm_args, jit):
    grads = adcompiler.grad(adbench.gmm_objective_elements, wrt=(0, 1, 2), jit=jit)(*gmm_args)
    assert_adbench_equal(adbench.gmm_gradient_order(*grads), golden["gmm"][GRADIENT], "GMM gradient (elements)")
    grads = adcompiler.grad(adbench.lstm_objective_elements, wrt=(0, 1), jit=jit)(*lstm_args)
    assert_adbench_equal(adbench.lstm_gradient_order(*grads), golden["lstm"][GRADIENT], "LSTM gradient (elements)")
    args = adbench.read_gmm(DATA / "gmm/1k/gmm_d10_K5.txt", n=6)
    for k, g in enumerate(adcompiler.grad(adbench.gmm_objective_elements, wrt=(0, 1, 2), jit=jit)(*args)):
        np.testing.assert_allclose(g, fd_grad(adbench.gmm_objective_numpy, args, k), rtol=1e-6, atol=1e-9,
                                   err_msg=f"gradient w.r.t. argument {k}")
