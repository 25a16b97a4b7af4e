"""Padding layers: Zero, Constant, Reflection, Replication and Circular, 1-D to 3-D."""
from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d", "ZeroPad3d", "ConstantPad3d", "ReflectionPad3d", "ReplicationPad3d",
           "CircularPad3d"]


class _PadNd(Module):
    """F.pad with a fixed ``padding``: an int (every side) or (left, right[, top, bottom])."""

    _mode = "constant"
    _dims = 1

    def __init__(self, padding) -> None:
        super().__init__()
        sides = 2 * self._dims
        self.padding = (padding,) * sides if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != sides:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"{sides} ints, got {padding}")

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode,
                     getattr(self, "value", None) if self._mode == "constant" else None)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``."""


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with ``value``."""

    _dims = 2


class ZeroPad1d(_PadNd):
    """Pads the last dim with zeros."""

    def __init__(self, padding) -> None:
        super().__init__(padding)
        self.value = 0.0


class ZeroPad2d(ZeroPad1d):
    """Pads the last two dims with zeros."""

    _dims = 2


class ReflectionPad1d(_PadNd):
    """Pads the last dim with its reflection (the edge not repeated)."""

    _mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    _dims = 2


class ReplicationPad1d(_PadNd):
    """Pads the last dim by repeating its edge values."""

    _mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    _dims = 2


class CircularPad1d(_PadNd):
    """Pads the last dim by wrapping around."""

    _mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"expected {self._dims + 1}D or {self._dims + 2}D input (got "
                             f"{input.dim()}D input)")
        return super().forward(input)


class CircularPad2d(CircularPad1d):
    _dims = 2


class ZeroPad3d(ZeroPad1d):
    """Pads the last three dims with zeros: (left, right, top, bottom, front, back)."""

    _dims = 3


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims with ``value``."""

    _dims = 3


class ReflectionPad3d(ReflectionPad1d):
    """Pads the last three dims with their reflection."""

    _dims = 3


class ReplicationPad3d(ReplicationPad1d):
    """Pads the last three dims by repeating their edge values."""

    _dims = 3


class CircularPad3d(CircularPad1d):
    """Pads the last three dims by wrapping around (4-D or 5-D input)."""

    _dims = 3
