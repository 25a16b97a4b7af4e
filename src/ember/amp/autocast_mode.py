"""autocast: regions where listed ops run in a lower-precision dtype (as torch.autocast).

The state is per thread and per device type ("cpu", "cuda"), as in PyTorch. Which op runs in
which dtype is decided in ``ember.amp._policy``.

NumPy has no bfloat16, so ember's CPU autocast runs in float16 only: PyTorch's CPU default,
bfloat16, is unsupported and ``autocast("cpu")`` without ``dtype=ember.float16`` warns and
disables itself, as PyTorch does for an unsupported dtype.
"""
from __future__ import annotations

import collections.abc
import copy
import functools
import warnings
from typing import Any

import numpy as np

from .. import dtypes
from . import _policy

__all__ = ["autocast", "autocast_decorator", "is_autocast_available", "custom_fwd",
           "custom_bwd"]

_DEVICE_TYPES = ("cpu", "cuda")
_CPU_DTYPES = (dtypes.float16,)  # bfloat16 has no NumPy array type


def _checked_device_type(device_type: str) -> str:
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: "
                           f"{device_type}")
    return device_type


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can be used on ``device_type`` ('cpu' or 'cuda')."""
    return device_type in _DEVICE_TYPES


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` in this thread (no argument: 'cuda')."""
    device_type = "cuda" if device_type is None else device_type
    return _policy.local.enabled[_checked_device_type(device_type)]



def set_autocast_enabled(device_type, enabled: bool | None = None) -> None:
    """Turns autocast on or off for ``device_type`` in this thread; prefer ``autocast``.

    ``set_autocast_enabled(True)`` (one argument) sets 'cuda', PyTorch's legacy form."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _policy.set_enabled(_checked_device_type(device_type), enabled)


def get_autocast_dtype(device_type: str):
    """The dtype listed ops run in under autocast on ``device_type`` (float16 for 'cuda';
    ``ember.bfloat16`` for 'cpu', which ember cannot compute: pass dtype=ember.float16)."""
    return _policy.local.dtype[_checked_device_type(device_type)]


def set_autocast_dtype(device_type: str, dtype) -> None:
    """Sets the dtype of ``device_type``'s autocast in this thread; prefer ``autocast``."""
    _policy.local.dtype[_checked_device_type(device_type)] = dtype


def is_autocast_cache_enabled() -> bool:
    """Whether casts of float32 weights are reused within an autocast region."""
    return _policy.local.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _policy.local.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Drops the cached weight casts (done when the outermost autocast region exits)."""
    _policy.local.cache.clear()


def autocast_increment_nesting() -> int:
    _policy.local.nesting += 1
    return _policy.local.nesting


def autocast_decrement_nesting() -> int:
    _policy.local.nesting -= 1
    return _policy.local.nesting


def autocast_decorator(autocast_instance: autocast, func):
    @functools.wraps(func)
    def decorate_autocast(*args, **kwargs):
        # a copy per call: recursive or concurrent calls each restore their own state
        with copy.copy(autocast_instance):
            return func(*args, **kwargs)
    return decorate_autocast


class autocast:
    """Context manager or decorator: inside, listed ops run in ``dtype`` on ``device_type``.

    Ops like matmul, linear and conv run in the lower precision (their floating inputs are
    cast to ``dtype``); ops that need range or accuracy (exp, log, sum, softmax, the losses,
    ...) run in float32; a few (cat on CPU, addcmul on CUDA, ...) in their widest input type.
    The casts are differentiable, so gradients reach float32 parameters as float32. Wrap only
    the forward pass and the loss, and call backward outside.

    Args:
        device_type: 'cuda' or 'cpu'.
        dtype: the lower precision (default: ``get_autocast_dtype(device_type)``, float16 on
            'cuda'; on 'cpu' pass ``ember.float16``: NumPy has no bfloat16).
        enabled: False makes the region run without autocast (also nested in one).
        cache_enabled: reuse each float32 weight's cast within the region (default: the
            current ``is_autocast_cache_enabled()``).

    Example:
        >>> with ember.autocast("cuda"):
        ...     loss = F.cross_entropy(model(x), y)   # linear/conv in float16, loss in float32
        >>> scaler.scale(loss).backward()
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = device_type
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else cache_enabled)
        if enabled:
            enabled = self._check_supported()
        self._enabled = bool(enabled)

    def _check_supported(self) -> bool:
        if self.device == "cuda":
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                              "autocast.", stacklevel=3)
                return False
            if self.fast_dtype is dtypes.bfloat16:
                raise RuntimeError("Current CUDA Device does not support bfloat16. Please "
                                   "switch dtype to float16.")
            return True
        if self.fast_dtype not in _CPU_DTYPES:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of ember.float16 "
                          "currently (NumPy has no bfloat16).", stacklevel=3)
            return False
        return True

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> bool:
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got "
                            f"{type(func).__name__}. Did you mean to use autocast as a context "
                            f"manager? For example:\n    with ember.autocast(device_type=...):\n"
                            f"        output = model(input)")
        return autocast_decorator(self, func)


def _cast(value, device_type: str, dtype):
    """Floating tensors on ``device_type`` (not float64) in ``value`` cast to ``dtype``;
    containers are rebuilt, strings and NumPy arrays passed through."""
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        eligible = (value.is_floating_point() and value.device.type == device_type
                    and value.dtype is not dtypes.float64)
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes, np.ndarray)):
        return value
    if isinstance(value, collections.abc.Mapping):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype)
                for k, v in value.items()}
    if isinstance(value, collections.abc.Iterable):
        iterable = (_cast(v, device_type, dtype) for v in value)
        return type(value)(iterable) if isinstance(value, (list, tuple)) else iterable
    return value


def _check_device_type_arg(device_type) -> None:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorator for the ``forward`` of a custom ``autograd.Function`` under autocast.

    With ``cast_inputs`` given, inside an autocast region the floating inputs are cast to it
    and forward runs with autocast off; either way backward (decorated with ``custom_bwd``)
    runs with the autocast state forward saw.
    """
    _check_device_type_arg(device_type)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        autocast_context = is_autocast_enabled(device_type)
        ctx._fwd_used_autocast = False
        if autocast_context:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast(args, device_type, cast_inputs),
                           **_cast(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for the ``backward`` of a custom ``autograd.Function``: runs it with the
    autocast state of its forward (see ``custom_fwd``)."""
    _check_device_type_arg(device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast,
                      dtype=ctx._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
