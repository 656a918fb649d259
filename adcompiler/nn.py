"""The lecture notes' building blocks of a multi-layer perceptron, as plain NumPy functions that
adcompiler differentiates and compiles (and that run as they are without it).

Activations act elementwise, `softmax` along the last axis (a batch holds one example a row).
Losses average over the batch. The fused forms (`binary_cross_entropy_with_logits`,
`softmax_cross_entropy`) take logits and are stable for any magnitude; the plain forms take
probabilities and clip them away from 0 and 1. Optimisers return the updated parameter and state.
"""
import numpy as np


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

def sgd_momentum(param, grad, velocity, lr, momentum=0.9):
    """One step of gradient descent with momentum: (new param, new velocity)."""
    velocity = momentum * velocity - lr * grad
    return param + velocity, velocity


def adam(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step (`step` counts from 1): (new param, new m, new v)."""
    m = beta1 * m + (1.0 - beta1) * grad
    v = beta2 * v + (1.0 - beta2) * grad * grad
    m_hat = m / (1.0 - beta1 ** step)
    v_hat = v / (1.0 - beta2 ** step)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
