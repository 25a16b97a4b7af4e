"""Random number generation: ember.Generator, manual_seed and RNG state.

Each Generator wraps a NumPy PCG64 generator. Values are drawn on the host and moved to the
tensor's device, so a seed gives the same numbers on every device.
"""
from __future__ import annotations

import json

import numpy as np

from . import backend, dtypes

_DEFAULT_SEED = 67280421310721


class Generator:
    """A seedable source of random numbers, as ``torch.Generator``."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = _DEFAULT_SEED
        self._np = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        self._seed = seed
        self._np = np.random.Generator(np.random.PCG64(seed & 0xFFFFFFFFFFFFFFFF))
        return self

    def seed(self) -> int:
        seed = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The state as a uint8 tensor (JSON bytes), savable with ember.save."""
        from .tensor import Tensor
        raw = json.dumps({"seed": self._seed, "state": self._np.bit_generator.state}).encode()
        return Tensor._make(np.frombuffer(raw, np.uint8).copy())

    def set_state(self, state) -> Generator:
        raw = bytes(np.asarray(state._data if hasattr(state, "_data") else state, np.uint8))
        try:
            decoded = json.loads(raw.decode())
            bit_generator = np.random.PCG64()
            bit_generator.state = decoded["state"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeError(f"set_state: not a state from Generator.get_state(): {exc}") from None
        self._seed = decoded["seed"]
        self._np = np.random.Generator(bit_generator)
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seeds every random function of ember (all devices)."""
    default_generator.manual_seed(seed)
    return default_generator


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def _gen(generator) -> np.random.Generator:
    return (generator or default_generator)._np


def _place(array, device):
    return array if device is None or device.type == "cpu" else backend.to_device(array, device)


def uniform(shape, dtype, device=None, low=0.0, high=1.0, generator=None):
    """An array of U(low, high) samples of ``dtype`` on ``device``."""
    np_dtype = dtypes.to_numpy(dtype)
    draw_dtype = np_dtype if np_dtype in (np.float32, np.float64) else np.float64
    out = _gen(generator).random(shape, dtype=draw_dtype)
    if low != 0.0 or high != 1.0:
        out = out * (high - low) + low
    return _place(out.astype(np_dtype, copy=False), device)


def normal(shape, dtype, device=None, mean=0.0, std=1.0, generator=None):
    np_dtype = dtypes.to_numpy(dtype)
    draw_dtype = np_dtype if np_dtype in (np.float32, np.float64) else np.float64
    out = _gen(generator).standard_normal(shape, dtype=draw_dtype)
    if std != 1.0 or mean != 0.0:
        out = out * std + mean
    return _place(out.astype(np_dtype, copy=False), device)


def integers(low, high, shape, dtype, device=None, generator=None):
    out = _gen(generator).integers(low, high, shape, dtype=np.int64)
    return _place(out.astype(dtypes.to_numpy(dtype), copy=False), device)


def permutation(n, device=None, generator=None):
    return _place(_gen(generator).permutation(n).astype(np.int64), device)


# Helpers for Tensor's in-place random methods: arrays of the tensor's shape, dtype and device.
def uniform_array(t, low, high, generator):
    return uniform(t._data.shape, t._data.dtype, t.device, low, high, generator)


def normal_array(t, mean, std, generator):
    return normal(t._data.shape, t._data.dtype, t.device, mean, std, generator)


def integer_array(t, low, high, generator):
    if high is None:
        low, high = 0, low if low else 2 ** 24
    return integers(low, high, t._data.shape, t._data.dtype, t.device, generator)


def exponential_array(t, lambd, generator):
    out = _gen(generator).exponential(1.0 / lambd, t._data.shape)
    return _place(out.astype(t._data.dtype), t.device)
