"""The primitive table: every primitive of the IR, declared by family (elementwise.py, shapes.py,
reductions.py, linalg.py, indexing.py, creation.py, internal.py; the record itself in primitive.py),
and the NumPy and `math` functions that are one primitive each (each declares its own `binds`)."""
from __future__ import annotations

from . import creation, elementwise, indexing, internal, linalg, reductions, shapes
from .elementwise import (
    absolute, add, arccos, arcsin, arctan, cast, cos, cosh, div, equal, exp, exp2, expm1, floor_divide,
    greater, greater_equal, less, less_equal, log, log10, log1p, log2, logical_not, maximum, minimum, mul,
    neg, not_equal, power, remainder, sign, sin, sinh, sqrt, sub, tan, tanh, where)
from .shapes import (
    broadcast_like, dim, expand_dims, permute, reshape, size, squeeze, transpose, unbroadcast)
from .reductions import (
    amax, amin, max_axes, mean, mean_axes, min_axes, prod, prod_axes, prod_others, prod_others_all, sum_axes,
    total)
from .linalg import (
    matmul, outer)
from .indexing import (
    getitem, index_accumulate, index_add, setitem)
from .creation import (
    arange, eye, full, linspace, ones, ones_like, zeros, zeros_like)
from .internal import (
    append, copy, fresh, list_get, placeholder, stop_gradient, tape_array, trip_count, weak)
from .primitive import BUFFER, IDENTITY, NEW, UPDATE, VIEW, Memory, Primitive, Recompute, Sym, as_operand
from .primitive import broadcast_units, floating, is_const, join, promote, same_type


FAMILIES = (elementwise, shapes, reductions, linalg, internal, indexing, creation)  # each after those it imports
ALL = tuple(dict.fromkeys(value for family in FAMILIES for value in vars(family).values()
                          if isinstance(value, Primitive)))

# NumPy and math functions that are one primitive each (the rest are lowered in frontend/calls.py).
FUNCTIONS: dict = {}
for _prim in ALL:
    for _function in _prim.binds:
        assert FUNCTIONS.setdefault(_function, _prim) is _prim, f"{_function} is bound to two primitives"

__all__ = [  # the table: every primitive and what rules are written with
    "absolute", "add", "arccos", "arcsin", "arctan", "cast", "cos", "cosh", "div", "equal", "exp", "exp2",
    "expm1", "floor_divide", "greater", "greater_equal", "less", "less_equal", "log", "log10", "log1p",
    "log2", "logical_not", "maximum", "minimum", "mul", "neg", "not_equal", "power", "remainder", "sign",
    "sin", "sinh", "sqrt", "sub", "tan", "tanh", "where", "broadcast_like", "dim", "expand_dims", "permute",
    "reshape", "size", "squeeze", "transpose", "unbroadcast", "amax", "amin", "max_axes", "mean", "mean_axes",
    "min_axes", "prod", "prod_axes", "prod_others", "prod_others_all", "sum_axes", "total", "matmul", "outer",
    "getitem", "index_accumulate", "index_add", "setitem", "arange", "eye", "full", "linspace", "ones",
    "ones_like", "zeros", "zeros_like", "append", "copy", "fresh", "list_get", "placeholder", "stop_gradient",
    "tape_array", "trip_count", "weak", "BUFFER", "IDENTITY", "NEW", "UPDATE", "VIEW", "Memory", "Primitive",
    "Recompute", "Sym", "as_operand", "broadcast_units", "floating", "is_const", "join", "promote",
    "same_type"]
