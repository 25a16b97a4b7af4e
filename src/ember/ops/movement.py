"""Shape and movement primitives: reshape, permute, expand, cat, flip, roll, pad, copies.

Views (reshape, permute, expand) share memory and the version counter with their input.
Everything else here (squeeze, transpose, stack, repeat, split, ...) is composed from them.
"""
from __future__ import annotations

import numbers

from .. import _checks, backend, dtypes
from ..autograd.function import Function
from ..tensor import Tensor

_make = Tensor._make


def _shape_arg(shape) -> tuple:
    """(2, 3), [2, 3] or 2, 3 as a tuple of ints."""
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _infer_shape(op: str, shape: tuple, numel: int, in_shape) -> tuple:
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred, got shape {list(shape)}")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {s} in {list(shape)}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {numel} "
                           f"(input shape {list(in_shape)})")
    return shape


class Reshape(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        x = a._data
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class View(Function):
    is_view = True
    node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        x = a._data
        ctx.shape = x.shape
        out = x.view()
        try:
            out.shape = shape
        except AttributeError:
            raise RuntimeError(
                f"view: size {list(shape)} is not compatible with input tensor's size and stride "
                f"{list(x.shape)} (at least one dimension spans across two contiguous subspaces)."
                " Use .reshape(...) instead.") from None
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class Permute(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a._data.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return grad.permute(inverse), None


class Expand(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        return backend.xp_of(a._data).broadcast_to(a._data, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine sums the gradient back to the input's shape


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a._data.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


class CopyFrom(Function):
    """The value of ``target.copy_(src)``: src cast and broadcast to the target."""

    @staticmethod
    def forward(ctx, target, src):
        x, y = target._data, src._data
        if type(x) is not type(y) or backend.device_of(x) != backend.device_of(y):
            y = backend.to_device(y, backend.device_of(x))
        try:
            out = backend.xp_of(x).broadcast_to(y.astype(x.dtype, copy=False), x.shape)
        except ValueError:
            raise RuntimeError(f"copy_: source of shape {list(y.shape)} cannot be broadcast to "
                               f"the destination's shape {list(x.shape)}") from None
        return out.copy()

    @staticmethod
    def backward(ctx, grad):
        return None, grad


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.source = backend.device_of(a._data)
        return backend.to_device(a._data, device)

    @staticmethod
    def backward(ctx, grad):
        return grad.to(ctx.source), None


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        arrays = [t._data for t in tensors]
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return backend.xp_of(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        grads, start = [None], 0
        for size, needed in zip(ctx.sizes, ctx.needs_input_grad[1:]):
            grads.append(grad.narrow(ctx.dim, start, size) if needed else None)
            start += size
        return tuple(grads)


class Flip(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return backend.xp_of(a._data).flip(a._data, dims).copy()

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dims), None


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return backend.xp_of(a._data).roll(a._data, shifts, dims)

    @staticmethod
    def backward(ctx, grad):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return grad.roll(neg, ctx.dims), None, None


class PadConstant(Function):
    @staticmethod
    def forward(ctx, a, widths, value):
        x = a._data
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        xp = backend.xp_of(x)
        if all(lo >= 0 and hi >= 0 for lo, hi in widths):
            return xp.pad(x, widths, mode="constant", constant_values=value)
        # negative padding crops
        crop = tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi), n in zip(widths, x.shape))
        cropped = x[crop]
        pos = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
        ctx.slices = tuple(slice(max(lo, 0), max(lo, 0) + c) for (lo, _), c in
                           zip(widths, cropped.shape))
        ctx.crop, ctx.in_shape = crop, x.shape
        return xp.pad(cropped, pos, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        g = grad[ctx.slices]
        crop = getattr(ctx, "crop", None)
        if crop is not None:
            full = backend.xp_of(g._data).zeros(ctx.in_shape, g._data.dtype)
            full[crop] = g._data
            g = _make(full)
        return g, None, None


class Tril(Function):
    @staticmethod
    def forward(ctx, a, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        xp = backend.xp_of(a._data)
        return (xp.triu if upper else xp.tril)(a._data, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return (grad.triu if ctx.upper else grad.tril)(ctx.diagonal), None, None


# -- public functions ------------------------------------------------------------------------
def reshape(input, *shape):
    """The same elements in a new shape (a view when possible); one dim may be -1."""
    shape = _infer_shape("reshape", _shape_arg(shape), input._data.size, input._data.shape)
    if shape == input._data.shape:
        return Reshape.apply(input, shape) if input._requires_grad else _alias(input)
    return Reshape.apply(input, shape)


def view(input, *shape):
    """A view with a new shape; RuntimeError when the strides do not allow one."""
    if len(shape) == 1 and not isinstance(shape[0], (numbers.Integral, tuple, list)):
        return input.to(shape[0])  # view(dtype) reinterpretation is not supported; cast
    shape = _infer_shape("view", _shape_arg(shape), input._data.size, input._data.shape)
    return View.apply(input, shape)


def _alias(t):
    out = _make(t._data)
    out._vbox = t._vbox
    return out


def view_as(input, other):
    return view(input, other.shape)


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """Merges dims start_dim..end_dim into one."""
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s = _checks.dim(start_dim, len(shape), "flatten")
    e = _checks.dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    return reshape(input, shape[:s] + (-1,) + shape[e + 1:]) if shape[s:e + 1] else reshape(
        input, shape[:s] + (1,) + shape[e + 1:])


def unflatten(input, dim: int, sizes):
    """Splits dim ``dim`` into ``sizes`` (one of them may be -1)."""
    shape = input._data.shape
    d = _checks.dim(dim, len(shape), "unflatten")
    sizes = tuple(int(s) for s in sizes)
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    n = shape[d] if shape else 1
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (
            -1 in sizes and (known == 0 or n % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {d} ({n}) in the input tensor of shape {list(shape)}")
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


def squeeze(input, dim=None):
    """Removes size-1 dims (all, or those in ``dim``)."""
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        ds = _checks.dims(dim, len(shape), "squeeze")
        new = tuple(s for i, s in enumerate(shape) if not (i in ds and s == 1))
    return reshape(input, new)


def unsqueeze(input, dim: int):
    """Inserts a size-1 dim at ``dim``."""
    shape = input._data.shape
    d = _checks.dim(dim, len(shape) + 1, "unsqueeze")
    return reshape(input, shape[:d] + (1,) + shape[d:])


def permute(input, *dims):
    """The dims reordered; a view."""
    dims = _shape_arg(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute: number of dims don't match: input has {n} dims, "
                           f"got {len(dims)} ({list(dims)})")
    dims = tuple(_checks.dim(d, n, "permute") for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError(f"permute: repeated dim in {list(dims)}")
    return Permute.apply(input, dims)


def transpose(input, dim0: int, dim1: int):
    n = input._data.ndim
    if n == 0:
        return reshape(input, ())
    d0, d1 = _checks.dim(dim0, n, "transpose"), _checks.dim(dim1, n, "transpose")
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, tuple(dims))


swapaxes = swapdims = transpose


def t(input):
    """Transpose of a tensor with at most 2 dims."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input._data.ndim}D")
    return transpose(input, 0, 1) if input._data.ndim == 2 else reshape(input, input.shape)


def movedim(input, source, destination):
    n = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_checks.dim(d, n, "movedim") for d in src]
    dst = [_checks.dim(d, n, "movedim") for d in dst]
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, order)


moveaxis = movedim  # NumPy's name, as torch.moveaxis


moveaxis = movedim


def expand(input, *sizes):
    """A broadcast view to ``sizes``; -1 keeps a dim."""
    sizes = _shape_arg(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        old = shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dim")
            s = old
        elif old is not None and old != s and old != 1:
            raise RuntimeError(f"expand: the expanded size of the tensor ({s}) must match the "
                               f"existing size ({old}) at non-singleton dimension {i}. "
                               f"Target sizes: {list(sizes)}. Tensor sizes: {list(shape)}")
        target.append(s)
    return Expand.apply(input, tuple(target))


def expand_as(input, other):
    return expand(input, other.shape)


def broadcast_to(input, shape):
    return expand(input, shape)


def repeat(input, *repeats):
    """Tiles the tensor ``repeats[i]`` times along each dim (numpy.tile semantics)."""
    repeats = _shape_arg(repeats)
    shape = input._data.shape
    if len(repeats) < len(shape):
        raise RuntimeError("repeat: number of repeat dims can not be smaller than number of "
                           "tensor dims")
    shape = (1,) * (len(repeats) - len(shape)) + shape
    # (r0, s0, r1, s1, ...) then merge each pair
    x = reshape(input, tuple(v for s in shape for v in (1, s)))
    x = expand(x, tuple(v for r, s in zip(repeats, shape) for v in (r, s)))
    return reshape(x, tuple(r * s for r, s in zip(repeats, shape)))


def tile(input, *dims):
    dims = _shape_arg(dims)
    dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


def cat(tensors, dim: int = 0):
    """Joins tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        _checks.tensor_type("cat", f"tensors[{i}]", t)
    ref = max(tensors, key=lambda t: t._data.ndim)
    n = ref._data.ndim
    if n == 0:
        raise RuntimeError("cat: zero-dimensional tensor cannot be concatenated")
    d = _checks.dim(dim, n, "cat")
    # PyTorch skips 1-D empty tensors (legacy behaviour)
    tensors = [t for t in tensors if not (t._data.ndim == 1 and t._data.size == 0)] or tensors[:1]
    dt = dtypes.result_type(*(t._data for t in tensors))
    dev = backend.device_of(tensors[0]._data)
    for i, t in enumerate(tensors):
        if t._data.ndim != n or any(a != b for j, (a, b) in enumerate(
                zip(t._data.shape, ref._data.shape)) if j != d):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {d}: "
                               f"tensors[0] {list(tensors[0].shape)} vs tensors[{i}] "
                               f"{list(t.shape)}")
        if backend.device_of(t._data) != dev:
            raise RuntimeError(f"cat: tensors on different devices: tensors[0] on {dev} vs "
                               f"tensors[{i}] on {t.device}; move them with .to()")
    tensors = [t if t._data.dtype == dt else t.to(dtypes.from_numpy(dt)) for t in tensors]
    return Cat.apply(d, *tensors)


concat = concatenate = cat


def stack(tensors, dim: int = 0):
    """Joins tensors of equal shape along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of Tensors")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        _checks.tensor_type("stack", f"tensors[{i}]", t)
        if t.shape != shape:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    d = _checks.dim(dim, len(shape) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def hstack(tensors):
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    return cat([t if t._data.ndim > 1 else reshape(t, (1, -1)) for t in tensors], 0)


def narrow(input, dim: int, start: int, length: int):
    """input[..., start:start+length, ...] along ``dim``; a view."""
    d = _checks.dim(dim, input._data.ndim, "narrow")
    size = input._data.shape[d]
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({size}) of dim {d}")
    index = (slice(None),) * d + (slice(start, start + length),)
    return input[index]


def split(input, split_size_or_sections, dim: int = 0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or given sizes."""
    d = _checks.dim(dim, input._data.ndim, "split")
    size = input._data.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        step = int(split_size_or_sections)
        if step <= 0 and size:
            raise RuntimeError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, size - s) for s in range(0, size, step)] if size else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != size:
            raise RuntimeError(f"split: split_with_sizes expects split_sizes to sum exactly to "
                               f"{size} (input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(input, d, start, s))
        start += s
    return tuple(out)


def chunk(input, chunks: int, dim: int = 0):
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be greater than 0, got {chunks}")
    size = input._data.shape[_checks.dim(dim, input._data.ndim, "chunk")]
    return split(input, max(-(-size // chunks), 1), dim)


def unbind(input, dim: int = 0):
    """The slices along ``dim``, each without that dim."""
    d = _checks.dim(dim, input._data.ndim, "unbind")
    return tuple(input[(slice(None),) * d + (i,)] for i in range(input._data.shape[d]))


def flip(input, *dims):
    dims = _shape_arg(dims)
    dims = tuple(_checks.dim(d, input._data.ndim, "flip") for d in dims)
    return Flip.apply(input, dims if input._data.ndim else ())


def fliplr(input):
    return flip(input, 1)


def flipud(input):
    return flip(input, 0)


def roll(input, shifts, dims=None):
    """Elements shifted cyclically along ``dims`` (flattened when dims is None)."""
    if dims is None:
        return reshape(Roll.apply(flatten(input), shifts, 0), input._data.shape)
    if isinstance(shifts, (list, tuple)):
        shifts = tuple(shifts)
        dims = tuple(_checks.dim(d, input._data.ndim, "roll") for d in dims)
    else:
        dims = _checks.dim(dims, input._data.ndim, "roll") if isinstance(dims, int) else tuple(dims)
    return Roll.apply(input, shifts, dims)


def clone(input, *, memory_format=None):
    """A copy that stays in the graph (gradient flows back unchanged)."""
    return Clone.apply(input)


def contiguous(input):
    return Clone.apply(input)


def copy_from(target, src):
    if not isinstance(src, Tensor):
        src = _make(backend.xp_of(target._data).asarray(src, dtype=target._data.dtype))
    return CopyFrom.apply(target, src)


def to_device(input, device):
    return ToDevice.apply(input, device)


def _diagonal_view(x, offset, d1, d2):
    out = backend.xp_of(x).diagonal(x, offset, d1, d2)
    if not getattr(out.flags, "writeable", True):
        out.flags.writeable = True  # NumPy marks it read-only only by convention; torch writes
    return out


class Diagonal(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.shape, ctx.args = a._data.shape, (offset, d1, d2)
        return _diagonal_view(a._data, offset, d1, d2)

    @staticmethod
    def backward(ctx, grad):
        return DiagonalScatter.apply(grad, ctx.shape, *ctx.args), None, None, None


class DiagonalScatter(Function):
    """Zeros of ``shape`` with ``src`` on the given diagonal: the gradient of diagonal."""

    @staticmethod
    def forward(ctx, src, shape, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        out = backend.xp_of(src._data).zeros(shape, src._data.dtype)
        _diagonal_view(out, offset, d1, d2)[...] = src._data
        return out

    @staticmethod
    def backward(ctx, grad):
        return diagonal(grad, *ctx.args), None, None, None, None


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """The diagonal over ``dim1`` and ``dim2`` as a view, appended as the last dim."""
    n = input._data.ndim
    d1, d2 = _checks.dim(dim1, n, "diagonal"), _checks.dim(dim2, n, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal(): dimensions cannot be identical {dim1}, {dim2}; pass two "
                           "different dims")
    return Diagonal.apply(input, offset, d1, d2)


def tril(input, diagonal: int = 0):
    return Tril.apply(input, diagonal, False)


def triu(input, diagonal: int = 0):
    return Tril.apply(input, diagonal, True)


def pad_constant(input, pad, value=0.0):
    """Constant padding; ``pad`` lists (left, right) pairs from the last dim backwards."""
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    n = input._data.ndim
    if len(pad) // 2 > n:
        raise RuntimeError(f"pad: padding length {len(pad)} is too large for an input with "
                           f"{n} dims")
    widths = [(0, 0)] * n
    for i in range(len(pad) // 2):
        widths[n - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return PadConstant.apply(input, tuple(widths), value)


def reshape_as(input, other):
    return reshape(input, other.shape)
