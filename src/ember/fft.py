"""ember.fft: discrete Fourier transforms, as torch.fft, on the array library's FFT (NumPy's
pocketfft on the CPU, cuFFT through cupy.fft on a GPU).

Real inputs of float32 give complex64 results and float64 ones complex128; integer and bool
inputs are promoted to the default float dtype first. ``n`` / ``s`` zero-pad or truncate the
input along the transformed dims; ``norm`` is "backward" (the default: no scaling forward,
1/n back), "ortho" (1/sqrt(n) both ways) or "forward" (1/n forward).

Every transform is differentiable with PyTorch's gradients: the adjoint of a transform is the
opposite one with the opposite scaling; rfft's gradient zero-pads the missing half of the
spectrum, and irfft's doubles the entries that stand for two of the full spectrum.
"""
from __future__ import annotations

import builtins

import numpy as np

from . import _checks, backend, dtypes
from .autograd.function import Function
from .creation import _create
from .ops import complex as _cx
from .ops.movement import PadConstant, narrow, roll
from .tensor import Tensor

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "ortho", "forward")
# the adjoint of a transform scaled one way is the opposite transform scaled the other way
_ADJOINT_NORM = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


# -- the three primitives -------------------------------------------------------------------
class C2C(Function):
    """Complex to complex over ``axes``, forward or inverse."""

    @staticmethod
    def forward(ctx, a, axes, norm, forward):
        ctx.axes, ctx.norm, ctx.forward = axes, norm, forward
        x = a._data
        fft = backend.xp_of(x).fft
        out = (fft.fftn if forward else fft.ifftn)(x, axes=axes, norm=norm)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return C2C.apply(grad, ctx.axes, _ADJOINT_NORM[ctx.norm], not ctx.forward), None, None, None


class R2C(Function):
    """Real to the half spectrum over ``axes`` (the last one halved): rfftn."""

    @staticmethod
    def forward(ctx, a, axes, norm):
        x = a._data
        ctx.axes, ctx.norm, ctx.length = axes, norm, x.shape[axes[-1]]
        out = backend.xp_of(x).fft.rfftn(x, axes=axes, norm=norm)
        return out.astype(dtypes._COMPLEX_OF[x.dtype], copy=False)

    @staticmethod
    def backward(ctx, grad):
        # the half spectrum is the full one cut short: zero-pad it back, then the adjoint
        full = _resize(grad, ctx.axes[-1], ctx.length)
        return _cx.real(C2C.apply(full, ctx.axes, _ADJOINT_NORM[ctx.norm], False)), None, None


class C2R(Function):
    """The half spectrum over ``axes`` back to a real signal of ``length`` along the last."""

    @staticmethod
    def forward(ctx, a, axes, norm, length):
        x = a._data
        ctx.axes, ctx.norm, ctx.length = axes, norm, length
        sizes = [x.shape[d] for d in axes[:-1]] + [length]
        out = backend.xp_of(x).fft.irfftn(x, s=sizes, axes=axes, norm=norm)
        return out.astype(dtypes._REAL_OF[x.dtype], copy=False)

    @staticmethod
    def backward(ctx, grad):
        g = R2C.apply(grad, ctx.axes, _ADJOINT_NORM[ctx.norm])
        # entries 1 .. length - half each stand for themselves and their mirror image
        dim, half = ctx.axes[-1], g._data.shape[ctx.axes[-1]]
        doubled = ctx.length - half
        if doubled > 0:
            xp = backend.xp_of(g._data)
            weight = xp.ones(half, dtypes._REAL_OF[g._data.dtype])
            weight[1:1 + doubled] = 2
            g = g * Tensor._make(weight.reshape((-1,) + (1,) * (g._data.ndim - dim - 1)))
        return g, None, None, None


# -- argument handling -------------------------------------------------------------------------
def _norm(norm) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"; expected "backward", '
                           f'"ortho" or "forward"')
    return norm


def _real_input(op: str, input: Tensor) -> Tensor:
    """A real floating input (integers and bools promoted to the default float dtype)."""
    _checks.tensor_type(op, "input", input)
    kind = input._data.dtype.kind
    if kind == "c":
        raise RuntimeError(f"{op} expects a real input tensor, but got "
                           f"{_checks._TORCH_COMPLEX[input._data.dtype.name]}")
    if kind != "f":
        return input.to(dtypes.get_default_dtype())
    if input._data.dtype == np.float16:
        raise RuntimeError(f"{op}: Unsupported dtype Half; convert the input with .float()")
    return input


def _complex_input(op: str, input: Tensor) -> Tensor:
    """A complex input (real ones converted to their complex counterpart)."""
    _checks.tensor_type(op, "input", input)
    if input._data.dtype.kind == "c":
        return input
    x = _real_input(op, input)
    return x.to(dtypes.from_numpy(dtypes._COMPLEX_OF[x._data.dtype]))


def _resize(t: Tensor, dim: int, n: int) -> Tensor:
    """``t`` zero-padded or truncated to ``n`` along ``dim``."""
    size = t._data.shape[dim]
    if n == size:
        return t
    if n < size:
        return narrow(t, dim, 0, n)
    widths = [(0, 0)] * t._data.ndim
    widths[dim] = (0, n - size)
    return PadConstant.apply(t, tuple(widths), 0)


def _one_dim(op: str, input: Tensor, n, dim: int):
    """(dims, sizes) of a 1-D transform: ``n`` None keeps the length."""
    if input._data.ndim == 0:
        raise IndexError(f"{op}: Dimension specified as {dim} but tensor has no dimensions")
    d = _checks.dim(dim, input._data.ndim, op)
    return (d,), (_points(input._data.shape[d] if n is None else n),)


def _points(n) -> int:
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return builtins.int(n)


def _many_dims(op: str, input: Tensor, s, dim):
    """(dims, sizes) of an n-D transform, as torch.fft resolves ``s`` and ``dim``: ``dim``
    None means every dim, or the last len(s) when ``s`` is given; -1 in ``s`` keeps a size."""
    ndim = input._data.ndim
    if isinstance(dim, builtins.int):
        dim = (dim,)
    if isinstance(s, builtins.int):
        s = (s,)
    if dim is None:
        if s is not None and len(s) > ndim:
            raise RuntimeError(f"{op}: Got shape with {len(s)} values but input tensor only has "
                               f"{ndim} dimensions.")
        dim = tuple(range(ndim - (ndim if s is None else len(s)), ndim))
    elif s is not None and len(s) != len(dim):
        raise RuntimeError(f"{op}: When given, dim and shape arguments must have the same "
                           f"length")
    dims = tuple(_checks.dim(d, ndim, op) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: FFT dims must be unique")
    shape = input._data.shape
    sizes = tuple(_points(shape[d] if s is None or s[i] == -1 else s[i])
                  for i, d in enumerate(dims))
    return dims, sizes


def _resized(t: Tensor, dims, sizes) -> Tensor:
    for d, n in zip(dims, sizes):
        t = _resize(t, d, n)
    return t


# -- complex to complex --------------------------------------------------------------------------
def _c2c(op: str, input, dims, sizes, norm, forward: bool) -> Tensor:
    x = _complex_input(op, _resized(input, dims, sizes))
    if not dims:
        return x.clone() if x is input else x
    return C2C.apply(x, dims, _norm(norm), forward)


def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The 1-D discrete Fourier transform along ``dim``.

    Example:
        >>> ember.fft.fft(ember.tensor([1.0, 0.0, 0.0, 0.0]))
        tensor([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    _checks.tensor_type("fft", "input", input)
    return _c2c("fft", input, *_one_dim("fft", input, n, dim), norm, True)


def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of ``fft`` along ``dim``."""
    _checks.tensor_type("ifft", "input", input)
    return _c2c("ifft", input, *_one_dim("ifft", input, n, dim), norm, False)


def fftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D discrete Fourier transform over ``dim`` (all dims by default)."""
    _checks.tensor_type("fftn", "input", input)
    return _c2c("fftn", input, *_many_dims("fftn", input, s, dim), norm, True)


def ifftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The inverse of ``fftn``."""
    _checks.tensor_type("ifftn", "input", input)
    return _c2c("ifftn", input, *_many_dims("ifftn", input, s, dim), norm, False)


def fft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """``fftn`` over the last two dims."""
    return fftn(input, s, dim, norm)


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """``ifftn`` over the last two dims."""
    return ifftn(input, s, dim, norm)


# -- real to half spectrum and back --------------------------------------------------------------
def _r2c(op: str, input, dims, sizes, norm) -> Tensor:
    x = _real_input(op, _resized(input, dims, sizes))
    if not dims:
        return _complex_input(op, x)
    return R2C.apply(x, dims, _norm(norm))


def _c2r(op: str, input, dims, sizes, norm) -> Tensor:
    """``sizes`` are the output's; the last dim's input is resized to sizes[-1] // 2 + 1."""
    half = sizes[:-1] + (sizes[-1] // 2 + 1,)
    x = _complex_input(op, _resized(input, dims, half))
    return C2R.apply(x, dims, _norm(norm), sizes[-1])


def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The FFT of a real signal: the n // 2 + 1 non-redundant frequencies.

    Example:
        >>> ember.fft.rfft(ember.tensor([1.0, 2.0, 3.0, 4.0]))
        tensor([10.+0.j, -2.+2.j, -2.+0.j])
    """
    _checks.tensor_type("rfft", "input", input)
    return _r2c("rfft", input, *_one_dim("rfft", input, n, dim), norm)


def rfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D FFT of a real signal, the last of ``dim`` halved (as rfft)."""
    _checks.tensor_type("rfftn", "input", input)
    return _r2c("rfftn", input, *_many_dims("rfftn", input, s, dim), norm)


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """``rfftn`` over the last two dims."""
    return rfftn(input, s, dim, norm)


def _c2r_last(op: str, input, n, dim):
    """(dims, output sizes) of irfft: ``n`` defaults to 2 * (length - 1)."""
    dims, (length,) = _one_dim(op, input, None, dim)
    return dims, (_points(2 * (length - 1) if n is None else n),)


def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of ``rfft``: a real signal of length ``n`` (default 2 * (length - 1))."""
    _checks.tensor_type("irfft", "input", input)
    return _c2r("irfft", input, *_c2r_last("irfft", input, n, dim), norm)


def irfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The inverse of ``rfftn``; ``s`` gives the output sizes (the last one defaults to
    2 * (length - 1))."""
    _checks.tensor_type("irfftn", "input", input)
    dims, sizes = _many_dims("irfftn", input, s, dim)
    if not dims:
        raise RuntimeError("irfftn must transform at least one axis")
    last = s[-1] if s is not None and not isinstance(s, builtins.int) else s
    if last is None or last == -1:
        sizes = sizes[:-1] + (_points(2 * (input._data.shape[dims[-1]] - 1)),)
    return _c2r("irfftn", input, dims, sizes, norm)


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """``irfftn`` over the last two dims."""
    return irfftn(input, s, dim, norm)


def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The FFT of a Hermitian-symmetric signal given by its first half: a real result of
    length ``n`` (default 2 * (length - 1))."""
    _checks.tensor_type("hfft", "input", input)
    dims, sizes = _c2r_last("hfft", input, n, dim)
    return _c2r("hfft", _cx.conj(_complex_input("hfft", input)), dims, sizes,
                _ADJOINT_NORM[_norm(norm)])


def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of ``hfft``: the n // 2 + 1 first frequencies of a real signal."""
    _checks.tensor_type("ihfft", "input", input)
    dims, sizes = _one_dim("ihfft", input, n, dim)
    return _cx.conj(_r2c("ihfft", input, dims, sizes, _ADJOINT_NORM[_norm(norm)]))


# -- frequencies and shifts -------------------------------------------------------------------
def fftfreq(n: int, d: float = 1.0, *, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an n-point ``fft``: [0, 1, ..., -2, -1] / (d * n).

    Example:
        >>> ember.fft.fftfreq(4)
        tensor([ 0.0000,  0.2500, -0.5000, -0.2500])
    """
    dt = dtypes.to_numpy(dtype or dtypes.get_default_dtype())

    def make(xp):
        k = xp.arange(n, dtype=np.float64)
        k[(n + 1) // 2:] -= n  # the negative frequencies
        return (k / (d * n)).astype(dt)
    return _create(device, requires_grad, make)


def rfftfreq(n: int, d: float = 1.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an n-point ``rfft``: [0, 1, ..., n // 2] / (d * n)."""
    dt = dtypes.to_numpy(dtype or dtypes.get_default_dtype())
    return _create(device, requires_grad,
                   lambda xp: (xp.arange(n // 2 + 1, dtype=np.float64) / (d * n)).astype(dt))


def _shift(op: str, input: Tensor, dim, sign: int) -> Tensor:
    _checks.tensor_type(op, "input", input)
    ndim = input._data.ndim
    dims = tuple(range(ndim)) if dim is None else \
        (dim,) if isinstance(dim, builtins.int) else tuple(dim)
    dims = tuple(_checks.dim(d, ndim, op) for d in dims)
    if not dims:
        return input.clone()
    shifts = tuple(sign * (input._data.shape[d] // 2) for d in dims)
    return roll(input, shifts, dims)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """The zero frequency moved to the centre of ``dim`` (all dims by default)."""
    return _shift("fftshift", input, dim, 1)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """The inverse of ``fftshift``."""
    return _shift("ifftshift", input, dim, -1)
