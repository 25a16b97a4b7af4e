"""Reductions: sum, max/min (with indices), amax/amin, prod, cumsum, cumprod and
logcumsumexp are primitives; mean, var, std, norm, logsumexp, cummax/cummin, aminmax and
sum_to_size are composed. Integer sums accumulate in int64, as PyTorch."""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from .. import _checks, backend, dtypes
from ..backend import threads
from ..amp import _policy as _amp
from ..autograd.function import Function
from ..tensor import Tensor

_make = Tensor._make

values_indices = namedtuple("return_types", ["values", "indices"])


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_back(grad, shape, axes, keepdim):
    """A reduced gradient broadcast back over the input's shape."""
    if not keepdim and axes:
        grad = grad.reshape(_kept_shape(shape, axes))
    return grad.expand(shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        x = a._data
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        if dtype is None and x.dtype.kind in "iub":
            dtype = np.int64
        if x.ndim == 0 or 0 in axes:
            return x.sum(axis=axes, keepdims=keepdim, dtype=dtype)
        # the first axis is kept: its blocks are summed independently, threaded when large
        xp = backend.xp_of(x)
        shape = _kept_shape(x.shape, axes) if keepdim else \
            tuple(s for i, s in enumerate(x.shape) if i not in axes)
        out = xp.empty(shape, dtype or x.dtype)
        threads.for_rows(x, lambda i, j: x[i:j].sum(axis=axes, keepdims=keepdim, dtype=dtype,
                                                     out=out[i:j]))
        return out

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim), None, None, None


class Prod(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdim):
        x = a._data
        ctx.save_for_backward(a)
        ctx.save_output()
        ctx.axis, ctx.keepdim = axis, keepdim
        dtype = np.int64 if x.dtype.kind in "iub" else None
        return x.prod(axis=axis, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        x = a._data
        xp = backend.xp_of(x)
        if x.size == 0:
            return _make(xp.zeros(x.shape, grad._data.dtype)), None, None
        axes = tuple(range(x.ndim)) if ctx.axis is None else (ctx.axis,)
        is_complex = x.dtype.kind == "c"  # the gradient takes the conjugate derivative
        if x.all():  # no zeros: out / x, composed so that double backward works
            g = _expand_back(grad, x.shape, axes, ctx.keepdim)
            out = _expand_back(ctx.saved_output, x.shape, axes, ctx.keepdim)
            return g * (out / a).conj() if is_complex else g * out / a, None, None
        axis = ctx.axis
        flat = x.reshape(-1) if axis is None else xp.moveaxis(x, axis, -1)
        # product of all other elements: exclusive cumprods from both sides (zeros are safe)
        ones = xp.ones(flat.shape[:-1] + (1,), x.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], -1), -1)
        right = xp.flip(xp.cumprod(xp.flip(xp.concatenate([flat[..., 1:], ones], -1), -1), -1), -1)
        others = left * right
        if is_complex:
            others = others.conj()
        g = grad._data
        if axis is None:
            g_full = g.reshape(()) * others.reshape(x.shape)
        else:
            g = g if ctx.keepdim else xp.expand_dims(g, axis)
            g_full = xp.moveaxis(xp.moveaxis(g, axis, -1) * others, -1, axis)
        return _make(g_full), None, None


class ArgReduce(Function):
    """max/min along one dim: values with gradient, int64 indices without."""

    @staticmethod
    def forward(ctx, a, dim, keepdim, largest):
        x = a._data
        xp = backend.xp_of(x)
        idx = (xp.argmax if largest else xp.argmin)(x, axis=dim, keepdims=True)
        values = xp.take_along_axis(x, idx, axis=dim)
        idx = idx.astype(np.int64, copy=False)
        ctx.shape, ctx.dim, ctx.keepdim, ctx.idx = x.shape, dim, keepdim, idx
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return values, idx

    @staticmethod
    def backward(ctx, grad, grad_idx):
        from .indexing import scatter_add
        if not ctx.keepdim:
            grad = grad.unsqueeze(ctx.dim)
        zeros = _make(backend.xp_of(grad._data).zeros(ctx.shape, grad._data.dtype))
        # one index per slice, so scatter_add places the gradient (and is differentiable)
        return scatter_add(zeros, ctx.dim, _make(ctx.idx), grad), None, None, None


class AMax(Function):
    """amax/amin over dims; ties share the gradient evenly, as PyTorch."""

    @staticmethod
    def forward(ctx, a, axes, keepdim, largest):
        x = a._data
        out = (x.max if largest else x.min)(axis=axes, keepdims=True)
        ctx.save_for_backward(a)
        ctx.kept, ctx.axes, ctx.keepdim = out, axes, keepdim
        return out if keepdim else out.reshape(tuple(
            s for i, s in enumerate(out.shape) if i not in axes))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        mask = a._data == ctx.kept
        share = mask / mask.sum(axis=ctx.axes, keepdims=True)
        g = _expand_back(grad, a._data.shape, ctx.axes, ctx.keepdim)
        return g * _make(share.astype(grad._data.dtype, copy=False)), None, None, None


class Cumsum(Function):
    @staticmethod
    def forward(ctx, a, dim, dtype):
        x = a._data
        ctx.dim = dim
        if dtype is None and x.dtype.kind in "iub":
            dtype = np.int64
        return backend.xp_of(x).cumsum(x, axis=dim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None, None


class Cumprod(Function):
    @staticmethod
    def forward(ctx, a, dim, dtype):
        x = a._data
        if dtype is None and x.dtype.kind in "iub":
            dtype = np.int64
        ctx.dim, ctx.dtype = dim, dtype
        ctx.save_for_backward(a)
        ctx.save_output()
        return backend.xp_of(x).cumprod(x, axis=dim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        (a,), out, d, g = ctx.saved_tensors, ctx.saved_output._data, ctx.dim, grad._data
        x = a._data if ctx.dtype is None else a._data.astype(ctx.dtype)
        xp = backend.xp_of(x)
        if x.dtype.kind == "c":  # the conjugate derivative; every formula below is a product
            x, out = x.conj(), out.conj()
        if bool((x != 0).all()):
            rev = xp.flip(xp.cumsum(xp.flip(g * out, d), d), d)
            return rev / x, None, None
        # zeros: grad_x[k] = prod(x[:k]) * s[k] with s[k] = g[k] + x[k+1] * s[k+1]
        # (no division, so exact where x has zeros)
        n = x.shape[d]
        take = lambda a, k: xp.take(a, [k], axis=d)  # noqa: E731
        s = [None] * n
        s[n - 1] = take(g, n - 1)
        for k in range(n - 2, -1, -1):
            s[k] = take(g, k) + take(x, k + 1) * s[k + 1]
        ones = xp.ones_like(take(x, 0))
        before = xp.cumprod(xp.concatenate([ones, xp.take(x, list(range(n - 1)), axis=d)], d),
                            axis=d)
        return before * xp.concatenate(s, d), None, None


# -- public functions ------------------------------------------------------------------------
def _every_dim_if_empty(dim):
    """``dim=()`` or ``[]`` reduces over every dim in sum, mean, var and std (as PyTorch)."""
    return None if isinstance(dim, (tuple, list)) and len(dim) == 0 else dim


def sum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over ``dim`` (an int, a tuple, or all dims); integer inputs sum in int64."""
    if _amp.on and _amp.applies("sum", input):
        return _amp.run("sum", sum, input, dim, keepdim, dtype=dtype)
    axes = _checks.dims(_every_dim_if_empty(dim), input._data.ndim, "sum")
    return Sum.apply(input, axes, keepdim, None if dtype is None else dtypes.to_numpy(dtype))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    from .elementwise import isnan, where
    _checks.not_complex("nansum", input, "nansum does not support complex inputs", RuntimeError)
    if input._data.dtype.kind in "fc":  # ints have no NaN (and must keep summing in int64)
        input = where(isnan(input), 0.0, input)
    return sum(input, dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Average over ``dim``; floating-point inputs only, as PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind not in "fc":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.dtype.name}")
    axes = _checks.dims(_every_dim_if_empty(dim), input._data.ndim, "mean")
    n = 1
    for a in axes:
        n *= input._data.shape[a]
    return Sum.apply(input, axes, keepdim, None) / (n if n else float("nan"))


def prod(input, dim=None, keepdim: bool = False, *, dtype=None):
    if _amp.on and _amp.applies("prod", input):
        return _amp.run("prod", prod, input, dim, keepdim, dtype=dtype)
    if dtype is not None:
        input = input.to(dtype)
    axis = None if dim is None else _checks.dim(dim, input._data.ndim, "prod")
    return Prod.apply(input, axis, keepdim)


def _max_min(op, largest, input, dim, keepdim):
    if isinstance(dim, Tensor):  # max(input, other) is maximum
        from .elementwise import maximum, minimum
        return (maximum if largest else minimum)(input, dim)
    is_complex = input._data.dtype.kind == "c"
    if dim is None:
        if is_complex:
            _checks.not_complex(op, input)
        if input._data.size == 0:
            raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        return AMax.apply(input, tuple(range(input._data.ndim)), False, largest)
    if is_complex:
        _checks.not_complex(op, input, f"{op}(): does not support complex input", RuntimeError)
    d = _checks.dim(dim, input._data.ndim, op)
    if input._data.ndim == 0:
        return values_indices(input.clone(),
                              _make(backend.xp_of(input._data).zeros((), np.int64)))
    if input._data.shape[d] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")
    return values_indices(*ArgReduce.apply(input, d, keepdim, largest))


def max(input, dim=None, keepdim: bool = False):
    """The largest element, or (values, indices) along ``dim``."""
    return _max_min("max", True, input, dim, keepdim)


def min(input, dim=None, keepdim: bool = False):
    """The smallest element, or (values, indices) along ``dim``."""
    return _max_min("min", False, input, dim, keepdim)


def amax(input, dim=(), keepdim: bool = False):
    if input._data.dtype.kind == "c":
        _checks.not_complex("amax", input)
    axes = _checks.dims(None if dim == () else dim, input._data.ndim, "amax")
    return AMax.apply(input, axes, keepdim, True)


def amin(input, dim=(), keepdim: bool = False):
    if input._data.dtype.kind == "c":
        _checks.not_complex("amin", input)
    axes = _checks.dims(None if dim == () else dim, input._data.ndim, "amin")
    return AMax.apply(input, axes, keepdim, False)


def _arg(op, fn_name, input, dim, keepdim):
    x = input._data
    if x.dtype.kind == "c":
        _checks.not_complex(op, x, f"{op}(): does not support complex input", RuntimeError)
    if x.size == 0 and dim is None:
        raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() "
                           "== 0.")
    xp = backend.xp_of(x)
    fn = getattr(xp, fn_name)
    if dim is None:
        out = fn(x.reshape(-1))
        return _make(out.reshape((1,) * x.ndim if keepdim else ()).astype(np.int64))
    d = _checks.dim(dim, x.ndim, op)
    if x.size == 0 and x.shape[d] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")
    return _make(fn(x, axis=d, keepdims=keepdim).astype(np.int64, copy=False) if x.ndim else
                 xp.zeros((), np.int64))


def argmax(input, dim=None, keepdim: bool = False):
    return _arg("argmax", "argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim: bool = False):
    return _arg("argmin", "argmin", input, dim, keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance over ``dim`` with Bessel's ``correction`` (default 1)."""
    if isinstance(dim, bool):  # var(input, unbiased)
        dim, unbiased = None, dim
    c = _correction(unbiased, correction)
    axes = _checks.dims(_every_dim_if_empty(dim), input._data.ndim, "var")
    n = 1
    for a in axes:
        n *= input._data.shape[a]
    centered = input - mean(input, axes, keepdim=True)
    if input._data.dtype.kind == "c":  # |z - mean|^2, real
        total = sum((centered * centered.conj()).real, axes, keepdim)
    else:
        total = sum(centered * centered, axes, keepdim)
    return total / (n - c) if n - c > 0 else total * float("nan")


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """The p-norm over ``dim`` (all elements by default): 'fro', inf, -inf or a number."""
    if _amp.on and _amp.applies("norm", input):
        return _amp.run("norm", norm, input, p, dim, keepdim, dtype=dtype)
    from .elementwise import abs as abs_
    if dtype is not None:
        input = input.to(dtype)
    dim = _every_dim_if_empty(dim)
    if p == "fro" or p == 2:
        return _l2(input, dim, keepdim)
    a = abs_(input)
    if p == float("inf"):
        return amax(a, () if dim is None else dim, keepdim)
    if p == float("-inf"):
        return amin(a, () if dim is None else dim, keepdim)
    if p == 0:  # the count of non-zeros; sign keeps it in the graph with gradient 0
        from .elementwise import sign
        return sum(sign(a), dim, keepdim)
    if p == 1:
        return sum(a, dim, keepdim)
    return sum(a ** p, dim, keepdim) ** (1.0 / p)


class _L2(Function):
    """sqrt(sum(x^2)) with gradient 0 at the origin (not NaN), as PyTorch."""

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        x = a._data
        xp = backend.xp_of(x)
        squares = x * x if x.dtype.kind != "c" else x.real * x.real + x.imag * x.imag
        out = xp.asarray(xp.sqrt(squares.sum(axis=axes, keepdims=True)))
        ctx.save_for_backward(a)
        ctx.save_output()
        ctx.axes, ctx.keepdim = axes, keepdim
        return out if keepdim else out.reshape(tuple(
            s for i, s in enumerate(out.shape) if i not in axes))

    @staticmethod
    def backward(ctx, grad):
        from .elementwise import where
        a, = ctx.saved_tensors
        shape = a._data.shape
        g = _expand_back(grad, shape, ctx.axes, ctx.keepdim)
        norm = _expand_back(ctx.saved_output, shape, ctx.axes, ctx.keepdim)
        zero = norm == 0
        return where(zero, 0.0, g * a / where(zero, 1.0, norm)), None, None


def _l2(input, dim, keepdim):
    axes = _checks.dims(dim, input._data.ndim, "norm")
    if input._data.dtype.kind not in "fc":
        raise RuntimeError(f"norm(): input dtype should be floating point, got {input.dtype.name}")
    return _L2.apply(input, axes, keepdim)


def logsumexp(input, dim, keepdim: bool = False):
    """log(sum(exp(input))) over ``dim``, stable for large magnitudes."""
    if _amp.on and _amp.applies("logsumexp", input):
        return _amp.run("logsumexp", logsumexp, input, dim, keepdim)
    from .elementwise import isinf, log, where
    axes = _checks.dims(dim, input._data.ndim, "logsumexp")
    if input._data.dtype.kind not in "fc":
        input = input.float()
    if input._data.size == 0:  # no max to shift by: log of an empty sum is -inf
        return sum(input, axes, keepdim=keepdim) - float("inf")
    m = amax(input.detach(), axes, keepdim=True)
    m = where(isinf(m), 0.0, m)
    out = log(sum((input - m).exp(), axes, keepdim=True)) + m
    return out if keepdim else out.squeeze(axes) if axes else out


def all(input, dim=None, keepdim: bool = False):
    """True where every element over ``dim`` is non-zero (uint8 in, uint8 out, as PyTorch)."""
    x = input._data
    axes = _checks.dims(dim, x.ndim, "all")
    out = x.all(axis=axes, keepdims=keepdim)
    return _make(out.astype(np.uint8) if x.dtype == np.uint8 else out)


def any(input, dim=None, keepdim: bool = False):
    """True where some element over ``dim`` is non-zero (uint8 in, uint8 out, as PyTorch)."""
    x = input._data
    axes = _checks.dims(dim, x.ndim, "any")
    out = x.any(axis=axes, keepdims=keepdim)
    return _make(out.astype(np.uint8) if x.dtype == np.uint8 else out)


def count_nonzero(input, dim=None):
    x = input._data
    axes = _checks.dims(_every_dim_if_empty(dim), x.ndim, "count_nonzero")
    return _make((x != 0).sum(axis=axes).astype(np.int64))


def cumsum(input, dim: int, *, dtype=None):
    """Running sums along ``dim``."""
    if _amp.on and _amp.applies("cumsum", input):
        return _amp.run("cumsum", cumsum, input, dim, dtype=dtype)
    d = _checks.dim(dim, input._data.ndim, "cumsum")
    dtype = None if dtype is None else dtypes.to_numpy(dtype)
    if input._data.ndim == 0:
        return Cumsum.apply(input.reshape(1), 0, dtype).reshape(())
    return Cumsum.apply(input, d, dtype)


def cumprod(input, dim: int, *, dtype=None):
    """Running products along ``dim``; integer inputs multiply in int64, as PyTorch."""
    if _amp.on and _amp.applies("cumprod", input):
        return _amp.run("cumprod", cumprod, input, dim, dtype=dtype)
    d = _checks.dim(dim, input._data.ndim, "cumprod")

    dtype = None if dtype is None else dtypes.to_numpy(dtype)
    if input._data.ndim == 0:
        return Cumprod.apply(input.reshape(1), 0, dtype).reshape(())
    return Cumprod.apply(input, d, dtype)


# -- running max/min, logcumsumexp ---------------------------------------------------------------
def _scan(ufunc, x, axis: int):
    """``ufunc.accumulate`` along ``axis``. Off the CPU by log2(n) shifted passes
    (Hillis-Steele), as CuPy lacks accumulate for most ufuncs."""
    if backend.of(x) is backend.cpu:
        return ufunc.accumulate(x, axis=axis)
    out, n, shift = x.copy(), x.shape[axis], 1
    while shift < n:
        later = (slice(None),) * axis + (slice(shift, None),)
        earlier = (slice(None),) * axis + (slice(None, n - shift),)
        out[later] = ufunc(out[later], out[earlier])
        shift *= 2
    return out


def _positions_along(x, axis: int):
    """0, 1, ..., n - 1 along ``axis``, shaped to broadcast against x."""
    xp = backend.xp_of(x)
    n = x.shape[axis]
    return xp.arange(n, dtype=np.int64).reshape((n,) + (1,) * (x.ndim - axis - 1))


def _running_extreme(op: str, input, dim: int, largest: bool):
    from .indexing import gather
    _checks.tensor_type(op, "input", input)
    _checks.not_complex(op, input)
    d = _checks.dim(dim, input._data.ndim, op)
    x = input._data
    xp = backend.xp_of(x)
    if x.ndim == 0:
        return values_indices(input.clone(), _make(xp.zeros((), np.int64)))
    running = _scan(xp.maximum if largest else xp.minimum, x, d)
    # the last element equal to the running extreme (or NaN, which it then stays) is its index
    hit = x == running
    if x.dtype.kind == "f":
        hit |= xp.isnan(x)
    pos = _positions_along(x, d)
    indices = _make(_scan(xp.maximum, xp.where(hit, pos, 0), d))
    return values_indices(gather(input, d, indices), indices)


def cummax(input, dim: int):
    """(values, indices) of the running maximum along ``dim``; an index points at the last
    element equal to the maximum so far, and a NaN stays the maximum once met.

    Example:
        >>> ember.cummax(ember.tensor([1., 3., 2., 3.]), 0).indices
        tensor([0, 1, 1, 3])
    """
    return _running_extreme("cummax", input, dim, True)


def cummin(input, dim: int):
    """(values, indices) of the running minimum along ``dim`` (see cummax)."""
    return _running_extreme("cummin", input, dim, False)


class LogCumsumExp(Function):
    @staticmethod
    def forward(ctx, a, dim):
        x = a._data
        ctx.dim = dim
        ctx.save_for_backward(a)
        ctx.save_output()
        return _scan(backend.xp_of(x).logaddexp, x, dim)

    @staticmethod
    def backward(ctx, grad):
        # d out_i / d x_j = exp(x_j - out_i) for j <= i, summed in log space over i >= j with
        # the positive and negative parts of grad apart (TensorFlow's stable form). "log 0" is
        # the lowest finite number, as in PyTorch: -inf would make inf - inf in double backward
        from .elementwise import exp, log, where
        a, = ctx.saved_tensors
        out, d = ctx.saved_output, ctx.dim
        lowest = float(np.finfo(grad._data.dtype).min)

        def part(mask, g):
            log_g = where(mask, log(where(mask, g, 1.0)), lowest)
            return exp(logcumsumexp((log_g - out).flip(d), d).flip(d) + a)
        return part(grad > 0, grad) - part(grad < 0, -grad), None


def logcumsumexp(input, dim: int):
    """log(cumsum(exp(input))) along ``dim``, without overflow.

    Example:
        >>> ember.logcumsumexp(ember.tensor([0., 0.]), 0)
        tensor([0.0000, 0.6931])
    """
    _checks.tensor_type("logcumsumexp", "input", input)
    d = _checks.dim(dim, input._data.ndim, "logcumsumexp")
    _checks.not_complex("logcumsumexp", input)
    if input._data.dtype.kind not in "fc":
        raise NotImplementedError(f"logcumsumexp: not implemented for {input.dtype.name} "
                                  f"tensors; convert the input with .float()")
    if input._data.ndim == 0:
        return LogCumsumExp.apply(input.reshape(1), 0).reshape(())
    return LogCumsumExp.apply(input, d)


aminmax_result = namedtuple("aminmax", ["min", "max"])


def aminmax(input, *, dim=None, keepdim: bool = False):
    """(min, max) over ``dim`` (all elements by default) in one call.

    Example:
        >>> ember.aminmax(ember.tensor([3., 1., 2.]))
        aminmax(min=tensor(1.), max=tensor(3.))
    """
    _checks.tensor_type("aminmax", "input", input)
    _checks.not_complex("aminmax", input)
    x = input._data
    d = None if dim is None else _checks.dim(dim, x.ndim, "aminmax")
    if x.size == 0 and (d is None or x.ndim == 0 or x.shape[d] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    dims = () if d is None else d
    low, high = amin(input, dims, keepdim), amax(input, dims, keepdim)
    if d is None and keepdim:  # every dim reduced and kept: PyTorch's shape is all ones
        low, high = low.reshape((1,) * x.ndim), high.reshape((1,) * x.ndim)
    return aminmax_result(low, high)


def sum_to_size(input, *size):
    """input summed over the dims where ``size`` is 1 (and the leading ones it lacks), so
    that ``size`` broadcasts back to input's shape."""
    from .movement import _shape_arg
    size, shape = _shape_arg(size), input._data.shape
    lead = len(shape) - len(size)
    if lead < 0 or builtins.any(s != 1 and s != n for s, n in zip(size, shape[lead:])):
        raise RuntimeError(f"sum_to_size: size {list(size)} is not expandable to size "
                           f"{list(shape)}")
    axes = tuple(range(lead)) + tuple(lead + i for i, (s, n) in enumerate(zip(size, shape[lead:]))
                                      if s == 1 and n != 1)
    if not axes:
        return input
    return sum(input, axes, keepdim=True).reshape(size)
