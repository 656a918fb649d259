"""Forward mode: from a typed function, one function that computes its values and their tangents
(directional derivatives) together, as IR.

`forward(fn, wrt)` takes the parameters of `fn`, then one tangent per parameter in `wrt` (of the
same type, `dot_x` for x), then the captured arrays; it returns the results of `fn`, then one
tangent per result. Only active values (those that depend on a parameter in `wrt` through operands
whose tangents pass, `Primitive.passes_tangent`) get tangents; a missing tangent is a symbolic
zero and generates nothing. Control flow keeps its shape: an `if` yields the tangents of its
active results, a loop carries the tangents of its active carried values (no tape: forward mode
needs none), and an update (`setitem`, `index_accumulate`, `append`) updates the tangent the same
way (its forward rule is LINEAR). Every tangent has its value's dtype; it may be smaller than its
value, of a shape that broadcasts to the value's (lazy: the tangent of `p[:, None] - c[None]` is
`-dot_c[None]`, not an array of copies of it), where only elementwise ops read it; everything else
(shapes, reductions, indexing, `@`, a loop's or an `if`'s yields, the results) reads it broadcast to
the value's shape (`_Sweep.full`).
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
        self.lazy: dict[int, list] = {}  # id(value) -> the ops where its tangent, maybe smaller than it, is made
        self.fitted: dict[int, Sym] = {}  # id(value) -> its lazy tangent broadcast to its shape

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
                    tangent, lazy = self.tangent_of(op)
                    if tangent is not None:
                        self.tangents[id(op.result)] = tangent
                    if lazy:
                        self.lazy[id(op.result)] = self.builder.ops

    def tangent_of(self, op):
        """The tangent of `op`'s result (the sum of its operands' contributions, or None), and
        whether it may be smaller than the result. An elementwise rule (DIAGONAL, or LINEAR of an
        elementwise primitive) reads the operands' tangents as they are, smaller or not, and its
        contribution stays as small as they make it; any other rule reads them of their values'
        shapes."""
        rules, prim = op.prim.forward_rules, op.prim
        operands = [Sym(a) for a in op.args]
        lazy = rules is DIAGONAL or (isinstance(rules, Linear) and prim.elementwise)
        tangents = [(self.tangents.get(id(a)) if lazy else self.full(a)) if isinstance(a, Value) else None
                    for a in op.args]
        out = Sym(op.result)
        if isinstance(rules, Linear):
            if all(tangents[i] is None for i in rules.positions):
                return None, False
            args = [(tangents[i] if tangents[i] is not None else self.zero(op.args[i], op.args[i].type.dtype))
                    if i in rules.positions
                    else operand for i, operand in enumerate(operands)]
            return _cast(prim(*args, **op.param_dict), op.result), lazy and any(
                id(op.args[i]) in self.lazy for i in rules.positions if tangents[i] is not None)
        total = None
        for position, t in enumerate(tangents):
            if t is None or not prim.passes_tangent(position):
                continue
            rule = prim.rule(position) if rules is DIAGONAL else rules[position]
            share = rule(t, *operands, out=out, **op.param_dict)
            if share is not None:
                share = _cast(share, op.result)
                total = share if total is None else total + share
        return total, total is not None and _may_be_smaller(total, op.result)

    def full(self, value):
        """The tangent of `value` (an operand) broadcast to its shape where it may be smaller, or
        None (a symbolic zero). The broadcast is made once, where the tangent is made (so not in
        each iteration of a loop that reads an outer tangent)."""
        tangent = self.tangents.get(id(value)) if isinstance(value, Value) else None
        if tangent is None or id(value) not in self.lazy:
            return tangent
        if id(value) not in self.fitted:
            with self.builder.nested(self.lazy[id(value)]):
                self.fitted[id(value)] = _fitted(tangent, value)
        return self.fitted[id(value)]

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
        tangent = self.full(value)
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


def _cast(tangent: Sym, value: Value) -> Sym:
    """`tangent` (a contribution to `value`'s tangent) with `value`'s dtype."""
    if value.type.listed or tangent.type.dtype == value.type.dtype:
        return tangent
    return P.cast(tangent, dtype=value.type.dtype)


def _may_be_smaller(tangent: Sym, value: Value) -> bool:
    """Whether `tangent` may be smaller than `value` (the static axes of length 1 tell: the
    contribution of a broadcast operand)."""
    source, target = tangent.type, value.type
    if target.listed or not target.ndim:
        return False
    return source.ndim < target.ndim or any(s is not False and t is not True
                                            for s, t in zip(source.units, target.units))


def _fitted(tangent: Sym, value: Value) -> Sym:
    """`tangent` broadcast to `value`'s shape where it may be smaller."""
    return P.broadcast_like(tangent, Sym(value)) if _may_be_smaller(tangent, value) else tangent
