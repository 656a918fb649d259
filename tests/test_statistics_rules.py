"""The statistics and sequence functions (var, std, median, percentile, quantile, sort, cumsum,
cumprod, diff, interp, trapezoid, polyval, convolve, correlate), checked as tests/test_array_rules.py
checks its rows: the dot-product test against float64 central finite differences (tests/fd.py),
the forward value with NumPy's value, dtype and shape, each gradient with its argument's shape and
dtype. Every row runs as plain Python; rows marked `jit` also compiled by Numba. Where finite
differences say nothing (ties of sort and median, std at zero spread, cumprod at zeros) the tests
assert exact documented values.

Sorting functions are sampled with `distinct` values (no ties, which finite differences with a
step of 1e-3 would straddle); interp's points stay away from the grid's points (kinks).
"""
from __future__ import annotations

import numpy as np
import pytest

from adcompiler import CompileError, grad, jit, vjp
from fd import assert_forward, check_vjp, fd_grad
from fd import compiled as compiled_mode
from test_array_rules import Row, arg, away_from_zero, avoiding, cases, distinct, fixed, jit_id, run_row, uniform
from test_array_rules import test_float32 as check_float32

SEED = 20261202
M, T, V = (3, 4), (2, 3, 4), (6,)


# ================================================================ var and std

def var_all(x): return np.var(x)
def var_a0(x): return np.var(x, axis=0)
def var_am1_ddof1(x): return np.var(x, axis=-1, ddof=1)
def var_a02kd(x): return np.var(x, axis=(0, 2), keepdims=True)
def var_method(x): return x.var(axis=1, ddof=1, keepdims=True)
def var_allkd(x): return x.var(keepdims=True)
def std_all(x): return np.std(x)
def std_a1(x): return np.std(x, axis=1)
def std_ddof1(x): return np.std(x, ddof=1)
def std_am2kd(x): return np.std(x, axis=-2, keepdims=True)
def std_method(x): return x.std(axis=(0, 1))
def std_of_int(x, k): return np.std(k) * x


# ================================================================ sorting, median, percentiles

def sort_v(x): return np.sort(x)
def sort_m_a0(x): return np.sort(x, axis=0)
def sort_t_am1(x): return np.sort(x, axis=-1)
def sort_t_a1(x): return np.sort(x, axis=1)
def sort_none(x): return np.sort(x, axis=None)
def sort_kind(x): return np.sort(x, kind="stable") * x
def median_v(x): return np.median(x)
def median_odd(x): return np.median(x[:5])
def median_m_a0(x): return np.median(x, axis=0)
def median_m_a1kd(x): return np.median(x, axis=1, keepdims=True)
def median_t_am1(x): return np.median(x, axis=-1)
def median_t_allkd(x): return np.median(x, keepdims=True)
def pct_v(x): return np.percentile(x, 30)
def pct_list(x): return np.percentile(x, [0, 10, 50, 95, 100])
def pct_m_a1(x): return np.percentile(x, 62.5, axis=1)
def pct_t_a0kd(x): return np.percentile(x, 25, axis=0, keepdims=True)
def pct_list_axis(x): return np.percentile(x, (20, 80), axis=-1)
def quant_v(x): return np.quantile(x, 0.3)
def quant_m_a0(x): return np.quantile(x, [0.25, 0.75], axis=0)
def quant_t_am1kd(x): return np.quantile(x, 0.9, axis=-1, keepdims=True, method="linear")


# ================================================================ running sums and differences

def cumsum_v(x): return np.cumsum(x)
def cumsum_m_a0(x): return np.cumsum(x, axis=0)
def cumsum_m_a1(x): return np.cumsum(x, axis=1)
def cumsum_t_am2(x): return np.cumsum(x, axis=-2)
def cumsum_flat(x): return np.cumsum(x)
def cumsum_method(x): return x.cumsum(axis=1)
def cumprod_v(x): return np.cumprod(x)
def cumprod_m_a0(x): return np.cumprod(x, axis=0)
def cumprod_t_am1(x): return np.cumprod(x, axis=-1)
def cumprod_flat(x): return x.cumprod()
def diff_v(x): return np.diff(x)
def diff_v_n2(x): return np.diff(x, n=2)
def diff_m_a0(x): return np.diff(x, axis=0)
def diff_t_a1_n2(x): return np.diff(x, 2, 1)
def diff_n0(x): return np.diff(x, n=0) * x
def trap_v(y): return np.trapezoid(y)
def trap_dx(y): return np.trapezoid(y, dx=0.25)
def trap_dx_arg(y, dx): return np.trapezoid(y, dx=dx, axis=0)
def trap_x(y, x): return np.trapezoid(y, x)
def trap_x_a0(y, x): return np.trapezoid(y, x, axis=0)
def trap_x_t(y, x): return np.trapezoid(y, x=x, axis=1)
def trap_x_full(y, x): return np.trapezoid(y, x, axis=-1)


# ================================================================ polynomials, convolution, interpolation

def polyval_arr(p, x): return np.polyval(p, x)
def polyval_list(x): return np.polyval([0.5, -2.0, 1.0, 3.0], x)
def polyval_scalar(p, x): return np.polyval(p, x)
def polyval_names(a, b, x): return np.polyval([a, b, 1.5], x)
def conv_full(a, v): return np.convolve(a, v)
def conv_same(a, v): return np.convolve(a, v, mode="same")
def conv_valid(a, v): return np.convolve(a, v, "valid")
def corr_valid(a, v): return np.correlate(a, v)
def corr_same(a, v): return np.correlate(a, v, mode="same")
def corr_full(a, v): return np.correlate(a, v, mode="full")
def interp_plain(x, xp, fp): return np.interp(x, xp, fp)
def interp_bounds(x, xp, fp): return np.interp(x, xp, fp, left=-3.0, right=2.0)
def interp_bound_args(x, xp, fp, lo): return np.interp(x, xp, fp, lo, fp[0] * lo)


GRID = np.array([-1.0, 0.0, 1.0, 2.5, 3.0])
OUTSIDE = np.array([-1.7, -0.4, 0.3, 1.2, 2.9, 3.6, 0.8])  # below, inside, above the grid


def grid_points(shape):
    """Points in (-2, 4), away from the grid's points (kinks)."""
    return arg(avoiding(-2.0, 4.0, list(GRID), gap=0.05), shape)


ROWS = [
    Row("var_all", var_all, (arg(uniform(-2, 2), M),), jit=True),
    Row("var_a0", var_a0, (arg(uniform(-2, 2), M),)),
    Row("var_am1_ddof1", var_am1_ddof1, (arg(uniform(-2, 2), T),), jit=True),
    Row("var_a02kd", var_a02kd, (arg(uniform(-2, 2), T),)),
    Row("var_method", var_method, (arg(uniform(-2, 2), M),)),
    Row("var_allkd", var_allkd, (arg(uniform(-2, 2), T),)),
    Row("std_all", std_all, (arg(uniform(-2, 2), V),), jit=True),
    Row("std_a1", std_a1, (arg(uniform(-2, 2), M),)),
    Row("std_ddof1", std_ddof1, (arg(uniform(-2, 2), T),)),
    Row("std_am2kd", std_am2kd, (arg(uniform(-2, 2), T),), jit=True),
    Row("std_method", std_method, (arg(uniform(-2, 2), T),)),
    Row("std_of_int", std_of_int, (arg(uniform(-2, 2), (3,)), fixed(np.array([1, 4, 2, 8])))),
    Row("sort_v", sort_v, (arg(distinct(0.3), V),), jit=True),
    Row("sort_m_a0", sort_m_a0, (arg(distinct(0.3), M),), jit=True),
    Row("sort_t_am1", sort_t_am1, (arg(distinct(0.3), T),)),
    Row("sort_t_a1", sort_t_a1, (arg(distinct(0.3), T),)),
    Row("sort_none", sort_none, (arg(distinct(0.3), M),)),
    Row("sort_kind", sort_kind, (arg(distinct(0.3), V),)),
    Row("median_v", median_v, (arg(distinct(0.3), V),), jit=True),
    Row("median_odd", median_odd, (arg(distinct(0.3), V),)),
    Row("median_m_a0", median_m_a0, (arg(distinct(0.3), M),)),
    Row("median_m_a1kd", median_m_a1kd, (arg(distinct(0.3), M),), jit=True),
    Row("median_t_am1", median_t_am1, (arg(distinct(0.3), T),)),
    Row("median_t_allkd", median_t_allkd, (arg(distinct(0.3), T),)),
    Row("pct_v", pct_v, (arg(distinct(0.3), V),), jit=True),
    Row("pct_list", pct_list, (arg(distinct(0.3), (7,)),), jit=True),
    Row("pct_m_a1", pct_m_a1, (arg(distinct(0.3), M),)),
    Row("pct_t_a0kd", pct_t_a0kd, (arg(distinct(0.3), T),)),
    Row("pct_list_axis", pct_list_axis, (arg(distinct(0.3), T),)),
    Row("quant_v", quant_v, (arg(distinct(0.3), V),)),
    Row("quant_m_a0", quant_m_a0, (arg(distinct(0.3), (5, 3)),), jit=True),
    Row("quant_t_am1kd", quant_t_am1kd, (arg(distinct(0.3), T),)),
    Row("cumsum_v", cumsum_v, (arg(uniform(-2, 2), V),), jit=True),
    Row("cumsum_m_a0", cumsum_m_a0, (arg(uniform(-2, 2), M),)),
    Row("cumsum_m_a1", cumsum_m_a1, (arg(uniform(-2, 2), M),), jit=True),
    Row("cumsum_t_am2", cumsum_t_am2, (arg(uniform(-2, 2), T),)),
    Row("cumsum_flat", cumsum_flat, (arg(uniform(-2, 2), T),)),
    Row("cumsum_method", cumsum_method, (arg(uniform(-2, 2), M),)),
    Row("cumprod_v", cumprod_v, (arg(away_from_zero(0.5, 1.5), V),), jit=True),
    Row("cumprod_m_a0", cumprod_m_a0, (arg(away_from_zero(0.5, 1.5), M),)),
    Row("cumprod_t_am1", cumprod_t_am1, (arg(away_from_zero(0.5, 1.5), T),), jit=True),
    Row("cumprod_flat", cumprod_flat, (arg(away_from_zero(0.5, 1.5), M),)),
    Row("diff_v", diff_v, (arg(uniform(-2, 2), V),), jit=True),
    Row("diff_v_n2", diff_v_n2, (arg(uniform(-2, 2), V),)),
    Row("diff_m_a0", diff_m_a0, (arg(uniform(-2, 2), M),)),
    Row("diff_t_a1_n2", diff_t_a1_n2, (arg(uniform(-2, 2), (2, 4, 3)),), jit=True),
    Row("diff_n0", diff_n0, (arg(uniform(-2, 2), M),)),
    Row("trap_v", trap_v, (arg(uniform(-2, 2), V),), jit=True),
    Row("trap_dx", trap_dx, (arg(uniform(-2, 2), M),)),
    Row("trap_dx_arg", trap_dx_arg, (arg(uniform(-2, 2), M), arg(uniform(0.1, 1), ())), (0, 1)),
    Row("trap_x", trap_x, (arg(uniform(-2, 2), V), arg(uniform(-2, 2), V)), (0, 1), jit=True),
    Row("trap_x_a0", trap_x_a0, (arg(uniform(-2, 2), M), arg(uniform(-2, 2), (3,))), (0, 1)),
    Row("trap_x_t", trap_x_t, (arg(uniform(-2, 2), T), arg(uniform(-2, 2), (3,))), (0, 1)),
    Row("trap_x_full", trap_x_full, (arg(uniform(-2, 2), M), arg(uniform(-2, 2), M)), (0, 1)),
    Row("polyval_arr", polyval_arr, (arg(uniform(-2, 2), (4,)), arg(uniform(-1.5, 1.5), (5,))), (0, 1), jit=True),
    Row("polyval_arr_m", polyval_arr, (arg(uniform(-2, 2), (3,)), arg(uniform(-1.5, 1.5), M)), (0, 1)),
    Row("polyval_scalar", polyval_scalar, (arg(uniform(-2, 2), (5,)), arg(uniform(-1.5, 1.5), ())), (0, 1)),
    Row("polyval_list", polyval_list, (arg(uniform(-1.5, 1.5), M),), jit=True),
    Row("polyval_names", polyval_names, (arg(uniform(-2, 2), ()), arg(uniform(-2, 2), ()),
                                         arg(uniform(-1.5, 1.5), (4,))), (0, 1, 2)),
    Row("conv_full", conv_full, (arg(uniform(-2, 2), (5,)), arg(uniform(-2, 2), (3,))), (0, 1), jit=True),
    Row("conv_full_short", conv_full, (arg(uniform(-2, 2), (2,)), arg(uniform(-2, 2), (5,))), (0, 1)),
    Row("conv_same", conv_same, (arg(uniform(-2, 2), (6,)), arg(uniform(-2, 2), (3,))), (0, 1), jit=True),
    Row("conv_same_short", conv_same, (arg(uniform(-2, 2), (3,)), arg(uniform(-2, 2), (6,))), (0, 1)),
    Row("conv_same_even", conv_same, (arg(uniform(-2, 2), (5,)), arg(uniform(-2, 2), (4,))), (0, 1)),
    Row("conv_valid", conv_valid, (arg(uniform(-2, 2), (6,)), arg(uniform(-2, 2), (4,))), (0, 1)),
    Row("conv_valid_short", conv_valid, (arg(uniform(-2, 2), (3,)), arg(uniform(-2, 2), (5,))), (0, 1)),
    Row("corr_valid", corr_valid, (arg(uniform(-2, 2), (6,)), arg(uniform(-2, 2), (3,))), (0, 1), jit=True),
    Row("corr_valid_short", corr_valid, (arg(uniform(-2, 2), (3,)), arg(uniform(-2, 2), (5,))), (0, 1)),
    Row("corr_same", corr_same, (arg(uniform(-2, 2), (5,)), arg(uniform(-2, 2), (4,))), (0, 1)),
    Row("corr_full", corr_full, (arg(uniform(-2, 2), (4,)), arg(uniform(-2, 2), (6,))), (0, 1), jit=True),
    Row("interp_v", interp_plain, (grid_points((7,)), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 1, 2), jit=True),
    Row("interp_outside", interp_plain, (fixed(OUTSIDE), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 1, 2)),
    Row("interp_scalar", interp_plain, (grid_points(()), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 1, 2), jit=True),
    Row("interp_m", interp_plain, (grid_points(M), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 1, 2), jit=True),
    Row("interp_bounds", interp_bounds, (fixed(OUTSIDE), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 1, 2)),
    Row("interp_bound_args", interp_bound_args, (fixed(OUTSIDE), fixed(GRID), arg(uniform(-2, 2), (5,)),
                                                 arg(uniform(-2, 2), ())), (0, 1, 2, 3)),
]


@pytest.mark.parametrize("row, jit", cases(ROWS))
def test_statistics_row(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ exact values where finite differences say nothing

def pulled(fn, x, u, jit=False):
    out, pullback = vjp(fn, jit=compiled_mode(jit))(x)
    return out, pullback(u)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_sort_ties_follow_the_stable_order(jit):
    """Equal values keep their order: the first of two 3s takes the gradient of the earlier sorted
    position. The sum over the tied pair is what the derivative along (0, 1, 1, 0) gives."""
    x = np.array([1.0, 3.0, 3.0, 2.0])
    u = np.array([10.0, 20.0, 30.0, 40.0])
    out, g = pulled(sort_v, x, u, jit)
    np.testing.assert_array_equal(out, np.sort(x))
    np.testing.assert_array_equal(g, [10.0, 30.0, 40.0, 20.0])


def test_median_ties_split_between_the_middle_positions():
    """[2, 1, 2, 5] sorts stably as 1 (index 1), 2 (index 0), 2 (index 2), 5: the two middle
    positions are indices 0 and 2, half the gradient each."""
    out, g = pulled(median_v, np.array([2.0, 1.0, 2.0, 5.0]), 4.0)
    assert out == 2.0
    np.testing.assert_array_equal(g, [2.0, 0.0, 2.0, 0.0])
    _, g_odd = pulled(median_v, np.array([2.0, 1.0, 2.0, 5.0, 2.0]), 4.0)
    np.testing.assert_array_equal(g_odd, [0.0, 0.0, 4.0, 0.0, 0.0])  # the middle one of three 2s


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_std_at_zero_spread_has_gradient_zero(jit):
    """std is not differentiable where all values are equal (a cone's tip); its documented
    gradient there is 0, a subgradient. Rows with a spread keep the exact gradient."""
    x = np.array([[1.5, 1.5, 1.5], [1.0, 2.0, 4.0]])
    u = np.array([3.0, -2.0])
    out, g = pulled(std_a1, x, u, jit)
    np.testing.assert_allclose(out, np.std(x, axis=1), rtol=1e-15)
    np.testing.assert_array_equal(g[0], 0.0)
    row = x[1]
    np.testing.assert_allclose(g[1], u[1] * (row - row.mean()) / (row.size * np.std(row)), rtol=1e-13)
    _, g_all = pulled(std_all, np.full(4, -0.5), 1.0, jit)
    np.testing.assert_array_equal(g_all, 0.0)


def cumprod_jacobian(x):
    """d cumprod(x)_i / d x_j = the product of x_k for k <= i, k != j (j <= i): exact at zeros."""
    n = x.size
    J = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            J[i, j] = np.prod(np.delete(x[:i + 1], j))
    return J


ZERO_LANES = [np.array([2.0, 0.0, 3.0, 0.5]), np.array([0.0, 2.0, -3.0]), np.array([1.5, -2.0, 0.0]),
              np.array([1.0, 0.0, 2.0, 0.0, 3.0]), np.array([0.0, 0.0, 2.0])]


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_cumprod_gradient_is_exact_at_zeros(jit, rng):
    for x in ZERO_LANES:
        u = rng.standard_normal(x.size)
        _, g = pulled(cumprod_v, x, u, jit)
        np.testing.assert_allclose(g, u @ cumprod_jacobian(x), rtol=1e-14, atol=1e-14)
    x = np.array([[2.0, 0.0, 1.5], [0.0, 3.0, 0.5], [-1.0, 2.0, 0.0], [0.5, 0.0, 2.0]])
    u = rng.standard_normal(x.shape)
    _, g = pulled(cumprod_m_a0, x, u, jit)
    for k in range(x.shape[1]):
        np.testing.assert_allclose(g[:, k], u[:, k] @ cumprod_jacobian(x[:, k]), rtol=1e-14, atol=1e-14)


# ================================================================ second derivatives

def var_loss(x): return np.sum(np.var(x, axis=1, ddof=1) ** 2)
def var_loss_grad(x): return grad(var_loss, jit=False)(x)
def cumsum_loss(x): return np.sum(np.sin(np.cumsum(x, axis=0)))
def cumsum_loss_grad(x): return grad(cumsum_loss, jit=False)(x)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_second_derivative_of_var(jit, rng):
    """The first derivative against the formula 2 var * 2 (x - mean) / (n - 1), the second (the
    vjp of the gradient) against finite differences of the first."""
    x = rng.uniform(-2, 2, (3, 4))
    variance = np.var(x, axis=1, ddof=1, keepdims=True)
    np.testing.assert_allclose(var_loss_grad(x), 4 * variance * (x - x.mean(axis=1, keepdims=True)) / 3,
                               rtol=1e-13)
    check_vjp(var_loss_grad, (x,), 0, jit, rng)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_second_derivative_of_cumsum(jit, rng):
    x = rng.uniform(-1, 1, (4, 3))
    np.testing.assert_allclose(cumsum_loss_grad(x), fd_grad(cumsum_loss, (x,), 0), rtol=1e-9)
    check_vjp(cumsum_loss_grad, (x,), 0, jit, rng)


# ================================================================ float32
# float32 inputs: gradients in float32, values with NumPy's dtype (float32 but for percentiles of a
# list of q and np.interp, which NumPy computes in float64), close to the float64 results. Compiled,
# a float32 number the forward passes to the backward (a residual) stays float32 (Numba returns
# it to Python as a float: backend/emit.py makes it float32 again).

def scalar_residual(x): return x * np.sum(x)  # a float32 number between forward and backward


FLOAT32 = [
    # (row, jit too)
    (Row("scalar_residual", scalar_residual, (arg(uniform(-2, 2), V),)), True),
    (Row("var_am1_ddof1", var_am1_ddof1, (arg(uniform(-2, 2), T),)), True),
    (Row("std_am2kd", std_am2kd, (arg(uniform(-2, 2), T),)), False),
    (Row("sort_m_a0", sort_m_a0, (arg(distinct(0.3), M),)), False),
    (Row("median_m_a1kd", median_m_a1kd, (arg(distinct(0.3), M),)), False),
    (Row("pct_v", pct_v, (arg(distinct(0.3), V),)), True),
    (Row("pct_list", pct_list, (arg(distinct(0.3), (7,)),)), False),
    (Row("cumsum_m_a1", cumsum_m_a1, (arg(uniform(-2, 2), M),)), True),
    (Row("cumprod_t_am1", cumprod_t_am1, (arg(away_from_zero(0.5, 1.5), T),)), False),
    (Row("diff_t_a1_n2", diff_t_a1_n2, (arg(uniform(-2, 2), (2, 4, 3)),)), False),
    (Row("trap_x", trap_x, (arg(uniform(-2, 2), V), arg(uniform(-2, 2), V)), (0, 1)), False),
    (Row("polyval_arr", polyval_arr, (arg(uniform(-2, 2), (4,)), arg(uniform(-1.5, 1.5), (5,))), (0, 1)), False),
    (Row("conv_same", conv_same, (arg(uniform(-2, 2), (6,)), arg(uniform(-2, 2), (3,))), (0, 1)), True),
    (Row("corr_full", corr_full, (arg(uniform(-2, 2), (4,)), arg(uniform(-2, 2), (6,))), (0, 1)), False),
    (Row("interp_m", interp_plain, (grid_points(M), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 2)), False),
]


@pytest.mark.parametrize("row, jit", [
    pytest.param(row, jit, id=f"{row.name}-{jit_id(jit)}")
    for row, compiled in FLOAT32 for jit in ([False, True] if compiled else [False])])
def test_float32(row, jit, rng):
    check_float32(row, jit, rng)


# ================================================================ integer and boolean inputs: values

def int_cumsum(k): return np.cumsum(k, axis=0)
def int_cumprod(k): return np.cumprod(k)
def int_sort(k): return np.sort(k, axis=-1)
def int_argsort(x): return np.argsort(x, axis=0)
def int_diff(k): return np.diff(k, axis=1)
def bool_diff(b): return np.diff(b)
def int_median(k): return np.median(k, axis=1)
def int_var(k): return np.var(k)
def int_convolve(k): return np.convolve(k[0], k[1])


INTEGERS = np.array([[3, -1, 4], [1, -5, 9], [2, 6, -5]])


INTEGER_CASES = [(int_cumsum, INTEGERS), (int_cumprod, INTEGERS), (int_sort, INTEGERS), (int_argsort, INTEGERS * 0.5),
                 (int_diff, INTEGERS), (bool_diff, np.array([True, True, False, True])), (int_median, INTEGERS),
                 (int_var, INTEGERS), (int_convolve, INTEGERS)]


@pytest.mark.parametrize("fn, value, compiled", [
    pytest.param(fn, value, compiled, id=f"{fn.__name__}-{jit_id(compiled)}")
    for fn, value in INTEGER_CASES for compiled in ([False, True] if fn in (int_cumsum, int_argsort) else [False])])
def test_values_of_integers_and_bools(fn, value, compiled):
    """Values only (nothing to differentiate); compiled: one integer running sum and one argsort."""
    assert_forward(jit(fn, jit=compiled)(value), fn(value))


# ================================================================ refusals

def r_sort_in_place(x):
    y = x * 2.0
    y.sort()
    return y


def r_sort_value(x): return x.sort()
def r_pct_range(x): return np.percentile(x, 120)
def r_pct_runtime(x, q): return np.percentile(x, q)
def r_pct_method(x): return np.percentile(x, 50, method="nearest")
def r_quant_range(x): return np.quantile(x, [0.5, 2.0])
def r_median_axes(x): return np.median(x, axis=(0, 1))
def r_conv_2d(x): return np.convolve(x, x)
def r_conv_mode(x): return np.convolve(x[0], x[1], mode="circular")
def r_diff_n(x): return np.diff(x, n=-1)
def r_diff_prepend(x): return np.diff(x, prepend=0.0)
def r_interp_grid(x): return np.interp(x[0], x, x[1])
def r_var_scalar(x): return np.var(x[0, 0])
def r_var_dtype(x): return np.var(x, dtype=np.float32)
def r_trap_rank(x): return np.trapezoid(x, x[None])
def cumprod_loss(x): return np.sum(np.cumprod(x, axis=1))
def r_cumprod_second(x): return grad(cumprod_loss, jit=False)(x)


@pytest.mark.parametrize("fn, message", [
    (r_sort_in_place, r"sorting in place \(`\.sort\(\)`\) is not supported"),
    (r_sort_value, r"the attribute `\.sort` is not supported"),
    (r_pct_range, r"q of np\.percentile must be numbers in \[0, 100\]"),
    (r_pct_runtime, r"q of np\.percentile must be a constant known at compile time"),
    (r_pct_method, r"method='linear' \(the default\) only"),
    (r_quant_range, r"q of np\.quantile must be numbers in \[0, 1\]"),
    (r_median_axes, r"np\.median takes one axis"),
    (r_conv_2d, r"np\.convolve takes two 1-D arrays"),
    (r_conv_mode, r"mode 'circular' of np\.convolve"),
    (r_diff_n, r"n of np\.diff must be a non-negative int"),
    (r_diff_prepend, r"`np\.diff` called with arguments it does not support"),
    (r_interp_grid, r"xp and fp of np\.interp must be 1-D"),
    (r_var_scalar, r"np\.var of a scalar is not supported"),
    (r_var_dtype, r"`np\.var` called with arguments it does not support"),
    (r_trap_rank, r"x of np\.trapezoid must be 1-D or have y's rank"),
    (r_cumprod_second, r"the second derivative of np\.cumprod is not supported"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_refusals(fn, message):
    args = (np.ones((2, 3)), 50.0) if fn is r_pct_runtime else (np.ones((2, 3)),)
    with pytest.raises(CompileError, match=message) as error:
        vjp(fn, jit=False)(*args)
    assert error.value.loc.line > 0 and error.value.loc.file.endswith("test_statistics_rules.py")


def conv_loss(a, v): return np.sum(np.convolve(a, v, mode="same") ** 2)
def conv_loss_grad(a, v): return grad(conv_loss, wrt=1, jit=False)(a, v)
def sort_loss(x): return np.sum(np.sort(x, axis=0) ** 3)
def sort_loss_grad(x): return grad(sort_loss, jit=False)(x)
def median_std_loss(x): return np.median(x, axis=1) @ np.std(x, axis=1)
def median_std_loss_grad(x): return grad(median_std_loss, jit=False)(x)
def interp_loss(x, fp): return np.sum(np.interp(x, GRID, fp) ** 2)
def interp_loss_grad(x, fp): return grad(interp_loss, wrt=(0, 1), jit=False)(x, fp)[1]


@pytest.mark.parametrize("fn, args", [
    (conv_loss_grad, (arg(uniform(-2, 2), (5,)), arg(uniform(-2, 2), (3,)))),
    (sort_loss_grad, (arg(distinct(0.3), M),)),
    (median_std_loss_grad, (arg(distinct(0.3), (3, 5)),)),
    (interp_loss_grad, (grid_points((6,)), arg(uniform(-2, 2), (5,)))),
], ids=lambda v: getattr(v, "__name__", ""))
def test_second_derivatives_of_compositions(fn, args, rng):
    """Gradients of convolve, sort, median, std and interp are differentiable again (plain Python;
    the compiled second derivatives of var and cumsum are above)."""
    values = tuple(sample(rng) for sample in args)
    check_vjp(fn, values, tuple(range(len(values))) if len(values) > 1 else 0, False, rng)
