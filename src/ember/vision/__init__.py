"""torchvision's names for what ember ships: the MNIST / Fashion-MNIST datasets and transforms.

Images are NumPy arrays (H, W[, C]) where torchvision uses PIL images; see ``datasets``.

Example::

    >>> from ember.vision import datasets, transforms
    >>> train = datasets.MNIST(train=True, transform=transforms.ToTensor())   # bundled sample
"""
from . import datasets, transforms

__all__ = ["datasets", "transforms"]
