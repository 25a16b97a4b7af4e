"""Ops composed from other ember ops, with no backward of their own (autograd runs through
the ops they are made of), the integer-valued ones that have no gradient at all, and small
creation and dtype helpers (tril_indices, range, result_type, ...)."""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from .. import _checks, backend, creation, dtypes
from ..amp import _policy as _amp
from ..tensor import Tensor
from . import elementwise as ew
from . import indexing, linalg, movement
from . import reduce as red

_make = Tensor._make


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
    if _amp.on and _amp.applies("cdist", x1, x2):
        return _amp.run("cdist", cdist, x1, x2, p, compute_mode)
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
    if _amp.on and _amp.applies("addmm", input, mat1, mat2):
        return _amp.run("addmm", addmm, input, mat1, mat2, beta=beta, alpha=alpha)
    return _scaled_sum(input, linalg.mm(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    if _amp.on and _amp.applies("addmv", input, mat, vec):
        return _amp.run("addmv", addmv, input, mat, vec, beta=beta, alpha=alpha)
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    if _amp.on and _amp.applies("addr", input, vec1, vec2):
        return _amp.run("addr", addr, input, vec1, vec2, beta=beta, alpha=alpha)
    return _scaled_sum(input, linalg.outer(vec1, vec2), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2), batch by batch."""
    if _amp.on and _amp.applies("baddbmm", input, batch1, batch2):
        return _amp.run("baddbmm", baddbmm, input, batch1, batch2, beta=beta, alpha=alpha)
    return _scaled_sum(input, linalg.bmm(batch1, batch2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (the sum over the batch of batch1 @ batch2)."""
    if _amp.on and _amp.applies("addbmm", input, batch1, batch2):
        return _amp.run("addbmm", addbmm, input, batch1, batch2, beta=beta, alpha=alpha)
    return _scaled_sum(input, red.sum(linalg.bmm(batch1, batch2), 0), beta, alpha)


def _scaled_sum(input, product, beta, alpha):
    product = product if alpha == 1 else product * alpha
    if beta == 0:  # as PyTorch: input is ignored, its NaNs and infs too
        return product
    return (input if beta == 1 else input * beta) + product


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix (n, m) times vector (m,)."""
    if _amp.on and _amp.applies("mv", input, vec):
        return _amp.run("mv", mv, input, vec)
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, "
                           f"{vec.dim()}")
    return linalg.matmul(input, vec)


def ger(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product (the old name of outer)."""
    return linalg.outer(input, vec2)


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors (conjugating the first, a no-op for real ones)."""
    if _amp.on and _amp.applies("vdot", input, other):
        return _amp.run("vdot", vdot, input, other)
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"vdot: 1D tensors expected, but got {input.dim()}D and "
                           f"{other.dim()}D tensors")
    return linalg.dot(input.conj(), other)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of input - other (broadcast)."""
    if _amp.on and _amp.applies("dist", input, other):
        return _amp.run("dist", dist, input, other, p)
    return red.norm(input - other, p)


def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal (integers sum in int64)."""
    if _amp.on and _amp.applies("trace", input):
        return _amp.run("trace", trace, input)
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return red.sum(movement.diagonal(input))


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """input with each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to
    norm ``maxnorm`` (PyTorch's 1e-7 guard included)."""
    if _amp.on and _amp.applies("renorm", input):
        return _amp.run("renorm", renorm, input, p, dim, maxnorm)
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.dim() < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.dim()} "
                           f"dimensions")
    d = _checks.dim(dim, input.dim(), "renorm")
    norms = red.norm(input, p, tuple(i for i in range(input.dim()) if i != d), keepdim=True)
    return input * ew.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """log(exp(a) + exp(b)) without overflow."""
    high = ew.maximum(input, other)
    return high + ew.log1p(ew.exp(-ew.abs(input - other)))


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The n-th forward difference along ``dim``, after concatenating prepend and append
    (n = 0 returns a copy of input alone, as PyTorch and NumPy)."""
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    dim = _checks.dim(dim, input.dim(), "diff")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    if n == 0:
        return movement.clone(input)
    parts = [t for t in (prepend, input, append) if t is not None]
    x = movement.cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        length = max(x.shape[dim] - 1, 0)  # n past the length leaves an empty dim
        after, before = movement.narrow(x, dim, min(1, length), length), \
            movement.narrow(x, dim, 0, length)
        # bools differ by xor, as PyTorch (NumPy refuses to subtract them)
        x = ew.logical_xor(after, before) if x._data.dtype == np.bool_ else after - before
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
    if _amp.on and _amp.applies("cross", input, other):
        return _amp.run("cross", cross, input, other, dim)
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
    if _amp.on and _amp.applies("tensordot", a, b):
        return _amp.run("tensordot", tensordot, a, b, dims)
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


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sums of products over the last dims of both (a plain product when one is 0-d)."""
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


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
    """Insertion indices of ``input`` into the last dim of ``sorted_sequence`` (or of its
    values taken in the order of ``sorter``, indices that sort it)."""
    if side is not None and right and side == "left":
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                           "got side of left while right was True")
    right = side == "right" if side is not None else right
    seq = sorted_sequence._data
    values = input._data if isinstance(input, Tensor) else np.asarray(input)
    xp = backend.xp_of(seq)
    if sorter is not None:
        if tuple(sorter.shape) != tuple(seq.shape):
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same "
                               f"size, but got boundary tensor {list(seq.shape)} and got "
                               f"sorter tensor {list(sorter.shape)}")
        seq = xp.take_along_axis(seq, sorter._data.astype(np.int64), axis=-1)
    how = "right" if right else "left"
    if seq.ndim == 1:
        out = xp.searchsorted(seq, values, side=how)
    else:
        if tuple(seq.shape[:-1]) != tuple(values.shape[:-1]):
            raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension "
                               "or the first N-1 dimensions of boundaries tensor and input "
                               "value tensor must match")
        rows = math.prod(seq.shape[:-1])  # explicit: reshape(-1, ...) fails on empty rows
        rows_seq = seq.reshape(rows, seq.shape[-1])
        rows_val = values.reshape(rows, values.shape[-1])
        out = xp.empty(rows_val.shape, np.int64)
        for i in range(rows):
            out[i] = xp.searchsorted(rows_seq[i], rows_val[i], side=how)
        out = out.reshape(values.shape)
    return _make(xp.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each input value among the 1-D ``boundaries``."""
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def unique_consecutive(input: Tensor, return_inverse: bool = False,
                       return_counts: bool = False, dim: int | None = None):
    """input with each run of equal consecutive elements (or slices along ``dim``) kept once;
    with the run of every element and the run lengths on request."""
    x = input._data
    xp = backend.xp_of(x)
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        if x.ndim == 0:
            raise IndexError(f"unique_consecutive: Dimension specified as {dim} but tensor has "
                             "no dimensions")
        d = _checks.dim(dim, x.ndim, "unique_consecutive")
    n = x.shape[d] if x.ndim else 1
    rows = xp.moveaxis(x, d, 0).reshape(n, x.size // n if n else 0) if x.ndim else \
        x.reshape(1, 1)
    starts = xp.concatenate([xp.ones(min(n, 1), bool), (rows[1:] != rows[:-1]).any(axis=1)])
    first = xp.nonzero(starts)[0]
    out = [_make(xp.take(x, first, axis=d) if x.ndim else x.copy())]
    if return_inverse:
        inverse = xp.cumsum(starts) - 1
        out.append(_make(inverse.reshape(input._data.shape if dim is None else (n,))
                         .astype(np.int64)))
    if return_counts:
        ends = xp.concatenate([first[1:], xp.full(1, n, first.dtype)]) if n else first
        out.append(_make((ends - first).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


# -- built from others: block_diag, cartesian_prod, combinations, vander, trapezoid -------------
def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (0-, 1- or 2-D) as the blocks of a block-diagonal matrix.

    Example:
        >>> ember.block_diag(ember.tensor([[1, 2]]), ember.tensor(3))
        tensor([[1, 2, 0],
                [0, 0, 3]])
    """
    for i, t in enumerate(tensors):
        _checks.tensor_type("block_diag", f"tensors[{i}]", t)
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t.dim()} dimensions")
    if not tensors:
        return creation.zeros(1, 0)
    dtype = dtypes.from_numpy(dtypes.result_type(*(t._data for t in tensors)))
    blocks = [t.reshape(1, -1) if t.dim() < 2 else t for t in tensors]
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        cols = b.shape[1]
        rows.append(movement.pad_constant(b.to(dtype), [left, width - left - cols]))
        left += cols
    return movement.cat(rows, 0)


def _vector(op: str, t: Tensor) -> None:
    _checks.tensor_type(op, "tensors", t)
    if t.dim() != 1:
        raise RuntimeError(f"{op}: Expect a 1D vector, but got shape {list(t.shape)}")


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each 1-D tensor, as the rows of a matrix."""
    for t in tensors:
        _vector("cartesian_prod", t)
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return movement.stack([g.reshape(-1) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of a 1-D tensor's elements, as rows (itertools order)."""
    _vector("combinations", input)
    if r < 0:
        raise RuntimeError(f"combinations: Expect a non-negative number, but got {r}")
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    index = np.array(list(pick(range(input.shape[0]), r)), np.int64).reshape(-1)
    xp = backend.xp_of(input._data)
    if r == 0:  # unconnected to input, as in PyTorch
        return _make(xp.zeros(0, input._data.dtype))
    return indexing.index_select(input, 0, _make(xp.asarray(index))).reshape(-1, r)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D tensor: columns x**(N-1), ..., x, 1 (or increasing).
    Integer and bool inputs give int64."""
    if x.dim() != 1:
        raise RuntimeError(f"vander: x must be a one-dimensional tensor, got shape "
                           f"{list(x.shape)}")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError(f"vander: N must be non-negative, got {n}")
    if x.dtype.numpy.kind in "biu":
        x = x.long()
    ones = creation.ones(x.shape[0], min(n, 1), dtype=x.dtype, device=x.device)
    powers = red.cumprod(x.unsqueeze(1).expand(x.shape[0], max(n - 1, 0)), 1)
    out = movement.cat([ones, powers], 1)
    return out if increasing else out.flip(1)


def _trapezoid_parts(op: str, y: Tensor, x, dx, dim: int):
    """(dim, the sums of neighbouring samples along it, the spacing: a number or a tensor)."""
    if y.dim() == 0:
        raise IndexError(f"{op}: Dimension specified as {dim} but tensor has no dimensions")
    d = _checks.dim(dim, y.dim(), op)
    n = y.shape[d]
    # PyTorch's trapezoid returns zeros for no samples before it looks at the dtypes
    bools = any(isinstance(t, Tensor) and t._data.dtype == np.bool_ for t in (y, x))
    if bools and (n or op != "trapezoid"):
        raise RuntimeError(f"{op}: received a bool input for `x` or `y`, but bool is not "
                           "supported; convert it with .float()")
    pairs = movement._slice_along(y, d, 1, None) + movement._slice_along(y, d, 0, max(n - 1, 0))
    if x is None:
        return d, pairs, 1 if dx is None else dx
    if x.dim() == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point, got "
                               f"{x.shape[0]} x values for {n} samples along dim {d}")
        spacing = diff(x).reshape([max(n - 1, 0) if i == d else 1 for i in range(y.dim())])
    else:
        spacing = diff(x, dim=dim)
    return d, pairs, spacing


def trapezoid(y: Tensor, x: Tensor | None = None, *, dx=None, dim: int = -1) -> Tensor:
    """The trapezoid-rule integral of samples ``y`` along ``dim``, at points ``x`` (a tensor)
    or ``dx`` apart (default 1).

    Example:
        >>> ember.trapezoid(ember.tensor([1., 2., 4.]), ember.tensor([0., 1., 3.]))
        tensor(7.5000)
    """
    d, pairs, spacing = _trapezoid_parts("trapezoid", y, x, dx, dim)
    if y.shape[d] == 0:  # zeros of y's dtype, unconnected, as in PyTorch
        shape = y.shape[:d] + y.shape[d + 1:]
        return creation.zeros(shape, dtype=y.dtype, device=y.device)
    return red.sum(pairs * spacing, d) / 2.0


def trapz(y: Tensor, x: Tensor | None = None, *, dx=None, dim: int = -1) -> Tensor:
    """trapezoid, by its older name."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx=None,
                         dim: int = -1) -> Tensor:
    """The running trapezoid-rule integral along ``dim`` (one element shorter than y)."""
    d, pairs, spacing = _trapezoid_parts("cumulative_trapezoid", y, x, dx, dim)
    return red.cumsum(pairs * spacing, d) / 2.0


def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """d input / dx along each of ``dim`` (all dims by default), estimated by central
    differences inside and one-sided ones of ``edge_order`` (1 or 2) at the ends, as
    numpy.gradient. ``spacing``: one step for every dim, one per dim, or each dim's
    coordinates as a 1-D tensor.

    Example:
        >>> ember.gradient(ember.tensor([1., 2., 4., 8.]))
        (tensor([1.0000, 1.5000, 3.0000, 4.0000]),)
    """
    dims = range(input.dim()) if dim is None else [dim] if isinstance(dim, int) else dim
    dims = [_checks.dim(d, input.dim(), "gradient") for d in dims]
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2, got "
                           f"{edge_order}")
    steps = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(steps) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or a "
                           f"list with one entry per dim in dim ({len(dims)}), got "
                           f"{len(steps)} entries")
    for d, h in zip(dims, steps):
        n = input.shape[d]
        if n < edge_order + 1:
            raise RuntimeError(f"torch.gradient expected each dimension size to be at least "
                               f"edge_order+1, got size {n} along dim {d}")
        if isinstance(h, Tensor) and (h.dim() != 1 or h.shape[0] != n):
            raise RuntimeError(f"torch.gradient expected each tensor in spacing to be 1-D with "
                               f"one coordinate per element of dim {d} ({n}), got shape "
                               f"{list(h.shape)}")
    if input._data.dtype == np.bool_:  # PyTorch subtracts neighbours, which bools refuse
        raise RuntimeError("torch.gradient: bool input is not supported (subtraction of bool "
                           "tensors); convert it with .float()")
    if input._data.dtype.kind not in "fc":
        input = input.to(dtypes.get_default_dtype())
    return tuple(_gradient_along(input, d, h, edge_order) for d, h in zip(dims, steps))


def _gradient_along(f: Tensor, d: int, h, edge_order: int) -> Tensor:
    n = f.shape[d]
    at = lambda a, b=None: movement._slice_along(f, d, a, b)  # noqa: E731
    if not isinstance(h, Tensor):
        inside = (at(2) - at(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first, last = (at(1, 2) - at(0, 1)) / h, (at(n - 1) - at(n - 2, n - 1)) / h
        else:
            first = (-1.5 * at(0, 1) + 2 * at(1, 2) - 0.5 * at(2, 3)) / h
            last = (0.5 * at(n - 3, n - 2) - 2 * at(n - 2, n - 1) + 1.5 * at(n - 1)) / h
        return movement.cat([first, inside, last], d)
    # coordinates: the second-order accurate weights of uneven steps (numpy's formulas)
    dx = diff(h).reshape([n - 1 if i == d else 1 for i in range(f.dim())])
    step = lambda a, b=None: movement._slice_along(dx, d, a, b)  # noqa: E731
    left, right = step(0, n - 2), step(1)
    inside = (left * left * at(2) - right * right * at(0, n - 2) +
              (right * right - left * left) * at(1, n - 1)) / (left * right * (left + right))
    if edge_order == 1:
        first = (at(1, 2) - at(0, 1)) / step(0, 1)
        last = (at(n - 1) - at(n - 2, n - 1)) / step(n - 2)
    else:
        h1, h2 = step(0, 1), step(1, 2)
        first = (-(2 * h1 + h2) / (h1 * (h1 + h2)) * at(0, 1) + (h1 + h2) / (h1 * h2) * at(1, 2)
                 - h1 / (h2 * (h1 + h2)) * at(2, 3))
        h1, h2 = step(n - 3, n - 2), step(n - 2)
        last = (h2 / (h1 * (h1 + h2)) * at(n - 3, n - 2) - (h2 + h1) / (h1 * h2) *
                at(n - 2, n - 1) + (2 * h2 + h1) / (h2 * (h1 + h2)) * at(n - 1))
    return movement.cat([first, inside, last], d)


# -- creation and dtype helpers ------------------------------------------------------------------
def _triangle_indices(op: str, row: int, col: int, offset: int, upper: bool, dtype, device):
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}: row and col must be non-negative, got row={row}, col={col}")
    dt = dtypes.to_numpy(dtype)
    if dt.kind not in "iu":
        raise RuntimeError(f"{op}: dtype must be an integer dtype, got {dtypes.from_numpy(dt)}")

    def make(xp):
        below = xp.tri(row, col, offset - 1 if upper else offset, dtype=bool)
        return xp.stack(xp.nonzero(~below if upper else below)).astype(dt).reshape(2, -1)
    return creation._create(device, False, make)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (2, n) row and column indices of the lower triangle (below diagonal ``offset``)
    of a row x col matrix, row by row.

    Example:
        >>> ember.tril_indices(2, 2)
        tensor([[0, 1, 1],
                [0, 0, 1]])
    """
    return _triangle_indices("tril_indices", row, col, offset, False, dtype or dtypes.int64,
                             device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (2, n) indices of the upper triangle (above diagonal ``offset``), row by row."""
    return _triangle_indices("triu_indices", row, col, offset, True, dtype or dtypes.int64,
                             device)


def range_(start=0, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """torch.range: values from start to end *inclusive* by step, in the default float dtype
    (deprecated in PyTorch: use arange). Named range_ here so as not to hide the builtin."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "ember.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("range: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"range: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    count = int(math.floor((end - start) / step)) + 1
    dt = dtypes.to_numpy(dtype or dtypes.get_default_dtype())
    return creation._create(device, requires_grad,
                            lambda xp: (start + xp.arange(count) * step).astype(dt))


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding ``s``, in the default float dtype unless ``dtype`` says otherwise."""
    return creation.full((), s, dtype=dtype or dtypes.get_default_dtype(), device=device,
                         requires_grad=requires_grad)


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op of the two (tensors or numbers) would give."""
    operands = [t._data if isinstance(t, Tensor) else t for t in (tensor1, tensor2)]
    return dtypes.from_numpy(dtypes.result_type(*operands))


def can_cast(from_, to) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` to ``to`` in ops that write in place:
    never to a lower category (float to int, int to bool)."""
    return dtypes.category(dtypes.to_numpy(from_)) <= dtypes.category(dtypes.to_numpy(to))


def is_nonzero(input: Tensor) -> bool:
    """Whether the single element of ``input`` is not zero."""
    n = input.numel()
    if n != 1:
        raise RuntimeError(f"is_nonzero: Boolean value of Tensor with "
                           f"{'no values' if n == 0 else 'more than one value'} is ambiguous")
    return bool(input.item() != 0)


def is_same_size(input: Tensor, other: Tensor) -> bool:
    return input.shape == other.shape


def is_signed(input: Tensor) -> bool:
    """Whether input's dtype holds negative numbers (not bool, not uint8)."""
    return input._data.dtype.kind in "ifc"
