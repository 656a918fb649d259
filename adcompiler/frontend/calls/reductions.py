"""np.sum, np.mean, np.max, np.min and np.prod of everything or along axes, with keepdims."""
from __future__ import annotations

import numpy as np

from ...rules import primitives as P
from .common import normal_axes


FULL_REDUCTIONS = {"sum": P.total, "mean": P.mean, "max": P.amax, "min": P.amin, "prod": P.prod}
AXIS_REDUCTIONS = {"sum": P.sum_axes, "mean": P.mean_axes, "max": P.max_axes, "min": P.min_axes,
                   "prod": P.prod_axes}


def _reduction(name):
    def lowering(lo, a, axis=None, keepdims=False):
        x = lo.operand(a, lo.node)
        axes = normal_axes(lo, axis, x.type.ndim)
        keepdims = bool(lo.constant(keepdims, "keepdims"))
        if x.type.ndim == 0:
            return P.cast(x, dtype=P.floating(x.type).dtype) if name == "mean" else x
        if len(axes) == x.type.ndim and not keepdims:
            return FULL_REDUCTIONS[name](x)
        if name != "prod":
            return AXIS_REDUCTIONS[name](x, axes=axes, keepdims=keepdims)
        for axis in reversed(axes):  # from the last, so the other axes keep their numbers
            x = P.prod_axes(x, axes=(axis,), keepdims=keepdims)
        return x
    lowering.__name__ = name
    return lowering


CALLS = {np.sum: _reduction("sum"), np.mean: _reduction("mean"), np.max: _reduction("max"),
         np.amax: _reduction("max"), np.min: _reduction("min"), np.amin: _reduction("min"),
         np.prod: _reduction("prod")}
METHODS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}
