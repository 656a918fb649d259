"""Parameter trees: dicts, lists, tuples and namedtuples of arrays and numbers, nested, as JAX users
know them (pytrees). A non-empty list or tuple of numbers only is one leaf (an array, as NumPy
reads it); anything that is not a dict, list or tuple is a leaf.

A tree's structure is a `Node` (its container type, a dict's keys in order, and its children's
structures); a leaf's structure is whatever describes it (a `Type` at the API, None in
`Function.structure`). The API flattens a tree argument into its leaves, each a parameter of the
generated code named after its path (`params_W1`), and lowering sees the tree again, as the same
containers of symbols (a list as a `Listed` tuple, whose length the specialisation fixes).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=True)
class Node:
    """The structure of a container: `kind` (dict, list, tuple or a namedtuple class), the keys of a
    dict in order (those of a namedtuple are its `Field`s, of a list or tuple empty) and the
    structure of each child. Never changed once made (it is a specialisation key); not frozen, and
    its hash computed once, because the API makes one for every tree argument at every call."""

    kind: type
    keys: tuple
    children: tuple
    _hash: int | None = field(default=None, init=False, repr=False, compare=False)

    def __hash__(self):
        if self._hash is None:
            self._hash = hash((self.kind, self.keys, self.children))
        return self._hash

    def __getstate__(self):
        """Pickled without its hash, which holds the hashes of string keys: salted per process."""
        return {**self.__dict__, "_hash": None}

    def describe(self, leaf=str) -> str:
        """`{'W': f64[n,n], 'b': f64[n]}`, `[...]`, `(...)` or `Layer(W=..., b=...)`."""
        items = [describe(c, leaf) for c in self.children]
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {i}" for k, i in zip(self.keys, items)) + "}"
        if is_namedtuple_type(self.kind):
            return f"{self.kind.__name__}(" + ", ".join(f"{k}={i}" for k, i in zip(self.keys, items)) + ")"
        inside = ", ".join(items)
        return f"[{inside}]" if self.kind is list else f"({inside}{',' if len(items) == 1 else ''})"


class Field(str):
    """A step of a path into a namedtuple: its field's name."""


class Listed(tuple):
    """A list in lowering: a tuple of fixed length (part of the specialisation) that is a list
    again where it leaves compiled code."""


def is_namedtuple_type(kind) -> bool:
    return isinstance(kind, type) and issubclass(kind, tuple) and hasattr(kind, "_fields")


def _numbers(value) -> bool:
    """Whether `value` is a (nested) non-empty list or tuple of numbers only: one array leaf (an
    empty one is an empty container, as the shape `()` of a scalar)."""
    if isinstance(value, (list, tuple)) and not hasattr(type(value), "_fields"):
        return bool(value) and all(map(_numbers, value))
    return isinstance(value, _NUMBERS)


_NUMBERS = (int, float, complex, np.generic)


@functools.lru_cache(maxsize=None)
def _fields(kind: type) -> tuple:
    """The keys of a namedtuple class (empty for list, tuple and their subclasses without fields)."""
    return tuple(Field(f) for f in getattr(kind, "_fields", ()))


def children(value):
    """(kind, keys, items) of a container, None for a leaf; the keys of a namedtuple are its
    `Field`s, those of a list or tuple empty (its positions)."""
    if isinstance(value, dict):
        return dict, tuple(value), tuple(value.values())
    if isinstance(value, (list, tuple)) and not _numbers(value):
        kind = list if isinstance(value, (list, Listed)) else type(value)
        return kind, _fields(kind), tuple(value)
    return None


def make(kind: type, keys: tuple, items, lowered: bool = False):
    """The container of `kind` holding `items` (a list is `Listed` when `lowered`)."""
    if kind is dict:
        return dict(zip(keys, items))
    if kind is list:
        return Listed(items) if lowered else list(items)
    return kind._make(items) if is_namedtuple_type(kind) else kind(items)


def flatten(value, leaf, path: tuple = ()):
    """The structure of `value`, calling `leaf(item, path)` on each leaf in order (its result is
    the leaf's structure); `path` is the tuple of keys and positions from the root."""
    parts = children(value)
    if parts is None:
        return leaf(value, path)
    kind, keys, items = parts
    return Node(kind, keys, tuple([flatten(item, leaf, path + (step,))
                                   for step, item in zip(keys or range(len(items)), items)]))


def unflatten(structure, leaves, lowered: bool = False):
    """The tree of `structure` whose leaves are taken in order from the iterator `leaves`."""
    if not isinstance(structure, Node):
        return next(leaves)
    return make(structure.kind, structure.keys, [unflatten(c, leaves, lowered) for c in structure.children], lowered)


def unflatten_like(structure, leaves, tree, leaf):
    """The tree of `structure` whose leaves are `leaf(next(leaves), original)`, `original` the
    leaf of `tree` (a tree of that structure) at the same place, in order: a result shaped and
    typed after the argument, without flattening the argument again."""
    if not isinstance(structure, Node):
        return leaf(next(leaves), tree)
    items = tree.values() if structure.kind is dict else tree
    return make(structure.kind, structure.keys,
                [unflatten_like(child, leaves, item, leaf) for child, item in zip(structure.children, items)])


def nodes_of(structure) -> list:
    """The `Node`s of `structure`, the root first."""
    if not isinstance(structure, Node):
        return []
    return [structure, *(node for child in structure.children for node in nodes_of(child))]


def leaves_of(structure) -> list:
    """The leaf structures of `structure`, in order."""
    if not isinstance(structure, Node):
        return [structure]
    return [leaf for child in structure.children for leaf in leaves_of(child)]


def map_leaves(structure, function, path: tuple = ()):
    """`structure` with each leaf structure `s` at `path` replaced by `function(s, path)`."""
    if not isinstance(structure, Node):
        return function(structure, path)
    return Node(structure.kind, structure.keys,
                tuple(map_leaves(c, function, path + ((structure.keys[i] if structure.keys else i),))
                      for i, c in enumerate(structure.children)))


def describe(structure, leaf=str) -> str:
    return structure.describe(leaf) if isinstance(structure, Node) else leaf(structure)


def path_name(name: str, path: tuple) -> str:
    """The parameter name of the leaf at `path` of the argument `name`: `params_W1`, `layers_0_b`."""
    return "_".join([name, *(re.sub(r"\W", "_", str(step)) for step in path)])


def path_text(name: str, path: tuple) -> str:
    """The leaf at `path` as Python spells it: `params['W1']`, `layers[0].b`."""
    return name + "".join(f".{step}" if isinstance(step, Field) else f"[{step!r}]" for step in path)


def tree_leaves(tree) -> list:
    """The leaves of `tree`, in order."""
    found = []
    flatten(tree, lambda leaf, path: found.append(leaf))
    return found


def tree_map(function, tree, *rest, **constants):
    """A tree of `tree`'s structure whose leaves are `function(leaf, *leaves of rest, **constants)`;
    each tree of `rest` has the keys and lengths of `tree` (it is indexed by them), and `constants`
    (a learning rate, say) are passed unchanged to every call. Compiled code lowers it as it is."""
    parts = children(tree)
    if parts is None:
        return function(tree, *rest, **constants)
    kind, keys, items = parts
    others = [_items_like(other, kind, keys, len(items)) for other in rest]
    return make(kind, keys, [tree_map(function, item, *(o[i] for o in others), **constants)
                             for i, item in enumerate(items)], isinstance(tree, Listed))


def _items_like(other, kind, keys, length):
    """The items of the tree `other`, in the order of a container of `kind`, `keys` and `length`."""
    parts = children(other)
    if parts is None or (parts[0] is dict) != (kind is dict):
        raise ValueError(f"tree_map: a {type(other).__name__} where the first tree has a {kind.__name__}")
    if kind is dict:
        if set(other) != set(keys):
            raise ValueError(f"tree_map: keys {sorted(map(str, other))} where the first tree has "
                             f"{sorted(map(str, keys))}")
        return [other[k] for k in keys]
    if len(parts[2]) != length:
        raise ValueError(f"tree_map: {len(parts[2])} items where the first tree has {length}")
    return parts[2]
