"""Data-parallel gradients: `data_parallel(vg, batch=("X", "Y"), client=None, shards=None)` is called
like `vg` (a `grad` or `value_and_grad` of a loss) and returns what it returns, computed by splitting
the batch arguments along their first axis into shards, running `vg` on each shard in parallel and
combining the shards' results into the whole batch's.

How they combine is decided from the loss's IR when its shards' signature is first compiled
(decompose.py): a sum over the batch adds the shards' losses and gradients, a mean (and a mean
plus terms that do not depend on the batch) weights them by n_s / n; any other loss is refused with
a CompileError. The result equals the whole-batch call up to the rounding of a sum in another order.

Where the shards run: `client=None`, on threads of this process (NumPy's array operations and BLAS
release the GIL; a Numba kernel only if compiled with `nogil`), with BLAS limited to
cores // shards threads during the call (threadpoolctl) so that the shards' BLAS threads do not
outnumber the cores; a `concurrent.futures.Executor` (a ProcessPoolExecutor, say), as its tasks;
a `dask.distributed.Client`, as tasks on its workers, which Dask reruns on another worker when one
dies. A process or worker receives `vg` pickled (portable.py: the generated source of the shards'
signature, compiled here first), imports it once from its cache folder (the same module and Numba
cache where the folder is shared) and never needs the user's source. Each shard multiplies its own
results by its weight (in parallel); this process adds them, in shard order, into one new array a leaf.

A fixed data set (full-batch training, the same batch evaluated often) is placed once:
`data_parallel(vg, client=c).place(X=X, Y=Y)` returns a callable of the other arguments (the
parameters), and only they travel each call (class `Placed`).
"""
from __future__ import annotations

import os
import pickle
import sys
import tempfile
import threading
import weakref
from contextlib import contextmanager
from concurrent.futures import CancelledError, Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import trees
from .api import Loaded, Transformed
from .decompose import combination
from .pipeline import leaf_positions


def data_parallel(vg: Transformed, batch=("X", "Y"), client=None, shards: int | None = None) -> "DataParallel":
    """`vg` (made by `grad` or `value_and_grad`) computed shard by shard over the arguments named in
    `batch` (their first axis is the batch), on threads (`client=None`), an Executor's workers or
    a dask.distributed Client's; `shards` defaults to the number of cores or workers at the first call."""
    return DataParallel(vg, batch, client, shards)


class DataParallel:
    """Callable like `vg`, with the same results (see the module docstring)."""

    def __init__(self, vg: Transformed, batch, client, shards):
        if not isinstance(vg, Transformed) or vg.kind not in ("grad", "value_and_grad"):
            raise TypeError(f"data_parallel needs a function made by grad or value_and_grad, not {vg!r}")
        if isinstance(vg, Loaded):
            raise TypeError(f"data_parallel needs the original {vg.title}, not one unpickled: it reads the loss's "
                            f"IR to decide how the shards combine")
        names = (batch,) if isinstance(batch, str) else tuple(batch)
        for name in names:
            if name not in vg.names:
                raise ValueError(f"batch={batch!r}: {vg.name} has no parameter {name!r} (it has {vg.names})")
            if vg.names.index(name) in vg.wrt:
                raise ValueError(f"batch={batch!r}: {name!r} is differentiated; the batch arguments must be data")
        if not names:
            raise ValueError("batch names no argument")
        if shards is not None and (not isinstance(shards, int) or shards < 1):
            raise ValueError(f"shards must be a positive integer, not {shards!r}")
        self.vg, self.client, self.shards = vg, client, shards
        self.batch = tuple(vg.names.index(name) for name in names)
        self._combinations: dict = {}  # argument types of a shard -> "sum" or "mean"
        self._threads = None
        self._lock = threading.Lock()
        self.__name__, self.__doc__, self.__signature__ = vg.__name__, vg.__doc__, vg.signature

    def __call__(self, *args, **kwargs):
        _, originals, _ = self.vg.arguments(args, kwargs)
        bounds = self._bounds(self._batch_size({i: originals[i] for i in self.batch}))
        pieces = [tuple(value[start:stop] if i in self.batch else value for i, value in enumerate(originals))
                  for start, stop in bounds]
        weights = self._weights(pieces, bounds)
        return _combined(self._run(pieces, weights))

    def place(self, **batch) -> "Placed":
        """The batch arguments (all of them, by name) placed once where the shards run: a callable of
        the other arguments (in `vg`'s order, by position or name) whose results are those of this
        call with the placed batch. For a fixed data set: only the other arguments (the parameters)
        travel each call. The arrays are copied (into memory maps for a ProcessPoolExecutor, onto
        the Client's workers for Dask): changing them afterwards changes nothing. `close()` (or a
        `with` block) frees the copies."""
        return Placed(self, batch)

    def _bounds(self, n: int) -> list:
        """(start, stop) of each shard of a batch of `n`: nearly equal, at least two examples each (a
        shard of one would have a new type: an axis of length 1)."""
        if self.shards is None:  # fixed at the first call: a restarted worker does not change the split
            self.shards = self._workers()
        count = max(1, min(self.shards, n // 2))
        edges = np.linspace(0, n, count + 1).round().astype(int)
        return [(int(start), int(stop)) for start, stop in zip(edges[:-1], edges[1:])]

    def _weights(self, pieces: list, bounds: list) -> list:
        """What each shard's results are multiplied by before they are added: 1 for a sum over the
        batch, n_s / n for a mean."""
        kind = {self._combination(piece) for piece in pieces}.pop()  # one function: one answer
        n = bounds[-1][1]
        return [1.0 if kind == "sum" else (stop - start) / n for start, stop in bounds]

    def _batch_size(self, batch: dict) -> int:
        """The common length of the batch arguments' first axes (`batch`: position -> argument)."""
        sizes = {}
        for i in self.batch:
            value = batch[i]
            if not isinstance(value, np.ndarray) or value.ndim == 0:
                what = "a 0-D array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
                raise TypeError(f"the batch argument {self.vg.names[i]!r} must be an array whose first axis is the "
                                f"batch, not {what}")
            sizes[self.vg.names[i]] = len(value)
        if len(set(sizes.values())) > 1:
            raise ValueError(f"the batch arguments have different batch sizes (first axes): {sizes}")
        return next(iter(sizes.values()))

    def _combination(self, piece: tuple) -> str:
        """How shards of this signature combine, decided once from the IR of its specialisation
        (compiled here, so that workers load what this process wrote to the cache folder)."""
        types, originals, values = self.vg.arguments(piece, {})
        if types not in self._combinations:
            built, executable = self.vg._specialise_call(types, originals, values)
            executable.called()  # no call here: the kernels compile at once, into the cache folder
            batch = leaf_positions(list(types), self.batch)
            self._combinations[types] = combination(built.primal, batch, f"data_parallel({self.vg.title})")
        return self._combinations[types]

    def _workers(self) -> int:
        if self.client is None:
            return os.cpu_count() or 1
        if isinstance(self.client, Executor):
            return getattr(self.client, "_max_workers", None) or os.cpu_count() or 1
        return max(1, len(self.client.scheduler_info()["workers"]))

    def _run(self, pieces: list, weights: list) -> list:
        """vg of each piece times its weight, in order, where `client` says."""
        if self.client is None and len(pieces) == 1:
            return [_weighted(self.vg(*pieces[0]), weights[0])]
        if self.client is None:
            with _blas_threads_shared_by(len(pieces)):
                return _gathered([self._thread_pool(len(pieces)).submit(_weighted_shard, self.vg, weight, *piece)
                                  for piece, weight in zip(pieces, weights)])
        portable = pickle.dumps(self.vg)
        if isinstance(self.client, Executor):
            return _gathered([self.client.submit(_shard, portable, weight, *piece)
                              for piece, weight in zip(pieces, weights)])
        return self.client.gather([self.client.submit(_shard, portable, weight, *piece, pure=False)
                                   for piece, weight in zip(pieces, weights)])

    def _thread_pool(self, count: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None or self._threads._max_workers < count:
                self._threads = ThreadPoolExecutor(count, thread_name_prefix="adcompiler shard")
            return self._threads


_BLAS = {"lock": threading.Lock(), "calls": 0, "limit": None, "controller": None}  # the calls that limit BLAS


@contextmanager
def _blas_threads_shared_by(shards: int):
    """BLAS limited to cores // shards threads (at least 1) while shards run on threads, so that
    the shards' BLAS threads do not outnumber the cores (with threadpoolctl installed; without it,
    set OMP_NUM_THREADS). The first of overlapping calls sets the limit, the last restores it."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        yield
        return
    with _BLAS["lock"]:
        if _BLAS["calls"] == 0:
            threads = max(1, (os.cpu_count() or 1) // shards)
            _BLAS["controller"] = _BLAS["controller"] or ThreadpoolController()
            _BLAS["limit"] = _BLAS["controller"].limit(limits=threads, user_api="blas")
        _BLAS["calls"] += 1
    try:
        yield
    finally:
        with _BLAS["lock"]:
            _BLAS["calls"] -= 1
            if _BLAS["calls"] == 0:
                _BLAS["limit"].restore_original_limits()


class Placed:
    """`DataParallel.place(**batch)`: called with the arguments that are not the batch, it returns
    what the DataParallel returns for them with the placed batch. Where the shards run:

    - threads: views of one copy of the batch;
    - a ProcessPoolExecutor: the copy is a memory-mapped file (in /dev/shm where there is one) that
      each worker process maps once, read-only (and keeps mapped until it exits: the memory is
      freed then, the file removed by `close()`); a task carries the file's name and the shard's rows;
    - any other Executor: the shards travel with each task, as without `place`;
    - a dask.distributed Client: shard s is scattered to worker s (of the workers at the first call)
      and its task asks for that worker. A worker that dies takes its shards with it (Dask cannot
      recompute scattered data): the call scatters them again from this process's copy, to the
      workers there are, and runs the step again (at most `RETRIES` times)."""

    RETRIES = 3

    def __init__(self, parallel: DataParallel, batch: dict):
        names = [parallel.vg.names[i] for i in parallel.batch]
        if sorted(batch) != sorted(names):
            raise TypeError(f"place() takes the batch arguments {names} by name, not {sorted(batch)}")
        self.parallel, self.vg = parallel, parallel.vg
        self.others = [name for name in self.vg.names if name not in names]
        by_position = {parallel.vg.names.index(name): value for name, value in batch.items()}
        self.bounds = parallel._bounds(parallel._batch_size(by_position))
        self._paths: dict = {}  # ProcessPoolExecutor: position -> the file of its memory map
        self.copies = {i: self._copy(i, value) for i, value in by_position.items()}
        self._scattered: list | None = None  # Dask: per shard, (worker, {position: future})
        self._finalizer = weakref.finalize(self, _remove_files, self._paths)
        self.__name__ = f"{parallel.__name__}_placed"

    def _copy(self, position: int, value: np.ndarray) -> np.ndarray:
        if not _is_process_pool(self.parallel.client):
            return np.array(value, copy=True)
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        handle, path = tempfile.mkstemp(prefix="adcompiler-batch-", suffix=".npy", dir=folder)
        os.close(handle)
        self._paths[position] = path
        copy = np.lib.format.open_memmap(path, mode="w+", dtype=value.dtype, shape=value.shape)
        copy[...] = value
        copy.flush()
        return np.lib.format.open_memmap(path, mode="r")

    def __call__(self, *args, **kwargs):
        if self.copies is None:
            raise ValueError(f"{self.__name__}: the placed batch was freed by close()")
        if len(args) > len(self.others) or set(kwargs) - set(self.others[len(args):]):
            raise TypeError(f"{self.__name__}() takes the arguments that are not placed, each once: {self.others}")
        given = dict(zip(self.others, args), **kwargs)
        full = {**given, **{self.vg.names[i]: copy for i, copy in self.copies.items()}}
        _, originals, _ = self.vg.arguments((), full)
        pieces = [tuple(value[start:stop] if i in self.copies else value for i, value in enumerate(originals))
                  for start, stop in self.bounds]
        weights = self.parallel._weights(pieces, self.bounds)
        client = self.parallel.client
        if client is not None and not isinstance(client, Executor):
            return _combined(self._run_dask(originals, weights))
        if _is_process_pool(client):  # the workers map the rows of the files
            pieces = [tuple(_Rows(self._paths[i], start, stop) if i in self._paths else value
                            for i, value in enumerate(originals)) for start, stop in self.bounds]
        return _combined(self.parallel._run(pieces, weights))

    def _run_dask(self, originals: tuple, weights: list) -> list:
        client, portable = self.parallel.client, pickle.dumps(self.vg)
        for attempt in range(self.RETRIES + 1):
            self._scatter()
            futures = [client.submit(_shard, portable, weight,
                                     *(shard[i] if i in shard else value for i, value in enumerate(originals)),
                                     workers=[worker], allow_other_workers=True, pure=False)
                       for (worker, shard), weight in zip(self._scattered, weights)]
            try:
                return client.gather(futures)
            except CancelledError:  # a worker died with placed shards
                if attempt == self.RETRIES:
                    raise

    def _scatter(self):
        """Scatter the shards that no worker holds (all of them at the first call) to workers."""
        if self._scattered is not None and all(shard is not None and future.status == "finished"
                                               for _, shard in self._scattered for future in shard.values()):
            return
        client = self.parallel.client
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:  # all of them restarting
            client.wait_for_workers(1)
            workers = sorted(client.scheduler_info()["workers"])
        if self._scattered is None:
            self._scattered = [(workers[s % len(workers)], None) for s in range(len(self.bounds))]
        for s, ((worker, shard), (start, stop)) in enumerate(zip(self._scattered, self.bounds)):
            if shard is not None and all(future.status == "finished" for future in shard.values()):
                continue
            worker = worker if worker in workers else workers[s % len(workers)]
            shard = {i: client.scatter(copy[start:stop], workers=[worker], broadcast=False, hash=False)
                     for i, copy in self.copies.items()}
            self._scattered[s] = (worker, shard)

    def close(self):
        """Free the placed copies (memory maps, Dask's scattered shards)."""
        if self._scattered is not None:
            for _, shard in self._scattered:
                for future in (shard or {}).values():
                    future.release()
        self.copies, self._scattered = None, None
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass(frozen=True)
class _Rows:
    """Rows start:stop of the array saved (.npy) in the file at `path`: what a process maps."""

    path: str
    start: int
    stop: int


def _is_process_pool(client) -> bool:
    """Whether `client` is a ProcessPoolExecutor, whose module (and multiprocessing with it: 7 ms) is
    imported where one was made, not with adcompiler."""
    process = sys.modules.get("concurrent.futures.process")
    return process is not None and isinstance(client, process.ProcessPoolExecutor)


_MAPPED: dict = {}  # in a worker process: path -> the read-only memory map of that file


def _mapped(value):
    if not isinstance(value, _Rows):
        return value
    if value.path not in _MAPPED:
        _MAPPED[value.path] = np.lib.format.open_memmap(value.path, mode="r")
    return _MAPPED[value.path][value.start:value.stop]


def _remove_files(paths: dict):
    for path in paths.values():
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    paths.clear()


def _shard(portable: bytes, weight: float, *piece):
    """What a worker runs: the pickled function (an api.Loaded) of one shard, its results times `weight`."""
    return _weighted(pickle.loads(portable)(*map(_mapped, piece)), weight)


def _weighted_shard(vg, weight: float, *piece):
    return _weighted(vg(*piece), weight)


def _weighted(results, weight: float):
    """`results` (a tree) times `weight` (nothing to do for 1: a sum over the batch)."""
    return results if weight == 1.0 else trees.tree_map(lambda leaf: leaf * weight, results)


def _gathered(futures: list) -> list:
    return [future.result() for future in futures]


def _combined(results: list):
    """The shards' (weighted) results added leaf by leaf, in shard order."""
    return results[0] if len(results) == 1 else trees.tree_map(lambda *leaves: _sum(leaves), *results)


def _sum(leaves: tuple):
    """The sum of `leaves`, of the first's kind; arrays are added into the first sum, a new array."""
    total = leaves[0] + leaves[1]
    for leaf in leaves[2:]:
        if isinstance(total, np.ndarray) and total.ndim:
            np.add(total, leaf, out=total)
        else:
            total = total + leaf
    return type(leaves[0])(total) if isinstance(leaves[0], (float, np.generic)) else total
