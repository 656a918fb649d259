"""Multi-label classification: every example may carry several of 5 labels at once. A 20-32-5 MLP
has one sigmoid output per label and is trained with binary cross-entropy on each label (the
lecture notes' multi-label recipe), with gradients that adcompiler derives and a compiled Adam step.

The data are scikit-learn's make_multilabel_classification (1000 documents, 20 word counts,
5 labels, about 2 labels each, random_state fixed). Reported: each label's accuracy, the subset
accuracy (all 5 labels right) and the Hamming loss (the fraction of wrong labels).

Run: python examples/multilabel.py [--epochs 20] [--hidden 32] [--batch-size 32]
"""
import sys

import numpy as np
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import train_test_split

import mlp  # examples/mlp.py: the compiled step and the training loop
from adcompiler import nn

N_FEATURES, N_LABELS = 20, 5


def logits(W1, b1, W2, b2, X):
    """One logit per label: X (batch, 20) -> (batch, 5)."""
    return nn.dense(nn.tanh(nn.dense(X, W1, b1)), W2, b2)


def loss(W1, b1, W2, b2, X, Y):
    """Binary cross-entropy of every label's sigmoid output, averaged over labels and examples."""
    return nn.binary_cross_entropy_with_logits(logits(W1, b1, W2, b2, X), Y)


train_step = mlp.make_train_step(loss)


def predict(W1, b1, W2, b2, X):
    """Each label is on where its probability exceeds 1/2, that is where its logit is positive."""
    return (logits(W1, b1, W2, b2, X) > 0.0).astype(np.float64)


def scores(prediction, Y):
    """(accuracy of each label, subset accuracy, Hamming loss)."""
    right = prediction == Y
    return right.mean(axis=0), float(np.mean(right.all(axis=1))), float(np.mean(~right))


def load_data(seed, n_samples=1000):
    """(X_train, X_test, Y_train, Y_test): standardised word counts and 0/1 label matrices."""
    X, Y = make_multilabel_classification(n_samples=n_samples, n_features=N_FEATURES, n_classes=N_LABELS,
                                          n_labels=2, random_state=seed)
    X_train, X_test, Y_train, Y_test = train_test_split(X.astype(np.float64), Y.astype(np.float64),
                                                        test_size=0.2, random_state=seed)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return (X_train - mean) / std, (X_test - mean) / std, Y_train, Y_test


def init_params(rng, n_in, hidden, n_out):
    return mlp.init_params(rng, n_in, hidden, n_out, "tanh", "sigmoid")


def train(epochs=20, hidden=32, batch_size=32, lr=3e-3, seed=0, data=None, log=print):
    """Train; return (parameters, history of (epoch, train loss, test Hamming loss)). `data` is
    load_data's tuple (a subset in the tests); `log` (print, or None) shows the set-up and progress."""
    X_train, X_test, Y_train, Y_test = load_data(seed) if data is None else data
    rng = np.random.default_rng(seed)

    def evaluate(params):
        _, subset, hamming = scores(predict(*params, X_test), Y_test)
        return (hamming,), f"test Hamming loss {hamming:.4f}  subset accuracy {subset:.3f}"

    if log:
        log(f"multi-label: {len(X_train)} training and {len(X_test)} test examples, {N_FEATURES} features, "
            f"{N_LABELS} labels ({Y_train.sum(axis=1).mean():.2f} on average); MLP {N_FEATURES}-{hidden}-"
            f"{N_LABELS} with tanh, a sigmoid and binary cross-entropy per label, Adam (lr {lr})")
    params, history, _ = mlp.train(train_step, init_params(rng, X_train.shape[1], hidden, Y_train.shape[1]),
                                   X_train, Y_train, evaluate, epochs, batch_size, lr, rng, log)
    return params, history


def main(argv=None):
    options = mlp.parser(__doc__, epochs=20, hidden=32, batch_size=32, lr=3e-3).parse_args(argv)
    X_train, X_test, Y_train, Y_test = data = load_data(options.seed)
    params, history = mlp.timed_train(train, options, data)

    per_label, subset, hamming = scores(predict(*params, X_test), Y_test)
    # Reference: answer each label with its more frequent value in the training set.
    majority = np.broadcast_to(Y_train.mean(axis=0) > 0.5, Y_test.shape).astype(np.float64)
    base_label, base_subset, base_hamming = scores(majority, Y_test)
    print(f"\n{'test set':<22}" + "".join(f"{'label ' + str(k):>9}" for k in range(N_LABELS)))
    print(f"{'label frequency':<22}" + "".join(f"{f:>9.3f}" for f in Y_test.mean(axis=0)))
    print(f"{'accuracy, majority':<22}" + "".join(f"{a:>9.3f}" for a in base_label))
    print(f"{'accuracy, network':<22}" + "".join(f"{a:>9.3f}" for a in per_label))
    print(f"subset accuracy {subset:.3f} (majority answer {base_subset:.3f})")
    print(f"final test Hamming loss: {hamming:.4f} (majority answer {base_hamming:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
