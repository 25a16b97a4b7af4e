"""The LU family of ember.linalg: lu_factor(_ex), lu, lu_solve, and torch's lu_unpack.

NumPy has no LU, so the factorization is ember's own: a blocked right-looking LU with partial
pivoting, written with the backend's xp so that it runs batched on NumPy and CuPy alike (one
Python step per column of the panel, BLAS matmuls for the trailing updates). Pivots are
LAPACK's: 1-based int32 row interchanges, info > 0 naming the first zero diagonal of U.

lu_factor is the one primitive; its backward is PyTorch's linalg_lu_backward formula (square,
wide and tall cases), written with ember ops so it is differentiable again. lu, lu_unpack and
lu_solve are composed from it, triangular solves and matmuls, and get their gradients from
the composition.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import backend, creation
from .autograd import is_grad_enabled
from .autograd.function import Function
from .ops import movement
from .tensor import Tensor

_lu_factor_result = namedtuple("linalg_lu_factor", ["LU", "pivots"])
_lu_factor_ex_result = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
_lu_result = namedtuple("linalg_lu", ["P", "L", "U"])
_lu_unpack_result = namedtuple("lu_unpack", ["P", "L", "U"])
_lu_with_info_result = namedtuple("_lu_with_info", ["LU", "pivots", "info"])

_BLOCK = 32  # panel width: columns factored one at a time before a matmul update


def _getrf(xp, a, pivot: bool):
    """(LU, pivots, info) of the matrices in ``a`` (*, m, n), as LAPACK's getrf."""
    *batch, m, n = a.shape
    k = min(m, n)
    lu = a.reshape(-1, m, n).copy()
    count = lu.shape[0]
    rows = xp.arange(count)
    pivots = xp.empty((count, k), dtype=np.int32)
    info = xp.zeros(count, dtype=np.int32)
    for start in range(0, k, _BLOCK):
        stop = min(start + _BLOCK, k)
        for j in range(start, stop):
            if pivot:
                p = xp.argmax(xp.abs(lu[:, j:, j]), axis=1) + j
                row = lu[:, j, :].copy()
                lu[:, j, :] = lu[rows, p, :]
                lu[rows, p, :] = row
                pivots[:, j] = p + 1
            else:
                pivots[:, j] = j + 1
            diag = lu[:, j, j]
            zero = diag == 0
            info = xp.where((info == 0) & zero, np.int32(j + 1), info)
            # as getrf: a zero pivot leaves its column unscaled (it is zero under partial
            # pivoting anyway) and factoring goes on
            lu[:, j + 1:, j] /= xp.where(zero, 1, diag)[:, None]
            lu[:, j + 1:, j + 1:stop] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:stop]
        if stop < n:
            # U12 = L11^-1 A12, then the trailing block loses L21 U12
            l11 = xp.tril(lu[:, start:stop, start:stop], -1) + xp.eye(stop - start, dtype=a.dtype)
            lu[:, start:stop, stop:] = xp.linalg.solve(l11, lu[:, start:stop, stop:])
            if stop < m:
                lu[:, stop:, stop:] -= lu[:, stop:, start:stop] @ lu[:, start:stop, stop:]
    return (lu.reshape(*batch, m, n), pivots.reshape(*batch, k), info.reshape(batch))


def _permutation(xp, pivots, m: int):
    """perm (*, m) int64 with A[..., perm, :] = L U: the pivots' row swaps applied in turn."""
    *batch, k = pivots.shape
    swaps = pivots.reshape(-1, k).astype(np.int64) - 1
    count = swaps.shape[0]
    rows = xp.arange(count)
    perm = xp.broadcast_to(xp.arange(m, dtype=np.int64), (count, m)).copy()
    for j in range(k):
        held = perm[:, j].copy()
        perm[:, j] = perm[rows, swaps[:, j]]
        perm[rows, swaps[:, j]] = held
    return perm.reshape(*batch, m)


def _permutation_matrix(pivots: Tensor, m: int, like: Tensor) -> Tensor:
    """P (*, m, m) with A = P L U; P[perm[i], i] = 1."""
    xp = backend.xp_of(pivots._data)
    with backend.device_guard(pivots._data):
        perm = _permutation(xp, pivots._data, m)
        p = xp.arange(m)[:, None] == perm[..., None, :]
        return Tensor._make(p.astype(like._data.dtype))


def _unpack_factors(lu: Tensor) -> tuple[Tensor, Tensor]:
    """L (*, m, k) unit lower and U (*, k, n) upper, from the packed LU (*, m, n)."""
    m, n = lu.shape[-2:]
    k = min(m, n)
    eye = creation.eye(m, k, dtype=lu.dtype, device=lu.device)
    return lu[..., :, :k].tril(-1) + eye, lu[..., :k, :].triu()


class _LUFactor(Function):
    @staticmethod
    def forward(ctx, a, pivot):
        xp = backend.xp_of(a._data)
        with backend.device_guard(a._data):
            lu, pivots, info = _getrf(xp, a._data, pivot)
        ctx.outputs = (lu, pivots)
        return lu, pivots, info

    @staticmethod
    def backward(ctx, grad, _gpivots, _ginfo):
        lu_data, pivots = ctx.outputs
        on = is_grad_enabled()
        lu = Tensor._make(lu_data, on, ctx if on else None, 0)
        L, U = _unpack_factors(lu)
        P = _permutation_matrix(Tensor._make(pivots), lu.shape[-2], lu)
        k = min(lu.shape[-2:])
        return P @ _lu_grad(grad[..., :, :k].tril(-1), grad[..., :k, :].triu(), L, U), None


def _lu_grad(gL: Tensor, gU: Tensor, L: Tensor, U: Tensor) -> Tensor:
    """P^T gA for A = P L U (the real case of torch's linalg_lu_backward).

    Square: gA = L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T. A wide A = P L [U1 U2] and a tall
    A = P [L1; L2] U carry the extra block through one more triangular solve.
    """
    mT = _linalg._mT
    m, n = L.shape[-2], U.shape[-1]

    def core(M, L1, U1):  # L1^-T M U1^-T
        X = _linalg.solve_triangular(mT(L1), M, upper=True, unitriangular=True)
        return _linalg.solve_triangular(mT(U1), X, upper=False, left=False)

    if m == n:
        return core((mT(L) @ gL).tril(-1) + (gU @ mT(U)).triu(), L, U)
    if m < n:
        U1, U2, gU1, gU2 = U[..., :m], U[..., m:], gU[..., :m], gU[..., m:]
        M = (mT(L) @ gL - gU2 @ mT(U2)).tril(-1) + (gU1 @ mT(U1)).triu()
        g2 = _linalg.solve_triangular(mT(L), gU2, upper=True, unitriangular=True)
        return movement.cat([core(M, L, U1), g2], -1)
    L1, L2, gL1, gL2 = L[..., :n, :], L[..., n:, :], gL[..., :n, :], gL[..., n:, :]
    M = (mT(L1) @ gL1).tril(-1) + (gU @ mT(U) - mT(L2) @ gL2).triu()
    g2 = _linalg.solve_triangular(mT(U), gL2, upper=False, left=False)
    return movement.cat([core(M, L1, U), g2], -2)


def _check_input(op: str, A: Tensor) -> None:
    _linalg._check_matrix(op, A, square=False)


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False):
    """(LU, pivots, info): the LU factorization of A (*, m, n) packed as LAPACK's getrf.

    LU holds L's strict lower part (its diagonal is ones) and U; pivots (*, min(m, n)) are
    1-based int32 row swaps; info is 0, or k > 0 where U[k-1, k-1] is zero (then A is
    singular). ``pivot=False`` factors without row swaps (torch allows that only on CUDA).
    ``check_errors`` raises LinAlgError for a non-zero info instead.

    Example:
        >>> LU, pivots, info = ember.linalg.lu_factor_ex(ember.tensor([[1., 2.], [3., 4.]]))
        >>> pivots
        tensor([2, 2], dtype=ember.int32)
    """
    _check_input("lu_factor_ex", A)
    lu, pivots, info = _LUFactor.apply(A, bool(pivot))
    if check_errors:
        _linalg._raise_on("lu_factor_ex", info, A.dim() > 2, _zero_diagonal)
    return _lu_factor_ex_result(lu, pivots, info)


def _zero_diagonal(k: int) -> str:
    return (f"U[{k},{k}] is zero and using it on lu_solve would result in a division by zero. "
            f"If you still want to perform the factorization, consider calling linalg.lu(A, "
            f"pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A: Tensor, *, pivot: bool = True):
    """(LU, pivots) of lu_factor_ex; LinAlgError when U has a zero on its diagonal (A is
    singular), as torch: use lu or lu_factor_ex to factor singular matrices."""
    _check_input("lu_factor", A)
    lu, pivots, info = _LUFactor.apply(A, bool(pivot))
    _linalg._raise_on("lu_factor", info, A.dim() > 2, _zero_diagonal)
    return _lu_factor_result(lu, pivots)


def lu(A: Tensor, *, pivot: bool = True):
    """(P, L, U) with A = P L U: P a permutation matrix (*, m, m), L (*, m, k) unit lower
    triangular, U (*, k, n) upper triangular, k = min(m, n). Differentiable in L and U.
    ``pivot=False`` gives an empty P."""
    _check_input("lu", A)
    lu_packed, pivots, _ = _LUFactor.apply(A, bool(pivot))
    return _lu_result(*_unpack(lu_packed, pivots, True, pivot, "lu"))


def _check_pivots(op: str, LU: Tensor, pivots: Tensor) -> None:
    if pivots._data.dtype != np.int32:
        raise RuntimeError(f"{op}: LU_pivots is expected to be a contiguous tensor of "
                           f"torch.int32 dtype. Note: this function is intended to be used "
                           f"with the output produced by torch.linalg.lu_factor, got "
                           f"{pivots.dtype}")
    k = min(LU.shape[-2:])
    if tuple(pivots.shape) != tuple(LU.shape[:-2]) + (k,):
        raise RuntimeError(f"{op}: Expected pivots of shape {tuple(LU.shape[:-2]) + (k,)} for "
                           f"LU of shape {tuple(LU.shape)}, got {tuple(pivots.shape)}")
    data = pivots._data
    with backend.device_guard(data):
        valid = not data.size or bool(((data >= 1) & (data <= LU.shape[-2])).all())
    if not valid:
        raise RuntimeError(f"{op}: pivots must lie in [1, {LU.shape[-2]}] (1-based row "
                           f"indices as returned by lu_factor)")


def _unpack(LU: Tensor, pivots: Tensor, unpack_data: bool, unpack_pivots: bool, op: str):
    empty = LU.new_zeros(0)
    L, U = _unpack_factors(LU) if unpack_data else (empty, empty)
    P = _permutation_matrix(pivots, LU.shape[-2], LU) if unpack_pivots else empty
    return P, L, U


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True):
    """(P, L, U) from lu_factor's packed (LU, pivots); an unpacked part is an empty tensor
    when its flag is False."""
    _check_input("lu_unpack", LU_data)
    if unpack_pivots:
        _check_pivots("lu_unpack", LU_data, LU_pivots)
    return _lu_unpack_result(*_unpack(LU_data, LU_pivots, unpack_data, unpack_pivots,
                                      "lu_unpack"))


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
             adjoint: bool = False) -> Tensor:
    """X with A X = B from A's lu_factor (A^T X = B when ``adjoint``; X A = B, or X A^T = B,
    when not ``left``). Batch dims broadcast; differentiable in LU and B.

    Shape: LU (*, n, n), pivots (*, n), B (*, n, k) (left) or (*, k, n).

    Example:
        >>> A = ember.tensor([[3., 1.], [1., 2.]])
        >>> ember.linalg.lu_solve(*ember.linalg.lu_factor(A), ember.tensor([[9.], [8.]]))
        tensor([[2.],
                [3.]])
    """
    _linalg._check_matrix("lu_solve", LU)
    _linalg._check_matrix("lu_solve", B, square=False)
    _check_pivots("linalg.lu_solve", LU, pivots)
    n = LU.shape[-1]
    if B.shape[-2 if left else -1] != n:
        side = "left" if left else "right"
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({tuple(LU.shape)} and "
                           f"{tuple(B.shape)}) with {side}=True")
    _linalg._same_dtype("lu_solve", LU, B)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _linalg._mT(lu_solve(LU, pivots, _linalg._mT(B), adjoint=not adjoint))
    P, L, U = _unpack(LU, pivots, True, True, "lu_solve")
    solve = _linalg.solve_triangular
    if adjoint:  # A^T = U^T L^T P^T
        y = solve(_linalg._mT(L), solve(_linalg._mT(U), B, upper=False), upper=True,
                  unitriangular=True)
        return P @ y
    y = solve(L, _linalg._mT(P) @ B, upper=False, unitriangular=True)
    return solve(U, y, upper=True)


# last: ember.linalg re-exports this module's functions, so either may be imported first
from . import linalg as _linalg  # noqa: E402
