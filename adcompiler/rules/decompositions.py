"""Decompositions and solves of square matrices: inv, det, slogdet, solve, cholesky, eigh and
eigvalsh (np.linalg), and scipy.linalg.solve_triangular. Operands are 2-D float arrays of one
dtype (the lowering casts integers to float64); results keep the dtype (float32 stays float32).

Functions that read one triangle of their operand (cholesky, eigh and eigvalsh read the lower
one, solve_triangular its own) have the gradient of exactly that: zero in the triangle not read.
Its lower part is what NumPy's symmetric-matrix gradient folds to (`lower_gradient`), so the
gradient of a matrix built symmetric (`X @ X.T`) is the usual one.

eigh's eigenvector gradient is the usual formula with F_ij = 1/(w_j - w_i): undefined (infinite)
at repeated eigenvalues. The eigenvalues and the eigenvectors are one primitive each (eigh is
both, so it decomposes twice)."""
from __future__ import annotations

from ..ir.builder import TypeRuleError
from ..ir.core import Type
from .creation import eye
from .linalg import outer, tril, triu
from .reductions import sum_axes, total
from .primitive import NEW, ZERO, Primitive, Sym
from .shapes import dim, expand_dims


def _square_type(x: Type, **_) -> Type:
    if x.ndim != 2 or not x.is_float:
        raise TypeRuleError(f"a square float matrix is needed here, not {x}")
    return Type(x.dtype, 2, False, (x.units[0] and x.units[1],) * 2)


def _scalar_type(x: Type) -> Type:
    return Type(_square_type(x).dtype)


def _solve_type(a: Type, b: Type, **_) -> Type:
    _square_type(a)
    if b.ndim not in (1, 2) or b.dtype != a.dtype:
        raise TypeRuleError(f"the right-hand side must be a vector or a matrix of {a.dtype}, not {b}")
    return b.with_dtype(a.dtype)


def _helper(name: str, arity: int, type_rule, **params) -> Primitive:
    """A primitive emitted as the runtime helper `rt.<name>` of its operands."""
    operands = ", ".join(f"_{i}" for i in range(arity))
    return Primitive(name, arity, f"rt.{name}({operands})", type_rule, memory=NEW, **params)


def _identity_like(x: Sym) -> Sym:
    return eye(dim(x, axis=0), dtype=x.type.dtype)


def lower_gradient(h: Sym) -> Sym:
    """The gradient of a function of a matrix that reads only its lower triangle (as the symmetric
    matrix it stands for), from `h`, its gradient as a function of every element: the diagonal of
    h, and below it what the element and its mirror image receive together."""
    return tril(h + h.T, k=-1) + h * _identity_like(h)


def symmetric_lower(t: Sym) -> Sym:
    """The symmetric matrix that a function reading only the lower triangle of `t` sees."""
    return tril(t, k=0) + tril(t, k=-1).T


def _outer_or_matmul(a: Sym, b: Sym) -> Sym:
    """a b^T of two vectors or two matrices (the gradient of a matrix from a solve)."""
    return outer(a, b) if a.type.ndim == 1 else a @ b.T


# ---------------------------------------------------------------- inverse and determinants

inv = _helper("inv", 1, _square_type)
inv.defvjp(lambda g, x, out: -(out.T @ g @ out.T))
inv.defjvp(lambda t, x, out: -(out @ t @ out))
det = _helper("det", 1, _scalar_type)
det.defvjp(lambda g, x, out: (g * out) * inv(x).T)
det.defjvp(lambda t, x, out: out * total(inv(x).T * t))
# np.linalg.slogdet(x) is (sign_det(x), logabsdet(x)); the sign is piecewise constant.
sign_det = _helper("sign_det", 1, _scalar_type, vjps=ZERO)
logabsdet = _helper("logabsdet", 1, _scalar_type)
logabsdet.defvjp(lambda g, x, out: g * inv(x).T)
logabsdet.defjvp(lambda t, x, out: total(inv(x).T * t))

# ---------------------------------------------------------------- solves


def _solve_matrix_vjp(g, a, b, out):
    return -_outer_or_matmul(solve(a.T, g), out)


solve = _helper("solve", 2, _solve_type)
solve.defvjp(_solve_matrix_vjp, lambda g, a, b, out: solve(a.T, g))
solve.defjvp(lambda t, a, b, out: -solve(a, t @ out), lambda t, a, b, out: solve(a, t))  # dx = a^-1 (db - da x)


def _triangle(x: Sym, lower: bool) -> Sym:
    return tril(x, k=0) if lower else triu(x, k=0)


def _triangular_matrix_vjp(g, a, b, out, lower, trans):
    """T x = b gives dx = -T^-1 dT x (and T^T x = b, dx = -T^-T dT^T x); only T's triangle counts."""
    shared = solve_triangular(a, g, lower=lower, trans=1 - trans)
    return -_triangle(_outer_or_matmul(shared, out) if trans == 0 else _outer_or_matmul(out, shared), lower)


# x with T x = b (trans=0) or T^T x = b (trans=1), T the lower or upper triangle of operand 0.
solve_triangular = Primitive("solve_triangular", 2,
                             lambda types, lower, trans: f"rt.solve_triangular(_0, _1, {lower}, {trans})",
                             _solve_type, memory=NEW)
solve_triangular.defvjp(_triangular_matrix_vjp,
                        lambda g, a, b, out, lower, trans: solve_triangular(a, g, lower=lower, trans=1 - trans))


def _triangular_matrix_jvp(t, a, b, out, lower, trans):
    """T x = b gives dx = -T^-1 dT x (T^T x = b: dx = -T^-T dT^T x), dT the tangent's triangle."""
    change = _triangle(t, lower)
    return -solve_triangular(a, (change if trans == 0 else change.T) @ out, lower=lower, trans=trans)


solve_triangular.defjvp(_triangular_matrix_jvp,
                        lambda t, a, b, out, lower, trans: solve_triangular(a, t, lower=lower, trans=trans))

# ---------------------------------------------------------------- cholesky


def _cholesky_vjp(g, x, out):
    """dL = L Phi(L^-1 dA L^-T) for symmetric dA (Phi: the lower triangle, its diagonal halved),
    so the symmetric gradient is that of S = L^-T Phi(L^T g) L^-1."""
    product = out.T @ g
    phi = tril(product, k=-1) + 0.5 * (product * _identity_like(product))
    left = solve_triangular(out, phi, lower=True, trans=1)
    return lower_gradient(solve_triangular(out, left.T, lower=True, trans=1).T)


cholesky = _helper("cholesky", 1, _square_type)
cholesky.defvjp(_cholesky_vjp)


def _cholesky_jvp(t, x, out):
    """dL = L Phi(L^-1 dA L^-T), dA the symmetric matrix of the tangent's lower triangle."""
    half = solve_triangular(out, symmetric_lower(t), lower=True, trans=0)  # L^-1 dA
    inner = solve_triangular(out, half.T, lower=True, trans=0)  # L^-1 dA L^-T (dA symmetric)
    return out @ (tril(inner, k=-1) + 0.5 * (inner * _identity_like(inner)))


cholesky.defjvp(_cholesky_jvp)

# ---------------------------------------------------------------- symmetric eigenproblems


def _eigenvalues_vjp(g, x, out):
    v = eigh_vectors(x)
    return lower_gradient((v * expand_dims(g, axis=0)) @ v.T)


def _eigenvectors_vjp(g, x, out):
    """dV = V (F o (V^T dA V)), F_ij = 1/(w_j - w_i) off the diagonal and 0 on it."""
    w = eigvalsh(x)
    identity = _identity_like(x)
    gaps = expand_dims(w, axis=0) - expand_dims(w, axis=1) + identity
    f = (1.0 - identity) / gaps
    return lower_gradient(out @ (f * (out.T @ g)) @ out.T)


eigvalsh = _helper("eigvalsh", 1, lambda x: Type(_square_type(x).dtype, 1))
eigh_vectors = _helper("eigh_vectors", 1, _square_type)
eigvalsh.defvjp(_eigenvalues_vjp)
eigh_vectors.defvjp(_eigenvectors_vjp)


def _eigenvalues_jvp(t, x, out):
    """dw_i = v_i^T dA v_i."""
    v = eigh_vectors(x)
    return sum_axes(v * (symmetric_lower(t) @ v), axes=(0,), keepdims=False)


def _eigenvectors_jvp(t, x, out):
    """dV = V (F o (V^T dA V)), F as in the vjp."""
    w = eigvalsh(x)
    identity = _identity_like(x)
    f = (1.0 - identity) / (expand_dims(w, axis=0) - expand_dims(w, axis=1) + identity)
    return out @ (f * (out.T @ symmetric_lower(t) @ out))


eigvalsh.defjvp(_eigenvalues_jvp)
eigh_vectors.defjvp(_eigenvectors_jvp)
