"""torchvision.transforms.functional: the transforms as functions with explicit parameters.

Each function takes an ember tensor (..., C, H, W) (or (H, W)) on any device, or a NumPy
image (H, W) / (H, W, C) where torchvision takes a PIL image, and returns the same kind.
Tensors are computed as torchvision's tensor path computes them: integer images go through
float32 and are rounded back. Nothing here records autograd history.

Example::

    >>> from ember.vision.transforms import functional as F
    >>> x = ember.rand(3, 64, 48)
    >>> F.center_crop(F.resize(x, 32), 28).shape          # smaller edge to 32, then crop
    ember.Size([3, 28, 28])
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import backend, dtypes
from ...nn import functional as nnF
from ...tensor import Tensor
from ._functional_color import (adjust_brightness, adjust_contrast, adjust_gamma, adjust_hue,
                                adjust_saturation, gaussian_blur, invert, rgb_to_grayscale,
                                to_grayscale)
from ._image import (InterpolationMode, cast_back, fill_value, float_work, interpolation_mode,
                     num_channels, setup_size, unwrap, wrap)

__all__ = [
    "get_dimensions", "get_image_size", "get_image_num_channels", "to_tensor", "normalize",
    "convert_image_dtype", "crop", "center_crop", "resized_crop", "pad", "hflip", "vflip",
    "resize", "rotate", "affine", "five_crop", "ten_crop", "erase", "adjust_brightness",
    "adjust_contrast", "adjust_saturation", "adjust_hue", "adjust_gamma", "invert",
    "rgb_to_grayscale", "to_grayscale", "gaussian_blur", "InterpolationMode",
]

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
_RESIZE_MODES = (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT,
                 InterpolationMode.BILINEAR, InterpolationMode.BICUBIC,
                 InterpolationMode.LANCZOS)
_GRID_MODES = (InterpolationMode.NEAREST, InterpolationMode.BILINEAR)


# -- sizes and conversion -----------------------------------------------------------------
def get_dimensions(img: Any) -> list[int]:
    """[channels, height, width] of an image."""
    arr, _ = unwrap(img, "get_dimensions")
    return [num_channels(arr), int(arr.shape[-2]), int(arr.shape[-1])]


def get_image_size(img: Any) -> list[int]:
    """[width, height] of an image (torchvision's order)."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img: Any) -> int:
    return get_dimensions(img)[0]


def to_tensor(pic: np.ndarray) -> Tensor:
    """A NumPy image (H, W) or (H, W, C) as a tensor (C, H, W).

    uint8 images are scaled to the default float dtype in [0, 1]; other dtypes keep their
    values and dtype, as torchvision's to_tensor does for NumPy input.

    Example::

        >>> F.to_tensor(np.full((28, 28), 255, np.uint8)).shape   # (1, 28, 28), all 1.0
    """
    if not isinstance(pic, np.ndarray):
        raise TypeError(f"ToTensor: pic should be a numpy.ndarray (H, W[, C]), got "
                        f"{type(pic).__name__}; tensors need no ToTensor")
    if pic.ndim not in (2, 3):
        raise ValueError(f"ToTensor: pic should be 2/3 dimensional. Got {pic.ndim} "
                         f"dimensions (shape {pic.shape}).")
    chw = (pic[None] if pic.ndim == 2 else pic.transpose(2, 0, 1))  # (C, H, W)
    if pic.dtype == np.uint8:
        out = chw.astype(dtypes.get_default_dtype().numpy)
        out /= 255
    else:
        dtypes.from_numpy(chw.dtype)  # TypeError for dtypes ember cannot hold
        out = np.ascontiguousarray(chw)
    return Tensor._make(out)


def _per_channel(values: Any, tensor: Tensor, name: str) -> np.ndarray:
    """``values`` as a host array of ``tensor``'s dtype that broadcasts over (C, H, W)."""
    host = np.asarray(values, dtype=tensor.dtype.numpy)
    channels = tensor.shape[-3]
    if host.ndim == 1:
        if host.size not in (1, channels):
            raise RuntimeError(f"Normalize: {name} has {host.size} values but the image "
                               f"has {channels} channels (shape {tuple(tensor.shape)})")
        host = host.reshape(-1, 1, 1)
    return host


def normalize(tensor: Tensor, mean: Sequence[float] | float, std: Sequence[float] | float,
              inplace: bool = False) -> Tensor:
    """``(x - mean[c]) / std[c]`` for each channel of a float tensor (..., C, H, W).

    Example::

        >>> F.normalize(ember.rand(3, 8, 8), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"Normalize: img should be an ember Tensor, got "
                        f"{type(tensor).__name__}; apply ToTensor first")
    if not tensor.is_floating_point():
        raise TypeError(f"Normalize: input tensor should be a float tensor, got "
                        f"{tensor.dtype}; apply ToTensor or .float() first")
    if tensor.ndim < 3:
        raise ValueError(f"Normalize: expected a tensor image of size (..., C, H, W), "
                         f"got tensor.size() = {tuple(tensor.shape)}")
    mean_h = _per_channel(mean, tensor, "mean")
    std_h = _per_channel(std, tensor, "std")
    if (std_h == 0).any():
        raise ValueError(f"Normalize: std evaluated to zero after conversion to "
                         f"{tensor.dtype}, leading to division by zero (std={std})")
    mean_t = Tensor._make(backend.to_device(mean_h, tensor.device))
    std_t = Tensor._make(backend.to_device(std_h, tensor.device))
    if inplace:
        return tensor.sub_(mean_t).div_(std_t)
    return (tensor - mean_t) / std_t


def convert_image_dtype(image: Tensor, dtype: Any = dtypes.float32) -> Tensor:
    """A tensor image as ``dtype``, rescaled: floats span [0, 1], integers [0, max].

    Float to integer maps [0, 1] onto [0, max] by ``x * (max + 1 - 0.001)`` truncated, as
    torchvision does; integer to integer shifts by whole bits.

    Example::

        >>> F.convert_image_dtype(ember.tensor([[[255]]], dtype=ember.uint8))   # 1.0
    """
    if not isinstance(image, Tensor):
        raise TypeError(f"ConvertImageDtype: image should be an ember Tensor, got "
                        f"{type(image).__name__}")
    target = dtypes.as_dtype(dtype)
    if image.dtype == target:
        return image
    arr, out = image._data, target.numpy
    if image.is_floating_point():
        return Tensor._make(_from_float(arr, out, image.dtype, target))
    in_max = float(np.iinfo(arr.dtype).max)
    if target.is_floating_point:
        return Tensor._make(arr.astype(out) / out.type(in_max))
    out_max = float(np.iinfo(out).max)
    if in_max > out_max:
        factor = int((in_max + 1) // (out_max + 1))
        return Tensor._make((arr // factor).astype(out))
    factor = int((out_max + 1) // (in_max + 1))
    return Tensor._make(arr.astype(out) * out.type(factor))


def _from_float(arr: Any, out: np.dtype, source: Any, target: Any) -> Any:
    if out.kind == "f":
        return arr.astype(out)
    unsafe = ((arr.dtype == np.float32 and out in (np.int32, np.int64))
              or (arr.dtype == np.float64 and out == np.int64))
    if unsafe:
        raise RuntimeError(f"ConvertImageDtype: the cast from {source} to {target} cannot be "
                           f"performed safely")
    eps = 1e-3
    return (arr * arr.dtype.type(np.iinfo(out).max + 1.0 - eps)).astype(out)


# -- crops, pads and flips ------------------------------------------------------------------
def parse_padding(padding: Any, op: str, allow_negative: bool = False
                  ) -> tuple[int, int, int, int]:
    """torchvision's padding forms (int, (lr, tb) or (l, t, r, b)) -> (left, top, right, bottom)."""
    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError(f"{op}: got inappropriate padding arg {padding!r}; use an int or a "
                        f"sequence of 1, 2 or 4 ints")
    if isinstance(padding, numbers.Number):
        pads = (padding,) * 4
    elif len(padding) == 1:
        pads = (padding[0],) * 4
    elif len(padding) == 2:
        pads = (padding[0], padding[1], padding[0], padding[1])
    elif len(padding) == 4:
        pads = tuple(padding)
    else:
        raise ValueError(f"{op}: padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    if any(not isinstance(p, numbers.Integral) for p in pads):
        raise TypeError(f"{op}: padding must be ints, got {padding!r}")
    if not allow_negative and any(p < 0 for p in pads):
        raise ValueError(f"{op}: padding must be non-negative ints, got {padding!r}")
    return tuple(int(p) for p in pads)


def pad_array(arr: Any, pads: tuple[int, int, int, int], fill: Any, mode: str,
              op: str = "pad") -> Any:
    """Pads the last two axes of ``arr`` by (left, top, right, bottom); negative pads crop."""
    left, top, right, bottom = pads
    h, w = arr.shape[-2:]
    arr = arr[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    left, top, right, bottom = (max(p, 0) for p in pads)
    xp = backend.xp_of(arr)
    h, w = arr.shape[-2:]
    if mode == "constant":
        out = xp.empty(arr.shape[:-2] + (h + top + bottom, w + left + right), arr.dtype)
        out[...] = fill_value(fill, arr, op)
        out[..., top:top + h, left:left + w] = arr
        return out
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    return xp.pad(arr, widths, mode=mode)  # numpy's edge/reflect/symmetric are torchvision's


def pad(img: Any, padding: int | Sequence[int], fill: Any = 0,
        padding_mode: str = "constant") -> Any:
    """Pads the image's borders.

    Args:
        padding: an int (all sides), (left/right, top/bottom) or (left, top, right, bottom);
            negative values crop.
        fill: value of constant padding (a number, or one per channel).
        padding_mode: "constant", "edge" (repeat the border), "reflect" (mirror without the
            border pixel: [3, 2, 1, 2, 3, 4]) or "symmetric" (with it: [2, 1, 1, 2, 3, 4]).

    Example::

        >>> F.pad(ember.zeros(3, 4, 4), (1, 2)).shape       # (3, 8, 6)
    """
    pads = parse_padding(padding, "Pad", allow_negative=True)
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError(f"Pad: got inappropriate fill arg {fill!r}; use a number or a tuple")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"Pad: padding_mode should be one of {PADDING_MODES}, "
                         f"got {padding_mode!r}")
    arr, was_tensor = unwrap(img, "Pad")
    return wrap(pad_array(arr, pads, fill, padding_mode, "Pad"), was_tensor)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The (height, width) window at (top, left); parts outside the image are zeros.

    Example::

        >>> F.crop(x, 2, 3, 16, 16)             # x[..., 2:18, 3:19]
    """
    arr, was_tensor = unwrap(img, "crop")
    return wrap(_crop_array(arr, int(top), int(left), int(height), int(width)), was_tensor)


def _crop_array(arr: Any, top: int, left: int, height: int, width: int) -> Any:
    h, w = arr.shape[-2:]
    bottom, right = top + height, left + width
    inside = arr[..., max(top, 0):max(bottom, 0), max(left, 0):max(right, 0)]
    if top >= 0 and left >= 0 and bottom <= h and right <= w:
        return inside
    pads = (max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
            max(right - max(w, left), 0), max(bottom - max(h, top), 0))
    return pad_array(inside, pads, 0, "constant", "crop")


def center_crop(img: Any, output_size: int | Sequence[int]) -> Any:
    """The central (h, w) window; an image smaller than that is zero-padded first.

    Example::

        >>> F.center_crop(ember.rand(3, 32, 32), 28).shape   # (3, 28, 28)
    """
    arr, was_tensor = unwrap(img, "CenterCrop")
    return wrap(_center_crop_array(arr, setup_size(output_size, "CenterCrop")), was_tensor)


def _center_crop_array(arr: Any, size: tuple[int, int]) -> Any:
    (ch, cw), (h, w) = size, arr.shape[-2:]
    if ch > h or cw > w:
        pads = ((cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0,
                (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0)
        arr = pad_array(arr, pads, 0, "constant", "CenterCrop")
        h, w = arr.shape[-2:]
    # Python's round (half to even), as torchvision
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return arr[..., top:top + ch, left:left + cw]


def hflip(img: Any) -> Any:
    """Flips the image left-right."""
    arr, was_tensor = unwrap(img, "hflip")
    return wrap(arr[..., ::-1], was_tensor)


def vflip(img: Any) -> Any:
    """Flips the image upside down."""
    arr, was_tensor = unwrap(img, "vflip")
    return wrap(arr[..., ::-1, :], was_tensor)


def five_crop(img: Any, size: int | Sequence[int]) -> tuple:
    """The four corner crops and the central crop, as (tl, tr, bl, br, center)."""
    ch, cw = setup_size(size, "FiveCrop")
    arr, was_tensor = unwrap(img, "FiveCrop")
    h, w = arr.shape[-2:]
    if ch > h or cw > w:
        raise ValueError(f"FiveCrop: requested crop size {(ch, cw)} is bigger than the input "
                         f"size {(h, w)}")
    corners = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw)]
    crops = [arr[..., i:i + ch, j:j + cw] for i, j in corners]
    crops.append(_center_crop_array(arr, (ch, cw)))
    return tuple(wrap(c, was_tensor) for c in crops)


def ten_crop(img: Any, size: int | Sequence[int], vertical_flip: bool = False) -> tuple:
    """``five_crop`` of the image, then of its flip (horizontal unless ``vertical_flip``)."""
    flipped = vflip(img) if vertical_flip else hflip(img)
    return five_crop(img, size) + five_crop(flipped, size)


def erase(img: Tensor, i: int, j: int, h: int, w: int, v: Any, inplace: bool = False
          ) -> Tensor:
    """Sets the (h, w) window at (i, j) of a tensor image to ``v`` (a value or a tensor that
    broadcasts to (..., C, h, w))."""
    if not isinstance(img, Tensor):
        raise TypeError(f"RandomErasing: img should be an ember Tensor, got "
                        f"{type(img).__name__}")
    out = img if inplace else img.clone()
    if isinstance(v, Tensor):
        v = v.to(device=img.device, dtype=img.dtype)
    out[..., i:i + h, j:j + w] = v
    return out


# -- resizing ---------------------------------------------------------------------------------
def _resized_size(image_size: tuple[int, int], size: Any, max_size: int | None
                  ) -> tuple[int, int]:
    """torchvision's output (h, w): an int (or [int]) matches the smaller edge."""
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if size is None:
        new_short, new_long = int(max_size * short / long), max_size
    elif len(size) == 2:
        return int(size[0]), int(size[1])
    else:
        new_short, new_long = int(size[0]), int(int(size[0]) * long / short)
        if max_size is not None:
            if max_size <= new_short:
                raise ValueError(f"Resize: max_size = {max_size} must be strictly greater "
                                 f"than the requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def check_resize_size(size: Any, max_size: int | None) -> list[int] | None:
    """``size`` as a list of 1 or 2 ints (or None with ``max_size``), checked as torchvision."""
    if size is None:
        if not isinstance(max_size, int):
            raise ValueError(f"Resize: max_size must be an int when size is None, "
                             f"got {max_size!r}")
        return None
    if isinstance(size, numbers.Integral):
        size = [int(size)]
    if not isinstance(size, Sequence) or isinstance(size, str):
        raise TypeError(f"Resize: size should be an int or a sequence, got "
                        f"{type(size).__name__}")
    if len(size) not in (1, 2):
        raise ValueError(f"Resize: if size is a sequence, it should have 1 or 2 values, "
                         f"got {list(size)}")
    if max_size is not None and len(size) != 1:
        raise ValueError("Resize: max_size should only be passed if size specifies the length "
                         "of the smaller edge, i.e. size should be an int or a sequence of "
                         "length 1")
    return list(size)


def resize(img: Any, size: Any, interpolation: Any = InterpolationMode.BILINEAR,
           max_size: int | None = None, antialias: bool | None = True) -> Any:
    """Resizes the image to ``size``: (h, w), or an int for the smaller edge.

    Args:
        size: (h, w); an int (or [int]) s makes the smaller edge s and keeps the aspect
            ratio; None resizes the longer edge to ``max_size``.
        interpolation: an InterpolationMode or its name: nearest, nearest-exact, bilinear
            (default), bicubic, lanczos.
        max_size: the longer edge's limit when ``size`` is an int: if the longer edge would
            exceed it, the image is resized so that it equals ``max_size``.
        antialias: filter when downsampling (bilinear and bicubic; lanczos needs it).
            Integer images are resampled in float32 and rounded, as torchvision's tensor path.

    Example::

        >>> F.resize(ember.rand(3, 480, 640), 224).shape    # (3, 224, 298)
    """
    mode = interpolation_mode(interpolation, "Resize", _RESIZE_MODES)
    size = check_resize_size(size, max_size)
    arr, was_tensor = unwrap(img, "Resize")
    out_size = _resized_size(arr.shape[-2:], size, max_size)
    if tuple(arr.shape[-2:]) == out_size:
        return img
    return wrap(_resize_array(arr, out_size, mode, antialias), was_tensor)


def _resize_array(arr: Any, size: tuple[int, int], mode: InterpolationMode,
                  antialias: bool | None) -> Any:
    xp = backend.xp_of(arr)
    lead, (h, w) = arr.shape[:-2], arr.shape[-2:]
    batch = arr.reshape((-1, num_channels(arr), h, w))  # F.interpolate wants (N, C, H, W)
    x = Tensor._make(xp.ascontiguousarray(batch.astype(float_work(arr.dtype))))
    smooth = mode in (InterpolationMode.BILINEAR, InterpolationMode.BICUBIC)
    aa = bool(antialias) and (smooth or mode == InterpolationMode.LANCZOS)
    out = nnF.interpolate(x, size=list(size), mode=mode.value,
                          align_corners=False if smooth else None, antialias=aa)._data
    return cast_back(out, arr.dtype).reshape(lead + tuple(size))


def resized_crop(img: Any, top: int, left: int, height: int, width: int, size: Any,
                 interpolation: Any = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> Any:
    """``crop`` then ``resize`` (RandomResizedCrop's work)."""
    return resize(crop(img, top, left, height, width), size, interpolation,
                  antialias=antialias)


# -- affine warps -------------------------------------------------------------------------------
def _inverse_affine(center: tuple[float, float], angle: float, translate: tuple[float, float],
                    scale: float, shear: tuple[float, float]) -> np.ndarray:
    """The 2x3 map from output to input coordinates of torchvision's affine.

    The forward map is p -> T + C + RSS (p - C), where RSS = scale * R(angle) @ ShY @ ShX:
    R rotates clockwise on screen (y points down), ShX = [[1, -tan sx], [0, 1]] and
    ShY = [[1, 0], [-tan sy, 1]]. Sampling needs its inverse, p = C + RSS^-1 (q - C - T).
    """
    a, sx, sy = (math.radians(v) for v in (angle, *shear))
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    shear_x = np.array([[1.0, -math.tan(sx)], [0.0, 1.0]])
    shear_y = np.array([[1.0, 0.0], [-math.tan(sy), 1.0]])
    inv = np.linalg.inv(scale * rot @ shear_y @ shear_x)
    c = np.asarray(center, dtype=np.float64)
    offset = c - inv @ (c + np.asarray(translate, dtype=np.float64))
    return np.concatenate([inv, offset[:, None]], axis=1)


def _gather(arr: Any, ys: Any, xs: Any) -> tuple[Any, Any]:
    """``arr[..., ys, xs]`` with out-of-range points clamped, and the in-range mask."""
    h, w = arr.shape[-2:]
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    return arr[..., ys.clip(0, h - 1), xs.clip(0, w - 1)], inside


def _warp(arr: Any, matrix: np.ndarray, interpolation: InterpolationMode, fill: Any,
          out_size: tuple[int, int] | None = None) -> Any:
    """Samples ``arr`` (..., H, W) at ``matrix`` @ (x, y, 1) of every output pixel.

    Coordinates are centred on the images (x = col - (W-1)/2), as torchvision's tensor
    affine (affine_grid then grid_sample, align_corners=False). With ``fill`` None, points
    outside count as zeros; otherwise torchvision's mask blend ``v * m + (1 - m) * fill``,
    m the bilinear coverage (so border pixels are darkened by m, as in torchvision).
    """
    xp = backend.xp_of(arr)
    h, w = arr.shape[-2:]
    oh, ow = out_size or (h, w)
    ys, xs = xp.meshgrid(xp.arange(oh) - (oh - 1) / 2, xp.arange(ow) - (ow - 1) / 2,
                         indexing="ij")
    m = [float(v) for v in matrix.ravel()]
    src_x = m[0] * xs + m[1] * ys + m[2] + (w - 1) / 2
    src_y = m[3] * xs + m[4] * ys + m[5] + (h - 1) / 2
    fill_arr = fill_value(fill, arr, "affine")
    if interpolation == InterpolationMode.NEAREST:
        vals, inside = _gather(arr, xp.rint(src_y).astype(np.int64),
                               xp.rint(src_x).astype(np.int64))
        return xp.where(inside, vals, fill_arr)
    work = float_work(arr.dtype)
    x0, y0 = xp.floor(src_x), xp.floor(src_y)
    fx, fy = (src_x - x0).astype(work), (src_y - y0).astype(work)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    acc = xp.zeros(arr.shape[:-2] + (oh, ow), dtype=work)
    covered = xp.zeros((oh, ow), dtype=work)
    # Four corner taps, each vectorised over the whole image.
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            vals, inside = _gather(arr, y0 + dy, x0 + dx)
            weight = xp.where(inside, wy * wx, 0).astype(work)
            acc += weight * vals
            covered += weight
    if fill is not None:
        acc = acc * covered + (1 - covered) * fill_arr.astype(work)
    return cast_back(acc, arr.dtype)


def _affine(arr: Any, was_tensor: bool, angle: float, translate: Sequence[float],
            scale: float, shear: Sequence[float], interpolation: InterpolationMode,
            fill: Any, center: Sequence[float] | None) -> Any:
    """Applies one affine transform with fixed parameters to an unwrapped image."""
    h, w = arr.shape[-2:]
    # torchvision takes the centre in pixels from the top-left corner; we work centred.
    c = (0.0, 0.0) if center is None else (center[0] - w * 0.5, center[1] - h * 0.5)
    matrix = _inverse_affine(c, angle, translate, scale, shear)
    return wrap(_warp(arr, matrix, interpolation, fill), was_tensor)


def _parse_shear(shear: Any) -> tuple[float, float]:
    if isinstance(shear, numbers.Number):
        return float(shear), 0.0
    if isinstance(shear, Sequence) and len(shear) in (1, 2):
        return float(shear[0]), float(shear[-1])
    raise ValueError(f"affine: shear should be a number or a sequence of 1 or 2 numbers, "
                     f"got {shear!r}")


def affine(img: Any, angle: float, translate: Sequence[int], scale: float,
           shear: float | Sequence[float], interpolation: Any = InterpolationMode.NEAREST,
           fill: Any = None, center: Sequence[float] | None = None) -> Any:
    """Rotates (clockwise, degrees), scales, shears and translates the image about its centre.

    Example::

        >>> F.affine(x, angle=30, translate=(2, 0), scale=1.0, shear=0)
    """
    if not isinstance(angle, numbers.Number):
        raise TypeError(f"affine: angle should be int or float, got {type(angle).__name__}")
    if not isinstance(translate, Sequence) or len(translate) != 2:
        raise ValueError(f"affine: translate should be a sequence of 2 numbers, "
                         f"got {translate!r}")
    if scale <= 0.0:
        raise ValueError(f"affine: scale should be positive, got {scale}")
    mode = interpolation_mode(interpolation, "affine", _GRID_MODES)
    arr, was_tensor = unwrap(img, "affine")
    return _affine(arr, was_tensor, float(angle), [float(t) for t in translate], float(scale),
                   _parse_shear(shear), mode, fill, center)


def _expanded_size(matrix: np.ndarray, w: int, h: int) -> tuple[int, int]:
    """(oh, ow) that holds the whole rotated image, computed in float32 as torchvision."""
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], np.float32)
    new = pts @ matrix.astype(np.float32).T
    half = np.array([w * 0.5, h * 0.5], np.float32)
    lo, hi = new.min(axis=0) + half, new.max(axis=0) + half
    tol = np.float32(1e-4)  # so that 1e-15 above an integer does not ceil up
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[1]), int(size[0])


def rotate(img: Any, angle: float, interpolation: Any = InterpolationMode.NEAREST,
           expand: bool = False, center: Sequence[float] | None = None,
           fill: Any = None) -> Any:
    """Rotates the image by ``angle`` degrees counter-clockwise.

    Args:
        interpolation: NEAREST (default) or BILINEAR (or their names).
        expand: enlarge the output to hold the whole rotated image (assumes the rotation is
            about the centre).
        center: (x, y) in pixels from the top-left corner; None for the image centre.
        fill: value of pixels from outside the image (a number or one per channel); None
            samples zeros without torchvision's coverage blend.

    Example::

        >>> F.rotate(x, 90)             # == x.rot90(1, (-2, -1)) for a square image
    """
    if not isinstance(angle, numbers.Number):
        raise TypeError(f"rotate: angle should be int or float, got {type(angle).__name__}")
    if center is not None and (not isinstance(center, Sequence) or len(center) != 2):
        raise ValueError(f"rotate: center should be a sequence (x, y), got {center!r}")
    mode = interpolation_mode(interpolation, "rotate", _GRID_MODES)
    arr, was_tensor = unwrap(img, "rotate")
    h, w = arr.shape[-2:]
    c = (0.0, 0.0) if center is None else (center[0] - w * 0.5, center[1] - h * 0.5)
    matrix = _inverse_affine(c, -float(angle), (0.0, 0.0), 1.0, (0.0, 0.0))
    out_size = _expanded_size(matrix, w, h) if expand else (h, w)
    return wrap(_warp(arr, matrix, mode, fill, out_size), was_tensor)
