"""Which updates (`y[i] = v`, `acc[i] += g`, `tape.append(v)`) may change their array in place.

The IR is functional: an update op makes a new value. Emission writes it in place (no copy) when
nothing can tell the difference: the old value's memory belongs to no argument, and nothing reads
it, or anything sharing its memory, after the update. Sharing memory is the closure of: views and
identities of a value, the values an `if` or a loop passes on (initial values, block arguments,
yields, results), updates and their operands, and lists and their items. Positions are paths in the
block tree; two blocks of one op are either exclusive (`if`) or ordered by the op's own semantics,
so a read in a sibling block is never "after".
"""
from __future__ import annotations

import math

from .ir import Function, Structured, Value

# Ops whose result may be (a view of) their first operand; a broadcast is a read-only view.
VIEWS = {"getitem", "reshape", "transpose", "permute", "expand_dims", "squeeze", "list_get", "unbroadcast",
         "broadcast_like"}
BEFORE, AFTER = -1, math.inf  # path steps: reading a structured op's operands, its results


def in_place_updates(fn: Function) -> set:
    """Ids of the update ops of `fn` that emission may write in place."""
    analysis = _Analysis(fn)
    return {id(op) for op in analysis.updates if analysis.safe(op)}


class _Analysis:
    def __init__(self, fn: Function):
        self.parent: dict[int, int] = {}  # union-find over value ids: shares memory
        self.defined_at: dict[int, tuple] = {}
        self.readers: dict[int, list] = {}  # id(value) -> read positions (path, op or None)
        self.members: dict[int, set] = {}
        self.kinds: dict[tuple, str] = {}  # path of a structured op -> its kind
        self.updates = []
        self.path_of: dict[int, tuple] = {}
        self.foreign = {id(p) for p in fn.params}
        self.pinned: dict[int, tuple] = {}  # id(array appended to a list, a tape) -> where: it must not change after
        self._block(fn.entry, ())
        for key in list(self.defined_at):
            self.members.setdefault(self._find(key), set()).add(key)

    def _find(self, key):
        while self.parent.get(key, key) != key:
            key = self.parent[key]
        return key

    def _share(self, a, b):
        if isinstance(a, Value) and isinstance(b, Value):
            self.parent[self._find(id(a))] = self._find(id(b))

    def _define(self, value, path):
        self.defined_at[id(value)] = path

    def _read(self, operand, path, op):
        if isinstance(operand, Value):
            self.readers.setdefault(id(operand), []).append((path, op))

    def _block(self, block, path):
        for arg in block.args:
            self._define(arg, path + (BEFORE,))
        for index, op in enumerate(block.ops):
            here = path + (index,)
            if isinstance(op, Structured):
                self.kinds[here] = op.kind
                for arg in op.args:
                    self._read(arg, here + (BEFORE,), op)
                for number, inner in enumerate(op.blocks):
                    self._block(inner, here + (number,))
                    offset = 1 if op.kind == "for" else 0
                    for arg, init in zip(inner.args[offset:], op.inits):
                        self._share(arg, init)
                    if not (op.kind == "while" and number == 0):
                        for position, (value, result) in enumerate(zip(inner.terminator.values, op.carried_results)):
                            self._share(value, result)
                            if op.kind != "if":  # the next iteration's argument
                                self._share(inner.args[offset + position], result)
                for result in op.results:
                    self._define(result, here + (AFTER,))
                continue
            self.path_of[id(op)] = here
            for arg in op.args:
                self._read(arg, here, op)
            self._define(op.result, here)
            if op.prim.updates:
                self.updates.append(op)
                self._share(op.args[0], op.result)
                if op.prim.name == "append" and isinstance(op.args[1], Value) and \
                        (op.args[1].type.ndim or op.args[1].type.listed):
                    self.pinned[id(op.args[1])] = here
            elif op.prim.name in VIEWS or op.prim.template == "_0":
                if op.result.type.ndim or op.result.type.listed or op.prim.name == "list_get":
                    self._share(op.args[0], op.result)
                if op.prim.name == "broadcast_like":
                    self.foreign.add(id(op.result))
        end = path + (len(block.ops),)
        for value in block.terminator.values:
            self._read(value, end, None)

    def safe(self, update) -> bool:
        target = update.args[0]
        if not isinstance(target, Value):
            return False
        here = self.path_of[id(update)]
        if not self._within_branches(self.defined_at[id(target)], here):
            return False  # an update in a loop of a value from outside it would repeat on one array
        members = self.members[self._find(id(target))]
        if any(isinstance(a, Value) and id(a) in members for a in update.args[1:]):
            return False  # `y[1:] = y[:-1]`: the new value overlaps the array it is written into
        for member in members:
            if member in self.foreign or (member in self.pinned and _after(here, self.pinned[member])):
                return False
            if _after(self.defined_at[member], here) or member == id(update.result):
                continue  # a value made from the update: it should see the change
            for position, reader in self.readers.get(member, ()):
                if reader is not update and _after(position, here):
                    return False
        return True

    def _within_branches(self, definition: tuple, here: tuple) -> bool:
        """Whether every structured op that holds `here` but not `definition` is an `if`."""
        for depth in range(0, len(here) - 1, 2):
            holder = here[:depth + 1]
            if definition[:depth + 1] == holder and len(definition) > depth + 1:
                continue
            if self.kinds[holder] != "if":
                return False
        return True


def _after(position: tuple, reference: tuple) -> bool:
    """Whether code at `position` runs after code at `reference` (never, for sibling blocks)."""
    for depth, (a, b) in enumerate(zip(position, reference)):
        if a == b:
            continue
        if depth % 2 == 1 and a not in (BEFORE, AFTER) and b not in (BEFORE, AFTER):
            return False  # two blocks of one structured op
        return a > b
    return False
