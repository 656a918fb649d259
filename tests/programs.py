"""Small user functions for the IR, code generation and cache tests.

Self-contained: only NumPy. Each function is code that adcompiler accepts, straight-line but for
the last. The golden IR files in tests/golden/ record the line numbers of this file, so add new
functions at the end (or regenerate the golden files with ADCOMPILER_UPDATE_GOLDEN=1 and re-read them).
"""
import numpy as np


def add_mul(x, y, z):
    return (x + y) * z


def reuse(x, y):
    a = x * y
    return a * a + np.sin(a) * x


def reassign(x, y):
    x = x * 2.0
    x = x + y
    x = np.exp(x)
    return x * y


def unpack(x, y):
    a, b = x * y, x + y
    a, b = b, a
    return a / b


def tanh_layer(W, x, b):
    h = np.tanh(W @ x + b)
    return np.sum(h)


def float32_mean(x):
    return np.mean(np.exp(x) * 0.5 + x)


def broadcast(a, b):
    return np.sum(a * b)


def sigmoid(w, x, b):
    return 1.0 / (1.0 + np.exp(-(w * x + b)))


def log_pow_div(x, y):
    return np.sum(np.log(x ** 2 + 1.0) / y)


def relu_dot(x, y):
    return np.sum(np.maximum(x, 0.0) * y)


def matmul_mse(A, B, C):
    return np.mean((A @ B - C) ** 2)


def exp_weighted(x, y):
    return np.sum(np.exp(x) * y)


def int_scaled(x, n):
    return np.sum(x * n - np.sqrt(x))


def sin_cos(x):
    return np.sum(np.sin(x) * 2.0 + np.cos(x))


def const_output(x, y):
    return y * 3.0


def repeated_exp(x):
    return np.sum(np.exp(x) + np.exp(x))


def alternating(n, x):
    return (-1.0) ** n * x


def clip_below(x):
    return np.sum(np.maximum(x, -np.inf) * 2.0)


def mixed_broadcast(A, v, s):
    return np.sum(np.exp(A * v) * s)


def slice_none(y, w):
    return np.sum(y[1:3, None] * w)


def param_named_t(t, x):
    a = t
    return a * x


def loop_branch_nested(x, W, n):
    """A loop with a branch and a nested loop: what its backward reads is the residual plan."""
    total = 0.0
    h = x
    for i in range(n):
        if total > 1.0:
            total = total + np.sin(total) * 0.5
        else:
            total = total + np.sum(h * h)
        for j in range(2):
            h = np.tanh(W @ h) + x[j]
        total = total + x[i] * i
    return total
