"""Jacobians as one Function each. Reverse mode (`jacobian`): the forward once, then the backward
once over a batch of cotangents, the identity basis of the output. Forward mode
(`forward_jacobian`): the values and tangents of transforms/forward.py once, batched over the
identity basis of tangents (transforms/batch.py batches both). `chosen_jacobian`: one of the two, chosen at run time by the
sizes (forward where the differentiated parameters have no more numbers than the output).

Invariant: both take the primal's parameters and return, for each differentiated parameter (in
`wrt` order), the array of shape `out.shape + x.shape` whose `[i..., j...]` is d out[i...] /
d x[j...] (JAX's convention). What does not depend on the basis (the forward's values, the
primal's values) is computed once (unbatched); only what the basis reaches is batched.
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Adjoint, Block, Const, Function, If, IndexSlice, Return, Value, Yield
from ..rules import primitives as P
from ..rules.shapes import shape_of
from .batch import Batching


def jacobian(adjoint: Adjoint, name: str) -> Function:
    """The Function `name` computing the Jacobians of `adjoint`'s output by reverse mode (see the
    module docstring)."""
    forward, backward = adjoint.forward, adjoint.backward
    batching = Batching(Builder(forward.loc))
    params = forward.params
    for param in params:
        batching.bind(param, param, False)
    with batching.builder.active():
        out, *residuals = batching.block(forward.entry)
        out = P.Sym(out)
        size = P.size(out) if out.type.ndim else Const(1)
        basis = P.reshape(P.eye(size, dtype=out.type.dtype), size, *shape_of(out), hint="basis")
        batching.template = basis
        for param, value in zip(backward.params, residuals):
            batching.bind(param, value, False)
        batching.bind(backward.params[-1], basis.operand, True)
        rows = batching.block(backward.entry, batched_results=True)
        jacobians = tuple(P.reshape(P.Sym(r), *shape_of(out), *shape_of(P.Sym(params[i]))).operand
                          for r, i in zip(rows, adjoint.wrt))
    return Function(name, [Block(params, batching.builder.ops, Return(jacobians, backward.entry.terminator.loc))],
                    forward.loc, forward.captured, forward.assumptions)


def forward_jacobian(jvp: Function, wrt: tuple, name: str) -> Function:
    """The Function `name` computing the Jacobians of the one output of `jvp` (transforms/forward.py
    of a primal with respect to its parameters `wrt`) by forward mode: column c of the basis is the
    c-th number of the differentiated parameters taken one after the other (a parameter's block of
    columns, the others' tangents zero there), so one batched call gives every column."""
    own = len(jvp.params) - len(jvp.captured) - len(wrt)
    params = jvp.params[:own] + jvp.params[own + len(wrt):]  # the primal's: without the tangents
    tangent_params = jvp.params[own:own + len(wrt)]
    batching = Batching(Builder(jvp.loc))
    for param in params:
        batching.bind(param, param, False)
    with batching.builder.active():
        differentiated = [P.Sym(jvp.params[i]) for i in wrt]
        sizes = [P.size(x) if x.type.ndim else P.Sym(1) for x in differentiated]
        starts = [P.Sym(0), sizes[0]]
        for size in sizes[1:]:
            starts.append(starts[-1] + size)
        columns = starts[-1]
        basis = P.eye(columns, dtype=differentiated[0].type.dtype, hint="basis")
        batching.template = basis
        for x, tangent, start, stop in zip(differentiated, tangent_params, starts, starts[1:]):
            block = basis if len(wrt) == 1 else P.getitem(basis, start, stop, index=(IndexSlice(), IndexSlice(True, True)))
            block = P.reshape(block, columns, *shape_of(x))
            if block.type.dtype != x.type.dtype:
                block = P.cast(block, dtype=x.type.dtype)
            batching.bind(tangent, block.operand, True)
        batching.ops(jvp.entry.ops)
        batching.builder.loc = jvp.entry.terminator.loc
        value, tangent = jvp.entry.terminator.values
        out = P.Sym(batching.lookup(value))
        by_column = P.Sym(batching.as_batched(tangent))  # (columns, *out.shape)
        jacobians = []
        for x, size, start, stop in zip(differentiated, sizes, starts, starts[1:]):
            rows = by_column if len(wrt) == 1 else P.getitem(by_column, start, stop, index=(IndexSlice(True, True),))
            if out.type.ndim:  # (size, *out.shape) -> (*out.shape, *x.shape)
                rows = P.transpose(P.reshape(rows, size, P.size(out)))
            jacobians.append(P.reshape(rows, *shape_of(out), *shape_of(x)).operand)
    return Function(name, [Block(params, batching.builder.ops, Return(tuple(jacobians), jvp.entry.terminator.loc))],
                    jvp.loc, jvp.captured, jvp.assumptions)


def chosen_jacobian(primal: Function, by_forward: Function, by_reverse: Function, wrt: tuple, name: str) -> Function:
    """The Function `name` that computes `primal`'s output, then its Jacobians by `by_forward`
    (`forward_jacobian`'s) where the parameters `wrt` have at most as many numbers as the output,
    else by `by_reverse` (`jacobian`'s): an `if` on the sizes, whose branches are those Functions."""
    builder = Builder(primal.loc)
    params = [Value(p.type, p.hint) for p in primal.params]
    loc = primal.entry.terminator.loc
    with builder.active():
        out = P.Sym(_inlined(builder, primal, params)[0])
        inputs = None
        for i in wrt:
            size = P.size(P.Sym(params[i])) if params[i].type.ndim else P.Sym(1)
            inputs = size if inputs is None else inputs + size
        tall = P.less_equal(inputs, P.size(out) if out.type.ndim else P.Sym(1))
        blocks = []
        for function in (by_forward, by_reverse):
            with builder.nested() as ops:
                jacobians = _inlined(builder, function, params)
            blocks.append(Block([], ops, Yield(jacobians, loc)))
    results = tuple(Value(v.type) for v in blocks[0].terminator.values)
    builder.append(If((tall.operand,), tuple(blocks), results, loc))
    return Function(name, [Block(params, builder.ops, Return(results, loc))], primal.loc, primal.captured,
                    primal.assumptions)


def _inlined(builder: Builder, function: Function, params: list) -> tuple:
    """`function`'s ops re-made in `builder` with its parameters bound to `params` (the same
    arguments and captured arrays); the values it returns."""
    copying = Batching(builder)  # nothing batched: every op re-made as it is
    for param, value in zip(function.params, params, strict=True):
        copying.bind(param, value, False)
    return copying.block(function.entry)
