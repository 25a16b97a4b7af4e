"""The colour and filter functions of torchvision.transforms.functional, on xp arrays.

Formulas are torchvision's tensor ones: a blend ``r * a + (1 - r) * b`` clamped to the
dtype's range and cast back (integers truncate), grayscale ``0.2989 R + 0.587 G + 0.114 B``,
hue through Pillow's RGB <-> HSV in float32, and a reflect-padded Gaussian.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import backend
from ...tensor import Tensor
from ._image import cast_back, float_work, max_value, num_channels, unwrap, wrap

_GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


def _color_input(img: Any, op: str) -> tuple[Any, bool]:
    """``unwrap`` for the colour ops, which take 1 or 3 channels."""
    arr, was_tensor = unwrap(img, op)
    channels = num_channels(arr)
    if channels not in (1, 3):
        raise TypeError(f"{op}: input image permitted channel values are [1, 3], but found "
                        f"{channels} (shape {tuple(arr.shape)})")
    return arr, was_tensor


def _check_factor(value: float, name: str, op: str) -> None:
    if value < 0:
        raise ValueError(f"{op}: {name} ({value}) is not non-negative.")


def _image_axes(arr: Any) -> tuple[int, ...]:
    return (-3, -2, -1) if arr.ndim >= 3 else (-2, -1)


def _blend(img1: Any, img2: Any, ratio: float) -> Any:
    """``ratio * img1 + (1 - ratio) * img2`` clamped to img1's range, in img1's dtype."""
    work = float_work(img1.dtype)
    out = work.type(ratio) * img1.astype(work) + work.type(1.0 - ratio) * img2.astype(work)
    # astype truncates floats toward zero, as torch's .to(uint8)
    return backend.xp_of(out).clip(out, 0, max_value(img1.dtype)).astype(img1.dtype)


def _gray(arr: Any) -> Any:
    """(..., 3, H, W) -> (..., 1, H, W) luma in arr's dtype; 1-channel images unchanged."""
    if num_channels(arr) == 1:
        return arr.copy()
    work = float_work(arr.dtype)
    r, g, b = (arr[..., c, :, :].astype(work) for c in range(3))
    wr, wg, wb = (work.type(v) for v in _GRAY_WEIGHTS)
    return (wr * r + wg * g + wb * b).astype(arr.dtype)[..., None, :, :]


def rgb_to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` (torchvision's tensor weights), in the input's
    dtype (integers truncated), repeated over ``num_output_channels`` (1 or 3).

    Example::

        >>> F.rgb_to_grayscale(ember.rand(3, 8, 8)).shape     # (1, 8, 8)
    """
    if isinstance(img, Tensor) and img.ndim < 3:
        raise TypeError(f"rgb_to_grayscale: input image tensor should have at least 3 "
                        f"dimensions, but found {img.ndim}")
    if num_output_channels not in (1, 3):
        raise ValueError(f"Grayscale: num_output_channels should be either 1 or 3, "
                         f"got {num_output_channels}")
    arr, was_tensor = _color_input(img, "rgb_to_grayscale")
    gray = _gray(arr)
    if num_output_channels == 3:
        xp = backend.xp_of(arr)
        gray = xp.broadcast_to(gray if gray.ndim > 2 else gray[None],
                               gray.shape[:-3] + (3,) + gray.shape[-2:])
    return wrap(gray, was_tensor)


def to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """``rgb_to_grayscale`` (torchvision's name for its PIL path)."""
    return rgb_to_grayscale(img, num_output_channels)


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    """Blends with black: 0 gives a black image, 1 the original, 2 twice as bright.

    Example::

        >>> F.adjust_brightness(x, 1.5)
    """
    _check_factor(brightness_factor, "brightness_factor", "adjust_brightness")
    arr, was_tensor = _color_input(img, "adjust_brightness")
    return wrap(_blend(arr, backend.xp_of(arr).zeros_like(arr), brightness_factor), was_tensor)


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    """Blends with the mean of the grayscale image: 0 gives solid gray, 1 the original."""
    _check_factor(contrast_factor, "contrast_factor", "adjust_contrast")
    arr, was_tensor = _color_input(img, "adjust_contrast")
    work = float_work(arr.dtype)
    mean = _gray(arr).astype(work).mean(axis=_image_axes(arr), keepdims=True)
    return wrap(_blend(arr, mean, contrast_factor), was_tensor)


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    """Blends with the grayscale image: 0 gives gray, 1 the original, 2 doubles saturation."""
    _check_factor(saturation_factor, "saturation_factor", "adjust_saturation")
    arr, was_tensor = _color_input(img, "adjust_saturation")
    if num_channels(arr) == 1:
        return img
    return wrap(_blend(arr, _gray(arr), saturation_factor), was_tensor)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    """Shifts the hue by ``hue_factor`` turns (in [-0.5, 0.5]) through HSV, in float32.

    Example::

        >>> F.adjust_hue(x, 0.5)          # complementary colours
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    arr, was_tensor = _color_input(img, "adjust_hue")
    if num_channels(arr) == 1:
        return img
    hsv = _rgb_to_hsv(_to_float32(arr))
    h = (hsv[..., 0, :, :] + hue_factor) % 1.0
    rgb = _hsv_to_rgb(h, hsv[..., 1, :, :], hsv[..., 2, :, :])
    return wrap(_from_float32(rgb, arr.dtype), was_tensor)


def adjust_gamma(img: Any, gamma: float, gain: float = 1) -> Any:
    """``gain * x ** gamma`` on intensities in [0, 1], clamped."""
    if gamma < 0:
        raise ValueError(f"adjust_gamma: gamma should be a non-negative real number, "
                         f"got {gamma}")
    arr, was_tensor = _color_input(img, "adjust_gamma")
    xp = backend.xp_of(arr)
    if np.issubdtype(arr.dtype, np.floating):
        return wrap(xp.clip(gain * arr ** gamma, 0, 1).astype(arr.dtype), was_tensor)
    out = xp.clip(gain * _to_float32(arr) ** gamma, 0, 1)
    return wrap(_from_float32(out, arr.dtype), was_tensor)


def invert(img: Any) -> Any:
    """``max - x``: 255 - x for uint8, 1 - x for floats."""
    arr, was_tensor = _color_input(img, "invert")
    return wrap((arr.dtype.type(max_value(arr.dtype)) - arr).astype(arr.dtype), was_tensor)


def _to_float32(arr: Any) -> Any:
    """convert_image_dtype(arr, float32): integers divided by their maximum."""
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32)
    return arr.astype(np.float32) / np.float32(max_value(arr.dtype))


def _from_float32(arr: Any, dtype: Any) -> Any:
    """convert_image_dtype(arr, dtype) from float32: integers get x * (max + 0.999)."""
    if np.issubdtype(dtype, np.floating):
        return arr.astype(dtype)
    return (arr * np.float32(max_value(dtype) + 1.0 - 1e-3)).astype(dtype)


def _rgb_to_hsv(img: Any) -> Any:
    """(..., 3, H, W) RGB in [0, 1] -> HSV with h in [0, 1) (Pillow's formulas)."""
    xp = backend.xp_of(img)
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    # Where max == min, h and s are 0; swapping in 1 as the divisor avoids 0 / 0.
    eqc = maxc == minc
    cr = maxc - minc
    s = cr / xp.where(eqc, 1, maxc).astype(img.dtype)
    divisor = xp.where(eqc, 1, cr).astype(img.dtype)
    rc, gc, bc = ((maxc - c) / divisor for c in (r, g, b))
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = xp.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return xp.stack((h, s, maxc), axis=-3)


def _hsv_to_rgb(h: Any, s: Any, v: Any) -> Any:
    """HSV planes -> (..., 3, H, W) RGB; the sextant of h picks each channel's formula."""
    xp = backend.xp_of(h)
    i = xp.floor(h * 6.0)
    f = h * 6.0 - i
    sextant = i.astype(np.int32) % 6
    p = xp.clip(v * (1.0 - s), 0.0, 1.0)
    q = xp.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = xp.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    choices = ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))
    channels = [xp.take_along_axis(xp.stack(c), sextant[None], axis=0)[0] for c in choices]
    return xp.stack(channels, axis=-3)


# -- Gaussian blur ------------------------------------------------------------------------------
def _blur_kernel_size(kernel_size: Any) -> tuple[int, int]:
    """(kx, ky), odd and positive; an int means a square kernel."""
    if isinstance(kernel_size, numbers.Integral):
        kernel_size = (int(kernel_size), int(kernel_size))
    if not isinstance(kernel_size, Sequence):
        raise TypeError(f"gaussian_blur: kernel_size should be an int or a sequence of "
                        f"ints, got {type(kernel_size).__name__}")
    if len(kernel_size) == 1:
        kernel_size = (kernel_size[0], kernel_size[0])
    if len(kernel_size) != 2:
        raise ValueError(f"gaussian_blur: if kernel_size is a sequence its length should be "
                         f"2, got {len(kernel_size)}")
    if any(not isinstance(k, numbers.Integral) or k % 2 == 0 or k < 0 for k in kernel_size):
        raise ValueError(f"gaussian_blur: kernel_size should have odd and positive integers, "
                         f"got {kernel_size}")
    return int(kernel_size[0]), int(kernel_size[1])


def _blur_sigma(sigma: Any, kernel_size: tuple[int, int]) -> tuple[float, float]:
    """(sx, sy); None derives each from its kernel size as torchvision (0.3 ((k-1)/2 - 1) + 0.8)."""
    if sigma is None:
        return tuple(k * 0.15 + 0.35 for k in kernel_size)
    if isinstance(sigma, numbers.Number):
        sigma = (float(sigma), float(sigma))
    elif isinstance(sigma, Sequence) and len(sigma) == 1:
        sigma = (float(sigma[0]), float(sigma[0]))
    elif not isinstance(sigma, Sequence):
        raise TypeError(f"gaussian_blur: sigma should be a number or a sequence of numbers, "
                        f"got {type(sigma).__name__}")
    if len(sigma) != 2:
        raise ValueError(f"gaussian_blur: if sigma is a sequence, its length should be 2, "
                         f"got {len(sigma)}")
    if any(s <= 0 for s in sigma):
        raise ValueError(f"gaussian_blur: sigma should have positive values, got {sigma}")
    return float(sigma[0]), float(sigma[1])


def _gaussian_kernel(size: int, sigma: float, dtype: np.dtype) -> np.ndarray:
    half = (size - 1) * 0.5
    x = np.linspace(-half, half, size).astype(dtype)
    pdf = np.exp(dtype.type(-0.5) * (x / dtype.type(sigma)) ** 2)
    return pdf / pdf.sum()


def _convolve_axis(x: Any, kernel: np.ndarray, axis: int) -> Any:
    """``x`` correlated with a 1-D kernel along ``axis`` after reflect padding."""
    xp = backend.xp_of(x)
    r, n = len(kernel) // 2, x.shape[axis]
    widths = [(0, 0)] * x.ndim
    widths[axis] = (r, r)
    padded = xp.pad(x, widths, mode="reflect")
    out = xp.zeros_like(x)
    window = [slice(None)] * x.ndim
    for k, weight in enumerate(kernel):  # a loop over the taps only
        window[axis] = slice(k, k + n)
        out += weight * padded[tuple(window)]
    return out


def gaussian_blur(img: Any, kernel_size: int | Sequence[int],
                  sigma: float | Sequence[float] | None = None) -> Any:
    """Blurs with a Gaussian kernel, reflect-padded at the borders.

    Args:
        kernel_size: (kx, ky) or an int, odd and positive.
        sigma: (sx, sy) or a number; None derives it from the kernel size as torchvision.

    Example::

        >>> F.gaussian_blur(x, kernel_size=5, sigma=1.0)
    """
    ksize = _blur_kernel_size(kernel_size)
    sx, sy = _blur_sigma(sigma, ksize)
    arr, was_tensor = unwrap(img, "gaussian_blur")
    work = float_work(arr.dtype)
    x = _convolve_axis(arr.astype(work), _gaussian_kernel(ksize[0], sx, work), -1)
    x = _convolve_axis(x, _gaussian_kernel(ksize[1], sy, work), -2)
    return wrap(cast_back(x, arr.dtype), was_tensor)
