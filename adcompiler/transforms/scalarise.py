"""Scalarisation: vmap of a function of a few numbers as one loop over the items, each item's arrays
held as numbers.

`scalarise(fn, batched_positions)` makes what `batch` makes of `fn` (transforms/batch.py: the
parameters at `batched_positions` with a leading batch axis of one length k, every result batched)
as a `for` over the k items whose body works on numbers only: each array of an item is an object
array of its elements (operands of numbers), each op made by its primitive's elements rule
(`Primitive.elements`: elementwise primitives element by element, shapes and indexing by moving
elements, sums and products as `+` and `*` of them), each result's elements written at the item's
row. Numba compiles such a loop to machine code that allocates nothing per item, where batching
runs each op of the item as a NumPy call over the batch (bundle adjustment's 2 x 15 Jacobian of each
of 31,843 observations: about 150 NumPy calls over arrays of 2 or 3 columns).

It applies where every value of `fn` is a number or an array of known lengths (`Type.lengths`: a
vmap of small items keys its specialisations by the items' shapes, api.py) of at most SMALL
elements, of float64, int64 or bool, with no control flow and every op an elements rule, and where
the loop's body has at most MOST_OPS ops (Numba's compile time); None otherwise, and batching does
it. Unbatched parameters are read once, before the loop.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.builder import Builder
from ..ir.core import SMALL, Block, Const, For, Function, IndexInt, Return, Structured, Type, Value, Yield
from ..rules import primitives as P
from ..rules.primitive import NoElements, Sym, as_elements
from .batch import batched_type

DTYPES = frozenset({"float64", "int64", "bool"})
# The most ops of numbers a loop body may have: Numba compiles about a thousand a second (ADBench BA's
# vmap(jacrev) makes 431, its vmap(jacfwd) 2,121; a Jacobian of 4 x 4 matrix products 6,336, 11 s).
MOST_OPS = 4096


def scalarise(fn: Function, batched_positions: tuple) -> Function | None:
    """`batch(fn, batched_positions)`'s Function as a loop over the items' numbers (see the module
    docstring), or None where `fn` does not qualify."""
    if not (batched_positions and all(_small(v.type) for v in fn.params) and all(_qualifies(op) for op in fn.entry.ops)):
        return None
    builder = Builder(fn.loc)
    params = [Value(_batched(p.type) if i in batched_positions else p.type, p.hint) for i, p in enumerate(fn.params)]
    returned = fn.entry.terminator
    try:
        with builder.active():
            elements = {id(p): _read(new, ()) for i, (p, new) in enumerate(zip(fn.params, params)) if i not in batched_positions}
            trips = P.dim(Sym(params[batched_positions[0]]), axis=0)
            outputs = [P.zeros(trips, *value.type.lengths, dtype=value.type.dtype) for value in returned.values]
            item = Value(Type("int64", weak=True), "item")
            hints = [getattr(value, "hint", "") for value in returned.values]  # (a literal result has none)
            carried = [Value(out.type, hint) for out, hint in zip(outputs, hints)]
            with builder.nested() as body:
                for i in batched_positions:
                    elements[id(fn.params[i])] = _read(params[i], (item,))
                for op in fn.entry.ops:
                    operands = [elements[id(a)] if isinstance(a, Value) else as_elements(a) for a in op.args]
                    made = op.prim.elements_of(*operands, **op.param_dict)
                    elements[id(op.result)] = _typed(made, op.result.type)
                written = [_written(Sym(row), elements[id(value)] if isinstance(value, Value) else as_elements(value), item)
                           for row, value in zip(carried, returned.values)]
    except NoElements:
        return None
    if len(body) > MOST_OPS:
        return None
    results = tuple(Value(out.type, hint) for out, hint in zip(outputs, hints))
    loop = Block([item, *carried], body, Yield(tuple(w.operand for w in written), returned.loc))
    builder.append(For((trips.operand, *(out.operand for out in outputs)), (loop,), results, returned.loc))
    return Function(fn.name, [Block(params, builder.ops, Return(results, returned.loc))], fn.loc, fn.captured,
                    fn.assumptions, fn.structure)


def _small(t: Type) -> bool:
    return not t.listed and t.dtype in DTYPES and t.shape is not None and math.prod(t.shape) <= SMALL


def _qualifies(op) -> bool:
    return not isinstance(op, Structured) and _small(op.result.type) and (
        op.prim.elements is not None or op.prim.elementwise)


def _batched(t: Type) -> Type:
    """The type of a batch of `t`: its lengths but the batch axis's known."""
    return batched_type(t).with_lengths((None, *t.lengths))


def _read(array: Value, lead: tuple) -> np.ndarray:
    """The elements of `array` past the leading indices `lead` (the item), each read by a getitem."""
    shape = array.type.lengths[len(lead):]
    if not shape and not lead:
        return as_elements(Sym(array))
    out = np.empty(shape, object)
    for index in np.ndindex(shape):
        out[index] = P.getitem(Sym(array), *lead, *index, index=(IndexInt(),) * (len(lead) + len(index)))
    return out


def _typed(elements, result: Type) -> np.ndarray:
    """The elements a rule made, as the op's result type says: a number of another dtype is cast (a
    literal takes the dtype of what it meets, as before); its shape is checked."""
    if elements is None or elements.shape != result.shape:
        raise NoElements(f"an elements rule gave {None if elements is None else elements.shape} for {result}")
    for index in np.ndindex(elements.shape):  # (elements_of's array is new: cast in place)
        e = elements[index]
        if not isinstance(e.operand, Const) and e.type.dtype != result.dtype:
            elements[index] = P.cast(e, dtype=result.dtype)
    return elements


def _written(row: Sym, elements: np.ndarray, item: Value) -> Sym:
    """`row` (the batch's output, zeros) with the item's elements written at [item, ...] (a literal
    zero is there already)."""
    for index in np.ndindex(elements.shape):
        e = elements[index]
        if isinstance(e.operand, Const) and e.operand.value == 0 and not np.signbit(e.operand.value):
            continue
        row = P.setitem(row, e, item, *index, index=(IndexInt(),) * (1 + len(index)))
    return row
