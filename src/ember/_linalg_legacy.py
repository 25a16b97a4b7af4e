"""torch's top-level linear algebra: the torch.linalg aliases and the older APIs kept beside
them (svd returning V, qr(some), triangular_solve(b, A), lu, cholesky_solve, ...).

Each is a composition of ember.linalg, so it is differentiable wherever those are. The
functions torch removed in 1.9 (solve, lstsq, eig, symeig, matrix_rank) exist, as in torch,
only to raise with the replacement's name.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import backend, creation, linalg
from .autograd.function import Function
from ._lu import _lu_with_info_result
from ._lu import lu_unpack  # noqa: F401  (torch.lu_unpack, re-exported)
from .ops import elementwise as ew, movement
from .ops import reduce as red
from .tensor import Tensor

_svd_result = namedtuple("svd", ["U", "S", "V"])
_qr_result = namedtuple("qr", ["Q", "R"])
_triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
_geqrf_result = namedtuple("geqrf", ["a", "tau"])

det = linalg.det
slogdet = linalg.slogdet
inverse = linalg.inv
matrix_exp = linalg.matrix_exp
matrix_power = linalg.matrix_power


def logdet(input: Tensor) -> Tensor:
    """log(det(input)): NaN where the determinant is negative, -inf where it is zero."""
    sign, logabsdet = linalg.slogdet(input)
    return ew.where(sign < 0, float("nan"), logabsdet)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """The pseudo-inverse, dropping singular values below rcond * the largest."""
    return linalg.pinv(input, rtol=rcond)


def svd(input: Tensor, some: bool = True, compute_uv: bool = True):
    """(U, S, V) with input = U diag(S) V^T: torch.svd's API, V rather than linalg.svd's Vh.

    ``some`` gives the reduced factors. Without ``compute_uv`` U and V are zero matrices
    (*, m, m) and (*, n, n), as in torch.
    """
    if not compute_uv:
        m, n = input.shape[-2:]
        zeros = lambda k: creation.zeros(*input.shape[:-2], k, k, dtype=input.dtype,  # noqa: E731
                                         device=input.device)
        return _svd_result(zeros(m), linalg.svdvals(input), zeros(n))
    U, S, Vh = linalg.svd(input, full_matrices=not some)
    return _svd_result(U, S, linalg._mT(Vh))


def qr(input: Tensor, some: bool = True):
    """(Q, R) of linalg.qr in 'reduced' mode, or 'complete' when not ``some``."""
    return _qr_result(*linalg.qr(input, "reduced" if some else "complete"))


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """linalg.cholesky with torch.cholesky's positional ``upper``."""
    return linalg.cholesky(input, upper=upper)


def _check_rhs(op: str, b: Tensor, factor: Tensor) -> None:
    for name, t in (("b", b), ("A", factor)):
        if t.dim() < 2:
            raise RuntimeError(f"{op}: Expected {name} to have at least 2 dimensions, but it "
                               f"has {t.dim()} dimensions instead")
    if factor.shape[-1] != factor.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{factor.shape[-2]} by {factor.shape[-1]} matrices")
    if b.shape[-2] != factor.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible matrix sizes for the equation AX = b: A "
                           f"{tuple(factor.shape)} and b {tuple(b.shape)}")
    linalg._same_dtype(op, factor, b)


def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:
    """X with A X = input, given A's Cholesky factor ``input2`` (L, or U when ``upper``).

    Batch dims broadcast. Shape: input (*, n, k), input2 (*, n, n) -> (*, n, k).
    """
    _check_rhs("cholesky_solve", input, input2)
    first = linalg._mT(input2) if upper else input2  # the lower factor: A = first first^T
    y = linalg.solve_triangular(first, input, upper=False)
    return linalg.solve_triangular(linalg._mT(first), y, upper=True)


def cholesky_inverse(input: Tensor, upper: bool = False) -> Tensor:
    """The inverse of A from its Cholesky factor (A = L L^T, or U^T U when ``upper``)."""
    linalg._check_matrix("cholesky_inverse", input)
    eye = linalg._eye_like(input, input.shape[-1])
    if upper:  # A^-1 = U^-1 U^-T
        u_inv = linalg.solve_triangular(input, eye, upper=True)
        return u_inv @ linalg._mT(u_inv)
    l_inv = linalg.solve_triangular(input, eye, upper=False)  # A^-1 = L^-T L^-1
    return linalg._mT(l_inv) @ l_inv


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False):
    """(solution, cloned_coefficient): X with A X = b (A^T X = b when ``transpose``) for a
    triangular A, and a copy of A broadcast to the batch. torch's older, argument-reversed
    linalg.solve_triangular."""
    _check_rhs("triangular_solve", b, A)
    batch = tuple(movement.broadcast_shapes(tuple(b.shape[:-2]), tuple(A.shape[:-2])))
    coefficient = A.expand(*batch, *A.shape[-2:])
    if transpose:
        x = linalg.solve_triangular(linalg._mT(A), b, upper=not upper,
                                    unitriangular=unitriangular)
    else:
        x = linalg.solve_triangular(A, b, upper=upper, unitriangular=unitriangular)
    return _triangular_solve_result(x, coefficient.clone())


def lu(A: Tensor, pivot: bool = True, get_infos: bool = False):
    """(LU, pivots), or (LU, pivots, info) with ``get_infos``: linalg.lu_factor_ex's factors
    (singular matrices do not raise)."""
    LU, pivots, info = linalg.lu_factor_ex(A, pivot=pivot)
    return _lu_with_info_result(LU, pivots, info) if get_infos else (LU, pivots)


def lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """X with A X = b from A's (LU, pivots); linalg.lu_solve with b first."""
    return linalg.lu_solve(LU_data, LU_pivots, b)


def chain_matmul(*matrices) -> Tensor:
    """The product of 2-D matrices in the cheapest order (linalg.multi_dot)."""
    if len(matrices) == 1:
        if matrices[0].dim() != 2:
            raise RuntimeError(f"chain_matmul(): Tensor dimension is {matrices[0].dim()}, "
                               f"expected 2 instead.")
        return matrices[0].clone()
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for i, m in enumerate(matrices):
        if m.dim() != 2:
            raise RuntimeError(f"chain_matmul(): Tensor {i} has {m.dim()} dimensions, "
                               f"expected 2")
    return linalg.multi_dot(matrices)


def adjoint(input: Tensor) -> Tensor:
    """The (conjugate) transpose of the last two dims, as a view."""
    if input.dim() < 2:
        raise RuntimeError("tensor.adjoint() is only supported on matrices or batches of "
                           "matrices. Got 1-D tensor.")
    out = linalg._mT(input)
    return out.conj() if input._data.dtype.kind == "c" else out


def frobenius_norm(input: Tensor, dim=(-2, -1), keepdim: bool = False) -> Tensor:
    """The 2-norm over ``dim`` (torch's deprecated spelling)."""
    return red.norm(input, 2, dim=dim, keepdim=keepdim)


def nuclear_norm(input: Tensor, dim=(-2, -1), keepdim: bool = False) -> Tensor:
    """The sum of singular values over the matrix ``dim`` (default the last two)."""
    if isinstance(dim, bool):  # nuclear_norm(input, keepdim) positionally
        dim, keepdim = (-2, -1), dim
    return linalg.matrix_norm(input, "nuc", dim, keepdim)


class _Geqrf(Function):
    @staticmethod
    def forward(ctx, a):
        xp, x = backend.xp_of(a._data), a._data
        with backend.device_guard(x):
            if xp is np:
                h, tau = np.linalg.qr(x, mode="raw")
            else:  # one matrix at a time: CuPy's raw mode takes no batch
                flat = x.reshape(-1, *x.shape[-2:])
                parts = [xp.linalg.qr(m, mode="raw") for m in flat]
                k = min(x.shape[-2:])
                h = xp.stack([p[0] for p in parts]) if parts else \
                    xp.empty((0,) + x.shape[-1:-3:-1], x.dtype)
                tau = xp.stack([p[1] for p in parts]) if parts else xp.empty((0, k), x.dtype)
                h, tau = h.reshape(x.shape[:-2] + h.shape[-2:]), tau.reshape(x.shape[:-2] + (k,))
            # LAPACK's column-major output comes back transposed
            return xp.ascontiguousarray(h.swapaxes(-1, -2)), xp.ascontiguousarray(tau)

    @staticmethod
    def backward(ctx, grad_a, grad_tau):
        raise RuntimeError("The derivative of linalg.geqrf is not implemented. Use linalg.qr "
                           "instead, which is differentiable")


def geqrf(input: Tensor):
    """(a, tau): LAPACK's geqrf QR, R in a's upper triangle and the Householder reflectors
    below it, with their scales tau (*, min(m, n)). Not differentiable; see linalg.qr."""
    linalg._check_matrix("geqrf", input, square=False)
    return _geqrf_result(*_Geqrf.apply(input))


orgqr = linalg.householder_product


def ormqr(input: Tensor, tau: Tensor, other: Tensor, left: bool = True,
          transpose: bool = False) -> Tensor:
    """``other`` multiplied by Q (the full m x m Q of geqrf's reflectors in ``input``):
    Q C, Q^T C, or with ``left=False`` C Q, C Q^T."""
    linalg._check_matrix("ormqr", input, square=False)
    if left:
        return linalg._apply_householder(input, tau, other, transpose)
    mT = linalg._mT
    return mT(linalg._apply_householder(input, tau, mT(other), not transpose))


def _removed(name: str, hint: str):
    def removed(*args, **kwargs):
        raise RuntimeError(f"This function was deprecated since version 1.9 and is now "
                           f"removed. {hint}")
    removed.__name__ = name
    removed.__doc__ = f"Removed from torch in 1.9: {hint}"
    return removed


solve = _removed("solve", "`torch.solve` is deprecated in favor of `torch.linalg.solve`. "
                 "`torch.linalg.solve` has its arguments reversed and does not return the LU "
                 "factorization.")
lstsq = _removed("lstsq", "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.")
eig = _removed("eig", "Use `torch.linalg.eig` (complex results) or `torch.linalg.eigh`.")
symeig = _removed("symeig", "Use `torch.linalg.eigh` (it reads the lower triangle by "
                  "default).")
matrix_rank = _removed("matrix_rank", "Please use the `torch.linalg.matrix_rank` function "
                       "instead. The parameter 'symmetric' was renamed in "
                       "`torch.linalg.matrix_rank()` to 'hermitian'.")
