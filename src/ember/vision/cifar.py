"""torchvision's CIFAR10 and CIFAR100, read from the official *binary* versions.

The binary versions (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz from
https://www.cs.toronto.edu/~kriz/cifar.html) hold fixed-size records: label byte(s), then
3072 bytes of the 32x32 image as three planes, R, G and B. Reading them needs no pickle.
ember does not download: extract the archive into ``root`` yourself.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._dataset import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]

_PIXELS = 3 * 32 * 32


class CIFAR10(VisionDataset):
    """CIFAR-10: 60,000 32x32 colour images of 10 classes (torchvision.datasets.CIFAR10).

    Args:
        root: the folder holding ``cifar-10-batches-bin/`` (or its files directly).
        train: the five training batches (50,000 images) if True, else ``test_batch.bin``.
        transform: applied to each image, a uint8 NumPy array (32, 32, 3) (torchvision gives
            a PIL image; ``transforms.ToTensor`` handles both alike).
        target_transform: applied to each target, a Python int.
        download: must be False; ember cannot download (see the error it raises).

    Attributes:
        data: uint8 NumPy array (N, 32, 32, 3). targets: list of ints. classes: names.

    Example::

        >>> ds = CIFAR10("data", train=True, transform=transforms.ToTensor())
        >>> img, target = ds[0]          # float32 tensor (3, 32, 32), int
    """

    base_folder = "cifar-10-batches-bin"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    meta_file = "batches.meta.txt"
    label_bytes = 1
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck"]
    archive = "cifar-10-binary.tar.gz"

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            raise RuntimeError(
                f"{type(self).__name__}: ember does not download datasets. Download "
                f"{self.archive} from https://www.cs.toronto.edu/~kriz/cifar.html, extract "
                f"it into {self.root} (giving {self.base_folder}/) and pass download=False")
        folder = self._folder()
        labels, images = zip(*(self._read(folder / name)
                               for name in (self.train_list if train else self.test_list)))
        self.data = np.concatenate(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.data = np.ascontiguousarray(self.data)  # (N, 32, 32, 3), HWC as torchvision
        self._set_targets(np.concatenate(labels))
        self.classes = self._names(folder, self.meta_file, type(self).classes)

    def _folder(self) -> Path:
        names = self.train_list if self.train else self.test_list
        for folder in (Path(self.root) / self.base_folder, Path(self.root)):
            if all((folder / n).is_file() for n in names):
                return folder
        raise RuntimeError(
            f"Dataset not found. {type(self).__name__}: no {', '.join(names)} in "
            f"{Path(self.root) / self.base_folder} or {self.root}. Download {self.archive} "
            f"(the binary version) from https://www.cs.toronto.edu/~kriz/cifar.html and "
            f"extract it into {self.root}")

    def _read(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """(labels (N, label_bytes), images (N, 3072)) of one binary batch file."""
        raw = np.fromfile(path, dtype=np.uint8)
        record = self.label_bytes + _PIXELS
        if raw.size == 0 or raw.size % record:
            raise RuntimeError(
                f"{type(self).__name__}: {path} holds {raw.size} bytes, not a whole number of "
                f"{record}-byte records; is it the binary version, and complete?")
        rows = raw.reshape(-1, record)
        return rows[:, :self.label_bytes], rows[:, self.label_bytes:]

    def _set_targets(self, labels: np.ndarray) -> None:
        self.targets = self._checked(labels[:, 0], len(type(self).classes), "label")

    def _checked(self, labels: np.ndarray, count: int, what: str) -> list[int]:
        if labels.size and int(labels.max()) >= count:
            raise RuntimeError(f"{type(self).__name__}: {what} {int(labels.max())} is out of "
                               f"range for {count} classes; the files are corrupt")
        return labels.astype(np.int64).tolist()

    @staticmethod
    def _names(folder: Path, meta: str, default: list[str]) -> list[str]:
        """Class names from the archive's meta text file, else the standard ones."""
        path = folder / meta
        if not path.is_file():
            return list(default)
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        return names if len(names) == len(default) else list(default)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """The image (uint8 array (32, 32, 3), then ``transform``) and its class index."""
        img, target = self.data[index].copy(), self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


_CIFAR100_FINE = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus "
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach "
    "couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster "
    "house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree "
    "motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear "
    "pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket "
    "rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar "
    "sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip "
    "turtle wardrobe whale willow_tree wolf woman worm").split()
_CIFAR100_COARSE = (
    "aquatic_mammals fish flowers food_containers fruit_and_vegetables "
    "household_electrical_devices household_furniture insects large_carnivores "
    "large_man-made_outdoor_things large_natural_outdoor_scenes "
    "large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles "
    "small_mammals trees vehicles_1 vehicles_2").split()


class CIFAR100(CIFAR10):
    """CIFAR-100: 60,000 32x32 images of 100 classes in 20 superclasses (the same API as
    CIFAR10; ``root`` holds ``cifar-100-binary/`` with train.bin and test.bin).

    ``targets`` are the fine labels, as torchvision's. ember adds ``coarse_targets`` and
    ``coarse_classes``, which the binary files carry too.
    """

    base_folder = "cifar-100-binary"
    train_list = ["train.bin"]
    test_list = ["test.bin"]
    meta_file = "fine_label_names.txt"
    label_bytes = 2  # coarse, then fine
    classes = _CIFAR100_FINE
    archive = "cifar-100-binary.tar.gz"

    def _set_targets(self, labels: np.ndarray) -> None:
        self.coarse_targets = self._checked(labels[:, 0], len(_CIFAR100_COARSE),
                                            "coarse label")
        self.targets = self._checked(labels[:, 1], len(_CIFAR100_FINE), "fine label")
        self.coarse_classes = self._names(self._folder(), "coarse_label_names.txt",
                                          _CIFAR100_COARSE)
