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
    def as_strided(array, shape, strides, writeable: bool = False):
        return as_strided(array, shape, strides, writeable=writeable)

    sliding_window_view = staticmethod(sliding_window_view)

    @staticmethod
    def scatter_add(target, index, values) -> None:
        """target[index] += values, accumulating repeated indices."""
        np.add.at(target, index, values)

    def synchronize(self, index=None) -> None:
        pass

    @staticmethod
    def erf(x):
        """erf elementwise: SciPy's when installed, else a fit good to float32 accuracy."""
        try:
            from scipy.special import erf as scipy_erf
        except ImportError:
            return _erf_fit(x)
        return scipy_erf(x).astype(x.dtype, copy=False)


def _erf_fit(x):
    """Numerical Recipes' erfc Chebyshev fit: relative error below 1.2e-7 everywhere."""
    z = np.abs(x)
    t = 1 / (1 + 0.5 * z)
    poly = (-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277)))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1 - erfc, erfc - 1).astype(x.dtype, copy=False)
