"""Reverse mode: from a typed function, the forward pass that keeps what the backward needs and the
backward pass that computes the gradient, both as IR.

`forward(*params)` returns `(out, *residuals)`; `backward(*residuals, g)` returns one gradient per
differentiated parameter, each with that parameter's type. The residuals are exactly the forward
values that derivative rules read (outputs such as `exp`'s, operands such as `@`'s): the backward
reads them instead of recomputing them. Only active values (those that depend on a differentiated
parameter through differentiable operations) get adjoints; an absent adjoint is a symbolic zero,
which generates no code.
"""
from __future__ import annotations

from ..rules import primitives as P
from ..ir.builder import Builder
from ..errors import CompileError
from ..ir.core import (Adjoint, Block, Checkpointed, Const, For, Function, If, IndexInt, Loop, Return, Structured, Type, Value, Yield,
                       basic_index, copy_block, defined_in, live, read_counts, walk)
from ..rules.primitives import Sym
from .augment import augment
from .plan import TAPED, Keep, plan_if, plan_loop


def analyze_activity(fn: Function, wrt, passes=None) -> set:
    """Ids of the values that depend on the parameters in `wrt` through differentiable operands
    (a loop's carried value is active when its initial value or its next value is).
    `passes(op, positions)` tells whether the active operands at `positions` make the result
    active, refusing an op without rules (reverse mode's vjps by default)."""
    active = {id(fn.params[i]) for i in wrt}
    _activity(fn.entry.ops, active, passes or _passes_gradient)
    return active


def _passes_gradient(op, reached) -> bool:
    if not op.prim.vjps:
        message, hint = op.prim.refusal_of(op.param_dict) or (f"`{op.prim.name}` has no derivative rule",
                                            "declare one with defvjp in its family's file in adcompiler/rules/")
        raise CompileError(message, op.loc, hint)
    return any(op.prim.rule(i) is not None for i in reached)


def _activity(ops, active: set, passes) -> None:
    for op in ops:
        if isinstance(op, Structured):
            _structured_activity(op, active, passes)
            continue
        reached = [i for i, a in enumerate(op.args) if isinstance(a, Value) and id(a) in active]
        if reached and passes(op, reached) and op.result.type.is_float:
            active.add(id(op.result))


def _structured_activity(op: Structured, active: set, passes) -> None:
    """A result of an `if` is active when a branch yields an active value; a loop's carried value
    (its block arguments and result) when its initial or its next value is, until that settles."""
    if isinstance(op, If):
        for block in op.blocks:
            _activity(block.ops, active, passes)
        for position, result in enumerate(op.results):
            if result.type.is_float and any(_is_active(s, active) for s in op.sources(position)):
                active.add(id(result))
        return
    while True:
        size = len(active)
        for position, result in enumerate(op.carried_results):
            if result.type.is_float and any(_is_active(s, active) for s in op.sources(position)):
                active.update(id(op.carried_args(b)[position]) for b in op.blocks)
                active.add(id(result))
        for block in op.blocks:
            _activity(block.ops, active, passes)
        if len(active) == size:
            return


def _is_active(operand, active: set) -> bool:
    return isinstance(operand, Value) and id(operand) in active


def reverse(fn: Function, wrt: tuple, recompute=None) -> Adjoint:
    """The adjoint of `fn` with respect to the parameters at positions `wrt`: the backward takes
    one seed per returned value (`g`, or `g_0`, `g_1`, ... for several: a checkpointed loop body's).
    `recompute(sweep, op, seeds)` makes the backward body of a `Checkpointed` loop `op`
    (transforms/checkpoint.py's `recomputed_body`; a function with such loops needs it).
    `fn` is not changed: the forward is a copy, augmented from the sweep's plans (tapes, results)."""
    fn = Function(fn.name, [copy_block(fn.entry)], fn.loc, fn.captured, fn.assumptions)
    outs = fn.entry.terminator.values
    active = analyze_activity(fn, wrt)
    builder = Builder(fn.loc)
    seeds = tuple(Value(out.type.with_dtype(out.type.dtype if out.type.is_float else "float64"),
                        "g" if len(outs) == 1 else f"g_{n}") for n, out in enumerate(outs))
    sweep = _Sweep(active, builder, recompute,
                   {id(o.result): o for o in walk(fn.entry.ops) if not isinstance(o, Structured)})
    with builder.active():
        for out, seed in zip(outs, seeds):
            if isinstance(out, Value) and id(out) in active:
                sweep.add(out, Sym(seed))
        sweep.sweep(fn.entry.ops)
        builder.loc = fn.entry.terminator.loc
        grads = [_gradient(sweep.scope.adjoints.get(id(fn.params[i])), fn.params[i]) for i in wrt]
    augment(fn, sweep.plans)
    return _split(fn, builder, seeds, grads, wrt, tuple(sweep.plans))


class _Scope:
    """The backward of one forward block: the adjoints of the values it defines, and of the values
    from outside it that it adds to (`imports`: value -> (entry, initial value))."""

    def __init__(self, kind: str, defined, parent, ops: list):
        self.kind = kind  # "function", "if" or "loop"
        self.defined = defined  # ids of the forward values of the block (None: everything)
        self.parent = parent
        self.ops = ops  # where this scope's backward ops go
        self.adjoints: dict[int, Sym] = {}
        self.imports: dict[int, tuple] = {}  # id(value) -> (value, entry Value or Sym, initial Sym)

    def owns(self, value) -> bool:
        return self.defined is None or id(value) in self.defined


class _Sweep:
    """One reverse sweep: walks forward blocks backwards, emitting adjoint code into `builder`."""

    def __init__(self, active: set, builder: Builder, recompute, producers: dict):
        self.active = active
        self.builder = builder
        self.recompute = recompute
        self.producers = producers  # id(value) -> the op that makes it, of the forward's primitive ops
        self.scope = _Scope("function", None, None, builder.ops)
        self.plans: list = []  # the residual plan of each loop and `if` reversed, in the order made
        self.added: dict = {}  # id(forward structured op) -> the results its plans add to it

    def add(self, value: Value, share: Sym, scope=None) -> None:
        """Add `share` to the adjoint of `value` (paths sum) in `scope` (the current one)."""
        scope = scope or self.scope
        if not scope.owns(value) and id(value) not in scope.adjoints:
            scope.adjoints[id(value)] = self.imported(value, scope)
        _accumulate(scope.adjoints, value, share, self.builder)

    def current(self, value: Value, scope) -> Sym:
        """The adjoint of `value` so far in `scope`, made a value (zero if nothing reached it)."""
        if id(value) not in scope.adjoints:
            if scope.owns(value):
                with self.builder.nested(scope.ops):
                    scope.adjoints[id(value)] = zero_adjoint(value)
            else:
                scope.adjoints[id(value)] = self.imported(value, scope)
        return scope.adjoints[id(value)]

    def imported(self, value: Value, scope) -> Sym:
        """The entry adjoint of `value`, from outside `scope`: the enclosing adjoint itself in a
        branch, a block argument carried from it in a loop."""
        initial = self.current(value, scope.parent)
        entry = Value(initial.type.with_dtype(initial.type.dtype), derived=("d_", value)) \
            if scope.kind == "loop" else initial
        scope.imports[id(value)] = (value, entry, initial)
        return Sym(entry)

    def sweep(self, ops: list) -> None:
        """The backward of forward `ops`."""
        for op in reversed(ops):
            if isinstance(op, Structured):
                self.builder.loc = op.loc
                (self.reverse_if if isinstance(op, If) else self.reverse_loop)(op)
                continue
            g = self.scope.adjoints.pop(id(op.result), None)
            if g is None:
                continue
            self.builder.loc = op.loc
            operands = [Sym(a) for a in op.args]
            order = list(enumerate(zip(op.args, operands)))
            # An update's other operands read g before the rule of the updated array writes into it.
            for position, (arg, operand) in (order[::-1] if op.prim.updates else order):
                rule = op.prim.rule(position)
                if rule is None or not (isinstance(arg, Value) and id(arg) in self.active):
                    continue
                share = rule(g, *operands, out=Sym(op.result), **op.param_dict)
                if share is None:
                    continue
                if op.prim.broadcasts_operand(position):
                    share = _summed_back(share, operand)
                self.add(arg, share)

    def seed(self, values, adjoints) -> None:
        for value, g in zip(values, adjoints):
            if g is not None and isinstance(value, Value) and id(value) in self.active:
                self.add(value, g)

    def nested(self, kind: str, block: Block, seeds, build, recompute=None):
        """Run `build` in a new scope for forward `block`, seeded with the adjoints `seeds` of its
        yields, then its backward: the sweep of its ops, or `recompute(seeds)` (a checkpointed
        loop's body: its forward made again, then its backward); returns the scope."""
        scope = _Scope(kind, defined_in(block), self.scope, [])
        outer, self.scope = self.scope, scope
        try:
            with self.builder.nested(scope.ops):
                build(scope)
                if recompute is not None:
                    recompute(seeds)
                else:
                    self.seed(block.terminator.values, seeds)
                    self.sweep(block.ops)
        finally:
            self.scope = outer
        return scope

    def reverse_if(self, op: If) -> None:
        """The backward of an `if`: an `if` on the same condition over the branches' backwards,
        yielding the adjoints of the outer values they add to."""
        seeds = [self.scope.adjoints.pop(id(r), None) for r in op.results]
        if all(g is None for g in seeds):
            return
        scopes = [self.nested("if", block, seeds, lambda scope: None) for block in op.blocks]
        imported = {}
        for scope in scopes:
            imported.update((key, value) for key, (value, _, _) in scope.imports.items())
        blocks = []
        for number, scope in enumerate(scopes):
            yields = []
            with self.builder.nested(scope.ops):
                for key, value in imported.items():
                    adjoint = scope.adjoints.get(key) or self.current(value, self.scope)
                    yields.append(adjoint.operand)
            blocks.append(Block([], scope.ops, Yield(tuple(yields), op.loc)))
            self.surface(op, number, blocks[-1])
        results = tuple(Value(_joined(b.terminator.values[i].type for b in blocks), derived=("d_", v))
                        for i, v in enumerate(imported.values()))
        self.builder.append(op.rebuilt(op.args, tuple(blocks), results))
        for value, result in zip(imported.values(), results):
            self.scope.adjoints[id(value)] = Sym(result)

    def surface(self, op: If, number: int, backward: Block) -> None:
        """Forward values of branch `number` that its backward reads are read from results of the
        forward `if`, the plan's outputs (which `augment` makes)."""
        plan = plan_if(op, number, backward, self.added)
        if not plan.decisions:
            return
        self.planned(plan)
        _substitute(backward, {id(value): result for (value, _), result in zip(plan.decisions, plan.outputs)})

    def planned(self, plan) -> None:
        """Keep `plan`; its outputs are values of the forward block that holds its op (and of the
        enclosing ones), for the plans made after it and for the scopes' adjoints."""
        self.plans.append(plan)
        outputs = [value for value in plan.outputs if value is not None]
        self.added.setdefault(id(plan.structured), []).extend(outputs)
        scope = self.scope
        while scope is not None:
            if scope.defined is not None:
                scope.defined.update(id(v) for v in outputs)
            scope = scope.parent

    def reverse_loop(self, op: Loop) -> None:
        """The backward of a loop: a loop over the iterations in reverse order, carrying the
        adjoints of the carried values and of the outer values the body adds to; what it reads
        of each forward iteration is kept on a tape."""
        body = op.body
        carried = op.carried_args(body)
        seeds = [self.scope.adjoints.pop(id(r), None) for r in op.carried_results]
        positions = [j for j, arg in enumerate(carried) if id(arg) in self.active]
        if all(seeds[j] is None for j in positions):
            return
        trips = op.trips
        k_backward = Value(Type("int64", weak=True), "k")

        def adjoint_of(value, j):  # a carried adjoint: of what the body yields, or gets, or the variable
            return "d_", value if isinstance(value, Value) else carried[j]

        entries = {j: Value(carried[j].type.with_dtype(carried[j].type.dtype),
                            derived=adjoint_of(body.terminator.values[j], j)) for j in positions}
        state = {}

        def start(scope):
            state["k"] = Sym(trips) - 1 - Sym(k_backward)
            if isinstance(op, For) and isinstance(state["k"].operand, Value):
                state["k"].operand.hint = body.args[0].hint  # the forward's index, as the user named it

        recompute = None
        if isinstance(op, Checkpointed):
            if self.recompute is None:
                raise AssertionError("reverse() of a checkpointed loop needs its `recompute` hook")
            recompute = lambda seeds: self.recompute(self, op, seeds)  # noqa: E731
        scope = self.nested("loop", body, [Sym(entries[j]) if j in entries else None for j in range(len(carried))],
                            start, recompute)
        with self.builder.nested(scope.ops):
            exits = [self.current(carried[j], scope) for j in positions]
        imports = list(scope.imports.values())
        yields = tuple(e.operand for e in exits) + tuple(scope.adjoints[id(v)].operand for v, _, _ in imports)
        block = Block([k_backward] + [entries[j] for j in positions] + [entry for _, entry, _ in imports],
                      scope.ops, Yield(yields, op.loc))
        block.ops[:] = live(block.ops, yields + (state["k"].operand,))
        counted_from = self.tape(op, block, state["k"])
        block.ops[:] = live(block.ops, block.terminator.values)
        if type(op) is For and not counted_from and _order_free(block):
            # upward, as the forward ran: LLVM vectorises such a loop where it kept the downward one scalar
            _substitute(block, {id(state["k"].operand): k_backward})
            block.ops[:] = live(block.ops, block.terminator.values)
            k_backward.hint = body.args[0].hint
        inits = []
        for j in positions:
            inits.append((seeds[j] if seeds[j] is not None else zero_adjoint(op.carried_results[j])).operand)
        inits += [initial.operand for _, _, initial in imports] + counted_from
        results = tuple(Value(entries[j].type, derived=adjoint_of(op.inits[j], j)) for j in positions) + \
            tuple(entry.renewed() for _, entry, _ in imports) + tuple(v.renewed() for v in counted_from)
        self.builder.append(For((trips, *inits), (block,), results, op.loc))
        for (value, _, _), result in zip(imports, results[len(positions):]):
            self.scope.adjoints[id(value)] = Sym(result)
        for j, result in zip(positions, results):
            init = op.inits[j]
            if isinstance(init, Value) and id(init) in self.active:
                self.add(init, Sym(result))

    def tape(self, op: Loop, backward: Block, k: Sym) -> list:
        """Make each forward value of the loop body that the backward body reads available there,
        as the loop's plan says (`plan.plan_loop`): the iteration number, recomputed, read at `k`
        from the tape that `augment` adds to the forward (the plan's output), or a counter's
        value: `backward` carries each counter the plan undoes from the end of its forward
        iteration to its start, undoing the step. Returns the forward results the counters start
        from (the backward loop's initial values for them)."""
        tapes = {id(tape): (earlier.structured, keep) for earlier in self.plans
                 for (_, keep), tape in zip(earlier.decisions, earlier.outputs) if tape is not None}
        plan = plan_loop(op, backward, self.added, tapes, self.producers)
        if plan.decisions or isinstance(op, Checkpointed):  # show lists every checkpointed loop
            self.planned(plan)
        body = op.body
        mapping = {id(a): k.operand for a in body.args[:op.index_args]}
        producers = {id(o.result): o for o in body.ops if not isinstance(o, Structured)}
        starting = {id(op.carried_args(body)[c.position]): c for c in plan.counters}
        entries = {}  # id(Counter) -> the counter at the end of the iteration, carried by the backward
        starts = []
        reads = []
        with self.builder.nested(reads):
            for (value, keep), tape in zip(plan.decisions, plan.outputs):
                if keep is Keep.UNDONE and id(value) in starting:  # the counter at the iteration's start
                    counter = starting[id(value)]
                    entry = entries[id(counter)] = Value(value.type, value.hint)
                    mapping[id(value)] = _stepped(Sym(entry), counter.step(body), -1, value, mapping)
                    starts.append(mapping[id(value)])
                elif keep is Keep.UNDONE:  # a result of an inner loop: the counter at the start, stepped
                    counter = next(c for c in plan.counters if id(value) in c.offsets)
                    if value is body.terminator.values[counter.position]:
                        mapping[id(value)] = entries[id(counter)]
                    else:
                        start = mapping[id(op.carried_args(body)[counter.position])]
                        offset = counter.offsets[id(value)][1]
                        mapping[id(value)] = _stepped(Sym(start), offset, 1, value, mapping)
                elif keep is Keep.RECOMPUTE:
                    producer = producers[id(value)]
                    mapping[id(value)] = self.builder.emit(producer.prim, [mapping.get(id(a), a) for a in producer.args],
                                                           producer.param_dict, value.hint)
                elif keep in TAPED:
                    read = P.list_get(tape, k) if keep is Keep.LIST else P.getitem(tape, k, index=(IndexInt(),))
                    if value.type.weak:
                        read = P.weak(read)
                    read.operand.hint = value.hint
                    mapping[id(value)] = read.operand
        _substitute(backward, mapping)
        first = [o for o in backward.ops if not isinstance(o, Structured) and o.result is k.operand]
        at = backward.ops.index(first[0]) + 1 if first else 0
        backward.ops[at:at] = reads
        backward.args += entries.values()
        backward.terminator.values = tuple(backward.terminator.values) + tuple(starts)
        return [op.carried_results[c.position] for c in plan.counters]


def _stepped(value: Sym, terms, sign: int, like: Value, mapping: dict) -> Value:
    """`value` plus (sign 1) or minus (sign -1: the last term undone first) a counter's `terms`
    (`plan.Counter`), their factors read through `mapping`: a value of `like`'s type and name."""
    for term_sign, factors in (terms if sign == 1 else reversed(terms)):
        product = None
        for factor in factors:
            factor = mapping.get(id(factor), factor)
            if not (isinstance(factor, Const) and factor.value == 1):
                product = Sym(factor) if product is None else product * Sym(factor)
        product = Sym(1) if product is None else product
        value = value + product if term_sign * sign == 1 else value - product
    if value.type.weak != like.type.weak:
        value = P.weak(value) if like.type.weak else P.cast(value, dtype=like.type.dtype)
    value.operand.hint = like.hint
    return value.operand


def _order_free(block: Block) -> bool:
    """Whether the iterations of a backward loop's body `block` (its first argument the iteration
    number) give the same sums in any order: it holds no block, and each value it carries comes
    back as it came, or is an array only added to (`index_accumulate`, `add`: each value of the
    chain read by the next alone), so no iteration reads what another wrote; only the rounding of
    additions into one element may change with their order."""
    if any(isinstance(op, Structured) for op in block.ops):
        return False
    reads = read_counts(block)
    producers = {id(op.result): op for op in block.ops}
    for arg, following in zip(block.args[1:], block.terminator.values):
        value = following
        while value is not arg:
            op = producers.get(id(value)) if isinstance(value, Value) else None
            if op is None or not arg.type.ndim or reads.get(id(value)) != 1 or \
                    op.prim not in (P.index_accumulate, P.add):
                return False
            chained = [a for a in op.args[:1 if op.prim is P.index_accumulate else 2] if a is arg or (
                isinstance(a, Value) and id(a) in producers and producers[id(a)].prim in (P.index_accumulate, P.add))]
            if len(chained) != 1:
                return False
            value = chained[0]
        if following is not arg and reads.get(id(arg)) != 1:
            return False
    return True


def _substitute(block: Block, mapping: dict) -> None:
    """Replace, in place, the operands of `block` (nested blocks too) found in `mapping`."""
    if not mapping:
        return
    for op in block.ops:
        op.args = tuple(mapping.get(id(a), a) if isinstance(a, Value) else a for a in op.args)
        if isinstance(op, Structured):
            for inner in op.blocks:
                _substitute(inner, mapping)
    block.terminator.values = tuple(mapping.get(id(v), v) if isinstance(v, Value) else v
                                    for v in block.terminator.values)


def zero_adjoint(value: Value) -> Sym:
    """A zero adjoint for `value`."""
    if value.type.ndim:
        return P.zeros_like(Sym(value))
    dtype = value.type.dtype if value.type.is_float else "float64"
    return Sym(0.0) if dtype == "float64" else P.cast(Sym(0.0), dtype=dtype)


def _joined(types) -> Type:
    first, *rest = types
    for t in rest:
        first = P.join(first, t)
    return Type(first.dtype, first.ndim, False, first.units, first.listed, first.lengths)


def _summed_back(share: Sym, operand: Sym) -> Sym:
    """`share`, shaped like a broadcast result, summed over the axes that broadcasting added to or
    stretched in `operand`: statically where the axes of length 1 are known from the argument
    shapes, with the runtime's `unbroadcast` where they are not."""
    target, source = operand.type, share.type
    if target.ndim == 0:
        return P.total(share) if source.ndim else share
    if source.ndim < target.ndim:
        return P.broadcast_like(share, operand)
    lead = source.ndim - target.ndim
    stretched = []
    for axis, (unit, result_unit) in enumerate(zip(target.units, source.units[lead:])):
        if (unit is True and result_unit is None) or (unit is None and result_unit is not True):
            return P.unbroadcast(share, operand)  # only the run time knows
        if unit is True and result_unit is False:
            stretched.append(axis)
    if lead:
        share = P.sum_axes(share, axes=tuple(range(lead)), keepdims=False)
    if stretched:
        share = P.sum_axes(share, axes=tuple(stretched), keepdims=True)
    return share


def _accumulate(adjoints: dict, arg: Value, share: Sym, builder: Builder) -> None:
    """Add `share` to the adjoint of `arg` (the multivariate chain rule: paths sum). A share that
    is zero but for an indexed part (an element read `x[i]`'s) is added to that part only."""
    previous = adjoints.get(id(arg))
    producer = builder.producers.get(id(share.operand))
    if previous is None or (isinstance(previous.operand, Const) and previous.operand.value == 0) or \
            _made_by(builder, previous, P.zeros_like) and share.type.ndim == previous.type.ndim:
        total = share  # (a zero adjoint made for a branch is its shape only where this iteration read it)
    elif producer is not None and producer.prim is P.index_add and \
            basic_index(producer.param_dict["index"]):
        total = P.index_accumulate(previous, *producer.args[1:], **producer.param_dict)
    else:
        total = previous + share
    made = builder.ops[-1].result if builder.ops and not isinstance(builder.ops[-1], Structured) else None
    if total.operand is made and not made.hint and made.derived is None:
        made.derived = ("d_", arg)
    adjoints[id(arg)] = total


def _made_by(builder: Builder, value: Sym, primitive) -> bool:
    op = builder.producers.get(id(value.operand))
    return op is not None and getattr(op, "prim", None) is primitive


def _gradient(adjoint, param: Value) -> Sym:
    """The gradient of `param`: zero where nothing flowed back, cast to its dtype."""
    if adjoint is None:
        adjoint = P.zeros_like(param) if param.type.ndim else Sym(0.0)
    if adjoint.type.ndim != param.type.ndim:
        raise AssertionError(f"adjoint of %{param.hint} has rank {adjoint.type.ndim}, not {param.type.ndim}")
    if adjoint.type.dtype != param.type.dtype:
        adjoint = P.cast(adjoint, dtype=param.type.dtype)
    return adjoint


def _split(fn: Function, builder: Builder, seeds: tuple, grads, wrt, plans: tuple) -> Adjoint:
    """Make the backward a function of its own: forward values it reads become its parameters."""
    made = defined_in(Block(list(seeds), builder.ops, Return((), fn.loc)))
    residual_of: dict[int, Value] = {}
    sources: list[Value] = []

    def local(operand):
        if isinstance(operand, Const) or id(operand) in made:
            return operand
        if id(operand) not in residual_of:
            residual_of[id(operand)] = operand.renewed()
            sources.append(operand)
        return residual_of[id(operand)]

    def visit(ops):
        for op in ops:
            op.args = tuple(local(a) for a in op.args)
            if isinstance(op, Structured):
                for block in op.blocks:
                    visit(block.ops)
                    block.terminator.values = tuple(local(v) for v in block.terminator.values)

    visit(builder.ops)
    results = tuple(local(g.operand) for g in grads)
    loc = fn.entry.terminator.loc
    params = [residual_of[id(v)] for v in sources] + list(seeds)
    backward = Function(f"{fn.name}_backward", [Block(params, builder.ops, Return(results, loc))], fn.loc)
    forward_return = Return(tuple(fn.entry.terminator.values) + tuple(sources), loc)
    forward = Function(f"{fn.name}_forward", [Block(fn.params, list(fn.entry.ops), forward_return)], fn.loc,
                       fn.captured)
    return Adjoint(forward, backward, tuple(wrt), plans)
