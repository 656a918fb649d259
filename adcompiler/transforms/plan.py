"""What the backward of a loop or an `if` reads of its forward, and how it gets each value: the
residual plan. `plan_loop` and `plan_if` decide (they change nothing); reverse mode then builds
the backward's reads and augments the forward from the plan, in the plan's order.

For a loop, each forward value of the body that the backward body reads is, in this order of
preference: the iteration number (INDEX); recomputed from the iteration number, outer values and
values already available, by ops whose primitive says they are cheap (RECOMPUTE); or stored every
iteration, in an array allocated before the loop for the scalars of a `for` (ARRAY) and in a list
otherwise (LIST). For an `if`, each value a branch's backward reads becomes a result of the
forward `if` (SURFACE). A value's operands are decided before it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import Loc
from ..ir.core import Block, Const, For, If, Loop, Structured, Value, defined_in, read_in, results_of


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

    op: str  # "for", "while" or "if"
    loc: Loc
    decisions: tuple  # (Value, Keep)

    def describe(self, name) -> str:
        """One line per decision, values named by `name` (a Namer)."""
        lines = [f"{self.op} at {self.loc.short}:"]
        for value, keep in self.decisions:
            lines.append(f"  %{name(value)}: {value.type} {keep.value}")
        return "\n".join(lines)


def plan_loop(op: Loop, backward: Block) -> Plan:
    """The plan for loop `op`, whose backward body `backward` reads values of its forward body."""
    body = op.body
    inside = defined_in(body)
    needed = _needed(body, backward)
    made_at = {id(v): n for n, v in enumerate([*body.args, *(r for o in body.ops for r in results_of(o))])}
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
    return Plan("for" if isinstance(op, For) else "while", op.loc, tuple(decisions))


def plan_if(op: If, forward: Block, backward: Block) -> Plan:
    """The plan for the branch `forward` of `op`, whose backward `backward` reads its values."""
    return Plan("if", op.loc, tuple((value, Keep.SURFACE) for value in _needed(forward, backward)))


def _needed(forward: Block, backward: Block) -> list:
    """The values made in `forward` (nested blocks too) that `backward` reads, once each."""
    inside = defined_in(forward)
    return list({id(v): v for v in read_in(backward) if isinstance(v, Value) and id(v) in inside}.values())
