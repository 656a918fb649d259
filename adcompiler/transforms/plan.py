"""What the backward of a loop or an `if` reads of its forward, and how it gets each value: the
residual plan. `plan_loop` and `plan_if` decide (they change no block): they name, for each value
taped or surfaced, the new forward value the backward reads (`Plan.outputs`: the loop's tape, the
`if`'s result). Reverse mode builds the backward's reads from the plans; `transforms/augment.py`
then adds to the forward what the plans name (tapes, stores, results), in the plans' order. The
plan of an op that holds another sees the other's outputs as values of its blocks (`added`).

For a loop, each forward value of the body that the backward body reads is, in this order of
preference: the iteration number (INDEX); a counter (`counters`: an integer the loop steps by
amounts that depend on no carried value, `at = at + 1`) recomputed by undoing each step as the
backward walks the iterations down from the loop's result (UNDONE: integers, so exact); recomputed
from the iteration number, outer values and values already available, by ops whose primitive says
they are cheap (RECOMPUTE); or stored every iteration: the scalars of a `for` in an array
allocated before the loop (ARRAY); a value whose shape is the same in every iteration (`_Shapes`)
in a stack, an array with a row per iteration (STACK: allocated before a `for` when the lengths of
its rows can be computed there, `Plan.rows`, else at the first iteration, as many rows as a `for`
runs, doubled when a `while` fills it); any other in a list (LIST). For an `if`,
each value a branch's backward reads becomes a result of the forward `if` (SURFACE). A value's
operands are decided before it.

The shapes are proved the same on symbolic shapes (`_Shapes`): a carried array keeps its shape
when the body yields one of exactly its shape (by induction from its initial value). A proof
that lengths are equal rests on the ops that ran (`W @ h` needs W's columns to be h's length), and
the gradient does not rest on the proof: the stack's rows have the first push's shape (or the
lengths computed before the loop) and every store checks that its value has it (a ValueError,
never a wrong gradient).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from ..errors import Loc
from ..ir.core import (Block, Checkpointed, Const, For, If, IndexArray, IndexInt, Loop, Structured, Type, Value, defined_in,
                       index_items, read_in, results_of, walk)
from ..rules import primitives as P
from ..rules.primitive import BUFFER, FRESH, IDENTITY, UPDATE


REVOLVED = "revolved for"  # the name of transforms/checkpoint.py's `Revolved` loops


class Keep(enum.Enum):
    """How the backward gets a forward value."""

    INDEX = "the iteration number"
    UNDONE = "recomputed by undoing its step, from the loop's result down"
    RECOMPUTE = "recomputed"
    ARRAY = "taped in an array"
    STACK = "taped in a stack of rows"
    LIST = "taped in a list"
    SURFACE = "a result of the forward `if`"


@dataclass(frozen=True)
class Plan:
    """The decisions for one loop or `if`, in the order they are applied."""

    op: str  # "for", "checkpointed for", "while" or "if"
    loc: Loc
    decisions: tuple  # (Value, Keep)
    structured: Structured = field(compare=False, repr=False)  # the forward op
    outputs: tuple = ()  # per decision: the new forward value the backward reads (a tape, a result), or None
    branch: int | None = None  # an `if`'s: the branch whose values become results
    counters: tuple = ()  # a loop's: the Counters its backward carries, undoing their steps
    rows: tuple = ()  # per decision of a `for`'s: the lengths of a row of its tape (Lengths), None if not known before it

    @property
    def checkpointed(self) -> bool:
        return self.op in (Checkpointed.name, REVOLVED)

    def describe(self, name) -> str:
        """One line per decision, values named by `name` (a Namer)."""
        revolved = (", kept by the binomial schedule: as many as memory= holds, each iteration advanced from the "
                    "nearest one below it") if self.op == REVOLVED else ""
        lines = [f"{self.op} at {self.loc.short}:" + (" its values recomputed in the backward, iteration by iteration, "
                                                      "from snapshots of the carried values" + revolved
                                                      if self.checkpointed else "")]
        for value, keep in self.decisions:
            lines.append(f"  %{name(value)}: {value.type} {keep.value}")
        if self.checkpointed and not self.decisions:  # a checkpointed call: it reads only values kept outside it
            lines.append("  no snapshot: it is recomputed from the values it reads")
        return "\n".join(lines)


def plan_loop(op: Loop, backward: Block, added: dict, tapes: dict, outside: dict) -> Plan:
    """The plan for loop `op`, whose backward body `backward` reads values of its forward body
    (`added`: id(structured op) -> the results earlier plans add to it; `tapes`: id(tape) -> the
    loop and Keep of each tape earlier plans made; `outside`: id(value) -> the op that makes it,
    for the function's values made by primitives)."""
    body = op.body
    shapes = _Shapes(op, added, tapes, outside)
    inside = _defined(body, added)
    needed = _needed(body, backward, added)
    made = [*body.args, *(r for o in body.ops for r in (*results_of(o), *added.get(id(o), ())))]
    made_at = {id(v): n for n, v in enumerate(made)}
    needed.sort(key=lambda v: made_at.get(id(v), len(made_at)))  # taped operands first: then recomputable
    index = {id(a) for a in body.args[:op.index_args]}
    available = set(index)
    producers = {id(o.result): o for o in body.ops if not isinstance(o, Structured)}
    counting = {}  # id(a counter's carried argument, or a result of an inner loop that steps it) -> its Counter
    for counter in counters(op):
        counting[id(op.carried_args(body)[counter.position])] = counter
        counting.update((key, counter) for key, (value, _) in counter.offsets.items() if id(value) not in producers)
    undone = []
    decisions = []

    def recomputable(value) -> bool:
        """Whether `value` is available, or made from the iteration number, outer values and
        available values by cheap ops (an index such as `i - 1`, an element `x[i, j] - m[j]`), or
        a counter's value: its carried argument undone from the iteration's end, plus its offset."""
        if id(value) in available:
            return True
        counter = counting.get(id(value))
        if counter is not None:
            start = op.carried_args(body)[counter.position]
            if not all(isinstance(f, Const) or id(f) not in inside or recomputable(f)
                       for _, factors in (*counter.step(body), *counter.offsets[id(value)][1]) for f in factors):
                return False
            if counter not in undone:
                undone.append(counter)
                available.add(id(start))
                decisions.append((start, Keep.UNDONE))
            if value is not start:
                available.add(id(value))
                decisions.append((value, Keep.UNDONE))
            return True
        producer = producers.get(id(value))
        if producer is None or value.type.listed or not producer.prim.recomputed(value.type, producer.param_dict) \
                or not all(isinstance(a, Const) or id(a) not in inside or recomputable(a) for a in producer.args):
            return False
        available.add(id(value))
        decisions.append((value, Keep.RECOMPUTE))
        return True

    for value in needed:
        if id(value) in index:
            decisions.append((value, Keep.INDEX))
        elif not recomputable(value):
            decisions.append((value, _store(op, value, shapes)))
            available.add(id(value))
    outputs = tuple(Value(tape_type(value, keep), derived=("tape_", value))
                    if keep in TAPED else None for value, keep in decisions)
    rows = tuple(() if keep is Keep.ARRAY else shapes.lengths(value) if keep is Keep.STACK and type(op) is For else None
                 for value, keep in decisions)
    return Plan(op.name, op.loc, tuple(decisions), op, outputs, counters=tuple(undone), rows=rows)


TAPED = (Keep.ARRAY, Keep.STACK, Keep.LIST)


ARRAY_OVERHEAD = 112  # bytes of an ndarray object on a list tape, besides its data


def kept_bytes(value: Value, keep: Keep, array_bytes):
    """The bytes that keeping `value` as `keep` costs its loop per iteration: its item size on an
    array tape; on a stack or a list `array_bytes` (a Sym: the bytes of an array the loop carries, an
    estimate that holds where taped arrays are no larger) plus an ndarray's overhead, None when the
    loop carries no array to size it by; nothing when recomputed or the iteration number."""
    if keep is Keep.ARRAY:
        return np.dtype(value.type.dtype).itemsize
    if keep in (Keep.STACK, Keep.LIST):
        return None if array_bytes is None else array_bytes + ARRAY_OVERHEAD
    return 0


def _store(op: Loop, value: Value, shapes: "_Shapes") -> Keep:
    """How loop `op` tapes `value`, which the backward cannot recompute."""
    if value.type.listed or not shapes.fixed(value):
        return Keep.LIST
    return Keep.ARRAY if isinstance(op, For) and value.type.ndim == 0 else Keep.STACK


def tape_type(value: Value, keep: Keep) -> Type:
    """The type of a loop's tape of `value`: an array of its scalars, a stack of its rows (the
    first axis the iteration's), or a list of its values."""
    kind = value.type
    if keep is Keep.ARRAY:
        return Type(kind.dtype, 1)
    if keep is Keep.STACK:
        return Type(kind.dtype, kind.ndim + 1, False, (None, *kind.units), 0, (None, *kind.lengths))
    return Type(kind.dtype, kind.ndim, False, kind.units, kind.listed + 1, kind.lengths)


class _Shapes:
    """Which values of the body of `loop` have the same shape in every iteration, by symbolic
    shapes: a value's shape (`shape`) is a tuple of lengths, each an expression of values from
    outside the loop (`("dim", id, axis)`, `("value", id)`, literals) or None where not known.
    An op's result has its primitive's shape of its operands' (broadcasting, indexing, creation
    from lengths) or, for any other primitive, an expression of the operands' shapes, numbers and
    params (none where the shape depends on an array's values: masks, library calls). A carried
    array keeps its shape when the body's yield has exactly the carried one (`v = tanh(W @ v + v)`,
    `state = np.zeros((state.shape[0], b))`, not `v = v[1:]`): the carried value is first assumed
    to, until that settles, with its initial value's shape, through the indexing and copies that made
    that value before the loop (`_before`: `x = sequence[0]` then `x = sequence[t + 1]` keeps a row's
    length), or as a symbol of its own where a placeholder stands for it (empty until assigned); an
    inner loop's carried value then has its initial shape.
    An inner loop's tape is fixed when its rows are and its trip count is the same number."""

    def __init__(self, loop: Loop, added: dict, tapes: dict, outside: dict):
        self.loop, self.tapes, self.outside = loop, tapes, outside
        self.outer = {}  # id -> value, of the values from outside the loop that lengths name
        self.made = {}  # ("number", ...) -> an op of the body that computes it
        self.inside = _defined(loop.body, added)
        self.producers = {id(r): o for o in walk(loop.body.ops) for r in results_of(o)}
        self.carried = {}  # id(carried block argument or result) -> (its loop, position)
        for inner in [loop, *(o for o in walk(loop.body.ops) if isinstance(o, Loop))]:
            for position, result in enumerate(inner.carried_results):
                for block in inner.blocks:
                    self.carried[id(inner.carried_args(block)[position])] = (inner, position)
                self.carried[id(result)] = (inner, position)
        self.assumed = set(self.carried)
        while True:
            self.memo, self.equal = {}, {}
            kept = {key for key in self.carried if key in self.assumed and self._keeps(*self.carried[key])}
            if kept == self.assumed:
                return
            self.assumed = kept

    def _keeps(self, inner: Loop, position: int) -> bool:
        following = self.shape(inner.body.terminator.values[position])
        if following is None:
            return False
        carried = self.shape(inner.carried_args(inner.body)[position] if inner is self.loop else inner.inits[position])
        return carried is not None and tuple(map(self.find, following)) == tuple(map(self.find, carried))

    def find(self, length):
        """The representative of the lengths known equal to `length` (because an op ran)."""
        while length in self.equal:
            length = self.equal[length]
        return length

    def unite(self, lengths) -> None:
        first, *rest = (self.find(length) for length in lengths)
        for length in rest:
            if length != first:
                self.equal[length] = first

    def fixed(self, value) -> bool:
        """Whether `value` has the same shape in every iteration."""
        return not value.type.listed and self.shape(value) is not None

    def shape(self, value):
        """The symbolic shape of `value` (its lengths, 1 where its type says so), or None."""
        if isinstance(value, Const) or value.type.ndim == 0:
            return () if not value.type.listed else None
        if value.type.listed:
            return None
        if id(value) not in self.memo:
            self.memo[id(value)] = None  # (a cycle: not proved)
            lengths = self._shape(value)
            if lengths is not None and id(value) not in self.carried:  # (a carried value may be a placeholder,
                # empty whatever its type says, in the iterations before it is first assigned)
                lengths = tuple(1 if unit else length for length, unit in zip(lengths, value.type.units))
            self.memo[id(value)] = lengths
        return self.memo[id(value)]

    def lengths(self, value):
        """The Lengths of `value`'s shape, each computed from values from outside the loop (so
        before it), or None."""
        shape = self.shape(value)
        lengths = None if shape is None else tuple(self._length(length) for length in shape)
        return None if lengths is None or None in lengths else lengths

    def _length(self, length):
        if isinstance(length, int):
            return length
        if length[0] == "dim" and self.carried.get(length[1], (None,))[0] is self.loop:
            # a carried argument of the loop keeps its shape (it is assumed to): its initial value's
            initial = self.loop.inits[self.carried[length[1]][1]]
            if not isinstance(initial, Value):
                return None
            self.outer[id(initial)] = initial
            length = ("dim", id(initial), length[2])
        if length[0] in ("dim", "value") and length[1] in self.outer:
            return Length(None, (self.outer[length[1]],), {"axis": length[2]} if length[0] == "dim" else None)
        if length[0] == "number" and length in self.made:
            producer = self.made[length]
            operands = tuple(a if isinstance(a, Const) else self._length(self.number(a)) for a in producer.args)
            return None if None in operands else Length(producer.prim, operands, producer.param_dict)
        if length[0] == "slice":
            prim, lengths, params = P.slice_length, (length[1], *length[3:]), {"given": length[2]}
        elif length[0] == "broadcast":
            prim, lengths, params = P.broadcast_length, length[1:], {}
        else:
            return None
        operands = tuple(self._length(n) for n in lengths)
        return None if None in operands else Length(prim, operands, params)

    def _shape(self, value):
        if id(value) not in self.inside:
            self.outer[id(value)] = value
            return tuple(("dim", id(value), axis) for axis in range(value.type.ndim))
        if id(value) in self.carried:
            if id(value) not in self.assumed:
                return None
            inner, position = self.carried[id(value)]
            if inner is not self.loop:
                return self.shape(inner.inits[position])
            initial = self.loop.inits[position]
            made = self.outside.get(id(initial)) if isinstance(initial, Value) else None
            if made is not None and made.prim.name != "placeholder":
                return self._before(initial)
            return tuple(("dim", id(value), axis) for axis in range(value.type.ndim))
        if id(value) in self.tapes:
            inner, keep = self.tapes[id(value)]
            trips = self.number(inner.trips) if isinstance(inner, For) else None
            rows = () if keep is Keep.ARRAY else self.shape(value.derived[1]) if keep is Keep.STACK else None
            return None if trips is None or rows is None else (trips, *rows)
        producer = self.producers.get(id(value))
        if producer is None:
            return None
        if isinstance(producer, If):
            shapes = {self.shape(v) for v in producer.sources(producer.results.index(value))}
            return shapes.pop() if len(shapes) == 1 else None
        if isinstance(producer, Structured):
            return None
        return self._result(producer)

    def _before(self, value):
        """The symbolic shape of `value`, made before the loop: through the indexing and copies
        that made it, down to lengths of values from outside the loop (never assumed 1 where the
        type says so: a placeholder among them would be empty)."""
        made = self.outside.get(id(value))
        if made is not None and made.prim.name == "getitem" and not _masked(made):
            return _indexed(self._before(made.args[0]), self.operands(made.args[1:]), made.param_dict["index"])
        if made is not None and (made.prim.memory_of(made.param_dict) is IDENTITY or made.prim.name == "copy"):
            return self._before(made.args[0])
        self.outer[id(value)] = value
        return tuple(("dim", id(value), axis) for axis in range(value.type.ndim))

    def operands(self, args) -> list:
        """The symbolic shapes of the arrays `args`, and the expressions of its numbers."""
        return [self.shape(a) if a.type.ndim else self.number(a) for a in args]

    def _result(self, op):
        prim, params = op.prim, op.param_dict
        shapes = self.operands(op.args)
        if prim.name == "placeholder":
            return None  # empty, whatever its type says: never proved the shape of the value it stands for
        if prim.memory_of(params) in (UPDATE, IDENTITY, FRESH) or prim.name == "copy":
            return shapes[0]
        if prim.name == "matmul" and 3 not in (op.args[0].type.ndim, op.args[1].type.ndim) and None not in shapes:
            left, right = shapes
            self.unite((left[-1], right[0]))  # (the contracted lengths)
            return left[:-1] + (right[-1:] if len(right) == 2 else ())
        if prim.broadcasts is True or prim.ufunc:
            return _broadcast([(s, a.type.units) for s, a in zip(shapes, op.args) if a.type.ndim], self.unite)
        if prim.name == "getitem":
            if _masked(op):
                return None  # a boolean mask: the length is its count of True
            return _indexed(shapes[0], shapes[1:], params["index"])
        if prim.name in ("zeros", "ones", "empty"):
            return None if None in shapes else tuple(shapes)
        if None in shapes or prim.name in ("library_value", "library_index"):
            return None
        return tuple(("axis", axis, prim.name, repr(op.params), *shapes) for axis in range(op.result.type.ndim))

    def number(self, number):
        """An expression of the number (a scalar) when it is the same in every iteration, else None."""
        if isinstance(number, Const):
            return number.value
        if id(number) not in self.inside:
            self.outer[id(number)] = number
            return ("value", id(number))
        producer = self.producers.get(id(number))
        if producer is None or isinstance(producer, Structured) or number.type.ndim:
            return None
        if producer.prim.name == "dim":
            lengths = self.shape(producer.args[0])
            return None if lengths is None else lengths[producer.param_dict["axis"]]
        operands = [self.number(a) for a in producer.args]
        if producer.prim.memory_of(producer.param_dict) is BUFFER or None in operands:
            return None
        expression = ("number", producer.prim.name, repr(producer.params), *operands)
        self.made.setdefault(expression, producer)
        return expression


@dataclass(frozen=True)
class Length:
    """How to compute a length before a loop: `prim` of `operands` (Lengths, literals) with
    `params` (a number's op, `slice_length` of a slice, `broadcast_length` of lengths broadcast);
    without a primitive, its one operand (a value from outside the loop), or that operand's length
    along params["axis"]."""

    prim: object
    operands: tuple
    params: dict | None = field(default=None, compare=False)


def _masked(getitem) -> bool:
    """Whether a getitem's index has a boolean mask (its length is the mask's count of True)."""
    return any(a.type.dtype == "bool" and a.type.ndim for a in getitem.args[1:])


def _broadcast(operands, unite):
    """The symbolic shape of operands (shape, units) broadcast together. Lengths that are not 1
    are equal where the op ran: `unite` learns it."""
    if any(shape is None for shape, _ in operands):
        return None
    rank = max((len(shape) for shape, _ in operands), default=0)
    result = []
    for axis in range(rank):
        lengths = {}
        for shape, units in operands:
            at = axis - rank + len(shape)
            if at >= 0 and shape[at] != 1:
                lengths[shape[at]] = units[at]
        known = [length for length, unit in lengths.items() if unit is False]
        if len(known) > 1:
            unite(known)
        # lengths none of which is known not to be 1: whichever is not (a function of them all)
        result.append(1 if not lengths else next(iter(lengths)) if len(lengths) == 1 else known[0] if known
                      else ("broadcast", *sorted(lengths, key=repr)))
    return tuple(result)


def _indexed(shape, items, index):
    """The symbolic shape of `x[index]` for `x` of symbolic shape `shape`, the index's operands
    given as numbers (`items`), or None."""
    if shape is None:
        return None
    result = []
    for axis, item, operands in index_items(index, items):
        if isinstance(item, IndexInt):  # the axis goes, whatever the integer
            continue
        if None in operands:
            return None
        if isinstance(item, IndexArray):
            result += operands[0]
        else:
            result.append(("slice", shape[axis], item.given, *operands) if operands else shape[axis])
    return tuple(result) + tuple(shape[len(index):])


@dataclass(frozen=True)
class Counter:
    """An integer that a `for` loop carries (at `position`) and steps by amounts that depend on
    no carried value: `offsets` maps id(v) -> (v, terms) for each value v of the body that is the
    carried argument plus a sum of terms (`at`, `at + 1`, the result of an inner loop stepping it),
    a term being `(sign, factors)`: sign times the product of factors (operands outside the
    carried values' reach: the iteration number, outer values, an inner loop's trip count)."""

    position: int
    offsets: dict

    def step(self, body: Block) -> tuple:
        """The terms of one iteration's step: the offset of the value the body yields."""
        return self.offsets[id(body.terminator.values[self.position])][1]


def counters(op: Loop) -> list:
    """The counters of loop `op` (not a `while`, whose iterations the backward does not walk by
    number, nor a checkpointed loop, whose backward recomputes its iterations)."""
    if not isinstance(op, For) or isinstance(op, Checkpointed):
        return []
    body = op.body
    carried = op.carried_args(body)
    reached = _reached(body, carried)
    found = []
    for position, (arg, following) in enumerate(zip(carried, body.terminator.values)):
        if arg.type.dtype != "int64" or arg.type.ndim or arg.type.listed:
            continue
        offsets = _offsets(arg, body, reached)
        if id(following) in offsets and offsets[id(following)][1]:
            found.append(Counter(position, offsets))
    return found


def _offsets(start: Value, block: Block, varying: set) -> dict:
    """id(v) -> (v, terms) for the values v of `block` (not its nested blocks) that are `start`
    plus the sum of terms, each term's factors outside `varying`: made by `+` or `-` of an integer
    outside `varying`, or the result of an inner `for` whose counter starts at such a value and
    steps by terms that are the same in every inner iteration (times its trip count)."""
    offsets = {id(start): (start, ())}

    def steady(operand) -> bool:
        return operand.type.dtype == "int64" and not operand.type.ndim and \
            (isinstance(operand, Const) or id(operand) not in varying)

    for op in block.ops:
        if isinstance(op, For) and steady(op.trips):
            inner = {counter.position: counter for counter in counters(op)}
            inside = defined_in(op.body)
            for position, (init, result) in enumerate(zip(op.inits, op.carried_results)):
                counter = inner.get(position)
                if counter is None or id(init) not in offsets:
                    continue
                step = counter.step(op.body)
                if all(not isinstance(f, Value) or (id(f) not in inside and steady(f)) for _, fs in step for f in fs):
                    terms = tuple((sign, (op.trips, *factors)) for sign, factors in step)
                    offsets[id(result)] = (result, offsets[id(init)][1] + terms)
        elif not isinstance(op, Structured) and op.prim.name in ("add", "sub") and op.result.type.dtype == "int64" \
                and not op.result.type.ndim:
            left, right = op.args
            if id(left) in offsets and steady(right):
                sign = 1 if op.prim.name == "add" else -1
                offsets[id(op.result)] = (op.result, offsets[id(left)][1] + ((sign, (right,)),))
            elif op.prim.name == "add" and id(right) in offsets and steady(left):
                offsets[id(op.result)] = (op.result, offsets[id(right)][1] + ((1, (left,)),))
    return offsets


def _reached(body: Block, carried) -> set:
    """Ids of the values of `body` (nested blocks too) that depend on the values `carried`."""
    reached = {id(a) for a in carried}
    for op in body.ops:
        reads = list(op.args) + ([v for b in op.blocks for v in read_in(b)] if isinstance(op, Structured) else [])
        if any(isinstance(v, Value) and id(v) in reached for v in reads):
            reached.update(id(r) for r in results_of(op))
            if isinstance(op, Structured):
                reached.update(i for b in op.blocks for i in defined_in(b))
    return reached


def plan_if(op: If, number: int, backward: Block, added: dict) -> Plan:
    """The plan for the branch `number` of `op`, whose backward `backward` reads its values."""
    needed = _needed(op.blocks[number], backward, added)
    return Plan("if", op.loc, tuple((value, Keep.SURFACE) for value in needed), op,
                tuple(value.renewed() for value in needed), number)


def _defined(block: Block, added: dict) -> set:
    """Ids of the values of `block` and its nested blocks, with the results plans add to its ops."""
    return defined_in(block) | {id(r) for op in walk(block.ops) for r in added.get(id(op), ())}


def _needed(forward: Block, backward: Block, added: dict) -> list:
    """The values made in `forward` (nested blocks too) that `backward` reads, once each."""
    inside = _defined(forward, added)
    return list({id(v): v for v in read_in(backward) if isinstance(v, Value) and id(v) in inside}.values())
