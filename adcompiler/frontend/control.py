"""Control flow in lowering: `if`/`elif`, conditional expressions, `and`/`or`, `for` and `while`
loops, the join of the names two branches bind and of the values a loop carries."""
from __future__ import annotations

from dataclasses import dataclass

import gast

from .. import trees
from ..rules import primitives as P
from ..ir.core import Block, Checkpointed, Const, For, If, IndexInt, Loop, Type, Value, While, Yield
from ..rules.primitives import Sym
from .calls import Static, hashable
from .calls.common import ListRows
from .canonical import PREFIX, RETURNED
from .checkpoint import checkpoint
from .inlining import Closure
from .parse import walk_own
from .fence import updated_name

_MISSING = object()


class ControlFlow:
    """Lowering of control flow. Uses `env` (rebound per branch and per loop attempt), `builder`
    (nested blocks; `aliases`, to which a loop's block arguments are added before its op) and `parsed` (the
    canonicaliser's `after_return` and loop marks)."""

    def stmt_If(self, node):
        cond = self.condition(node.test)
        if isinstance(cond.operand, Const):  # decided at compile time: only that branch exists
            return self.statements(node.body if cond.operand.value else node.orelse)
        before = self.env
        branches = []
        for statements in (node.body, node.orelse):
            self.env = dict(before)
            with self.builder.nested() as ops:
                self.statements(statements)
            branches.append((ops, self.env))
        self.env = dict(before)
        merged = self.join_names(node, before, [env for _, env in branches])
        pairs = {name: self.leaves(name, values, node) for name, values in merged.items()}
        yields = [[pair[side] for name in merged for pair in pairs[name]] for side in (0, 1)]
        hints = [name for name in merged for _ in pairs[name]]
        results = iter(self.make_if(cond, [(ops, values) for (ops, _), values in zip(branches, yields)], node, hints))
        for name, values in merged.items():
            self.env[name] = _rebuild(next(v for v in values if v is not _MISSING), results)

    def join_names(self, node, before: dict, envs: list) -> dict:
        """{name: its bindings in the two branches' `envs`} of the names the `if` joins; the names
        that only some paths bind (or that no path which goes on binds) become `Unassigned` in `env`."""
        names = [n for n in dict.fromkeys([*envs[0], *envs[1]])
                 if any(env.get(n, _MISSING) is not before.get(n, _MISSING) for env in envs)]
        merged = {}  # name -> its bindings in the two branches
        returned = [False, True] if node in self.parsed.after_return else \
            [_has_returned(env, before) for env in envs]
        for name in names:
            values = [env.get(name, _MISSING) for env in envs]
            if all(returned) and name == RETURNED:  # (a constant, so that an outer `if` sees it)
                self.env[name] = values[0]
                continue
            if all(returned) and not name.startswith(PREFIX):  # both paths returned: nothing reads it
                self.env[name] = Unassigned(name, self.parsed.loc(node), "branches that return",
                                            next((v for v in values if isinstance(v, Sym)), None))
                continue
            if any(returned) and not name.startswith(PREFIX):
                # The function has returned on one path: what that path binds is never read.
                live = values[returned.index(False)]
                live = live.value if isinstance(live, Unassigned) else live
                if live is not _MISSING:
                    values = [v if not gone else _placeholders(live) for v, gone in zip(values, returned)]
            partial = [v for v in values if v is _MISSING or isinstance(v, Unassigned)]
            if partial and not name.startswith(PREFIX):
                assigned = next(v.value if isinstance(v, Unassigned) else v for v in values if v is not _MISSING)
                self.env[name] = Unassigned(name, self.parsed.loc(node), "one branch of an `if`", assigned)
            else:
                merged[name] = values
        return merged

    def leaves(self, name, values, node) -> list:
        """Pairs (then, else) of the Syms bound to `name` by two branches (tuples flattened; a
        branch that does not bind an internal name gets a placeholder of the other's type)."""
        present = [v for v in values if v is not _MISSING]
        if len(present) == 1:
            values = [v if v is not _MISSING else _placeholders(present[0]) for v in values]
        then, orelse = (_flatten(v) for v in values)
        if not _mergeable(values, then, orelse):
            if any(isinstance(v, Closure) for v in values):
                self.refuse(node, f"`{name}` is bound to different functions in the two branches of an `if` "
                                  f"decided when the code runs", "call each function inside its branch")
            self.refuse(node, f"`{name}` is bound to values of different kinds in the two branches",
                        "give it numbers or arrays of one rank in both branches, and tuples or dicts of one "
                        "structure (the same nesting, the keys in the same order)")
        return [(a, b) for a, b in zip(then, orelse) if not isinstance(a, Static)]

    def make_if(self, cond: Sym, branches, node, hints=None) -> list:
        """An `if` op on `cond` whose branches are (ops, [Sym yielded]); its results as Syms."""
        count = len(branches[0][1])
        types = []
        for position in range(count):
            a, b = (values[position].type for _, values in branches)
            joined = P.join(a, b)
            if joined is None:
                name = hints[position] if hints else "the value"
                self.refuse(node, f"`{name}` is {a.describe()} in one branch and {b.describe()} in the other",
                            "make both branches give the same rank")
            types.append(joined)
        blocks = []
        for ops, values in branches:
            with self.builder.nested(ops):
                yields = tuple(self.converted(v, t).operand for v, t in zip(values, types))
            blocks.append(Block([], ops, Yield(yields, self.builder.loc)))
        results = tuple(Value(t, (hints or [""] * count)[i]) for i, t in enumerate(types))
        self.builder.append(If((cond.operand,), tuple(blocks), results, self.parsed.loc(node)))
        return [Sym(r) for r in results]

    def converted(self, value: Sym, to: Type) -> Sym:
        """`value` as a value of type `to` (a cast when the dtype differs)."""
        return value if value.type.dtype == to.dtype else P.cast(value, dtype=to.dtype)

    def condition(self, node) -> Sym:
        """A bool scalar for `node` used as a condition (Python's truth value of a number)."""
        value = self.operand(self.expression(node), node)
        if value.type.ndim:
            self.refuse(node, f"the truth value of {value.type.describe()} is ambiguous",
                        "reduce it first: np.all(...), np.any(...), or compare a scalar")
        return value if value.type.dtype == "bool" else P.not_equal(value, 0)

    def expr_IfExp(self, node):
        cond = self.condition(node.test)
        if isinstance(cond.operand, Const):
            return self.expression(node.body if cond.operand.value else node.orelse)
        branches = []
        for part in (node.body, node.orelse):
            with self.builder.nested() as ops:
                value = self.operand(self.expression(part), part)
            branches.append((ops, [value]))
        return self.make_if(cond, branches, node)[0]

    def expr_BoolOp(self, node):
        """`a and b`, `a or b` as conditions (bool), with Python's short circuit: `b` is computed
        only when `a` does not decide."""
        result = self.condition(node.values[0])
        for operand in node.values[1:]:
            decided = isinstance(node.op, gast.Or)
            if isinstance(result.operand, Const):
                if result.operand.value != decided:
                    result = self.condition(operand)
                continue
            with self.builder.nested() as rest:
                value = self.condition(operand)
            branches = [([], [Sym(decided)]), (rest, [value])] if decided else [(rest, [value]), ([], [Sym(False)])]
            result = self.make_if(result, branches, node)[0]
        return result

    def stmt_For(self, node):
        if node.orelse:
            self.refuse(node, "a `for ... else` is not supported", "use a flag variable instead of `else`")
        kind, iterated = self.checkpointed(node.iter)
        sequence = self.sequence(iterated)
        if isinstance(sequence, tuple):  # a Python tuple: unrolled
            for position, item in enumerate(sequence):
                self.assign(node.target, item)
                with self.holding(sequence[position + 1:]):  # items still to come
                    self.statements(node.body)
            return
        self.loop(node, kind, sequence.trips, lambda k: self.assign(node.target, sequence.item(k)), sequence.arrays)

    def checkpointed(self, node) -> tuple:
        """(Checkpointed, the range) for a `for` over `checkpoint(range(...))`, else (For, `node`)."""
        if not (isinstance(node, gast.Call) and isinstance(self.expression(node.func), Static)
                and self.expression(node.func).obj is checkpoint):
            return For, node
        inner = node.args[0] if len(node.args) == 1 and not node.keywords else None
        if not (isinstance(inner, gast.Call) and isinstance(self.expression(inner.func), Static)
                and self.expression(inner.func).obj is range):
            self.refuse(node, "a for loop over checkpoint(...) must iterate over checkpoint(range(...))",
                        "write `for i in checkpoint(range(n)):`")
        return Checkpointed, inner

    def sequence(self, node):
        """What a `for` loop iterates over: a tuple of values (the loop is unrolled), or an
        `Indexed` sequence: `range(...)`, the rows of an array, and `enumerate` and `zip` of those."""
        callee = self.expression(node.func) if isinstance(node, gast.Call) else None
        if isinstance(callee, Static) and callee.obj in (range, enumerate, zip) and hashable(callee.obj):
            if node.keywords:
                self.refuse(node, f"`{callee.obj.__name__}` with keyword arguments is not supported")
            if callee.obj is range:
                return self.range(node)
            parts = [self.sequence(a) for a in node.args]
            if callee.obj is enumerate:
                if len(parts) != 1:
                    self.refuse(node, "enumerate takes one sequence here")
                if isinstance(parts[0], tuple):
                    return tuple((Sym(i), v) for i, v in enumerate(parts[0]))
                return Indexed(parts[0].trips, lambda k: (k, parts[0].item(k)), parts[0].arrays)
            if all(isinstance(p, tuple) for p in parts):
                return tuple(zip(*parts))
            if any(isinstance(p, tuple) for p in parts) or not parts:
                self.refuse(node, "zip of a tuple and an array is not supported", "zip arrays, or tuples")
            trips = parts[0].trips
            for other in parts[1:]:
                trips = P.minimum(trips, other.trips)
            return Indexed(trips, lambda k: tuple(p.item(k) for p in parts), sum((p.arrays for p in parts), ()))
        value = self.expression(node)
        if isinstance(value, tuple):
            return value
        array = value.rows if isinstance(value, ListRows) else self.operand(value, node)
        if array.type.ndim == 0:
            self.refuse(node, "iterating over a scalar is not supported", "iterate over range(n) or an array")
        return Indexed(P.dim(array, axis=0), lambda k: P.getitem(array, k, index=(IndexInt(),)), (array,))

    def range(self, node):
        bounds = [self.integer(self.expression(a), a, "a range bound") for a in node.args]
        if not 1 <= len(bounds) <= 3:
            self.refuse(node, "range takes one to three integer arguments")
        start, stop, step = {1: [Sym(0), *bounds, Sym(1)], 2: [*bounds, Sym(1)], 3: bounds}[len(bounds)]
        if P.is_const(step, 0):
            self.refuse(node, "range() step must not be zero")

        def item(k):
            scaled = k if P.is_const(step, 1) else k * step
            return scaled if P.is_const(start, 0) else start + scaled
        return Indexed(P.trip_count(start, stop, step), item)

    def stmt_While(self, node):
        if node.orelse:
            self.refuse(node, "a `while ... else` is not supported", "use a flag variable instead of `else`")
        self.loop(node, While, None, None)

    def loop(self, node, kind: type[Loop], trips, bind_target, iterated=()):
        """A `For` (over `trips` iterations, `bind_target(k)` binding the loop variable, reading
        the rows of the arrays `iterated`) or `While` op, as `kind` says. The names the body
        assigns are carried; their types are joined with what the body gives until they settle (a
        name first bound in the loop starts as a placeholder)."""
        assigned = _assigned_names(node)
        with self.growing_lists(node, kind, trips, self.env) as (before, grown):
            carried = {n: before[n].type for n in assigned if isinstance(before.get(n), Sym)}
            for attempt in range(4):
                body = self.loop_body(node, kind, before, carried, bind_target, iterated)
                settled = self.settled_types(node, assigned, before, carried, body.after)
                if settled == carried:
                    break
                carried = settled
            else:
                self.refuse(node, "the types of the loop's variables do not settle")
        self.env = before
        self.check_loop_aliasing(node, body.after, carried)
        self.make_loop(node, kind, trips, before, carried, body)
        self.env.update((name, ListRows(self.env[name])) for name in grown)

    def loop_body(self, node, kind: type[Loop], before: dict, carried: dict, bind_target, iterated) -> LoopBody:
        """The loop's test (a `While`) and body lowered with the names `carried` (name -> type)
        bound to block arguments."""
        args = {n: Value(t, n) for n, t in carried.items()}
        self.entering(args, before)
        self.env = {**before, **{n: Sym(a) for n, a in args.items()}}
        self.incoming_rows.update((n, self.env.get(n)) for n, (loop, _) in self.growing.items() if loop is node)
        test_args, test_ops, test = {}, [], None
        if kind is While:
            test_args = {n: Value(t, n) for n, t in carried.items()}
            self.entering(test_args, before)
            self.env.update((n, Sym(a)) for n, a in test_args.items())
            with self.builder.nested(test_ops):
                test = self.condition(node.test)
            self.env.update((n, Sym(a)) for n, a in args.items())
        k = Value(Type("int64", weak=True))  # the iteration number (a Python int): `i` in `for i in range(n)`
        self.iterations[id(node)] = Sym(k)
        with self.builder.nested() as body_ops, self.holding(iterated):
            if bind_target is not None:
                bind_target(Sym(k))
            k.hint = k.hint or "k"
            self.statements(node.body)
            after = self.env
        return LoopBody(args, k, body_ops, after, test_args, test_ops, test)

    def entering(self, args: dict, before: dict) -> None:
        """A loop's block arguments `args` (name -> Value) may be, while its body is lowered (before
        the loop op exists), the values their names had before the loop."""
        for name, arg in args.items():
            if isinstance(before.get(name), Sym):
                self.builder.aliases.may_be(arg, before[name].operand)

    def settled_types(self, node, assigned: list, before: dict, carried: dict, after: dict) -> dict:
        """The types of the names a loop carries, `carried` joined with what its body gave (`after`)."""
        settled = {}
        for name in assigned:
            value = after.get(name)
            if isinstance(value, Unassigned):  # assigned on some paths of the body: carried
                value = value.value if isinstance(value.value, Sym) else before.get(name)
            if not isinstance(value, Sym):
                if isinstance(before.get(name), Sym) or isinstance(value, (tuple, dict)):
                    self.refuse(node, f"`{name}` must stay a number or an array in the loop",
                                "bind tuples, dicts and functions outside the loop")
                continue
            joined = P.join(carried[name], value.type) if name in carried else value.type
            if joined is None:
                self.refuse(node, f"`{name}` is {carried[name].describe()} before the loop and "
                                  f"{value.type.describe()} in it", "keep its rank the same in the loop")
            settled[name] = joined
        return settled

    def make_loop(self, node, kind: type[Loop], trips, before: dict, carried: dict, body: LoopBody) -> None:
        """Append the loop op for the lowered `body` whose `carried` types settled; bind its results."""
        args, k, body_ops, after = body.args, body.k, body.ops, body.after
        inits = [self.converted(before[n], t) if n in before and isinstance(before[n], Sym) else
                 P.placeholder(dtype=t.dtype, ndim=t.ndim, listed=0) for n, t in carried.items()]
        with self.builder.nested(body_ops):
            yields = tuple(self.converted(after[n], t).operand for n, t in carried.items())
        loc = self.parsed.loc(node)
        block = Block(([k] if issubclass(kind, For) else []) + list(args.values()), body_ops, Yield(yields, loc))
        results = tuple(Value(t, n) for n, t in carried.items())
        if issubclass(kind, For):
            op = kind((trips.operand, *(i.operand for i in inits)), (block,), results, loc)
        else:
            test_block = Block(list(body.test_args.values()), body.test_ops, Yield((body.test.operand,), loc))
            op = While(tuple(i.operand for i in inits), (test_block, block),
                       (Value(Type("int64"), "trips"),) + results, loc)
        self.builder.append(op)
        self.env = {**before, **{n: Sym(r) for n, r in zip(carried, results)}}

    def stmt_Pass(self, node):
        return None

    def stmt_Return(self, node):
        raise AssertionError("returns before the end are removed by canonicalisation")

    stmt_Break = stmt_Continue = stmt_Return


@dataclass(frozen=True)
class Indexed:
    """A sequence a loop runs over: `trips` values, the k-th of which `item(k)` makes."""

    trips: Sym
    item: object
    arrays: tuple = ()  # the arrays whose rows it reads (their later rows are read in later iterations)


@dataclass(frozen=True)
class LoopBody:
    """One lowering of a loop's test and body for given carried types."""

    args: dict  # carried name -> the body block's argument
    k: Value  # the iteration number (a `For` block's first argument)
    ops: list
    after: dict  # the names in scope at the end of an iteration
    test_args: dict  # carried name -> the test block's argument (a `While`)
    test_ops: list
    test: Sym | None


@dataclass(frozen=True)
class Unassigned:
    """The binding of a name that only some paths assign (reading it is refused)."""

    name: str
    loc: object
    where: str
    value: object  # what the paths that assign it bind it to


def _has_returned(env: dict, before: dict) -> bool:
    """Whether a branch set the canonical return flag (and so returned)."""
    flag = env.get(RETURNED)
    return flag is not before.get(RETURNED) and isinstance(flag, Sym) and P.is_const(flag, True)


def _flatten(value):
    """The leaves (Syms and Statics) of a binding (a tree's, in order), or None for one that cannot
    be merged."""
    leaves = trees.tree_leaves(value)
    return leaves if all(isinstance(leaf, (Sym, Static)) for leaf in leaves) else None


def _mergeable(values: list, then: list | None, orelse: list | None) -> bool:
    """Whether the bindings `values` of two branches, whose leaves are `then` and `orelse`, nest
    alike (containers, keys in order, lengths) and hold the same compile-time objects."""
    if then is None or orelse is None or _nesting(values[0]) != _nesting(values[1]):
        return False
    return all(isinstance(a, Static) == isinstance(b, Static) and (not isinstance(a, Static) or a.obj is b.obj)
               for a, b in zip(then, orelse))


def _nesting(value):
    """How a binding nests (containers, keys, lengths)."""
    return trees.flatten(value, lambda leaf, path: None)


def _placeholders(value):
    """A binding of `value`'s structure whose Syms are placeholders of their types."""
    return _mapped(value, lambda leaf: P.placeholder(dtype=leaf.type.dtype, ndim=leaf.type.ndim, listed=0)
                   if isinstance(leaf, Sym) else leaf)


def _rebuild(template, results):
    """`template`'s structure (its containers made again) with its Syms replaced, in order, by `results`."""
    return _mapped(template, lambda leaf: next(results) if isinstance(leaf, Sym) else leaf)


def _mapped(value, leaf):
    """The binding `value` (a tree or a leaf) with each leaf replaced by `leaf(it)`."""
    parts = trees.children(value)
    if parts is None:
        return leaf(value)
    kind, keys, items = parts
    return trees.make(kind, keys, [_mapped(item, leaf) for item in items], lowered=True)


def _assigned_names(loop) -> list:
    """The names a loop statement assigns (its target and everything its body binds, functions
    it defines included), in order."""
    names = []
    for node in walk_own(loop):
        if isinstance(node, gast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            names.append(node.id)
        elif isinstance(node, gast.Subscript) and isinstance(node.ctx, gast.Store) and isinstance(node.value, gast.Name):
            names.append(node.value.id)
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "append" \
                and isinstance(node.func.value, gast.Name):  # a list the loop grows
            names.append(node.func.value.id)
        elif updated_name(node) is not None:  # np.add.at(y, ...) rebinds y
            names.append(updated_name(node))
    return list(dict.fromkeys(names))


