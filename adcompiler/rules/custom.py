"""Custom derivative rules: `@custom_vjp` declares the gradient of a user's own function,
`@custom_jvp` its forward-mode derivative.

    @custom_vjp
    def softplus(x):
        return np.log1p(np.exp(x))

    @softplus.defvjp
    def softplus_vjp(g, x, out):
        return g * (1.0 - np.exp(-out))     # a tuple when the function has several parameters

    @custom_jvp
    def softplus(x):
        return np.log1p(np.exp(x))

    @softplus.defjvp
    def softplus_jvp(t, x, out):            # t: the tangent of x (a tuple of tangents for several)
        return t * (1.0 - np.exp(-out))     # the tangent of the output, linear in t

Inside a transformed function, `softplus(z)` is lowered inline with its operands cut off from
differentiation (`stop_gradient`), and a `custom_vjp[softplus]` (`custom_jvp[softplus]`) op carries
the rule: the reverse (forward) pass lowers the rule inline (it is plain Python/NumPy too), so it
compiles with the rest. Outside, `softplus` is the plain Python function. A custom_vjp reached by
forward mode, and a custom_jvp reached by reverse mode, are refused (its rule gives only the
other mode). The jvp rule is called once per differentiated parameter, with zero tangents for the
others (a tangent is linear in the tangents, so the contributions sum to the whole).
"""
from __future__ import annotations

import functools

from . import primitives as P
from .creation import over_batch
from ..ir.builder import current_builder
from ..errors import CompileError


class Custom:
    """A user's function with a rule of one mode (`mode` "vjp" or "jvp")."""

    mode = ""
    other = ""  # the mode the rule does not give, and how the refusal names it

    def __init__(self, function):
        self.function = function
        self.rule = None
        self.primitive = None  # the `custom_<mode>[f]` primitive, made at the first call lowered
        functools.update_wrapper(self, function)

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    @property
    def arity(self) -> int:
        return self.function.__code__.co_argcount

    def lower_call(self, lowering, inline, args, kwargs, node):
        """The call `self(*args)` lowered: the body, cut off from differentiation, and the rule's
        op. `inline(function, symbols)` lowers a Python function here (the frontend's, passed in)."""
        name = self.function.__name__
        if self.rule is None:
            lowering.refuse(node, f"`{name}` is a custom_{self.mode} without a rule",
                            f"declare one with @{name}.def{self.mode}")
        if kwargs or len(args) != self.arity:
            lowering.refuse(node, f"`{name}` must be called with its {self.arity} arguments by position")
        body = inline(self.function, [P.stop_gradient(a) for a in args])
        if not isinstance(body, P.Sym):
            lowering.refuse(node, f"`{name}` must return one value to have a custom_{self.mode}")
        if self.primitive is None:
            rules = [None, *(functools.partial(self._share, inline, position) for position in range(self.arity))]
            refusal = (f"`{name}` has a custom_{self.mode} rule, which {self.other} cannot use",
                       f"declare its {'custom_jvp' if self.mode == 'vjp' else 'custom_vjp'} instead, or call a "
                       f"function without custom rules (its derivative is then derived from its body)")
            self.primitive = P.Primitive(f"custom_{self.mode}[{name}]", self.arity + 1, "_0",
                                         lambda body, *inputs: P.same_type(body), memory=P.IDENTITY, refusal=refusal,
                                         batch=_custom_batched, **{f"{self.mode}s": tuple(rules)})
        return self.primitive(body, *args)

    def _share(self, inline, position, seed, body, *inputs, out):
        raise NotImplementedError


class CustomVJP(Custom):
    """A function with a user-declared vector-Jacobian product."""

    mode, other = "vjp", "forward mode (jvp, hvp)"

    def defvjp(self, rule):
        """Declare `rule(g, *args, out)`, returning one gradient per parameter (a tuple for several)."""
        self.rule = rule
        return rule

    def _share(self, inline, position, g, body, *inputs, out):
        shares = inline(self.rule, [g, *inputs, out])
        shares = shares if isinstance(shares, tuple) else (shares,)
        if len(shares) != len(inputs):
            raise CompileError(f"the rule of `{self.function.__name__}` returns {len(shares)} gradients "
                               f"for {len(inputs)} parameters", current_builder().loc,
                               "return one per parameter, as a tuple")
        share = shares[position]
        _check_rank(self, share, inputs[position], f"gradient for the {inputs[position].type.ndim}-D parameter "
                                                    f"{position}", "return a gradient of the parameter's shape")
        return share


class CustomJVP(Custom):
    """A function with a user-declared Jacobian-vector product."""

    mode, other = "jvp", "reverse mode (grad, vjp)"

    def defjvp(self, rule):
        """Declare `rule(t, *args, out)`, returning the tangent of the output; `t` is the tangent of
        the one parameter, a tuple of tangents (one per parameter) for several."""
        self.rule = rule
        return rule

    def _share(self, inline, position, t, body, *inputs, out):
        tangents = [t if k == position else (P.zeros_like(x) if x.type.ndim else P.Sym(0.0))
                    for k, x in enumerate(inputs)]
        share = inline(self.rule, [tangents[0] if len(inputs) == 1 else tuple(tangents), *inputs, out])
        if not isinstance(share, P.Sym):
            raise CompileError(f"the jvp rule of `{self.function.__name__}` must return one tangent",
                               current_builder().loc, "return the tangent of the output")
        _check_rank(self, share, out, f"tangent for its {out.type.ndim}-D output",
                    "return a tangent of the output's shape", exact=False)
        return share


def _check_rank(custom, share, like, what: str, hint: str, exact: bool = True) -> None:
    """Refuse a share of another rank than `like` (a higher one, unless `exact`: a tangent of lower
    rank broadcasts)."""
    if share.type.ndim > like.type.ndim or (exact and share.type.ndim != like.type.ndim):
        raise CompileError(f"the rule of `{custom.function.__name__}` gives a {share.type.ndim}-D {what}",
                           current_builder().loc, hint)


def custom_vjp(function) -> CustomVJP:
    """Declare that `function`'s gradient is given by a rule (see `CustomVJP.defvjp`)."""
    return CustomVJP(function)


def _custom_batched(body, *inputs, batched):
    """The value is the body's (the rule only matters to reverse mode, which batching follows)."""
    return body if batched[0] else over_batch(body, inputs[batched.index(True) - 1])


def custom_jvp(function) -> CustomJVP:
    """Declare that `function`'s forward-mode derivative is given by a rule (see `CustomJVP.defjvp`)."""
    return CustomJVP(function)
