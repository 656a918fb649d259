"""Jacobians by forward mode, and the choice of mode: `jacfwd`, `jacobian` and `hessian`.

`jacfwd(f, wrt)` is `vmap(jvp(f, wrt))` over the identity basis of tangents: one compiled call
computes f's value once (what does not depend on the tangents is not batched) and every column of
the Jacobian at once. With several `wrt` arguments the basis has one block of columns per
argument (the others' tangents zero in it), so the call is still one. Each Jacobian has the shape
`out.shape + x.shape`, as `jacrev`'s. `jacobian` takes forward mode where the differentiated
arguments have no more numbers than the output (a tall Jacobian), reverse mode otherwise (the
output's size read from one plain call per signature); `hessian(f) = jacfwd(grad(f))`, forward
over reverse. These run from Python: inside compiled code call `jacrev`, `jvp` or `vmap` instead.
"""
from __future__ import annotations

import functools

import numpy as np

from . import api
from .api import Wrt, grad, jacrev, jvp, vmap


class ForwardJacobian:
    """The Jacobian of `function` with respect to the array arguments `wrt`, by forward mode."""

    def __init__(self, function, wrt: Wrt = 0, jit: bool = True):
        self.tangents = jvp(function, wrt, jit)
        own = len(self.tangents.names)
        self.columns = vmap(self.tangents, in_axes=(None,) * own + (0,), jit=jit)
        functools.update_wrapper(self, function, updated=())
        self.__dict__.pop("__wrapped__", None)

    def __call__(self, *args):
        wrt, single = self.tangents.wrt, self.tangents.single
        leaves = []
        for position in wrt:
            if isinstance(args[position], (dict, list, tuple)):
                raise TypeError(f"jacfwd differentiates arrays and numbers; {self.tangents.names[position]!r} is a "
                                f"{type(args[position]).__name__} (use jacrev for parameter trees)")
            leaves.append(np.asarray(args[position]))
        columns = sum(leaf.size for leaf in leaves)
        basis, start = [], 0
        for leaf in leaves:
            dtype = leaf.dtype if leaf.dtype.kind == "f" else np.float64
            basis.append(np.eye(columns, dtype=dtype)[:, start:start + leaf.size].reshape(columns, *leaf.shape))
            start += leaf.size
        _, tangents = self.columns(*args, basis[0] if single else tuple(basis))
        if not isinstance(tangents, np.ndarray):
            raise TypeError(f"jacfwd of {self.__name__}: the function must return one array or number, not "
                            f"{type(tangents).__name__}")
        by_column = np.moveaxis(tangents, 0, -1)  # (*out.shape, columns)
        jacobians, start = [], 0
        for leaf in leaves:
            block = by_column[..., start:start + leaf.size]
            jacobians.append(block.reshape(by_column.shape[:-1] + leaf.shape))
            start += leaf.size
        return jacobians[0] if single else tuple(jacobians)


def jacfwd(function=None, wrt: Wrt = 0, jit: bool = True):
    """The Jacobian of `function` (one array output) with respect to the array arguments `wrt`, by
    forward mode in one pass (see the module docstring): `out.shape + x.shape`, a tuple for
    several `wrt`."""
    if function is None:
        return lambda f: ForwardJacobian(f, wrt, jit)
    return ForwardJacobian(function, wrt, jit)


class ChosenJacobian:
    """The Jacobian by the cheaper mode for each signature: forward where the differentiated
    arguments have at most as many numbers as the output, else reverse."""

    def __init__(self, function, wrt: Wrt = 0, jit: bool = True):
        self.forward, self.reverse = ForwardJacobian(function, wrt, jit), jacrev(function, wrt, jit)
        self.value = api.jit(function, jit=False)
        self.chosen: dict = {}  # (shapes and dtypes of the arguments) -> "forward" or "reverse"
        functools.update_wrapper(self, function, updated=())
        self.__dict__.pop("__wrapped__", None)

    def mode(self, *args) -> str:
        """The mode used for arguments like `args`."""
        key = tuple((np.shape(a), np.asarray(a).dtype.str) if not isinstance(a, (dict, list, tuple)) else id(a)
                    for a in args)
        if key not in self.chosen:
            inputs = sum(np.size(args[i]) for i in self.forward.tangents.wrt)
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


def hessian(function=None, wrt: int | str = 0, jit: bool = True):
    """The Hessian of scalar `function` with respect to one argument `wrt`, forward over reverse
    (jacfwd of grad): shape `x.shape + x.shape`."""
    if function is None:
        return lambda f: hessian(f, wrt, jit)
    if not isinstance(wrt, (int, str)):
        raise TypeError(f"hessian differentiates one argument; wrt={wrt!r} (take jacfwd(grad(f, wrt=...)) per pair)")
    return ForwardJacobian(grad(function, wrt, jit), wrt, jit)
