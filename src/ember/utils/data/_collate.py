"""Collation: a list of samples -> one batch, with PyTorch's rules.

``collate`` walks the structure of the first sample. Leaf types are looked up in a
``collate_fn_map`` (exact type first, then ``isinstance`` in insertion order); containers
(mappings, named tuples, sequences) are rebuilt with their leaves collated position-wise.
"""
from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

import ember
from ember import backend
from ember.tensor import Tensor

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map"]

# numpy dtype kinds that cannot become tensors: bytes, str, void and object
_STR_OBJ_DTYPE = re.compile(r"[SaUO]")
_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")

CollateMap = dict[type | tuple[type, ...], Callable]


def _collate_tensor(batch, *, collate_fn_map: CollateMap | None = None):
    first, device = batch[0]._data, batch[0].device
    plain = all(not t.requires_grad and type(t._data) is type(first)
                and t._data.dtype == first.dtype and t._data.shape == first.shape
                and t.device == device for t in batch)
    if plain:
        # the common case (samples without autograd history): one xp.stack, no graph;
        # anything else goes through ember.stack for its checks, promotion and gradient
        return Tensor._make(backend.xp_of(first).stack([t._data for t in batch]))
    return ember.stack(list(batch), 0)


def _collate_ndarray(batch, *, collate_fn_map: CollateMap | None = None):
    if _STR_OBJ_DTYPE.search(batch[0].dtype.str) is not None:
        raise TypeError(_ERR.format(batch[0].dtype))
    return collate([ember.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_numpy_scalar(batch, *, collate_fn_map: CollateMap | None = None):
    # np.asarray keeps the scalars' own dtype (np.float32 stays float32)
    return ember.as_tensor(np.asarray(batch))


def _collate_float(batch, *, collate_fn_map: CollateMap | None = None):
    return ember.tensor(list(batch), dtype=ember.float64)


def _collate_int(batch, *, collate_fn_map: CollateMap | None = None):
    return ember.tensor(list(batch))


def _collate_str(batch, *, collate_fn_map: CollateMap | None = None):
    return batch


default_collate_fn_map: CollateMap = {
    Tensor: _collate_tensor,
    np.ndarray: _collate_ndarray,
    (np.bool_, np.number, np.object_): _collate_numpy_scalar,
    float: _collate_float,
    int: _collate_int,
    str: _collate_str,
    bytes: _collate_str,
}


def _leaf_fn(elem, collate_fn_map: CollateMap) -> Callable | None:
    fn = collate_fn_map.get(type(elem))
    if fn is not None:
        return fn
    for key, fn in collate_fn_map.items():
        if isinstance(elem, key):
            return fn
    return None


def _rebuild_mapping(elem, values: dict):
    """A mapping of ``elem``'s type holding ``values``, or a plain dict if that type can't."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)  # keeps extra attributes of dict subclasses
            clone.update(values)
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def _rebuild_sequence(elem, values: list):
    """A sequence of ``elem``'s type holding ``values``, or a list if that type can't."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def collate(batch, *, collate_fn_map: CollateMap | None = None):
    """Collates ``batch`` (a list of samples) by the structure of its first sample.

    Args:
        batch: a non-empty list of samples with the same structure.
        collate_fn_map: leaf type -> ``fn(batch, *, collate_fn_map)``. Extend a copy of
            :data:`default_collate_fn_map` to teach collation a new type.
    """
    elem = batch[0]
    if collate_fn_map is not None:
        fn = _leaf_fn(elem, collate_fn_map)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        values = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                  for key in elem}
        return _rebuild_mapping(elem, values)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # named tuple
        return type(elem)(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        # each column is a tuple; str leaves come back as that tuple, as in PyTorch
        values = [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return values  # PyTorch returns a list for plain tuples
        return _rebuild_sequence(elem, values)
    raise TypeError(_ERR.format(type(elem)))


def default_collate(batch: list) -> Any:
    """Stacks a list of samples into a batch, as ``torch.utils.data.default_collate``.

    Rules by the type of the first sample's leaves:
    Tensor -> stacked along a new dim 0; NumPy array -> stacked tensor; NumPy scalar ->
    1-D tensor of its dtype; float -> float64 tensor; int -> int64 tensor (bool if all are
    bools); str/bytes -> left as a list. Mappings keep their keys, named tuples their type,
    other tuples become lists, and other sequences keep their type where they can.

    Example:
        >>> default_collate([(ember.zeros(2), 0), (ember.ones(2), 1)])
        [tensor([[0., 0.], [1., 1.]]), tensor([0, 1])]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data: Any) -> Any:
    """Turns NumPy arrays and scalars inside ``data`` into tensors, leaving the structure.

    The DataLoader's collate function when automatic batching is off (``batch_size=None``).
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _STR_OBJ_DTYPE.search(data.dtype.str) else ember.as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return ember.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data
