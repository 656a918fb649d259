"""The forward augmented from the residual plans: what each backward loop and `if` reads of its
forward is made there (`transforms/plan.py` decides it; reverse mode builds the backward's reads).

For a loop, a value taped in an array, or in a stack whose rows' lengths the plan computes before
a `for` (`Plan.rows`), gets `np.empty((trips, *lengths))` before the loop (`tape_array`), carried
by it and stored at the iteration number (`tape_row`); where that tape's rows are an inner loop's
such tape, the inner loop carries the outer tape instead and stores at both iteration numbers
(`_Rows.widened`): one array, no tape made per iteration. Any other stack gets an empty array
before the loop, pushed to at the iteration number (`tape_push`: the rows are made at the first
push, doubled when a `while` fills them; a `while` gets a carried count of its iterations for this). Both copy, so
they are stored right where the value is made, and later updates of it in the iteration stay in
place (stored at the end, an array updated element by element in an inner loop would be copied
at every element). A value taped in a list gets an empty list, appended to at the end of the
iteration (a list holds a reference). The tape after the loop is a new result of the loop: the plan's output,
which the backward reads. For an `if`, a value surfaced from one branch is yielded there (the
other branch yields a placeholder) and becomes a new result of the `if`: the plan's output. The
plans are applied in the order they were made (inner ops first), so an outer loop can tape an
inner loop's tape. A store is attributed to the user's line where the value it stores is made (so
a refusal of the tape, in a second derivative, points there); the other new ops to the line of
the loop or `if`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.builder import Builder
from ..ir.core import Block, Const, For, Function, If, IndexInt, Loop, Structured, Type, Value, results_of, walk
from ..rules import primitives as P
from ..rules.primitives import Sym
from .plan import TAPED, Keep, Length, Plan


def augment(fn: Function, plans) -> None:
    """Add to `fn` (in place: the forward copy reverse mode made) the tapes and results `plans` name."""
    builder = Builder(fn.loc)
    containing = {id(op): block.ops for block in _blocks(fn.entry) for op in block.ops}
    rows = {}  # id(a tape made before its loop) -> its _Rows, until an outer loop's tape takes it in
    with builder.active():
        for plan in plans:
            builder.loc = plan.loc
            if isinstance(plan.structured, If):
                _surface(builder, plan)
            else:
                _tape(builder, plan, containing[id(plan.structured)], rows)


def _blocks(block: Block):
    yield block
    for op in walk(block.ops):
        if isinstance(op, Structured):
            yield from op.blocks


def _surface(builder: Builder, plan: Plan) -> None:
    """The values of branch `plan.branch` that its backward reads, yielded by the `if` as the
    plan's outputs (placeholders from the other branch)."""
    op = plan.structured
    needed = [value for value, _ in plan.decisions]
    for number, block in enumerate(op.blocks):
        if number == plan.branch:
            values = tuple(needed)
        else:
            with builder.nested(block.ops):
                values = tuple(P.placeholder(dtype=v.type.dtype, ndim=v.type.ndim, listed=v.type.listed).operand
                               for v in needed)
        block.terminator.values = tuple(block.terminator.values) + values
    op.results = tuple(op.results) + plan.outputs


def _tape(builder: Builder, plan: Plan, ops: list, rows: dict) -> None:
    """A tape per value the plan of loop `plan.structured` tapes, made in `ops` (the block that
    holds the loop) before it and carried by it; the tape after the loop is the plan's output.
    A tape whose rows' lengths are known before a `for` is made there whole (`rows`: the _Rows
    made so far); one whose rows are an inner loop's such tape takes it in (_Rows.widened)."""
    op: Loop = plan.structured
    body = op.body
    position = ops.index(op)
    made_at = _made_at(op)
    k = body.args[0] if isinstance(op, For) else None
    for (value, keep), final, lengths in zip(plan.decisions, plan.outputs, plan.rows or [None] * len(plan.decisions)):
        if keep not in TAPED:
            continue
        if k is None and keep is Keep.STACK:
            k = _counted(builder, op)
        known = {"lengths": final.type.lengths} if any(n is not None for n in final.type.lengths) else {}
        with builder.nested() as made:
            if lengths is not None:
                empty = P.tape_array(op.trips, *map(_computed, lengths), dtype=value.type.dtype, units=final.type.units,
                                     **known)
            else:
                empty = P.placeholder(dtype=final.type.dtype, ndim=final.type.ndim, listed=final.type.listed,
                                      units=final.type.units, **known)
        assert empty.type == final.type, (empty.type, final.type)
        ops[position:position] = made
        position += len(made)
        tape = final.renewed()
        inner = rows.pop(id(value), None) if lengths is not None else None
        if inner is not None and any(o is inner.loop for o in body.ops):
            stored, stores = inner.widened(tape, k, final.type), inner.stores
        else:
            builder.loc = made_at.get(id(value), plan.loc)
            with builder.nested() as store:
                if lengths is not None:
                    stored = P.tape_row(tape, value, k, index=(IndexInt(),)).operand
                elif keep is Keep.STACK:
                    stored = P.tape_push(tape, value, k, op.trips if isinstance(op, For) else 0).operand
                else:
                    stored = P.append(tape, value).operand
            at = len(body.ops) if keep is Keep.LIST else _after_made(body, value)
            body.ops[at:at] = store
            inner, stores = None, store[-1:]
        empty.operand.derived = final.derived
        if inner is None:  # (a loop's result taken in keeps its name: the tape of the inner value)
            stored.derived = final.derived
        _carry(op, tape, final, empty.operand, stored)
        if lengths is not None and type(op) is For:
            chain = [*(block.args[-1] for block in op.blocks), stored, final, *(inner.chain if inner else ())]
            rows[id(final)] = _Rows(made, ops, op, final, chain, stores)
        builder.loc = plan.loc


@dataclass
class _Rows:
    """A tape made whole before `loop` by the ops `made` (in `ops`, the block holding the loop),
    written in place by `stores` (tape_row ops, in the loop's body or deeper), the loop's result
    `final`; `chain`: the values that stand for it (block arguments, stores' results, loop results)."""

    made: list
    ops: list
    loop: For
    final: Value
    chain: list
    stores: list

    def widened(self, outer: Value, k: Value, kind: Type) -> Value:
        """The loop's result, with the tape made instead as row `k` of `outer`, the tape (of type
        `kind`) of a loop around it: the stores write there, at `k` first."""
        initial = self.made[-1].result
        self.ops[:] = [o for o in self.ops if not any(o is m for m in self.made)]
        self.loop.args = tuple(outer if a is initial else a for a in self.loop.args)
        for value in self.chain:
            value.type = kind
        for store in self.stores:
            index = store.param_dict["index"]
            store.args = (*store.args[:2], k, *store.args[2:])
            store.params = tuple(sorted({**store.param_dict, "index": (IndexInt(), *index)}.items()))
        return self.final


def _computed(length):
    """The number a plan's Length (or literal) names, computed by new ops."""
    if not isinstance(length, Length):
        return length
    if length.prim is None:
        (value,) = length.operands
        return P.dim(value, axis=length.params["axis"]) if length.params else value
    return length.prim(*map(_computed, length.operands), **length.params)


def _after_made(body: Block, value: Value) -> int:
    """The position in `body` just after `value` is made (0 for one of its arguments). A copying store
    (a row of a stack, an element of an array) goes there, so that updates of the value later in the
    iteration may be made in place; a list keeps a reference, so its append stays at the end."""
    for position, op in enumerate(body.ops):
        if any(result is value for result in results_of(op)):
            return position + 1
    return 0


def _carry(op: Loop, arg, final, initial, following) -> None:
    """Make loop `op` carry one more value: block argument `arg` of its body (a renewed one in
    its other blocks), from `initial`, yielding `following`, with result `final`."""
    for block in op.blocks:
        block.args.append(arg if block is op.body else final.renewed())
    op.body.terminator.values = tuple(op.body.terminator.values) + (following,)
    op.args = tuple(op.args) + (initial,)
    op.results = tuple(op.results) + (final,)


def _counted(builder: Builder, op: Loop):
    """A count of the iterations of `while` loop `op` that its body reads (0 in the first one),
    carried by it."""
    count = Value(Type("int64"), "count")
    with builder.nested(op.body.ops):
        following = Sym(count) + 1
    _carry(op, count, Value(Type("int64"), "count"), Const(0), following.operand)
    return count


def _made_at(op: Loop) -> dict:
    """id(value) -> the user's line where a value of the body of `op` is made: its op's, or for a
    carried value, that of the value the body yields for it (made in the iteration before)."""
    body = op.body
    made_at = {id(r): o.loc for o in body.ops for r in results_of(o)}
    for arg, following in zip(op.carried_args(body), body.terminator.values):
        if id(following) in made_at:
            made_at[id(arg)] = made_at[id(following)]
    return made_at
