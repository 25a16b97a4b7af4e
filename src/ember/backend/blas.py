"""Control of NumPy's BLAS thread count, where the BLAS allows it (OpenBLAS).

ember's convolution runs several single-threaded GEMMs side by side in its own threads
(ops/conv.py says why). OpenBLAS' thread count is process-wide, so ``single_threaded`` sets
it to 1 for the span of such a block and restores it after the last block in flight ends.
The library is found among the loaded ones through /proc/self/maps; elsewhere (another BLAS,
another OS) ``available`` is False and nothing changes.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import threading

# OpenBLAS' own names, then those of the build NumPy's wheels ship (scipy-openblas, ILP64)
_NAMES = [("openblas_get_num_threads", "openblas_set_num_threads"),
          ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads")]


@functools.lru_cache(maxsize=None)
def _controls():
    """(get, set) thread-count functions of the loaded OpenBLAS, or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _NAMES:
            get, set_ = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and set_ is not None:
                get.argtypes, get.restype = [], ctypes.c_int
                set_.argtypes, set_.restype = [ctypes.c_int], None
                return get, set_
    return None


def available() -> bool:
    """Whether BLAS's thread count can be controlled here."""
    return _controls() is not None


_lock = threading.Lock()
_depth = 0
_saved = None


@contextlib.contextmanager
def single_threaded():
    """Inside the block, each BLAS call runs on the thread that makes it."""
    global _depth, _saved
    controls = _controls()
    if controls is None:
        yield
        return
    get, set_ = controls
    with _lock:
        if _depth == 0:
            _saved = get()
            set_(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                set_(_saved)
