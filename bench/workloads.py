"""The benchmark workloads: each as a plain-Python loss for adcompiler and for the peers, with
hand-written NumPy and Numba gradients (the same mathematics, float64). ADBench's GMM and LSTM
(their objectives and readers are in adbench.py) are read from ADBench's data folder."""
import numpy as np
import numba

import adbench as A
from adcompiler import nn


# ---------------------------------------------------------------- W1, W2: MLP value and gradient

def mlp1_loss(W1, b1, W2, b2, X, Y):
    """W1: X (128, 64) -> tanh 128 -> softmax cross-entropy over 10 classes."""
    h = np.tanh(X @ W1 + b1)
    return nn.softmax_cross_entropy(h @ W2 + b2, Y)


def mlp2_loss(W1, b1, W2, b2, W3, b3, X, Y):
    """W2: X (256, 784) -> ReLU 512 -> ReLU 256 -> softmax cross-entropy over 10 classes."""
    h1 = np.maximum(X @ W1 + b1, 0.0)
    h2 = np.maximum(h1 @ W2 + b2, 0.0)
    return nn.softmax_cross_entropy(h2 @ W3 + b3, Y)


def _softmax_ce_numpy(z, Y):
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.sum(Y * (shifted - np.log(s)), axis=1))
    return loss, (e / s - Y) / z.shape[0]


def mlp1_numpy(W1, b1, W2, b2, X, Y):
    """Hand-written backpropagation in NumPy: (loss, (dW1, db1, dW2, db2))."""
    h = np.tanh(X @ W1 + b1)
    loss, dz = _softmax_ce_numpy(h @ W2 + b2, Y)
    dh = (dz @ W2.T) * (1.0 - h * h)
    return loss, (X.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0))


def mlp2_numpy(W1, b1, W2, b2, W3, b3, X, Y):
    a1 = X @ W1 + b1
    h1 = np.maximum(a1, 0.0)
    a2 = h1 @ W2 + b2
    h2 = np.maximum(a2, 0.0)
    loss, dz = _softmax_ce_numpy(h2 @ W3 + b3, Y)
    dh2 = (dz @ W3.T) * (a2 > 0)
    dh1 = (dh2 @ W2.T) * (a1 > 0)
    return loss, (X.T @ dh1, dh1.sum(axis=0), h1.T @ dh2, dh2.sum(axis=0), h2.T @ dz, dz.sum(axis=0))


@numba.njit(cache=True)
def _softmax_ce_numba(z, Y):
    n, k = z.shape
    dz = np.empty_like(z)
    loss = 0.0
    for i in range(n):
        m = z[i, 0]
        for j in range(1, k):
            m = max(m, z[i, j])
        s = 0.0
        for j in range(k):
            dz[i, j] = np.exp(z[i, j] - m)
            s += dz[i, j]
        for j in range(k):
            loss -= Y[i, j] * (z[i, j] - m - np.log(s))
            dz[i, j] = (dz[i, j] / s - Y[i, j]) / n
    return loss / n, dz


@numba.njit(cache=True)
def _column_sums(a):
    out = np.zeros(a.shape[1])
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[j] += a[i, j]
    return out


@numba.njit(cache=True)
def mlp1_numba(W1, b1, W2, b2, X, Y):
    """Hand-written Numba adjoint (the practical limit)."""
    h = np.tanh(X @ W1 + b1)
    loss, dz = _softmax_ce_numba(h @ W2 + b2, Y)
    dh = (dz @ W2.T) * (1.0 - h * h)
    return loss, (X.T @ dh, _column_sums(dh), h.T @ dz, _column_sums(dz))


@numba.njit(cache=True)
def mlp2_numba(W1, b1, W2, b2, W3, b3, X, Y):
    a1 = X @ W1 + b1
    h1 = np.maximum(a1, 0.0)
    a2 = h1 @ W2 + b2
    h2 = np.maximum(a2, 0.0)
    loss, dz = _softmax_ce_numba(h2 @ W3 + b3, Y)
    dh2 = (dz @ W3.T) * (a2 > 0)
    dh1 = (dh2 @ W2.T) * (a1 > 0)
    return loss, (X.T @ dh1, _column_sums(dh1), h1.T @ dh2, _column_sums(dh2), h2.T @ dz, _column_sums(dz))


def mlp1_inputs():
    return mlp_inputs([64, 128, 10], 128)


def mlp2_inputs():
    return mlp_inputs([784, 512, 256, 10], 256)


def mlp_inputs(sizes, batch, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)), 0.1 * rng.normal(size=n_out)]
    X = rng.normal(size=(batch, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    return params + [X, Y]


# ---------------------------------------------------------------- W4: elementwise

def toy_loss(x):
    """W4: sum(2 / sin(exp(-x))) over 1,000,000 values."""
    return np.sum(2.0 / np.sin(np.exp(-x)))


def toy_numpy(x):
    e = np.exp(-x)
    s = np.sin(e)
    return np.sum(2.0 / s), (2.0 * np.cos(e) * e / (s * s),)


@numba.njit(cache=True)
def toy_numba(x):
    total = 0.0
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.exp(-x[i])
        s = np.sin(e)
        total += 2.0 / s
        g[i] = 2.0 * np.cos(e) * e / (s * s)
    return total, (g,)


def toy_inputs(n=1_000_000, seed=0):
    # exp(-x) stays in (0.05, 3): sin never reaches 0
    return [np.random.default_rng(seed).uniform(-1.0, 3.0, n)]


# ---------------------------------------------------------------- the training step of W1

def train_step_numpy(W1, b1, W2, b2, X, Y, lr):
    loss, (g1, gb1, g2, gb2) = mlp1_numpy(W1, b1, W2, b2, X, Y)
    return loss, W1 - lr * g1, b1 - lr * gb1, W2 - lr * g2, b2 - lr * gb2


@numba.njit(cache=True)
def train_step_numba(W1, b1, W2, b2, X, Y, lr):
    loss, (g1, gb1, g2, gb2) = mlp1_numba(W1, b1, W2, b2, X, Y)
    return loss, W1 - lr * g1, b1 - lr * gb1, W2 - lr * g2, b2 - lr * gb2


# ---------------------------------------------------------------- W3: scalar recurrence loop

def recurrence_loss(x0, p0, p1, p2, dt, n):
    """W3: n explicit Euler steps of x' = sin(x) p0 - x^2 p1 + p2 from x0; dt times the sum of x^2.
    (The peers run this very function with `np` bound to their own module.)"""
    x = x0
    total = 0.0
    for i in range(n):
        x = x + dt * (np.sin(x) * p0 - x * x * p1 + p2)
        total = total + x * x
    return dt * total


def _recurrence_adjoint(x0, p0, p1, p2, dt, n):
    """Hand-written adjoint of `recurrence_loss`: the forward loop keeps x in a preallocated array,
    the reverse loop runs back over it (sin and cos recomputed from x)."""
    xs = np.empty(n + 1)
    xs[0] = x0
    total = 0.0
    for i in range(n):
        x = xs[i]
        xs[i + 1] = x + dt * (np.sin(x) * p0 - x * x * p1 + p2)
        total += xs[i + 1] * xs[i + 1]
    dx = dp0 = dp1 = dp2 = 0.0
    for i in range(n - 1, -1, -1):
        dx += 2.0 * dt * xs[i + 1]  # d(dt * total) / d x_{i+1}
        x = xs[i]
        step = dt * dx
        dp0 += step * np.sin(x)
        dp1 -= step * x * x
        dp2 += step
        dx += step * (np.cos(x) * p0 - 2.0 * x * p1)
    return dt * total, (dx, dp0, dp1, dp2)


recurrence_numba = numba.njit(cache=True)(_recurrence_adjoint)
recurrence_numba_forward = numba.njit(cache=True)(recurrence_loss)
# "NumPy by hand" for W3: NumPy has nothing to vectorise in a sequential scalar recurrence, so the
# honest plain-Python baseline is the same adjoint (and the same loss) run by CPython.
recurrence_python = _recurrence_adjoint


def recurrence_inputs(n=10_000):
    """x0, p0, p1, p2, dt, n: x rises from 0.5 towards the stable fixed point near 1.41 (where
    sin(x) p0 + p2 = x^2 p1), so x stays bounded and the gradient well conditioned for any n."""
    return [0.5, 0.5, 0.3, 0.1, 1e-3, n]


def recurrence_1m_inputs():
    return recurrence_inputs(1_000_000)


# ---------------------------------------------------------------- ADBench GMM and LSTM

GMM_FILE = "gmm/1k/gmm_d10_K25.txt"
LSTM_FILE = "lstm/lstm_l2_c1024.txt"


def gmm_inputs():
    """alphas, means, icf, x, wishart_gamma, wishart_m of ADBench's GMM at d=10, K=25, n=1000."""
    return list(A.read_gmm(A.data_dir() / GMM_FILE))


def lstm_inputs():
    """main_params, extra_params, state, sequence of ADBench's LSTM with 2 layers, 1024 characters."""
    return list(A.read_lstm(A.data_dir() / LSTM_FILE))


# GradBench's ode eval (bench/ode.py): the last component of a fourth-order Runge-Kutta solution
# after s steps, row-wise as its JAX tool writes it and element by element as its C++ reference does.

def ode_rhs(x, y):
    """y' for GradBench's ode: y_0' = x_0, y_i' = x_i y_{i-1}."""
    return x * np.concatenate((np.ones(1), y[:-1]))


def ode_rows(x, s):
    h = 2.0 / s
    y = np.zeros_like(x)
    for _ in range(s):
        k1 = ode_rhs(x, y)
        k2 = ode_rhs(x, y + h / 2 * k1)
        k3 = ode_rhs(x, y + h / 2 * k2)
        k4 = ode_rhs(x, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y[-1]


def ode_elements(x, s):
    n = x.shape[0]
    h = 2.0 / s
    y, t = np.zeros(n), np.zeros(n)
    k1, k2, k3, k4 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for _ in range(s):
        k1[0] = x[0]
        for i in range(1, n):
            k1[i] = x[i] * y[i - 1]
        for i in range(n):
            t[i] = y[i] + h * k1[i] / 2
        k2[0] = x[0]
        for i in range(1, n):
            k2[i] = x[i] * t[i - 1]
        for i in range(n):
            t[i] = y[i] + h * k2[i] / 2
        k3[0] = x[0]
        for i in range(1, n):
            k3[i] = x[i] * t[i - 1]
        for i in range(n):
            t[i] = y[i] + h * k3[i]
        k4[0] = x[0]
        for i in range(1, n):
            k4[i] = x[i] * t[i - 1]
        for i in range(n):
            y[i] = y[i] + h * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) / 6
    return y[-1]
