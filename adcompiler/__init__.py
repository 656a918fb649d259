"""adcompiler: source-to-source reverse-mode automatic differentiation of Python and NumPy, compiled
with Numba. `grad`, `value_and_grad` and `vjp` transform a function in reverse mode, `jvp` and `hvp` in
forward mode; `show` prints the code."""
__version__ = "0.1.0"

from .api import grad, hvp, jit, jvp, show, value_and_grad, vjp  # noqa: E402
from .check import GradientMismatch, check_grad  # noqa: E402
from .rules.custom import custom_jvp, custom_vjp  # noqa: E402
from .errors import CompileError  # noqa: E402
from .trees import tree_leaves, tree_map  # noqa: E402

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "hvp", "jit", "show", "custom_vjp", "custom_jvp", "check_grad", "GradientMismatch",
           "CompileError", "tree_map", "tree_leaves", "__version__"]
