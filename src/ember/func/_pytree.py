"""Nested tuples, lists and dicts of tensors ("pytrees"): flatten to leaves and rebuild.

The transforms in ember.func accept and return such structures as torch.func does: the
gradient with respect to a dict of parameters is a dict of the same keys.
"""
from __future__ import annotations


class TreeSpec:
    """The shape of a pytree: a container type, its keys (dicts) and the children's specs."""

    __slots__ = ("kind", "keys", "children")

    def __init__(self, kind, keys=None, children=()):
        self.kind, self.keys, self.children = kind, keys, children

    @property
    def is_leaf(self) -> bool:
        return self.kind is None

    @property
    def num_leaves(self) -> int:
        return 1 if self.is_leaf else sum(c.num_leaves for c in self.children)

    def __eq__(self, other) -> bool:
        return (isinstance(other, TreeSpec) and self.kind == other.kind
                and self.keys == other.keys and self.children == other.children)

    def __repr__(self) -> str:
        if self.is_leaf:
            return "*"
        inner = ", ".join(map(repr, self.children))
        return f"TreeSpec({self.kind.__name__}, {self.keys}, [{inner}])"


LEAF = TreeSpec(None)


def _is_container(node) -> bool:
    return isinstance(node, (tuple, list, dict))


def tree_flatten(tree) -> tuple[list, TreeSpec]:
    """(the leaves in order, the spec that rebuilds ``tree`` from them)."""
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(node, leaves) -> TreeSpec:
    if isinstance(node, dict):
        keys = list(node)
        return TreeSpec(type(node), keys, tuple(_flatten(node[k], leaves) for k in keys))
    if isinstance(node, (tuple, list)):
        return TreeSpec(type(node), None, tuple(_flatten(c, leaves) for c in node))
    leaves.append(node)
    return LEAF


def tree_unflatten(leaves, spec: TreeSpec):
    """The pytree of shape ``spec`` holding ``leaves`` in order."""
    it = iter(leaves)
    return _build(it, spec)


def _build(it, spec):
    if spec.is_leaf:
        return next(it)
    children = [_build(it, c) for c in spec.children]
    if spec.keys is not None:
        return spec.kind(zip(spec.keys, children))
    if hasattr(spec.kind, "_fields"):  # a namedtuple
        return spec.kind(*children)
    return spec.kind(children)


def tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(leaf) for leaf in leaves], spec)


def broadcast_prefix(prefix, tree) -> list | None:
    """One entry of ``prefix`` per leaf of ``tree`` (a leaf of ``prefix`` covers a whole
    subtree), or None when the structures do not match. Tuples and lists match each other."""
    out = []
    _, spec = tree_flatten(tree)
    return out if _expand(prefix, spec, out) else None


def _expand(prefix, spec, out) -> bool:
    if not _is_container(prefix):
        out.extend([prefix] * spec.num_leaves)
        return True
    if spec.is_leaf:
        return False
    if isinstance(prefix, dict):
        if spec.keys is None or set(prefix) != set(spec.keys):
            return False
        parts = [prefix[k] for k in spec.keys]
    else:
        if spec.keys is not None or len(prefix) != len(spec.children):
            return False
        parts = prefix
    return all(_expand(p, c, out) for p, c in zip(parts, spec.children))
