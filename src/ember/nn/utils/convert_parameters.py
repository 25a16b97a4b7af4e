"""Parameters as one flat vector and back, as torch.nn.utils.convert_parameters.

Example::

    >>> vec = nn.utils.parameters_to_vector(model.parameters())  # differentiable
    >>> nn.utils.vector_to_parameters(vec * 0.5, model.parameters())  # shares vec's memory
"""
from __future__ import annotations

from typing import Iterable

from ...ops import movement
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(params: list) -> None:
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        f"supported: {sorted(str(d) for d in devices)}")


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    params = list(parameters)
    if not params:
        raise RuntimeError("parameters_to_vector: expected a non-empty list of Tensors")
    _check_same_device(params)
    return movement.cat([movement.reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Points each parameter's data at its slice of the 1-D ``vec`` (as torch:
    ``param.data = vec[i:j].view_as(param)``, so they share ``vec``'s memory)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected ember.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    _check_same_device(params)
    total = sum(p.numel() for p in params)
    if vec.dim() != 1 or vec.numel() != total:
        raise RuntimeError(f"vector_to_parameters: vec of shape {tuple(vec.shape)} does not "
                           f"match the {total} elements of the parameters")
    pointer = 0
    for p in params:
        n = p.numel()
        p._data = vec._data[pointer:pointer + n].reshape(p._data.shape)
        p._vbox[0] += 1
        pointer += n
