"""matmul, the one BLAS primitive, and what is composed from it (mm, bmm, dot, outer)."""
from __future__ import annotations

from .. import _checks, dtypes
from ..autograd.function import Function
from ..tensor import Tensor


class MatMul(Function):
    """Batched matmul of operands with at least 2 dims; batch dims broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a._data @ b._data

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # batch broadcasting is undone by the engine
        return (grad @ b.mT if need_a else None, a.mT @ grad if need_b else None)


def _check(op, a, b):
    _checks.tensor_type(op, "input", a)
    _checks.tensor_type(op, "other", b)
    x, y = a._data, b._data
    if type(x) is not type(y):
        _checks.same_device(op, x, y)
    if x.ndim == 0 or y.ndim == 0:
        raise RuntimeError(f"{op}: both arguments need at least 1 dimension, got input "
                           f"{tuple(x.shape)} and other {tuple(y.shape)}")
    k1 = x.shape[-1]
    k2 = y.shape[-2] if y.ndim > 1 else y.shape[0]
    if k1 != k2:
        raise RuntimeError(f"{op}: inner dimensions differ: input {tuple(x.shape)} vs other "
                           f"{tuple(y.shape)} ({k1} != {k2})")
    if x.dtype != y.dtype:
        raise RuntimeError(f"{op}: expected both operands to have the same dtype, but got input "
                           f"{dtypes.from_numpy(x.dtype).name} and other "
                           f"{dtypes.from_numpy(y.dtype).name}")
    try:
        import numpy as np
        np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: batch dimensions cannot be broadcast: input {tuple(x.shape)} vs "
                           f"other {tuple(y.shape)}") from None


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are vectors, batch dims broadcast."""
    _check("matmul", input, other)
    a1, b1 = input._data.ndim == 1, other._data.ndim == 1
    if a1 and b1:
        return MatMul.apply(input.reshape(1, -1), other.reshape(-1, 1)).reshape(())
    if a1:
        return MatMul.apply(input.unsqueeze(0), other).squeeze(-2)
    if b1:
        return MatMul.apply(input, other.unsqueeze(-1)).squeeze(-1)
    return MatMul.apply(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """(n, m) @ (m, p)."""
    if input.dim() != 2 or mat2.dim() != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got input {tuple(input.shape)} and mat2 "
                           f"{tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """(b, n, m) @ (b, m, p) with equal batch sizes."""
    if input.dim() != 3 or mat2.dim() != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got input {tuple(input.shape)} and mat2 "
                           f"{tuple(mat2.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: input {tuple(input.shape)} vs mat2 "
                           f"{tuple(mat2.shape)}")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors."""
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.dim()}D and "
                           f"{other.dim()}D tensors")
    return matmul(input, other)


inner = dot


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """input[i] * vec2[j]."""
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: 1D tensors expected, got {input.dim()}D and {vec2.dim()}D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer
