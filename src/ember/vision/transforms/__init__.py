"""torchvision.transforms for NumPy images and ember tensors.

An image is either a NumPy array of shape (H, W) or (H, W, C) (where torchvision takes a PIL
image; ``datasets.MNIST`` yields uint8 (28, 28) arrays) or an ember tensor of shape
(..., C, H, W) or (H, W), float or uint8, on any device. Each transform returns the same
kind it was given, except ``ToTensor`` (array -> tensor), and ``Normalize``,
``ConvertImageDtype`` and ``RandomErasing`` (tensors only), as in torchvision. Tensors are
computed as torchvision's tensor path computes them; NumPy images the same way (not with
Pillow's resampling).

Random transforms draw from ember's default generator, so ``ember.manual_seed(s)`` makes
them reproducible. They work on the tensor's data and record no autograd history; they are
data augmentation. ``functional`` holds the same operations with explicit parameters.

Example::

    >>> from ember.vision import transforms
    >>> train = transforms.Compose([
    ...     transforms.RandomResizedCrop(224),
    ...     transforms.RandomHorizontalFlip(),
    ...     transforms.ToTensor(),
    ...     transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ... ])
"""
from . import functional
from ._compose import (Compose, ConvertImageDtype, Lambda, Normalize, RandomApply,
                       RandomChoice, RandomOrder, ToTensor)
from ._geometry import (CenterCrop, FiveCrop, Pad, RandomAffine, RandomCrop,
                        RandomHorizontalFlip, RandomResizedCrop, RandomRotation,
                        RandomVerticalFlip, Resize, TenCrop)
from ._image import InterpolationMode
from ._photometric import (ColorJitter, GaussianBlur, Grayscale, RandomErasing,
                           RandomGrayscale)
from .functional import _affine, _inverse_affine  # noqa: F401  (kept for existing callers)

__all__ = [
    "Compose", "ToTensor", "Normalize", "ConvertImageDtype", "Lambda", "RandomApply",
    "RandomChoice", "RandomOrder", "Resize", "CenterCrop", "Pad", "RandomCrop",
    "RandomResizedCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
    "RandomAffine", "FiveCrop", "TenCrop", "ColorJitter", "Grayscale", "RandomGrayscale",
    "GaussianBlur", "RandomErasing", "InterpolationMode", "functional",
]
