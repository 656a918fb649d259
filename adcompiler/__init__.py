"""adcompiler: source-to-source reverse-mode automatic differentiation of Python and NumPy, compiled
with Numba. `grad`, `value_and_grad`, `vjp` and `jacrev` transform a function in reverse mode
(`memory=` bounds what loops keep; `checkpoint` marks what the backward recomputes), `jvp`, `hvp`,
`jacfwd` and `hessian` in forward mode (`jacobian` chooses), `vmap` batches; `show` prints the code; `data_parallel` computes a gradient shard by shard over a batch
(on threads, processes or Dask)."""
__version__ = "0.1.0"

from .backend.fuse import set_threads  # noqa: E402
from .api import grad, hessian, hvp, jacfwd, jacobian, jacrev, jit, jvp, show, value_and_grad, vjp, vmap  # noqa: E402
from .errors import CompileError  # noqa: E402
from .frontend.checkpoint import checkpoint  # noqa: E402
from .trees import tree_leaves, tree_map  # noqa: E402

# Imported at their first use: a process calling gradients served from the disk cache needs none
# of these modules (nor lowering, which they import).
_LATER = {"check_grad": "check", "GradientMismatch": "check", "data_parallel": "distributed",
          "custom_vjp": "rules.custom", "custom_jvp": "rules.custom"}


def __getattr__(name):
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f"{__name__}.{_LATER[name]}"), name)

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "hvp", "jacrev", "jacfwd", "jacobian", "hessian", "vmap", "jit", "show", "custom_vjp", "custom_jvp",
           "checkpoint", "check_grad", "GradientMismatch", "CompileError", "tree_map", "tree_leaves", "data_parallel",
           "set_threads", "__version__"]
