"""Composition (Compose, Lambda, RandomApply, RandomChoice, RandomOrder) and conversion
(ToTensor, Normalize, ConvertImageDtype) transforms."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

import ember

from ... import dtypes
from ...tensor import Tensor
from . import functional as F
from ._image import coin


class Compose:
    """Chains transforms: ``Compose([a, b])(x) == b(a(x))``.

    Args:
        transforms: the transforms to apply, in order.

    Example::

        >>> Compose([CenterCrop(10), ToTensor()])
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


def _transform_list(transforms: Any, op: str) -> list:
    if not isinstance(transforms, Sequence):
        raise TypeError(f"{op}: argument transforms should be a sequence, got "
                        f"{type(transforms).__name__}")
    return list(transforms)


def _list_repr(name: str, transforms: list, head: str = "") -> str:
    body = "".join(f"\n    {t}" for t in transforms)
    return f"{name}({head}{body}\n)"


class RandomApply:
    """Applies all of ``transforms``, in order, with probability ``p`` (else none of them).

    Example::

        >>> RandomApply([ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8)
    """

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        self.transforms = _transform_list(transforms, "RandomApply")
        self.p = p

    def __call__(self, img: Any) -> Any:
        if not coin(self.p):
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        return _list_repr(type(self).__name__, self.transforms, f"\n    p={self.p}")


class RandomChoice:
    """Applies one of ``transforms``, picked with weights ``p`` (uniform when None)."""

    def __init__(self, transforms: Sequence[Callable], p: Sequence[float] | None = None
                 ) -> None:
        self.transforms = _transform_list(transforms, "RandomChoice")
        if p is not None and not isinstance(p, Sequence):
            raise TypeError(f"RandomChoice: argument p should be a sequence, got "
                            f"{type(p).__name__}")
        if p is not None and len(p) != len(self.transforms):
            raise ValueError(f"RandomChoice: p has {len(p)} weights for "
                             f"{len(self.transforms)} transforms")
        self.p = p

    def __call__(self, img: Any) -> Any:
        weights = np.ones(len(self.transforms)) if self.p is None else np.asarray(self.p, float)
        edges = np.cumsum(weights)
        pick = float(ember.rand(1, dtype=ember.float64).item()) * edges[-1]
        index = min(int(np.searchsorted(edges, pick, side="right")), len(edges) - 1)
        return self.transforms[index](img)

    def __repr__(self) -> str:
        return _list_repr(type(self).__name__, self.transforms) + f"(p={self.p})"


class RandomOrder:
    """Applies all of ``transforms`` in a random order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = _transform_list(transforms, "RandomOrder")

    def __call__(self, img: Any) -> Any:
        for i in ember.randperm(len(self.transforms)).tolist():
            img = self.transforms[i](img)
        return img

    def __repr__(self) -> str:
        return _list_repr(type(self).__name__, self.transforms)


class ToTensor:
    """Converts a NumPy image (H, W) or (H, W, C) to a tensor (C, H, W).

    uint8 images are scaled to float32 (the default dtype) in [0, 1]; other dtypes keep their
    values and dtype, as torchvision's ToTensor does.

    Example::

        >>> ToTensor()(np.full((28, 28), 255, np.uint8)).shape   # (1, 28, 28), all 1.0
    """

    def __call__(self, pic: np.ndarray) -> Tensor:
        return F.to_tensor(pic)

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
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class ConvertImageDtype:
    """Converts a tensor image to ``dtype``, rescaling values (see F.convert_image_dtype).

    Example::

        >>> ConvertImageDtype(ember.float32)(uint8_image)      # values / 255
    """

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, image: Tensor) -> Tensor:
        return F.convert_image_dtype(image, self.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dtype={self.dtype})"
