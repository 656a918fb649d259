"""Batching (JAX's vmap) of any verified IR Function: its parameters at `batched_positions` get a
leading batch axis of one common length k (read at run time from the first of them), and the
Function made computes, for each of the k items at once, what the original computes.

Invariants: a value is batched (its type has one more, leading, axis than the original's) exactly
when it depends on a batched parameter; an unbatched value is computed once, as in the original;
every result is batched (an unbatched one is repeated over the batch). An op with a batched operand
is made by its primitive's batching rule (`Primitive.batch`, rules/primitive.py: elementwise
primitives by rank alignment); where there is none, or the rule has none for these operands (an
index that differs across the batch), it is a CompileError at the user's line. Structured ops: a
loop carries a value batched when its initial value or its body makes it so (a fixpoint, like
reverse mode's activity analysis), an `if` yields one batched when either branch does, and the
unbatched side is repeated over the batch. Control flow that differs across the batch: an `if` on
a batched condition runs the branch every item takes, if one is, else both, picking each item's
values (`selected`; `select` requires each item's two values to have one shape), and within a
branch so computed the items counted are the branch's own (`active`); a
`for` with a batched trip count and a `while` with a batched test run until the longest item ends,
each item's carried values kept from where its own loop ended (`masked`; its tapes take each
item's rows at its own iterations, and rows past them are never read). A tape (a list) is batched
as a list of batched items; a masked loop cannot carry one.
"""
from __future__ import annotations

from ..errors import CompileError
from ..ir.builder import Builder
from ..ir.core import Block, Const, For, Function, If, Return, Structured, Type, Value, While, Yield
from ..rules import primitives as P
from ..rules.primitive import Unbatched, WithLength
from ..rules.creation import over_batch
from ..rules.shapes import aligned


def batch(fn: Function, batched_positions: tuple) -> Function:
    """`fn` with the parameters at `batched_positions` batched (see the module docstring)."""
    batching = Batching(Builder(fn.loc), strong_alike=all(p.type.dtype in STRONG_ALIKE for p in fn.params))
    params = []
    for i, p in enumerate(fn.params):
        new = Value(batched_type(p.type) if i in batched_positions else p.type, p.hint)
        params.append(new)
        batching.bind(p, new, i in batched_positions)
        if i in batched_positions and batching.template is None and not p.type.listed:
            batching.template = P.Sym(new)
    if batching.template is None:
        raise CompileError(f"{fn.name}: batching needs an array or number among the batched parameters", fn.loc)
    with batching.builder.active():
        results = batching.block(fn.entry, batched_results=True)
    return Function(fn.name, [Block(params, batching.builder.ops, Return(results, fn.entry.terminator.loc))], fn.loc,
                    fn.captured, fn.assumptions, fn.structure)


# Dtypes whose arrays promote as a Python number read back from a tape (`weak`) does: where every
# parameter has one, a batch of such numbers (an array, never weak) gives the same dtypes.
STRONG_ALIKE = frozenset({"float64", "int64", "bool"})


def batched_type(t: Type) -> Type:
    """The type of a batch of values of type `t` (a list's items batched)."""
    return Type(t.dtype, t.ndim + 1, False, (None,) + t.units, t.listed)


class _Widen(Exception):
    """A loop's carried argument must be batched (an update writes batched values into it)."""

    def __init__(self, arg: Value):
        self.arg = arg


class Batching:
    """Re-makes ops into `builder`, batched where their operands are (`bind` says which values are,
    and what they are in the new code); `template` is a batched array, whose axis 0 is the batch."""

    def __init__(self, builder: Builder, template=None, strong_alike: bool = False):
        self.builder = builder
        self.value_of: dict = {}  # id(original value) -> its value in the batched code
        self.batched: set = set()  # ids of the original values that are batched
        self.template = template
        self.widening: dict = {}  # id(unbatched carried argument of a loop being made) -> its position
        self.made_by: dict = {}  # id(original value) -> the op that made it (a loop's tapes, `masked`)
        self.strong_alike = strong_alike  # whether `weak` may be batched as it is (see STRONG_ALIKE)
        self.active = None  # the items the code being made runs for (a batched bool), None: all of them


    def block(self, block: Block, batched_results: bool = False) -> tuple:
        """Make the ops of `block` (in the builder, which is active); the values it ends with,
        batched when `batched_results`."""
        self.ops(block.ops)
        self.builder.loc = block.terminator.loc
        return tuple(self.as_batched(v) if batched_results else self.lookup(v) for v in block.terminator.values)

    # ------------------------------------------------------------ values

    def is_batched(self, operand) -> bool:
        return isinstance(operand, Value) and id(operand) in self.batched

    def lookup(self, operand):
        return operand if isinstance(operand, Const) else self.value_of[id(operand)]

    def as_batched(self, operand):
        """The batched value of `operand`: itself when batched, else repeated over the batch (an
        unassigned array's placeholder made one of the batched type, a list an empty list of batched
        items)."""
        value = self.lookup(operand)
        if self.is_batched(operand):
            return value
        if isinstance(operand, Value) and id(operand) in self.widening:
            raise _Widen(operand)  # the loop carries it batched instead
        if self._placeholder(value) and value.type.ndim:  # (a number's stands in as itself, repeated)
            made = self.builder.producers[id(value)]
            t = batched_type(value.type)
            return self.builder.emit(P.placeholder, [], dict(made.param_dict, ndim=t.ndim, units=t.units,
                                                             lengths=(None, *value.type.lengths)))
        if value.type.listed:
            raise CompileError("a list that holds both values that differ across the batch and values that do not "
                               "cannot be batched", self.builder.loc, "compute the list's items from the batched values")
        return over_batch(P.Sym(value), self.template).operand

    def _placeholder(self, value) -> bool:
        """Whether `value` (of the batched code) stands for a variable not assigned yet."""
        made = self.builder.producers.get(id(value))
        return made is not None and made.prim is P.placeholder

    def derived(self, original: Value):
        """The `derived` of the value made for `original` (`d_x` stays the adjoint of x's value)."""
        if original.derived is None:
            return None
        prefix, source = original.derived
        made = self.value_of.get(id(source))
        return (prefix, made) if isinstance(made, Value) else None

    def bind(self, original: Value, value, batched: bool) -> None:
        self.value_of[id(original)] = value
        (self.batched.add if batched else self.batched.discard)(id(original))

    # ------------------------------------------------------------ ops

    def ops(self, ops) -> None:
        for op in ops:
            self.builder.loc = op.loc
            if isinstance(op, Structured):
                self.structured(op)
            else:
                self.op(op)

    def op(self, op) -> None:
        self.made_by[id(op.result)] = op
        args = [self.lookup(a) for a in op.args]
        flags = tuple(self.is_batched(a) for a in op.args)
        if op.prim is P.weak and flags[0] and self.strong_alike:  # the batch of numbers as it is
            self.bind(op.result, args[0], True)
            return
        if op.prim.updates and not flags[0] and any(flags):  # batched values written into an unbatched array
            args[0], flags = self.as_batched(op.args[0]), (True, *flags[1:])
        if not any(flags):
            made = self.builder.emit(op.prim, args, op.param_dict, op.result.hint)
            if isinstance(made, Value) and not made.hint and not made.derived:
                made.derived = self.derived(op.result)
            self.bind(op.result, made, False)
            return
        if op.prim.elementwise:
            result = _elementwise(op.prim, [P.Sym(a) for a in args], flags, op.param_dict)
        elif callable(op.prim.batch):
            length = {"length": P.dim(self.template, axis=0)} if isinstance(op.prim.batch, WithLength) else {}
            result = op.prim.batch(*(P.Sym(a) for a in args), batched=flags, **length, **op.param_dict)
        else:
            result = None
        if result is None:
            what = op.param_dict.get("call", op.prim.name)  # a library call by its text
            raise CompileError(f"`{what}` of values that differ across the batch is not supported by "
                               f"batching (vmap, jacrev)", op.loc,
                               "compute it outside the batched function, or batch a function without it")
        batched = not isinstance(result, Unbatched)
        value = (result.value if not batched else result).operand
        assert value.type.ndim == op.result.type.ndim + batched, (op.prim.name, value.type, op.result.type)
        if isinstance(value, Value) and id(value) in self.builder.producers and not value.hint and not value.derived:
            value.hint, value.derived = op.result.hint, self.derived(op.result)
        self.bind(op.result, value, batched)

    def structured(self, op) -> None:
        if isinstance(op, If) and self.is_batched(op.args[0]):
            return self.selected(op)
        if isinstance(op, For) and self.is_batched(op.trips):
            return self.masked(op)
        carried = [self.is_batched(v) for v in op.inits]
        while True:  # the carried values batched where the initial value or the body makes them so
            own = {id(a): i for b in op.blocks for i, a in enumerate(op.carried_args(b))}
            self.widening.update((key, i) for key, i in own.items() if not carried[i])
            try:
                blocks = [self.nested(op, b, carried) for b in op.blocks]
            except _Widen as widen:
                if id(widen.arg) not in own:
                    raise
                carried[own[id(widen.arg)]] = True
                continue
            finally:
                for key in own:
                    self.widening.pop(key, None)
            yielded = [any(self.is_batched(v) for v in yields)
                       for yields in zip(*(b.terminator.values for b in op.blocks if b is not op.test))]
            wider = [c or y for c, y in zip(carried, yielded)] if op.inits else yielded
            if wider == carried or not op.inits:
                carried = wider
                break
            carried = wider
        if op.test is not None and self.is_batched(op.test.terminator.values[0]):
            return self.masked(op)
        for block, made in zip(op.blocks, blocks):
            if block is op.test:
                continue
            with self.builder.nested(made.ops):
                self.builder.loc = block.terminator.loc
                made.terminator = Yield(tuple(self.as_batched(v) if b else self.lookup(v)
                                              for v, b in zip(block.terminator.values, carried)), block.terminator.loc)
        self.builder.loc = op.loc
        inits = tuple(self.as_batched(v) if b else self.lookup(v) for v, b in zip(op.inits, carried))
        leading = tuple(self.lookup(a) for a in op.args[:len(op.args) - len(op.inits)])
        counts = op.results[:len(op.results) - len(op.carried_results)]
        results = [Value(r.type, r.hint) for r in counts]
        results += [Value(batched_type(r.type) if b else r.type, r.hint) for r, b in zip(op.carried_results, carried)]
        self.builder.append(op.rebuilt(leading + inits, tuple(blocks), tuple(results)))
        for r, new, b in zip(op.results, results, [False] * len(counts) + carried):
            self.bind(r, new, b)

    def selected(self, op: If) -> None:
        """An `if` whose condition differs across the batch: where every item's condition is the
        same (at run time), that branch alone, as each item would run it; else both branches
        computed for every item (as np.where computes both), each result taken from the branch its
        item's condition picks (`select`)."""
        if any(r.type.listed for r in op.results):
            raise CompileError("an `if` whose condition differs across the batch cannot choose a list (each item "
                               "would take its own branch)", op.loc, "keep the values in arrays of one shape (a "
                               "loop's arrays whose shape changes are kept in a list), or batch outside this code")
        condition = P.Sym(self.lookup(op.args[0]))
        # the items this code runs for: an enclosing `if` computing both branches runs each for all
        # the items, and the others' values of it are selected away (their conditions here may be
        # anything, a placeholder's False: a branch none of its own items takes reads values none made)
        held = condition if self.active is None else P.where(condition, self.active, False)
        taken = P.total(P.cast(held, dtype="int64"))
        count = P.size(condition) if self.active is None else P.total(P.cast(self.active, dtype="int64"))

        def branch(block):
            self.ops(block.ops)
            self.builder.loc = op.loc
            return [self.as_batched(v) for v in block.terminator.values]

        def both():
            sides, outer = [], self.active
            for block, side in zip(op.blocks, (condition, P.logical_not(condition))):
                self.active = side if outer is None else P.where(side, outer, False)
                try:
                    self.ops(block.ops)
                finally:
                    self.active = outer
                sides.append([(P.Sym(self.lookup(v)), self.is_batched(v)) for v in block.terminator.values])
            self.builder.loc = op.loc
            return [self.choose(condition, then, orelse, (then_batched, orelse_batched), result.type.ndim).operand
                    for result, (then, then_batched), (orelse, orelse_batched) in zip(op.results, *sides)]

        def mixed():  # some items take each branch, unless none takes the first
            results = self._results_of(op)
            none = P.equal(taken, P.Sym(0))
            self.builder.append(If((none.operand,), (self._block(lambda: branch(op.blocks[1]), op.loc),
                                                     self._block(both, op.loc)), results, op.loc))
            return results

        every = P.equal(taken, count)
        results = self._results_of(op)
        self.builder.append(If((every.operand,), (self._block(lambda: branch(op.blocks[0]), op.loc),
                                                  self._block(mixed, op.loc)), results, op.loc))
        for original, new in zip(op.results, results):
            self.bind(original, new, True)

    def _results_of(self, op: If) -> tuple:
        """New results for a batched `op`: each of its dtype and batched rank, its shape unknown."""
        return tuple(Value(Type(r.type.dtype, r.type.ndim + 1), r.hint) for r in op.results)

    def _block(self, make, loc) -> Block:
        """A block of no arguments holding what `make()` makes, yielding the values it returns."""
        with self.builder.nested() as ops:
            values = make()
        return Block([], ops, Yield(tuple(values), loc))

    def masked(self, op) -> None:
        """A loop whose trip count (a `for`'s) or test (a `while`'s) differs across the batch: it runs
        as long as the longest item's (a `for`) or while any item's test holds, each item's carried
        values kept from the iteration where its own loop has ended (`active`); a `while` counts
        each item's trips."""
        if any(v.type.listed for v in op.inits):
            raise CompileError(f"a `{op.name}` loop whose {'test' if op.test else 'trip count'} differs across the "
                               f"batch cannot carry a list (a tape or `append`): each item would run its own number "
                               f"of iterations", op.loc, "batch outside this code, or keep the values in an array")
        carried = [self.as_batched(v) for v in op.inits]
        index = [Value(a.type, a.hint) for a in op.body.args[:op.index_args]]
        args = index + [Value(batched_type(a.type), a.hint) for a in op.body.args[op.index_args:]]
        if isinstance(op, For):  # as many trips as the longest item's
            trips = P.Sym(self.lookup(op.trips))
            leading, own = (P.longest(trips).operand,), []
        else:
            leading, own = (), [over_batch(P.Sym(0), self.template).operand, self.tested(op, carried)]
            args += [Value(own[0].type, "count"), Value(own[1].type, "active")]
        with self.builder.nested() as body_ops:
            for position, (original, new) in enumerate(zip(op.body.args, args)):
                self.bind(original, new, position >= op.index_args)  # a `for`'s k is the same for all
            running = (P.Sym(index[0]) < trips) if isinstance(op, For) else P.Sym(args[-1])
            self.ops(op.body.ops)
            self.builder.loc = op.body.terminator.loc
            kept = [self.as_batched(v) if tape else  # rows past an item's own iterations are never read
                    self.kept(running, P.Sym(self.as_batched(v)), P.Sym(old))
                    for v, old, tape in zip(op.body.terminator.values, args[op.index_args:], _tapes(op, self.made_by))]
            if isinstance(op, While):
                still = P.where(running, P.Sym(self.tested(op, kept)), P.Sym(False))
                counted = P.Sym(args[-2]) + P.cast(running, dtype="int64")
                kept += [counted.operand, still.operand]
        body = Block(args, body_ops, Yield(tuple(kept), op.body.terminator.loc))
        blocks = (body,)
        if isinstance(op, While):  # any item's test holds
            test_args = [Value(a.type, a.hint) for a in args]
            with self.builder.nested() as test_ops:
                going = P.total(P.cast(P.Sym(test_args[-1]), dtype="int64")) > 0
            blocks = (Block(test_args, test_ops, Yield((going.operand,), op.loc)), body)
        self.builder.loc = op.loc
        results = [Value(Type("int64"), "trips")] if isinstance(op, While) else []
        results += [Value(a.type, a.hint) for a in args[op.index_args:]]
        self.builder.append(op.rebuilt((*leading, *carried, *own), blocks, tuple(results)))
        for original, new in zip(op.carried_results, results[1:] if isinstance(op, While) else results):
            self.bind(original, new, True)
        if isinstance(op, While):
            self.bind(op.trips, results[-2], True)

    def choose(self, condition, x, y, batched: tuple, rank: int) -> P.Sym:
        """Each item's x or y by its batched `condition`: two values of one variable, of logical
        rank `rank` (`select`: one shape for each item, or one side not assigned yet)."""
        return _elementwise(P.select, [condition, x, y], (True, *batched), {"rank": rank})

    def kept(self, running, new, old) -> Value:
        """Each item's `new` value where its loop runs, `old` where it has ended."""
        return self.choose(running, new, old, (True, True), new.type.ndim - 1).operand

    def tested(self, op: While, carried: list) -> Value:
        """The batched value of `op`'s test of the (batched) carried values `carried`, made here."""
        for original, new in zip(op.test.args, carried):
            self.bind(original, new, True)
        self.ops(op.test.ops)
        return self.as_batched(op.test.terminator.values[0])

    def nested(self, op, block: Block, carried: list) -> Block:
        """`block` batched with its carried arguments batched as `carried` says (the yield is
        made by the caller, which knows what the op carries)."""
        args = [Value(a.type, a.hint) for a in block.args[:op.index_args]]
        for original, new in zip(block.args[:op.index_args], args):
            self.bind(original, new, False)
        for original, b in zip(op.carried_args(block), carried):
            new = Value(batched_type(original.type) if b else original.type, original.hint)
            self.bind(original, new, b)
            args.append(new)
        with self.builder.nested() as ops:
            self.ops(block.ops)
        yields = tuple(self.lookup(v) for v in block.terminator.values)
        return Block(args, ops, Yield(yields, block.terminator.loc))


def _tapes(loop, made_by: dict) -> list:
    """For each value `loop` carries, whether it is its tape: a `while`'s stack (tape_push) or a
    `for`'s rows (made by tape_array, written by tape_row); `made_by` maps ids of values to the ops that made them."""
    tapes = []
    for init, value in zip(loop.inits, loop.body.terminator.values):
        pushed, made = made_by.get(id(value)), made_by.get(id(init))
        tapes.append(getattr(pushed, "prim", None) in (P.tape_push, P.tape_row) or
                     getattr(made, "prim", None) is P.tape_array)
    return tapes


def _elementwise(prim, operands: list, batched: tuple, params: dict):
    """The derived rule of an elementwise primitive: each batched operand aligned to the result's
    rank (k, 1.., *shape), unbatched ones broadcast as they are, and the op applied as it is."""
    rank = max(x.type.ndim - b for x, b in zip(operands, batched))
    return prim(*(aligned(x, b, rank) for x, b in zip(operands, batched)), **params)
