"""Helpers shared by the distributions: broadcasting parameters, probs <-> logits, cached
properties and summing over event dimensions."""
from __future__ import annotations

import functools
import numbers

import ember
from ..autograd import enable_grad
from ..autograd.function import Function
from ..tensor import Size, Tensor

euler_constant = 0.57721566490153286060  # Euler-Mascheroni


def broadcast_all(*values) -> tuple:
    """The values (tensors or numbers) as tensors of one broadcast shape.

    Numbers take the dtype and device of the first tensor, or the default dtype.

    Example:
        >>> loc, scale = broadcast_all(ember.zeros(3), 1.0)
        >>> scale.shape
        ember.Size([3])
    """
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number or "
                         "ember.Tensor.")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        dtype = ember.get_default_dtype()
        return tuple(ember.tensor(float(v), dtype=dtype) for v in values)
    tensors = [v if isinstance(v, Tensor) else
               ember.tensor(v, dtype=like.dtype, device=like.device) for v in values]
    return tuple(ember.broadcast_tensors(*tensors))


def finfo(t: Tensor):
    return ember.finfo(t.dtype)


def clamp_probs(probs: Tensor) -> Tensor:
    """probs clamped to [eps, 1 - eps], so their logs and log1p(-probs) stay finite."""
    eps = finfo(probs).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Log-odds (binary) or log-probabilities (categorical) of ``probs``."""
    p = clamp_probs(probs)
    return ember.log(p) - ember.log1p(-p) if is_binary else ember.log(p)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """sigmoid (binary) or softmax over the last dim (categorical) of ``logits``."""
    return ember.sigmoid(logits) if is_binary else ember.softmax(logits, -1)


def sum_rightmost(value, dim: int):
    """``value`` summed over its ``dim`` rightmost dimensions."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def extended(sample_shape, shape) -> Size:
    return Size(tuple(sample_shape) + tuple(shape))


class lazy_property:
    """A property computed on first access and then stored on the instance.

    As in torch, it is computed with gradients enabled, so a parameter derived lazily (probs
    from logits, say) stays differentiable even when first read under no_grad.
    """

    def __init__(self, wrapped):
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _XLogY(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return ember.xlogy(x, y)._data

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            grad_x = ember.where((x == 0) & (y <= 0), 0.0, grad * y.log())
        if ctx.needs_input_grad[1]:
            grad_y = grad * x / y
        return grad_x, grad_y


def xlogy(x: Tensor, y: Tensor) -> Tensor:
    """x * log(y), 0 where x == 0, with torch's derivative in x: log(y) also at x == 0.

    The densities need that derivative at x == 0 (a Gamma concentration of exactly 1, say),
    where the ``ember.xlogy`` op's backward gives 0.
    """
    return _XLogY.apply(x, y)
