"""Shape and movement primitives: reshape, permute, expand, cat, flip, roll, pad, copies,
diagonals and strided views (as_strided, unfold).

Views (reshape, permute, expand, diagonal, as_strided, unfold) share memory and the version
counter with their input. Everything else here (squeeze, transpose, stack, repeat, split,
tensor_split, rot90, the *_scatter ops, ...) is composed from them and from indexing.
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np

from .. import _checks, backend, dtypes
from ..amp import _policy as _amp
from ..autograd.function import Function
from ..tensor import Size, Tensor

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
    if _amp.on and _amp.applies("cat", tensors):
        return _amp.run("cat", cat, tensors, dim)
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
    if _amp.on and _amp.applies("stack", tensors):
        return _amp.run("stack", stack, tensors, dim)

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


# -- more splits and stacks ------------------------------------------------------------------
def _slice_along(input, d: int, start, stop, step=None):
    return input[(slice(None),) * d + (slice(start, stop, step),)]


def _sections(value):
    """An int (a number of sections) or a list of split indices, from ints, lists or a tensor."""
    if isinstance(value, Tensor):
        if value._data.dtype != dtypes.int64.numpy:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have int64 "
                               f"dtype, but got {value.dtype.name}")
        if value._data.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a "
                               f"zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {value._data.ndim} dims")
        value = value.tolist()  # a host read, as PyTorch (which wants a CPU tensor here)
    if isinstance(value, numbers.Integral):
        return int(value)
    return [int(v) for v in value]


def tensor_split(input, indices_or_sections, dim: int = 0):
    """Views along ``dim``: ``n`` sections as equal as possible (the first ``size % n`` are one
    longer), or the pieces between the given indices (sliced as Python slices, maybe empty).

    Example:
        >>> [t.tolist() for t in ember.tensor_split(ember.arange(5), 2)]
        [[0, 1, 2], [3, 4]]
    """
    _checks.tensor_type("tensor_split", "input", input)
    if input._data.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _checks.dim(dim, input._data.ndim, "tensor_split")
    sections, size = _sections(indices_or_sections), input._data.shape[d]
    if isinstance(sections, int):
        if sections <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got "
                               f"{sections}")
        q, r = divmod(size, sections)
        sections = [i * q + min(i, r) for i in range(1, sections)]
    bounds = [0] + sections + [size]
    return tuple(_slice_along(input, d, a, b) for a, b in zip(bounds, bounds[1:]))


def _split_by(op: str, input, sections, dim: int, min_dims: int):
    n = input._data.ndim
    if n < min_dims:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_dims} dimension, "
                           f"but got a tensor with {n} dimensions!")
    if isinstance(sections, numbers.Integral):
        size = input._data.shape[dim]
        if sections <= 0 or size % sections:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {size} is not divisible by the "
                               f"split_size {sections}!")
    return tensor_split(input, sections, dim)


def hsplit(input, sections):
    """tensor_split along dim 1 (dim 0 for 1-D); an int must divide the size exactly."""
    return _split_by("hsplit", input, sections, 1 if input._data.ndim > 1 else 0, 1)


def vsplit(input, sections):
    """tensor_split along dim 0 of a tensor with at least 2 dims."""
    return _split_by("vsplit", input, sections, 0, 2)


def dsplit(input, sections):
    """tensor_split along dim 2 of a tensor with at least 3 dims."""
    return _split_by("dsplit", input, sections, 2, 3)


def split_with_sizes(input, split_sizes, dim: int = 0):
    """Views of the given sizes along ``dim`` (they must sum to its size)."""
    sizes = [int(s) for s in split_sizes]
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, "
                           f"but got split_sizes={sizes}")
    return split(input, sizes, dim)


unsafe_split, unsafe_chunk, unsafe_split_with_sizes = split, chunk, split_with_sizes


def _nonempty(op: str, tensors) -> list:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        _checks.tensor_type(op, f"tensors[{i}]", t)
    return tensors


def column_stack(tensors):
    """Tensors side by side as columns: 0-d and 1-d ones become (n, 1) first."""
    tensors = _nonempty("column_stack", tensors)
    return hstack([reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in tensors])


row_stack = vstack


def dstack(tensors):
    """Tensors stacked depth-wise (along dim 2) after atleast_3d."""
    tensors = _nonempty("dstack", tensors)
    return cat([reshape(t, _at_least_3d(t._data.shape)) for t in tensors], 2)


def _at_least_3d(shape: tuple) -> tuple:
    # PyTorch's placement: () -> (1, 1, 1), (k,) -> (1, k, 1), (a, b) -> (a, b, 1)
    return {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}.get(len(shape), shape)


def rot90(input, k: int = 1, dims=(0, 1)):
    """Rotated by 90 degrees ``k`` times in the plane of ``dims``, from the first towards
    the second."""
    dims, n = list(dims), input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = "
                           f"{len(dims)}")
    if n < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {n}")
    d0, d1 = (_checks.dim(d, n, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} "
                           f"and dim1 = {d1}")
    k %= 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return clone(input)


def ravel(input):
    """The elements as a 1-D tensor (a view when the memory allows)."""
    return reshape(input, -1)


def broadcast_shapes(*shapes):
    """The shape tensors of ``shapes`` broadcast to (ints count as 1-D shapes)."""
    return _broadcast_shapes("broadcast_shapes", shapes)


def _broadcast_shapes(op: str, shapes):
    shapes = [(int(s),) if isinstance(s, numbers.Integral) else tuple(int(v) for v in s)
              for s in shapes]
    out = []
    for sizes in itertools.zip_longest(*(reversed(s) for s in shapes), fillvalue=1):
        wanted = {s for s in sizes if s != 1}
        if len(wanted) > 1 or any(s < 0 for s in sizes):
            raise RuntimeError(f"{op}: shape mismatch: objects cannot be broadcast to a single "
                               f"shape: {[list(s) for s in shapes]}")
        out.append(wanted.pop() if wanted else 1)
    return Size(reversed(out))


def broadcast_tensors(*tensors):
    """The tensors expanded (as views) to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        _checks.tensor_type("broadcast_tensors", f"tensors[{i}]", t)
    shape = _broadcast_shapes("broadcast_tensors", [t._data.shape for t in tensors])
    return tuple(t if t._data.shape == shape else expand(t, shape) for t in tensors)


# -- diagonals -------------------------------------------------------------------------------
def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """Each last-dim vector of input placed on the ``offset`` diagonal of the (dim1, dim2)
    planes of a new, zero tensor with one more dim."""
    n = input._data.ndim + 1
    d1, d2 = _checks.dim(dim1, n, "diag_embed"), _checks.dim(dim2, n, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    size = input._data.shape[-1] + abs(offset)
    shape = list(input._data.shape[:-1])
    for d in sorted((d1, d2)):
        shape.insert(d, size)
    return DiagonalScatter.apply(input, tuple(shape), offset, d1, d2)


def diag(input, diagonal: int = 0):
    """A 1-D input on the ``diagonal`` of a square matrix, or a copy of a matrix's diagonal."""
    nd = input._data.ndim
    if nd == 1:
        n = input._data.shape[0] + abs(diagonal)
        return DiagonalScatter.apply(input, (n, n), diagonal, 0, 1)
    if nd == 2:
        return Clone.apply(Diagonal.apply(input, diagonal, 0, 1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")


def diagflat(input, offset: int = 0):
    """The flattened input on the ``offset`` diagonal of a square matrix."""
    return diag(reshape(input, -1), offset)


def _check_slice_size(op: str, src, view) -> None:
    _checks.tensor_type(op, "src", src)
    if src._data.shape != view._data.shape:
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. src "
                           f"size = {list(src.shape)}, slice size = {list(view.shape)}")


def _as_dtype_of(src, input):
    return src if src._data.dtype == input._data.dtype else src.to(input.dtype)


def diagonal_scatter(input, src, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """A copy of input with ``src`` on its diagonal (as ``diagonal(input, ...)`` selects it)."""
    from .elementwise import where
    _check_slice_size("diagonal_scatter", src, diagonal(input, offset, dim1, dim2))
    n = input._data.ndim
    d1, d2 = _checks.dim(dim1, n), _checks.dim(dim2, n)
    shape = input._data.shape
    mask = backend.xp_of(input._data).zeros(shape, bool)
    _diagonal_view(mask, offset, d1, d2)[...] = True
    placed = DiagonalScatter.apply(_as_dtype_of(src, input), shape, offset, d1, d2)
    return where(_make(mask), placed, input)


def fill_diagonal(input, fill_value, wrap: bool = False):
    """A copy of input with ``fill_value`` on its main diagonal (all dims of equal size for
    more than 2 dims); ``wrap`` restarts the diagonal of a tall matrix every n + 1 rows."""
    from .elementwise import where
    from .indexing import _fill_value
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"fill_diagonal_: dimensions must larger than 1, got {len(shape)}")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError(f"fill_diagonal_: all dimensions of input must be of equal length, "
                           f"got {list(shape)}")
    numel = input._data.size
    strides = [1]
    for s in reversed(shape[1:]):
        strides.insert(0, strides[0] * s)
    step = sum(strides)
    end = numel if wrap or len(shape) > 2 else min(numel, shape[1] * shape[1])
    mask = backend.xp_of(input._data).zeros(numel, bool)
    mask[:end:step] = True
    return where(_make(mask.reshape(shape)), _fill_value("fill_diagonal_", input, fill_value),
                 input)


# -- select, slices and their scatters ---------------------------------------------------------
def select(input, dim: int, index: int):
    """The slice at ``index`` along ``dim``, without that dim; a view."""
    n = input._data.ndim
    if n == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _checks.dim(dim, n, "select")
    size, index = input._data.shape[d], int(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return input[(slice(None),) * d + (index,)]


def select_scatter(input, src, dim: int, index: int):
    """A copy of input with ``src`` written where ``select(input, dim, index)`` reads."""
    from .indexing import index_put
    _check_slice_size("select_scatter", src, select(input, dim, index))
    d = _checks.dim(dim, input._data.ndim)
    return index_put(input, (slice(None),) * d + (int(index),), src)


def slice_scatter(input, src, dim: int = 0, start=None, end=None, step: int = 1):
    """A copy of input with ``src`` written into the slice start:end:step along ``dim``."""
    from .indexing import index_put
    d = _checks.dim(dim, input._data.ndim, "slice_scatter")
    if step <= 0:
        raise RuntimeError(f"slice_scatter: slice step must be positive, got {step}")
    index = (slice(None),) * d + (slice(start, end, step),)
    _check_slice_size("slice_scatter", src, input[index])
    return index_put(input, index, src)


def narrow_copy(input, dim: int, start: int, length: int):
    """narrow, as a new tensor."""
    return clone(narrow(input, dim, start, length))


# -- strided views -------------------------------------------------------------------------------
def _pointer(x) -> int:
    iface = getattr(x, "__cuda_array_interface__", None) or x.__array_interface__
    return iface["data"][0]


def _storage(x):
    """(the array owning x's memory, x's offset into it in elements, its length): PyTorch's
    storage. An array whose owner is no plain array of its kind is its own storage; None
    when that memory is not one block."""
    root = x
    while type(getattr(root, "base", None)) is type(x):
        root = root.base
    if root is not x and (root.dtype != x.dtype or not _one_block(root)):
        root = x
    if not _one_block(root):
        return None
    return root, (_pointer(x) - _pointer(root)) // x.itemsize, root.size


def _one_block(x) -> bool:
    return x.flags.c_contiguous or x.flags.f_contiguous


def _element_strides(x) -> tuple:
    return tuple(s // x.itemsize for s in x.strides)


def _extent(size, stride, offset: int) -> int:
    """The storage length a strided view needs."""
    if 0 in size:
        return 0
    return offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1


def _positions(xp, size, stride, offset: int):
    """The storage position of every element of a strided view, as an int64 array."""
    pos = xp.full(tuple(size), offset, np.int64)
    for i, (n, s) in enumerate(zip(size, stride)):
        pos = pos + (xp.arange(n, dtype=np.int64) * s).reshape(
            (1,) * i + (n,) + (1,) * (len(size) - i - 1))
    return pos


class AsStrided(Function):
    """A strided view of input's storage. ``expected`` is input's (strides, storage offset)
    when the view was taken: replayed on another tensor of that shape (a gradient, by the
    view machinery), the tensor is first laid out that way, as PyTorch does."""

    is_view = True

    @staticmethod
    def forward(ctx, a, size, stride, offset, expected):
        x = a._data
        ctx.geometry, ctx.out = (x.shape,) + expected, (size, stride, offset)
        owner, storage = backend.of(x), _storage(x)
        if storage is not None and (_element_strides(x), storage[1]) == expected:
            root, _, length = storage
        else:
            xp = backend.xp_of(x)
            length = max(_extent(size, stride, offset), _extent(x.shape, *expected), 1)
            root = xp.zeros(length, x.dtype)
            root[_positions(xp, x.shape, *expected)] = x
        flat = owner.as_strided(root, (length,), (x.itemsize,), writeable=True)[offset:]
        return owner.as_strided(flat, size, tuple(s * x.itemsize for s in stride),
                                writeable=True)

    @staticmethod
    def backward(ctx, grad):
        return _strided_grad(grad, ctx.out, ctx.geometry), None, None, None, None


def _strided_grad(grad, out_geometry, in_geometry):
    """The gradient of a strided view's input: ``grad`` summed per storage position and read
    back through the input's geometry (shared evenly where the input overlaps itself)."""
    from .indexing import index_add, index_select
    data = grad._data
    xp = backend.xp_of(data)
    shape, strides, own = in_geometry
    if data.size == 0 or 0 in shape:
        return _make(xp.zeros(shape, data.dtype))
    length = max(_extent(*out_geometry), _extent(shape, strides, own))
    out_pos = _make(_positions(xp, *out_geometry).reshape(-1))
    in_pos = _positions(xp, shape, strides, own).reshape(-1)
    summed = index_add(_make(xp.zeros(length, data.dtype)), 0, out_pos, reshape(grad, -1))
    g = reshape(index_select(summed, 0, _make(in_pos)), shape)
    if any(s == 0 and n > 1 for n, s in zip(shape, strides)):
        counts = xp.zeros(length, data.dtype)
        backend.of(counts).scatter_add(counts, in_pos, xp.ones(in_pos.shape, data.dtype))
        g = g / _make(counts[in_pos].reshape(shape))
    return g


def _strided_args(op: str, size, stride):
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"{op}: mismatch in length of strides and shape: size {list(size)} "
                           f"vs stride {list(stride)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{op}: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    if any(s < 0 for s in size):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension: "
                           f"{list(size)}")
    return size, stride


def _check_extent(op: str, size, stride, offset: int, itemsize: int, length: int) -> None:
    needed = _extent(size, stride, offset)
    if needed > length or offset < 0:
        raise RuntimeError(f"{op}: setStorage: sizes {list(size)}, strides {list(stride)}, "
                           f"storage offset {offset}, and itemsize {itemsize} requiring a "
                           f"storage size of {needed * itemsize} are out of bounds for storage "
                           f"of size {length * itemsize}")


def as_strided(input, size, stride, storage_offset: int | None = None):
    """A view of input's memory with the given size, stride and storage offset (in elements;
    the offset defaults to input's own). Writes through it change input.

    Example:
        >>> ember.arange(4.).as_strided((3, 2), (1, 1))
        tensor([[0., 1.],
                [1., 2.],
                [2., 3.]])
    """
    _checks.tensor_type("as_strided", "input", input)
    size, stride = _strided_args("as_strided", size, stride)
    x = input._data
    storage = _storage(x)
    if storage is None:
        raise RuntimeError(f"as_strided: ember needs the tensor's memory to be one block; this "
                           f"one (shape {tuple(x.shape)}, strides {tuple(x.strides)} bytes) is "
                           f"not: call .contiguous() first")
    _, own, length = storage
    offset = own if storage_offset is None else int(storage_offset)
    _check_extent("as_strided", size, stride, offset, x.itemsize, length)
    return AsStrided.apply(input, size, stride, offset, (_element_strides(x), own))


def as_strided_scatter(input, src, size, stride, storage_offset: int | None = None):
    """A copy of input (laid out contiguously) with ``src`` written where
    ``as_strided(size, stride, storage_offset)`` of that copy reads."""
    from .indexing import index_put
    size, stride = _strided_args("as_strided_scatter", size, stride)
    offset = 0 if storage_offset is None else int(storage_offset)
    _check_extent("as_strided_scatter", size, stride, offset, input._data.itemsize,
                  input._data.size)
    _checks.tensor_type("as_strided_scatter", "src", src)
    if src._data.shape != size:
        raise RuntimeError(f"as_strided_scatter: expected src to have a size equal to the slice "
                           f"of self. src size = {list(src.shape)}, slice size = {list(size)}")
    pos = _make(_positions(backend.xp_of(input._data), size, stride, offset))
    return reshape(index_put(reshape(input, -1), (pos,), src), input._data.shape)


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad: bool = False):
    """An uninitialised tensor with the given strides (in elements)."""
    from ..creation import empty
    size, stride = _strided_args("empty_strided", size, stride)
    buffer = empty(max(_extent(size, stride, 0), 1), dtype=dtype, device=device)
    out = AsStrided.apply(buffer, size, stride, 0, ((1,), 0))
    out = _make(out._data)  # a fresh tensor, nobody's view
    return out.requires_grad_(True) if requires_grad else out


class Unfold(Function):
    """Sliding windows of ``size`` every ``step`` along ``dim``, as a new last dim; a view."""

    is_view = True

    @staticmethod
    def forward(ctx, a, dim, size, step):
        x = a._data
        ctx.shape, ctx.args = x.shape, (dim, size, step)
        count = (x.shape[dim] - size) // step + 1
        shape = x.shape[:dim] + (count,) + x.shape[dim + 1:] + (size,)
        st = x.strides
        strides = st[:dim] + (st[dim] * step,) + st[dim + 1:] + (st[dim],)
        return backend.of(x).as_strided(x, shape, strides, writeable=True)

    @staticmethod
    def backward(ctx, grad):
        from .indexing import index_add
        dim, size, step = ctx.args
        count = grad._data.shape[dim]
        xp = backend.xp_of(grad._data)
        # window w's element j sits at w * step + j along dim
        index = (xp.arange(count)[:, None] * step + xp.arange(size)[None, :]).reshape(-1)
        g = movedim(grad, -1, dim + 1)  # (..., count, size, ...)
        g = reshape(g, ctx.shape[:dim] + (count * size,) + ctx.shape[dim + 1:])
        zeros = _make(xp.zeros(ctx.shape, grad._data.dtype))
        return index_add(zeros, dim, _make(index.astype(np.int64)), g), None, None, None


def unfold(input, dimension: int, size: int, step: int):
    """A view of every window of ``size`` elements, ``step`` apart, along ``dimension``: that dim
    becomes the window count and the windows' elements a new last dim (Tensor.unfold).

    Example:
        >>> ember.arange(5.).unfold(0, 2, 2)
        tensor([[0., 1.],
                [2., 3.]])
    """
    x = input._data
    if x.ndim == 0:
        return reshape(unfold(reshape(input, (1,)), 0, size, step), (size,))
    d = _checks.dim(dimension, x.ndim, "unfold")
    if size < 0 or size > x.shape[d]:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {x.shape[d]} "
                           f"but size is {size}")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    return Unfold.apply(input, d, int(size), int(step))


# -- copying versions of the view ops (torch.*_copy) -------------------------------------------
def _copying(view_op, name: str):
    def op(input, *args, **kwargs):
        out = view_op(input, *args, **kwargs)
        return tuple(clone(t) for t in out) if isinstance(out, tuple) else clone(out)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{view_op.__name__}``, as a new tensor rather than a view."
    return op


def _slice(input, dim: int = 0, start=None, end=None, step: int = 1):
    return _slice_along(input, _checks.dim(dim, input._data.ndim, "slice"), start, end, step)


alias_copy = _copying(lambda input: input, "alias_copy")
detach_copy = _copying(lambda input: input.detach(), "detach_copy")
as_strided_copy = _copying(as_strided, "as_strided_copy")
diagonal_copy = _copying(diagonal, "diagonal_copy")
expand_copy = _copying(lambda input, size, *, implicit=False: expand(input, size), "expand_copy")
permute_copy = _copying(permute, "permute_copy")
select_copy = _copying(select, "select_copy")
slice_copy = _copying(_slice, "slice_copy")
split_copy = _copying(split, "split_copy")
split_with_sizes_copy = _copying(split_with_sizes, "split_with_sizes_copy")
squeeze_copy = _copying(squeeze, "squeeze_copy")
t_copy = _copying(t, "t_copy")
transpose_copy = _copying(transpose, "transpose_copy")
unbind_copy = _copying(unbind, "unbind_copy")
unfold_copy = _copying(unfold, "unfold_copy")
unsqueeze_copy = _copying(unsqueeze, "unsqueeze_copy")
view_copy = _copying(view, "view_copy")
