"""Padding layers: Zero, Constant, Reflection, Replication and Circular, 1-D and 2-D."""
from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d"]


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


class CircularPad2d(CircularPad1d):
    _dims = 2
