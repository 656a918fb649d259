"""A tour of adcompiler: gradients of plain Python/NumPy functions, checked against finite
differences, and the code adcompiler generates for them.

Run: python examples/demo.py
"""
import math
import time

import numpy as np

import adcompiler
from adcompiler import grad, value_and_grad


def f(x, y, z):
    """The lecture notes' first graph: f = (x + y) * z."""
    q = x + y
    return q * z


def toy(x):
    """The notes' toy function 2 / sin(exp(-x)), in radians."""
    return 2.0 / math.sin(math.exp(-x))


def logistic_loss(w, b, X, y):
    """Mean binary cross-entropy of a logistic regression, written in the stable fused form."""
    z = X @ w + b
    return np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))


def finite_difference(function, args, position, eps=1e-6):
    args = [np.array(a, dtype=np.float64) for a in args]
    x = args[position]
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index].copy()
        x[index] = saved + eps
        plus = function(*args)
        x[index] = saved - eps
        minus = function(*args)
        x[index] = saved
        gradient[index] = (plus - minus) / (2 * eps)
    return gradient


def main():
    print("1. f = (x + y) * z at (-2, 5, -4)")
    print("   gradient:", grad(f, wrt=(0, 1, 2))(-2.0, 5.0, -4.0), " (the notes: -4, -4, 3)")

    print("\n2. f(x) = 2 / sin(exp(-x)) at x = -4.499")
    value, slope = value_and_grad(toy)(-4.499)
    print(f"   f = {value:.6f}, df/dx = {slope:.6f}, finite differences: "
          f"{finite_difference(toy, [-4.499], 0):.6f}")

    print("\n3. Logistic regression trained with gradients adcompiler derived (synthetic data)")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 8))
    true_w = rng.normal(size=8)
    y = (X @ true_w + 0.3 * rng.normal(size=500) > 0).astype(np.float64)
    loss_and_grads = value_and_grad(logistic_loss, wrt=("w", "b"))
    w, b = np.zeros(8), 0.0
    start = time.perf_counter()
    for step in range(201):
        loss, (dw, db) = loss_and_grads(w, b, X, y)
        w, b = w - 0.5 * dw, b - 0.5 * db
        if step % 50 == 0:
            accuracy = np.mean(((X @ w + b) > 0) == (y > 0.5))
            print(f"   step {step:3d}  loss {loss:.4f}  accuracy {accuracy:.3f}")
    print(f"   {(time.perf_counter() - start) * 1e3:.0f} ms for 201 steps, including compilation")
    fd = finite_difference(logistic_loss, [w, b, X, y], 0)
    print(f"   max |gradient - finite differences| = {np.max(np.abs(loss_and_grads(w, b, X, y)[1][0] - fd)):.2e}")

    print("\n4. The generated code of the logistic loss (python -m adcompiler show ... prints the same):\n")
    adcompiler.show(logistic_loss, w, b, X, y, wrt=("w", "b"))


if __name__ == "__main__":
    main()
