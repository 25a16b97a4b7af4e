"""Every input check and error message, in one place.

Checks run at the op boundary, before any array is touched, and raise PyTorch's exception
class with a message naming the op, the operands and a fix.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, dtypes


def describe(x) -> str:
    data = getattr(x, "_data", None)
    if data is None:
        return f"{type(x).__name__} {x!r}"
    return f"{dtypes.from_numpy(data.dtype).name} {tuple(data.shape)}"


def dim(d, ndim: int, op: str = "") -> int:
    """``d`` wrapped into [0, ndim); IndexError as PyTorch when out of range."""
    if not isinstance(d, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {type(d).__name__}")
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {d})")
    return d + n if d < 0 else d


def dims(ds, ndim: int, op: str = "") -> tuple:
    """A dim argument (None, int, or a sequence of ints) as a sorted tuple of unique dims."""
    if ds is None:
        return tuple(range(ndim))
    if isinstance(ds, numbers.Integral):
        return (dim(ds, ndim, op),) if ndim else ()
    out = tuple(dim(d, ndim, op) for d in ds)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {tuple(ds)} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else ()


def same_device(op: str, a, b) -> None:
    """RuntimeError naming both devices when arrays a and b live on different devices."""
    da, db = backend.device_of(a), backend.device_of(b)
    if da != db:
        raise RuntimeError(f"{op}: tensors on different devices: input {da} vs other {db}; "
                           "move one with .to()")


def broadcast_error(op: str, a, b) -> RuntimeError:
    sa, sb = tuple(getattr(a, "shape", ())), tuple(getattr(b, "shape", ()))
    return RuntimeError(f"{op}: shapes cannot be broadcast together: input {sa} vs other {sb}; "
                        "sizes must match or be 1 in each trailing dimension")


def tensor_type(op: str, name: str, x) -> None:
    from .tensor import Tensor
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be Tensor, not {type(x).__name__}")


def inplace_result(target, result, op) -> None:
    """An in-place result must keep the target's shape and cast safely to its dtype."""
    name = getattr(op, "__name__", str(op)) + "_"
    if result._data.shape != target._data.shape:
        raise RuntimeError(f"{name}: output with shape {list(target.shape)} doesn't match the "
                           f"broadcast shape {list(result.shape)}")
    src, dst = result._data.dtype, target._data.dtype
    if dtypes.category(src) > dtypes.category(dst):
        raise RuntimeError(f"{name}: result type {dtypes.from_numpy(src).name} can't be cast to "
                           f"the desired output type {dtypes.from_numpy(dst).name}")


# PyTorch's names of the complex types, as in its "not implemented for 'ComplexFloat'"
_TORCH_COMPLEX = {"complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def not_complex(op: str, x, message: str | None = None, error=NotImplementedError) -> None:
    """Refuses a complex tensor (or array) where PyTorch has no complex kernel, with PyTorch's
    exception class: NotImplementedError (a RuntimeError) unless ``error`` says otherwise."""
    dt = x if isinstance(x, np.dtype) else getattr(getattr(x, "_data", x), "dtype", None)
    if dt is not None and dt.kind == "c":
        name = _TORCH_COMPLEX[dt.name]
        raise error(f"{op}: " + (message or f"\"{op}\" not implemented for '{name}'") +
                    "; apply it to .real, .imag or .abs() instead")


def positive(op: str, name: str, value, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{op}: {name} must be {'non-negative' if allow_zero else 'positive'}, "
                         f"got {value}")


def index_dtype(op: str, index, int32_ok: bool = False) -> None:
    """RuntimeError (IndexError for index_fill, as PyTorch) unless ``index`` is int64."""
    dt = index.dtype
    if dt == "int64" or int32_ok and dt == "int32":
        return
    allowed = "int32 or int64" if int32_ok else "int64"
    exc = IndexError if op.startswith("index_fill") else RuntimeError
    raise exc(f"{op}(): Expected dtype {allowed} for index, got "
              f"{dtypes.from_numpy(dt).name}; convert it with .long()")
