"""Placement (backend/placement.py) and background compilation (backend/executable.py).

- A program without loops runs as NumPy: its module has no kernel, and a fresh process computing its
  gradient with jit=True never imports Numba.
- A loop becomes a Numba kernel with explicit inputs and outputs, in the forward and in the backward
  (its tape an output of one and an input of the other); array statements around it stay NumPy; `show`
  says which part runs where and why.
- jit="whole" compiles each generated function whole (the old behaviour), with the same results;
  so does placement when every statement is in a kernel.
- In the background mode, the first call returns before Numba has compiled the kernels (the plain
  version runs, and compiling begins once it has returned), later calls switch to the kernels, and both give the same results; where the plain
  version is measured faster it stays; a failure to compile warns and keeps the plain version
  running.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import adcompiler
from adcompiler.backend import executable
from fd import fd_grad

REPO = Path(adcompiler.__file__).resolve().parent.parent


def layer_loss(W, b, x):
    return np.sum(np.tanh(W @ x + b) ** 2)


def recurrence(x, w):
    h = np.tanh(x * w)
    s = 0.0
    for i in range(x.shape[0]):
        s = s * 0.5 + np.sin(h[i]) * x[i]
    return s + np.sum(h)


def kernels_of(source: str) -> list:
    return [line.split("(")[0][4:] for line in source.splitlines() if line.startswith("def ") and "_loop_" in line]


def test_a_program_without_loops_has_no_kernel():
    built = adcompiler.grad(layer_loss, wrt=(0, 1)).build_for(
        (adcompiler.api._argument(np.ones((3, 4)), "W", True)[0], adcompiler.api._argument(np.ones(3), "b", True)[0],
         adcompiler.api._argument(np.ones(4), "x", False)[0]))
    assert "\n@jit\n" not in built.source and not kernels_of(built.source)
    text = built.describe()
    placement = text[text.index("# where each part runs"):text.index("# generated Python")]
    assert "NumPy: whole-array statements" in placement and "Numba kernel" not in placement


def test_a_loop_is_a_kernel_in_the_forward_and_the_backward(rng):
    x, w = rng.uniform(-1, 1, 6), rng.uniform(0.5, 1.5, 6)
    text = adcompiler.show(recurrence, x, w, wrt=(0, 1), print_it=False)
    source = text[text.index("# generated Python"):]
    line = recurrence.__code__.co_firstlineno  # the `def`: tanh at +1, the loop at +3, the return at +5
    assert kernels_of(source) == [f"recurrence_forward_loop_{line + 3}", f"recurrence_backward_loop_{line + 3}"]
    placement = text[text.index("# where each part runs"):text.index("# generated Python")]
    assert f"recurrence_forward: line {line + 1}: NumPy" in placement
    assert f"recurrence_forward: lines {line + 3}-{line + 5}: Numba kernel" in placement
    for jit in (False, True, "whole"):
        gx, gw = adcompiler.grad(recurrence, wrt=(0, 1), jit=jit)(x, w)
        np.testing.assert_allclose(gx, fd_grad(recurrence, (x, w), 0), rtol=1e-6, err_msg=f"jit={jit}")
        np.testing.assert_allclose(gw, fd_grad(recurrence, (x, w), 1), rtol=1e-6, err_msg=f"jit={jit}")


def test_whole_mode_compiles_every_function():
    built = adcompiler.grad(recurrence, jit="whole").build_for(
        (adcompiler.api._argument(np.ones(3), "x", True)[0], adcompiler.api._argument(np.ones(3), "w", False)[0]))
    assert built.source.count("@jit\ndef recurrence_") == 3 and not kernels_of(built.source)


def scalar_recurrence(x, w):
    s = x
    for i in range(10):
        s = s * w + np.sin(s)
    return s


def test_a_program_that_is_all_kernels_is_compiled_whole(rng):
    """No NumPy statement outside the loops: the functions are kernels themselves (no Python
    between two kernels)."""
    built = adcompiler.grad(scalar_recurrence, wrt=(0, 1)).build_for((adcompiler.ir.core.Type("float64"),) * 2)
    assert built.source.count("@jit\ndef scalar_recurrence_") == 3 and not kernels_of(built.source)
    x, w = 0.3, 0.7
    for jit in (False, True):
        gx, gw = adcompiler.grad(scalar_recurrence, wrt=(0, 1), jit=jit)(x, w)
        assert gx == pytest.approx(fd_grad(scalar_recurrence, (x, w), 0), rel=1e-6)
        assert gw == pytest.approx(fd_grad(scalar_recurrence, (x, w), 1), rel=1e-6)


def test_jit_must_be_a_known_mode():
    with pytest.raises(ValueError, match="jit must be True"):
        adcompiler.grad(recurrence, jit="numba")


CHILD = textwrap.dedent("""\
    import json
    import sys
    import time

    import numpy as np

    import adcompiler


    def layer_loss(W, b, x):
        return np.sum(np.tanh(W @ x + b) ** 2)


    def recurrence(x, w):
        s = 0.0
        for i in range(x.shape[0]):
            s = s * 0.5 + np.sin(x[i] * w) * x[i]
        return s


    start = time.perf_counter()
    dW, db = adcompiler.grad(layer_loss, wrt=(0, 1))(np.ones((3, 4)), np.zeros(3), np.linspace(0, 1, 4))
    numba_after_array_code = "numba" in sys.modules
    g = adcompiler.grad(recurrence)
    x = np.linspace(-1.0, 1.0, 200)
    first = g(x, 0.7)
    (executable,) = [e for _, e in g.specialisations.values()]
    state_after_first_call = executable.state
    executable.wait()
    later = g(x, 0.7)
    print(json.dumps({"numba_after_array_code": numba_after_array_code, "first_state": state_after_first_call,
                      "state": executable.state, "first": first.tolist(), "later": later.tolist(),
                      "db": db.tolist()}))
    """)


def test_background_compilation_in_a_fresh_process(tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           executable.COMPILE_ENVIRONMENT_VARIABLE: "background", "ADCOMPILER_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(tmp_path / "child.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["numba_after_array_code"] is False  # nothing compiled for a program without loops
    assert result["first_state"] == "compiling" and result["state"].startswith("kernels (measured"), result
    # The same generated code, as plain Python and as a Numba kernel: the same numbers but for the
    # last bits of np.sin (NumPy's SIMD function against libm).
    np.testing.assert_allclose(result["later"], result["first"], rtol=1e-14, atol=1e-15)
    z = np.linspace(0, 1, 4)
    np.testing.assert_allclose(result["db"], 2 * np.tanh(z.sum()) * (1 - np.tanh(z.sum()) ** 2), rtol=1e-12)


def compiled_in_the_background(monkeypatch, rng):
    """(the gradient of `recurrence`, its arguments, its first result, its Executable) after one
    call in the background mode and the end of the background compilation."""
    monkeypatch.setenv(executable.COMPILE_ENVIRONMENT_VARIABLE, "background")
    monkeypatch.setattr(executable, "kernels_cached", lambda source, stem: False)  # as with an empty cache
    args = rng.uniform(-1, 1, 5), rng.uniform(0.5, 1.5, 5)
    g = adcompiler.grad(recurrence)
    first = g(*args)
    (running,) = [e for _, e in g.specialisations.values()]
    return g, args, first, running.wait()


def fake_timer(monkeypatch, seconds):
    """`executable._timed` answering `seconds` in turn: each region's kernel then its plain twin, in
    the order of their first calls, then the whole call with kernels, then the plain version."""
    answers = iter(seconds)
    monkeypatch.setattr(executable, "_timed", lambda run: next(answers))


def test_the_plain_version_stays_where_it_was_measured_faster(monkeypatch, rng):
    """The measured cost model: the whole call with kernels takes twice the plain version's time."""
    fake_timer(monkeypatch, [1e-3, 3e-3, 1e-3, 3e-3, 2e-3, 1e-3])
    g, (x, w), first, running = compiled_in_the_background(monkeypatch, rng)
    assert running.state == "plain (measured 2 ms a call, plain 1 ms)"
    assert running.module.jit.__name__ == "_identity"  # the plain version runs on
    np.testing.assert_array_equal(g(x, w), first)


def test_each_region_runs_where_it_was_measured_faster(monkeypatch, rng):
    """Per region: the forward loop is faster as a kernel, the backward loop as its plain twin, which
    is bound in the compiled module in its place; the mixed module is kept, measured faster."""
    fake_timer(monkeypatch, [1e-3, 3e-3, 2e-3, 1e-3, 1e-3, 2e-3])
    g, (x, w), first, running = compiled_in_the_background(monkeypatch, rng)
    assert running.state == ("kernels (measured 1 ms a call, plain 2 ms; "
                             "recurrence_forward_loop_42: kernel (1 ms as a kernel, 3 ms plain); "
                             "recurrence_backward_loop_42: plain (2 ms as a kernel, 1 ms plain))")
    assert any(hasattr(value, "py_func") for value in vars(running.module).values()), dir(running.module)
    assert not hasattr(running.module.recurrence_backward_loop_42, "py_func")  # the plain twin
    assert f"# what runs now: {running.state}" in adcompiler.show(g, print_it=False)
    np.testing.assert_allclose(g(x, w), first, rtol=1e-14)
    np.testing.assert_allclose(first, fd_grad(recurrence, (x, w), 0), rtol=1e-6)


def test_kernels_in_numbas_disk_cache_run_from_the_first_call(monkeypatch, rng):
    """A second specialisation of the same source (as in a second process) finds every kernel in
    Numba's disk cache: its first call runs the kernels, and the background measures all the same."""
    monkeypatch.setenv(executable.COMPILE_ENVIRONMENT_VARIABLE, "background")
    args = rng.uniform(-1, 1, 5), rng.uniform(0.5, 1.5, 5)
    earlier = adcompiler.grad(recurrence)
    earlier(*args)
    [e for _, e in earlier.specialisations.values()][0].wait()  # the kernels are on disk now
    fake_timer(monkeypatch, [1e-3, 3e-3, 1e-3, 3e-3, 1e-3, 2e-3])
    measure, go = executable.Executable._compile, threading.Event()
    monkeypatch.setattr(executable.Executable, "_compile", lambda self, warm: (go.wait(), measure(self, warm)))
    g = adcompiler.grad(recurrence)
    first = g(*args)
    (running,) = [e for _, e in g.specialisations.values()]
    assert running.state == "kernels (from Numba's disk cache)"  # before the background has measured
    assert any(hasattr(value, "py_func") for value in vars(running.module).values()), dir(running.module)
    go.set()
    running.wait()
    assert running.state.startswith("kernels (measured 1 ms a call, plain 2 ms"), running.state
    np.testing.assert_allclose(first, fd_grad(recurrence, args, 0), rtol=1e-6)


def test_kernels_compile_only_once_the_first_call_has_returned(monkeypatch, rng):
    """Numba's compiler holds the GIL for most of its work, so the background begins once the first
    call (the plain version) has returned: until then, no kernel module is made."""
    monkeypatch.setenv(executable.COMPILE_ENVIRONMENT_VARIABLE, "background")
    monkeypatch.setattr(executable, "kernels_cached", lambda source, stem: False)  # as with an empty cache
    real, made = executable.compile_module, []
    monkeypatch.setattr(executable, "compile_module", lambda source, stem, jit: made.append(jit) or real(source, stem, jit))
    args = rng.uniform(-1, 1, 5), rng.uniform(0.5, 1.5, 5)
    g = adcompiler.grad(recurrence)
    types, originals, values = g.arguments(args, {})
    _, running = g._specialise_call(types, originals, values)  # made for a call, as `g(*args)` makes it
    threading.Event().wait(0.2)  # time enough for a background that did not wait to begin
    assert made == [False] and running.state == "compiling", (made, running.state)
    running.called()  # as `g(*args)` does once the call has returned
    running.wait()
    assert made == [False, True] and running.state.startswith(("kernels", "plain (measured")), (made, running.state)
    np.testing.assert_allclose(g(*args), fd_grad(recurrence, args, 0), rtol=1e-6)


def test_a_failed_background_compilation_warns_and_keeps_the_plain_version(monkeypatch, rng):
    real = executable.compile_module

    def failing(source, stem, jit):
        if jit:
            raise RuntimeError("no compiler today")
        return real(source, stem, jit)

    warned = []
    monkeypatch.setattr(executable, "compile_module", failing)
    monkeypatch.setattr(executable.warnings, "warn", lambda message, *args, **kwargs: warned.append(message))
    g, (x, w), first, running = compiled_in_the_background(monkeypatch, rng)
    assert running.state.startswith("plain: compiling the kernels failed (RuntimeError: no compiler today)")
    assert len(warned) == 1 and "the plain NumPy version keeps running" in warned[0]
    np.testing.assert_array_equal(g(x, w), first)
    np.testing.assert_allclose(first, fd_grad(recurrence, (x, w), 0), rtol=1e-6)
