"""What differs between NumPy and CuPy, and nothing else.

Every other module asks here for the array library (``xp``) of an array or a device, and
never imports cupy itself. A backend is found from an array's type in one dict lookup.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..device import device as Device
from .numpy_backend import NumpyBackend

cpu = NumpyBackend()
_by_array_type: dict[type, object] = {np.ndarray: cpu}
_cuda = None


def of(array):
    """The backend that owns ``array``."""
    try:
        return _by_array_type[type(array)]
    except KeyError:
        for t, backend in _by_array_type.items():
            if isinstance(array, t):
                return backend
        raise TypeError(f"not an array ember can hold: {type(array).__name__}") from None


def xp_of(array):
    """numpy or cupy, whichever ``array`` belongs to."""
    return of(array).xp


def device_of(array) -> Device:
    return of(array).device_of(array)


def for_device(dev: Device):
    """The backend serving ``dev``; imports CuPy on first use of a cuda device."""
    if dev.type == "cpu":
        return cpu
    return cuda()


def cuda():
    """The cuda backend: CuPy, or the test-only fake when EMBER_FAKE_CUDA=1."""
    global _cuda
    if _cuda is None:
        from .cupy_backend import load_cuda_backend
        _cuda = load_cuda_backend()
        _by_array_type[_cuda.array_type] = _cuda
    return _cuda


def resolve(dev: Device) -> Device:
    """``dev`` with its GPU index filled in: plain 'cuda' means the current GPU, as in torch."""
    if dev.type == "cuda" and dev.index is None:
        return Device("cuda", cuda().current_device())
    return dev


def cuda_available() -> bool:
    try:
        return cuda().device_count() > 0
    except RuntimeError:
        return False


def to_device(array, dev: Device, non_blocking: bool = False):
    """``array`` copied to ``dev`` (or itself when it is already there).

    ``non_blocking`` uploads from pinned host memory without waiting for the copy.
    """
    src = of(array)
    dst = for_device(dev)
    if src is dst:
        return dst.to_index(array, dev.index) if dev.type == "cuda" else array
    host = src.to_numpy(array)
    if non_blocking and dst is not cpu:
        return dst.from_numpy(host, dev.index, non_blocking=True)
    return dst.from_numpy(host, dev.index)


# -- cuda helpers (pinned host memory, device guard) ----------------------------------------
def pin_memory(array):
    """Host ``array`` copied into page-locked memory for fast, asynchronous uploads.

    RuntimeError without a cuda backend, as ``torch.Tensor.pin_memory`` without a GPU.
    """
    if type(array) is not np.ndarray:
        raise RuntimeError(f"pin_memory: only host (cpu) arrays can be pinned, got "
                           f"{type(array).__name__}")
    return cuda().pin_memory(array)


def empty_pinned(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised host array in page-locked memory (RuntimeError without cuda)."""
    return cuda().empty_pinned(shape, dtype)


def is_pinned(array) -> bool:
    """Whether host ``array`` lives in page-locked memory (False without a cuda backend)."""
    if type(array) is not np.ndarray or _cuda is None:
        return False
    return _cuda.is_pinned(array)


def device_guard(array):
    """A context in which ``array``'s GPU is CuPy's current device (nothing on the CPU).

    CuPy allocates and launches kernels on the current device, so ops on cuda:1 arrays must
    run inside this guard.
    """
    owner = of(array)
    if owner is cpu:
        return contextlib.nullcontext()
    return owner.device_guard(owner.device_of(array).index)
