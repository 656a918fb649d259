"""What a specialisation runs: its module as plain Python at once, and the same module with its Numba
kernels once Numba has compiled them, in a background thread, so that no call waits on Numba.

Both versions run the same generated source, so they give the same results up to the rounding of
the math library (NumPy's SIMD functions against Numba's libm calls: a few ulps). Once compiled, the
background thread times one call of each on the first call's arguments and keeps the faster: a loop
whose body is a few whole-array statements on large arrays can run faster as NumPy than as a kernel
(a measured cost model; `state` says what was measured). A failure to compile warns and keeps the
plain version. `ADCOMPILER_COMPILE=sync` compiles before the first call and always runs the kernels
(benchmarks, and tests that must run them).
"""
from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Callable

from .compile import compile_module, has_kernels

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
        if not (jit and has_kernels(source)):
            self.module, self.state = compile_module(source, stem, jit), "plain" if not jit else "plain (no loop: nothing to compile)"
        elif os.environ.get(COMPILE_ENVIRONMENT_VARIABLE, "background") == "sync" or warm is None:
            self.module, self.state = compile_module(source, stem, True), "kernels"
        else:
            self.module, self.state = compile_module(source, stem, False), "compiling"
            self.thread = threading.Thread(target=self._compile, args=(warm,), daemon=True,
                                           name=f"adcompiler compiling {stem}")
            self.thread.start()

    def _compile(self, warm: Callable) -> None:
        try:
            module = compile_module(self.source, self.stem, True)
            warm(module)
        except Exception as error:  # anything Numba raises: the plain version goes on
            self.state = f"plain: compiling the kernels failed ({type(error).__name__}: {error})"
            warnings.warn(f"adcompiler: {self.stem}: compiling the Numba kernels failed, so the plain NumPy "
                          f"version keeps running ({type(error).__name__}: {error})", RuntimeWarning, stacklevel=1)
            return
        kernels, plain = _timed(warm, module), _timed(warm, self.module)
        if kernels <= plain:
            self.module, self.state = module, f"kernels (measured {kernels * 1e3:.3g} ms a call, plain {plain * 1e3:.3g} ms)"
        else:
            self.state = f"plain (measured {plain * 1e3:.3g} ms a call, kernels {kernels * 1e3:.3g} ms)"

    def wait(self) -> "Executable":
        """Wait for the background compilation (if any) to end."""
        if self.thread is not None:
            self.thread.join()
        return self


def _timed(run: Callable, module) -> float:
    """Seconds of the faster of two calls `run(module)`."""
    times = []
    for _ in range(2):
        start = time.perf_counter()
        run(module)
        times.append(time.perf_counter() - start)
    return min(times)
