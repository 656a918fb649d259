"""The lecture notes' building blocks of a multi-layer perceptron, as plain NumPy functions that
adcompiler differentiates and compiles (and that run as they are without it).

Activations act elementwise, `softmax` along the last axis (a batch holds one example a row).
Losses average over the batch. The fused forms (`binary_cross_entropy_with_logits`,
`softmax_cross_entropy`) take logits and are stable for any magnitude; the plain forms take
probabilities and clip them away from 0 and 1.

A model's parameters are one tree (`init_mlp` gives a list of {"W": ..., "b": ...} layers; any dict,
list, tuple or namedtuple of arrays will do): `grad` of a loss of it gives a tree of the same
structure, and the optimisers update an array or a tree alike (tree in, tree out, compiled too).
"""
import numpy as np

from .trees import tree_map


# ---------------------------------------------------------------- activations

def identity(z):
    return z


def sigmoid(z):
    """1 / (1 + exp(-z)), written with tanh so that no exp overflows."""
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def tanh(z):
    return np.tanh(z)


def relu(z):
    return np.maximum(z, 0.0)


def softmax(z):
    """exp(z) / sum(exp(z)) along the last axis, shifted by the maximum so that no exp overflows."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(z):
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


# ---------------------------------------------------------------- layers

def dense(x, W, b):
    """A fully connected layer: x (batch, n_in) @ W (n_in, n_out) + b (n_out)."""
    return x @ W + b


def init_dense(rng, n_in, n_out, activation="relu"):
    """(W, b) for a dense layer: He initialisation before ReLU, Glorot otherwise; zero biases."""
    scale = np.sqrt(2.0 / n_in) if activation == "relu" else np.sqrt(2.0 / (n_in + n_out))
    return rng.normal(0.0, scale, size=(n_in, n_out)), np.zeros(n_out)


def init_mlp(rng, sizes, activation="relu", output="softmax"):
    """The parameters of a multi-layer perceptron with layer widths `sizes` (inputs first): a list
    of {"W": (n_in, n_out), "b": (n_out,)} dicts, initialised for `activation` before the last
    layer and for `output` at it (see init_dense)."""
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W, b = init_dense(rng, n_in, n_out, output if k == len(sizes) - 2 else activation)
        layers.append({"W": W, "b": b})
    return layers


def mlp(params, x, activation=relu):
    """The logits of the perceptron `params` (init_mlp's list of layers) for the batch x: every
    layer but the last followed by `activation`, the last one linear."""
    for layer in params[:-1]:
        x = activation(dense(x, layer["W"], layer["b"]))
    return dense(x, params[-1]["W"], params[-1]["b"])


# ---------------------------------------------------------------- losses

def mse(prediction, target):
    return np.mean((prediction - target) ** 2)


def mae(prediction, target):
    return np.mean(np.abs(prediction - target))


def binary_cross_entropy(p, y, eps=1e-12):
    """Mean of -(y log p + (1 - y) log(1 - p)) over all outputs, for probabilities p."""
    p = np.clip(p, eps, 1.0 - eps)
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def binary_cross_entropy_with_logits(z, y):
    """binary_cross_entropy(sigmoid(z), y), computed stably from the logits z."""
    return np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))


def categorical_cross_entropy(p, y, eps=1e-12):
    """Mean over the batch of -sum(y log p) along the last axis, for probabilities p."""
    return -np.mean(np.sum(y * np.log(np.clip(p, eps, 1.0)), axis=-1))


def softmax_cross_entropy(z, y):
    """categorical_cross_entropy(softmax(z), y), computed stably from the logits z."""
    return -np.mean(np.sum(y * log_softmax(z), axis=-1))


# ---------------------------------------------------------------- optimisers

# Each takes arrays, or trees of one structure (the parameters, their gradients, the state), and
# returns the same: the update of one leaf is a function of its own, mapped over the trees.

def sgd_momentum(param, grad, velocity, lr, momentum=0.9):
    """One step of gradient descent with momentum: (new param, new velocity)."""
    velocity = tree_map(_velocity, velocity, grad, lr=lr, momentum=momentum)
    return tree_map(_plus, param, velocity), velocity


def adam(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step (`step` counts from 1): (new param, new m, new v)."""
    m = tree_map(_moment, m, grad, beta=beta1)
    v = tree_map(_second_moment, v, grad, beta=beta2)
    return tree_map(_adam_update, param, m, v, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps), m, v


def init_adam(params):
    """Adam's state for the parameters `params` (an array or a tree): zero moments of their
    structure and the number of steps taken."""
    return {"step": 0.0, "m": tree_map(np.zeros_like, params), "v": tree_map(np.zeros_like, params)}


def adam_step(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on a tree of parameters with its state (init_adam's): (new params, new state)."""
    step = state["step"] + 1.0
    params, m, v = adam(params, grads, state["m"], state["v"], step, lr, beta1, beta2, eps)
    return params, {"step": step, "m": m, "v": v}


def _velocity(velocity, grad, lr, momentum):
    return momentum * velocity - lr * grad


def _plus(a, b):
    return a + b


def _moment(m, grad, beta):
    return beta * m + (1.0 - beta) * grad


def _second_moment(v, grad, beta):
    return beta * v + (1.0 - beta) * grad * grad


def _adam_update(param, m, v, step, lr, beta1, beta2, eps):
    m_hat = m / (1.0 - beta1 ** step)
    v_hat = v / (1.0 - beta2 ** step)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)
