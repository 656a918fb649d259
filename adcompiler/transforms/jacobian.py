"""The Jacobian by reverse mode as one Function: the forward once, then the backward once over a
batch of cotangents, the identity basis of the output (transforms/batch.py batches it).

Invariant: `jacobian(adjoint, name)` takes the forward's parameters and returns, for each parameter
the backward differentiates (in `adjoint.wrt` order), the array of shape `out.shape + x.shape`
whose `[i..., j...]` is d out[i...] / d x[j...] (JAX's convention). The forward's values are
computed once (unbatched); only what the cotangents reach is batched.
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Adjoint, Block, Const, Function, Return
from ..rules import primitives as P
from ..rules.shapes import shape_of
from .batch import Batching


def jacobian(adjoint: Adjoint, name: str) -> Function:
    """The Function `name` computing the Jacobians of `adjoint`'s output (see the module docstring)."""
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
