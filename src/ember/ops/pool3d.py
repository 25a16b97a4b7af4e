"""3-D pooling, max-unpooling and power-average (LP) pooling.

3-D max and average pooling work on (N, C, D, H, W) arrays the way conv.py's 2-D pools work on
(N, C, H, W): one vectorised step per kernel offset (kd, kh, kw), never a loop over voxels.
conv._pool_geom checks the arguments for any number of spatial dims; here its _Geom carries
(d, h, w) triples. Max-pool indices are flat positions in each channel's D*H*W, as PyTorch's.

max_unpool writes values at such flat indices; lp_pool is composed from avg_pool and
elementwise ops, so autograd runs through it.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..tensor import Tensor
from . import elementwise, movement
from .conv import (_adaptive_setup, _bins, _dtype_ok, _ntuple, _pool_geom, _size, _span,
                   _split, _tensor, adaptive_avg_pool2d, avg_pool1d, avg_pool2d,
                   max_pool1d, max_pool2d)
from .reduce import mean as reduce_mean

_make = Tensor._make


# -- window geometry over (D, H, W) --------------------------------------------------------
def _regions(g):
    """(kernel offset code, output slices, input slices) for each kernel offset that sees the
    input; the code is the offset's row-major position in the kernel."""
    per_dim = [[(i,) + _span(m, n, i * d - lo, s) for i in range(k)]
               for k, s, d, lo, n, m in zip(g.k, g.s, g.d, g.lo, g.inp, g.out)]
    regions = []
    for combo in itertools.product(*per_dim):
        if all(out is not None for _, out, _ in combo):
            code = int(np.ravel_multi_index([i for i, _, _ in combo], g.k))
            regions.append((code, tuple(c[1] for c in combo), tuple(c[2] for c in combo)))
    return regions


def _rows(a: int, b: int, spatial: tuple) -> tuple:
    """Index of batch rows a:b, every channel, then the given spatial slices."""
    return (slice(a, b), slice(None)) + spatial


def _window_positions(g):
    """Per dim, the (out, kernel) input positions each window reads (padding included)."""
    return [np.arange(m)[:, None] * s - lo + np.arange(k)[None, :] * d
            for k, s, d, lo, m in zip(g.k, g.s, g.d, g.lo, g.out)]


def _first_codes(g, dtype):
    """(OD, OH, OW): each window's first kernel offset past the left padding, PyTorch's
    initial argmax (past the input too in a window that lies all in padding, as PyTorch)."""
    firsts = [(pos >= 0).argmax(axis=1) for pos in _window_positions(g)]
    return np.ravel_multi_index(np.ix_(*firsts), g.k).astype(dtype)


def _padding_only(g):
    """(OD, OH, OW) mask of the windows that see no input (dilated ones over the padding)."""
    seen = [((pos >= 0) & (pos < n)).any(axis=1).astype(np.int64)  # ix_ takes bools as masks
            for pos, n in zip(_window_positions(g), g.inp)]
    return math.prod(np.ix_(*seen)) == 0


def _flat_indices(codes, g):
    """Kernel offset codes -> flat positions in each channel's D*H*W."""
    xp = backend.xp_of(codes)
    c = codes.astype(np.int64)
    nd = len(g.k)
    flat = 0
    for axis, (k, s, d, lo, n, m) in enumerate(zip(g.k, g.s, g.d, g.lo, g.inp, g.out)):
        offset = c // math.prod(g.k[axis + 1:]) % k
        start = xp.arange(m, dtype=np.int64).reshape((m,) + (1,) * (nd - 1 - axis)) * s - lo
        flat = flat * n + start + offset * d
    return flat


def _scatter_rows(values, index, plane: int, accumulate: bool):
    """(rows, plane) zeros with row r's values put at its flat positions index[r]; repeated
    positions add up with accumulate, else one of them is kept (as PyTorch's unpooling)."""
    xp = backend.xp_of(values)
    rows = values.shape[0]
    out = xp.zeros((rows, plane), values.dtype)
    if not plane:
        return out
    flat = (index + xp.arange(rows, dtype=np.int64)[:, None] * plane).reshape(-1)
    if accumulate:
        backend.of(out).scatter_add(out.reshape(-1), flat, values.reshape(-1))
    else:
        out.reshape(-1)[flat] = values.reshape(-1)
    return out


# -- 3-D max and average pooling kernels --------------------------------------------------------
def _max_windows(x, g, with_codes: bool):
    """Window maxima, and with_codes each one's kernel offset code: PyTorch's choice, the first
    maximum in (d, h, w) order, or the last NaN of a window with NaNs."""
    xp = backend.xp_of(x)
    n, c = x.shape[:2]
    low = -xp.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    out = xp.full((n, c) + g.out, low, x.dtype)
    codes = None
    if with_codes:
        dtype = np.uint8 if math.prod(g.k) <= 256 else np.int32
        codes = xp.empty(out.shape, dtype)
        codes[...] = xp.asarray(_first_codes(g, dtype))
    regions = _regions(g)

    def run(a, b):
        for code, o_sl, i_sl in regions:
            o, v = out[_rows(a, b, o_sl)], x[_rows(a, b, i_sl)]
            if with_codes:
                # where(v > o, code, cd) as arithmetic: strict, so the first maximum stays
                cd = codes[_rows(a, b, o_sl)]
                cd += xp.greater(v, o) * (code - cd)
            xp.maximum(o, v, out=o)
        # a window with NaNs picks its last NaN, as PyTorch; a GPU skips the test (a sync)
        if with_codes and x.dtype.kind == "f" and (xp is not np or xp.isnan(out[a:b]).any()):
            for code, o_sl, i_sl in regions:
                xp.copyto(codes[_rows(a, b, o_sl)], code, where=xp.isnan(x[_rows(a, b, i_sl)]))
    _split(n, out.size * len(regions), run, xp)
    return out, codes


def _avg_divisor(g, count_include_pad: bool, divisor_override, xp, dtype):
    """Per-output divisor (a scalar when it is the same everywhere), as PyTorch counts it."""
    if divisor_override:
        return divisor_override
    sizes = []
    for k, s, lo, n, m in zip(g.k, g.s, g.lo, g.inp, g.out):
        start = np.arange(m) * s - lo
        end = np.minimum(start + k, n + lo)
        sizes.append(end - start if count_include_pad else
                     np.minimum(end, n) - np.maximum(start, 0))
    div = math.prod(np.ix_(*sizes))  # (OD, OH, OW)
    if (div == div.flat[0]).all():
        return int(div.flat[0])
    return xp.asarray(div.astype(dtype))


def _add_windows(a, axis: int, k: int, s: int, lo: int, n: int, m: int, back: bool = False):
    """Sums over the m windows (k wide, stride s, left padding lo) of the n entries along
    axis; or, back, the transposed map: each window's value added to its k inputs.

    A box sum is three such passes (D, then H, then W), k + k + k slices instead of k**3.
    """
    xp = backend.xp_of(a)
    out = xp.zeros(a.shape[:axis] + (n if back else m,) + a.shape[axis + 1:], a.dtype)
    spans = [sp for sp in (_span(m, n, i - lo, s) for i in range(k)) if sp[0] is not None]
    between = (slice(None),) * (axis - 1)  # the dims between the batch dim and axis

    def run(r0, r1):
        for o_sl, i_sl in spans:
            to, source = (i_sl, o_sl) if back else (o_sl, i_sl)
            out[(slice(r0, r1),) + between + (to,)] += a[(slice(r0, r1),) + between + (source,)]
    _split(a.shape[0], out.size * len(spans), run, xp)
    return out


def _window_sums(x, g):
    for axis, (k, s, lo, n, m) in enumerate(zip(g.k, g.s, g.lo, g.inp, g.out), 2):
        x = _add_windows(x, axis, k, s, lo, n, m)
    return x


def _spread_to_windows(gy, g):
    """Each window's (already divided) output gradient added back to its inputs."""
    dims = list(enumerate(zip(g.k, g.s, g.lo, g.inp, g.out), 2))
    for axis, (k, s, lo, n, m) in reversed(dims):
        gy = _add_windows(gy, axis, k, s, lo, n, m, back=True)
    return gy


class MaxPool3D(Function):
    """max_pool3d; a second output holds PyTorch's flat D*H*W indices when asked for."""

    node_name = "MaxPool3DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, input, g, shape5, out_shape, return_indices):
        x = input._data.reshape(shape5)
        need = ctx.needs_input_grad[0]
        out, codes = _max_windows(x, g, need or return_indices)
        if need:
            ctx.g, ctx.in_shape = g, input._data.shape
            ctx.save_for_backward(_make(codes))
        out = out.reshape(out_shape)
        if return_indices:
            return out, _flat_indices(codes, g).reshape(out_shape)
        return out

    @staticmethod
    def backward(ctx, grad, *unused):
        codes = ctx.saved_tensors[0]._data
        rows, per_row = codes.shape[0] * codes.shape[1], math.prod(ctx.g.out)
        index = _flat_indices(codes, ctx.g)
        gy = grad._data.reshape(index.shape)
        empty = _padding_only(ctx.g)
        if empty.any():  # their index points outside the input: they pass no gradient
            xp = backend.xp_of(gy)
            empty = xp.asarray(empty)
            index, gy = xp.where(empty, 0, index), xp.where(empty, 0, gy)
        index, gy = index.reshape(rows, per_row), gy.reshape(rows, per_row)
        gx = _scatter_rows(gy, index, math.prod(ctx.g.inp), True)
        return gx.reshape(ctx.in_shape), None, None, None, None


class AvgPool3D(Function):
    node_name = "AvgPool3DBackward0"

    @staticmethod
    def forward(ctx, input, g, shape5, out_shape, count_include_pad, divisor_override):
        x = input._data.reshape(shape5)
        xp = backend.xp_of(x)
        div = _avg_divisor(g, count_include_pad, divisor_override, xp, x.dtype)
        out = _window_sums(x, g)
        if out.dtype.kind == "f":
            out /= div
        else:  # int64, as PyTorch: the quotient truncated toward zero
            out = xp.sign(out) * (xp.abs(out) // div)
        ctx.g, ctx.div, ctx.shape5, ctx.in_shape = g, div, shape5, input._data.shape
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        gy = grad._data.reshape(ctx.shape5[:2] + ctx.g.out) / ctx.div
        return _spread_to_windows(gy, ctx.g).reshape(ctx.in_shape), None, None, None, None, None


def _adaptive_max(x, out_size):
    """Bin maxima over the trailing dims and their flat indices, one dim at a time from the
    last. The first maximum along W, then along H, then along D is the first in (d, h, w)
    order, PyTorch's choice; a NaN wins, the last one as in PyTorch."""
    xp = backend.xp_of(x)
    if 0 in out_size:
        shape = x.shape[:-len(out_size)] + tuple(out_size)
        return xp.empty(shape, x.dtype), xp.empty(shape, np.int64)
    nans = x.dtype.kind == "f" and (xp is not np or bool(xp.isnan(x).any()))
    value, index, plane = x, None, 1
    for axis in range(x.ndim - 1, x.ndim - 1 - len(out_size), -1):
        n_in = x.shape[axis]
        values, indices = [], []
        for a, b in _bins(n_in, out_size[axis - x.ndim]):
            bin_at = (slice(None),) * axis + (slice(a, b),)
            part = value[bin_at]
            arg = _arg_max(part, axis, nans, xp)
            values.append(xp.take_along_axis(part, arg, axis))
            pos = (arg + a) * plane
            indices.append(pos if index is None else
                           pos + xp.take_along_axis(index[bin_at], arg, axis))
        value, index = xp.concatenate(values, axis), xp.concatenate(indices, axis)
        plane *= n_in
    return value, index


def _arg_max(part, axis: int, nans: bool, xp):
    """Position (kept dim) of the first maximum along axis, or of the last NaN if any."""
    arg = part.argmax(axis=axis, keepdims=True)
    if nans:
        is_nan = xp.isnan(part)
        last_nan = part.shape[axis] - 1 - xp.flip(is_nan, axis).argmax(axis=axis, keepdims=True)
        arg = xp.where(is_nan.any(axis=axis, keepdims=True), last_nan, arg)
    return arg


class AdaptiveMaxPool3D(Function):
    node_name = "AdaptiveMaxPool3DBackward0"

    @staticmethod
    def forward(ctx, input, shape5, out_size, out_shape, return_indices):
        out, index = _adaptive_max(input._data.reshape(shape5), out_size)
        if ctx.needs_input_grad[0]:
            ctx.shape5, ctx.out_size, ctx.in_shape = shape5, out_size, input._data.shape
            ctx.save_for_backward(_make(index))
        out = out.reshape(out_shape)
        return (out, index.reshape(out_shape)) if return_indices else out

    @staticmethod
    def backward(ctx, grad, *unused):
        index = ctx.saved_tensors[0]._data
        rows, per_row = ctx.shape5[0] * ctx.shape5[1], math.prod(ctx.out_size)
        # bins overlap when the sizes do not divide: repeated indices add up
        gx = _scatter_rows(grad._data.reshape(rows, per_row), index.reshape(rows, per_row),
                           math.prod(ctx.shape5[2:]), True)
        return gx.reshape(ctx.in_shape), None, None, None, None


# -- 3-D pooling: the public functions ----------------------------------------------------------
def _pool3d_geom(op, input, kernel_size, stride, padding, dilation, ceil_mode, max_pool):
    return _pool_geom(op, 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                      max_pool)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W).

    Args:
        kernel_size: window size, int or (kD, kH, kW).
        stride: window step; defaults to ``kernel_size``.
        padding: implicit -inf padding on both sides (at most half the kernel).
        dilation: spacing between window elements.
        ceil_mode: round the output size up; the last window must start inside the input or
            its left padding.
        return_indices: also return the argmax positions, flat in each channel's D*H*W (ties
            go to the first maximum in (d, h, w) order, as PyTorch).

    Example:
        >>> max_pool3d(ember.randn(1, 2, 4, 4, 4), 2).shape
        ember.Size([1, 2, 2, 2, 2])
    """
    g, shape5, out_shape = _pool3d_geom("max_pool3d", input, kernel_size, stride, padding,
                                        dilation, ceil_mode, True)
    return MaxPool3D.apply(input, g, shape5, out_shape, bool(return_indices))


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W).

    Args:
        kernel_size, stride, padding, ceil_mode: as max_pool3d (zero padding).
        count_include_pad: count the padding zeros in each window's divisor.
        divisor_override: divide every window sum by this instead.
    """
    g, shape5, out_shape = _pool3d_geom("avg_pool3d", input, kernel_size, stride, padding, 1,
                                        ceil_mode, False)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool3d: divisor must be not zero")
    if any(n < k for n, k in zip(shape5[2:], g.k)):  # PyTorch's 3-D average pool asks this
        raise RuntimeError(f"avg_pool3d: input image {shape5[2:]} smaller than kernel size "
                           f"{g.k}; padding does not count")
    return AvgPool3D.apply(input, g, shape5, out_shape, bool(count_include_pad),
                           divisor_override)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) to (D_out, H_out, W_out), with
    PyTorch's adaptive bins; None keeps that input size.

    Built as adaptive_avg_pool2d over every depth, then the mean of each depth bin.
    """
    shape5, out_size, out_shape = _adaptive_setup("adaptive_avg_pool3d", 3, input,
                                                  output_size)
    n, c, d = shape5[:3]
    planes = adaptive_avg_pool2d(input.reshape(shape5).transpose(1, 2)
                                 .reshape((n * d, c) + shape5[3:]), out_size[1:])
    planes = planes.reshape((n, d, c) + out_size[1:]).transpose(1, 2)  # (N, C, D, OH, OW)
    depths = [reduce_mean(planes[:, :, a:b], 2) for a, b in _bins(d, out_size[0])]
    return movement.stack(depths, 2).reshape(out_shape)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, D, H, W) or (C, D, H, W) to (D_out, H_out, W_out), with
    PyTorch's adaptive bins; None keeps that input size.

    With ``return_indices`` also returns the flat D*H*W positions of the maxima (the first
    maximum in (d, h, w) order among ties, as PyTorch).
    """
    shape5, out_size, out_shape = _adaptive_setup("adaptive_max_pool3d", 3, input,
                                                  output_size)
    return AdaptiveMaxPool3D.apply(input, shape5, out_size, out_shape, bool(return_indices))


# -- max_unpool --------------------------------------------------------------------------------
class MaxUnpool(Function):
    """Values put at their flat spatial indices in a zero output; the gradient is gathered
    back from there."""

    node_name = "MaxUnpool2DBackward0"

    @staticmethod
    def forward(ctx, input, indices, rows, plane, out_shape):
        per_row = input._data.size // rows if rows else 0
        index = indices._data.reshape(rows, per_row)
        ctx.rows, ctx.per_row, ctx.plane = rows, per_row, plane
        ctx.in_shape = input._data.shape
        ctx.save_for_backward(indices)
        out = _scatter_rows(input._data.reshape(rows, per_row), index, plane, False)
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        index = ctx.saved_tensors[0]._data
        xp = backend.xp_of(index)
        gy = grad._data.reshape(ctx.rows, ctx.plane)
        if not ctx.plane:  # an empty output: nothing was written, nothing flows back
            return xp.zeros(ctx.in_shape, gy.dtype), None, None, None, None
        gx = xp.take_along_axis(gy, index.reshape(ctx.rows, ctx.per_row), 1)
        return gx.reshape(ctx.in_shape), None, None, None, None


class MaxUnpool3D(MaxUnpool):
    node_name = "MaxUnpool3DBackward0"


def _unpool_size(op: str, spatial, k, s, p, output_size) -> tuple:
    """PyTorch's output size: the default, or output_size (spatial, or with (N, C) in front)
    when it is within a stride of the default."""
    default = tuple((n - 1) * ss + kk - 2 * pp for n, kk, ss, pp in zip(spatial, k, s, p))
    if output_size is None:
        return default
    size = tuple(int(v) for v in output_size)
    if len(size) == len(k) + 2:
        size = size[2:]
    if len(size) != len(k):
        raise ValueError(f"{op}: output_size should be a sequence containing {len(k)} or "
                         f"{len(k) + 2} elements, but it has a length of '{len(size)}'")
    for d, (want, base, ss) in enumerate(zip(size, default, s)):
        if not base - ss < want < base + ss:
            raise ValueError(f'{op}: invalid output_size "{size}" (dim {d} must be between '
                             f"{base - ss} and {base + ss})")
    return size


def _unpool_inputs(op: str, nd: int, input, indices) -> None:
    _tensor(op, "input", input)
    _tensor(op, "indices", indices)
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: input should be a {nd + 1}d or {nd + 2}d Tensor, but got a "
                           f"tensor with {input.dim()} dimensions")
    _dtype_ok(op, input, "float")
    if indices._data.dtype != np.int64:
        raise RuntimeError(f"{op}: elements in indices should be type int64 but got: "
                           f"{indices.dtype.name}; pass the indices max_pool returned")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}: Expected shape of indices to be same as that of the input "
                           f"tensor ({_size(input.shape)}) but got indices tensor with shape: "
                           f"{_size(indices.shape)}")
    if input.device != indices.device:
        raise RuntimeError(f"{op}: input on {input.device} but indices on {indices.device}; "
                           "move one with .to()")


def _check_indices(op: str, indices, size: tuple) -> None:
    """Every index must fall inside the output plane (on a GPU this waits for the device)."""
    index = indices._data.reshape(-1)
    bad = (index < 0) | (index >= math.prod(size))
    if index.size and bool(bad.any()):
        first = int(index[int(bad.argmax())])
        raise RuntimeError(f"{op}: Found an invalid max index: {first} (output volumes are of "
                           f"size {'x'.join(map(str, size))})")


def _max_unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):
    _unpool_inputs(op, nd, input, indices)
    k = _ntuple(op, "kernel_size", kernel_size, nd)
    s = k if stride is None else _ntuple(op, "stride", stride, nd)
    p = _ntuple(op, "padding", padding, nd)
    size = _unpool_size(op, tuple(input.shape[-nd:]), k, s, p, output_size)
    if any(v < 0 for v in size):
        raise ValueError(f"{op}: output_size must contain non-negative spatial dimensions, "
                           f"but got {size}")
    if math.prod(size):  # PyTorch returns an empty output without looking at the indices
        _check_indices(op, indices, size)
    lead = tuple(input.shape[:-nd])
    function = MaxUnpool3D if nd == 3 else MaxUnpool
    return function.apply(input, indices, math.prod(lead), math.prod(size), lead + size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of max_pool2d: each value put at its index, zeros elsewhere.

    Args:
        input: (N, C, H, W) or (C, H, W), the pooled values.
        indices: int64, the same shape, flat positions in the output's H*W (what max_pool2d
            returns with ``return_indices=True``).
        kernel_size, stride (default: kernel_size), padding: as the max_pool2d being undone;
            they give the default output size ``(H - 1) * stride - 2 * padding + kernel_size``.
        output_size: (H_out, W_out), optionally with (N, C) in front, within a stride of the
            default (max_pool2d maps several sizes to one).

    Example:
        >>> y, i = max_pool2d(x, 2, return_indices=True)
        >>> max_unpool2d(y, i, 2, output_size=x.shape).shape == x.shape
        True
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of max_pool1d over (N, C, L) or (C, L); arguments as max_unpool2d."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of max_pool3d over (N, C, D, H, W) or (C, D, H, W); arguments as
    max_unpool2d, indices flat in the output's D*H*W."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)


# -- power-average pooling ----------------------------------------------------------------------
def _lp_pool(nd: int, input: Tensor, norm_type, kernel_size, stride, ceil_mode) -> Tensor:
    if norm_type in (math.inf, -math.inf):
        max_pool = (max_pool1d, max_pool2d, max_pool3d)[nd - 1]
        sign = 1 if norm_type > 0 else -1
        return sign * max_pool(sign * input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    avg_pool = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    mean = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    numel = math.prod(_ntuple(f"lp_pool{nd}d", "kernel_size", kernel_size, nd))
    # PyTorch's sign(mean) * relu(|mean|) equals mean, but has gradient 0 where a window's
    # power sum is 0 (instead of 0 * inf); the two wheres keep that, and no inf is formed
    zero = mean == 0
    root = (elementwise.where(zero, 1.0, mean) * numel) ** (1.0 / norm_type)
    return elementwise.where(zero, 0.0, root)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """2-D power-average pooling: (sum over each window of x ** p) ** (1 / p).

    Args:
        norm_type: p; inf gives max pooling of |x|.
        kernel_size: window size, int or (kH, kW).
        stride: window step; defaults to ``kernel_size``.
        ceil_mode: round the output size up; partial windows sum what they cover.

    Where a window's sum is zero the gradient is zero as well, as in PyTorch.
    """
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """1-D power-average pooling over (N, C, L) or (C, L); arguments as lp_pool2d."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """3-D power-average pooling over (N, C, D, H, W) or (C, D, H, W); arguments as
    lp_pool2d."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)
