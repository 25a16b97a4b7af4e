"""ember.cuda: GPU devices, synchronisation, seeds and memory statistics (as torch.cuda).

Everything goes through the cuda backend (CuPy, or the test-only fake selected by
``EMBER_FAKE_CUDA``). Without CuPy or a GPU, the queries PyTorch answers on a CPU-only build
answer the same here (``is_available()`` is False, ``device_count()`` and the memory
statistics are 0, ``manual_seed`` does nothing); the calls that need a GPU raise
RuntimeError saying what to install.

Example:
    >>> if ember.cuda.is_available():
    ...     x = ember.randn(1024, 1024, device="cuda")
    ...     ember.cuda.synchronize()
"""
from __future__ import annotations

import sys
from typing import Any

from . import backend
from . import random as _random
from .amp import _cuda_amp as amp  # torch.cuda.amp's deprecated aliases of ember.amp
from .device import device as Device

sys.modules[__name__ + ".amp"] = amp  # so that `from ember.cuda.amp import GradScaler` works

__all__ = ["is_available", "is_initialized", "device_count", "current_device", "set_device",
           "device", "synchronize", "manual_seed", "manual_seed_all", "seed", "seed_all",
           "initial_seed", "get_rng_state", "set_rng_state", "get_rng_state_all",
           "set_rng_state_all", "memory_allocated",
           "max_memory_allocated", "reset_peak_memory_stats", "memory_reserved",
           "max_memory_reserved", "empty_cache", "get_device_name", "Event"]


def _backend():
    """The cuda backend, or RuntimeError naming what is missing."""
    return backend.cuda()


def _loaded():
    """The cuda backend if it loads and sees a GPU, else None (for the queries that return 0)."""
    try:
        be = backend.cuda()
    except RuntimeError:
        return None
    return be if be.device_count() > 0 else None


def _index(device, op: str) -> int | None:
    """A device argument (None, int, 'cuda:1', ember.device) as a GPU index; None: current."""
    if device is None:
        return None
    if isinstance(device, int) and not isinstance(device, bool):
        return None if device < 0 else device
    dev = Device(device)
    if dev.type != "cuda":
        raise ValueError(f"ember.cuda.{op}: expected a cuda device, but got: {dev}")
    return dev.index


def is_available() -> bool:
    """Whether a cuda device can be used (CuPy installed and at least one GPU visible)."""
    return backend.cuda_available()


def is_initialized() -> bool:
    """Whether the cuda backend has been loaded in this process."""
    return backend._cuda is not None


def device_count() -> int:
    """The number of visible GPUs (0 without CuPy or a GPU)."""
    be = _loaded()
    return 0 if be is None else be.device_count()


def current_device() -> int:
    """The index of the current GPU, where ``device='cuda'`` allocations would go."""
    be = _backend()
    be.check_index(None)
    return be.current_device()


def set_device(device) -> None:
    """Makes ``device`` (an index, 'cuda:N' or ember.device) the current GPU; negative: no-op."""
    index = _index(device, "set_device")
    if index is not None:
        _backend().set_device(index)


class device:
    """Context manager that makes ``device`` the current GPU inside the block.

    Args:
        device: an index, 'cuda:N' or ember.device; None or a negative index does nothing.

    Example:
        >>> with ember.cuda.device(1):
        ...     y = x1 * 2   # x1 on cuda:1
    """

    def __init__(self, device: Any):
        self.idx = _index(device, "device")
        self._previous = None

    def __enter__(self):
        if self.idx is not None:
            be = _backend()
            self._previous = be.current_device()
            be.set_device(self.idx)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            _backend().set_device(self._previous)
            self._previous = None


def synchronize(device=None) -> None:
    """Waits until every kernel queued on ``device`` (default: the current GPU) has finished."""
    _backend().synchronize(_index(device, "synchronize"))


# -- random numbers: each GPU has a default Philox generator (see ember.random) --------------
def manual_seed(seed: int) -> None:
    """Seeds the current GPU's default generator; silently does nothing without a GPU.

    ``ember.manual_seed`` seeds the CPU and every GPU at once.
    """
    if _loaded() is not None:
        _random.cuda_default_generator().manual_seed(int(seed))


def manual_seed_all(seed: int) -> None:
    """Seeds the default generator of every GPU (also of those not used yet)."""
    _random.seed_cuda_all(int(seed))


def seed() -> None:
    """Seeds the current GPU's default generator from OS entropy (nothing without a GPU)."""
    if _loaded() is not None:
        _random.cuda_default_generator().seed()


def seed_all() -> None:
    """Seeds every GPU's default generator with one seed from OS entropy."""
    _random.seed_cuda_all(_random.Generator().seed())


def initial_seed() -> int:
    """The seed of the current GPU's default generator."""
    _backend()
    return _random.cuda_default_generator().initial_seed()


def _generator(device, op: str) -> _random.Generator:
    _backend().check_index(None)
    return _random.cuda_default_generator(_index(device, op))


def get_rng_state(device="cuda"):
    """The state of ``device``'s default generator: a 16-byte uint8 CPU tensor (seed, offset).

    Example:
        >>> state = ember.cuda.get_rng_state()
        >>> a = ember.rand(3, device="cuda")
        >>> ember.cuda.set_rng_state(state)   # ember.rand(3, device="cuda") equals a again
    """
    return _generator(device, "get_rng_state").get_state()


def set_rng_state(new_state, device="cuda") -> None:
    """Restores ``device``'s default generator from a ``get_rng_state`` result."""
    _generator(device, "set_rng_state").set_state(new_state)


def get_rng_state_all() -> list:
    """The states of every GPU's default generator, by device index."""
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    """Restores every GPU's default generator from ``get_rng_state_all()``."""
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


def __getattr__(name: str):
    # torch.cuda.default_generators: one generator per GPU (made when first asked for)
    if name == "default_generators":
        return tuple(_random.cuda_default_generator(i) for i in range(device_count()))
    raise AttributeError(f"module 'ember.cuda' has no attribute {name!r}")


def _memory_stat(device, op: str, name: str) -> int:
    index = _index(device, op)
    be = _loaded()
    return 0 if be is None else int(getattr(be, name)(index))


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors on ``device`` (0 without a GPU)."""
    return _memory_stat(device, "memory_allocated", "memory_allocated")


def max_memory_allocated(device=None) -> int:
    """Peak of ``memory_allocated`` since the last ``reset_peak_memory_stats``.

    With CuPy the peak is tracked from the first call to this function or to
    ``reset_peak_memory_stats`` on (tracking costs a little per allocation); call
    ``reset_peak_memory_stats()`` before the code you measure.
    """
    return _memory_stat(device, "max_memory_allocated", "max_memory_allocated")


def reset_peak_memory_stats(device=None) -> None:
    """Restarts the peak tracked by ``max_memory_allocated`` at the current usage."""
    _backend().reset_peak_memory_stats(_index(device, "reset_peak_memory_stats"))


def memory_reserved(device=None) -> int:
    """Bytes held by the caching allocator on ``device``, in use or cached (0 without a GPU)."""
    return _memory_stat(device, "memory_reserved", "memory_reserved")


def max_memory_reserved(device=None) -> int:
    """The caching allocator's current reservation (CuPy keeps no reservation peak)."""
    return memory_reserved(device)


def empty_cache() -> None:
    """Returns the cached, unused blocks of every GPU pool and of the pinned host pool."""
    be = _loaded()
    if be is not None:
        be.empty_cache()


def get_device_name(device=None) -> str:
    """The name of ``device`` (default: the current GPU), e.g. 'NVIDIA H200'."""
    return _backend().device_name(_index(device, "get_device_name"))


class Event:
    """A CUDA event, for timing GPU work without synchronising every step.

    Args:
        enable_timing: record timestamps so ``elapsed_time`` works.
        blocking: ``synchronize`` blocks the thread instead of spinning.
        interprocess: shareable between processes.

    Example:
        >>> start, end = ember.cuda.Event(enable_timing=True), ember.cuda.Event(enable_timing=True)
        >>> start.record(); y = x @ x; end.record(); end.synchronize()
        >>> ms = start.elapsed_time(end)
    """

    def __init__(self, enable_timing: bool = False, blocking: bool = False,
                 interprocess: bool = False):
        self.enable_timing = enable_timing
        self._impl = _backend().new_event(enable_timing, blocking, interprocess)

    def record(self, stream=None) -> None:
        """Marks this point in the stream's queue of work."""
        self._impl.record(stream)

    def synchronize(self) -> None:
        """Waits until the work queued before ``record`` has finished."""
        self._impl.synchronize()

    def query(self) -> bool:
        """Whether the work queued before ``record`` has finished."""
        return self._impl.query()

    def wait(self, stream=None) -> None:
        """Makes future work on ``stream`` wait for this event."""
        self._impl.wait(stream)

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds between this event and ``end_event`` (both recorded and finished)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("elapsed_time: both events must be created with argument "
                               "'enable_timing=True'")
        return self._impl.elapsed_time(end_event._impl)
