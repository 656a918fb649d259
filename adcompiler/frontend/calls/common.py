"""What the lowerings of NumPy calls share: compile-time objects, pending methods, and the checks
of axes, dtypes and sequences."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.core import SUPPORTED_DTYPES
from ...rules import primitives as P
from ...rules.primitives import Sym


@dataclass(frozen=True)
class Static:
    """A Python object known at compile time (a module, a function, a dtype, None)."""

    obj: object


@dataclass(frozen=True)
class ListRows:
    """A list grown by a loop, one item per iteration: the items are the rows of `rows`."""

    rows: Sym

    def array(self) -> Sym:
        """What NumPy makes of the list (np.array, sum): a new array in NumPy, its rows in the
        generated code (`fresh`), checked not to be none when they are arrays (NumPy's empty list
        has shape (0,))."""
        return P.fresh(P.nonempty_rows(self.rows)) if self.rows.type.ndim > 1 else self.rows


@dataclass(frozen=True)
class Method:
    """`receiver.name`, waiting to be called."""

    receiver: Sym
    name: str


def normal_axes(lo, axis, ndim: int) -> tuple:
    """`axis` (None, an int or a tuple of ints) as sorted non-negative axes of an `ndim`-D array."""
    axis = lo.constant(axis, "axis")
    axes = tuple(range(ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    normal = []
    for a in axes:
        if not isinstance(a, int) or not -max(ndim, 1) <= a < max(ndim, 1):
            lo.refuse(lo.node, f"axis {a} is out of range for a {ndim}-D array",
                      f"use an axis from {-max(ndim, 1)} to {max(ndim, 1) - 1}")
        normal.append(a % ndim if ndim else 0)
    if len(set(normal)) != len(normal):
        lo.refuse(lo.node, f"axis {axis} repeats an axis", "name each axis once")
    return tuple(sorted(normal)) if ndim else ()


def dtype_name(lo, dtype, default):
    if is_none(dtype):
        return default
    name = np.dtype(lo.constant(dtype, "dtype")).name
    if name not in SUPPORTED_DTYPES:
        lo.refuse(lo.node, f"dtype {name} is not supported", f"use one of {', '.join(SUPPORTED_DTYPES)}")
    return name


def flat(lo, x: Sym) -> Sym:
    if x.type.ndim == 0:
        lo.refuse(lo.node, "a scalar cannot be flattened", "use a 1-D array")
    return x if x.type.ndim == 1 else P.reshape(x, Sym(-1))


def sequence(lo, arrays) -> tuple:
    if not isinstance(arrays, tuple) or not arrays:
        lo.refuse(lo.node, "pass the arrays as a list or tuple written in the call, such as [a, b]")
    return arrays


def is_none(value) -> bool:
    return isinstance(value, Static) and value.obj is None


def hashable(obj) -> bool:
    """Whether `obj` can be looked up in a table of functions."""
    try:
        hash(obj)
    except TypeError:
        return False
    return True
