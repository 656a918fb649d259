"""Train a multi-layer perceptron on scikit-learn's handwritten digits (8x8 images, 10 classes)
with gradients that adcompiler derives from the plain Python loss below, and with the whole training
step (forward, backward and Adam update) compiled. The network's parameters are one tree, a list of
{"W": ..., "b": ...} layers (nn.init_mlp), and the step takes (parameters, Adam's state, batch).

Run: python examples/train_mlp.py [--epochs 30] [--hidden 128] [--batch-size 64] [--show-code]
"""
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import adcompiler
import mlp  # examples/mlp.py: the training loop and the command line, shared with the other examples
from adcompiler import nn


def loss(params, X, Y):
    """Softmax cross-entropy of a ReLU network (the list of layers `params`) on a batch (one-hot Y)."""
    return nn.softmax_cross_entropy(nn.mlp(params, X), Y)


# The gradient with respect to `params` is a list of {"W", "b"} dicts too.
loss_and_grads = adcompiler.value_and_grad(loss)


@adcompiler.jit
def train_step(params, state, batch, lr):
    """One Adam step on a batch (X, Y), compiled whole: the gradients are computed in the compiled
    code, and nn.adam_step updates every leaf of the tree. Returns (loss, params, state)."""
    X, Y = batch
    value, grads = loss_and_grads(params, X, Y)
    params, state = nn.adam_step(params, grads, state, lr)
    return value, params, state


def predict(params, X):
    return np.argmax(nn.mlp(params, X), axis=1)


def load_data(seed):
    digits = load_digits()
    X = digits.data / 16.0
    Y = np.eye(10)[digits.target]
    return train_test_split(X, Y, test_size=0.2, random_state=seed, stratify=digits.target)


def train(epochs=30, hidden=128, batch_size=64, lr=3e-3, seed=0, log=print):
    """Train and return (parameters, history of (epoch, train loss, test accuracy), seconds per step)."""
    X_train, X_test, Y_train, Y_test = load_data(seed)
    rng = np.random.default_rng(seed)
    params = nn.init_mlp(rng, [X_train.shape[1], hidden, 10])

    def evaluate(params):
        accuracy = float(np.mean(predict(params, X_test) == np.argmax(Y_test, axis=1)))
        return (accuracy,), f"test accuracy {accuracy:.3f}"

    # The loop (mlp.train_tree): Adam's state from nn.init_adam (zero moments); each epoch,
    # train_step on every batch of a shuffled split of the training set, then evaluate; one BLAS
    # thread, a tqdm bar over each epoch's batches and a line per epoch.
    params, history, step_seconds = mlp.train_tree(train_step, params, X_train, Y_train, evaluate, epochs,
                                                   batch_size, lr, rng, log)
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
        params = nn.init_mlp(np.random.default_rng(options.seed), [64, options.hidden, 10])
        # The generated code takes the tree's leaves as arguments named after their paths
        # (params_0_W is params[0]["W"]); its header says which.
        adcompiler.show(loss, params, X_train[:options.batch_size], Y_train[:options.batch_size])
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
