"""Reading a user's function: its source, its gast tree, and where each node is in the user's file."""
from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from typing import Callable

import gast

from .errors import CompileError, Loc


@dataclass(frozen=True)
class ParsedFunction:
    """A user function with its gast `FunctionDef`. Node line numbers are relative to `source`;
    `loc(node)` turns them into the user's file and line."""

    function: Callable
    tree: gast.FunctionDef
    source: str
    file: str
    line_offset: int

    @property
    def name(self) -> str:
        return self.tree.name

    def loc(self, node) -> Loc:
        line = getattr(node, "lineno", 1) + self.line_offset
        return Loc(self.file, line, getattr(node, "col_offset", 0), self.tree.name)


def parse(function: Callable) -> ParsedFunction:
    """Parse `function`'s source. Refuses what has no readable source (builtins, lambdas, REPL)."""
    function = inspect.unwrap(function)
    if not inspect.isfunction(function):
        raise CompileError(f"{function!r} is not a Python function", None,
                           "decorate a function defined with `def` in a file")
    code = function.__code__
    where = Loc(code.co_filename, code.co_firstlineno, 0, function.__name__)
    if (function.__module__ or "").split(".")[0] in ("numpy", "scipy", "math"):
        raise CompileError(f"{function.__module__}.{function.__name__} is a library function, not yours", where,
                           f"differentiate your own function that calls it, such as "
                           f"`def f(x): return {function.__name__}(x)`")
    if function.__name__ == "<lambda>":
        raise CompileError("a lambda cannot be differentiated", where,
                           "define the function with `def` at module level")
    try:
        source = textwrap.dedent(inspect.getsource(function))
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
