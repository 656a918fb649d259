"""What a specialisation runs: its module as plain Python at once, and the same module with its Numba
kernels once Numba has compiled them, in a background thread, so that no call waits on Numba.

Both versions run the same generated source, so they give the same results up to the rounding of
the math library (NumPy's SIMD functions against Numba's libm calls: a few ulps). Once compiled, the
background thread chooses per region, by measurement (the cost model): each kernel that plain Python
calls is timed against its plain twin (the same function from the plain module) on the arguments
it received in the first call, and the faster is bound in the module (generated code calls kernels
by their module-level names, so that rebinds the region). A loop whose body is a few whole-array
statements on large arrays can run faster as NumPy than as a kernel, while a scalar loop runs
faster as a kernel. Kernels that pass lists (tapes) to each other are decided together: they stay
kernels unless the plain version of the whole call is faster. `state` says what was measured. A
failure to compile warns and keeps the plain version. Where Numba's disk cache already holds every
kernel of the module (a second process), the first call runs the kernels, which Numba loads in a
moment, and the measurements are made in the background all the same, on that module. Compiling and
measuring begin once the first call has returned (`called`, which a caller that made the
specialisation for a call must call): they do not compete with the first call for the interpreter
(Numba's compiler holds the GIL), and measurements do not load the kernels a second time (a module
of their own would, under Numba's lock). `ADCOMPILER_COMPILE=sync`
compiles before the first call and always runs the kernels (benchmarks, and tests that must run them).
"""
from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Callable

import numpy as np

from .compile import compile_module, has_kernels, kernels_cached

COMPILE_ENVIRONMENT_VARIABLE = "ADCOMPILER_COMPILE"


class Executable:
    """`module` is the module to run now; `state` says which and why: "plain" (no kernels, or
    jit=False), "compiling", "kernels", "kernels (measured ...)", "plain (measured ...)", or
    "plain: <the error>"."""

    def __init__(self, source: str, stem: str, jit: bool, warm: Callable | None = None):
        """`warm(module)` runs one call with a module (in the background: on copies of the first
        call's arguments), which compiles its kernels for exactly those argument types."""
        self.source, self.stem = source, stem
        self.thread = None
        self.first_call = threading.Event()  # set by `called`: the background waits for it
        self.first_call.set()
        if not (jit and has_kernels(source)):
            self.module, self.state = compile_module(source, stem, jit), "plain" if not jit else "plain (no loop: nothing to compile)"
        elif os.environ.get(COMPILE_ENVIRONMENT_VARIABLE, "background") == "sync" or warm is None:
            self.module, self.state = compile_module(source, stem, True), "kernels"
        else:
            self.plain = self.module = compile_module(source, stem, False)
            self.state = "compiling"
            if kernels_cached(source, stem):  # Numba loads them in a moment: run them from the first call
                self._load_cached()
            # compiled, or measured, once the first call has returned: Numba's compiler holds the GIL
            # for most of its work, so compiling beside the first call of the plain version would
            # make it wait (ADBench GMM's, 1.8 s alone, took 3.4 s so)
            self.first_call.clear()
            self.thread = threading.Thread(target=self._compile, args=(warm,), daemon=True,
                                           name=f"adcompiler compiling {stem}")
            self.thread.start()

    def _load_cached(self) -> None:
        """The module with kernels, whose machine code Numba's disk cache holds; if it cannot even be
        imported, the plain version runs until the background compilation says why."""
        try:
            self.module, self.state = compile_module(self.source, self.stem, True), "kernels (from Numba's disk cache)"
        except Exception:  # noqa: BLE001 (the background compilation reports it)
            pass

    def called(self) -> None:
        """The first call has returned (the background measurements, if they wait for it, begin)."""
        self.first_call.set()

    def _compile(self, warm: Callable) -> None:
        self.first_call.wait()
        try:
            # the module loaded from Numba's disk cache, else a new one: each module's kernels load or
            # compile on their own, so a second module would load them again (under Numba's lock)
            module = self.module if self.module is not self.plain else compile_module(self.source, self.stem, True)
            calls = _recorded_calls(warm, module)
        except Exception as error:  # anything Numba raises: the plain version goes on
            self.module = self.plain
            self.state = f"plain: compiling the kernels failed ({type(error).__name__}: {error})"
            warnings.warn(f"adcompiler: {self.stem}: compiling the Numba kernels failed, so the plain NumPy "
                          f"version keeps running ({type(error).__name__}: {error})", RuntimeWarning, stacklevel=1)
            return
        regions = _choose_regions(module, self.plain, calls)
        kernels, plain = _timed(lambda: warm(module)), _timed(lambda: warm(self.plain))
        whole = f"measured {kernels * 1e3:.3g} ms a call, plain {plain * 1e3:.3g} ms"
        if kernels <= plain:
            self.module, self.state = module, f"kernels ({whole}{regions})"
        else:
            self.module, self.state = self.plain, f"plain ({whole})"

    def wait(self) -> "Executable":
        """Wait for the background compilation (if any) to end."""
        self.first_call.set()
        if self.thread is not None:
            self.thread.join()
        return self


def _timed(run: Callable[[], object]) -> float:
    """Seconds of the faster of two calls `run()`."""
    times = []
    for _ in range(2):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _recorded_calls(warm: Callable, module) -> dict:
    """For each kernel of `module` that plain Python calls during `warm(module)` (which compiles
    it), copies of the arguments of its first call, and whether a list went in or out."""
    kernels = {name: value for name, value in vars(module).items() if hasattr(value, "py_func")}
    calls = {}

    def recording(name, kernel):
        def call(*args):
            copies = tuple(_copied(a) for a in args)
            results = kernel(*args)
            passes_lists = any(_is_list(v) for v in (*args, *(results if isinstance(results, tuple) else (results,))))
            calls.setdefault(name, (copies, passes_lists))
            return results
        return call

    for name, kernel in kernels.items():
        setattr(module, name, recording(name, kernel))
    try:
        warm(module)
    finally:
        for name, kernel in kernels.items():
            setattr(module, name, kernel)
    return calls


def _choose_regions(module, plain, calls: dict) -> str:
    """Binds in `module` the plain twin of each recorded kernel that passes no list and is measured
    slower than the twin; the measurements, as `state` prints them."""
    lines = []
    for name, (args, passes_lists) in calls.items():
        if passes_lists:
            continue
        kernel, twin = getattr(module, name), getattr(plain, name)
        kernel_time = _timed(lambda: kernel(*(_copied(a) for a in args)))
        twin_time = _timed(lambda: twin(*(_copied(a) for a in args)))
        faster = "kernel" if kernel_time <= twin_time else "plain"
        if faster == "plain":
            setattr(module, name, twin)
        lines.append(f"{name}: {faster} ({kernel_time * 1e3:.3g} ms as a kernel, {twin_time * 1e3:.3g} ms plain)")
    return "".join(f"; {line}" for line in lines)


def _copied(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _is_list(value) -> bool:
    return isinstance(value, list) or type(value).__name__ == "List"  # a Python list or Numba's typed list
