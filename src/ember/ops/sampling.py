"""Sampling at coordinates: grid_sample and affine_grid, as torch.nn.functional.

grid_sample is composed from ember ops. The integer taps (corner indices) and their bounds
masks are constants computed with the input's array module; the interpolation weights are
ember ops on the grid. So the gradient reaches the input through the gathers and the grid
through the weights, the same formulas PyTorch's kernels use.
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import elementwise as ew
from . import indexing, linalg, movement

_make = Tensor._make

_MODES = ("bilinear", "nearest", "bicubic")
_PADDING_MODES = ("zeros", "border", "reflection")
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                  "old behavior is desired. See the documentation of grid_sample for details.")
_CUBIC_A = -0.75


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Samples ``input`` at the normalised positions of ``grid``.

    ``grid[n, ..., 0]`` is the x (last input dim), ``[..., 1]`` the y and ``[..., 2]`` the z
    coordinate, each in [-1, 1] from one edge of the input to the other.

    Args:
        mode: 'bilinear' (trilinear for 5-D), 'nearest' or 'bicubic' (4-D only).
        padding_mode: the value outside the input: 'zeros', 'border' (the edge value) or
            'reflection' (reflected at the edge).
        align_corners: whether -1 and 1 are the centres of the corner pixels (True) or their
            outer edges (False, the default, with a warning when left None).

    Shape:
        input (N, C, H, W) and grid (N, Ho, Wo, 2) -> (N, C, Ho, Wo); or input
        (N, C, D, H, W) and grid (N, Do, Ho, Wo, 3) -> (N, C, Do, Ho, Wo).

    Example::

        >>> theta = ember.tensor([[[1.0, 0, 0], [0, 1, 0]]])
        >>> grid = F.affine_grid(theta, (1, 1, 4, 4), align_corners=False)
        >>> F.grid_sample(ember.randn(1, 1, 4, 4), grid, align_corners=False).shape
        ember.Size([1, 1, 4, 4])
    """
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    _check_grid_sample(input, grid, mode)
    nd = input.dim() - 2
    n, c = input.shape[:2]
    out_spatial = tuple(grid.shape[1:-1])
    # (N, C, *S) -> (N * prod(S), C): one row per input position, gathered by flat index
    rows = movement.reshape(movement.permute(input, (0,) + tuple(range(2, 2 + nd)) + (1,)),
                            (-1, c))
    sampler = _Sampler(rows, tuple(input.shape[2:]), n, out_spatial, padding_mode,
                       align_corners)
    coords = [grid[(..., k)] for k in range(nd)]  # x, y(, z)
    if mode == "bicubic":
        out = sampler.bicubic(coords)
    elif mode == "nearest":
        out = sampler.nearest(coords)
    else:
        out = sampler.linear(coords)
    # (N * P, C) -> (N, C, *out_spatial)
    out = movement.reshape(out, (n,) + out_spatial + (c,))
    return movement.permute(out, (0, nd + 1) + tuple(range(1, nd + 1)))


def _check_grid_sample(input: Tensor, grid: Tensor, mode: str) -> None:
    for name, t in (("input", input), ("grid", grid)):
        if not isinstance(t, Tensor):
            raise TypeError(f"grid_sample(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
        if t._data.dtype.kind != "f":
            raise NotImplementedError(f"grid_sample(): not implemented for {name} of dtype "
                                      f"{t.dtype}; use a floating point {name}")
    if input.device != grid.device:
        raise RuntimeError(f"grid_sampler(): expected input and grid to be on same device, but "
                           f"input is on {input.device} and grid is on {grid.device}")
    if input._data.dtype != grid._data.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same dtype, "
                           f"but got input {input.dtype} and grid {grid.dtype}")
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.dim() == 0 or grid.dim() == 0 or input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got {sizes}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in "
                           f"last dimension, but got grid with sizes {list(grid.shape)}")
    for i in range(2, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {i} being empty")
    if input.dim() not in (4, 5) or grid.dim() != input.dim():
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got {sizes}")
    if input.dim() == 5 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")


class _Sampler:
    """Reads rows of the (N * prod(S), C) input at integer taps and weighs them."""

    def __init__(self, rows: Tensor, spatial: tuple, n: int, out_spatial: tuple,
                 padding_mode: str, align_corners: bool):
        self.rows = rows
        self.sizes = spatial[::-1]  # one per coordinate: W, H(, D)
        self.padding_mode = padding_mode
        self.align_corners = align_corners
        self.xp = backend.xp_of(rows._data)
        # the flat index of sample n's first position, broadcast over the output positions
        first = self.xp.arange(n, dtype=np.int64) * math.prod(spatial)
        self.batch_start = first.reshape((n,) + (1,) * len(out_spatial))

    # -- coordinates -------------------------------------------------------------------------
    def unnormalize(self, coord: Tensor, size: int) -> Tensor:
        if self.align_corners:
            return (coord + 1) / 2 * (size - 1)
        return ((coord + 1) * size - 1) / 2

    def pad(self, coord: Tensor, size: int) -> Tensor:
        """PyTorch's compute_coordinates: clip ('border') or reflect ('reflection')."""
        if self.padding_mode == "border":
            return self.clip(coord, size)
        if self.padding_mode == "reflection":
            if self.align_corners:
                coord = self.reflect(coord, 0, 2 * (size - 1))
            else:
                coord = self.reflect(coord, -1, 2 * size - 1)
            return self.clip(coord, size)
        return coord

    def clip(self, coord: Tensor, size: int) -> Tensor:
        # as PyTorch, the borders count as outside: the gradient is 0 there; a NaN clips to
        # 0, as PyTorch's 2-D CPU and its CUDA kernels (its 3-D CPU kernel gives size - 1)
        d = coord._data
        inside = (d > 0) & (d < size - 1)
        clipped = self.xp.clip(self.xp.nan_to_num(d, nan=0.0), 0, size - 1)
        return ew.where(_make(inside), coord, _make(clipped))

    def reflect(self, coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
        """coord reflected at low and high until it lies between them (bounds given doubled
        so half-integers stay exact)."""
        if twice_low == twice_high:
            return coord * 0.0
        low, span = twice_low / 2, (twice_high - twice_low) / 2
        distance = ew.abs(coord - low)
        flips = self.xp.floor(distance._data / span)
        extra = ew.fmod(distance, span)
        return ew.where(_make(flips % 2 == 0), extra + low, (span - extra) + low)

    def source(self, coord: Tensor, size: int) -> Tensor:
        return self.pad(self.unnormalize(coord, size), size)

    # -- gathering -----------------------------------------------------------------------------
    def tap(self, positions) -> Tensor:
        """Input rows at integer positions (float arrays, x first), zero outside the input."""
        xp = self.xp
        flat, stride = self.batch_start, 1
        valid = None
        for pos, size in zip(positions, self.sizes):
            inside = (pos >= 0) & (pos <= size - 1)  # NaN positions are outside too
            valid = inside if valid is None else valid & inside
            flat = flat + xp.where(inside, pos, 0).astype(np.int64) * stride
            stride *= size
        values = indexing.IndexSelect.apply(self.rows, 0, _make(flat.reshape(-1)))
        return values * _make(valid.reshape(-1, 1).astype(values._data.dtype))

    # -- modes -----------------------------------------------------------------------------
    def linear(self, coords) -> Tensor:
        """Bilinear (trilinear) interpolation between the 2^nd surrounding positions."""
        xp = self.xp
        coords = [self.source(c, size) for c, size in zip(coords, self.sizes)]
        lows = [xp.floor(c._data) for c in coords]
        out = None
        # PyTorch's corner order (nw, ne, sw, se, ...): x varies fastest
        for corner in itertools.product((0, 1), repeat=len(coords)):
            corner = corner[::-1]
            weight = None
            for c, low, upper in zip(coords, lows, corner):
                factor = c - _make(low) if upper else _make(low + 1) - c
                weight = factor if weight is None else weight * factor
            term = self.tap([low + upper for low, upper in zip(lows, corner)]) * \
                movement.reshape(weight, (-1, 1))
            out = term if out is None else out + term
        return out

    def nearest(self, coords) -> Tensor:
        coords = [self.source(c, size) for c, size in zip(coords, self.sizes)]
        values = self.tap([self.xp.rint(c._data) for c in coords])
        if not any(c.requires_grad for c in coords):
            return values
        # the grid stays in the graph with a zero gradient, as PyTorch's
        zero = None
        for c in coords:
            term = ew.round(c) * 0.0
            zero = term if zero is None else zero + term
        zero = ew.where(_make(self.xp.isfinite(zero._data)), zero, 0.0)
        return values + movement.reshape(zero, (-1, 1))

    def bicubic(self, coords) -> Tensor:
        """Cubic convolution (A = -0.75) over the 4 x 4 surrounding positions; each position
        is padded on its own, as PyTorch's get_value_bounded."""
        xp = self.xp
        (x, y), (w, h) = coords, self.sizes
        x, y = self.unnormalize(x, w), self.unnormalize(y, h)
        x0, y0 = xp.floor(x._data), xp.floor(y._data)
        cx = _cubic_coefficients(x - _make(x0))
        cy = _cubic_coefficients(y - _make(y0))
        out = None
        for j in range(4):
            py = self.pad(_make(y0 + (j - 1)), h)._data
            row = None
            for i in range(4):
                px = self.pad(_make(x0 + (i - 1)), w)._data
                term = self.tap([px, py]) * movement.reshape(cx[i], (-1, 1))
                row = term if row is None else row + term
            term = row * movement.reshape(cy[j], (-1, 1))
            out = term if out is None else out + term
        return out


def _cubic_coefficients(t: Tensor) -> list:
    """The weights of the taps at -1, 0, 1 and 2 for a fractional offset t."""
    a = _CUBIC_A

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return [far(t + 1.0), near(t), near(1.0 - t), far((1.0 - t) + 1.0)]


# -- affine_grid ------------------------------------------------------------------------------
def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of a batch of affine maps, for grid_sample.

    Args:
        theta: (N, 2, 3) for 2-D or (N, 3, 4) for 3-D affine matrices, mapping output
            coordinates (x, y[, z], 1) in [-1, 1] to input coordinates.
        size: the output's size, (N, C, H, W) or (N, C, D, H, W).
        align_corners: as grid_sample (use the same value for both).

    Shape:
        -> (N, H, W, 2) or (N, D, H, W, 3).

    Example::

        >>> identity = ember.tensor([[[1.0, 0, 0], [0, 1, 0]]])
        >>> F.affine_grid(identity, (1, 3, 2, 2), align_corners=True)[0, 0]
        tensor([[-1., -1.],
                [ 1., -1.]])
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {theta.shape}.")
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {theta.shape}.")
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    spatial = tuple(int(s) for s in size[2:])
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid: theta holds {theta.shape[0]} matrices but size "
                           f"{size} asks for a batch of {size[0]}")
    base = _base_grid(spatial, theta._data.dtype, align_corners)  # (prod(S), nd + 1)
    base = _make(backend.xp_of(theta._data).asarray(base))
    grid = linalg.matmul(base, movement.transpose(theta, 1, 2))  # (N, prod(S), nd)
    return movement.reshape(grid, (int(size[0]),) + spatial + (len(spatial),))


def _base_grid(spatial: tuple, dtype, align_corners: bool) -> np.ndarray:
    """Rows (x, y[, z], 1) of every output position, the last dim varying fastest."""
    axes = [_linspace_from_neg_one(s, align_corners, dtype) for s in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")  # one per spatial dim, D/H/W order
    columns = [m.reshape(-1) for m in reversed(mesh)]  # x first
    columns.append(np.ones(math.prod(spatial), dtype))
    return np.stack(columns, 1).astype(dtype)


def _linspace_from_neg_one(steps: int, align_corners: bool, dtype) -> np.ndarray:
    """linspace(-1, 1, steps) computed as PyTorch's kernel (from both ends), shrunk by
    (steps - 1) / steps without align_corners."""
    t = np.dtype(dtype).type
    if steps <= 1:
        return np.zeros(1, dtype)
    step = t(2) / t(steps - 1)
    i = np.arange(steps)
    values = np.where(i < steps // 2, t(-1) + step * i.astype(dtype),
                      t(1) - step * (steps - 1 - i).astype(dtype)).astype(dtype)
    if not align_corners:
        values = values * t(steps - 1) / t(steps)
    return values.astype(dtype)
