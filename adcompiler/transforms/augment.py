"""The forward augmented from the residual plans: what each backward loop and `if` reads of its
forward is made there (`transforms/plan.py` decides it; reverse mode builds the backward's reads).

For a loop, a value taped in an array gets `np.empty(trips)` before the loop, carried by it and
stored at the iteration number; a value taped in a stack gets an empty array before the loop,
pushed to at the iteration number (`tape_push`: the rows are made at the first push, doubled when
a `while` fills them; a `while` gets a carried count of its iterations for this). Both copy, so
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

from ..ir.builder import Builder
from ..ir.core import Block, Const, For, Function, If, IndexInt, Loop, Structured, Type, Value, results_of, walk
from ..rules import primitives as P
from ..rules.primitives import Sym
from .plan import TAPED, Keep, Plan


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
    k = body.args[0] if isinstance(op, For) else None
    for (value, keep), final in zip(plan.decisions, plan.outputs):
        if keep not in TAPED:
            continue
        if k is None and keep is Keep.STACK:
            k = _counted(builder, op)
        with builder.nested() as made:
            if keep is Keep.ARRAY:
                empty = P.tape_array(op.trips, dtype=value.type.dtype)
            else:
                known = {"lengths": final.type.lengths} if any(n is not None for n in final.type.lengths) else {}
                empty = P.placeholder(dtype=final.type.dtype, ndim=final.type.ndim, listed=final.type.listed,
                                      units=final.type.units, **known)
        assert empty.type == final.type, (empty.type, final.type)
        ops[position:position] = made
        position += len(made)
        tape = final.renewed()
        builder.loc = made_at.get(id(value), plan.loc)
        with builder.nested() as store:
            if keep is Keep.ARRAY:
                stored = P.setitem(tape, value, k, index=(IndexInt(),))
            elif keep is Keep.STACK:
                stored = P.tape_push(tape, value, k, op.trips if isinstance(op, For) else 0)
            else:
                stored = P.append(tape, value)
        at = len(body.ops) if keep is Keep.LIST else _after_made(body, value)
        body.ops[at:at] = store
        empty.operand.derived = stored.operand.derived = final.derived
        _carry(op, tape, final, empty.operand, stored.operand)
        builder.loc = plan.loc


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
