"""scipy.special's compositions of primitives: logsumexp (axis, keepdims, b=), softmax and
log_softmax (axis), ndtr; and np.round / np.around (decimals), NumPy's own x * 10**d, rint, / 10**d.

The log-sum-exp family subtracts the maximum along the reduced axes, held constant (its gradient
share cancels exactly) and taken as 0 where it is not finite, as SciPy does: exact at inputs like
1e3 where exp overflows, and so is the gradient (softmax, whose exponentials are at most 1).
adcompiler.nn's softmax and log_softmax (the same maths along the last axis) are lowered as these,
so their gradients have no share of the maximum's to split among ties.
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...rules import primitives as P
from ...rules.primitives import Sym
from .common import is_none, normal_axes


def _sum(x: Sym, axes: tuple, keepdims: bool) -> Sym:
    if len(axes) == x.type.ndim and not keepdims:
        return P.total(x)
    return P.sum_axes(x, axes=axes, keepdims=keepdims)


def _shift(x: Sym, axes: tuple) -> Sym:
    """The maximum of x along `axes` (kept, of length 1), 0 where it is not finite, as a constant."""
    m = P.max_axes(x, axes=axes, keepdims=True)
    return P.stop_gradient(P.where(P.isfinite(m), m, 0.0))


def _float_operand(lo, a) -> Sym:
    x = lo.operand(a, lo.node)
    return x if x.type.is_float else P.cast(x, dtype="float64")


def logsumexp(lo, a, axis=None, b=None, keepdims=False, return_sign=False):
    x = _float_operand(lo, a)
    if lo.constant(return_sign, "return_sign"):
        lo.refuse(lo.node, "scipy.special.logsumexp with return_sign=True is not supported",
                  "use return_sign=False with positive weights b")
    weights = None if b is None or is_none(b) else lo.operand(b, lo.node)
    if weights is not None and weights.type.ndim > x.type.ndim:
        lo.refuse(lo.node, "scipy.special.logsumexp with weights b of more dimensions than a is not supported",
                  "broadcast a to b's shape first")
    keepdims = bool(lo.constant(keepdims, "keepdims"))
    axes = normal_axes(lo, axis, x.type.ndim)
    if x.type.ndim == 0:
        return x if weights is None else x + P.log(weights)
    m = _shift(x, axes)
    terms = P.exp(x - m) if weights is None else weights * P.exp(x - m)
    return P.log(_sum(terms, axes, keepdims)) + (m if keepdims else _sum(m, axes, False))


def softmax(lo, x, axis=None):
    x = _float_operand(lo, x)
    if x.type.ndim == 0:
        return P.exp(x - x)  # 1, of x's type
    axes = normal_axes(lo, axis, x.type.ndim)
    e = P.exp(x - _shift(x, axes))
    return e / P.sum_axes(e, axes=axes, keepdims=True)


def log_softmax(lo, x, axis=None):
    x = _float_operand(lo, x)
    if x.type.ndim == 0:
        return x - x
    axes = normal_axes(lo, axis, x.type.ndim)
    shifted = x - _shift(x, axes)
    return shifted - P.log(P.sum_axes(P.exp(shifted), axes=axes, keepdims=True))


def ndtr(lo, x):
    """The standard normal CDF, 0.5 * erfc(-x / sqrt(2)): accurate in the lower tail too."""
    return 0.5 * P.erfc(-(lo.operand(x, lo.node) * math.sqrt(0.5)))


def around(lo, a, decimals=0):
    x = lo.operand(a, lo.node)
    decimals = lo.constant(decimals, "decimals")
    if not isinstance(decimals, int):
        lo.refuse(lo.node, f"np.round with decimals={decimals!r} is not supported", "pass an integer")
    if not x.type.is_float:
        if decimals < 0:
            lo.refuse(lo.node, "np.round of integers with decimals < 0 is not supported", "round floats")
        return x  # integers are already round
    if decimals == 0:
        return P.rint(x)
    scale = 10.0 ** abs(decimals)
    return P.rint(x * scale) / scale if decimals > 0 else P.rint(x / scale) * scale


def nn_softmax(lo, z):
    return softmax(lo, z, axis=-1)


def nn_log_softmax(lo, z):
    return log_softmax(lo, z, axis=-1)


CALLS = {np.round: around, np.around: around, nn.softmax: nn_softmax, nn.log_softmax: nn_log_softmax}
SCIPY_CALLS = {"scipy.special": {"logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax,
                                 "ndtr": ndtr}}
METHODS = {"round": np.round}
