"""Indexing: tensor[index] and tensor[index] = value, and the gather/scatter family.

Basic indices (ints, slices, None, ...) give views; integer tensors, lists and boolean masks
give copies. Backward scatters the gradient into zeros, accumulating repeated indices.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..tensor import Tensor

_make = Tensor._make


def _convert(index, xp):
    """A user index as the array library understands it; and whether it is basic (a view)."""
    if not isinstance(index, tuple):
        index = (index,)
    out, basic = [], True
    for item in index:
        if isinstance(item, Tensor):
            item = item._data
            if item.dtype.kind not in "iub":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 f"tensors, got {item.dtype}")
            basic = False
        elif isinstance(item, (list, np.ndarray)):
            item = xp.asarray(item)
            if item.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            basic = False
        elif isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
        elif item is not None and item is not Ellipsis and not isinstance(item, (int, np.integer)):
            raise IndexError(f"only integers, slices, Ellipsis, None, and integer or boolean "
                             f"tensors are valid indices, got {type(item).__name__}")
        if getattr(item, "dtype", None) is not None and item.dtype == np.uint8:
            item = item.astype(bool)  # byte masks, as PyTorch
        out.append(item)
    return tuple(out), basic


def _index_error(exc, shape):
    return IndexError(f"index: {exc} (indexing a tensor of shape {tuple(shape)})")


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index, basic):
        x = a._data
        ctx.shape, ctx.dtype, ctx.index, ctx.basic = x.shape, x.dtype, index, basic
        try:
            return x[index]
        except IndexError as exc:
            raise _index_error(exc, x.shape) from None

    @staticmethod
    def backward(ctx, grad):
        g = grad._data
        xp = backend.xp_of(g)
        out = xp.zeros(ctx.shape, g.dtype)
        if ctx.basic:
            out[ctx.index] = g
        else:
            backend.of(g).scatter_add(out, ctx.index, g)
        return _make(out), None, None


class ViewItem(GetItem):
    is_view = True
    node_name = "SliceBackward0"


def getitem(input: Tensor, index) -> Tensor:
    """``input[index]`` with PyTorch's (= NumPy's) indexing rules."""
    xp = backend.xp_of(input._data)
    index, basic = _convert(index, xp)
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
            out[index] = v
        except IndexError as exc:
            raise _index_error(exc, x.shape) from None
        except ValueError:
            raise RuntimeError(f"index_put: shape mismatch: value tensor of shape "
                               f"{tuple(getattr(v, 'shape', ()))} cannot be broadcast to the "
                               f"indexing result of shape {tuple(x[index].shape)}") from None
        return out

    @staticmethod
    def backward(ctx, grad):
        need_target, _, need_value = ctx.needs_input_grad
        g = grad._data
        gt = gv = None
        if need_target:
            gt = g.copy()
            gt[ctx.index] = 0
            gt = _make(gt)
        if need_value:
            gv = _make(g[ctx.index])
        return gt, None, gv


def index_put(input: Tensor, index, value) -> Tensor:
    """A copy of input with ``input[index] = value``."""
    xp = backend.xp_of(input._data)
    index, _ = _convert(index, xp)
    if isinstance(value, Tensor) and value._data.dtype != input._data.dtype:
        value = value.to(input.dtype)
    return IndexPut.apply(input, index, value)


def setitem(input: Tensor, index, value) -> None:
    """``input[index] = value`` in place; recorded in the graph when gradients flow."""
    from ..autograd.grad_mode import _State
    if _State.enabled and (input._requires_grad or isinstance(value, Tensor) and
                           value._requires_grad):
        input._inplace(index_put, index, value)
        return
    xp = backend.xp_of(input._data)
    idx, _ = _convert(index, xp)
    v = value._data if isinstance(value, Tensor) else value
    try:
        input._data[idx] = v
    except IndexError as exc:
        raise _index_error(exc, input._data.shape) from None
    except ValueError:
        raise RuntimeError(f"setitem: value of shape {tuple(getattr(v, 'shape', ()))} cannot be "
                           f"broadcast to the indexed shape "
                           f"{tuple(input._data[idx].shape)}") from None
    input._vbox[0] += 1
