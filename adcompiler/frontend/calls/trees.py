"""`adcompiler.tree_map` and the methods `.items()`, `.keys()` and `.values()` of dicts, on the trees
of lowering (see frontend/trees.py): a dict's keys are compile-time values."""
from __future__ import annotations

from ... import trees
from ...rules.primitives import Sym
from .common import Static


def items(lo, d):
    """`d.items()` of a dict in lowering: a tuple of (key, value) pairs, the keys compile-time values."""
    return tuple((_key(k), v) for k, v in _dict(lo, d, "items").items())


def keys(lo, d):
    return tuple(_key(k) for k in _dict(lo, d, "keys"))


def values(lo, d):
    return tuple(_dict(lo, d, "values").values())


def _dict(lo, d, method: str) -> dict:
    if not isinstance(d, dict):
        lo.refuse(lo.node, f"`.{method}()` is a method of dicts; here it is called on something else",
                  "call it on a dict argument or a dict literal")
    return d


def _key(key):
    return Static(key) if isinstance(key, str) else Sym(key)


def tree_map(lo, function, tree, *rest, **constants):
    """`adcompiler.tree_map(f, tree, *rest, **constants)` in lowering: `f` called (inlined) on each
    leaf of `tree` with the leaves at the same keys and positions of `rest`, the containers made
    again as `tree`'s; trees of another structure are refused."""
    if not isinstance(function, Static):
        lo.refuse(lo.node, "the function given to tree_map must be known at compile time",
                  "pass a function defined at module level")
    node = lo.node

    def leaf(item, others):
        return lo.call(function.obj, getattr(function.obj, "__name__", "the function"), [item, *others],
                       dict(constants), node)
    return _mapped(lo, tree, rest, leaf)


def _mapped(lo, tree, rest, leaf):
    parts = trees.children(tree)
    if parts is None:
        return leaf(tree, rest)
    kind, keys, items = parts
    others = []
    for other in rest:
        other_parts = trees.children(other)
        if other_parts is None or (other_parts[0] is dict) != (kind is dict) or \
                (set(other_parts[1]) != set(keys) if kind is dict else len(other_parts[2]) != len(items)):
            lo.refuse(lo.node, f"tree_map of trees of different structures: {_shape(tree)} and {_shape(other)}",
                      "map trees with the same keys and lengths (a gradient has its parameters' structure)")
        others.append([other[k] for k in keys] if kind is dict else list(other))
    return trees.make(kind, keys, [_mapped(lo, item, [o[i] for o in others], leaf) for i, item in enumerate(items)],
                      lowered=True)


def dict_of(lo, **items):
    """`dict(a=a, b=b)`: a tree of the keyword arguments."""
    return dict(items)


def _shape(value) -> str:
    return trees.describe(trees.flatten(value, lambda leaf, path: "."), str)


DICT_METHODS = ("items", "keys", "values")
CALLS = {dict.items: items, dict.keys: keys, dict.values: values, trees.tree_map: tree_map, dict: dict_of}
METHODS = {name: getattr(dict, name) for name in DICT_METHODS}
