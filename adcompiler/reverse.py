"""Reverse mode: from a typed function, the forward pass that keeps what the backward needs and the
backward pass that computes the gradient, both as IR.

`forward(*params)` returns `(out, *residuals)`; `backward(*residuals, g)` returns one gradient per
differentiated parameter, each with that parameter's type. The residuals are exactly the forward
values that derivative rules read (outputs such as `exp`'s, operands such as `@`'s): the backward
reads them instead of recomputing them. Only active values (those that depend on a differentiated
parameter through differentiable operations) get adjoints; an absent adjoint is a symbolic zero,
which generates no code.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import primitives as P
from .builder import Builder
from .errors import CompileError
from .ir import Block, Const, Function, Return, Value
from .primitives import Sym


@dataclass(frozen=True)
class Adjoint:
    """A forward/backward pair. The forward returns `(out, *residuals)`; the backward takes
    `(*residuals, g)`, the i-th residual parameter standing for the forward's i-th residual."""

    forward: Function
    backward: Function
    wrt: tuple

    @property
    def residuals(self) -> list:
        """Pairs (forward operand, backward parameter)."""
        return list(zip(self.forward.entry.terminator.values[1:], self.backward.params[:-1]))


def analyze_activity(fn: Function, wrt) -> set:
    """Ids of the values that depend on the parameters in `wrt` through differentiable operands."""
    active = {id(fn.params[i]) for i in wrt}
    for op in fn.entry.ops:
        reached = [i for i, a in enumerate(op.args) if isinstance(a, Value) and id(a) in active]
        if not reached:
            continue
        if not op.prim.vjps:
            raise CompileError(f"`{op.prim.name}` has no derivative rule", op.loc,
                               "declare one with defvjp in adcompiler/primitives.py")
        if op.result.type.is_float and any(op.prim.rule(i) is not None for i in reached):
            active.add(id(op.result))
    return active


def reverse(fn: Function, wrt: tuple) -> Adjoint:
    """The adjoint of `fn` (one returned value) with respect to the parameters at positions `wrt`."""
    (out,) = fn.entry.terminator.values
    active = analyze_activity(fn, wrt)
    builder = Builder(fn.loc)
    seed = Value(out.type.with_dtype(out.type.dtype if out.type.is_float else "float64"), "g")
    adjoints: dict[int, Sym] = {}
    if isinstance(out, Value) and id(out) in active:
        adjoints[id(out)] = Sym(seed)
    with builder.active():
        for op in reversed(fn.entry.ops):
            g = adjoints.pop(id(op.result), None)
            if g is None:
                continue
            builder.loc = op.loc
            operands = [Sym(a) for a in op.args]
            for position, (arg, operand) in enumerate(zip(op.args, operands)):
                rule = op.prim.rule(position)
                if rule is None or not (isinstance(arg, Value) and id(arg) in active):
                    continue
                share = rule(g, *operands, out=Sym(op.result), **op.param_dict)
                if share is None:
                    continue
                if op.prim.broadcasts:
                    share = _summed_back(share, operand)
                _accumulate(adjoints, arg, share, builder)
        builder.loc = fn.entry.terminator.loc
        grads = [_gradient(adjoints.get(id(fn.params[i])), fn.params[i]) for i in wrt]
    return _split(fn, builder, seed, grads, wrt)


def _summed_back(share: Sym, operand: Sym) -> Sym:
    """`share`, shaped like a broadcast result, summed over the axes that broadcasting added to or
    stretched in `operand`: statically where the axes of length 1 are known from the argument
    shapes, with the runtime's `unbroadcast` where they are not."""
    target, source = operand.type, share.type
    if target.ndim == 0:
        return P.total(share) if source.ndim else share
    if source.ndim < target.ndim:
        return P.broadcast_like(share, operand)
    lead = source.ndim - target.ndim
    stretched = []
    for axis, (unit, result_unit) in enumerate(zip(target.units, source.units[lead:])):
        if (unit is True and result_unit is None) or (unit is None and result_unit is not True):
            return P.unbroadcast(share, operand)  # only the run time knows
        if unit is True and result_unit is False:
            stretched.append(axis)
    if lead:
        share = P.sum_axes(share, axes=tuple(range(lead)), keepdims=False)
    if stretched:
        share = P.sum_axes(share, axes=tuple(stretched), keepdims=True)
    return share


def _accumulate(adjoints: dict, arg: Value, share: Sym, builder: Builder) -> None:
    """Add `share` to the adjoint of `arg` (the multivariate chain rule: paths sum)."""
    previous = adjoints.get(id(arg))
    total = share if previous is None else previous + share
    made = builder.ops[-1].result if builder.ops else None
    if total.operand is made and not made.hint:
        made.hint = "d_" + (arg.hint or "t")
    adjoints[id(arg)] = total


def _gradient(adjoint, param: Value) -> Sym:
    """The gradient of `param`: zero where nothing flowed back, cast to its dtype."""
    if adjoint is None:
        adjoint = P.zeros_like(param) if param.type.ndim else Sym(0.0)
    if adjoint.type.ndim != param.type.ndim:
        raise AssertionError(f"adjoint of %{param.hint} has rank {adjoint.type.ndim}, not {param.type.ndim}")
    if adjoint.type.dtype != param.type.dtype:
        adjoint = P.cast(adjoint, dtype=param.type.dtype)
    return adjoint


def _split(fn: Function, builder: Builder, seed: Value, grads, wrt) -> Adjoint:
    """Make the backward a function of its own: forward values it reads become its parameters."""
    made = {id(op.result) for op in builder.ops} | {id(seed)}
    residual_of: dict[int, Value] = {}
    sources: list[Value] = []

    def local(operand):
        if isinstance(operand, Const) or id(operand) in made:
            return operand
        if id(operand) not in residual_of:
            residual_of[id(operand)] = Value(operand.type, operand.hint)
            sources.append(operand)
        return residual_of[id(operand)]

    for op in builder.ops:
        op.args = tuple(local(a) for a in op.args)
    results = tuple(local(g.operand) for g in grads)
    loc = fn.entry.terminator.loc
    params = [residual_of[id(v)] for v in sources] + [seed]
    backward = Function(f"{fn.name}_backward", [Block(params, builder.ops, Return(results, loc))], fn.loc)
    forward_return = Return(tuple(fn.entry.terminator.values) + tuple(sources), loc)
    forward = Function(f"{fn.name}_forward", [Block(fn.params, list(fn.entry.ops), forward_return)], fn.loc,
                       fn.captured)
    return Adjoint(forward, backward, tuple(wrt))
