"""ember.linalg: the square-matrix functions of torch.linalg most models need.

inv, det, slogdet and solve are primitives (NumPy's or CuPy's LAPACK calls) whose backward
is written with ember ops, so it is differentiable again; the norms are composed.
Matrices are the last two dims; leading dims are a batch.
"""
from __future__ import annotations

from collections import namedtuple

from . import backend
from .autograd.function import Function
from .ops import composite, linalg as _la
from .ops import reduce as red
from .tensor import Tensor

__all__ = ["inv", "det", "slogdet", "solve", "norm", "vector_norm", "matrix_norm", "cross",
           "matmul", "LinAlgError"]

_slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])


class LinAlgError(RuntimeError):
    """A singular matrix where an invertible one is needed (torch.linalg.LinAlgError)."""


def _square(op: str, a: Tensor) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"linalg.{op}(): argument 'A' must be Tensor, not {type(a).__name__}")
    if a.dim() < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2] if a.dim() >= 2 else a.dim()} by "
                           f"{a.shape[-1] if a.dim() else 0} matrices")
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input. Got "
                           f"{a.dtype.name}")


def _mT(t: Tensor) -> Tensor:
    return t.transpose(-2, -1)


def _lapack(op: str, fn, *arrays):
    xp = backend.xp_of(arrays[0])
    try:
        return fn(xp, *arrays)
    except xp.linalg.LinAlgError as exc:
        raise LinAlgError(f"linalg.{op}: the input is singular ({exc}); it has no inverse")


class _Inv(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        return _lapack("inv", lambda xp, x: xp.linalg.inv(x), a._data)

    @staticmethod
    def backward(ctx, grad):
        inv_t = _mT(ctx.saved_output)
        return -(inv_t @ grad @ inv_t)


class _Det(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        ctx.save_output()
        return backend.xp_of(a._data).linalg.det(a._data)

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return (grad * ctx.saved_output).unsqueeze(-1).unsqueeze(-1) * _mT(inv(a))


class _LogAbsDet(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).linalg.slogdet(a._data)[1]

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad.unsqueeze(-1).unsqueeze(-1) * _mT(inv(a))


class _Solve(Function):
    @staticmethod
    def forward(ctx, a, b, vector):
        ctx.save_for_backward(a)
        ctx.vector = vector
        rhs = b._data[..., None] if vector else b._data
        x = _lapack("solve", lambda xp, m, r: xp.linalg.solve(m, r), a._data, rhs)
        ctx.save_output()
        return x[..., 0] if vector else x

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        x = ctx.saved_output
        g = grad.unsqueeze(-1) if ctx.vector else grad
        gb = solve(_mT(a), g)
        ga = -(gb @ _mT(x.unsqueeze(-1) if ctx.vector else x))
        return ga, (gb.squeeze(-1) if ctx.vector else gb), None


def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix; LinAlgError when one is singular."""
    _square("inv", A)
    return _Inv.apply(A)


def det(A: Tensor) -> Tensor:
    """The determinant of each square matrix."""
    _square("det", A)
    return _Det.apply(A)


def slogdet(A: Tensor):
    """(sign, log|det|) of each square matrix; sign is 0 for a singular one."""
    _square("slogdet", A)
    sign = Tensor._make(backend.xp_of(A._data).linalg.slogdet(A._data)[0].astype(A._data.dtype))
    return _slogdet_result(sign, _LogAbsDet.apply(A))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A @ X = B (B a matrix or, matching A's batch, a vector)."""
    _square("solve", A)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _mT(solve(_mT(A), _mT(B)))
    vector = B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1])
    if not vector and (B.dim() < 2 or B.shape[-2] != A.shape[-1]):
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({tuple(A.shape)} and {tuple(B.shape)})")
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {A.dtype.name} and B of type {B.dtype.name} instead.")
    return _Solve.apply(A, B, vector)


def vector_norm(x: Tensor, ord: float = 2, dim=None, keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """The ord-norm of x flattened (or over ``dim``)."""
    if dtype is not None:
        x = x.to(dtype)
    return red.norm(x, ord, dim=dim, keepdim=keepdim)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """The Frobenius norm ('fro'), or the max column (1, -1) / row (inf, -inf) sum norms."""
    if dtype is not None:
        A = A.to(dtype)
    if A.dim() < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 "
                           f"dimensions, got {A.dim()}")
    if ord == "fro":
        return red.norm(A, 2, dim=dim, keepdim=keepdim)
    rows, cols = (d % A.dim() for d in dim)
    if ord in (1, -1, float("inf"), float("-inf")):
        inner, outer = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = red.sum(A.abs(), inner, keepdim=True)
        out = (red.amax if ord > 0 else red.amin)(sums, outer, keepdim=True)
        return out if keepdim else out.squeeze(max(rows, cols)).squeeze(min(rows, cols))
    raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} is not supported in ember "
                              "(it needs singular values); use 'fro', 1, -1, inf or -inf")


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """matrix_norm over a 2-tuple ``dim`` (or a 2-D A with an ``ord``), else vector_norm."""
    if isinstance(dim, (tuple, list)) and len(dim) == 2 or \
            (dim is None and ord is not None and A.dim() == 2):
        return matrix_norm(A, "fro" if ord is None else ord, (-2, -1) if dim is None else dim,
                           keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (default the last, unlike torch.cross)."""
    return composite.cross(input, other, dim)


matmul = _la.matmul
