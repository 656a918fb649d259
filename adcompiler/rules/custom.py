"""Custom derivative rules: `@custom_vjp` declares the gradient of a user's own function.

    @custom_vjp
    def softplus(x):
        return np.log1p(np.exp(x))

    @softplus.defvjp
    def softplus_vjp(g, x, out):
        return g * (1.0 - np.exp(-out))     # a tuple when the function has several parameters

Inside a differentiated function, `softplus(z)` is lowered inline with its operands cut off from
the gradient (`stop_gradient`), and a `custom_vjp[softplus]` op carries the rule: the reverse pass
lowers the rule inline in the backward (it is plain Python/NumPy too), so it compiles with the
rest. Outside, `softplus` is the plain Python function.
"""
from __future__ import annotations

import functools

from . import primitives as P
from .shapes import over_batch
from ..ir.builder import current_builder
from ..errors import CompileError


class CustomVJP:
    """A function with a user-declared vector-Jacobian product."""

    def __init__(self, function):
        self.function = function
        self.rule = None
        self.primitive = None  # the `custom_vjp[f]` primitive, made at the first call lowered
        functools.update_wrapper(self, function)

    def defvjp(self, rule):
        """Declare `rule(g, *args, out)`, returning one gradient per parameter (a tuple for several)."""
        self.rule = rule
        return rule

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def lower_call(self, lowering, inline, args, kwargs, node):
        """The call `self(*args)` lowered: the body, cut off from the gradient, and the rule's op.
        `inline(function, symbols)` lowers a Python function here (the frontend's, passed in)."""
        if self.rule is None:
            lowering.refuse(node, f"`{self.function.__name__}` is a custom_vjp without a rule",
                            f"declare one with @{self.function.__name__}.defvjp")
        if kwargs or len(args) != self.function.__code__.co_argcount:
            lowering.refuse(node, f"`{self.function.__name__}` must be called with its "
                                  f"{self.function.__code__.co_argcount} arguments by position")
        body = inline(self.function, [P.stop_gradient(a) for a in args])
        if not isinstance(body, P.Sym):
            lowering.refuse(node, f"`{self.function.__name__}` must return one value to have a custom_vjp")
        if self.primitive is None:
            arity = self.function.__code__.co_argcount
            self.primitive = P.Primitive(f"custom_vjp[{self.function.__name__}]", arity + 1, "_0",
                                         lambda body, *inputs: P.same_type(body), memory=P.IDENTITY,
                                         batch=_custom_batched)
            self.primitive.defvjp(None, *(functools.partial(self._share, inline, position) for position in range(arity)))
        return self.primitive(body, *args)

    def _share(self, inline, position, g, body, *inputs, out):
        shares = inline(self.rule, [g, *inputs, out])
        shares = shares if isinstance(shares, tuple) else (shares,)
        if len(shares) != len(inputs):
            raise CompileError(f"the rule of `{self.function.__name__}` returns {len(shares)} gradients "
                               f"for {len(inputs)} parameters", current_builder().loc,
                               "return one per parameter, as a tuple")
        share = shares[position]
        if share.type.ndim != inputs[position].type.ndim:
            raise CompileError(f"the rule of `{self.function.__name__}` gives a {share.type.ndim}-D gradient "
                               f"for the {inputs[position].type.ndim}-D parameter {position}", current_builder().loc,
                               "return a gradient of the parameter's shape")
        return share


def custom_vjp(function) -> CustomVJP:
    """Declare that `function`'s gradient is given by a rule (see `CustomVJP.defvjp`)."""
    return CustomVJP(function)


def _custom_batched(body, *inputs, batched):
    """The value is the body's (the rule only matters to reverse mode, which batching follows)."""
    return body if batched[0] else over_batch(body, inputs[batched.index(True) - 1])
