"""Checkpointing: loops whose backward recomputes each iteration from a snapshot of its carried
values instead of reading a tape of what the iteration made.

A `Checkpointed` loop (ir/core.py) is what the user marks (`for i in checkpoint(range(n))`, or a
`checkpoint(f)` call, lowered as a loop of one iteration: frontend/checkpoint.py) or what `budgeted`
makes of a long `for` loop under `grad(f, memory=...)`. Reverse mode treats it as any loop, except
that its backward body is `recomputed_body`: the body, as a function of the iteration number, the
carried values and the active outer values it reads, is differentiated on its own (`reverse`), and
that function's forward (with its own tapes) then its backward are spliced into the backward body.
What the backward body then reads of the forward body is only the iteration number and the carried
values, which the loop's residual plan tapes: the snapshots. Nested checkpointed loops recompute
level by level.

`budgeted` splits each top-level `for` loop whose tape `memory=` bounds into a checkpointed loop over
chunks of a run-time length (`rt.checkpoint_chunk`, which picks the length that needs least memory,
about sqrt(trips x snapshot / tape) iterations, and raises when even that exceeds the budget) holding
a plain loop over the chunk's iterations: two-level checkpointing, where every iteration is
recomputed exactly once (a revolve schedule with one recomputation level). Memory: one snapshot of
the carried values per chunk, and the tape of one chunk (two while the backward replaces it).
"""
from __future__ import annotations

import numpy as np

from ..errors import CompileError
from ..ir.builder import Builder, looked_up
from ..ir.core import (Block, Checkpointed, Const, For, Function, Loop, Op, Return, Structured, Type, Value, Yield, defined_in,
                       read_in, walk)
from ..rules import primitives as P
from ..rules.primitives import Sym
from .plan import TAPED, Keep

ARRAY_OVERHEAD = 112  # bytes of an ndarray object on a list tape, besides its data


def recomputed_body(sweep, body: Block, seeds: list) -> None:
    """The backward of one iteration of a checkpointed loop, in `sweep`'s current scope: the body's
    forward made again from the iteration number and the carried values (`body.args`), then its
    backward seeded with `seeds` (the adjoints of the carried values it yields, None for zero).
    The active outer values the body reads are passed through it (parameters it also returns, each
    seeded with its adjoint so far), so their adjoints sum in the order the taped loop sums them:
    the gradient is the taped gradient's, to the last bit."""
    from .reverse import reverse, zero_adjoint  # reverse mode calls this module

    for op in walk(body.ops):
        if not isinstance(op, Structured) and op.param_dict.get("memory") == "fresh":
            raise CompileError(f"`{op.param_dict['call']}` draws new values at each call, but a checkpointed loop or "
                               f"call is run again in the backward, where it would draw others", op.loc,
                               "draw them before the checkpointed loop or call and pass them in")
    defined, read = defined_in(body), {id(v): v for v in read_in(body) if isinstance(v, Value)}
    outer = [v for v in read.values() if id(v) not in defined]
    active_outer = [v for v in outer if id(v) in sweep.active]
    params = [*body.args, *active_outer]
    # a carried value the body does not read (a checkpointed call's result slot) has no gradient
    wrt = tuple(n for n, p in enumerate(params) if n >= 1 and id(p) in sweep.active and id(p) in read)
    returned = (*body.terminator.values, *active_outer)
    function = Function("checkpointed", [Block(params, body.ops, Return(returned, body.terminator.loc))],
                        body.terminator.loc)
    adjoint = reverse(function, wrt)
    builder = sweep.builder
    value_of = {id(v): v for v in [*params, *outer]}
    builder.splice(adjoint.forward.entry.ops, value_of)
    made = [looked_up(value_of, v) for v in adjoint.forward.entry.terminator.values]
    residuals = made[len(returned):]
    backward = adjoint.backward
    value_of.update((id(p), r) for p, r in zip(backward.params, residuals))  # (forward values: for names)
    seeds = [*seeds, *(sweep.current(v, sweep.scope) for v in active_outer)]
    for parameter, seed in zip(backward.params[len(residuals):], seeds):  # None: an inactive output's, unread
        value_of[id(parameter)] = seed.operand if seed is not None else Const(0.0)
    builder.splice(backward.entry.ops, value_of)
    for arg, seed in zip(body.args[1:], seeds):  # unread: a zero shaped like the seed, not read from a tape
        if id(arg) in sweep.active and id(arg) not in read and seed is not None:
            sweep.scope.adjoints[id(arg)] = P.zeros_like(seed) if seed.type.ndim else zero_adjoint(arg)
    for position, gradient in zip(wrt, backward.entry.terminator.values):
        value = params[position]
        if position >= len(body.args):  # an outer value's whole adjoint: what it was, plus this iteration's
            sweep.scope.adjoints[id(value)] = Sym(looked_up(value_of, gradient))
        else:
            sweep.add(value, Sym(looked_up(value_of, gradient)))


def budgeted(fn: Function, memory: int, trial) -> Function:
    """`fn` with each top-level `for` loop whose reverse mode tapes values (`trial`: the plans of
    `fn`'s reverse, which tell what each loop tapes) split into a checkpointed loop over chunks of
    a plain loop, so that its snapshots and tape fit in `memory` bytes (see the module docstring).
    `fn` is changed in place and returned."""
    tapes = {id(plan.structured.body.args[0]): plan for plan in trial if isinstance(plan.structured, For)}
    ops = []
    for op in fn.entry.ops:
        plan = tapes.get(id(op.body.args[0])) if type(op) is For else None
        if plan is None or not any(keep in TAPED for _, keep in plan.decisions):
            ops.append(op)
            continue
        ops.extend(_chunked(op, plan, memory))
    fn.entry.ops[:] = ops
    return fn


def _chunked(op: For, plan, memory: int) -> list:
    """The ops that replace loop `op` (whose residual plan is `plan`): the chunk length, and the
    checkpointed loop over the chunks of the loop over each chunk's iterations."""
    builder = Builder(op.loc)
    with builder.active(), builder.nested() as made:
        arrays = [v for v in op.inits if isinstance(v, Value) and v.type.ndim]
        largest = None
        for array in arrays:
            largest = _nbytes(array) if largest is None else P.maximum(largest, _nbytes(array))
        if any(isinstance(inner, Loop) for inner in walk(op.body.ops)):
            raise CompileError("memory= cannot bound the tape of a loop that holds another loop (the inner loop's "
                               "tape has its trip count)", op.loc,
                               "checkpoint the outer loop by hand: `for i in checkpoint(range(n)):`")
        step, snapshot = Sym(0), Sym(0)
        for value, keep in plan.decisions:
            if keep is Keep.ARRAY:
                step = step + _itemsize(value)
            elif keep in (Keep.STACK, Keep.LIST):  # an array, counted as large as the largest carried one
                if largest is None:
                    raise CompileError(f"memory= cannot bound the tape of this loop: it tapes "
                                       f"{value.type.describe()} but carries no array to size it by", op.loc,
                                       "checkpoint the loop by hand: `for i in checkpoint(range(n)):`")
                step = step + (largest + ARRAY_OVERHEAD)
        for value in op.inits:
            snapshot = snapshot + (_nbytes(value) + ARRAY_OVERHEAD if value.type.ndim else _itemsize(value))
        trips = Sym(op.trips)
        chunk = P.checkpoint_chunk(trips, memory, step, snapshot, where=op.loc.short)
        chunks = P.floor_divide(trips + chunk - 1, chunk)
        c = Value(Type("int64", weak=True), "chunk")
        outer_carried = [a.renewed() for a in op.body.args[1:]]
        with builder.nested() as outer_ops:
            start = Sym(c) * chunk
            length = P.minimum(chunk, trips - start)
            b = Value(Type("int64", weak=True), "step")
            index = op.body.args[0]
            inner_body = Block([b, *op.body.args[1:]],
                               [Op(P.add, (start.operand, b), index, op.loc), *op.body.ops], op.body.terminator)
            inner_results = tuple(r.renewed() for r in op.results)
            builder.append(For((length.operand, *outer_carried), (inner_body,), inner_results, op.loc))
        outer_body = Block([c, *outer_carried], outer_ops, Yield(inner_results, op.loc))
        builder.append(Checkpointed((chunks.operand, *op.inits), (outer_body,), op.results, op.loc))
    return made


def _nbytes(array: Value) -> Sym:
    """The bytes of `array`'s data, at run time."""
    total = Sym(_itemsize(array))
    for axis in range(array.type.ndim):
        total = total * P.dim(Sym(array), axis=axis)
    return total


def _itemsize(value) -> int:
    return np.dtype(value.type.dtype).itemsize
