"""torchvision's datasets: MNIST and Fashion-MNIST (read here from the standard IDX files),
CIFAR10 / CIFAR100 (``cifar``, the binary versions) and ImageFolder / DatasetFolder
(``folder``).

Differences from torchvision, on purpose:

- ember has no PIL dependency, so a sample's image is a ``uint8`` NumPy array of shape
  (28, 28) where torchvision gives a PIL image. ``transforms.ToTensor`` turns it into a float32
  1x28x28 tensor in [0, 1], exactly as torchvision's does with the PIL image.
- ``root=None`` (MNIST only) loads the 5,000-digit sample bundled with ember (4,000 train /
  1,000 test, 400 / 100 per class), so examples and tests run offline.
- The IDX files are read where they are: ``root/MNIST/raw/`` (torchvision's layout) or flat in
  ``root``, gzipped or not. There is no ``processed/`` folder.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..tensor import Tensor
from ._dataset import VisionDataset
from .cifar import CIFAR10, CIFAR100
from .folder import DatasetFolder, ImageFolder

__all__ = [
    "VisionDataset", "MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "DatasetFolder",
    "ImageFolder", "read_image_file", "read_label_file",
]

_SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "mnist-sample"
_DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 16

# IDX type codes (the third header byte) and what they hold; multi-byte types are big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


# -- IDX reading -------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (by name or by magic number)."""
    raw = path.read_bytes()
    if path.suffix != ".gz" and not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise RuntimeError(
            f"{path}: corrupt gzip data ({e}); delete the file and download it again"
        ) from None


def _read_idx(path: Path, ndim: int, what: str) -> np.ndarray:
    """Parses one IDX file of unsigned bytes with ``ndim`` dimensions."""
    data = _read_bytes(path)
    if len(data) < 4:
        raise RuntimeError(f"{path}: {len(data)} bytes is too short for an IDX header (4 bytes)")
    if data[0] != 0 or data[1] != 0:
        magic = int.from_bytes(data[:4], "big")
        raise RuntimeError(
            f"{path}: bad magic number 0x{magic:08X}; an IDX {what} file starts with "
            f"0x{0x0800 + ndim:08X}. Is this an MNIST {what} file?"
        )
    code, got_ndim = data[2], data[3]
    if code != 0x08:
        kind = _IDX_DTYPES.get(code)
        name = f"{kind.name}" if kind is not None else "unknown"
        raise RuntimeError(
            f"{path}: wrong IDX dtype code 0x{code:02X} ({name}); MNIST {what} are unsigned "
            f"bytes (0x08)"
        )
    if got_ndim != ndim:
        raise RuntimeError(
            f"{path}: IDX file has {got_ndim} dimensions, expected {ndim} for {what}; "
            f"are the images and labels files swapped?"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RuntimeError(f"{path}: truncated IDX header ({len(data)} of {header} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    need = int(np.prod(dims, dtype=np.int64))
    have = len(data) - header
    if have != need:
        raise RuntimeError(
            f"{path}: dims {dims} need {need} bytes of data, the file has {have}; "
            f"it is truncated or corrupt, delete it and download it again"
        )
    # frombuffer over bytes is read-only; copy so .data is an ordinary writable tensor.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_image_file(path: str | os.PathLike) -> Tensor:
    """Reads an IDX images file (gzipped or not) into a uint8 tensor of shape (N, H, W)."""
    return Tensor._make(_read_idx(Path(path), 3, "images"))


def read_label_file(path: str | os.PathLike) -> Tensor:
    """Reads an IDX labels file (gzipped or not) into an int64 tensor of shape (N,)."""
    return Tensor._make(_read_idx(Path(path), 1, "labels").astype(np.int64))


# -- downloading -------------------------------------------------------------------------
class _Progress:
    """A byte-count progress bar: tqdm when it is installed, else one stderr line."""

    def __init__(self, total: int | None, desc: str):
        self.total, self.desc, self.done = total, desc, 0
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False)

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        pct = f" ({100 * self.done // self.total}%)" if self.total else ""
        sys.stderr.write(f"\rDownloading {self.desc}: {self.done} bytes{pct}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\n")


def _fetch(url: str, dest: Path, md5: str) -> str | None:
    """Downloads ``url`` to ``dest`` if its MD5 matches; returns why it failed, or None."""
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        # Looked up on the module at call time so tests can monkeypatch it.
        with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp:
            headers = getattr(resp, "headers", None)
            length = headers.get("Content-Length") if headers is not None else None
            bar = _Progress(int(length) if length else None, dest.name)
            try:
                with part.open("wb") as f:
                    while chunk := resp.read(_CHUNK):
                        digest.update(chunk)
                        f.write(chunk)
                        bar.update(len(chunk))
            finally:
                bar.close()
    except (OSError, http.client.HTTPException, ValueError) as e:
        part.unlink(missing_ok=True)
        return f"{type(e).__name__}: {e}"
    if digest.hexdigest() != md5:
        part.unlink(missing_ok=True)
        return f"MD5 mismatch: got {digest.hexdigest()}, expected {md5}"
    part.replace(dest)
    return None


def _download(name: str, mirrors: list[str], filename: str, md5: str, raw: Path) -> None:
    """Fetches ``filename`` from the first mirror that serves it with the right MD5."""
    raw.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = f"{mirror}{filename}"
        why = _fetch(url, raw / filename, md5)
        if why is None:
            return
        failures.append(f"  {url}: {why}")
    tried = "\n".join(failures)
    raise RuntimeError(
        f"{name}: could not download {filename}; tried:\n{tried}\n"
        f"Check the network connection, or put the IDX files in {raw} yourself."
    )


# -- datasets ----------------------------------------------------------------------------
class MNIST(VisionDataset):
    """The MNIST handwritten digits (torchvision.datasets.MNIST).

    Args:
        root: directory holding the IDX files, in torchvision's layout (``root/MNIST/raw/``)
            or flat in ``root``, gzipped or not. ``None`` loads the 5,000-digit sample bundled
            with ember (4,000 train / 1,000 test images).
        train: the training split (``train-*``) if True, else the test split (``t10k-*``).
        transform: applied to each image, a uint8 NumPy array of shape (28, 28) (torchvision
            gives a PIL image here; ember has no PIL dependency).
        target_transform: applied to each target, a Python int.
        download: fetch the four gzipped files into ``root/MNIST/raw/`` (checked by MD5) when
            they are not there yet.

    Attributes:
        data: uint8 tensor (N, 28, 28). targets: int64 tensor (N,). classes: class names.

    Example::

        >>> from ember.vision import datasets, transforms
        >>> ds = datasets.MNIST(train=True, transform=transforms.ToTensor())
        >>> img, target = ds[0]          # float32 tensor (1, 28, 28), int
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]
    _bundled_sample: Path | None = _SAMPLE_DIR

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        self.root = self._resolve_root(root, download)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        images, labels = self._find_files()
        self.data = read_image_file(images)
        self.targets = read_label_file(labels)
        self._check_consistent(images, labels)

    def _resolve_root(self, root, download: bool) -> str:
        name = type(self).__name__
        if root is not None:
            return os.path.expanduser(os.fspath(root))
        if download:
            raise ValueError(f"{name}: download=True needs a root directory to download into")
        if self._bundled_sample is None:
            raise ValueError(f"{name}: root=None, but ember bundles no {name} sample; "
                             f"pass the directory holding the IDX files (or download=True)")
        return str(self._bundled_sample)

    @property
    def raw_folder(self) -> str:
        """Where torchvision keeps the raw files: ``root/<ClassName>/raw``."""
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def _split_files(self) -> tuple[str, str]:
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def _locate(self, stem: str) -> Path | None:
        for folder in (Path(self.raw_folder), Path(self.root)):
            for name in (stem, f"{stem}.gz"):
                if (folder / name).is_file():
                    return folder / name
        return None

    def _find_files(self) -> tuple[Path, Path]:
        found = [self._locate(stem) for stem in self._split_files()]
        missing = [stem for stem, path in zip(self._split_files(), found) if path is None]
        if missing:
            raise RuntimeError(
                f"Dataset not found. {type(self).__name__}: no {' or '.join(missing)}[.gz] in "
                f"{self.raw_folder} or {self.root}. You can use download=True to download it"
            )
        return found[0], found[1]

    def _check_consistent(self, images: Path, labels: Path) -> None:
        n_img, n_lab = self.data.shape[0], self.targets.shape[0]
        if n_img != n_lab:
            raise RuntimeError(
                f"{type(self).__name__}: {labels} has {n_lab} labels but {images} has "
                f"{n_img} images; one of the files is wrong or corrupt"
            )
        labels_np = self.targets._data
        if labels_np.size and (labels_np.min() < 0 or labels_np.max() >= len(self.classes)):
            raise RuntimeError(
                f"{type(self).__name__}: {labels} holds label {int(labels_np.max())}, but there "
                f"are only {len(self.classes)} classes; the file is corrupt"
            )

    def _check_exists(self) -> bool:
        return all(self._locate(stem) is not None for stem in self._split_files())

    def download(self) -> None:
        """Downloads the four gzipped IDX files into ``raw_folder`` unless they are there."""
        raw = Path(self.raw_folder)
        for filename, md5 in self.resources:
            stem = filename.removesuffix(".gz")
            if (raw / filename).is_file() or (raw / stem).is_file():
                continue
            _download(type(self).__name__, self.mirrors, filename, md5, raw)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """The image (uint8 array (28, 28), then ``transform``) and its class index."""
        # A copy, so an in-place transform can never write into the dataset.
        img = np.array(_host_item(self.data, index), copy=True)
        target = int(_host_item(self.targets, index))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (torchvision.datasets.FashionMNIST); the same API as MNIST.

    ember bundles no Fashion-MNIST sample, so ``root`` is required. Files live in
    ``root/FashionMNIST/raw/`` or flat in ``root``.
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    _bundled_sample = None


def _host_item(x, index: int) -> np.ndarray:
    """``x[index]`` as a NumPy array, for a Tensor on any device or anything array-like."""
    if not isinstance(x, Tensor):
        return np.asarray(x)[index]
    if x.device.type == "cpu":
        return x.numpy()[index]
    return x[index].cpu().numpy()
