"""Photometric transforms: ColorJitter, Grayscale, RandomGrayscale, GaussianBlur and
RandomErasing."""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import ember

from ...tensor import Tensor
from . import functional as F
from ._image import coin, randint, setup_size, uniform


def _jitter_range(value: Any, name: str, center: float = 1.0,
                  bound: tuple[float, float] = (0.0, float("inf")),
                  clip_first_on_zero: bool = True) -> tuple[float, float] | None:
    """torchvision's factor range: x -> [center - x, center + x]; None when it is a no-op."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"ColorJitter: if {name} is a single number, it must be non "
                             f"negative, got {value}")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"ColorJitter: {name} should be a single number or a list/tuple with "
                        f"length 2, got {value!r}")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"ColorJitter: {name} values should be between {bound}, but got "
                         f"{value}")
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter:
    """Randomly changes brightness, contrast, saturation and hue, in a random order.

    Args:
        brightness: a number b for a factor in [max(0, 1 - b), 1 + b], or (min, max).
        contrast: the same, for the contrast factor.
        saturation: the same, for the saturation factor.
        hue: a number h in [0, 0.5] for a shift in [-h, h], or (min, max) in [-0.5, 0.5].

    Example::

        >>> ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)(img)
    """

    def __init__(self, brightness: Any = 0, contrast: Any = 0, saturation: Any = 0,
                 hue: Any = 0) -> None:
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0.0, bound=(-0.5, 0.5),
                                 clip_first_on_zero=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order of the four adjustments, brightness, contrast, saturation, hue factors);
        a factor is None where its range is."""
        fn_idx = ember.randperm(4)
        factors = [None if r is None else uniform(r[0], r[1])
                   for r in (brightness, contrast, saturation, hue)]
        return (fn_idx, *factors)

    def __call__(self, img: Any) -> Any:
        fn_idx, *factors = self.get_params(self.brightness, self.contrast, self.saturation,
                                           self.hue)
        adjust = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for i in fn_idx.tolist():
            if factors[i] is not None:
                img = adjust[i](img, factors[i])
        return img

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(brightness={self.brightness}, "
                f"contrast={self.contrast}, saturation={self.saturation}, hue={self.hue})")


class Grayscale:
    """Converts RGB to grayscale with ``num_output_channels`` (1 or 3) equal channels."""

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def __call__(self, img: Any) -> Any:
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_output_channels={self.num_output_channels})"


class RandomGrayscale:
    """Converts to grayscale with probability ``p``, keeping the number of channels."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        channels = F.get_image_num_channels(img)
        return F.rgb_to_grayscale(img, channels) if coin(self.p) else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class GaussianBlur:
    """Blurs with a Gaussian of random sigma, drawn uniformly from ``sigma``.

    Args:
        kernel_size: an odd positive int, or (kx, ky).
        sigma: a positive number (fixed), or (min, max) to draw from.

    Example::

        >>> GaussianBlur(kernel_size=23, sigma=(0.1, 2.0))(img)
    """

    def __init__(self, kernel_size: int | Sequence[int],
                 sigma: float | Sequence[float] = (0.1, 2.0)) -> None:
        self.kernel_size = setup_size(kernel_size, "GaussianBlur")
        if any(k <= 0 or k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"GaussianBlur: kernel size value should be an odd and positive "
                             f"number, got {kernel_size!r}")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError(f"GaussianBlur: if sigma is a single number, it must be "
                                 f"positive, got {sigma}")
            sigma = (sigma, sigma)
        elif isinstance(sigma, Sequence) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError(f"GaussianBlur: sigma values should be positive and of the "
                                 f"form (min, max), got {sigma!r}")
        else:
            raise ValueError(f"GaussianBlur: sigma should be a single number or a list/tuple "
                             f"with length 2, got {sigma!r}")
        self.sigma = sigma

    @staticmethod
    def get_params(sigma_min: float, sigma_max: float) -> float:
        return uniform(float(sigma_min), float(sigma_max))

    def __call__(self, img: Any) -> Any:
        sigma = self.get_params(self.sigma[0], self.sigma[1])
        return F.gaussian_blur(img, self.kernel_size, [sigma, sigma])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, sigma={self.sigma})"


class RandomErasing:
    """Erases a random rectangle of a tensor image with probability ``p`` (Zhong et al.).

    Args:
        p: probability of erasing.
        scale: (min, max) fraction of the image's area to erase.
        ratio: (min, max) aspect ratio (h / w) of the rectangle, drawn log-uniformly.
        value: the erased pixels' value: a number, one per channel, or "random" for
            standard normal noise.
        inplace: erase in the input tensor.

    Example::

        >>> RandomErasing(p=1.0, value="random")(ember.rand(3, 32, 32))
    """

    def __init__(self, p: float = 0.5, scale: Sequence[float] = (0.02, 0.33),
                 ratio: Sequence[float] = (0.3, 3.3), value: Any = 0,
                 inplace: bool = False) -> None:
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError(f"RandomErasing: value should be either a number or str or a "
                            f"sequence, got {type(value).__name__}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: if value is str, it should be 'random', "
                             f"got {value!r}")
        for name, rng in (("scale", scale), ("ratio", ratio)):
            if not isinstance(rng, Sequence):
                raise TypeError(f"RandomErasing: {name} should be a sequence, got {rng!r}")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("RandomErasing: scale and ratio should be of kind (min, max)",
                          stacklevel=2)
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError(f"RandomErasing: scale should be between 0 and 1, got {scale}")
        if p < 0 or p > 1:
            raise ValueError(f"RandomErasing: probability should be between 0 and 1, got {p}")
        self.p, self.scale, self.ratio = p, scale, ratio
        self.value, self.inplace = value, inplace

    @staticmethod
    def get_params(img: Tensor, scale: Sequence[float], ratio: Sequence[float],
                   value: list[float] | None = None) -> tuple[int, int, int, int, Any]:
        """(top, left, h, w, fill): ten tries at a rectangle that fits, else the whole
        image with itself as the fill (a no-op), as torchvision."""
        c, img_h, img_w = img.shape[-3], img.shape[-2], img.shape[-1]
        area = img_h * img_w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            erase_area = area * uniform(scale[0], scale[1])
            aspect_ratio = math.exp(uniform(*log_ratio))
            h = int(round(math.sqrt(erase_area * aspect_ratio)))
            w = int(round(math.sqrt(erase_area / aspect_ratio)))
            if not (h < img_h and w < img_w):
                continue
            if value is None:
                v = ember.randn(c, h, w, dtype=ember.float32).to(img.device)
            else:
                v = ember.tensor(value, dtype=ember.float32, device=img.device)[:, None, None]
            return randint(0, img_h - h + 1), randint(0, img_w - w + 1), h, w, v
        return 0, 0, img_h, img_w, img

    def __call__(self, img: Tensor) -> Tensor:
        if not isinstance(img, Tensor):
            raise TypeError(f"RandomErasing: img should be an ember Tensor (..., C, H, W), "
                            f"got {type(img).__name__}; apply ToTensor first")
        if not coin(self.p):
            return img
        value = self._value_list(img)
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        return F.erase(img, i, j, h, w, v, self.inplace)

    def _value_list(self, img: Tensor) -> list[float] | None:
        if isinstance(self.value, str):
            return None
        value = ([float(self.value)] if isinstance(self.value, numbers.Number)
                 else [float(v) for v in self.value])
        if len(value) not in (1, img.shape[-3]):
            raise ValueError(f"RandomErasing: if value is a sequence, it should have either "
                             f"a single value or {img.shape[-3]} (number of input channels), "
                             f"got {len(value)}")
        return value

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, inplace={self.inplace})")
