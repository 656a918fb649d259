"""Random differentiable straight-line programs (tests/program_generator.py), checked end to end.

Each example is a module written to a fresh file (adcompiler reads source with `inspect`) holding a
scalar-valued function `f`, its helpers, a float constant and global arrays. For every example:

1. the value from `value_and_grad` (and from `adcompiler.jit` and `vjp`) equals the value of the
   original Python function (relative 1e-12);
2. the gradient with respect to every float parameter matches float64 central finite differences
   (Richardson-extrapolated, step 1e-5) along random directions, one parameter at a time and all
   together, to 1e-6 relative; a point where the one-sided differences disagree is not smooth
   (a kink or a tie within the stencil) and is skipped with `assume`;
3. neither the arguments nor the module's global arrays are modified, and each gradient has its
   parameter's shape.

`test_random_programs_python` (300 examples, jit=False) and `test_random_programs_numba`
(15 smaller examples, jit=True) run by default; `test_random_programs_long` (`-m slow`, 10,000
examples, jit=False) counts every mismatch instead of stopping at the first. Set
ADCOMPILER_RANDOM_EXCLUDE=feature,feature to leave features of the generator out (to hunt for a
second bug while a first is unfixed; see program_generator.FEATURES).

The regression tests at the end are minimal programs the generator found, one per bug.
"""
from __future__ import annotations

import copy
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adcompiler import jit as compile_only
from adcompiler import value_and_grad, vjp
from program_generator import Chooser, Program, generate

EXCLUDE = tuple(f for f in os.environ.get("ADCOMPILER_RANDOM_EXCLUDE", "").split(",") if f)

STEP = 1e-5          # finite-difference step (Richardson: truncation O(STEP^4), round-off ~1e-11)
GRAD_RTOL = 1e-6
VALUE_RTOL = 1e-12

_MODULE_DIR = Path(tempfile.mkdtemp(prefix="adcompiler-random-programs-"))
sys.path.insert(0, str(_MODULE_DIR))


# ------------------------------------------------------------------ programs as modules

def load(source: str):
    """Import `source` as a module from a file of its own (one per distinct source)."""
    name = "random_program_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    path = _MODULE_DIR / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class HypothesisChooser(Chooser):
    def __init__(self, draw):
        self.draw = draw

    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))


def programs(max_statements=12, exclude=EXCLUDE):
    @st.composite
    def strategy(draw):
        return generate(HypothesisChooser(draw), exclude=exclude, max_statements=max_statements)
    return strategy()


# ------------------------------------------------------------------ the checks

class ProgramFailure(AssertionError):
    """adcompiler disagrees with Python (or with finite differences) on a generated program."""

    def __init__(self, kind: str, message: str, program: Program | None = None):
        self.kind = kind
        text = f"[{kind}] {message}"
        if program is not None:
            text += f"\n\n{program}"
        super().__init__(text)


class NotSmooth(Exception):
    """The function has a kink (or a tie) within the finite-difference stencil."""


def _copy(value):
    return copy.deepcopy(value)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype \
            and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return type(a) is type(b) and (a == b or (a != a and b != b))


def _moved(args, positions, directions, t):
    out = list(args)
    for k, d in zip(positions, directions):
        if isinstance(args[k], np.ndarray):
            out[k] = args[k] + t * d
        else:
            out[k] = float(args[k]) + t * float(d)
    return out


def _directional(function, args, positions, directions):
    """(central difference, one-sided forward, one-sided backward, f at the point) along the
    directions, all from f at t = 0, +-STEP/2, +-STEP."""
    values = {}
    for t in (-STEP, -STEP / 2, 0.0, STEP / 2, STEP):
        values[t] = float(function(*_moved(args, positions, directions, t)))
    h = STEP
    central = (4.0 * (values[h / 2] - values[-h / 2]) / h - (values[h] - values[-h]) / (2 * h)) / 3.0
    forward = (-3.0 * values[0.0] + 4.0 * values[h / 2] - values[h]) / h
    backward = (3.0 * values[0.0] - 4.0 * values[-h / 2] + values[-h]) / h
    return central, forward, backward, values[0.0]


def check_gradients(function, args, wrt, grads, seed=0, program=None):
    """Compare <grad, v> with finite differences along random v: for each parameter alone and
    for all of them together. Raises NotSmooth where one-sided differences disagree."""
    rng = np.random.default_rng(seed)
    probes = [(k,) for k in wrt] + ([tuple(wrt)] if len(wrt) > 1 else [])
    for positions in probes:
        directions = [rng.standard_normal(np.shape(args[k])) if np.ndim(args[k]) else float(rng.standard_normal())
                      for k in positions]
        central, forward, backward, f0 = _directional(function, args, positions, directions)
        if not all(math.isfinite(v) for v in (central, forward, backward)):
            raise NotSmooth("finite differences are not finite")
        if abs(forward - backward) > 1e-6 * max(1.0, abs(central)) + 1e-9 * (1.0 + abs(f0)):
            raise NotSmooth(f"one-sided differences {forward!r} and {backward!r} disagree")
        terms = [np.asarray(grads[wrt.index(k)], dtype=np.float64) * d for k, d in zip(positions, directions)]
        ad = float(sum(np.sum(t) for t in terms))
        scale = float(sum(np.sum(np.abs(t)) for t in terms))
        tolerance = GRAD_RTOL * max(abs(ad), abs(central)) + 1e-9 * scale + 1e-9 * (1.0 + abs(f0))
        if not abs(ad - central) <= tolerance:
            names = ", ".join(f"arg {k}" for k in positions)
            detail = ""
            if program is not None and len(positions) == 1 and np.size(args[positions[0]]) <= 36:
                detail = f"\nadcompiler gradient: {np.asarray(grads[wrt.index(positions[0])]).tolist()!r}" \
                         f"\nfinite differences:  {_fd_gradient(function, args, positions[0]).tolist()!r}"
            raise ProgramFailure("gradient", f"the gradient w.r.t. {names} disagrees with finite differences "
                                 f"along a random direction: adcompiler {ad!r}, finite differences {central!r} "
                                 f"(difference {abs(ad - central):.3g}, tolerance {tolerance:.3g}){detail}",
                                 program)


def _fd_gradient(function, args, k):
    shape = np.shape(args[k])
    out = np.zeros(shape)
    for index in np.ndindex(shape):
        e = np.zeros(shape)
        e[index] = 1.0
        out[index] = _directional(function, args, (k,), [e if shape else 1.0])[0]
    return out


def _close(got, expected, rtol=VALUE_RTOL) -> bool:
    got, expected = float(got), float(expected)
    return abs(got - expected) <= rtol * max(abs(expected), 1.0) or (got != got and expected != expected)


def check_program(program: Program, jit: bool, extra: bool = True) -> None:
    """All the checks on one program; raises ProgramFailure, or NotSmooth (skip the example)."""
    module = load(program.source)
    function = getattr(module, program.name)
    args = program.args
    wrt = program.wrt
    globals_before = {k: v.copy() for k, v in vars(module).items() if isinstance(v, np.ndarray)}

    with np.errstate(all="ignore"):
        expected = function(*_copy(args))
    expected = float(expected)

    arguments = _copy(args)
    try:
        value, grads = value_and_grad(function, wrt=wrt, jit=jit)(*arguments)
    except Exception as error:  # noqa: BLE001 - every failure of the compiler is a finding
        raise ProgramFailure("crash", f"value_and_grad(jit={jit}) raised "
                             f"{''.join(traceback.format_exception_only(type(error), error)).strip()}",
                             program) from error
    for before, after in zip(args, arguments):
        if not _same(before, after):
            raise ProgramFailure("mutation", f"an argument was modified: {before!r} became {after!r}", program)
    for name, before in globals_before.items():
        if not _same(before, getattr(module, name)):
            raise ProgramFailure("mutation", f"the global array {name} was modified", program)
    if not _close(value, expected):
        raise ProgramFailure("value", f"value_and_grad(jit={jit}) gives {value!r}, Python gives {expected!r}",
                             program)
    for k, g in zip(wrt, grads):
        want = np.shape(args[k])
        if np.shape(g) != want or np.asarray(g).dtype != np.float64:
            raise ProgramFailure("shape", f"the gradient w.r.t. arg {k} has shape {np.shape(g)} and dtype "
                                 f"{np.asarray(g).dtype}, not {want} float64", program)
        if not np.all(np.isfinite(g)):
            raise ProgramFailure("gradient", f"the gradient w.r.t. arg {k} is not finite: {g!r}", program)

    if extra:
        try:
            plain = compile_only(function, jit=jit)(*_copy(args))
            out, pullback = vjp(function, wrt=wrt, jit=jit)(*_copy(args))
            pulled = pullback(0.5)
        except Exception as error:  # noqa: BLE001
            raise ProgramFailure("crash", f"jit/vjp(jit={jit}) raised "
                                 f"{''.join(traceback.format_exception_only(type(error), error)).strip()}",
                                 program) from error
        if not _close(plain, expected):
            raise ProgramFailure("value", f"adcompiler.jit(jit={jit}) gives {plain!r}, Python gives {expected!r}",
                                 program)
        if not _close(out, expected):
            raise ProgramFailure("value", f"vjp(jit={jit}) gives {out!r}, Python gives {expected!r}", program)
        for k, g, p in zip(wrt, grads, pulled):
            if not np.allclose(p, 0.5 * np.asarray(g), rtol=1e-12, atol=1e-14):
                raise ProgramFailure("gradient", f"vjp's pullback(0.5) w.r.t. arg {k} is {p!r}, "
                                     f"not half the gradient {g!r}", program)

    with np.errstate(all="ignore"):
        check_gradients(function, args, wrt, grads, program=program)


def run(program: Program, jit: bool, extra: bool = True) -> None:
    """check_program, with a non-smooth point turned into a rejected example."""
    try:
        check_program(program, jit, extra)
    except NotSmooth:
        assume(False)


SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------ the property tests

@settings(max_examples=300, **SETTINGS)
@given(programs())
def test_random_programs_python(program):
    run(program, jit=False)


@settings(max_examples=15, **SETTINGS)
@given(programs(max_statements=6))
def test_random_programs_numba(program):
    run(program, jit=True, extra=False)


LONG_EXAMPLES = int(os.environ.get("ADCOMPILER_RANDOM_EXAMPLES", "10000"))


@pytest.mark.slow
def test_random_programs_long():
    """10,000 examples in plain-Python mode; every failure is counted (not only the first) and
    the first few of each kind are printed before the test fails."""
    counts = {"examples": 0, "not smooth": 0}
    failures: dict = {}
    started = time.time()

    @settings(max_examples=LONG_EXAMPLES, **SETTINGS)
    @given(programs(max_statements=14))
    def long_run(program):
        try:
            check_program(program, jit=False)
        except NotSmooth:
            counts["not smooth"] += 1
            assume(False)
        except ProgramFailure as failure:
            failures.setdefault(failure.kind, []).append(str(failure))
        counts["examples"] += 1

    long_run()
    summary = (f"{counts['examples']} examples checked in {time.time() - started:.0f} s, "
               f"{counts['not smooth']} non-smooth points skipped, "
               f"{sum(map(len, failures.values()))} failures: "
               + ", ".join(f"{kind} {len(items)}" for kind, items in failures.items()))
    print(summary)
    for kind, items in failures.items():
        for text in items[:3]:
            print(f"\n{'=' * 80}\n{text}")
    assert not failures, summary
