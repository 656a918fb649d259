"""Random differentiable programs (tests/program_generator.py), checked end to end.

Each example is a module written to a file of its own (adcompiler reads source with `inspect`)
holding a scalar-valued function `f`, its helpers, a float constant and global arrays. Most
programs have control flow mixed with the straight-line operations: if/elif/else on data-dependent
conditions, conditional expressions, and/or/not, `for` loops over ranges and rows, nested loops,
`while` loops with a counter cap, break/continue/return, loop-carried scalars and arrays, element
and slice assignment into arrays the function made, helpers with branches and loops. The generator
keeps every evaluated condition at least COND_MARGIN (0.05) from its threshold, in every iteration,
so the finite differences below never cross a branch (and where one-sided differences disagree
anyway, the example is skipped as not smooth). For every example:

1. the value from `value_and_grad` (and, in plain-Python mode, from `adcompiler.jit` and `vjp`)
   equals the value of the original Python function (relative 1e-12), also at a second call of the
   same specialisation at other arguments; for 40% of the programs the first call is made with
   another pattern of length-1 axes, so the checked call runs the run-time-broadcasting version;
2. the gradient with respect to every float parameter matches float64 central finite differences
   (Richardson-extrapolated, step 1e-5) along random directions, one parameter at a time and all
   together, to 1e-6 relative; `vjp`'s pullback of 0.5 is half the gradient; a point where the
   one-sided and central differences disagree is not smooth (a kink or a tie within the stencil)
   and is skipped with `assume`;
3. neither the arguments nor the module's global arrays are modified, and each gradient has its
   parameter's shape and dtype.

`test_random_programs_python` (300 examples, jit=False, about 50 s) and
`test_random_programs_numba` (10 smaller examples, jit=True, weighted towards control flow; Numba
compiles each in 0.1-15 s, about 45 s in all) run by default; `test_random_programs_long`
(`-m slow`, 10,000 examples, jit=False, about 25 min; ADCOMPILER_RANDOM_EXAMPLES=n for another
number) and `test_random_programs_long_numba` (`-m slow`, 300 examples of up to 8 statements,
jit=True; ADCOMPILER_RANDOM_NUMBA_EXAMPLES=n) count every mismatch instead of stopping at the
first, and how many programs had each control-flow construct. All four also assert how many
examples passed every check (neither refused nor skipped as not smooth): a floor a little below
today's count for the default tests, 90% of the examples for the long runs. Examples are not
shrunk (ADCOMPILER_RANDOM_SHRINK=1 shrinks them).
ADCOMPILER_RANDOM_EXCLUDE=feature,feature leaves features of the generator out (to hunt for a
second bug while a first is unfixed; see program_generator.FEATURES).

`test_random_programs_inplace` (60 examples, jit=False, about 10 s) and `test_random_programs_long_inplace`
(`-m slow`, 10,000 examples) draw programs weighted towards in-place updates of carried arrays,
lists grown by loops and captured copies (program_generator's `inplace`); a write into an array a
grown list may hold is refused as documented.

`test_generator_covers_control_flow` checks that the generator makes each construct, takes both
outcomes of conditions, and leaves no condition near its threshold.

The regression tests at the end are minimal programs the generator found, one per bug.
"""
from __future__ import annotations

import atexit
import copy
import hashlib
import importlib.util
import math
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, settings
from hypothesis import strategies as st

from adcompiler import jit as compile_only
from adcompiler import CompileError, grad, value_and_grad, vjp, vmap
from adcompiler.backend.runtime import SELECT_SHAPE_ERROR
from test_errors import marked_line
from test_scalarise import items_loop_in_python
from program_generator import CONTROL_FEATURES, INPLACE_FEATURES, SHARED, Chooser, Program, RandomChooser, generate

# Left out until mended: known wrong results (tests/test_found_wrong.py, strict xfails).
KNOWN_WRONG = ()
EXCLUDE = KNOWN_WRONG + tuple(f for f in os.environ.get("ADCOMPILER_RANDOM_EXCLUDE", "").split(",") if f)

STEP = 1e-5          # finite-difference step (Richardson: truncation O(STEP^4), round-off ~1e-11)
GRAD_RTOL = 1e-6
VALUE_RTOL = 1e-12

_MODULE_DIR = Path(tempfile.mkdtemp(prefix="adcompiler-random-programs-"))
sys.path.insert(0, str(_MODULE_DIR))
atexit.register(shutil.rmtree, _MODULE_DIR, ignore_errors=True)   # a failure message holds the source


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


def programs(max_statements=12, exclude=EXCLUDE, control=1, inplace=0):
    @st.composite
    def strategy(draw):
        return generate(HypothesisChooser(draw), exclude=exclude, max_statements=max_statements, control=control,
                        inplace=inplace)
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


ITEMS_OF_ONE_SHAPE = "the items of a list grown by a loop must have one shape here"


class Refused(Exception):
    """adcompiler refused the program as documented (an in-place update of a shared array)."""


def _refused_as_documented(error: CompileError, program: Program) -> bool:
    """Whether `error` refuses an augmented assignment on a line where the generator made the
    target share memory with another name (docs/supported.md: "that is refused"), or a write into
    an array that a list grown by a loop may hold (the generator appended an array itself)."""
    match = re.search(r"\.py:(\d+): in ", str(error))
    if not match or "shares its memory" not in str(error):
        return False
    if "list_alias" in program.features and re.search(r"shares its memory with `out\d+`", str(error)):
        return True
    lines = program.source.splitlines()
    line = int(match.group(1))
    return 1 <= line <= len(lines) and lines[line - 1].endswith(SHARED)


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
        # At a smooth point the three estimates agree to ~1e-10; where a kink or a tie lies within
        # the stencil they do not (at first order: the one-sided slopes differ; at second order: the
        # central difference is off by O(STEP)). Their spread bounds the error of `central`.
        spread = max(abs(forward - backward), abs(central - forward), abs(central - backward))
        if spread > 1e-6 * max(1.0, abs(central)) + 1e-9 * (1.0 + abs(f0)):
            raise NotSmooth(f"one-sided differences {forward!r} and {backward!r} and the central "
                            f"difference {central!r} disagree")
        terms = [np.asarray(grads[wrt.index(k)], dtype=np.float64) * d for k, d in zip(positions, directions)]
        ad = float(sum(np.sum(t) for t in terms))
        scale = float(sum(np.sum(np.abs(t)) for t in terms))
        tolerance = GRAD_RTOL * max(abs(ad), abs(central)) + 1e-9 * scale + 1e-9 * (1.0 + abs(f0)) \
            + 10.0 * spread
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


def _other_pattern(function, args):
    """Arguments like `args` with another pattern of length-1 axes in one array (a slice of it, or
    it broadcast), at which the function runs in Python with finite values; None if there is none."""
    for k, a in enumerate(args):
        if not isinstance(a, np.ndarray) or a.ndim == 0:
            continue
        candidates = [a[tuple(slice(0, 1) for _ in a.shape)]]  # every axis of length 1
        candidates += [a[tuple(slice(0, 1) if i == axis else slice(None) for i in range(a.ndim))]
                       for axis in range(a.ndim) if a.shape[axis] > 1]
        candidates += [np.broadcast_to(a, tuple(n if n > 1 else m for n in a.shape)).copy() + 0.0
                       for m in (2, 3) if 1 in a.shape]
        for candidate in candidates:
            if candidate.shape == a.shape:
                continue
            moved = list(args)
            moved[k] = np.ascontiguousarray(candidate)
            try:
                with np.errstate(all="raise"):
                    value = float(function(*_copy(moved)))
            except Exception:  # noqa: BLE001 - the program does not accept this shape
                continue
            if math.isfinite(value):
                return moved
    return None


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
        transformed = value_and_grad(function, wrt=wrt, jit=jit)
        other = _other_pattern(function, args) if program.general else None
        if other is not None:   # the first call fixes the static pattern; the checked one is general
            other_value, _ = transformed(*_copy(other))
            with np.errstate(all="ignore"):
                other_expected = float(function(*_copy(other)))
            if not _close(other_value, other_expected):
                raise ProgramFailure("value", f"value_and_grad(jit={jit}) gives {other_value!r} at {other!r}, "
                                     f"Python gives {other_expected!r}", program)
            program.features.add("general")
        value, grads = transformed(*arguments)
    except ProgramFailure:
        raise
    except CompileError as error:
        if _refused_as_documented(error, program):
            raise Refused(str(error)) from None
        raise ProgramFailure("crash", f"value_and_grad(jit={jit}) raised "
                             f"{''.join(traceback.format_exception_only(type(error), error)).strip()}",
                             program) from error
    except ValueError as error:
        if "list_shapes" in program.features and ITEMS_OF_ONE_SHAPE in str(error):
            raise Refused(str(error)) from None  # docs/supported.md: the items of a grown list have one shape
        raise ProgramFailure("crash", f"value_and_grad(jit={jit}) raised "
                             f"{''.join(traceback.format_exception_only(type(error), error)).strip()}",
                             program) from error
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

    if extra:
        _check_changed_globals(module, transformed, function, args, jit, program)

    # A second call of the same specialisation, at other arguments of the same types.
    rng = np.random.default_rng(1)
    others = [a + 1e-3 * rng.standard_normal(np.shape(a)) if isinstance(a, np.ndarray)
              else type(a)(a + 1e-3 * rng.standard_normal()) if isinstance(a, (float, np.floating)) else a
              for a in args]
    with np.errstate(all="ignore"):
        try:
            expected_again = float(function(*_copy(others)))
        except Exception:  # noqa: BLE001 - another branch, whose shapes do not fit
            expected_again = None
    again = transformed(*_copy(others))[0] if expected_again is not None else None
    if expected_again is not None and not _close(again, expected_again):
        raise ProgramFailure("value", f"a second call of value_and_grad(jit={jit}) at other arguments gives "
                             f"{again!r}, Python gives {expected_again!r} (arguments {others!r})", program)

    with np.errstate(all="ignore"):
        check_gradients(function, args, wrt, grads, program=program)


def _check_changed_globals(module, transformed, function, args, jit, program):
    """The module's float arrays changed in place, then the arrays and the constant C0 rebound to
    new objects: each time the next call gives Python's value (docs: changes inside an array are
    seen; a rebound global recompiles). The module is restored afterwards. (A branch on a global
    may go the other way then; where Python itself fails there, that call is not compared.)"""
    arrays = {k: v for k, v in vars(module).items() if isinstance(v, np.ndarray) and v.dtype.kind == "f"}
    saved = {k: v.copy() for k, v in arrays.items()}
    constant = module.C0

    def compare(what):
        with np.errstate(all="ignore"):
            try:
                expected = float(function(*_copy(args)))
            except Exception:  # noqa: BLE001 - another branch, whose shapes do not fit these globals
                return
        try:
            got, _ = transformed(*_copy(args))
        except Exception as error:  # noqa: BLE001
            raise ProgramFailure("crash", f"after {what}, value_and_grad(jit={jit}) raised "
                                 f"{''.join(traceback.format_exception_only(type(error), error)).strip()}",
                                 program) from error
        if not _close(got, expected):
            raise ProgramFailure("value", f"after {what}, value_and_grad(jit={jit}) gives {got!r}, "
                                 f"Python gives {expected!r}", program)

    try:
        for v in arrays.values():
            v *= 1.05
        compare("the global arrays were scaled in place by 1.05")
        for k, v in arrays.items():
            setattr(module, k, np.array(v * 1.05))   # an array still (0-d times a float is a scalar)
        module.C0 = type(constant)(constant * 1.05)
        compare("the global arrays and C0 were rebound to new values")
    finally:
        for k, v in arrays.items():
            v[...] = saved[k]
            setattr(module, k, v)
        module.C0 = constant


class Tally:
    """What became of the examples of a property test: `outcomes` counts "checked" (every check
    passed), "not smooth" and "refused as documented"; `programs` holds the sources of the checked
    programs (Hypothesis draws some programs more than once)."""

    def __init__(self):
        self.outcomes = Counter()
        self.programs = set()

    def __str__(self):
        return f"{dict(self.outcomes)}, {len(self.programs)} distinct programs checked"


def run(program: Program, jit: bool, tally: Tally, extra: bool = True) -> None:
    """check_program, with a non-smooth point turned into a rejected example, tallied."""
    lines = program.source.split(f"def {program.name}(")[1].count("\n") - 1
    event(f"statements: {'1-3' if lines <= 3 else '4-7' if lines <= 7 else '8+'}")
    for feature in sorted(program.features):
        event(f"feature: {feature}")
    try:
        check_program(program, jit, extra)
    except NotSmooth:
        tally.outcomes["not smooth"] += 1
        assume(False)
    except Refused:
        tally.outcomes["refused as documented"] += 1
        event("refused as documented: in-place update of a shared array")
    else:
        tally.outcomes["checked"] += 1
        tally.programs.add(program.source)


# No shrinking by default: a shrink step compiles a program, and Hypothesis would spend minutes
# on it; the failure message shows the whole program. ADCOMPILER_RANDOM_SHRINK=1 shrinks.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + \
    ([Phase.shrink] if os.environ.get("ADCOMPILER_RANDOM_SHRINK") else [])
SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False, phases=PHASES,
                suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------ the property tests

def test_random_programs_python():
    """300 examples in plain-Python mode; today 283 pass every check (134 distinct programs) and
    17 are refused as documented."""
    tally = Tally()

    @settings(max_examples=300, **SETTINGS)
    @given(programs(max_statements=14))
    def check(program):
        run(program, jit=False, tally=tally)

    check()
    assert tally.outcomes["checked"] >= 270 and len(tally.programs) >= 120, str(tally)


def test_random_programs_numba():
    """10 smaller examples compiled by Numba; today all 10 pass every check (9 distinct
    programs)."""
    tally = Tally()

    @settings(max_examples=10, **SETTINGS)
    @given(programs(max_statements=4, control=3))
    def check(program):
        run(program, jit=True, tally=tally, extra=False)

    check()
    assert tally.outcomes["checked"] >= 9 and len(tally.programs) >= 8, str(tally)


def test_random_programs_inplace():
    """60 examples in plain-Python mode weighted towards what the in-place analysis and the tapes
    must get right (program_generator's `inplace`: element updates of loop-carried arrays, updates
    and rebinding in one iteration, lists grown by loops, copies captured before updates)."""
    tally = Tally()

    @settings(max_examples=60, **SETTINGS)
    @given(programs(max_statements=12, control=3, inplace=3))
    def check(program):
        run(program, jit=False, tally=tally)

    check()
    assert tally.outcomes["checked"] >= 45 and len(tally.programs) >= 30, str(tally)


# ------------------------------------------------------------------ batching the programs

BATCH_ITEMS = 3
BATCHING_REFUSALS = ("not supported by batching", "cannot carry a list", "cannot choose a list")


def check_batched(program: Program) -> str:
    """vmap of the program and of its gradient over a batch of its float arguments, the items
    spread far enough apart to take their own branches and trip counts: each item's value against
    Python's, each item's gradient against value_and_grad of that item (which the other tests check
    against finite differences). Returns "checked", or "refused" for a documented batching refusal."""
    function = getattr(load(program.source), program.name)
    rng = np.random.default_rng(len(program.source))
    floats = program.wrt
    items = [program.args] + [[a + 0.6 * rng.standard_normal(np.shape(a)) if k in floats else a
                               for k, a in enumerate(program.args)] for _ in range(BATCH_ITEMS - 1)]
    with np.errstate(all="ignore"):
        try:
            expected = [float(function(*_copy(item))) for item in items]
        except Exception:  # noqa: BLE001 - an item Python cannot run (a name a branch leaves unbound)
            return "not run by Python"
    if not all(np.isfinite(expected)):
        return "not finite"
    batched = [np.stack([np.asarray(item[k], float) for item in items]) if k in floats else a
               for k, a in enumerate(program.args)]
    in_axes = tuple(0 if k in floats else None for k in range(len(program.args)))
    try:
        values_of = vmap(function, in_axes=in_axes, jit=False)
        gradients_of = vmap(grad(function, wrt=program.wrt), in_axes=in_axes, jit=False)
        values, gradients = values_of(*_copy(batched)), gradients_of(*_copy(batched))
    except CompileError as error:
        if any(words in error.message for words in BATCHING_REFUSALS) or _refused_as_documented(error, program):
            return "refused"
        raise ProgramFailure("crash", f"vmap raised {error}", program) from error
    except ValueError as error:
        if SELECT_SHAPE_ERROR in str(error):  # documented: one shape for every item
            return "refused"
        raise ProgramFailure("crash", f"vmap raised {error}", program) from error
    # where the items are small and the code straight, also the loop over their numbers (scalarise.py)
    looped = [items_loop_in_python(transformed, *_copy(batched)) for transformed in (values_of, gradients_of)]
    looped[1] = looped[1] if looped[1] is None or len(program.wrt) > 1 else (looped[1],)
    for what, got_values, got_gradients in (("vmap", values, gradients), ("its loop over the items' numbers", *looped)):
        for item, want, got in zip(items, expected, () if got_values is None else got_values):
            if not _close(float(got), want):
                raise ProgramFailure("value", f"{what} gives {got!r} for the item {item!r}, Python gives {want!r}",
                                     program)
        for j, item in enumerate(items if got_gradients is not None else ()):
            with np.errstate(all="ignore"):
                _, want = value_and_grad(function, wrt=program.wrt, jit=False)(*_copy(item))
            for k, (g, w) in enumerate(zip(got_gradients, want)):
                if not np.allclose(np.asarray(g)[j], w, rtol=1e-10, atol=1e-12):
                    raise ProgramFailure("gradient", f"{what} of grad gives {np.asarray(g)[j]!r} w.r.t. argument "
                                         f"{program.wrt[k]} for the item {item!r}, value_and_grad gives {w!r}", program)
    return "checked" + (": and its loop over the items' numbers" if looped[0] is not None else "")


def _batched_outcomes(examples: int, failures: dict | None = None) -> Counter:
    """How `examples` programs came out of check_batched; with `failures`, each failure is kept there
    (grouped by `_signature`) instead of ending the run."""
    outcomes = Counter()

    @settings(max_examples=examples, **SETTINGS)
    @given(programs(max_statements=10, control=3))
    def check(program):
        try:
            outcome = check_batched(program)
        except ProgramFailure as failure:
            if failures is None:
                raise
            failures.setdefault(_signature(str(failure)), []).append(str(failure))
            outcome = "failed"
        outcomes[outcome.split(":")[0]] += 1
        outcomes["as a loop over the items' numbers"] += "loop" in outcome

    check()
    return outcomes


def test_random_programs_batched():
    """60 examples: vmap of each program and of its gradient over items that take their own
    branches and trip counts, against Python and the unbatched gradient per item (and, for the
    straight-line ones, 9 today, the loop over the items' numbers that compiled code runs, as
    Python); today 38 pass and 21 are refused as documented (a batched index or update, `weak`, a
    variable of another shape on another path)."""
    outcomes = _batched_outcomes(60)
    assert outcomes["checked"] >= 30 and outcomes["as a loop over the items' numbers"] >= 5, outcomes


@pytest.mark.slow
def test_random_programs_long_batched():
    """As test_random_programs_batched, ADCOMPILER_RANDOM_EXAMPLES examples, every failure counted."""
    failures: dict = {}
    outcomes = _batched_outcomes(LONG_EXAMPLES, failures)
    for signature, texts in failures.items():
        print(f"\n{len(texts)} x {signature}\n{texts[0]}")
    assert not failures and outcomes["checked"] >= LONG_EXAMPLES // 2, outcomes


LONG_EXAMPLES = int(os.environ.get("ADCOMPILER_RANDOM_EXAMPLES", "10000"))
LONG_NUMBA_EXAMPLES = int(os.environ.get("ADCOMPILER_RANDOM_NUMBA_EXAMPLES", "300"))


def _signature(failure_text: str) -> str:
    """A failure's first line with paths, numbers and names blurred: failures of one bug share it."""
    line = failure_text.splitlines()[0]
    line = re.sub(r"/\S+\.py:\d+", "FILE:LINE", line)
    line = re.sub(r"`[^`]*`", "`_`", line)
    line = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "N", line)
    return line[:200]


@pytest.mark.slow
def test_random_programs_long():
    """10,000 examples in plain-Python mode (see `long_run`)."""
    long_run(LONG_EXAMPLES, jit=False, max_statements=14)


@pytest.mark.slow
def test_random_programs_long_inplace():
    """10,000 examples in plain-Python mode weighted towards in-place updates and list tapes (see
    `test_random_programs_inplace`, `long_run`)."""
    long_run(LONG_EXAMPLES, jit=False, max_statements=14, control=3, inplace=3)


@pytest.mark.slow
def test_random_programs_long_numba():
    """300 examples compiled by Numba (about 1 s to compile each): what only Numba's typing and
    code can get wrong (see `long_run`)."""
    long_run(LONG_NUMBA_EXAMPLES, jit=True, max_statements=8)


def long_run(examples: int, jit: bool, max_statements: int, control: int = 1, inplace: int = 0):
    """`examples` programs checked; every failure is counted (not only the first), grouped by its
    message with paths, numbers and names blurred, and the first program of each group is printed
    before the test fails; at least 90% of the examples must pass every check (less two standard
    deviations' worth of sampling noise for a short run)."""
    counts = {"examples": 0, "checked": 0, "not smooth": 0, "refused as documented": 0}
    groups: dict = {}
    features: dict = {}   # control-flow feature -> examples checked that have it
    started = time.time()

    @settings(max_examples=examples, **SETTINGS)
    @given(programs(max_statements=max_statements, control=control, inplace=inplace))
    def check(program):
        try:
            check_program(program, jit=jit)
        except NotSmooth:
            counts["not smooth"] += 1
            assume(False)
        except Refused:
            counts["refused as documented"] += 1
        except ProgramFailure as failure:
            groups.setdefault(_signature(str(failure)), []).append(str(failure))
        except Exception as error:  # noqa: BLE001 - a fault of the test itself: counted, not fatal
            text = f"[test error] {''.join(traceback.format_exception_only(type(error), error)).strip()}\n\n{program}"
            groups.setdefault(_signature(text), []).append(text)
        else:
            counts["checked"] += 1
        counts["examples"] += 1
        if counts["examples"] % 500 == 0:
            print(f"{counts['examples']} examples, {sum(map(len, groups.values()))} failures, "
                  f"{time.time() - started:.0f} s", flush=True)
        for feature in program.features & set(CONTROL_FEATURES + INPLACE_FEATURES):
            features[feature] = features.get(feature, 0) + 1
        if program.features & set(CONTROL_FEATURES):
            features["(any control flow)"] = features.get("(any control flow)", 0) + 1

    check()
    failures = sum(map(len, groups.values()))
    summary = (f"{counts['examples']} examples in {time.time() - started:.0f} s: "
               f"{counts['checked']} passed every check, {counts['not smooth']} non-smooth points skipped, "
               f"{counts['refused as documented']} refused as documented (in-place update of a shared "
               f"array), {failures} failures in {len(groups)} groups")
    print(summary)
    print("examples with each control-flow construct: " +
          ", ".join(f"{k} {v}" for k, v in sorted(features.items(), key=lambda item: -item[1])))
    for signature, items in sorted(groups.items(), key=lambda item: -len(item[1])):
        print(f"  {len(items):5d}  {signature}")
    for signature, items in sorted(groups.items(), key=lambda item: -len(item[1])):
        print(f"\n{'=' * 80}\n{len(items)} x {signature}\n\n{items[0]}")
    assert not groups, summary
    # 93% to 98% pass every check when measured (the rest are documented refusals); a run of a
    # few dozen examples is allowed its sampling noise (60 Numba examples: 53 checked, 7 refused).
    assert counts["checked"] >= 0.9 * examples - 2 * math.sqrt(examples), summary


def test_generator_covers_control_flow():
    """200 generated programs: every control-flow construct occurs, conditions are taken both ways
    (their outcomes at the arguments vary), and the program runs in Python at its arguments."""
    seen, outcomes = set(), set()
    for seed in range(200):
        program = generate(RandomChooser(seed), max_statements=14)
        seen |= program.features
        outcomes |= {outcome for _, outcome in program.decisions}
        module = load(program.source)
        with np.errstate(all="raise"):
            assert math.isfinite(float(getattr(module, program.name)(*_copy(program.args)))), program
    missing = set(CONTROL_FEATURES) - seen
    assert not missing, f"never generated: {sorted(missing)}"
    assert outcomes == {True, False}
    seen = set()
    for seed in range(100):   # and with the in-place stress, each of its constructs
        seen |= generate(RandomChooser(seed), exclude=KNOWN_WRONG, max_statements=14, control=3, inplace=3).features
    missing = set(INPLACE_FEATURES) - seen - set(KNOWN_WRONG) - {"list_shapes"}  # by chance only: none in 600 seeds
    assert not missing, f"never generated with inplace=3: {sorted(missing)}"


# ------------------------------------------------------------------ regression tests
# Minimal programs from the generator, one per bug found (each fails until the bug is fixed).

def _check_against_python(function, args, wrt=0, jit=False):
    """The value equals Python's, and the gradient equals central finite differences."""
    value, grads = value_and_grad(function, wrt=wrt, jit=jit)(*_copy(args))
    expected = function(*_copy(args))
    assert _close(value, expected), f"adcompiler's value {value!r}, Python's {expected!r}"
    positions = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    grads = (grads,) if isinstance(wrt, int) else grads
    for k, g in zip(positions, grads):
        fd = _fd_gradient(function, list(args), k)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8,
                                   err_msg=f"the gradient w.r.t. argument {k} disagrees with finite differences")


def alias_then_update(x):
    a = x * 1.0
    b = a            # b and a are one array
    a *= x           # NumPy updates it in place: b sees the product
    return np.sum(b)


def view_then_update(x):
    a = x * 1.0
    b = a[1:]        # a view of a
    a += 1.0         # updates what b shows
    return np.sum(b * b)


def _refused_or_python(function, args):
    """Refused (docs/supported.md: an in-place update of an array another name shares), or
    Python's value and gradient; never a different value."""
    try:
        value_and_grad(function, jit=False)(*_copy(args))
    except CompileError as error:
        assert "shares its memory" in str(error), str(error)
        return
    _check_against_python(function, args)


def test_regression_augmented_assignment_through_an_alias():
    """`a *= x` updates the array in place, so a second name for it (`b = a`) sees the update.
    adcompiler lowered it as `a = a * x`: value sum(x) = 6 instead of sum(x * x) = 14, gradient
    ones instead of 2x. (Since a8066f9 it is refused.)"""
    _refused_or_python(alias_then_update, [np.array([1.0, 2.0, 3.0])])


def test_regression_augmented_assignment_through_a_view():
    """The same through a view: `b = a[1:]; a += 1.0` changes b. adcompiler gave 13 (b = x[1:]),
    Python 25 (b = x[1:] + 1). (Since a8066f9 it is refused.)"""
    _refused_or_python(view_then_update, [np.array([1.0, 2.0, 3.0])])


REBOUND = np.ones(3)


def reads_a_global_array(x):
    return np.sum(x * REBOUND)


def test_regression_global_array_rebound_after_the_first_call():
    """A module-level array is a hidden argument "read at every call, so never stale"
    (docs/architecture.md), but the specialisation keeps the array object it first saw: after
    `REBOUND = np.full(3, 2.0)` adcompiler still multiplies by ones (value 6, gradient ones;
    Python: 12, gradient 2s)."""
    global REBOUND
    transformed = value_and_grad(reads_a_global_array, jit=False)
    x = np.array([1.0, 2.0, 3.0])
    assert transformed(x)[0] == 6.0
    saved = REBOUND
    try:
        REBOUND = np.full(3, 2.0)
        value, gradient = transformed(x)
        assert value == reads_a_global_array(x) == 12.0
        np.testing.assert_array_equal(gradient, np.full(3, 2.0))
    finally:
        REBOUND = saved


def masked_sum(x):
    return np.sum(x[x > 0.0])


@pytest.mark.parametrize("kind", ["value_and_grad", "jit"])
def test_regression_boolean_mask_of_a_2d_array_under_numba(kind):
    """`x[x > 0.0]` with a 2-D x (docs: "one boolean mask of the array's shape") runs with
    jit=False but not with jit=True: Numba indexes only with 1-D masks. `adcompiler.jit` fails
    with a ValueError whose message is empty (an AssertionError inside Numba's typing);
    value_and_grad with a CompileError ("Numba could not compile ... index_add")."""
    x = np.array([[1.0, -2.0], [3.0, 4.0]])
    if kind == "jit":
        assert compile_only(masked_sum, jit=True)(x) == masked_sum(x) == 8.0
    else:
        value, gradient = value_and_grad(masked_sum, jit=True)(x)
        assert value == 8.0
        np.testing.assert_array_equal(gradient, [[1.0, 0.0], [1.0, 1.0]])


# Augmented assignment to an array that shares memory with no other name must not be refused
# (docs/supported.md: "otherwise a new array is made"). Since a8066f9 these are refused: the
# alias analysis takes a copy, a double negation and a scalar element for views.

def copy_then_update(x):
    b = x.copy()        # the usual way to get an array one may update
    b += 1.0
    return np.sum(x * b)


def np_copy_then_update(x):
    a = x * 2.0
    b = np.copy(a)
    b += 1.0
    return np.sum(a * b)


def double_negation_then_update(x):
    a = -(-x)           # a new array in NumPy; the builder canonicalises it to x itself
    a += 1.0
    return np.sum(a * x)


def negative_of_negation_then_update(x):
    a = x * 2.0
    b = np.negative(-a)
    b += 1.0
    return np.sum(a * b)


def element_then_update(x):
    a = x * 2.0
    s = a[0, 1]         # a NumPy scalar (a copy), not a view
    a /= s
    return np.sum(a * a)


@pytest.mark.parametrize("function", [copy_then_update, np_copy_then_update, double_negation_then_update,
                                      negative_of_negation_then_update, element_then_update],
                         ids=lambda f: f.__name__)
def test_regression_update_of_an_unshared_array_is_not_refused(function):
    """Found by the long run (37 of 10,000 programs): "augmented assignment to the array `b`, which
    shares its memory with `x`, is not supported" for arrays that share memory with nothing."""
    _check_against_python(function, [np.array([[1.0, 2.0], [3.0, 4.0]])])


EPS = np.finfo(np.float64).eps   # a NumPy scalar (np.float64), as np.finfo and np.sum give


def log_with_numpy_scalar_constant(x):
    return np.sum(np.log(x + EPS))


def test_regression_numpy_scalar_module_constant():
    """A module-level np.float64 (`EPS = np.finfo(np.float64).eps`, `SCALE = np.float64(0.5)`):
    Lowering.static takes it for a Python float (np.float64 subclasses float) and makes a Sym of
    it, whose type lookup `{bool: ..., int: ..., float: ...}[type(value)]` raises
    KeyError: <class 'numpy.float64'> (value_and_grad, grad, vjp and jit alike)."""
    _check_against_python(log_with_numpy_scalar_constant, [np.array([1.0, 2.0])])


def transpose_1d_then_update(x):
    a = x * 2.0
    b = a.T             # for a 1-D array, a view of the same data
    a += 1.0            # NumPy changes b too
    return np.sum(b)


def test_regression_update_through_the_transpose_of_a_1d_array():
    """Found by the long run after f024cdc (36 of 10,000 programs): `b = a.T` of a 1-D `a` is not
    seen as sharing a's memory, so `a += 1.0` is neither refused nor seen through b: adcompiler
    gives 12 (b = 2x), Python 15 (b = 2x + 1). For a 2-D `a` it is refused as documented."""
    _refused_or_python(transpose_1d_then_update, [np.array([1.0, 2.0, 3.0])])


def flatten_then_update(x):
    a = x * 2.0
    b = a.flatten()     # always a copy (unlike ravel)
    a += 1.0
    return np.sum(a.ravel() * b)


def test_regression_update_after_flatten_is_not_refused():
    """Found by the long run after f024cdc (15 of 10,000 programs): `x.flatten()` is lowered as
    `np.ravel`, so the alias analysis takes it for a view of a 2-D `a` and refuses `a += 1.0`,
    although flatten always copies ("shares its memory with `b`")."""
    _check_against_python(flatten_then_update, [np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])])


def product_of_two_copies(x):
    return np.sum(np.copy(x) * np.copy(x))


def test_regression_two_copies_of_one_array():
    """Found by the generator after f024cdc (2 of 4,000 programs): two copies of one array become
    two residuals with one name, and the generated backward does not compile:
    SyntaxError: duplicate argument 'x' in function definition."""
    _check_against_python(product_of_two_copies, [np.array([1.0, 2.0, 3.0])])


# ------------------------------------------------------------------ found by the control-flow generator
# (issue #7: branches, loops, jumps, element assignment; counts are from the first runs of the
# extended generator, plain-Python mode unless said otherwise)

def row_loop_with_break(x):
    for r in np.ones((2, 2)) * x:
        if x > 0.0:
            break
    return np.sum(r)


def test_regression_row_variable_after_a_loop_with_a_jump():
    """The variable of a `for` over an array's rows was not defined after the loop when the loop
    held a `break`, `continue` or `return` (docs/supported.md: "Loop variables keep their value
    after the loop, as in Python"): CompileError "the name `r` is not defined" at the return (the
    same loop without the jump compiled; a `for` over `range` kept its index). Found while the
    generator was extended (20 of 300 programs); passes since dce2b56 (jumps in loops over arrays)."""
    _check_against_python(row_loop_with_break, [0.5])


def power_by_while_counter(x):
    j = 0
    t = 0.0
    while j < 2:
        j += 1
        t = x ** j
    return t


def while_counter_in_an_inner_loop(x):
    j = 0
    s = 0.0
    while j < 2:
        j += 1
        for i in range(2):
            s = s + x * (j + 1)
    return s


@pytest.mark.parametrize("function", [power_by_while_counter, while_counter_in_an_inner_loop],
                         ids=lambda f: f.__name__)
def test_regression_while_counter_read_by_the_backward_pass(function):
    """An int counter of a `while` loop (`j = 0`, `j += 1`) read where the backward pass needs it
    failed IR verification: `x ** j` gave "IR verification failed in f_backward: sub gives i64, but
    %t is weak i64", `x * (j + 1)` in an inner loop "... add gives i64, but %t is weak i64"
    (the counter starts as the weak literal 0). A `for` loop's index in the same places worked.
    Found while the generator was extended (4 of 500 programs); passes with the `weak` primitive
    (a number read back from a loop's tape keeps its weak type)."""
    _check_against_python(function, [1.5])


def overwrite_then_add_the_argument(x):
    t = x * 2.0
    t[0] = 1.0
    t = t + x
    return np.sum(t * t) + np.sum(x * x)


def overwrite_then_add_to_another_value(y, z):
    t = z * 3.0
    y2 = y * 1.0
    y2[0] = 1.0
    return np.sum(t * (t + y2))


def test_regression_element_assignment_zeroes_a_shared_adjoint():
    """`t[0] = 1.0` then `t + x`: the gradient w.r.t. x[0] loses the path through `t + x`:
    adcompiler [2, 40], finite differences [6, 40] (Python's value is right). The backward of the
    element assignment zeroes the region of t's adjoint in place, and that array is also x's (the
    adjoint of `t + x` flows to both operands unchanged). With two arguments,
    `sum(t * (t + y2))` after `y2[0] = 1.0` loses the path to z[0] through t when y's gradient is
    asked for too (wrt=(0, 1)): [7.5, -3] instead of [12, -3]."""
    _check_against_python(overwrite_then_add_the_argument, [np.array([1.0, 2.0])])
    _check_against_python(overwrite_then_add_to_another_value, [np.array([1.0, 2.0]), np.array([0.5, -0.5])],
                          wrt=(0, 1))


WEIGHTS = np.array([1.0, 2.0])


def product_read_after_an_element_write(x):
    t = x * 0.5
    u = t * 3.0
    t[0] = 1.0          # Python computed u before this
    return np.sum(t) + np.sum(u * WEIGHTS)


def test_regression_value_computed_after_a_later_element_write():
    """`u = t * 3.0` is computed from t after `t[0] = 1.0` writes into t, when u is multiplied by
    a global array: value 18.0, Python 19.5 (u = [3, 6] instead of [4.5, 6]). In the program found
    (`t17 = y14 / t2`, then `t2[:2] = t7` with t7 zero) the value was inf. Multiplying by an
    argument instead of a global gives the right value."""
    _check_against_python(product_read_after_an_element_write, [np.array([3.0, 4.0])])


def elif_branch_returns(x):
    if x > 1.0:
        t = x * 2.0
    elif x > 0.0:
        return x
    else:
        t = x * 3.0
    return t * x


def branch_returns_in_a_loop(x):
    for i in range(2):
        if x > 1.0:
            return x
        else:
            t = x * 3.0
        x = t * x
    return x


def else_returns_through_a_nested_if(x):
    if x > 1.0:
        t = x * 2.0
    elif x > 0.0:
        t = x * 4.0
    else:               # returns on both of its paths
        if x < -1.0:
            return x
        return x * 3.0
    return t * x


@pytest.mark.parametrize("function", [elif_branch_returns, branch_returns_in_a_loop, else_returns_through_a_nested_if],
                         ids=lambda f: f.__name__)
def test_regression_name_bound_on_every_path_that_goes_on(function):
    """A name bound on every path that goes on after an `if` whose other branch returns is refused
    as if bound in one branch only (the returning path never reads it): an `elif` that returns
    between two branches that bind t gives "`t` is bound to values of different kinds in the two
    branches"; in a loop, `if ...: return ... else: t = ...` gives "`t` is read here, but it is
    assigned only in one branch of an `if`". (At the top level, an `if` whose one branch returns
    works: the statements after it are moved into the other branch.) The long run found 144 of
    10,000 programs, most with an `else` holding a loop with a `return` before the binding. An
    `else` that returns on both paths of a nested `if` still gives "`t` is read here, but it is
    assigned only in one branch of an `if` (line 4)" at b7db6f9."""
    x = {elif_branch_returns: -0.5, branch_returns_in_a_loop: 0.5}.get(function, 1.5)
    _check_against_python(function, [x])


def name_bound_after_continue(x):
    s = 0.0
    for i in range(3):
        if x[i] > 0.0:
            continue
        t = x[i] * 2.0
        s = s + t
    return s + t


def name_bound_after_break(x):
    for i in range(3):
        if x[i] > 0.0:
            break
        t = x[i] * 2.0
    return t * x[0]


@pytest.mark.parametrize("function", [name_bound_after_continue, name_bound_after_break], ids=lambda f: f.__name__)
def test_regression_name_bound_after_a_jump_read_after_the_loop(function):
    """A name first bound in a loop body after a `continue` or `break` holds, after the loop, the
    value of the last iteration that reached it (Python); adcompiler refused to read it: "the name
    `t` is not defined" (a name bound before the jump, or in a loop without one, was carried).
    Found while the generator was extended; passes since dce2b56 ("names assigned on some paths of
    a loop body are carried")."""
    _check_against_python(function, [np.array([-1.0, 0.5, -0.3])])


def rank_changes_after_a_loop_with_return(x):
    y = x * 2.0
    for i in range(2):
        if np.sum(x) > 5.0:
            return np.sum(x)
    y = np.sum(y)        # straight-line code after the loop: y becomes a scalar
    return y


def rank_changes_after_break(x):
    for i in range(2):
        t = x * 2.0
        if np.sum(x) > 5.0:
            break
        t = np.sum(t)
    return np.sum(t)


def rank_changes_after_an_early_return(x):
    if np.sum(x) > 0.3:
        return np.sum(x)
    x = x[0]             # the rest of f: x becomes 1-D
    return np.sum(x * x)


@pytest.mark.parametrize("function", [rank_changes_after_a_loop_with_return, rank_changes_after_break,
                                      rank_changes_after_an_early_return], ids=lambda f: f.__name__)
def test_regression_rank_change_after_a_jump(function):
    """Rebinding a name to a value of another rank is fine in straight-line code, but was refused
    after a `return` in an earlier loop: the statements after the jump run under a flag
    (`if not returned: ...`), so the rebinding looked like a branch ("`y` is a float64 scalar in one
    branch and a 1-D float64 array in the other"); the path that returned binds nothing that is
    read. After a `break` in the same loop body, t really is an array on one path and a scalar on
    the other when read after the loop: that is refused (one rank per name), never wrong.
    The long run found 39 of 10,000 programs of the first kind (a loop with a `return`, then
    `s = -(-s - t)` with a 2-D t, `t2 = np.mean(t2, axis=0)`, or a swap `y, s = s, y`); the
    plainest form is an early `return` at the top level followed by `x = x[0]` ("`x` is a 2-D
    float64 array in one branch and a 1-D float64 array in the other"), which passes since b7db6f9."""
    if function is rank_changes_after_break:
        with pytest.raises(CompileError, match="scalar in one branch and a 1-D float64 array"):
            value_and_grad(function, jit=False)(np.array([1.0, 2.0]))
    elif function is rank_changes_after_an_early_return:
        _check_against_python(function, [np.array([[0.1, 0.2], [-0.3, 0.4]])])
    else:
        _check_against_python(function, [np.array([1.0, 2.0])])


def rows_with_an_inner_loop_and_break(x, z):
    for r in z:
        for i in range(2):
            t = x * 2.0
        if x[0] > 0.0:
            break
    return np.sum(t)


def test_regression_tape_of_an_inner_loop_under_numba():
    """Found by the compiled sample (jit=True): a `for` over an array's rows holding a `for` loop
    over a range and a `break`: Numba cannot compile value_and_grad's code ("Cannot infer the type
    of variable 't_12', have imprecise type: list(undefined)": an empty list, the inner loop's tape,
    is never appended to where Numba can see its type). jit=False, adcompiler.jit(jit=True) and
    the same loops over `range` instead of rows work."""
    _check_against_python(rows_with_an_inner_loop_and_break, [np.array([1.6, 1.3, 0.7]), np.array([[-0.25, -1.4, -0.26]])],
                          jit=True)


def product_of_a_branch_value_read_after_an_element_write(x):
    if x[0] > 2.0:
        t1 = np.tanh(x)
    else:
        t1 = x * 2.0
    t2 = t1 * 3.0
    t1[0] = 1.0          # Python computed t2 before this
    return np.sum(t1 + t2)


def test_regression_forward_value_after_an_element_write_of_a_branch_value():
    """Found by the long run (36 of 10,000 programs, all in `adcompiler.jit`, the forward alone;
    value_and_grad was right): `t2 = t1 * 3.0` was computed after `t1[0] = 1.0` when t1 came out
    of an `if` (or a conditional expression): 18.21 instead of 15.22. The same class as
    test_regression_value_computed_after_a_later_element_write; passes since 920a342."""
    x = np.array([0.001572, 0.711257, 1.065323])
    expected = product_of_a_branch_value_read_after_an_element_write(x.copy())
    assert _close(compile_only(product_of_a_branch_value_read_after_an_element_write, jit=False)(x.copy()), expected)
    _check_against_python(product_of_a_branch_value_read_after_an_element_write, [x])


def exp_then_element_update(y):
    y4 = y * 1.0
    t6 = np.exp(y4)
    y4[1] -= y4[0]
    y4 = y4 + t6
    return np.sum(t6) + np.sum(y4 * y4)


def test_regression_gradient_after_an_element_update():
    """Found by the long run (8 of 10,000 programs, reduced from a loop to straight-line code): the
    gradient w.r.t. y[0] was 12.402, finite differences 12.794 (the path of y[0] through
    `y4[1] -= y4[0]` and `t6 = np.exp(y4)`: a value the backward pass reads was updated in place
    first). Python's value was right. Passes since 920a342 / the working tree of that time."""
    _check_against_python(exp_then_element_update, [np.array([0.5, -0.2, 0.3])])


def view_of_the_previous_value_then_write(x):
    y = np.ones(3)
    for i in range(2):
        v = y[1:]            # a view of the value y had at the start of the iteration
        if y[0] > 2.0:
            break
        y = x * 2.0          # a new array: v does not share it
        y[0] = np.sum(v)
    return np.sum(y) + np.sum(v)


@pytest.mark.xfail(strict=True, raises=CompileError,
                   reason="a conservative refusal: the alias check at the end of an iteration does not know that "
                          "the `break` path leaves the loop")
def test_regression_write_after_rebinding_in_a_loop_with_break():
    """Found by the long run (6 of 10,000 programs): refused with "the loop writes into `y`, which
    shares its memory with `v` at the end of an iteration (NumPy would change both)", though no
    write ever reaches an array v views: y is rebound to a new array before every write, and only
    the `break` path ends an iteration with v viewing y, and that path leaves the loop. Without
    the `break` the loop compiles. (A conservative refusal where Python's semantics can be met.)"""
    _check_against_python(view_of_the_previous_value_then_write, [np.array([0.5, -0.2, 0.3])])


def rows_of_a_rebound_array_then_update(x):
    a = x * 1.0
    for r in a:          # r is a row of the array a held when the loop began
        a = x - r        # a is a new array from the first iteration on
    a *= 2.0             # no name shares it (r views the old one)
    return np.sum(a) + np.sum(r)


def rows_of_a_rebound_array_in_a_loop(x):
    y = x * 1.0
    for k in range(2):
        y[0] = 1.0
        for i, r in enumerate(y):
            if r[0] > 5.0:
                break
            y = x - r
    return np.sum(y)


@pytest.mark.xfail(strict=True, raises=CompileError,
                   reason="a conservative refusal: the alias check does not know that a loop which ran no "
                          "iteration binds no row, nor which names are read again")
@pytest.mark.parametrize("function", [rows_of_a_rebound_array_then_update, rows_of_a_rebound_array_in_a_loop],
                         ids=lambda f: f.__name__)
def test_regression_rows_of_an_array_the_loop_rebinds(function):
    """Found by 2,000 more programs after the long run (3 of them): a `for` over the rows of an
    array whose body rebinds that name to a new array: the row views the old array, never the new
    one, yet an in-place update of the new one is refused: "augmented assignment to the array `a`,
    which shares its memory with `r`"; with `enumerate` and a `break` in an outer loop: "the loop
    writes into `y`, which shares its memory with `_ad_item_3_1` at the end of an iteration", a name
    of adcompiler's own (now "with the item of a `for` loop"). No array any name reads again is
    written through another name here, but a after the first loop is the old array when the loop
    ran no iteration, and r a row of it when it ran one: only one of them is bound then, which the
    alias check does not know; in the second, r is not read again before it is rebound."""
    _check_against_python(function, [np.array([[0.5, -0.2], [0.3, 0.1]])])


def double_negation_of_a_column(x):
    y = x * 1.0
    t = -(-(y[:, 0]))    # a new array in NumPy, not a view of y
    y[0, 0] = 2.0
    return np.sum(t * t) + np.sum(y)


def test_regression_double_negation_of_a_view_is_a_new_array():
    """Found by 2,000 more programs after the long run: `t = -(-(y[:, 0]))` makes a new array, but
    adcompiler folds the two negations into the column view and then refuses `y[0, 0] = 2.0`:
    "assignment into the array `y`, which shares its memory with `t`". (f024cdc made `-(-a)` of a
    name a new array; of an expression that is a view it is still taken for the view.)"""
    _check_against_python(double_negation_of_a_column, [np.array([[0.5, -0.2], [0.3, 0.1]])])


def update_of_a_copy_in_a_loop(x):
    t = x * 0.5
    y = t.copy()         # y and t are two arrays
    for j in range(2):
        u = t * 2.0
        y[j] *= 3.0      # must not change t
        y += np.sum(u)
    return np.sum(y)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_regression_forward_alone_updates_the_original_of_a_copy(jit):
    """Found by 2,000 more programs after the long run (4 of them, all in `adcompiler.jit`, the
    forward alone; value_and_grad gives Python's value): adcompiler.jit gives 26.5, Python 22.5.
    The numbers fit `y[0] *= 3.0` in the first iteration writing into t (the copy dropped for the
    loop's initial value), so that u = t * 2.0 is [3, 2] in the second iteration instead of [1, 2].
    Both at the long run's state and at b7db6f9, with jit=False and jit=True."""
    x = np.array([1.0, 2.0])
    assert compile_only(update_of_a_copy_in_a_loop, jit=jit)(x.copy()) == update_of_a_copy_in_a_loop(x.copy()) == 22.5


def write_into_the_iterated_array(x):
    y = x * 1.0
    s = 0.0
    for r in y:
        r = r * 2.0          # r no longer names a row of y
        y[1, 0] = 5.0        # changes the row the next iteration reads  # <- HERE
        s = s + np.sum(r * r)
    return s


def write_into_the_iterated_array_with_break(x):
    y = x * 1.0
    for r in y:
        r = r * 2.0          # r no longer names a row of y
        y[0, 0] = 1.0        # a write into the array the loop goes over  # <- HERE
        if y[1, 1] > 5.0:
            break
    return np.sum(y) + np.sum(r)


@pytest.mark.parametrize("function", [write_into_the_iterated_array, write_into_the_iterated_array_with_break],
                         ids=lambda f: f.__name__)
def test_regression_write_into_the_array_a_loop_iterates_over(function):
    """Found by the second long run (5 of 10,000 programs, at b7db6f9): with a `break` in the body,
    a write into the array a `for` loop goes over was refused with a message naming adcompiler's
    own variable ("... shares its memory with `_ad_item_2`"). Looking into it showed a silent
    wrong value without the jump: the loop read its rows from the array as it was before the loop,
    while Python reads each row when its iteration begins, after earlier writes: adcompiler gave
    1.56 for `write_into_the_iterated_array`, Python 101.2 (both modes, value_and_grad too). Now
    both are refused at the write, naming the loop's array."""
    x = np.array([[0.5, -0.2], [0.3, 0.1]])
    line = marked_line(function)
    with pytest.raises(CompileError, match=rf":{line}: in {function.__name__}\(\): assignment into the array `y`, "
                                           r"which shares its memory with the array the `for` loop iterates over"):
        value_and_grad(function, jit=False)(x)


def _itself(a):
    return a


def _first_row(a):
    return a[0]


def helper_returns_its_argument(x):
    y = x * 1.0
    t = _itself(y)       # t is y
    y[0] = 5.0
    return np.sum(t * x)


def helper_returns_a_view(x):
    y = x * 1.0
    t = _first_row(y)    # t views y's first row
    y[0, 0] = 5.0
    return np.sum(t * t)


@pytest.mark.parametrize("function, x", [(helper_returns_its_argument, np.array([1.0, 2.0])),
                                         (helper_returns_a_view, np.array([[1.0, 2.0], [3.0, 4.0]]))],
                         ids=["argument", "view"])
def test_regression_helper_returns_an_alias(function, x):
    """Found in review (not by the generator, whose helpers return new arrays): a helper that
    returns its argument, or a view of it, was taken for a new array (the rule that `b = -(-a)`
    is a new array applied to any call): adcompiler gave 5.0 for both, Python 9.0 and 29.0.
    Now the write into y is refused, as for `t = y`."""
    _refused_or_python(function, [x])


def start_value_made_before_an_outer_loop(x, z):
    s, t = np.sum(z) * 0.25, 0.0     # s is unused, but the same expression as s5's start below
    for i in range(3):
        s5 = np.sum(z) * 0.25    # common-subexpression elimination makes it s
        for j in range(2):
            s5 = 0.5 * s5 + np.sum(x)
        t = t + s5
    return t


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_regression_loop_variable_named_after_a_value_made_before_an_outer_loop(jit):
    """Found by the long run on 847df85 (4 of 10,000 programs): a loop's variable takes the name
    of its start value when nothing else reads that value, to save a copy; after
    common-subexpression elimination that value was made once, before the outer loop, so the
    inner loop overwrote it and the next outer iteration started from the last value: 8.4258 for
    Python's 7.6875 (value wrong in value_and_grad and adcompiler.jit, gradient right). The name is
    now shared only with a value made in the loop's own block."""
    x, z = np.array([0.5, 1.0]), np.array([2.0, 3.0])
    expected = start_value_made_before_an_outer_loop(x, z)
    assert compile_only(start_value_made_before_an_outer_loop, jit=jit)(x, z) == pytest.approx(expected, rel=1e-14)
    _check_against_python(start_value_made_before_an_outer_loop, [x, z], jit=jit)


def row_rebound_before_the_write(x):
    s = 0.0
    for r in x:
        for i in range(len(r)):
            r = np.full(r.shape, 0.5) * r    # a new array: r views x no more
            r[i] = r.sum()
        s = s + np.sum(r * r)
    return s


def test_regression_write_after_the_loop_rebinds_a_view():
    """Found by the long run on 847df85 (3 of 10,000 programs): the inner loop writes into r only
    after rebinding it to a new array, yet it was refused with "the loop writes into `r`, which
    shares its memory with `x` before the loop" (x is an argument: r is a row of it when the loop
    begins). The write itself is checked; the loop-level check now looks only at the end of an
    iteration."""
    _check_against_python(row_rebound_before_the_write, [np.array([[0.5, -0.2], [0.3, 0.1]])])


def power_of_the_iteration_number(x, y):
    t4 = x * 0.0
    t5 = x
    for i3 in range(2, -1, -1):
        t4 = x * 0.0 + y * i3
        t5 = t4 ** i3  # the last iteration: 0.0 ** 0
    return np.sum(np.sin(t5)) + np.sum(x)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_regression_power_of_zero_to_an_exponent_of_zero(jit):
    """Found by the long run (6 of 4,000 programs, `t5 = t4 ** i3` with t4 and i3 zero at the
    last iteration): the gradient of x ** y in x was y x^(y - 1), 0 * inf = NaN at x = 0, y = 0;
    x ** 0 is 1 whatever x, so it is 0 (JAX's rule: y x^1 where y is 0)."""
    x, y = np.array([0.3, -0.4]), np.array([0.0, 0.7])
    _check_against_python(power_of_the_iteration_number, [x, y], wrt=(0, 1), jit=jit)


def early_return_in_an_inner_branch(x, w):
    if np.sum(x) > 0.0:
        if w[0] < 1.969:
            t10 = 2.0  # noqa: F841 (the generated program's dead store)
        else:
            return np.sum(np.tanh(w))
    return np.sum(w * 3.0)


def test_regression_vmap_grad_of_an_early_return_no_item_takes():
    """Found by the long batched run (1 of 2,000 programs), pre-existing (1520db9): under vmap, the
    items where the outer condition is False got False for the inner one, so the backward of the
    inner `if` ran both branches (then selecting each item's), and the early return's adjoint,
    g * (1 - tanh(w)^2), read tanh(w), which no item computed: an empty placeholder, and NumPy
    refused to broadcast (3, 1) against (0, 0) (a ValueError). Now a nested batched `if` counts
    only the items its enclosing branch runs for (Batching.active)."""
    x = np.array([[0.901356, 0.287444], [0.420197, -0.507171], [1.153623, 0.969072]])
    w = np.array([[-0.031343], [-0.18036], [0.034481]])
    gradients = vmap(grad(early_return_in_an_inner_branch, wrt=(0, 1)), jit=False)(x, w)
    for i in range(3):
        want = value_and_grad(early_return_in_an_inner_branch, wrt=(0, 1), jit=False)(x[i], w[i])[1]
        np.testing.assert_allclose(gradients[1][i], want[1], rtol=1e-12)
