"""Ops composed from other ember ops, with no backward of their own (autograd runs through
the ops they are made of), and the few integer-valued ones that have no gradient at all."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import _checks, backend
from ..tensor import Tensor
from . import elementwise as ew
from . import indexing, linalg, movement
from . import reduce as red

_make = Tensor._make
values_indices = namedtuple("return_types", ["values", "indices"])


def meshgrid(*tensors, indexing: str = "ij"):
    """Coordinate grids from 1-D tensors; indexing 'ij' (matrix) or 'xy' (Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {tuple(t.shape)}")
    flat = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(flat) >= 2
    if swap:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t.shape[0] for t in flat)
    grids = [t.reshape(tuple(-1 if i == k else 1 for i in range(len(flat)))).expand(shape)
             for k, t in enumerate(flat)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """p-norm distances between the rows of x1 (*, P, M) and x2 (*, R, M): (*, P, R)."""
    if x1.dim() < 2 or x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D, "
                           f"X2 got: {x2.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (*, P, R, M)
    return red.norm(diff, p, dim=-1)


def repeat_interleave(input: Tensor, repeats, dim: int | None = None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times (an int or one count
    per element); without ``dim`` the input is flattened first."""
    if dim is None:
        input, dim = input.reshape(-1), 0
    dim = _checks.dim(dim, input.dim(), "repeat_interleave")
    n = input.shape[dim]
    counts = repeats.cpu().numpy() if isinstance(repeats, Tensor) else np.asarray(repeats)
    counts = np.broadcast_to(counts.astype(np.int64).reshape(-1), (n,)) \
        if counts.size == 1 else counts.astype(np.int64).reshape(-1)
    if counts.size != n:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {counts.size} and input.size({dim}) = {n}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    index = np.repeat(np.arange(n), counts)
    return indexing.index_select(input, dim, _make(backend.xp_of(input._data).asarray(index)))


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    return _scaled_sum(input, linalg.mm(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def _scaled_sum(input, product, beta, alpha):
    product = product if alpha == 1 else product * alpha
    if beta == 0:  # as PyTorch: input is ignored, its NaNs and infs too
        return product
    return (input if beta == 1 else input * beta) + product


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix (n, m) times vector (m,)."""
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, "
                           f"{vec.dim()}")
    return linalg.matmul(input, vec)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """log(exp(a) + exp(b)) without overflow."""
    high = ew.maximum(input, other)
    return high + ew.log1p(ew.exp(-ew.abs(input - other)))


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The n-th forward difference along ``dim``, after concatenating prepend and append."""
    dim = _checks.dim(dim, input.dim(), "diff")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = movement.cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[dim]
        x = movement.narrow(x, dim, 1, max(length - 1, 0)) - \
            movement.narrow(x, dim, 0, max(length - 1, 0))
    return x


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product; the shorter shape is padded with leading ones."""
    nd = max(input.dim(), other.dim())
    a = input.reshape((1,) * (nd - input.dim()) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.dim()) + tuple(other.shape))
    interleaved_a = sum(((s, 1) for s in a.shape), ())
    interleaved_b = sum(((1, s) for s in b.shape), ())
    out = a.reshape(interleaved_a) * b.reshape(interleaved_b)
    return out.reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The 3-vector cross product along ``dim`` (default: the first dim of size 3)."""
    if dim is None:
        sizes = [i for i, s in enumerate(input.shape) if s == 3]
        if not sizes:
            raise RuntimeError(f"no dimension of size 3 in input of shape "
                               f"{tuple(input.shape)}")
        dim = sizes[0]
    dim = _checks.dim(dim, input.dim(), "cross")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[dim]} and {other.shape[dim]}")
    a0, a1, a2 = movement.unbind(input, dim)
    b0, b1, b2 = movement.unbind(other, dim)
    return movement.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Sums products over the last ``dims`` dims of a and the first of b (or the dim lists
    ``dims = (dims_a, dims_b)``)."""
    if isinstance(dims, int):
        dims_a, dims_b = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    dims_a = [_checks.dim(d, a.dim(), "tensordot") for d in dims_a]
    dims_b = [_checks.dim(d, b.dim(), "tensordot") for d in dims_b]
    if [a.shape[i] for i in dims_a] != [b.shape[i] for i in dims_b]:
        raise RuntimeError(f"tensordot: contracted dimensions need to match, but got "
                           f"{[a.shape[i] for i in dims_a]} and {[b.shape[i] for i in dims_b]}")
    free_a = [i for i in range(a.dim()) if i not in dims_a]
    free_b = [i for i in range(b.dim()) if i not in dims_b]
    k = int(np.prod([a.shape[i] for i in dims_a]))
    lhs = a.permute(free_a + dims_a).reshape(-1, k)
    rhs = b.permute(dims_b + free_b).reshape(k, -1)
    return linalg.mm(lhs, rhs).reshape([a.shape[i] for i in free_a] +
                                       [b.shape[i] for i in free_b])


def atleast_1d(*tensors):
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    return _atleast(tensors, 3)


def _atleast(tensors, n: int):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(_atleast((t,), n) for t in tensors[0])
    out = []
    for t in tensors:
        shape = tuple(t.shape)
        if len(shape) < n:
            # PyTorch's placement: 0-d -> (1,)*n; 1-d (k,) -> (1, k) or (1, k, 1); 2-d -> (a, b, 1)
            shape = {0: (1,) * n, 1: ((1,) + shape + (1,))[:n] if n == 3 else (1,) + shape,
                     2: shape + (1,)}[len(shape)]
        out.append(t.reshape(shape))
    return out[0] if len(out) == 1 else tuple(out)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median: of all elements, or (values, indices) along ``dim``."""
    if dim is None:
        flat = input.reshape(-1)
        if flat.shape[0] == 0:
            raise RuntimeError("median() input tensor cannot be empty")
        values, _ = indexing.sort(flat)
        return values[(flat.shape[0] - 1) // 2]
    dim = _checks.dim(dim, input.dim(), "median")
    values, order = indexing.sort(input, dim)
    k = (input.shape[dim] - 1) // 2
    picked = movement.narrow(values, dim, k, 1), movement.narrow(order, dim, k, 1)
    if not keepdim:
        picked = tuple(t.squeeze(dim) for t in picked)
    return values_indices(*picked)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The mean of the non-NaN elements."""
    valid = ~ew.isnan(input)
    total = red.nansum(input, dim, keepdim, dtype=dtype)
    return total / red.sum(valid, dim, keepdim).to(total.dtype)


# -- integer-valued: no gradient ------------------------------------------------------------------
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Counts of each value of a 1-D non-negative integer tensor (or sums of ``weights``)."""
    x = input._data
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got a "
                           f"{x.ndim}-d {input.dtype.name} tensor")
    xp = backend.xp_of(x)
    if x.size and int(x.min()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    w = None if weights is None else weights._data
    counts = xp.bincount(x, w, minlength)
    if w is None:
        counts = counts.astype(np.int64)
    elif w.dtype == np.float32:
        counts = counts.astype(np.float32)
    return _make(counts)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None):
    """The distinct elements, sorted; with their inverse indices and counts on request."""
    if dim is not None:
        raise NotImplementedError("unique: dim is not supported in ember")
    xp = backend.xp_of(input._data)
    values, inverse, counts = xp.unique(input._data.reshape(-1), return_inverse=True,
                                        return_counts=True)
    out = [_make(values)]
    if return_inverse:
        out.append(_make(inverse.reshape(input._data.shape).astype(np.int64)))
    if return_counts:
        out.append(_make(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter=None) -> Tensor:
    """Insertion indices of ``input`` into the last dim of ``sorted_sequence``."""
    right = side == "right" if side is not None else right
    seq = sorted_sequence._data
    values = input._data if isinstance(input, Tensor) else np.asarray(input)
    xp = backend.xp_of(seq)
    how = "right" if right else "left"
    if seq.ndim == 1:
        out = xp.searchsorted(seq, values, side=how)
    else:
        if tuple(seq.shape[:-1]) != tuple(values.shape[:-1]):
            raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension "
                               "or the first N-1 dimensions of boundaries tensor and input "
                               "value tensor must match")
        rows_seq = seq.reshape(-1, seq.shape[-1])
        rows_val = values.reshape(-1, values.shape[-1])
        out = xp.stack([xp.searchsorted(s, v, side=how) for s, v in zip(rows_seq, rows_val)])
        out = out.reshape(values.shape)
    return _make(xp.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each input value among the 1-D ``boundaries``."""
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
