"""np.linalg (inv, det, slogdet, solve, cholesky, eigh, eigvalsh, norm), np.trace, np.diag,
np.triu, np.tril, np.kron, np.einsum, np.tensordot, and scipy.linalg's solve_triangular and
cho_solve. Matrices are 2-D (stacks of matrices are refused); integer operands become float64, as
in NumPy. einsum and tensordot become permutations, products, sums and `@` at compile time."""
from __future__ import annotations

import math
import string

import numpy as np

from ...rules import primitives as P
from ...rules.primitives import Sym
from .common import Static, normal_axes


def _float(x: Sym, dtype: str = "") -> Sym:
    """`x` as the float `dtype` (by default its own float dtype, float64 for integers and bools)."""
    dtype = dtype or P.floating(x.type).dtype
    return x if x.type.dtype == dtype and not x.type.weak else P.cast(x, dtype=dtype)


def _floats(*xs: Sym) -> list:
    """`xs` made one float dtype, the one NumPy's linear algebra gives them."""
    common = P.promote(*(x.type for x in xs))
    dtype = common.dtype if common.is_float else "float64"
    return [_float(x, dtype) for x in xs]


def _matrix(lo, a, what: str) -> Sym:
    x = lo.operand(a, lo.node)
    if x.type.ndim != 2:
        lo.refuse(lo.node, f"`{what}` of a {x.type.ndim}-D array is not supported: it takes one matrix (2-D)",
                  "for a stack of matrices, loop over them")
    return _float(x)


def _right_hand_side(lo, b, what: str) -> Sym:
    x = lo.operand(b, lo.node)
    if x.type.ndim not in (1, 2):
        lo.refuse(lo.node, f"`{what}` takes a vector or a matrix right-hand side, not a {x.type.ndim}-D array")
    return x


def _static(lo, value, what: str, allowed: tuple):
    """The compile-time `value`, one of `allowed`."""
    value = lo.constant(value, what)
    if not any(value == choice and type(value) is type(choice) for choice in allowed):
        lo.refuse(lo.node, f"{what}={value!r} is not supported", f"use one of {', '.join(map(repr, allowed))}")
    return value


# ---------------------------------------------------------------- decompositions and solves

def inv(lo, a):
    return P.inv(_matrix(lo, a, "np.linalg.inv"))


def det(lo, a):
    return P.det(_matrix(lo, a, "np.linalg.det"))


def slogdet(lo, a):
    """(sign, logabsdet): the gradient flows through logabsdet; the sign has none."""
    x = _matrix(lo, a, "np.linalg.slogdet")
    return P.sign_det(x), P.logabsdet(x)


def solve(lo, a, b):
    x, y = _floats(_matrix(lo, a, "np.linalg.solve"), _right_hand_side(lo, b, "np.linalg.solve"))
    return P.solve(x, y)


def cholesky(lo, a, upper=False):
    """The lower factor L of the lower triangle (upper=True: L^T, of the upper triangle)."""
    x = _matrix(lo, a, "np.linalg.cholesky")
    if _static(lo, upper, "upper", (False, True)):
        return P.cholesky(x.T).T
    return P.cholesky(x)


def _symmetric(lo, a, UPLO, what: str) -> Sym:
    """The matrix whose lower triangle is the triangle `UPLO` of `a`."""
    x = _matrix(lo, a, what)
    return x.T if _static(lo, UPLO, "UPLO", ("L", "U")) == "U" else x


def eigh(lo, a, UPLO=Static("L")):
    """(w, v): the gradient is undefined at repeated eigenvalues (F_ij = 1/(w_j - w_i))."""
    x = _symmetric(lo, a, UPLO, "np.linalg.eigh")
    return P.eigvalsh(x), P.eigh_vectors(x)


def eigvalsh(lo, a, UPLO=Static("L")):
    return P.eigvalsh(_symmetric(lo, a, UPLO, "np.linalg.eigvalsh"))


def _trans(lo, trans) -> int:
    return {0: 0, 1: 1, "N": 0, "T": 1}[_static(lo, trans, "trans", (0, 1, "N", "T"))]


def solve_triangular(lo, a, b, trans=0, lower=False):
    x, y = _floats(_matrix(lo, a, "solve_triangular"), _right_hand_side(lo, b, "solve_triangular"))
    return P.solve_triangular(x, y, lower=_static(lo, lower, "lower", (False, True)), trans=_trans(lo, trans))


def cho_solve(lo, c_and_lower, b):
    """x with A x = b, where A = L L^T (lower) or U^T U is given by its factor: two triangular solves."""
    if not isinstance(c_and_lower, tuple) or len(c_and_lower) != 2:
        lo.refuse(lo.node, "cho_solve takes the pair (c, lower) as its first argument",
                  "pass the factor and the flag written in the call: cho_solve((c, True), b)")
    factor, lower = c_and_lower
    c, y = _floats(_matrix(lo, factor, "cho_solve"), _right_hand_side(lo, b, "cho_solve"))
    lower = _static(lo, lower, "lower", (False, True))
    inner = P.solve_triangular(c, y, lower=lower, trans=0 if lower else 1)
    return P.solve_triangular(c, inner, lower=lower, trans=1 if lower else 0)


# ---------------------------------------------------------------- norms

def _reduced(full, along, x: Sym, axes: tuple, keepdims: bool) -> Sym:
    """A reduction of `x` over `axes`: the full one where that leaves a number."""
    if len(axes) == x.type.ndim and not keepdims:
        return full(x)
    return along(x, axes=axes, keepdims=keepdims)


VECTOR_ORDERS = (None, 1, 2, math.inf, -math.inf)
MATRIX_ORDERS = (None, "fro", 1, -1, 2, math.inf, -math.inf)  # not -2 (the smallest singular value), "nuc"


def _vector_norm(x: Sym, order, axes: tuple, keepdims: bool) -> Sym:
    if order in (None, 2):
        return P.norm2(x, axes=None if len(axes) == x.type.ndim and not keepdims else axes, keepdims=keepdims)
    if order == 1:
        return _reduced(P.total, P.sum_axes, P.absolute(x), axes, keepdims)
    extremum = (P.amax, P.max_axes) if order > 0 else (P.amin, P.min_axes)
    return _reduced(*extremum, P.absolute(x), axes, keepdims)


def _matrix_norm(lo, x: Sym, order, rows: int, columns: int, keepdims: bool) -> Sym:
    """np.linalg.norm over the matrices of axes (rows, columns)."""
    both = tuple(sorted((rows, columns)))
    if order in (None, "fro"):
        return P.norm2(x, axes=None if x.type.ndim == 2 and not keepdims else both, keepdims=keepdims)
    if order == 2:
        if x.type.ndim != 2:
            lo.refuse(lo.node, f"np.linalg.norm with ord={order} of a {x.type.ndim}-D array is not supported",
                      "use it on one matrix (2-D)")
        value = P.sqrt(P.amax(P.eigvalsh(x.T @ x)))  # the largest singular value
        return P.full(value, Sym(1), Sym(1), dtype=x.type.dtype) if keepdims else value
    summed, extremal = (rows, columns) if order in (1, -1) else (columns, rows)
    extremum = P.max_axes if order > 0 else P.min_axes
    value = extremum(P.sum_axes(P.absolute(x), axes=(summed,), keepdims=True), axes=(extremal,), keepdims=True)
    if keepdims:
        return value
    if x.type.ndim == 2:
        return P.total(value)  # the one element
    for axis in reversed(both):
        value = P.squeeze(value, axis=axis)
    return value


def norm(lo, x, ord=Static(None), axis=Static(None), keepdims=False):
    """Vector norms (ord None, 1, 2, inf, -inf) and matrix norms (None, 'fro', 1, -1, 2, inf, -inf).
    The gradient of the 2-norm and the Frobenius norm at 0 is 0 (JAX's subgradient), of the 1-norm
    sign(x) (0 at 0), of inf and -inf split evenly among ties."""
    a = _float(lo.operand(x, lo.node))
    ndim = a.type.ndim
    order, keepdims = lo.constant(ord, "ord"), bool(lo.constant(keepdims, "keepdims"))
    if ndim == 0:
        lo.refuse(lo.node, "np.linalg.norm of a number is not supported", "use abs(x)")
    axis = lo.constant(axis, "axis")
    if axis is None and order is None:
        return _vector_norm(a, None, tuple(range(ndim)), keepdims)
    if axis is None and ndim > 2:
        lo.refuse(lo.node, f"np.linalg.norm with ord={order!r} of a {ndim}-D array needs an axis "
                           "(NumPy refuses it too)")
    axes = tuple(range(ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    normal = normal_axes(lo, axes, ndim)
    if len(axes) == 1:
        orders = VECTOR_ORDERS
    elif len(axes) == 2:
        orders = MATRIX_ORDERS
    else:
        lo.refuse(lo.node, f"np.linalg.norm over {len(axes)} axes is not defined", "pass one axis or a pair")
    if isinstance(order, bool) or order not in orders:
        what = "vectors" if len(axes) == 1 else "matrices"
        lo.refuse(lo.node, f"np.linalg.norm with ord={order!r} of {what} is not supported",
                  f"use ord {', '.join(map(repr, orders))}")
    if len(axes) == 1:
        return _vector_norm(a, order, normal, keepdims)
    return _matrix_norm(lo, a, order, axes[0] % ndim, axes[1] % ndim, keepdims)


# ---------------------------------------------------------------- diagonals, triangles, kron

def _offset(lo, k, what: str) -> int:
    k = lo.constant(k, what)
    if isinstance(k, bool) or not isinstance(k, int):
        lo.refuse(lo.node, f"{what} must be an integer known at compile time, not {k!r}")
    return k


def _exactly_matrix(lo, a, what: str) -> Sym:
    x = lo.operand(a, lo.node)
    if x.type.ndim != 2:
        lo.refuse(lo.node, f"`{what}` of a {x.type.ndim}-D array is not supported", "pass a matrix (2-D)")
    return x


def trace(lo, a, offset=0):
    return P.total(P.diagonal(_exactly_matrix(lo, a, "np.trace"), k=_offset(lo, offset, "offset")))


def diag(lo, v, k=0):
    """A vector's diagonal matrix, or a matrix's k-th diagonal."""
    x, k = lo.operand(v, lo.node), _offset(lo, k, "k")
    if x.type.ndim == 2:
        return P.diagonal(x, k=k)
    if x.type.ndim != 1:
        lo.refuse(lo.node, f"np.diag of a {x.type.ndim}-D array is not defined", "pass a vector or a matrix")
    n = P.dim(x, axis=0) + abs(k)
    return P.diagonal_fill(P.zeros(n, n, dtype=x.type.dtype), x, k=k)


def triu(lo, m, k=0):
    return P.triu(_exactly_matrix(lo, m, "np.triu"), k=_offset(lo, k, "k"))


def tril(lo, m, k=0):
    return P.tril(_exactly_matrix(lo, m, "np.tril"), k=_offset(lo, k, "k"))


def kron(lo, a, b):
    """Products of every pair of elements, laid out in blocks (operands up to 2-D; a vector is one
    row, as in NumPy, unless both are vectors)."""
    x, y = lo.operand(a, lo.node), lo.operand(b, lo.node)
    if max(x.type.ndim, y.type.ndim) > 2:
        lo.refuse(lo.node, "np.kron of arrays of more than 2 dimensions is not supported")
    if 0 in (x.type.ndim, y.type.ndim):
        return x * y
    if x.type.ndim == y.type.ndim == 1:
        return P.reshape(P.outer(x, y), Sym(-1))
    common = P.promote(x.type, y.type).dtype
    x, y = (P.expand_dims(z, axis=0) if z.type.ndim == 1 else z for z in (x, y))
    return P.kron(*(z if z.type.dtype == common else P.cast(z, dtype=common) for z in (x, y)))


# ---------------------------------------------------------------- einsum and tensordot
# A term is an operand with one letter per axis. Each operand first loses its repeated letters (a
# diagonal) and the letters no other term and not the output has (a sum); then the terms are
# contracted pairwise from the left, by `@` where a letter is summed over (floats), else by a
# broadcast product; last, the result's axes are put in the output's order.


class _Contraction:
    """The terms being contracted and the length of each letter's axis."""

    def __init__(self, terms: list, output: str):
        self.output = output
        self.lengths = {}
        for x, letters in terms:
            for axis, letter in enumerate(letters):
                self.lengths.setdefault(letter, (x, axis))
        self.terms = terms

    def length(self, letter: str) -> Sym:
        x, axis = self.lengths[letter]
        return P.dim(x, axis=axis)

    def result(self) -> Sym:
        letters_of = [letters for _, letters in self.terms]
        terms = [self.simplified(x, letters, self.output + "".join(letters_of[:k] + letters_of[k + 1:]))
                 for k, (x, letters) in enumerate(self.terms)]
        x, letters = terms[0]
        for k, (y, other) in enumerate(terms[1:], start=1):
            later = self.output + "".join(t for _, t in terms[k + 1:])
            x, letters = self.pair(x, letters, y, other, later)
        if len(letters) > 1 and letters != self.output:
            x = P.permute(x, axes=tuple(letters.index(c) for c in self.output))
        return x

    def simplified(self, x: Sym, letters: str, elsewhere: str):
        """`x` with its repeated letters made one (the diagonal) and those not `elsewhere` summed."""
        while len(set(letters)) < len(letters):
            letter = next(c for c in letters if letters.count(c) > 1)
            first, second = letters.index(letter), letters.index(letter, letters.index(letter) + 1)
            if len(letters) == 2:
                x = P.diagonal(x, k=0)
            else:
                x = P.sum_axes(x * self.identity(x, first, second), axes=(second,), keepdims=False)
            letters = letters[:second] + letters[second + 1:]
        summed = tuple(axis for axis, c in enumerate(letters) if c not in elsewhere)
        if summed:
            x = _reduced(P.total, P.sum_axes, x, summed, False)
            letters = "".join(c for c in letters if c in elsewhere)
        return x, letters

    def identity(self, x: Sym, first: int, second: int) -> Sym:
        """An identity matrix on axes `first` and `second` of an array of x's rank (1 elsewhere)."""
        e = P.eye(P.dim(x, axis=first), dtype=x.type.dtype)
        for axis in range(x.type.ndim):
            if axis not in (first, second):
                e = P.expand_dims(e, axis=axis)
        return e

    def pair(self, x: Sym, tx: str, y: Sym, ty: str, later: str):
        """The contraction of two terms, keeping the letters `later` needs."""
        contracted = [c for c in tx if c in ty and c not in later]
        if not tx or not ty:
            return x * y, tx + ty
        if contracted and P.promote(x.type, y.type).is_float:
            return self.by_matmul(x, tx, y, ty, contracted)
        letters = tx + "".join(c for c in ty if c not in tx)
        aligned = "".join(c for c in letters if c in ty)
        if aligned != ty:
            y = P.permute(y, axes=tuple(ty.index(c) for c in aligned))
        for axis, c in enumerate(letters):
            if c not in ty:
                y = P.expand_dims(y, axis=axis)
        for axis in range(len(tx), len(letters)):
            x = P.expand_dims(x, axis=axis)
        summed = tuple(axis for axis, c in enumerate(letters) if c in contracted)
        product = x * y
        if summed:
            product = _reduced(P.total, P.sum_axes, product, summed, False)
        return product, "".join(c for c in letters if c not in contracted)

    def by_matmul(self, x: Sym, tx: str, y: Sym, ty: str, contracted: list):
        """(batch, left, contracted) @ (batch, contracted, right), each group one axis."""
        batch = [c for c in tx if c in ty and c not in contracted]
        left = [c for c in tx if c not in ty]
        right = [c for c in ty if c not in tx]
        x, y = _floats(x, y)
        stack = [batch] if batch else []
        product = self.grouped(x, tx, stack + [left, contracted]) @ self.grouped(y, ty, stack + [contracted, right])
        letters = "".join(batch + left + right)
        if not letters:
            return P.total(product), ""
        if not (len(batch) <= 1 and len(left) == 1 and len(right) == 1):
            product = P.reshape(product, *(self.length(c) for c in letters))
        return product, letters

    def grouped(self, x: Sym, letters: str, groups: list) -> Sym:
        """`x` with its axes in the order of `groups`, each group of axes made one axis."""
        order = "".join("".join(g) for g in groups)
        if order != letters:
            x = P.permute(x, axes=tuple(letters.index(c) for c in order))
        if all(len(g) == 1 for g in groups):
            return x
        dims = []
        for group in groups:
            size = Sym(1)
            for c in group:
                size = size * self.length(c)
            dims.append(size)
        return P.reshape(x, *dims)


def einsum(lo, subscripts, *operands):
    """Explicit ('ij,jk->ik') and implicit ('ij,jk': the letters seen once, sorted) subscripts."""
    spec = lo.constant(subscripts, "the subscripts of np.einsum")
    if not isinstance(spec, str):
        lo.refuse(lo.node, "np.einsum takes its subscripts as a string first", "write np.einsum('ij,jk->ik', a, b)")
    if "..." in spec:
        lo.refuse(lo.node, f"np.einsum with '...' (broadcast axes) is not supported: {spec!r}",
                  "name every axis with a letter")
    spec = spec.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        lo.refuse(lo.node, f"np.einsum subscripts {spec!r} name {len(terms)} operands, but {len(operands)} are given")
    arrays = [lo.operand(a, lo.node) for a in operands]
    letters = "".join(terms)
    if not arrow:
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for term, x in zip(terms, arrays):
        if not all(c in string.ascii_letters for c in term) or len(term) != x.type.ndim:
            lo.refuse(lo.node, f"np.einsum subscripts {term!r} do not name the {x.type.ndim} axes of their operand")
    if len(set(output)) != len(output) or any(c not in letters for c in output):
        lo.refuse(lo.node, f"np.einsum output {output!r} must name distinct letters of the operands")
    return _Contraction(list(zip(arrays, terms)), output).result()


def tensordot(lo, a, b, axes=2):
    """The sum over `axes` (the last n of a with the first n of b, or a pair of sequences)."""
    x, y = lo.operand(a, lo.node), lo.operand(b, lo.node)
    axes = lo.constant(axes, "axes")
    if isinstance(axes, int) and not isinstance(axes, bool):
        if not 0 <= axes <= min(x.type.ndim, y.type.ndim):
            lo.refuse(lo.node, f"np.tensordot cannot sum over {axes} axes of "
                               f"{x.type.ndim}-D and {y.type.ndim}-D arrays")
        pairs = (tuple(range(x.type.ndim - axes, x.type.ndim)), tuple(range(axes)))
    elif isinstance(axes, tuple) and len(axes) == 2:
        pairs = tuple(side if isinstance(side, tuple) else (side,) for side in axes)
    else:
        lo.refuse(lo.node, f"np.tensordot axes {axes!r} are not supported", "pass an integer or a pair of sequences")
    if len(pairs[0]) != len(pairs[1]):
        lo.refuse(lo.node, "np.tensordot needs as many axes of each array")
    ours = [normal_axes(lo, (axis,), x.type.ndim)[0] for axis in pairs[0]]
    theirs = [normal_axes(lo, (axis,), y.type.ndim)[0] for axis in pairs[1]]
    tx = string.ascii_letters[:x.type.ndim]
    fresh = iter(string.ascii_letters[x.type.ndim:])
    ty = "".join(tx[ours[theirs.index(axis)]] if axis in theirs else next(fresh) for axis in range(y.type.ndim))
    output = "".join(c for k, c in enumerate(tx) if k not in ours) + \
        "".join(c for k, c in enumerate(ty) if k not in theirs)
    return _Contraction([(x, tx), (y, ty)], output).result()


CALLS = {np.linalg.inv: inv, np.linalg.det: det, np.linalg.slogdet: slogdet, np.linalg.solve: solve,
         np.linalg.cholesky: cholesky, np.linalg.eigh: eigh, np.linalg.eigvalsh: eigvalsh, np.linalg.norm: norm,
         np.trace: trace, np.diag: diag, np.triu: triu, np.tril: tril, np.kron: kron, np.einsum: einsum,
         np.tensordot: tensordot}
SCIPY_CALLS = {"scipy.linalg": {"solve_triangular": solve_triangular, "cho_solve": cho_solve}}
METHODS = {"trace": np.trace}
