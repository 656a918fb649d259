"""Binary classification of scikit-learn's breast cancer data (569 tumours, 30 features, malignant
or benign) with a 30-16-1 MLP: tanh hidden layer, sigmoid output and binary cross-entropy, with
gradients that adcompiler derives and a compiled Adam step.

Training uses the fused loss `nn.binary_cross_entropy_with_logits(z, y)`, which is stable for any
logit z; the example shows that it equals the notes' two-step form
`nn.binary_cross_entropy(nn.sigmoid(z), y)`, in value and in gradient.

Run: python examples/binary_classification.py [--epochs 30] [--hidden 16] [--batch-size 32]
"""
import argparse
import sys
import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import adcompiler
from adcompiler import nn

PARAMS = ("W1", "b1", "W2", "b2")


def logits(W1, b1, W2, b2, X):
    """The output layer before its sigmoid: X (batch, 30) -> (batch, 1)."""
    return nn.dense(nn.tanh(nn.dense(X, W1, b1)), W2, b2)


def loss(W1, b1, W2, b2, X, y):
    """Binary cross-entropy of the sigmoid output, in the fused form that takes the logits."""
    return nn.binary_cross_entropy_with_logits(logits(W1, b1, W2, b2, X), y)


def loss_two_steps(W1, b1, W2, b2, X, y):
    """The same loss as the notes write it: probabilities first, then binary cross-entropy."""
    return nn.binary_cross_entropy(nn.sigmoid(logits(W1, b1, W2, b2, X)), y)


loss_and_grads = adcompiler.value_and_grad(loss, wrt=PARAMS)


@adcompiler.jit
def train_step(W1, b1, W2, b2, mW1, vW1, mb1, vb1, mW2, vW2, mb2, vb2, X, y, step, lr):
    """Forward, backward and Adam update of one batch, all in compiled code."""
    value, (gW1, gb1, gW2, gb2) = loss_and_grads(W1, b1, W2, b2, X, y)
    W1, mW1, vW1 = nn.adam(W1, gW1, mW1, vW1, step, lr)
    b1, mb1, vb1 = nn.adam(b1, gb1, mb1, vb1, step, lr)
    W2, mW2, vW2 = nn.adam(W2, gW2, mW2, vW2, step, lr)
    b2, mb2, vb2 = nn.adam(b2, gb2, mb2, vb2, step, lr)
    return value, W1, b1, W2, b2, mW1, vW1, mb1, vb1, mW2, vW2, mb2, vb2


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
    W1, b1 = nn.init_dense(rng, n_in, hidden, "tanh")
    W2, b2 = nn.init_dense(rng, hidden, 1, "sigmoid")
    return [W1, b1, W2, b2]


def batches(rng, n, batch_size):
    """A shuffled split of range(n) into batches of about `batch_size`, all of nearly one size:
    a batch of one example would have a new type (an axis of length 1) and compile a new step."""
    return np.array_split(rng.permutation(n), max(1, round(n / batch_size)))


def progress(done, total, width=30):
    filled = int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def train(epochs=30, hidden=16, batch_size=32, lr=3e-3, seed=0, data=None, log=print):
    """Train; return (parameters, history of (epoch, train loss, test accuracy)). `data` is
    load_data's tuple (a subset in the tests)."""
    X_train, X_test, y_train, y_test = load_data(seed) if data is None else data
    rng = np.random.default_rng(seed)
    params = init_params(rng, X_train.shape[1], hidden)
    state = [np.zeros_like(p) for p in params for _ in (0, 1)]
    history, step = [], 0
    with threadpool_limits(limits=1):  # small matrices: one BLAS thread is faster
        for epoch in range(1, epochs + 1):
            losses = []
            for batch in batches(rng, len(X_train), batch_size):
                step += 1
                value, *rest = train_step(*params, *state, X_train[batch], y_train[batch], float(step), lr)
                params, state = rest[:4], rest[4:]
                losses.append(value)
            test_accuracy = accuracy(params, X_test, y_test)
            history.append((epoch, float(np.mean(losses)), test_accuracy))
            if log:
                log(f"\repoch {epoch:3d}/{epochs} {progress(epoch, epochs)} train loss {np.mean(losses):.4f}  "
                    f"test accuracy {test_accuracy:.3f}", end="\n" if epoch == epochs else "", flush=True)
    return params, history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)

    data = load_data(options.seed)
    X_train, X_test, y_train, y_test = data
    print(f"breast cancer: {len(X_train)} training and {len(X_test)} test tumours, 30 standardised features; "
          f"MLP 30-{options.hidden}-1 with tanh and a sigmoid output, binary cross-entropy, "
          f"Adam (lr {options.lr}), batches of {options.batch_size}")
    start = time.perf_counter()
    params, history = train(options.epochs, options.hidden, options.batch_size, options.lr, options.seed, data)
    print(f"trained in {time.perf_counter() - start:.1f} s including compilation")

    # The fused loss and the notes' sigmoid-then-cross-entropy agree, and so do their gradients
    # (jit=False: run adcompiler's generated code as plain NumPy, with no compilation).
    fused, fused_grads = adcompiler.value_and_grad(loss, wrt=PARAMS, jit=False)(*params, X_test, y_test)
    two_steps, two_steps_grads = adcompiler.value_and_grad(loss_two_steps, wrt=PARAMS, jit=False)(
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
