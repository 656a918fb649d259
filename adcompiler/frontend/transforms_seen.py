"""What lowering knows of the API's transforms (api.TRANSFORMS is the real one): the frontend never
imports the API, and the API imports this, not lowering, which a call served from the disk cache
does not need."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Protocol


class Transform(Protocol):
    """A transformed function as a call of it is lowered (api.Transformed)."""

    kind: str  # "grad", "value_and_grad", "vjp", "jvp" or "jit"
    signature: inspect.Signature
    wrt: tuple  # the positions it differentiates
    single: bool  # whether `wrt` named one parameter (its gradient is not a tuple)

    def build_for(self, arg_types: tuple):
        """The `pipeline.Build` (primal, simplified program or adjoint) for these argument types."""


@dataclass(frozen=True)
class Transforms:
    """The API's transforms, as lowering needs them: `is_factory(obj)` says whether a call of `obj`
    makes a transform (`grad(f, wrt=...)` in the code: made at compile time), `transform_of(obj)`
    gives the `Transform` that `obj` is, or None."""

    is_factory: Callable[[object], bool]
    transform_of: Callable[[object], Transform | None]
