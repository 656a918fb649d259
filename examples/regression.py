"""Regression on scikit-learn's diabetes data (442 patients, 10 features, a disease-progression
score) with a 10-32-1 tanh MLP whose gradients adcompiler derives: trained once with the mean
squared error and once with the mean absolute error, each with a compiled Adam step.

Features and target are standardised with the training set's mean and standard deviation, so
predicting the mean has a training MSE of 1. The table ends with scikit-learn's linear least
squares for reference: this data set is nearly linear, and a small network does about as well.

Run: python examples/regression.py [--epochs 50] [--hidden 32] [--batch-size 32] [--lr 1e-3]
"""
import sys
import time

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

import mlp  # examples/mlp.py: the compiled step and the training loop
from adcompiler import nn


def predict(W1, b1, W2, b2, X):
    """The network's output for a batch: X (batch, 10) -> (batch, 1)."""
    return nn.dense(nn.tanh(nn.dense(X, W1, b1)), W2, b2)


def mse_loss(W1, b1, W2, b2, X, y):
    return nn.mse(predict(W1, b1, W2, b2, X), y)


def mae_loss(W1, b1, W2, b2, X, y):
    return nn.mae(predict(W1, b1, W2, b2, X), y)


LOSSES = {"mse": mse_loss, "mae": mae_loss}


TRAIN_STEPS = {name: mlp.make_train_step(loss) for name, loss in LOSSES.items()}


def load_data(seed):
    """(X_train, X_test, y_train, y_test), standardised; y is a column (n, 1) like the output."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y.reshape(-1, 1), test_size=0.2, random_state=seed)
    x_mean, x_std = X_train.mean(axis=0), X_train.std(axis=0)
    y_mean, y_std = y_train.mean(), y_train.std()
    return ((X_train - x_mean) / x_std, (X_test - x_mean) / x_std,
            (y_train - y_mean) / y_std, (y_test - y_mean) / y_std)


def init_params(rng, n_in, hidden):
    return mlp.init_params(rng, n_in, hidden, 1, "tanh", "identity")


def errors(prediction, y):
    """(MSE, MAE) of a prediction."""
    return float(np.mean((prediction - y) ** 2)), float(np.mean(np.abs(prediction - y)))


def train(loss="mse", epochs=50, hidden=32, batch_size=32, lr=1e-3, seed=0, data=None, log=print):
    """Train with `loss` ("mse" or "mae"); return (parameters, history of (epoch, train loss,
    test MSE, test MAE)). `data` is load_data's tuple (a subset in the tests)."""
    X_train, X_test, y_train, y_test = load_data(seed) if data is None else data
    rng = np.random.default_rng(seed)

    def evaluate(params):
        test_mse, test_mae = errors(predict(*params, X_test), y_test)
        return (test_mse, test_mae), f"test MSE {test_mse:.4f}  test MAE {test_mae:.4f}"

    params, history, _ = mlp.train(TRAIN_STEPS[loss], init_params(rng, X_train.shape[1], hidden), X_train, y_train,
                                   evaluate, epochs, batch_size, lr, rng, log, prefix=f"{loss.upper()} ")
    return params, history


def main(argv=None):
    options = mlp.parser(__doc__, epochs=50, hidden=32, batch_size=32, lr=1e-3).parse_args(argv)
    X_train, X_test, y_train, y_test = data = load_data(options.seed)
    print(f"diabetes: {len(X_train)} training and {len(X_test)} test patients, 10 standardised features; "
          f"MLP 10-{options.hidden}-1 with tanh, Adam (lr {options.lr}), batches of {options.batch_size}")
    results = {}
    for loss in LOSSES:
        start = time.perf_counter()
        params, _ = train(loss, options.epochs, options.hidden, options.batch_size, options.lr, options.seed, data)
        results[loss] = (errors(predict(*params, X_train), y_train), errors(predict(*params, X_test), y_test),
                         time.perf_counter() - start)

    print(f"\n{'trained with':<14}{'train MSE':>10}{'test MSE':>10}{'train MAE':>11}{'test MAE':>10}{'seconds':>9}")
    (train_mse, train_mae), (test_mse, test_mae) = errors(0.0 * y_train, y_train), errors(0.0 * y_test, y_test)
    print(f"{'(the mean)':<14}{train_mse:>10.4f}{test_mse:>10.4f}{train_mae:>11.4f}{test_mae:>10.4f}")
    for loss, ((train_mse, train_mae), (test_mse, test_mae), seconds) in results.items():
        print(f"{loss.upper():<14}{train_mse:>10.4f}{test_mse:>10.4f}{train_mae:>11.4f}{test_mae:>10.4f}"
              f"{seconds:>9.1f}")
    linear = LinearRegression().fit(X_train, y_train)
    (train_mse, train_mae), (test_mse, test_mae) = (errors(linear.predict(X_train), y_train),
                                                    errors(linear.predict(X_test), y_test))
    print(f"{'(linear)':<14}{train_mse:>10.4f}{test_mse:>10.4f}{train_mae:>11.4f}{test_mae:>10.4f}")
    print("(standardised target; the first run of each loss includes its compilation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
