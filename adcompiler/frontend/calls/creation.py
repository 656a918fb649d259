"""Calls that make arrays: zeros, ones, empty, full (and their _like forms), eye, arange, linspace."""
from __future__ import annotations

import numpy as np

from ...rules import primitives as P
from ...rules.primitives import Sym
from .common import Static, dtype_name, is_none


def _shape(lo, shape) -> list:
    dims = shape if isinstance(shape, tuple) else (shape,)
    return [lo.integer(d, lo.node, "a dimension") for d in dims]


def zeros(lo, shape, dtype=Static(None)):
    return P.zeros(*_shape(lo, shape), dtype=dtype_name(lo, dtype, "float64"))


def ones(lo, shape, dtype=Static(None)):
    return P.ones(*_shape(lo, shape), dtype=dtype_name(lo, dtype, "float64"))


def empty(lo, shape, dtype=Static(None)):
    return P.empty(*_shape(lo, shape), dtype=dtype_name(lo, dtype, "float64"))


def full(lo, shape, fill_value, dtype=Static(None)):
    fill = lo.operand(fill_value, lo.node)
    if fill.type.ndim:
        lo.refuse(lo.node, "np.full needs a scalar fill value")
    default = fill.type.dtype if not fill.type.weak else P.promote(fill.type).dtype
    return P.full(fill, *_shape(lo, shape), dtype=dtype_name(lo, dtype, default))


def zeros_like(lo, a, dtype=Static(None)):
    return _filled_like(lo, a, dtype, P.zeros_like, 0.0)


def ones_like(lo, a, dtype=Static(None)):
    return _filled_like(lo, a, dtype, P.ones_like, 1.0)


def empty_like(lo, a, dtype=Static(None)):
    return _filled_like(lo, a, dtype, P.empty_like, 0.0)


def _filled_like(lo, a, dtype, prim, scalar: float) -> Sym:
    """`prim(a)` of dtype `dtype`; of a scalar `a`, the number `scalar` (np.empty_like of a
    scalar is an unspecified number: 0.0 is as good as any)."""
    x = lo.operand(a, lo.node)
    dtype = dtype_name(lo, dtype, x.type.dtype)
    made = prim(x) if x.type.ndim else Sym(scalar)
    return made if made.type.dtype == dtype and not made.type.weak else P.cast(made, dtype=dtype)


def eye(lo, N, dtype=Static(None)):
    return P.eye(lo.integer(N, lo.node, "a dimension"), dtype=dtype_name(lo, dtype, "float64"))


def arange(lo, start, stop=Static(None), step=Sym(1)):
    start, stop = (Sym(0), start) if is_none(stop) else (start, stop)
    return P.arange(*(lo.operand(v, lo.node) for v in (start, stop, step)))


def linspace(lo, start, stop, num=Sym(50)):
    return P.linspace(*(lo.operand(v, lo.node) for v in (start, stop)), lo.integer(num, lo.node, "a number of points"))


CALLS = {np.zeros: zeros, np.ones: ones, np.empty: empty, np.full: full, np.zeros_like: zeros_like,
         np.ones_like: ones_like, np.empty_like: empty_like, np.eye: eye, np.arange: arange, np.linspace: linspace}
