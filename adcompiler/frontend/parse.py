"""Reading a user's function: its source, its gast tree, and where each node is in the user's file."""
from __future__ import annotations

import ast
import collections
import inspect
import linecache
import re
import textwrap
from dataclasses import dataclass, field
from typing import Callable

import gast

from ..errors import CompileError, Loc


@dataclass(frozen=True)
class ParsedFunction:
    """A user function with its gast `FunctionDef`. Node line numbers are relative to `source`;
    `loc(node)` turns them into the user's file and line."""

    function: Callable
    tree: gast.FunctionDef
    source: str
    file: str
    line_offset: int
    title: str = ""  # how messages name it, where that is not its name: `grad(f)`
    # What canonicalisation tells lowering about the nodes it made (see canonical.py):
    after_return: frozenset = field(default=frozenset(), compare=False)  # guards whose other path returned
    rebound_first: dict = field(default_factory=dict, compare=False)  # loop -> the target it binds first
    # A function defined inside compiled code that a transform compiles on its own (inlining.lift):
    # its free variables' values in the function it was defined in, read when the transform is called
    free: dict = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        return self.tree.name

    @property
    def described(self) -> str:
        return self.title or self.name

    def loc(self, node) -> Loc:
        line = getattr(node, "lineno", 1) + self.line_offset
        return Loc(self.file, line, getattr(node, "col_offset", 0), self.tree.name)


def parse(function: Callable) -> ParsedFunction:
    """Parse `function`'s source. Refuses what has no readable source (builtins, a REPL's).
    A wrapper made with `functools.wraps` is read as itself, never as the function it wraps: what
    it does around that call is part of what is differentiated."""
    library = inspect.unwrap(function)  # NumPy's Python functions are wrapped by its dispatcher
    if inspect.isfunction(library) and (library.__module__ or "").split(".")[0] in ("numpy", "scipy", "math"):
        where = Loc(library.__code__.co_filename, library.__code__.co_firstlineno, 0, function.__name__)
        raise CompileError(f"{function.__module__}.{function.__name__} is a library function, not yours", where,
                           f"differentiate your own function that calls it, such as "
                           f"`def f(x): return {function.__name__}(x)`")
    if not inspect.isfunction(function):
        raise CompileError(f"{function!r} is not a Python function", None,
                           "decorate a function defined with `def` in a file")
    code = function.__code__
    where = Loc(code.co_filename, code.co_firstlineno, 0, function.__name__)
    if code.co_name == "<lambda>":
        return _parse_lambda(function, where)
    try:
        source = source_of(code)  # of the code: getsource(function) would unwrap it
    except (OSError, TypeError) as error:
        raise CompileError(f"the source of {function.__name__} cannot be read ({error})", where,
                           "define the function in a .py file, not in an interactive session") from None
    module = gast.parse(source)
    tree = module.body[0]
    if isinstance(tree, gast.AsyncFunctionDef):
        raise CompileError(f"{function.__name__} is an async function, which cannot be differentiated",
                           where, "differentiate a plain `def` function")
    if not isinstance(tree, gast.FunctionDef):
        raise CompileError(f"{function.__name__} is not defined with `def`", where)
    return ParsedFunction(function, tree, source, code.co_filename, code.co_firstlineno - 1)


def _parse_lambda(function: Callable, where: Loc) -> ParsedFunction:
    """A lambda read as the `def` of the same parameters that returns its body, named for its line
    (`lambda_12`). It is found in its file's syntax tree as the innermost lambda on its first line
    whose body spans every position of its code (Python's `co_positions`, but for the empty ones of
    its prologue), so that of several lambdas on one line the one given is read."""
    code = function.__code__
    linecache.checkcache(code.co_filename)
    try:
        module = ast.parse("".join(linecache.getlines(code.co_filename)))
    except (SyntaxError, ValueError):
        module = ast.Module(body=[], type_ignores=[])
    positions = code_positions(code)
    candidates = [node for node in ast.walk(module) if isinstance(node, ast.Lambda)
                  and node.lineno == code.co_firstlineno and positions
                  and all(_within(node.body, p) for p in positions)]
    if not candidates:
        raise CompileError("the source of this lambda cannot be read", where,
                           "define the function in a .py file, not in an interactive session, or with `def`")
    node = min(candidates, key=lambda n: (n.end_lineno - n.lineno, n.end_col_offset - n.col_offset))
    name = def_name(code)
    source = f"def {name}({ast.unparse(node.args)}):\n    return ({ast.unparse(node.body)})\n"
    return ParsedFunction(function, gast.parse(source).body[0], source, code.co_filename, node.lineno - 2, "<lambda>")


def def_name(code) -> str:
    """The name of the `def` a function is read as: its own; a lambda's, `lambda_<its line>`."""
    return f"lambda_{code.co_firstlineno}" if code.co_name == "<lambda>" else code.co_name


def code_positions(code) -> list:
    """The source spans (line, column, end line, end column) of `code`'s instructions, without the
    empty ones (a prologue's)."""
    return [(line, column, end_line, end_column) for line, end_line, column, end_column in code.co_positions()
            if None not in (line, end_line, column, end_column) and (line, column) != (end_line, end_column)]


def _within(node, position) -> bool:
    """Whether the source span `position` (line, column, end line, end column) lies in `node`'s."""
    line, column, end_line, end_column = position
    return (node.lineno, node.col_offset) <= (line, column) and (end_line, end_column) <= (node.end_lineno,
                                                                                       node.end_col_offset)


def source_of(code) -> str:
    """The source of the function of `code`, dedented: `inspect.getsource(code)`'s text, read without
    its search of every loaded module for the file's (`inspect.getmodule`, which takes milliseconds
    in a process that has imported NumPy); files that linecache cannot read (a zip import) take
    `inspect.getsource`'s way."""
    linecache.checkcache(code.co_filename)  # as getsource: the file as it is now
    lines = linecache.getlines(code.co_filename)
    if not lines:
        return textwrap.dedent(inspect.getsource(code))
    first = code.co_firstlineno - 1
    if first >= len(lines):
        raise OSError("lineno is out of bounds")
    while first > 0 and not _DEFINITION.match(lines[first]):  # as inspect.findsource
        first -= 1
    return textwrap.dedent("".join(inspect.getblock(lines[first:])))


_DEFINITION = re.compile(r"^(\s*def\s)|(\s*async\s+def\s)|(.*(?<!\w)lambda(:|\s))|^(\s*@)")

CALLEE = "_ad_callee"


def compose(callee: Callable, names: list, name: str, title: str, where: ParsedFunction,
            pick: int | None = None) -> ParsedFunction:
    """A function of the parameters `names` that returns `callee(*names)` (its item `pick` when
    given: a jvp's tangent): what a transform of a
    transformed function (or of a custom_vjp) lowers, so that the inner transform is lowered as a
    call and never skipped. It is named `name`, `title` in messages; its nodes point at `where`'s
    `def` line."""
    parameters = ", ".join(names)
    item = "" if pick is None else f"[{pick}]"
    source = f"def {name}({parameters}):\n    return {CALLEE}({parameters}){item}\n"
    namespace = {CALLEE: callee}
    exec(compile(source, where.file, "exec"), namespace)  # noqa: S102 - the source is made above
    tree = gast.parse(source).body[0]
    for node in gast.walk(tree):
        if hasattr(node, "lineno"):
            node.lineno = where.tree.lineno
    return ParsedFunction(namespace[name], tree, source, where.file, where.line_offset, title)


def bound_names(tree: gast.FunctionDef) -> set:
    """The names the function `tree` binds in its own scope, as Python decides them: its parameters,
    and what its body assigns, deletes or defines (a nested function never reads these from it)."""
    arguments = tree.args
    names = {a.id for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
    names |= {a.id for a in (arguments.vararg, arguments.kwarg) if a is not None}
    for statement in tree.body:
        for n in walk_own(statement):
            if isinstance(n, gast.FunctionDef):
                names.add(n.name)
            elif isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                names.add(n.id)
    return names


def walk_own(node):
    """The nodes of the statement or expression `node`, as `gast.walk` gives them (breadth first),
    without the insides of the functions and lambdas defined in it (their jumps and assignments
    are their own)."""
    queue = collections.deque([node])
    while queue:
        current = queue.popleft()
        yield current
        if not isinstance(current, (gast.FunctionDef, gast.Lambda)):
            queue.extend(gast.iter_child_nodes(current))
