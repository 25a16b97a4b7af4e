"""Ready-made parametrizations, as torch.nn.utils.parametrizations: ``orthogonal``,
``weight_norm`` and ``spectral_norm``, each registered with ``parametrize``.

Their state_dict keys are PyTorch's (``parametrizations.weight.original``,
``original0``/``original1`` for weight_norm's g and v, ``parametrizations.weight.0._u`` and
``_v`` for spectral norm's power-iteration vectors, ``parametrizations.weight.0.base`` for
orthogonal), so checkpoints move between the two libraries.

Example::

    >>> from ember.nn.utils import parametrizations as P
    >>> m = P.orthogonal(nn.Linear(5, 5))
    >>> ember.allclose(m.weight @ m.weight.T, ember.eye(5), atol=1e-5)
    True
    >>> m = P.weight_norm(nn.Linear(20, 40))
    >>> m.parametrizations.weight.original0.shape  # g
    ember.Size([40, 1])
    >>> m = P.spectral_norm(nn.Linear(20, 40))
    >>> m.parametrizations.weight[0]._u.shape
    ember.Size([40])
"""
from __future__ import annotations

from enum import Enum, auto

import numpy as np

from ... import backend, creation, linalg
from ...autograd.grad_mode import no_grad
from ...ops import composite, elementwise, movement
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from . import parametrize
from .spectral_norm import _default_dim
from .weight_norm import _norm_except_dim, _weight_norm

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


# -- orthogonal ----------------------------------------------------------------------------------
def _eye(n: int, k: int, like: Tensor) -> Tensor:
    return creation.eye(n, k, dtype=like.dtype, device=like.device)


def _is_orthogonal(Q: Tensor) -> bool:
    n, k = Q.size(-2), Q.size(-1)
    atol = 10.0 * n * float(np.finfo(Q._data.dtype).eps)
    return bool((Q.mT @ Q).allclose(_eye(k, k, Q), atol=atol))


def _make_orthogonal(A: Tensor) -> Tensor:
    """The Q of A = QR with R's diagonal made positive (unique for full-rank A)."""
    Q, R = linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


def _geqrf(A: Tensor) -> tuple[Tensor, Tensor]:
    """LAPACK's compact QR (torch.geqrf): R on and above the diagonal, the Householder
    vectors below it, and their scales tau. Not differentiable."""
    xp = backend.xp_of(A._data)
    h, tau = xp.linalg.qr(A._data, mode="raw")  # h is the transpose of LAPACK's array
    return Tensor._make(xp.ascontiguousarray(h.swapaxes(-1, -2))), Tensor._make(tau)


def _householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first k columns of H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^T, v_i the i-th
    column of A below the diagonal with a 1 on it (torch.linalg.householder_product).
    Applied right to left to the first k columns of I: O(n k^2), differentiable."""
    n, k = A.shape[-2], A.shape[-1]
    eye = _eye(n, k, A)
    V = A.tril(-1) + eye  # (*, n, k)
    Q = eye.expand(*A.shape)
    for i in reversed(range(k)):
        v = V[..., :, i:i + 1]  # (*, n, 1)
        Q = Q - (tau[..., i:i + 1].unsqueeze(-1) * v) @ (v.mT @ Q)
    return Q


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    """Maps a matrix (batch) to an orthogonal one: exp or Cayley transform of its
    skew-symmetric part, or a product of Householder reflections; with a trivialization the
    result multiplies a stored orthogonal ``base``."""

    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *,
                 use_trivialization: bool = True) -> None:
        super().__init__()
        if weight.dtype.is_complex and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex "
                             "tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X, n, k = X.mT, k, n
        if self.orthogonal_map == _OrthMaps.householder:
            Q = self._householder(X)
        else:
            Q = self._from_skew(X, n, k)
        if hasattr(self, "base"):
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def _from_skew(self, X: Tensor, n: int, k: int) -> Tensor:
        X = X.tril()
        if n != k:  # a square (n, n) matrix whose last n - k columns are zero
            X = movement.cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], -1)
        A = X - X.mT
        if self.orthogonal_map == _OrthMaps.matrix_exp:
            Q = linalg.matrix_exp(A)
        else:
            eye = _eye(n, n, A)
            Q = linalg.solve(eye - 0.5 * A, eye + 0.5 * A)
        return Q[..., :k] if n != k else Q

    @staticmethod
    def _householder(X: Tensor) -> Tensor:
        A = X.tril(-1)
        tau = 2.0 / (1.0 + (A * A).sum(-2))
        Q = _householder_product(A, tau)
        return Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)

    def right_inverse(self, Q: Tensor) -> Tensor:
        with no_grad():
            return self._right_inverse(Q)

    def _right_inverse(self, Q: Tensor) -> Tensor:
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        Q_init = Q
        n, k = Q.size(-2), Q.size(-1)
        transpose = n < k
        if transpose:
            Q, n, k = Q.mT, k, n
        if not hasattr(self, "base"):
            if self.orthogonal_map != _OrthMaps.householder:
                raise NotImplementedError("It is not possible to assign to the matrix "
                                          "exponential or the Cayley parametrizations when "
                                          "use_trivialization=False.")
            A = self._reflectors_of(Q)
            return A.mT if transpose else A
        if n == k:
            Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
        else:  # complete the columns to a square orthogonal matrix
            N = creation.randn(*(Q.shape[:-2] + (n, n - k)), dtype=Q.dtype, device=Q.device)
            Q = _make_orthogonal(movement.cat([Q, N], -1))
        self.base = Q
        neg_eye = -_eye(Q_init.size(-2), Q_init.size(-1), Q_init)
        return neg_eye.expand(*Q_init.shape).clone()  # becomes the original: writable memory

    @staticmethod
    def _reflectors_of(Q: Tensor) -> Tensor:
        """geqrf's Householder vectors with the diagonal holding the signs that forward
        multiplies back in (flipped where a reflection was skipped, tau = 0)."""
        A, tau = _geqrf(Q)
        sign = A.diagonal(dim1=-2, dim2=-1).sign()
        sign = elementwise.where(tau == 0, -sign, sign)
        eye = _eye(A.size(-2), A.size(-1), A)
        return A * (1 - eye) + eye * sign.unsqueeze(-2)


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Parametrizes ``module.<name>`` (a matrix or batch of matrices) to be orthogonal
    (orthonormal columns, or rows when it is wide).

    Args:
        module: the module holding the tensor.
        name: the tensor's name.
        orthogonal_map: "matrix_exp" (exp of a skew-symmetric matrix), "cayley"
            ((I - A/2)^-1 (I + A/2)) or "householder" (a product of reflections). Default:
            "matrix_exp" for square matrices, "householder" otherwise.
        use_trivialization: keep an orthogonal ``base`` buffer and parametrize
            ``base @ map(X)``; assigning ``module.<name> = Q`` then stores ``Q`` in base.
            Without it, assignment works only for "householder".

    Returns:
        ``module``. Registering makes the current weight orthogonal (the Q of its QR
        decomposition with R's diagonal positive).

    Raises:
        ValueError: no such tensor, fewer than 2 dims, or an unknown map.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.size(-2) == weight.size(-1)
        orthogonal_map = "matrix_exp" if square or weight.dtype.is_complex else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


# -- weight norm ---------------------------------------------------------------------------------
class _WeightNorm(Module):
    """(g, v) -> g * v / ||v||, norms over every dim but ``dim`` (all dims when None)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, 2, self.dim), weight


def _accept_old_weight_norm_keys(module: Module, name: str) -> None:
    """Lets load_state_dict take the ``<name>_g``/``<name>_v`` keys of the hook-based
    weight_norm, as torch does with a load_state_dict pre-hook. ember's hook for this is
    ``_upgrade_state_dict``; the parametrized class belongs to this module alone."""
    cls = type(module)
    previous = cls._upgrade_state_dict

    def upgrade(self, state_dict: dict, prefix: str) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)
        previous(self, state_dict, prefix)

    cls._upgrade_state_dict = upgrade


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Parametrizes ``module.<name>`` as ``g * v / ||v||`` (Salimans & Kingma, 2016):
    ``original0`` is the magnitude g, ``original1`` the direction v.

    Args:
        module: the module holding the tensor.
        name: the tensor's name.
        dim: the dim whose slices are normalized separately (g has its size there and 1
            elsewhere); None normalizes the whole tensor (g is 0-d).

    Returns:
        ``module``. Its load_state_dict also accepts the hook-based weight_norm's
        ``<name>_g``/``<name>_v`` keys.
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    _accept_old_weight_norm_keys(module, name)
    return module


# -- spectral norm -------------------------------------------------------------------------------
class _SpectralNorm(Module):
    """W -> W / sigma, sigma the largest singular value of W as a matrix (rows: ``dim``),
    estimated by power iteration with the buffers ``_u`` and ``_v``; 1-D tensors are just
    normalized."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, "
                             f"{ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.shape
            with no_grad():
                u = F.normalize(weight_mat.new_empty(h).normal_(0, 1), dim=0, eps=eps)
                v = F.normalize(weight_mat.new_empty(w).normal_(0, 1), dim=0, eps=eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        """Advances u and v in place (so the buffers keep their identity and device)."""
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(composite.mv(weight_mat, self._v), dim=0,
                                          eps=self.eps))
                self._v.copy_(F.normalize(composite.mv(weight_mat.mT, self._u), dim=0,
                                          eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        # copies: the next forward's in-place update must not reach this graph
        u, v = self._u.clone(), self._v.clone()
        sigma = composite.vdot(u, composite.mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        # any W with W / sigma(W) = value will do: value itself (its sigma is 1)
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """Parametrizes ``module.<name>`` as ``W / sigma(W)`` (Miyato et al., 2018), sigma the
    spectral norm estimated by power iteration.

    In training mode each access to ``module.<name>`` runs ``n_power_iterations`` steps,
    updating the buffers ``_u`` and ``_v`` of ``module.parametrizations.<name>[0]``; in eval
    mode they stay as they are. Registration runs 15 steps from random vectors.

    Args:
        module: the module holding the tensor.
        name: the tensor's name.
        n_power_iterations: power iteration steps per access in training mode.
        eps: stability term of the normalizations.
        dim: the dim of the matrix rows; default 1 for ConvTranspose modules, else 0.

    Returns:
        ``module``.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    dim = _default_dim(module, dim)
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
