"""Tests of the generated Python: it computes what the user's function computes, Numba and plain
Python agree, the backward reuses the forward's values, subscripts print as valid Python, and
`show` shows every stage.

Each program is built once per test module (`built` / `compiled` below are cached at module level),
so that each distinct function is compiled by Numba only once.
"""
from __future__ import annotations

import ast
import functools
import re

import gast
import numpy as np
import pytest

import adcompiler
from adcompiler.rules import primitives as P
from adcompiler.backend.emit import emit_python
from adcompiler.errors import Loc
from adcompiler.ir.core import Block, Const, Function, Op, Return, Type, Value, print_function
from adcompiler.api import TRANSFORMS
from adcompiler.frontend.lower import lower
from adcompiler.pipeline import build, check, load
from adcompiler.ir.core import Adjoint

try:
    from tests import programs
except ImportError:  # pytest put tests/ itself on sys.path
    import programs


def _positive(rng, *shape):
    return rng.uniform(0.5, 2.0, size=shape)


def _normal(rng, *shape):
    return rng.standard_normal(shape)


# name -> (function, make the arguments from a Generator, wrt)
PROGRAMS = {
    "add_mul": (programs.add_mul, lambda r: (r.normal(), r.normal(), r.normal()), (0, 1, 2)),
    "reuse": (programs.reuse, lambda r: (r.normal(), r.normal()), (0, 1)),
    "reassign": (programs.reassign, lambda r: (r.normal(), r.normal()), (0, 1)),
    "unpack": (programs.unpack, lambda r: (r.uniform(0.5, 2), r.uniform(0.5, 2)), (0, 1)),
    "tanh_layer": (programs.tanh_layer, lambda r: (_normal(r, 3, 4), _normal(r, 4), _normal(r, 3)), (0, 1, 2)),
    "float32_mean": (programs.float32_mean, lambda r: (_normal(r, 5).astype(np.float32),), (0,)),
    "broadcast": (programs.broadcast, lambda r: (_normal(r, 3, 1), _normal(r, 1, 4)), (0, 1)),
    "sigmoid": (programs.sigmoid, lambda r: (r.normal(), r.normal(), r.normal()), (0, 1, 2)),
    "log_pow_div": (programs.log_pow_div, lambda r: (_normal(r, 6), _positive(r, 6)), (0, 1)),
    "relu_dot": (programs.relu_dot, lambda r: (_normal(r, 7), _normal(r, 7)), (0, 1)),
    "matmul_mse": (programs.matmul_mse, lambda r: (_normal(r, 2, 3), _normal(r, 3, 4), _normal(r, 2, 4)), (0, 1, 2)),
    "exp_weighted": (programs.exp_weighted, lambda r: (_normal(r, 5), _normal(r, 5)), (0,)),
    "int_scaled": (programs.int_scaled, lambda r: (_positive(r, 4), 3), (0,)),
    "sin_cos": (programs.sin_cos, lambda r: (_normal(r, 5),), (0,)),
    "const_output": (programs.const_output, lambda r: (_normal(r, 3), r.normal()), (0,)),
    "repeated_exp": (programs.repeated_exp, lambda r: (_normal(r, 4),), (0,)),
    "alternating": (programs.alternating, lambda r: (2, r.normal()), (1,)),
    "clip_below_f32": (programs.clip_below, lambda r: (_normal(r, 4).astype(np.float32),), (0,)),
    "mixed_broadcast": (programs.mixed_broadcast, lambda r: (_normal(r, 3, 4), _normal(r, 4), r.normal()), (0, 1, 2)),
    "slice_none": (programs.slice_none, lambda r: (_normal(r, 5), _normal(r, 2, 3)), (0, 1)),
}
JIT = pytest.mark.parametrize("jit", [True, False], ids=["jit", "python"])


def type_of(value) -> Type:
    if isinstance(value, float):
        return Type("float64")
    if isinstance(value, int):
        return Type("int64")
    return Type(str(value.dtype), value.ndim, units=tuple(n == 1 for n in value.shape))


def arguments(name: str, seed: int = 0):
    function, make, wrt = PROGRAMS[name]
    return make(np.random.default_rng(seed))


@functools.lru_cache(maxsize=None)
def built(name: str):
    function, make, wrt = PROGRAMS[name]
    types = [type_of(a) for a in arguments(name)]
    return build(check(function), types, wrt, "value_and_grad", TRANSFORMS)


@functools.lru_cache(maxsize=None)
def compiled(name: str, jit: bool):
    return load(built(name), jit)


def entry(name: str, jit: bool, which: str):
    function = PROGRAMS[name][0]
    return getattr(compiled(name, jit), f"{function.__name__}_{which}")


def tolerance(value):
    return 2e-6 if np.asarray(value).dtype == np.float32 else 1e-12


# ---------------------------------------------------------------- (a) the forward is the function


@JIT
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_forward_equals_original(name, jit):
    function = PROGRAMS[name][0]
    for seed in (0, 1):
        args = arguments(name, seed)
        expected = function(*args)
        out, *residuals = entry(name, jit, "forward")(*args)
        assert np.shape(out) == np.shape(expected)
        np.testing.assert_allclose(out, expected, rtol=tolerance(expected) * 100, atol=1e-13)


@JIT
def test_float32_program_stays_float32(jit):
    x, = arguments("float32_mean")
    out, *residuals = entry("float32_mean", jit, "forward")(x)
    if not jit:  # (Numba boxes a float32 scalar result as a Python float)
        assert np.asarray(out).dtype == np.float32
    assert residuals and all(r.dtype == np.float32 for r in residuals)
    value, (grad,) = entry("float32_mean", jit, "value_and_grad")(x)
    assert grad.dtype == np.float32
    public = adcompiler.value_and_grad(programs.float32_mean, jit=jit)(x)
    assert type(public[0]) is np.float32 and public[1].dtype == np.float32


def thresholded(x, n):
    """float32 compared with 0.1, which float32 cannot hold: as a matrix, a row and a number, in a
    loop (a kernel)."""
    total = 0.0
    for i in range(n):
        total = total + np.sum(np.where(x > 0.1, x, 0.0)) + np.sum(np.where(x[0] > 0.1, x[0], 0.0))
        if x[0, 0] > 0.1:
            total = total + 1.0
    return total


@JIT
def test_a_float32_comparison_with_a_python_number_is_numpys(jit):
    """NumPy compares float32 with 0.1 in float32 (NEP 50); Numba would promote to float64, where
    float32(0.1) > 0.1: kernels write the number as float32."""
    x = np.array([[0.1, 0.2], [0.3, 0.05]], np.float32)
    assert adcompiler.jit(thresholded, jit=jit)(x, 2) == pytest.approx(thresholded(x, 2), rel=1e-6)
    assert thresholded(x, 2) == pytest.approx(2 * (0.2 + 0.3 + 0.2), rel=1e-6)


def test_forward_residuals_are_what_the_ir_says():
    """The forward returns exactly the values its IR returns: output first, then the residuals."""
    adjoint = built("tanh_layer").program
    W, x, b = arguments("tanh_layer")
    results = entry("tanh_layer", False, "forward")(W, x, b)
    assert len(results) == len(adjoint.forward.entry.terminator.values)
    assert len(results) - 1 == len(adjoint.backward.params) - 1  # every residual, then the seed g
    for value, ir_value in zip(results, adjoint.forward.entry.terminator.values):
        assert np.ndim(value) == ir_value.type.ndim


# ---------------------------------------------------------------- (b) Numba and Python agree


def finite_difference(function, args, k, h=1e-6):
    args = list(args)
    x0 = np.asarray(args[k], dtype=np.float64)
    out = np.zeros_like(x0)
    for index in np.ndindex(x0.shape):
        step = h * max(1.0, abs(x0[index]))
        plus, minus = x0.copy(), x0.copy()
        plus[index] += step
        minus[index] -= step
        args[k] = plus if x0.ndim else float(plus)
        f_plus = float(function(*args))
        args[k] = minus if x0.ndim else float(minus)
        f_minus = float(function(*args))
        out[index] = (f_plus - f_minus) / (2 * step)
    return out


# All but `slice_none`, whose gradient (rt.index_add) alone takes Numba 6-8 s to compile; its forward
# is compared under Numba above and its gradient in plain Python below.
JIT_GRADIENT_PROGRAMS = sorted(set(PROGRAMS) - {"slice_none"})


@pytest.mark.parametrize("name", JIT_GRADIENT_PROGRAMS)
def test_jit_and_python_agree_on_gradients(name):
    args = arguments(name)
    value_jit, grads_jit = entry(name, True, "value_and_grad")(*args)
    value_py, grads_py = entry(name, False, "value_and_grad")(*args)
    wrt = PROGRAMS[name][2]
    assert len(grads_jit) == len(grads_py) == len(wrt)
    np.testing.assert_allclose(value_jit, value_py, rtol=tolerance(value_py) * 10)
    for g_jit, g_py, i in zip(grads_jit, grads_py, wrt):
        assert np.shape(g_jit) == np.shape(g_py) == np.shape(args[i])
        np.testing.assert_allclose(g_jit, g_py, rtol=tolerance(g_py) * 10, atol=1e-14)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_python_gradients_match_finite_differences(name):
    function, _, wrt = PROGRAMS[name]
    args = arguments(name, seed=3)
    if any(np.asarray(a).dtype == np.float32 for a in args):
        args = tuple(np.asarray(a, dtype=np.float64) for a in args)
        module = load(build(check(function), [type_of(a) for a in args], wrt, "value_and_grad", TRANSFORMS), jit=False)
        value_and_grad = getattr(module, f"{function.__name__}_value_and_grad")
    else:
        value_and_grad = entry(name, False, "value_and_grad")
    _, grads = value_and_grad(*args)
    for g, i in zip(grads, wrt):
        assert np.asarray(g).dtype == np.asarray(args[i]).dtype
        expected = finite_difference(function, args, i)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-7)


@JIT
def test_public_api_matches_generated_module(jit):
    """`value_and_grad(f, wrt, jit)` returns what the generated module computes."""
    W, x, b = arguments("tanh_layer")
    value, (dW, dx, db) = adcompiler.value_and_grad(programs.tanh_layer, wrt=(0, 1, 2), jit=jit)(W, x, b)
    expected_value, expected = entry("tanh_layer", jit, "value_and_grad")(W, x, b)
    assert value == pytest.approx(expected_value, rel=1e-12)
    for got, want in zip((dW, dx, db), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    d = 1 - np.tanh(W @ x + b) ** 2
    np.testing.assert_allclose(db, d, rtol=1e-12)
    np.testing.assert_allclose(dW, np.outer(d, x), rtol=1e-12)
    np.testing.assert_allclose(dx, W.T @ d, rtol=1e-12)


# ---------------------------------------------------------------- (c) the backward reuses the forward


def generated_function(source: str, name: str) -> ast.FunctionDef:
    tree = ast.parse(source)
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return function


def parameters(function: ast.FunctionDef) -> list:
    return [a.arg for a in function.args.args]


def body_source(function: ast.FunctionDef) -> str:
    return "\n".join(ast.unparse(statement) for statement in function.body)


def assigned_by(function: ast.FunctionDef, pattern: str) -> list:
    """Names assigned, in `function`, an expression whose source matches `pattern`."""
    names = []
    for statement in function.body:
        if isinstance(statement, ast.Assign) and re.fullmatch(pattern, ast.unparse(statement.value)):
            names += [t.id for t in statement.targets]
    return names


def forward_and_backward(name: str):
    source = built(name).source
    function = PROGRAMS[name][0].__name__
    return (generated_function(source, f"{function}_forward"),
            generated_function(source, f"{function}_backward"))


@pytest.mark.parametrize("name, call", [("exp_weighted", "np.exp"), ("tanh_layer", "np.tanh")])
def test_backward_reads_elementwise_output_instead_of_recomputing(name, call):
    forward, backward = forward_and_backward(name)
    (output,) = assigned_by(forward, re.escape(call) + r"\(.*\)")
    returned = [ast.unparse(e) for e in forward.body[-1].value.elts]
    assert output in returned[1:], "the forward returns the function's output as a residual"
    assert output in parameters(backward)
    assert call + "(" not in body_source(backward)
    source = built(name).source
    fused = body_source(generated_function(source, f"{PROGRAMS[name][0].__name__}_value_and_grad"))
    kernels = re.findall(r"\b(\w+_value_and_grad_loop_\d+)\(", fused)
    if kernels:  # its chains as one kernel (backend/fuse.py): once in the element loop, once in the array statements
        text = "".join(body_source(generated_function(source, kernel)) for kernel in kernels)
        assert text.count(f"krt.vector_{call[3:]}(") == 2, "value_and_grad calls it once"
    else:
        assert fused.count(call + "(") == 1, "value_and_grad calls it once"
    # It is read, not just passed: some backward statement uses it.
    assert re.search(rf"\b{output}\b", body_source(backward))


def test_exp_backward_multiplies_by_the_forward_output():
    forward, backward = forward_and_backward("exp_weighted")
    (output,) = assigned_by(forward, r"np\.exp\(x\)")
    products = [ast.unparse(s.value) for s in backward.body if isinstance(s, ast.Assign)]
    # The product may be nested in a larger expression (emission nests single-use ufuncs).
    assert any(re.search(rf"\* {output}\b|\b{output} \*", p) for p in products), products


@pytest.mark.parametrize("name, operands", [("tanh_layer", ("W", "x")), ("matmul_mse", ("A", "B"))])
def test_backward_of_matmul_reads_the_forward_operands(name, operands):
    forward, backward = forward_and_backward(name)
    left, right = operands
    assert assigned_by(forward, rf"rt\.matmul\({left}, {right}\)")
    assert {left, right} <= set(parameters(backward))
    assert not re.search(rf"\brt\.matmul\({left}, {right}\)", body_source(backward))
    assert re.search(rf"\b{left}\b", body_source(backward)) and re.search(rf"\b{right}\b", body_source(backward))


def test_backward_reuses_sin_and_cos_computed_by_the_user():
    """sin's rule needs cos(x), cos's rule sin(x): both were computed by the forward."""
    forward, backward = forward_and_backward("sin_cos")
    assert assigned_by(forward, r"np\.sin\(x\)") and assigned_by(forward, r"np\.cos\(x\)")
    assert "np.sin(" not in body_source(backward)
    assert "np.cos(" not in body_source(backward)


def accumulated(a, x):
    """`q[r] = q[r] + ...`, as ADBench GMM's triangular loop updates qx."""
    q = x * 1.0
    for r in range(1, x.shape[0]):
        q[r] = q[r] + a[r] * x[r - 1]
    return np.sum(q * q)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_an_elements_adjoint_is_not_zeroed_and_added_back(jit):
    """The adjoint of `q[r] = q[r] + v` reads d_q[r], zeroes it and adds it back: the backward
    leaves d_q[r] as it is (simplify._restored)."""
    from fd import fd_grad
    a, x = np.linspace(0.1, 0.5, 6), np.linspace(-1.0, 1.2, 6)
    code = adcompiler.show(adcompiler.grad(accumulated, wrt=(0, 1)), a, x, print_it=False).split("# generated Python")[1]
    backward_loop = code.split("_backward_loop_")[1].split("\ndef ")[0]
    assert "] = 0.0" not in backward_loop and "d_q" in backward_loop, backward_loop
    got = adcompiler.grad(accumulated, wrt=(0, 1), jit=jit)(a, x)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], fd_grad(accumulated, [a, x], k), rtol=1e-8)


def weighted_squares(a, x):
    """Each iteration's backward adds to d_a[i] and d_x[i] alone: its iterations may run upward."""
    total = 0.0
    for i in range(x.shape[0]):
        total = total + a[i] * x[i] * x[i]
    return total


def recurrence_of_products(a, x):
    """h's adjoint is carried from each iteration's backward to the one before: downward only."""
    h = 1.0
    for i in range(x.shape[0]):
        h = h * a[i] + x[i]
    return h


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_backward_loop_whose_iterations_only_add_runs_upward(jit):
    """reverse._order_free: the backward of `weighted_squares` walks i upward (LLVM vectorises
    that loop; ADBench GMM's triangle went from 10.0 to 7.5 ms), that of a recurrence downward."""
    from fd import fd_grad
    a, x = np.linspace(0.1, 0.9, 7), np.linspace(-1.0, 1.3, 7)
    for function, upward in ((weighted_squares, True), (recurrence_of_products, False)):
        code = adcompiler.show(adcompiler.grad(function, wrt=(0, 1)), a, x, print_it=False).split("# generated Python")[1]
        backward_loop = code.split("_backward_loop_")[1].split("\ndef ")[0]
        assert (" - 1 - " not in backward_loop) == upward, backward_loop
        got = adcompiler.grad(function, wrt=(0, 1), jit=jit)(a, x)
        for k in (0, 1):
            np.testing.assert_allclose(got[k], fd_grad(function, [a, x], k), rtol=1e-8)


def test_residual_sources_are_the_forward_ops_in_the_ir():
    adjoint = built("exp_weighted").program
    (exp_op,) = [op for op in adjoint.forward.entry.ops if op.prim is P.exp]
    assert any(source is exp_op.result for source, _ in adjoint.residuals)
    assert not any(op.prim is P.exp for op in adjoint.backward.entry.ops)


# ---------------------------------------------------------------- (d) subscripts print as valid Python


@pytest.mark.parametrize("text", ["y[1:3, None]", "y[:, None]", "y[None, ::2]", "y[..., 1:]"])
def test_gast_round_trips_subscripts_with_slices_and_none(text):
    printed = ast.unparse(gast.gast_to_ast(gast.parse(text)))
    assert printed == text
    compile(printed, "<test>", "eval")


def emit_one_op(prim, operands, **params):
    """`emit_python` of a forward made of the single op `prim(*operands)` (its Value operands are the
    parameters) and a trivial backward; returns the source and the plain-Python forward."""
    loc = Loc("emitted.py", 1, 0, "f")
    params_ = [a for a in operands if isinstance(a, Value)]
    result_type = prim.infer_type(operands, **params)
    result = Value(result_type, "y")
    op = Op(prim, tuple(operands), result, loc, tuple(sorted(params.items())))
    forward = Function("f_forward", [Block(params_, [op], Return((result,), loc))], loc)
    g = Value(result_type, "g")
    backward = Function("f_backward", [Block([g], [], Return((Const(0.0),), loc))], loc)
    source = emit_python(Adjoint(forward, backward, (0,)), "f", "# test\n")
    namespace = {"jit": lambda f: f, "np": np}
    exec(compile(source, "<generated>", "exec"), namespace)
    return source, namespace["f_forward"]


def test_emitter_prints_a_subscript_template_as_valid_python():
    """A primitive whose template indexes with a slice and None goes through the emitter's gast →
    ast → ast.unparse path (`emit_python`) and gives Python that runs."""
    expand = P.Primitive("expand", 1, "_0[1:3, None]", lambda x: Type(x.dtype, x.ndim + 1), memory=P.VIEW)
    source, forward = emit_one_op(expand, [Value(Type("float64", 1), "x")])
    assert re.search(r"^    y = x\[1:3, None\] +# emitted\.py:1$", source, re.M), source
    data = np.arange(5.0)
    (result,) = forward(data)
    np.testing.assert_array_equal(result, data[1:3, None])


@pytest.mark.parametrize("base", [-1.0, -2, -0.5])
def test_emitter_keeps_a_negative_literal_base_of_a_power(base):
    """`(-1.0) ** n` must not be printed as `-1.0 ** n`, which Python reads as `-(1.0 ** n)`."""
    n = Value(Type("int64"), "n")
    source, forward = emit_one_op(P.power, [Const(base), n])
    for k in (2, 3):
        (result,) = forward(k)
        assert result == base ** k, source


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("literal", [-np.inf, np.inf, 1e-300, -0.0])
def test_emitter_writes_float_literals_as_valid_python(dtype, literal):
    """A literal operand (`np.maximum(x, -np.inf)`) is written as Python that evaluates to it, in
    float32 code (where it is wrapped as `np.float32(...)`) as in float64 code."""
    x = Value(Type(dtype, 1), "x")
    source, forward = emit_one_op(P.maximum, [x, Const(literal)])
    data = np.array([-1.0, 0.0, 2.0], dtype=dtype)
    (result,) = forward(data)
    np.testing.assert_array_equal(result, np.maximum(data, np.array(literal, dtype=dtype)))
    assert result.dtype == dtype


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_generated_source_is_canonical_python(name):
    """Every statement made from an op (a line ending in the user's `# file.py:line`) is valid Python
    that `ast.unparse` prints back unchanged, and the module defines the three functions."""
    source = built(name).source
    statements = re.findall(r"^    (\S.*?) +# programs\.py:\d+$", source, re.M)
    assert statements
    for code in statements:
        if code.endswith(":"):  # the head of an element loop's `if` (backend/fuse.py)
            ast.parse(code + " pass")
            continue
        assert ast.unparse(ast.parse(code)) == code
    tree = ast.parse(source)
    function = PROGRAMS[name][0].__name__
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and "_loop_" not in n.name]
    assert defined == [f"{function}_forward", f"{function}_backward", f"{function}_value_and_grad"]


# ---------------------------------------------------------------- (e) show


def test_show_contains_every_stage(capsys):
    W, x, b = arguments("tanh_layer")
    text = adcompiler.show(programs.tanh_layer, W, x, b, wrt=(0, 1, 2), print_it=False)
    assert capsys.readouterr().out == ""
    stages = ["# SSA", "func tanh_layer(%W: f64[n,n], %x: f64[n], %b: f64[n])",
              "func tanh_layer_forward(", "func tanh_layer_backward(",
              "# generated Python", "def tanh_layer_forward(W, x, b):", "def tanh_layer_backward(",
              "def tanh_layer_value_and_grad(W, x, b):"]
    positions = [text.find(stage) for stage in stages]
    assert all(p >= 0 for p in positions), [s for s, p in zip(stages, positions) if p < 0]
    assert positions == sorted(positions)
    assert print_function(lower(check(programs.tanh_layer), [type_of(a) for a in (W, x, b)], TRANSFORMS)) in text
    assert built("tanh_layer").source in text


def test_show_prints_and_defaults_to_scalars(capsys):
    text = adcompiler.show(programs.add_mul)
    assert capsys.readouterr().out.strip() == text.strip()
    assert "func add_mul(%x: f64, %y: f64, %z: f64)" in text
    assert "func add_mul_backward(" in text and "def add_mul_value_and_grad(x, y, z):" in text


def test_show_accepts_a_transformed_function():
    text = adcompiler.show(adcompiler.grad(programs.reuse, wrt=1), 1.0, 2.0, print_it=False)
    assert "func reuse(%x: f64, %y: f64)" in text
    assert "gradient with respect to y." in text


# ---------------------------------------------------------------- (f) names


def counted(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sin(x * i)
    return total


def doubled_index(x, n):
    total = 0.0
    for i in range(n):
        i = i * 2
        total = total + x * i
    return total


def recurrence(x, p, n):
    for i in range(n):
        x = x + 0.1 * np.sin(x) * p
    return x


def user_d_x(x):
    d_x = x * 2.0
    return np.sin(d_x) * x


def python_of(text: str, function: str) -> ast.FunctionDef:
    return generated_function(text[text.index("# generated Python"):].split("\n", 1)[1], function)


def code_of(text: str, function: str) -> str:
    """The body of generated `function` and of the kernels it calls (its loops, outlined)."""
    module = ast.parse(text[text.index("# generated Python"):].split("\n", 1)[1])
    defined = {f.name: f for f in module.body if isinstance(f, ast.FunctionDef)}
    body = defined[function]
    called = [n.func.id for n in ast.walk(body) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    return "\n".join(body_source(defined[name]) for name in [function, *called] if name in defined)


def test_a_loop_variable_keeps_its_name_in_ir_and_python():
    text = adcompiler.show(counted, 1.0, 3, print_it=False)
    forward_ir = text[text.index("func counted_forward"):]
    assert "body(%i: weak i64" in forward_ir and "%k" not in forward_ir.split("func counted_backward")[0]
    assert "for i in range(" in code_of(text, "counted_forward")


def test_a_rebound_loop_variable_gets_a_suffix():
    text = adcompiler.show(doubled_index, 1.0, 3, print_it=False)
    assert re.search(r"body\(%i: weak i64.*\n\s+%i_\d+ = mul %i, 2 ", text), text


def derived_names_hold(built_) -> None:
    """Every name `d_<m>` (or `tape_<m>`) is that of an adjoint (a tape) of the value named m, or,
    when no value is named m, another one of the value named by m without its last suffix;
    values without such a derivation never get such a name, unless the user named them so."""
    names = built_.names
    taken = {names(v) for v in names.keep}
    for value in names.keep:
        name = names(value)
        if value.hint:
            continue
        if value.derived is None:
            assert not name.startswith(("d_", "tape_")), name
            continue
        prefix, source = value.derived
        stem = name[len(prefix):]
        assert name.startswith(prefix) and (stem == names(source) or (
            stem.startswith(names(source) + "_") and stem not in taken)), (name, names(source))


@pytest.mark.parametrize("function, args, wrt", [
    (counted, (1.0, 3), 0), (recurrence, (0.5, 2.0, 3), (0, 1)), (user_d_x, (1.0,), 0),
    (programs.reassign, (1.0, 2.0), (0, 1)), (programs.tanh_layer, (np.ones((2, 3)), np.ones(3), np.ones(2)), (0, 1, 2)),
])
def test_d_names_only_adjoints(function, args, wrt):
    transformed = adcompiler.grad(function, wrt=wrt)
    transformed(*args)
    ((built_, _),) = transformed.specialisations.values()
    derived_names_hold(built_)


def test_the_reassigned_value_and_its_adjoint_share_a_name():
    """reassign: x_3 = exp(x_2), out = x_3 * y: the adjoint of x_3 is g * y, named d_x_3."""
    text = adcompiler.show(programs.reassign, 1.0, 2.0, wrt=(0, 1), print_it=False)
    assert re.search(r"%x_3 = exp %x_2 ", text) and re.search(r"%d_x_3 = mul %g, %y ", text), text


def test_a_users_d_name_stays_and_the_adjoint_of_x_is_another():
    text = adcompiler.show(user_d_x, 1.0, print_it=False)
    forward = body_source(python_of(text, "user_d_x_forward"))
    assert "d_x = x * 2.0" in forward
    backward = python_of(text, "user_d_x_backward")
    (returned,) = backward.body[-1].value.elts
    assert returned.id.startswith("d_x_") and returned.id != "d_x"


def test_a_tape_is_named_after_the_value_it_holds():
    text = adcompiler.show(recurrence, 0.5, 2.0, 3, wrt=(0, 1), print_it=False)
    stores = re.findall(r"^\s+tape_(\w+)\[i\] = (\w+)\s", code_of(text, "recurrence_forward"), re.M)
    assert stores and all(tape == stored for tape, stored in stores), stores
    assert re.search(r"%tape_x_\d+ = tape_array ", text), text


def test_ir_and_python_name_residuals_alike():
    text = adcompiler.show(programs.tanh_layer, np.ones((2, 3)), np.ones(3), np.ones(2), wrt=(0, 1, 2), print_it=False)
    (ir_return,) = re.findall(r"^func tanh_layer_forward.*?^  return ([^\n]*)$", text, re.M | re.S)
    returned = python_of(text, "tanh_layer_forward").body[-1].value.elts
    assert [n.id for n in returned] == [name.lstrip("%") for name in ir_return.split(", ")]
    header = re.search(r"^func tanh_layer_backward\((.*)\) \{", text, re.M).group(1)
    assert [p.split(":")[0].lstrip("%") for p in header.split(", ")] == \
        [a.arg for a in python_of(text, "tanh_layer_backward").args.args]


def test_show_of_a_called_transform_shows_its_specialisations():
    assert "func add_mul(%x: f64, %y: f64, %z: f64)" in adcompiler.show(adcompiler.grad(programs.add_mul),
                                                                       print_it=False)  # not called: scalars
    transformed = adcompiler.grad(programs.sin_cos)
    transformed(np.ones(3))
    transformed(np.ones(3, dtype=np.float32))
    text = adcompiler.show(transformed, print_it=False)
    assert len(transformed.specialisations) == 2
    for (x,), (built_, _) in transformed.specialisations.items():
        assert f"# grad(sin_cos) for (x: {x})\n\n{built_.describe()}" in text
    assert text.count("# SSA") == 2
    assert "gradient with respect to x." in adcompiler.show(transformed, np.ones(2), print_it=False)


def squared_after_loop(x, n):
    s = x * 1.0
    for i in range(n):
        s = np.sin(s) * x
    return np.sum(s * s)


def test_a_residual_that_is_a_loop_result_has_its_ir_name_in_the_python():
    """The loop's result `s` and its tapes (results of the loop too) are residuals: the Python
    forward writes them into the loop's variables, but the backward names them as the IR does,
    and the fused function binds those names before its backward part reads them."""
    text = adcompiler.show(squared_after_loop, np.ones(3), 3, print_it=False)
    header = re.search(r"^func squared_after_loop_backward\((.*)\) \{", text, re.M).group(1)
    ir_params = [p.split(":")[0].lstrip("%") for p in header.split(", ")]
    assert [a.arg for a in python_of(text, "squared_after_loop_backward").args.args] == ir_params
    loop_results = re.search(r"^  (%s_\d+), (%tape\w+), .* = for ", text[text.index("func squared_after_loop_forward"):],
                             re.M).groups()
    assert {name.lstrip("%") for name in loop_results} <= set(ir_params), (loop_results, ir_params)
    fused = body_source(python_of(text, "squared_after_loop_value_and_grad"))
    for name in loop_results:
        assert re.search(rf"^{name.lstrip('%')} = \w+$", fused, re.M), (name, fused)

@JIT
def test_the_fused_gradient_reads_a_loop_result_under_its_ir_name(jit):
    x = np.linspace(0.1, 0.4, 3)
    value, gradient = adcompiler.value_and_grad(squared_after_loop, wrt=0, jit=jit)(x, 3)
    assert value == pytest.approx(squared_after_loop(x, 3), rel=1e-12)
    np.testing.assert_allclose(gradient, finite_difference(squared_after_loop, (x, 3), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(adcompiler.grad(squared_after_loop, wrt=0, jit=jit)(x, 3), gradient, rtol=1e-14)


def steps_of(x, k):
    """An integer `//` in a loop kernel: Python's error model, so k = 0 raises."""
    total = 0.0
    for i in range(x.shape[0]):
        total = total + x[i] * (i // k)
    return total


def reciprocals(x):
    """A float division in a loop kernel: NumPy's error model, so 1/0 is inf as in the plain version."""
    total = 0.0
    for i in range(x.shape[0]):
        total = total + 1.0 / x[i]
    return total


def test_kernels_divide_floats_as_numpy_and_integers_as_python():
    """compile._numba_jit: a kernel is compiled with NumPy's error model unless it floor-divides
    (Numba's NumPy model makes 7 // 0 zero where Python raises)."""
    x = np.array([0.5, 0.0, 2.0])
    for jit in (False, True):
        with np.errstate(divide="ignore"):
            assert adcompiler.jit(reciprocals, jit=jit)(x) == np.inf
        with pytest.raises(ValueError, match="steps_of.*failed in its generated code.*integer division"):
            adcompiler.jit(steps_of, jit=jit)(x, 0)
    assert adcompiler.jit(steps_of, jit=True)(x, 2) == 2.0  # 0.5 * 0 + 0.0 * 0 + 2.0 * 1


def shifted_rows(x, v, n):
    """Region updates in a loop (a kernel): a row, a column from an overlapping one, a broadcast
    column added, a row added to, and rows moved down over themselves."""
    y = x.copy()
    for i in range(n):
        y[i] = v * i
        y[1:, 0] = y[:-1, 1]
        y[:, 1:2] += x[:, :1]
        y[0, :] += 1.0
        y[2:, :] = y[:-2, :]
    return np.sum(y * y)


def test_kernels_update_regions_by_arrays_with_cached_helpers():
    """`y[index] = v` and `+=` of an array v into a view of y are `krt.assign_into`/`add_into` in
    kernels (one loop an axis, compiled once; overlapping operands copied first), exactly NumPy's
    assignment: the same values and gradients as plain Python, and finite differences."""
    from fd import fd_grad
    rng = np.random.default_rng(2)
    args = (rng.uniform(-1, 1, (5, 3)), rng.uniform(-1, 1, 3), 4)
    compiled = adcompiler.value_and_grad(shifted_rows, wrt=(0, 1))
    value, grads = compiled(*args)
    source = adcompiler.show(compiled, print_it=False)
    assert re.search(r"^\s+krt\.assign_into\(\w+\[1:, 0\], \w+\)", source, re.M)
    assert re.search(r"^\s+krt\.add_into\(\w+\[", source, re.M)
    plain_value, plain_grads = adcompiler.value_and_grad(shifted_rows, wrt=(0, 1), jit=False)(*args)
    assert value == plain_value == shifted_rows(*args)
    assert all(np.array_equal(a, b) for a, b in zip(grads, plain_grads))
    for position in range(2):
        np.testing.assert_allclose(grads[position], fd_grad(shifted_rows, args, position), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="does not broadcast"):
        adcompiler.jit(shifted_rows)(args[0], np.ones(2), 2)


@pytest.mark.parametrize("region, value", [
    (lambda y: y[1:], lambda y: y[:-1]), (lambda y: y[:-1], lambda y: y[1:]),
    (lambda y: y[::-1], lambda y: y[:, 0:1]), (lambda y: y[:, ::2], lambda y: y[0, ::2]),
    (lambda y: y[2], lambda y: y[1, ::-1])])
def test_the_compiled_region_helpers_are_numpys_assignment(region, value):
    from adcompiler.backend.compile import compiled_runtime
    krt = compiled_runtime()
    for helper, numpy_spelling in (("assign_into", "="), ("add_into", "+=")):
        y = np.arange(20.0).reshape(4, 5)
        expected = y.copy()
        if numpy_spelling == "=":
            region(expected)[...] = value(expected)
        else:
            target = region(expected)
            target += value(expected)
        getattr(krt, helper)(region(y), value(y))
        assert np.array_equal(y, expected), helper
