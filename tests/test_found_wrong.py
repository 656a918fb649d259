"""Programs the long random runs found with a wrong gradient, each kept after its mending.

2026-12-02, `test_random_programs_long` (a slow test): the gradient 0.0334 where finite differences
give -0.00743, in both modes, since at least 11af4ad. A value made in a loop and appended to a list
tape (which holds a reference) became the next iteration's carried array, and `y[0, :] -= r` then
wrote into it in place, changing what the backward later read of the earlier iteration. The in-place
analysis compared the appended memory with the update's target as (maker, loops of whose earlier
iterations it is) pairs, and the same array seen one iteration later never matched.
Finite differences in float64 are the reference.
"""
from __future__ import annotations

import inspect
import math  # noqa: F401 (the program uses it)

import numpy as np
import pytest

import adcompiler
from fd import fd_grad

C0 = 0.156
G0 = np.array([[-1.323236]])
G1 = np.array([[0.473606]])

def h0(u, v):
    s = u * 0.5 + v * 0.0
    for j in range(3):
        s = np.tanh(s + v * j)
    return s


def h1(x, t1):
    s = 0.0
    for j in range(4):
        s = s + np.sum(np.sin(x * (j + 1))) * 0.25
        if s > 0.5:
            break
    return s * t1



def f(x):
    t1 = -x * 2.0
    t1 = t1.T
    s3 = 0.0
    for r4 in t1:
        if np.tanh(s3) > -1.5375:
            break
        s3 = 0.5 * s3 + (np.mean(r4))
        y5 = np.ones((1, 1)) * 0.5
        for i6 in range(r4.shape[0]):
            s3 *= s3
            y5[i6, :] -= np.sum(x)
            y5[i6, :] = r4[0]
    t7 = -(r4 - t1)
    t8 = math.pow(s3, 2.0)
    s9 = t8 * 0.5
    y10 = np.zeros_like(x)
    for i11 in range(1, 3):
        t7 = np.concatenate([y10, t7, y10])
        y10[-1, :] -= r4
        y10 = np.tanh(y10 + (np.sum(x)))
        if s9 < -0.2:
            return np.sum(y10 * G0)
        t13 = h1(s3, s9)
    t14 = np.power((np.mean(y10, axis=(-2, -1), keepdims=True)), 2)
    return np.sum(np.sin(t14) * G1) + t13 * -1.3 + np.cos(s9) * C0


def carried_and_updated_after_its_append(x):
    """The found program, reduced: `y` is appended in one iteration and written in the next."""
    r = x[0]
    y = np.zeros_like(x)
    for i in range(2):
        y[0, :] -= r
        y = np.tanh(y)
    return np.sum(y)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("program", [f, carried_and_updated_after_its_append])
def test_random_program_found_wrong_on_2026_12_02(program, jit):
    x = np.array([[-0.797564]])
    got = adcompiler.grad(program, jit=jit)(x)
    np.testing.assert_allclose(got, fd_grad(program, [x], 0), rtol=1e-6)
    np.testing.assert_array_equal(x, [[-0.797564]])


def test_the_appended_array_is_not_written_in_place_in_a_later_iteration():
    """The update writes a copy, so the list keeps each iteration's value (before, it wrote `y`)."""
    code = adcompiler.show(adcompiler.grad(carried_and_updated_after_its_append, jit=False), np.ones((1, 1)),
                           print_it=False)
    forward = code[code.index("def carried_and_updated_after_its_append_forward_loop"):]
    forward = forward[:forward.index("return")]
    assert "y.copy()" in forward and "y[0, :] =" not in forward, forward


# 2026-12-02, found by hand while widening the generator (helper "fuzz"): a list that a `for` loop
# grows holds copies of its items (the rows of one array), NumPy's list holds the arrays themselves.
# Writing into an appended array afterwards (in the same iteration, a later one, after the loop, or
# through `out[i]`) changed NumPy's list but not adcompiler's: a wrong value and gradient, silently.
# Now refused (frontend/aliasing.py asks the items a grown list holds, frontend/lists.py records them).

def written_after_its_append(x):
    out = []
    y = x.copy()
    for i in range(3):
        out.append(y)
        y[0] += x[1] * i   # marked
    return np.sum(np.stack(out) * np.arange(3.0)[:, None])


def written_in_the_next_iteration(x):
    out = []
    y = x * 1.0
    for i in range(3):
        y[i] = y[i] * 2.0 + x[0]   # marked
        out.append(y)
    return np.sum(np.sin(np.stack(out)))


def last_item_written_after_the_loop(x):
    out = []
    for i in range(3):
        y = x * (i + 1.0)
        out.append(y)
    y[0] = 7.0 * x[2]   # marked
    return np.sum(np.sin(np.stack(out)))


def item_read_back_and_written(x):
    out = []
    for i in range(3):
        y = x * (i + 1.0)
        out.append(y)
    z = out[2]
    z[0] = 3.0 * x[1]   # marked
    return np.sum(np.sin(np.stack(out))) + np.sum(y)


def view_appended_then_written(x):
    out = []
    y = x * 1.0
    for i in range(3):
        out.append(y[1:])
        y[1] = y[1] * x[0]   # marked
    return np.sum(np.sin(np.stack(out)))


@pytest.mark.parametrize("program", [written_after_its_append, written_in_the_next_iteration,
                                     last_item_written_after_the_loop, item_read_back_and_written,
                                     view_appended_then_written], ids=lambda p: p.__name__)
def test_writing_into_an_array_a_grown_list_holds_is_refused(program):
    with pytest.raises(adcompiler.CompileError, match="shares its memory with `out`") as refused:
        adcompiler.grad(program, jit=False)(np.array([0.3, -0.7, 0.5]))
    line = next(k for k, text in enumerate(inspect.getsource(program).splitlines()) if "# marked" in text)
    assert f":{program.__code__.co_firstlineno + line}: in {program.__name__}()" in str(refused.value)


def fresh_item_written_then_appended(x):
    out = []
    for i in range(3):
        y = x * (i + 1.0)
        y[0] = y[1] * x[2]
        out.append(y)
    return np.sum(np.sin(np.stack(out)))


def stacked_list_written(x):
    out = []
    for i in range(3):
        out.append(x * (i + 1.0))
    z = np.stack(out)
    z[0] = z[1] * x[0]
    w = np.array(out)
    w[1, 1] = 3.0 * x[2]
    return np.sum(np.sin(z)) + np.sum(np.cos(w)) + np.sum(np.stack(out) ** 2)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("program", [fresh_item_written_then_appended, stacked_list_written],
                         ids=lambda p: p.__name__)
def test_writes_numpy_does_not_see_through_a_grown_list_are_not_refused(program, jit):
    x = np.array([0.3, -0.7, 0.5])
    value, got = adcompiler.value_and_grad(program, jit=jit)(x)
    assert value == pytest.approx(program(x.copy()), rel=1e-12)
    np.testing.assert_allclose(got, fd_grad(program, [x], 0), rtol=1e-6)
    np.testing.assert_array_equal(x, [0.3, -0.7, 0.5])


# 2026-12-02, the in-place random run (seed 2127 of tests/program_generator.py with inplace=3,
# control=3), reduced: a list grown by a loop whose items change shape between iterations. Its rows
# are allocated at the first item's shape and later items are broadcast into them, so `out[-1]` is
# the (1, 1) item broadcast to (4, 1): the value 2.22 where NumPy gives 0.555, silently. Now each
# iteration checks its item's dims against the rows' (rules/internal.py `rows`): a ValueError.
G2 = np.array([[0.555168]])


def grown_list_of_items_of_two_shapes(x):
    t1 = x * 1.0
    out = []
    for r in t1:
        out.append(t1)
        t1 = G2 * 1.0
    return np.sum(out[-1])


@pytest.mark.parametrize("jit", [False, True])
def test_grown_list_of_items_of_two_shapes(jit):
    x = np.array([[1.465899], [0.966992], [1.489265], [1.224455]])
    with pytest.raises(ValueError, match="the items of a list grown by a loop must have one shape"):
        adcompiler.value_and_grad(grown_list_of_items_of_two_shapes, jit=jit)(x)


# 2026-12-02, the in-place random run (seed 3992, a crash on its call with another pattern of
# length-1 axes), reduced: a list grown by a loop that runs no time. NumPy's `np.array([])` has shape
# (0,); adcompiler's empty grown list is an array of shape (0, 0, ...) (docs/supported.md), so
# `np.sum(np.array(out), axis=0)` is 0.0 in NumPy and an empty array here, and the result 3.0 where
# NumPy gives 4.0, silently (`sum(out)`, 0 in Python, fails to broadcast instead). The rank of an
# empty list cannot be NumPy's, so reading an empty grown list of arrays as an array (np.array,
# np.stack, sum, NumPy's functions) is now a ValueError (rules/internal.py `nonempty_rows`);
# len(), iteration and indexing read it as before.

def empty_grown_list(x):
    out = []
    for i in range(len(x) - 1):
        out.append(x[0] * 2.0)
    return np.sum(np.sum(np.array(out), axis=0) + 1.0) + np.sum(x)


@pytest.mark.parametrize("jit", [False, True])
def test_empty_grown_list(jit):
    with pytest.raises(ValueError, match="a list grown by a loop that ran no iteration is read as an array"):
        adcompiler.value_and_grad(empty_grown_list, jit=jit)(np.ones((1, 3)))
    value, grad = adcompiler.value_and_grad(empty_grown_list, jit=jit)(np.ones((2, 3)))  # one iteration: as before
    assert value == pytest.approx(empty_grown_list(np.ones((2, 3))), rel=1e-12)
    np.testing.assert_allclose(grad, fd_grad(empty_grown_list, [np.ones((2, 3))], 0), rtol=1e-6)


# 2026-12-02, the in-place random run (seed 5965 with inplace=3, control=3), reduced: `y += v` in a
# loop, where another name (or a grown list) holds y's array at the end of an iteration. NumPy adds
# into that array in the next iteration, which the other name sees; adcompiler made a new array (as
# it may when nothing else holds the array), so the other name kept the old values: a wrong value
# and gradient, silently (3.73 where NumPy gives 4.68). The loop's check of what it writes at the
# end of an iteration (frontend/aliasing.py) now counts augmented assignments to arrays.

def augmented_while_another_name_holds_it(x):
    y = np.zeros(2)
    z = np.ones(2)
    s = 0.0
    for i in range(3):
        y += x
        s = s + np.sum(np.sin(z))
        z = y
    return s


def augmented_then_appended(x):
    y = np.zeros(2)
    out = []
    for i in range(2):
        y += x
        out.append(y)
    return np.sum(out[0])


@pytest.mark.parametrize("program, other", [(augmented_while_another_name_holds_it, "z"),
                                            (augmented_then_appended, "out")], ids=lambda p: getattr(p, "__name__", p))
def test_augmented_assignment_in_a_loop_into_an_array_another_name_holds_is_refused(program, other):
    with pytest.raises(adcompiler.CompileError, match=f"the loop writes into `y`, which shares its memory with `{other}`"):
        adcompiler.grad(program, jit=False)(np.array([0.5, 0.25]))


def augmented_with_nothing_else_holding_it(x):
    y = np.zeros(2)
    s = 0.0
    for i in range(3):
        y += x * i
        s = s + np.sum(np.sin(y))
    return s


@pytest.mark.parametrize("jit", [False, True])
def test_augmented_assignment_in_a_loop_is_not_refused_when_nothing_else_holds_the_array(jit):
    x = np.array([0.5, 0.25])
    value, got = adcompiler.value_and_grad(augmented_with_nothing_else_holding_it, jit=jit)(x)
    assert value == pytest.approx(augmented_with_nothing_else_holding_it(x.copy()), rel=1e-12)
    np.testing.assert_allclose(got, fd_grad(augmented_with_nothing_else_holding_it, [x], 0), rtol=1e-6)


# 2026-12-02, the in-place random run (seed 11372 with inplace=3, control=3), reduced: a copy of a
# copy of the argument (`np.copy` is the argument itself in the generated code until written), carried
# and written by a loop. The emitter let the loop's variable take its initial value's name when only
# the loop reads that value, but it resolved `fresh(fresh(x))` one step, to `c`, whose only reader
# was the loop, so the loop's result took the name `x` and the backward read it as the argument:
# the gradient 0.353 where finite differences give 1.513, silently, in both modes. Mended in
# backend/emit.py (`_body` resolves identities to the value whose name they have).

def copy_of_a_copy_written_in_a_loop(x):
    c = np.copy(x)
    t = np.sum(c * x)
    y = np.copy(c)
    s = 0.0
    for j in range(2):
        c[-1, -1] = t
        s = s + np.sum(y)
        y -= np.mean(c)
    return s


@pytest.mark.parametrize("jit", [False, True])
def test_copy_of_a_copy_written_in_a_loop(jit):
    x = np.array([[0.874314, 0.243254]])
    value, got = adcompiler.value_and_grad(copy_of_a_copy_written_in_a_loop, jit=jit)(x)
    assert value == pytest.approx(copy_of_a_copy_written_in_a_loop(x.copy()), rel=1e-12)
    np.testing.assert_allclose(got, fd_grad(copy_of_a_copy_written_in_a_loop, [x], 0), rtol=1e-6)
    np.testing.assert_array_equal(x, [[0.874314, 0.243254]])
