"""Train a multi-layer perceptron on scikit-learn's handwritten digits (8x8 images, 10 classes)
with gradients that adcompiler derives from the plain Python loss below, and with the whole training
step (forward, backward and Adam update) compiled.

Run: python examples/train_mlp.py [--epochs 30] [--hidden 128] [--batch-size 64] [--show-code]
"""
import argparse
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import adcompiler
from adcompiler import nn


def loss(W1, b1, W2, b2, X, Y):
    """Softmax cross-entropy of a 64-128-10 ReLU network on a batch (one-hot labels Y)."""
    hidden = nn.relu(nn.dense(X, W1, b1))
    return nn.softmax_cross_entropy(nn.dense(hidden, W2, b2), Y)


loss_and_grads = adcompiler.value_and_grad(loss, wrt=("W1", "b1", "W2", "b2"))


@adcompiler.jit
def train_step(W1, b1, W2, b2, mW1, vW1, mb1, vb1, mW2, vW2, mb2, vb2, X, Y, step, lr):
    """Forward, backward and Adam update of one batch, all in compiled code."""
    value, (gW1, gb1, gW2, gb2) = loss_and_grads(W1, b1, W2, b2, X, Y)
    W1, mW1, vW1 = nn.adam(W1, gW1, mW1, vW1, step, lr)
    b1, mb1, vb1 = nn.adam(b1, gb1, mb1, vb1, step, lr)
    W2, mW2, vW2 = nn.adam(W2, gW2, mW2, vW2, step, lr)
    b2, mb2, vb2 = nn.adam(b2, gb2, mb2, vb2, step, lr)
    return value, W1, b1, W2, b2, mW1, vW1, mb1, vb1, mW2, vW2, mb2, vb2


def predict(W1, b1, W2, b2, X):
    return np.argmax(nn.relu(X @ W1 + b1) @ W2 + b2, axis=1)


def load_data(seed):
    digits = load_digits()
    X = digits.data / 16.0
    Y = np.eye(10)[digits.target]
    return train_test_split(X, Y, test_size=0.2, random_state=seed, stratify=digits.target)


def progress(done, total, width=30):
    filled = int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def train(epochs=30, hidden=128, batch_size=64, lr=3e-3, seed=0, log=print):
    """Train and return (parameters, history of (epoch, train loss, test accuracy), seconds per step)."""
    X_train, X_test, Y_train, Y_test = load_data(seed)
    rng = np.random.default_rng(seed)
    W1, b1 = nn.init_dense(rng, X_train.shape[1], hidden, "relu")
    W2, b2 = nn.init_dense(rng, hidden, 10, "softmax")
    params = [W1, b1, W2, b2]
    state = [np.zeros_like(p) for p in params for _ in (0, 1)]
    history, step, step_seconds = [], 0, []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X_train))
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        losses = []
        for done, batch in enumerate(batches, 1):
            step += 1
            start = time.perf_counter()
            value, *rest = train_step(*params, *state, X_train[batch], Y_train[batch], float(step), lr)
            step_seconds.append(time.perf_counter() - start)
            params, state = rest[:4], rest[4:]
            losses.append(value)
            if log and (done == len(batches) or done % 5 == 0):
                log(f"\repoch {epoch:3d}/{epochs} {progress(done, len(batches))} loss {np.mean(losses):.4f}",
                    end="", flush=True)
        accuracy = np.mean(predict(*params, X_test) == np.argmax(Y_test, axis=1))
        history.append((epoch, float(np.mean(losses)), float(accuracy)))
        if log:
            log(f"  test accuracy {accuracy:.3f}")
    # The first steps include compilation; the median is the steady-state cost of a step.
    return params, history, float(np.median(step_seconds))


def save_curve(history, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"(matplotlib is not installed: no curve saved; pip install -e '.[examples]')")
        return
    epochs, losses, accuracies = zip(*history)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, losses)
    left.set(xlabel="epoch", ylabel="training loss", yscale="log", title="softmax cross-entropy")
    right.plot(epochs, accuracies)
    right.set(xlabel="epoch", ylabel="test accuracy", title="digits, 64-128-10 MLP")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"saved the loss and accuracy curves to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curve", default="mlp_training.png", help="where to save the PNG curve")
    parser.add_argument("--show-code", action="store_true", help="print the generated code of the loss")
    options = parser.parse_args(argv)

    if options.show_code:
        X_train, _, Y_train, _ = load_data(options.seed)
        rng = np.random.default_rng(options.seed)
        W1, b1 = nn.init_dense(rng, 64, options.hidden)
        W2, b2 = nn.init_dense(rng, options.hidden, 10, "softmax")
        adcompiler.show(loss, W1, b1, W2, b2, X_train[:options.batch_size], Y_train[:options.batch_size],
                        wrt=("W1", "b1", "W2", "b2"))
        return 0

    print(f"digits: 1797 images of 8x8 pixels, 10 classes; MLP 64-{options.hidden}-10 with ReLU, "
          f"softmax cross-entropy and Adam (lr {options.lr}), batches of {options.batch_size}")
    start = time.perf_counter()
    # The matrices are small: one BLAS thread is faster than several (and far faster on a busy machine).
    with threadpool_limits(limits=1):
        _, history, step_seconds = train(options.epochs, options.hidden, options.batch_size, options.lr,
                                         options.seed)
    total = time.perf_counter() - start
    print(f"final test accuracy: {history[-1][2]:.3f}")
    print(f"time per training step (forward, backward and Adam update of {options.batch_size} examples, "
          f"compiled): {step_seconds * 1e6:.0f} us; whole run {total:.1f} s including compilation")
    save_curve(history, options.curve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
