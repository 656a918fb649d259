"""Making typed ops: a Builder appends ops to a list, typing each by its primitive's type rule.

The IR is typed by construction: whoever makes an op (lowering, a derivative rule) goes through
`Builder.emit`, which applies the primitive's type rule at the current user location and folds
operations whose operands are all literals.
"""
from __future__ import annotations

import contextlib
import contextvars

from ..errors import CompileError, Loc
from .alias import Aliases
from .core import Const, Op, Value

_current: contextvars.ContextVar["Builder"] = contextvars.ContextVar("adcompiler_builder")


class TypeRuleError(Exception):
    """Raised by a type rule; the builder turns it into a CompileError at the user's line."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


class Builder:
    """Appends ops to `self.ops`; `self.loc` is the user's location given to each new op."""

    def __init__(self, loc: Loc):
        self.ops: list[Op] = []
        self.loc = loc
        self.producers: dict[int, Op] = {}  # id(result) -> the op of this builder that made it
        self.aliases = Aliases(generated=False)  # what the ops made so far may share, as NumPy runs them

    def emit(self, prim, args, params: dict, hint: str = ""):
        """Append `prim(*args, **params)` and return its result: a Const when it folds; what the
        primitive's `rewrite` makes instead where it has one (negations moved and cancelled)."""
        if prim.fold is not None and all(isinstance(a, Const) for a in args):
            return Const(prim.fold(*(a.value for a in args)))
        if prim.rewrite is not None:
            rewritten = prim.rewrite(self, args, params, hint)
            if rewritten is not None:
                return rewritten
        try:
            result_type = prim.infer_type(args, **params)
        except TypeRuleError as error:
            raise CompileError(str(error), self.loc, error.hint) from None
        result = Value(result_type, hint)
        self.ops.append(Op(prim, tuple(args), result, self.loc, tuple(sorted(params.items()))))
        self.producers[id(result)] = self.ops[-1]
        self.aliases.add(self.ops[-1])
        return result

    def append(self, op) -> None:
        """Append a structured op (made by its maker, not typed by a primitive)."""
        self.ops.append(op)
        self.aliases.add(op)

    @contextlib.contextmanager
    def nested(self, ops: list | None = None):
        """Within this block, ops go to `ops` (a new list by default), the list yielded: the body
        of a nested block."""
        saved, self.ops = self.ops, ([] if ops is None else ops)
        try:
            yield self.ops
        finally:
            self.ops = saved

    @contextlib.contextmanager
    def active(self):
        """Within this block, primitives called on symbols append to this builder."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)


def current_builder() -> Builder:
    return _current.get()
