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

`budgeted` checkpoints each loop outside other loops whose tape `memory=` bounds (a `while` loop run
once to count its iterations, then as a `for` loop of as many; a loop holding other loops with the
inner tapes sized by their trip counts, `_Sizes`), by the schedule the budget allows once the trip
count is known (an `if` on `rt.checkpoint_chunk`, 0 when two levels do not fit):
- two levels: a checkpointed loop over chunks of the length that needs least memory (about
  sqrt(trips x snapshot / tape) iterations) holding a plain loop over the chunk's iterations, where
  every iteration is recomputed exactly once. Memory: one snapshot per chunk and the tape of one
  chunk (two while the backward replaces it). Faster wherever it fits.
- else the binomial schedule (Griewank's revolve): a `Revolved` loop, whose backward keeps snapshots
  of the carried values on a stack of the slots the budget holds (`rt.revolve_schedule`), restores
  for iteration k the highest one at or below k and advances from it to k, taking the snapshots
  revolve places on the way (`_revolved_state`): O(log n) snapshots, the fewest iterations advanced
  for their number.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CompileError
from ..ir.builder import Builder, looked_up
from ..ir.core import (Block, Checkpointed, Const, For, Function, If, Loop, Op, Return, Structured, Type, Value, While,
                       Yield, defined_in, read_in, results_of, walk)
from ..rules import primitives as P
from ..rules.primitives import Sym
from .plan import ARRAY_OVERHEAD, REVOLVED, TAPED, Keep, kept_bytes
from .reverse import reverse, zero_adjoint


def recomputed_body(sweep, op: Checkpointed, seeds: list) -> None:
    """The backward of one iteration of checkpointed loop `op`, in `sweep`'s current scope (reverse
    mode's hook): the body's forward made again from the iteration number and the carried values
    (`body.args`: snapshots taped by the loop's plan, or, for a `Revolved` loop, restored and
    advanced by the binomial schedule), then its backward seeded with `seeds` (the adjoints of the
    carried values it yields, None for zero).
    The active outer values the body reads are passed through it (parameters it also returns, each
    seeded with its adjoint so far), so their adjoints sum in the order the taped loop sums them:
    the gradient is the taped gradient's, to the last bit."""
    body = op.body
    for inner in walk(body.ops):
        if not isinstance(inner, Structured) and inner.param_dict.get("memory") == "fresh":
            raise CompileError(f"`{inner.param_dict['call']}` draws new values at each call, but a checkpointed loop "
                               f"or call is run again in the backward, where it would draw others", inner.loc,
                               "draw them before the checkpointed loop or call and pass them in")
    state = _revolved_state(sweep, op) if isinstance(op, Revolved) else {}
    defined, read = defined_in(body), {id(v): v for v in read_in(body) if isinstance(v, Value)}
    outer = [v for v in read.values() if id(v) not in defined]
    active_outer = [v for v in outer if id(v) in sweep.active]
    params = [*body.args, *active_outer]
    # a carried value the body does not read (a checkpointed call's result slot) has no gradient
    wrt = tuple(n for n, p in enumerate(params) if n >= 1 and id(p) in sweep.active and id(p) in read)
    returned = (*body.terminator.values, *active_outer)
    function = Function("checkpointed", [Block(params, body.ops, Return(returned, body.terminator.loc))],
                        body.terminator.loc)
    adjoint = reverse(function, wrt, recomputed_body)
    builder = sweep.builder
    value_of = {id(v): v for v in [*params, *outer]}
    value_of.update(state)
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
    """`fn` with each loop outside other loops whose reverse mode tapes values (`trial`: the plans
    of `fn`'s reverse, which tell what each loop tapes) checkpointed so that its snapshots and tape
    fit in `memory` bytes: in two levels where that fits, else by the binomial schedule (see the
    module docstring). A `while` loop is run first as written, to count its iterations, then again
    as a `for` loop of that many, which is checkpointed. `fn` is changed in place and returned."""
    tapes = {id(plan.structured.body.args[0]): plan for plan in trial
             if isinstance(plan.structured, Loop) and plan.structured.body.args}
    _budget_block(fn.entry, memory, tapes, _Sizes(trial))
    return fn


def _budget_block(block: Block, memory: int, tapes: dict, sizes: "_Sizes") -> None:
    """Checkpoint the loops of `block` and of the `if` bodies in it whose plan (in `tapes`, by the
    body's first argument) tapes values; the ops inside loops are left as they are."""
    ops = []
    for op in block.ops:
        if isinstance(op, If):
            for branch in op.blocks:
                _budget_block(branch, memory, tapes, sizes)
        plan = tapes.get(id(op.body.args[0])) if isinstance(op, Loop) and op.body.args else None
        if plan is None or isinstance(op, Checkpointed) or not any(keep in TAPED for _, keep in plan.decisions):
            ops.append(op)
            continue
        decisions = plan.decisions
        if not isinstance(op, For):
            counting, op, decisions = _counted_then_repeated(op, decisions)
            ops.extend(counting)
        terms, trip_counts = sizes.terms(op, decisions)
        ops.extend(trip_counts)
        ops.extend(_scheduled(op, terms, memory))
    block.ops[:] = ops


def _counted_then_repeated(loop: While, decisions) -> tuple:
    """`while` loop `loop` as (ops that run a copy of it to count its iterations, a `for` loop of
    that many iterations of its body, which has its results, and the plan decisions for that loop:
    a number taped on an array rather than a stack). The copy's carried results are read by
    nothing, so it tapes nothing; the `for` computes the same values in the same order."""
    builder = Builder(loop.loc)
    value_of = {id(v): v for v in read_in(loop.test) + read_in(loop.body) if isinstance(v, Value)}
    value_of.update((id(v), v) for v in loop.args if isinstance(v, Value))
    with builder.active(), builder.nested() as made:
        builder.splice([loop], value_of)
        copy = made[-1]
        made[-1] = copy.rebuilt(copy.args, copy.blocks, (loop.results[0], *copy.results[1:]))
        trips = P.weak(Sym(loop.results[0]))  # a count, as a `for` loop's trip count is
    body = loop.body
    repeated = For((trips.operand, *loop.inits),
                   (Block([Value(Type("int64", weak=True), "iteration"), *body.args], body.ops, body.terminator),),
                   loop.carried_results, loop.loc)
    decisions = tuple((value, Keep.ARRAY if keep is Keep.STACK and not value.type.ndim else keep)
                      for value, keep in decisions)
    return made, repeated, decisions


@dataclass(eq=False)
class Revolved(Checkpointed):
    """A loop of `memory=` reversed by the binomial schedule: its backward keeps snapshots of the
    carried values on a stack of the slots `budget` holds (`rt.revolve_schedule`) besides what one
    iteration keeps (`terms`: the trial plan's, `_Sizes.terms`)."""

    name = REVOLVED
    budget: int = 0
    terms: tuple = ()


class _Sizes:
    """What one iteration of a loop keeps for its backward, as terms `(value, keep, repeats)`:
    `value` kept as `keep` once for each iteration of the inner loops whose trip counts are
    `repeats` (a loop taping an inner loop's tape keeps what that loop tapes, times its trips)."""

    def __init__(self, trial):
        self.origin = {id(tape): (plan, value, keep) for plan in trial
                       for (value, keep), tape in zip(plan.decisions, plan.outputs) if tape is not None}

    def terms(self, loop: For, decisions) -> tuple:
        """The terms of `decisions`, the plan of `loop`, and the ops to put before `loop` that
        compute the inner trip counts it computes from outer values (`range(m)`'s length); a
        CompileError where an inner loop's trip count is known only inside `loop`."""
        inside = defined_in(loop.body)
        producers = {id(r): o for o in walk(loop.body.ops) for r in results_of(o)}
        builder, hoisted, terms = Builder(loop.loc), {}, []

        def outside(value):
            """`value` as a value computed before `loop` (None where it cannot be)."""
            if not isinstance(value, Value) or id(value) not in inside:
                return value
            if id(value) not in hoisted:
                made = producers.get(id(value))
                if made is None or isinstance(made, Structured) or value.type.ndim or value.type.listed:
                    return None
                args = [outside(a) for a in made.args]
                if any(a is None for a in args):
                    return None
                hoisted[id(value)] = builder.emit(made.prim, args, made.param_dict)
            return hoisted[id(value)]

        def expand(value, keep, repeats):
            if id(value) not in self.origin:
                terms.append((value, keep, repeats))
                return
            plan, item, item_keep = self.origin[id(value)]
            inner = plan.structured
            if isinstance(inner, Loop):
                trips = outside(inner.trips) if isinstance(inner, For) else None
                if trips is None:
                    raise CompileError("memory= cannot bound the tape of a loop that holds another loop whose trip "
                                       "count is known only inside it (a while loop, or a range of values the outer "
                                       "loop computes)", inner.loc,
                                       "checkpoint the outer loop by hand: `for i in checkpoint(range(n)):`")
                repeats, keep = (*repeats, trips), item_keep
            expand(item, keep, repeats)  # (a value an `if` surfaces is kept as the loop keeps it)

        with builder.active(), builder.nested() as ops:
            for value, keep in decisions:
                if keep in TAPED:
                    expand(value, keep, ())
        return tuple(terms), ops


def _sizes(op: For, terms) -> tuple:
    """(bytes one iteration of `op` keeps, bytes of one snapshot of its carried values), at run
    time: exact for numbers; an array counted as large as the largest carried one."""
    largest = None
    for init in op.inits:
        if isinstance(init, Value) and init.type.ndim:
            largest = _nbytes(init) if largest is None else P.maximum(largest, _nbytes(init))
    step, snapshot = Sym(0), Sym(0)
    for value, keep, repeats in terms:
        kept = kept_bytes(value, keep, largest)
        if kept is None:
            raise CompileError(f"memory= cannot bound the tape of this loop: it tapes {value.type.describe()} but "
                               f"carries no array to size it by", op.loc,
                               "checkpoint the loop by hand: `for i in checkpoint(range(n)):`")
        for trips in repeats:
            kept = kept * (trips.value if isinstance(trips, Const) else Sym(trips))
        step = step + kept
    for value in op.inits:
        snapshot = snapshot + kept_bytes(value, Keep.STACK if value.type.ndim else Keep.ARRAY, _nbytes(value))
    return step, snapshot


def _scheduled(op: For, terms, memory: int) -> list:
    """The ops that replace loop `op`, which keeps `terms` per iteration: the two-level loops
    where their least memory fits `memory` (`rt.checkpoint_chunk` gives 0 where it does not), else
    the loop reversed by revolve."""
    builder = Builder(op.loc)
    with builder.active(), builder.nested() as made:
        step, snapshot = _sizes(op, terms)
        trips = Sym(op.trips)
        chunk = P.checkpoint_chunk(trips, memory, step, snapshot, where=op.loc.short)
        with builder.nested() as two_levels:
            two_level_results = _chunked(builder, op, trips, chunk)
        value_of = {id(v): v for v in read_in(op.body) if isinstance(v, Value)}
        value_of.update((id(v), v) for v in op.args if isinstance(v, Value))
        with builder.nested() as revolved:
            builder.splice([op], value_of)
        copy = revolved[0]
        revolved[0] = Revolved(copy.args, copy.blocks, copy.results, op.loc, memory, terms)
        branches = (Block([], two_levels, Yield(two_level_results, op.loc)),
                    Block([], revolved, Yield(copy.results, op.loc)))
        builder.append(If(((chunk > 0).operand,), branches, op.results, op.loc))
    return made


def _chunked(builder: Builder, op: For, trips: Sym, chunk: Sym) -> tuple:
    """The checkpointed loop over chunks of `chunk` iterations of the loop over each chunk's
    iterations (two levels), appended to `builder`; its results."""
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
    results = tuple(r.renewed() for r in op.results)
    builder.append(Checkpointed((chunks.operand, *op.inits), (outer_body,), results, op.loc))
    return results


def _revolved_state(sweep, op: Revolved) -> dict:
    """The carried values before iteration k of `op` in the backward (k: the body's index, which
    the sweep maps to the backward's iteration), id(body argument) -> value: restored from the
    snapshot revolve keeps below k and advanced to k by the forward body run again, taking the
    snapshots the schedule places on the way. The schedule and the snapshots are made before the
    backward loop, from the loop's initial values (so each run of a backward has its own)."""
    builder, body = sweep.builder, op.body
    k, carried = body.args[0], body.args[1:]
    with builder.nested(sweep.scope.parent.ops):
        step, snapshot = _sizes(op, op.terms)
        fixed = step + ARRAY_OVERHEAD * len(carried)  # (the snapshot arrays' objects)
        schedule = P.revolve_schedule(Sym(op.trips), op.budget, fixed, snapshot, where=op.loc.short)
        stacks = [P.snapshot_stack(Sym(init), schedule, dtype=arg.type.dtype) for init, arg in zip(op.inits, carried)]
    start = P.revolve_restore(schedule, Sym(k))
    restored = []
    for stack, arg in zip(stacks, carried):
        value = P.snapshot_get(stack, schedule, start)
        restored.append((P.weak(value) if arg.type.weak else value).operand)
    step_number = Value(Type("int64", weak=True), "step")
    advanced = [a.renewed() for a in carried]
    value_of = {id(v): v for v in read_in(body) if isinstance(v, Value)}
    with builder.nested() as advance_ops:
        position = start + Sym(step_number)
        slot = P.revolve_take(schedule, position)
        value_of[id(k)] = position.operand
        for arg, value, stack in zip(carried, advanced, stacks):
            value_of[id(arg)] = P.snapshot_put(Sym(value), stack, slot).operand
        builder.splice(body.ops, value_of)
    yields = tuple(looked_up(value_of, v) for v in body.terminator.values)
    results = [a.renewed() for a in carried]
    builder.append(For(((Sym(k) - start).operand, *restored), (Block([step_number, *advanced], advance_ops,
                                                                        Yield(yields, op.loc)),), tuple(results), op.loc))
    return {id(arg): result for arg, result in zip(carried, results)}


def _nbytes(array: Value) -> Sym:
    """The bytes of `array`'s data, at run time."""
    total = Sym(np.dtype(array.type.dtype).itemsize)
    for axis in range(array.type.ndim):
        total = total * P.dim(Sym(array), axis=axis)
    return total
