"""What the MLP examples share: a two-layer network's parameters (W1, b1, W2, b2), its training step
compiled whole (forward, backward and Adam update) for any loss of them, shuffled batches, a progress
bar (tqdm), the training loops (of those four arrays, and of a parameter tree with
`train_tree`), and the command line's common options. The examples import it as `mlp`:
`python examples/x.py` puts examples/ on the path.
"""
import argparse
import functools
import time

import numpy as np
from threadpoolctl import threadpool_limits

import adcompiler
from adcompiler import nn

PARAMS = ("W1", "b1", "W2", "b2")


def init_params(rng, n_in, hidden, n_out, activation, output):
    """[W1, b1, W2, b2] of an n_in-hidden-n_out network, initialised for its two activations."""
    W1, b1 = nn.init_dense(rng, n_in, hidden, activation)
    W2, b2 = nn.init_dense(rng, hidden, n_out, output)
    return [W1, b1, W2, b2]


def make_train_step(loss):
    """The compiled training step for `loss(W1, b1, W2, b2, X, Y)`: forward, backward and Adam
    update of one batch. adcompiler reads `loss_and_grads` from the closure when it compiles
    train_step, and computes the gradients inside the compiled code."""
    loss_and_grads = adcompiler.value_and_grad(loss, wrt=PARAMS)

    @adcompiler.jit
    def train_step(W1, b1, W2, b2, mW1, vW1, mb1, vb1, mW2, vW2, mb2, vb2, X, Y, step, lr):
        value, (gW1, gb1, gW2, gb2) = loss_and_grads(W1, b1, W2, b2, X, Y)
        W1, mW1, vW1 = nn.adam(W1, gW1, mW1, vW1, step, lr)
        b1, mb1, vb1 = nn.adam(b1, gb1, mb1, vb1, step, lr)
        W2, mW2, vW2 = nn.adam(W2, gW2, mW2, vW2, step, lr)
        b2, mb2, vb2 = nn.adam(b2, gb2, mb2, vb2, step, lr)
        return value, W1, b1, W2, b2, mW1, vW1, mb1, vb1, mW2, vW2, mb2, vb2

    return train_step


def batches(rng, n, batch_size):
    """A shuffled split of range(n) into batches of about `batch_size`, all of nearly one size:
    a batch of one example would have a new type (an axis of length 1) and compile a new step."""
    return np.array_split(rng.permutation(n), max(1, round(n / batch_size)))


def progress(total, description, log):
    """A progress bar of `total` steps (tqdm's, on stderr), or one that shows nothing when `log` is
    None or tqdm is not installed; `update(n)`, `set_postfix_str(text)` and `close()`."""
    bar = _tqdm(log) if log is not None else None
    return bar(total=total, desc=description, leave=False, dynamic_ncols=True) if bar else _Silent()


@functools.lru_cache(maxsize=None)
def _tqdm(log):
    """tqdm's bar class, or None (said once to `log`) when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        log("(tqdm is not installed: no progress bar; pip install -e '.[examples]')")
        return None
    return tqdm


class _Silent:
    def update(self, n=1):
        pass

    def set_postfix_str(self, text):
        pass

    def close(self):
        pass


def train(train_step, params, X, Y, evaluate, epochs, batch_size, lr, rng, log=print, prefix="",
          line_per_epoch=False):
    """Adam from zero moments, `epochs` passes over shuffled batches of (X, Y); after each epoch,
    `evaluate(params)` gives (a tuple of metrics, their text). Returns (parameters, history of
    (epoch, train loss, *metrics), the seconds of every step).

    `log` (print, or None for silence) shows a progress bar over the epochs and the last epoch's
    line; with `line_per_epoch`, a bar over each epoch's batches and a line per epoch."""
    state = [np.zeros_like(p) for p in params for _ in (0, 1)]

    def step(params, state, batch, step_number):
        value, *rest = train_step(*params, *state, *batch, float(step_number), lr)
        return value, rest[:4], rest[4:]
    return _loop(step, params, state, X, Y, evaluate, epochs, batch_size, rng, log, prefix, line_per_epoch)


def train_tree(train_step, params, X, Y, evaluate, epochs, batch_size, lr, rng, log=print):
    """Like `train`, for a step `train_step(params, state, (X, Y), lr) -> (loss, params, state)`
    of a parameter tree and its Adam state (nn.init_adam), with a line per epoch."""
    def step(params, state, batch, step_number):
        return train_step(params, state, batch, lr)
    return _loop(step, params, nn.init_adam(params), X, Y, evaluate, epochs, batch_size, rng, log, "", True)


def _loop(step, params, state, X, Y, evaluate, epochs, batch_size, rng, log, prefix, line_per_epoch):
    """The epochs of `train` and `train_tree`: `step(params, state, (X, Y) of a batch, its number from 1)`
    gives (loss, params, state)."""
    history, step_seconds = [], []
    epochs_bar = None if line_per_epoch else progress(epochs, f"{prefix}epochs", log)
    # Small matrices: one BLAS thread is faster than several, and far faster on a busy machine.
    with threadpool_limits(limits=1):
        for epoch in range(1, epochs + 1):
            losses, epoch_batches = [], batches(rng, len(X), batch_size)
            bar = progress(len(epoch_batches), f"{prefix}epoch {epoch}/{epochs}", log) if line_per_epoch else epochs_bar
            for batch in epoch_batches:
                start = time.perf_counter()
                value, params, state = step(params, state, (X[batch], Y[batch]), len(step_seconds) + 1)
                step_seconds.append(time.perf_counter() - start)
                losses.append(value)
                if line_per_epoch:
                    bar.update(1)
                    bar.set_postfix_str(f"train loss {np.mean(losses):.4f}")
            metrics, text = evaluate(params)
            history.append((epoch, float(np.mean(losses)), *metrics))
            if line_per_epoch:
                bar.close()
            else:
                bar.update(1)
                bar.set_postfix_str(f"train loss {np.mean(losses):.4f}  {text}")
            if log and (line_per_epoch or epoch == epochs):
                log(f"{prefix}epoch {epoch:3d}/{epochs}  train loss {np.mean(losses):.4f}  {text}")
    if epochs_bar is not None:
        epochs_bar.close()
    return params, history, step_seconds


# ---------------------------------------------------------------- the examples' command line

def parser(doc, epochs, hidden, batch_size, lr):
    """The command line the examples share, with their defaults: --epochs, --hidden, --batch-size,
    --lr and --seed; described by the first line of the example's docstring `doc`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--hidden", type=int, default=hidden)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def timed_train(train, options, data):
    """An example's train(epochs, hidden, batch_size, lr, seed, data) with the command line's
    `options`, then a line saying how long it took."""
    start = time.perf_counter()
    result = train(options.epochs, options.hidden, options.batch_size, options.lr, options.seed, data)
    print(f"trained in {time.perf_counter() - start:.1f} s including compilation")
    return result
