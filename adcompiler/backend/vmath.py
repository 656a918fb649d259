"""Vectorisable math for kernels: exp, expm1, log, log1p, sin, cos, tanh, expit and pow of float64
numbers, written with arithmetic, bit casts, FMA and selects only, so that LLVM vectorises the
loops that call them (Numba from PyPI calls scalar libm, which no loop vectorises). float32 is
computed in float64, rounded once.

exp, expm1, log, log1p, sin and cos are fdlibm's algorithms (as musl has them), with its branches
made selects: every candidate is computed and the right one chosen, and an operand outside a
formula's range is replaced by a safe one before the formula sees it (a float converted to an
integer out of range is poison in LLVM, and a discarded overflow would still raise NumPy's
warning); log's last sums keep their rounding errors (FMA, two-sum), so that log(3) is correctly
rounded. sin and cos reduce the argument by Cody-Waite with pi/2 in three parts of 33 bits and a
tail, exact for |x| < REDUCED (about 2**20 pi/2): `sin_reduced` and `cos_reduced` are branch-free
there and wrong beyond, so their callers check the range of an array first, and call libm
(Payne-Hanek) beyond (runtime_numba.py). tanh, expit and pow compose exp and log computed as
double-double pairs (to about 2**-62; log's pair as SLEEF's logk) and round once at the end.
Every function is compiled with `forceinline` (LLVM inlines it into the loop)
and NumPy's error model (a division by zero gives inf, with no check that would stop vectorising).

Kernels call them as `krt.vector_<name>` (runtime.py, compile.py); accuracy, at most 1 ulp, is
measured by bench/vmath_accuracy.py and recorded in docs/architecture.md.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, register_jitable


@intrinsic
def _bits(typingctx, x):
    """The int64 whose bits are float64 `x`'s."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _float(typingctx, bits):
    """The float64 whose bits are int64 `bits`."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: one instruction where the CPU has FMA)."""
    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        fma = builder.module.declare_intrinsic("llvm.fma", [double], ir.FunctionType(double, [double] * 3))
        return builder.call(fma, args)
    return types.float64(types.float64, types.float64, types.float64), codegen


# error_model="numpy": a division by zero gives inf or NaN, never raises (the check that Python's
# error model makes in each division would keep LLVM from vectorising); forceinline: LLVM inlines
# every function into its caller (alwaysinline), so that the loop calling it can be vectorised.
_vector = register_jitable(error_model="numpy", forceinline=True)


@_vector
def _select(condition, a, b):
    return a if condition else b


_INF = math.inf
_TO_INT = 6755399441055744.0  # 1.5 * 2**52: x + _TO_INT - _TO_INT rounds x to an integer


@_vector
def _unless_nan(x):
    """x, 0 for NaN: tested first, quietly (a vector ordered comparison of NaN raises 'invalid',
    which NumPy reports after a ufunc)."""
    return _select(x != x, 0.0, x)


@_vector
def _pow2(k):
    """2.0 ** k for an integer -1022 <= k <= 1023, from its bits."""
    return _float((k + 1023) << 52)


@_vector
def _scaled(y, k):
    """y * 2**k for -2098 < k < 2046, in two steps (each factor normal), so that a result near
    overflow or in the subnormals is rounded once."""
    half = k >> 1
    return y * _pow2(half) * _pow2(k - half)


@_vector
def _rounded(x):
    """x rounded to the nearest integer (|x| < 2**51), as a float and an int."""
    n = x + _TO_INT - _TO_INT
    return n, np.int64(n)


# ---------------------------------------------------------------- double-double arithmetic
# A pair (hi, lo) stands for hi + lo with |lo| <= ulp(hi) / 2: about 106 bits. The sums and
# products of two floats are exact (Knuth's two-sum, a product's error by one FMA).


@_vector
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_vector
def _fast_two_sum(a, b):
    """a + b exactly as a pair, for |a| >= |b| (or a == 0)."""
    s = a + b
    return s, b - (s - a)


@_vector
def _two_product(a, b):
    p = a * b
    return p, _fma(a, b, -p)


@_vector
def _dd_add(ah, al, bh, bl):
    s, e = _two_sum(ah, bh)
    return _fast_two_sum(s, e + (al + bl))


@_vector
def _dd_multiply(ah, al, bh, bl):
    p, e = _two_product(ah, bh)
    return _fast_two_sum(p, e + (ah * bl + al * bh))


@_vector
def _dd_divide(ah, al, bh, bl):
    q = ah / bh
    p, e = _two_product(q, bh)
    remainder = (((ah - p) - e) + al) - q * bl  # a - q b, its leading part exact
    return _fast_two_sum(q, remainder / bh)


# ---------------------------------------------------------------- exp

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_P1, _P2, _P3 = 1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05
_P4, _P5 = -1.65339022054652515390e-06, 4.13813679705723846039e-08
_EXP_MAX = 7.09782712893383973096e+02   # exp overflows above
_EXP_MIN = -7.45133219101941108420e+02  # exp underflows to 0 below


@_vector
def exp(x):
    x, given = _unless_nan(x), x
    xs = _select(x <= _EXP_MAX, _select(x >= _EXP_MIN, x, 0.0), 0.0)  # a safe operand
    fn, k = _rounded(xs * _INV_LN2)
    hi = xs - fn * _LN2_HI
    lo = fn * _LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (_P1 + t * (_P2 + t * (_P3 + t * (_P4 + t * _P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    result = _scaled(y, k)
    result = _select(x > _EXP_MAX, _INF, _select(x < _EXP_MIN, 0.0, result))
    return _select(given != given, given, result)


# ---------------------------------------------------------------- expm1

_Q1, _Q2, _Q3 = -3.33333333333331316428e-02, 1.58730158725481460165e-03, -7.93650757867487942473e-05
_Q4, _Q5 = 4.00821782732936239552e-06, -2.01099218183624371326e-07


@_vector
def expm1(x):
    """fdlibm's s_expm1.c: x = k ln2 + r, |r| <= ln2/2, expm1(r) by a rational approximation, then
    the case of k chosen by selects."""
    x, given = _unless_nan(x), x
    big = x > _EXP_MAX
    xs = _select(x <= _EXP_MAX, _select(x > -60.0, x, -60.0), 0.0)  # expm1(-60) is -1 to 1e-26
    fn, k = _rounded(xs * _INV_LN2)
    small = abs(xs) < 0.5 * _LN2_HI  # no reduction: k = 0
    fn = _select(small, 0.0, fn)
    k = _select(small, np.int64(0), k)
    hi = xs - fn * _LN2_HI
    lo = fn * _LN2_LO
    r = hi - lo
    c = (hi - r) - lo
    hfx = 0.5 * r
    hxs = r * hfx
    r1 = 1.0 + hxs * (_Q1 + hxs * (_Q2 + hxs * (_Q3 + hxs * (_Q4 + hxs * _Q5))))
    t = 3.0 - r1 * hfx
    e = hxs * ((r1 - t) / (6.0 - r * t))
    plain = r - (r * e - hxs)  # k == 0 (c is 0 there)
    e = (r * (e - c) - c) - hxs
    minus_one = 0.5 * (r - e) - 0.5  # k == -1
    one = _select(r < -0.25, -2.0 * (e - (r + 0.5)), 1.0 + 2.0 * (r - e))  # k == 1
    kc = _select(k > 1023, np.int64(1023), _select(k < -1022, np.int64(-1022), k))
    two_k = _pow2(kc)
    wide = _scaled(1.0 - (e - r), k) - 1.0  # k <= -2 or k > 56
    low = ((1.0 - _pow2(-kc)) - (e - r)) * two_k  # 2 <= k < 20
    ks = _select(k > 56, np.int64(56), k)
    middle = ((r - (e + _pow2(-ks))) + 1.0) * two_k  # 20 <= k <= 56
    result = _select(k <= -2, wide, _select(k == -1, minus_one, _select(k == 0, plain, _select(
        k == 1, one, _select(k < 20, low, _select(k <= 56, middle, wide))))))
    result = _select(x < -60.0, -1.0, _select(big, _INF, result))
    return _select(given != given, given, _select(abs(x) < 2.0 ** -54, x, result))  # tiny: x itself (-0 too)


# ---------------------------------------------------------------- log and log1p

_LG1, _LG2, _LG3 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01
_LG4, _LG5 = 2.222219843214978396e-01, 1.818357216161805012e-01
_LG6, _LG7 = 1.531383769920937332e-01, 1.479819860511658591e-01
_TWO_54 = 18014398509481984.0


@_vector
def _log_core(u, c):
    """log(u + c) for a positive normal or subnormal u and a correction |c| << u (fdlibm's e_log.c
    and s_log1p.c): u = 2**k (1 + f) with sqrt(2)/2 <= 1 + f < sqrt(2); f - f**2/2 and k ln2_hi
    plus it are summed exactly (pairs), the small terms added to their errors, rounded once."""
    subnormal = u < 2.2250738585072014e-308
    u = u * _select(subnormal, _TWO_54, 1.0)  # (u * 2**54 of a large u would raise overflow)
    bits = _bits(u)
    high = (bits >> 32) + (0x3ff00000 - 0x3fe6a09e)  # moves [sqrt(2)/2, sqrt(2)) to [1, 2)
    k = (high >> 20) - 0x3ff - _select(subnormal, np.int64(54), np.int64(0))
    high = (high & 0x000fffff) + 0x3fe6a09e
    m = _float((high << 32) | (bits & 0xffffffff))
    f = m - 1.0
    c = c / _pow2(k + _select(subnormal, np.int64(54), np.int64(0))) / m  # log(m + c') - log(m) = c'/m
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    dk = np.float64(k)
    hfsq_error = _fma(0.5 * f, f, -hfsq)  # hfsq + hfsq_error = f**2 / 2 exactly
    body, body_error = _fast_two_sum(f, -hfsq)  # |f| > f**2 / 2
    head, head_error = _fast_two_sum(dk * _LN2_HI, body)  # k == 0, or |k ln2| > ln(sqrt(2)) >= |body|
    return head + (head_error + ((body_error - hfsq_error) + (s * (hfsq + r) + (dk * _LN2_LO + c))))


@_vector
def log(x):
    x, given = _unless_nan(x), x
    ordinary = (x > 0.0) & (x < _INF)
    result = _log_core(_select(ordinary, x, 1.0), 0.0)
    result = _select(x == 0.0, -_INF, _select(x < 0.0, np.nan, result))
    return _select(x == _INF, x, _select(given != given, given, result))


@_vector
def log1p(x):
    """log(u) + (the rounding error of u = 1 + x) / u, as fdlibm's s_log1p.c."""
    x, given = _unless_nan(x), x
    ordinary = (x > -1.0) & (x < _INF)
    xs = _select(ordinary, x, 0.0)
    u = 1.0 + xs
    c = _select(u > 2.0, 1.0 - (u - xs), xs - (u - 1.0))
    c = _select(u > 9007199254740992.0, 0.0, c)
    result = _log_core(u, c)
    result = _select(x == -1.0, -_INF, _select(x < -1.0, np.nan, result))
    result = _select(x == _INF, x, _select(abs(x) < 2.0 ** -54, x, result))  # tiny: x itself (-0 too)
    return _select(given != given, given, result)


# ---------------------------------------------------------------- sin and cos

_INV_PIO2 = 6.36619772367581382433e-01
_PIO2_1 = 1.57079632673412561417e+00  # pi/2 = _PIO2_1 + _PIO2_2 + _PIO2_3 + _PIO2_3T (to 7e-49)
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3, _PIO2_3T = 2.02226624871116645580e-21, 8.47842766036889956997e-32
REDUCED = 1647099.0  # below 2**20 pi/2: the reduction by three parts of pi/2 is exact
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11


@_vector
def _reduced(x):
    """(n, y0, y1) with x = n pi/2 + y0 + y1, |y0| <= pi/4: musl's __rem_pio2 with pi/2 in three
    parts of 33 bits and a tail, always all three steps, each keeping the rounding error of the
    one before (musl's third step drops it, as it runs only where that error is 0)."""
    fn, n = _rounded(x * _INV_PIO2)
    t = x - fn * _PIO2_1  # exact
    w = fn * _PIO2_2
    r = t - w
    error_2 = (t - r) - w  # exact: (t - w) - r
    w = fn * _PIO2_3
    t, r = r, r - w
    error_3 = (t - r) - w
    w = fn * _PIO2_3T - error_3 - error_2
    y0 = r - w
    return n, y0, (r - y0) - w


@_vector
def _sin_kernel(x, y):
    z = x * x
    w = z * z
    r = _S2 + z * (_S3 + z * _S4) + z * w * (_S5 + z * _S6)
    v = z * x
    return x - ((z * (0.5 * y - v * r) - y) - v * _S1)


@_vector
def _cos_kernel(x, y):
    z = x * x
    w = z * z
    r = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * r - x * y))


@_vector
def _quadrant(x, shift):
    """sin(x + shift pi/2) for |x| < REDUCED (shift 0: sin, 1: cos)."""
    n, y0, y1 = _reduced(x)
    q = (n + shift) & 3
    s = _sin_kernel(y0, y1)
    c = _cos_kernel(y0, y1)
    value = _select((q & 1) == 0, s, c)
    return _select(q >= 2, -value, value)


@_vector
def sin_reduced(x):
    """sin(x) for |x| < REDUCED (branch-free; wrong beyond: the caller checks)."""
    return _quadrant(_select(abs(x) < REDUCED, x, 0.0), np.int64(0))


@_vector
def cos_reduced(x):
    """cos(x) for |x| < REDUCED (branch-free; wrong beyond: the caller checks)."""
    return _quadrant(_select(abs(x) < REDUCED, x, 0.0), np.int64(1))


@_vector
def beyond_reduced(x):
    """1 where sin_reduced and cos_reduced are wrong for x (|x| >= REDUCED, or NaN), else 0: an element
    loop sums it (an integer, so in any order) and runs libm's where it is not 0."""
    return _select(abs(x) < REDUCED, np.int64(0), np.int64(1))


# ---------------------------------------------------------------- exp and log to 2**-64 (pairs)
# For tanh, expit and pow: each rounds a pair once at the end, so that its error is barely above
# half an ulp (the pair's own error is below 2**-60 of the result).

_EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(3, 15))  # 1/3! .. 1/14!: exp's remainder r**15/15!


@_vector
def _exp_pair(zh, zl):
    """(mh, ml, q) with exp(zh + zl) = 2**q (mh + ml) to 2**-62, for |zh| < 2**51 / ln 2 (the
    caller keeps zh in its range): zh + zl = q ln2 + r, |r| <= ln2/2, exp(r) = 1 + r + r**2/2
    + r**3 P(r) with P Taylor's to degree 11 (its remainder below 2**-63 of the result)."""
    fn, q = _rounded(zh * _INV_LN2)
    rh, rl = _two_sum(zh, -(fn * _LN2_HI))  # fn * _LN2_HI is exact (|q| < 2**11)
    rh, rl = _fast_two_sum(rh, rl + (zl - fn * _LN2_LO))
    square_h, square_l = _two_product(rh, rh)
    square_l += 2.0 * rh * rl
    c = _EXP_TAYLOR
    p = c[0] + rh * (c[1] + rh * (c[2] + rh * (c[3] + rh * (c[4] + rh * (c[5] + rh * (c[6] + rh * (c[7] + rh * (
        c[8] + rh * (c[9] + rh * (c[10] + rh * c[11]))))))))))
    mh, ml = _fast_two_sum(1.0, rh)
    mh, ml = _dd_add(mh, ml + rl, 0.5 * square_h, 0.5 * square_l + square_h * rh * p)
    return mh, ml, q


_LN2_PAIR_HI = 0.6931471805599453  # ln 2 = _LN2_PAIR_HI + _LN2_PAIR_LO to 2**-107
_LN2_PAIR_LO = 2.3190468138462996e-17
_TWO_THIRDS_HI, _TWO_THIRDS_LO = 0.666666666666666629659233, 3.80554962542412056336616e-17  # SLEEF's, fitted with T
# log(1 + f) = 2 atanh(s), s = f / (2 + f): 2 s + 2/3 s**3 + s**5 T(s**2), T's coefficients SLEEF's
# (sleefdp.c, logk: a minimax fit for |s| <= 0.2; here |s| <= 0.1716)
_LOG_T = (0.400000000000000077715612, 0.285714285714249172087875, 0.222222222230083560345903,
          0.181818180850050775676507, 0.153846227114512262845736, 0.13332981086846273921509,
          0.117754809412463995466069, 0.103239680901072952701192, 0.116255524079935043668677)


@_vector
def _log_pair(u):
    """log(u) as a pair, to 2**-64 of it, for a positive normal or subnormal u: u = 2**k m with
    sqrt(2)/2 <= m < sqrt(2), then f = m - 1 (exact) and s = f / (2 + f) as pairs."""
    subnormal = u < 2.2250738585072014e-308
    u = u * _select(subnormal, _TWO_54, 1.0)
    bits = _bits(u)
    high = (bits >> 32) + (0x3ff00000 - 0x3fe6a09e)  # moves [sqrt(2)/2, sqrt(2)) to [1, 2)
    k = (high >> 20) - 0x3ff - _select(subnormal, np.int64(54), np.int64(0))
    high = (high & 0x000fffff) + 0x3fe6a09e
    f = _float((high << 32) | (bits & 0xffffffff)) - 1.0
    denominator_h, denominator_l = _two_sum(2.0, f)
    inverse = 1.0 / denominator_h
    sh = f * inverse
    sh, sl = _fast_two_sum(sh, (_fma(-sh, denominator_h, f) - sh * denominator_l) * inverse)
    square_h, square_l = _two_product(sh, sh)
    square_l += 2.0 * sh * sl
    cube_h, cube_l = _dd_multiply(square_h, square_l, sh, sl)
    third_h, third_l = _dd_multiply(cube_h, cube_l, _TWO_THIRDS_HI, _TWO_THIRDS_LO)
    c, z = _LOG_T, square_h
    t = c[0] + z * (c[1] + z * (c[2] + z * (c[3] + z * (c[4] + z * (c[5] + z * (c[6] + z * (c[7] + z * c[8])))))))
    dk = np.float64(k)
    hi, lo = _two_sum(dk * _LN2_PAIR_HI, 2.0 * sh)
    lo += _fma(dk, _LN2_PAIR_HI, -(dk * _LN2_PAIR_HI))  # dk * _LN2_PAIR_HI's rounding error
    return _dd_add(hi, lo, third_h, third_l + (2.0 * sl + dk * _LN2_PAIR_LO + cube_h * square_h * t))


# ---------------------------------------------------------------- tanh, expit and pow


@_vector
def tanh(x):
    """(E - 1) / (E + 1) with E = exp(2|x|) as a pair: E - 1 loses nothing near 0 (E's pair holds
    2|x| + 2x**2 + ... with 2|x| exact), rounded once; x itself below 2**-28 (keeps -0)."""
    x, given = _unless_nan(x), x
    a = abs(x)
    mh, ml, q = _exp_pair(2.0 * _select(a < 20.0, a, 0.0), 0.0)  # tanh(20) is 1 - 8e-18: 1.0
    scale = _pow2(q)
    eh, el = mh * scale, ml * scale
    nh, nl = _dd_add(eh, el, -1.0, 0.0)
    dh, dl = _dd_add(eh, el, 1.0, 0.0)
    th, tl = _dd_divide(nh, nl, dh, dl)
    magnitude = _select(a < 20.0, th + tl, 1.0)
    result = _select(a < 2.0 ** -28, x, _select(x < 0.0, -magnitude, magnitude))
    return _select(given != given, given, result)


@_vector
def expit(x):
    """1 / (1 + E) for x >= 0 and E / (1 + E) below, with E = exp(-|x|) = 2**q m as a pair (m's
    pair divided, then scaled by 2**q once: a subnormal result is rounded twice, within 1 ulp)."""
    x, given = _unless_nan(x), x
    a = _select(abs(x) < 746.0, abs(x), 746.0)  # expit(-746) rounds to 0, expit(746) to 1
    mh, ml, q = _exp_pair(-a, 0.0)
    scale = _pow2(_select(q > -200, q, np.int64(-200)))  # 1 + E is 1 to 2**-199 below
    dh, dl = _dd_add(1.0, 0.0, mh * scale, ml * scale)
    numerator_h, numerator_l = _select(x < 0.0, mh, 1.0), _select(x < 0.0, ml, 0.0)
    rh, rl = _dd_divide(numerator_h, numerator_l, dh, dl)
    result = _scaled(rh + rl, _select(x < 0.0, q, np.int64(0)))
    return _select(given != given, given, result)


_TWO_52 = 4503599627370496.0


@_vector
def _odd_integer(y):
    """(whether y is an integer, whether it is an odd one) for y not NaN: |y| + 2**52 rounds |y|
    to an integer whose parity is the last bit of its mantissa; every |y| >= 2**52 is an integer."""
    a = abs(y)
    below = a < _TWO_52
    t = _select(below, a + _TWO_52, a)
    integer = _select(below, t - _TWO_52 == a, True)
    return integer, integer & (a < 2.0 * _TWO_52) & ((_bits(t) & 1) == 1)


@_vector
def power(x, y):
    """x ** y as C99's pow: exp(y log|x|) with log|x| and its product with y as pairs, exp of the
    pair rounded once; the sign of an odd integer power of a negative x; the special cases of
    zeros, infinities and NaN by selects (y == 2: x * x, exact)."""
    (x, given_x), (y, given_y) = (_unless_nan(x), x), (_unless_nan(y), y)
    a = abs(x)
    ordinary = (a > 0.0) & (a < _INF)
    lh, ll = _log_pair(_select(ordinary, a, 1.0))
    ys = _select(abs(y) < 2.0 ** 1000, y, _select(y < 0.0, -(2.0 ** 1000), 2.0 ** 1000))  # the same inf or 0
    zh, zl = _two_product(ys, lh)
    zh, zl = _fast_two_sum(zh, zl + ys * ll)
    within = (zh < 710.0) & (zh > -746.0)
    mh, ml, q = _exp_pair(_select(within, zh, 0.0), _select(within, zl, 0.0))
    magnitude = _select(within, _scaled(mh + ml, q), _select(zh > 0.0, _INF, 0.0))
    infinite_x = _select(y > 0.0, _INF, 0.0)
    magnitude = _select(a == 0.0, _select(y > 0.0, 0.0, _INF), _select(a == _INF, infinite_x, magnitude))
    integer, odd = _odd_integer(y)
    result = _select((_bits(x) < 0) & odd, -magnitude, magnitude)  # the sign bit: -0 too
    result = _select((x < 0.0) & (x > -_INF) & ~integer, np.nan, _select(y == 2.0, x * x, result))
    result = _select((given_x != given_x) | (given_y != given_y), np.nan, result)
    return _select((given_y == 0.0) | (given_x == 1.0), 1.0, result)


NAMES = ("exp", "expm1", "log", "log1p", "sin_reduced", "cos_reduced", "tanh", "expit", "power")


def scalar(name: str):
    """The float64 function `name` (one of NAMES) of one number, for Numba-compiled code."""
    assert name in NAMES, name
    return globals()[name]
