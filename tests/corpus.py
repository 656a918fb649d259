"""Fifty programs written the way people in machine learning, physics, statistics, finance, control
and signal processing write NumPy (not written for adcompiler), each a scalar function of its
arguments. tests/test_corpus.py checks that each compiles and that its gradient equals float64 finite
differences in both modes. `PROGRAMS` lists them with argument makers and `wrt`.
"""
from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
import scipy.special


# ---------------------------------------------------------------- machine learning

def logistic_regression(w, b, X, y, lam):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    eps = 1e-12
    nll = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    return nll + lam * np.sum(w ** 2)


def softmax_regression(W, X, labels):
    logits = X @ W
    logits = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    n = X.shape[0]
    return -np.sum(log_probs[np.arange(n), labels]) / n


def mlp_dict(params, X, Y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    return np.mean((out - Y) ** 2)


def mlp_layers(layers, X, Y):
    h = X
    for W, b in layers[:-1]:
        h = np.maximum(h @ W + b, 0.0)
    W, b = layers[-1]
    out = h @ W + b
    return 0.5 * np.sum((out - Y) ** 2) / X.shape[0]


def cross_entropy_logsumexp(W, X, labels):
    logits = X @ W
    lse = scipy.special.logsumexp(logits, axis=1)
    picked = np.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    return np.mean(lse - picked)


def batch_norm(x, gamma, beta):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + 1e-5)
    y = gamma * xhat + beta
    return np.sum(y ** 3) / x.shape[0]


def layer_norm(x, gamma, beta):
    mu = np.mean(x, axis=-1, keepdims=True)
    sigma = np.std(x, axis=-1, keepdims=True)
    y = gamma * (x - mu) / (sigma + 1e-6) + beta
    return np.sum(np.tanh(y))


def attention(Q, K, V):
    d = Q.shape[-1]
    scores = np.einsum("id,jd->ij", Q, K) / np.sqrt(d)
    weights = scipy.special.softmax(scores, axis=-1)
    out = weights @ V
    return np.sum(out ** 2)


def huber_loss(w, X, y):
    r = X @ w - y
    delta = 1.0
    quadratic = 0.5 * r ** 2
    linear = delta * (np.abs(r) - 0.5 * delta)
    return np.mean(np.where(np.abs(r) <= delta, quadratic, linear))


def svm_hinge(w, X, y, C):
    margins = 1.0 - y * (X @ w)
    return 0.5 * w @ w + C * np.sum(np.maximum(margins, 0.0))


def cosine_similarity_loss(a, b):
    cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - cos


def vae_kl(mu, log_var):
    return -0.5 * np.sum(1 + log_var - mu ** 2 - np.exp(log_var))


def rnn_states(Wh, Wx, xs):
    h = np.zeros(Wh.shape[0])
    states = []
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        states.append(h)
    H = np.stack(states)
    return np.sum(H ** 2)


def gp_neg_log_marginal(log_ell, X, y):
    ell = np.exp(log_ell)
    sq = np.sum(X ** 2, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * X @ X.T
    K = np.exp(-0.5 * d2 / ell ** 2) + 0.1 * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    alpha = scipy.linalg.cho_solve((L, True), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L)))


def pca_reconstruction(W, X):
    Z = X @ W
    Xhat = Z @ W.T
    return np.sum((X - Xhat) ** 2) / X.shape[0]


def triplet_loss(anchor, positive, negative):
    dp = np.sum((anchor - positive) ** 2, axis=1)
    dn = np.sum((anchor - negative) ** 2, axis=1)
    return np.mean(np.maximum(dp - dn + 0.2, 0.0))


# ---------------------------------------------------------------- physics

def lennard_jones(positions):
    n = positions.shape[0]
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r = np.linalg.norm(positions[i] - positions[j])
            energy += 4.0 * ((1.0 / r) ** 12 - (1.0 / r) ** 6)
    return energy


def coulomb_triu(positions, charges):
    n = positions.shape[0]
    i, j = np.triu_indices(n, k=1)
    diff = positions[i] - positions[j]
    r = np.sqrt(np.sum(diff ** 2, axis=1))
    return np.sum(charges[i] * charges[j] / r)


def spring_chain(x, k):
    stretch = np.diff(x) - 1.0
    return 0.5 * k * np.sum(stretch ** 2)


def leapfrog_oscillator(q0, p0, k):
    q, p = q0, p0
    dt = 0.01
    for _ in range(100):
        p = p - 0.5 * dt * k * q
        q = q + dt * p
        p = p - 0.5 * dt * k * q
    return 0.5 * p ** 2 + 0.5 * k * q ** 2


def pendulum_rk4(theta0, omega0, g):
    def f(theta, omega):
        return omega, -g * math.sin(theta)
    theta, omega = theta0, omega0
    h = 0.05
    for _ in range(40):
        k1t, k1w = f(theta, omega)
        k2t, k2w = f(theta + 0.5 * h * k1t, omega + 0.5 * h * k1w)
        k3t, k3w = f(theta + 0.5 * h * k2t, omega + 0.5 * h * k2w)
        k4t, k4w = f(theta + h * k3t, omega + h * k3w)
        theta = theta + h / 6 * (k1t + 2 * k2t + 2 * k3t + k4t)
        omega = omega + h / 6 * (k1w + 2 * k2w + 2 * k3w + k4w)
    return theta


def heat_equation(u0, alpha):
    u = u0.copy()
    for _ in range(20):
        u = u + alpha * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return np.sum(u ** 2)


def gravity_potential(positions, masses):
    diff = positions[:, None, :] - positions[None, :, :]
    r = np.sqrt(np.sum(diff ** 2, axis=-1) + np.eye(positions.shape[0]))
    mask = np.triu(np.ones((positions.shape[0], positions.shape[0])), 1)
    return -np.sum(mask * np.outer(masses, masses) / r)


def projectile_range(v0, angle):
    vx = v0 * math.cos(angle)
    vy = v0 * math.sin(angle)
    t_flight = 2 * vy / 9.81
    return vx * t_flight


# ---------------------------------------------------------------- statistics

def gaussian_log_likelihood(mu, S, X):
    n, d = X.shape
    sign, logdet = np.linalg.slogdet(S)
    R = X - mu
    quad = np.sum(R * np.linalg.solve(S, R.T).T)
    return -0.5 * (n * d * np.log(2 * np.pi) + n * logdet + quad)


def poisson_regression(w, X, counts):
    eta = X @ w
    return -np.sum(counts * eta - np.exp(eta) - scipy.special.gammaln(counts + 1.0))


def student_t_log_likelihood(mu, log_sigma, nu, x):
    sigma = np.exp(log_sigma)
    z = (x - mu) / sigma
    n = x.shape[0]
    const = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    return n * (const - log_sigma) - (nu + 1) / 2 * np.sum(np.log1p(z ** 2 / nu))


def gaussian_mixture_1d(weights_logits, means, log_sds, x):
    log_w = weights_logits - scipy.special.logsumexp(weights_logits)
    sds = np.exp(log_sds)
    z = (x[:, None] - means[None, :]) / sds[None, :]
    log_pdf = -0.5 * z ** 2 - log_sds[None, :] - 0.5 * np.log(2 * np.pi)
    return -np.sum(scipy.special.logsumexp(log_w[None, :] + log_pdf, axis=1))


def bayesian_linear_regression(w, X, y, alpha, beta):
    r = y - X @ w
    return 0.5 * beta * r @ r + 0.5 * alpha * w @ w


def beta_binomial(log_a, log_b, k, n):
    a, b = np.exp(log_a), np.exp(log_b)
    betaln = scipy.special.gammaln
    ll = betaln(k + a) + betaln(n - k + b) - betaln(n + a + b) - (betaln(a) + betaln(b) - betaln(a + b))
    return -np.sum(ll)


def pinball_loss(pred, y):
    q = np.array([0.1, 0.5, 0.9])
    r = y[:, None] - pred
    return np.mean(np.maximum(q * r, (q - 1) * r))


def probit_regression(w, X, y):
    z = X @ w
    return -np.sum(y * scipy.special.log_ndtr(z) + (1 - y) * scipy.special.log_ndtr(-z))


# ---------------------------------------------------------------- finance

def black_scholes_call(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    cdf1 = 0.5 * (1.0 + math.erf(d1 / math.sqrt(2.0)))
    cdf2 = 0.5 * (1.0 + math.erf(d2 / math.sqrt(2.0)))
    return S * cdf1 - K * math.exp(-r * T) * cdf2


def portfolio_variance(w, cov):
    w = w / np.sum(w)
    return w @ cov @ w


def sharpe_ratio(w, returns):
    portfolio = returns @ w
    return -np.mean(portfolio) / np.std(portfolio, ddof=1)


def monte_carlo_call(S0, sigma, normals):
    T, r, K = 1.0, 0.02, 1.0
    ST = S0 * np.exp((r - 0.5 * sigma ** 2) * T + sigma * np.sqrt(T) * normals)
    return np.exp(-r * T) * np.mean(np.maximum(ST - K, 0.0))


def ema_tracking(alpha, prices):
    ema = prices[0]
    loss = 0.0
    for t in range(1, prices.shape[0]):
        loss += (prices[t] - ema) ** 2
        ema = alpha * prices[t] + (1 - alpha) * ema
    return loss


def log_return_volatility(prices):
    r = np.diff(np.log(prices))
    return np.std(r) * np.sqrt(252.0)


def cvar(w, scenarios):
    losses = -(scenarios @ w)
    ordered = np.sort(losses)
    tail = int(0.8 * len(ordered))
    return np.mean(ordered[tail:])


# ---------------------------------------------------------------- control

def lqr_rollout(K, A, B, x0):
    x = x0
    cost = 0.0
    for _ in range(15):
        u = -K @ x
        cost += x @ x + 0.1 * u @ u
        x = A @ x + B @ u
    return cost


def mpc_tracking(u, x0, target):
    x = x0
    cost = 0.0
    for t in range(u.shape[0]):
        x = 0.9 * x + 0.1 * u[t]
        cost += (x - target) ** 2 + 0.01 * u[t] ** 2
    return cost


def kalman_log_likelihood(log_q, ys):
    q = np.exp(log_q)
    r = 0.5
    m, p = 0.0, 1.0
    ll = 0.0
    for t in range(ys.shape[0]):
        p = p + q
        s = p + r
        ll += -0.5 * (math.log(2 * math.pi * s) + (ys[t] - m) ** 2 / s)
        gain = p / s
        m = m + gain * (ys[t] - m)
        p = (1 - gain) * p
    return -ll


def discrete_riccati_cost(P0, A, Q):
    P = P0
    for _ in range(5):
        P = A.T @ P @ A + Q - A.T @ P @ np.linalg.inv(np.eye(P.shape[0]) + P) @ P @ A
    return np.trace(P)


# ---------------------------------------------------------------- signal processing

def fir_filter_fit(h, x, target):
    y = np.convolve(x, h, mode="same")
    return np.sum((y - target) ** 2)


def autocorrelation_energy(x):
    x = x - np.mean(x)
    ac = np.correlate(x, x, mode="full")
    return np.sum(ac[len(x):] ** 2)


def smoothness_penalty(signal, data):
    return np.sum((signal - data) ** 2) + 10.0 * np.sum(np.diff(signal, n=2) ** 2)


def total_variation(signal, data):
    return 0.5 * np.sum((signal - data) ** 2) + 0.1 * np.sum(np.sqrt(np.diff(signal) ** 2 + 1e-6))


def resample_loss(values, t_query, t_samples, target):
    y = np.interp(t_query, t_samples, values)
    return np.sum((y - target) ** 2)


def integrated_power(signal, t):
    return np.trapezoid(signal ** 2, t)


# ---------------------------------------------------------------- small programs

def det_by_minors(A):
    n = A.shape[0]
    if n == 1:
        return A[0, 0]
    total = 0.0
    for j in range(n):
        minor = np.delete(np.delete(A, 0, axis=0), j, axis=1)
        total += (-1) ** j * A[0, j] * det_by_minors(minor)
    return total


def polynomial_fit(coeffs, x, y):
    return np.mean((np.polyval(coeffs, x) - y) ** 2)


def unpacked_params(params, x):
    a, b, c = params
    return np.sum(a * x ** 2 + b * x + c)


def closure_activation(w, x):
    scale = 2.0
    act = lambda z: np.tanh(scale * z)
    return np.sum(act(x @ w))


def list_comprehension_powers(x):
    terms = [x ** k / math.factorial(k) for k in range(5)]
    return np.sum(sum(terms))


def named_params(p, x):
    return np.sum((p.slope * x + p.intercept) ** 2)


# ---------------------------------------------------------------- the table

Line = namedtuple("Line", ["slope", "intercept"])


@dataclass
class Program:
    name: str
    fn: Callable
    make_args: Callable  # rng -> the arguments
    wrt: tuple


def _spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def _points(rng, n, d, spacing=1.5):
    grid = np.stack(np.meshgrid(*([np.arange(3)] * d), indexing="ij"), -1).reshape(-1, d)[:n]
    return grid * spacing + rng.uniform(-0.2, 0.2, (n, d))


PROGRAMS = [
    Program("logistic_regression", logistic_regression, lambda r: (
        r.standard_normal(4), 0.1, r.standard_normal((20, 4)), (r.uniform(size=20) < 0.5) * 1.0, 0.01), (0, 1)),
    Program("softmax_regression", softmax_regression, lambda r: (
        r.standard_normal((4, 3)), r.standard_normal((10, 4)), r.integers(0, 3, 10)), (0,)),
    Program("mlp_dict", mlp_dict, lambda r: ({
        "W1": r.standard_normal((3, 5)), "b1": r.standard_normal(5), "W2": r.standard_normal((5, 2)),
        "b2": r.standard_normal(2)}, r.standard_normal((8, 3)), r.standard_normal((8, 2))), (0,)),
    Program("mlp_layers", mlp_layers, lambda r: ([
        (r.standard_normal((3, 6)), r.standard_normal(6)), (r.standard_normal((6, 4)), r.standard_normal(4)),
        (r.standard_normal((4, 2)), r.standard_normal(2))], r.standard_normal((7, 3)), r.standard_normal((7, 2))),
        (0,)),
    Program("cross_entropy_logsumexp", cross_entropy_logsumexp, lambda r: (
        r.standard_normal((4, 3)), r.standard_normal((9, 4)), r.integers(0, 3, 9)), (0,)),
    Program("batch_norm", batch_norm, lambda r: (
        r.standard_normal((8, 3)), r.uniform(0.5, 1.5, 3), r.standard_normal(3)), (0, 1, 2)),
    Program("layer_norm", layer_norm, lambda r: (
        r.standard_normal((4, 6)), r.uniform(0.5, 1.5, 6), r.standard_normal(6)), (0, 1, 2)),
    Program("attention", attention, lambda r: (
        r.standard_normal((4, 3)), r.standard_normal((5, 3)), r.standard_normal((5, 2))), (0, 1, 2)),
    Program("huber_loss", huber_loss, lambda r: (
        r.standard_normal(3), r.standard_normal((12, 3)), 2 * r.standard_normal(12)), (0,)),
    Program("svm_hinge", svm_hinge, lambda r: (
        r.standard_normal(3), r.standard_normal((12, 3)), r.choice([-1.0, 1.0], 12), 0.5), (0,)),
    Program("cosine_similarity_loss", cosine_similarity_loss, lambda r: (
        r.standard_normal(5), r.standard_normal(5)), (0, 1)),
    Program("vae_kl", vae_kl, lambda r: (r.standard_normal(6), 0.3 * r.standard_normal(6)), (0, 1)),
    Program("rnn_states", rnn_states, lambda r: (
        0.5 * r.standard_normal((4, 4)), r.standard_normal((4, 3)), r.standard_normal((6, 3))), (0, 1)),
    Program("gp_neg_log_marginal", gp_neg_log_marginal, lambda r: (
        0.2, r.standard_normal((6, 2)), r.standard_normal(6)), (0,)),
    Program("pca_reconstruction", pca_reconstruction, lambda r: (
        r.standard_normal((5, 2)), r.standard_normal((10, 5))), (0,)),
    Program("triplet_loss", triplet_loss, lambda r: (
        r.standard_normal((6, 3)), r.standard_normal((6, 3)), r.standard_normal((6, 3))), (0, 1, 2)),
    Program("lennard_jones", lennard_jones, lambda r: (_points(r, 5, 2),), (0,)),
    Program("coulomb_triu", coulomb_triu, lambda r: (_points(r, 6, 3), r.uniform(0.5, 1.5, 6)), (0, 1)),
    Program("spring_chain", spring_chain, lambda r: (np.arange(6.0) * 1.1 + 0.1 * r.standard_normal(6), 2.0),
            (0, 1)),
    Program("leapfrog_oscillator", leapfrog_oscillator, lambda r: (1.0, 0.5, 2.0), (0, 1, 2)),
    Program("pendulum_rk4", pendulum_rk4, lambda r: (0.3, 0.0, 9.81), (0, 1, 2)),
    Program("heat_equation", heat_equation, lambda r: (r.standard_normal(10), 0.2), (0, 1)),
    Program("gravity_potential", gravity_potential, lambda r: (_points(r, 5, 3), r.uniform(0.5, 2.0, 5)), (0, 1)),
    Program("projectile_range", projectile_range, lambda r: (10.0, 0.6), (0, 1)),
    Program("gaussian_log_likelihood", gaussian_log_likelihood, lambda r: (
        r.standard_normal(3), _spd(r, 3), r.standard_normal((10, 3))), (0, 1)),
    Program("poisson_regression", poisson_regression, lambda r: (
        0.3 * r.standard_normal(3), r.standard_normal((15, 3)), r.integers(0, 5, 15) * 1.0), (0,)),
    Program("student_t_log_likelihood", student_t_log_likelihood, lambda r: (
        0.1, 0.2, 4.0, r.standard_normal(12)), (0, 1, 2)),
    Program("gaussian_mixture_1d", gaussian_mixture_1d, lambda r: (
        r.standard_normal(3), r.standard_normal(3), 0.2 * r.standard_normal(3), r.standard_normal(20)), (0, 1, 2)),
    Program("bayesian_linear_regression", bayesian_linear_regression, lambda r: (
        r.standard_normal(3), r.standard_normal((10, 3)), r.standard_normal(10), 0.5, 2.0), (0, 3, 4)),
    Program("beta_binomial", beta_binomial, lambda r: (
        0.3, -0.2, r.integers(0, 10, 8) * 1.0, np.full(8, 10.0)), (0, 1)),
    Program("pinball_loss", pinball_loss, lambda r: (r.standard_normal((10, 3)), r.standard_normal(10)), (0,)),
    Program("probit_regression", probit_regression, lambda r: (
        r.standard_normal(3), r.standard_normal((12, 3)), (r.uniform(size=12) < 0.5) * 1.0), (0,)),
    Program("black_scholes_call", black_scholes_call, lambda r: (1.1, 1.0, 0.5, 0.02, 0.3), (0, 1, 2, 3, 4)),
    Program("portfolio_variance", portfolio_variance, lambda r: (r.uniform(0.5, 1.5, 4), _spd(r, 4)), (0, 1)),
    Program("sharpe_ratio", sharpe_ratio, lambda r: (
        r.uniform(0.5, 1.5, 4), 0.01 + 0.05 * r.standard_normal((30, 4))), (0, 1)),
    Program("monte_carlo_call", monte_carlo_call, lambda r: (1.0, 0.25, r.standard_normal(50)), (0, 1)),
    Program("ema_tracking", ema_tracking, lambda r: (0.3, np.cumsum(r.standard_normal(25))), (0, 1)),
    Program("log_return_volatility", log_return_volatility, lambda r: (
        np.exp(np.cumsum(0.01 * r.standard_normal(20))),), (0,)),
    Program("cvar", cvar, lambda r: (r.uniform(0.5, 1.5, 3), r.standard_normal((25, 3))), (0,)),
    Program("lqr_rollout", lqr_rollout, lambda r: (
        0.1 * r.standard_normal((1, 2)), np.array([[1.0, 0.1], [0.0, 1.0]]), np.array([[0.0], [0.1]]),
        np.array([1.0, 0.0])), (0, 1, 2, 3)),
    Program("mpc_tracking", mpc_tracking, lambda r: (r.standard_normal(10), 0.0, 1.0), (0, 1)),
    Program("kalman_log_likelihood", kalman_log_likelihood, lambda r: (
        -1.0, np.cumsum(0.3 * r.standard_normal(15))), (0, 1)),
    Program("discrete_riccati_cost", discrete_riccati_cost, lambda r: (
        _spd(r, 2), 0.5 * r.standard_normal((2, 2)), _spd(r, 2)), (0, 1, 2)),
    Program("fir_filter_fit", fir_filter_fit, lambda r: (
        r.standard_normal(3), r.standard_normal(12), r.standard_normal(12)), (0, 1)),
    Program("autocorrelation_energy", autocorrelation_energy, lambda r: (r.standard_normal(8),), (0,)),
    Program("smoothness_penalty", smoothness_penalty, lambda r: (r.standard_normal(10), r.standard_normal(10)),
            (0,)),
    Program("total_variation", total_variation, lambda r: (r.standard_normal(10), r.standard_normal(10)), (0,)),
    Program("resample_loss", resample_loss, lambda r: (
        r.standard_normal(6), np.sort(r.uniform(0.05, 0.95, 8)), np.linspace(0.0, 1.0, 6), r.standard_normal(8)),
        (0, 1)),
    Program("integrated_power", integrated_power, lambda r: (r.standard_normal(9), np.linspace(0.0, 2.0, 9)),
            (0,)),
    Program("det_by_minors", det_by_minors, lambda r: (r.standard_normal((4, 4)),), (0,)),
    Program("polynomial_fit", polynomial_fit, lambda r: (
        r.standard_normal(4), r.uniform(-1, 1, 10), r.standard_normal(10)), (0, 1)),
    Program("unpacked_params", unpacked_params, lambda r: (r.standard_normal(3), r.standard_normal(5)), (0, 1)),
    Program("closure_activation", closure_activation, lambda r: (r.standard_normal(3), r.standard_normal((4, 3))),
            (0,)),
    Program("list_comprehension_powers", list_comprehension_powers, lambda r: (r.standard_normal(4),), (0,)),
    Program("named_params", named_params, lambda r: (Line(0.5, -0.2), r.standard_normal(6)), (0,)),
]
