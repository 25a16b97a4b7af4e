"""The CPU backend: NumPy arrays, strided views and scatter-add (its RNG is ember.random's)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from ..device import CPU
from . import special


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
        """erf elementwise: SciPy's when installed (faster), else ember's own kernel."""
        try:
            from scipy.special import erf as scipy_erf
        except ImportError:
            return special.erf(x)
        return scipy_erf(x).astype(x.dtype, copy=False)

    # the special functions NumPy lacks, in ember's own kernels (backend.special)
    erfc = staticmethod(special.erfc)
    erfinv = staticmethod(special.erfinv)
    lgamma = staticmethod(special.lgamma)
    digamma = staticmethod(special.digamma)
    polygamma = staticmethod(special.polygamma)  # (n, x)
    i0 = staticmethod(special.i0)
    i0e = staticmethod(special.i0e)
    i1 = staticmethod(special.i1)
    i1e = staticmethod(special.i1e)
    igamma = staticmethod(special.igamma)  # (a, x)
    igammac = staticmethod(special.igammac)
