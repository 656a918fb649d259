"""Canonicalisation of jumps: `return` before the end, `break` and `continue` become flags.

After `canonicalise`, a function body ends with its only `return`, and no loop holds a `break` or
`continue`: each jump sets a flag (`_ad_break_1`, `_ad_continue_1`, `_ad_returned`) and assigns
the returned value to `_ad_value`; the statements after a jump run under `if not <flags>:`; a loop
stops when its flag is set (a `while` tests it first; a `for` over `range` becomes a `while` over
the same numbers; a `for` over an array or tuple skips its remaining items). An `if` outside loops
whose one branch always returns takes the statements after it into its other branch instead.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools

import gast

from ..errors import CompileError
from .parse import ParsedFunction, walk_own

PREFIX = "_ad_"
RETURNED, VALUE, ITEM = PREFIX + "returned", PREFIX + "value", PREFIX + "item_"


def canonicalise(parsed: ParsedFunction) -> ParsedFunction:
    """`parsed` with its jumps turned into flags (the same object when it has none)."""
    final = parsed.tree.body[-1]
    if not any(isinstance(n, (gast.Return, gast.Break, gast.Continue)) and n is not final
               for statement in parsed.tree.body for n in walk_own(statement)):
        return parsed
    tree = copy.deepcopy(parsed.tree)
    rewriter = _Rewriter(parsed)
    last = tree.body[-1]
    statements = _flat(rewriter.block(tree.body, loop=None))
    tree.body = [_assign(RETURNED, gast.Constant(value=False, kind=None), tree.body[0])] + statements + \
        [_located(gast.Return(value=_name(VALUE)), last)]
    return dataclasses.replace(parsed, tree=tree, after_return=frozenset(rewriter.after_return),
                               rebound_first=rewriter.rebound_first)


class _Loop:
    """The flags of the loop being rewritten."""

    def __init__(self, number: int):
        self.brk = f"{PREFIX}break_{number}"
        self.cont = f"{PREFIX}continue_{number}"
        self.breaks = self.continues = False


class _Rewriter:
    def __init__(self, parsed: ParsedFunction):
        self.parsed = parsed
        self.numbers = itertools.count(1)
        self.after_return = set()  # the guards `if not _ad_returned:` whose other path has returned
        self.rebound_first = {}  # a loop -> the target it binds before anything else in an iteration

    def block(self, statements, loop) -> list:
        """`statements` rewritten; those after a jump guarded by its flags."""
        out = []
        for position, statement in enumerate(statements):
            rest = statements[position + 1:]
            if loop is None and isinstance(statement, gast.If) and rest:
                returns = [_always_returns(b) for b in (statement.body, statement.orelse)]
                if any(returns):
                    body = statement.body + ([] if returns[0] else rest)
                    orelse = statement.orelse + ([] if returns[1] else rest)
                    out.append(self.rewrite(_located(gast.If(test=statement.test, body=body, orelse=orelse), statement), loop))
                    return out
            flags = _jumps(statement, loop)
            out.append(self.rewrite(statement, loop))
            if flags and rest:
                guarded = _flat(self.block(rest, loop))
                guard = _located(gast.If(test=_none_of(flags), body=guarded, orelse=[]), rest[0])
                if flags == [RETURNED]:  # its other path has returned: nothing it binds is read
                    self.after_return.add(guard)
                out.append(guard)
                return out
        return out

    def rewrite(self, statement, loop):
        if isinstance(statement, gast.Return):
            value = statement.value if statement.value is not None else gast.Constant(value=None, kind=None)
            return [_assign(VALUE, value, statement), _assign(RETURNED, gast.Constant(value=True, kind=None), statement)]
        if isinstance(statement, (gast.Break, gast.Continue)):
            if isinstance(statement, gast.Break):
                loop.breaks = True
            else:
                loop.continues = True
            name = loop.brk if isinstance(statement, gast.Break) else loop.cont
            return _assign(name, gast.Constant(value=True, kind=None), statement)
        if isinstance(statement, gast.If):
            statement.body = _flat(self.block(statement.body, loop)) or [_located(gast.Pass(), statement)]
            statement.orelse = _flat(self.block(statement.orelse, loop))
            return statement
        if isinstance(statement, (gast.For, gast.While)):
            return self.loop(statement)
        return statement

    def loop(self, statement):
        """A loop whose body jumps: flags initialised before it, tested by it."""
        if not any(isinstance(n, (gast.Return, gast.Break, gast.Continue)) for n in _own_nodes(statement)):
            statement.body = _flat(self.block(statement.body, _Loop(next(self.numbers))))
            return statement
        inner = _Loop(next(self.numbers))
        returns = any(isinstance(n, gast.Return) for n in walk_own(statement))
        body = _flat(self.block(statement.body, inner))
        stops = ([inner.brk] if inner.breaks else []) + ([RETURNED] if returns else [])
        if inner.continues:
            body = [_assign(inner.cont, gast.Constant(value=False, kind=None), statement)] + body
        before = [_assign(inner.brk, gast.Constant(value=False, kind=None), statement)] if inner.breaks else []
        if isinstance(statement, gast.While):
            test = _and([_not(_name(f)) for f in stops] + [statement.test]) if stops else statement.test
            return before + [_located(gast.While(test=test, body=body, orelse=[]), statement)]
        if not stops:
            statement.body = body
            return before + [statement]
        bounds = _range_bounds(statement.iter)
        if bounds is not None:
            return before + self.range_as_while(statement, body, stops, bounds)
        item = f"{ITEM}{next(self.numbers)}"
        target, statement.target = statement.target, _like(statement.target, item, gast.Store)
        self.rebound_first[statement] = target  # bound before anything else in each iteration that runs
        statement.body = [_located(gast.If(test=_none_of(stops), orelse=[], body=[
            _located(gast.Assign(targets=[target], value=_like(target, item, gast.Load), type_comment=None),
                     statement)] + body), statement)]
        return before + [statement]

    def range_as_while(self, statement, body, stops, bounds) -> list:
        """`for i in range(a, b, step)` as a while loop over the same numbers (step a literal)."""
        start, stop, step = bounds
        sign = _literal_sign(step)
        if sign is None:
            raise CompileError("a `for` loop over `range` with a step that is not a literal number cannot "
                               "`break` or `return`", self.parsed.loc(statement),
                               "write the step as a number, or use a `while` loop")
        number = next(self.numbers)
        index, end = f"{PREFIX}index_{number}", f"{PREFIX}stop_{number}"
        compare = gast.Lt() if sign > 0 else gast.Gt()
        test = _and([_not(_name(f)) for f in stops] +
                    [gast.Compare(left=_name(index), ops=[compare], comparators=[_name(end)])])
        advance = gast.Assign(targets=[_store(index)], type_comment=None,
                              value=gast.BinOp(left=_name(index), op=gast.Add(), right=step))
        head = [gast.Assign(targets=[copy.deepcopy(statement.target)], value=_name(index), type_comment=None), advance]
        return [_assign(index, start, statement), _assign(end, stop, statement),
                _located(gast.While(test=test, body=[_located(s, statement) for s in head] + body, orelse=[]), statement)]


def _like(target, name: str, context):
    """Names (`name`, or `name_0`, `name_1`, ... for a tuple, recursively) shaped like `target`."""
    if isinstance(target, (gast.Tuple, gast.List)):
        return gast.Tuple(elts=[_like(t, f"{name}_{i}", context) for i, t in enumerate(target.elts)], ctx=context())
    return gast.Name(id=name, ctx=context(), annotation=None, type_comment=None)


def _flat(statements) -> list:
    out = []
    for statement in statements:
        out += statement if isinstance(statement, list) else [statement]
    return out


def _own_nodes(loop):
    """The nodes of a loop's body, without those of loops nested in it (but with their returns)
    and of functions defined in it."""
    stack = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (gast.For, gast.While)):
            stack.extend(n for n in walk_own(node) if isinstance(n, gast.Return))
            continue
        yield node
        if not isinstance(node, (gast.FunctionDef, gast.Lambda)):
            stack.extend(gast.iter_child_nodes(node))


def _jumps(statement, loop) -> list:
    """The flags `statement` may set: the current loop's break and continue, and the return flag."""
    flags = []
    nodes = list(_own_nodes(gast.While(test=None, body=[statement], orelse=[])))
    if any(isinstance(n, gast.Return) for n in walk_own(statement)):
        flags.append(RETURNED)
    if loop is not None:
        if any(isinstance(n, gast.Break) for n in nodes):
            flags.append(loop.brk)
        if any(isinstance(n, gast.Continue) for n in nodes):
            flags.append(loop.cont)
    return flags


def _always_returns(statements) -> bool:
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, gast.Return):
        return True
    return isinstance(last, gast.If) and _always_returns(last.body) and _always_returns(last.orelse)


def _range_bounds(node):
    """(start, stop, step) expressions of a `range(...)` call, or None."""
    if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "range"
            and not node.keywords and 1 <= len(node.args) <= 3):
        return None
    args = list(node.args)
    if len(args) == 1:
        args = [gast.Constant(value=0, kind=None)] + args
    if len(args) == 2:
        args.append(gast.Constant(value=1, kind=None))
    return args


def _literal_sign(node):
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        sign = _literal_sign(node.operand)
        return None if sign is None else -sign
    if isinstance(node, gast.Constant) and isinstance(node.value, int) and node.value:
        return 1 if node.value > 0 else -1
    return None


def _none_of(flags):
    return _and([_not(_name(f)) for f in flags])


def _and(values):
    return values[0] if len(values) == 1 else gast.BoolOp(op=gast.And(), values=values)


def _not(value):
    return gast.UnaryOp(op=gast.Not(), operand=value)


def _name(name: str):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _store(name: str):
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def _assign(name: str, value, where):
    return _located(gast.Assign(targets=[_store(name)], value=value, type_comment=None), where)


def _located(node, where):
    """`node` (and its new children) at `where`'s line."""
    for child in gast.walk(node):
        if getattr(child, "lineno", None) is None and hasattr(where, "lineno"):
            gast.copy_location(child, where)
    return node
