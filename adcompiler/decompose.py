"""Whether a loss decomposes over a batch, read from its lowered IR: `combination(primal, batch)`
says how the losses (and gradients) of shards of the batch combine into the whole batch's, or
refuses with a `CompileError` at the op where the batch stops being separable.

The batch parameters' first axis is the batch axis, of length n. Each value gets a class:

- free (no entry): does not depend on the batch (parameters, constants, what is made of them);
- `Rows(p)`: an array whose axis 0 is the batch axis and whose row i is n^p times a function of row
  i of the batch parameters and of free values only (per-example terms, scaled by a power of n);
- `Scale(p)`: a free value times n^p (p != 0): the batch size, `X.shape[0]`, `1 / x.size`;
- `Total(p, offset)`: a free value times n^p times a sum over the batch axis of per-example
  terms (`np.sum`, `np.mean` of Rows, linear arithmetic of such sums); `offset`: plus a free term
  (a regulariser).

Every other dependence on the batch (a max over the batch axis, a reshape, a transpose, a loop
that reads the batch, a product of two sums) is refused. The loss must be a `Total(0)` without
offset, whose shards' losses add up ("sum"), or a `Total(-1)`, n^-1 times a sum plus perhaps a free
term, whose shards' losses weighted by n_s / n add up to the whole ("mean"; the weights sum to 1, so
the free term is counted once). A sum plus a free term would count that term once per shard, and is
refused. The rules are of the primitives' recorded kinds (elementwise ufuncs and the axis
reductions) and of a few named ones (matmul, indexing, shapes); any other op that reads the batch
is refused, so the analysis errs only towards refusing.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import CompileError
from .ir.core import Const, Function, IndexSlice, Structured, Value, basic_index, walk


@dataclass(frozen=True)
class Rows:
    power: int = 0


@dataclass(frozen=True)
class Scale:
    power: int


@dataclass(frozen=True)
class Total:
    power: int
    offset: bool = False


class _Refused(Exception):
    """Raised by a rule: the op's result depends on the batch in a way that does not decompose."""


HINT = ("data_parallel splits the batch: the loss must be a sum or a mean over the batch axis (axis 0 of the "
        "batch arguments) of per-example terms, plus, with a mean, terms that do not depend on the batch")


def combination(primal: Function, batch: tuple, title: str) -> str:
    """"sum" or "mean": how shards' losses combine (weights 1, or n_s / n) for `primal`, whose
    flat parameters at the positions `batch` hold the batch (axis 0); a CompileError otherwise."""
    classes: dict = {}
    for position in batch:
        param = primal.params[position]
        if param.type.ndim == 0:
            raise CompileError(f"{title}: the batch argument {param.hint} is a scalar, with no batch axis", primal.loc,
                               "name the arguments whose first axis is the batch")
        classes[id(param)] = Rows(0)
    for op in primal.entry.ops:
        operands = [_class(classes, a) for a in _reads(op)]
        if all(c is None for c in operands):
            continue  # free
        if isinstance(op, Structured):
            raise CompileError(f"{title}: a loop or `if` reads the batch, so the loss may not decompose over it",
                               op.loc, HINT)
        try:
            result = _rule(op, operands)
        except _Refused as refusal:
            raise CompileError(f"{title}: the loss does not decompose over the batch: {refusal}", op.loc,
                               HINT) from None
        if result is not None:
            classes[id(op.result)] = result
    out = _class(classes, primal.entry.terminator.values[0])
    if out == Total(0):
        return "sum"
    if isinstance(out, Total) and out.power == -1:
        return "mean"
    what = {None: "does not depend on the batch", Total(0, True): "is a sum over the batch plus a term that does "
            "not depend on it (a shard would count that term once each)"}.get(
        out, "is not a sum or mean over the batch")
    raise CompileError(f"{title}: the loss {what}", primal.entry.terminator.loc or primal.loc, HINT)


def _reads(op) -> list:
    """The values `op` reads, with those its nested blocks read (for a structured op)."""
    if not isinstance(op, Structured):
        return list(op.args)
    values = list(op.args)
    for inner in walk([op]):
        values.extend(inner.args)
        if isinstance(inner, Structured):
            values.extend(v for block in inner.blocks for v in block.terminator.values)
    return values


def _class(classes: dict, value):
    return None if isinstance(value, Const) or not isinstance(value, Value) else classes.get(id(value))


LINEAR = {"add", "sub", "mul", "div", "neg", "cast"}  # what sums and scales may go through


def _rule(op, operands: list):
    """The class of `op`'s result from its operands' (at least one not free); _Refused otherwise."""
    name, params, result = op.prim.name, op.param_dict, op.result.type
    if name in ("dim", "size"):
        (x,) = operands
        if not isinstance(x, Rows):
            raise _Refused(f"`{name}` of a value that is not per-example")
        return Scale(1) if name == "size" or params["axis"] == 0 else None
    if any(isinstance(c, (Scale, Total)) for c in operands):
        return _linear(name, operands, result)
    if name in ("sum", "mean", "sum_axes", "mean_axes", "max_axes", "min_axes", "prod_axes"):
        return _reduction(name, params, operands[0], op.args[0].type)
    if name == "stop_gradient":  # the value itself; of a per-example value, per-example constants
        return operands[0]
    if op.prim.ufunc or op.prim.broadcasts is True or name in ("where", "cast"):
        return _elementwise(name, operands, op.args, result)
    if name == "matmul":
        (a, b), (ta, tb) = operands, (op.args[0].type, op.args[1].type)
        # rows times a free matrix, or a stack of them that does not move the batch axis from axis 0
        if isinstance(a, Rows) and b is None and ta.ndim >= 2 and (
                tb.ndim <= 2 or tb.ndim < ta.ndim or (tb.ndim == ta.ndim and tb.units[0] is True)):
            return a
        raise _Refused("a matrix product that mixes examples (the batch is not the rows of its left operand)")
    if name == "getitem" and isinstance(operands[0], Rows) and all(c is None for c in operands[1:]):
        index = params["index"]
        if basic_index(index) and index and index[0] == IndexSlice():
            return operands[0]  # x[:, ...]: each row indexed alike
        raise _Refused("an index that picks examples (only x[:, ...] keeps the batch axis)")
    if name in ("expand_dims", "squeeze") and isinstance(operands[0], Rows) and params["axis"] > 0:
        return operands[0]
    raise _Refused(f"`{name}` of a value that depends on the batch")


def _reduction(name: str, params: dict, x, operand_type):
    axes = params.get("axes", tuple(range(operand_type.ndim)))
    if not isinstance(x, Rows):
        raise _Refused(f"`{name}` of a value that is not per-example")
    if 0 not in axes:
        if x.power and not name.startswith(("sum", "mean")):
            raise _Refused(f"`{name}` of per-example terms scaled by the batch size")
        return x  # each row reduced on its own
    if not name.startswith(("sum", "mean")):
        raise _Refused(f"`{name}` over the batch axis (only sums and means decompose)")
    return Total(x.power - name.startswith("mean"))


def _elementwise(name: str, operands: list, args: tuple, result):
    """Per-example terms combined with free values elementwise: rows again, when the batch axis is
    axis 0 of every operand that has it and no free operand has a batch axis of its own."""
    powers = {c.power for c in operands if isinstance(c, Rows)}
    for c, arg in zip(operands, args):
        t = arg.type if isinstance(arg, Value) else None
        if isinstance(c, Rows) and t.ndim != result.ndim:
            raise _Refused(f"`{name}` broadcasts per-example terms along a new leading axis")
        if c is None and t is not None and t.ndim == result.ndim and t.ndim and t.units[0] is not True:
            raise _Refused(f"`{name}` of per-example terms and a value whose first axis is not of length 1")
    if powers == {0}:
        return Rows(0)
    scaled = [c for c in operands if isinstance(c, Rows)]
    if name in ("mul", "div", "neg", "cast") and len(scaled) == 1 and (name != "div" or operands[0] is scaled[0]):
        return scaled[0]
    if name in ("add", "sub") and len(powers) == 1 and all(c is not None for c in operands):
        return scaled[0]
    raise _Refused(f"`{name}` of per-example terms scaled by the batch size")


def _linear(name: str, operands: list, result):
    """Sums over the batch and powers of its size through linear arithmetic."""
    if name in ("sum", "mean", "sum_axes", "mean_axes") and isinstance(operands[0], Total):
        return operands[0]  # a sum over other axes of a sum over the batch: still linear in it
    if name not in LINEAR or (name == "cast" and not result.is_float):
        raise _Refused(f"`{name}` of a sum over the batch or of its size")
    if name in ("neg", "cast"):
        return operands[0]
    a, b = operands
    if name in ("add", "sub"):
        if isinstance(a, Total) and isinstance(b, Total) and a.power == b.power:
            return Total(a.power, a.offset or b.offset)
        total, other = (a, b) if isinstance(a, Total) else (b, a)
        if isinstance(total, Total) and other is None:
            return Total(total.power, True)
        raise _Refused("a sum of terms scaled by different powers of the batch size")
    power_a, power_b = _power(a), _power(b)
    power = power_a + power_b if name == "mul" else power_a - power_b
    totals = [c for c in operands if isinstance(c, Total)]
    if name == "div" and isinstance(b, (Total, Rows)):
        raise _Refused("a division by a sum over the batch")
    if len(totals) == 2 or any(isinstance(c, Rows) for c in operands):
        if any(isinstance(c, Rows) for c in operands) and not totals:
            return Rows(power)  # per-example terms times a power of the batch size
        raise _Refused("a product of two sums over the batch, or of a sum and per-example terms")
    if totals:
        if totals[0].offset and power != totals[0].power:
            raise _Refused("a sum plus a free term, scaled by the batch size")
        return Total(power, totals[0].offset)
    return Scale(power) if power else None


def _power(c) -> int:
    return 0 if c is None else c.power
