"""The batching transform (transforms/batch.py) and what is built on it: `vmap` against a Python
loop over the batch and against `jax.vmap`; `jacrev` (one backward pass over the identity basis
of cotangents, transforms/jacobian.py) against float64 finite differences and `jax.jacrev`; the
Hessian `jacrev(grad(f))`; the refusals. Every primitive with a batching rule is reached by a
batched value somewhere in this file (`test_every_batching_rule_is_exercised`)."""
from __future__ import annotations

import inspect
import types

import numpy as np
import pytest
from scipy import special as sc

import adcompiler as ad
from adcompiler import api
from adcompiler.backend.compile import compile_module
from adcompiler.backend.emit import emit_python
from adcompiler.ir.builder import Builder
from adcompiler.ir.core import Block, Function, Return, Type, Value, verify
from adcompiler.errors import Loc
from adcompiler.rules import primitives as P
from adcompiler.transforms import batch as batch_module
from adcompiler.transforms.batch import batch
from fd import fd_jacobian

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

SEED = 17
K = 4  # the batch size

REACHED: set = set()  # the primitives whose batching rule ran (recorded by the fixture below)


@pytest.fixture(autouse=True, scope="module")
def _record_rules():
    """Record the primitive of every op a batched value reaches, for the coverage test at the end."""
    original = batch_module.Batching.op

    def op(self, op):
        if any(self.is_batched(a) for a in op.args):
            REACHED.add(op.prim)
        return original(self, op)

    batch_module.Batching.op = op
    yield
    batch_module.Batching.op = original


def with_jax(function):
    """`function` with its global `np` bound to jax.numpy (for the programs JAX can run)."""
    return types.FunctionType(function.__code__, {**function.__globals__, "np": jnp}, function.__name__,
                              function.__defaults__, function.__closure__)


def looped(function, args, in_axes):
    """What vmap must give: `function` called on each item, the results stacked."""
    size = next(np.shape(a)[axis] for a, axis in zip(args, in_axes) if axis is not None)
    items = [function(*(a if axis is None else np.take(a, i, axis=axis) for a, axis in zip(args, in_axes)))
             for i in range(size)]
    return np.stack(items)


# ---------------------------------------------------------------- vmap of programs


def elementwise(x, y):
    return np.exp(x) * y + np.maximum(x, 0.5) - x / (1.0 + y ** 2) + np.where(x > y, x, -y)


def reductions(x):
    return (np.sum(x, axis=1) + np.mean(x, axis=1) + np.max(x, axis=1) - np.min(x, axis=(1,), keepdims=True)[:, 0]
            + np.prod(x, axis=1) + np.sum(x) - np.mean(x) + np.max(x) * np.min(x) + np.prod(x))


def shapes(x):
    y = np.reshape(x, (x.shape[1], x.shape[0])).T
    return np.transpose(y[:, :, None], (2, 0, 1))[0] + x[:, None, :][:, 0] + x.size


def indexing(x, i):
    y = x[1:, ::2] * x[i, ::2]
    z = np.zeros((3, 2))
    z[0] = y[0]
    z[1:, 1] += x[i, :2]
    return z + x[np.array([2, 0, 2])][:, 2:]


def advanced(x):
    rows = np.array([0, 2, 1])
    return x[rows, np.array([1, 1, 0])] * np.take(x, rows, axis=1)[0]


def sequences(x):
    return np.cumsum(x) * np.cumprod(x) + np.sort(x) + np.linalg.norm(x) + np.outer(x, x)[1]


def loops(x, n):
    acc = np.zeros(3)  # unbatched at first: the body makes it batched
    s = 0.0
    for i in range(n):
        acc = acc * 0.5 + np.sin(x * (i + 1))
        s = s + acc[i % 3]
    if n > 2:  # a branch on an unbatched condition
        acc = acc + s
    k = 0
    while k < n:
        acc = acc - 0.1 * x
        k = k + 1
    return acc


def filled(s, x):
    return np.full(3, s) * x + np.zeros_like(x) + np.ones_like(x) * s


def special(x):
    return sc.expit(x) + sc.gammaln(x + 2.0) + np.arctan2(x, 1.5) + np.abs(-x)


def grown_list(x, W):
    """A list grown by a loop, an item read back by its parent's position (ADBench hand's bones)."""
    out = []
    for i in range(W.shape[0]):
        if i == 0:
            out.append(np.sin(W[i] * x))
        else:
            out.append(out[(i - 1) // 2] * W[i] + x)
    return np.stack(out)


PROGRAMS = [  # (function, argument shapes (a tuple) or an int, in_axes, JAX can run it)
    (elementwise, ((K, 3), (3,)), (0, None), True),
    (elementwise, ((3,), (3, K)), (None, 1), True),
    (elementwise, ((K, 2, 3), (K, 3)), 0, True),
    (reductions, ((K, 3, 4),), 0, True),
    (shapes, ((2, K, 3),), 1, True),
    (indexing, ((K, 3, 4), 1), (0, None), False),
    (advanced, ((K, 3, 3),), 0, True),
    (sequences, ((K, 4),), 0, True),
    (loops, ((K, 3), 4), (0, None), False),
    (filled, ((K,), (K, 3)), 0, True),
    (special, ((K, 3),), 0, False),
    (grown_list, ((K, 3), (4, 3)), (0, None), False),
]


def _arguments(rng, shapes):
    return tuple(s if isinstance(s, int) else rng.uniform(0.2, 0.9, size=s) for s in shapes)


@pytest.mark.parametrize("jit, items_as_numbers", [(False, False), (True, False), (True, True)],
                         ids=["plain", "batched", "small items as numbers"])
@pytest.mark.parametrize("function, shapes, in_axes, runs_in_jax", PROGRAMS,
                         ids=[f"{p[0].__name__}-{i}" for i, p in enumerate(PROGRAMS)])
def test_vmap_against_a_loop_and_jax(function, shapes, in_axes, runs_in_jax, jit, items_as_numbers, rng, monkeypatch):
    """Batched with the items' shapes unknown (no item small enough to be specialised by its
    shape), and with small items as numbers where they qualify (transforms/scalarise.py)."""
    if not items_as_numbers:
        monkeypatch.setattr(api, "SMALL", 0)
    args = _arguments(rng, shapes)
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    got = ad.vmap(function, in_axes=in_axes, jit=jit)(*args)
    np.testing.assert_allclose(got, looped(function, args, axes), rtol=1e-12, atol=1e-12)
    if runs_in_jax:
        np.testing.assert_allclose(got, jax.vmap(with_jax(function), in_axes=in_axes)(*args), rtol=1e-12, atol=1e-12)


def mm(a, b):
    return a @ b


@pytest.mark.parametrize("ranks", [(1, 1), (1, 2), (2, 1), (2, 2), (3, 2), (2, 3), (3, 3)])
@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0)])
def test_vmap_of_matmul_of_every_rank(ranks, in_axes, rng, monkeypatch):
    shape = {1: (3,), 2: (3, 3), 3: (2, 3, 3)}
    args = [rng.normal(size=((K,) if axis == 0 else ()) + shape[r]) for r, axis in zip(ranks, in_axes)]
    expected = jax.vmap(jnp.matmul, in_axes=in_axes)(*args)
    if 3 in ranks:  # batched (linalg._stacks_batched: the batch folded into 3-D stacks) as well as,
        # the items small, a loop over their numbers (transforms/scalarise.py)
        with monkeypatch.context() as patch:
            patch.setattr(api, "SMALL", 0)
            np.testing.assert_allclose(ad.vmap(mm, in_axes=in_axes, jit=False)(*args), expected, rtol=1e-12,
                                       atol=1e-12)
    got = ad.vmap(mm, in_axes=in_axes, jit=False)(*args)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_out_axes_and_unbatched_results(rng):
    x, y = rng.normal(size=(3, K)), rng.normal(size=2)

    def f(x, y):
        return x * 2.0, y + 1.0  # the second result does not depend on the batch: repeated over it

    a, b = ad.vmap(f, in_axes=(1, None), out_axes=1, jit=False)(x, y)
    np.testing.assert_array_equal(a, x * 2.0)
    np.testing.assert_array_equal(b, np.repeat((y + 1.0)[:, None], K, axis=1))


def test_unbatched_values_are_computed_once(rng):
    """The primal of what does not depend on the batch is not repeated: `np.exp(w)` is one op of w."""
    def f(x, w):
        return x * np.exp(w)

    text = ad.show(ad.vmap(f, in_axes=(0, None)), rng.normal(size=(K, 3)), rng.normal(size=3), print_it=False)
    code = text.split("# generated Python")[1]
    assert "np.exp(w)" in code


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_per_example_gradients_through_a_taped_loop(jit, rng):
    """vmap(grad(f)): the spliced gradient's loop tape becomes a list of batched arrays."""
    def loss(w, x):
        h = x
        for i in range(3):
            h = np.tanh(w @ h)
        return np.sum(h * h)

    w, xs = rng.normal(size=(3, 3)), rng.normal(size=(K, 3))
    got = ad.vmap(ad.grad(loss), in_axes=(None, 0), jit=jit)(w, xs)
    want = jax.vmap(jax.grad(with_jax(loss)), in_axes=(None, 0))(w, xs)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_per_example_gradients_through_a_while_loops_stacks(rng):
    """A `while` loop's stacks (tape_push) batched: the rows gain the batch axis."""
    def loss(w, x):
        s, k = 0.5, 0
        while k < 3:
            x = np.tanh(w @ x) * s
            s = s + np.sum(x * x)
            k = k + 1
        return s

    w, xs = rng.normal(size=(3, 3)), rng.normal(size=(K, 3))
    got = ad.vmap(ad.grad(loss), in_axes=(None, 0), jit=False)(w, xs)
    np.testing.assert_allclose(got, looped(ad.grad(loss, jit=False), (w, xs), (None, 0)), rtol=1e-12, atol=1e-12)
    want = jax.vmap(jax.grad(with_jax(loss)), in_axes=(None, 0))(w, xs)  # (k is a Python number there)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_per_example_gradients_through_a_loop_of_numbers(rng):
    """A `for` loop of numbers (its tape an array of weak numbers) and np.prod's exact gradient."""
    def loss(w, x):
        s = 0.0
        for i in range(3):
            s = s + np.sin(np.sum(w[i] * x) * s + w[i, i])
        return s * np.sum(np.prod(w * x, axis=0))

    w, xs = rng.normal(size=(3, 3)), rng.normal(size=(K, 3))
    for position, in_axes in ((0, (None, 0)), (1, (None, 0))):
        got = ad.vmap(ad.grad(loss, wrt=position), in_axes=in_axes, jit=False)(w, xs)
        want = jax.vmap(jax.grad(with_jax(loss), argnums=position), in_axes=in_axes)(w, xs)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_vmap_inside_jit_code(rng):
    def residual(x, w):
        return np.sin(w @ x) * x

    batched = ad.vmap(residual, in_axes=(0, None))

    @ad.jit
    def total(xs, w):
        return np.sum(batched(xs, w) ** 2)

    xs, w = rng.normal(size=(K, 3)), rng.normal(size=(3, 3))
    assert abs(total(xs, w) - np.sum(looped(residual, (xs, w), (0, None)) ** 2)) < 1e-12


def test_elementwise_primitives_batched_in_the_ir(rng):
    """Each elementwise primitive (derived rule: rank alignment), built as IR, batched in one
    operand and then the other, against the primitive applied item by item."""
    loc = Loc("table.py", 1, "table")
    checked = 0
    for prim in P.ALL:
        if not prim.elementwise or prim.arity not in (1, 2, 3):
            continue
        dtypes = ["bool" if prim is P.logical_not or (prim is P.where and i == 0) else "float64"
                  for i in range(prim.arity)]
        params = {"dtype": "float32"} if prim is P.cast else {}
        for position in range(prim.arity):
            ranks = [1 if i == position else 2 for i in range(prim.arity)]  # the batched one of lower rank
            builder = Builder(loc)
            params_ir = [Value(Type(d, r), f"a{i}") for i, (d, r) in enumerate(zip(dtypes, ranks))]
            with builder.active():
                out = builder.emit(prim, params_ir, params)
            fn = verify(Function("table", [Block(params_ir, builder.ops, Return((out,), loc))], loc))
            batched = verify(batch(fn, (position,)))
            source = emit_python(batched, "table", "")
            module = compile_module(source, f"batch_table_{prim.name}_{position}", jit=False)
            low = 1.2 if prim is P.arccosh else 0.2  # inside every function's domain
            values = [rng.uniform(low, low + 0.6, size=(3, 2)[2 - r:]) if d == "float64"
                      else rng.uniform(size=(3, 2)[2 - r:]) > 0.5 for d, r in zip(dtypes, ranks)]
            values[position] = np.stack([np.roll(values[position], j) for j in range(K)])
            got = getattr(module, "table")(*values)
            plain = compile_module(emit_python(fn, "table", ""), f"plain_table_{prim.name}", jit=False)
            want = np.stack([plain.table(*(v[j] if i == position else v for i, v in enumerate(values)))
                             for j in range(K)])
            if prim is P.empty_like:
                assert got.shape == want.shape
            else:
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=prim.name)
            REACHED.add(prim)
            checked += 1
    assert checked > 60


# ---------------------------------------------------------------- jacrev


def vector(x, w):
    return np.tanh(w @ x) * x[0] + np.sum(x ** 2)


def looping(x, w):
    h = x
    for i in range(3):
        h = np.sin(w @ h) + h[i]
    return h


def scalar(x):
    return np.sum(np.exp(x) * x[::-1])


def matrix_out(x):
    return np.outer(x, np.cumsum(x))


JACOBIANS = [  # (function, argument shapes, wrt)
    (vector, ((3,), (3, 3)), (0, 1)),
    (looping, ((3,), (3, 3)), (0, 1)),
    (scalar, ((4,),), 0),
    (matrix_out, ((3,),), 0),
    (advanced, ((3, 3),), 0),
    (sequences, ((4,),), 0),
    (reductions, ((3, 4),), 0),
    (shapes, ((2, 3),), 0),
]


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.slow)])
@pytest.mark.parametrize("function, shapes, wrt", JACOBIANS, ids=[p[0].__name__ for p in JACOBIANS])
def test_jacrev_against_finite_differences_and_jax(function, shapes, wrt, jit, rng):
    args = _arguments(rng, shapes)
    got = ad.jacrev(function, wrt=wrt, jit=jit)(*args)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    got = got if isinstance(wrt, tuple) else (got,)
    want = jax.jacrev(with_jax(function), argnums=wrt)(*args)
    want = want if isinstance(wrt, tuple) else (want,)
    for position, g, w in zip(positions, got, want):
        np.testing.assert_allclose(g, fd_jacobian(function, args, position), rtol=1e-7, atol=1e-8)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_jacrev_of_a_tree(rng):
    def f(params, x):
        return np.tanh(params["W"] @ x + params["b"])

    params = {"W": rng.normal(size=(2, 3)), "b": rng.normal(size=2)}
    x = rng.normal(size=3)
    got = ad.jacrev(f, jit=False)(params, x)
    want = jax.jacrev(with_jax(f))(params, x)
    assert set(got) == {"W", "b"}
    for key in got:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12)


def test_hessian_by_jacrev_of_grad(rng):
    def loss(w, x):
        s = 0.0
        for i in range(3):
            s = s + np.sin(np.sum(w[i] * x) * s + w[i, i])
        return s * np.sum(w @ x)

    w, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    hessian = ad.jacrev(ad.grad(loss), jit=False)(w, x)
    np.testing.assert_allclose(hessian, fd_jacobian(ad.grad(loss, jit=False), (w, x), 0), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(hessian, jax.hessian(with_jax(loss))(w, x), rtol=1e-12, atol=1e-12)


def test_vmap_of_jacrev(rng):
    """Per-item Jacobians (bundle adjustment's shape of problem): jacrev spliced into vmap."""
    def residual(x, w):
        return np.sin(w @ x) * x

    xs, w = rng.normal(size=(K, 3)), rng.normal(size=(3, 3))
    got = ad.vmap(ad.jacrev(residual), in_axes=(0, None), jit=False)(xs, w)
    np.testing.assert_allclose(got, jax.vmap(jax.jacrev(with_jax(residual)), in_axes=(0, None))(xs, w),
                               rtol=1e-12, atol=1e-12)


def projection(parameters, feature):
    """Bundle adjustment's residual in small: slices of one parameter vector, a broadcast scalar,
    a vector made of elements (the unbatched operands that the Jacobian's cotangents meet)."""
    angle, center, scale = parameters[0:3], parameters[3:5], parameters[5]
    x = np.array([angle[1] * center[0] - angle[0], angle[2] * center[1]]) - feature
    return scale * np.sin(x + center) + parameters[6:8] * np.sum(angle * angle)


@pytest.mark.parametrize("jacobian", [ad.jacrev, ad.jacfwd], ids=["jacrev", "jacfwd"])
@pytest.mark.parametrize("jit", [False, pytest.param("whole", marks=pytest.mark.slow)])  # "whole": rt.repeated's Numba twin
def test_vmap_of_a_jacobian_of_slices(jacobian, jit, rng):
    """Each item's Jacobian, whose cotangents (or tangents) meet operands the same for every
    cotangent: they are repeated as read-only views (`repeated`), which the outer vmap batches."""
    parameters, features = rng.normal(size=(K, 8)), rng.normal(size=(K, 2))
    got = ad.vmap(jacobian(projection), jit=jit)(parameters, features)
    np.testing.assert_allclose(got, jax.vmap(jax.jacrev(with_jax(projection)))(parameters, features),
                               rtol=1e-12, atol=1e-12)
    for item in range(K):
        np.testing.assert_allclose(got[item], fd_jacobian(projection, (parameters[item], features[item]), 0),
                                   rtol=1e-7, atol=1e-8)


def test_show_prints_the_jacobian_code(rng):
    text = ad.show(ad.jacrev(vector), rng.normal(size=3), rng.normal(size=(3, 3)), print_it=False)
    assert "basis = " in text.split("# generated Python")[1]


# ---------------------------------------------------------------- control flow that differs across the batch
# Each item takes its own branch, its own number of trips: an `if` computes both branches and picks
# per item (np.where), a loop runs until its longest item ends, each item's values kept from there.


def branch_on_item(x):
    if x[0] > 0:
        y = x * 2.0 + np.sum(x)
    elif x[1] > 0:
        return np.sin(x)
    else:
        y = np.exp(x)
    return y * x[1]


def while_on_item(x):
    h, n = x, 0
    while h[0] < 10.0:
        h = h * 1.5 + 0.1 * np.sin(h)
        n += 1
    return h * n


def trips_of_item(x, n):
    s = x
    for i in range(n):
        s = np.sin(s) * 2.0 + s * i
    return s


def trips_of_item_counting_down(x, n):
    s = x
    for i in range(n, 0, -2):
        if s[0] > 1.0:
            s = s * 0.5
        else:
            s = np.cos(s) + i
    return s


def loop_in_a_branch(x):
    h = x
    if x[0] > 0:
        while h[1] < 4.0:
            h = h + np.exp(h) * 0.5
    return np.sum(h ** 2)


CONTROL = [  # (function, arguments, in_axes): items that take each branch, run 0 trips and several
    (branch_on_item, (np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0], [-0.2, -0.1]]),), 0),
    (while_on_item, (np.array([[0.5, 1.0], [2.0, -1.0], [9.0, 3.0], [11.0, 0.0]]),), 0),
    (trips_of_item, (np.array([0.3, -0.4]), np.array([0, 3, 1, 5])), (None, 0)),
    (trips_of_item_counting_down, (np.array([[1.5, 0.2], [0.3, 0.4], [2.5, 1.0], [0.1, 0.1]]), np.array([0, 5, 4, 7])),
     (0, 0)),
    (loop_in_a_branch, (np.array([[1.0, 0.5], [-1.0, 0.5], [0.3, 3.0], [0.2, 5.0]]),), 0),
]


@pytest.mark.parametrize("jit", [False, True], ids=["plain", "jit"])
@pytest.mark.parametrize("function, args, in_axes", CONTROL, ids=[c[0].__name__ for c in CONTROL])
def test_control_flow_that_differs_across_the_batch(function, args, in_axes, jit):
    """vmap of the values and of the gradient, against the function and its gradient called on each
    item, and the gradients against finite differences."""
    got = ad.vmap(function, in_axes=in_axes, jit=jit)(*args)
    np.testing.assert_allclose(got, looped(function, args, _axes(in_axes, args)), rtol=1e-14, atol=1e-15)
    loss = _summed(function)
    gradients = ad.vmap(ad.grad(loss), in_axes=in_axes, jit=jit)(*args)
    axes = _axes(in_axes, args)
    np.testing.assert_allclose(gradients, looped(ad.grad(loss, jit=False), args, axes), rtol=1e-13, atol=1e-14)
    for item, gradient in enumerate(gradients):
        point = tuple(a if axis is None else np.take(a, item, axis=axis) for a, axis in zip(args, axes))
        np.testing.assert_allclose(gradient, fd_jacobian(loss, point, 0), rtol=1e-6, atol=1e-8)


def _axes(in_axes, args) -> tuple:
    return in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)


def _summed(function):
    """The sum of `function`'s result (a number to differentiate), a module-level function of the
    same parameters (transforms read the source)."""
    return {f.__name__: g for f, g in [(branch_on_item, summed_branch_on_item), (while_on_item, summed_while_on_item),
                                       (trips_of_item, summed_trips_of_item),
                                       (trips_of_item_counting_down, summed_trips_of_item_counting_down),
                                       (loop_in_a_branch, loop_in_a_branch)]}[function.__name__]


def summed_branch_on_item(x):
    return np.sum(branch_on_item(x))


def summed_while_on_item(x):
    return np.sum(while_on_item(x))


def summed_trips_of_item(x, n):
    return np.sum(trips_of_item(x, n))


def summed_trips_of_item_counting_down(x, n):
    return np.sum(trips_of_item_counting_down(x, n))


def test_branches_that_differ_across_two_batches():
    """vmap of vmap: the inner batch's choice (`select`) batched again by the outer one, with
    outer items all of whose inner items take one branch and outer items that mix them."""
    x = np.array([[[1.0, 2.0], [0.5, 0.1]], [[-1.0, 0.5], [0.3, -2.0]], [[-0.2, -0.1], [2.0, 1.0]]])
    got = ad.vmap(ad.vmap(branch_on_item), jit=False)(x)
    np.testing.assert_allclose(got, [[branch_on_item(item) for item in items] for items in x], rtol=1e-14, atol=1e-15)


def own_integers(x, i, j):
    return x[i, 1:, j] * 2.0 + x[1, i, -1] + x[:, j, i - 1].sum()


@pytest.mark.parametrize("jit", [False, True], ids=["plain", "jit"])
def test_integer_indices_that_differ_across_the_batch(jit):
    """Each item's own integers in a basic index (item_rows after the axes before them), of an
    array the same for every item and of a batch of arrays; negative ones count from the end."""
    x = np.arange(60.0).reshape(4, 3, 5) * 0.1
    rows, columns = np.array([0, 2, 1, -1]), np.array([1, 0, 2, 2])
    got = ad.vmap(own_integers, in_axes=(None, 0, 0), jit=jit)(x, rows, columns)
    np.testing.assert_array_equal(got, [own_integers(x, i, j) for i, j in zip(rows, columns)])
    xs = np.stack([x * (k + 1) for k in range(K)])
    got = ad.vmap(own_integers, jit=jit)(xs, rows, columns)
    np.testing.assert_array_equal(got, [own_integers(a, i, j) for a, i, j in zip(xs, rows, columns)])
    # out of range: clamped to the axis, as JAX does (an unused item's may be: a branch not taken)
    got = ad.vmap(row_of, in_axes=(0, 0), jit=jit)(xs, np.array([0, 7, -9, -1]))
    np.testing.assert_array_equal(got, [xs[0, 0, 1], xs[1, 3, 1], xs[2, 0, 1], xs[3, 3, 1]])
    gradients = ad.vmap(ad.grad(summed_own_integers), jit=jit)(xs, rows, columns)  # index_add, index_accumulate
    for gradient, a, i, j in zip(gradients, xs, rows, columns):
        np.testing.assert_allclose(gradient, ad.grad(summed_own_integers, jit=False)(a, i, j), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(gradient, fd_jacobian(summed_own_integers, (a, i, j), 0), rtol=1e-6, atol=1e-8)


def row_of(x, i):
    return x[i, 1]


def summed_own_integers(x, i, j):
    return np.sum(np.sin(own_integers(x, i, j)))


def written_at_own_integers(x, i, j):
    y = x * 1.0
    y[i, 1:, j] = x[0, 0, :2] * 3.0
    y[1, i] = np.sin(x[2, 1])
    y[:, j, i - 1] += 2.0
    return y


def summed_written_at_own_integers(x, i, j):
    return np.sum(np.tanh(written_at_own_integers(x, i, j)))


@pytest.mark.parametrize("jit", [False, True], ids=["plain", "jit"])
def test_assignments_at_integers_that_differ_across_the_batch(jit):
    """`y[i, 1:, j] = v`, `y[1, i] = v` and `y[:, j, i - 1] += v` with each item's own i and j
    (item_rows_set), values and gradients against each item's, the arguments untouched."""
    x = np.arange(60.0).reshape(4, 3, 5) * 0.1
    rows, columns = np.array([0, 2, 1, -1]), np.array([1, 0, 2, 2])
    got = ad.vmap(written_at_own_integers, in_axes=(None, 0, 0), jit=jit)(x, rows, columns)
    np.testing.assert_array_equal(got, [written_at_own_integers(x, i, j) for i, j in zip(rows, columns)])
    xs = np.stack([x * (k + 1) for k in range(K)])
    before = xs.copy()
    gradients = ad.vmap(ad.grad(summed_written_at_own_integers), jit=jit)(xs, rows, columns)
    np.testing.assert_array_equal(xs, before)
    for gradient, a, i, j in zip(gradients, xs, rows, columns):
        np.testing.assert_allclose(gradient, fd_jacobian(summed_written_at_own_integers, (a, i, j), 0),
                                   rtol=1e-6, atol=1e-8)


def number_through_a_loop(x):
    """c is a Python number (weak), which the loop's tape reads back as one; each item runs its own
    trips, so the batch of its c's differs across the batch."""
    c, y = 1.0, x
    while np.sum(y) < 3.0:
        y = np.sin(y) * c + 0.5
        c = c * 0.5 + 1.0
    return np.sum(y * y)


def test_numbers_read_back_from_a_tape_batched():
    """`weak` batched as the array of numbers it is where every parameter is float64 (the same
    dtypes NumPy gives), refused for float32 (a number meeting float32 stays float32, an array not)."""
    xs = np.array([[0.3, -0.2], [0.1, 0.5], [-0.4, 0.2]])
    got = ad.vmap(ad.grad(number_through_a_loop), jit=False)(xs)
    for gradient, x in zip(got, xs):
        np.testing.assert_allclose(gradient, ad.grad(number_through_a_loop, jit=False)(x), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(gradient, fd_jacobian(number_through_a_loop, (x,), 0), rtol=1e-6, atol=1e-8)
    with pytest.raises(ad.CompileError, match="`weak`"):
        ad.vmap(ad.grad(number_through_a_loop), jit=False)(xs.astype(np.float32))


def test_batched_trip_counts_of_every_sign_of_step():
    """len(range(a, b, c)) per item (trip_count's batching rule), steps of both signs, empty ranges."""
    def count(a, b, c):
        total = 0.0
        for i in range(a, b, c):
            total = total + 1.0
        return total
    cases = np.array([(a, b, c) for a in (-3, 0, 4) for b in (-5, 0, 6) for c in (-3, -1, 1, 2)])
    got = ad.vmap(count, jit=False)(cases[:, 0], cases[:, 1], cases[:, 2])
    np.testing.assert_array_equal(got, [len(range(a, b, c)) for a, b, c in cases])


# ---------------------------------------------------------------- refusals


def appends_per_trip(x, n):
    out = []
    for i in range(n):
        out.append(x * i)
    return np.sum(np.array(out)) + x


def shrinks_per_trip(x, n):
    """Its gradient's loop keeps a list tape (the shape changes each trip)."""
    h = x
    for i in range(n):  # <- HERE
        h = np.sin(h[1:]) * 2.0
    return np.sum(h)


def gradient_of_shrinks_per_trip(x, n):
    return ad.grad(shrinks_per_trip)(x, n)


def masked(x):
    return np.sum(x[x > 0.5])


@pytest.mark.parametrize("function, args, in_axes, match", [
    (appends_per_trip, (1.5, np.arange(K)), (None, 0), "`rows`"),
    (gradient_of_shrinks_per_trip, (np.ones(6), np.arange(K)), (None, 0), "cannot carry a list"),
    (masked, (np.ones((K, 3)),), 0, "getitem"),
])
def test_refused_batching_names_the_line(function, args, in_axes, match):
    with pytest.raises(ad.CompileError, match=match) as error:
        ad.vmap(function, in_axes=in_axes, jit=False)(*args)
    assert "test_batch.py" in str(error.value)
    if function is gradient_of_shrinks_per_trip:  # the masked loop's own line
        lines, start = inspect.getsourcelines(shrinks_per_trip)
        assert error.value.loc.line == start + next(i for i, text in enumerate(lines) if "<- HERE" in text)


def shrinks_in_a_branch(x):
    h = x
    if x[0] > 0:  # <- HERE a list chosen per item
        for i in range(2):
            h = np.sin(h[1:]) * 2.0  # its gradient's loop keeps a list tape
    return np.sum(h)


def gradient_of_shrinks_in_a_branch(x):
    return ad.grad(shrinks_in_a_branch)(x)


def shape_by_branch(x):
    if x[0] > 0:
        y = x[:1]
    else:
        y = x
    return np.sum(y * 2.0)


def test_choices_per_item_that_cannot_be_made_say_so():
    """A list chosen per item is refused at the `if`'s line; a variable whose shape differs between
    the items that take each branch is a ValueError saying so, not np.where's broadcast of one into
    the other (which gives wrong values); where every item takes one branch, its shape is kept."""
    with pytest.raises(ad.CompileError, match="cannot choose a list") as error:
        ad.vmap(gradient_of_shrinks_in_a_branch, jit=False)(np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 3.0]]))
    lines, start = inspect.getsourcelines(shrinks_in_a_branch)
    assert error.value.loc.line == start + next(i for i, text in enumerate(lines) if "<- HERE" in text)
    assert error.value.hint and "one shape" in error.value.hint
    with pytest.raises(ValueError, match="under vmap, a variable has another shape"):
        ad.vmap(shape_by_branch, jit=False)(np.array([[1.0, 2.0], [-1.0, 3.0]]))
    same = np.array([[1.0, 2.0], [0.5, 3.0]])
    np.testing.assert_array_equal(ad.vmap(shape_by_branch, jit=False)(same), [shape_by_branch(x) for x in same])


def data_shaped(x):
    return x[x > 0.5] * 2.0


def squared_column_products(x):
    return np.sum(np.prod(x, axis=0) ** 2)


def test_hessians_of_np_prod_batched_over_the_basis_and_over_items():
    """prod_others_tangent batched with the point unbatched (hessian: the basis of tangents) and
    with both batched (vmap of hessian), against a Hessian per item, with zeros."""
    x = np.array([[[0.5, 0.0], [2.0, -1.5], [0.7, 1.2]], [[0.0, 0.0], [1.1, 0.4], [-0.3, 2.0]]])
    hessian = ad.hessian(squared_column_products, jit=False)
    per_item = ad.vmap(hessian, jit=False)(x)
    np.testing.assert_allclose(per_item, looped(hessian, (x,), (0,)), rtol=1e-14, atol=1e-15)
    for item, point in zip(per_item, x):
        np.testing.assert_allclose(item, fd_jacobian(ad.grad(squared_column_products, jit=False), (point,), 0),
                                   rtol=1e-6, atol=1e-8)


def test_jacrev_of_a_data_dependent_shape_is_refused():
    with pytest.raises(ad.CompileError, match="depends on the values") as error:
        ad.jacrev(data_shaped, jit=False)(np.ones(3))
    assert "test_batch.py" in str(error.value)


def test_bad_batch_arguments():
    with pytest.raises(ValueError, match="different batch sizes"):
        ad.vmap(elementwise, jit=False)(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="no axis"):
        ad.vmap(elementwise, jit=False)(1.0, np.ones((3, 3)))
    with pytest.raises(ValueError, match="batches no parameter"):
        ad.vmap(elementwise, in_axes=None)


# ---------------------------------------------------------------- coverage (runs last)


def test_every_batching_rule_is_exercised():
    with_rules = {p for p in P.ALL if p.elementwise or callable(p.batch)}
    missing = sorted(p.name for p in with_rules - REACHED)
    assert not missing, f"batching rules no test reaches: {missing}"
