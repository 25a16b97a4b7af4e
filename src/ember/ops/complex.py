"""Complex tensors: the real/imag and view_as_real/view_as_complex views, conj, complex,
polar, and sgn and angle of complex inputs.

Gradients follow PyTorch: for a real loss L of a complex z, ``z.grad`` is dL/d(Re z) +
i dL/d(Im z), so a holomorphic op's backward multiplies by the conjugate of its derivative.

ember conjugates eagerly: ``conj`` of a complex tensor is a copy (PyTorch returns a lazy
conjugate view), so ``is_conj`` is always False and ``resolve_conj`` returns its input.
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import _checks, backend, dtypes
from ..autograd.function import Function
from ..tensor import Tensor
from . import elementwise as _ew

_make = Tensor._make
_FLOATS = ("float32", "float64")


def _complex_dtype(op: str, t: Tensor) -> np.dtype:
    """The complex counterpart of a float tensor's dtype; RuntimeError for other dtypes."""
    dt = t._data.dtype
    if dt.name not in _FLOATS:
        hint = " (ember has no complex32: NumPy lacks it)" if dt.name == "float16" else ""
        raise RuntimeError(f"{op}: expected a float32 or float64 tensor, got "
                           f"{dtypes.from_numpy(dt).name}{hint}")
    return dtypes._COMPLEX_OF[dt]


# -- views --------------------------------------------------------------------------------------
class Real(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a):
        return a._data.real

    @staticmethod
    def backward(ctx, grad):
        return grad  # the engine gives it the complex input's dtype, imaginary part 0


class Imag(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a):
        return a._data.imag

    @staticmethod
    def backward(ctx, grad):
        return grad * 1j


class ViewAsReal(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a):
        x = a._data
        # a trailing axis of size 1 is contiguous whatever x's strides: the view always exists
        return x[..., None].view(dtypes._REAL_OF[x.dtype])

    @staticmethod
    def backward(ctx, grad):
        return complex(grad[..., 0], grad[..., 1])


class ViewAsComplex(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a):
        x = a._data
        return x.view(dtypes._COMPLEX_OF[x.dtype])[..., 0]

    @staticmethod
    def backward(ctx, grad):
        return ViewAsReal.apply(grad)


def real(input: Tensor) -> Tensor:
    """The real parts of a complex tensor, as a view (writes go through); real tensors are
    returned as they are."""
    _checks.tensor_type("real", "input", input)
    return Real.apply(input) if input._data.dtype.kind == "c" else input


def imag(input: Tensor) -> Tensor:
    """The imaginary parts of a complex tensor, as a view (writes go through)."""
    _checks.tensor_type("imag", "input", input)
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor's memory as a real one with a trailing dim of 2 (real, imaginary).

    Example:
        >>> ember.view_as_real(ember.tensor([1 + 2j]))
        tensor([[1., 2.]])
    """
    _checks.tensor_type("view_as_real", "input", input)
    if input._data.dtype.kind != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """A real tensor whose last dim is (real, imaginary) pairs, viewed as complex numbers."""
    _checks.tensor_type("view_as_complex", "input", input)
    x = input._data
    if x.dtype.name not in _FLOATS:
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of dtype {dtypes.from_numpy(x.dtype).name}")
    if x.ndim == 0 or x.shape[-1] != 2:
        raise RuntimeError(f"view_as_complex: Tensor must have a last dimension of size 2, "
                           f"got shape {tuple(x.shape)}")
    size = x.itemsize
    if x.strides[-1] != size:
        raise RuntimeError("view_as_complex: Tensor must have a last dimension with stride 1; "
                           "call .contiguous() first")
    if builtins.any(s % (2 * size) for s, n in zip(x.strides[:-1], x.shape[:-1]) if n > 1):
        raise RuntimeError("view_as_complex: Tensor must have a stride divisible by 2 for all "
                           "but last dimension; call .contiguous() first")
    return ViewAsComplex.apply(input)


# -- conjugation and construction ---------------------------------------------------------------
class Conj(Function):
    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a._data).conj(a._data)

    @staticmethod
    def backward(ctx, grad):
        return Conj.apply(grad)


def conj(input: Tensor) -> Tensor:
    """The complex conjugate, computed eagerly (a new tensor, not PyTorch's lazy view); a
    real tensor is returned as it is."""
    _checks.tensor_type("conj", "input", input)
    return Conj.apply(input) if input._data.dtype.kind == "c" else input


conj_physical = conj


def resolve_conj(input: Tensor) -> Tensor:
    """``input``: ember never defers a conjugation, so there is nothing to resolve."""
    return input


resolve_neg = resolve_conj


def is_conj(input: Tensor) -> bool:
    """False: ember's ``conj`` computes the conjugate at once."""
    return False


is_neg = is_conj


def is_complex(input: Tensor) -> bool:
    return input._data.dtype.kind == "c"


class Complex(Function):
    @staticmethod
    def forward(ctx, re, im, dtype):
        x, y = re._data, im._data
        xp = backend.xp_of(x)
        try:
            shape = np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise _checks.broadcast_error("complex", x, y) from None
        out = xp.empty(shape, dtype)
        # assigned part by part: re + 1j * im would turn an infinite im into nan + inf j
        out.real[...] = x
        out.imag[...] = y
        return out

    @staticmethod
    def backward(ctx, grad):
        need_re, need_im = ctx.needs_input_grad[:2]
        return (Real.apply(grad) if need_re else None, Imag.apply(grad) if need_im else None,
                None)


def complex(real: Tensor, imag: Tensor) -> Tensor:
    """real + i imag from two float tensors of the same dtype (broadcasting).

    Example:
        >>> ember.complex(ember.tensor([1.0]), ember.tensor([2.0]))
        tensor([1.+2.j])
    """
    _checks.tensor_type("complex", "real", real)
    _checks.tensor_type("complex", "imag", imag)
    x, y = real._data, imag._data
    _checks.same_device("complex", x, y)
    if x.dtype != y.dtype:
        raise RuntimeError(f"complex: expected real and imag to have the same dtype, got "
                           f"{_checks.describe(real)} and {_checks.describe(imag)}")
    return Complex.apply(real, imag, _complex_dtype("complex", real))


def polar(abs: Tensor, angle: Tensor) -> Tensor:
    """abs * (cos(angle) + i sin(angle)) from two float tensors of the same dtype."""
    _checks.tensor_type("polar", "abs", abs)
    _checks.tensor_type("polar", "angle", angle)
    if abs._data.dtype != angle._data.dtype:
        raise RuntimeError(f"polar: expected abs and angle to have the same dtype, got "
                           f"{_checks.describe(abs)} and {_checks.describe(angle)}")
    _complex_dtype("polar", abs)
    return complex(abs * _ew.cos(angle), abs * _ew.sin(angle))


# -- sgn and angle of complex tensors (elementwise.sgn and .angle hand them over) ---------------
def sgn(input: Tensor) -> Tensor:
    """z / |z|, and 0 where z is 0."""
    magnitude = _ew.abs(input)
    zero = magnitude == 0
    return _ew.where(zero, 0, input / _ew.where(zero, 1.0, magnitude))


class Angle(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).angle(a._data)

    @staticmethod
    def backward(ctx, grad):
        # d angle / d(re, im) = (-im, re) / |z|^2, which packs into i z / |z|^2 = i / conj(z)
        a, = ctx.saved_tensors
        zero = a == 0
        return _ew.where(zero, 0, grad * 1j / conj(_ew.where(zero, 1, a)))


def angle(input: Tensor) -> Tensor:
    return Angle.apply(input)

