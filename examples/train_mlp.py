"""Train a multi-layer perceptron on scikit-learn's handwritten digits (8x8 images, 10 classes)
with gradients that adcompiler derives from the plain Python loss below, and with the whole training
step (forward, backward and Adam update) compiled. The step's factory and the training loop are in
examples/mlp.py, shared with the other MLP examples.

Run: python examples/train_mlp.py [--epochs 30] [--hidden 128] [--batch-size 64] [--show-code]
"""
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import adcompiler
import mlp  # examples/mlp.py: the compiled step and the training loop, shared with the other examples
from adcompiler import nn


def loss(W1, b1, W2, b2, X, Y):
    """Softmax cross-entropy of a 64-128-10 ReLU network on a batch (one-hot labels Y)."""
    hidden = nn.relu(nn.dense(X, W1, b1))
    return nn.softmax_cross_entropy(nn.dense(hidden, W2, b2), Y)


# One training step, compiled whole by adcompiler.jit (mlp.make_train_step): the gradients that
# adcompiler.value_and_grad(loss, wrt=("W1", "b1", "W2", "b2")) derives, then nn.adam on each
# parameter, W1, mW1, vW1 = nn.adam(W1, gW1, mW1, vW1, step, lr), all in compiled code.
train_step = mlp.make_train_step(loss)


def predict(W1, b1, W2, b2, X):
    return np.argmax(nn.relu(X @ W1 + b1) @ W2 + b2, axis=1)


def load_data(seed):
    digits = load_digits()
    X = digits.data / 16.0
    Y = np.eye(10)[digits.target]
    return train_test_split(X, Y, test_size=0.2, random_state=seed, stratify=digits.target)


def train(epochs=30, hidden=128, batch_size=64, lr=3e-3, seed=0, log=print):
    """Train and return (parameters, history of (epoch, train loss, test accuracy), seconds per step)."""
    X_train, X_test, Y_train, Y_test = load_data(seed)
    rng = np.random.default_rng(seed)
    params = mlp.init_params(rng, X_train.shape[1], hidden, 10, "relu", "softmax")

    def evaluate(params):
        accuracy = float(np.mean(predict(*params, X_test) == np.argmax(Y_test, axis=1)))
        return (accuracy,), f"test accuracy {accuracy:.3f}"

    # The loop (mlp.train): each epoch, train_step on every batch of a shuffled split of the training
    # set (Adam's moments start at zero), then evaluate; one BLAS thread, a progress line per epoch.
    params, history, step_seconds = mlp.train(train_step, params, X_train, Y_train, evaluate, epochs, batch_size,
                                              lr, rng, log, line_per_epoch=True)
    # The first steps include compilation; the median is the steady-state cost of a step.
    return params, history, float(np.median(step_seconds))


def save_curve(history, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no curve saved; pip install -e '.[examples]')")
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
    parser = mlp.parser(__doc__, epochs=30, hidden=128, batch_size=64, lr=3e-3)
    parser.add_argument("--curve", default="mlp_training.png", help="where to save the PNG curve")
    parser.add_argument("--show-code", action="store_true", help="print the generated code of the loss")
    options = parser.parse_args(argv)

    if options.show_code:
        X_train, _, Y_train, _ = load_data(options.seed)
        rng = np.random.default_rng(options.seed)
        params = mlp.init_params(rng, 64, options.hidden, 10, "relu", "softmax")
        adcompiler.show(loss, *params, X_train[:options.batch_size], Y_train[:options.batch_size], wrt=mlp.PARAMS)
        return 0

    print(f"digits: 1797 images of 8x8 pixels, 10 classes; MLP 64-{options.hidden}-10 with ReLU, "
          f"softmax cross-entropy and Adam (lr {options.lr}), batches of about {options.batch_size}")
    start = time.perf_counter()
    _, history, step_seconds = train(options.epochs, options.hidden, options.batch_size, options.lr, options.seed)
    total = time.perf_counter() - start
    print(f"final test accuracy: {history[-1][2]:.3f}")
    print(f"time per training step (forward, backward and Adam update of about {options.batch_size} examples, "
          f"compiled): {step_seconds * 1e6:.0f} us; whole run {total:.1f} s including compilation")
    save_curve(history, options.curve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
