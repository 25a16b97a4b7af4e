"""What every transform shares: one (..., C, H, W) array layout for NumPy images and ember
tensors, fill values, sizes, and draws from ember's default generator."""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

import ember

from ... import backend
from ...tensor import Tensor


class InterpolationMode(Enum):
    """How pixels are sampled between grid points (torchvision's names and values).

    Tensors and NumPy images support NEAREST, NEAREST_EXACT, BILINEAR and BICUBIC (and
    LANCZOS for ``resize``); BOX and HAMMING exist for torchvision's PIL path only.
    """

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def interpolation_mode(value: Any, op: str, allowed: Sequence[InterpolationMode]
                       ) -> InterpolationMode:
    """``value`` (a mode or its name) as an InterpolationMode that ``op`` supports."""
    try:
        mode = InterpolationMode(value)
    except ValueError:
        mode = None
    if mode not in allowed:
        names = ", ".join(m.value for m in allowed)
        raise ValueError(f"{op}: interpolation should be one of {names}, got {value!r}")
    return mode


# -- one (..., H, W) layout for arrays and tensors ----------------------------------------
def unwrap(img: Any, op: str) -> tuple[Any, bool]:
    """The xp array behind ``img`` with H, W as its last two axes, and whether it was a Tensor.

    NumPy (H, W, C) images become (C, H, W) views, so every transform handles one layout.
    """
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(f"{op}: expected a tensor image of shape (..., H, W), "
                             f"got shape {tuple(img.shape)}")
        return img._data, True
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"{op}: expected a numpy image of shape (H, W) or (H, W, C), "
                             f"got shape {img.shape}")
        return (np.moveaxis(img, (0, 1), (-2, -1)) if img.ndim == 3 else img), False
    raise TypeError(f"{op}: expected a numpy.ndarray (H, W[, C]) or an ember Tensor "
                    f"(..., H, W), got {type(img).__name__}")


def wrap(arr: Any, was_tensor: bool) -> Any:
    """Undoes ``unwrap``: a Tensor, or a NumPy image back in (H, W[, C]) layout."""
    xp = backend.xp_of(arr)
    if was_tensor:
        return Tensor._make(xp.ascontiguousarray(arr))
    if arr.ndim == 3:
        arr = np.moveaxis(arr, (-2, -1), (0, 1))
    return np.ascontiguousarray(arr)


def image_size(img: Any, op: str) -> tuple[int, int]:
    """(height, width) of an image of either kind."""
    arr, _ = unwrap(img, op)
    return int(arr.shape[-2]), int(arr.shape[-1])


def num_channels(arr: Any) -> int:
    """C of an unwrapped (..., C, H, W) array; 1 for a plain (H, W) one."""
    return 1 if arr.ndim == 2 else int(arr.shape[-3])


def fill_value(fill: Any, arr: Any, op: str) -> Any:
    """``fill`` as an xp array that broadcasts against ``arr`` (..., C, H, W)."""
    xp = backend.xp_of(arr)
    if fill is None:
        fill = 0
    if isinstance(fill, numbers.Number):
        return xp.asarray(fill).astype(arr.dtype)
    if not isinstance(fill, Sequence):
        raise TypeError(f"{op}: fill should be a number or a sequence of numbers, "
                        f"got {type(fill).__name__}")
    values = np.asarray(list(fill), dtype=np.float64)
    channels = num_channels(arr)
    if values.size not in (1, channels):
        raise ValueError(f"{op}: fill has {values.size} values but the image has {channels} "
                         f"channels; give one value or one per channel")
    return xp.asarray(values.reshape(-1, 1, 1) if values.size > 1 else values[0]).astype(arr.dtype)


def setup_size(size: Any, op: str) -> tuple[int, int]:
    """An int or a sequence of 1 or 2 ints as (h, w)."""
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{op}: size must be an int or a sequence (h, w), got {size!r}")


def max_value(dtype: Any) -> float:
    """The value of full intensity: 1 for floats, the largest value for integers."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def float_work(dtype: Any) -> np.dtype:
    """The float dtype images of ``dtype`` are computed in (float32 for integers)."""
    dtype = np.dtype(dtype)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)


def cast_back(out: Any, dtype: Any) -> Any:
    """A float result as ``dtype``: integers rounded half to even and clipped to range."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        out = backend.xp_of(out).rint(out).clip(info.min, info.max)
    return out.astype(dtype)


# -- randomness from ember's default generator --------------------------------------------
def randint(low: int, high: int) -> int:
    """One integer in [low, high) from ember's default generator."""
    return int(ember.randint(low, high, (1,)).item())


def uniform(low: float, high: float) -> float:
    """One float in [low, high) from ember's default generator."""
    return low + (high - low) * float(ember.rand(1, dtype=ember.float64).item())


def coin(p: float) -> bool:
    """True with probability ``p`` (torchvision's ``torch.rand(1) < p``)."""
    return float(ember.rand(1).item()) < p
