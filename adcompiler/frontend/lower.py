"""Lowering: a fenced gast function and its argument types become a typed SSA `Function`.

Straight-line code needs only an environment from names to SSA values; a reassigned name simply
gets a new value. Names that are not local are read at compile time from the function's closure,
its module globals and the builtins: numbers become constants, arrays hidden parameters, NumPy and
math functions primitives (`primitives.FUNCTIONS`) or small lowerings (`calls.CALLS`). Anything
else is refused with the user's line.
"""
from __future__ import annotations

import builtins
import contextlib
import functools
import inspect
from dataclasses import dataclass

import gast
import numpy as np

from ..rules import primitives as P
from ..ir.builder import Builder, current_builder
from .calls import CALLS, METHODS, Method, Static
from ..rules.custom import CustomVJP
from ..errors import CompileError
from ..ir.core import (SUPPORTED_DTYPES, Block, Const, For, Function, If, IndexArray, IndexInt, IndexSlice, Loop,
                       Return, Structured, Type, Value, While, Yield, basic_index)
from .canonical import ITEM, PREFIX, RETURNED, canonicalise
from .fence import fence
from .parse import ParsedFunction, parse
from ..rules.primitives import Sym

BINARY_OPERATORS = {gast.Add: P.add, gast.Sub: P.sub, gast.Mult: P.mul, gast.Div: P.div, gast.Pow: P.power,
                    gast.FloorDiv: P.floor_divide, gast.Mod: P.remainder}
COMPARISONS = {
    gast.Lt: P.less, gast.LtE: P.less_equal, gast.Gt: P.greater, gast.GtE: P.greater_equal,
    gast.Eq: P.equal, gast.NotEq: P.not_equal,
}
OPERATOR_SYMBOLS = {
    gast.LShift: "<<", gast.RShift: ">>", gast.BitOr: "|",
    gast.BitXor: "^", gast.BitAnd: "&", gast.Invert: "~", gast.Not: "not", gast.Is: "is",
    gast.IsNot: "is not", gast.In: "in", gast.NotIn: "not in",
}
LIBRARY_MODULES = ("numpy", "math", "builtins", "scipy")


def lower(parsed: ParsedFunction, arg_types: list[Type]) -> Function:
    """The typed SSA form of `parsed` for arguments of `arg_types`."""
    lowering = Lowering(parsed, Builder(parsed.loc(parsed.tree)), captured={}, assumptions=[])
    params = [Value(t, name) for name, t in zip(lowering.names, arg_types)]
    with lowering.builder.active():
        result = lowering.body([Sym(p) for p in params])
    last = parsed.tree.body[-1]
    leaves = []
    structure = _structure(result, lambda leaf: leaves.append(lowering.operand(leaf, last).operand))
    terminator = Return(tuple(leaves), parsed.loc(last))
    captured = list(lowering.captured.values())
    block = Block(params + [param for param, _ in captured], lowering.builder.ops, terminator)
    assumptions = {(id(scope), name): (scope, name, value) for scope, name, value in lowering.assumptions}
    return Function(parsed.name, [block], parsed.loc(parsed.tree), tuple(array for _, array in captured),
                    tuple(assumptions.values()), structure)


def _structure(result, leaf) -> tuple | None:
    """`Function.structure` of `result`, calling `leaf` on each of its values in order."""
    if isinstance(result, tuple):
        return tuple(_structure(item, leaf) for item in result)
    leaf(result)
    return None


def still_valid(function: Function) -> bool:
    """Whether every global and closure variable `function` was lowered with still holds the same
    object (a number: an equal one): generated code is never run with a stale constant."""
    for scope, name, value in function.assumptions:
        current = scope.cell_contents if name is None else scope.get(name, _MISSING)
        if current is not value and not (isinstance(value, (int, float)) and type(current) is type(value)
                                         and current == value):
            return False
    return True


_MISSING = object()


def inline(function, args: list) -> object:
    """Lower a call of `function` (a plain Python function) on the symbols `args` into the
    current builder, as a derivative rule does; its result is a symbol or a tuple of them."""
    lowering = Lowering(_checked(function), current_builder(), captured=None, assumptions=[])
    return lowering.body(list(args))


class Lowering:
    """The state of lowering one function body into `builder`: the names in scope. Calls of the
    user's own functions are lowered inline by child lowerings that share the builder, the
    captured arrays (None where arrays cannot be captured) and the stack of functions being lowered,
    which detects recursion."""

    def __init__(self, parsed: ParsedFunction, builder: Builder, captured: dict | None, assumptions: list,
                 stack: tuple = ()):
        self.parsed = parsed
        self.builder = builder
        self.names = [a.id for a in parsed.tree.args.posonlyargs + parsed.tree.args.args]
        function = parsed.function
        self.cells = dict(zip(function.__code__.co_freevars, function.__closure__ or ()))
        self.captured = captured  # id(array) -> (its hidden parameter, the array)
        self.assumptions = assumptions  # (scope, name, object) of every non-local read, shared
        self.stack = stack + (function,)
        self.env: dict[str, object] = {}
        self.protected: set[int] = set()  # ids of the arguments and globals, which are never written
        self.node = parsed.tree  # the node being lowered, for messages

    def body(self, args: list):
        """Lower the body with its parameters bound to `args`; the returned value."""
        self.env = dict(zip(self.names, args))
        self.protected = {id(a.operand) for a in args if isinstance(a, Sym)}
        last = self.parsed.tree.body[-1]
        if not isinstance(last, gast.Return) or last.value is None:
            self.refuse(last, "the function does not return a value",
                        "return the value to differentiate at the end of the function")
        self.statements(self.parsed.tree.body[:-1])
        self.at(last)
        return self.expression(last.value)

    def statements(self, nodes) -> None:
        for node in nodes:
            self.statement(node)

    def call_user(self, function, name: str, args, kwargs, node):
        """A call of the user's own function, lowered inline."""
        if function in self.stack:
            self.refuse(node, f"`{name}` calls itself (recursion) and cannot be differentiated",
                        "write it without recursion, for example as NumPy array operations")
        parsed = _checked(function)
        try:
            bound = inspect.signature(function).bind(*args, **kwargs)
        except TypeError as error:
            self.refuse(node, f"the call of `{name}` does not match its parameters: {error}")
        bound.apply_defaults()
        values = [v if isinstance(v, (Sym, tuple, Static)) else self.static(v, node) for v in bound.arguments.values()]
        return Lowering(parsed, self.builder, self.captured, self.assumptions, self.stack).body(values)

    # ------------------------------------------------------------ statements

    def statement(self, node):
        self.at(node)
        method = getattr(self, "stmt_" + type(node).__name__, None)
        if method is not None:
            return method(node)
        if isinstance(node, gast.Assign):
            value = self.expression(node.value)
            if _always_new(node.value) and (self.bound_elsewhere(value) or self.folded_to_a_view(value)):
                value = P.fresh(value)  # `b = -(-a)`, `b = +a[0]` make a new array in NumPy
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, gast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expression(node.value))
        elif isinstance(node, gast.AugAssign):
            if isinstance(node.target, gast.Subscript):
                current = self.expression(node.target)
                value = self.binary(node.op, current, self.operand(self.expression(node.value), node.value), node)
                return self.assign(node.target, value)
            if not isinstance(node.target, gast.Name):
                self.refuse(node.target, "augmented assignment to an attribute is not supported",
                            "assign to a name: `y = y + ...`")
            current = self.operand(self.read(node.target.id, node.target), node.target)
            sharing = self.sharing(node.target.id, current) if current.type.ndim else None
            if sharing is not None:
                self.refuse(node, f"augmented assignment to the array `{node.target.id}`, which shares its "
                                  f"memory with {_called(sharing)}, is not supported (NumPy would change both)",
                            f"write `{node.target.id} = {node.target.id} <op> ...` to make a new array")
            value = self.binary(node.op, current, self.operand(self.expression(node.value), node.value), node)
            self.assign(node.target, value)
        elif not isinstance(node, gast.Expr):  # the fence lets only docstrings through
            self.refuse(node, f"the statement `{type(node).__name__}` is not supported")
        return None

    # ------------------------------------------------------------ control flow

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
        names = [n for n in dict.fromkeys([*branches[0][1], *branches[1][1]])
                 if any(env.get(n, _MISSING) is not before.get(n, _MISSING) for _, env in branches)]
        self.env = dict(before)
        merged = {}  # name -> its bindings in the two branches
        returned = [False, True] if getattr(node, "after_return", False) else \
            [_has_returned(env, before) for _, env in branches]
        for name in names:
            values = [env.get(name, _MISSING) for _, env in branches]
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
        pairs = {name: self.leaves(name, values, node) for name, values in merged.items()}
        yields = [[pair[side] for name in merged for pair in pairs[name]] for side in (0, 1)]
        hints = [name for name in merged for _ in pairs[name]]
        results = iter(self.make_if(cond, [(ops, values) for (ops, _), values in zip(branches, yields)], node, hints))
        for name, values in merged.items():
            self.env[name] = _rebuild(next(v for v in values if v is not _MISSING), results)

    def leaves(self, name, values, node) -> list:
        """Pairs (then, else) of the Syms bound to `name` by two branches (tuples flattened; a
        branch that does not bind an internal name gets a placeholder of the other's type)."""
        present = [v for v in values if v is not _MISSING]
        if len(present) == 1:
            values = [v if v is not _MISSING else _placeholders(present[0]) for v in values]
        then, orelse = (_flatten(v) for v in values)
        if then is None or orelse is None or len(then) != len(orelse) or any(
                isinstance(a, Static) != isinstance(b, Static) or (isinstance(a, Static) and a.obj is not b.obj)
                for a, b in zip(then, orelse)):
            self.refuse(node, f"`{name}` is bound to values of different kinds in the two branches",
                        "give it numbers or arrays of one rank in both branches")
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
        for position, result in enumerate(results):
            self.builder.holds[result] = [b.terminator.values[position] for b in blocks]
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
        sequence = self.sequence(node.iter)
        if isinstance(sequence, tuple):  # a Python tuple: unrolled
            for position, item in enumerate(sequence):
                self.assign(node.target, item)
                with self.holding(sequence[position + 1:]):  # items still to come
                    self.statements(node.body)
            return
        self.loop(node, For, sequence.trips, lambda k: self.assign(node.target, sequence.item(k)), sequence.arrays)

    def sequence(self, node):
        """What a `for` loop iterates over: a tuple of values (the loop is unrolled), or an
        `Indexed` sequence: `range(...)`, the rows of an array, and `enumerate` and `zip` of those."""
        callee = self.expression(node.func) if isinstance(node, gast.Call) else None
        if isinstance(callee, Static) and callee.obj in (range, enumerate, zip) and _hashable(callee.obj):
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
        array = self.operand(value, node)
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
        before = self.env
        assigned = _assigned_names(node)
        carried = {n: before[n].type for n in assigned if isinstance(before.get(n), Sym)}
        for attempt in range(4):
            args = {n: Value(t, n) for n, t in carried.items()}
            for name, arg in args.items():
                self.builder.holds[arg] = [before[name].operand] if name in before else []
            self.env = {**before, **{n: Sym(a) for n, a in args.items()}}
            test_ops, test = [], None
            if kind is While:
                test_args = {n: Value(t, n) for n, t in carried.items()}
                self.env.update((n, Sym(a)) for n, a in test_args.items())
                with self.builder.nested(test_ops):
                    test = self.condition(node.test)
                self.env.update((n, Sym(a)) for n, a in args.items())
            k = Value(Type("int64"))  # the iteration number: `i` when the loop is `for i in range(n)`
            with self.builder.nested() as body_ops, self.holding(iterated):
                if bind_target is not None:
                    bind_target(Sym(k))
                k.hint = k.hint or "k"
                self.statements(node.body)
                after = self.env
            settled = {}
            for name in assigned:
                value = after.get(name)
                if isinstance(value, Unassigned):  # assigned on some paths of the body: carried
                    value = value.value if isinstance(value.value, Sym) else before.get(name)
                if not isinstance(value, Sym):
                    if isinstance(before.get(name), Sym) or isinstance(value, tuple):
                        self.refuse(node, f"`{name}` must stay a number or an array in the loop",
                                    "bind tuples and functions outside the loop")
                    continue
                joined = P.join(carried[name], value.type) if name in carried else value.type
                if joined is None:
                    self.refuse(node, f"`{name}` is {carried[name].describe()} before the loop and "
                                      f"{value.type.describe()} in it", "keep its rank the same in the loop")
                settled[name] = joined
            if settled == carried:
                break
            carried = settled
        else:
            self.refuse(node, "the types of the loop's variables do not settle")
        self.env = before
        self.check_loop_aliasing(node, after, carried)
        inits = [self.converted(before[n], t) if n in before and isinstance(before[n], Sym) else
                 P.placeholder(dtype=t.dtype, ndim=t.ndim, listed=0) for n, t in carried.items()]
        with self.builder.nested(body_ops):
            yields = tuple(self.converted(after[n], t).operand for n, t in carried.items())
        loc = self.parsed.loc(node)
        body = Block(([k] if kind is For else []) + list(args.values()), body_ops, Yield(yields, loc))
        results = tuple(Value(t, n) for n, t in carried.items())
        if kind is For:
            op = For((trips.operand, *(i.operand for i in inits)), (body,), results, loc)
        else:
            test_block = Block(list(test_args.values()), test_ops, Yield((test.operand,), loc))
            op = While(tuple(i.operand for i in inits), (test_block, body),
                       (Value(Type("int64"), "trips"),) + results, loc)
        for name, result, arg in zip(carried, results, args.values()):
            sources = self.builder.holds[arg] + [after[name].operand]
            self.builder.holds[arg] = self.builder.holds[result] = sources
        self.builder.append(op)
        self.env = {**before, **{n: Sym(r) for n, r in zip(carried, results)}}

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
        # a `for` binds its target before anything else in an iteration: never written as it was
        targets = [getattr(node, "target", None), getattr(node, "rebound_first", None)]
        rebound = {n.id for t in targets if t is not None for n in gast.walk(t) if isinstance(n, gast.Name)}
        for name in written & set(carried) - rebound:
            if isinstance(after.get(name), Sym) and (other := self.sharing(name, after[name], after)) is not None:
                self.refuse(node, f"the loop writes into `{name}`, which shares its memory with {_called(other)} "
                                  f"at the end of an iteration (NumPy would change both)",
                            f"copy it: `{name} = {name}.copy()`")

    def stmt_Pass(self, node):
        return None

    def stmt_Return(self, node):
        raise AssertionError("returns before the end are removed by canonicalisation")

    stmt_Break = stmt_Continue = stmt_Return

    def sharing(self, name: str, value: Sym, env: dict | None = None):
        """Another name of `env` (the names in scope) whose array shares memory with `value` (the
        same array, or a view of it or of what it views, or a branch or loop value that may be one
        of those), or None. In-place updates are refused there: NumPy would change both."""
        mine = self.view_chain(value.operand)
        for other, bound in (self.env if env is None else env).items():
            if other != name and isinstance(bound, Sym) and mine & self.view_chain(bound.operand):
                return other
        return None

    def bound_elsewhere(self, value) -> bool:
        """Whether `value` is an array some name already holds."""
        return isinstance(value, Sym) and value.type.ndim > 0 and any(
            isinstance(bound, Sym) and bound.operand is value.operand for bound in self.env.values())

    def folded_to_a_view(self, value) -> bool:
        """Whether `value` is an array view that an expression which makes a new array in NumPy
        was folded to (`-(-a[:, 0])`)."""
        return isinstance(value, Sym) and self.viewed(value.operand) is not None

    def viewed(self, operand):
        """The array `operand` is a view of (indexing without arrays, reshapes, transposes), or None."""
        producer = self.builder.producers.get(id(operand))
        if producer is not None and producer.result.type.ndim and \
                producer.prim.memory_of(producer.param_dict) is P.VIEW:
            return producer.args[0]
        return None

    def view_chain(self, operand) -> set:
        """Ids of `operand` and of the arrays it may share memory with because it is a view of them
        (through indexing, reshapes, transposes) or may be one of them (an if's or loop's value)."""
        chain, stack = set(), [operand]
        while stack:
            operand = stack.pop()
            if not isinstance(operand, Value) or id(operand) in chain:
                continue
            chain.add(id(operand))
            stack.extend(self.builder.holds.get(operand, ()))
            stack.append(self.viewed(operand))
        return chain

    def assign(self, target, value):
        if isinstance(target, gast.Name):
            if isinstance(value, Sym) and isinstance(value.operand, Value) and not value.operand.hint:
                value.operand.hint = target.id  # name a new result after the user's variable
            self.env[target.id] = value
        elif isinstance(target, gast.Tuple):
            if not isinstance(value, tuple):
                self.refuse(target, "unpacking a value that is not a tuple is not supported",
                            "unpack only tuples, such as `a, b = x, y` or `n, m = X.shape`")
            if len(value) != len(target.elts):
                self.refuse(target, f"{len(value)} values cannot be unpacked into {len(target.elts)} names")
            for element, item in zip(target.elts, value):
                self.assign(element, item)
        elif isinstance(target, gast.Subscript):
            self.assign_element(target, self.operand(value, target))
        else:
            self.refuse(target, f"assignment to `{type(target).__name__}` is not supported", "assign to a name")

    def assign_element(self, target, value: Sym) -> None:
        """`y[index] = value`: y becomes a new value (written in place by emission where that is
        safe). Refused where NumPy would change another name's array too."""
        if not isinstance(target.value, gast.Name):
            self.refuse(target, "assignment into this expression is not supported", "write `y[i, j] = ...` on a name")
        name = target.value.id
        y = self.read(name, target.value)
        if not isinstance(y, Sym) or y.type.ndim == 0:
            self.refuse(target, f"`{name}` is not an array, so its elements cannot be assigned")
        if self.view_chain(y.operand) & self.protected:
            self.refuse(target, f"assignment into `{name}`, an argument or global array (or a view of one), "
                                f"would change the caller's array", f"copy it first: `{name} = {name}.copy()`")
        sharing = self.sharing(name, y)
        if sharing is not None:
            self.refuse(target, f"assignment into the array `{name}`, which shares its memory with {_called(sharing)}, "
                                f"is not supported (NumPy would change both)",
                        f"loop over `range(len({name}))` and read `{name}[i]`" if sharing.startswith(ITERATED) else
                        f"copy it first: `{name} = {name}.copy()`")
        items = target.slice.elts if isinstance(target.slice, gast.Tuple) else [target.slice]
        structure, operands, new_axes = self.index_items(y, items, target)
        if new_axes or not basic_index(structure):
            self.refuse(target, "assignment with `None` or array indices is not supported",
                        "assign with integers and slices")
        self.env[name] = P.setitem(y, self.converted(value, y.type), *operands, index=tuple(structure))

    # ------------------------------------------------------------ expressions

    def expression(self, node):
        """Lower `node`; ops made for it carry its line (restored after its operands are lowered)."""
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            self.refuse(node, f"`{type(node).__name__}` is not supported")
        saved = self.builder.loc, self.node
        self.at(node)
        try:
            return method(node)
        finally:
            self.builder.loc, self.node = saved

    def at(self, node):
        self.builder.loc = self.parsed.loc(node)
        self.node = node

    def expr_Constant(self, node):
        if node.value is None:
            return Static(None)
        if isinstance(node.value, (bool, int, float)):
            return Sym(node.value)
        self.refuse(node, f"the constant {node.value!r} is not supported", "use numbers only")

    def expr_Name(self, node):
        return self.read(node.id, node)

    def expr_Tuple(self, node):
        return tuple(self.expression(e) for e in node.elts)

    expr_List = expr_Tuple

    def expr_UnaryOp(self, node):
        operand = self.operand(self.expression(node.operand), node.operand)
        if isinstance(node.op, gast.USub):
            return -operand
        if isinstance(node.op, gast.UAdd):
            return operand
        if isinstance(node.op, gast.Not):
            return P.logical_not(self.condition(node.operand))
        self.refuse(node, f"the operator `{OPERATOR_SYMBOLS[type(node.op)]}` is not supported")

    def expr_BinOp(self, node):
        left = self.operand(self.expression(node.left), node.left)
        return self.binary(node.op, left, self.operand(self.expression(node.right), node.right), node)

    def binary(self, op, left: Sym, right: Sym, node):
        if isinstance(op, gast.MatMult):
            if left.type.ndim == 0 or right.type.ndim == 0:
                self.refuse(node, "`@` with a scalar operand is not supported (NumPy refuses it too)",
                            "multiply by a scalar with `*`")
            return self.matmul(left, right)
        prim = BINARY_OPERATORS.get(type(op))
        if prim is None:
            self.refuse(node, f"the operator `{OPERATOR_SYMBOLS[type(op)]}` is not supported",
                        "use + - * / // % ** and @, and NumPy functions")
        return prim(left, right)

    def matmul(self, left: Sym, right: Sym) -> Sym:
        """`left @ right` (np.dot with a scalar is a product), operands made one float dtype."""
        if left.type.ndim == 0 or right.type.ndim == 0:
            return left * right
        common = P.promote(left.type, right.type)
        dtype = common.dtype if common.is_float else "float64"
        left, right = (x if x.type.dtype == dtype else P.cast(x, dtype=dtype) for x in (left, right))
        return left @ right

    def expr_Compare(self, node):
        if len(node.ops) != 1:
            self.refuse(node, "a chained comparison is not supported", "compare two values at a time")
        prim = COMPARISONS.get(type(node.ops[0]))
        if prim is None:
            self.refuse(node, f"the comparison `{OPERATOR_SYMBOLS[type(node.ops[0])]}` is not supported")
        left = self.operand(self.expression(node.left), node.left)
        return prim(left, self.operand(self.expression(node.comparators[0]), node.comparators[0]))

    def expr_Attribute(self, node):
        base = self.expression(node.value)
        if isinstance(base, Static):
            if not hasattr(base.obj, node.attr):
                self.refuse(node, f"`{self.dotted(node)}` does not exist")
            return self.static(getattr(base.obj, node.attr), node)
        operand = self.operand(base, node.value)
        if node.attr == "T":
            return operand.T
        if node.attr == "shape":
            return tuple(P.dim(operand, axis=axis) for axis in range(operand.type.ndim))
        if node.attr == "ndim":
            return Sym(operand.type.ndim)
        if node.attr == "size":
            return P.size(operand) if operand.type.ndim else Sym(1)
        if node.attr in METHODS:
            return Method(operand, node.attr)
        self.refuse(node, f"the attribute `.{node.attr}` is not supported",
                    f"supported: .T, .shape, .ndim, .size and the methods {', '.join(sorted(METHODS))}")

    def expr_Call(self, node):
        callee = self.expression(node.func)
        args = [self.expression(a) for a in node.args]
        kwargs = {k.arg: self.expression(k.value) for k in node.keywords}
        if None in kwargs:
            self.refuse(node, "`**` arguments are not supported", "pass each argument by name")
        if isinstance(callee, Method):
            return self.call(METHODS[callee.name], f".{callee.name}()", [callee.receiver, *args], kwargs, node)
        if not isinstance(callee, Static):
            self.refuse(node, "calling a value that is not a function is not supported")
        return self.call(callee.obj, self.dotted(node.func), args, kwargs, node)

    def call(self, function, name: str, args, kwargs, node):
        prim = P.FUNCTIONS.get(function) if _hashable(function) else None
        if prim is not None:
            if kwargs:
                self.refuse(node, f"`{name}` takes no keyword arguments here (got `{next(iter(kwargs))}=`)",
                            "pass its operands by position")
            if len(args) != prim.arity:
                self.refuse(node, f"`{name}` takes {prim.arity} arguments here, not {len(args)}")
            return prim(*(self.operand(a, node) for a in args))
        if getattr(function, "makes_transform", False):  # `grad(f, wrt=...)`: made now, called below
            return Static(function(*(self.known(a, name, node) for a in args),
                                   **{k: self.known(v, name, node) for k, v in kwargs.items()}))
        lowering = CALLS.get(function) if _hashable(function) else None
        if lowering is not None:
            try:
                inspect.signature(lowering).bind(self, *args, **kwargs)
            except TypeError as error:
                self.refuse(node, f"`{name}` called with arguments it does not support: {error}",
                            "see docs/supported.md for the supported arguments")
            return lowering(self, *args, **kwargs)
        module = getattr(function, "__module__", None) or ""
        if module.split(".")[0] in LIBRARY_MODULES or inspect.isbuiltin(function) or isinstance(function, type):
            self.refuse(node, f"`{name}` has no derivative rule",
                        "see docs/supported.md for the supported functions, or declare a rule")
        if getattr(function, "build_for", None) is not None:  # an adcompiler transform
            return self.call_transformed(function, name, args, kwargs, node)
        if isinstance(function, CustomVJP):
            return function.lower_call(self, inline, [self.operand(a, node) for a in args], kwargs, node)
        if inspect.isfunction(function):
            return self.call_user(function, name, args, kwargs, node)
        self.refuse(node, f"calling `{name}` is not supported", "call NumPy functions or your own functions")

    def call_transformed(self, transformed, name: str, args, kwargs, node):
        """`grad(f)(...)`, `value_and_grad(f)(...)` or `jit(f)(...)` inside compiled code: f's IR
        (forward and backward for a gradient), spliced here with the call's arguments, so that
        gradients of gradients are IR too."""
        if transformed.kind == "vjp":
            self.refuse(node, f"calling `{name}` (vjp) inside compiled code is not supported: its pullback is "
                              f"a function", "call grad or value_and_grad transforms")
        try:
            bound = transformed.signature.bind(*args, **kwargs)
        except TypeError as error:
            self.refuse(node, f"the call of `{name}` does not match its parameters: {error}")
        bound.apply_defaults()
        operands = [self.operand(v if isinstance(v, (Sym, tuple, Static)) else self.static(v, node), node)
                    for v in bound.arguments.values()]
        for position in transformed.wrt:
            if not operands[position].type.is_float:
                self.refuse(node, f"`{name}` differentiates parameter {position}, "
                                  f"which is {operands[position].type.describe()} here")
        built = transformed.build_for(tuple(o.type.with_dtype(o.type.dtype) for o in operands))
        self.assumptions.extend(built.primal.assumptions)
        if transformed.kind == "jit":
            results = self.splice_function(built.program, operands, node)
            return built.primal.nest(results if len(results) > 1 else results[0])
        forward, backward = built.program.forward, built.program.backward
        value_of = {}
        out, *sources = self.splice_function(forward, operands, node, value_of)
        value_of.update((id(p), s.operand) for p, s in zip(backward.params, sources))
        seed = backward.params[-1]
        value_of[id(seed)] = Const(1.0) if seed.type.dtype == "float64" else P.cast(Sym(1.0), dtype=seed.type.dtype).operand
        self.splice(backward.entry.ops, value_of)
        grads = tuple(Sym(_lookup(value_of, v)) for v in backward.entry.terminator.values)
        grads = grads[0] if transformed.single else grads
        return grads if transformed.kind == "grad" else (out, grads)

    def splice_function(self, function: Function, operands: list, node, value_of: dict | None = None) -> tuple:
        """`function`'s ops re-made here with its parameters bound to `operands` (its hidden ones to
        the arrays it captured); the symbols it returns."""
        value_of = {} if value_of is None else value_of
        hidden = function.params[len(operands):]
        value_of.update((id(p), o.operand) for p, o in zip(function.params, operands))
        value_of.update((id(p), self.capture(a, node).operand) for p, a in zip(hidden, function.captured))
        self.splice(function.entry.ops, value_of)
        return tuple(Sym(_lookup(value_of, v)) for v in function.entry.terminator.values)

    def splice(self, ops, value_of: dict) -> None:
        """Re-make `ops` here (typed and folded again; structured ops with new blocks), their
        operands looked up in `value_of`."""
        saved = self.builder.loc
        for op in ops:
            self.builder.loc = op.loc
            args = tuple(_lookup(value_of, a) for a in op.args)
            if not isinstance(op, Structured):
                made = self.builder.emit(op.prim, list(args), op.param_dict, op.result.hint)
                if self.builder.ops and made is getattr(self.builder.ops[-1], "result", None):  # a new value
                    made.derived = _spliced(op.result, value_of)
                value_of[id(op.result)] = made
                continue
            blocks = []
            for block in op.blocks:
                block_args = [Value(a.type, a.hint, _spliced(a, value_of)) for a in block.args]
                value_of.update((id(a), new) for a, new in zip(block.args, block_args))
                with self.builder.nested() as block_ops:
                    self.splice(block.ops, value_of)
                yields = tuple(_lookup(value_of, v) for v in block.terminator.values)
                blocks.append(Block(block_args, block_ops, Yield(yields, block.terminator.loc)))
            results = tuple(Value(r.type, r.hint, _spliced(r, value_of)) for r in op.results)
            self.builder.append(op.rebuilt(args, tuple(blocks), results))
            value_of.update((id(r), new) for r, new in zip(op.results, results))
        self.builder.loc = saved

    def expr_Subscript(self, node):
        base = self.expression(node.value)
        items = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if isinstance(base, tuple):
            index = self.constant(self.expression(node.slice), "a tuple index")
            if isinstance(index, int) and not -len(base) <= index < len(base):
                self.refuse(node, f"index {index} is out of range for a tuple of {len(base)} values")
            return base[index]
        return self.index(self.operand(base, node.value), items, node)

    def expr_Slice(self, node):
        parts = [None if p is None else self.expression(p) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def index(self, x: Sym, items, node) -> Sym:
        """`x[items]`: basic indexing (integers, slices, None) or one integer or boolean array."""
        structure, operands, new_axes = self.index_items(x, items, node)
        if structure == [IndexArray()] and operands[0].type.dtype == "bool" and operands[0].type.ndim > 1:
            # Numba takes 1-D masks only: index the flattened array with the flattened mask.
            x, operands = P.reshape(x, Sym(-1)), [P.reshape(operands[0], Sym(-1))]
        result = P.getitem(x, *operands, index=tuple(structure)) if structure else x
        for axis in new_axes:
            result = P.expand_dims(result, axis=axis)
        return result

    def index_items(self, x: Sym, items, node):
        """The structure, operands and new axes (None) of the index `items` of `x`."""
        structure, operands, new_axes, position = [], [], [], 0
        for item in items:
            value = self.expression(item)
            if isinstance(value, Static) and value.obj is None:
                new_axes.append(position)
                position += 1
            elif isinstance(value, slice):
                parts = [value.start, value.stop, value.step]
                structure.append(IndexSlice(*(p is not None and not _is_none(p) for p in parts)))
                operands += [self.integer(p, item) for p in parts if p is not None and not _is_none(p)]
                position += 1
            else:
                value = self.operand(value, item)
                if value.type.ndim == 0:
                    structure.append(IndexInt())
                    operands.append(self.integer(value, item))
                else:
                    if len(items) != 1 or (value.type.dtype == "bool" and value.type.ndim != x.type.ndim) \
                            or value.type.dtype not in ("bool", "int64") or (value.type.dtype == "int64" and value.type.ndim != 1):
                        self.refuse(item, "this array index is not supported",
                                    "index with one 1-D integer array, or one boolean mask of the array's shape")
                    structure.append(IndexArray())
                    operands.append(value)
                    position += 1
        if len(structure) > x.type.ndim:
            self.refuse(node, f"too many indices for a {x.type.ndim}-D array")
        return structure, operands, new_axes

    # ------------------------------------------------------------ values

    def integer(self, value, node, what: str = "an index") -> Sym:
        value = self.operand(value, node)
        if value.type.dtype not in ("int64", "bool") or value.type.ndim:
            self.refuse(node, f"{what} must be an integer, not {value.type.describe()}")
        return value

    def constant(self, value, what: str):
        """The compile-time Python value of `value` (numbers, None, tuples of them, dtypes)."""
        if value is None or isinstance(value, (bool, int, float)):  # a default of a lowering
            return value
        if isinstance(value, tuple):
            return tuple(self.constant(v, what) for v in value)
        if isinstance(value, Static):
            return value.obj
        if isinstance(value, slice):
            return slice(*(self.constant(p, what) if p is not None else None
                           for p in (value.start, value.stop, value.step)))
        if isinstance(value, Sym) and isinstance(value.operand, Const):
            return value.operand.value
        self.refuse(self.node, f"{what} must be a constant known at compile time",
                    "write it as a literal or a module-level constant")

    def read(self, name: str, node):
        if name in self.env:
            value = self.env[name]
            if isinstance(value, Unassigned):
                self.refuse(node, f"`{name}` is read here, but it is assigned only in {value.where} "
                                  f"(line {value.loc.line})", f"assign `{name}` before the `if`, or in every branch")
            return value
        if name in self.cells:
            value = self.cells[name].cell_contents
            self.assumptions.append((self.cells[name], None, value))
            return self.static(value, node)
        scope = self.parsed.function.__globals__
        if name in scope:
            self.assumptions.append((scope, name, scope[name]))
            return self.static(scope[name], node)
        if name in vars(builtins):
            return self.static(vars(builtins)[name], node)
        self.refuse(node, f"the name `{name}` is not defined", "define it before the function or pass it in")

    def known(self, value, name: str, node):
        """The Python object `value` stands for, which must be known when compiling."""
        if isinstance(value, tuple):
            return tuple(self.known(v, name, node) for v in value)
        if isinstance(value, Static):
            return value.obj
        if isinstance(value, Sym) and isinstance(value.operand, Const):
            return value.operand.value
        self.refuse(node, f"the arguments of `{name}` must be known when compiling",
                    "pass a function and constant positions or names")

    def static(self, obj, node):
        if isinstance(obj, (np.floating, np.integer, np.bool_)):  # before float: np.float64 is one
            return Sym(obj.item())
        if isinstance(obj, (bool, int, float)):
            return Sym(obj)
        if isinstance(obj, np.ndarray):
            return self.capture(obj, node)
        return Static(obj)

    def capture(self, array: np.ndarray, node) -> Sym:
        """A global or closure array: a hidden parameter, bound to this array at every call."""
        if str(array.dtype) not in SUPPORTED_DTYPES:
            self.refuse(node, f"the global array `{self.dotted(node)}` has dtype {array.dtype}, which is not supported",
                        f"use one of {', '.join(SUPPORTED_DTYPES)}")
        if self.captured is None:
            self.refuse(node, f"the global array `{self.dotted(node)}` cannot be read in a derivative rule",
                        "pass it to the function as an argument")
        if id(array) not in self.captured:
            units = tuple(n == 1 for n in array.shape)
            param = Value(Type(str(array.dtype), array.ndim, False, units), self.dotted(node).replace(".", "_"))
            self.captured[id(array)] = (param, array)
        self.protected.add(id(self.captured[id(array)][0]))
        return Sym(self.captured[id(array)][0])

    def operand(self, value, node) -> Sym:
        if isinstance(value, Sym):
            return value
        what = (("a list" if isinstance(node, gast.List) else "a tuple") if isinstance(value, tuple)
                else f"`{self.dotted(node)}`")
        self.refuse(node, f"{what} cannot be used as a number or array")

    def dotted(self, node) -> str:
        if isinstance(node, gast.Attribute):
            return f"{self.dotted(node.value)}.{node.attr}"
        return node.id if isinstance(node, gast.Name) else type(node).__name__

    def refuse(self, node, message: str, hint: str = ""):
        raise CompileError(message, self.parsed.loc(node), hint)


@functools.lru_cache(maxsize=None)
def _checked(function) -> ParsedFunction:
    return canonicalise(fence(parse(function)))


def _lookup(value_of: dict, operand):
    return operand if isinstance(operand, Const) else value_of[id(operand)]


def _spliced(value: Value, value_of: dict):
    """The `derived` of the value spliced for `value`: named after the value spliced for its source
    (none when that source was not spliced, or became a literal)."""
    if value.derived is None:
        return None
    prefix, source = value.derived
    made = value_of.get(id(source))
    return (prefix, made) if isinstance(made, Value) else None


@dataclass(frozen=True)
class Indexed:
    """A sequence a loop runs over: `trips` values, the k-th of which `item(k)` makes."""

    trips: Sym
    item: object
    arrays: tuple = ()  # the arrays whose rows it reads (their later rows are read in later iterations)


@dataclass(frozen=True)
class Unassigned:
    """The binding of a name that only some paths assign (reading it is refused)."""

    name: str
    loc: object
    where: str
    value: object  # what the paths that assign it bind it to


ITERATED = PREFIX + "iterated_"


def _called(name: str) -> str:
    """How a message names the binding `name` (internal ones by what they hold)."""
    if name.startswith(ITERATED):
        return "the array the `for` loop iterates over"
    if name.startswith(ITEM):
        return "the item of a `for` loop"
    return f"`{name}`"


def _has_returned(env: dict, before: dict) -> bool:
    """Whether a branch set the canonical return flag (and so returned)."""
    flag = env.get(RETURNED)
    return flag is not before.get(RETURNED) and isinstance(flag, Sym) and P.is_const(flag, True)


def _flatten(value):
    """The leaves (Syms and Statics) of a binding, or None for one that cannot be merged."""
    if isinstance(value, (Sym, Static)):
        return [value]
    if isinstance(value, tuple):
        leaves = [_flatten(v) for v in value]
        return None if None in leaves else [leaf for part in leaves for leaf in part]
    return None


def _placeholders(value):
    """A binding of `value`'s structure whose Syms are placeholders of their types."""
    if isinstance(value, Sym):
        return P.placeholder(dtype=value.type.dtype, ndim=value.type.ndim, listed=0)
    if isinstance(value, tuple):
        return tuple(_placeholders(v) for v in value)
    return value


def _rebuild(template, results):
    """`template`'s structure with its Syms replaced, in order, by `results`."""
    if isinstance(template, Sym):
        return next(results)
    if isinstance(template, tuple):
        return tuple(_rebuild(v, results) for v in template)
    return template


def _assigned_names(loop) -> list:
    """The names a loop statement assigns (its target and everything its body binds), in order."""
    names = []
    for node in gast.walk(loop):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            names.append(node.id)
        elif isinstance(node, gast.Subscript) and isinstance(node.ctx, gast.Store) and isinstance(node.value, gast.Name):
            names.append(node.value.id)
    return list(dict.fromkeys(names))


def _always_new(node) -> bool:
    """Whether NumPy gives a new array for the expression `node` (arithmetic, `np.<ufunc>(...)`),
    also where adcompiler folds it to an operand (`-(-a)`). A call of a helper may return an alias."""
    if isinstance(node, (gast.BinOp, gast.UnaryOp)):
        return True
    func = node.func if isinstance(node, gast.Call) else None
    return isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
        func.value.id in ("np", "numpy") and isinstance(getattr(np, func.attr, None), np.ufunc)


def _is_none(value) -> bool:
    return isinstance(value, Static) and value.obj is None


def _hashable(obj) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True
