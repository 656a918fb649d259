"""Compiled functions pickle and run where the user's source is not (a fresh process, a Dask worker);
data_parallel's shards combine into the whole batch's gradient (to 1e-12 of the single-process one)
on threads, a process pool and a Dask LocalCluster of two worker processes, which retries a step
whose worker was killed; losses that do not decompose over the batch are refused."""
import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import adcompiler
from adcompiler import CompileError, nn
from fd import fd_grad

REPO = Path(adcompiler.__file__).resolve().parent.parent
SEED = 18

USER_MODULE = textwrap.dedent("""\
    import numpy as np
    from adcompiler import nn

    SCALE = np.array([0.5, 2.0, 1.5])  # a global array: captured by the specialisation


    def loss(params, X, Y):
        return nn.softmax_cross_entropy(nn.mlp(params, X) * SCALE, Y)


    def predict(params, X):
        return np.argmax(nn.mlp(params, X), axis=1), np.sum(X)
    """)

CHILD = textwrap.dedent("""\
    import json, pickle, sys
    import numpy as np
    with open(sys.argv[1], "rb") as file:
        functions, args = pickle.load(file)
    assert "user_loss" not in sys.modules
    out = {}
    for name, function in functions.items():
        result = function(*args[:len(function.names)])
        result = result[1](2.0) if name == "vjp" else result
        out[name] = [np.asarray(leaf).tolist() for leaf in __import__("adcompiler").tree_leaves(result)]
    try:
        functions["grad"](args[0], args[1].astype(np.float32), args[2])
    except TypeError as error:
        out["refused"] = str(error)
    print(json.dumps(out))
    """)


def _leaves(result):
    return [np.asarray(leaf) for leaf in adcompiler.tree_leaves(result)]


def test_pickled_functions_run_in_a_process_without_the_users_source(tmp_path):
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "user_loss.py").write_text(USER_MODULE)
    sys.path.insert(0, str(folder))
    try:
        import user_loss
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("user_loss", None)
    rng = np.random.default_rng(SEED)
    params = nn.init_mlp(rng, [4, 5, 3])
    args = (params, rng.normal(size=(6, 4)), np.eye(3)[rng.integers(0, 3, 6)])
    functions = {"grad": adcompiler.grad(user_loss.loss), "value_and_grad": adcompiler.value_and_grad(user_loss.loss),
                 "vjp": adcompiler.vjp(user_loss.loss), "jit": adcompiler.jit(user_loss.predict)}
    here = {name: f(*args[:len(f.names)]) for name, f in functions.items()}
    here["vjp"] = here["vjp"][1](2.0)
    (tmp_path / "functions.pickle").write_bytes(pickle.dumps((functions, args)))
    (folder / "user_loss.py").unlink()  # the worker never sees the source
    (tmp_path / "child.py").write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO), "ADCOMPILER_CACHE_DIR": str(tmp_path / "empty cache")}
    done = subprocess.run([sys.executable, str(tmp_path / "child.py"), str(tmp_path / "functions.pickle")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    there = json.loads(done.stdout.strip().splitlines()[-1])
    for name, result in here.items():
        for mine, theirs in zip(_leaves(result), there[name], strict=True):
            np.testing.assert_allclose(theirs, mine, rtol=1e-12, atol=0)
    assert "was unpickled with the compiled signatures (params: [{'W': f64[n,n], 'b': f64[n]}" in there["refused"]
    assert "X: f32[n,n]" in there["refused"] and "call the original with such arguments" in there["refused"]


def test_an_unpickled_function_is_not_transformed_again(data):
    vg = adcompiler.value_and_grad(sum_of_squares)
    vg(*data)
    loaded = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(vg))))  # an unpickled one pickles too
    with pytest.raises(TypeError, match="without arguments shows the code of the signatures it has run"):
        adcompiler.show(loaded, print_it=False)
    assert_same(loaded(*data), vg(*data))
    assert loaded.specialisations.keys() == vg.specialisations.keys()
    assert "def sum_of_squares_value_and_grad(W, X, Y):" in adcompiler.show(loaded, print_it=False)
    with pytest.raises(TypeError, match="was unpickled"):
        adcompiler.grad(loaded)
    with pytest.raises(TypeError, match="not one unpickled"):
        adcompiler.data_parallel(loaded)


# ---------------------------------------------------------------- losses and their decomposition

def mlp_loss(params, X, Y):
    """The main demonstration's loss, with an L2 term that does not depend on the batch."""
    return nn.softmax_cross_entropy(nn.mlp(params, X), Y) + 1e-3 * np.sum(params[0]["W"] ** 2)


def sum_of_squares(W, X, Y):
    return np.sum((X @ W - Y) ** 2)


def weighted_by_size(W, X, Y):
    residual = X @ W - Y
    per_example = np.sum(residual * residual, axis=1)
    return 0.5 * np.sum(per_example) / X.shape[0] + np.mean(np.tanh(X[:, 0]) * W[0, 0]) - np.sum(W) / 3.0


def largest_error(W, X, Y):
    return np.max((X @ W - Y) ** 2)


def sum_plus_regulariser(W, X, Y):
    return np.sum((X @ W - Y) ** 2) + np.sum(W ** 2)


def mixes_examples(W, X, Y):
    return np.sum((X.T @ X) @ W) + np.sum(Y)


def batch_axis_moved(W, X, Y):
    return np.sum(np.max(X @ np.expand_dims(W, 0), axis=1)) + np.sum(Y)  # (1, n, 3): the max is over the batch


def normalised(W, X, Y):
    errors = np.sum((X @ W - Y) ** 2, axis=1)
    return np.sum(errors / np.sum(errors))


def per_sum(W, X, Y):
    return np.mean((X @ W - Y) ** 2) * np.sum(X)


GRADS = {f.__name__: adcompiler.grad(f, wrt="W") for f in (sum_of_squares, weighted_by_size, largest_error,
                                                             sum_plus_regulariser, mixes_examples, normalised,
                                                             per_sum, batch_axis_moved)}
MLP = adcompiler.value_and_grad(mlp_loss)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(SEED)
    return rng.normal(size=(4, 3)), rng.normal(size=(41, 4)), rng.normal(size=(41, 3))


@pytest.fixture(scope="module")
def mlp_data():
    rng = np.random.default_rng(SEED + 1)
    params = nn.init_mlp(rng, [8, 16, 4])
    return params, rng.normal(size=(50, 8)), np.eye(4)[rng.integers(0, 4, 50)]


def assert_same(got, expected):
    for mine, theirs in zip(_leaves(got), _leaves(expected), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape


@pytest.mark.parametrize("name", ["sum_of_squares", "weighted_by_size"])
@pytest.mark.parametrize("shards", [2, 3, 7])
def test_sums_and_means_combine_into_the_whole_batch_gradient(name, shards, data):
    whole = GRADS[name](*data)
    np.testing.assert_allclose(whole, fd_grad(globals()[name], data, 0), rtol=1e-7)  # independently right
    assert_same(adcompiler.data_parallel(GRADS[name], shards=shards)(*data), whole)


@pytest.mark.parametrize("name, message", [
    ("largest_error", "`max` of a value that depends on the batch"),
    ("sum_plus_regulariser", "a sum over the batch plus a term that does not depend on it"),
    ("mixes_examples", "`transpose` of a value that depends on the batch"),
    ("normalised", "a division by a sum over the batch"),
    ("per_sum", "a product of two sums over the batch"),
    ("batch_axis_moved", "a matrix product that mixes examples"),
])
def test_losses_that_do_not_decompose_are_refused(name, message, data):
    with pytest.raises(CompileError, match=message) as refusal:
        adcompiler.data_parallel(GRADS[name], shards=2)(*data)
    assert "test_distributed.py" in str(refusal.value) and "hint: data_parallel splits the batch" in str(refusal.value)


def test_bad_batch_arguments_are_refused(data):
    with pytest.raises(ValueError, match="has no parameter 'Z'"):
        adcompiler.data_parallel(GRADS["sum_of_squares"], batch=("X", "Z"))
    with pytest.raises(ValueError, match="'W' is differentiated"):
        adcompiler.data_parallel(GRADS["sum_of_squares"], batch=("W", "X"))
    with pytest.raises(ValueError, match="different batch sizes"):
        adcompiler.data_parallel(GRADS["sum_of_squares"], shards=2)(data[0], data[1], data[2][:-1])
    with pytest.raises(TypeError, match="'X' must be an array whose first axis is the batch, not a float"):
        adcompiler.data_parallel(GRADS["sum_of_squares"], shards=2)(data[0], 1.0, data[2])
    with pytest.raises(TypeError, match="grad or value_and_grad"):
        adcompiler.data_parallel(adcompiler.vjp(sum_of_squares))


def test_threads_and_a_process_pool_give_the_single_process_gradient(mlp_data):
    whole = MLP(*mlp_data)
    assert_same(adcompiler.data_parallel(MLP, shards=2)(*mlp_data), whole)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:  # fresh processes
        assert_same(adcompiler.data_parallel(MLP, client=pool)(*mlp_data), whole)
        params, X, Y = mlp_data
        with adcompiler.data_parallel(MLP, client=pool).place(X=X, Y=Y) as placed:
            (path,) = {placed._paths[1], placed._paths[2]} - {placed._paths[2]}
            assert_same(placed(params), whole)
            other = nn.init_mlp(np.random.default_rng(SEED + 2), [8, 16, 4])  # only the parameters change
            assert_same(placed(other), MLP(other, X, Y))
        assert not os.path.exists(path)  # close() removed the memory-mapped copies


def test_placed_data_on_threads_is_a_copy_and_gives_the_whole_batch_gradient(data, mlp_data):
    W, X, Y = data
    X_mine = X.copy()
    parallel = adcompiler.data_parallel(GRADS["weighted_by_size"], shards=3)
    placed = parallel.place(Y=Y, X=X_mine)
    X_mine[:] = 0.0  # changing the user's array afterwards changes nothing placed
    assert_same(placed(W), GRADS["weighted_by_size"](W, X, Y))
    assert_same(placed(W=2 * W), GRADS["weighted_by_size"](2 * W, X, Y))
    assert_same(parallel(W, X, Y), GRADS["weighted_by_size"](W, X, Y))  # the shipping call still works
    with ThreadPoolExecutor(2) as pool:  # an Executor of no known kind: the shards travel with the tasks
        other = adcompiler.data_parallel(GRADS["weighted_by_size"], client=pool, shards=3).place(X=X, Y=Y)
        assert_same(other(W), GRADS["weighted_by_size"](W, X, Y))
    with pytest.raises(TypeError, match=r"takes the batch arguments \['X', 'Y'\] by name"):
        parallel.place(X=X)
    with pytest.raises(TypeError, match="not placed, each once: \\['W'\\]"):
        placed(W, W=W)
    placed.close()
    with pytest.raises(ValueError, match="freed by close"):
        placed(W)


# ---------------------------------------------------------------- Dask

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_workers_give_the_single_process_gradient(client, mlp_data, data):
    assert_same(adcompiler.data_parallel(MLP, client=client)(*mlp_data), MLP(*mlp_data))
    assert_same(adcompiler.data_parallel(GRADS["weighted_by_size"], client=client, shards=4)(*data),
                GRADS["weighted_by_size"](*data))


def test_dask_workers_with_placed_data_give_the_single_process_gradient(client, mlp_data):
    params, X, Y = mlp_data
    with adcompiler.data_parallel(MLP, client=client).place(X=X, Y=Y) as placed:
        assert_same(placed(params), MLP(*mlp_data))
        holders = [set(client.who_has(list(shard.values())).values()) for _, shard in placed._scattered]
        assert len(holders) == 2 and holders[0] != holders[1]  # one shard on each worker
        other = nn.init_mlp(np.random.default_rng(SEED + 2), [8, 16, 4])
        assert_same(placed(other), MLP(other, X, Y))


class KillsAWorker:
    """A Client that kills (SIGKILL) one worker process of the cluster after submitting the shards
    of step `at`, before gathering them: Dask reruns that worker's tasks on another."""

    def __init__(self, client, at):
        self.client, self.at, self.steps, self.killed = client, at, 0, None

    def __getattr__(self, name):
        return getattr(self.client, name)

    def gather(self, futures):
        self.steps += 1
        if self.steps == self.at:
            processing = self.client.processing()
            busy = [address for address, keys in processing.items() if keys] or list(processing)
            self.killed = self.client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(self.killed, signal.SIGKILL)
        return self.client.gather(futures)


def train(vg, params, X, Y, steps, batch_size=25):
    state = nn.init_adam(params)
    for step in range(steps):
        batch = slice(step * batch_size % len(X), step * batch_size % len(X) + batch_size)
        _, grads = vg(params, X[batch], Y[batch])
        params, state = nn.adam_step(params, grads, state, 1e-2)
    return params


def test_a_killed_worker_loses_no_step(client, mlp_data):
    params, X, Y = mlp_data
    expected = train(MLP, params, X, Y, steps=6)
    faulty = KillsAWorker(client, at=3)
    got = train(adcompiler.data_parallel(MLP, client=faulty), params, X, Y, steps=6)
    assert faulty.killed is not None and faulty.steps == 6
    assert_same(got, expected)


def test_a_killed_worker_loses_no_step_with_placed_data(client, mlp_data):
    """The killed worker takes its scattered shard with it: the step scatters it again and reruns."""
    params, X, Y = mlp_data
    faulty = KillsAWorker(client, at=2)
    with adcompiler.data_parallel(MLP, client=faulty).place(X=X, Y=Y) as placed:
        got, expected = params, params
        for _ in range(4):
            got = nn.adam_step(got, placed(got)[1], nn.init_adam(got), 1e-2)[0]
            expected = nn.adam_step(expected, MLP(expected, X, Y)[1], nn.init_adam(expected), 1e-2)[0]
    assert faulty.killed is not None and faulty.steps == 5  # the step of the kill gathered twice
    assert_same(got, expected)


@pytest.mark.slow  # about 20 s: two compiled training steps and two epochs
def test_the_dask_example_trains_as_the_single_process_example(client):
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import train_mlp
        import train_mlp_dask
    finally:
        sys.path.remove(str(REPO / "examples"))
    params, history, _ = train_mlp_dask.train(client, epochs=2, hidden=32, log=None)
    expected_params, expected_history, _ = train_mlp.train(epochs=2, hidden=32, log=None)
    # The same gradients (to rounding) and Adam updates: the same training, to rounding.
    np.testing.assert_allclose(np.array(history), np.array(expected_history), rtol=1e-9)
    for mine, theirs in zip(_leaves(params), _leaves(expected_params), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-10)
    assert history[-1][2] > 0.5  # test accuracy after two epochs, far above chance (0.1)


def test_shards_on_threads_run_with_their_share_of_the_blas_threads(data, monkeypatch):
    """While two shards run on threads of a two-core machine BLAS has one thread, then its own again."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from adcompiler import distributed

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    seen, shard = [], distributed._weighted_shard
    monkeypatch.setattr(distributed, "_weighted_shard", lambda *args: seen.append(blas_threads()) or shard(*args))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert_same(adcompiler.data_parallel(GRADS["sum_of_squares"], shards=2)(*data), GRADS["sum_of_squares"](*data))
        assert blas_threads() and set(blas_threads()) == {2}
    assert len(seen) == 2 and all(set(threads) == {1} for threads in seen)
