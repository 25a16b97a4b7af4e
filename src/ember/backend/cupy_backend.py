"""The GPU backend: CuPy, imported only when a cuda device is first used.

``load_cuda_backend()`` is called once by ``ember.backend.cuda()``. With the environment
variable ``EMBER_FAKE_CUDA=N`` (tests only) it returns the NumPy-backed stand-in of
``fake_cuda`` with N devices instead, so the device plumbing is testable without a GPU.
"""
from __future__ import annotations

import collections
import contextlib
import inspect
import math
import os

import numpy as np

from ..device import device as Device
from . import philox

_INSTALL_HINT = ("Install it with `pip install cupy-cuda12x` (or `pip install ember[cuda]`; "
                 "cupy-cuda11x / cupy-cuda13x for other CUDA versions), or keep tensors on 'cpu'.")

# dtypes cupyx.scatter_add accumulates atomically; others go through float64
_SCATTER_DTYPES = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int32,
                                                   np.uint32, np.uint64))


def fake_device_count() -> int:
    """The number of fake cuda devices asked for by ``EMBER_FAKE_CUDA`` (0: use CuPy)."""
    value = os.environ.get("EMBER_FAKE_CUDA", "").strip()
    if value in ("", "0"):
        return 0
    if not value.isdigit():
        raise RuntimeError(f"cuda: EMBER_FAKE_CUDA must be a device count such as 1 or 2, "
                           f"got {value!r}")
    return int(value)


def load_cuda_backend():
    """The backend object for cuda devices, or RuntimeError saying what to install."""
    count = fake_device_count()
    if count:
        from .fake_cuda import FakeCudaBackend
        return FakeCudaBackend(count)
    try:
        import cupy
        import cupyx
    except (ImportError, OSError) as exc:
        raise RuntimeError(f"cuda: CuPy is not installed (or failed to import: {exc}), so "
                           f"ember cannot use a GPU. {_INSTALL_HINT}") from exc
    return CupyBackend(cupy, cupyx)


def _special(name: str, *args):
    """``cupyx.scipy.special.<name>(*args)`` in the dtype of the last argument."""
    from cupyx.scipy import special
    return getattr(special, name)(*args).astype(args[-1].dtype, copy=False)


def window_view(as_strided, array, window_shape, axis=None):
    """``sliding_window_view`` from shapes and strides alone (no device round trip).

    CuPy's own version checks ``window_shape`` with a device array, which synchronises.
    """
    window = tuple(window_shape) if np.iterable(window_shape) else (int(window_shape),)
    if axis is None:
        axis = tuple(range(array.ndim))
    axis = tuple(axis) if np.iterable(axis) else (axis,)
    if len(window) != len(axis):
        raise ValueError(f"sliding_window_view: window_shape {window} needs one entry per axis "
                         f"{axis}")
    shape = list(array.shape)
    for ax, size in zip(axis, window):
        ax = ax + array.ndim if ax < 0 else ax
        if size < 0 or shape[ax] < size:
            raise ValueError(f"sliding_window_view: window {size} does not fit axis {ax} of "
                             f"size {array.shape[ax]}")
        shape[ax] -= size - 1
    strides = tuple(array.strides) + tuple(array.strides[ax] for ax in axis)
    return as_strided(array, tuple(shape) + window, strides)


class CupyBackend:
    """CuPy arrays on NVIDIA GPUs: moves, strided views, scatter-add, memory, RNG."""

    name = "cuda"
    is_fake = False

    def __init__(self, cupy, cupyx):
        self.xp = cupy
        self.cupyx = cupyx
        self.array_type = cupy.ndarray
        self._runtime = cupy.cuda.runtime
        self._count = None
        self._kernels = {}  # (kind, dtype) -> cupy.ElementwiseKernel
        self._peak = None  # the allocation tracker, installed on first use of peak stats
        self._inflight = collections.deque()  # (event, host array) of asynchronous uploads
        try:
            self._has_blocking = "blocking" in inspect.signature(cupy.asarray).parameters
        except (TypeError, ValueError):
            self._has_blocking = False

    # -- devices ------------------------------------------------------------------------------
    def device_count(self) -> int:
        if self._count is None:
            try:
                self._count = self._runtime.getDeviceCount()
            except self._runtime.CUDARuntimeError:
                self._count = 0  # CuPy is installed but there is no driver or no GPU
        return self._count

    def check_index(self, index: int | None) -> int:
        count = self.device_count()
        if count == 0:
            raise RuntimeError("cuda: CuPy found no CUDA GPU (is the NVIDIA driver installed "
                               "and a GPU visible, e.g. CUDA_VISIBLE_DEVICES?)")
        index = self.current_device() if index is None else int(index)
        if not 0 <= index < count:
            raise RuntimeError(f"cuda: invalid device ordinal {index}: "
                               f"{count} GPU{'s are' if count != 1 else ' is'} visible")
        return index

    def current_device(self) -> int:
        return self._runtime.getDevice()

    def set_device(self, index: int) -> None:
        self.xp.cuda.Device(self.check_index(index)).use()

    def device_guard(self, index: int | None):
        """Makes GPU ``index`` current inside the block (CuPy runs kernels there)."""
        if index is None or index == self.current_device():
            return contextlib.nullcontext()
        return self.xp.cuda.Device(self.check_index(index))

    def device_name(self, index: int | None = None) -> str:
        name = self._runtime.getDeviceProperties(self.check_index(index))["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def synchronize(self, index: int | None = None) -> None:
        self.xp.cuda.Device(self.check_index(index)).synchronize()

    def device_of(self, array) -> Device:
        return Device("cuda", array.device.id)

    # -- moves --------------------------------------------------------------------------------
    def to_numpy(self, array) -> np.ndarray:
        return self.xp.asnumpy(array)

    def from_numpy(self, array, index: int | None = None, non_blocking: bool = False):
        """``array`` uploaded to GPU ``index``; ``non_blocking`` returns before the copy ends
        (asynchronous only from pinned memory, which is then kept alive until it has)."""
        with self.xp.cuda.Device(self.check_index(index)):
            if not self._has_blocking:  # old CuPy: asarray always blocks
                return self.xp.asarray(array)
            out = self.xp.asarray(array, blocking=not non_blocking)
            if non_blocking:
                self._keep_until_copied(array)
            return out

    def _keep_until_copied(self, array) -> None:
        # the caller may drop or reuse the host buffer at once; the DMA engine may not have
        # read it yet, so hold a reference until an event recorded after the copy completes
        while self._inflight and self._inflight[0][0].done:
            self._inflight.popleft()
        event = self.xp.cuda.Event(disable_timing=True)
        event.record()
        self._inflight.append((event, array))

    def to_index(self, array, index: int | None):
        index = self.check_index(index)
        if array.device.id == index:
            return array
        with self.xp.cuda.Device(index):
            return array.copy()  # CuPy copies onto the current device (peer copy)

    # -- kernels ------------------------------------------------------------------------------
    def as_strided(self, array, shape, strides, writeable: bool = True):
        # CuPy views are always writeable
        return self.xp.lib.stride_tricks.as_strided(array, tuple(shape), tuple(strides))

    def sliding_window_view(self, array, window_shape, axis=None):
        return window_view(self.as_strided, array, window_shape, axis)

    def scatter_add(self, target, index, values) -> None:
        """target[index] += values, accumulating repeated indices (atomic adds)."""
        if target.dtype in _SCATTER_DTYPES:
            self.cupyx.scatter_add(target, index, values)
            return
        wide = target.astype(np.float64)
        self.cupyx.scatter_add(wide, index, self.xp.asarray(values, dtype=np.float64))
        target[...] = wide.astype(target.dtype)

    def erf(self, array):
        """The error function, elementwise (NumPy has none; CuPy's lives in cupyx)."""
        from cupyx.scipy.special import erf
        return erf(array)

    # -- special functions: cupyx.scipy.special (Cephes, as PyTorch's), in the input's dtype
    def erfc(self, array):
        return _special("erfc", array)

    def erfinv(self, array):
        return _special("erfinv", array)

    def lgamma(self, array):
        out = _special("gammaln", array)  # SciPy's is -inf at -inf, PyTorch's inf
        return self.xp.where(self.xp.isneginf(array), self.xp.inf, out).astype(out.dtype)

    def digamma(self, array):
        return _special("digamma", array)

    def polygamma(self, n: int, array):
        if n == 0:
            return self.digamma(array)
        zeta = _special("zeta", float(n + 1), array)
        return zeta * ((-1) ** (n + 1) * math.factorial(n))

    def i0(self, array):
        return _special("i0", array)

    def i0e(self, array):
        return _special("i0e", array)

    def i1(self, array):
        return _special("i1", array)

    def i1e(self, array):
        return _special("i1e", array)

    def igamma(self, a, x):
        return _special("gammainc", a, x)

    def igammac(self, a, x):
        return _special("gammaincc", a, x)

    # -- random -------------------------------------------------------------------------------
    def random_philox(self, kind: str, shape: tuple, dtype, seed: int, offset: int,
                      index: int | None = None):
        """A fresh array of ``shape`` on GPU ``index``: Philox draws of ``kind`` from
        ``(seed, offset)``, computed by one kernel (see ``backend.philox``)."""
        kernel = self._philox_kernel(kind, np.dtype(dtype))
        with self.device_guard(self.check_index(index)):
            out = self.xp.empty(shape, dtype)
            if out.size:
                kernel(np.uint64(seed), np.uint64(offset), out)
        return out

    def _philox_kernel(self, kind: str, dtype: np.dtype):
        key = (kind, dtype)
        kernel = self._kernels.get(key)
        if kernel is None:  # compiled by CuPy on first launch, cached per device and on disk
            in_params, out_params, operation, name = philox.kernel_source(kind, dtype)
            kernel = self.xp.ElementwiseKernel(in_params, out_params, operation, name,
                                               preamble=philox.PREAMBLE)
            self._kernels[key] = kernel
        return kernel

    # -- memory -------------------------------------------------------------------------------
    def _pool_bytes(self, index: int | None, what: str) -> int:
        pool = self.xp.get_default_memory_pool()
        with self.xp.cuda.Device(self.check_index(index)):
            return getattr(pool, what)()

    def memory_allocated(self, index: int | None = None) -> int:
        return self._pool_bytes(index, "used_bytes")

    def memory_reserved(self, index: int | None = None) -> int:
        return self._pool_bytes(index, "total_bytes")

    def max_memory_allocated(self, index: int | None = None) -> int:
        index = self.check_index(index)
        return self._tracker().peak(index)

    def reset_peak_memory_stats(self, index: int | None = None) -> None:
        index = self.check_index(index)
        self._tracker().reset(index)

    def _tracker(self):
        if self._peak is None:
            self._peak = _make_peak_tracker(self)
        return self._peak

    def empty_cache(self) -> None:
        """Returns every cached block of the device pools and the pinned pool to the driver."""
        pool = self.xp.get_default_memory_pool()
        for index in range(self.device_count()):
            with self.xp.cuda.Device(index):
                pool.free_all_blocks()
        self.xp.get_default_pinned_memory_pool().free_all_blocks()

    def empty_pinned(self, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised host array in page-locked memory (from CuPy's pinned pool)."""
        return self.cupyx.empty_pinned(tuple(shape), np.dtype(dtype))

    def pin_memory(self, array: np.ndarray) -> np.ndarray:
        """A copy of host ``array`` in page-locked memory (a np.ndarray), for fast uploads."""
        out = self.empty_pinned(array.shape, array.dtype)
        out[...] = array
        return out

    def is_pinned(self, array) -> bool:
        if not isinstance(array, np.ndarray) or array.size == 0:
            return False
        try:
            attrs = self._runtime.pointerGetAttributes(array.ctypes.data)
        except self._runtime.CUDARuntimeError:
            return False
        return getattr(attrs, "type", 0) == 1  # cudaMemoryTypeHost

    def new_event(self, enable_timing: bool = False, blocking: bool = False,
                  interprocess: bool = False):
        return _CupyEvent(self.xp, enable_timing, blocking, interprocess)


class _CupyEvent:
    """A cupy.cuda.Event behind ember.cuda.Event's methods."""

    def __init__(self, cupy, enable_timing, blocking, interprocess):
        self._cupy = cupy
        self.enable_timing = enable_timing
        self._event = cupy.cuda.Event(block=blocking, disable_timing=not enable_timing,
                                      interprocess=interprocess)

    def record(self, stream=None) -> None:
        self._event.record(stream)

    def synchronize(self) -> None:
        self._event.synchronize()

    def query(self) -> bool:
        return bool(self._event.done)

    def wait(self, stream=None) -> None:
        (stream or self._cupy.cuda.get_current_stream()).wait_event(self._event)

    def elapsed_time(self, end: _CupyEvent) -> float:
        return float(self._cupy.cuda.get_elapsed_time(self._event, end._event))


def _make_peak_tracker(backend: CupyBackend):
    """Peak bytes per GPU, counted by a CuPy memory hook from the first call on.

    CuPy's pool keeps no high-water mark. A hook costs a Python call per allocation, so it is
    only installed (in the calling thread) when peak statistics are first asked for; until
    then, and for what that thread does not allocate, the peak is the current usage.
    """
    cupy = backend.xp

    class PeakTracker(cupy.cuda.MemoryHook):
        name = "ember_peak_memory"

        def __init__(self):
            self.used = {}     # bytes in use per GPU, kept current by the hook
            self.high = {}
            self.synced = set()  # GPUs whose count started from the pool's real usage

        def _sync(self, index):
            # never called from inside a hook: the pool may hold its lock there
            now = backend.memory_allocated(index)
            first = index not in self.synced
            self.synced.add(index)
            self.used[index] = now
            self.high[index] = now if first else max(self.high.get(index, 0), now)

        def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id, **_):
            if mem_ptr:
                now = self.used.get(device_id, 0) + mem_size
                self.used[device_id] = now
                if now > self.high.get(device_id, 0):
                    self.high[device_id] = now

        def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id, **_):
            self.used[device_id] = self.used.get(device_id, 0) - mem_size

        def peak(self, index):
            self._sync(index)
            return self.high[index]

        def reset(self, index):
            self.synced.discard(index)
            self._sync(index)

    tracker = PeakTracker()
    tracker.__enter__()  # registered for this thread for the rest of the process
    return tracker
