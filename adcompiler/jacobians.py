"""The choice of mode for a Jacobian: `jacobian`, on top of the API's `jacfwd` and `jacrev` (each one
compiled Function, spliced into compiled code that calls it; `hessian` is `jacfwd(grad(f))`).

`jacobian` takes forward mode where the differentiated arguments have no more numbers than the
output (a tall Jacobian), reverse mode otherwise, the output's size read from one plain call per
signature. It runs from Python: inside compiled code call `jacfwd` or `jacrev`.
"""
from __future__ import annotations

import functools

import numpy as np

from . import api
from .api import Wrt, hessian, jacfwd, jacrev
from .trees import tree_leaves

__all__ = ["hessian", "jacfwd", "jacobian"]


class ChosenJacobian:
    """The Jacobian by the cheaper mode for each signature: forward where the differentiated
    arguments have at most as many numbers as the output, else reverse."""

    def __init__(self, function, wrt: Wrt = 0, jit: bool = True):
        self.forward, self.reverse = jacfwd(function, wrt, jit), jacrev(function, wrt, jit)
        self.value = api.jit(function, jit=False)
        self.chosen: dict = {}  # (shapes and dtypes of the arguments) -> "forward" or "reverse"
        functools.update_wrapper(self, function, updated=())
        self.__dict__.pop("__wrapped__", None)

    def mode(self, *args) -> str:
        """The mode used for arguments like `args`."""
        key = tuple((np.shape(a), np.asarray(a).dtype.str) if not isinstance(a, (dict, list, tuple)) else id(a)
                    for a in args)
        if key not in self.chosen:
            inputs = sum(np.size(leaf) for i in self.forward.wrt for leaf in tree_leaves(args[i]))
            self.chosen[key] = "forward" if inputs <= np.size(self.value(*args)) else "reverse"
        return self.chosen[key]

    def __call__(self, *args):
        return (self.forward if self.mode(*args) == "forward" else self.reverse)(*args)


def jacobian(function=None, wrt: Wrt = 0, jit: bool = True):
    """The Jacobian of `function` with respect to `wrt`, by forward mode for a tall Jacobian and
    reverse mode for a wide one (`mode(*args)` tells which)."""
    if function is None:
        return lambda f: ChosenJacobian(f, wrt, jit)
    return ChosenJacobian(function, wrt, jit)
