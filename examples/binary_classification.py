"""Binary classification of scikit-learn's breast cancer data (569 tumours, 30 features, malignant
or benign) with a 30-16-1 MLP: tanh hidden layer, sigmoid output and binary cross-entropy, with
gradients that adcompiler derives and a compiled Adam step.

Training uses the fused loss `nn.binary_cross_entropy_with_logits(z, y)`, which is stable for any
logit z; the example shows that it equals the notes' two-step form
`nn.binary_cross_entropy(nn.sigmoid(z), y)`, in value and in gradient.

Run: python examples/binary_classification.py [--epochs 30] [--hidden 16] [--batch-size 32]
"""
import sys

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import adcompiler
import mlp  # examples/mlp.py: the compiled step and the training loop
from adcompiler import nn


def logits(W1, b1, W2, b2, X):
    """The output layer before its sigmoid: X (batch, 30) -> (batch, 1)."""
    return nn.dense(nn.tanh(nn.dense(X, W1, b1)), W2, b2)


def loss(W1, b1, W2, b2, X, y):
    """Binary cross-entropy of the sigmoid output, in the fused form that takes the logits."""
    return nn.binary_cross_entropy_with_logits(logits(W1, b1, W2, b2, X), y)


def loss_two_steps(W1, b1, W2, b2, X, y):
    """The same loss as the notes write it: probabilities first, then binary cross-entropy."""
    return nn.binary_cross_entropy(nn.sigmoid(logits(W1, b1, W2, b2, X)), y)


train_step = mlp.make_train_step(loss)


def predict(W1, b1, W2, b2, X):
    """1 (malignant) where the predicted probability exceeds 1/2, that is where the logit is positive."""
    return (logits(W1, b1, W2, b2, X) > 0.0).astype(np.float64)


def accuracy(params, X, y):
    return float(np.mean(predict(*params, X) == y))


def load_data(seed):
    """(X_train, X_test, y_train, y_test): features standardised with the training statistics,
    labels a column (n, 1) of 0.0 and 1.0 like the network's output."""
    data = load_breast_cancer()
    y = (data.target == 0).astype(np.float64).reshape(-1, 1)  # scikit-learn's 0 is malignant
    X_train, X_test, y_train, y_test = train_test_split(data.data, y, test_size=0.2, random_state=seed,
                                                        stratify=data.target)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return (X_train - mean) / std, (X_test - mean) / std, y_train, y_test


def init_params(rng, n_in, hidden):
    return mlp.init_params(rng, n_in, hidden, 1, "tanh", "sigmoid")


def train(epochs=30, hidden=16, batch_size=32, lr=3e-3, seed=0, data=None, log=print):
    """Train; return (parameters, history of (epoch, train loss, test accuracy)). `data` is
    load_data's tuple (a subset in the tests); `log` (print, or None) shows the set-up and progress."""
    X_train, X_test, y_train, y_test = load_data(seed) if data is None else data
    rng = np.random.default_rng(seed)

    def evaluate(params):
        test_accuracy = accuracy(params, X_test, y_test)
        return (test_accuracy,), f"test accuracy {test_accuracy:.3f}"

    if log:
        log(f"breast cancer: {len(X_train)} training and {len(X_test)} test tumours, 30 standardised features; "
            f"MLP 30-{hidden}-1 with tanh and a sigmoid output, binary cross-entropy, "
            f"Adam (lr {lr}), batches of {batch_size}")
    params, history, _ = mlp.train(train_step, init_params(rng, X_train.shape[1], hidden), X_train, y_train,
                                   evaluate, epochs, batch_size, lr, rng, log)
    return params, history


def main(argv=None):
    options = mlp.parser(__doc__, epochs=30, hidden=16, batch_size=32, lr=3e-3).parse_args(argv)
    X_train, X_test, y_train, y_test = data = load_data(options.seed)
    params, history = mlp.timed_train(train, options, data)

    # The fused loss and the notes' sigmoid-then-cross-entropy agree, and so do their gradients
    # (jit=False: run adcompiler's generated code as plain NumPy, with no compilation).
    fused, fused_grads = adcompiler.value_and_grad(loss, wrt=mlp.PARAMS, jit=False)(*params, X_test, y_test)
    two_steps, two_steps_grads = adcompiler.value_and_grad(loss_two_steps, wrt=mlp.PARAMS, jit=False)(
        *params, X_test, y_test)
    largest = max(float(np.max(np.abs(a - b))) for a, b in zip(fused_grads, two_steps_grads))
    print(f"test loss: binary_cross_entropy_with_logits(z, y) = {fused:.12f}")
    print(f"           binary_cross_entropy(sigmoid(z), y)    = {two_steps:.12f}"
          f"  (largest gradient difference {largest:.1e})")
    print(f"train accuracy {accuracy(params, X_train, y_train):.3f}")
    print(f"final test accuracy: {history[-1][2]:.3f} "
          f"(always answering 'benign' would score {np.mean(y_test == 0.0):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
