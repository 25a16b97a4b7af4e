"""torchvision's names for what ember ships: datasets (MNIST, Fashion-MNIST, CIFAR10/100,
ImageFolder), transforms (and transforms.functional) and io (PNG / PNM reading, PNG writing).

Images are NumPy arrays (H, W[, C]) where torchvision uses PIL images, or ember tensors
(..., C, H, W); see ``datasets`` and ``transforms``.

Example::

    >>> from ember.vision import datasets, transforms
    >>> train = datasets.MNIST(train=True, transform=transforms.ToTensor())   # bundled sample
"""
from . import datasets, io, transforms

__all__ = ["datasets", "io", "transforms"]
