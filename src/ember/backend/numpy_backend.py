"""The CPU backend: NumPy arrays, strided views and scatter-add (its RNG is ember.random's)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from ..device import CPU


class NumpyBackend:
    xp = np
    array_type = np.ndarray
    name = "cpu"

    def device_of(self, array):
        return CPU

    def to_numpy(self, array) -> np.ndarray:
        return array

    def from_numpy(self, array, index=None) -> np.ndarray:
        return np.asarray(array)

    @staticmethod
    def as_strided(array, shape, strides):
        return as_strided(array, shape, strides, writeable=False)

    sliding_window_view = staticmethod(sliding_window_view)

    @staticmethod
    def scatter_add(target, index, values) -> None:
        """target[index] += values, accumulating repeated indices."""
        np.add.at(target, index, values)

    def synchronize(self, index=None) -> None:
        pass
