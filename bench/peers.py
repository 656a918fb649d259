"""The same workloads written for the peers: PyTorch (eager), JAX (jit of value_and_grad) and HIPS
autograd. Each builder returns (convert, forward, value_and_grad, note) on the peer's own arrays,
or raises ImportError when the peer is not installed."""
import os
import types

import numpy as np

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

    return {"W1": mlp1, "W2": mlp2, "W3": _with_module(W.recurrence_loss, xp), "W4": toy}


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

    loss = {**numpy_like_losses(jnp), "W3": recurrence}[workload]
    static = {"W3": (5,)}.get(workload, ())  # the loop count: reverse mode needs a static trip count
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
