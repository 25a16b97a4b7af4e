"""VisionDataset: what torchvision's image datasets share (root, transforms, repr)."""
from __future__ import annotations

import os
from typing import Callable

from ..utils.data import Dataset


class VisionDataset(Dataset):
    """A dataset under ``root`` whose samples go through ``transform`` and whose targets go
    through ``target_transform`` (torchvision.datasets.VisionDataset)."""

    def __init__(self, root: str | os.PathLike | None = None,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += self.extra_repr().splitlines()
        for label, t in (("Transform", self.transform),
                         ("Target transform", self.target_transform)):
            if t is not None:
                body = repr(t).splitlines()
                lines.append(f"{label}: {body[0]}")
                lines += [" " * (len(label) + 2) + line for line in body[1:]]
        return "\n".join([f"Dataset {type(self).__name__}"] + ["    " + ln for ln in lines])
