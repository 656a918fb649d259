"""Export: `export(function, arg_types, wrt)` is the text of a standalone module holding the forward,
the backward and the fused value-and-gradient of `function` for those argument types, with the
runtime helpers that they call (only those, copied from backend/runtime.py) and the arrays the
function captured (embedded). It imports NumPy (SciPy too if a helper it uses needs
scipy.special), and Numba when it is installed and the module has kernels that call no runtime
helper (kernels that do run as plain Python: their helpers' Numba twins stay in adcompiler).

The module defines `value_and_grad(*args) -> (value, (gradients in wrt order))`,
`forward(*args) -> (value, *residuals)` and `backward(*residuals, cotangent) -> gradients`, with
the user's parameter names, and the generated functions under their own names.
`parse_types("f64[3,4], f32[], i64")` reads the command line's argument types (`python -m adcompiler
export`, __main__.py).
"""
from __future__ import annotations

import base64
import inspect
import re
import types as python_types

import numpy as np

from . import __version__
from .api import TRANSFORMS, Transformed, _argument, _positions
from .backend import runtime
from .pipeline import build, check

DTYPES = {"f64": "float64", "f32": "float32", "i64": "int64", "bool": "bool"}
_TYPE = re.compile(r"\s*(f64|f32|i64|bool)\s*(?:\[([\d\s,]*)\])?\s*")


def parse_types(text: str) -> list:
    """Example arrays of the types `text` names, comma-separated: `f64[3,4]` (an array of that
    shape), `f64[]` or `f64` (a scalar), of f64, f32, i64 or bool."""
    examples, rest = [], text.strip()
    while rest:
        match = _TYPE.match(rest)
        if not match:
            raise ValueError(f"cannot read the argument type at {rest!r}: write e.g. f64[3,4], f32[], i64")
        dtype, shape = DTYPES[match.group(1)], match.group(2)
        dims = tuple(int(n) for n in shape.split(",") if n.strip()) if shape else ()
        examples.append(np.zeros(dims, dtype) if dims else np.zeros((), dtype)[()])
        rest = rest[match.end():]
        if rest and not rest.startswith(","):
            raise ValueError(f"expected a comma before {rest!r}")
        rest = rest[1:]
    return examples


def export(function, examples: list, wrt) -> str:
    """The standalone module's text (see the module docstring) for arguments like `examples`."""
    inner = function.function if isinstance(function, Transformed) else function
    parsed = check(inner)
    names = list(inspect.signature(inner).parameters)
    if len(examples) != len(names):
        raise ValueError(f"{parsed.name} has {len(names)} parameters {names}, but {len(examples)} argument types were given")
    positions, _ = _positions(wrt, names, parsed.described)
    arg_types = [_argument(v, n, i in positions)[0] for i, (n, v) in enumerate(zip(names, examples))]
    built = build(parsed, arg_types, positions, "value_and_grad", TRANSFORMS)
    # fused chains and N-D elementwise ops run as loops where Numba compiles them (backend/fuse.py):
    # module constants
    source = re.sub(r"\bkrt\.(ELEMENT_LOOPS|ARRAY_LOOPS)\b", r"\1", built.source)
    used = sorted(set(re.findall(r"\bk?rt\.(\w+)", source)))
    helpers, imports = _helpers(used)
    kernels = "\n@jit\n" in source
    numba_ok = kernels and not re.search(r"\bkrt\.", source)
    captured = built.primal.captured
    params = ", ".join(names)
    wrt_names = ", ".join(names[i] for i in positions)
    residuals = len(built.program.forward.entry.terminator.values) - 1
    lines = [f'"""{parsed.name}({params}) and its gradient with respect to {wrt_names}, exported by adcompiler '
             f'{__version__} from',
             f"{parsed.file}:{parsed.line_offset + 1} for ({', '.join(f'{n}: {t}' for n, t in zip(names, arg_types))}).",
             "Standalone: needs NumPy only" + (" (and SciPy, for scipy.special)" if "scipy" in "".join(imports) else "")
             + (", and uses Numba for its kernels when it is installed." if numba_ok else "."),
             "",
             f"value_and_grad({params}) -> (value, ({wrt_names},) gradients)",
             f"forward({params}) -> (value, *{residuals} residuals);  backward(*residuals, cotangent) -> gradients",
             '"""', *sorted(set(imports) | {"import numpy as np", "import types"}), ""]
    if kernels:
        lines += (["try:", "    import numba", "    jit = numba.njit(cache=True)", "    ELEMENT_LOOPS = ARRAY_LOOPS = True",
                   "except ImportError:  # plain Python", "    def jit(function):", "        return function",
                   "    ELEMENT_LOOPS = ARRAY_LOOPS = False"] if numba_ok else
                  ["def jit(function):  # its kernels call runtime helpers, whose Numba twins are not exported",
                   "    return function", "ELEMENT_LOOPS = ARRAY_LOOPS = False"])
    lines += ["", "", "# ---------------------------------------------------------------- runtime helpers", "",
              *helpers, f"rt = krt = types.SimpleNamespace({', '.join(f'{n}={n}' for n in used)})", "", ""]
    if captured:
        lines += ["# The arrays the function read from its globals and closures, as they were when exported.",
                  "CAPTURED = (" + "".join(f"{_embedded(array)}, " for array in captured) + ")", "", ""]
    lines += ["# ---------------------------------------------------------------- generated code", "",
              source.rstrip(), "", "",
              f"def value_and_grad({params}):",
              f"    return {parsed.name}_value_and_grad({params}{', *CAPTURED' if captured else ''})", "", "",
              f"def forward({params}):",
              f"    return {parsed.name}_forward({params}{', *CAPTURED' if captured else ''})", "", "",
              "def backward(*residuals_and_cotangent):",
              f"    return {parsed.name}_backward(*residuals_and_cotangent)", ""]
    return "\n".join(lines)


def _helpers(used: list) -> tuple:
    """(the source of the runtime helpers `used` and of what they call, the imports they need)."""
    done, blocks, imports = set(), [], set()

    def add(name):
        if name in done:
            return
        done.add(name)
        value = getattr(runtime, name)
        if isinstance(value, python_types.ModuleType):
            imports.add(f"import {value.__name__}" if value.__name__ == name else
                        f"from {value.__name__.rpartition('.')[0]} import {name}" if "." in value.__name__ else
                        f"import {value.__name__} as {name}")
            return
        if not callable(value) or not hasattr(value, "__code__"):
            blocks.append(f"{name} = {value!r}\n\n")
            return
        closure = inspect.getclosurevars(value)
        for dependency in sorted({*closure.globals, *closure.nonlocals} - {name}):
            if hasattr(runtime, dependency) and not dependency.startswith("__"):
                add(dependency)
        if value.__closure__ and value.__code__ is runtime._vector_helper("exp").__code__:  # `_vector_helper("exp")`
            add("_vector_helper")
            blocks.append(f"{name} = _vector_helper({closure.nonlocals['ufunc'].__name__!r})\n\n")
        elif value.__closure__ and value.__code__ is runtime._blas_sum("sum_axis", False).__code__:
            add("_blas_sum")
            blocks.append(f"{name} = _blas_sum({name!r}, {closure.nonlocals['keepdims']})\n\n")
        elif value.__closure__:  # made by _axis_reduction: `name = _axis_reduction("sum", False)`
            assert value.__code__ is runtime._axis_reduction("sum", False).__code__, name
            add("_axis_reduction")
            blocks.append(f"{name} = _axis_reduction({closure.nonlocals['numpy_function'].__name__!r}, "
                          f"{closure.nonlocals['keepdims']})\n\n")
        else:
            blocks.append(inspect.getsource(value) + "\n")

    for name in used:
        add(name)
    return blocks, imports


def _embedded(array) -> str:
    """An expression that makes a copy of `array` (its bytes in base64)."""
    if not isinstance(array, np.ndarray):
        return repr(array)
    data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()
    return (f"np.frombuffer(__import__('base64').b64decode({data!r}), {str(array.dtype)!r})"
            f".reshape({array.shape}).copy()")
