"""May-alias: which values of the IR may share memory. The one model of memory that lowering (which
refuses updates of an array another name shares) and emission (which writes updates in place where
nothing can tell) both ask.

A value may be the memory of its *origins*, read from the primitives' `memory` field and from the
structured ops:
- VIEW, IDENTITY (an array or list result): operand 0; UPDATE: operand 0, changed;
- FRESH: a new array as NumPy runs the user's code (`b = -(-a)`), operand 0 itself in the generated
  code, so it is an origin only for `Aliases(generated=True)`;
- an `if`'s result: what each branch yields;
- a loop's carried block argument and result: the initial value, and what the body yields (for the
  argument, of the iteration before: a *back edge* of that loop).
A value without origins (an argument, a captured global, an allocation, arithmetic) is a *root*: its
memory is its own. Two values may share memory when their chains (the value and every value it may
be, transitively) meet, which is when they may be the memory of one root.

The relation grows op by op (`add`): lowering adds each op as its builder makes it and asks while
the function is incomplete; a loop's block argument, before its loop op exists, may be its initial
value (`may_be`); `Aliases.of(function)` builds it for a whole function.
"""
from __future__ import annotations

import enum

from .core import Function, Loop, Structured, Value, walk


class Memory(enum.Enum):
    """What a primitive's result is in memory (its record's required `memory` field)."""

    NEW = "a new value (a number, or an array nothing else holds)"
    BUFFER = "a new array made to be filled in place: never merged with an equal one"
    VIEW = "may share the memory of operand 0 (a view, or operand 0 itself)"
    IDENTITY = "operand 0 itself at run time (emitted as `_0`)"
    FRESH = "a new array in NumPy, operand 0 itself in the generated code (emitted as `_0`)"
    UPDATE = "operand 0, changed in place (the template is a statement)"


class Aliases:
    """The may-alias relation over the values added so far. `generated`: as the generated code
    runs (FRESH is operand 0), else as NumPy runs the user's code (FRESH is new memory)."""

    def __init__(self, generated: bool):
        self.generated = generated
        self.origins: dict[Value, list] = {}  # value -> [(origin, back edge: the loop, or None)]

    @classmethod
    def of(cls, fn: Function, generated: bool = True) -> "Aliases":
        aliases = cls(generated)
        for op in walk(fn.entry.ops):
            aliases.add(op)
        return aliases

    def add(self, op) -> None:
        """Add the origins of the results (and block arguments) of `op`, an op or a structured op."""
        if isinstance(op, Structured):
            self._structured(op)
            return
        memory = op.prim.memory_of(op.param_dict)
        shares = (Memory.VIEW, Memory.IDENTITY, Memory.FRESH) if self.generated else (Memory.VIEW, Memory.IDENTITY)
        if memory is Memory.UPDATE or memory in shares and (op.result.type.ndim or op.result.type.listed):
            self.may_be(op.result, op.args[0])

    def _structured(self, op: Structured) -> None:
        back_edge = op if isinstance(op, Loop) else None
        for block in op.blocks:
            for position, arg in enumerate(op.carried_args(block)):
                initial, following = op.sources(position)
                self.may_be(arg, initial)
                self.may_be(arg, following, back_edge=back_edge)
        for position, result in enumerate(op.carried_results):
            self.may_be(result, *op.sources(position))

    def may_be(self, value, *origins, back_edge=None) -> None:
        """`value` may be the memory of `origins` (of an earlier iteration of the loop `back_edge`)."""
        if isinstance(value, Value):
            known = self.origins.setdefault(value, [])
            known.extend((o, back_edge) for o in origins if isinstance(o, Value) and (o, back_edge) not in known)

    def chain(self, value) -> set:
        """Ids of `value` and of every value whose memory it may be (transitively)."""
        chain, stack = set(), [value]
        while stack:
            current = stack.pop()
            if isinstance(current, Value) and id(current) not in chain:
                chain.add(id(current))
                stack.extend(origin for origin, _ in self.origins.get(current, ()))
        return chain

    def share(self, a, b) -> bool:
        """Whether the values `a` and `b` may share memory."""
        return bool(self.chain(a) & self.chain(b))

    def roots(self, value) -> frozenset:
        """The memory `value` may be: pairs (id of a root, the loops whose back edges lead there,
        that is, of whose earlier iterations that memory may be)."""
        found, stack, seen = set(), [(value, frozenset())], set()
        while stack:
            current, crossed = stack.pop()
            if (id(current), crossed) in seen:
                continue
            seen.add((id(current), crossed))
            origins = self.origins.get(current)
            if not origins:
                found.add((id(current), crossed))
            for origin, back_edge in origins or ():
                stack.append((origin, crossed | {back_edge} if back_edge is not None else crossed))
        return frozenset(found)
