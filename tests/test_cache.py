"""Tests of the on-disk cache: generated modules in $ADCOMPILER_CACHE_DIR and Numba's cache beside them.

(a) A second Python process differentiating the same function does not compile again: in the child
    process, the Numba dispatchers of the generated kernels (the function's loop, outlined) report
    cache hits and no cache miss, and no file appears in the cache folder.
(b) Changing the function's source, or a module-level constant it reads, makes a new generated file
    and gives the new gradient.
(c) Two argument signatures compile two specialisations, each in its own file.

Each test points ADCOMPILER_CACHE_DIR at its own temporary folder.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

import adcompiler
from adcompiler.backend.compile import CACHE_ENVIRONMENT_VARIABLE

REPO = Path(adcompiler.__file__).resolve().parent.parent

LOSS_SOURCE = textwrap.dedent("""\
    import numpy as np

    SCALE = {scale!r}


    def loss(x, w):
        total = 0.0
        for _ in range(1):  # a loop: the code is a Numba kernel
            total = total + np.sum(SCALE * np.tanh(x * w) {extra})
        return total
    """)

CHILD = textwrap.dedent("""\
    import json
    import sys

    import numpy as np

    sys.path.insert(0, sys.argv[1])
    import user_loss
    import adcompiler

    value_and_grad = adcompiler.value_and_grad(user_loss.loss, wrt=(0, 1))
    x = np.linspace(-1.0, 1.0, 5)
    w = np.linspace(0.5, 1.5, 5)
    value, (gx, gw) = value_and_grad(x, w)
    ((built, executable),) = value_and_grad.specialisations.values()
    module = executable.module
    stats = [getattr(module, name).stats for name in dir(module) if "_loop_" in name]
    print(json.dumps({
        "value": value, "gx": gx.tolist(), "gw": gw.tolist(), "path": str(built.path),
        "module_file": module.__file__,
        "hits": sum(sum(s.cache_hits.values()) for s in stats),
        "misses": sum(sum(s.cache_misses.values()) for s in stats),
    }))
    """)


def write_loss(folder: Path, scale=2.0, extra="", name="user_loss") -> Path:
    path = folder / f"{name}.py"
    path.write_text(LOSS_SOURCE.format(scale=scale, extra=extra))
    return path


def import_fresh(path: Path):
    """Import the file at `path` as a new module object (a fresh name each time)."""
    spec = importlib.util.spec_from_file_location(f"{path.stem}_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated_files(folder: Path) -> set:
    """The generated modules of user functions in `folder` (not the compiled runtime's module, which
    the first kernel of a process writes to the cache folder of that moment)."""
    return {p for p in folder.glob("*.py") if not p.name.startswith("runtime_")}


def files(folder: Path) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def expected_gradients(x, w, scale, cube=False):
    """Gradients of sum(scale * tanh(x * w)) [+ sum(x ** 3)] with respect to x and w."""
    d = scale * (1 - np.tanh(x * w) ** 2)
    return d * w + (3 * x ** 2 if cube else 0), d * x


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(folder))
    return folder


def run_child(user_folder: Path, cache_folder: Path, package_root: Path = REPO, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")} | settings
    env[CACHE_ENVIRONMENT_VARIABLE] = str(cache_folder)
    env["PYTHONPATH"] = os.pathsep.join([str(package_root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, "-c", CHILD, str(user_folder)], env=env, cwd=user_folder,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- (a) a second process reuses the cache


def test_second_process_does_not_recompile(tmp_path):
    user, cache_folder = tmp_path / "user", tmp_path / "cache"
    user.mkdir()
    write_loss(user)
    x, w = np.linspace(-1.0, 1.0, 5), np.linspace(0.5, 1.5, 5)
    gx, gw = expected_gradients(x, w, 2.0)

    first = run_child(user, cache_folder)
    assert first["misses"] >= 1 and first["hits"] == 0, first
    assert Path(first["path"]).parent == cache_folder
    assert Path(first["module_file"]) == Path(first["path"])
    after_first = files(cache_folder)
    assert Path(first["path"]).relative_to(cache_folder) in after_first
    assert any(p.parts[0] == "__pycache__" and p.suffix == ".nbi" for p in after_first), after_first

    second = run_child(user, cache_folder)
    assert second["hits"] >= 1 and second["misses"] == 0, second
    assert second["path"] == first["path"]
    assert files(cache_folder) == after_first  # nothing new: no new source, no new Numba cache entry

    for result in (first, second):
        assert result["value"] == pytest.approx(np.sum(2.0 * np.tanh(x * w)), rel=1e-12)
        np.testing.assert_allclose(result["gx"], gx, rtol=1e-12)
        np.testing.assert_allclose(result["gw"], gw, rtol=1e-12)


# The runtime helpers (`rt.broadcast_like`, ...) are compiled into the cached machine code of the
# generated functions. This edit, in a copy of the package, makes the Numba twin of `broadcast_like`
# (what `np.sum`'s rule calls, in adcompiler/backend/runtime_numba.py) double a scalar operand.
DOUBLED_BROADCAST = ("return lambda g, like: np.full(like.shape, g)",
                     "return lambda g, like: np.full(like.shape, 2 * g)")


def test_edited_runtime_is_not_served_from_the_cache(tmp_path):
    """After an edit of the adcompiler runtime (same version number), a second process must not run
    the machine code that Numba cached with the old runtime compiled into it."""
    user, cache_folder, package = tmp_path / "user", tmp_path / "cache", tmp_path / "package"
    user.mkdir()
    write_loss(user, scale=1.0)  # the sum's gradient reaches x and w only through its spread
    shutil.copytree(Path(adcompiler.__file__).parent, package / "adcompiler",
                    ignore=shutil.ignore_patterns("__pycache__"))
    x, w = np.linspace(-1.0, 1.0, 5), np.linspace(0.5, 1.5, 5)
    gx, gw = expected_gradients(x, w, 1.0)

    # Unfused: a fused chain's spread of the seed is an element loop that does not call the twin.
    before = run_child(user, cache_folder, package, ADCOMPILER_FUSION="0")
    np.testing.assert_allclose(before["gx"], gx, rtol=1e-12)

    twins = package / "adcompiler" / "backend" / "runtime_numba.py"
    old, new = DOUBLED_BROADCAST
    assert twins.read_text().count(old) == 1
    twins.write_text(twins.read_text().replace(old, new))
    after = run_child(user, cache_folder, package, ADCOMPILER_FUSION="0")
    # The sum's gradient is broadcast once, through the edited helper: every gradient doubles.
    np.testing.assert_allclose(after["gx"], 2 * gx, rtol=1e-12,
                               err_msg=f"stale compiled code from the cache (hits={after['hits']})")
    np.testing.assert_allclose(after["gw"], 2 * gw, rtol=1e-12)


# ---------------------------------------------------------------- (b) a change makes a new file


def test_changed_source_makes_new_file_and_new_gradient(tmp_path, cache):
    path = write_loss(tmp_path)
    x, w = np.linspace(-1.0, 1.0, 4), np.linspace(0.5, 1.5, 4)

    old = adcompiler.grad(import_fresh(path).loss, wrt=(0, 1))
    for got, want in zip(old(x, w), expected_gradients(x, w, 2.0)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    generated = generated_files(cache)
    assert len(generated) == 1

    write_loss(tmp_path, extra="+ x ** 3")  # the same file, edited
    new = adcompiler.grad(import_fresh(path).loss, wrt=(0, 1))
    for got, want in zip(new(x, w), expected_gradients(x, w, 2.0, cube=True)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    now = generated_files(cache)
    assert len(now) == 2 and generated < now
    (new_file,) = now - generated
    assert "x ** 3" in new_file.read_text()

    # The transformed function made before the edit keeps its own compiled code.
    for got, want in zip(old(x, w), expected_gradients(x, w, 2.0)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_changed_module_constant_makes_new_file_and_new_gradient(tmp_path, cache):
    path = write_loss(tmp_path, scale=2.0)
    x, w = np.linspace(-1.0, 1.0, 4), np.linspace(0.5, 1.5, 4)
    module = import_fresh(path)

    first = adcompiler.grad(module.loss, wrt=(0, 1))(x, w)
    for got, want in zip(first, expected_gradients(x, w, 2.0)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    generated = generated_files(cache)

    module.SCALE = 3.5  # the constant changes (as if the file had been edited)
    second = adcompiler.grad(module.loss, wrt=(0, 1))(x, w)
    for got, want in zip(second, expected_gradients(x, w, 3.5)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    now = generated_files(cache)
    assert len(now) == 2 and generated < now
    (new_file,) = now - generated
    assert "3.5" in new_file.read_text()

    write_loss(tmp_path, scale=0.25)  # and in the file itself
    third = adcompiler.grad(import_fresh(path).loss, wrt=(0, 1))(x, w)
    for got, want in zip(third, expected_gradients(x, w, 0.25)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(generated_files(cache)) == 3


# ---------------------------------------------------------------- (c) one specialisation per signature


def test_two_signatures_compile_two_specialisations(tmp_path, cache):
    path = write_loss(tmp_path)
    grad = adcompiler.grad(import_fresh(path).loss, wrt=(0, 1))
    x, w = np.linspace(-1.0, 1.0, 4), np.linspace(0.5, 1.5, 4)

    g64 = grad(x, w)
    g32 = grad(x.astype(np.float32), w.astype(np.float32))
    for got in g64:
        assert got.dtype == np.float64
    for got in g32:
        assert got.dtype == np.float32
    for got64, got32, want in zip(g64, g32, expected_gradients(x, w, 2.0)):
        np.testing.assert_allclose(got64, want, rtol=1e-12)
        np.testing.assert_allclose(got32, want, rtol=1e-5)

    generated = sorted(p.name for p in generated_files(cache))
    assert len(generated) == 2, generated
    assert any(name.startswith("loss__grad__f64_1d__f64_1d_") for name in generated), generated
    assert any(name.startswith("loss__grad__f32_1d__f32_1d_") for name in generated), generated

    grad(x + 1.0, w)  # the float64 signature again: no third specialisation
    assert len(generated_files(cache)) == 2
    assert len(grad.specialisations) == 2
    modules = [executable.module for _, executable in grad.specialisations.values()]
    assert modules[0] is not modules[1]
    for module in modules:
        kernels = [getattr(module, name) for name in dir(module) if "_loop_" in name]
        assert kernels and all(len(kernel.signatures) == 1 for kernel in kernels)


# ---------------------------------------------------------------- (d) the disk cache of builds
# A later process finds the generated source and call record of a specialisation in the cache folder
# (adcompiler/build_cache.py) instead of lowering, differentiating and emitting again, but only
# when every global and closure value the build read is as it was.

MODEL_SOURCE = textwrap.dedent("""\
    import numpy as np

    import user_helpers

    SCALE = {scale!r}
    WEIGHTS = np.linspace(0.5, 1.5, 5)


    def loss(x):
        return np.sum(WEIGHTS * user_helpers.squash(x)) * SCALE
    """)
HELPERS_SOURCE = textwrap.dedent("""\
    import numpy as np


    def squash(x):
        return np.{function}(x)
    """)

BUILD_CHILD = textwrap.dedent("""\
    import json
    import sys

    import numpy as np

    sys.path.insert(0, sys.argv[1])
    import user_model
    import adcompiler
    from adcompiler import api

    settings = json.loads(sys.argv[2])
    for name, value in settings.get("rebind", {{}}).items():
        setattr(user_model, name, np.asarray(value) if isinstance(value, list) else value)
    if settings.get("no_lowering"):
        def refused(*args, **kwargs):
            raise AssertionError("lowered again")
        api._pipeline = refused  # every lowering and build goes through it
    x = np.linspace(-1.0, 1.0, 5)
    gradient = adcompiler.grad(user_model.loss, jit=False)
    g = gradient(x)
    (kept,) = [type(built).__name__ for built, _ in gradient._specialisations.values()]
    print(json.dumps({{"g": g.tolist(), "kept": kept}}))
    """)


def write_model(folder: Path, scale=2.0, function="tanh") -> None:
    (folder / "user_model.py").write_text(MODEL_SOURCE.format(scale=scale))
    (folder / "user_helpers.py").write_text(HELPERS_SOURCE.format(function=function))


def model_gradient(scale=2.0, function="tanh", weights=None):
    x = np.linspace(-1.0, 1.0, 5)
    weights = np.linspace(0.5, 1.5, 5) if weights is None else np.asarray(weights)
    derivative = {"tanh": 1 - np.tanh(x) ** 2, "sin": np.cos(x), "arctan": 1 / (1 + x * x)}[function]
    return scale * weights * derivative


def run_build_child(user: Path, cache_folder: Path, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env[CACHE_ENVIRONMENT_VARIABLE] = str(cache_folder)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, "-c", BUILD_CHILD.format(), str(user), json.dumps(settings)], env=env,
                          cwd=user, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def model(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    write_model(user)
    return user, tmp_path / "cache"


def test_second_process_runs_the_kept_build_without_lowering(model):
    user, cache_folder = model
    first = run_build_child(user, cache_folder)
    assert first["kept"] == "Build"
    np.testing.assert_allclose(first["g"], model_gradient(), rtol=1e-12)
    second = run_build_child(user, cache_folder, no_lowering=True)  # lowering would raise
    assert second["kept"] == "CachedSpecialisation"
    np.testing.assert_allclose(second["g"], model_gradient(), rtol=1e-12)


def test_edited_inlined_helper_is_built_again(model):
    """The entry's key holds the transformed function's source, not its helpers': the helper's
    source is checked as a value the build read."""
    user, cache_folder = model
    run_build_child(user, cache_folder)
    write_model(user, function="sin")  # only the inlined helper changes
    edited = run_build_child(user, cache_folder)
    assert edited["kept"] == "Build"
    np.testing.assert_allclose(edited["g"], model_gradient(function="sin"), rtol=1e-12)


def test_rebound_global_is_built_again(model):
    user, cache_folder = model
    run_build_child(user, cache_folder)
    rebound = run_build_child(user, cache_folder, rebind={"SCALE": 3.0})
    assert rebound["kept"] == "Build"
    np.testing.assert_allclose(rebound["g"], model_gradient(scale=3.0), rtol=1e-12)
    changed = run_build_child(user, cache_folder, rebind={"SCALE": 3})  # equal, but an int: other code
    assert changed["kept"] == "Build"
    np.testing.assert_allclose(changed["g"], model_gradient(scale=3.0), rtol=1e-12)


def test_global_array_is_read_again_not_kept(model):
    """A global array is an argument of the generated code: an entry serves new values of it (of its
    dtype and shape) and is not used for another shape."""
    user, cache_folder = model
    run_build_child(user, cache_folder)
    weights = [2.0, -1.0, 0.5, 4.0, 1.0]
    other = run_build_child(user, cache_folder, rebind={"WEIGHTS": weights}, no_lowering=True)
    np.testing.assert_allclose(other["g"], model_gradient(weights=weights), rtol=1e-12)
    wider = run_build_child(user, cache_folder, rebind={"WEIGHTS": [[w] for w in weights]})
    assert wider["kept"] == "Build"  # a 2-D array: another program
    np.testing.assert_allclose(np.asarray(wider["g"]).shape, (5,))


def _entries(folder: Path) -> list:
    return sorted((folder / "builds").rglob("*.pickle"))


def test_rebinding_after_a_kept_build_rebuilds_in_process(tmp_path, cache):
    """A specialisation found in the disk cache is checked at every call like a Build: a global
    rebound after its first call makes the next call build again."""
    write_model(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        model = import_fresh(tmp_path / "user_model.py")
        x = np.linspace(-1.0, 1.0, 5)
        adcompiler.grad(model.loss, jit=False)(x)  # kept on disk
        gradient = adcompiler.grad(model.loss, jit=False)
        np.testing.assert_allclose(gradient(x), model_gradient(), rtol=1e-12)
        ((found, _),) = gradient._specialisations.values()
        assert type(found).__name__ == "CachedSpecialisation"
        model.SCALE = 5.0
        np.testing.assert_allclose(gradient(x), model_gradient(scale=5.0), rtol=1e-12)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("user_helpers", None)


def test_closure_values_are_part_of_the_entry(cache):
    def scaled(k):
        def loss(x):
            return np.sum(np.sin(x)) * k
        return loss

    x = np.linspace(0.0, 1.0, 4)
    for k in (2.0, 3.0, 2.0):  # the same source, file and line: only the closure cell differs
        np.testing.assert_allclose(adcompiler.grad(scaled(k), jit=False)(x), k * np.cos(x), rtol=1e-12)
    assert len(_entries(cache)) == 1  # one key, rewritten when the cell's value differed


def test_corrupt_or_truncated_entry_is_a_miss(cache):
    def loss(x):
        return np.sum(np.exp(x) * x)

    x = np.linspace(0.0, 1.0, 4)
    adcompiler.grad(loss, jit=False)(x)
    (entry,) = _entries(cache)
    data = entry.read_bytes()
    for broken in (b"not a pickle", data[: len(data) // 2], b""):
        entry.write_bytes(broken)
        gradient = adcompiler.grad(loss, jit=False)
        np.testing.assert_allclose(gradient(x), np.exp(x) * (1 + x), rtol=1e-12)
        ((built, _),) = gradient._specialisations.values()
        assert type(built).__name__ == "Build"
    assert entry.read_bytes() != b""  # written again


class _Settings:
    scale = 2.0


SETTINGS = _Settings()


def test_values_without_a_fingerprint_are_not_kept(cache):
    """An instance of a user's class may change in ways no fingerprint sees: its build is not kept."""
    def loss(x):
        return np.sum(x * x) * SETTINGS.scale

    x = np.linspace(0.0, 1.0, 4)
    np.testing.assert_allclose(adcompiler.grad(loss, jit=False)(x), 4.0 * x, rtol=1e-12)
    assert _entries(cache) == []


def test_settings_are_in_the_key(cache, monkeypatch):
    def loss(x):
        total = x * 0.0
        for i in range(3):
            total = total + np.exp(x * i)
        return np.sum(total)

    x = np.linspace(0.0, 1.0, 4)
    expected = sum(i * np.exp(x * i) for i in range(3))
    np.testing.assert_allclose(adcompiler.grad(loss, jit=False)(x), expected, rtol=1e-12)
    np.testing.assert_allclose(adcompiler.grad(loss, jit=False, memory=64)(x), expected, rtol=1e-12)
    monkeypatch.setenv("ADCOMPILER_FUSION", "0")
    np.testing.assert_allclose(adcompiler.grad(loss, jit=False)(x), expected, rtol=1e-12)
    np.testing.assert_allclose(adcompiler.value_and_grad(loss, jit=False)(x)[1], expected, rtol=1e-12)
    assert len(_entries(cache)) == 4


def test_source_is_read_as_inspect_reads_it():
    """parse.source_of, which skips inspect's search of every module, gives getsource's text."""
    import inspect
    import textwrap as tw

    from adcompiler.frontend.parse import source_of

    def decorated(function):
        return function

    @decorated
    def inner(x,
              y=2.0):
        return x * y  # a comment

    functions = [inner, decorated, expected_gradients, write_loss, adcompiler.api.grad, np.linspace]
    for function in functions:
        code = inspect.unwrap(function).__code__
        assert source_of(code) == tw.dedent(inspect.getsource(code)), function


NEW_SIGNATURE_CHILD = textwrap.dedent("""\
    import json
    import sys

    import numpy as np

    sys.path.insert(0, sys.argv[1])
    import user_loss
    import adcompiler
    from numba.core.runtime import nrtdynmod

    import llvmlite.binding as ll

    runtime_compiled = []  # NRT's functions, compiled unless read from the cache folder
    create_nrt_module = nrtdynmod.create_nrt_module
    nrtdynmod.create_nrt_module = lambda context: runtime_compiled.append(1) or create_nrt_module(context)
    parsed = []  # bitcode parsed by LLVM (Numba's reading of machine code from its cache parses it)
    parse_bitcode = ll.parse_bitcode
    ll.parse_bitcode = lambda data: parsed.append(len(data)) or parse_bitcode(data)
    gradient = adcompiler.grad(user_loss.loss, wrt=(0, 1))
    x, w = np.linspace(-1.0, 1.0, 5), np.linspace(0.5, 1.5, 5)
    g64 = gradient(x, w)  # read from Numba's disk cache (compile.py reads it without a refresh)
    bitcode_parsed = len(parsed)
    imported = [name for name in ("numba.np.arraymath", "scipy.linalg", "adcompiler.backend.runtime_numba",
                                  "numba.cpython.hashing", "adcompiler.pipeline", "adcompiler.frontend.lower", "adcompiler.rules.primitives")
                if name in sys.modules]  # a call served from the caches lowers nothing
    runtime = next(e.module.krt for _, e in gradient._specialisations.values())
    imported += [name for name in vars(runtime) if name in runtime.PLAIN]  # helper dispatchers made
    g32 = gradient(x.astype(np.float32), w.astype(np.float32)) if sys.argv[2] == "both" else g64
    kernels = [getattr(e.module, n) for _, e in gradient.specialisations.values() for n in dir(e.module) if "_loop_" in n]
    print(json.dumps({"g64": [g.tolist() for g in g64], "g32": [g.tolist() for g in g32], "imported": imported,
                      "runtime_compiled": len(runtime_compiled), "bitcode_parsed": bitcode_parsed,
                      "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels),
                      "misses": sum(sum(k.stats.cache_misses.values()) for k in kernels)}))
    """)


def test_kernels_read_from_numbas_cache_then_a_new_signature_compiles(tmp_path):
    """Machine code read from Numba's disk cache runs without Numba's full set-up (np.sum's code in
    the kernel does not import numba.np.arraymath, nor scipy.linalg with it; the runtime's Numba
    twins are not registered, no helper is made a dispatcher, NRT's functions are read from the
    cache folder; the build cache serves the code, so no pass of the pipeline is imported), and a signature compiled afterwards in the same process (which sets it up and
    links NRT's functions read so) runs too. A truncated entry of NRT's functions is compiled again."""
    user, cache_folder = tmp_path / "user", tmp_path / "cache"
    user.mkdir()
    write_loss(user)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update({CACHE_ENVIRONMENT_VARIABLE: str(cache_folder), "ADCOMPILER_COMPILE": "sync",
                "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)})

    def child(which):
        done = subprocess.run([sys.executable, "-c", NEW_SIGNATURE_CHILD, str(user), which], env=env, cwd=user,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = child("f64")
    assert first["misses"] >= 1 and first["hits"] == 0 and first["runtime_compiled"] == 1, first
    second = child("both")
    assert second["hits"] >= 1 and second["misses"] >= 1, second  # f64 read, f32 compiled
    assert second["imported"] == [] and second["runtime_compiled"] == 0, second
    assert second["bitcode_parsed"] == 0, second  # the symbols' names read from the files the first kept
    x, w = np.linspace(-1.0, 1.0, 5), np.linspace(0.5, 1.5, 5)
    for got64, got32, want in zip(second["g64"], second["g32"], expected_gradients(x, w, 2.0)):
        np.testing.assert_allclose(got64, want, rtol=1e-12)
        np.testing.assert_allclose(got32, want, rtol=1e-5)
    np.testing.assert_array_equal(second["g64"], first["g64"])
    (runtime_entry,) = cache_folder.glob("nrt_*.pickle")
    runtime_entry.write_bytes(runtime_entry.read_bytes()[:100])
    third = child("both")
    assert third["runtime_compiled"] == 1 and third["hits"] >= 2, third
    np.testing.assert_array_equal(third["g64"], first["g64"])
    np.testing.assert_array_equal(third["g32"], second["g32"])
    assert child("f64")["runtime_compiled"] == 0  # the entry written again


LINKING_CHILD = textwrap.dedent("""\
    import sys

    import numba
    import numpy as np

    sys.path.insert(0, sys.argv[1])
    import kernels
    from adcompiler.backend.compile import _loading_cached_code_only

    inner = _loading_cached_code_only(numba.njit(cache=True)(kernels.inner))
    first = inner(np.arange(4.0))
    library = inner.overloads[inner.signatures[0]].library
    kind = type(library).__name__
    if sys.argv[2] == "link":  # another kernel calls inner: inner's library is linked into it
        outer = numba.njit(lambda x: inner(x).sum() * 3.0)
        print(kind, first.tolist(), outer(np.arange(4.0)), library._shared_module is not None)
    else:
        print(kind, first.tolist())
    """)


def test_machine_code_read_without_its_bitcode_links_into_a_new_kernel(tmp_path):
    """A kernel read from Numba's cache is made from its machine code and the names of its symbols
    (kept beside it when it was compiled), without parsing its bitcode; a kernel compiled later
    that calls it links it, its bitcode parsed then, and gives the right numbers."""
    user = tmp_path / "user"
    user.mkdir()
    (user / "kernels.py").write_text("def inner(x):\n    return x * 2.0 + 1.0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update({CACHE_ENVIRONMENT_VARIABLE: str(tmp_path / "cache"),
                "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)})

    def child(which):
        done = subprocess.run([sys.executable, "-c", LINKING_CHILD, str(user), which], env=env, cwd=user,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.split(maxsplit=1)

    compiled_kind, compiled = child("call")
    assert compiled_kind != "_BitcodeOnDemand" and compiled == "[1.0, 3.0, 5.0, 7.0]\n"
    read_kind, linked = child("link")
    assert read_kind == "_BitcodeOnDemand", read_kind
    assert linked.split() == ["[1.0,", "3.0,", "5.0,", "7.0]", "48.0", "True"], linked


def test_environment_of_a_module_not_imported_keeps_its_constants_without_importing_it():
    """Machine code read from Numba's cache reads its environment's constants (the dtypes of the
    arrays it makes), never its module's globals: a module not imported is not imported for them."""
    from numba.core.environment import Environment

    from adcompiler.backend.compile import _environment
    name = f"_ZN08NumbaEnv_test_{uuid.uuid4().hex}"
    environment = _environment("a_module_that_does_not_exist", [np.dtype(np.float64)], name)
    assert environment.consts == [np.dtype(np.float64)] and environment.globals == {"__name__": "a_module_that_does_not_exist"}
    assert Environment._memo[name] is environment and _environment("a_module_that_does_not_exist", [], name) is environment


HASH_SECRET_CHILD = textwrap.dedent("""\
    import ctypes
    import json

    import llvmlite.binding as ll
    import numba

    from adcompiler.backend import compile

    compile._add_hash_secret()
    ours = {}
    for name in ("siphash_k0", "siphash_k1", "djbx33a_suffix"):
        address = ll.address_of_symbol(f"_numba_hashsecret_{name}")
        ours[f"_numba_hashsecret_{name}"] = address and ctypes.c_uint64.from_address(address).value
    import numba.cpython.hashing as hashing
    theirs = {entry.symbol: entry.value.value for entry in hashing._hashsecret.values()}
    print(json.dumps([ours, theirs]))
    """)


def test_hash_secret_symbols_are_numbas():
    """The hash secret's symbols that compile.py adds for machine code read from Numba's cache (not
    importing numba.cpython.hashing) have Numba's names and numbers (a new process: a new secret)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    done = subprocess.run([sys.executable, "-c", HASH_SECRET_CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ours, theirs = json.loads(done.stdout.strip().splitlines()[-1])
    assert ours == theirs and len(theirs) == 3, (ours, theirs)


def _every_kind_loss(x, w):
    total = x * 0.0
    for i in range(2):
        total = total + np.sin(x * w) * (i + 1)
    return np.sum(total * total)


def _every_kind_outputs(x, w):
    return np.tanh(x * w) * w


@pytest.mark.parametrize("make, args", [
    (lambda: adcompiler.grad(_every_kind_loss, wrt=(0, 1), jit=False), ()),
    (lambda: adcompiler.value_and_grad(_every_kind_loss, jit=False), ()),
    (lambda: adcompiler.jvp(_every_kind_loss, jit=False), (np.linspace(1.0, 2.0, 4),)),
    (lambda: adcompiler.hvp(_every_kind_loss, jit=False), (np.linspace(1.0, 2.0, 4),)),
    (lambda: adcompiler.hessian(_every_kind_loss, jit=False), ()),
    (lambda: adcompiler.jacrev(_every_kind_outputs, jit=False), ()),
    (lambda: adcompiler.jacobian(_every_kind_outputs, wrt=1, jit=False), ()),
    (lambda: adcompiler.jit(_every_kind_outputs, jit=False), ()),
    (lambda: adcompiler.vmap(_every_kind_outputs, in_axes=(0, None), jit=False), ()),
], ids=["grad", "value_and_grad", "jvp", "hvp", "hessian", "jacrev", "jacobian", "jit", "vmap"])
def test_every_kind_served_from_the_disk_cache_gives_what_was_built(cache, make, args):
    x, w = np.linspace(-1.0, 1.0, 4), np.linspace(0.5, 1.5, 4)
    if make().kind == "vmap":
        x = np.stack([x, 2 * x])
    built = make()(x, w, *args)
    served = make()  # a new object of the same function: its build is found on disk
    again = served(x, w, *args)
    kinds = [type(b).__name__ for b, _ in served._specialisations.values()]
    assert "CachedSpecialisation" in kinds, kinds
    for got, want in zip(tree_leaves_of(again), tree_leaves_of(built)):
        np.testing.assert_array_equal(got, want)


def tree_leaves_of(value):
    return adcompiler.tree_leaves(value) if isinstance(value, (tuple, list, dict)) else [value]
