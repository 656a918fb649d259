"""Accuracy of vector math (adcompiler/backend/vmath.py), as kernels call it (the compiled
runtime's `vector_<name>`), against np.longdouble (x86's 80-bit format: 11 bits more than float64,
so the reference's own error is below 1/1000 ulp) on 10**7 points per function across its range,
with NumPy's own error beside it. Errors are in ulps of the float64 nearest the reference.

    python bench/vmath_accuracy.py [points]

tests/test_vmath.py runs the same on 10**5 points and checks the special values with mpmath.
"""
import sys

import numpy as np

FUNCTIONS = ("exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "expit", "power")


def samples(name: str, n: int, rng) -> tuple:
    """The operands of `n` points over `name`'s whole domain: half uniform over where the function
    is neither constant nor overflowing, half spread over the binades (log-uniform magnitudes)."""
    if name == "power":
        return _power_samples(n, rng)
    low, high = {"exp": (-745.2, 709.8), "expm1": (-40.0, 709.8), "log": (0.0, 1e3), "log1p": (-1.0, 1e3),
                 "sin": (-1647099.0, 1647099.0), "cos": (-1647099.0, 1647099.0), "tanh": (-20.0, 20.0),
                 "expit": (-746.0, 40.0)}[name]
    uniform = rng.uniform(low, high, n - n // 2)
    top = {"exp": 9.47, "expm1": 9.47, "log": 1023.9, "log1p": 1023.9, "sin": 20.6, "cos": 20.6, "tanh": 9.47,
           "expit": 9.47}[name]
    magnitudes = np.exp2(rng.uniform(-1074.0, top, n // 2))
    signs = rng.choice([-1.0, 1.0], n // 2) if name not in ("log", "log1p") else 1.0
    spread = signs * magnitudes
    if name == "log1p":
        spread = np.where(rng.random(n // 2) < 0.5, spread, -np.exp2(rng.uniform(-1074.0, 0.0, n // 2)))
    return (np.concatenate([uniform, spread]),)


def _power_samples(n: int, rng) -> tuple:
    """x ** y: x spread over all positive binades and y = z / log(x) with z uniform over where
    the result is finite and not 0 (half of the points); x uniform in (0, 10) and y in (-300, 300)
    (a quarter); negative x spread over the binades with an integer y in [-60, 60] (a quarter)."""
    half, quarter = n // 2, n // 4
    x = np.exp2(rng.uniform(-1074.0, 1023.9, half))
    y = rng.uniform(-745.1, 709.7, half) / np.log(x)
    negative = -np.exp2(rng.uniform(-16.0, 16.0, quarter))
    xs = np.concatenate([x, rng.uniform(0.0, 10.0, n - half - quarter), negative])
    ys = np.concatenate([y, rng.uniform(-300.0, 300.0, n - half - quarter), np.round(rng.uniform(-60, 60, quarter))])
    return xs, ys


def reference(name: str, *operands) -> np.ndarray:
    wide = [x.astype(np.longdouble) for x in operands]
    with np.errstate(all="ignore"):  # log(0) is -inf, exp(1e4) inf: as wanted
        if name == "expit":
            return 1.0 / (1.0 + np.exp(-wide[0]))
        return getattr(np, name)(*wide)


def numpy_function(name: str):
    """NumPy's (or SciPy's, for expit) function `name`."""
    if name == "expit":
        from scipy.special import expit
        return expit
    return getattr(np, name)


def ulp_errors(y: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|y - exact| in ulps of the number of y's dtype nearest `exact` (0 where both are the same
    non-finite number)."""
    with np.errstate(over="ignore"):
        nearest = exact.astype(y.dtype)
    finite = np.isfinite(nearest)
    errors = np.where(finite, 0.0, np.where(y == nearest, 0.0, np.inf))
    ulp = np.spacing(np.abs(nearest[finite])).astype(np.longdouble)
    errors[finite] = (np.abs(y[finite].astype(np.longdouble) - exact[finite]) / ulp).astype(np.float64)
    return errors


def worst(name: str, ufunc, points: int, seed: int = 0, chunk: int = 10**6) -> tuple:
    """(vmath's largest error, NumPy's largest error, the operands of vmath's) over `points` points."""
    rng = np.random.default_rng(seed)
    ours, theirs, where = 0.0, 0.0, None
    for start in range(0, points, chunk):
        operands = samples(name, min(chunk, points - start), rng)
        exact = reference(name, *operands)
        errors = ulp_errors(ufunc(*operands), exact)
        if errors.max() > ours:
            ours, where = float(errors.max()), tuple(float(x[np.argmax(errors)]) for x in operands)
        with np.errstate(over="ignore"):
            theirs = max(theirs, float(ulp_errors(numpy_function(name)(*operands), exact).max()))
    return ours, theirs, where


if __name__ == "__main__":
    from adcompiler.backend.compile import compiled_runtime

    points = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**7
    krt = compiled_runtime()
    print(f"{points:.0e} points per function; largest error in ulps (reference: np.longdouble)")
    for name in FUNCTIONS:
        ours, numpy, where = worst(name, getattr(krt, f"vector_{name}"), points)
        print(f"  {name:<6} vmath {ours:.3f}  NumPy {numpy:.3f}   (vmath's worst at {where!r})")
