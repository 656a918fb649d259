"""The one exception the compiler raises for programs it refuses, with the user's location."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """A place in the user's source: file, 1-based line, 0-based column, enclosing function."""

    file: str
    line: int
    col: int = 0
    function: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def short(self) -> str:
        """`file.py:line` without the folder, as generated code and printed IR show it."""
        return f"{os.path.basename(self.file)}:{self.line}"


class CompileError(Exception):
    """A construct adcompiler cannot compile: says what, where (file and line) and what to do instead."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = ""):
        self.message = message
        self.loc = loc
        self.hint = hint
        text = message if loc is None else f"{loc}: in {loc.function}(): {message}"
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)


class UnendedRecursion(CompileError):
    """Recursion that the values known when compiling do not end (it is unrolled when compiling).
    The API retries once with the integer arguments fixed as constants of the specialisation."""
