"""dtypes, the default dtype and PyTorch's type-promotion rules.

An ember dtype wraps one NumPy dtype. Arrays keep NumPy dtypes; Tensor.dtype maps back.
Promotion follows PyTorch: tensors with dimensions outrank 0-d tensors, which outrank Python
scalars, and a lower tier only matters when its category (bool < int < float) is higher.
"""
from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "dtype", "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64",
    "uint8", "bool", "half", "float", "double", "short", "int", "long",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type",
]


class dtype:
    """A tensor element type, e.g. ``ember.float32``."""

    __slots__ = ("name", "numpy", "itemsize", "is_floating_point", "is_signed", "is_complex")

    def __init__(self, name: str, np_dtype):
        self.name = name
        self.numpy = np.dtype(np_dtype)
        self.itemsize = self.numpy.itemsize
        self.is_floating_point = self.numpy.kind == "f"
        self.is_signed = self.numpy.kind in "fi"
        self.is_complex = self.numpy.kind == "c"

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


def _by_name(name: str) -> dtype:
    return _BY_NAME[name]


float16 = half = dtype("float16", np.float16)
float32 = float = dtype("float32", np.float32)
float64 = double = dtype("float64", np.float64)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)
int64 = long = dtype("int64", np.int64)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)
# NumPy has no bfloat16; the name exists so code that mentions it imports, and using it raises.
bfloat16 = None

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool)
_BY_NAME = {d.name: d for d in _ALL}
_FROM_NUMPY = {d.numpy: d for d in _ALL}
_PYTHON_TYPES = {builtins.float: float64, builtins.int: int64, builtins.bool: bool}

_default_float = float32


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d) -> None:
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported, got {d}")
    _default_float = d


def from_numpy(np_dtype) -> dtype:
    """The ember dtype of a NumPy dtype; TypeError for types ember does not support."""
    try:
        return _FROM_NUMPY[np_dtype]
    except KeyError:
        np_dtype = np.dtype(np_dtype)
        if np_dtype in _FROM_NUMPY:
            return _FROM_NUMPY[np_dtype]
        raise TypeError(f"unsupported dtype {np_dtype}; ember supports "
                        f"{', '.join(_BY_NAME)}") from None


def as_dtype(d) -> dtype:
    """Accepts an ember dtype, a NumPy dtype or type, a name, or float/int/bool."""
    if type(d) is dtype:
        return d
    if d is None:
        raise TypeError("expected a dtype, got None (bfloat16 is not supported by NumPy)")
    if d in _PYTHON_TYPES:
        return _PYTHON_TYPES[d]
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        return from_numpy(np.dtype(d))
    except TypeError as exc:
        raise TypeError(f"expected a dtype, got {d!r}") from exc


def to_numpy(d) -> np.dtype:
    return as_dtype(d).numpy


def category(np_dtype) -> builtins.int:
    """0 for bool, 1 for integers, 2 for floating point."""
    kind = np_dtype.kind
    return 2 if kind in "fc" else 0 if kind == "b" else 1


def promote_types(a, b) -> dtype:
    """The dtype both a and b convert to, as torch.promote_types."""
    return from_numpy(_promote(to_numpy(a), to_numpy(b)))


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    # Across categories the higher one wins unchanged (int64 + float16 -> float16);
    # within a category NumPy's lattice agrees with PyTorch's.
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


_SCALAR_CATEGORY = {builtins.bool: 0, builtins.int: 1, builtins.float: 2}


def scalar_dtype(value) -> np.dtype:
    """The dtype a Python scalar takes on its own: float32 (default), int64 or bool."""
    if isinstance(value, builtins.bool):
        return np.dtype(np.bool_)
    if isinstance(value, builtins.int):
        return np.dtype(np.int64)
    return _default_float.numpy


def result_type(*operands) -> np.dtype:
    """PyTorch's result dtype for arrays (NumPy or CuPy) and Python scalars.

    Arrays with dimensions decide unless a 0-d array or a scalar has a higher category;
    a float scalar promotes integer tensors to the default float dtype.
    """
    dim = zero = None
    scalar_cat = -1
    for op in operands:
        dt = getattr(op, "dtype", None)
        if dt is None:
            cat = _SCALAR_CATEGORY.get(type(op), 2 if isinstance(op, builtins.float) else 1)
            scalar_cat = max(scalar_cat, cat)
        elif op.ndim:
            dim = dt if dim is None else _promote(dim, dt)
        else:
            zero = dt if zero is None else _promote(zero, dt)
    result = dim
    if zero is not None and (result is None or category(zero) > category(result)):
        result = zero
    if scalar_cat >= 0 and (result is None or scalar_cat > category(result)):
        result = (np.dtype(np.bool_), np.dtype(np.int64), _default_float.numpy)[scalar_cat]
    return result
