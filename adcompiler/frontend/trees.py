"""Parameter trees in lowering: a tree argument (or a dict literal, or what `tree_map` makes) is a
Python dict, `Listed` tuple, tuple or namedtuple of symbols in the environment, whose keys and
lengths the specialisation fixes; `params["W1"]` (a constant key) and `layer.W` read its items at
compile time, and `.items()`, `.keys()` and `.values()` of a dict are tuples (a loop over them is
unrolled)."""
from __future__ import annotations

import gast

from .calls import Method
from .calls.trees import DICT_METHODS


class TreeValues:
    """Items of trees. Uses `refuse` and `node` only."""

    def dict_item(self, tree: dict, key, node):
        """`tree[key]` for a constant `key`; a missing key is refused, naming the keys there are."""
        if key not in tree:
            self.refuse(node, f"`{gast.unparse(node.value)}` has no key {key!r} (its keys: "
                              f"{', '.join(map(repr, tree)) or 'none'})",
                        "the keys of a dict argument are those of the dict passed in the call")
        return tree[key]

    def tree_attribute(self, tree, node):
        """`layer.W` of a namedtuple, `params.items` (`keys`, `values`) of a dict."""
        if isinstance(tree, dict):
            if node.attr in DICT_METHODS:
                return Method(tree, node.attr)
            self.refuse(node, f"the attribute `.{node.attr}` of a dict is not supported",
                        "read an item with `d[\"key\"]`, or use .items(), .keys() or .values()")
        if node.attr not in tree._fields:
            self.refuse(node, f"`{gast.unparse(node.value)}` is a {type(tree).__name__}, which has no field "
                              f"`{node.attr}` (its fields: {', '.join(tree._fields)})")
        return getattr(tree, node.attr)

    def namedtuple(self, kind: type, name: str, args, kwargs, node):
        """`Layer(W, b=b)`: a namedtuple of the values given (every field, by position or name)."""
        try:
            return kind(*args, **kwargs)
        except TypeError as error:
            self.refuse(node, f"the call of `{name}` does not match its fields: {error}")
