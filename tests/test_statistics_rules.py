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

from adcompiler import CompileError, grad, vjp
from fd import assert_forward, check_vjp, fd_grad
from test_array_rules import (F32_RTOL, Row, arg, as_float32, away_from_zero, avoiding, cases, distinct, fixed,
                              jit_id, run_row, uniform)

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
    Row("interp_scalar", interp_plain, (grid_points(()), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 1, 2)),
    Row("interp_m", interp_plain, (grid_points(M), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 1, 2), jit=True),
    Row("interp_bounds", interp_bounds, (fixed(OUTSIDE), fixed(GRID), arg(uniform(-2, 2), (5,))), (0, 1, 2)),
    Row("interp_bound_args", interp_bound_args, (fixed(OUTSIDE), fixed(GRID), arg(uniform(-2, 2), (5,)),
                                                 arg(uniform(-2, 2), ())), (0, 1, 2, 3)),
]


@pytest.mark.parametrize("row, jit", cases(ROWS))
def test_statistics_row(row, jit, rng):
    run_row(row, jit, rng)
