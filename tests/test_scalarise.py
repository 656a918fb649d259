"""vmap of functions of a few numbers runs as one loop over the items' numbers (transforms/scalarise.py):
each program gives what a Python loop over the items gives (and its Jacobians what finite differences
give), its compiled code is that loop, and without kernels (jit=False) the batched NumPy code runs."""
import types

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backend import runtime
from fd import fd_jacobian


def elementwise(x, y):
    return np.tanh(x) * y[0] - np.exp(-x) / (1.0 + y[1] ** 2) + np.sqrt(x * x + 1.0)


def updates(x, y):
    z = np.zeros(4)
    z[1:] = x * y[0]
    z[0] += y[1]
    z[2] -= x[0] * x[2]
    return z[::-1][:3] * 2.0


def reductions(x, y):
    return np.sum(x * x) + np.mean(x) * y[0] + np.sum(np.reshape(x, (3, 1)) * y, axis=0)


def shapes(x, y):
    m = np.outer(x, y)
    return (m.T @ x).reshape(1, 2) + np.expand_dims(y, 0) + np.transpose(m)[:, :1].T[:, 1:]


def selects(x, y):
    return np.where(x > y[0], x, y[1] * x) + np.maximum(x, 0.5) * (x < 0.0)


def products(x, y):
    a = np.stack([x, x * y[0], x + y[1]])
    return a @ x + np.eye(3) @ (x * y[1])


PROGRAMS = [elementwise, updates, reductions, shapes, selects, products]


def _items(rng, count=7):
    return rng.normal(size=(count, 3)), rng.normal(size=(count, 2))


def items_loop_in_python(transformed, *args):
    """What the loop over the items' numbers of `transformed` (a vmap, called once, with `args` of
    that signature, batch axes first) gives run as Python, its kernels not compiled (where the module
    would run the batched NumPy version instead); None where its code has no such loop."""
    (built, _), = transformed.specialisations.values()
    if built.plain is None:
        return None
    scope = {"jit": lambda function: function, "rt": runtime,
             "krt": types.SimpleNamespace(**{**vars(runtime), "ELEMENT_LOOPS": True})}
    exec(compile(built.source, str(built.path), "exec"), scope)
    return scope[transformed.name](*args, *built.primal.captured)


def _source(transformed) -> str:
    text = ad.show(transformed, print_it=False)
    return text[text.index("# generated Python"):]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_a_vmap_of_small_items_is_a_loop_over_their_numbers(program, rng):
    xs, ys = _items(rng)
    batched = ad.vmap(program)
    expected = np.array([program(x, y) for x, y in zip(xs, ys)])
    np.testing.assert_allclose(batched(xs, ys), expected, rtol=1e-13, atol=1e-13)
    source = _source(batched)
    assert "for item in range" in source and "if not krt.ELEMENT_LOOPS" in source, source
    np.testing.assert_allclose(ad.vmap(program, jit=False)(xs, ys), expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(items_loop_in_python(batched, xs, ys), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("program", [elementwise, updates, shapes, products], ids=lambda p: p.__name__)
@pytest.mark.parametrize("transform", [ad.jacrev, ad.jacfwd, ad.jacobian], ids=["jacrev", "jacfwd", "jacobian"])
def test_the_jacobians_of_each_item_agree_with_differences(program, transform, rng):
    """(`jacobian`'s choice by sizes is an `if` whose condition the items' shapes make a literal:
    simplification keeps its branch alone, so it qualifies too.)"""
    xs, ys = _items(rng, 4)
    batched = ad.vmap(transform(program))
    jacobians = batched(xs, ys)
    for x, y, jacobian in zip(xs, ys, jacobians):
        np.testing.assert_allclose(jacobian, fd_jacobian(program, (x, y), 0), rtol=1e-6, atol=1e-7)
    assert "for item in range" in _source(batched)


def test_the_first_items_shape_is_compiled_and_others_are_batched(rng):
    """The loop is specialised by the items' shapes; another shape runs the batched code."""
    batched = ad.vmap(elementwise)
    xs, ys = _items(rng)
    batched(xs, ys)
    longer = rng.normal(size=(5, 4))
    expected = np.array([elementwise(x, y) for x, y in zip(longer, ys)])
    np.testing.assert_allclose(batched(longer, ys[:5]), expected, rtol=1e-13)


def test_what_does_not_qualify_is_batched(rng):
    """Items too large to keep as numbers, ops without an elements rule (np.sort), and loops whose
    body would be too long to compile soon (a product of 16 x 16 matrices: 7,936 ops), are batched."""
    def sorted_sum(x):
        return np.sort(x)[::2] * 2.0

    def tanh(x):
        return np.tanh(x)

    def square(x):
        return x @ x

    cases = ((sorted_sum, rng.normal(size=(4, 5))), (tanh, rng.normal(size=(3, 300))),
             (square, rng.normal(size=(3, 16, 16))))
    for program, xs in cases:
        batched = ad.vmap(program)
        np.testing.assert_allclose(batched(xs), np.array([program(x) for x in xs]), rtol=1e-13)
        assert "for item in range" not in _source(batched)


def test_an_index_out_of_range_is_batched_and_refused_as_numpy_refuses(rng):
    def past_the_end(x):
        return x[5] * 2.0

    with pytest.raises(ValueError, match="index 5 is out of bounds"):
        ad.vmap(past_the_end)(rng.normal(size=(4, 3)))


def test_unbatched_arguments_are_read_once(rng):
    def scaled(x, w):
        return x * w[0] + w[1]

    xs, w = rng.normal(size=(6, 3)), np.array([2.0, -1.0])
    batched = ad.vmap(scaled, in_axes=(0, None))
    np.testing.assert_allclose(batched(xs, w), xs * 2.0 - 1.0, rtol=1e-15)
    source = _source(batched)
    loop = source[source.index("for item in range"):source.index("return")]
    assert "w[0]" not in loop and "w[1]" not in loop, source


def test_integer_and_bool_items(rng):
    def counted(x, n):
        return np.sum(x > 0.0) + n * 2 - n // 3

    xs, ns = rng.normal(size=(5, 3)), np.arange(5)
    expected = np.array([counted(x, n) for x, n in zip(xs, ns)])
    np.testing.assert_array_equal(ad.vmap(counted)(xs, ns), expected)
