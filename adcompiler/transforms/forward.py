"""Forward mode: from a typed function, one function that computes its values and their tangents
(directional derivatives) together, as IR.

`forward(fn, wrt)` takes the parameters of `fn`, then one tangent per parameter in `wrt` (of the
same type, `dot_x` for x), then the captured arrays; it returns the results of `fn`, then one
tangent per result. Only active values (those that depend on a parameter in `wrt` through operands
whose tangents pass, `Primitive.passes_tangent`) get tangents; a missing tangent is a symbolic
zero and generates nothing. Control flow keeps its shape: an `if` yields the tangents of its
active results, a loop carries the tangents of its active carried values (no tape: forward mode
needs none), and an update (`setitem`, `index_accumulate`, `append`) updates the tangent the same
way (its forward rule is LINEAR). Every tangent has its value's dtype and rank.
"""
from __future__ import annotations

from ..errors import CompileError
from ..ir.builder import Builder
from ..ir.core import Block, Function, If, Return, Structured, Type, Value, Yield
from ..rules import primitives as P
from ..rules.primitives import DIAGONAL, Linear, Sym
from ..trees import Node
from .reverse import analyze_activity


def forward(fn: Function, wrt: tuple) -> Function:
    """The function of `fn`'s values and tangents with respect to the parameters at positions `wrt`."""
    active = analyze_activity(fn, wrt, _passes_tangent)
    builder = Builder(fn.loc)
    sweep = _Sweep(active, builder)
    own = len(fn.params) - len(fn.captured)
    tangents = [_tangent_value(fn.params[i]) for i in wrt]
    sweep.tangents.update((id(fn.params[i]), Sym(t)) for i, t in zip(wrt, tangents))
    values = fn.entry.terminator.values
    with builder.active():
        sweep.ops(fn.entry.ops)
        builder.loc = fn.entry.terminator.loc
        results = tuple(sweep.tangent_or_zero(v, v).operand for v in values)
    params = fn.params[:own] + tangents + fn.params[own:]
    structure = Node(tuple, (), (fn.structure, fn.structure))
    return Function(f"{fn.name}_jvp", [Block(params, builder.ops, Return(tuple(values) + results,
                                                                          fn.entry.terminator.loc))],
                    fn.loc, fn.captured, fn.assumptions, structure)


def _passes_tangent(op, reached) -> bool:
    """Whether the tangents of the operands at `reached` reach the result; refuses a primitive
    without forward rules at the user's line (its hint that of its reverse refusal, if any)."""
    if not op.prim.forward_rules:
        _, hint = op.prim.refusal_of(op.param_dict) or (None, "declare one with defjvp in its family's file in "
                                                              "adcompiler/rules/, or use reverse mode (grad)")
        raise CompileError(f"`{op.prim.name}` has no forward-mode rule, and a differentiated value reaches it "
                           f"(forward mode: jvp, hvp)", op.loc, hint)
    return any(op.prim.passes_tangent(i) for i in reached)


def _tangent_value(value: Value) -> Value:
    """A new value for the tangent of `value`: its dtype, rank and axes of length 1, never weak."""
    t = value.type
    return Value(Type(t.dtype, t.ndim, False, t.units, t.listed), derived=("dot_", value))


class _Sweep:
    """One forward sweep: re-makes `fn`'s ops in `builder`, each followed by its tangent's ops."""

    def __init__(self, active: set, builder: Builder):
        self.active = active
        self.builder = builder
        self.tangents: dict[int, Sym] = {}  # id(value) -> its tangent (absent: a symbolic zero)

    def ops(self, ops) -> None:
        for op in ops:
            self.builder.loc = op.loc
            if isinstance(op, If):
                self.branch(op)
            elif isinstance(op, Structured):
                self.loop(op)
            else:
                self.builder.append(op)
                if id(op.result) in self.active:
                    tangent = self.tangent_of(op)
                    if tangent is not None:
                        self.tangents[id(op.result)] = tangent

    def tangent_of(self, op):
        """The tangent of `op`'s result: the sum of its operands' contributions, or None."""
        rules, prim = op.prim.forward_rules, op.prim
        operands = [Sym(a) for a in op.args]
        tangents = [self.tangents.get(id(a)) if isinstance(a, Value) else None for a in op.args]
        out = Sym(op.result)
        if isinstance(rules, Linear):
            if all(tangents[i] is None for i in rules.positions):
                return None
            args = [(tangents[i] if tangents[i] is not None else self.zero(op.args[i], op.args[i].type.dtype))
                    if i in rules.positions
                    else operand for i, operand in enumerate(operands)]
            return _fitted(prim(*args, **op.param_dict), op.result, shaped=True)
        total = None
        for position, t in enumerate(tangents):
            if t is None or not prim.passes_tangent(position):
                continue
            rule = prim.rule(position) if rules is DIAGONAL else rules[position]
            share = rule(t, *operands, out=out, **op.param_dict)
            if share is not None:
                share = _fitted(share, op.result)
                total = share if total is None else total + share
        return total

    def zero(self, value, dtype: str) -> Sym:
        """A zero tangent of `dtype` for the operand `value` (of its shape; an empty list of
        tangents for a list)."""
        t = value.type
        if t.listed:
            return P.placeholder(dtype=dtype, ndim=t.ndim, listed=t.listed, units=t.units)
        if t.ndim:
            zero = P.zeros_like(Sym(value))
            return zero if t.dtype == dtype else P.cast(zero, dtype=dtype)
        return Sym(0.0) if dtype == "float64" else P.cast(Sym(0.0), dtype=dtype)

    def tangent_or_zero(self, value, like: Value) -> Sym:
        """The tangent of `value` (an operand), else a zero of `like`'s dtype (the value a loop or
        an `if` passes it on as)."""
        tangent = self.tangents.get(id(value)) if isinstance(value, Value) else None
        return tangent if tangent is not None else self.zero(value, like.type.dtype)

    def branch(self, op: If) -> None:
        """An `if` whose branches also yield the tangents of its active results."""
        positions = [i for i, r in enumerate(op.results) if id(r) in self.active]
        blocks = []
        for block in op.blocks:
            with self.builder.nested() as ops:
                self.ops(block.ops)
                self.builder.loc = op.loc
                extra = [self.tangent_or_zero(block.terminator.values[i], op.results[i]).operand for i in positions]
            yields = tuple(block.terminator.values) + tuple(extra)
            blocks.append(Block(block.args, ops, Yield(yields, block.terminator.loc)))
        added = tuple(_tangent_value(op.results[i]) for i in positions)
        self.builder.append(op.rebuilt(op.args, tuple(blocks), tuple(op.results) + added))
        self.tangents.update((id(op.results[i]), Sym(t)) for i, t in zip(positions, added))

    def loop(self, op) -> None:
        """A `for` or `while` that also carries the tangents of its active carried values."""
        carried = op.carried_results
        positions = [j for j, r in enumerate(carried) if id(r) in self.active]
        inits = tuple(self.tangent_or_zero(op.inits[j], carried[j]).operand for j in positions)
        blocks = []
        for block in op.blocks:
            arguments = op.carried_args(block)
            added = [_tangent_value(arguments[j]) for j in positions]
            self.tangents.update((id(arguments[j]), Sym(t)) for j, t in zip(positions, added))
            with self.builder.nested() as ops:
                self.ops(block.ops)
                self.builder.loc = op.loc
                yields = tuple(block.terminator.values)
                if block is not op.test:
                    yields += tuple(self.tangent_or_zero(yields[j], arguments[j]).operand for j in positions)
            blocks.append(Block(list(block.args) + added, ops, Yield(yields, block.terminator.loc)))
        results = tuple(_tangent_value(carried[j]) for j in positions)
        self.builder.append(op.rebuilt(tuple(op.args) + inits, tuple(blocks), tuple(op.results) + results))
        self.tangents.update((id(carried[j]), Sym(t)) for j, t in zip(positions, results))


def _fitted(tangent: Sym, value: Value, shaped: bool = False) -> Sym:
    """`tangent` with `value`'s dtype, broadcast to its shape where it may be smaller (the static
    axes of length 1 tell: a contribution of a broadcast operand); unless `shaped`: the primitive
    applied to tangents of its operands' shapes has its result's shape."""
    target = value.type
    if target.listed:
        return tangent
    if tangent.type.dtype != target.dtype:
        tangent = P.cast(tangent, dtype=target.dtype)
    if shaped:
        return tangent
    source = tangent.type
    smaller = source.ndim < target.ndim or any(s is not False and t is not True
                                               for s, t in zip(source.units, target.units))
    if target.ndim and smaller:
        tangent = P.broadcast_like(tangent, Sym(value))
    return tangent

