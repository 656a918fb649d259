"""Data-parallel gradients: `data_parallel(vg, batch=("X", "Y"), client=None, shards=None)` is called
like `vg` (a `grad` or `value_and_grad` of a loss) and returns what it returns, computed by splitting
the batch arguments along their first axis into shards, running `vg` on each shard in parallel and
combining the shards' results into the whole batch's.

How they combine is decided from the loss's IR when its shards' signature is first compiled
(decompose.py): a sum over the batch adds the shards' losses and gradients, a mean (and a mean
plus terms that do not depend on the batch) weights them by n_s / n; any other loss is refused with
a CompileError. The result equals the whole-batch call up to the rounding of a sum in another order.

Where the shards run: `client=None`, on threads of this process (NumPy's array operations and BLAS
release the GIL; adcompiler's Numba kernels are compiled without `nogil`, so a loss whose work is in
kernels gains little: pass a process pool); a `concurrent.futures.Executor` (a ProcessPoolExecutor,
say), as its tasks; a `dask.distributed.Client`, as tasks on its workers, which Dask reruns on
another worker when one dies. A process or worker receives `vg` pickled (portable.py: the generated
source of the shards' signature, compiled here first), imports it once from its cache folder (the
same module and Numba cache where the folder is shared) and never needs the user's source.
"""
from __future__ import annotations

import os
import pickle
import threading
from concurrent.futures import Executor, ThreadPoolExecutor

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
        n = self._batch_size(originals)
        # At least two examples a shard: a shard of one would have a new type (an axis of length 1).
        if self.shards is None:  # fixed at the first call: a restarted worker does not change the split
            self.shards = self._workers()
        count = max(1, min(self.shards, n // 2))
        bounds = np.linspace(0, n, count + 1).round().astype(int)
        pieces = [tuple(value[start:stop] if i in self.batch else value for i, value in enumerate(originals))
                  for start, stop in zip(bounds[:-1], bounds[1:])]
        kind = {self._combination(piece) for piece in pieces}.pop()  # one function: one answer
        results = self._run(pieces)
        weights = [1.0 if kind == "sum" else (stop - start) / n for start, stop in zip(bounds[:-1], bounds[1:])]
        return trees.tree_map(lambda *leaves: _weighted(leaves, weights), results[0], *results[1:])

    def _batch_size(self, originals) -> int:
        sizes = {}
        for i in self.batch:
            value = originals[i]
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
            built, _ = self.vg._specialise_call(types, originals, values)
            batch = leaf_positions(list(types), self.batch)
            self._combinations[types] = combination(built.primal, batch, f"data_parallel({self.vg.title})")
        return self._combinations[types]

    def _workers(self) -> int:
        if self.client is None:
            return os.cpu_count() or 1
        if isinstance(self.client, Executor):
            return getattr(self.client, "_max_workers", None) or os.cpu_count() or 1
        return max(1, len(self.client.scheduler_info()["workers"]))

    def _run(self, pieces: list) -> list:
        """vg of each piece, in order, where `client` says."""
        if self.client is None and len(pieces) == 1:
            return [self.vg(*pieces[0])]
        if self.client is None:
            with self._lock:
                if self._threads is None or self._threads._max_workers < len(pieces):
                    self._threads = ThreadPoolExecutor(len(pieces), thread_name_prefix="adcompiler shard")
            return [future.result() for future in [self._threads.submit(self.vg, *piece) for piece in pieces]]
        portable = pickle.dumps(self.vg)
        if isinstance(self.client, Executor):
            futures = [self.client.submit(_shard, portable, piece) for piece in pieces]
            return [future.result() for future in futures]
        futures = [self.client.submit(_shard, portable, piece, pure=False) for piece in pieces]
        return self.client.gather(futures)


def _shard(portable: bytes, piece: tuple):
    """What a worker runs: the pickled function (an api.Loaded) of one shard."""
    return pickle.loads(portable)(*piece)


def _weighted(leaves: tuple, weights: list):
    """The sum of the shards' `leaves` weighted by `weights`, of the leaves' own kind."""
    total = leaves[0] * weights[0]
    for leaf, weight in zip(leaves[1:], weights[1:]):
        total = total + leaf * weight
    return type(leaves[0])(total) if isinstance(leaves[0], (float, np.generic)) else total
