"""Per-thread control of NumPy's BLAS thread count, where the BLAS allows it.

OpenBLAS 0.3.27+ (what NumPy's wheels ship) exports ``openblas_set_num_threads_local``: the
calling thread's BLAS calls then use that many threads, and other threads keep theirs. It is
found in the loaded libraries through /proc/self/maps; elsewhere (another BLAS, another OS)
``limit_current_thread`` reports False and nothing changes.
"""
from __future__ import annotations

import ctypes
import functools


@functools.lru_cache(maxsize=None)
def _set_local():
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return None
    for path in paths:
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


def available() -> bool:
    """Whether the calling thread's BLAS thread count can be set."""
    return _set_local() is not None


def limit_current_thread(n: int) -> bool:
    """BLAS calls from this thread use n threads from now on; False where unsupported."""
    fn = _set_local()
    if fn is None:
        return False
    fn(n)
    return True
