"""The fence: refuse, before lowering, every construct adcompiler does not compile yet.

Each refused construct has a row in `REFUSED`: what to call it in the message and what to do
instead. Anything not in `ALLOWED` and not in `REFUSED` is refused by its gast node name.
"""
from __future__ import annotations

import gast

from ..errors import CompileError
from .parse import ParsedFunction

_LOOP_HINT = "write a `for` loop, or NumPy array operations (np.sum, @, elementwise functions)"
_BRANCH_HINT = "write it with if / elif / else"

REFUSED = {
    gast.AsyncFor: ("an `async for` loop", _LOOP_HINT),
    gast.ClassDef: ("a class definition", "define classes outside the differentiated function"),
    gast.AsyncFunctionDef: ("an async function", "differentiate a plain `def` function"),
    gast.Try: ("a `try` statement", "check inputs before calling the differentiated function"),
    gast.Raise: ("a `raise` statement", "check inputs before calling the differentiated function"),
    gast.Assert: ("an `assert` statement", "check inputs before calling the differentiated function"),
    gast.With: ("a `with` statement", "move the context manager outside the function"),
    gast.AsyncWith: ("an `async with` statement", "move the context manager outside the function"),
    gast.SetComp: ("a set comprehension", _LOOP_HINT),
    gast.DictComp: ("a dict comprehension", _LOOP_HINT),
    gast.Yield: ("a generator (`yield`)", "return a value instead"),
    gast.YieldFrom: ("a generator (`yield from`)", "return a value instead"),
    gast.Await: ("`await`", "differentiate a plain, synchronous function"),
    gast.Global: ("a `global` statement", "pass the value as an argument and return the new one"),
    gast.Nonlocal: ("a `nonlocal` statement", "pass the value as an argument and return the new one"),
    gast.Starred: ("star-arguments (`f(*args)`)", "pass each argument separately"),
    gast.Import: ("an import inside the function", "import at module level"),
    gast.ImportFrom: ("an import inside the function", "import at module level"),
    gast.Delete: ("a `del` statement", "leave the name unused instead"),
    gast.Set: ("a set literal", "pass the values as separate arguments"),
    gast.JoinedStr: ("an f-string", "compute strings outside the differentiated function"),
    gast.NamedExpr: ("an assignment expression (`:=`)", "assign with a separate statement"),
    gast.Match: ("a `match` statement", _BRANCH_HINT),
}

ALLOWED = (
    gast.arguments, gast.Name, gast.Load, gast.Store, gast.Assign, gast.AugAssign, gast.AnnAssign,
    gast.Return, gast.Expr, gast.Pass, gast.BinOp, gast.UnaryOp, gast.Compare, gast.Call,
    gast.Attribute, gast.Constant, gast.Tuple, gast.List, gast.Dict, gast.Subscript, gast.Slice, gast.keyword,
    gast.operator, gast.unaryop,
    gast.cmpop, gast.expr_context, gast.If, gast.For, gast.While, gast.IfExp, gast.BoolOp, gast.boolop,
    gast.Break, gast.Continue, gast.FunctionDef, gast.Lambda, gast.ListComp, gast.GeneratorExp,
    gast.comprehension,
)


def fence(parsed: ParsedFunction) -> ParsedFunction:
    """Raise CompileError at the first refused construct of `parsed`; return it unchanged otherwise."""
    _check_signature(parsed, parsed.tree.args)
    if parsed.tree.args.kwonlyargs:
        refuse(parsed, parsed.tree.args.kwonlyargs[0], "a keyword-only parameter",
               "make it an ordinary positional parameter")
    for node in gast.walk(parsed.tree):
        if isinstance(node, gast.FunctionDef):
            _check_returns(parsed, node.body)
        if isinstance(node, (gast.FunctionDef, gast.Lambda)) and node is not parsed.tree:
            _check_nested(parsed, node)
    for statement in parsed.tree.body:
        for node in gast.walk(statement):
            if isinstance(node, gast.Starred) and isinstance(node.ctx, gast.Store):
                refuse(parsed, node, "a starred assignment (`a, *b = ...`)", "unpack into plain names")
            if not isinstance(node, ALLOWED):
                construct, hint = REFUSED.get(type(node), (f"`{type(node).__name__}`", ""))
                refuse(parsed, node, construct, hint)
        for node in gast.walk(statement):
            if isinstance(node, gast.Expr) and not _is_docstring(node) and not is_add_at(node.value):
                _refuse_expression_statement(parsed, node)
    return parsed


def _check_signature(parsed: ParsedFunction, args) -> None:
    if args.vararg is not None:
        refuse(parsed, args.vararg, "a `*args` parameter", "give each parameter a name")
    if args.kwarg is not None:
        refuse(parsed, args.kwarg, "a `**kwargs` parameter", "give each parameter a name")


def _check_nested(parsed: ParsedFunction, node) -> None:
    """A nested `def` or `lambda` has named parameters (keyword-only ones too) and no decorators;
    its nodes are checked with the rest of the tree (so a `yield` in it is refused)."""
    _check_signature(parsed, node.args)
    if isinstance(node, gast.FunctionDef) and node.decorator_list:
        refuse(parsed, node.decorator_list[0], "a decorated nested function",
               "define the decorated function at module level")


def _check_returns(parsed: ParsedFunction, body) -> None:
    for position, statement in enumerate(body):
        if isinstance(statement, gast.Return) and position != len(body) - 1:
            refuse(parsed, body[position + 1], "code after `return`", "remove the unreachable code")


def is_add_at(node) -> bool:
    """Whether `node` is a call `<module>.add.at(...)`: np.add.at, a statement that updates its first
    argument (lowering checks that it is NumPy's and that the argument is a name)."""
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "at" \
        and isinstance(node.func.value, gast.Attribute) and node.func.value.attr == "add"


def updated_name(node):
    """The name `y` that a call `np.add.at(y, ...)` updates, else None."""
    return node.args[0].id if is_add_at(node) and node.args and isinstance(node.args[0], gast.Name) else None


def _refuse_expression_statement(parsed: ParsedFunction, statement: gast.Expr):
    call = statement.value
    if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and call.func.attr == "append" and \
            isinstance(call.func.value, gast.Name) and len(call.args) == 1 and not call.keywords:
        return  # a list that grows (lowering refuses what it does not support)
    if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and call.func.attr in ("append", "extend"):
        refuse(parsed, statement, f"a list that grows (`.{call.func.attr}`)",
               "preallocate an array, `ys = np.zeros((n, m))`, and assign its rows: `ys[i] = ...`")
    if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and call.func.attr == "sort":
        refuse(parsed, statement, "sorting in place (`.sort()`)", "write `x = np.sort(x)` (a new sorted array)")
    refuse(parsed, statement, "an expression statement whose value is unused",
           "assign the value to a name, or remove the statement")


def refuse(parsed: ParsedFunction, node, construct: str, hint: str):
    raise CompileError(f"{construct} is not supported", parsed.loc(node), hint)


def _is_docstring(statement: gast.Expr) -> bool:
    return isinstance(statement.value, gast.Constant) and isinstance(statement.value.value, str)
