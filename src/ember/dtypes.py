"""dtypes, the default dtype and PyTorch's type-promotion rules.

An ember dtype wraps one NumPy dtype. Arrays keep NumPy dtypes; Tensor.dtype maps back.
Promotion follows PyTorch: tensors with dimensions outrank 0-d tensors, which outrank Python
scalars, and a lower tier only matters when its category (bool < int < float < complex) is
higher; a complex lower tier meeting a float tensor gives that float's complex counterpart.
"""
from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "dtype", "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64",
    "uint8", "bool", "half", "float", "double", "short", "int", "long",
    "complex64", "complex128", "cfloat", "cdouble",
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
        self.is_signed = self.numpy.kind in "fic"
        self.is_complex = self.numpy.kind == "c"

    def to_real(self) -> dtype:
        """The real counterpart of a complex dtype (complex64 -> float32); others unchanged."""
        return _FROM_NUMPY[_REAL_OF[self.numpy]] if self.is_complex else self

    def to_complex(self) -> dtype:
        """The complex counterpart of a floating dtype (float32 -> complex64)."""
        if self.is_complex:
            return self
        if self.numpy not in _COMPLEX_OF:
            raise RuntimeError(f"Unknown Complex ScalarType for {self.name}"
                               + (" (ember has no complex32: NumPy lacks it)"
                                  if self.numpy == np.float16 else ""))
        return _FROM_NUMPY[_COMPLEX_OF[self.numpy]]

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
complex64 = cfloat = dtype("complex64", np.complex64)
complex128 = cdouble = dtype("complex128", np.complex128)
# NumPy has no bfloat16; the name exists so code that mentions it imports, and using it raises.
bfloat16 = None

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool, complex64, complex128)
_BY_NAME = {d.name: d for d in _ALL}
_FROM_NUMPY = {d.numpy: d for d in _ALL}
_PYTHON_TYPES = {builtins.float: float64, builtins.int: int64, builtins.bool: bool,
                 builtins.complex: complex128}
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)
_REAL_OF = {_C64: np.dtype(np.float32), _C128: np.dtype(np.float64)}
# float16 has no complex counterpart in NumPy (torch's complex32): it promotes to complex64
_COMPLEX_OF = {np.dtype(np.float32): _C64, np.dtype(np.float64): _C128}

_default_float = float32


def get_default_dtype() -> dtype:
    return _default_float


def default_complex() -> np.dtype:
    """The complex dtype of Python complex numbers: complex128 when the default float dtype is
    float64, else complex64."""
    return _C128 if _default_float is float64 else _C64


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


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def category(np_dtype) -> builtins.int:
    """0 for bool, 1 for integers, 2 for floating point, 3 for complex."""
    return _CATEGORY[np_dtype.kind]


def promote_types(a, b) -> dtype:
    """The dtype both a and b convert to, as torch.promote_types."""
    return from_numpy(_promote(to_numpy(a), to_numpy(b)))


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    # Across categories the higher one wins unchanged (int64 + float16 -> float16), except
    # that complex keeps a float's precision (float64 + complex64 -> complex128, as NumPy);
    # within a category NumPy's lattice agrees with PyTorch's.
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        if (ca, cb) in ((2, 3), (3, 2)):
            return np.promote_types(a, b)
        return a if ca > cb else b
    return np.promote_types(a, b)


def _outranked(lower, higher: np.dtype) -> np.dtype:
    """The result when a lower tier's ``higher`` category beats the result so far, ``lower``:
    a complex meeting a float gives that float's complex counterpart (float32 -> complex64)."""
    if lower is not None and higher.kind == "c" and lower.kind == "f":
        return _COMPLEX_OF.get(lower, _C64)
    return higher


_SCALAR_CATEGORY = {builtins.bool: 0, builtins.int: 1, builtins.float: 2, builtins.complex: 3}


def scalar_dtype(value) -> np.dtype:
    """The dtype a Python scalar takes on its own: float32 (default), int64, bool or
    complex64 (the default complex dtype)."""
    if isinstance(value, builtins.bool):
        return np.dtype(np.bool_)
    if isinstance(value, builtins.int):
        return np.dtype(np.int64)
    if isinstance(value, builtins.complex):
        return default_complex()
    return _default_float.numpy


def result_type(*operands) -> np.dtype:
    """PyTorch's result dtype for arrays (NumPy or CuPy) and Python scalars.

    Arrays with dimensions decide unless a 0-d array or a scalar has a higher category;
    a float scalar promotes integer tensors to the default float dtype, a complex one float
    tensors to their complex counterpart and the others to the default complex dtype.
    """
    dim = zero = None
    scalar_cat = -1
    for op in operands:
        dt = getattr(op, "dtype", None)
        if dt is None:
            cat = _SCALAR_CATEGORY.get(type(op))
            if cat is None:
                cat = 2 if isinstance(op, builtins.float) else \
                    3 if isinstance(op, builtins.complex) else 1
            scalar_cat = max(scalar_cat, cat)
        elif op.ndim:
            dim = dt if dim is None else _promote(dim, dt)
        else:
            zero = dt if zero is None else _promote(zero, dt)
    result = dim
    if zero is not None and (result is None or category(zero) > category(result)):
        result = _outranked(result, zero)
    if scalar_cat >= 0 and (result is None or scalar_cat > category(result)):
        result = (np.dtype(np.bool_), np.dtype(np.int64), _default_float.numpy)[scalar_cat] \
            if scalar_cat < 3 else _outranked(result, default_complex())
    return result
