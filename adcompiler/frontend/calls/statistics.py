"""Statistics and sequence functions: var, std, median, percentile, quantile, sort, cumsum, cumprod,
diff, interp, trapezoid, polyval, convolve and correlate, composed of primitives (the running
sums, sorting permutations and convolution of rules/sequences.py, slices, reductions).

Gradients: sort, median and percentile send the gradient to the elements at the sorted positions
they read, by NumPy's stable order (ties: to the earlier element; linear interpolation splits it
between the two neighbours); std's gradient is 0 where the spread is 0 (a subgradient: std is not
differentiable there); cumprod's is exact at zeros; interp's reaches x (the slope of its segment,
0 outside the grid), fp, and also xp.
"""
from __future__ import annotations

import numpy as np

from ...ir.core import IndexArray, IndexInt, IndexSlice
from ...rules import primitives as P
from ...rules.primitives import Sym
from ...rules.sequences import reversed_along
from .common import Static, flat, is_none, normal_axes
from .shapes import stack


def _float_operand(lo, a, dtype=None) -> Sym:
    """`a` as an operand of a float dtype (`dtype`, or ints and bools made float64)."""
    x = lo.operand(a, lo.node)
    dtype = dtype or P.floating(x.type).dtype
    return x if x.type.dtype == dtype and not x.type.weak else P.cast(x, dtype=dtype)


def _array_operand(lo, a, name: str) -> Sym:
    x = lo.operand(a, lo.node)
    if x.type.ndim == 0:
        lo.refuse(lo.node, f"np.{name} of a scalar is not supported", f"pass an array to np.{name}")
    return x


def _one_axis(lo, axis, ndim: int, name: str) -> int:
    axes = normal_axes(lo, axis, ndim)
    if len(axes) != 1:
        lo.refuse(lo.node, f"np.{name} takes one axis (an int) here, not {lo.constant(axis, 'axis')}",
                  "reduce over several axes one at a time, or reshape first")
    return axes[0]


def _along(x: Sym, axis: int, item, *operands) -> Sym:
    """`x[:, ..., item]` with `item` at `axis` (an IndexInt or IndexSlice with its operands)."""
    return P.getitem(x, *operands, index=(IndexSlice(),) * axis + (item,))


def _sum_along(x: Sym, axis: int) -> Sym:
    return P.total(x) if x.type.ndim == 1 else P.sum_axes(x, axes=(axis,), keepdims=False)


def _count(x: Sym, axes) -> Sym:
    count = P.dim(x, axis=axes[0])
    for axis in axes[1:]:
        count = count * P.dim(x, axis=axis)
    return count


# ---------------------------------------------------------------- var and std

def _variance(lo, a, axis, ddof, keepdims, name: str) -> Sym:
    """NumPy's formula: the sum of squared deviations from the mean, over n - ddof."""
    x = _float_operand(lo, _array_operand(lo, a, name))
    axes = normal_axes(lo, axis, x.type.ndim)
    keepdims = bool(lo.constant(keepdims, "keepdims"))
    ddof = Sym(ddof) if isinstance(ddof, int) else lo.integer(ddof, lo.node, "ddof")
    centered = x - P.mean_axes(x, axes=axes, keepdims=True)
    squares = centered * centered
    if len(axes) == x.type.ndim and not keepdims:
        total = P.total(squares)
    else:
        total = P.sum_axes(squares, axes=axes, keepdims=keepdims)
    return total / P.cast(_count(x, axes) - ddof, dtype=x.type.dtype)


def var(lo, a, axis=None, *, ddof=0, keepdims=False):
    return _variance(lo, a, axis, ddof, keepdims, "var")


def std(lo, a, axis=None, *, ddof=0, keepdims=False):
    return P.spread(_variance(lo, a, axis, ddof, keepdims, "std"))


# ---------------------------------------------------------------- sorting, median, percentiles

def _sorted(x: Sym, axis: int) -> Sym:
    return P.permute_along(x, P.argsort(x, axis=axis), axis=axis)


def _sort_axis(lo, x: Sym, axis, name: str):
    """(x, axis) to sort along: x flattened for axis None."""
    if is_none(axis) or axis is None:
        return flat(lo, x), 0
    return x, _one_axis(lo, axis, x.type.ndim, name)


def sort(lo, a, axis=-1, kind=Static(None)):
    lo.constant(kind, "kind")  # every kind gives the same values; the gradient follows the stable order
    x, axis = _sort_axis(lo, _array_operand(lo, a, "sort"), axis, "sort")
    return _sorted(x, axis)


def argsort(lo, a, axis=-1, kind=Static(None)):
    lo.constant(kind, "kind")
    x, axis = _sort_axis(lo, _array_operand(lo, a, "argsort"), axis, "argsort")
    return P.argsort(x, axis=axis)


def _kept(lo, result: Sym, x: Sym, axis, keepdims) -> Sym:
    """`result`, reduced over the (checked) `axis` of `x` (None: all axes), with those axes back as
    1 for keepdims."""
    if not lo.constant(keepdims, "keepdims"):
        return result
    if is_none(axis) or axis is None:
        return P.reshape(result, *(Sym(1) for _ in range(x.type.ndim)))
    return P.expand_dims(result, axis=lo.constant(axis, "axis") % x.type.ndim)


def median(lo, a, axis=None, *, keepdims=False):
    x = _float_operand(lo, _array_operand(lo, a, "median"))
    values, along = _sort_axis(lo, x, axis, "median")
    ordered = _sorted(values, along)
    n = P.dim(ordered, axis=along)
    middle = (_along(ordered, along, IndexInt(), P.floor_divide(n - 1, 2))
              + _along(ordered, along, IndexInt(), P.floor_divide(n, 2)))
    return _kept(lo, middle * 0.5, x, axis, keepdims)


def _at_fraction(ordered: Sym, axis: int, fraction: float) -> Sym:
    """NumPy's 'linear' quantile: between the sorted values at floor and ceil of (n - 1) * fraction."""
    n = P.dim(ordered, axis=axis)
    position = (n - 1) * fraction
    below = P.cast(position, dtype="int64")  # position >= 0: truncation is the floor
    above = P.minimum(below + 1, n - 1)
    weight = P.cast(position - below, dtype=ordered.type.dtype)
    low = _along(ordered, axis, IndexInt(), below)
    return low + (_along(ordered, axis, IndexInt(), above) - low) * weight


def _quantiles(lo, a, q, axis, method, keepdims, scale: float, name: str) -> Sym:
    if lo.constant(method, "method") != "linear":
        lo.refuse(lo.node, f"np.{name} supports method='linear' (the default) only")
    q = lo.constant(q, f"q of np.{name}")
    qs = q if isinstance(q, tuple) else (q,)
    if not qs or not all(isinstance(v, (int, float)) and 0 <= v <= scale for v in qs):
        lo.refuse(lo.node, f"q of np.{name} must be numbers in [0, {scale:g}] written in the call, not {q!r}")
    # NumPy computes with q's float64 when q is a list, with x's float dtype when it is a number
    x = _float_operand(lo, _array_operand(lo, a, name), "float64" if isinstance(q, tuple) else None)
    values, along = _sort_axis(lo, x, axis, name)
    ordered = _sorted(values, along)
    results = [_kept(lo, _at_fraction(ordered, along, v / scale), x, axis, keepdims) for v in qs]
    return stack(lo, tuple(results), 0) if isinstance(q, tuple) else results[0]


def percentile(lo, a, q, axis=None, *, method=Static("linear"), keepdims=False):
    return _quantiles(lo, a, q, axis, method, keepdims, 100.0, "percentile")


def quantile(lo, a, q, axis=None, *, method=Static("linear"), keepdims=False):
    return _quantiles(lo, a, q, axis, method, keepdims, 1.0, "quantile")


# ---------------------------------------------------------------- running sums and differences

def _running(prim, name):
    def lowering(lo, a, axis=None):
        x = lo.operand(a, lo.node)
        if is_none(axis) or axis is None:
            x, along = (flat(lo, x) if x.type.ndim else P.reshape(x, Sym(1))), 0
        else:
            along = _one_axis(lo, axis, _array_operand(lo, a, name).type.ndim, name)
        return prim(x, axis=along)
    lowering.__name__ = name
    return lowering


def _difference(x: Sym, axis: int) -> Sym:
    later = _along(x, axis, IndexSlice(lower=True), 1)
    earlier = _along(x, axis, IndexSlice(upper=True), -1)
    return P.not_equal(later, earlier) if x.type.dtype == "bool" else later - earlier


def diff(lo, a, n=1, axis=-1):
    x = _array_operand(lo, a, "diff")
    axis = _one_axis(lo, axis, x.type.ndim, "diff")
    n = lo.constant(n, "n")
    if not isinstance(n, int) or n < 0:
        lo.refuse(lo.node, f"n of np.diff must be a non-negative int, not {n!r}")
    for _ in range(n):
        x = _difference(x, axis)
    return x


def trapezoid(lo, y, x=Static(None), dx=1.0, axis=-1):
    """NumPy's formula: sum(d * (y[1:] + y[:-1]) / 2) along the axis."""
    y = _array_operand(lo, y, "trapezoid")
    axis = _one_axis(lo, axis, y.type.ndim, "trapezoid")
    if is_none(x):
        spacing = Sym(dx) if isinstance(dx, float) else lo.operand(dx, lo.node)
        if spacing.type.ndim:
            lo.refuse(lo.node, "dx of np.trapezoid must be a number here", "pass the sample points as x")
    else:
        points = _array_operand(lo, x, "trapezoid")
        if points.type.ndim == 1:
            spacing = _difference(points, 0)
            for position in [0] * axis + [axis + 1] * (y.type.ndim - 1 - axis):
                spacing = P.expand_dims(spacing, axis=position)
        elif points.type.ndim == y.type.ndim:
            spacing = _difference(points, axis)
        else:
            lo.refuse(lo.node, "x of np.trapezoid must be 1-D or have y's rank")
    pairs = _along(y, axis, IndexSlice(lower=True), 1) + _along(y, axis, IndexSlice(upper=True), -1)
    return _sum_along(spacing * pairs / 2.0, axis)


# ---------------------------------------------------------------- polynomials, convolution, interpolation

def polyval(lo, p, x):
    """Horner's rule for coefficients written in the call (as NumPy does); for an array of them, the
    sum of p[::-1] times the powers of x, made by a running product (exact gradients at x = 0)."""
    x = lo.operand(x, lo.node)
    if isinstance(p, tuple):
        coefficients = [lo.operand(c, lo.node) for c in p]
        if not coefficients or any(c.type.ndim for c in coefficients):
            lo.refuse(lo.node, "np.polyval needs a 1-D array or a list of numbers as coefficients")
        dtype = P.promote(x.type, *(c.type.with_dtype(P.promote(c.type).dtype) for c in coefficients)).dtype
        x = x if x.type.dtype == dtype and not x.type.weak else P.cast(x, dtype=dtype)
        result = coefficients[0] * P.ones_like(x) if x.type.ndim else P.cast(coefficients[0], dtype=dtype)
        for c in coefficients[1:]:
            result = result * x + c
        return result
    p = lo.operand(p, lo.node)
    if p.type.ndim != 1:
        lo.refuse(lo.node, "np.polyval needs a 1-D array or a list of numbers as coefficients")
    n = P.dim(p, axis=0)
    column = P.expand_dims(x, axis=x.type.ndim) if x.type.ndim else x
    factors = P.where(P.equal(P.arange(0, n, 1), 0), 1.0, column)
    powers = P.cumprod(factors, axis=x.type.ndim)
    return _sum_along(powers * reversed_along(p, 0), x.type.ndim)


def _convolution(lo, a, v, mode, name: str, flipped: bool) -> Sym:
    a, v = (lo.operand(value, lo.node) for value in (a, v))
    if a.type.ndim != 1 or v.type.ndim != 1:
        lo.refuse(lo.node, f"np.{name} takes two 1-D arrays")
    mode = lo.constant(mode, "mode")
    if mode not in ("full", "same", "valid"):
        lo.refuse(lo.node, f"mode {mode!r} of np.{name} is not one of 'full', 'same', 'valid'")
    full = P.convolve(a, reversed_along(v, 0) if flipped else v)
    if mode == "full":
        return full
    n, m = P.dim(a, axis=0), P.dim(v, axis=0)
    shorter, longer = P.minimum(n, m), P.maximum(n, m)
    start = shorter - 1 if mode == "valid" else P.floor_divide(shorter - 1, 2)
    end = longer if mode == "valid" else start + longer
    return P.getitem(full, start, end, index=(IndexSlice(lower=True, upper=True),))


def convolve(lo, a, v, mode=Static("full")):
    return _convolution(lo, a, v, mode, "convolve", False)


def correlate(lo, a, v, mode=Static("valid")):
    return _convolution(lo, a, v, mode, "correlate", True)


def interp(lo, x, xp, fp, left=Static(None), right=Static(None)):
    """slope * (x - xp[j]) + fp[j] on the segment j holding x (NumPy's formula), x clipped to the
    grid, so that outside it the value is fp[0] or fp[-1] and the gradient to x is 0."""
    x, xp, fp = (_float_operand(lo, value, "float64") for value in (x, xp, fp))
    if xp.type.ndim != 1 or fp.type.ndim != 1:
        lo.refuse(lo.node, "xp and fp of np.interp must be 1-D arrays")
    points = flat(lo, x) if x.type.ndim > 1 else x
    segment = P.interp_segment(points, xp)
    index = (IndexArray(),) if points.type.ndim else (IndexInt(),)
    x0, x1 = (P.getitem(xp, j, index=index) for j in (segment, segment + 1))
    f0, f1 = (P.getitem(fp, j, index=index) for j in (segment, segment + 1))
    first, last = (P.getitem(xp, k, index=(IndexInt(),)) for k in (0, -1))
    clipped = P.maximum(P.minimum(points, last), first)
    result = (f1 - f0) / (x1 - x0) * (clipped - x0) + f0
    for bound, outside in ((left, P.less(points, first)), (right, P.greater(points, last))):
        if not is_none(bound):
            result = P.where(outside, _float_operand(lo, bound, "float64"), result)
    return P.reshape(result, *(P.dim(x, axis=k) for k in range(x.type.ndim))) if x.type.ndim > 1 else result


CALLS = {np.var: var, np.std: std, np.median: median, np.percentile: percentile, np.quantile: quantile,
         np.sort: sort, np.argsort: argsort,
         np.cumsum: _running(P.cumsum, "cumsum"), np.cumprod: _running(P.cumprod, "cumprod"), np.diff: diff,
         np.trapezoid: trapezoid, np.polyval: polyval, np.convolve: convolve, np.correlate: correlate,
         np.interp: interp}
if hasattr(np, "trapz"):  # NumPy < 2.0
    CALLS[np.trapz] = trapezoid
# x.sort() sorts in place: not a method here (the fence refuses it as a statement, with a hint).
METHODS = {"var": np.var, "std": np.std, "cumsum": np.cumsum, "cumprod": np.cumprod, "argsort": np.argsort}
