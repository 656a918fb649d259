"""Fusion of elementwise chains in kernels (backend/fuse.py, written by emit.py).

- A chain of elementwise ops on rank-1 arrays in a loop becomes one `for` over the elements, with
  fewer arrays allocated (the values only the chain reads are numbers), forward and backward.
- Its values and gradients are bit-identical to the unfused kernel's (ADCOMPILER_FUSION=0), under
  Numba and as plain Python, and agree with finite differences.
- An operand of length 1 (broadcast) takes the array statements: the same results as NumPy.
- A chain whose result shares a variable with an operand is not fused.
- Elementwise ops of N-D arrays in a kernel are loops, one for an axis (broadcast axes read at 0),
  with the ops read once computed in them: values and gradients NumPy's and finite differences'.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import adcompiler
from adcompiler.backend import fuse
from fd import fd_grad


def gated(x, w, b, n):
    """A loop whose body is a chain of elementwise ops, `a` and `s` read twice (so not nested)."""
    h = x
    total = 0.0
    for t in range(n):
        a = h * w + b
        s = 1.0 / (1.0 + np.exp(-a))
        h = s * a + s * h
        total = total + np.sum(h * h)
    return total


def generated(function, args, wrt, fused: bool, monkeypatch) -> str:
    monkeypatch.setenv(fuse.FUSION_ENVIRONMENT_VARIABLE, "1" if fused else "0")
    text = adcompiler.show(function, *args, wrt=wrt, print_it=False)
    return text[text.index("# generated Python"):]


def kernel(source: str, part: str) -> str:
    """The text of the first kernel of `part` ("forward" or "backward"): a loop's, or the function
    compiled whole."""
    start = re.search(rf"^@jit\ndef \w+_{part}\w*\(", source, re.M).start()
    end = source.find("\n\n\n", start)
    return source[start:end if end > 0 else None]


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(3)
    return rng.uniform(-1, 1, 7), rng.uniform(0.5, 1.5, 7), rng.uniform(-0.5, 0.5, 7), 4


def test_a_chain_in_a_kernel_is_one_loop_with_fewer_arrays(inputs, monkeypatch):
    fused = generated(gated, inputs, (0, 1, 2), True, monkeypatch)
    unfused = generated(gated, inputs, (0, 1, 2), False, monkeypatch)
    for part in ("forward", "backward"):
        with_loops, without = kernel(fused, part), kernel(unfused, part)
        assert "for element" not in without
        assert len(re.findall(r"^\s+for element\w* in range\(", with_loops, re.M)) >= 1, with_loops
        # the fused loop writes its outputs element by element into arrays allocated once ...
        fused_branch = with_loops[with_loops.index("for element"):]
        assert re.search(r"^\s+\w+\[element\w*\] = ", fused_branch, re.M)
        # ... and the values only the chain reads are numbers: fewer arrays than values fused
        allocated = len(re.findall(r" = np\.empty\(\w+\.shape\[0\]", fused_branch))
        numbers = len(re.findall(r"^\s+\w+ = [^\n]*\w+\[element\w*\]", fused_branch, re.M))
        assert numbers >= 1 and allocated <= len(re.findall(r"^\s+\w+\[element\w*\] = ", fused_branch, re.M))


def test_fused_results_are_bit_identical_to_the_unfused_kernels(inputs, monkeypatch):
    results = {}
    for fused in (True, False):
        monkeypatch.setenv(fuse.FUSION_ENVIRONMENT_VARIABLE, "1" if fused else "0")
        for jit in (True, False):
            value, grads = adcompiler.value_and_grad(gated, wrt=(0, 1, 2), jit=jit)(*inputs)
            results[fused, jit] = (value, grads)
    for jit in (True, False):
        (v1, g1), (v0, g0) = results[True, jit], results[False, jit]
        assert v1 == v0
        for a, b in zip(g1, g0):
            assert np.array_equal(a, b), (jit, a - b)
    for k in range(3):
        np.testing.assert_allclose(results[True, True][1][k], fd_grad(gated, inputs, k), rtol=1e-6, atol=1e-9)


def test_an_operand_of_length_one_takes_the_array_statements(inputs, monkeypatch):
    monkeypatch.setenv(fuse.FUSION_ENVIRONMENT_VARIABLE, "1")
    x, w, b, n = inputs
    narrow = (x, w[:1], b, n)  # w broadcasts: the loop's length check fails
    value, grads = adcompiler.value_and_grad(gated, wrt=(0, 1, 2))(*narrow)
    assert value == pytest.approx(gated(*narrow), rel=1e-13)
    assert grads[1].shape == (1,)
    for k in range(3):
        np.testing.assert_allclose(grads[k], fd_grad(gated, narrow, k), rtol=1e-6, atol=1e-9)


def rebound(x, w, n):
    for t in range(n):
        x = x * w + 1.0
        x = np.exp(-x) * x
    return np.sum(x)


def test_a_chain_updating_its_operands_variable_is_right(monkeypatch):
    rng = np.random.default_rng(5)
    args = (rng.uniform(-1, 1, 5), rng.uniform(0.5, 1.0, 5), 3)
    monkeypatch.setenv(fuse.FUSION_ENVIRONMENT_VARIABLE, "1")
    value, grads = adcompiler.value_and_grad(rebound, wrt=(0, 1))(*args)
    assert value == pytest.approx(rebound(*args), rel=1e-13)
    for k in range(2):
        np.testing.assert_allclose(grads[k], fd_grad(rebound, args, k), rtol=1e-6, atol=1e-9)


def every_primitive(x, y, n):
    """A loop whose chain uses every fused primitive (y holds a NaN: maximum/minimum propagate it)."""
    out = x
    for t in range(n):
        a = np.maximum(out, y) - np.minimum(out, y)
        b = np.sqrt(np.abs(a)) + np.log1p(np.abs(a)) * np.expm1(-np.abs(out))
        out = np.log(1.0 + np.exp(-b)) / (1.0 + a * a) + (-out) + np.sin(a) * np.cos(b)
    return out


def test_every_fused_primitive_is_bit_identical(monkeypatch):
    assert {"maximum", "minimum", "sqrt", "abs", "log1p", "expm1", "log", "exp", "div", "neg", "add", "sub",
            "mul", "sin", "cos"} == set(fuse.FUSED_PRIMITIVES)
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=9), rng.normal(size=9)
    y[4] = np.nan
    results = {}
    for fused in (True, False):
        monkeypatch.setenv(fuse.FUSION_ENVIRONMENT_VARIABLE, "1" if fused else "0")
        results[fused] = adcompiler.jit(every_primitive)(x, y, 3)
        source = generated(every_primitive, (x, y, 3), (0,), fused, monkeypatch)
        assert ("for element" in kernel(source, "forward")) == fused
    assert np.array_equal(results[True], results[False], equal_nan=True)
    assert np.isnan(results[True][4]) and np.isfinite(np.delete(results[True], 4)).all()
    np.testing.assert_allclose(results[True], every_primitive(x, y, 3), rtol=1e-13)


def test_plain_python_runs_the_array_statements(inputs, monkeypatch):
    """The same source without Numba (jit=False, and while kernels compile) takes the array statements:
    `rt.ELEMENT_LOOPS` is False there and True in the compiled runtime."""
    from adcompiler.backend import compile as compiling, runtime
    assert runtime.ELEMENT_LOOPS is False and compiling.compiled_runtime().ELEMENT_LOOPS is True
    source = generated(gated, inputs, (0, 1, 2), True, monkeypatch)
    assert re.search(r"^\s+if krt\.ELEMENT_LOOPS and ", kernel(source, "forward"), re.M)
    calls = []
    monkeypatch.setattr(runtime, "ELEMENT_LOOPS", True)  # now plain Python runs the loops: slower, the same
    monkeypatch.setattr(runtime, "vector_exp", lambda x: calls.append(np.ndim(x)) or np.exp(x))
    looped = adcompiler.value_and_grad(gated, wrt=(0, 1, 2), jit=False)(*inputs)
    assert calls and set(calls) == {0}  # element by element
    monkeypatch.setattr(runtime, "ELEMENT_LOOPS", False)
    calls.clear()
    arrays = adcompiler.value_and_grad(gated, wrt=(0, 1, 2), jit=False)(*inputs)
    assert calls and set(calls) == {1}
    assert looped[0] == arrays[0] and all(np.array_equal(a, b) for a, b in zip(looped[1], arrays[1]))


def test_an_exported_module_runs_fused_chains(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv(fuse.FUSION_ENVIRONMENT_VARIABLE, "1")
    from adcompiler.export import export
    text = export(gated, list(inputs), (0, 1, 2))
    # (its kernels call runtime helpers, so it runs them as plain Python: the array statements)
    assert "if ELEMENT_LOOPS and " in text and "\nELEMENT_LOOPS = ARRAY_LOOPS = False" in text
    namespace = {}
    exec(compile(text, str(tmp_path / "gated_exported.py"), "exec"), namespace)
    value, grads = namespace["value_and_grad"](*inputs)
    expected_value, expected = adcompiler.value_and_grad(gated, wrt=(0, 1, 2), jit=False)(*inputs)
    assert value == expected_value and all(np.array_equal(a, b) for a, b in zip(grads, expected))


def heat(u0, alpha):
    """A chain whose broadcast adjoint (`unbroadcast`, passed through) is read after the loop."""
    u = u0.copy()
    for _ in range(5):
        u = u + alpha * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return np.sum(u ** 2)


def test_a_passed_through_output_is_stored(monkeypatch):
    monkeypatch.setenv("ADCOMPILER_COMPILE", "sync")
    args = (np.linspace(0.1, 1.0, 10), 0.1)
    source = generated(heat, args, (0, 1), True, monkeypatch)
    assert "for element" in kernel(source, "backward")
    gu, galpha = adcompiler.grad(heat, wrt=(0, 1))(*args)
    np.testing.assert_allclose(gu, fd_grad(heat, args, 0), rtol=1e-6)
    assert galpha == pytest.approx(fd_grad(heat, args, 1), rel=1e-6)


# ---------------------------------------------------------------- chains outside loops (value_and_grad)

def log_sum_exp(x):
    """The backward reads the forward's value: its chain cannot join the forward's."""
    return np.log(np.sum(np.exp(x)))


def two_reductions(x):
    return np.sum(np.exp(-x) * np.sin(x)) + np.mean(np.log1p(x * x)) * np.sum(x)


def shifted(x):
    return np.sum(np.cos(x[1:]) * np.exp(x[:-1]) + 2.0 * x[1:])


def sigmoid_like(x, w):
    return np.sum(w / (1.0 + np.exp(-w * x)))


@pytest.mark.parametrize("function, one_loop", [(log_sum_exp, False), (two_reductions, False), (shifted, True),
                                               (sigmoid_like, True)])
def test_chains_outside_loops_are_right(function, one_loop, monkeypatch):
    """value_and_grad's chains as kernels (compiled at once: ADCOMPILER_COMPILE=sync runs them)
    agree with finite differences and with the plain version; where the backward reads the
    forward's reductions (log_sum_exp, the product of two_reductions) its chain stays apart, and
    without a kernel holding both passes the value_and_grad stays NumPy."""
    monkeypatch.setenv("ADCOMPILER_COMPILE", "sync")
    rng = np.random.default_rng(11)
    args = tuple(rng.uniform(0.2, 1.5, 9) for _ in range(function.__code__.co_argcount))
    wrt = tuple(range(len(args)))
    value, grads = adcompiler.value_and_grad(function, wrt=wrt)(*args)
    plain_value, plain_grads = adcompiler.value_and_grad(function, wrt=wrt, jit=False)(*args)
    assert value == pytest.approx(function(*args), rel=1e-13) and value == pytest.approx(plain_value, rel=1e-13)
    for k in wrt:
        np.testing.assert_allclose(grads[k], fd_grad(function, args, k), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(grads[k], plain_grads[k], rtol=1e-12)
    source = generated(function, args, wrt, True, monkeypatch)
    assert (f"def {function.__name__}_value_and_grad_loop_" in source) == one_loop


def weighted_sines(y, k, a):
    return np.sum(np.sin(k * y) * a)


def value_plus_gradient(x, a):
    """Its gradient's parallel kernel assigns `g` twice (the loop's arrays, then the array
    statements), and its seed is named `g_1`: Numba's parfors name g's second version `g_1` too."""
    value, g = adcompiler.value_and_grad(weighted_sines)(x, 3.0, a)
    return value + np.sum(g)


def value_plus_gradient_numpy(x, a):
    return np.sum(np.sin(3.0 * x) * a) + np.sum(3.0 * np.cos(3.0 * x) * a)


def test_a_parallel_kernel_whose_names_meet_numbas_versions_compiles(monkeypatch):
    monkeypatch.setenv("ADCOMPILER_COMPILE", "sync")
    args = (np.linspace(0.1, 1.0, 9), np.linspace(0.5, 1.5, 9))
    gradient = adcompiler.grad(value_plus_gradient, wrt=(0, 1))
    for k, g in enumerate(gradient(*args)):
        np.testing.assert_allclose(g, fd_grad(value_plus_gradient_numpy, args, k), rtol=1e-7)
    source = generated(value_plus_gradient, args, (0, 1), True, monkeypatch)
    assert "krt.prange" in source and "g__1" in source, source


# ---------------------------------------------------------------- N-D elementwise ops as loops

def blended(x, w, k, n):
    """2-D and 3-D elementwise ops in a loop (a kernel): w broadcast over rows (an axis known to be
    1), `x[:k]` of a length known only at run time (1 broadcasts), a comparison, where, a number,
    tanh and exp, `h` rebound to an op that reads it, and `b`, read once after an update."""
    h = x
    total = 0.0
    for t in range(n):
        a = h * w + x[:k]
        b = a * a
        y = x.copy()
        y[0] = 2.0
        h = np.where(a > 0.0, np.tanh(a), 0.5 * a) * h + 0.125 * b * y
        c = np.exp(h[:, None, :] - x[None, :, :])
        total = total + np.sum(c / (1.0 + c))
    return total + np.sum(h * h)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nd_elementwise_ops_in_kernels_are_loops_equal_to_numpys(k, dtype, monkeypatch):
    """The loops' values and gradients are NumPy's (plain Python) to rounding (vector math's tanh
    and exp are not NumPy's to the bit) and finite differences'. (Against the array statements in
    a kernel, ADCOMPILER_FUSION=0, they were bit-identical, but compiling those took 40 s.)"""
    rng = np.random.default_rng(11)
    x, w = rng.uniform(-1, 1, (3, 4)).astype(dtype), rng.uniform(0.5, 1.5, (1, 4)).astype(dtype)
    args = (x, w, k, 2)
    source = generated(blended, args, (0, 1), True, monkeypatch)
    unfused = generated(blended, args, (0, 1), False, monkeypatch)
    for part in ("forward", "backward"):
        looped = kernel(source, part)
        assert "if krt.ARRAY_LOOPS:" in looped and re.search(r"^\s+for i2\w* in range\(", looped, re.M), looped
        assert "ARRAY_LOOPS" not in kernel(unfused, part)
    # x[:k] may have length 1 along its first axis: read there at the index times its step
    assert re.search(r"\w+\[i0\w* \* \w+_steps\[0\], i1\w*\]", source)
    monkeypatch.setenv(fuse.FUSION_ENVIRONMENT_VARIABLE, "1")
    v1, g1 = adcompiler.value_and_grad(blended, wrt=(0, 1))(*args)
    assert all(g.dtype == dtype for g in g1)
    plain_value, plain_grads = adcompiler.value_and_grad(blended, wrt=(0, 1), jit=False)(*args)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    assert v1 == pytest.approx(plain_value, rel=tolerance)
    for got, plain in zip(g1, plain_grads):
        np.testing.assert_allclose(got, plain, rtol=tolerance * 10, atol=tolerance)
    if dtype == np.float64:
        for position in range(2):
            np.testing.assert_allclose(g1[position], fd_grad(blended, args, position), rtol=1e-6, atol=1e-9)


def test_nd_operands_that_do_not_broadcast_raise_in_a_kernel(monkeypatch):
    monkeypatch.setenv(fuse.FUSION_ENVIRONMENT_VARIABLE, "1")
    x, w = np.ones((3, 4)), np.ones((1, 4))
    with pytest.raises(ValueError, match="broadcast"):
        adcompiler.jit(blended)(x, w, 2, 2)  # x[:2] (2, 4) against h * w (3, 4)
    assert np.array_equal(x, np.ones((3, 4)))
