"""Tensor creation: tensor, zeros, ones, arange, randn, ... with dtype, device, requires_grad.

Python floats give the default dtype (float32), ints int64, bools bool; NumPy arrays keep theirs.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, dtypes
from . import random as _random
from .device import device as Device
from .tensor import Tensor


def _device(device) -> Device | None:
    if device is None:
        return None
    dev = Device(device)
    return Device("cuda", 0) if dev.type == "cuda" and dev.index is None else dev


def _finish(array, dtype, device, requires_grad) -> Tensor:
    if dtype is not None:
        array = array.astype(dtypes.to_numpy(dtype), copy=False)
    dev = _device(device)
    if dev is not None and dev.type != "cpu":
        array = backend.to_device(array, dev)
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size) -> tuple:
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size must be a tuple of ints, got {type(s).__name__} in {size}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _infer(data):
    """An ndarray of Python data with PyTorch's default dtypes."""
    if isinstance(data, Tensor):
        return backend.of(data._data).to_numpy(data._data).copy()
    if type(data) is np.ndarray:
        return data.copy()
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        data = _unwrap(data)
    array = np.array(data)
    if array.dtype.kind == "f" and not isinstance(data, np.generic):
        array = array.astype(dtypes.get_default_dtype().numpy)
    elif array.dtype.kind in "iu" and not isinstance(data, np.generic):
        array = array.astype(np.int64)
    elif array.dtype.kind == "O" or array.dtype.kind in "USV":
        raise TypeError(f"tensor: could not infer dtype of {type(data).__name__} data")
    return array


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d


def _unwrap(data):
    if isinstance(data, (list, tuple)):
        return [_unwrap(d) for d in data]
    return data.item() if isinstance(data, Tensor) and data.numel() == 1 else \
        data.numpy() if isinstance(data, Tensor) else data


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors).

    Example:
        >>> ember.tensor([[1.0, 2.0], [3.0, 4.0]]).dtype
        ember.float32
    """
    if device is None and isinstance(data, Tensor):
        device = data.device  # a copy of a tensor stays on its device, as in PyTorch
    return _finish(_infer(data), dtype, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with an array or tensor when nothing changes."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if device or dtype else data
    if type(data) is np.ndarray and data.dtype.kind != "O":
        return _finish(data, dtype, device, False)
    return _finish(_infer(data), dtype, device, False)


asarray = as_tensor


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``, keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy(array.dtype)
    return Tensor._make(array)


def _default(dtype, fallback=None):
    return dtypes.to_numpy(dtype) if dtype is not None else (
        fallback if fallback is not None else dtypes.get_default_dtype().numpy)


def _shape(shape: tuple, size) -> tuple:
    """The shape given positionally (``zeros(2, 3)``, ``zeros((2, 3))``) or as ``size=``."""
    return _size(shape if size is None else (size,))


def zeros(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _finish(np.zeros(_shape(shape, size), _default(dtype)), None, device, requires_grad)


def ones(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return _finish(np.ones(_shape(shape, size), _default(dtype)), None, device, requires_grad)


def empty(*shape, size=None, dtype=None, device=None, requires_grad: bool = False,
          **kwargs) -> Tensor:
    """An uninitialised tensor (``memory_format`` and ``pin_memory`` are accepted and ignored)."""
    return _finish(np.empty(_shape(shape, size), _default(dtype)), None, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value)."""
    if dtype is None:
        dtype = dtypes.from_numpy(dtypes.scalar_dtype(fill_value))
    return _finish(np.full(_size((size,)), fill_value, dtypes.to_numpy(dtype)), None, device,
                   requires_grad)


def _like(input, dtype, device):
    return (input.dtype if dtype is None else dtype), (input.device if device is None else device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return zeros(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return ones(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return empty(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return full(input.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from start to end (exclusive) by step; int64 unless an argument is a float."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    values = (start, end, step)
    if dtype is None:
        is_float = any(isinstance(v, float) or isinstance(v, Tensor) and v.is_floating_point()
                       for v in values)
        dtype = dtypes.get_default_dtype() if is_float else dtypes.int64
    values = tuple(v.item() if isinstance(v, Tensor) else v for v in values)
    return _finish(np.arange(*values).astype(dtypes.to_numpy(dtype)), None, device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    return _finish(np.linspace(start, end, steps, dtype=np.float64).astype(_default(dtype)),
                   None, device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    return _finish(np.logspace(start, end, steps, base=base).astype(_default(dtype)), None,
                   device, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=_default(dtype)), None, device, requires_grad)


def rand(*shape, size=None, generator=None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    array = _random.uniform(_shape(shape, size), _default(dtype), None, generator=generator)
    return _finish(array, None, device, requires_grad)


def randn(*shape, size=None, generator=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    array = _random.normal(_shape(shape, size), _default(dtype), None, generator=generator)
    return _finish(array, None, device, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` starts at 0."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    array = _random.integers(low, high, _size((size,)), _default(dtype, np.int64),
                             generator=generator)
    return _finish(array, None, device, requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1."""
    array = _random.permutation(int(n), generator=generator)
    return _finish(array, dtype, device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return rand(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randn(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(input, low, high=None, *, dtype=None, device=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=dtype, device=device)


def normal(mean, std, size=None, *, generator=None) -> Tensor:
    """Samples of N(mean, std) (tensors broadcast, or floats with ``size``)."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(tuple(getattr(mean, "shape", ())),
                                    tuple(getattr(std, "shape", ())))
        noise = Tensor._make(_random.normal(shape, ref._data.dtype, ref.device,
                                            generator=generator))
        return noise * std + mean
    return _finish(_random.normal(_size((size,)), _default(None), None, mean, std, generator),
                   None, None, False)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    probs = input._data if p is None else p
    draw = _random.uniform(input._data.shape, input._data.dtype, input.device, generator=generator)
    return Tensor._make((draw < probs).astype(input._data.dtype))


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Indices drawn with probabilities proportional to the rows of ``input``."""
    probs = backend.of(input._data).to_numpy(input._data).astype(np.float64)
    rows = probs.reshape(-1, probs.shape[-1])
    gen = _random._gen(generator)
    out = np.stack([gen.choice(r.size, num_samples, replace=replacement, p=r / r.sum())
                    for r in rows])
    out = out.reshape(probs.shape[:-1] + (num_samples,)).astype(np.int64)
    return _finish(out, None, input.device, False)
