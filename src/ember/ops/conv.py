"""Convolution and pooling primitives: im2col over a strided view plus a GEMM.

Every kernel works on 4-D arrays (N, C, H, W); 1-D ops and unbatched inputs are reshaped to
that form and back. No Python loop runs over pixels: convolution runs over cache-sized chunks
of images (see "convolution kernels"), col2im and pooling loop only over the kh*kw kernel
offsets, and the adaptive pools loop over output bins at most. On the CPU a big
convolution's chunks and pooling's memory-bound loops are shared among worker threads
(backend.threads: NumPy releases the GIL while it works).

Layouts are PyTorch's: conv weight (out, in/groups, kh, kw), transposed-conv weight
(in, out/groups, kh, kw); max-pool indices are flat offsets into each channel's H*W.
"""
from __future__ import annotations

import math
import numbers
import threading

import numpy as np

from .. import backend, dtypes
from ..amp import _policy as _amp
from ..backend import blas, threads
from ..autograd.function import Function
from ..tensor import Tensor
from . import elementwise, movement

_make = Tensor._make


def _split(n: int, work: int, fn, xp) -> None:
    """Calls fn(start, stop) over [0, n), in a few threads when the array work is large."""
    k = max(1, min(threads.THREADS, n)) if xp is np and work >= _MIN_PARALLEL else 1
    threads.run_shared([(n * t // k, n * (t + 1) // k) for t in range(k)], lambda ab: fn(*ab),
                       k)


_MIN_PARALLEL = 1 << 22  # elements of work for _split; below this one thread does it


# -- argument handling -----------------------------------------------------------------------
def _ntuple(op: str, name: str, value, n: int) -> tuple:
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got "
                        f"{type(value).__name__}") from None
    if len(out) == 1:
        out = out * n
    if len(out) != n:
        raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of "
                           f"{n} values to match the convolution dimensions, but got "
                           f"{name}={list(out)}")
    return out


def _tensor(op: str, name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


def _dtype_ok(op: str, x, allowed: str) -> None:
    """NotImplementedError, as PyTorch, for dtypes the op has no kernel for.

    allowed: 'float' (floating only), 'long' (floating and int64) or 'numeric' (not bool).
    """
    dt = x._data.dtype
    ok = dt.kind == "f" or (allowed == "long" and dt == np.int64) or \
        (allowed == "numeric" and dt.kind in "iu")
    if not ok:
        raise NotImplementedError(f"{op}: \"{op}\" not implemented for "
                                  f"'{dtypes.from_numpy(dt).name}'; convert the input with "
                                  ".float()")


def _same_kind(op: str, input, other, name: str) -> None:
    a, b = input._data, other._data
    if backend.device_of(a) != backend.device_of(b):
        raise RuntimeError(f"{op}: input on {backend.device_of(a)} but {name} on "
                           f"{backend.device_of(b)}; move one with .to()")
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: input type ({dtypes.from_numpy(a.dtype).name}) and {name} "
                           f"type ({dtypes.from_numpy(b.dtype).name}) should be the same; cast "
                           f"one with .to()")


def _as4d(shape: tuple, nd: int, batched: bool) -> tuple:
    """The (N, C, H, W) shape a 1-D or 2-D op's array is computed in."""
    if not batched:
        shape = (1,) + tuple(shape)
    return tuple(shape[:2]) + (1,) * (2 - nd) + tuple(shape[2:])


def _size(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


# -- geometry ----------------------------------------------------------------------------------
class _Geom:
    """One sliding-window layout: kernel k, stride s, dilation d, padding lo/hi, sizes in/out.

    Each attribute is an (h, w) pair. Input position of output o at kernel offset i:
    ``o * s + i * d - lo``.
    """

    __slots__ = ("k", "s", "d", "lo", "hi", "inp", "out", "padded_size", "wide", "row", "run")

    def __init__(self, k, s, d, lo, hi, inp, out):
        self.k, self.s, self.d, self.lo, self.hi = k, s, d, lo, hi
        self.inp, self.out = tuple(inp), tuple(out)
        self.padded_size = tuple(n + a + b for n, a, b in zip(self.inp, lo, hi))
        # stride 1: each output row is computed at the padded input's width (see _columns)
        self.wide = tuple(s) == (1, 1)
        # output elements per row in the GEMM's layout, and per image and channel (garbage
        # included)
        self.row = self.padded_size[1] if self.wide else self.out[1]
        self.run = (self.out[0] - 1) * self.row + self.out[1]

    def regions(self):
        """(i, j, output slices, input slices) for each kernel offset that sees the input."""
        rows = [(i,) + _span(self.out[0], self.inp[0], i * self.d[0] - self.lo[0], self.s[0])
                for i in range(self.k[0])]
        cols = [(j,) + _span(self.out[1], self.inp[1], j * self.d[1] - self.lo[1], self.s[1])
                for j in range(self.k[1])]
        return [(i, j, (oh, ow), (ih, iw))
                for i, oh, ih in rows if oh is not None
                for j, ow, iw in cols if ow is not None]

    def padded(self) -> bool:
        return any(self.lo) or any(self.hi)

    def overlapping(self) -> bool:
        return any(d * (k - 1) + 1 > s for k, s, d in zip(self.k, self.s, self.d))


def _span(n_out: int, n_in: int, offset: int, stride: int):
    """Output slice and input slice of the outputs o with 0 <= o*stride + offset < n_in."""
    o0 = max(0, -(offset // stride))
    o1 = min(n_out, (n_in - 1 - offset) // stride + 1)
    if o1 <= o0:
        return None, None
    start = o0 * stride + offset
    return slice(o0, o1), slice(start, (o1 - 1) * stride + offset + 1, stride)


def _covers(slices, h: int, w: int) -> bool:
    """Whether input slices (ih, iw) span every position of an h x w input."""
    return all(sl.start == 0 and sl.stop >= n and sl.step == 1 for sl, n in zip(slices, (h, w)))


def _out_len(n: int, k: int, s: int, d: int, lo: int, hi: int) -> int:
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


# -- convolution kernels -----------------------------------------------------------------------
# A convolution is a GEMM: weight (O, C*KH*KW) @ columns (C*KH*KW, images*run), one column per
# output pixel. The batch is cut into chunks of a few images whose columns fit in the cache
# (on the CPU): each chunk's columns are built, multiplied and copied out while still cached,
# so the columns never travel through main memory (they are 9x the input for a 3x3 kernel),
# and the GEMM still sees thousands of columns. A GPU takes the whole batch in one chunk.
#
# With stride 1 the columns are "wide" rows: output row r is computed at the padded input's
# full width, so the column of kernel offset (i, j) for image n is one contiguous run of the
# padded input plane, starting at (i*dh)*Wp + j*dw, rather than OH short rows. The extra
# output columns (W-padding and kernel overhang) are garbage: forward drops them, and
# backward gives them a zero output gradient.

_CHUNK_BYTES = 4 << 20  # columns plus GEMM output per chunk of a big CPU convolution
_GPU_CHUNK_BYTES = 1 << 30  # on a GPU, only a bound on the scratch memory
_ONE_CHUNK_BYTES = 16 << 20  # a smaller CPU convolution is one chunk


def _for_chunks(n: int, per_image: int, xp, body) -> list:
    """body(a, b, scratch) over chunks [a, b) of the n images; its results in chunk order.

    ``scratch`` is a dict the body keeps its chunk buffers in, one per thread. per_image is
    the bytes of columns and GEMM output an image needs. On the CPU a small convolution (up
    to _ONE_CHUNK_BYTES in all: its columns stay in the last-level cache) is one chunk on
    the calling thread, BLAS threaded as usual. A big one is cut into chunks of about
    _CHUNK_BYTES shared among the worker threads, with BLAS single-threaded meanwhile, so
    both cores copy as well as multiply. Leaving those GEMMs to a multi-threaded BLAS loses
    twice: the copies run on one core, and OpenBLAS' idle workers spin for ~0.1 s after
    each call, which here made the main thread's copies 3x slower. (For a small convolution
    a thread hand-off costs more than it saves: LeNet-5's step went from 5.0 to 6.4 ms.)
    """
    if xp is not np or n * per_image <= _ONE_CHUNK_BYTES:
        step = max(1, _GPU_CHUNK_BYTES // max(1, per_image)) if xp is not np else max(n, 1)
        scratch = {}
        return [body(a, min(n, a + step), scratch) for a in range(0, n, step)]
    step = max(1, _CHUNK_BYTES // per_image)
    per_thread = threading.local()  # each thread's chunk buffers

    def run(a):
        if not hasattr(per_thread, "scratch"):
            per_thread.scratch = {}
        return body(a, min(n, a + step), per_thread.scratch)
    with blas.single_threaded():
        return threads.run_shared(list(range(0, n, step)), run,
                                  threads.THREADS if blas.available() else 1)


def _buffer(scratch: dict, name: str, shape, dtype, xp):
    """A chunk buffer of at least `shape` (P, images, run), reused across a thread's chunks."""
    buf = scratch.get(name)
    if buf is None or buf.shape[1] < shape[1]:
        buf = scratch[name] = xp.empty(shape, dtype)
    return buf


def _strided(a, shape, strides, offset: int = 0):
    """A writeable strided view of contiguous `a` starting `offset` elements in."""
    flat = a.reshape(-1)[offset:] if offset else a
    return backend.of(a).as_strided(flat, shape, strides, writeable=True)


def _real(rows, g: _Geom):
    """(P, N, run) rows -> view (P, N, OH, OW) of the real (non-garbage) output positions."""
    p, n, run = rows.shape
    oh, ow = g.out
    if g.row == ow:
        return rows.reshape(p, n, oh, ow)
    it = rows.itemsize
    return _strided(rows, (p, n, oh, ow), (n * run * it, run * it, g.row * it, it))


def _zero_garbage(rows, g: _Geom) -> None:
    """Zeroes the garbage positions of (P, N, run) rows: the tail of every row but the last."""
    p, n, run = rows.shape
    (oh, ow), row = g.out, g.row
    if row > ow and oh > 1:
        it = rows.itemsize
        _strided(rows, (p, n, oh - 1, row - ow), (n * run * it, run * it, row * it, it),
                 offset=ow)[...] = 0


def _first(buffer, m: int):
    """The first m images of a contiguous (P, M, run) chunk buffer, contiguous."""
    p, _, run = buffer.shape
    return buffer.reshape(-1)[:p * m * run].reshape(p, m, run)


def _columns(x, g: _Geom, out):
    """(N, C, H, W) -> columns (C*KH*KW, N, run) in `out`, zero padding included."""
    n, c = x.shape[:2]
    (kh, kw), (dh, dw) = g.k, g.d
    x = _pad_zeros(x, g) if g.padded() else x
    sn, sc, sh, sw = x.strides
    if g.wide:
        shape, strides = (c, kh, kw, n, g.run), (sc, sh * dh, sw * dw, sn, sw)
    else:
        shape = (c, kh, kw, n) + g.out
        strides = (sc, sh * dh, sw * dw, sn, sh * g.s[0], sw * g.s[1])
    cols = _first(out, n)
    cols.reshape(shape)[...] = backend.of(x).as_strided(x, shape, strides)
    return cols


def _pad_zeros(x, g: _Geom):
    """x inside a zero border of g.lo / g.hi."""
    xp = backend.xp_of(x)
    n, c, h, w = x.shape
    (t, left), (b, r) = g.lo, g.hi
    out = xp.zeros((n, c, h + t + b, w + left + r), x.dtype)
    out[:, :, t:t + h, left:left + w] = x
    return out


def _to_rows(y, g: _Geom, out):
    """(N, P, OH, OW) -> rows (P, N, run) in `out`: the GEMM's layout, garbage zeroed."""
    rows = _first(out, y.shape[0])
    _real(rows, g)[...] = y.swapaxes(0, 1)
    _zero_garbage(rows, g)
    return rows


def _from_rows(rows, g: _Geom, out, bias=None) -> None:
    """rows (P, N, run) -> out (N, P, OH, OW), plus bias (P,) when given."""
    real, target = _real(rows, g), out.swapaxes(0, 1)
    if bias is None:
        target[...] = real
    else:
        backend.xp_of(rows).add(real, bias.reshape(-1, 1, 1, 1), out=target)


def _weight_times(w, cols, groups: int, out):
    """weight (O, C/groups, KH, KW) @ columns -> rows (O, N, run) in `out`."""
    xp = backend.xp_of(cols)
    o, (k_all, n, run) = w.shape[0], cols.shape
    k = k_all // groups
    rows = _first(out, n)
    a, b = w.reshape(groups, o // groups, k), cols.reshape(groups, k, n * run)
    product = rows.reshape(groups, o // groups, n * run)
    for s in _column_blocks(n * run, xp):
        xp.matmul(a, b[..., s], out=product[..., s])
    return rows


_GEMM_COLUMNS = 4096  # columns per CPU GEMM call


def _column_blocks(m: int, xp) -> list:
    """Slices of at most _GEMM_COLUMNS of a CPU GEMM's m columns (one slice on a GPU).

    OpenBLAS is up to 3x slower on a long skinny product than on the same product cut into
    blocks of ~4k columns (LeNet-5's weight gradients: 592 against 178 us, measured).
    """
    step = _GEMM_COLUMNS if xp is np else max(m, 1)
    return [slice(s, s + step) for s in range(0, m, step)] or [slice(0, 0)]


def _weight_t_times(w, rows, groups: int, out):
    """weight^T @ rows (O, N, run) -> column gradients (C*KH*KW, N, run) in `out`."""
    xp = backend.xp_of(rows)
    o, n, run = rows.shape
    k = w[0].size
    gcols = _first(out, n)
    xp.matmul(w.reshape(groups, o // groups, k).swapaxes(1, 2),
              rows.reshape(groups, o // groups, n * run),
              out=gcols.reshape(groups, k, n * run))
    return gcols


def _grad_weight(rows, cols, g: _Geom, groups: int, w_shape):
    """dL/dweight (O, C/groups, KH, KW) from the output gradient's rows and the columns."""
    xp = backend.xp_of(rows)
    o, n, run = rows.shape
    k = math.prod(w_shape[1:])

    def product():
        # as (columns @ rows^T)^T: OpenBLAS is ~1.4x faster with the long K on this side
        a = cols.reshape(groups, k, n * run)
        b = rows.reshape(groups, o // groups, n * run).swapaxes(1, 2)
        blocks = _column_blocks(n * run, xp)
        gw_t = xp.matmul(a[..., blocks[0]], b[:, blocks[0]])
        for s in blocks[1:]:
            gw_t += xp.matmul(a[..., s], b[:, s])
        return gw_t.swapaxes(1, 2).reshape(w_shape)
    if xp is not np:
        _zero_garbage(cols, g)
        return product()
    gw = product()
    # zero gradient times an inf or NaN input in a garbage column is NaN: redo without them
    if g.row > g.out[1] and not np.isfinite(gw).all():
        _zero_garbage(cols, g)
        gw = product()
    return gw


def _col2im(gcols, g: _Geom, out) -> None:
    """Adjoint of _columns: column gradients (C*KH*KW, N, run) summed into out (N, C, H, W)."""
    if g.wide:
        _col2im_wide(gcols, g, out)
        return
    n, c = out.shape[:2]
    kh, kw = g.k
    as_images = gcols.reshape((c, kh, kw, n) + g.out).transpose(3, 0, 1, 2, 4, 5)
    _col2im_strided(as_images, g, out)


def _col2im_wide(gcols, g: _Geom, out) -> None:
    """_col2im for wide rows: offset (i, j) adds one contiguous run into each padded plane.

    The planes are summed in (C, N) order, the column gradients' own (16% faster than
    adding into NCHW directly for LeNet-5's second layer), then cropped into out.
    """
    xp = backend.xp_of(gcols)
    n, c, h, w = out.shape
    (kh, kw), (dh, dw), run = g.k, g.d, g.run
    hp, wp = g.padded_size
    planes = xp.zeros((c, n, hp * wp), gcols.dtype)
    src = gcols.reshape(c, kh, kw, n, run)
    for i in range(kh):
        for j in range(kw):
            s = i * dh * wp + j * dw
            planes[:, :, s:s + run] += src[:, i, j]
    t, left = g.lo
    out[...] = planes.reshape(c, n, hp, wp)[:, :, t:t + h, left:left + w].swapaxes(0, 1)


def _col2im_strided(cols, g: _Geom, out) -> None:
    """_col2im for strided windows: cols (N, C, KH, KW, OH, OW) summed into out (N, C, H, W)."""
    h, w = g.inp
    regions = g.regions()
    overlap = g.overlapping()
    full = [r for r in regions if _covers(r[3], h, w)]
    if full:
        # an offset that touches every input position is written first: no zero fill
        regions.remove(full[0])
        regions.insert(0, full[0])
    else:
        out[...] = 0
    for r, (i, j, (oh, ow), (ih, iw)) in enumerate(regions):
        if overlap and (r or not full):
            out[:, :, ih, iw] += cols[:, :, i, j, oh, ow]
        else:  # every input position is hit by one offset at most
            out[:, :, ih, iw] = cols[:, :, i, j, oh, ow]


def _conv_forward(x, w, g: _Geom, groups: int, bias=None):
    """Convolution of x (N, C, H, W) with w (O, C/groups, KH, KW) -> (N, O, OH, OW)."""
    xp = backend.xp_of(x)
    n, o, k_all = x.shape[0], w.shape[0], w[0].size * groups
    out = xp.empty((n, o) + g.out, x.dtype)

    def chunk(a, b, scratch):
        cols = _columns(x[a:b], g, _buffer(scratch, "cols", (k_all, b - a, g.run), x.dtype, xp))
        rows = _weight_times(w, cols, groups,
                             _buffer(scratch, "rows", (o, b - a, g.run), x.dtype, xp))
        _from_rows(rows, g, out[a:b], bias)
    _for_chunks(n, (o + k_all) * g.run * x.itemsize, xp, chunk)
    return out


def _conv_backward(gy, x, w, g: _Geom, groups: int, need_x: bool, need_w: bool):
    """(dL/dx, dL/dw) of the convolution from the output gradient gy (N, O, OH, OW).

    Either may be None (not needed); x is only read when need_w.
    """
    xp = backend.xp_of(gy)
    n, o, k_all = gy.shape[0], gy.shape[1], w[0].size * groups
    gx = xp.empty((n, w.shape[1] * groups) + g.inp, gy.dtype) if need_x else None
    # inf * the zero garbage of the rows is NaN: keep it out of the input gradient
    weight_nan = g.row > g.out[1] and (xp is not np or not np.isfinite(w).all())

    def chunk(a, b, scratch):
        m = b - a
        rows = _to_rows(gy[a:b], g, _buffer(scratch, "rows", (o, m, g.run), gy.dtype, xp))
        cols_buf = _buffer(scratch, "cols", (k_all, m, g.run), gy.dtype, xp)
        gw = _grad_weight(rows, _columns(x[a:b], g, cols_buf), g, groups, w.shape) \
            if need_w else None
        if need_x:
            gcols = _weight_t_times(w, rows, groups, cols_buf)
            if weight_nan:
                _zero_garbage(gcols, g)
            _col2im(gcols, g, gx[a:b])
        return gw
    partials = _for_chunks(n, (o + k_all) * g.run * gy.itemsize, xp, chunk)
    gw = None
    if need_w:
        gw = xp.zeros(w.shape, gy.dtype)
        for part in partials:  # in chunk order per thread: the same sum on every run
            gw += part
    return gx, gw


class Convolution(Function):
    """conv1d/conv2d: input (N, C, [H,] W) or unbatched, weight (O, C/groups, [KH,] KW)."""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias, g, groups, shape4, out_shape):
        x = input._data.reshape(shape4)
        w = weight._data
        out = _conv_forward(x, w, g, groups, None if bias is None else bias._data)
        ctx.g, ctx.groups, ctx.shape4, ctx.in_shape = g, groups, shape4, input._data.shape
        need_w = ctx.needs_input_grad[1]
        ctx.save_for_backward(weight, input if need_w else None)
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        weight, input = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g, shape4 = ctx.g, ctx.shape4
        w = weight._data
        gy = grad._data.reshape((shape4[0], w.shape[0]) + g.out)
        x = input._data.reshape(shape4) if need_w else None
        gx, gw = _conv_backward(gy, x, w, g, ctx.groups, need_x, need_w)
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        return None if gx is None else gx.reshape(ctx.in_shape), gw, gb, None, None, None, None


class ConvolutionTranspose(Function):
    """conv_transpose1d/2d: the adjoint of Convolution; weight (C_in, C_out/groups, [KH,] KW).

    ``g`` describes the equivalent convolution, whose input is this op's output.
    """

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias, g, groups, shape4, out_shape):
        x = input._data.reshape(shape4)
        out, _ = _conv_backward(x, None, weight._data, g, groups, True, False)
        if bias is not None:
            out += bias._data.reshape(-1, 1, 1)
        ctx.g, ctx.groups, ctx.shape4 = g, groups, shape4
        ctx.save_for_backward(input, weight)
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g, groups = ctx.g, ctx.groups
        w = weight._data
        n, c_out = ctx.shape4[0], w.shape[1] * groups
        gy = grad._data.reshape((n, c_out) + g.inp)
        gx = gw = gb = None
        if need_x:
            gx = _conv_forward(gy, w, g, groups).reshape(input.shape)
        if need_w:
            # the transposed conv's weight gradient is the conv's, with the roles of its
            # input (gy here) and output gradient (this op's input) swapped
            _, gw = _conv_backward(input._data.reshape(ctx.shape4), gy, w, g, groups, False,
                                   True)
        if need_b:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb, None, None, None, None


# -- convolution: argument checks and the public functions -----------------------------------
def _check_conv(op: str, input, weight, bias, nd: int, transposed: bool, groups) -> bool:
    """Checks operands; returns whether the input is batched."""
    _tensor(op, "input", input)
    _tensor(op, "weight", weight)
    if bias is not None:
        _tensor(op, "bias", bias)
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input "
                           f"to {op}, but got input of size: {_size(input.shape)}")
    if weight.dim() != nd + 2:
        raise RuntimeError(f"{op}: expected weight to be {nd + 2}-dimensional, but got weight of "
                           f"size {_size(weight.shape)}")
    _dtype_ok(op, input, "long")
    _same_kind(op, input, weight, "weight")
    if bias is not None:
        _same_kind(op, input, bias, "bias")
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    batched = input.dim() == nd + 2
    channels = input.shape[1 if batched else 0]
    w_in = weight.shape[0] if transposed else weight.shape[1] * groups
    w_out = weight.shape[1] * groups if transposed else weight.shape[0]
    if not transposed and weight.shape[0] % groups:
        raise RuntimeError(f"{op}: Given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"{_size(weight.shape)} instead")
    if channels != w_in or (transposed and channels % groups):
        kind = "transposed=1" if transposed else f"groups={groups}"
        raise RuntimeError(f"{op}: Given {kind}, weight of size {_size(weight.shape)}, expected "
                           f"input{_size(input.shape)} to have {w_in} channels, but got "
                           f"{channels} channels instead; the input's channel dim (dim "
                           f"{1 if batched else 0}) must equal the layer's in_channels")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != w_out):
        raise RuntimeError(f"{op}: Given weight of size {_size(weight.shape)}, expected bias to "
                           f"be 1-dimensional with {w_out} elements, but got bias of size "
                           f"{_size(bias.shape)} instead")
    return batched


def _check_window(op: str, stride, dilation, padding) -> None:
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: non-positive stride is not supported, got stride={stride}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: non-positive dilation is not supported, got "
                           f"dilation={dilation}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: negative padding is not supported, got padding={padding}")


def _conv_padding(op: str, padding, k, stride, dilation, nd: int):
    """(lo, hi) padding per dim; 'same' may pad one more on the high side, as PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd, (0,) * nd
        if padding != "same":
            raise RuntimeError(f"{op}: Invalid padding string: '{padding}'; use 'same', "
                               "'valid', an int or a tuple")
        if any(s != 1 for s in stride):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided "
                               "convolutions; pad explicitly or use stride 1")
        total = [d * (kk - 1) for kk, d in zip(k, dilation)]
        return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
    p = _ntuple(op, "padding", padding, nd)
    return p, p


def _conv_nd(op, nd, input, weight, bias, stride, padding, dilation, groups):
    batched = _check_conv(op, input, weight, bias, nd, False, groups)
    stride = _ntuple(op, "stride", stride, nd)
    dilation = _ntuple(op, "dilation", dilation, nd)
    k = tuple(weight.shape[2:])
    lo, hi = _conv_padding(op, padding, k, stride, dilation, nd)
    _check_window(op, stride, dilation, lo)
    spatial = tuple(input.shape[-nd:])
    padded = tuple(n + a + b for n, a, b in zip(spatial, lo, hi))
    if any(p < d * (kk - 1) + 1 for p, kk, d in zip(padded, k, dilation)):
        eff = tuple(d * (kk - 1) + 1 for kk, d in zip(k, dilation))
        raise RuntimeError(f"{op}: Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                           "actual input size; pad the input or use a smaller kernel")
    out = tuple(_out_len(n, kk, s, d, a, b)
                for n, kk, s, d, a, b in zip(spatial, k, stride, dilation, lo, hi))
    shape4 = _as4d(tuple(input.shape), nd, batched)
    pad1 = (1,) * (2 - nd)
    g = _Geom(pad1 + k, pad1 + stride, pad1 + dilation, (0,) * (2 - nd) + lo,
              (0,) * (2 - nd) + hi, shape4[2:], pad1 + out)
    out_shape = ((shape4[0],) if batched else ()) + (weight.shape[0],) + out
    return Convolution.apply(input, weight, bias, g, int(groups), shape4, out_shape)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) over (N, C, H, W) or (C, H, W).

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: optional (C_out,).
        stride, dilation: int or (sH, sW).
        padding: int, (pH, pW), 'valid' (none) or 'same' (output size = input size, stride 1).
        groups: split the channels into this many independent convolutions.

    Example:
        >>> y = conv2d(ember.randn(8, 3, 32, 32), ember.randn(16, 3, 3, 3), padding=1)
        >>> y.shape
        ember.Size([8, 16, 32, 32])
    """
    if _amp.on and _amp.applies("conv2d", input, weight):
        return _amp.run("conv2d", conv2d, input, weight, bias, stride, padding, dilation, groups)
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution over (N, C, L) or (C, L); weight (C_out, C_in / groups, k).

    Arguments as conv2d, each a single int (or a 1-tuple); padding may be 'same' or 'valid'.
    """
    if _amp.on and _amp.applies("conv1d", input, weight):
        return _amp.run("conv1d", conv1d, input, weight, bias, stride, padding, dilation, groups)
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W); weight (C_out, C_in/groups,
    kD, kH, kW). Arguments as conv2d, with three values per tuple.

    Computed as one 2-D convolution per kernel depth offset, the output depths folded into
    the batch, summed; so it is differentiable through conv2d and the reshapes around it.
    """
    if _amp.on and _amp.applies("conv3d", input, weight):
        return _amp.run("conv3d", conv3d, input, weight, bias, stride, padding, dilation, groups)
    op = "conv3d"
    _tensor(op, "input", input)
    _tensor(op, "weight", weight)
    if input.dim() not in (4, 5):
        raise RuntimeError(f"{op}: Expected 4D (unbatched) or 5D (batched) input to {op}, but "
                           f"got input of size: {_size(input.shape)}")
    if weight.dim() != 5:
        raise RuntimeError(f"{op}: expected weight to be 5-dimensional, but got weight of "
                           f"size {_size(weight.shape)}")
    batched = input.dim() == 5
    x = input if batched else input.unsqueeze(0)
    stride = _ntuple(op, "stride", stride, 3)
    dilation = _ntuple(op, "dilation", dilation, 3)
    k = tuple(weight.shape[2:])
    lo, hi = _conv_padding(op, padding, k, stride, dilation, 3)
    _check_window(op, stride, dilation, lo)
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"{op}: Given groups={groups}, weight of size "
                           f"{_size(weight.shape)}, expected input{_size(x.shape)} to have "
                           f"{weight.shape[1] * groups} channels, but got {x.shape[1]} "
                           "channels instead")
    if any(lo) or any(hi):
        x = movement.pad_constant(x, [p for pair in zip(reversed(lo), reversed(hi))
                                      for p in pair])
    n, c, d = x.shape[:3]
    od = _out_len(d, k[0], stride[0], dilation[0], 0, 0)
    if od <= 0:
        raise RuntimeError(f"{op}: Calculated padded input depth ({d}) is smaller than the "
                           f"dilated kernel depth ({dilation[0] * (k[0] - 1) + 1}); pad the "
                           "input or use a smaller kernel")
    out = None
    for a in range(k[0]):
        start = a * dilation[0]
        planes = x[:, :, start:start + (od - 1) * stride[0] + 1:stride[0]]  # (N, C, OD, H, W)
        planes = planes.transpose(1, 2).reshape((n * od, c) + tuple(x.shape[3:]))
        y = conv2d(planes, weight[:, :, a], None, stride[1:], 0, dilation[1:], groups)
        out = y if out is None else out + y
    out = out.reshape((n, od) + tuple(out.shape[1:])).transpose(1, 2)
    if bias is not None:
        out = out + bias.reshape(-1, 1, 1, 1)
    out = out.contiguous()
    return out if batched else out.squeeze(0)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-D transposed convolution over (N, C_in, D, H, W) or (C_in, D, H, W); weight
    (C_in, C_out/groups, kD, kH, kW). Arguments as conv_transpose2d, three values per tuple.

    Computed as one 2-D transposed convolution per kernel depth offset (the input depths in
    the batch), each placed at its strided output depths and summed.
    """
    if _amp.on and _amp.applies("conv_transpose3d", input, weight):
        return _amp.run("conv_transpose3d", conv_transpose3d, input, weight, bias, stride,
                        padding, output_padding, groups, dilation)
    op = "conv_transpose3d"
    _tensor(op, "input", input)
    _tensor(op, "weight", weight)
    if input.dim() not in (4, 5) or weight.dim() != 5:
        raise RuntimeError(f"{op}: expected a 4D or 5D input and a 5D weight, got input of "
                           f"size {_size(input.shape)} and weight of size "
                           f"{_size(weight.shape)}")
    batched = input.dim() == 5
    x = input if batched else input.unsqueeze(0)
    s, p, d = (_ntuple(op, name, v, 3) for name, v in
               (("stride", stride), ("padding", padding), ("dilation", dilation)))
    out_pad = _ntuple(op, "output_padding", output_padding, 3)
    n, _, depth = x.shape[:3]
    kd = weight.shape[2]
    full = (depth - 1) * s[0] + d[0] * (kd - 1) + 1 + out_pad[0]
    out_depth = full - 2 * p[0]
    if out_depth <= 0:
        raise RuntimeError(f"{op}: calculated output depth {out_depth} is too small; reduce "
                           "padding or increase stride")
    planes = x.transpose(1, 2).reshape((n * depth,) + tuple(x.shape[1:2] + x.shape[3:]))
    out = None
    for a in range(kd):
        y = conv_transpose2d(planes, weight[:, :, a], None, s[1:], p[1:], out_pad[1:], groups,
                             d[1:])
        y = y.reshape((n, depth) + tuple(y.shape[1:])).transpose(1, 2)  # (N, C_out, D, ...)
        y = _spread_depth(y, s[0])
        start = a * d[0]
        y = movement.pad_constant(y, (0, 0, 0, 0, start, full - start - y.shape[2]))
        out = y if out is None else out + y
    out = out[:, :, p[0]:p[0] + out_depth]
    if bias is not None:
        out = out + bias.reshape(-1, 1, 1, 1)
    out = out.contiguous()
    return out if batched else out.squeeze(0)


def _spread_depth(y: Tensor, stride: int) -> Tensor:
    """(N, C, D, ...) -> (N, C, (D - 1) * stride + 1, ...) with zeros between the depths."""
    if stride == 1:
        return y
    n, c, depth = y.shape[:3]
    rest = tuple(y.shape[3:])
    zeros = _make(backend.xp_of(y._data).zeros(y._data.shape, y._data.dtype))
    stacked = movement.stack([y] + [zeros] * (stride - 1), 3)  # (N, C, D, stride, ...)
    return stacked.reshape((n, c, depth * stride) + rest)[:, :, :(depth - 1) * stride + 1]


def _conv_transpose_nd(op, nd, input, weight, bias, stride, padding, output_padding, groups,
                       dilation):
    batched = _check_conv(op, input, weight, bias, nd, True, groups)
    stride = _ntuple(op, "stride", stride, nd)
    dilation = _ntuple(op, "dilation", dilation, nd)
    padding = _ntuple(op, "padding", padding, nd)
    output_padding = _ntuple(op, "output_padding", output_padding, nd)
    _check_window(op, stride, dilation, padding)
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)) or \
            any(p < 0 for p in output_padding):
        raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                           f"dilation, but got output_padding={output_padding}, "
                           f"stride={stride}, dilation={dilation}")
    k = tuple(weight.shape[2:])
    spatial = tuple(input.shape[-nd:])
    out = tuple((n - 1) * s - 2 * p + d * (kk - 1) + o + 1
                for n, s, p, d, kk, o in zip(spatial, stride, padding, dilation, k,
                                             output_padding))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{op}: Given input size per channel: ({' x '.join(map(str, spatial))})"
                           f". Calculated output size per channel: "
                           f"({' x '.join(map(str, out))}). Output size is too small; reduce "
                           "padding or increase stride")
    shape4 = _as4d(tuple(input.shape), nd, batched)
    pad1 = (1,) * (2 - nd)
    zero = (0,) * (2 - nd)
    # the equivalent convolution maps this op's output (size `out`) back to its input size
    g = _Geom(pad1 + k, pad1 + stride, pad1 + dilation, zero + padding, zero + padding,
              pad1 + out, shape4[2:])
    c_out = weight.shape[1] * groups
    out_shape = ((shape4[0],) if batched else ()) + (c_out,) + out
    return ConvolutionTranspose.apply(input, weight, bias, g, int(groups), shape4, out_shape)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution (the gradient of conv2d with respect to its input).

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW).
        bias: optional (C_out,).
        output_padding: extra size added to one side of the output (< stride or dilation).

    Output size per dim: (in - 1) * stride - 2 * padding + dilation * (k - 1) +
    output_padding + 1.
    """
    if _amp.on and _amp.applies("conv_transpose2d", input, weight):
        return _amp.run("conv_transpose2d", conv_transpose2d, input, weight, bias, stride,
                        padding, output_padding, groups, dilation)
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution; arguments as conv_transpose2d with single ints."""
    if _amp.on and _amp.applies("conv_transpose1d", input, weight):
        return _amp.run("conv_transpose1d", conv_transpose1d, input, weight, bias, stride,
                        padding, output_padding, groups, dilation)
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


# -- pooling kernels ---------------------------------------------------------------------------
def _code_dtype(g: _Geom):
    return np.uint8 if g.k[0] * g.k[1] <= 256 else np.int32


def _first_region(g: _Geom):
    """The regions, and whether the first one (offset 0, 0) reaches every output position."""
    regions = g.regions()
    if not regions:  # every window lies in the padding (dilated taps skip the input)
        return regions, False
    first = regions[0][2]
    full = all(sl.start == 0 and sl.stop == m for sl, m in zip(first, g.out)) and \
        regions[0][:2] == (0, 0)
    return regions, full


def _first_valid_codes(g: _Geom, dtype):
    """(OH, OW): the first in-bounds kernel offset of each window, PyTorch's initial argmax."""
    firsts = []
    for k, s, d, lo, n, m in zip(g.k, g.s, g.d, g.lo, g.inp, g.out):
        start = np.arange(m) * s - lo
        first = np.zeros(m, np.int64)
        for i in reversed(range(k)):
            pos = start + i * d
            first = np.where((pos >= 0) & (pos < n), i, first)
        firsts.append(first)
    return (firsts[0][:, None] * g.k[1] + firsts[1][None, :]).astype(dtype)


def _max_windows(x, g: _Geom, with_codes: bool):
    """Window maxima, and with_codes the kernel offset (i * KW + j) of each: PyTorch's choice,
    the first maximum in row-major window order (the last NaN in windows with NaNs)."""
    xp = backend.xp_of(x)
    n, c = x.shape[:2]
    regions, full = _first_region(g)
    code_dtype = _code_dtype(g)
    if full:
        out = xp.empty((n, c) + g.out, x.dtype)
        codes = xp.zeros(out.shape, code_dtype) if with_codes else None
    else:
        low = -xp.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        out = xp.full((n, c) + g.out, low, x.dtype)
        codes = None
        if with_codes:
            codes = xp.empty(out.shape, code_dtype)
            codes[...] = xp.asarray(_first_valid_codes(g, code_dtype))
    kw = g.k[1]

    def run(a, b):
        for r, (i, j, (oh, ow), (ih, iw)) in enumerate(regions):
            o, v = out[a:b, :, oh, ow], x[a:b, :, ih, iw]
            if r == 0 and full:
                o[...] = v
                continue
            if with_codes:
                # codes = where(v > o, k, codes): strict, so the first maximum stays; done with
                # arithmetic because NumPy's masked copies are ten times slower (uint wraps)
                cd = codes[a:b, :, oh, ow]
                cd += xp.greater(v, o) * (i * kw + j - cd)
            xp.maximum(o, v, out=o)
        # NaN windows pick the NaN's position, as PyTorch; on a GPU skip the test (a sync)
        if with_codes and x.dtype.kind == "f" and (xp is not np or xp.isnan(out[a:b]).any()):
            for i, j, (oh, ow), (ih, iw) in regions:
                xp.copyto(codes[a:b, :, oh, ow], i * kw + j, where=xp.isnan(x[a:b, :, ih, iw]))
    _split(n, out.size * len(regions), run, xp)
    return out, codes


def _covered_once(g: _Geom) -> bool:
    """Whether the windows tile the input exactly: every input position in one window."""
    return all(s == k and d == 1 and lo == 0 and hi == 0 and m * k == n
               for k, s, d, lo, hi, n, m in zip(g.k, g.s, g.d, g.lo, g.hi, g.inp, g.out))


def _max_grad(gy, codes, g: _Geom):
    xp = backend.xp_of(gy)
    n, c = gy.shape[:2]
    tiled = _covered_once(g)
    gx = (xp.empty if tiled else xp.zeros)((n, c) + g.inp, gy.dtype)
    regions = g.regions()
    overlap = g.overlapping()
    kw = g.k[1]

    def run(a, b):
        for i, j, (oh, ow), (ih, iw) in regions:
            part = gy[a:b, :, oh, ow] * (codes[a:b, :, oh, ow] == i * kw + j)
            if overlap:
                gx[a:b, :, ih, iw] += part
            else:
                gx[a:b, :, ih, iw] = part
    _split(n, gy.size * len(regions), run, xp)
    return gx


def _flat_indices(codes, g: _Geom, width: int):
    """Offsets codes -> PyTorch's indices: flat positions in each channel's H*W."""
    xp = backend.xp_of(codes)
    kw = g.k[1]
    c = codes.astype(np.int64)
    rows = xp.arange(g.out[0], dtype=np.int64)[:, None] * g.s[0] - g.lo[0]
    cols = xp.arange(g.out[1], dtype=np.int64) * g.s[1] - g.lo[1]
    return (rows + (c // kw) * g.d[0]) * width + cols + (c % kw) * g.d[1]


def _avg_divisor(g: _Geom, count_include_pad: bool, divisor_override, xp, dtype):
    """Per-output divisor (a scalar when it is the same everywhere), as PyTorch counts it."""
    if divisor_override:
        return divisor_override
    sizes = []
    for (k, s, lo, n, m) in zip(g.k, g.s, g.lo, g.inp, g.out):
        start = np.arange(m) * s - lo
        end = np.minimum(start + k, n + lo)
        size = end - start if count_include_pad else \
            np.minimum(end, n) - np.maximum(start, 0)
        sizes.append(size)
    div = sizes[0][:, None] * sizes[1][None, :]
    if (div == div.flat[0]).all():
        return int(div.flat[0])
    return xp.asarray(div.astype(dtype))


def _avg_sum(x, g: _Geom):
    xp = backend.xp_of(x)
    n, c = x.shape[:2]
    regions, full = _first_region(g)
    out = (xp.empty if full else xp.zeros)((n, c) + g.out, x.dtype)

    def run(a, b):
        for r, (_, _, (oh, ow), (ih, iw)) in enumerate(regions):
            if r == 0 and full:
                out[a:b] = x[a:b, :, ih, iw]
            else:
                out[a:b, :, oh, ow] += x[a:b, :, ih, iw]
    _split(n, out.size * len(regions), run, xp)
    return out


def _avg_grad(gy, g: _Geom):
    """Each window's share of the (already divided) output gradient summed back."""
    xp = backend.xp_of(gy)
    n, c = gy.shape[:2]
    gx = (xp.empty if _covered_once(g) else xp.zeros)((n, c) + g.inp, gy.dtype)
    regions = g.regions()
    overlap = g.overlapping()

    def run(a, b):
        for _, _, (oh, ow), (ih, iw) in regions:
            if overlap:
                gx[a:b, :, ih, iw] += gy[a:b, :, oh, ow]
            else:
                gx[a:b, :, ih, iw] = gy[a:b, :, oh, ow]
    _split(n, gy.size * len(regions), run, xp)
    return gx


class MaxPool(Function):
    """max_pool1d/2d; a second output holds PyTorch's flat indices when asked for."""

    node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, input, g, shape4, out_shape, return_indices):
        x = input._data.reshape(shape4)
        need = ctx.needs_input_grad[0]
        out, codes = _max_windows(x, g, need or return_indices)
        if need:
            ctx.g, ctx.in_shape = g, input._data.shape
            ctx.save_for_backward(_make(codes))
        out = out.reshape(out_shape)
        if return_indices:
            return out, _flat_indices(codes, g, shape4[3]).reshape(out_shape)
        return out

    @staticmethod
    def backward(ctx, grad, *unused):
        codes, = ctx.saved_tensors
        codes = codes._data
        gy = grad._data.reshape(codes.shape)
        return _max_grad(gy, codes, ctx.g).reshape(ctx.in_shape), None, None, None, None


class AvgPool(Function):
    node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, input, g, shape4, out_shape, count_include_pad, divisor_override):
        x = input._data.reshape(shape4)
        xp = backend.xp_of(x)
        div = _avg_divisor(g, count_include_pad, divisor_override, xp, x.dtype)
        out = _avg_sum(x, g)
        if out.dtype.kind == "f":
            out /= div
        else:  # int64, as PyTorch: the quotient truncated toward zero
            out = xp.sign(out) * (xp.abs(out) // div)
        ctx.g, ctx.div, ctx.shape4, ctx.in_shape = g, div, shape4, input._data.shape
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        g = ctx.g
        gy = grad._data.reshape(ctx.shape4[:2] + g.out) / ctx.div
        return _avg_grad(gy, g).reshape(ctx.in_shape), None, None, None, None, None


def _bins(n_in: int, n_out: int):
    """PyTorch's adaptive bins: [floor(i * in / out), ceil((i + 1) * in / out))."""
    return [(i * n_in // n_out, -(-(i + 1) * n_in // n_out)) for i in range(n_out)]


def _bin_matrix(xp, n_in: int, n_out: int, dtype):
    """(n_out, n_in) 0/1 matrix: row i marks the inputs of bin i."""
    m = np.zeros((n_out, n_in), dtype)
    for i, (a, b) in enumerate(_bins(n_in, n_out)):
        m[i, a:b] = 1
    return xp.asarray(m)


class AdaptiveAvgPool(Function):
    """Bin means: a reshape when the sizes divide, else two small matmuls with 0/1 bin
    matrices (rows then columns) divided by the bin sizes."""

    node_name = "AdaptiveAvgPool2DBackward0"

    @staticmethod
    def forward(ctx, input, shape4, out_hw, out_shape):
        x = input._data.reshape(shape4)
        xp = backend.xp_of(x)
        n, c, h, w = shape4
        oh, ow = out_hw
        ctx.shape4, ctx.out_hw, ctx.in_shape = shape4, out_hw, input._data.shape
        if _divisible(h, w, oh, ow):
            out = x.reshape(n, c, oh, h // oh, ow, w // ow).mean(axis=(3, 5))
        else:
            rows = _bin_matrix(xp, h, oh, x.dtype)
            cols = _bin_matrix(xp, w, ow, x.dtype)
            out = xp.matmul(xp.matmul(rows, x), cols.T)
            out /= _bin_sizes(xp, h, w, oh, ow, x.dtype)
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        n, c, h, w = ctx.shape4
        oh, ow = ctx.out_hw
        xp = backend.xp_of(grad._data)
        gy = grad._data.reshape(n, c, oh, ow)
        if _divisible(h, w, oh, ow):
            kh, kw = h // oh, w // ow
            gy = gy / (kh * kw)
            gx = xp.broadcast_to(gy[:, :, :, None, :, None], (n, c, oh, kh, ow, kw))
            gx = gx.reshape(n, c, h, w)
        else:
            gy = gy / _bin_sizes(xp, h, w, oh, ow, gy.dtype)
            rows = _bin_matrix(xp, h, oh, gy.dtype)
            cols = _bin_matrix(xp, w, ow, gy.dtype)
            gx = xp.matmul(xp.matmul(rows.T, gy), cols)
        return gx.reshape(ctx.in_shape), None, None, None


def _divisible(h: int, w: int, oh: int, ow: int) -> bool:
    return oh > 0 and ow > 0 and h % oh == 0 and w % ow == 0


def _bin_sizes(xp, h, w, oh, ow, dtype):
    sh = np.array([b - a for a, b in _bins(h, oh)])
    sw = np.array([b - a for a, b in _bins(w, ow)])
    return xp.asarray((sh[:, None] * sw[None, :]).astype(dtype))


def _adaptive_max(x, out_hw):
    """Bin maxima and PyTorch's flat indices, separably: the max over each column bin of
    every row, then over each row bin. Taking the first maximum along W first, then along H,
    picks the first maximum in row-major order, as PyTorch does."""
    xp = backend.xp_of(x)
    n, c, h, w = x.shape
    oh, ow = out_hw
    row_max = xp.empty((n, c, h, ow), x.dtype)
    row_arg = xp.empty((n, c, h, ow), np.int64)
    for j, (a, b) in enumerate(_bins(w, ow)):
        part = x[..., a:b]
        arg = part.argmax(axis=-1)
        row_max[..., j] = xp.take_along_axis(part, arg[..., None], axis=-1)[..., 0]
        row_arg[..., j] = arg + a
    out = xp.empty((n, c, oh, ow), x.dtype)
    index = xp.empty((n, c, oh, ow), np.int64)
    for i, (a, b) in enumerate(_bins(h, oh)):
        part = row_max[:, :, a:b]
        arg = part.argmax(axis=2)[:, :, None]
        out[:, :, i] = xp.take_along_axis(part, arg, axis=2)[:, :, 0]
        row = arg + a
        index[:, :, i] = (row * w + xp.take_along_axis(row_arg, row, axis=2))[:, :, 0]
    return out, index


class AdaptiveMaxPool(Function):
    node_name = "AdaptiveMaxPool2DBackward0"

    @staticmethod
    def forward(ctx, input, shape4, out_hw, out_shape, return_indices):
        x = input._data.reshape(shape4)
        out, index = _adaptive_max(x, out_hw)
        if ctx.needs_input_grad[0]:
            ctx.shape4, ctx.in_shape = shape4, input._data.shape
            ctx.save_for_backward(_make(index))
        out = out.reshape(out_shape)
        return (out, index.reshape(out_shape)) if return_indices else out

    @staticmethod
    def backward(ctx, grad, *unused):
        index, = ctx.saved_tensors
        index = index._data
        n, c, h, w = ctx.shape4
        xp = backend.xp_of(index)
        gx = xp.zeros((n * c, h * w), grad._data.dtype)
        rows = xp.arange(n * c)[:, None]
        # bins overlap when the sizes do not divide: repeated indices must accumulate
        per_row = index.size // max(n * c, 1)
        backend.of(gx).scatter_add(gx, (rows, index.reshape(n * c, per_row)),
                                   grad._data.reshape(n * c, per_row))
        return gx.reshape(ctx.in_shape), None, None, None, None


# -- pooling: argument checks and the public functions -----------------------------------------
def _pool_input(op: str, input, nd: int, allowed: str) -> bool:
    _tensor(op, "input", input)
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for "
                           f"input, but got input of size {_size(input.shape)}")
    batched = input.dim() == nd + 2
    if any(n == 0 for n in input.shape[int(batched):]):
        raise RuntimeError(f"{op}: Expected input's non-batch dimensions to have positive "
                           f"length, but input has a shape of {_size(input.shape)}")
    _dtype_ok(op, input, allowed)
    return batched


def _pool_len(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window must start inside the input or its left padding
    return out


def _pool_geom(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, max_pool):
    batched = _pool_input(op, input, nd, "numeric" if max_pool else "long")
    k = _ntuple(op, "kernel_size", kernel_size, nd)
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and
                                len(stride) == 0) else _ntuple(op, "stride", stride, nd)
    p = _ntuple(op, "padding", padding, nd)
    d = _ntuple(op, "dilation", dilation, nd)
    if any(v <= 0 for v in k):
        raise RuntimeError(f"{op}: kernel_size should be greater than zero, but got {k}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"{op}: stride should not be zero (or negative), but got {s}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got {d}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or pp > kk // 2:  # PyTorch's rule, dilation or not
            raise RuntimeError(f"{op}: pad should be smaller than or equal to half of kernel "
                               f"size, but got pad={pp}, kernel_size={kk}")
    spatial = tuple(input.shape[-nd:])
    out = tuple(_pool_len(n, kk, ss, pp, dd, ceil_mode)
                for n, kk, ss, pp, dd in zip(spatial, k, s, p, d))
    if any(o < 1 for o in out):
        chans = input.shape[-nd - 1]
        raise RuntimeError(f"{op}: Given input size: ({'x'.join(map(str, (chans,) + spatial))})."
                           f" Calculated output size: ({'x'.join(map(str, (chans,) + out))}). "
                           "Output size is too small; use a smaller kernel or more padding")
    shape4 = _as4d(tuple(input.shape), nd, batched)
    one, zero = (1,) * (2 - nd), (0,) * (2 - nd)
    g = _Geom(one + k, one + s, one + d, zero + p, zero + p, shape4[2:], one + out)
    out_shape = tuple(input.shape[:-nd]) + out
    return g, shape4, out_shape


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    g, shape4, out_shape = _pool_geom(op, nd, input, kernel_size, stride, padding, dilation,
                                      ceil_mode, True)
    return MaxPool.apply(input, g, shape4, out_shape, bool(return_indices))


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling over (N, C, H, W) or (C, H, W).

    Args:
        kernel_size: window size, int or (kH, kW).
        stride: window step; defaults to ``kernel_size``.
        padding: implicit -inf padding on both sides (at most half the kernel).
        dilation: spacing between window elements.
        ceil_mode: round the output size up instead of down.
        return_indices: also return the argmax positions, flat in each channel's H*W (ties go
            to the first maximum in row-major order, as PyTorch).

    Example:
        >>> max_pool2d(ember.randn(1, 3, 8, 8), 2).shape
        ember.Size([1, 3, 4, 4])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-D max pooling over (N, C, L) or (C, L); arguments as max_pool2d with single ints."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    g, shape4, out_shape = _pool_geom(op, nd, input, kernel_size, stride, padding, 1, ceil_mode,
                                      False)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    return AvgPool.apply(input, g, shape4, out_shape, bool(count_include_pad), divisor_override)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling over (N, C, H, W) or (C, H, W).

    Args:
        kernel_size, stride, padding, ceil_mode: as max_pool2d (zero padding).
        count_include_pad: count the padding zeros in each window's divisor.
        divisor_override: divide every window sum by this instead.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L); arguments as avg_pool2d."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def _adaptive_setup(op: str, nd: int, input, output_size):
    batched = _pool_input(op, input, nd, "float")
    if isinstance(output_size, numbers.Integral) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {nd} values, got "
                         f"{output_size}")
    spatial = tuple(input.shape[-nd:])
    out = tuple(n if o is None else int(o) for n, o in zip(spatial, output_size))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{op}: output_size must be non-negative, got {output_size}")
    shape4 = _as4d(tuple(input.shape), nd, batched)
    out_hw = (1,) * (2 - nd) + out
    return shape4, out_hw, tuple(input.shape[:-nd]) + out


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size (H_out, W_out); None keeps that input size.

    Bin i of n inputs pooled to m outputs covers [floor(i*n/m), ceil((i+1)*n/m)), as PyTorch.

    Example:
        >>> adaptive_avg_pool2d(ember.randn(2, 8, 7, 7), 1).shape
        ember.Size([2, 8, 1, 1])
    """
    shape4, out_hw, out_shape = _adaptive_setup("adaptive_avg_pool2d", 2, input, output_size)
    return AdaptiveAvgPool.apply(input, shape4, out_hw, out_shape)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to a fixed length."""
    shape4, out_hw, out_shape = _adaptive_setup("adaptive_avg_pool1d", 1, input, output_size)
    return AdaptiveAvgPool.apply(input, shape4, out_hw, out_shape)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size; bins as adaptive_avg_pool2d.

    With ``return_indices`` also returns the flat H*W positions of the maxima.
    """
    shape4, out_hw, out_shape = _adaptive_setup("adaptive_max_pool2d", 2, input, output_size)
    return AdaptiveMaxPool.apply(input, shape4, out_hw, out_shape, bool(return_indices))


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, L) or (C, L) to a fixed length."""
    shape4, out_hw, out_shape = _adaptive_setup("adaptive_max_pool1d", 1, input, output_size)
    return AdaptiveMaxPool.apply(input, shape4, out_hw, out_shape, bool(return_indices))


def _first_max(slices) -> Tensor:
    """Elementwise maximum of the slices in order, an earlier one keeping a tie (PyTorch's
    window order) and a NaN winning, so the gradient goes where PyTorch sends it."""
    best = slices[0]
    for v in slices[1:]:
        best = elementwise.where((v > best) | elementwise.isnan(v), v, best)
    return best


# -- 3-D pooling lives in pool3d.py; its public functions still import from here ---------------
_POOL3D = ("max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d")


def __getattr__(name: str):
    # imported on first use: pool3d builds on this module, so it cannot be imported at the top
    if name in _POOL3D:
        from . import pool3d
        return getattr(pool3d, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
