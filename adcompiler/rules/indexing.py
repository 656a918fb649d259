"""Indexing: reads (`x[i, 1:3]`, `x[idx]`, `x[mask]`), their gradient (`index_add`, which
accumulates repeated indices), and element and slice updates (`y[i] = v`, `acc[i] += g`), which
are values in the IR and updates in place where emission proves nothing can tell."""
from __future__ import annotations

from ..ir.core import IndexArray, IndexInt, IndexSlice, Type, basic_index
from .internal import copy
from .primitive import NEW, UPDATE, VIEW, Primitive, Recompute

# ---------------------------------------------------------------- indexing
# An index is a tuple of `IndexItem`s (ir/core.py); the operands after the array are the items'
# values in order.

def _index_parts(index, first: int, slice_text) -> list:
    """The text of each index item, its operands numbered from `first`; a slice's three bounds
    (None where not given) are written by `slice_text`."""
    operand = iter(range(first, first + 3 * len(index)))
    parts = []
    for item in index:
        if isinstance(item, IndexSlice):
            parts.append(slice_text(*(f"_{next(operand)}" if given else None for given in item.given)))
        else:
            parts.append(f"_{next(operand)}")
    return parts


def _index_text(types, index) -> str:
    """Subscript syntax, `_0[_1:_2, _3]`'s inside."""
    return ", ".join(_index_parts(index, 1, _slice_syntax)) or "()"


def _slice_syntax(*bounds) -> str:
    return ":".join(b or "" for b in bounds[:2]) + (f":{bounds[2]}" if bounds[2] else "")


def _slice_objects(types, index) -> str:
    """The same index as a tuple of values, `(slice(_2, _3, None), _4)`, for rt.index_add."""
    parts = _index_parts(index, 2, lambda *bounds: f"slice({', '.join(b or 'None' for b in bounds)})")
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _getitem_type(x: Type, *items: Type, index) -> Type:
    values = iter(items)
    units = []
    for axis, item in enumerate(index):
        if isinstance(item, IndexInt):
            next(values)
        elif isinstance(item, IndexArray):
            array = next(values)
            if array.dtype == "bool":
                return Type(x.dtype, 1)
            units += array.units
        else:
            given = [next(values) for flag in item.given if flag]
            units.append(None if given else x.units[axis])
    units += x.units[len(index):]
    return Type(x.dtype, len(units), False, tuple(units))


# Basic indexing makes a view; an integer or boolean array index makes a new array (NumPy copies).
getitem = Primitive("getitem", None, lambda types, index: f"_0[{_index_text(types, index)}]", _getitem_type,
                    memory=lambda index: VIEW if basic_index(index) else NEW,
                    recompute=lambda index: Recompute.ALWAYS if basic_index(index) else Recompute.NUMBER)
index_add = Primitive("index_add", None,
                      lambda types, index: f"rt.index_add(_0, _1, {_slice_objects(types, index)})",
                      lambda like, g, *items, index: like.with_dtype(g.dtype), memory=NEW)
getitem.defvjp(lambda g, x, *items, out, index: index_add(x, g, *items, index=index))
index_add.defvjp(None, lambda g, like, gg, *items, out, index: getitem(g, *items, index=index))


def _update_text(index, operator: str) -> str:
    return f"_0[{', '.join(_index_parts(index, 2, _slice_syntax)) or '()'}] {operator} _1"


# `y[index] = v` and `y[index] += v` (basic indexes only) as values: a new array, which emission
# writes in place when nothing reads the old one afterwards.
setitem = Primitive("setitem", None, lambda types, index: _update_text(index, "="),
                    lambda y, v, *items, index: y, memory=UPDATE, broadcasts=(1,))


def _region_of(g, items, index):
    """`g[index]`, copied when it is an array: the other rule then zeroes that part of g in place."""
    region = getitem(g, *items, index=index)
    return copy(region) if region.type.ndim else region


setitem.defvjp(lambda g, y, v, *items, out, index: setitem(g, 0.0, *items, index=index),
               lambda g, y, v, *items, out, index: _region_of(g, items, index))
# A loop's stack tape (transforms/plan.py) with `value` written at row k, the iteration: the rows are
# made at k == 0 (`capacity` of them: a `for`'s trip count, or 0 for a `while`, whose stack doubles
# when full), and a value of another shape than the first is a ValueError (rt.tape_push). Linear in
# the stack and the value, like `stack[k] = value`, and differentiated as that.
_ROW = (IndexInt(),)
tape_push = Primitive("tape_push", 4, "_0 = rt.tape_push(_0, _1, _2, _3)", lambda stack, value, k, capacity: stack,
                      memory=UPDATE)
tape_push.defvjp(lambda g, stack, value, k, capacity, out: setitem(g, 0.0, k, index=_ROW),
                 lambda g, stack, value, k, capacity, out: _region_of(g, (k,), _ROW), None, None)
index_accumulate = Primitive("index_accumulate", None,
                             lambda types, index: _update_text(index, "+="),
                             lambda acc, g, *items, index: acc, memory=UPDATE, broadcasts=(1,))
index_accumulate.defvjp(lambda g, acc, gg, *items, out, index: g,
                        lambda g, acc, gg, *items, out, index: getitem(g, *items, index=index))
