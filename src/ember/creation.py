"""Tensor creation: tensor, zeros, ones, arange, randn, ... with dtype, device, requires_grad.

Python floats give the default dtype (float32), ints int64, bools bool; NumPy arrays keep theirs.
With a cuda ``device`` (plain 'cuda' is the current GPU, as in torch) arrays are made by the
device's array library on that GPU and random numbers drawn there: nothing is built on the
host and copied, except for ``tensor``/``as_tensor`` of host data.
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
    return backend.resolve(Device(device))


def _wrap(array, requires_grad: bool) -> Tensor:
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _finish(array, dtype, device, requires_grad) -> Tensor:
    """A tensor of host ``array``, cast to ``dtype`` and uploaded to ``device``."""
    if dtype is not None:
        array = array.astype(dtypes.to_numpy(dtype), copy=False)
    dev = _device(device)
    if dev is not None and dev.type != "cpu":
        array = backend.to_device(array, dev)
    return _wrap(array, requires_grad)


def _create(device, requires_grad: bool, make) -> Tensor:
    """``make(xp)`` run by NumPy, or by the GPU's array library with that GPU current."""
    dev = _device(device)
    if dev is None or dev.type == "cpu":
        return _wrap(make(np), requires_grad)
    be = backend.for_device(dev)
    with be.device_guard(dev.index):
        return _wrap(make(be.xp), requires_grad)


def _cast(array, dtype):
    if dtype is None:
        return array
    with backend.device_guard(array):
        return array.astype(dtypes.to_numpy(dtype), copy=False)


def _size(size) -> tuple:
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size must be a tuple of ints, got {type(s).__name__} in {size}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _infer(data, dtype=None):
    """An ndarray of Python data in ``dtype``, or with PyTorch's default dtypes."""
    if type(data) is np.ndarray:
        return data.copy()
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        data = _unwrap(data)
    array = np.array(data)
    if dtype is not None and array.dtype.kind == "c" and dtypes.to_numpy(dtype).kind != "c":
        raise TypeError(f"tensor: must be real number, not complex (data for a "
                        f"{dtypes.as_dtype(dtype).name} tensor); take .real first")
    if dtype is not None and array.dtype.kind in "biufc":
        return array.astype(dtypes.to_numpy(dtype), copy=False)  # no detour via float32
    if array.dtype.kind == "f" and not isinstance(data, np.generic):
        array = array.astype(dtypes.get_default_dtype().numpy)
    elif array.dtype.kind == "c" and not isinstance(data, np.generic):
        array = array.astype(dtypes.default_complex())
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
        data.detach().cpu().numpy() if isinstance(data, Tensor) else data


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors).

    Args:
        pin_memory: put the (CPU) copy in page-locked memory, for asynchronous uploads.

    Example:
        >>> ember.tensor([[1.0, 2.0], [3.0, 4.0]]).dtype
        ember.float32
    """
    if isinstance(data, Tensor):
        out = _copy_tensor(data, dtype, device, requires_grad)
    else:
        out = _finish(_infer(data, dtype), dtype, device, requires_grad)
    return _pinned(out, "tensor") if pin_memory else out


def _copy_tensor(data: Tensor, dtype, device, requires_grad: bool) -> Tensor:
    """A copy of ``data`` on ``device`` (default: its own), made where it lives."""
    dev = _device(device) or data.device  # a copy of a tensor stays on its device, as in torch
    array = data._data
    if dev == data.device:
        with backend.device_guard(array):
            array = array.copy()
    else:
        array = backend.to_device(array, dev)
    return _wrap(_cast(array, dtype), requires_grad)


def _pinned(t: Tensor, op: str) -> Tensor:
    if t.device.type != "cpu":
        raise RuntimeError(f"{op}: pin_memory=True needs a CPU tensor, got device {t.device}; "
                           f"only host memory can be pinned")
    return t.pin_memory()


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with an array or tensor when nothing changes."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if device or dtype else data
    if type(data) is np.ndarray and data.dtype.kind != "O":
        return _finish(data, dtype, device, False)
    return _finish(_infer(data, dtype), dtype, device, False)


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
    shape, dt = _shape(shape, size), _default(dtype)
    return _create(device, requires_grad, lambda xp: xp.zeros(shape, dt))


def ones(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    shape, dt = _shape(shape, size), _default(dtype)
    return _create(device, requires_grad, lambda xp: xp.ones(shape, dt))


def empty(*shape, size=None, dtype=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, **kwargs) -> Tensor:
    """An uninitialised tensor (``memory_format`` is accepted and ignored).

    Args:
        pin_memory: allocate in page-locked host memory (CPU tensors only; needs cuda).
    """
    shape, dt = _shape(shape, size), _default(dtype)
    if pin_memory:
        dev = _device(device)
        if dev is not None and dev.type != "cpu":
            raise RuntimeError(f"empty: pin_memory=True needs a CPU tensor, got device {dev}; "
                               f"only host memory can be pinned")
        return _wrap(backend.empty_pinned(shape, dt), requires_grad)
    return _create(device, requires_grad, lambda xp: xp.empty(shape, dt))


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value)."""
    if dtype is None:
        dtype = dtypes.from_numpy(dtypes.scalar_dtype(fill_value))
    shape, dt = _size((size,)), dtypes.to_numpy(dtype)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()  # a one-element tensor as the fill (a read if on a GPU)
    return _create(device, requires_grad, lambda xp: xp.full(shape, fill_value, dt))


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
    dt = dtypes.to_numpy(dtype)
    return _create(device, requires_grad, lambda xp: xp.arange(*values).astype(dt))


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    dt = _default(dtype)
    return _create(device, requires_grad,
                   lambda xp: xp.linspace(start, end, steps, dtype=np.float64).astype(dt))


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    dt = _default(dtype)
    return _create(device, requires_grad,
                   lambda xp: xp.logspace(start, end, steps, base=base).astype(dt))


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    dt = _default(dtype)
    return _create(device, requires_grad, lambda xp: xp.eye(n, m, dtype=dt))


def rand(*shape, size=None, generator=None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1), drawn on ``device`` by its generator (or ``generator``);
    complex dtypes draw the real and imaginary parts so."""
    shape, dt = _shape(shape, size), _default(dtype)
    if dt.kind == "c":
        array = _complex_samples(_random.uniform, shape, dt, device, generator, 1.0)
    else:
        array = _random.uniform(shape, dt, _device(device), generator=generator)
    return _wrap(array, requires_grad)


def randn(*shape, size=None, generator=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples, drawn on ``device`` by its generator (or ``generator``);
    complex dtypes draw the real and imaginary parts with variance 1/2 each, as PyTorch."""
    shape, dt = _shape(shape, size), _default(dtype)
    if dt.kind == "c":
        array = _complex_samples(_random.normal, shape, dt, device, generator, 0.5 ** 0.5)
    else:
        array = _random.normal(shape, dt, _device(device), generator=generator)
    return _wrap(array, requires_grad)


def _complex_samples(draw, shape: tuple, dt, device, generator, scale: float):
    """Complex samples whose (real, imaginary) pairs are the trailing axis of a real draw."""
    parts = draw(shape + (2,), dtypes._REAL_OF[dt], _device(device), generator=generator)
    with backend.device_guard(parts):
        if scale != 1.0:
            parts = parts * scale
        return parts.view(dt)[..., 0]


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
                             _device(device), generator=generator)
    return _wrap(array, requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1."""
    array = _random.permutation(int(n), _device(device), generator=generator)
    return _wrap(_cast(array, dtype), requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return rand(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randn(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(input, low, high=None, *, dtype=None, device=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=dtype, device=device)


def normal(mean, std, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std) (tensors broadcast, or floats with ``size``)."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(tuple(getattr(mean, "shape", ())),
                                    tuple(getattr(std, "shape", ())))
        noise = Tensor._make(_random.normal(shape, ref._data.dtype, ref.device,
                                            generator=generator))
        return noise * std + mean
    array = _random.normal(_size((size,)), _default(dtype), _device(device), mean, std,
                           generator)
    return _wrap(array, requires_grad)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    probs = input._data if p is None else p
    draw = _random.uniform(input._data.shape, input._data.dtype, input.device, generator=generator)
    with backend.device_guard(draw):
        return Tensor._make((draw < probs).astype(input._data.dtype))


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Indices drawn with probabilities proportional to the rows of ``input``.

    On a GPU the draw stays there: inverse-CDF sampling with replacement, otherwise the
    ``num_samples`` smallest of ``Exp(1) / weight`` (successive sampling without replacement).
    """
    if input.device.type != "cpu":
        return _device_multinomial(input, int(num_samples), replacement, generator)
    probs = backend.of(input._data).to_numpy(input._data).astype(np.float64)
    rows = probs.reshape(-1, probs.shape[-1])
    gen = _random._gen(generator)
    out = np.stack([gen.choice(r.size, num_samples, replace=replacement, p=r / r.sum())
                    for r in rows])
    out = out.reshape(probs.shape[:-1] + (num_samples,)).astype(np.int64)
    return _finish(out, None, input.device, False)


def _device_multinomial(input, num_samples: int, replacement: bool, generator) -> Tensor:
    n = input._data.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({num_samples} > {n})")
    weights = input._data.reshape(-1, n)
    rows = weights.shape[0]
    u = _random.uniform((rows, num_samples if replacement else n), np.float64, input.device,
                        generator=generator)
    with backend.device_guard(weights):
        xp = backend.xp_of(weights)
        w = weights.astype(np.float64)
        if replacement:
            # one searchsorted for all rows: row r's CDF shifted into (r, r + 1]
            cdf = xp.cumsum(w, axis=1)
            cdf /= cdf[:, -1:]
            shift = xp.arange(rows, dtype=np.float64)[:, None]
            flat = xp.searchsorted((cdf + shift).ravel(), (u + shift).ravel(), side="right")
            out = flat.reshape(rows, num_samples) - xp.arange(rows)[:, None] * n
            out = xp.minimum(out, n - 1)  # a rounding at a row's top end
        else:
            keys = -xp.log1p(-u) / xp.where(w > 0, w, 1.0)
            keys = xp.where(w > 0, keys, xp.inf)
            out = xp.argsort(keys, axis=1)[:, :num_samples]
        out = out.astype(np.int64).reshape(input._data.shape[:-1] + (num_samples,))
    return Tensor._make(out)


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson counts with the rates in ``input`` (floats, same dtype), drawn on its device.

    Example:
        >>> ember.poisson(ember.full((3,), 4.0))   # e.g. tensor([3., 6., 4.])
    """
    data = input._data
    if data.dtype.kind != "f":
        raise NotImplementedError(f"poisson: expected a floating point tensor of rates, got "
                                  f"{input.dtype}")
    with backend.device_guard(data):
        if data.size and bool((~(data >= 0)).any()):  # negative or NaN
            raise RuntimeError("poisson: invalid Poisson rate, expected rate to be "
                               "non-negative")
    return Tensor._make(_random.poisson(data, generator))


def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """Binomial counts of ``count`` trials with success probability ``prob`` (float tensors of
    one dtype, broadcast), drawn on their device; counts below 0 give 0, prob is clamped to
    [0, 1].

    Example:
        >>> ember.binomial(ember.tensor([10., 10.]), ember.tensor([0.5, 0.9]))
    """
    if count._data.dtype.kind != "f" or prob._data.dtype != count._data.dtype:
        raise RuntimeError(f"binomial: expected count and prob of one floating point dtype, "
                           f"got {count.dtype} and {prob.dtype}")
    if count.device != prob.device:
        raise RuntimeError(f"binomial: count and prob on different devices: count "
                           f"{count.device} vs prob {prob.device}")
    return Tensor._make(_random.binomial(count._data, prob._data, generator))


def frombuffer(buffer, *, dtype, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-D CPU tensor over the memory of a Python buffer (bytes, bytearray, array, ...),
    shared: writes to a writable buffer show in the tensor.

    ``count`` elements (-1: all) are read from byte ``offset``. A read-only buffer (bytes)
    gives a read-only tensor, with torch's warning: ember cannot write through it.
    """
    view = memoryview(buffer).cast("B")
    size = np.dtype(dtypes.to_numpy(dtype)).itemsize
    length = len(view)
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count < 0 and (length - offset) % size:
        raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                         f"bytes) must be a multiple of element size ({size})")
    if count > 0 and count * size > length - offset:
        raise ValueError(f"requested buffer length ({count} * {size} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    if view.readonly:
        import warnings
        warnings.warn("The given buffer is not writable, and PyTorch does not support "
                      "non-writable tensors; ember's tensor is read-only: copy the buffer or "
                      "make it writable before converting it to a tensor.", UserWarning,
                      stacklevel=2)
    array = np.frombuffer(view, dtype=dtypes.to_numpy(dtype), count=count, offset=offset)
    return _wrap(array, requires_grad)
