"""Special functions and the elementwise ufuncs of rules/special.py and frontend/calls/special.py.

- The rule table: the dot-product test against float64 central finite differences (tests/fd.py,
  `check_vjp`, which also asserts the forward value equals the plain function's, SciPy's or
  NumPy's, with its dtype and shape) for every function over numbers, vectors and matrices, the
  binary ones over broadcasting pairs; all rows with jit=False, the rows marked `jit` (at least one
  per function) compiled by Numba too.
- float32 rows: float32 values and gradients, close to the float64 ones.
- The Numba twins of the runtime helpers against SciPy: many points, float64 and float32, the poles.
- Stability at large |x| and exact values where finite differences say nothing (0 of sinc, the
  origin of hypot, x == 0 of xlogy, rounding).
- Second derivatives against finite differences of the gradient, and the refusal of a third
  derivative of log gamma.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sc

import test_array_rules as array_rules
from adcompiler import CompileError, grad, vjp
from adcompiler.backend import compile as compilation
from adcompiler.backend import runtime
from fd import compiled, assert_forward, away_from_zero, fd_grad, uniform
from test_array_rules import Row, arg, avoiding, cases, lattice, pull, run_row

SEED = 20261202

# ---------------------------------------------------------------- domains

BELOW_ZERO = avoiding(-3.8, -0.2, [-3.0, -2.0, -1.0], gap=0.1)  # negative, away from the poles
NOT_ROUND = avoiding(-2.0, 2.0, [k / 2 for k in range(-4, 5)], gap=0.02)  # away from integers and halves
NOT_ROUND_2 = avoiding(-2.0, 2.0, [k / 10 + 0.05 for k in range(-21, 21)], gap=0.01)


# ---------------------------------------------------------------- functions of one operand
# Each is summed with a non-uniform cotangent by check_vjp; arrays and numbers alike.

def s_erf(x): return sc.erf(x)
def s_erfc(x): return sc.erfc(x)
def m_erf(x): return math.erf(x) * math.erfc(x)
def s_gammaln(x): return sc.gammaln(x)
def m_lgamma(x): return math.lgamma(x)
def s_gamma(x): return sc.gamma(x)
def m_gamma(x): return math.gamma(x)
def s_digamma(x): return sc.digamma(x)
def s_psi(x): return sc.psi(x)
def s_expit(x): return sc.expit(x)
def s_logit(x): return sc.logit(x)
def s_ndtr(x): return sc.ndtr(x)
def s_log_ndtr(x): return sc.log_ndtr(x)
def u_sinc(x): return np.sinc(x)
def u_arcsinh(x): return np.arcsinh(x)
def u_arccosh(x): return np.arccosh(x)
def u_arctanh(x): return np.arctanh(x)
def m_inverse_hyperbolic(x): return math.asinh(x) + math.acosh(x + 2.0) + math.atanh(x / 3.0)
def u_cbrt(x): return np.cbrt(x)
def m_cbrt(x): return math.cbrt(x)
def u_angles(x): return np.deg2rad(x) * np.rad2deg(x) + np.radians(x) - np.degrees(x)
def m_angles(x): return math.radians(x) * math.degrees(x)
def u_floors(x): return x * np.floor(x) + x * np.ceil(x) + np.trunc(x) * x + np.fix(x) + np.rint(x) * x
def u_round(x): return x * np.round(x) + np.around(x)
def u_round_2(x): return x * np.round(x, 1) + np.round(x, 2)
def u_round_method(x): return x * x.round(1) + x.round()
def u_tests(x): return x * x * np.isfinite(x) + x * np.isinf(x) + np.isnan(x) * x


UNARY = [
    Row("erf-v", s_erf, (arg(uniform(-2, 2), (6,)),), jit=True),
    Row("erf-m", s_erf, (arg(uniform(-2, 2), (3, 4)),)),
    Row("erf-s", s_erf, (arg(uniform(-2, 2), ()),)),
    Row("erfc-v", s_erfc, (arg(uniform(-2, 2), (6,)),), jit=True),
    Row("erfc-m", s_erfc, (arg(uniform(-2, 2), (3, 4)),)),
    Row("math_erf_erfc", m_erf, (arg(uniform(-2, 2), ()),), jit=True),
    Row("gammaln-v", s_gammaln, (arg(uniform(0.2, 6), (6,)),), jit=True),
    Row("gammaln-negative", s_gammaln, (arg(BELOW_ZERO, (3, 4)),)),
    Row("math_lgamma", m_lgamma, (arg(uniform(0.2, 6), ()),), jit=True),
    Row("math_lgamma-negative", m_lgamma, (arg(BELOW_ZERO, ()),)),
    Row("gamma-v", s_gamma, (arg(uniform(0.3, 5), (6,)),), jit=True),
    Row("gamma-negative", s_gamma, (arg(BELOW_ZERO, (3, 4)),)),
    Row("math_gamma", m_gamma, (arg(uniform(0.3, 5), ()),), jit=True),
    Row("digamma-v", s_digamma, (arg(uniform(0.2, 12), (6,)),), jit=True),
    Row("digamma-negative", s_digamma, (arg(BELOW_ZERO, (3, 4)),), jit=True),
    Row("psi-s", s_psi, (arg(uniform(0.2, 12), ()),)),
    Row("expit-v", s_expit, (arg(uniform(-6, 6), (6,)),), jit=True),
    Row("expit-m", s_expit, (arg(uniform(-6, 6), (3, 4)),)),
    Row("expit-s", s_expit, (arg(uniform(-6, 6), ()),)),
    Row("logit-v", s_logit, (arg(uniform(0.05, 0.95), (6,)),), jit=True),
    Row("logit-s", s_logit, (arg(uniform(0.05, 0.95), ()),)),
    Row("ndtr-v", s_ndtr, (arg(uniform(-4, 4), (6,)),), jit=True),
    Row("ndtr-s", s_ndtr, (arg(uniform(-4, 4), ()),)),
    Row("log_ndtr-v", s_log_ndtr, (arg(uniform(-10, 5), (6,)),), jit=True),
    Row("log_ndtr-m", s_log_ndtr, (arg(uniform(-30, -15), (3, 4)),)),
    Row("log_ndtr-s", s_log_ndtr, (arg(uniform(-10, 5), ()),)),
    Row("sinc-v", u_sinc, (arg(uniform(-2, 2), (6,)),), jit=True),
    Row("sinc-s", u_sinc, (arg(uniform(-2, 2), ()),)),
    Row("arcsinh-m", u_arcsinh, (arg(uniform(-3, 3), (3, 4)),), jit=True),
    Row("arccosh-v", u_arccosh, (arg(uniform(1.2, 4), (6,)),)),
    Row("arctanh-v", u_arctanh, (arg(uniform(-0.8, 0.8), (6,)),)),
    Row("math_inverse_hyperbolic", m_inverse_hyperbolic, (arg(uniform(-0.8, 0.8), ()),), jit=True),
    Row("cbrt-v", u_cbrt, (arg(away_from_zero(0.3, 3), (6,)),), jit=True),
    *([Row("math_cbrt", m_cbrt, (arg(away_from_zero(0.3, 3), ()),))] if hasattr(math, "cbrt") else []),
    Row("angles-m", u_angles, (arg(uniform(-3, 3), (3, 4)),), jit=True),
    Row("math_angles", m_angles, (arg(uniform(-3, 3), ()),)),
    Row("floors-m", u_floors, (arg(NOT_ROUND, (3, 4)),), jit=True),
    Row("floors-s", u_floors, (arg(NOT_ROUND, ()),)),
    Row("round-v", u_round, (arg(NOT_ROUND, (6,)),), jit=True),
    Row("round_decimals-v", u_round_2, (arg(NOT_ROUND_2, (6,)),), jit=True),
    Row("round_decimals-s", u_round_2, (arg(NOT_ROUND_2, ()),)),
    Row("round_method-m", u_round_method, (arg(NOT_ROUND_2, (3, 4)),)),
    Row("tests-v", u_tests, (arg(uniform(-2, 2), (6,)),), jit=True),
    Row("tests-s", u_tests, (arg(uniform(-2, 2), ()),)),
]


@pytest.mark.parametrize("row, jit", cases(UNARY))
def test_unary(row, jit, rng):
    run_row(row, jit, rng)


# ---------------------------------------------------------------- functions of two operands
# Same shapes, a number with an array, and broadcasting of (3, 1) with (4,).

def b_logaddexp(x, y): return np.logaddexp(x, y)
def b_logaddexp2(x, y): return np.logaddexp2(x, y)
def b_hypot(x, y): return np.hypot(x, y)
def m_hypot(x, y): return math.hypot(x, y)
def b_arctan2(y, x): return np.arctan2(y, x)
def m_atan2(y, x): return math.atan2(y, x)
def b_copysign(x, y): return np.copysign(x, y)
def m_copysign(x, y): return math.copysign(x, y)
def b_fmax(x, y): return np.fmax(x, y)
def b_fmin(x, y): return np.fmin(x, y)
def b_xlogy(x, y): return sc.xlogy(x, y)
def b_xlog1py(x, y): return sc.xlog1py(x, y)


def pairs(name, fn, x, y, jit=True, scalars=True):
    """Rows of `fn(x, y)` (domains x and y) w.r.t. both operands: vectors, a column with a row, a
    number with a vector, two numbers (compiled: the vectors)."""
    rows = [Row(f"{name}-vv", fn, (arg(x, (6,)), arg(y, (6,))), (0, 1), jit=jit),
            Row(f"{name}-broadcast", fn, (arg(x, (3, 1)), arg(y, (4,))), (0, 1)),
            Row(f"{name}-sv", fn, (arg(x, ()), arg(y, (5,))), (0, 1))]
    return rows + ([Row(f"{name}-ss", fn, (arg(x, ()), arg(y, ())), (0, 1))] if scalars else [])


BINARY = [
    *pairs("logaddexp", b_logaddexp, uniform(-3, 3), uniform(-3, 3)),
    *pairs("logaddexp2", b_logaddexp2, uniform(-3, 3), uniform(-3, 3)),
    *pairs("hypot", b_hypot, away_from_zero(0.2, 2), uniform(-2, 2)),
    Row("math_hypot", m_hypot, (arg(away_from_zero(0.2, 2), ()), arg(uniform(-2, 2), ())), (0, 1), jit=True),
    *pairs("arctan2", b_arctan2, uniform(-2, 2), away_from_zero(0.2, 2)),
    Row("math_atan2", m_atan2, (arg(uniform(-2, 2), ()), arg(away_from_zero(0.2, 2), ())), (0, 1), jit=True),
    *pairs("copysign", b_copysign, away_from_zero(0.2, 2), away_from_zero(0.2, 2)),
    Row("math_copysign", m_copysign, (arg(away_from_zero(0.2, 2), ()), arg(away_from_zero(0.2, 2), ())), (0, 1)),
    *pairs("fmax", b_fmax, lattice(0.0), lattice(0.5)),
    *pairs("fmin", b_fmin, lattice(0.0), lattice(0.5)),
    *pairs("xlogy", b_xlogy, uniform(-2, 2), uniform(0.2, 3)),
    *pairs("xlog1py", b_xlog1py, uniform(-2, 2), uniform(-0.8, 2)),
]


@pytest.mark.parametrize("row, jit", cases(BINARY))
def test_binary(row, jit, rng):
    run_row(row, jit, rng)


# ---------------------------------------------------------------- log-sum-exp, softmax, log_softmax

def lse_all(x): return sc.logsumexp(x)
def lse_axis0(x): return sc.logsumexp(x, axis=0)
def lse_axis1_kd(x): return sc.logsumexp(x, axis=1, keepdims=True)
def lse_axes_kd(x): return sc.logsumexp(x, axis=(0, 2), keepdims=True)
def lse_last(x): return sc.logsumexp(x, axis=-1)
def lse_b(x, b): return sc.logsumexp(x, axis=1, b=b)
def lse_b_all(x, b): return sc.logsumexp(x, b=b)
def lse_number(x): return sc.logsumexp(x)
def softmax_all(x): return sc.softmax(x)
def softmax_axis1(x): return sc.softmax(x, axis=1)
def softmax_axis0(x): return sc.softmax(x, axis=0)
def log_softmax_all(x): return sc.log_softmax(x)
def log_softmax_axis1(x): return sc.log_softmax(x, axis=1)
def log_softmax_last(x): return sc.log_softmax(x, axis=-1)


LSE = [
    Row("lse-v", lse_all, (arg(uniform(-3, 3), (6,)),), jit=True),
    Row("lse-m", lse_all, (arg(uniform(-3, 3), (3, 4)),)),
    Row("lse-axis0", lse_axis0, (arg(uniform(-3, 3), (3, 4)),)),
    Row("lse-axis1-keepdims", lse_axis1_kd, (arg(uniform(-3, 3), (3, 4)),), jit=True),
    Row("lse-axes-keepdims", lse_axes_kd, (arg(uniform(-3, 3), (2, 3, 4)),)),
    Row("lse-last-3d", lse_last, (arg(uniform(-3, 3), (2, 3, 4)),)),
    Row("lse-large", lse_axis0, (arg(lambda rng, s: 1000 + rng.uniform(-3, 3, s), (3, 4)),)),
    Row("lse-b", lse_b, (arg(uniform(-3, 3), (3, 4)), arg(uniform(0.2, 2), (3, 4))), (0, 1), jit=True),
    Row("lse-b-broadcast", lse_b, (arg(uniform(-3, 3), (3, 4)), arg(uniform(0.2, 2), (4,))), (0, 1)),
    Row("lse-b-all", lse_b_all, (arg(uniform(-3, 3), (5,)), arg(uniform(0.2, 2), (5,))), (0, 1)),
    Row("lse-number", lse_number, (arg(uniform(-3, 3), ()),)),
    Row("softmax-v", softmax_all, (arg(uniform(-3, 3), (6,)),), jit=True),
    Row("softmax-m-all", softmax_all, (arg(uniform(-3, 3), (3, 4)),)),
    Row("softmax-axis1", softmax_axis1, (arg(uniform(-3, 3), (3, 4)),), jit=True),
    Row("softmax-axis0", softmax_axis0, (arg(uniform(-3, 3), (3, 4)),)),
    Row("softmax-large", softmax_axis1, (arg(lambda rng, s: -1000 + rng.uniform(-3, 3, s), (3, 4)),)),
    Row("log_softmax-v", log_softmax_all, (arg(uniform(-3, 3), (6,)),)),
    Row("log_softmax-axis1", log_softmax_axis1, (arg(uniform(-3, 3), (3, 4)),), jit=True),
    Row("log_softmax-last-3d", log_softmax_last, (arg(uniform(-3, 3), (2, 3, 4)),)),
    Row("log_softmax-large", log_softmax_axis1, (arg(lambda rng, s: 1000 + rng.uniform(-3, 3, s), (3, 4)),)),
]


@pytest.mark.parametrize("row, jit", cases(LSE))
def test_log_sum_exp_family(row, jit, rng):
    run_row(row, jit, rng)


# ---------------------------------------------------------------- float32

FLOAT32 = [
    (Row("erf", s_erf, (arg(uniform(-2, 2), (3, 4)),)), True),
    (Row("gammaln", s_gammaln, (arg(uniform(0.3, 5), (6,)),)), True),
    (Row("gamma", s_gamma, (arg(uniform(0.3, 4), (6,)),)), False),
    (Row("digamma", s_digamma, (arg(uniform(0.5, 8), (6,)),)), True),
    (Row("expit", s_expit, (arg(uniform(-5, 5), (6,)),)), False),
    (Row("logit", s_logit, (arg(uniform(0.1, 0.9), (6,)),)), False),
    (Row("ndtr", s_ndtr, (arg(uniform(-3, 3), (6,)),)), False),
    (Row("log_ndtr", s_log_ndtr, (arg(uniform(-5, 3), (6,)),)), True),
    (Row("sinc", u_sinc, (arg(uniform(-2, 2), (6,)),)), False),
    (Row("floors", u_floors, (arg(NOT_ROUND, (6,)),)), False),
    (Row("logaddexp", b_logaddexp, (arg(uniform(-3, 3), (3, 1)), arg(uniform(-3, 3), (4,))), (0, 1)), True),
    (Row("hypot", b_hypot, (arg(away_from_zero(0.2, 2), (6,)), arg(uniform(-2, 2), (6,))), (0, 1)), False),
    (Row("arctan2", b_arctan2, (arg(uniform(-2, 2), (6,)), arg(away_from_zero(0.2, 2), (6,))), (0, 1)), False),
    (Row("xlogy", b_xlogy, (arg(uniform(-2, 2), (6,)), arg(uniform(0.2, 3), (6,))), (0, 1)), True),
    (Row("lse", lse_axis1_kd, (arg(uniform(-3, 3), (3, 4)),)), True),
    (Row("softmax", softmax_axis1, (arg(uniform(-3, 3), (3, 4)),)), False),
    (Row("log_softmax", log_softmax_axis1, (arg(uniform(-3, 3), (3, 4)),)), False),
]


@pytest.mark.parametrize("row, jit", [
    pytest.param(row, jit, id=f"{row.name}-{array_rules.jit_id(jit)}")
    for row, compiled in FLOAT32 for jit in ([False, True] if compiled else [False])])
def test_float32(row, jit, rng):
    array_rules.test_float32(row, jit, rng)


# ---------------------------------------------------------------- the Numba twins against SciPy

WIDE = np.concatenate([np.linspace(-30, 30, 1201), np.geomspace(1e-12, 1e8, 400), -np.geomspace(1e-12, 1e3, 400),
                       [1.4616321449683622, 0.5, 1.0, 2.0, -0.5, -1.5, -2.5]])  # digamma's root, half integers
POLES = np.array([0.0, -1.0, -2.0, -7.0, np.inf, -np.inf, np.nan])
UNIT = np.concatenate([np.linspace(0, 1, 1001), np.geomspace(1e-300, 0.5, 300), 1 - np.geomspace(1e-16, 0.5, 300)])
TWINS = {"erf": WIDE, "erfc": WIDE, "gammaln": WIDE, "gamma": WIDE, "digamma": WIDE, "trigamma": WIDE,
         "expit": np.concatenate([WIDE * 30, [-1000.0, 1000.0, -745.0, 710.0]]), "logit": UNIT,
         "log_ndtr": np.concatenate([WIDE, -np.geomspace(1, 1e150, 300), [-19.99, -20.0, -20.01, 6.0, 40.0]])}


def compiled_helper(name):
    compilation._numba_jit()  # registers the twins
    return getattr(compilation.compiled_runtime(), name)


def assert_agree(ours, scipys, rtol):
    """Equal to `rtol` relative (or 1e-15 absolute, near a root), the same infinities and nans."""
    ours, scipys = np.asarray(ours), np.asarray(scipys)
    assert ours.dtype == scipys.dtype and ours.shape == scipys.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(scipys))
    np.testing.assert_array_equal(ours[np.isinf(scipys)], scipys[np.isinf(scipys)])
    finite = np.isfinite(scipys)
    np.testing.assert_allclose(ours[finite], scipys[finite], rtol=rtol, atol=1e-15 if rtol < 1e-7 else 1e-6)


@pytest.mark.parametrize("name", sorted(TWINS))
def test_numba_twin_agrees_with_scipy(name):
    """Float64 to 1e-13 relative over a wide range (digamma and trigamma by recurrence, series and
    reflection), float32 to float32 rounding, numbers as arrays, the poles as SciPy gives them."""
    twin, reference = compiled_helper(name), getattr(runtime, name)
    points = np.concatenate([TWINS[name], POLES if name not in ("logit", "expit") else [np.nan]])
    with np.errstate(all="ignore"):
        assert_agree(twin(points), reference(points), 1e-13)
        assert_agree(twin(points.reshape(-1, 1)[::2]), reference(points.reshape(-1, 1)[::2]), 1e-13)  # strided
        single = points.astype(np.float32)
        assert_agree(twin(single), reference(single), 2e-6)
        for x in points[::97]:
            assert_agree(twin(float(x)), reference(float(x)), 1e-13)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_numba_binary_twin_agrees_with_scipy(name):
    twin, reference = compiled_helper(name), getattr(runtime, name)
    x = np.array([[0.0], [1.5], [-2.0], [np.nan]])
    y = np.array([0.0, 0.5, 3.0, -0.5, np.inf, np.nan])
    with np.errstate(all="ignore"):
        assert_agree(twin(x, y), reference(x, y), 1e-15)
        assert_agree(twin(x[:, 0], 2.5), reference(x[:, 0], 2.5), 1e-15)
        assert_agree(twin(0.0, 0.0), reference(0.0, 0.0), 0.0)
        assert_agree(twin(x.astype(np.float32), y.astype(np.float32)), reference(x.astype(np.float32), y.astype(np.float32)), 1e-6)


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
def test_poles_give_scipys_values(jit):
    x = np.array([0.0, -1.0, 1.0, -np.inf])
    for fn in (s_digamma, s_gamma, s_gammaln):
        out, _ = vjp(fn, jit=compiled(jit))(x)
        with np.errstate(all="ignore"):
            assert_agree(out, fn(x), 1e-13)


# ---------------------------------------------------------------- stability and exact values

def lse_pair(x): return sc.logsumexp(x)


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
def test_logaddexp_is_exact_at_large_inputs(jit):
    for x, y, grads in [(1000.0, 1000.0, (0.5, 0.5)), (-1000.0, -1000.0, (0.5, 0.5)), (1000.0, -1000.0, (1.0, 0.0))]:
        out, g = pull(b_logaddexp, (x, y), (0, 1), jit, 1.0)
        assert out == np.logaddexp(x, y) and g == grads
    out, g = pull(b_logaddexp2, (1000.0, 1000.0), (0, 1), jit, 1.0)
    assert out == 1001.0 and g == (0.5, 0.5)


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
def test_log_sum_exp_softmax_are_exact_at_large_inputs(jit, rng):
    """Rows of ±1000 with ties and exponentials that underflow: log-sum-exp's value is SciPy's and
    its gradient u * softmax; softmax's vjp is s * (u - <u, s>), log_softmax's u - s * sum(u)."""
    x = array_rules.LARGE_ROWS
    s = sc.softmax(x, axis=1)
    u = rng.standard_normal(3)
    out, g = pull(lse_axis0, (x.T,), 0, jit, u)
    assert_forward(out, sc.logsumexp(x, axis=1), rtol=1e-15)
    np.testing.assert_allclose(g, (u[:, None] * s).T, rtol=1e-14, atol=1e-300)
    out, g = pull(lse_pair, (np.array([1000.0, 1000.0, -1000.0]),), 0, jit, 1.0)
    assert out == 1000.0 + math.log(2.0) and list(g) == [0.5, 0.5, 0.0]
    U = rng.standard_normal(x.shape)
    out, g = pull(softmax_axis1, (x,), 0, jit, U)
    assert_forward(out, s, rtol=1e-15)
    np.testing.assert_allclose(g, s * (U - np.sum(U * s, axis=1, keepdims=True)), rtol=1e-13, atol=1e-300)
    out, g = pull(log_softmax_axis1, (x,), 0, jit, U)
    assert_forward(out, sc.log_softmax(x, axis=1), rtol=1e-15)
    np.testing.assert_allclose(g, U - s * np.sum(U, axis=1, keepdims=True), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
def test_expit_and_log_ndtr_are_stable(jit):
    """expit(±1000) is 1 and 0 with gradient 0 (e**-1000 underflows); at -30 the gradient is
    expit(-30) * expit(30). log_ndtr's gradient pdf/cdf at -1000 is -x / (1 - 1/x**2 + 3/x**4 - ...)
    (Mills' ratio), to the 1e-10 that exp(-x**2/2 - log_ndtr(x)) keeps of a difference of two
    numbers near 5e5; it vanishes at +40."""
    out, g = pull(s_expit, (np.array([1000.0, -1000.0, -30.0]),), 0, jit, np.ones(3))
    np.testing.assert_array_equal(out[:2], [1.0, 0.0])
    np.testing.assert_array_equal(g[:2], [0.0, 0.0])
    np.testing.assert_allclose(g[2], sc.expit(-30.0) * sc.expit(30.0), rtol=1e-14)
    x = np.array([-1000.0, -100.0, 40.0])
    out, g = pull(s_log_ndtr, (x,), 0, jit, np.ones(3))
    assert_forward(out, sc.log_ndtr(x), rtol=1e-15)
    mills = -x[:2] / (1 - 1 / x[:2] ** 2 + 3 / x[:2] ** 4 - 15 / x[:2] ** 6)
    np.testing.assert_allclose(g[:2], mills, rtol=1e-10)
    assert g[2] == 0.0


def sinc_sum(x): return np.sum(np.sinc(x))
def hypot_sum(x, y): return np.sum(np.hypot(x, y))
def xlogy_sum(x, y): return np.sum(sc.xlogy(x, y))
def rounded_sum(x): return np.sum(np.floor(x) + np.ceil(x) + np.round(x, 3) + np.rint(x))


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
def test_exact_values_where_finite_differences_say_nothing(jit):
    """sinc's derivative at 0 is 0 (and at 1 exactly -1); hypot's gradient at the origin is 0 (a
    subgradient); xlogy's gradient in y is 0 where x == 0, also at y == 0, and in x it is log(y)
    (-inf at y == 0);
    rounding has a zero gradient, also at the jumps."""
    g = grad(sinc_sum, jit=compiled(jit))(np.array([0.0, 1.0]))
    assert g[0] == 0.0 and g[1] == pytest.approx(-1.0, rel=1e-15)
    gx, gy = grad(hypot_sum, wrt=(0, 1), jit=compiled(jit))(np.array([0.0, 3.0]), np.array([0.0, 4.0]))
    np.testing.assert_array_equal(gx, [0.0, 0.6])
    np.testing.assert_array_equal(gy, [0.0, 0.8])
    with np.errstate(divide="ignore"):  # log(0): the gradient in x at y == 0 is -inf
        gx, gy = grad(xlogy_sum, wrt=(0, 1), jit=compiled(jit))(np.array([0.0, 0.0, 2.0]), np.array([0.0, 3.0, 4.0]))
    np.testing.assert_array_equal(gy, [0.0, 0.0, 0.5])
    np.testing.assert_array_equal(gx, [-np.inf, math.log(3.0), math.log(4.0)])
    np.testing.assert_array_equal(grad(rounded_sum, jit=compiled(jit))(np.array([0.5, 1.0, -2.5, 0.1234])), np.zeros(4))


def isnan_where(x): return np.sum(np.where(np.isnan(x), 0.0, x * x))


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
def test_finiteness_tests_are_booleans_without_gradient(jit):
    g = grad(isnan_where, jit=compiled(jit))(np.array([1.0, 0.5, -2.0]))
    np.testing.assert_array_equal(g, [2.0, 1.0, -4.0])
    with np.errstate(invalid="ignore"):  # u_tests multiplies inf and nan by False
        out, _ = vjp(u_tests, jit=compiled(jit))(np.array([np.inf, np.nan, 1.5]))
    np.testing.assert_array_equal(np.isnan(out), [True, True, False])


# ---------------------------------------------------------------- second derivatives

def h_erf(x): return math.erf(x)
def h_lgamma(x): return math.lgamma(x)
def h_gamma(x): return sc.gamma(x)
def h_expit(x): return np.sum(sc.expit(x) * x)
def h_log_ndtr(x): return np.sum(sc.log_ndtr(x))
def h_logaddexp(x): return np.sum(np.logaddexp(x, 0.5 * x * x))
def h_lse(x): return sc.logsumexp(x)
def h_sinc(x): return np.sum(np.sinc(x))
def h_hypot(x): return np.sum(np.hypot(x, 1.0 - x))
def h_xlogy(x): return np.sum(sc.xlogy(x, x * x))


SECOND = [
    (h_erf, 0.4, True), (h_lgamma, 2.3, True), (h_gamma, 1.7, False), (h_expit, np.array([-1.0, 0.3, 2.0]), False),
    (h_log_ndtr, np.array([-12.0, -1.0, 2.0]), True), (h_logaddexp, np.array([-1.0, 0.5, 2.0]), False),
    (h_lse, np.array([-1.0, 0.5, 2.0]), True), (h_sinc, np.array([-0.7, 0.3, 1.4]), False),
    (h_hypot, np.array([-0.7, 0.3, 1.4]), False), (h_xlogy, np.array([-0.7, 0.3, 1.4]), False),
]


@pytest.mark.parametrize("fn, x, jit", [
    pytest.param(fn, x, jit, id=f"{fn.__name__}-{array_rules.jit_id(jit)}")
    for fn, x, compiled in SECOND for jit in ([False, True] if compiled else [False])])
def test_second_derivative(fn, x, jit, rng):
    """The gradient of the gradient (a Hessian-vector product through vjp) against central finite
    differences of the gradient."""
    gradient = grad(fn, jit=False)
    if np.ndim(x) == 0:
        second = grad(gradient, jit=compiled(jit))(x)
        assert second == pytest.approx(fd_grad(gradient, (x,), 0), rel=1e-7)
        return
    v = rng.standard_normal(np.shape(x))
    _, pullback = vjp(gradient, jit=compiled(jit))(x)
    fd = np.array([fd_grad(lambda z: float(np.dot(gradient(z), v)), (x,), 0)])[0]
    np.testing.assert_allclose(pullback(v), fd, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- refusals

def third_lgamma(x): return grad(grad(grad(h_lgamma)))(x)
def lse_sign(x): return sc.logsumexp(x, return_sign=True)
def lse_wide_b(x, b): return sc.logsumexp(x, b=b)
def round_float_decimals(x): return np.round(x, 1.5)
def round_int_negative(n, x): return np.round(n, -1) * x


@pytest.mark.parametrize("fn, args, message", [
    (third_lgamma, (2.5,), "the derivative of polygamma(2, x) (a fourth derivative of log gamma) is not supported"),
    (lse_sign, (np.ones(3),), "scipy.special.logsumexp with return_sign=True is not supported"),
    (lse_wide_b, (np.ones(3), np.ones((2, 3))),
     "scipy.special.logsumexp with weights b of more dimensions than a is not supported"),
    (round_float_decimals, (np.ones(3),), "np.round with decimals=1.5 is not supported"),
    (round_int_negative, (np.arange(3), 1.0), "np.round of integers with decimals < 0 is not supported"),
], ids=["third_lgamma", "return_sign", "wide_b", "float_decimals", "int_negative_decimals"])
def test_refusals_name_the_construct_and_line(fn, args, message):
    with pytest.raises(CompileError) as info:
        grad(fn, wrt=len(args) - 1 if fn is round_int_negative else 0, jit=False)(*args)
    text = str(info.value)
    assert message in text and "test_special_rules.py" in text, text
