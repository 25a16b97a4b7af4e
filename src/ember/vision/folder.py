"""torchvision's DatasetFolder and ImageFolder: one sub-folder per class.

    root/dog/xxx.png
    root/dog/xxy.ppm
    root/cat/123.png

Classes are the sub-folders' names, sorted; targets their indices. Files are found
recursively, sorted, and kept when their extension is allowed (or ``is_valid_file`` says so).
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ._dataset import VisionDataset
from .io import ImageReadMode, read_image

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader",
           "find_classes", "make_dataset", "has_file_allowed_extension"]

IMG_EXTENSIONS = (".png", ".ppm", ".pgm")


def default_loader(path: str) -> np.ndarray:
    """The image at ``path`` as RGB, a uint8 NumPy array (H, W, 3).

    ember's stand-in for torchvision's loader, which opens the file with PIL and converts it
    to RGB: ``transforms.ToTensor`` and the other transforms take this array as they take
    the PIL image. Pass ``loader=io.read_image`` for uint8 tensors (C, H, W) instead.
    """
    chw = read_image(path, ImageReadMode.RGB).numpy()
    if chw.dtype != np.uint8:  # 16-bit files: keep the high byte
        chw = (chw >> 8).astype(np.uint8)
    return np.ascontiguousarray(chw.transpose(1, 2, 0))


def has_file_allowed_extension(filename: str, extensions: str | tuple[str, ...]) -> bool:
    """Whether ``filename`` ends (case-insensitively) with one of ``extensions``."""
    return filename.lower().endswith(extensions if isinstance(extensions, str)
                                     else tuple(extensions))


def find_classes(directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """The sorted class folder names under ``directory`` and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int] | None = None,
                 extensions: str | tuple[str, ...] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """(path, class index) of every valid file under the class folders, sorted."""
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at "
                         "the same time")
    if is_valid_file is None:
        def is_valid_file(path: str) -> bool:
            return has_file_allowed_extension(path, extensions)
    samples, found = [], set()
    for name in sorted(class_to_idx):
        for root, _, names in sorted(os.walk(os.path.join(directory, name), followlinks=True)):
            for fname in sorted(names):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[name]))
                    found.add(name)
    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            allowed = extensions if isinstance(extensions, str) else ", ".join(extensions)
            msg += f"Supported extensions are: {allowed}"
        raise FileNotFoundError(msg)
    return samples


class DatasetFolder(VisionDataset):
    """Samples in class sub-folders of ``root``, loaded by ``loader``.

    Args:
        root: the folder holding one sub-folder per class.
        loader: turns a file path into a sample.
        extensions: the allowed file extensions (exclusive with ``is_valid_file``).
        transform: applied to each loaded sample.
        target_transform: applied to each target (the class index).
        is_valid_file: a predicate on the path choosing the files to keep.
        allow_empty: allow class folders without valid files.

    Attributes:
        classes: sorted class names. class_to_idx: name -> index. samples: (path, index)
        pairs. targets: the indices.
    """

    def __init__(self, root: str | os.PathLike, loader: Callable[[str], Any],
                 extensions: tuple[str, ...] | None = None,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, self.class_to_idx, extensions,
                                         is_valid_file, allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.targets = [target for _, target in self.samples]

    @staticmethod
    def make_dataset(directory: str, class_to_idx: dict[str, int],
                     extensions: tuple[str, ...] | None = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        return find_classes(directory)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self) -> int:
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """Images in class sub-folders of ``root`` (torchvision.datasets.ImageFolder).

    Files ending in .png, .ppm or .pgm are loaded by ``default_loader`` as RGB uint8 NumPy
    arrays (H, W, 3), ember's stand-in for the PIL images torchvision's loader gives;
    ``loader=io.read_image`` gives uint8 tensors (C, H, W) instead.

    Example::

        >>> ds = ImageFolder("data/train", transform=transforms.Compose([
        ...     transforms.RandomResizedCrop(224), transforms.ToTensor()]))
        >>> img, target = ds[0]           # float32 tensor (3, 224, 224), int
    """

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
