"""Which updates (`y[i] = v`, `acc[i] += g`, `tape.append(v)`) may change their array in place.

The IR is functional: an update op makes a new value. Emission writes it in place (no copy) when
nothing can tell the difference. Memory is tracked by its sources: the roots of the may-alias
relation of the generated code (ir/alias.py, the relation lowering's refusals ask too), the values
that make new memory (allocations, arithmetic, arguments), reached back from a value through views,
identities, updates, and the values an `if` or a loop passes on (yields, initial values). An update
is in place when its array may be no argument nor a read-only view (READ_ONLY); nothing whose sources overlap
them is read after the update (nor, when it is defined outside a loop that holds the update,
anywhere in that loop's blocks); no tape holds them (a list keeps a reference: it must not change
after it is appended, nor in a later iteration of a loop around the append when the memory
outlives the iteration; an appended array is matched by the value that made it, since the next
iteration sees it as memory of an earlier one); and the value written does not overlap the array. Positions are paths in the block tree; two blocks of one `if`
are exclusive, so a read in the other branch is never "after".

An elementwise NumPy ufunc (`t + b`, `np.maximum(t, 0.0)`) writes its result into an operand
(`out=`) under the same conditions, the operand standing for the array updated, where that operand
has the result's dtype and, provably from the types, its shape (broadcasting does not grow it): the
memory of a dead temporary is used again instead of new memory, which NumPy's own elision of
temporaries cannot do for a named variable (and a large new array costs its pages' faults).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.alias import Aliases
from ..ir.core import For, Function, Loop, Structured, Value

BEFORE, AFTER = -1, math.inf  # path steps: reading a structured op's operands, its results
READ_ONLY = frozenset({"broadcast_like", "repeated"})  # results never written in place (`repeated`: a stride-0 view)


REFILLED = -1  # the position of an allocation that may write into the memory it made in the iteration before


def in_place_writes(fn: Function) -> dict:
    """{id(op): position} of the ops of `fn` that emission may write into their operand at
    `position`: update ops (0) and elementwise ufuncs (the first operand that qualifies); and
    REFILLED for the zeros made in the body of a `for` whose memory no later iteration can see
    (nothing that may hold it is read after the iteration, passed to the next or appended), so
    that each iteration may fill the previous one's array with zeros again."""
    analysis = _Analysis(fn)
    writes = {id(op): 0 for op in analysis.updates if analysis.safe(op)}
    for op in analysis.elementwise:
        position = next((p for p in range(len(op.args)) if _fits(op, p) and analysis.safe(op, p)), None)
        if position is not None:
            writes[id(op)] = position
    writes.update((id(op), REFILLED) for op, loop in analysis.zeros if analysis.within_iteration(op, loop))
    return writes


def _fits(op, position: int) -> bool:
    """Whether operand `position` of the elementwise `op` has the dtype and (from the types) the
    shape of its result: each axis is known to be longer than 1 (broadcasting could only make the
    others fit it), or every other operand has length 1 there or no such axis."""
    operand, result = op.args[position], op.result.type
    if not isinstance(operand, Value) or operand.type.weak or operand.type.listed or \
            (operand.type.dtype, operand.type.ndim) != (result.dtype, result.ndim):
        return False
    others = [a.type for i, a in enumerate(op.args) if i != position and isinstance(a, Value)]
    for axis in range(result.ndim):
        if operand.type.units[axis] is False:
            continue
        for other in others:
            aligned = axis - (result.ndim - other.ndim)
            if aligned >= 0 and other.units[aligned] is not True:
                return False
    return True


class _Analysis:
    """Where each value is defined and read, over the may-alias relation of the generated code."""

    def __init__(self, fn: Function):
        self.aliases = Aliases.of(fn, generated=True)
        self.defined_at: dict[int, tuple] = {}
        self.values: dict[int, Value] = {}
        self.readers: dict[int, list] = {}  # id(value) -> [(position, op or None)]
        self.loops: dict[int, tuple] = {}  # id(loop op) -> its path
        self.loop_ops: dict[tuple, Loop] = {}  # the inverse
        self.updates, self.pins = [], []  # pins: (appended array, position)
        self.elementwise = []  # ufuncs of NumPy's that take `out=`, of array results
        self.zeros = []  # (zeros made in a `for`'s body, the loop's path)
        self.bodies: dict[tuple, tuple] = {}  # path of a `for`'s body -> the loop's path
        self.path_of: dict[int, tuple] = {}
        # never written: the arguments, and read-only views (a gradient broadcast to a shape)
        self.foreign = {id(p) for p in fn.params}
        self._block(fn.entry, ())
        self.foreign |= self.readers.keys() - self.defined_at.keys()  # (the seed of a value_and_grad's chain)
        self._sources: dict[int, frozenset] = {}
        self.holders: dict[int, set] = {}  # id(source) -> ids of the values that may hold its memory
        for key in self.defined_at:
            for source in self.sources(key):
                self.holders.setdefault(source, set()).add(key)

    def _read(self, operand, path, op):
        if isinstance(operand, Value):
            self.readers.setdefault(id(operand), []).append((path, op))

    def _define(self, value, path):
        self.defined_at[id(value)] = path
        self.values[id(value)] = value

    def _block(self, block, path):
        for arg in block.args:
            self._define(arg, path + (BEFORE,))
        for index, op in enumerate(block.ops):
            here = path + (index,)
            if isinstance(op, Structured):
                self._structured(op, here)
                continue
            self.path_of[id(op)] = here
            for arg in op.args:
                self._read(arg, here, op)
            self._define(op.result, here)
            if op.prim.updates:
                self.updates.append(op)
                if op.prim.name == "append" and isinstance(op.args[1], Value) and \
                        (op.args[1].type.ndim or op.args[1].type.listed):
                    self.pins.append((op.args[1], here))
            elif op.prim.name in READ_ONLY:
                self.foreign.add(id(op.result))
            elif op.prim.name in ("zeros", "zeros_like") and path in self.bodies:
                self.zeros.append((op, self.bodies[path]))
            elif out_ufunc(op):
                self.elementwise.append(op)
        end = path + (len(block.ops),)
        for value in block.terminator.values:
            self._read(value, end, None)

    def _structured(self, op: Structured, here: tuple):
        if isinstance(op, Loop):
            self.loops[id(op)] = here
            self.loop_ops[here] = op
        for arg in op.args:
            self._read(arg, here + (BEFORE,), op)
        if isinstance(op, For):
            self.bodies[here + (0,)] = here
        for number, inner in enumerate(op.blocks):
            self._block(inner, here + (number,))
        for result in op.results:
            self._define(result, here + (AFTER,))

    def sources(self, key: int) -> frozenset:
        """The memory the value `key` may be (`Aliases.roots`): pairs (id of the value that made it,
        paths of the loops of whose earlier iterations it is). Memory made in a loop's body and
        passed to its next iteration is another array than the one the current iteration makes;
        memory made before the loop is the same in every iteration."""
        if key not in self.values:
            return frozenset({(key, frozenset())})  # defined outside `fn`: memory of its own
        if key not in self._sources:
            self._sources[key] = frozenset(
                (root, frozenset(self.loops[id(loop)] for loop in crossed
                                 if _inside(self.defined_at[root], self.loops[id(loop)])))
                for root, crossed in self.aliases.roots(self.values[key]))
        return self._sources[key]

    def safe(self, update, position: int = 0) -> bool:
        """Whether `update` may write into the memory of its operand at `position`."""
        target = update.args[position]
        if not isinstance(target, Value) or id(target) in self.foreign:
            return False
        here = self.path_of[id(update)]
        roots = self.sources(id(target))
        if self.aliases.chain(target) & self.foreign or not self._within_branches(self.defined_at[id(target)], here):
            return False  # an argument's memory; or an update, in a loop, of a value from outside it
        if any(isinstance(a, Value) and self.sources(id(a)) & roots
               for i, a in enumerate(update.args) if i != position):
            return False  # `y[1:] = y[:-1]`: the new value overlaps the array it is written into
        for item, pinned_at in self.pins:
            # by the value that made it: memory appended in one iteration is an earlier iteration's later
            pinned = {root for root, _ in self.sources(id(item))}
            shared = {source for source in roots if source[0] in pinned}
            if shared and (_after(here, pinned_at) or self._outlives_a_loop(shared, here, pinned_at)):
                return False
        around = self._loops_around(here)
        for holder in set().union(*(self.holders[r] for r in roots)):
            defined = self.defined_at[holder]
            if holder == id(update.result) or _after(defined, here):
                continue  # a value made from the update: it should see the change
            # a loop around the update but not the holder runs its readers again after the update
            loops = [loop for loop in around if not _inside(defined, loop)]
            if any(reader is not update and (_after(position, here) or any(_in_body(position, loop) for loop in loops))
                   for position, reader in self.readers.get(holder, ())):
                return False
        return True

    def within_iteration(self, op, loop: tuple) -> bool:
        """Whether the memory `op` makes in the body of the `for` at `loop` is seen only in the
        iteration that made it: every value that may hold it is made and read in the body, not
        passed to the next iteration (the body's yield) nor appended to a list."""
        made = id(op.result)
        yielded = loop + (0, len(self.loop_ops[loop].body.ops))
        if any(made in {root for root, _ in self.sources(id(item))} for item, _ in self.pins):
            return False
        for (root, crossed), holders in self.holders.items():
            if root != made:
                continue
            if loop in crossed:
                return False  # (memory of an earlier iteration of the loop)
            for holder in holders:
                if not _in_body(self.defined_at[holder], loop) or any(
                        not _in_body(position, loop) or (reader is None and position == yielded)
                        for position, reader in self.readers.get(holder, ())):
                    return False
        return True

    def _loops_around(self, here: tuple):
        """Paths of the loops that hold `here`."""
        loops = set(self.loops.values())
        return [here[:depth + 1] for depth in range(0, len(here) - 1, 2) if here[:depth + 1] in loops]

    def _outlives_a_loop(self, sources, here: tuple, pinned_at: tuple) -> bool:
        """Whether a loop holds both the update and the append, and some of the memory is made
        outside it (so the next iteration's update would change what this one appended)."""
        for loop in set(self._loops_around(here)) & set(self._loops_around(pinned_at)):
            if any(not _inside(self.defined_at[source], loop) or loop in earlier for source, earlier in sources):
                return True
        return False

    def _within_branches(self, definition: tuple, here: tuple) -> bool:
        """Whether every structured op that holds `here` but not `definition` is an `if`."""
        return all(_inside(definition, loop) for loop in self._loops_around(here))


def out_ufunc(op) -> str | None:
    """The name of NumPy's ufunc that `op` is, where its array result may be written
    `np.<name>(..., out=)`. Not `np.power`: the `**` operator squares and roots without `pow`."""
    bound = op.prim.binds[0] if op.prim.ufunc and op.prim.binds else None
    if not isinstance(bound, np.ufunc) or getattr(np, bound.__name__, None) is not bound or bound is np.power:
        return None
    return bound.__name__ if op.result.type.ndim and not op.result.type.listed else None


def _inside(position: tuple, holder: tuple) -> bool:
    return position[:len(holder)] == holder and len(position) > len(holder)


def _in_body(position: tuple, loop: tuple) -> bool:
    """Whether `position` is in a block of the structured op at `loop` (not its operands or results)."""
    return _inside(position, loop) and position[len(loop)] not in (BEFORE, AFTER)


def _after(position: tuple, reference: tuple) -> bool:
    """Whether code at `position` runs after code at `reference` (never, for sibling blocks)."""
    for depth, (a, b) in enumerate(zip(position, reference)):
        if a == b:
            continue
        if depth % 2 == 1 and a not in (BEFORE, AFTER) and b not in (BEFORE, AFTER):
            return False  # two blocks of one structured op
        return a > b
    return False
