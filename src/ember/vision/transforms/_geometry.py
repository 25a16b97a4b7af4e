"""Geometric transforms: resizing, cropping, padding, flipping, rotation and affine warps."""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

from . import functional as F
from ._image import (InterpolationMode, coin, image_size, interpolation_mode, randint,
                     setup_size, uniform, unwrap, wrap)

_RESIZE_MODES = F._RESIZE_MODES
_GRID_MODES = F._GRID_MODES


class Resize:
    """Resizes the image to ``size``: (h, w), or an int for the smaller edge.

    Args:
        size: (h, w); an int (or [int]) s scales the smaller edge to s keeping the aspect
            ratio, e.g. (480, 640) -> (s, 640 s / 480) rounded down.
        interpolation: bilinear (default), nearest, nearest-exact, bicubic or lanczos.
        max_size: the longer edge's limit when ``size`` is an int.
        antialias: filter when downsampling (bilinear and bicubic), as torchvision's default.

    Example::

        >>> Resize(256)(ember.rand(3, 480, 640)).shape      # (3, 256, 341)
    """

    def __init__(self, size: int | Sequence[int] | None,
                 interpolation: Any = InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = True) -> None:
        F.check_resize_size(size, max_size)
        self.size = size
        self.max_size = max_size
        self.interpolation = interpolation_mode(interpolation, "Resize", _RESIZE_MODES)
        self.antialias = antialias

    def __call__(self, img: Any) -> Any:
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.size}, "
                f"interpolation={self.interpolation.value}, max_size={self.max_size}, "
                f"antialias={self.antialias})")


class CenterCrop:
    """Crops the central (h, w) window; smaller images are zero-padded to fit first.

    Example::

        >>> CenterCrop(224)(ember.rand(3, 256, 341)).shape  # (3, 224, 224)
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = setup_size(size, "CenterCrop")

    def __call__(self, img: Any) -> Any:
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class Pad:
    """Pads the borders (see ``functional.pad`` for the forms of padding and modes).

    Example::

        >>> Pad(4, padding_mode="reflect")(img)
    """

    def __init__(self, padding: int | Sequence[int], fill: Any = 0,
                 padding_mode: str = "constant") -> None:
        F.parse_padding(padding, "Pad", allow_negative=True)
        if not isinstance(fill, (numbers.Number, tuple, list)):
            raise TypeError(f"Pad: got inappropriate fill arg {fill!r}; use a number or a "
                            f"tuple")
        if padding_mode not in F.PADDING_MODES:
            raise ValueError(f"Pad: padding_mode should be one of {F.PADDING_MODES}, "
                             f"got {padding_mode!r}")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img: Any) -> Any:
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(padding={self.padding}, fill={self.fill}, "
                f"padding_mode={self.padding_mode})")


def _crop_params(image_size: tuple[int, int], output_size: tuple[int, int]
                 ) -> tuple[int, int, int, int]:
    h, w = (int(v) for v in image_size)
    th, tw = output_size
    if h < th or w < tw:
        raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the "
                         f"input image size {(h, w)}; use padding or pad_if_needed=True")
    if (h, w) == (th, tw):
        return 0, 0, h, w
    return randint(0, h - th + 1), randint(0, w - tw + 1), th, tw


class RandomCrop:
    """Crops a random (h, w) window, after optional padding.

    Args:
        size: output size, an int (square) or (h, w).
        padding: pixels added first: an int (all sides), (left/right, top/bottom) or
            (left, top, right, bottom).
        pad_if_needed: pad an image smaller than ``size`` so the crop fits.
        fill: value of constant padding (a number, or one per channel).
        padding_mode: "constant", "edge", "reflect" or "symmetric".

    Example::

        >>> RandomCrop(28, padding=4)(img)   # img (28, 28) -> a shifted (28, 28) view
    """

    def __init__(self, size: int | Sequence[int], padding: Any = None,
                 pad_if_needed: bool = False, fill: Any = 0,
                 padding_mode: str = "constant") -> None:
        self.size = setup_size(size, "RandomCrop")
        if padding is not None:
            F.parse_padding(padding, "RandomCrop")
        if padding_mode not in F.PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode should be one of {F.PADDING_MODES}, "
                             f"got {padding_mode!r}")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """Random (top, left, height, width) of a crop of ``output_size`` inside ``img``."""
        return _crop_params(image_size(img, "RandomCrop"), output_size)

    def __call__(self, img: Any) -> Any:
        arr, was_tensor = unwrap(img, "RandomCrop")
        fill, mode = self.fill, self.padding_mode
        if self.padding is not None:
            arr = F.pad_array(arr, F.parse_padding(self.padding, "RandomCrop"), fill, mode,
                              "RandomCrop")
        th, tw = self.size
        h, w = arr.shape[-2:]
        if self.pad_if_needed and w < tw:
            arr = F.pad_array(arr, (tw - w, 0, tw - w, 0), fill, mode, "RandomCrop")
        if self.pad_if_needed and h < th:
            arr = F.pad_array(arr, (0, th - h, 0, th - h), fill, mode, "RandomCrop")
        i, j, th, tw = _crop_params(arr.shape[-2:], self.size)
        return wrap(arr[..., i:i + th, j:j + tw], was_tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomResizedCrop:
    """Crops a random area and aspect ratio, then resizes it to ``size`` (Inception-style).

    The crop covers a fraction of the image's area drawn from ``scale`` and has an aspect
    ratio (w / h) drawn log-uniformly from ``ratio``. Ten draws are tried; if none fits,
    the central crop of the image clamped to ``ratio`` is used (torchvision's algorithm).

    Args:
        size: output (h, w) or an int for a square.
        scale: (min, max) fraction of the area.
        ratio: (min, max) aspect ratio.
        interpolation: bilinear (default), nearest, nearest-exact, bicubic or lanczos.
        antialias: filter when downsampling.

    Example::

        >>> RandomResizedCrop(224)(ember.rand(3, 480, 640)).shape   # (3, 224, 224)
    """

    def __init__(self, size: int | Sequence[int], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
                 interpolation: Any = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        self.size = setup_size(size, "RandomResizedCrop")
        for name, value in (("scale", scale), ("ratio", ratio)):
            if not isinstance(value, Sequence) or len(value) != 2:
                raise TypeError(f"RandomResizedCrop: {name} should be a sequence (min, max), "
                                f"got {value!r}")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("RandomResizedCrop: scale and ratio should be of kind (min, max)",
                          stacklevel=2)
        self.scale = scale
        self.ratio = ratio
        self.interpolation = interpolation_mode(interpolation, "RandomResizedCrop",
                                                _RESIZE_MODES)
        self.antialias = antialias

    @staticmethod
    def get_params(img: Any, scale: Sequence[float], ratio: Sequence[float]
                   ) -> tuple[int, int, int, int]:
        """Random (top, left, height, width) of the crop, by torchvision's algorithm."""
        height, width = image_size(img, "RandomResizedCrop")
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * uniform(scale[0], scale[1])
            aspect_ratio = math.exp(uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect_ratio)))
            h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < w <= width and 0 < h <= height:
                return randint(0, height - h + 1), randint(0, width - w + 1), h, w
        return _central_fallback(height, width, ratio)

    def __call__(self, img: Any) -> Any:
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation,
                              antialias=self.antialias)

    def __repr__(self) -> str:
        scale = tuple(round(s, 4) for s in self.scale)
        ratio = tuple(round(r, 4) for r in self.ratio)
        return (f"{type(self).__name__}(size={self.size}, scale={scale}, ratio={ratio}, "
                f"interpolation={self.interpolation.value}, antialias={self.antialias})")


def _central_fallback(height: int, width: int, ratio: Sequence[float]
                      ) -> tuple[int, int, int, int]:
    """The whole image, cut to the nearest allowed aspect ratio, centred."""
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


class RandomHorizontalFlip:
    """Flips the image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        return F.hflip(img) if coin(self.p) else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip:
    """Flips the image upside down with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        return F.vflip(img) if coin(self.p) else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


def _range(value: Any, name: str, op: str, count: int = 2) -> list[float]:
    """A number x as [-x, x] (x >= 0), or a sequence of ``count`` numbers as a list."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"{op}: if {name} is a single number, it must be "
                             f"non-negative, got {value}")
        return [-float(value), float(value)]
    if isinstance(value, Sequence) and len(value) in (2, count):
        return [float(v) for v in value]
    lengths = "2" if count == 2 else f"2 or {count}"
    raise ValueError(f"{op}: {name} should be a number or a sequence of {lengths} "
                     f"numbers, got {value!r}")


def _check_fill_center(fill: Any, center: Any, op: str) -> None:
    if fill is not None and not isinstance(fill, (numbers.Number, Sequence)):
        raise TypeError(f"{op}: fill should be either a sequence or a number, "
                        f"got {type(fill).__name__}")
    if center is not None and (not isinstance(center, Sequence) or len(center) != 2):
        raise ValueError(f"{op}: center should be (x, y), got {center!r}")


class RandomRotation:
    """Rotates by a random angle (degrees, counter-clockwise) drawn from ``degrees``.

    Args:
        degrees: a number d for (-d, d), or (min, max).
        interpolation: NEAREST (default) or BILINEAR (or their names).
        expand: enlarge the output to hold the whole rotated image.
        center: (x, y) in pixels from the top-left corner; None for the image centre.
        fill: value of pixels that come from outside the image (a number or one per channel).

    Example::

        >>> RandomRotation(15, interpolation="bilinear")(img)
    """

    def __init__(self, degrees: float | Sequence[float],
                 interpolation: Any = InterpolationMode.NEAREST, expand: bool = False,
                 center: Sequence[float] | None = None, fill: Any = 0) -> None:
        self.degrees = _range(degrees, "degrees", "RandomRotation")
        self.interpolation = interpolation_mode(interpolation, "RandomRotation", _GRID_MODES)
        _check_fill_center(fill, center, "RandomRotation")
        self.expand = expand
        self.center = center
        self.fill = 0 if fill is None else fill

    @staticmethod
    def get_params(degrees: Sequence[float]) -> float:
        """A random angle from [degrees[0], degrees[1])."""
        return uniform(float(degrees[0]), float(degrees[1]))

    def __call__(self, img: Any) -> Any:
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def __repr__(self) -> str:
        s = (f"{type(self).__name__}(degrees={self.degrees}, "
             f"interpolation={self.interpolation.value}, expand={self.expand}")
        s += f", center={self.center}" if self.center is not None else ""
        return s + f", fill={self.fill})"


class RandomAffine:
    """A random affine transform: rotation, translation, scale and shear.

    Args:
        degrees: rotation range in degrees (clockwise, as torchvision's affine): a number d
            for (-d, d), or (min, max).
        translate: (a, b): horizontal shift drawn from [-a*W, a*W] and vertical from
            [-b*H, b*H], each rounded to whole pixels. None for no shift.
        scale: (min, max) scale factor range. None for 1.
        shear: shear angles in degrees: a number s for x-shear in (-s, s), (min, max) for
            x-shear, or (xmin, xmax, ymin, ymax). None for no shear.
        interpolation: InterpolationMode.NEAREST (default) or BILINEAR (or their names).
        fill: value of pixels that come from outside the image (a number or one per
            channel); with bilinear sampling, edge pixels blend with it by their coverage.
        center: (x, y) rotation centre in pixels; None for the image centre.

    Example::

        >>> RandomAffine(degrees=10, translate=(0.1, 0.1))(img)
    """

    def __init__(self, degrees: float | Sequence[float],
                 translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None,
                 shear: float | Sequence[float] | None = None,
                 interpolation: Any = InterpolationMode.NEAREST,
                 fill: Any = 0, center: Sequence[float] | None = None) -> None:
        self.degrees = _range(degrees, "degrees", "RandomAffine")
        if translate is not None:
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"RandomAffine: translate should be two values between 0 "
                                 f"and 1, got {translate!r}")
        if scale is not None:
            if len(scale) != 2 or not all(s > 0 for s in scale):
                raise ValueError(f"RandomAffine: scale should be two positive values, "
                                 f"got {scale!r}")
        self.translate = translate
        self.scale = scale
        self.shear = _range(shear, "shear", "RandomAffine", count=4) if shear is not None \
            else None
        self.interpolation = interpolation_mode(interpolation, "RandomAffine", _GRID_MODES)
        _check_fill_center(fill, center, "RandomAffine")
        self.fill = 0 if fill is None else fill
        self.center = center

    @staticmethod
    def get_params(degrees: Sequence[float], translate: Sequence[float] | None,
                   scale_ranges: Sequence[float] | None, shears: Sequence[float] | None,
                   img_size: Sequence[int]) -> tuple[float, tuple[int, int], float,
                                                     tuple[float, float]]:
        """Draws (angle, (tx, ty), scale, (shear_x, shear_y)); ``img_size`` is (W, H)."""
        angle = uniform(degrees[0], degrees[1])
        tx = ty = 0
        if translate is not None:
            max_dx, max_dy = translate[0] * img_size[0], translate[1] * img_size[1]
            tx = int(round(uniform(-max_dx, max_dx)))
            ty = int(round(uniform(-max_dy, max_dy)))
        scale = uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = uniform(shears[0], shears[1])
            if len(shears) == 4:
                shear_y = uniform(shears[2], shears[3])
        return angle, (tx, ty), scale, (shear_x, shear_y)

    def __call__(self, img: Any) -> Any:
        arr, was_tensor = unwrap(img, "RandomAffine")
        h, w = arr.shape[-2:]
        angle, translate, scale, shear = self.get_params(
            self.degrees, self.translate, self.scale, self.shear, (w, h))
        return F._affine(arr, was_tensor, angle, translate, scale, shear,
                         self.interpolation, self.fill, self.center)

    def __repr__(self) -> str:
        s = f"{type(self).__name__}(degrees={self.degrees}"
        s += f", translate={self.translate}" if self.translate is not None else ""
        s += f", scale={self.scale}" if self.scale is not None else ""
        s += f", shear={self.shear}" if self.shear is not None else ""
        if self.interpolation != InterpolationMode.NEAREST:
            s += f", interpolation={self.interpolation.value}"
        s += f", fill={self.fill}" if self.fill != 0 else ""
        s += f", center={self.center}" if self.center is not None else ""
        return s + ")"


class FiveCrop:
    """The four corner crops and the central crop of ``size``, as a tuple of 5 images.

    Example::

        >>> crops = FiveCrop(224)(img)
        >>> batch = ember.stack(crops)         # (5, C, 224, 224)
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = setup_size(size, "FiveCrop")

    def __call__(self, img: Any) -> tuple:
        return F.five_crop(img, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class TenCrop:
    """FiveCrop of the image and of its flip (horizontal, or vertical): a tuple of 10."""

    def __init__(self, size: int | Sequence[int], vertical_flip: bool = False) -> None:
        self.size = setup_size(size, "TenCrop")
        self.vertical_flip = vertical_flip

    def __call__(self, img: Any) -> tuple:
        return F.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, vertical_flip={self.vertical_flip})"

