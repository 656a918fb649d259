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
from .core import Block, Const, Op, Structured, Value, Yield

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

    def splice(self, ops, value_of: dict) -> None:
        """Re-make `ops` here (typed and folded again; structured ops with new blocks), their
        operands looked up in `value_of` (id -> operand), which gets what each value became. A
        value derived from one made later (a tape, made before the loop that fills it, is named
        after a value of its body) is named once that one is made."""
        named_later = []
        self._splice(ops, value_of, named_later)
        for made, value in named_later:
            made.derived = _spliced(value, value_of)

    def _splice(self, ops, value_of: dict, named_later: list) -> None:
        saved = self.loc

        def remade(value: Value, made: Value) -> Value:
            made.derived = _spliced(value, value_of)
            if value.derived is not None and made.derived is None:
                named_later.append((made, value))
            return made

        for op in ops:
            self.loc = op.loc
            args = tuple(looked_up(value_of, a) for a in op.args)
            if not isinstance(op, Structured):
                made = self.emit(op.prim, list(args), op.param_dict, op.result.hint)
                if self.ops and made is getattr(self.ops[-1], "result", None):  # a new value
                    remade(op.result, made)
                value_of[id(op.result)] = made
                continue
            blocks = []
            for block in op.blocks:
                block_args = [remade(a, Value(a.type, a.hint)) for a in block.args]
                value_of.update((id(a), new) for a, new in zip(block.args, block_args))
                with self.nested() as block_ops:
                    self._splice(block.ops, value_of, named_later)
                yields = tuple(looked_up(value_of, v) for v in block.terminator.values)
                blocks.append(Block(block_args, block_ops, Yield(yields, block.terminator.loc)))
            results = tuple(remade(r, Value(r.type, r.hint)) for r in op.results)
            self.append(op.rebuilt(args, tuple(blocks), results))
            value_of.update((id(r), new) for r, new in zip(op.results, results))
        self.loc = saved

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


def looked_up(value_of: dict, operand):
    """What `operand` became in a splice: itself if a literal."""
    return operand if isinstance(operand, Const) else value_of[id(operand)]


def _spliced(value: Value, value_of: dict):
    """The `derived` of the value spliced for `value`: named after the value spliced for its source
    (none when that source was not spliced, or became a literal)."""
    if value.derived is None:
        return None
    prefix, source = value.derived
    made = value_of.get(id(source))
    return (prefix, made) if isinstance(made, Value) else None
