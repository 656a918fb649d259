"""The forward augmented from the residual plans: what each backward loop and `if` reads of its
forward is made there (`transforms/plan.py` decides it; reverse mode builds the backward's reads).

For a loop, a value taped in an array gets `np.empty(trips)` before the loop, carried by it and
stored at the iteration number at the end of each iteration; a value taped in a list gets an
empty list, appended to. The tape after the loop is a new result of the loop: the plan's output,
which the backward reads. For an `if`, a value surfaced from one branch is yielded there (the
other branch yields a placeholder) and becomes a new result of the `if`: the plan's output. The
plans are applied in the order they were made (inner ops first), so an outer loop can tape an
inner loop's tape. A store is attributed to the user's line where the value it stores is made (so
a refusal of the tape, in a second derivative, points there); the other new ops to the line of
the loop or `if`.
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Block, Function, If, IndexInt, Loop, Structured, results_of, walk
from ..rules import primitives as P
from .plan import Keep, Plan


def augment(fn: Function, plans) -> None:
    """Add to `fn` (in place: the forward copy reverse mode made) the tapes and results `plans` name."""
    builder = Builder(fn.loc)
    containing = {id(op): block.ops for block in _blocks(fn.entry) for op in block.ops}
    with builder.active():
        for plan in plans:
            builder.loc = plan.loc
            if isinstance(plan.structured, If):
                _surface(builder, plan)
            else:
                _tape(builder, plan, containing[id(plan.structured)])


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


def _tape(builder: Builder, plan: Plan, ops: list) -> None:
    """A tape per value the plan of loop `plan.structured` tapes, made in `ops` (the block that
    holds the loop) before it and carried by it; the tape after the loop is the plan's output."""
    op: Loop = plan.structured
    body = op.body
    position = ops.index(op)
    made_at = _made_at(op)
    for (value, keep), final in zip(plan.decisions, plan.outputs):
        if keep not in (Keep.ARRAY, Keep.LIST):
            continue
        with builder.nested() as made:
            if keep is Keep.ARRAY:
                empty = P.tape_array(op.trips, dtype=value.type.dtype)
            else:
                known = {"lengths": value.type.lengths} if any(n is not None for n in value.type.lengths) else {}
                empty = P.placeholder(dtype=value.type.dtype, ndim=value.type.ndim, listed=value.type.listed + 1,
                                      units=value.type.units, **known)
        assert empty.type == final.type, (empty.type, final.type)
        ops[position:position] = made
        position += len(made)
        tape = final.renewed()
        builder.loc = made_at.get(id(value), plan.loc)
        with builder.nested(body.ops):
            stored = P.setitem(tape, value, body.args[0], index=(IndexInt(),)) if keep is Keep.ARRAY \
                else P.append(tape, value)
        empty.operand.derived = stored.operand.derived = final.derived
        for block in op.blocks:
            block.args.append(tape if block is body else final.renewed())
        body.terminator.values = tuple(body.terminator.values) + (stored.operand,)
        op.args = tuple(op.args) + (empty.operand,)
        op.results = tuple(op.results) + (final,)
        builder.loc = plan.loc


def _made_at(op: Loop) -> dict:
    """id(value) -> the user's line where a value of the body of `op` is made: its op's, or for a
    carried value, that of the value the body yields for it (made in the iteration before)."""
    body = op.body
    made_at = {id(r): o.loc for o in body.ops for r in results_of(o)}
    for arg, following in zip(op.carried_args(body), body.terminator.values):
        if id(following) in made_at:
            made_at[id(arg)] = made_at[id(following)]
    return made_at
