"""Linear algebra: `@` (1-D and 2-D operands and stacks of matrices), outer products, triangles
and diagonals of matrices, Kronecker products, and the 2-norm (Euclidean, Frobenius) over axes. Decompositions and
solves are in decompositions.py."""
from __future__ import annotations

import numpy as np

from ..ir.builder import TypeRuleError
from ..ir.core import Type
from .elementwise import equal, sqrt, where
from .primitive import LINEAR, NEW, Primitive, Sym, promote, same_type
from .reductions import axes_text, restored, sum_axes, total
from .shapes import aligned, dim, expand_dims, logical_rank, permute, reshape, shape_of, squeeze


def _matmul_type(a: Type, b: Type) -> Type:
    batched = 3 in (a.ndim, b.ndim)
    if not (1 <= a.ndim <= 3 and 1 <= b.ndim <= 3) or (batched and 1 in (a.ndim, b.ndim)):
        raise TypeRuleError(f"`@` of a {a.ndim}-D and a {b.ndim}-D operand is not supported",
                            "use 1-D or 2-D operands, or 3-D stacks of matrices with 2-D or 3-D ones")
    if a.dtype != b.dtype or not a.is_float:
        raise TypeRuleError(f"`@` needs two float operands of one dtype, got {a} and {b}")
    if batched:
        batch = (a if a.ndim == 3 else b).units[:1]
        units = batch + a.units[-2:-1] + b.units[-1:]
    else:
        units = a.units[:-1] + (b.units[-1:] if b.ndim == 2 else ())
    return Type(a.dtype, len(units), False, units)


def _matmul_lengths(a, b) -> tuple:
    """As `_matmul_type`'s units: the stack's length (either operand's, where both are 3-D and agree),
    a's rows, b's columns."""
    a, b = a.type.lengths, b.type.lengths
    if 3 in (len(a), len(b)):
        stacks = {n[0] for n in (a, b) if len(n) == 3}
        return ((stacks.pop() if len(stacks) == 1 else None),) + a[-2:-1] + b[-1:]
    return a[:-1] + (b[-1:] if len(b) == 2 else ())


def _swap_last(x: Sym) -> Sym:
    """The matrices of a 2-D or 3-D array transposed."""
    return x.T if x.type.ndim == 2 else permute(x, axes=(0, 2, 1))


def _matmul_left_vjp(g, a, b, out):
    if b.type.ndim == 1:
        return outer(g, b) if a.type.ndim == 2 else g * b
    if a.type.ndim == 1:
        return b @ g
    share = g @ _swap_last(b)
    return sum_axes(share, axes=(0,), keepdims=False) if share.type.ndim > a.type.ndim else share


def _matmul_right_vjp(g, a, b, out):
    if a.type.ndim == 1:
        return outer(a, g) if b.type.ndim == 2 else g * a
    if b.type.ndim == 1:
        return g @ a
    share = _swap_last(a) @ g
    return sum_axes(share, axes=(0,), keepdims=False) if share.type.ndim > b.type.ndim else share


# Numba's `@` stops at 2-D; stacks of matrices go through the runtime's loop over the stack. All go
# through the runtime, whose compiled `@` is cached across functions.
matmul = Primitive("matmul", 2, "rt.matmul(_0, _1)", _matmul_type, memory=NEW, binds=(np.matmul,), operator="@",
                   lengths=_matmul_lengths)
matmul.defvjp(_matmul_left_vjp, _matmul_right_vjp)
matmul.defjvp(lambda t, a, b, out: t @ b, lambda t, a, b, out: a @ t)
matmul.defelements(lambda a, b: np.matmul(a, b))  # `+` of products of elements (transforms/scalarise.py)


def _outer_type(a: Type, b: Type) -> Type:
    return Type(promote(Type(a.dtype), Type(b.dtype)).dtype, 2, False, a.units + b.units)


# Not np.outer: Numba takes about 2 s to compile it, and 0.3 s to compile this.
outer = Primitive("outer", 2, "_0[:, None] * _1[None, :]", _outer_type, memory=NEW,
                  lengths=lambda a, b: a.type.lengths + b.type.lengths)
outer.defvjp(lambda g, a, b, out: g @ b, lambda g, a, b, out: a @ g)
outer.defjvp(lambda t, a, b, out: outer(t, b), lambda t, a, b, out: outer(a, t))
outer.defelements(lambda a, b: np.multiply.outer(a, b))


# ---------------------------------------------------------------- triangles and diagonals


def _matrix_type(x: Type, **_) -> Type:
    if x.ndim != 2:
        raise TypeRuleError(f"a matrix (2-D array) is needed here, not a {x.ndim}-D array")
    return same_type(x)


# The triangle on and below (above) the k-th diagonal, zero elsewhere: a mask, its own adjoint.
tril = Primitive("tril", 1, lambda types, k: f"np.tril(_0, {k})", _matrix_type, memory=NEW, jvps=LINEAR)
triu = Primitive("triu", 1, lambda types, k: f"np.triu(_0, {k})", _matrix_type, memory=NEW, jvps=LINEAR)
tril.defvjp(lambda g, x, out, k: tril(g, k=k))
triu.defvjp(lambda g, x, out, k: triu(g, k=k))

# The k-th diagonal of a matrix (any shape), a new vector; and a matrix of `like`'s shape, zero
# but for that diagonal, which holds `g`. Each is the other's adjoint.
diagonal = Primitive("diagonal", 1, lambda types, k: f"rt.diagonal(_0, {k})",
                     lambda x, k: Type(_matrix_type(x).dtype, 1), memory=NEW, jvps=LINEAR)
diagonal_fill = Primitive("diagonal_fill", 2, lambda types, k: f"rt.diagonal_fill(_0, _1, {k})",
                          lambda like, g, k: _matrix_type(like).with_dtype(g.dtype), memory=NEW, jvps=LINEAR)
diagonal.defvjp(lambda g, x, out, k: diagonal_fill(x, g, k=k))
diagonal_fill.defvjp(None, lambda g, like, v, out, k: diagonal(g, k=k))


# ---------------------------------------------------------------- the 2-norm


def _norm2_template(types, axes, keepdims):
    squares = "np.sum(_0 * _0)" if axes is None else axes_text("sum", "_0 * _0", axes, keepdims)
    return f"np.sqrt({squares})"


def _norm2_type(x: Type, axes, keepdims) -> Type:
    if not x.is_float:
        raise TypeRuleError(f"the 2-norm needs a float array, got {x}")
    if axes is None:
        return Type(x.dtype)
    units = tuple(True if a in axes else u for a, u in enumerate(x.units) if keepdims or a not in axes)
    return Type(x.dtype, len(units), False, units)


def _norm2_vjp(g, x, out, axes, keepdims):
    """x / norm, and 0 where the norm is 0 (all of x is 0 there): the subgradient JAX chooses."""
    if axes is not None:
        g, out = restored(g, axes, keepdims), restored(out, axes, keepdims)
    return g * (x / where(equal(out, 0.0), 1.0, out))


# sqrt(sum(x * x)) over `axes` (None: all of x, a number): np.linalg.norm's 2-norm of vectors and
# Frobenius norm of matrices.
norm2 = Primitive("norm2", 1, _norm2_template, _norm2_type, memory=NEW)
norm2.defvjp(_norm2_vjp)


def _norm2_jvp(t, x, out, axes, keepdims):
    """<x, t> / norm over `axes`, and 0 where the norm is 0 (the vjp's subgradient)."""
    inner = total(x * t) if axes is None else sum_axes(x * t, axes=axes, keepdims=keepdims)
    return inner / where(equal(out, 0.0), 1.0, out)


norm2.defjvp(_norm2_jvp)


# ---------------------------------------------------------------- Kronecker products of matrices
# kron(a, b) has a block a_ij b at each (i, j). With <G, kron(a, b)> = <kron_left(G, b), a> =
# <kron_right(G, a), b> the three are each other's adjoints, so every order of derivative closes.


def _kron_type(a: Type, b: Type) -> Type:
    if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype:
        raise TypeRuleError(f"a Kronecker product of two matrices of one dtype is needed, not {a} and {b}")
    return Type(a.dtype, 2)


kron = Primitive("kron", 2, "rt.kron(_0, _1)", _kron_type, memory=NEW)
# The sum of each block of G times b: a matrix of a's shape (and, right, of b's).
kron_left = Primitive("kron_left", 2, "rt.kron_left(_0, _1)", _kron_type, memory=NEW)
kron_right = Primitive("kron_right", 2, "rt.kron_right(_0, _1)", _kron_type, memory=NEW)
kron.defvjp(lambda g, a, b, out: kron_left(g, b), lambda g, a, b, out: kron_right(g, a))
kron_left.defvjp(lambda h, g, b, out: kron(h, b), lambda h, g, b, out: kron_right(g, h))
kron_right.defvjp(lambda h, g, a, out: kron(a, h), lambda h, g, a, out: kron_left(g, h))
for _bilinear in (kron, kron_left, kron_right):  # bilinear: each operand's tangent in its place
    _bilinear.defjvp(lambda t, a, b, out, prim=_bilinear: prim(t, b), lambda t, a, b, out, prim=_bilinear: prim(a, t))
del _bilinear


# ---------------------------------------------------------------- batching

def _matmul_batched(a, b, batched):
    """`@` of each item: a 1-D operand made a matrix (a row on the left, a column on the right; the
    axis dropped after), batched operands aligned to the rank of the other (a stack of matrices),
    unbatched ones broadcast by matmul itself. A batch of vectors against one matrix is one `@`."""
    a_rank, b_rank = logical_rank(a, batched[0]), logical_rank(b, batched[1])
    if a_rank == 1 and b_rank == 2 and not batched[1]:
        return a @ b  # rows (k, m) times the matrix
    if a_rank == 2 and b_rank == 1 and not batched[0]:
        return b @ _swap_last(a)  # the vectors (k, m) times the transposed matrix
    if a_rank == 1:
        a = expand_dims(a, axis=a.type.ndim - 1)
    if b_rank == 1:
        b = expand_dims(b, axis=b.type.ndim)
    rank = max(a_rank, b_rank, 2)
    if rank == 3:
        return _stacks_batched(a, b, batched)
    out = aligned(a, batched[0], rank) @ aligned(b, batched[1], rank)
    if b_rank == 1:
        out = squeeze(out, axis=out.type.ndim - 1)
    if a_rank == 1:
        out = squeeze(out, axis=out.type.ndim - (1 if b_rank == 1 else 2))
    return out


matmul.defbatch(_matmul_batched)


def _stacks_batched(a, b, batched):
    """`@` of each item where a stack of matrices (S, m, n) meets a matrix or a stack and one side
    is batched (k items): the batch folded into the stack's axis, or into the matrices' rows or
    columns, by a permute and a reshape each way, so that `@` stays of 2-D and 3-D operands."""
    (m, n), p = shape_of(a)[-2:], dim(b, axis=b.type.ndim - 1)
    k = dim(a if batched[0] else b, axis=0)
    stacked = a if logical_rank(a, batched[0]) == 3 else b
    stack = dim(stacked, axis=stacked.type.ndim - 3)

    def rows_folded(x):  # (k, S, m, n) as (S, k m, n), or (k, m, n) as (k m, n)
        if x.type.ndim == 4:
            return reshape(permute(x, axes=(1, 0, 2, 3)), stack, k * m, n)
        return reshape(x, k * m, n)

    def rows_unfolded(x):  # (S, k m, p) as (k, S, m, p)
        return permute(reshape(x, stack, k, m, p), axes=(1, 0, 2, 3))

    def columns_folded(x):  # (k, S, n, p) as (S, n, k p), or (k, n, p) as (n, k p)
        if x.type.ndim == 4:
            return reshape(permute(x, axes=(1, 2, 0, 3)), stack, n, k * p)
        return reshape(permute(x, axes=(1, 0, 2)), n, k * p)

    def columns_unfolded(x):  # (S, m, k p) as (k, S, m, p)
        return permute(reshape(x, stack, m, k, p), axes=(2, 0, 1, 3))

    a_stack, b_stack = stacked is a, logical_rank(b, batched[1]) == 3
    if all(batched) and a_stack and b_stack:  # (k, S, m, n) @ (k, S, n, p)
        return reshape(reshape(a, k * stack, m, n) @ reshape(b, k * stack, n, p), k, stack, m, p)
    if batched[0] and a_stack and not b_stack:  # (k, S, m, n) @ (n, p) or (k, n, p)
        return reshape(reshape(a, k, stack * m, n) @ b, k, stack, m, p)
    if all(batched):  # (k, m, n) @ (k, S, n, p)
        columns = a @ reshape(permute(b, axes=(0, 2, 1, 3)), k, n, stack * p)
        return permute(reshape(columns, k, m, stack, p), axes=(0, 2, 1, 3))
    if batched[1] and not a_stack:  # (m, n) @ (k, S, n, p)
        return reshape(a @ reshape(b, k * stack, n, p), k, stack, m, p)
    if batched[0]:  # against the stack (S, n, p)
        return rows_unfolded(rows_folded(a) @ b)
    return columns_unfolded(a @ columns_folded(b))  # the stack (S, m, n) against b


def _outer_batched(a, b, batched):
    """a[:, None] * b[None, :] of each item."""
    a = expand_dims(a, axis=a.type.ndim)
    if batched[1]:
        b = expand_dims(b, axis=1)
    return a * b


outer.defbatch(_outer_batched)


def _norm2_batched(x, batched, axes, keepdims):
    """sqrt(sum(x * x)) over the (shifted) axes of each item, all but the batch axis for None."""
    if axes is None:
        axes, keepdims = tuple(range(x.type.ndim - 1)), False
    if not axes:
        return sqrt(x * x)
    return sqrt(sum_axes(x * x, axes=tuple(a + 1 for a in axes), keepdims=keepdims))


# Batched, the 2-norm is its definition (its gradient's care at 0 is not needed after batching,
# the last transform).
norm2.defbatch(_norm2_batched)
