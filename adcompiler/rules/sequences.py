"""Sequences: running sums and products along an axis, sorting permutations and the gathers by
them, full 1-D convolution, the segment of a sorted grid that holds a point (np.interp), and the
square root of a variance (np.std). The statistics and sequence functions of
frontend/calls/statistics.py are compositions of these and of the other families.

Invariants: an axis is a non-negative int below the operand's rank; `permute_along` gathers by a
permutation along the axis (each lane's indices are 0 .. n-1 in some order), so its gradient
`unpermute_along` writes every element once; argsort is stable, so ties keep their order.
"""
from __future__ import annotations

from ..ir.core import IndexSlice, Type
from .elementwise import equal, greater, where
from .indexing import getitem
from .primitive import LINEAR, NEW, ZERO, Primitive, Sym, floating, promote, same_type
from .creation import over_batch
from .shapes import dim


def _running_type(x: Type, axis: int) -> Type:
    """np.cumsum's and np.cumprod's dtype: floats kept, ints and bools made int64."""
    return Type(x.dtype if x.is_float else "int64", x.ndim, False, x.units)


def _axis_helper(name: str, operands: int = 1):
    """The template `rt.<name>(_0, ..., axis)`."""
    args = ", ".join(f"_{i}" for i in range(operands))
    return lambda types, axis: f"rt.{name}({args}, {axis})"


def reversed_along(x: Sym, axis: int) -> Sym:
    """`x` with its `axis` reversed (a view: `x[:, ::-1]`)."""
    index = (IndexSlice(),) * axis + (IndexSlice(step=True),)
    return getitem(x, -1, index=index)


cumsum = Primitive("cumsum", 1, _axis_helper("cumsum_axis"), _running_type, memory=NEW, jvps=LINEAR)
# Each element adds to the running sums at and after it: the gradient is a running sum from the end.
cumsum.defvjp(lambda g, x, out, axis: reversed_along(cumsum(reversed_along(g, axis), axis=axis), axis))

# No rules: a second derivative of np.cumprod is refused rather than silently wrong.
CUMPROD_REFUSAL = ("the second derivative of np.cumprod is not supported (its gradient, exact at zeros, has no rule)",
                   "for positive values write np.exp(np.cumsum(np.log(x))); or take finite differences of the gradient")
cumprod_grad = Primitive("cumprod_grad", 2, _axis_helper("cumprod_grad", 2), lambda g, x, axis: g, memory=NEW,
                         refusal=CUMPROD_REFUSAL)
cumprod = Primitive("cumprod", 1, _axis_helper("cumprod_axis"), _running_type, memory=NEW)
cumprod.defvjp(lambda g, x, out, axis: cumprod_grad(g, x, axis=axis))


def _cumprod_jvp(t, x, out, axis):
    """sum_{j <= i} t_j prod_{k <= i, k != j} x_k, exact at zeros (as cumprod_grad, its transpose):
    out_i sum t_j / x_j over the j before a lane's first zero, plus the first zero's t times the
    running product that skips it; elements after the first zero add nothing."""
    zeros_seen = cumsum(equal(x, 0.0), axis=axis)
    before = equal(zeros_seen, 0)
    first = where(equal(zeros_seen, 1), equal(x, 0.0), False)
    ratios = where(before, t / where(before, x, 1.0), 0.0)
    skipping = cumprod(where(first, 1.0, x), axis=axis)
    return out * cumsum(ratios, axis=axis) + skipping * cumsum(where(first, t, 0.0), axis=axis)


cumprod.defjvp(_cumprod_jvp)

# ---------------------------------------------------------------- sorting

argsort = Primitive("argsort", 1, _axis_helper("argsort_axis"), lambda x, axis: x.with_dtype("int64"),
                    memory=NEW, vjps=ZERO)
permute_along = Primitive("permute_along", 2, _axis_helper("permute_along", 2), lambda x, order, axis: same_type(x),
                          memory=NEW, jvps=LINEAR)
# The inverse gather: `g` written back to the places its elements were taken from.
unpermute_along = Primitive("unpermute_along", 2, _axis_helper("unpermute_along", 2),
                            lambda g, order, axis: same_type(g), memory=NEW, jvps=LINEAR)
permute_along.defvjp(lambda g, x, order, out, axis: unpermute_along(g, order, axis=axis), None)
unpermute_along.defvjp(lambda g, gg, order, out, axis: permute_along(g, order, axis=axis), None)

# ---------------------------------------------------------------- convolution


def _convolve_type(a: Type, v: Type) -> Type:
    return Type(promote(Type(a.dtype), Type(v.dtype)).dtype, 1)


def _valid_part(full: Sym, start: Sym, length: Sym) -> Sym:
    return getitem(full, start, start + length, index=(IndexSlice(lower=True, upper=True),))


def _convolve_vjp(g: Sym, other: Sym, like: Sym) -> Sym:
    """The gradient of `convolve(like, other)` w.r.t. `like`: g correlated with `other`."""
    return _valid_part(convolve(g, reversed_along(other, 0)), dim(other, axis=0) - 1, dim(like, axis=0))


# np.convolve in 'full' mode ('same' and 'valid' are slices of it; np.correlate flips v).
convolve = Primitive("convolve", 2, "np.convolve(_0, _1)", _convolve_type, memory=NEW)
convolve.defvjp(lambda g, a, v, out: _convolve_vjp(g, v, a), lambda g, a, v, out: _convolve_vjp(g, a, v))
convolve.defjvp(lambda t, a, v, out: convolve(t, v), lambda t, a, v, out: convolve(a, t))  # bilinear

# ---------------------------------------------------------------- interpolation and spreads

# For each point of x, the j in [0, len(xp) - 2] with xp[j] <= x < xp[j + 1] (the first or last
# segment outside the grid): piecewise constant, so no gradient.
interp_segment = Primitive("interp_segment", 2, "rt.interp_segment(_0, _1)",
                           lambda x, xp: x.with_dtype("int64"), memory=NEW, vjps=ZERO)


def _spread_vjp(g, x, out):
    """sqrt's gradient, 0 where the spread is 0 (a subgradient of std there, which is not smooth)."""
    positive = greater(out, 0.0)
    return g * positive / (2 * where(positive, out, 1.0))


# np.std's square root of the variance.
spread = Primitive("spread", 1, "np.sqrt(_0)", floating, memory=NEW, ufunc=True)
spread.defvjp(_spread_vjp)


# ---------------------------------------------------------------- batching: the axis shifted past the batch axis

def _along_batched(prim):
    """`prim` along `axis` of each item; an unbatched operand repeated over the batch first."""
    def rule(*operands, batched, axis):
        like = operands[batched.index(True)]
        operands = [x if b else over_batch(x, like) for x, b in zip(operands, batched)]
        return prim(*operands, axis=axis + 1)
    return rule


for _prim in (cumsum, cumprod, cumprod_grad, argsort, permute_along, unpermute_along):
    _prim.defbatch(_along_batched(_prim))
