"""Train the MLP of examples/train_mlp.py (scikit-learn's digits, a parameter tree, Adam) data-parallel
on a Dask LocalCluster of two worker processes: each batch is split in two, the halves' gradients
are computed on the workers by adcompiler.data_parallel (the compiled gradient travels to them
pickled, as its generated source) and combined into the whole batch's, which equals
the single-process gradient; the Adam update runs here, compiled. Same progress bar and lines.

Run: python examples/train_mlp_dask.py [--epochs 30] [--hidden 128] [--batch-size 64] [--workers 2]
(needs pip install -e '.[distributed,examples]').
"""
import sys
import time

import numpy as np
from distributed import Client, LocalCluster

import adcompiler
import mlp  # examples/mlp.py: the training loop and the command line, shared with the other examples
import train_mlp  # the loss, the data and the prediction of the single-process run
from adcompiler import nn

adam_step = adcompiler.jit(nn.adam_step)


def make_train_step(client):
    """A step (params, state, (X, Y), lr) -> (loss, params, state) whose gradient is computed on
    `client`'s workers, one shard of the batch each."""
    loss_and_grads = adcompiler.data_parallel(train_mlp.loss_and_grads, batch=("X", "Y"), client=client)

    def train_step(params, state, batch, lr):
        X, Y = batch
        value, grads = loss_and_grads(params, X, Y)
        params, state = adam_step(params, grads, state, lr)
        return value, params, state
    return train_step


def train(client, epochs=30, hidden=128, batch_size=64, lr=3e-3, seed=0, log=print):
    """train_mlp.train with the gradients on `client`: (parameters, history, median seconds a step)."""
    X_train, X_test, Y_train, Y_test = train_mlp.load_data(seed)
    rng = np.random.default_rng(seed)
    params = nn.init_mlp(rng, [X_train.shape[1], hidden, 10])

    def evaluate(params):
        accuracy = float(np.mean(train_mlp.predict(params, X_test) == np.argmax(Y_test, axis=1)))
        return (accuracy,), f"test accuracy {accuracy:.3f}"

    params, history, step_seconds = mlp.train_tree(make_train_step(client), params, X_train, Y_train, evaluate,
                                                   epochs, batch_size, lr, rng, log)
    return params, history, float(np.median(step_seconds))


def main(argv=None):
    parser = mlp.parser(__doc__, epochs=30, hidden=128, batch_size=64, lr=3e-3)
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the LocalCluster")
    options = parser.parse_args(argv)
    print(f"digits: 1797 images of 8x8 pixels, 10 classes; MLP 64-{options.hidden}-10 with ReLU, "
          f"softmax cross-entropy and Adam (lr {options.lr}), batches of about {options.batch_size}, "
          f"each split over {options.workers} Dask worker processes")
    with LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        start = time.perf_counter()
        _, history, step_seconds = train(client, options.epochs, options.hidden, options.batch_size, options.lr,
                                         options.seed)
        total = time.perf_counter() - start
    print(f"final test accuracy: {history[-1][2]:.3f}")
    print(f"time per training step (gradient of about {options.batch_size} examples on {options.workers} workers, "
          f"Adam update here): {step_seconds * 1e6:.0f} us; whole run {total:.1f} s including compilation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
