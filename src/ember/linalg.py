"""ember.linalg: torch.linalg's functions on real floating-point matrices.

Matrices are the last two dims; leading dims are a batch. Decompositions return namedtuples
with torch's field names (svd: U, S, Vh; eigh: eigenvalues, eigenvectors; qr: Q, R).

The primitives are LAPACK calls through the backend's xp (NumPy's or CuPy's) whose backward is
written with ember ops, so it is differentiable again: inv, det, slogdet, solve,
solve_triangular, cholesky, qr, eigh and svd, with PyTorch's derivative formulas. The rest is
composed from them and gets its gradient for free: the norms, svdvals, eigvalsh, pinv, lstsq,
matrix_power, matrix_exp (scaling and squaring of a degree-18 Taylor polynomial), vander,
vecdot, multi_dot, tensorinv, tensorsolve, solve_ex, cond, householder_product. matrix_rank
has no gradient. The LU family (lu_factor(_ex), lu, lu_solve) lives in ember._lu: NumPy has
no LU, so ember factors with its own blocked, batched kernel.

Like torch's, the eigh and svd derivatives assume distinct eigenvalues (singular values, and
none zero for a non-square svd). Where two coincide torch's has 1 / 0 terms; ember divides by
1 instead, which is exact when the loss does not depend on the basis chosen within that
eigenspace (eigenvalues only, projectors: the numerator is then 0) and finite but
meaningless otherwise, where torch's is inf/nan. So svdvals and eigvalsh of an identity are
differentiable, as in torch.

Failed factorizations raise LinAlgError naming the first failing matrix, as torch does. That
reads a flag on the host, so on the GPU cholesky_ex and inv_ex synchronise too (torch's do
not).
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from . import backend, creation
from .autograd import is_grad_enabled
from .autograd.function import Function
from .ops import composite, elementwise as ew, linalg as _la, movement
from .ops import reduce as red
from .tensor import Tensor

__all__ = ["inv", "inv_ex", "det", "slogdet", "solve", "solve_triangular", "cholesky",
           "cholesky_ex", "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv", "lstsq",
           "matrix_rank", "matrix_power", "matrix_exp", "norm", "vector_norm", "matrix_norm",
           "cross", "matmul", "LinAlgError", "lu", "lu_factor", "lu_factor_ex", "lu_solve",
           "solve_ex", "vecdot", "vander", "multi_dot", "diagonal", "tensorinv", "tensorsolve",
           "cond", "householder_product"]

_slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])
_inv_ex_result = namedtuple("linalg_inv_ex", ["inverse", "info"])
_cholesky_ex_result = namedtuple("linalg_cholesky_ex", ["L", "info"])
_qr_result = namedtuple("linalg_qr", ["Q", "R"])
_eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
_svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])
_lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])

_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


class LinAlgError(RuntimeError):
    """A matrix LAPACK cannot factor: singular, not positive-definite, no convergence
    (torch.linalg.LinAlgError)."""


# -- checks and helpers -------------------------------------------------------------------------
def _check_matrix(op: str, a: Tensor, *, square: bool = True, floating: bool = True) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"linalg.{op}(): argument 'A' must be Tensor, not {type(a).__name__}")
    if a.dim() < 2:
        raise RuntimeError(f"linalg.{op}: The input tensor A must have at least 2 dimensions, "
                           f"got shape {tuple(a.shape)}.")
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if floating and a._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input. Got "
                           f"{a.dtype.name}")


def _same_dtype(op: str, a: Tensor, b: Tensor) -> None:
    if a.dtype != b.dtype:
        raise RuntimeError(f"linalg.{op}: Expected A and B to have the same dtype, but found "
                           f"A of type {a.dtype.name} and B of type {b.dtype.name} instead.")


def _mT(t: Tensor) -> Tensor:
    return t.transpose(-2, -1)


def _eye_like(t: Tensor, n: int) -> Tensor:
    return creation.eye(n, dtype=t.dtype, device=t.device)


def _diag_embed(v: Tensor) -> Tensor:
    return v.unsqueeze(-1) * _eye_like(v, v.shape[-1])


def _skew(x: Tensor) -> Tensor:
    return x - _mT(x)


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """num / den, dividing by 1 where den is exactly 0 (a diagonal, a repeated value)."""
    return num / ew.where(den == 0, 1.0, den)


def _outputs(ctx) -> tuple:
    """forward's outputs (kept as arrays in ctx.outputs) as Tensors whose grad_fn is ctx, so
    a backward built on them is differentiable again: save_output for several outputs."""
    on = is_grad_enabled()
    return tuple(Tensor._make(a, on, ctx if on else None, i) for i, a in enumerate(ctx.outputs))


def _wants_grad(a: Tensor) -> bool:
    return is_grad_enabled() and a.requires_grad


def _lapack(op: str, fn, *arrays, problem: str):
    xp = backend.xp_of(arrays[0])
    try:
        return fn(xp, *arrays)
    except xp.linalg.LinAlgError as exc:
        raise LinAlgError(f"linalg.{op}: {problem} ({exc})") from None


def _not_converged(what: str) -> str:
    return (f"The algorithm failed to converge because the input matrix is ill-conditioned, "
            f"has non-finite values or has too many repeated {what}")


def _raise_on(op: str, info: Tensor, batched: bool, message) -> None:
    """LinAlgError for the first matrix whose LAPACK info is non-zero (a host read)."""
    host = backend.of(info._data).to_numpy(info._data).reshape(-1)
    failed = np.flatnonzero(host)
    if failed.size:
        where = f"(Batch element {failed[0]}): " if batched else ""
        raise LinAlgError(f"linalg.{op}: {where}{message(int(host[failed[0]]))}")


def _first_failing(n: int, fails) -> int:
    """The smallest k in 1..n with fails(k), for a test that stays true once true."""
    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fails(mid) else (mid + 1, hi)
    return lo


def _one_at_a_time(xp, a, attempt, failure_info):
    """(results, int32 info) of a batch on which LAPACK failed somewhere: it does not say
    where, so each matrix is tried alone; a failed one gets NaN and failure_info(it) > 0."""
    flat = a.reshape(-1, *a.shape[-2:])
    out, info = xp.empty_like(flat), []
    for i, m in enumerate(flat):
        result = attempt(xp, m)
        info.append(0 if result is not None else failure_info(xp, m))
        out[i] = xp.nan if result is None else result
    return out.reshape(a.shape), xp.asarray(info, dtype=xp.int32).reshape(a.shape[:-2])


# -- inverse, determinant, solve ---------------------------------------------------------------
def _try_inv(xp, a):
    try:
        out = xp.linalg.inv(a)
    except xp.linalg.LinAlgError:
        return None
    # CuPy does not raise on a singular matrix: its inverse comes back non-finite
    return out if bool(xp.isfinite(out).all() | ~xp.isfinite(a).all()) else None


def _first_zero_pivot(xp, m) -> int:
    # partial-pivoting LU meets its first zero pivot at the first column in the span of those
    # before it: LAPACK getrf's info, up to rounding
    return _first_failing(m.shape[-1], lambda k: int(xp.linalg.matrix_rank(m[:, :k])) < k)


class _Inv(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        xp, x = backend.xp_of(a._data), a._data
        out = _try_inv(xp, x)
        if out is not None:
            return out, xp.zeros(x.shape[:-2], dtype=xp.int32)
        return _one_at_a_time(xp, x, _try_inv, _first_zero_pivot)

    @staticmethod
    def backward(ctx, grad, _info):
        inv_t = _mT(ctx.saved_output)
        return -(inv_t @ grad @ inv_t)


def _singular(k: int) -> str:
    return (f"The diagonal element {k} is zero, the inversion could not be completed because "
            f"the input matrix is singular.")


def inv_ex(A: Tensor, *, check_errors: bool = False):
    """(inverse, info): info is 0, or k > 0 where the k-th pivot of A's LU is zero (the
    inverse is then NaN); LinAlgError instead with ``check_errors``."""
    _check_matrix("inv_ex", A)
    inverse, info = _Inv.apply(A)
    if check_errors:
        _raise_on("inv_ex", info, A.dim() > 2, _singular)
    return _inv_ex_result(inverse, info)


def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix; LinAlgError when one is singular."""
    _check_matrix("inv", A)
    inverse, info = _Inv.apply(A)
    _raise_on("inv", info, A.dim() > 2, _singular)
    return inverse


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
        x = _lapack("solve", lambda xp, m, r: xp.linalg.solve(m, r), a._data, rhs,
                    problem="The solver failed because the input matrix is singular")
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


def det(A: Tensor) -> Tensor:
    """The determinant of each square matrix."""
    _check_matrix("det", A)
    return _Det.apply(A)


def slogdet(A: Tensor):
    """(sign, log|det|) of each square matrix; sign is 0 for a singular one."""
    _check_matrix("slogdet", A)
    sign = Tensor._make(backend.xp_of(A._data).linalg.slogdet(A._data)[0].astype(A._data.dtype))
    return _slogdet_result(sign, _LogAbsDet.apply(A))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A @ X = B (B a matrix or, matching A's batch, a vector)."""
    _check_matrix("solve", A)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _mT(solve(_mT(A), _mT(B)))
    vector = B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1])
    if not vector and (B.dim() < 2 or B.shape[-2] != A.shape[-1]):
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({tuple(A.shape)} and {tuple(B.shape)})")
    _same_dtype("solve", A, B)
    return _Solve.apply(A, B, vector)


def _triangle(xp, a, upper: bool, unit: bool):
    t = xp.triu(a, 1 if unit else 0) if upper else xp.tril(a, -1 if unit else 0)
    return t + xp.eye(a.shape[-1], dtype=a.dtype) if unit else t


class _SolveTriangular(Function):
    """X with T X = B, T the upper or lower triangle of A (with ones on the diagonal when
    unit); right-hand solves are transposed into this one."""

    @staticmethod
    def forward(ctx, a, b, upper, unit):
        ctx.save_for_backward(a)
        ctx.upper, ctx.unit = upper, unit
        ctx.save_output()
        xp, x, y = backend.xp_of(a._data), a._data, b._data
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
        # NumPy has no triangular solver; LU with partial pivoting is as accurate here
        return _lapack("solve_triangular", lambda xp, t, r: xp.linalg.solve(t, r),
                       xp.broadcast_to(_triangle(xp, x, upper, unit), batch + x.shape[-2:]),
                       xp.broadcast_to(y, batch + y.shape[-2:]),
                       problem="The triangular matrix has a zero on its diagonal")

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        gb = _SolveTriangular.apply(_mT(a), grad, not ctx.upper, ctx.unit)
        ga = -(gb @ _mT(ctx.saved_output))
        ga = ga.triu(int(ctx.unit)) if ctx.upper else ga.tril(-int(ctx.unit))
        return ga, gb, None, None


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """X with A X = B (or X A = B when not ``left``) for a triangular A.

    Only A's ``upper`` (or lower) triangle is read; ``unitriangular`` takes its diagonal as
    ones. Batch dims broadcast; B is cast to A's dtype (as torch does). Shape: A (*, n, n),
    B (*, n, k) (left) or (*, k, n).

    Example:
        >>> L = ember.tensor([[2., 0.], [1., 1.]])
        >>> ember.linalg.solve_triangular(L, ember.tensor([[2.], [3.]]), upper=False)
        tensor([[1.],
                [2.]])
    """
    _check_matrix("solve_triangular", A)
    _check_matrix("solve_triangular", B, square=False)
    n, k = A.shape[-1], B.shape[-2 if left else -1]
    if n != k:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation {eq} ({tuple(A.shape)} and {tuple(B.shape)})")
    if A.dtype != B.dtype:  # as torch does here (its solve raises instead)
        B = B.to(A.dtype)
    if left:
        return _SolveTriangular.apply(A, B, upper, unitriangular)
    return _mT(_SolveTriangular.apply(_mT(A), _mT(B), not upper, unitriangular))


# -- cholesky ------------------------------------------------------------------------------------
def _try_cholesky(xp, a):
    try:
        L = xp.linalg.cholesky(a)
    except xp.linalg.LinAlgError:
        return None
    # CuPy does not raise: it leaves the failing (non-positive) pivot on the diagonal
    return L if bool((xp.diagonal(L, 0, -2, -1) > 0).all()) else None


def _first_not_positive_definite(xp, m) -> int:
    return _first_failing(m.shape[-1], lambda k: _try_cholesky(xp, m[:k, :k]) is None)


class _Cholesky(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        xp, x = backend.xp_of(a._data), a._data
        L = _try_cholesky(xp, x)
        if L is not None:
            return L, xp.zeros(x.shape[:-2], dtype=xp.int32)
        return _one_at_a_time(xp, x, _try_cholesky, _first_not_positive_definite)

    @staticmethod
    def backward(ctx, grad, _info):
        # gA = L^-T Phi(L^T gL) L^-1, Phi: the lower triangle, mirrored with a halved diagonal
        L = ctx.saved_output
        phi = (_mT(L) @ grad).tril()
        phi = 0.5 * (phi + _mT(phi.tril(-1)))
        return solve_triangular(L, solve_triangular(_mT(L), phi, upper=True), upper=False,
                                left=False)


def _not_positive_definite(k: int) -> str:
    return (f"The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {k} is not positive-definite).")


def _cholesky(op: str, A: Tensor, upper: bool, check_errors: bool):
    _check_matrix(op, A)
    # the upper factor of A reads A's upper triangle: it is the lower factor of A^T, transposed
    L, info = _Cholesky.apply(_mT(A) if upper else A)
    if check_errors:
        _raise_on(op, info, A.dim() > 2, _not_positive_definite)
    return _cholesky_ex_result(_mT(L) if upper else L, info)


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """L (lower triangular, positive diagonal) with A = L L^T, from A's lower triangle.

    ``upper=True`` gives U = L^T from A's upper triangle instead. LinAlgError when a matrix is
    not positive-definite. Shape: A (*, n, n) -> (*, n, n).

    Example:
        >>> ember.linalg.cholesky(ember.tensor([[4., 2.], [2., 2.]]))
        tensor([[2., 0.],
                [1., 1.]])
    """
    return _cholesky("cholesky", A, upper, True).L


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    """(L, info): cholesky without raising; info is 0, or the order of the first leading
    minor that is not positive-definite (L is then NaN)."""
    return _cholesky("cholesky_ex", A, upper, check_errors)


# -- qr ------------------------------------------------------------------------------------------
class _QR(Function):
    @staticmethod
    def forward(ctx, a, mode):
        xp, x = backend.xp_of(a._data), a._data
        if mode == "r":  # torch returns an empty Q
            q, r = xp.empty((0,), dtype=x.dtype), xp.linalg.qr(x, mode="r")
        else:
            q, r = xp.linalg.qr(x, mode=mode)
        ctx.mode, ctx.outputs = mode, (q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        q, r = _outputs(ctx)
        m, n = q.shape[-2], r.shape[-1]
        if m > n and ctx.mode == "complete":
            raise RuntimeError("The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_grad(gq, gr, q, r), None
        # wide A = Q [R1 | R2]: Q comes from the square A1 = Q R1 alone, and R2 = Q^T A2
        r1, r2, gr1, gr2 = r[..., :m], r[..., m:], gr[..., :m], gr[..., m:]
        ga1 = _qr_grad(gq + q @ (r2 @ _mT(gr2)), gr1, q, r1)
        return movement.cat([ga1, q @ gr2], -1), None


def _qr_grad(gq: Tensor, gr: Tensor, q: Tensor, r: Tensor) -> Tensor:
    """gA of A = QR with m >= n: (gQ + Q copyltu(M)) R^-T, M = gR R^T - Q^T gQ."""
    g = gr @ _mT(r) - _mT(q) @ gq
    sym = g.triu() + _mT(g.triu(1))
    return solve_triangular(_mT(r), gq + q @ sym, upper=False, left=False)


def qr(A: Tensor, mode: str = "reduced"):
    """(Q, R) with A = QR, Q orthonormal columns and R upper triangular.

    mode: 'reduced' (Q (*, m, k), R (*, k, n), k = min(m, n)), 'complete' (Q (*, m, m),
    R (*, m, n)) or 'r' (R alone, Q empty; not differentiable). Differentiable like torch's:
    not in 'complete' mode with m > n, and R's diagonal must be non-zero.
    """
    _check_matrix("qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    return _qr_result(*_QR.apply(A, mode))


# -- eigh ----------------------------------------------------------------------------------------
class _Eigh(Function):
    @staticmethod
    def forward(ctx, a, uplo):
        w, v = _lapack("eigh", lambda xp, x: xp.linalg.eigh(x, UPLO=uplo), a._data,
                       problem=_not_converged("eigenvalues"))
        ctx.outputs = (w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        # gA = V (skew(V^T gV) / 2 / E + diag(gw)) V^T,  E_ij = w_j - w_i
        w, v = _outputs(ctx)
        inner = _safe_div(0.5 * _skew(_mT(v) @ gv), w.unsqueeze(-2) - w.unsqueeze(-1))
        return v @ (inner + _diag_embed(gw)) @ _mT(v), None


def _check_uplo(uplo: str) -> None:
    if uplo not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {uplo}")


def eigh(A: Tensor, UPLO: str = "L"):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric matrices.

    Only the lower (``UPLO='L'``) or upper triangle is read. Eigenvectors are defined up to
    sign; losses of them should not depend on it. Shape: A (*, n, n) -> (*, n), (*, n, n).

    Example:
        >>> ember.linalg.eigh(ember.tensor([[2., 1.], [1., 2.]])).eigenvalues
        tensor([1., 3.])
    """
    _check_matrix("eigh", A)
    _check_uplo(UPLO)
    return _eigh_result(*_Eigh.apply(A, UPLO))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues of symmetric matrices, ascending (differentiable through eigh)."""
    _check_matrix("eigvalsh", A)
    _check_uplo(UPLO)
    if _wants_grad(A):
        return eigh(A, UPLO).eigenvalues
    return Tensor._make(_lapack("eigvalsh", lambda xp, x: xp.linalg.eigvalsh(x, UPLO=UPLO),
                                A._data, problem=_not_converged("eigenvalues")))


# -- svd -----------------------------------------------------------------------------------------
class _SVD(Function):
    @staticmethod
    def forward(ctx, a, full_matrices):
        u, s, vh = _lapack("svd", lambda xp, x: xp.linalg.svd(x, full_matrices=full_matrices),
                           a._data, problem=_not_converged("singular values"))
        ctx.outputs = (u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = _outputs(ctx)
        k = s.shape[-1]  # full matrices: only their first k vectors reach A
        u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
        return _svd_grad(gu, gs, gvh, u, s, vh), None


def _svd_grad(gu: Tensor, gs: Tensor, gvh: Tensor, u: Tensor, s: Tensor, vh: Tensor) -> Tensor:
    """gA of the reduced A = U diag(S) Vh (PyTorch's svd_backward, real case)."""
    m, n = u.shape[-2], vh.shape[-1]
    s_row, s_col = s.unsqueeze(-2), s.unsqueeze(-1)
    # E_jk = S_k^2 - S_j^2
    inner = _safe_div(_skew(_mT(u) @ gu) * s_row + s_col * _skew(vh @ _mT(gvh)),
                      s_row * s_row - s_col * s_col) + _diag_embed(gs)
    if m > n:  # the part of gU outside U's span
        gu_s = _safe_div(gu, s_row)
        return (u @ inner + gu_s - u @ (_mT(u) @ gu_s)) @ vh
    if m < n:  # the part of gVh outside Vh's span
        gvh_s = _safe_div(gvh, s_col)
        return u @ (inner @ vh + gvh_s - (gvh_s @ _mT(vh)) @ vh)
    return u @ inner @ vh


def svd(A: Tensor, full_matrices: bool = True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending (``driver`` is accepted and ignored).

    Shape: A (*, m, n) -> U (*, m, m), S (*, k), Vh (*, n, n) with k = min(m, n), or U
    (*, m, k), Vh (*, k, n) without ``full_matrices``. Singular vectors are defined up to a
    joint sign; losses of them should not depend on it.

    Example:
        >>> ember.linalg.svd(ember.tensor([[3., 0.], [0., -2.]])).S
        tensor([3., 2.])
    """
    _check_matrix("svd", A, square=False)
    return _svd_result(*_SVD.apply(A, full_matrices))


def svdvals(A: Tensor) -> Tensor:
    """The singular values of each matrix, descending (differentiable through svd)."""
    _check_matrix("svdvals", A, square=False)
    if _wants_grad(A):
        return svd(A, full_matrices=False).S
    return Tensor._make(_lapack("svdvals", lambda xp, x: xp.linalg.svd(x, compute_uv=False),
                                A._data, problem=_not_converged("singular values")))


# -- composed from the decompositions ------------------------------------------------------------
def _kept(s, shape, atol, rtol):
    """Where |s| > max(atol, rtol * max |s|) per matrix: the singular values torch counts
    (rtol defaults to eps * max(m, n), or to 0 beside a positive atol)."""
    xp = backend.xp_of(s)
    atol, rtol = (t._data[..., None] if isinstance(t, Tensor) else t for t in (atol, rtol))
    if rtol is None:
        default = float(np.finfo(s.dtype).eps) * max(shape[-2:])
        rtol = default if atol is None else (atol <= 0) * default
    s = xp.abs(s)
    return s > xp.maximum(0.0 if atol is None else atol, rtol * s.max(-1, keepdims=True))


def _pinv_from(u: Tensor, s: Tensor, vh: Tensor, kept) -> Tensor:
    """Vh^T diag(1/s) U^T, dropping the values not kept (without 1/0 in the gradient)."""
    kept = Tensor._make(kept)
    s_inv = ew.where(kept, 1 / ew.where(kept, s, 1.0), 0.0)
    return (_mT(vh) * s_inv.unsqueeze(-2)) @ _mT(u)


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse, through svd (or eigh when ``hermitian``).

    Singular values at most max(atol, rtol * largest) count as zero; rtol defaults to
    eps * max(m, n) (0 when a positive atol is given). atol and rtol may be floats or tensors
    of the batch shape. Shape: A (*, m, n) -> (*, n, m).

    The gradient is that of this composition, so exact also where a non-zero singular value
    is cut off (torch's pinv_backward then assumes none was).
    """
    _check_matrix("pinv", A, square=hermitian)
    if hermitian:
        w, v = eigh(A)
        return _pinv_from(v, w, _mT(v), _kept(w._data, A.shape, atol, rtol))
    u, s, vh = svd(A, full_matrices=False)
    return _pinv_from(u, s, vh, _kept(s._data, A.shape, atol, rtol))


def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The number of singular values above max(atol, rtol * largest) (int64, no gradient);
    tolerances as in pinv."""
    _check_matrix("matrix_rank", A, square=hermitian)
    s = (eigvalsh if hermitian else svdvals)(A.detach())._data
    return Tensor._make(_kept(s, A.shape, atol, rtol).sum(-1).astype(np.int64))


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None):
    """(solution, residuals, rank, singular_values): the minimum-norm X minimising
    ||A X - B||, through the pseudo-inverse (singular values below rcond * largest are
    dropped; rcond defaults to eps * max(m, n)).

    The other fields are filled as torch's ``driver`` fills them: rank unless 'gels',
    singular_values for 'gelsd' and 'gelss', residuals (squared column norms of A X - B)
    when m > n and the driver is 'gels', or 'gelsd'/'gelss' and every A has full rank; else
    they are empty. The default driver is 'gelsy' on the CPU and 'gels' on CUDA, as in torch;
    ember always solves through svd, so a rank-deficient A gets gelsd's answer from every
    driver. Shape: A (*, m, n), B (*, m, k) or (*, m) -> X (*, n, k) or (*, n).
    """
    _check_matrix("lstsq", A, square=False)
    driver = driver or ("gelsy" if A.device.type == "cpu" else "gels")
    if driver not in _LSTSQ_DRIVERS:
        raise RuntimeError(f"linalg.lstsq: parameter `driver` should be one of "
                           f"{', '.join(_LSTSQ_DRIVERS)}, got {driver!r}")
    vector = B.dim() == A.dim() - 1
    b = B.unsqueeze(-1) if vector else B
    if b.dim() < 2 or b.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"linalg.lstsq: A.size(-2) should match B.size(-2), got A "
                           f"{tuple(A.shape)} and B {tuple(B.shape)}")
    _same_dtype("lstsq", A, B)
    (m, n), batch = A.shape[-2:], np.broadcast_shapes(A.shape[:-2], b.shape[:-2])
    A, b = A.expand(*batch, m, n), b.expand(*batch, *b.shape[-2:])
    u, s, vh = svd(A, full_matrices=False)
    kept = _kept(s._data, A.shape, None, rcond)
    x = _pinv_from(u, s, vh, kept) @ b
    xp = backend.xp_of(kept)
    rank = kept.sum(-1).astype(np.int64)
    empty = A.new_zeros(0)
    residuals = empty
    # gels assumes full rank; the rank-revealing drivers give residuals only at full rank
    if m > n and driver != "gelsy" and (driver == "gels" or bool((rank == n).all())):
        residuals = ((A @ x - b) ** 2).sum(-2)
    return _lstsq_result(x.squeeze(-1) if vector else x, residuals,
                         Tensor._make(rank if driver != "gels" else xp.zeros(0, np.int64)),
                         s.detach() if driver in ("gelsd", "gelss") else empty)


def matrix_power(A: Tensor, n: int) -> Tensor:
    """A multiplied by itself n times (by squaring); inv(A) to the -n for negative n and
    the identity for n = 0. Integer matrices take n >= 0."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"linalg.matrix_power(): argument 'n' must be int, not "
                        f"{type(n).__name__}")
    _check_matrix("matrix_power", A, floating=n < 0)
    if n == 0:
        return _eye_like(A, A.shape[-1]).expand(*A.shape).clone()
    base, n = (inv(A), -n) if n < 0 else (A, n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


# 1/k! for k = 0..18: the Taylor polynomial of exp, good to double precision for ||X||_1 <= 1
_EXP_COEFFS = [1 / math.factorial(k) for k in range(19)]


def _taylor_exp(x: Tensor) -> Tensor:
    """sum x^k / k!, k <= 18, by Paterson-Stockmeyer: powers up to x^3, Horner in y = x^4."""
    x2 = x @ x
    powers = [_eye_like(x, x.shape[-1]), x, x2, x2 @ x]
    y = x2 @ x2
    result = None
    for start in range(16, -1, -4):  # blocks of 4 coefficients, highest first
        block = sum(c * p for c, p in zip(_EXP_COEFFS[start:start + 4], powers))
        result = block if result is None else block + result @ y
    return result


def matrix_exp(A: Tensor) -> Tensor:
    """exp(A) = sum A^k / k! of each square matrix.

    Scaling and squaring: each matrix is divided by 2^s so that its 1-norm is at most 1, its
    degree-18 Taylor polynomial taken, and the result squared s times. Composed of ember ops,
    so it is differentiable (twice, ...). Reads the largest s on the host.
    """
    _check_matrix("matrix_exp", A)
    xp, a = backend.xp_of(A._data), A._data
    norm = xp.abs(a).sum(-2).max(-1) if a.size else xp.zeros(a.shape[:-2], a.dtype)
    norm = xp.where(xp.isfinite(norm), norm, 1)  # inf/nan propagate without squarings
    s = xp.ceil(xp.log2(xp.maximum(norm, 1)))
    steps = int(s.max()) if s.size else 0
    out = _taylor_exp(A * Tensor._make((2.0 ** -s).astype(a.dtype)[..., None, None]))
    for k in range(steps):
        out = ew.where(Tensor._make(k < s)[..., None, None], out @ out, out)
    return out


# -- norms ---------------------------------------------------------------------------------------
def vector_norm(x: Tensor, ord: float = 2, dim=None, keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """The ord-norm of x flattened (or over ``dim``)."""
    if dtype is not None:
        x = x.to(dtype)
    return red.norm(x, ord, dim=dim, keepdim=keepdim)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """The Frobenius ('fro'), nuclear ('nuc') and spectral (2, -2) norms, or the max column
    (1, -1) / row (inf, -inf) sum norms."""
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
    if ord in (2, -2, "nuc"):
        s = svdvals(A.movedim((rows, cols), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else (red.amax if ord == 2 else red.amin)(s, -1)
        return out.unsqueeze(min(rows, cols)).unsqueeze(max(rows, cols)) if keepdim else out
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


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


# -- more of torch.linalg, composed --------------------------------------------------------------
_solve_ex_result = namedtuple("linalg_solve_ex", ["result", "info"])


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of x and y (broadcast) along ``dim``."""
    return red.sum(x * y, dim)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonal of each matrix (a view); torch.diagonal with batch-first defaults."""
    return movement.diagonal(A, offset, dim1, dim2)


def vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """The Vandermonde matrices of x (*, n): columns x^0, x^1, ..., x^(N-1) (N defaults to n).

    Integer inputs give int64. Shape: (*, n) -> (*, n, N).
    """
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    n = x.shape[-1] if N is None else int(N)
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    if x._data.dtype.kind in "biu":
        x = x.long()
    ones = creation.ones(*x.shape, 1, dtype=x.dtype, device=x.device)
    powers = red.cumprod(x.unsqueeze(-1).expand(*x.shape, n - 1), -1)
    return movement.cat([ones, powers], -1)


def multi_dot(tensors) -> Tensor:
    """The product of matrices in the cheapest order; the first and the last may be vectors
    (taken as a row and a column, and dropped from the result's shape)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first, last = tensors[0].dim() == 1, tensors[-1].dim() == 1
    mats = list(tensors)
    if first:
        mats[0] = mats[0].unsqueeze(0)
    if last:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i, m in enumerate(mats):
        if m.dim() != 2:
            what = "first and last tensors" if i in (0, len(mats) - 1) else f"tensor {i}"
            raise RuntimeError(f"multi_dot(): {what} must be 2D (1D allowed at the ends) but "
                               f"got {tensors[i].dim()}D")
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(tensors[i].shape)} and {list(tensors[i + 1].shape)} "
                               f"cannot be multiplied")
    out = _chain(mats, _chain_order([m.shape[0] for m in mats] + [mats[-1].shape[1]]),
                 0, len(mats) - 1)
    if first:
        out = out.squeeze(0)
    if last:
        out = out.squeeze(-1)
    return out


def _chain_order(dims: list) -> dict:
    """split[(i, j)]: where the cheapest product of matrices i..j splits (matrix-chain DP)."""
    n = len(dims) - 1
    cost, split = {(i, i): 0 for i in range(n)}, {}
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i, j], split[i, j] = min(
                (cost[i, s] + cost[s + 1, j] + dims[i] * dims[s + 1] * dims[j + 1], s)
                for s in range(i, j))
    return split


def _chain(mats: list, split: dict, i: int, j: int) -> Tensor:
    if i == j:
        return mats[i]
    s = split[i, j]
    return _chain(mats, split, i, s) @ _chain(mats, split, s + 1, j)


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of A for tensordot over its first ``ind`` dims: A reshaped to a square
    matrix, inverted, and shaped A.shape[ind:] + A.shape[:ind]."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) "
                           f"== prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(*A.shape[ind:], *A.shape[:ind])


def tensorsolve(A: Tensor, B: Tensor, dims=None) -> Tensor:
    """X with tensordot(A, X, X.dim()) = B; ``dims`` of A are moved to its end first."""
    if dims is not None:
        dims = [d % A.dim() for d in dims]
        A = A.permute(*[d for d in range(A.dim()) if d not in dims], *dims)
    rows, result_shape = B.numel(), tuple(A.shape[B.dim():])
    if tuple(A.shape[:B.dim()]) != tuple(B.shape) or math.prod(result_shape) != rows:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim"
                           f":]) == prod(self.shape[:other.ndim]), but got shapes "
                           f"{tuple(A.shape)} and {tuple(B.shape)}")
    return solve(A.reshape(rows, rows), B.reshape(rows)).reshape(result_shape)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False):
    """(result, info): solve without raising. info is lu_factor's (0, or the first zero
    diagonal of U); a singular matrix's result is NaN (LAPACK's is inf/nan garbage)."""
    _check_matrix("solve_ex", A)
    info = lu_factor_ex(A.detach()).info
    if check_errors:
        _raise_on("solve_ex", info, A.dim() > 2, _singular)
    failed = Tensor._make(info._data != 0)
    if not bool(failed._data.any()):
        return _solve_ex_result(solve(A, B, left=left), info)
    # the failing matrices are swapped for the identity, and their results for NaN
    eye = _eye_like(A, A.shape[-1])
    A = ew.where(failed[..., None, None], eye, A)
    x = solve(A, B, left=left)
    vector = x.dim() == A.dim() - 1
    mask = failed[..., None] if vector else failed[..., None, None]
    return _solve_ex_result(ew.where(mask, float("nan"), x), info)


def cond(A: Tensor, p=None) -> Tensor:
    """The condition number of each matrix in the ``p`` norm: the ratio of the extreme
    singular values for p in (None, 2, -2), else norm(A, p) * norm(inv(A), p) (inf for a
    singular A)."""
    if p in (None, 2, -2):
        _check_matrix("cond", A, square=False)
        s = svdvals(A)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    if p not in ("fro", "nuc", 1, -1, float("inf"), float("-inf")):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    _check_matrix("cond", A)
    inverse, info = inv_ex(A)
    out = matrix_norm(A, p) * matrix_norm(inverse, p)
    return ew.where(Tensor._make(info._data != 0), float("inf"), out)


def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i column i of A
    below the diagonal and a 1 on it (LAPACK's orgqr; geqrf's output gives QR's Q).

    Shape: A (*, m, n) with m >= n, tau (*, k) with k <= n -> (*, m, n).
    """
    _check_matrix("householder_product", A, square=False)
    m, n = A.shape[-2:]
    k = tau.shape[-1]
    if m < n or k > n:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-2] must be greater "
                           f"than or equal to input.shape[-1] and input.shape[-1] must be "
                           f"greater than or equal to tau.shape[-1], got A {tuple(A.shape)} and "
                           f"tau {tuple(tau.shape)}")
    return _apply_householder(A, tau, creation.eye(m, n, dtype=A.dtype, device=A.device)
                              .expand(*A.shape))


def _apply_householder(A: Tensor, tau: Tensor, C: Tensor, transpose: bool = False) -> Tensor:
    """Q C (Q^T C when ``transpose``) for Q = H_1 ... H_k of A's reflectors and tau."""
    m, n = A.shape[-2:]
    V = A.tril(-1) + creation.eye(m, n, dtype=A.dtype, device=A.device)
    order = range(tau.shape[-1]) if transpose else reversed(range(tau.shape[-1]))
    for i in order:  # each H_i = I - tau_i v_i v_i^T is symmetric
        v = V[..., :, i:i + 1]
        C = C - (tau[..., i, None, None] * v) @ (_mT(v) @ C)
    return C


from ._lu import lu, lu_factor, lu_factor_ex, lu_solve  # noqa: E402  (the LU family)
