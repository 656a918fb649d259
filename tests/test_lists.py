"""Lists inside functions: literals, comprehensions, lists grown by `append` in loops, and their
use by np.array / np.stack / np.mean / sum / len / indexing / iteration.

Each program is checked by the dot-product test against float64 central finite differences of the
plain Python function (tests/fd.py `check_vjp`, which also compares the forward value with
NumPy's) with `jit=False`, and the rows marked `jit` also compiled by Numba. Each refusal is checked
for its message, hint and line (the line marked `# <- HERE`).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import adcompiler
from adcompiler import CompileError, grad
from fd import check_vjp, fd_grad, fd_jacobian
from test_errors import check_error
from test_values import rng_for


def appended_rows(x, W):
    out = []
    for i in range(len(x)):
        out.append(np.tanh(W @ x * x[i]))
    ys = np.stack(out)
    return np.sum(ys * ys) + np.sum(np.array(out)[:, 0]) + len(out)


def appended_scalars(x, W):
    total = []
    for row in W:
        total.append(np.sum(row * x))
    return sum(total) * total[0] + np.mean(total)


def list_of_literals(x, W):
    pair = [x[0], x[1] * 3.0]
    pair.append(np.sum(W))
    return sum(pair) * pair[-1] + len(pair) + np.sum(np.array(pair) ** 2)


def comprehensions(x, W):
    ys = [np.sin(x * k) for k in (1.0, 2.0, 3.0) if k != 2.0]
    zs = [x[i] ** 2 for i in range(len(x))]
    ws = [v * 2.0 for v in x]
    pairs = [a * b for a, b in zip(x, W[0])]
    scaled = [k * w for k, w in enumerate(W)]
    return np.sum(np.array(ys)) + np.sum(zs) + sum(ws) + sum(pairs) + np.sum(np.stack(scaled) ** 2)


def iterate_a_grown_list(x, W):
    out = []
    for i in range(3):
        out.append(W[i] * x[i])
    s = 0.0
    for row in out:
        s = s + np.sum(row ** 2)
    return s + sum(o[0] for o in out) + np.sum(out[1])


def list_in_a_loop_body(x, W):
    s = 0.0
    for row in W:
        parts = []
        for v in row:
            parts.append(v * x[0])
        s = s + np.sum(np.array(parts) ** 2)
    return s


def grown_list_in_a_helper(x, W):
    return _stacked_squares(W, x) * 2.0


def _stacked_squares(W, x):
    out = [np.sum(row * x) ** 2 for row in W]
    return sum(out)


PARENTS = np.array([-1, 0, 0, 2])


def items_of_parents(x, W):
    """ADBench's hand skeleton: each item appended in one branch or the other, the second reading
    an earlier item at a run-time position (its parent) and the last one (-1)."""
    out = []
    for i in range(W.shape[0]):
        row = np.tanh(W[i] * x[i % 3])
        if PARENTS[i] == -1:
            out.append(row)
        else:
            out.append(out[PARENTS[i]] * row + 0.5 * out[-1])
    return np.stack(out)


def appended_in_branches(x, W):
    items = items_of_parents(x, W)
    return np.sum(items ** 2) + np.sum(items[0] * items[2])


PROGRAMS = [(appended_rows, True), (appended_in_branches, True), (appended_scalars, True), (list_of_literals, False),
            (comprehensions, True),
            (iterate_a_grown_list, False), (list_in_a_loop_body, False), (grown_list_in_a_helper, False)]
CASES = [pytest.param(f, False, wrt, id=f"{f.__name__}-{wrt}-nojit") for f, _ in PROGRAMS for wrt in (0, 1)] + \
    [pytest.param(f, True, 1, id=f"{f.__name__}-jit") for f, jit in PROGRAMS if jit]


@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
def test_jacobians_of_a_list_grown_in_branches(mode):
    """Batched tangents or cotangents through the rows of a list grown in both branches of an `if`."""
    rng = rng_for("items of parents")
    x, W = rng.uniform(0.2, 1.0, 3), rng.uniform(-1.0, 1.0, (4, 3))
    for k in (0, 1):
        jacobian = getattr(adcompiler, mode)(items_of_parents, wrt=k, jit=False)(x, W)
        np.testing.assert_allclose(jacobian, fd_jacobian(items_of_parents, (x, W), k), rtol=1e-7, atol=1e-9)


def earlier_item(x, j):
    out = []
    for i in range(3):
        if i == 0:
            out.append(x)
        else:
            out.append(out[j] * x)
    return np.sum(np.stack(out))


def test_an_item_read_before_it_is_appended_is_an_index_error():
    """As Python's list of the i items so far: out[j] with j out of [-i, i) raises IndexError
    (which the compiled function reports as a ValueError naming it and its generated code)."""
    function = adcompiler.grad(earlier_item, jit=False)
    x = np.array([0.5, 2.0])
    for j in (0, -1):
        np.testing.assert_allclose(function(x, j), fd_grad(earlier_item, (x, j), 0), rtol=1e-7)
    for j in (1, -2):  # at i == 1, out has one item
        with pytest.raises(IndexError):
            earlier_item(x, j)
        with pytest.raises(ValueError, match="earlier_item.*index out of bounds for an axis of length 1"):
            function(x, j)


@pytest.mark.parametrize("function, jit, wrt", CASES)
def test_lists(function, jit, wrt):
    rng = rng_for(function.__name__)
    check_vjp(function, (rng.uniform(0.2, 1.0, 3), rng.uniform(-1.0, 1.0, (3, 3))), wrt, jit, rng)


def test_a_grown_list_is_written_in_place():
    g = grad(appended_rows, jit=False)
    g(np.ones(3), np.ones((3, 3)))
    ((built, _),) = g.specialisations.values()
    assert re.search(r"^ +\w+ = (\w+|k?rt\.grown_rows\(\w+, \(\w+,\)\)) if i else np\.zeros\(", built.source, re.M), built.source
    # in place (a kernel's region update is krt.assign_into): the rows are not taped
    assert re.search(r"^ +(\w+\[i\] = \w+ |krt\.assign_into\(\w+\[i\], \w+\))", built.source, re.M), built.source


# ---------------------------------------------------------------- refusals

def read_while_growing(x):
    out = []
    for i in range(3):
        out.append(x * i)
        x = out[-1] + 1.0  # <- HERE
    return np.sum(np.array(out))


def append_under_condition(x):
    out = []
    for i in range(3):  # <- HERE
        if i > 0:
            out.append(x * i)
    return np.sum(np.array(out))


def read_a_slice_while_growing(x):
    out = []
    for i in range(3):
        if i == 0:
            out.append(x)
        else:
            out.append(np.sum(np.array(out[0:1])) * x)  # <- HERE
    return np.sum(np.array(out))


def len_while_growing(x):
    out = []
    for i in range(3):
        out.append(x * len(out))  # <- HERE
    return np.sum(np.array(out))


def appended_twice_on_a_path(x):
    out = []
    for i in range(3):  # <- HERE
        if i == 0:
            out.append(x)
        else:
            out.append(x)
            out.append(x * i)
    return np.sum(np.array(out))


def items_before_the_loop(x):
    out = [x]
    for i in range(3):  # <- HERE
        out.append(x * i)
    return np.sum(np.array(out))


def list_of_lists_grown(x):
    out = []
    for i in range(3):
        out.append([x, x * i])  # <- HERE
    return np.sum(np.array(out))


def append_to_an_argument(x, items):
    items.append(x)  # <- HERE
    return x


def grown_twice(x):
    out = []
    for i in range(2):
        out.append(x * i)
    for i in range(2):
        out.append(x + i)  # <- HERE
    return np.sum(np.array(out))


def list_times_two(x):
    out = [x, x]
    return np.sum(out * 2)  # <- HERE


REFUSALS = [
    (read_while_growing, (1.5,), ["list `out`", "read after this iteration appended to it"], "own"),
    (append_under_condition, (1.5,), ["list `out`", "once on every path", "under a condition"], "once per iteration"),
    (read_a_slice_while_growing, (1.5,), ["only an item `out[j]`"], "index the item"),
    (len_while_growing, (1.5,), ["list `out`", "read in the loop that grows it"], "own"),
    (appended_twice_on_a_path, (1.5,), ["list `out`", "once on every path"], "once per iteration"),
    (items_before_the_loop, (1.5,), ["list `out`", "items before the loop"], "empty"),
    (list_of_lists_grown, (1.5,), ["a list", "cannot be used as a number or array"], None),
    (append_to_an_argument, (1.5, 2.0), ["`items`", "not a list made in this function"], "preallocate"),
    (grown_twice, (1.5,), ["list `out`", "earlier loop"], "once per iteration"),
    (list_times_two, (1.5,), ["a list", "cannot be used as a number or array"], None),
]


@pytest.mark.parametrize("function, args, says, hint", REFUSALS, ids=[r[0].__name__ for r in REFUSALS])
def test_refused(function, args, says, hint):
    with pytest.raises(CompileError) as info:
        grad(function, jit=False)(*args)
    check_error(info.value, function, says=says, hint=hint, file=__file__)


def test_an_empty_comprehension_over_a_range():
    """A comprehension over a range with a run-time length of zero makes an empty list."""
    assert adcompiler.jit(empty_range_sum, jit=False)(0, 1.5) == 0.0
    assert adcompiler.jit(empty_range_sum, jit=False)(3, 1.5) == empty_range_sum(3, 1.5)


def empty_range_sum(n, x):
    return sum([x * i for i in range(n)])


def test_a_grown_list_keeps_float32():
    """Items of float32 make float32 rows; the gradient is float32 and agrees with float64's."""
    rng = rng_for("float32 lists")
    x, W = rng.uniform(0.2, 1.0, 3), rng.uniform(-1.0, 1.0, (3, 3))
    value32, (gx32, gW32) = adcompiler.value_and_grad(appended_rows, wrt=(0, 1), jit=False)(
        x.astype(np.float32), W.astype(np.float32))
    value64, (gx64, gW64) = adcompiler.value_and_grad(appended_rows, wrt=(0, 1), jit=False)(x, W)
    assert np.asarray(value32).dtype == np.float32 and gx32.dtype == gW32.dtype == np.float32
    np.testing.assert_allclose(gx32, gx64, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(gW32, gW64, rtol=2e-5, atol=1e-6)
