"""Order statistics and summaries: median, nanmedian, kthvalue, mode, msort, quantile,
nanquantile, cov, corrcoef, histc and histogram.

The order statistics pick elements with an integer index computed without gradient, then
``gather`` the input there, so gradients flow to the picked elements (and through ``lerp``
for interpolated quantiles). Histograms are counts: they have no gradient.
"""
from __future__ import annotations

import numbers
import warnings
from collections import namedtuple

import numpy as np

from .. import _checks, backend, dtypes
from ..amp import _policy as _amp
from ..autograd.function import Function
from ..tensor import Tensor
from . import elementwise as ew
from . import indexing, linalg, movement
from . import reduce as red

_make = Tensor._make
values_indices = namedtuple("return_types", ["values", "indices"])
histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


def _int64(x):
    return _make(x.astype(np.int64, copy=False))


def _kept(values, indices, dim: int, keepdim: bool):
    """(values, indices) picked with size 1 along ``dim``, squeezed unless keepdim."""
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return values_indices(values, indices)


def _scalar_result(input):
    """The (values, indices) of an order statistic of a 0-d tensor: itself at index 0."""
    return values_indices(input.clone(), _make(backend.xp_of(input._data).zeros((), np.int64)))


def _order_checks(op: str, input, dim) -> int:
    _checks.tensor_type(op, "input", input)
    _checks.not_complex(op, input)
    d = _checks.dim(dim, input._data.ndim, op)
    if input._data.ndim and input._data.shape[d] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")
    return d


# -- median, kthvalue, mode, msort -----------------------------------------------------------------
def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median of all elements, or (values, indices) along ``dim``. A slice holding
    NaN has median NaN (at its first NaN), as in PyTorch; the median of all elements passes
    its gradient evenly to the elements equal to it.

    Example:
        >>> ember.median(ember.tensor([3., 1., 4., 2.]))
        tensor(2.)
    """
    return _median("median", input, dim, keepdim, skip_nan=False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """median ignoring NaNs (NaN only where a slice is all NaN)."""
    return _median("nanmedian", input, dim, keepdim, skip_nan=True)


def _median(op: str, input, dim, keepdim: bool, skip_nan: bool):
    if dim is None:
        _checks.tensor_type(op, "input", input)
        _checks.not_complex(op, input)
        if input._data.size == 0:
            if input._data.dtype.kind != "f":
                raise RuntimeError(f"{op}() input tensor cannot be empty")
            return red.sum(input) * float("nan")  # NaN, still in the graph
        picked = _median(op, input.reshape(-1).detach(), 0, False, skip_nan).values
        return _Tied.apply(input, picked._data)
    d = _order_checks(op, input, dim)
    x = input._data
    if x.ndim == 0:
        return _scalar_result(input)
    xp = backend.xp_of(x)
    order = indexing._argsort(x, d, False)  # stable, NaNs last in their original order
    n = x.shape[d]
    if x.dtype.kind == "f":
        valid = n - xp.isnan(x).sum(axis=d, keepdims=True)
        rank = xp.maximum(valid - 1, 0) // 2 if skip_nan else \
            xp.where(valid < n, valid, (n - 1) // 2)  # the first NaN, or the lower middle
    else:
        rank = xp.full(x.shape[:d] + (1,) + x.shape[d + 1:], (n - 1) // 2, np.int64)
    indices = _int64(xp.take_along_axis(order, rank.astype(np.int64), axis=d))
    return _kept(indexing.gather(input, d, indices), indices, d, keepdim)


class _Tied(Function):
    """``value``, picked from all of input (a median): its gradient is shared evenly by every
    element equal to it (NaN matching NaN), as in PyTorch."""

    @staticmethod
    def forward(ctx, a, value):
        x = a._data
        same = x == value
        if x.dtype.kind == "f":
            xp = backend.xp_of(x)
            same |= xp.isnan(x) & xp.isnan(value)
        ctx.share = (same / same.sum()).astype(x.dtype)
        return value

    @staticmethod
    def backward(ctx, grad):
        return grad * _make(ctx.share), None


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the k-th smallest element along ``dim`` (k counts from 1).

    Example:
        >>> ember.kthvalue(ember.tensor([3., 1., 2.]), 2)
        return_types(values=tensor(2.), indices=tensor(2))
    """
    d = _order_checks("kthvalue", input, dim)
    x = input._data
    size = x.shape[d] if x.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}: "
                           f"k={k} but the size is {size}")
    if x.ndim == 0:
        return _scalar_result(input)
    order = indexing._argsort(x, d, False)
    indices = _int64(order[(slice(None),) * d + (slice(k - 1, k),)])
    return _kept(indexing.gather(input, d, indices), indices, d, keepdim)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the most frequent value along ``dim``: the smallest such value
    on ties, and the index of its last occurrence, as in PyTorch.

    Example:
        >>> ember.mode(ember.tensor([2, 1, 1, 2, 3]))
        return_types(values=tensor(1), indices=tensor(2))
    """
    d = _order_checks("mode", input, dim)
    x = input._data
    if x.ndim == 0:
        return _scalar_result(input)
    xp = backend.xp_of(x)
    s = xp.sort(x, axis=d)
    pos = red._positions_along(x, d)
    along = lambda a, b: (slice(None),) * d + (slice(a, b),)  # noqa: E731
    starts = xp.concatenate([xp.ones_like(s[along(0, 1)], bool),
                             s[along(1, None)] != s[along(None, -1)]], axis=d)
    run = pos - red._scan(xp.maximum, xp.where(starts, pos, 0), d) + 1  # length so far
    best = xp.argmax(run, axis=d, keepdims=True)  # the first longest run: the smallest value
    value = xp.take_along_axis(s, best, axis=d)
    same = x == value
    if x.dtype.kind == "f":
        same |= xp.isnan(x) & xp.isnan(value)
    last = xp.where(same, pos, -1).max(axis=d, keepdims=True)
    indices = _int64(last)
    return _kept(indexing.gather(input, d, indices), indices, d, keepdim)


def msort(input: Tensor) -> Tensor:
    """input sorted along its first dim."""
    return indexing.sort(input, 0).values


# -- quantiles ---------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The ``q``-quantiles (a number or a 1-D tensor in [0, 1]) over ``dim`` (all elements by
    default); a tensor ``q`` adds a leading dim. A slice holding NaN gives NaN.

    Args:
        interpolation: between the two nearest elements: 'linear', 'lower', 'higher',
            'midpoint' or 'nearest' (half to even).

    Example:
        >>> ember.quantile(ember.tensor([1., 2., 3., 4.]), 0.5)
        tensor(2.5000)
    """
    if _amp.on and _amp.applies("quantile", input, q):
        return _amp.run("quantile", quantile, input, q, dim, keepdim,
                        interpolation=interpolation)
    return _quantile("quantile", input, q, dim, keepdim, interpolation, skip_nan=False)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """quantile ignoring NaNs (NaN only where a slice is all NaN)."""
    if _amp.on and _amp.applies("nanquantile", input, q):
        return _amp.run("nanquantile", nanquantile, input, q, dim, keepdim,
                        interpolation=interpolation)
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, skip_nan=True)



def _q_tensor(op: str, q, input):
    """q as a 1-D tensor of input's dtype and device, and whether it was a scalar."""
    xp = backend.xp_of(input._data)
    if isinstance(q, Tensor):
        if q._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor: q "
                               f"{q.dtype.name} vs input {input.dtype.name}")
        if q._data.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got shape "
                               f"{tuple(q.shape)}")
        _checks.same_device(op, input._data, q._data)
        values, scalar = q._data.reshape(-1), q._data.ndim == 0
        if values.size and bool(((values < 0) | (values > 1)).any()):
            raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
        return q.reshape(-1), scalar  # still in the graph: linear quantiles depend on q
    if not 0 <= q <= 1:
        raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
    return _make(xp.asarray([q], dtype=input._data.dtype)), True


def _quantile(op: str, input, q, dim, keepdim: bool, interpolation: str, skip_nan: bool):
    _checks.tensor_type(op, "input", input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype, got "
                           f"{input.dtype.name}")
    if input._data.size == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    qs, scalar = _q_tensor(op, q, input)
    shape = input._data.shape
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        d = _checks.dim(dim, input._data.ndim, op)
        x = input.reshape(1) if input._data.ndim == 0 else input
    out = _quantile_last(movement.movedim(indexing.sort(x, d).values, d, -1), qs,
                         interpolation, skip_nan)  # (..., len(q))
    out = movement.movedim(out, -1, 0)
    if keepdim:
        kept = tuple(1 if dim is None or i == d else n for i, n in enumerate(shape))
        out = out.reshape((out.shape[0],) + kept)
    elif dim is not None and not shape:
        out = out.reshape((out.shape[0],))
    return out[0] if scalar else out


def _quantile_last(s, qs, interpolation: str, skip_nan: bool):
    """Quantiles along the last dim of the sorted (NaNs last) tensor ``s``, at the 1-D
    tensor ``qs``: the rank is differentiable in q, as PyTorch's."""
    data = s._data
    xp = backend.xp_of(data)
    n = data.shape[-1]
    nan_count = xp.isnan(data).sum(axis=-1, keepdims=True)
    if skip_nan:  # all NaN: rank 0, the first NaN
        rank_t = qs * _make(xp.maximum(n - nan_count - 1, 0).astype(data.dtype))
    else:  # a slice holding NaN: its last element, a NaN (where: no NaN gradient reaches q)
        rank_t = ew.where(_make(nan_count > 0), float(n - 1), qs * float(n - 1))
    rank = rank_t._data
    low, high = xp.floor(rank), xp.ceil(rank)
    if interpolation in ("lower", "higher", "nearest"):
        pick = {"lower": low, "higher": high, "nearest": xp.round(rank)}[interpolation]
        return indexing.gather(s, -1, _int64(pick))
    lo = indexing.gather(s, -1, _int64(low))
    hi = indexing.gather(s, -1, _int64(high))
    if interpolation == "midpoint":
        weight = _make(xp.full(rank.shape, 0.5, data.dtype))
    else:
        weight = rank_t - _make(low)
    return ew.lerp(lo, hi, weight)


# -- covariance and correlation ------------------------------------------------------------------
def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (observations in the
    columns; a 1-D input is one variable), squeezed as in PyTorch.

    Args:
        correction: subtracted from the (weighted) observation count; 1 is Bessel's.
        fweights: integer repeat counts per observation.
        aweights: float importance weights per observation.
    """
    _checks.tensor_type("cov", "input", input)
    if isinstance(correction, Tensor) and correction.numel() == 1:
        correction = correction.item()
    if isinstance(correction, bool) or not isinstance(correction, numbers.Integral):
        raise TypeError(f"cov(): argument 'correction' must be int, not "
                        f"{type(correction).__name__}")
    correction = int(correction)
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.dim()} dimensions")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    if x._data.dtype.kind not in "fc":
        x = x.to(dtypes.get_default_dtype())
    n = x.shape[1]
    w = _cov_weights(fweights, "fweights", n, "iu", "integral")
    a = _cov_weights(aweights, "aweights", n, "f", "floating point")
    if a is not None:
        w = a if w is None else w * a
    if w is None:
        total, mean = n, red.mean(x, 1, keepdim=True)
        dof = n - correction
    else:
        total = red.sum(w)
        mean = red.sum(x * w, 1, keepdim=True) / total
        dof = total if correction == 0 else total - correction if a is None else \
            total - correction * red.sum(w * a) / total
    if float(dof) <= 0:  # a host read for tensor weights, as in PyTorch
        warnings.warn("cov(): degrees of freedom is <= 0", UserWarning, stacklevel=2)
        dof = ew.clamp(dof, 0) if isinstance(dof, Tensor) else 0  # +0: dof * 0 may be -0
    centered = x - mean
    weighted = centered if w is None else centered * w
    return (linalg.mm(centered, weighted.t().conj()) / dof).squeeze()  # conj: complex


def _cov_weights(weights, name: str, n: int, kinds: str, kind_name: str):
    if weights is None:
        return None
    _checks.tensor_type("cov", name, weights)
    if weights.dim() > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {weights.dim()} dimensions")
    if weights._data.dtype.kind not in kinds:
        raise RuntimeError(f"cov(): expected {name} to have {kind_name} dtype but got {name} "
                           f"with {weights.dtype.name} dtype")
    if weights.numel() != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {weights.numel()} != {n}")
    if weights.numel() and bool((weights._data < 0).any()):
        raise RuntimeError(f"cov(): {name} cannot be negative")
    return weights.reshape(-1)


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in the rows of ``input``."""
    c = cov(input)
    if c.dim() == 0:
        return c / c
    std = ew.sqrt(movement.diagonal(c).real)
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    if c._data.dtype.kind == "c":  # each part clamped, as PyTorch
        from .complex import complex as make_complex
        return make_complex(ew.clamp(c.real, -1, 1), ew.clamp(c.imag, -1, 1))
    return ew.clamp(c, -1, 1)


# -- histograms -------------------------------------------------------------------------------
def _float_input(op: str, input) -> None:
    _checks.tensor_type(op, "input", input)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for {input.dtype.name} tensors; "
                                  f"convert the input with .float()")


def _linspace(xp, low: float, high: float, steps: int, dtype):
    """PyTorch's linspace: from both ends towards the middle, so both ends are exact."""
    i = xp.arange(steps, dtype=dtype)
    step = (high - low) / (steps - 1)
    return xp.where(i < steps // 2, low + i * step, high - (steps - 1 - i) * step).astype(dtype)


def _bin_counts(x, edges, weight=None, divide: bool = False):
    """Counts (or summed weights) of x per bin of the sorted ``edges``; the last bin is closed.

    ``divide`` picks each bin by PyTorch's histc arithmetic, (x - first) * bins / (last -
    first) truncated in x's dtype, instead of searching the edges: near an edge the two can
    differ by one bin."""
    xp = backend.xp_of(x)
    bins = edges.shape[0] - 1
    x, w = x.reshape(-1), None if weight is None else weight.reshape(-1)
    inside = (x >= edges[0]) & (x <= edges[-1])
    x = x[inside]
    if divide:
        pos = ((x - edges[0]) * x.dtype.type(bins) / (edges[-1] - edges[0])).astype(np.int64)
    else:
        pos = xp.searchsorted(edges, x, side="right") - 1
    pos = xp.minimum(pos, bins - 1)
    counts = xp.bincount(pos, None if w is None else w[inside], minlength=bins)
    return counts.astype(edges.dtype, copy=False)


def _data_range(op: str, x, low: float, high: float, widen: float):
    """[low, high], or the data's range when they are equal, widened when that is empty."""
    if low == high and x.size:
        low, high = float(x.min()), float(x.max())  # host reads, as in PyTorch
    if low == high:
        low, high = low - widen, high + widen
    if not (np.isfinite(low) and np.isfinite(high)):
        raise RuntimeError(f"{op}: range of [{low}, {high}] is not finite")
    if low > high:
        raise RuntimeError(f"{op}: max must be larger than min")
    return low, high


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts of input in ``bins`` equal bins over [min, max] (the data's range when both
    are 0); elements outside are ignored. Same dtype as input; no gradient.

    Example:
        >>> ember.histc(ember.tensor([1., 2., 1.]), bins=4, min=0, max=3)
        tensor([0., 2., 1., 0.])
    """
    _float_input("histc", input)
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for bins")
    x = input._data
    low, high = _data_range("torch.histc", x, float(min), float(max), 1.0)
    edges = _linspace(backend.xp_of(x), low, high, int(bins) + 1, x.dtype)
    return _make(_bin_counts(x, edges, divide=True))


def histogram(input: Tensor, bins=100, *, range=None, weight: Tensor | None = None,
              density: bool = False):
    """(hist, bin_edges): counts of input (or summed ``weight``) in ``bins`` equal bins over
    ``range`` (default: the data's), or in the bins between the sorted edges of a 1-D tensor
    ``bins``. ``density`` normalises to a probability density. No gradient.
    """
    _float_input("histogram", input)
    x = input._data
    xp = backend.xp_of(x)
    if isinstance(bins, Tensor):
        if bins.dim() != 1 or bins.numel() < 2:
            raise RuntimeError(f"torch.histogram(): bins must be a 1D tensor with at least 2 "
                               f"edges, got shape {tuple(bins.shape)}")
        _checks.same_device("histogram", x, bins._data)
        edges = bins._data.astype(x.dtype, copy=False)
    else:
        if bins <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                               f"dimension 0")
        low, high = (0.0, 0.0) if range is None else (float(range[0]), float(range[1]))
        if x.size == 0 and low == high:
            low, high = 0.0, 1.0
        low, high = _data_range("torch.histogram()", x, low, high, 0.5)
        edges = _linspace(xp, low, high, int(bins) + 1, x.dtype)
    if weight is not None:
        _checks.tensor_type("histogram", "weight", weight)
        if weight._data.shape != x.shape:
            raise RuntimeError(f"torch.histogram(): weight {tuple(weight.shape)} must have the "
                               f"shape of input {tuple(x.shape)}")
    hist = _bin_counts(x, edges, None if weight is None else weight._data)
    if density:
        hist = hist / (hist.sum() * xp.diff(edges))
    return histogram_result(_make(hist.astype(x.dtype, copy=False)), _make(edges.copy()))
