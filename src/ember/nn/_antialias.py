"""Antialiased resampling, ``F.interpolate(..., antialias=True)``: PyTorch's separable
filters (Pillow's), each resized dim multiplied by a dense (out, in) weight matrix.

Downsampling by a factor s stretches the filter s times, so every output pixel averages all
the input pixels under it instead of sampling a few; upsampling uses the plain filter.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..ops import linalg
from ..tensor import Tensor

# each filter's half-width at scale 1, in input pixels
_SUPPORT = {"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.maximum(1.0 - x, 0.0)


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic at |x|, with a = -0.5 (PyTorch's plain bicubic uses -0.75)."""
    a = -0.5
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _lanczos3(x: np.ndarray) -> np.ndarray:
    return np.where(x < 3, np.sinc(x) * np.sinc(x / 3), 0.0)


_FILTERS = {"bilinear": _triangle, "bicubic": _cubic, "lanczos": _lanczos3}
MODES = tuple(_FILTERS)


def weights(n_in: int, n_out: int, mode: str, scale, align_corners: bool) -> np.ndarray:
    """The float64 (n_out, n_in) matrix that resamples one dim as PyTorch does.

    ``scale`` is the user's scale factor (None: from the sizes). Output pixel i is centred
    at step * (i + 0.5) in input coordinates even with align_corners, which changes only the
    step, as PyTorch's antialiased kernels do. Each row is normalised to sum to 1 over the
    taps that fall inside the input.
    """
    if align_corners:
        step = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        step = 1.0 / scale if scale else n_in / n_out
    stretch = max(step, 1.0)
    support = _SUPPORT[mode] * stretch
    center = step * (np.arange(n_out) + 0.5)[:, None]
    # astype truncates toward zero, as the C casts that pick PyTorch's windows
    first = np.maximum((center - support + 0.5).astype(np.int64), 0)
    stop = np.minimum((center + support + 0.5).astype(np.int64), n_in)
    taps = np.arange(n_in)
    w = _FILTERS[mode](np.abs(taps - center + 0.5) * (1.0 / stretch))
    w = np.where((taps >= first) & (taps < stop), w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total == 0, 1.0, total)


def resample(input: Tensor, mode: str, sizes, scales, align_corners: bool) -> Tensor:
    """Resizes the (H, W) dims of an (N, C, H, W) float or uint8 input to ``sizes``."""
    dtype = input._data.dtype
    if dtype.kind != "f" and dtype != np.uint8:
        raise NotImplementedError(f"interpolate: antialias=True needs a floating point or "
                                  f"uint8 input, got {input.dtype.name}")
    if min(tuple(input.shape[2:]) + tuple(sizes)) <= 0:
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"(H: {input.shape[2]}, W: {input.shape[3]}) output (H: {sizes[0]}, "
                           f"W: {sizes[1]})")
    out = input
    # width first, as PyTorch: with uint8 each pass rounds, so the order shows
    for axis in (3, 2):
        n_in, n_out = out.shape[axis], sizes[axis - 2]
        if n_out == n_in:  # PyTorch leaves such a dim as it is, whatever the scale
            continue
        w = weights(n_in, n_out, mode, scales[axis - 2], align_corners)
        out = _uint8_pass(out, w, axis) if dtype == np.uint8 else _float_pass(out, w, axis)
    return out.clone() if out is input else out


def _float_pass(x: Tensor, w: np.ndarray, axis: int) -> Tensor:
    xp = backend.xp_of(x._data)
    if axis == 3:  # (N, C, H, W) @ (W, W_out)
        return linalg.matmul(x, Tensor._make(xp.asarray(w.T.astype(x._data.dtype))))
    return linalg.matmul(Tensor._make(xp.asarray(w.astype(x._data.dtype))), x)  # (H_out, H) @ x


def _uint8_pass(x: Tensor, w: np.ndarray, axis: int) -> Tensor:
    """Pillow's fixed-point arithmetic, as PyTorch's uint8 kernel: integer weights scaled by
    2**bits, a rounding offset, a shift and a clamp to [0, 255] after every pass."""
    fixed, bits = _fixed_point(w)
    xp = backend.xp_of(x._data)
    # float64 sums these integers exactly (they stay far below 2**53), with BLAS speed
    acc = xp.tensordot(x._data.astype(xp.float64), xp.asarray(fixed.astype(np.float64)),
                       axes=([axis], [1]))
    acc = xp.moveaxis(acc, -1, axis).astype(xp.int64)
    return Tensor._make(xp.clip((acc + (1 << (bits - 1))) >> bits, 0, 255).astype(xp.uint8))


def _fixed_point(w: np.ndarray):
    """w * 2**bits rounded half away from zero, with the most bits (up to 22) that keep the
    largest weight below 2**15: the kernel multiplies in int16."""
    bits = 0
    while bits < 22 and int(0.5 + w.max() * (1 << (bits + 1))) < (1 << 15):
        bits += 1
    scaled = w * (1 << bits)
    return np.trunc(scaled + np.where(scaled < 0, -0.5, 0.5)).astype(np.int64), bits
