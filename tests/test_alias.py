"""One may-alias relation (adcompiler/ir/alias.py) explains both of its users' decisions.

Each row names a program that binds `a` (never an argument) and `b` and the two facts of the
relation about them: whether they may share memory as NumPy runs the code (`numpy`) and as the
generated code runs (`generated`; they differ only for a new array that the generated code writes
as its operand, `a.copy()`, `-(-a)`). Then, for the same code followed by `b[0] = 10.0` and a read
of `a`:
- lowering refuses the write exactly when `numpy` says they share (NumPy would change both);
- otherwise the program compiles, gives NumPy's value, and emission writes `b` in place exactly
  when `generated` says they do not share (a read of `a` follows the write).
"""
from __future__ import annotations

import numpy as np
import pytest

import adcompiler
from adcompiler import jit as compile_only
from adcompiler.api import TRANSFORMS
from adcompiler.backend.inplace import in_place_writes
from adcompiler.errors import CompileError
from adcompiler.frontend.lower import lower
from adcompiler.ir.alias import Aliases
from adcompiler.ir.core import Type, walk
from adcompiler.pipeline import build, check
from fd import fd_grad


def new_arrays(x):
    a = x * 2.0
    b = x * 3.0
    return a, b


def same_array(x):
    a = x * 2.0
    b = a
    return a, b


def slice_view(x):
    a = x * 2.0
    b = a[1:]
    return a, b


def reshape_view(x):
    a = x * 2.0
    b = a.reshape(2, 2)
    return a, b


def transpose_view(x):
    a = (x * 2.0).reshape(2, 2)
    b = a.T
    return a, b


def view_of_view(x):
    a = x * 2.0
    b = a[1:][::-1]
    return a, b


def mask_copies(x):
    a = x * 2.0
    b = a[x > 0]
    return a, b


def copy_method(x):
    a = x * 2.0
    b = a.copy()
    return a, b


def double_negation(x):
    a = x * 2.0
    b = -(-a)
    return a, b


def branch_may_be_a(x):
    a = x * 2.0
    if x[0] > 0:
        b = a
    else:
        b = x * 3.0
    return a, b


def branch_views_a(x):
    a = x * 2.0
    b = a[0:4] if x[0] > 0 else x * 3.0
    return a, b


def loop_makes_new(x):
    a = x * 2.0
    b = x * 1.0
    for i in range(3):
        b = b + a
    return a, b


def loop_may_give_a(x):
    a = x * 2.0
    b = x * 3.0
    for i in range(3):
        if x[i] > 0:
            b = a
    return a, b


def loop_may_run_no_iteration(x):
    a = x * 2.0
    b = a
    for i in range(3):
        b = b + 1.0
    return a, b


def while_may_give_a(x):
    a = x * 2.0
    b = x * 3.0
    while b[0] < 5.0:
        b = a if b[0] > 4.0 else b + 1.0
    return a, b


ROWS = [  # (program, numpy: may share, generated: may share)
    (new_arrays, False, False),
    (same_array, True, True),
    (slice_view, True, True),
    (reshape_view, True, True),
    (transpose_view, True, True),
    (view_of_view, True, True),
    (mask_copies, False, False),
    (copy_method, False, True),
    (double_negation, False, True),
    (branch_may_be_a, True, True),
    (branch_views_a, True, True),
    (loop_may_give_a, True, True),
    (loop_may_run_no_iteration, True, True),  # the trip count is not used: `b = a` if it is 0
    (loop_makes_new, False, False),
    (while_may_give_a, True, True),
]
X = np.array([0.5, -1.0, 2.0, 1.5])
ARG_TYPES = [Type("float64", 1, units=(False,))]


def relation(program, generated: bool) -> bool:
    """Whether `a` and `b`, as `program` returns them, may share memory by ir/alias.py."""
    fn = lower(check(program), ARG_TYPES, TRANSFORMS)
    a, b = fn.entry.terminator.values
    return Aliases.of(fn, generated).share(a, b)


@pytest.mark.parametrize("program, numpy, generated", ROWS, ids=[r[0].__name__ for r in ROWS])
def test_relation(program, numpy, generated):
    assert relation(program, generated=False) is numpy
    assert relation(program, generated=True) is generated


def write_source(program) -> str:
    """A file-backed copy of `program` then `b[0] = 10.0` (the frontend reads source files)."""
    return f'''
import numpy as np
from {__name__} import {program.__name__}


def {program.__name__}_then_write(x):
    a, b = {program.__name__}(x)
    b[0] = 10.0
    return np.sum(a) + np.sum(b) * 2.0
'''


def numpy_value(program):
    a, b = program(X.copy())
    b[0] = 10.0
    return np.sum(a) + np.sum(b) * 2.0


@pytest.fixture(scope="module")
def write_module(tmp_path_factory):
    import importlib.util
    import sys
    folder = tmp_path_factory.mktemp("alias_writes")
    path = folder / "alias_writes.py"
    path.write_text("".join(write_source(p) for p, _, _ in ROWS))
    spec = importlib.util.spec_from_file_location("alias_writes", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["alias_writes"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("program, numpy, generated", ROWS, ids=[r[0].__name__ for r in ROWS])
def test_refusal_and_in_place_follow_the_relation(write_module, program, numpy, generated):
    function = getattr(write_module, program.__name__ + "_then_write")
    if numpy:
        with pytest.raises(CompileError, match=r"assignment into the array `b`, which shares its memory with `a`"):
            check_and_build(function)
        return
    built = check_and_build(function)
    updates = [op for op in walk(built.program.entry.ops) if getattr(op, "prim", None) and op.prim.updates]
    assert len(updates) == 1
    assert (id(updates[0]) in in_place_writes(built.program)) is (not generated)
    x = X.copy()
    assert compile_only(function, jit=False)(x) == pytest.approx(numpy_value(program), rel=1e-15)
    np.testing.assert_array_equal(x, X)


def check_and_build(function):
    return build(check(function), ARG_TYPES, (), "jit", TRANSFORMS)


def write_through_a_tuple(x):
    a = x * 2.0
    t = (a, x)
    a[0] = 100.0  # NumPy changes t[0] too
    return np.sum(t[0])


def write_through_a_list(x):
    a = x * 2.0
    held = [a]
    a[0] = 100.0
    return np.sum(held[0])


def write_after_unpacking(x):
    a, b = (x * 2.0, x * 3.0)
    a[0] = 100.0  # no name holds the tuple
    return np.sum(a) + np.sum(b)


@pytest.mark.parametrize("program, holder", [(write_through_a_tuple, "t"), (write_through_a_list, "held")])
def test_a_tuple_or_list_that_holds_the_array_is_a_name_that_shares_it(program, holder):
    """Before, the write was made on a copy: 6.0 where NumPy gives 104.0."""
    with pytest.raises(CompileError, match=rf"assignment into the array `a`, which shares its memory with `{holder}`"):
        compile_only(program, jit=False)(X.copy())


def test_unpacked_arrays_are_written_without_refusal():
    x = X.copy()
    assert compile_only(write_after_unpacking, jit=False)(x) == pytest.approx(write_after_unpacking(X.copy()), rel=1e-15)
    np.testing.assert_array_equal(x, X)


def made_each_iteration(x, n):
    """An array made in each iteration and read only there: a kernel fills one array again."""
    total = 0.0
    for i in range(n):
        v = np.zeros(x.shape[0])
        for j in range(x.shape[0]):
            v[j] = x[j] * (i + 1)
        total = total + np.sum(np.sin(v))
    return total


def passed_on(x, n):
    """An array made in each iteration and read in the next: each iteration's is its own."""
    previous = np.ones(x.shape[0])
    total = 0.0
    for i in range(n):
        v = np.zeros(x.shape[0])
        for j in range(x.shape[0]):
            v[j] = x[j] * (i + 1) + previous[j] * 0.5
        total = total + np.sum(v * previous)
        previous = v
    return total + np.sum(previous)


def read_after_the_loop(x, n):
    """The array of the last iteration, read after the loop through a view the loop carries."""
    last = x[:1] * 0.0
    for i in range(n):
        v = np.zeros(x.shape[0])
        v[0] = x[0] * i
        last = v[:1]
    return np.sum(np.sin(last))


@pytest.mark.parametrize("program, refilled", [(made_each_iteration, True), (passed_on, False),
                                               (read_after_the_loop, False)])
def test_an_array_made_in_each_iteration_is_made_once_where_no_later_iteration_sees_it(program, refilled):
    """In a kernel, the zeros of one iteration are filled again in the next (rt.refilled) exactly
    where nothing can tell: values and gradients are NumPy's and finite differences' either way."""
    x = np.linspace(0.2, 1.1, 5)
    text = adcompiler.show(program, x, 3, print_it=False)
    kernels = text[text.index("# generated Python"):]
    assert ("krt.refilled(" in kernels) is refilled, kernels
    assert compile_only(program, jit=True)(x, 3) == pytest.approx(program(x, 3), rel=1e-14)
    np.testing.assert_allclose(adcompiler.grad(program, jit=True)(x, 3), fd_grad(program, [x, 3], 0), rtol=1e-7)
