"""nn.utils, as torch.nn.utils: gradient clipping, parameters as one vector, weight and
spectral normalization (hook-based, and as parametrizations), parametrizations
(``parametrize``, ``parametrizations``), conv/linear + BatchNorm fusion, ``skip_init``;
``rnn``: padded and packed sequences."""
from __future__ import annotations

import math

from ... import backend, creation
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from . import parametrizations, parametrize, rnn, stateless  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,
                     fuse_linear_bn_weights)
from .init import skip_init
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_", "parameters_to_vector", "vector_to_parameters",
           "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights", "skip_init", "weight_norm", "remove_weight_norm",
           "spectral_norm", "remove_spectral_norm", "parametrizations", "parametrize", "rnn",
           "stateless"]


def _as_list(tensors) -> list:
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def _grads(parameters) -> list:
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def _norm_array(g, norm_type: float):
    xp = backend.xp_of(g)
    flat = g.reshape(-1)
    if math.isinf(norm_type):
        return xp.abs(flat).max() if flat.size else xp.zeros((), g.dtype)
    if norm_type == 2:
        return xp.sqrt(xp.dot(flat, flat))
    if norm_type == 1:
        return xp.abs(flat).sum()
    if norm_type == 0:  # torch's 0-"norm": the number of non-zero entries
        return xp.count_nonzero(flat).astype(g.dtype)
    return (xp.abs(flat) ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """The norm of the norms of ``tensors`` (as if they were concatenated into one vector)."""
    norm_type = float(norm_type)
    tensors = [t for t in _as_list(tensors) if t is not None]
    if not tensors:
        return creation.tensor(0.0)
    norms = [_norm_array(t._data, norm_type) for t in tensors]
    xp = backend.xp_of(tensors[0]._data)
    stacked = xp.stack([xp.asarray(n).astype(tensors[0]._data.dtype) for n in norms])
    total = _norm_array(stacked, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return Tensor._make(xp.asarray(total))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scales the gradients in place by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    total = total_norm._data
    xp = backend.xp_of(total)
    # a 0-d array on the gradients' device: reading it on the host would sync a GPU
    coef = xp.minimum(total.dtype.type(max_norm) / (total + total.dtype.type(1e-6)), 1)
    with no_grad():
        for g in grads:
            g._data *= coef.astype(g._data.dtype, copy=False)
            g._vbox[0] += 1


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescales gradients in place so their total norm is at most ``max_norm``.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` is clipped.
        max_norm: the largest allowed total norm.
        norm_type: p of the p-norm ('inf' for the max norm).
        error_if_nonfinite: raise if the total norm is nan or inf.

    Returns:
        The total norm of the gradients before clipping (a 0-d tensor).

    Example::

        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    parameters = _as_list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Deprecated spelling of ``clip_grad_norm_``."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamps every gradient in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            xp = backend.xp_of(g._data)
            xp.clip(g._data, -clip_value, clip_value, out=g._data)
            g._vbox[0] += 1
