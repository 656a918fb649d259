"""The refusals of updates that NumPy would make through another name: lowering asks its builder's
may-alias relation (`builder.aliases`, ir/alias.py, the one emission's in-place analysis asks too)
which names may share memory."""
from __future__ import annotations

import contextlib

import gast

from ..rules import primitives as P
from ..rules.primitives import Sym
from .calls.common import ListRows
from .canonical import ITEM, PREFIX
from .control import _flatten
from .fence import updated_name


class Aliasing:
    """Sharing of memory between the names in scope. Uses `env` (the names bound), `protected` (ids
    of the arguments and global arrays, never written), `builder` (`producers` and `aliases`) and
    `parsed` (the canonicaliser's loop marks)."""

    @contextlib.contextmanager
    def holding(self, values):
        """Bind `values` (arrays a loop reads later) to internal names while its body is lowered:
        writing into their memory would change what the loop reads, so it is refused."""
        leaves = [leaf for value in values for leaf in _flatten(value) or () if isinstance(leaf, Sym)]
        held = {f"{ITERATED}{len(self.env)}_{i}": leaf for i, leaf in enumerate(leaves)}
        self.env.update(held)
        try:
            yield
        finally:
            for name in held:
                self.env.pop(name, None)

    def check_loop_aliasing(self, node, after: dict, carried: dict) -> None:
        """Refuse a loop that writes into an array another name shares at the end of an iteration
        (where the next one starts): NumPy would change both. (Sharing before the loop is seen at
        the write: a carried name holds its value from before the loop; a `for` target is bound
        anew before any write.)"""
        written = {t.value.id for t in gast.walk(node) if isinstance(t, gast.Subscript)
                   and isinstance(t.ctx, gast.Store) and isinstance(t.value, gast.Name)}
        written |= {updated_name(t) for t in gast.walk(node)} - {None}  # np.add.at(y, ...)
        augmented = {t.target.id for t in gast.walk(node) if isinstance(t, gast.AugAssign)
                     and isinstance(t.target, gast.Name)}  # `y += v` writes into an array y (check_augmented)
        written |= {name for name in augmented if isinstance(after.get(name), Sym) and after[name].type.ndim}
        # a `for` binds its target before anything else in an iteration: never written as it was
        targets = [getattr(node, "target", None), self.parsed.rebound_first.get(node)]
        rebound = {n.id for t in targets if t is not None for n in gast.walk(t) if isinstance(n, gast.Name)}
        rebound |= _assigned_before_use(node.body)
        for name in written & set(carried) - rebound:
            if isinstance(after.get(name), Sym) and (other := self.sharing(name, after[name], after)) is not None:
                self.refuse(node, f"the loop writes into `{name}`, which shares its memory with {_called(other)} "
                                  f"at the end of an iteration (NumPy would change both)",
                            f"copy it: `{name} = {name}.copy()`")

    def check_augmented(self, node, current: Sym) -> None:
        """Refuse `name += ...` on an array another name shares: NumPy would change both."""
        sharing = self.sharing(node.target.id, current) if current.type.ndim else None
        if sharing is not None:
            self.refuse(node, f"augmented assignment to the array `{node.target.id}`, which shares its "
                              f"memory with {_called(sharing)}, is not supported (NumPy would change both)",
                        f"write `{node.target.id} = {node.target.id} <op> ...` to make a new array")

    def check_element_write(self, target, name: str, y: Sym) -> None:
        """Refuse `name[index] = ...` into an argument, global or enclosing function's array, or one
        another name shares."""
        if self.builder.aliases.chain(y.operand) & self.protected:
            self.refuse(target, f"assignment into `{name}`, an argument, global or enclosing function's array (or a "
                                f"view of one), would change the caller's array", f"copy it first: `{name} = {name}.copy()`")
        sharing = self.sharing(name, y)
        if sharing is not None:
            self.refuse(target, f"assignment into the array `{name}`, which shares its memory with {_called(sharing)}, "
                                f"is not supported (NumPy would change both)",
                        f"loop over `range(len({name}))` and read `{name}[i]`" if sharing.startswith(ITERATED) else
                        f"copy it first: `{name} = {name}.copy()`")

    def sharing(self, name: str, value: Sym, env: dict | None = None):
        """Another name of `env` (the names in scope) whose array may share memory with `value`
        (`builder.aliases`: the same array, a view of it or of what it views, a branch or loop value
        that may be one of those), or None. In-place updates are refused there: NumPy would change both."""
        for other, bound in (self.env if env is None else env).items():
            if isinstance(bound, ListRows):  # its items (`out[0]`); `np.stack(out)` is a new array in NumPy
                leaves = () if bound.rows.operand is value.operand else (bound.rows,)
            else:
                leaves = _flatten(bound) or ()
            if other != name and any(isinstance(leaf, Sym) and self.builder.aliases.share(value.operand, leaf.operand)
                                     for leaf in leaves):
                return other  # a tuple holds its arrays, not copies
        for grown, item in self.appended:  # NumPy's list holds what was appended, the rows hold copies
            if grown != name and self.builder.aliases.share(value.operand, item.operand):
                return grown
        return None

    def bound_elsewhere(self, value) -> bool:
        """Whether `value` is an array some name already holds."""
        return isinstance(value, Sym) and value.type.ndim > 0 and any(
            isinstance(bound, Sym) and bound.operand is value.operand for bound in self.env.values())

    def folded_to_a_view(self, value) -> bool:
        """Whether `value` is an array view that an expression which makes a new array in NumPy
        was folded to (`-(-a[:, 0])`)."""
        if not isinstance(value, Sym):
            return False
        producer = self.builder.producers.get(id(value.operand))
        return producer is not None and producer.result.type.ndim > 0 and \
            producer.prim.memory_of(producer.param_dict) is P.VIEW


ITERATED = PREFIX + "iterated_"


def _assigned_before_use(statements) -> set:
    """The names that `statements` (a loop's body) bind by a plain `name = ...` at their top level
    before anything else mentions them: each iteration writes into a new array, never the last one's."""
    bound, mentioned = set(), set()
    for statement in statements:
        names = {n.id for n in gast.walk(statement) if isinstance(n, gast.Name)}
        if isinstance(statement, gast.Assign) and all(isinstance(t, gast.Name) for t in statement.targets):
            read = {n.id for n in gast.walk(statement.value) if isinstance(n, gast.Name)}
            bound |= {t.id for t in statement.targets} - mentioned - read
        mentioned |= names
    return bound


def _called(name: str) -> str:
    """How a message names the binding `name` (internal ones by what they hold)."""
    if name.startswith(ITERATED):
        return "the array the `for` loop iterates over"
    if name.startswith(ITEM):
        return "the item of a `for` loop"
    return f"`{name}`"


