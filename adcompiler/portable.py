"""What a call of a compiled specialisation needs, as a portable record: a transformed function
(`grad`, `value_and_grad`, `vjp`, `jit`) pickles as its `Specialisation`s, each its generated source,
the argument types it was built for and what a call needs besides (captured arrays, the output's
type and structure); never its IR, nor the user's source. The other side's object is an
`api.Loaded`, which imports each specialisation's source from its own cache folder (reusing the
module, and Numba's cache of its kernels, when the file is there) or writes and compiles it.

A `Loaded` runs the signatures it was pickled with, and only those: without the user's source it
cannot lower a new one, so a call with other argument types is refused, naming the types it has
(call the original once with those arguments before pickling). It is itself picklable. Globals
the function read were constants of its specialisations when they were built (a `Loaded` does not
see them rebound), and a namedtuple argument needs its class importable on the other side.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Loc
from .ir.core import Function, Type


@dataclass(frozen=True)
class Specialisation:
    """What a call of one specialisation needs besides its module, picklable: `source` (the
    generated module) and `stem` (its file's name), the `captured` arrays bound to its last
    parameters, how many values the generated function returns (`outputs`) and how they nest
    (`structure`, a `trees.Node` or None), the type of the differentiated output (`out`; None for
    "jit"), the parameters' names for messages (`hints`) and the user's function's place (`loc`).
    `build` (the Build itself) is kept only in the process that built it."""

    source: str
    stem: str
    captured: tuple
    outputs: int
    structure: object
    out: Type | None
    hints: tuple
    loc: Loc
    build: object = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, built, keep: bool = False) -> "Specialisation":
        """The record of a `pipeline.Build` (holding it when `keep`: not pickled then)."""
        primal = built.primal
        out = None if isinstance(built.program, Function) else built.program.forward.entry.terminator.values[0].type
        returned = built.program if isinstance(built.program, Function) else primal  # a Jacobian per parameter
        return cls(built.source, built.stem, tuple(primal.captured), len(returned.entry.terminator.values),
                   returned.structure or primal.structure, out, tuple(p.hint for p in primal.params), primal.loc, built if keep else None)

    def describe(self) -> str:
        """What `show` prints of it: the generated Python (its IR did not travel)."""
        return f"# generated Python ({self.path})\n{self.source}"

    @property
    def path(self):
        from .backend.compile import module_path
        return module_path(self.source, self.stem)

    def __reduce__(self):
        return Specialisation, (self.source, self.stem, self.captured, self.outputs, self.structure, self.out,
                                self.hints, self.loc)
