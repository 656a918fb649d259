"""What the backward of a loop or an `if` reads of its forward, and how it gets each value: the
residual plan. `plan_loop` and `plan_if` decide (they change no block): they name, for each value
taped or surfaced, the new forward value the backward reads (`Plan.outputs`: the loop's tape, the
`if`'s result). Reverse mode builds the backward's reads from the plans; `transforms/augment.py`
then adds to the forward what the plans name (tapes, stores, results), in the plans' order. The
plan of an op that holds another sees the other's outputs as values of its blocks (`added`).

For a loop, each forward value of the body that the backward body reads is, in this order of
preference: the iteration number (INDEX); recomputed from the iteration number, outer values and
values already available, by ops whose primitive says they are cheap (RECOMPUTE); or stored every
iteration, in an array allocated before the loop for the scalars of a `for` (ARRAY) and in a list
otherwise (LIST). For an `if`, each value a branch's backward reads becomes a result of the
forward `if` (SURFACE). A value's operands are decided before it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..errors import Loc
from ..ir.core import Block, Checkpointed, Const, For, If, Loop, Structured, Type, Value, defined_in, read_in, results_of, walk


class Keep(enum.Enum):
    """How the backward gets a forward value."""

    INDEX = "the iteration number"
    RECOMPUTE = "recomputed"
    ARRAY = "taped in an array"
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

    @property
    def checkpointed(self) -> bool:
        return self.op == Checkpointed.name

    def describe(self, name) -> str:
        """One line per decision, values named by `name` (a Namer)."""
        lines = [f"{self.op} at {self.loc.short}:" + (" its values recomputed in the backward, iteration by iteration, "
                                                      "from snapshots of the carried values" if self.checkpointed else "")]
        for value, keep in self.decisions:
            lines.append(f"  %{name(value)}: {value.type} {keep.value}")
        if self.checkpointed and not self.decisions:  # a checkpointed call: it reads only values kept outside it
            lines.append("  no snapshot: it is recomputed from the values it reads")
        return "\n".join(lines)


def plan_loop(op: Loop, backward: Block, added: dict) -> Plan:
    """The plan for loop `op`, whose backward body `backward` reads values of its forward body
    (`added`: id(structured op) -> the results earlier plans add to it)."""
    body = op.body
    inside = _defined(body, added)
    needed = _needed(body, backward, added)
    made = [*body.args, *(r for o in body.ops for r in (*results_of(o), *added.get(id(o), ())))]
    made_at = {id(v): n for n, v in enumerate(made)}
    needed.sort(key=lambda v: made_at.get(id(v), len(made_at)))  # taped operands first: then recomputable
    index = {id(a) for a in body.args[:op.index_args]}
    available = set(index)
    producers = {id(o.result): o for o in body.ops if not isinstance(o, Structured)}
    decisions = []

    def recomputable(value) -> bool:
        """Whether `value` is available, or made from the iteration number, outer values and
        available values by cheap ops (an index such as `i - 1`, an element `x[i, j] - m[j]`)."""
        if id(value) in available:
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
            in_array = isinstance(op, For) and value.type.ndim == 0 and not value.type.listed
            decisions.append((value, Keep.ARRAY if in_array else Keep.LIST))
            available.add(id(value))
    outputs = tuple(Value(tape_type(value, keep is Keep.ARRAY), derived=("tape_", value))
                    if keep in (Keep.ARRAY, Keep.LIST) else None for value, keep in decisions)
    return Plan(op.name, op.loc, tuple(decisions), op, outputs)


def tape_type(value: Value, in_array: bool) -> Type:
    """The type of a loop's tape of `value`: an array of its scalars, or a list of its values."""
    kind = value.type
    return Type(kind.dtype, 1) if in_array else Type(kind.dtype, kind.ndim, False, kind.units, kind.listed + 1, kind.lengths)


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
