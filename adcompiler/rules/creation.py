"""Creation: arrays filled with a value, uninitialised arrays to be filled by writes, identity
matrices, ranges. Only a fill value and the bounds of a range carry a gradient; shapes never do."""
from __future__ import annotations


import numpy as np

from ..ir.core import Const, Type
from .primitive import BUFFER, ELEMENTWISE, LINEAR, NEW, ZERO, Primitive, literal_lengths, promote, same_type
from .reductions import total
from .shapes import aligned, dim


def _shape_text(first: int, count: int) -> str:
    dims = [f"_{i}" for i in range(first, first + count)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _filled_type(*dims: Type, dtype: str) -> Type:
    return Type(dtype, len(dims))


zeros = Primitive("zeros", None, lambda types, dtype: f"np.zeros({_shape_text(0, len(types))}, np.{dtype})",
                  _filled_type, memory=BUFFER, vjps=ZERO, lengths=literal_lengths)
ones = Primitive("ones", None, lambda types, dtype: f"np.ones({_shape_text(0, len(types))}, np.{dtype})",
                 _filled_type, memory=BUFFER, vjps=ZERO, lengths=literal_lengths)
full = Primitive("full", None,
                 lambda types, dtype: f"np.full({_shape_text(1, len(types) - 1)}, _0, np.{dtype})",
                 lambda fill, *dims, dtype: Type(dtype, len(dims)), memory=BUFFER,
                 lengths=lambda fill, *dims, dtype: literal_lengths(*dims), jvps=LINEAR)
full.defvjp(lambda g, fill, *dims, out, dtype: total(g) if g.type.ndim else g)
# A batch of fill values: each item's array (the shape the same for all).
full.defbatch(lambda fill, *dims, batched, dtype: None if any(batched[1:]) else
              zeros(dim(fill, axis=0), *dims, dtype=dtype) + aligned(fill, True, len(dims)))
# np.empty: what is not written holds whatever the memory held, as in NumPy, and carries no gradient.
empty = Primitive("empty", None, lambda types, dtype: f"np.empty({_shape_text(0, len(types))}, np.{dtype})",
                  _filled_type, memory=BUFFER, vjps=ZERO, lengths=literal_lengths)
zeros_like = Primitive("zeros_like", 1, "np.zeros_like(_0)", same_type, memory=BUFFER, vjps=ZERO, batch=ELEMENTWISE)
ones_like = Primitive("ones_like", 1, "np.ones_like(_0)", same_type, memory=BUFFER, vjps=ZERO, batch=ELEMENTWISE)
empty_like = Primitive("empty_like", 1, "np.empty_like(_0)", same_type, memory=BUFFER, vjps=ZERO, batch=ELEMENTWISE)
eye = Primitive("eye", 1, lambda types, dtype: f"np.eye(_0, _0, 0, np.{dtype})",
                lambda n, dtype: Type(dtype, 2), memory=BUFFER, vjps=ZERO)
def _arange_lengths(*bounds) -> tuple:
    if all(isinstance(b, Const) for b in bounds):
        return (len(np.arange(*(b.value for b in bounds))),)
    return (None,)


arange = Primitive("arange", 3, "np.arange(_0, _1, _2)",
                   lambda *bounds: Type(promote(*bounds).dtype if all(b.dtype != "bool" for b in bounds)
                                        else "int64", 1), memory=NEW,
                   lengths=_arange_lengths)
# start + k * step: the stop only decides how many values there are (a zero gradient).
arange.defvjp(lambda g, start, stop, step, out: total(g), None,
              lambda g, start, stop, step, out: total(g * arange(0, dim(out, axis=0), 1)))
arange.defjvp(lambda t, start, stop, step, out: t, None,
              lambda t, start, stop, step, out: t * arange(0, dim(out, axis=0), 1))
linspace = Primitive("linspace", 3, "np.linspace(_0, _1, _2)", lambda a, b, n: Type("float64", 1), memory=NEW,
                    jvps=LINEAR)
# start + (stop - start) * t with t = linspace(0, 1, num).
linspace.defvjp(lambda g, a, b, n, out: total(g * (1.0 - linspace(0.0, 1.0, n))),
                lambda g, a, b, n, out: total(g * linspace(0.0, 1.0, n)), None)
