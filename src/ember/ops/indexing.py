"""Indexing: tensor[index] and tensor[index] = value, the gather/scatter family (with
scatter_reduce, index_copy, index_reduce, take, put), masks, sorting (sort, argsort, topk),
nonzero and one_hot.

Basic indices (ints, slices, None, ...) give views; integer tensors, lists and boolean masks
give copies. Backward scatters the gradient into zeros, accumulating repeated indices; the
backward of every op here is built from ops of this module, so double backward works.
"""
from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np

from .. import _checks, backend, dtypes
from ..amp import _policy as _amp
from ..autograd.function import Function
from ..tensor import Tensor

_make = Tensor._make


def _convert(index, xp, ndim: int):
    """A user index as the array library understands it; and whether it is basic (a view).

    An index mixing integers with tensor indices is returned as a ``_Split``: PyTorch applies
    ints, slices and None first, then the tensor indices to what remains, which places the
    result's dims differently from NumPy (``x[0, :, [0, 1]]`` is (n, 2) in PyTorch).
    """
    if type(index) is list and _list_is_tuple(index):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated "
                      "(as in PyTorch); use x[tuple(seq)] instead of x[seq]", UserWarning,
                      stacklevel=4)
        index = tuple(index)
    elif not isinstance(index, tuple):
        index = (index,)
    out, basic, has_int = [], True, False
    for item in index:
        if isinstance(item, (bool, np.bool_)):
            item = xp.asarray(item)  # a 0-d mask: True adds a dim of size 1, False of size 0
            basic = False
        elif isinstance(item, Tensor):
            item = item._data
            if item.dtype.kind not in "iub":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 f"tensors, got {dtypes.from_numpy(item.dtype).name}")
            basic = False
        elif isinstance(item, (list, np.ndarray)):
            item = xp.asarray(item)
            if item.dtype.kind not in "iub":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 f"tensors, got {item.dtype}")
            basic = False
        elif isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
        elif isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            has_int = True
        elif item is not None and item is not Ellipsis:
            raise IndexError(f"only integers, slices, Ellipsis, None, and integer or boolean "
                             f"tensors are valid indices, got {type(item).__name__}")
        if getattr(item, "dtype", None) is not None and item.dtype == np.uint8:
            item = item.astype(bool)  # byte masks, as PyTorch
        out.append(item)
    if has_int and not basic:
        return _split(out, ndim), False
    return tuple(out), basic


def _list_is_tuple(index: list) -> bool:
    """PyTorch's (and old NumPy's) rule: a short list holding a sequence, slice, tensor,
    None or Ellipsis indexes like a tuple (``x[[[0, 1], [1, 2]]]`` is ``x[[0, 1], [1, 2]]``)."""
    return len(index) < 32 and any(
        isinstance(i, (list, tuple, slice, Tensor, np.ndarray)) or i is None or i is Ellipsis
        for i in index)


class _Split:
    """``x[basic][advanced]``: an index whose ints are applied before its tensor indices."""

    __slots__ = ("basic", "advanced")

    def __init__(self, basic: tuple, advanced: tuple):
        self.basic, self.advanced = basic, advanced


def _split(items: list, ndim: int) -> _Split:
    def width(item):  # how many dims of the input an index item consumes
        if item is None:
            return 0
        return item.ndim if getattr(item, "dtype", None) is not None and item.dtype == bool else 1

    used = sum(width(i) for i in items if i is not Ellipsis)
    basic, advanced = [], []
    for item in items:
        if item is Ellipsis:
            basic += [slice(None)] * (ndim - used)
            advanced += [slice(None)] * (ndim - used)
        elif item is None or isinstance(item, slice):
            basic.append(item)
            advanced.append(slice(None))
        elif isinstance(item, (int, np.integer)):
            basic.append(item)
        else:
            basic += [slice(None)] * width(item)
            advanced.append(item)
    return _Split(tuple(basic), tuple(advanced))


def _at(array, index):
    if type(index) is _Split:
        return array[index.basic][index.advanced]
    return array[index]


def _put(array, index, value) -> None:
    if type(index) is _Split:
        array[index.basic][index.advanced] = value  # the basic part is a view: writes through
    else:
        array[index] = value


def _add_at(array, index, values) -> None:
    if type(index) is _Split:
        view = array[index.basic]
        backend.of(array).scatter_add(view, index.advanced, values)
    else:
        backend.of(array).scatter_add(array, index, values)


def _index_error(exc, shape):
    return IndexError(f"index: {exc} (indexing a tensor of shape {tuple(shape)})")


class GetItem(Function):
    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, a, index, basic):
        x = a._data
        ctx.shape, ctx.index, ctx.basic = x.shape, index, basic
        try:
            return _at(x, index)
        except IndexError as exc:
            raise _index_error(exc, x.shape) from None

    @staticmethod
    def backward(ctx, grad):
        return IndexGrad.apply(grad, ctx.shape, ctx.index, ctx.basic), None, None


class ViewItem(GetItem):
    is_view = True
    node_name = "SliceBackward0"


class IndexGrad(Function):
    """The gradient of ``x[index]``: zeros of x's shape with ``grad`` added at ``index``."""

    @staticmethod
    def forward(ctx, grad, shape, index, basic):
        g = grad._data
        ctx.index, ctx.basic = index, basic
        out = backend.xp_of(g).zeros(shape, g.dtype)
        if basic:
            out[index] = g
        else:
            _add_at(out, index, g)
        return out

    @staticmethod
    def backward(ctx, grad):
        cls = ViewItem if ctx.basic else GetItem
        return cls.apply(grad, ctx.index, ctx.basic), None, None, None


def getitem(input: Tensor, index) -> Tensor:
    """``input[index]`` with PyTorch's indexing rules (NumPy's, but ints apply first)."""
    xp = backend.xp_of(input._data)
    index, basic = _convert(index, xp, input._data.ndim)
    return (ViewItem if basic else GetItem).apply(input, index, basic)


class IndexPut(Function):
    """The value of ``target[index] = value``, out of place (the caller writes it back)."""

    @staticmethod
    def forward(ctx, target, index, value):
        x = target._data
        out = x.copy()
        v = value._data if isinstance(value, Tensor) else value
        ctx.index = index
        try:
            _put(out, index, v)
        except IndexError as exc:
            raise _index_error(exc, x.shape) from None
        except ValueError:
            raise RuntimeError(f"index_put: shape mismatch: value tensor of shape "
                               f"{tuple(getattr(v, 'shape', ()))} cannot be broadcast to the "
                               f"indexing result of shape {tuple(_at(x, index).shape)}") from None
        return out

    @staticmethod
    def backward(ctx, grad):
        need_target, _, need_value = ctx.needs_input_grad
        gt = IndexPut.apply(grad, ctx.index, 0.0) if need_target else None
        gv = GetItem.apply(grad, ctx.index, False) if need_value else None
        return gt, None, gv


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of input with ``input[indices] = values`` (``+=`` with ``accumulate``, where
    repeated indices add up); ``indices`` is a tuple of index tensors.

    Example:
        >>> ember.zeros(3).index_put((ember.tensor([0, 0]),), ember.tensor(1.), accumulate=True)
        tensor([2., 0., 0.])
    """
    if _amp.on and _amp.applies("index_put", input, values):
        return _amp.run("index_put", index_put, input, indices, values, accumulate)
    _checks.tensor_type("index_put", "input", input)
    if isinstance(indices, list):
        indices = tuple(indices)
    return _index_put(input, indices, values, accumulate)


def _index_put(input: Tensor, index, value, accumulate: bool = False) -> Tensor:
    """``input[index] = value`` out of place, for any index ``input[index]`` accepts."""
    xp = backend.xp_of(input._data)
    index, basic = _convert(index, xp, input._data.ndim)
    if isinstance(value, Tensor) and value._data.dtype != input._data.dtype:
        value = value.to(input.dtype)
    if not accumulate:
        return IndexPut.apply(input, index, value)
    if not isinstance(value, Tensor):
        value = _make(xp.asarray(value, dtype=input._data.dtype))
    shape = _at(input._data, index).shape  # the engine sums the gradient back to value's shape
    try:
        value = value.expand(shape) if value._data.shape != shape else value
    except RuntimeError:
        raise RuntimeError(f"index_put: shape mismatch: value tensor of shape "
                           f"{tuple(value.shape)} cannot be broadcast to the indexing result of "
                           f"shape {tuple(shape)}") from None
    return input + IndexGrad.apply(value, input._data.shape, index, basic)


_index_put.__name__ = "index_put"  # in-place error messages name index_put_


def setitem(input: Tensor, index, value) -> None:
    """``input[index] = value`` in place; recorded in the graph when gradients flow."""
    from ..autograd.grad_mode import _State
    if _State.enabled and (input._requires_grad or isinstance(value, Tensor) and
                           value._requires_grad):
        input._inplace(_index_put, index, value)
        return
    xp = backend.xp_of(input._data)
    idx, _ = _convert(index, xp, input._data.ndim)
    v = value._data if isinstance(value, Tensor) else value
    try:
        _put(input._data, idx, v)
    except IndexError as exc:
        raise _index_error(exc, input._data.shape) from None
    except ValueError:
        raise RuntimeError(f"setitem: value of shape {tuple(getattr(v, 'shape', ()))} cannot be "
                           f"broadcast to the indexed shape "
                           f"{tuple(_at(input._data, idx).shape)}") from None
    input._vbox[0] += 1


# -- gather / scatter family ------------------------------------------------------------------
# dim-wise index ops share one "grid" construction: index[i, j, k] picks along ``dim`` while the
# other coordinates are the element's own position (broadcast aranges).

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])


def _grid(idx, dim: int):
    xp = backend.xp_of(idx)
    nd = idx.ndim
    grids = [xp.arange(n).reshape((1,) * i + (n,) + (1,) * (nd - i - 1))
             for i, n in enumerate(idx.shape)]
    grids[dim] = idx
    return tuple(grids)


def _region(shape) -> tuple:
    """The leading block of an array with ``shape`` (src may be larger than index)."""
    return tuple(slice(0, n) for n in shape)


def _as_1d(x):
    return x.reshape(1) if x.ndim == 0 else x


def _check_bounds(op: str, idx, size: int, dim: int, exc=RuntimeError, low: int = 0) -> None:
    """Every index in [low, size), else ``exc`` naming the first one outside."""
    if idx.size and (bool((idx < low).any()) or bool((idx >= size).any())):
        bad = idx[(idx < low) | (idx >= size)].reshape(-1)[0].item()
        raise exc(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}")


def _wrap_negative(op: str, idx, size: int, dim: int, exc):
    """Indices in [-size, size) with negative ones counted from the end (else ``exc``)."""
    _check_bounds(op, idx, size, dim, exc, low=-size)
    if idx.size and bool((idx < 0).any()):
        return backend.xp_of(idx).where(idx < 0, idx + size, idx)
    return idx


def _dim_index_checks(op: str, input, dim, index, src=None) -> int:
    """Checks of gather/scatter/scatter_add; returns the normalised dim."""
    _checks.tensor_type(op, "input", input)
    _checks.tensor_type(op, "index", index)
    x, idx = input._data, index._data
    d = _checks.dim(dim, x.ndim, op)
    _checks.index_dtype(op, idx, int32_ok=True)
    if src is not None:
        _checks.same_device(op, x, src._data)
        if src._data.dtype != x.dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype: input "
                               f"{_checks.describe(input)} vs src {_checks.describe(src)}; "
                               "cast one with .to()")
    _checks.same_device(op, x, idx)
    if idx.size == 0:
        return d
    if max(idx.ndim, 1) != max(x.ndim, 1):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"input tensor: input {tuple(x.shape)} vs index {tuple(idx.shape)}")
    xs, ids = _as_1d(x).shape, _as_1d(idx).shape
    for i, (n_idx, n_x) in enumerate(zip(ids, xs)):
        if i != d and n_idx > n_x:
            raise RuntimeError(f"{op}(): Size does not match at dimension {i}: expected index "
                               f"{list(idx.shape)} to be no larger than input {list(x.shape)} "
                               f"apart from dimension {d}")
    if src is not None and src._data.ndim == idx.ndim:
        if any(a > b for a, b in zip(idx.shape, src._data.shape)):
            raise RuntimeError(f"{op}(): Expected index {list(idx.shape)} to be no larger than "
                               f"src {list(src._data.shape)} in every dimension")
    elif src is not None:
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"src tensor: index {tuple(idx.shape)} vs src {tuple(src.shape)}")
    _check_bounds(op, idx, xs[d], d)
    return d


class Gather(Function):
    @staticmethod
    def forward(ctx, a, dim, index):
        x, idx = a._data, index._data
        ctx.shape, ctx.dim = x.shape, dim
        ctx.save_for_backward(index)
        if idx.size == 0:
            return backend.xp_of(x).zeros(idx.shape, x.dtype)
        return x[_grid(idx, dim)]

    @staticmethod
    def backward(ctx, grad):
        zeros = _make(backend.xp_of(grad._data).zeros(ctx.shape, grad._data.dtype))
        index, = ctx.saved_tensors
        return scatter_add(zeros, ctx.dim, index, grad), None, None


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, a, dim, index, src):
        idx = index._data
        ctx.dim, ctx.src_shape = dim, src._data.shape
        ctx.save_for_backward(index)
        out = a._data.copy()
        backend.of(out).scatter_add(out, _grid(idx, dim), src._data[_region(idx.shape)])
        return out

    @staticmethod
    def backward(ctx, grad):
        need_a, need_src = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        index, = ctx.saved_tensors
        g_src = _gather_to(grad, ctx.dim, index, ctx.src_shape) if need_src else None
        return grad if need_a else None, None, None, g_src


def _gather_to(grad, dim, index, shape):
    """gather(grad, dim, index) zero-padded to ``shape`` (src may be larger than index)."""
    g = gather(grad, dim, index)
    if tuple(g.shape) == tuple(shape):
        return g
    from .movement import pad_constant
    pad = []
    for have, want in zip(reversed(g.shape), reversed(shape)):
        pad += [0, want - have]
    return pad_constant(g, pad)


class Scatter(Function):
    @staticmethod
    def forward(ctx, a, dim, index, src, reduce):
        x, idx = a._data, index._data
        is_tensor = isinstance(src, Tensor)
        ctx.dim, ctx.reduce = dim, reduce
        ctx.save_for_backward(index)
        ctx.src_shape = src._data.shape if is_tensor else None
        out = x.copy()
        values = src._data[_region(idx.shape)] if is_tensor else src
        grid = _grid(idx, dim)
        xp = backend.xp_of(x)
        if reduce is None:
            out[grid] = values
        elif reduce == "add":
            values = xp.broadcast_to(xp.asarray(values, dtype=x.dtype), idx.shape)
            backend.of(out).scatter_add(out, grid, values)
        else:
            _reduce_at("prod", out, grid, xp.broadcast_to(xp.asarray(values, x.dtype), idx.shape))
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.reduce == "multiply":
            raise RuntimeError("scatter: the derivative of reduce='multiply' is not implemented "
                               "(as in PyTorch); use reduce=None or 'add' when gradients flow")
        need_a, need_src = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        index, = ctx.saved_tensors
        g_a = g_src = None
        if need_a:
            g_a = grad if ctx.reduce == "add" else scatter(grad, ctx.dim, index, 0.0)
        if need_src:
            g_src = _gather_to(grad, ctx.dim, index, ctx.src_shape)
        return g_a, None, None, g_src, None


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Values of ``input`` picked along ``dim`` by ``index`` (same number of dims).

    ``out[i][j] = input[index[i][j]][j]`` for dim 0. The gradient scatters back, adding
    repeated indices.

    Example:
        >>> ember.gather(ember.tensor([[1, 2], [3, 4]]), 1, ember.tensor([[0, 0], [1, 0]]))
        tensor([[1, 1],
                [4, 3]])
    """
    d = _dim_index_checks("gather", input, dim, index)
    if input._data.ndim == 0 or index._data.ndim == 0:  # then both have at most 1 dim
        return Gather.apply(input.reshape(-1), 0, index.reshape(-1)).reshape(index.shape)
    return Gather.apply(input, d, index)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor or a number) written at ``index`` along ``dim``.

    Args:
        reduce: None (overwrite), 'add' or 'multiply'.
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: expected a src tensor or a value, got neither")
    if reduce not in (None, "add", "multiply"):
        raise RuntimeError(f"scatter: reduce argument must be either 'add' or 'multiply', got "
                           f"{reduce!r}")
    if isinstance(src, Tensor):
        d = _dim_index_checks("scatter", input, dim, index, src)
    else:
        if not isinstance(src, (int, float, bool, np.number, np.bool_)):
            raise TypeError(f"scatter: src must be a Tensor or a number, got "
                            f"{type(src).__name__}")
        d = _dim_index_checks("scatter", input, dim, index)
        src = src.item() if isinstance(src, (np.number, np.bool_)) else src
    if index._data.size == 0:
        return input.clone()
    if input._data.ndim == 0 or index._data.ndim == 0:  # then all have at most 1 dim
        src = src.reshape(-1) if isinstance(src, Tensor) else src
        out = Scatter.apply(input.reshape(-1), 0, index.reshape(-1), src, reduce)
        return out.reshape(input.shape)
    return Scatter.apply(input, d, index, src, reduce)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
    if _amp.on and _amp.applies("scatter_add", input, src):
        return _amp.run("scatter_add", scatter_add, input, dim, index, src)
    _checks.tensor_type("scatter_add", "src", src)
    d = _dim_index_checks("scatter_add", input, dim, index, src)
    if index._data.size == 0:
        return input.clone()
    if input._data.ndim == 0 or index._data.ndim == 0:  # then all have at most 1 dim
        out = ScatterAdd.apply(input.reshape(-1), 0, index.reshape(-1), src.reshape(-1))
        return out.reshape(input.shape)
    return ScatterAdd.apply(input, d, index, src)


# -- scatter_reduce ---------------------------------------------------------------------------
_UFUNCS = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


def _identity(reduce: str, dtype):
    """The value ``reduce`` leaves unchanged, for ``dtype``."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _reduce_at(reduce: str, out, grid, values) -> None:
    """``out[grid] = reduce(out[grid], values)`` in place, every repeated position applied."""
    owner = backend.of(out)
    if reduce in ("sum", "mean"):
        owner.scatter_add(out, grid, values)
    elif owner is backend.cpu:
        getattr(np, _UFUNCS[reduce]).at(out, grid, values)
    else:
        _reduce_in_rounds(getattr(owner.xp, _UFUNCS[reduce]), out, grid, values)


def _reduce_in_rounds(ufunc, out, grid, values) -> None:
    """``ufunc.at`` where the array library lacks it (CuPy has no multiply.at): positions are
    sorted, and pass k applies the k-th value of every position, so no pass repeats one."""
    xp = backend.xp_of(out)
    shape = values.shape
    linear = xp.zeros(shape, np.int64)
    stride = 1
    for g, n in reversed(list(zip(grid, out.shape))):
        linear = linear + xp.broadcast_to(g, shape) * stride
        stride *= n
    order = xp.argsort(linear.reshape(-1))
    linear, values = linear.reshape(-1)[order], values.reshape(-1)[order]
    rank = xp.arange(linear.size) - xp.searchsorted(linear, linear, side="left")
    flat = out.reshape(-1)  # a view: ``out`` is a fresh contiguous copy
    for k in range(int(rank.max()) + 1 if rank.size else 0):
        pick = rank == k
        at = linear[pick]
        flat[at] = ufunc(flat[at], values[pick])


def _scatter_count(x, grid, shape, include_self: bool):
    """How many values each position of a scatter_reduce 'mean' averages (at least 1)."""
    xp = backend.xp_of(x)
    count = xp.full(x.shape, int(include_self), x.dtype)
    backend.of(count).scatter_add(count, grid, xp.ones(shape, x.dtype))
    return xp.maximum(count, xp.ones((), x.dtype))


class ScatterReduce(Function):
    @staticmethod
    def forward(ctx, a, dim, index, src, reduce, include_self):
        x, idx = a._data, index._data
        grid = _grid(idx, dim)
        out = x.copy()
        if not include_self:
            out[grid] = _identity(reduce, x.dtype)
        _reduce_at(reduce, out, grid, src._data)
        if reduce == "mean":
            count = _scatter_count(x, grid, idx.shape, include_self)
            out = (out // count if x.dtype.kind in "iu" else out / count).astype(x.dtype)
        ctx.dim, ctx.reduce, ctx.include_self = dim, reduce, include_self
        ctx.save_for_backward(a, index, src)
        ctx.save_output()
        return out

    @staticmethod
    def backward(ctx, grad):
        a, index, src = ctx.saved_tensors
        d, include_self = ctx.dim, ctx.include_self
        grads = _SCATTER_REDUCE_GRADS[ctx.reduce]
        g_self, g_src = grads(grad, a, d, index, src, ctx.saved_output, include_self)
        if not include_self:  # input's own values took no part where something was scattered
            g_self = scatter(g_self, d, index, 0.0)
        return g_self, None, None, g_src, None, None


def _sum_grads(grad, a, d, index, src, result, include_self):
    return grad, gather(grad, d, index)


def _mean_grads(grad, a, d, index, src, result, include_self):
    count = _scatter_count(a._data, _grid(index._data, d), index._data.shape, include_self)
    g_self = grad / _make(count.astype(grad._data.dtype, copy=False))
    return g_self, gather(g_self, d, index)


def _extreme_grads(grad, a, d, index, src, result, include_self):
    """Ties for the max (min) share its gradient evenly, as in PyTorch."""
    self_hit = (a == result).to(a.dtype)
    src_hit = (src == gather(result, d, index)).to(a.dtype)
    share = grad / scatter_add(self_hit, d, index, src_hit)
    return self_hit * share, src_hit * gather(share, d, index)


def _prod_grads(grad, a, d, index, src, result, include_self):
    """The product of the other factors, computed without dividing by zeros (PyTorch's way)."""
    from .elementwise import where

    def reduce(x, s):
        return scatter_reduce(x, d, index, s, "prod", include_self=include_self)
    kept = where(a == 0, 1.0, a)
    g_self = grad * reduce(kept, src) / kept
    src_zero = src == 0
    zeros_at = scatter_add(a.new_zeros(a.shape), d, index, src_zero.to(a.dtype))
    single_zero = src_zero & (gather(zeros_at, d, index) == 1)
    without_it = reduce(a, where(single_zero, 1.0, src))
    g_src = where(single_zero, gather(grad * without_it, d, index),
                  gather(grad * result, d, index) / where(src_zero, 1.0, src))
    return g_self, g_src


_SCATTER_REDUCE_GRADS = {"sum": _sum_grads, "mean": _mean_grads, "prod": _prod_grads,
                         "amax": _extreme_grads, "amin": _extreme_grads}


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """A copy of ``input`` with the values of ``src`` reduced into it at ``index`` along
    ``dim`` by 'sum', 'prod', 'mean', 'amax' or 'amin'.

    With ``include_self=False`` input's own values take no part where something is scattered.
    Integer means round down, as in PyTorch.

    Example:
        >>> ember.zeros(2).scatter_reduce(0, ember.tensor([0, 0, 1]), ember.tensor([1., 3., 2.]),
        ...                               "amax", include_self=False)
        tensor([3., 2.])
    """
    if reduce not in _UFUNCS:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, "
                           f"amax or amin, got {reduce}")
    _checks.tensor_type("scatter_reduce", "src", src)
    d = _dim_index_checks("scatter_reduce", input, dim, index, src)
    if index._data.size == 0:
        return input.clone()
    if input._data.ndim == 0 or index._data.ndim == 0:  # then all have at most 1 dim
        out = scatter_reduce(input.reshape(-1), 0, index.reshape(-1), src.reshape(-1), reduce,
                             include_self=include_self)
        return out.reshape(input.shape)
    if src._data.shape != index._data.shape:  # only src's leading block takes part
        src = src[_region(index._data.shape)]
    return ScatterReduce.apply(input, d, index, src, reduce, bool(include_self))


# -- index_select / index_add / index_fill ----------------------------------------------------
def _vector_index(op: str, input, dim, index, int32_ok: bool = True):
    _checks.tensor_type(op, "input", input)
    _checks.tensor_type(op, "index", index)
    x, idx = input._data, index._data
    d = _checks.dim(dim, x.ndim, op)
    _checks.index_dtype(op, idx, int32_ok)
    _checks.same_device(op, x, idx)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got index of shape "
                         f"{tuple(idx.shape)}")
    return d, _as_1d(idx)


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, a, dim, index):
        x = a._data
        ctx.shape, ctx.dim = x.shape, dim
        ctx.save_for_backward(index)
        return backend.xp_of(x).take(x, index._data, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        zeros = _make(backend.xp_of(grad._data).zeros(ctx.shape, grad._data.dtype))
        index, = ctx.saved_tensors
        return index_add(zeros, ctx.dim, index, grad), None, None


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` at positions ``index`` (a 1-D int tensor) along ``dim``."""
    d, idx = _vector_index("index_select", input, dim, index)
    size = input._data.shape[d] if input._data.ndim else 1
    if idx.size and (bool((idx < 0).any()) or bool((idx >= size).any())):
        raise IndexError(f"index_select(): index out of range in self: indices must be in "
                         f"[0, {size}) for dim {d} of input {tuple(input.shape)}")
    index = _make(idx) if idx is not index._data else index
    if input._data.ndim == 0:
        return IndexSelect.apply(input.reshape(1), 0, index).reshape(())
    return IndexSelect.apply(input, d, index)


class IndexAdd(Function):
    @staticmethod
    def forward(ctx, a, dim, index, source, alpha):
        ctx.dim, ctx.alpha = dim, alpha
        ctx.save_for_backward(index)
        out = a._data.copy()
        values = source._data if alpha == 1 else source._data * alpha
        backend.of(out).scatter_add(out, (slice(None),) * dim + (index._data,), values)
        return out

    @staticmethod
    def backward(ctx, grad):
        need_a, need_src = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        g_src = None
        if need_src:
            index, = ctx.saved_tensors
            g_src = index_select(grad, ctx.dim, index)
            if ctx.alpha != 1:
                g_src = g_src * ctx.alpha
        return grad if need_a else None, None, None, g_src, None


def _check_source(op: str, input, d: int, idx, source, exc=RuntimeError) -> None:
    """index_add/copy/reduce: source has input's dtype and shape except along ``d``, where it
    has one slice per index, and every index is in range (else ``exc``, PyTorch's class)."""
    _checks.tensor_type(op, "source", source)
    x, s = input._data, source._data
    _checks.same_device(op, x, s)
    if s.dtype != x.dtype:
        raise RuntimeError(f"{op}(): self ({_checks.describe(input)}) and source "
                           f"({_checks.describe(source)}) must have the same scalar type")
    xs, ss = _as_1d(x).shape, _as_1d(s).shape
    if len(xs) != len(ss) or any(a != b for i, (a, b) in enumerate(zip(xs, ss)) if i != d):
        raise RuntimeError(f"{op}(): source {list(s.shape)} must have the shape of input "
                           f"{list(x.shape)} except in dimension {d}")
    if ss[d] != idx.size:
        raise exc(f"{op}(): Number of indices ({idx.size}) should be equal to "
                  f"source.size(dim): ({ss[d]}), for dim: {d}")
    _check_bounds(f"{op}()", idx, xs[d], d, exc)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` added at ``index`` along ``dim``."""
    d, idx = _vector_index("index_add", input, dim, index)
    _check_source("index_add_", input, d, idx, source)
    index = _make(idx) if idx is not index._data else index
    if input._data.ndim == 0:
        return IndexAdd.apply(input.reshape(1), 0, index, source.reshape(1), alpha).reshape(())
    return IndexAdd.apply(input, d, index, source, alpha)


def _dim_mask(x, d: int, idx):
    """A bool array that is True at ``idx`` along dim d, shaped to broadcast against x."""
    xp = backend.xp_of(x)
    n = x.shape[d] if x.ndim else 1
    mask = xp.zeros(n, bool)
    mask[idx] = True
    return _make(mask.reshape(tuple(n if i == d else 1 for i in range(x.ndim))))


def _fill_value(op: str, input, value):
    """value as a 0-d tensor of input's dtype (differentiable when it is a tensor)."""
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor "
                               f"with {value._data.ndim} dimension(s).")
        _checks.same_device(op, input._data, value._data)
        return value if value._data.dtype == input._data.dtype else value.to(input.dtype)
    if not isinstance(value, (int, float, bool, np.number, np.bool_)):
        raise TypeError(f"{op}: value must be a number or a 0-d Tensor, got "
                        f"{type(value).__name__}")
    xp = backend.xp_of(input._data)
    return _make(xp.asarray(value).astype(input._data.dtype))


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of ``input`` with the slices at ``index`` along ``dim`` set to ``value``."""
    d, idx = _vector_index("index_fill_", input, dim, index, int32_ok=False)
    x = input._data
    idx = _wrap_negative("index_fill_()", idx, x.shape[d] if x.ndim else 1, d, IndexError)
    from .elementwise import where
    return where(_dim_mask(x, d, idx), _fill_value("index_fill_", input, value), input)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with the slices of ``source`` written at ``index`` along ``dim``.

    Example:
        >>> ember.zeros(3).index_copy(0, ember.tensor([2, 0]), ember.tensor([1., 2.]))
        tensor([2., 0., 1.])
    """
    if _amp.on and _amp.applies("index_copy", input, source):
        return _amp.run("index_copy", index_copy, input, dim, index, source)
    d, idx = _vector_index("index_copy", input, dim, index, int32_ok=False)

    _check_source("index_copy_", input, d, idx, source, IndexError)
    if idx.size == 0:
        return input.clone()
    from .elementwise import where
    x = input._data
    placed = index_add(_make(backend.xp_of(x).zeros(x.shape, x.dtype)), d, _make(idx), source)
    return where(_dim_mask(x, d, idx), placed, input)


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """A copy of ``input`` with the slices of ``source`` reduced into it at ``index`` along
    ``dim`` by 'prod', 'mean', 'amax' or 'amin' (see scatter_reduce for include_self)."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    d, idx = _vector_index("index_reduce", input, dim, index)
    _check_source("index_reduce_", input, d, idx, source)
    x = input._data
    if idx.size == 0:
        return input.clone()
    if x.ndim == 0:
        out = index_reduce(input.reshape(1), 0, _make(idx), source.reshape(1), reduce,
                           include_self=include_self)
        return out.reshape(())
    shape = tuple(idx.size if i == d else 1 for i in range(x.ndim))
    spread = backend.xp_of(idx).broadcast_to(idx.reshape(shape), source._data.shape)
    return scatter_reduce(input, d, _make(spread), source, reduce, include_self=include_self)


# -- masks --------------------------------------------------------------------------------------
def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` where the bool ``mask`` (broadcast) is True.

    Example:
        >>> ember.tensor([1., 2., 3.]).masked_fill(ember.tensor([True, False, True]), 0.)
        tensor([0., 2., 0.])
    """
    _checks.tensor_type("masked_fill", "input", input)
    _checks.tensor_type("masked_fill", "mask", mask)
    if mask._data.dtype.kind != "b":
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype.name}")
    _checks.same_device("masked_fill", input._data, mask._data)
    _broadcast_shape("masked_fill", input, mask)
    from .elementwise import where
    return where(mask, _fill_value("masked_fill_", input, value), input)


def _broadcast_shape(op: str, a: Tensor, b: Tensor) -> tuple:
    try:
        return np.broadcast_shapes(a._data.shape, b._data.shape)
    except ValueError:
        raise _checks.broadcast_error(op, a._data, b._data) from None


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where ``mask`` (broadcast) is True, as a 1-D tensor."""
    _checks.tensor_type("masked_select", "input", input)
    _checks.tensor_type("masked_select", "mask", mask)
    if mask._data.dtype.kind != "b":
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype.name}")
    _checks.same_device("masked_select", input._data, mask._data)
    shape = _broadcast_shape("masked_select", input, mask)
    if input._data.shape != shape:
        input = input.expand(shape)
    if mask._data.shape != shape:
        mask = mask.expand(shape)
    if not shape:  # 0-d: NumPy gives shape (0,) or (1,) too, as PyTorch
        return getitem(input.reshape(1), mask.reshape(1))
    return getitem(input, mask)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``input`` (broadcast with ``mask``) with its elements where ``mask`` is True replaced,
    in order, by the leading elements of ``source``.

    Example:
        >>> ember.zeros(4).masked_scatter(ember.tensor([True, False, True, False]),
        ...                               ember.tensor([1., 2., 3.]))
        tensor([1., 0., 2., 0.])
    """
    op = "masked_scatter"
    for name, t in (("input", input), ("mask", mask), ("source", source)):
        _checks.tensor_type(op, name, t)
    if mask._data.dtype.kind != "b":
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype.name}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got {input.dtype.name} and {source.dtype.name}")
    _checks.same_device(op, input._data, mask._data)
    _checks.same_device(op, input._data, source._data)
    shape = _broadcast_shape(op, input, mask)
    xp = backend.xp_of(mask._data)
    m = xp.broadcast_to(mask._data, shape)
    slot = xp.cumsum(m.reshape(-1)) - 1  # the source element each True takes
    wanted = int(slot[-1]) + 1 if slot.size else 0
    if wanted > source._data.size:
        raise RuntimeError(f"masked_scatter: Number of elements of source < number of ones in "
                           f"mask ({source._data.size} < {wanted})")
    if wanted == 0:
        return input.expand(shape).clone()
    slot = xp.where(m.reshape(-1), slot, 0).reshape(shape).astype(np.int64)
    from .elementwise import where
    return where(_make(m), getitem(source.reshape(-1), _make(slot)), input)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """gather with broadcasting: values of ``input`` at ``indices`` along ``dim``.

    With ``dim=None`` both are flattened first. Negative indices count from the end.
    """
    op = "take_along_dim"
    _checks.tensor_type(op, "input", input)
    _checks.tensor_type(op, "indices", indices)
    if indices._data.dtype != np.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{indices.dtype.name}")
    if dim is None:
        input, indices, d = input.reshape(-1), indices.reshape(-1), 0
    else:
        if input._data.ndim == 0:
            raise IndexError(f"{op}: Dimension specified as {dim} but tensor has no dimensions")
        d = _checks.dim(dim, input._data.ndim, op)
        if indices._data.ndim != input._data.ndim:
            raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                               f"number of dimensions, but got {input._data.ndim} dimensions for "
                               f"input, and {indices._data.ndim} dimensions for indices")
    xs, ids = list(input._data.shape), list(indices._data.shape)
    if xs:
        try:
            common = list(np.broadcast_shapes(tuple(xs[:d] + [1] + xs[d + 1:]),
                                              tuple(ids[:d] + [1] + ids[d + 1:])))
        except ValueError:
            raise RuntimeError(f"{op}: input {tuple(xs)} and indices {tuple(ids)} cannot be "
                               f"broadcast apart from dimension {d}") from None
        if xs[:d] + xs[d + 1:] != common[:d] + common[d + 1:]:
            input = input.expand(common[:d] + [xs[d]] + common[d + 1:])
        if ids[:d] + ids[d + 1:] != common[:d] + common[d + 1:]:
            indices = indices.expand(common[:d] + [ids[d]] + common[d + 1:])
    idx = indices._data
    wrapped = _wrap_negative(op, idx, xs[d] if xs else 1, d, RuntimeError)
    return gather(input, d, indices if wrapped is idx else _make(wrapped))


def _flat_index(op: str, index, input):
    """index's int64 array for input as if flattened, negative entries counted from the end."""
    _checks.tensor_type(op, "index", index)
    idx, n = index._data, input._data.size
    if idx.dtype != np.int64:
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got "
                           f"{index.dtype.name}")
    _checks.same_device(op, input._data, idx)
    if idx.size and (bool((idx < -n).any()) or bool((idx >= n).any())):
        bad = idx[(idx < -n) | (idx >= n)].reshape(-1)[0].item()
        raise IndexError(f"{op}(): out of range: tried to access index {bad} on a tensor of {n} "
                         f"elements.")
    return backend.xp_of(idx).where(idx < 0, idx + n, idx)


def take(input: Tensor, index: Tensor) -> Tensor:
    """The elements of ``input``, as if flattened, at ``index`` (negative ones count from the
    end); the result has index's shape.

    Example:
        >>> ember.take(ember.tensor([[1, 2], [3, 4]]), ember.tensor([0, -1]))
        tensor([1, 4])
    """
    _checks.tensor_type("take", "input", input)
    idx = _flat_index("take", index, input)
    return getitem(input.reshape(-1), _make(idx))


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``source`` written (or, with ``accumulate``, added) at the
    flat positions ``index``."""
    _checks.tensor_type("put", "input", input)
    _checks.tensor_type("put", "source", source)
    idx = _flat_index("put_", index, input)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {input.dtype.name} and source.dtype = "
                           f"{source.dtype.name}")
    if source._data.size != idx.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of "
                         f"elements, but got source.numel() = {source._data.size}, "
                         f"index.numel() = {idx.size}")
    flat = _index_put(input.reshape(-1), (_make(idx.reshape(-1)),), source.reshape(-1),
                      accumulate)
    return flat.reshape(input.shape)


# -- nonzero, sorting ---------------------------------------------------------------------------
def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
    _checks.tensor_type("nonzero", "input", input)
    x = input._data
    xp = backend.xp_of(x)
    if as_tuple:
        return tuple(_make(i.astype(np.int64, copy=False)) for i in xp.nonzero(_as_1d(x)))
    return _make(xp.argwhere(x).astype(np.int64, copy=False))


def argwhere(input: Tensor) -> Tensor:
    """Indices of the non-zero elements as an (n, ndim) int64 tensor (nonzero's layout)."""
    return nonzero(input)


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """nonzero with exactly ``size`` rows: cut, or padded with ``fill_value``."""
    found = nonzero(input)._data
    xp = backend.xp_of(found)
    if found.shape[0] >= size:
        return _make(found[:size])
    pad = xp.full((size - found.shape[0], found.shape[1]), fill_value, np.int64)
    return _make(xp.concatenate([found, pad]))


def unravel_index(indices: Tensor, shape) -> tuple:
    """The coordinates in ``shape`` of the flat ``indices``: one int64 tensor per dim
    (indices wrap modulo the sizes, negative ones from the end, as in PyTorch)."""
    _checks.tensor_type("unravel_index", "indices", indices)
    if indices._data.dtype.kind not in "iu":
        raise TypeError(f"unravel_index: expected 'indices' to be integer dtype, but got "
                        f"{indices.dtype.name}")
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"unravel_index: 'shape' cannot have negative values, but got {shape}")
    if 0 in shape:
        raise RuntimeError(f"unravel_index: no index fits in shape {shape}, which has a zero "
                           f"dimension")
    rest = indices._data.astype(np.int64)
    coords = []
    for n in reversed(shape):
        coords.append(_make(rest % n))
        rest = rest // n
    return tuple(reversed(coords))


def _argsort(x, d: int, descending: bool):
    """Stable argsort along d; descending keeps equal elements in their original order."""
    xp = backend.xp_of(x)
    if not descending:
        return xp.argsort(x, axis=d, kind="stable")
    n = x.shape[d]
    order = xp.argsort(xp.flip(x, axis=d), axis=d, kind="stable")
    return (n - 1) - xp.flip(order, axis=d)


def _sort_checks(op: str, input, dim):
    _checks.tensor_type(op, "input", input)
    if input._data.dtype.kind == "c":
        name = "Sort" if op.endswith("sort") else op
        _checks.not_complex(op, input, f"{name} does not support complex dtypes", RuntimeError)
    return _checks.dim(dim, input._data.ndim, op)


def argsort(input: Tensor, dim: int = -1, descending: bool = False,
            stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (always stable here)."""
    d = _sort_checks("argsort", input, dim)
    x = input._data
    if x.ndim == 0:
        return _make(backend.xp_of(x).zeros((), np.int64))
    return _make(_argsort(x, d, descending).astype(np.int64, copy=False))


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices) of ``input`` sorted along ``dim``; values carry the gradient.

    Example:
        >>> ember.sort(ember.tensor([3., 1., 2.])).indices
        tensor([1, 2, 0])
    """
    d = _sort_checks("sort", input, dim)
    indices = argsort(input, d, descending)
    if input._data.ndim == 0:
        return sort_result(input.clone(), indices)
    return sort_result(gather(input, d, indices), indices)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the k largest (or smallest) elements along ``dim``."""
    d = _sort_checks("topk", input, dim)
    x = input._data
    size = x.shape[d] if x.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: selected index k out of range: k={k} but dim {d} of input "
                           f"{tuple(x.shape)} has size {size}")
    if x.ndim == 0:
        return topk_result(input.clone() if k else input.reshape(1)[:0].reshape(()),
                           _make(backend.xp_of(x).zeros((), np.int64)))
    order = _argsort(x, d, largest)
    idx = order[(slice(None),) * d + (slice(0, k),)].astype(np.int64, copy=False)
    indices = _make(idx)
    return topk_result(gather(input, d, indices), indices)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last dim of size ``num_classes`` (max + 1 when -1).

    Example:
        >>> ember.nn.functional.one_hot(ember.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    _checks.tensor_type("one_hot", "tensor", tensor)
    x = tensor._data
    if x.dtype != np.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor, got "
                           f"{tensor.dtype.name}; convert it with .long()")
    if num_classes == -1:
        if x.size == 0:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty "
                               "tensor; pass num_classes")
        num_classes = int(x.max()) + 1
    if x.size:
        if int(x.min()) < 0:
            raise RuntimeError("one_hot: Class values must be non-negative.")
        if int(x.max()) >= num_classes:
            raise RuntimeError(f"one_hot: Class values must be smaller than num_classes "
                               f"({num_classes}), got {int(x.max())}")
    xp = backend.xp_of(x)
    return _make((x[..., None] == xp.arange(num_classes)).astype(np.int64))
