"""torchvision.transforms for NumPy images and ember tensors.

An image is either a NumPy array of shape (H, W) or (H, W, C) (where torchvision takes a PIL
image; ``datasets.MNIST`` yields uint8 (28, 28) arrays) or an ember tensor of shape
(..., C, H, W) or (H, W). Each transform returns the same kind it was given, except
``ToTensor`` (array -> tensor) and ``Normalize`` (tensors only), as in torchvision.

Random transforms draw from ember's default generator, so ``ember.manual_seed(s)`` makes
them reproducible. The geometric ones (crop, flip, affine) work on the tensor's data and
record no autograd history; they are data augmentation.

Example::

    >>> from ember.vision import transforms
    >>> t = transforms.Compose([
    ...     transforms.RandomCrop(28, padding=2),
    ...     transforms.ToTensor(),
    ...     transforms.Normalize((0.1307,), (0.3081,)),
    ... ])
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from enum import Enum
from typing import Any, Callable

import numpy as np

import ember

from .. import backend, dtypes
from ..tensor import Tensor

__all__ = [
    "Compose", "ToTensor", "Normalize", "Lambda", "RandomCrop", "RandomAffine",
    "RandomHorizontalFlip", "InterpolationMode",
]

_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


class InterpolationMode(Enum):
    """How pixels are sampled between grid points (torchvision's names)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


# -- helpers: one (..., H, W) layout for arrays and tensors ------------------------------
def _unwrap(img: Any, op: str) -> tuple[Any, bool]:
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


def _wrap(arr: Any, was_tensor: bool) -> Any:
    """Undoes ``_unwrap``: a Tensor, or a NumPy image back in (H, W[, C]) layout."""
    xp = backend.xp_of(arr)
    if was_tensor:
        return Tensor._make(xp.ascontiguousarray(arr))
    if arr.ndim == 3:
        arr = np.moveaxis(arr, (-2, -1), (0, 1))
    return np.ascontiguousarray(arr)


def _image_size(img: Any, op: str) -> tuple[int, int]:
    """(height, width) of an image of either kind."""
    arr, _ = _unwrap(img, op)
    return int(arr.shape[-2]), int(arr.shape[-1])


def _fill_value(fill: Any, arr: Any, op: str) -> Any:
    """``fill`` as an xp array that broadcasts against ``arr`` (..., C, H, W)."""
    xp = backend.xp_of(arr)
    if fill is None:
        fill = 0
    if isinstance(fill, numbers.Number):
        return xp.asarray(fill).astype(arr.dtype)
    values = np.asarray(list(fill), dtype=np.float64)
    channels = arr.shape[-3] if arr.ndim >= 3 else 1
    if values.size not in (1, channels):
        raise ValueError(f"{op}: fill has {values.size} values but the image has {channels} "
                         f"channels; give one value or one per channel")
    return xp.asarray(values.reshape(-1, 1, 1) if values.size > 1 else values[0]).astype(arr.dtype)


def _setup_size(size: Any, op: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{op}: size must be an int or a sequence (h, w), got {size!r}")


def _randint(low: int, high: int) -> int:
    """One integer in [low, high) from ember's default generator."""
    return int(ember.randint(low, high, (1,)).item())


def _uniform(low: float, high: float) -> float:
    """One float in [low, high) from ember's default generator."""
    return low + (high - low) * float(ember.rand(1, dtype=ember.float64).item())


# -- composition and conversion ----------------------------------------------------------
class Compose:
    """Chains transforms: ``Compose([a, b])(x) == b(a(x))``.

    Args:
        transforms: the transforms to apply, in order.
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor:
    """Converts a NumPy image (H, W) or (H, W, C) to a tensor (C, H, W).

    uint8 images are scaled to float32 (the default dtype) in [0, 1]; other dtypes keep their
    values and dtype, as torchvision's ToTensor does.

    Example::

        >>> ToTensor()(np.full((28, 28), 255, np.uint8)).shape   # (1, 28, 28), all 1.0
    """

    def __call__(self, pic: np.ndarray) -> Tensor:
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """Normalizes each channel of a float tensor: ``(x - mean[c]) / std[c]``.

    Args:
        mean: per-channel means (a sequence, or one number for all channels).
        std: per-channel standard deviations.
        inplace: overwrite the input tensor instead of returning a new one.

    Shape: (..., C, H, W) -> the same.

    Example::

        >>> Normalize((0.1307,), (0.3081,))(ToTensor()(img))
    """

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float,
                 inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: img should be an ember Tensor, got "
                            f"{type(tensor).__name__}; apply ToTensor first")
        if not tensor.is_floating_point():
            raise TypeError(f"Normalize: input tensor should be a float tensor, got "
                            f"{tensor.dtype}; apply ToTensor or .float() first")
        if tensor.ndim < 3:
            raise ValueError(f"Normalize: expected a tensor image of size (..., C, H, W), "
                             f"got tensor.size() = {tuple(tensor.shape)}")
        mean = self._per_channel(self.mean, tensor, "mean")
        std = self._per_channel(self.std, tensor, "std")
        if (std == 0).any():
            raise ValueError(f"Normalize: std evaluated to zero after conversion to "
                             f"{tensor.dtype}, leading to division by zero (std={self.std})")
        mean_t = Tensor._make(backend.to_device(mean, tensor.device))
        std_t = Tensor._make(backend.to_device(std, tensor.device))
        if self.inplace:
            return tensor.sub_(mean_t).div_(std_t)
        return (tensor - mean_t) / std_t

    @staticmethod
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda:
    """Applies a user function as a transform.

    Args:
        lambd: the function, called with the image.
    """

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got "
                            f"{type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# -- geometry ----------------------------------------------------------------------------
def _parse_padding(padding: Any) -> tuple[int, int, int, int]:
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number):
        pads = (padding,) * 4
    elif isinstance(padding, Sequence) and len(padding) == 1:
        pads = (padding[0],) * 4
    elif isinstance(padding, Sequence) and len(padding) == 2:
        pads = (padding[0], padding[1], padding[0], padding[1])
    elif isinstance(padding, Sequence) and len(padding) == 4:
        pads = tuple(padding)
    else:
        raise ValueError(f"RandomCrop: padding must be an int or a sequence of 1, 2 or 4 ints, "
                         f"got {padding!r}")
    if any(not isinstance(p, numbers.Integral) or p < 0 for p in pads):
        raise ValueError(f"RandomCrop: padding must be non-negative ints, got {padding!r}")
    return tuple(int(p) for p in pads)


def _pad(arr: Any, pads: tuple[int, int, int, int], fill: Any, mode: str) -> Any:
    """Pads the last two axes of ``arr`` by (left, top, right, bottom)."""
    left, top, right, bottom = pads
    xp = backend.xp_of(arr)
    h, w = arr.shape[-2:]
    if mode == "constant":
        out = xp.empty(arr.shape[:-2] + (h + top + bottom, w + left + right), arr.dtype)
        out[...] = _fill_value(fill, arr, "RandomCrop")
        out[..., top:top + h, left:left + w] = arr
        return out
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    return xp.pad(arr, widths, mode=mode)


def _crop_params(image_size: tuple[int, int], output_size: tuple[int, int]
                 ) -> tuple[int, int, int, int]:
    h, w = (int(v) for v in image_size)
    th, tw = output_size
    if h < th or w < tw:
        raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the "
                         f"input image size {(h, w)}; use padding or pad_if_needed=True")
    if (h, w) == (th, tw):
        return 0, 0, h, w
    return _randint(0, h - th + 1), _randint(0, w - tw + 1), th, tw


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
        self.size = _setup_size(size, "RandomCrop")
        if padding is not None:
            _parse_padding(padding)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode should be one of {_PADDING_MODES}, "
                             f"got {padding_mode!r}")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """Random (top, left, height, width) of a crop of ``output_size`` inside ``img``."""
        return _crop_params(_image_size(img, "RandomCrop"), output_size)

    def __call__(self, img: Any) -> Any:
        arr, was_tensor = _unwrap(img, "RandomCrop")
        if self.padding is not None:
            arr = _pad(arr, _parse_padding(self.padding), self.fill, self.padding_mode)
        th, tw = self.size
        h, w = arr.shape[-2:]
        if self.pad_if_needed and w < tw:
            arr = _pad(arr, (tw - w, 0, tw - w, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            arr = _pad(arr, (0, th - h, 0, th - h), self.fill, self.padding_mode)
        i, j, th, tw = _crop_params(arr.shape[-2:], self.size)
        return _wrap(arr[..., i:i + th, j:j + tw], was_tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Flips the image left-right with probability ``p``.

    Args:
        p: probability of the flip.
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        arr, was_tensor = _unwrap(img, "RandomHorizontalFlip")
        if float(ember.rand(1).item()) < self.p:
            return _wrap(arr[..., ::-1], was_tensor)
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


def _range(value: Any, name: str, count: int = 2) -> list[float]:
    """A number x as [-x, x] (x >= 0), or a sequence of ``count`` numbers as a list."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"RandomAffine: if {name} is a single number, it must be "
                             f"non-negative, got {value}")
        return [-float(value), float(value)]
    if isinstance(value, Sequence) and len(value) in (2, count):
        return [float(v) for v in value]
    lengths = "2" if count == 2 else f"2 or {count}"
    raise ValueError(f"RandomAffine: {name} should be a number or a sequence of {lengths} "
                     f"numbers, got {value!r}")


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


def _warp(arr: Any, matrix: np.ndarray, interpolation: InterpolationMode, fill: Any) -> Any:
    """Samples ``arr`` (..., H, W) at ``matrix`` @ (x, y, 1) of every output pixel.

    Coordinates are centred on the image (x = col - (W-1)/2), as torchvision's tensor affine;
    points outside the image take ``fill``.
    """
    xp = backend.xp_of(arr)
    h, w = arr.shape[-2:]
    ys, xs = xp.meshgrid(xp.arange(h) - (h - 1) / 2, xp.arange(w) - (w - 1) / 2, indexing="ij")
    m = [float(v) for v in matrix.ravel()]
    src_x = m[0] * xs + m[1] * ys + m[2] + (w - 1) / 2
    src_y = m[3] * xs + m[4] * ys + m[5] + (h - 1) / 2
    fill_arr = _fill_value(fill, arr, "RandomAffine")
    if interpolation == InterpolationMode.NEAREST:
        vals, inside = _gather(arr, xp.rint(src_y).astype(np.int64),
                               xp.rint(src_x).astype(np.int64))
        return xp.where(inside, vals, fill_arr)
    work = np.result_type(arr.dtype, np.float32)
    x0, y0 = xp.floor(src_x), xp.floor(src_y)
    fx, fy = (src_x - x0).astype(work), (src_y - y0).astype(work)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    acc = xp.zeros(arr.shape, dtype=work)
    covered = xp.zeros((h, w), dtype=work)
    # Four corner taps, each vectorised over the whole image.
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            vals, inside = _gather(arr, y0 + dy, x0 + dx)
            weight = xp.where(inside, wy * wx, 0).astype(work)
            acc += weight * vals
            covered += weight
    out = acc + (1 - covered) * fill_arr.astype(work)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        out = xp.rint(out).clip(info.min, info.max)
    return out.astype(arr.dtype)


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
        fill: value of pixels that come from outside the image (a number or one per channel).
        center: (x, y) rotation centre in pixels; None for the image centre.

    Example::

        >>> RandomAffine(degrees=10, translate=(0.1, 0.1))(img)
    """

    def __init__(self, degrees: float | Sequence[float],
                 translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None,
                 shear: float | Sequence[float] | None = None,
                 interpolation: InterpolationMode | str = InterpolationMode.NEAREST,
                 fill: Any = 0, center: Sequence[float] | None = None) -> None:
        self.degrees = _range(degrees, "degrees")
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
        self.shear = _range(shear, "shear", count=4) if shear is not None else None
        try:
            self.interpolation = InterpolationMode(interpolation)
        except ValueError:
            raise ValueError(f"RandomAffine: interpolation should be 'nearest' or 'bilinear', "
                             f"got {interpolation!r}") from None
        self.fill = fill
        if center is not None and len(center) != 2:
            raise ValueError(f"RandomAffine: center should be (x, y), got {center!r}")
        self.center = center

    @staticmethod
    def get_params(degrees: Sequence[float], translate: Sequence[float] | None,
                   scale_ranges: Sequence[float] | None, shears: Sequence[float] | None,
                   img_size: Sequence[int]) -> tuple[float, tuple[int, int], float,
                                                     tuple[float, float]]:
        """Draws (angle, (tx, ty), scale, (shear_x, shear_y)); ``img_size`` is (W, H)."""
        angle = _uniform(degrees[0], degrees[1])
        tx = ty = 0
        if translate is not None:
            max_dx, max_dy = translate[0] * img_size[0], translate[1] * img_size[1]
            tx = int(round(_uniform(-max_dx, max_dx)))
            ty = int(round(_uniform(-max_dy, max_dy)))
        scale = _uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                shear_y = _uniform(shears[2], shears[3])
        return angle, (tx, ty), scale, (shear_x, shear_y)

    def __call__(self, img: Any) -> Any:
        arr, was_tensor = _unwrap(img, "RandomAffine")
        h, w = arr.shape[-2:]
        angle, translate, scale, shear = self.get_params(
            self.degrees, self.translate, self.scale, self.shear, (w, h))
        return _affine(arr, was_tensor, angle, translate, scale, shear,
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


def _affine(arr: Any, was_tensor: bool, angle: float, translate: tuple[float, float],
            scale: float, shear: tuple[float, float], interpolation: InterpolationMode,
            fill: Any, center: Sequence[float] | None) -> Any:
    """Applies one affine transform with fixed parameters to an unwrapped image."""
    h, w = arr.shape[-2:]
    # torchvision takes the centre in pixels from the top-left corner; we work centred.
    c = (0.0, 0.0) if center is None else (center[0] - w * 0.5, center[1] - h * 0.5)
    matrix = _inverse_affine(c, angle, translate, scale, shear)
    return _wrap(_warp(arr, matrix, interpolation, fill), was_tensor)
