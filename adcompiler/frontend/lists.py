"""Lists inside functions. A list whose length is known when compiling (a literal, a comprehension
over a tuple or a constant range, appends outside loops) is a Python tuple of values in lowering
(`Listed`, which `append` may grow). A list that a `for` loop grows with one `append` per iteration
(`out = []` before the loop, `out.append(y)` in its body) is an array whose rows are the items,
allocated at the first iteration with one row per iteration and written row by row, so the
gradient flows through the items as through `ys[i] = y`; after the loop it is a `ListRows`, which
np.array / np.stack / sum / len / indexing / iteration read as the list of its rows. A comprehension
whose length is not known when compiling is such a loop.
"""
from __future__ import annotations

import contextlib

import gast

from ..ir.core import For, IndexInt
from ..rules import primitives as P
from ..rules.primitives import Sym
from .calls.common import ListRows, Static
from ..trees import Listed
from .fence import is_add_at

GROW_HINT = "make the list empty (`out = []`) just before a `for` loop and append once per iteration, " \
            "directly in the loop's body; or preallocate an array and assign its rows: `ys[i] = ...`"


class Lists:
    """Lowering of list literals, comprehensions and `append`. Uses `env`, `growing` (name -> the
    `for` loop node that grows that list and its trip count) and `iterations` (id of a loop node ->
    its iteration number while its body is lowered)."""

    def expr_List(self, node):
        return Listed(self.expression(e) for e in node.elts)

    def stmt_Expr(self, node):
        call = node.value
        if isinstance(call, gast.Constant):  # a docstring
            return
        if is_add_at(call):
            return self.add_at_statement(node)
        target = call.func.value
        if not isinstance(target, gast.Name) or len(call.args) != 1 or call.keywords:
            self.refuse(node, "only `name.append(value)` is supported as a statement on a list", GROW_HINT)
        self.append(node, target.id, self.expression(call.args[0]))

    def append(self, node, name: str, item) -> None:
        if name in self.growing:
            loop, trips = self.growing[name]
            k = self.iterations[id(loop)]
            item = self.operand(item, node)
            if item.type.ndim:  # the rows are copies: writing into the item later is refused (aliasing.py)
                self.appended.append((name, item))
            self.env[name] = self.grown(node, self.env.get(name), item, k, trips)
            return
        current = self.read(name, node)
        if isinstance(current, ListRows):
            self.refuse(node, f"the list `{name}` was grown by an earlier loop and cannot grow again", GROW_HINT)
        if not isinstance(current, Listed):
            self.refuse(node, f"`{name}` is not a list made in this function, so it cannot grow here", GROW_HINT)
        self.env[name] = Listed((*current, item))

    def earlier_item(self, node, name: str) -> Sym:
        """`name[j]` in the loop that grows the list `name`, before this iteration appends: the row
        j of the k rows so far (j negative: from the end; IndexError outside [-k, k), as the list
        of k items raises). Lowered before any item is (the loop's first lowering), a placeholder
        of the items' type, which an append lowered earlier gave."""
        loop, _ = self.growing[name]
        current, k = self.env.get(name), self.iterations[id(loop)]
        if isinstance(node.slice, (gast.Tuple, gast.Slice)):
            self.refuse(node, f"only an item `{name}[j]` of the list `{name}` is read in the loop that grows it",
                        "index the item after reading it: `item = out[j]`, then `item[...]`")
        if current is not self.incoming_rows[name]:
            self.refuse(node, f"the list `{name}` is read after this iteration appended to it",
                        "keep the item appended in a variable of its own and use that")
        index = self.integer(self.expression(node.slice), node, f"the position of an item of the list `{name}`")
        if current is None:
            if name not in self.item_types:
                self.refuse(node, f"the list `{name}` is read in the loop that grows it before an append "
                                  "that gives its items' type", "append in an earlier branch, or preallocate an array")
            item = self.item_types[name]
            return P.placeholder(dtype=item.dtype, ndim=item.ndim, listed=0)
        return P.getitem(current, P.checked_index(index, k), index=(IndexInt(),))

    def grown(self, node, current, item: Sym, k: Sym, trips: Sym) -> Sym:
        """The rows so far with `item` written at row k: at k == 0 into a new array of `trips` rows."""
        dtype = P.promote(item.type).dtype if item.type.weak else item.type.dtype
        item = item if item.type.dtype == dtype and not item.type.weak else P.cast(item, dtype=dtype)
        self.item_types[node.value.func.value.id] = item.type

        dims = [trips, *(P.dim(item, axis=a) for a in range(item.type.ndim))]
        if isinstance(current, Sym):  # the carried rows (from the loop's second lowering on)
            current = P.rows(current, k, *dims, dtype=dtype)
        else:
            current = P.zeros(*dims, dtype=dtype)
        return P.setitem(current, item, k, index=(IndexInt(),))

    @contextlib.contextmanager
    def growing_lists(self, node, kind, trips, before: dict):
        """Within this block, the lists the loop `node` grows (bound to `[]` before it) once per
        iteration on every path are carried as arrays of rows; yields the names in scope before the
        loop without them. Refused: a list grown in a `while` loop, not on every path or more than
        once per iteration, in a nested loop, or not empty before it."""
        names = [n for n in dict.fromkeys(_appended_anywhere(node.body)) if _appends_per_path(node.body, n) == 1]
        nested = [n for n in _appended_anywhere(node.body) if n not in names and isinstance(before.get(n), Listed)]
        if nested:
            self.refuse(node, f"the list `{nested[0]}` is not appended to once on every path through the loop's "
                              "body (under a condition, or in a nested loop)", GROW_HINT)
        grown = [n for n in names if isinstance(before.get(n), Listed)]
        for name in grown:
            if before[name]:
                self.refuse(node, f"the list `{name}` has items before the loop that grows it", GROW_HINT)
            if not issubclass(kind, For):
                self.refuse(node, f"the list `{name}` grows in a `while` loop (or in a `for` loop with `break`), "
                                  "whose number of iterations is not known when it starts", GROW_HINT)
        saved = dict(self.growing)
        self.growing.update({n: (node, trips) for n in grown})
        for name in grown:
            self.item_types.pop(name, None)
        try:
            yield {n: v for n, v in before.items() if n not in grown}, grown
        finally:
            self.growing = saved

    def expr_ListComp(self, node):
        """`[expr for target in iterable if condition ...]`: a tuple when the iterables are tuples
        (conditions known when compiling), else the loop `out = []; for ...: out.append(expr)`."""
        saved = dict(self.env)
        items = self.comprehended(node, list(node.generators))
        result = Listed(items) if items is not None else None
        if result is None:
            name = f"_ad_list_{node.lineno}_{node.col_offset}"  # deterministic: generated code is cached by its text
            loop = _comprehension_loop(node, name)
            self.env[name] = Listed()
            self.statement(loop)
            result = self.env[name]
        self.env = saved
        return result

    expr_GeneratorExp = expr_ListComp  # (consumed whole: by sum, np.stack, ...)

    def comprehended(self, node, generators):
        """The items of an unrolled comprehension, or None when one of its iterables is not a tuple."""
        if not generators:
            return [self.expression(node.elt)]
        first, *rest = generators
        sequence = self.constant_range(first.iter)
        sequence = self.sequence(first.iter) if sequence is None else sequence
        if not isinstance(sequence, tuple):
            if any(isinstance(g, gast.comprehension) and g.ifs for g in generators) or rest:
                self.refuse(node, "a comprehension over an array or a range with a run-time length takes one "
                                  "`for` and no `if` here", "write the loop, appending to a list")
            return None
        items = []
        for value in sequence:
            self.assign(first.target, value)
            if all(self.known_condition(c) for c in first.ifs):
                inner = self.comprehended(node, rest)
                if inner is None:
                    self.refuse(node, "a comprehension whose inner iterable has a run-time length is not supported",
                                "write the loops, appending to a list")
                items += inner
        return items

    def constant_range(self, node, longest: int = 64):
        """`range(...)` of constants with at most `longest` numbers, as the tuple of them (a
        comprehension over it is unrolled, and what it computes of the numbers folds); else None."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and not node.keywords):
            return None
        if self.expression(node.func) != Static(range):
            return None
        bounds = [self.expression(a) for a in node.args]
        if not all(isinstance(b, Sym) and P.is_const(b) and isinstance(b.operand.value, int) for b in bounds):
            return None
        numbers = range(*(b.operand.value for b in bounds))
        return tuple(Sym(i) for i in numbers) if len(numbers) <= longest else None

    def known_condition(self, node) -> bool:
        cond = self.condition(node)
        if not P.is_const(cond):
            self.refuse(node, "the condition of a comprehension over a tuple must be known when compiling",
                        "filter with a boolean mask after making an array: `a[mask]`")
        return bool(cond.operand.value)


def _appends_per_path(statements, name: str):
    """How many times every path through `statements` appends to the list `name` (an `append`
    statement in them, or an `if` each of whose branches appends as often), or None where paths
    differ or an append is in a nested loop or other block."""
    total = 0
    for statement in statements:
        if isinstance(statement, gast.Expr) and _is_append(statement.value):
            total += statement.value.func.value.id == name
        elif isinstance(statement, gast.If) and name in _appended_anywhere([statement]):
            count = _appends_per_path(statement.body, name)
            if count is None or count != _appends_per_path(statement.orelse, name):
                return None
            total += count
        elif name in _appended_anywhere([statement]):
            return None
    return total


def _appended_anywhere(statements) -> list:
    return [n.func.value.id for s in statements for n in gast.walk(s) if _is_append(n)]


def _is_append(node) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "append" \
        and isinstance(node.func.value, gast.Name)


def _comprehension_loop(node, name: str):
    """`for target in iterable: name.append(elt)` at the comprehension's place."""
    (generator,) = node.generators
    append = gast.Expr(value=gast.Call(func=gast.Attribute(value=gast.Name(id=name, ctx=gast.Load(), annotation=None,
                                                                           type_comment=None),
                                                            attr="append", ctx=gast.Load()),
                                       args=[node.elt], keywords=[]))
    loop = gast.For(target=generator.target, iter=generator.iter, body=[append], orelse=[], type_comment=None)
    for made in (append, append.value, append.value.func, append.value.func.value, loop):
        gast.copy_location(made, node)
    return loop
