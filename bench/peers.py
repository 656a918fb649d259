"""The same workloads written for the peers: PyTorch (eager), JAX (jit of value_and_grad) and HIPS
autograd. Each builder returns (convert, forward, value_and_grad, note) on the peer's own arrays,
or raises ImportError when the peer is not installed.

ADBench's GMM and LSTM are written once, vectorised, on any of the three array modules, after
ADBench's PyTorch reference (microsoft/ADBench, src/python/modules/PyTorch, MIT licence): the same
mathematics as `adbench.gmm_objective_numpy` and `adbench.lstm_objective_numpy`, without their
element writes, which JAX and autograd cannot differentiate."""
import math
import os
import types

import numpy as np

import adbench as A
import workloads as W


def _converter(to_array, n_params):
    """Arrays and the differentiated values become the peer's arrays; other numbers (a step size,
    a loop count) stay Python numbers, as a user of the peer would pass them."""
    def convert(inputs):
        return [to_array(a, i < n_params) if i < n_params or isinstance(a, np.ndarray) else a
                for i, a in enumerate(inputs)]
    return convert


def _with_module(function, xp):
    """`function` (a workload's plain-Python loss) with its `np` bound to `xp`: the peer runs the
    very same loop, step by step, on its own scalars."""
    return types.FunctionType(function.__code__, {**function.__globals__, "np": xp}, function.__name__)


def _softmax_ce(xp, z, Y, keep):
    shifted = z - xp.max(z, axis=1, **keep)
    log_p = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, **keep))
    return -xp.mean(xp.sum(Y * log_p, axis=1))


def _lower_scatter(d):
    """T (d(d-1)/2, d, d) of zeros and ones: einsum("kp,pab->kab", icf[:, d:], T) unpacks the
    strictly lower parts of the inverse Cholesky factors, packed column by column."""
    rows, cols = np.tril_indices(d, -1)
    order = np.lexsort((rows, cols))  # column by column
    scatter = np.zeros((len(order), d, d))
    scatter[np.arange(len(order)), rows[order], cols[order]] = 1.0
    return scatter


def _logsumexp(xp, a):
    """log(sum(exp(a))) along the last axis, shifted by its maximum."""
    mx = xp.amax(a, axis=-1, keepdims=True)
    return xp.log(xp.sum(xp.exp(a - mx), axis=-1)) + mx[..., 0]


def gmm_loss(xp):
    """ADBench's GMM objective on the array module `xp` (memory n * K * d)."""
    def gmm(alphas, means, icf, x, wishart_gamma, wishart_m):
        n, d = x.shape
        log_q = icf[:, :d]
        q_diag = xp.exp(log_q)
        sum_qs = xp.sum(log_q, axis=1)
        lower = xp.einsum("kp,pab->kab", icf[:, d:], xp.asarray(_lower_scatter(d)))
        xc = x[:, None, :] - means[None, :, :]  # (n, K, d)
        qxc = q_diag * xc + xp.einsum("kab,nkb->nka", lower, xc)
        main_terms = alphas + sum_qs - 0.5 * xp.sum(qxc * qxc, axis=2)
        frobenius = xp.sum(q_diag * q_diag, axis=1) + xp.sum(icf[:, d:] * icf[:, d:], axis=1)
        nn = d + wishart_m + 1
        constant = alphas.shape[0] * (nn * d * (math.log(wishart_gamma) - 0.5 * A.LOG_2)
                                      - A.log_multigamma_half(nn, d))
        prior = xp.sum(0.5 * wishart_gamma ** 2 * frobenius - wishart_m * sum_qs) - constant
        return -n * d * 0.5 * A.LOG_2PI + xp.sum(_logsumexp(xp, main_terms)) - n * _logsumexp(xp, alphas) + prior
    return gmm


def lstm_predict(xp, main_params, extra_params, hidden, cell, x):
    """One character through ADBench's elementwise LSTM layers: (prediction, hidden, cell), the
    state as lists of one row per layer."""
    b = x.shape[0]
    hidden, cell = list(hidden), list(cell)
    x = x * extra_params[0]
    for layer in range(len(hidden)):
        gates = xp.concatenate((x, hidden[layer], x, hidden[layer])) * main_params[2 * layer] \
            + main_params[2 * layer + 1]
        forget, ingate, outgate = (1.0 / (1.0 + xp.exp(-gates[:3 * b]))).reshape(3, b)
        cell[layer] = cell[layer] * forget + ingate * xp.tanh(gates[3 * b:])
        hidden[layer] = outgate * xp.tanh(cell[layer])
        x = hidden[layer]
    return x * extra_params[1] + extra_params[2], hidden, cell


def lstm_log_likelihood(xp, ypred, ygold):
    return xp.sum(ygold * (ypred - xp.log(xp.sum(xp.exp(ypred)) + 2.0)))


def lstm_loss(xp):
    """ADBench's LSTM objective on the array module `xp`: a Python loop over the sequence."""
    def lstm(main_params, extra_params, state, sequence):
        c, b = sequence.shape
        hidden, cell = list(state[0::2]), list(state[1::2])
        total = 0.0
        for t in range(c - 1):
            ypred, hidden, cell = lstm_predict(xp, main_params, extra_params, hidden, cell, sequence[t])
            total = total + lstm_log_likelihood(xp, ypred, sequence[t + 1])
        return -total / ((c - 1) * b)
    return lstm


def numpy_like_losses(xp):
    keep = {"keepdims": True}

    def mlp1(W1, b1, W2, b2, X, Y):
        return _softmax_ce(xp, xp.tanh(X @ W1 + b1) @ W2 + b2, Y, keep)

    def mlp2(W1, b1, W2, b2, W3, b3, X, Y):
        h1 = xp.maximum(X @ W1 + b1, 0.0)
        h2 = xp.maximum(h1 @ W2 + b2, 0.0)
        return _softmax_ce(xp, h2 @ W3 + b3, Y, keep)

    def toy(x):
        return xp.sum(2.0 / xp.sin(xp.exp(-x)))

    return {"W1": mlp1, "W2": mlp2, "W3": _with_module(W.recurrence_loss, xp), "W4": toy,
            "GMM": gmm_loss(xp), "LSTM": lstm_loss(xp)}


def torch_tools(workload, n_params):
    import torch

    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    def softmax_ce(z, Y):
        return -(Y * torch.log_softmax(z, dim=1)).sum(dim=1).mean()

    losses = {
        "W1": lambda W1, b1, W2, b2, X, Y: softmax_ce(torch.tanh(X @ W1 + b1) @ W2 + b2, Y),
        "W2": lambda W1, b1, W2, b2, W3, b3, X, Y: softmax_ce(
            torch.relu(torch.relu(X @ W1 + b1) @ W2 + b2) @ W3 + b3, Y),
        "W3": _with_module(W.recurrence_loss, torch),  # a Python loop over 0-d tensors
        "W4": lambda x: (2.0 / torch.sin(torch.exp(-x))).sum(),
        "GMM": gmm_loss(torch),
        "LSTM": lstm_loss(torch),
    }
    loss = losses[workload]
    convert = _converter(lambda a, differentiated: torch.tensor(a, requires_grad=differentiated), n_params)

    def forward(*inputs):
        with torch.no_grad():
            return loss(*inputs).item()

    def value_and_grad(*inputs):
        value = loss(*inputs)
        grads = torch.autograd.grad(value, inputs[:n_params])
        return value.item(), [g.numpy() for g in grads]

    return convert, forward, value_and_grad, f"PyTorch {torch.__version__} eager, {torch.get_num_threads()} threads"


def jax_tools(workload, n_params):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def recurrence(x0, p0, p1, p2, dt, n):
        """W3 as a JAX user writes it: lax.fori_loop (a scan, since n is static) over (x, total)."""
        def step(i, carry):
            x, total = carry
            x = x + dt * (jnp.sin(x) * p0 - x * x * p1 + p2)
            return x, total + x * x
        return dt * jax.lax.fori_loop(0, n, step, (x0, jnp.zeros_like(x0)))[1]

    def lstm(main_params, extra_params, state, sequence):
        """LSTM as a JAX user writes it: lax.scan over the characters, the state carried."""
        def step(carry, pair):
            ypred, hidden, cell = lstm_predict(jnp, main_params, extra_params, *carry, pair[0])
            return (hidden, cell), lstm_log_likelihood(jnp, ypred, pair[1])
        state_rows = (list(state[0::2]), list(state[1::2]))
        terms = jax.lax.scan(step, state_rows, (sequence[:-1], sequence[1:]))[1]
        return -jnp.sum(terms) / ((sequence.shape[0] - 1) * sequence.shape[1])

    loss = {**numpy_like_losses(jnp), "W3": recurrence, "LSTM": lstm}[workload]
    # static: W3's loop count (reverse mode needs a static trip count); GMM's Wishart prior (gamma,
    # m), which its constant term takes as Python numbers
    static = {"W3": (5,), "GMM": (4, 5)}.get(workload, ())
    forward_jit = jax.jit(loss, static_argnums=static)
    grad_jit = jax.jit(jax.value_and_grad(loss, argnums=tuple(range(n_params))), static_argnums=static)
    convert = _converter(lambda a, differentiated: jnp.asarray(a), n_params)

    def forward(*inputs):
        return float(forward_jit(*inputs).block_until_ready())

    def value_and_grad(*inputs):
        value, grads = grad_jit(*inputs)
        return float(value), [np.asarray(g.block_until_ready()) for g in grads]

    return convert, forward, value_and_grad, f"JAX {jax.__version__} jit(value_and_grad), CPU"


def autograd_tools(workload, n_params):
    import autograd
    import autograd.numpy as anp

    loss = numpy_like_losses(anp)[workload]
    gradient = autograd.value_and_grad(lambda *a: loss(*a), argnum=list(range(n_params)))

    def value_and_grad(*inputs):
        value, grads = gradient(*inputs)
        return float(value), list(grads)

    return list, (lambda *inputs: float(loss(*inputs))), value_and_grad, "HIPS autograd"


PEERS = {"PyTorch": torch_tools, "JAX": jax_tools, "autograd": autograd_tools}
