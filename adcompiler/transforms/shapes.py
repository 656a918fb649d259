"""Which values' shapes depend on data: what a Jacobian refuses for its output, whose shape must be
fixed by the argument types (and the values of integer arguments, which are sizes).

Invariant: `data_shaped(fn)` is the op that first makes a returned value's shape depend on the
values in float or bool arguments, or None. Data are those values and what is computed from them
(not their sizes: `size`, `dim`). A shape depends on data where an operand's does, where a
non-elementwise op reads a boolean datum (a mask) or an integer number that is one (a slice bound,
a size; integer arrays gather, and only their shapes count) or a library call reads any datum
(np.unique), and where a branch or loop chosen by data gives arrays whose
lengths may differ (their types disagree about which axes have length 1) by branch or trip.
"""
from __future__ import annotations

from ..ir.core import Function, IndexInt, Loop, Structured, Value, index_items
from ..rules import primitives as P

_SIZES = (P.size, P.dim)
_LIBRARY = (P.library_value, P.library_index)
# Reductions: the result's shape is the operand's without the reduced axes, whatever its values
# (a count of a boolean mask, as the gradient of np.min along an axis makes, has a fixed shape).
_REDUCTIONS = (P.total, P.mean, P.amax, P.amin, P.prod, P.sum_axes, P.mean_axes, P.max_axes, P.min_axes, P.prod_axes)


def data_shaped(fn: Function):
    """The op (or structured op) where the shape of a returned value first depends on data, or None."""
    data = {id(p) for p in fn.params if p.type.dtype in ("float32", "float64", "bool")}
    shaped: dict = {}  # id(value) -> the op that made its shape depend on data

    def has(ids, operand):
        return isinstance(operand, Value) and id(operand) in ids

    def carry(source, target):
        if has(data, source):
            data.add(id(target))
        if has(shaped, source):
            shaped.setdefault(id(target), shaped[id(source)])

    def visit(ops):
        for op in ops:
            if isinstance(op, Structured):
                structured(op)
                continue
            if op.prim not in _SIZES and any(has(data, a) for a in op.args):
                data.add(id(op.result))
            cause = next((shaped[id(a)] for a in op.args if has(shaped, a)), None)
            if cause is None and not op.prim.elementwise and op.prim not in _REDUCTIONS and any(
                    has(data, a) and (op.prim in _LIBRARY or a.type.dtype == "bool" or
                                      a.type.ndim == 0 and a.type.dtype == "int64") for a in _shaping(op)):
                cause = op
            if cause is not None:
                shaped[id(op.result)] = cause

    def structured(op):
        for _ in range(len(op.inits) + 1):  # a loop: until what its body carries settles
            for block in op.blocks:
                for init, arg in zip(op.inits, op.carried_args(block)):
                    carry(init, arg)
                visit(block.ops)
                if isinstance(op, Loop):
                    for value, arg in zip(op.body.terminator.values, op.carried_args(block)):
                        carry(value, arg)
        chosen = any(has(data, a) for a in op.args[:len(op.args) - len(op.inits)]) or (
            op.test is not None and has(data, op.test.terminator.values[0]))  # by data: cond, trips, test
        yields = [b.terminator.values for b in op.blocks if b is not op.test]
        for position, result in enumerate(op.carried_results):
            sources = [y[position] for y in yields] + ([op.inits[position]] if isinstance(op, Loop) else [])
            for source in sources:
                carry(source, result)
            if chosen:
                data.add(id(result))
                if len({s.type.units for s in sources}) > 1:
                    shaped.setdefault(id(result), op)

    visit(fn.entry.ops)
    return next((shaped[id(v)] for v in fn.entry.terminator.values if has(shaped, v)), None)


def _shaping(op) -> tuple:
    """The operands of `op` whose values may decide its result's shape: all but its array operand
    and integer index items for indexing (an integer drops its axis whatever its value)."""
    if "index" not in op.param_dict:
        return op.args
    first = 1 + ("index_add" == op.prim.name or op.prim.updates)
    return tuple(operand for _, item, operands in index_items(op.param_dict["index"], op.args[first:])
                 if not isinstance(item, IndexInt) for operand in operands)
