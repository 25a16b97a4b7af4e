"""Random number generation: ember.Generator, manual_seed and RNG state.

As in PyTorch, every device has its own generator and numbers are drawn where the tensor
lives. The CPU generator wraps NumPy's PCG64. A cuda generator is a counter-based Philox4x32-10
stream whose whole state is ``(seed, offset)``: each draw is one kernel on the GPU (see
``ember.backend.philox``), so sampling never passes through the host, and a seed gives the
same numbers on every GPU (they differ from the CPU's, as in PyTorch).
"""
from __future__ import annotations

import json

import numpy as np

from . import backend, dtypes
from .device import device as Device

_DEFAULT_SEED = 67280421310721
_U64 = 0xFFFFFFFFFFFFFFFF
_CPU = Device("cpu")


class Generator:
    """A seedable source of random numbers for one device, as ``torch.Generator``.

    Args:
        device: 'cpu' (NumPy PCG64) or a cuda device ('cuda' is the current GPU): a Philox
            stream computed on that GPU.

    Example:
        >>> g = ember.Generator().manual_seed(0)
        >>> ember.rand(2, generator=g)
        >>> gc = ember.Generator("cuda").manual_seed(0)   # draws on the GPU
        >>> ember.randn(3, device="cuda", generator=gc)
    """

    def __init__(self, device="cpu"):
        dev = Device(device)
        if dev.type == "cuda":
            dev = Device("cuda", backend.cuda().check_index(dev.index))
        self.device = dev
        self._seed = _DEFAULT_SEED
        self._offset = 0  # cuda: Philox blocks used so far
        self._np = np.random.Generator(np.random.PCG64(self._seed)) if dev.type == "cpu" else None

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        self._seed = seed
        if self._np is None:
            self._offset = 0
        else:
            self._np = np.random.Generator(np.random.PCG64(seed & _U64))
        return self

    def seed(self) -> int:
        seed = int(np.random.SeedSequence().entropy) & _U64
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The state as a uint8 CPU tensor, savable with ember.save.

        CPU: the PCG64 state as JSON bytes. cuda: 16 bytes, the seed and the offset as
        little-endian uint64 (PyTorch's layout for its Philox generator).
        """
        from .tensor import Tensor
        if self._np is None:
            words = np.array([self._seed & _U64, self._offset & _U64], dtype="<u8")
            return Tensor._make(words.view(np.uint8).copy())
        raw = json.dumps({"seed": self._seed, "state": self._np.bit_generator.state}).encode()
        return Tensor._make(np.frombuffer(raw, np.uint8).copy())

    def set_state(self, state) -> Generator:
        raw = _state_bytes(state)
        if self._np is None:
            if len(raw) != 16:
                raise RuntimeError(f"set_state: a cuda generator's state is 16 bytes (seed, "
                                   f"offset), got {len(raw)}; pass a state from get_state() of "
                                   f"a cuda Generator")
            seed, offset = (int(w) for w in np.frombuffer(raw, dtype="<u8"))
            self._seed, self._offset = seed, offset
            return self
        try:
            decoded = json.loads(raw.decode())
            bit_generator = np.random.PCG64()
            bit_generator.state = decoded["state"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeError(f"set_state: not a state from Generator.get_state(): "
                               f"{exc}") from None
        self._seed = decoded["seed"]
        self._np = np.random.Generator(bit_generator)
        return self

    def _philox(self, kind: str, shape: tuple, dtype, index: int):
        """``shape`` numbers of ``kind`` computed on GPU ``index``; advances the offset."""
        out = backend.cuda().random_philox(kind, shape, dtype, self._seed & _U64, self._offset,
                                           index)
        self._offset += int(np.prod(shape, dtype=np.int64))
        return out

    def __repr__(self) -> str:
        return f"<ember.Generator device='{self.device}'>"


def _state_bytes(state) -> bytes:
    data = state._data if hasattr(state, "_data") else state
    try:
        data = backend.of(data).to_numpy(data)  # a state tensor moved to a GPU comes back
    except TypeError:
        pass  # a list or other array-like
    return bytes(np.asarray(data, np.uint8))


default_generator = Generator()

# The default generator of each GPU, made on first use. Like PyTorch's lazily initialised
# CUDA generators, one made after ember.manual_seed(s) starts from s.
_cuda_generators: dict[int, Generator] = {}
_cuda_seed = [_DEFAULT_SEED]


def cuda_default_generator(index: int | None = None) -> Generator:
    """The default generator of GPU ``index`` (None: the current GPU)."""
    if index is None:
        index = backend.cuda().current_device()
    gen = _cuda_generators.get(index)
    if gen is None:
        gen = Generator(Device("cuda", index)).manual_seed(_cuda_seed[0])
        _cuda_generators[index] = gen
    return gen


def manual_seed(seed: int) -> Generator:
    """Seeds every random function of ember: the CPU generator and every GPU's.

    Example:
        >>> ember.manual_seed(0)
    """
    seed = int(seed)
    default_generator.manual_seed(seed)
    seed_cuda_all(seed)
    return default_generator


def seed_cuda_all(seed: int) -> None:
    """Seeds the default generator of every GPU, including those first used later."""
    _cuda_seed[0] = int(seed)
    for gen in _cuda_generators.values():
        gen.manual_seed(seed)


def seed() -> int:
    """Seeds every generator from OS entropy; returns the seed."""
    value = default_generator.seed()
    seed_cuda_all(value)
    return value


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def _gen(generator) -> np.random.Generator:
    """The NumPy generator behind a CPU ``generator`` (None: the default one)."""
    gen = generator or default_generator
    if gen._np is None:
        raise RuntimeError(f"Expected a 'cpu' device type for generator but found "
                           f"'{gen.device.type}'")
    return gen._np


def _device_source(generator, device: Device) -> tuple[Generator, int]:
    """The cuda generator that serves ``device`` and the GPU index to draw on."""
    index = backend.resolve(device).index
    if generator is None:
        return cuda_default_generator(index), index
    if generator.device.type != "cuda":
        raise RuntimeError(f"Expected a 'cuda' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator, index


def _on_cpu(device) -> bool:
    return device is None or Device(device).type == "cpu"


def _float_draw_dtype(np_dtype):
    # floats other than float32/float64 (and ints, for uniform_ on them) are drawn in float64
    return np_dtype if np_dtype in (np.float32, np.float64) else np.dtype(np.float64)


def uniform(shape, dtype, device=None, low=0.0, high=1.0, generator=None):
    """An array of U(low, high) samples of ``dtype``, drawn on ``device``."""
    np_dtype = np.dtype(dtypes.to_numpy(dtype))
    draw_dtype = _float_draw_dtype(np_dtype)
    if _on_cpu(device):
        out = _gen(generator).random(shape, dtype=draw_dtype)
        if low != 0.0 or high != 1.0:
            out = out * (high - low) + low
        return out.astype(np_dtype, copy=False)
    gen, index = _device_source(generator, Device(device))
    out = gen._philox("uniform", tuple(shape), draw_dtype, index)
    with backend.device_guard(out):
        if low != 0.0 or high != 1.0:
            out = out * (high - low) + low
        return out.astype(np_dtype, copy=False)


def normal(shape, dtype, device=None, mean=0.0, std=1.0, generator=None):
    """An array of N(mean, std**2) samples of ``dtype``, drawn on ``device``."""
    np_dtype = np.dtype(dtypes.to_numpy(dtype))
    draw_dtype = _float_draw_dtype(np_dtype)
    if _on_cpu(device):
        out = _gen(generator).standard_normal(shape, dtype=draw_dtype)
        if std != 1.0 or mean != 0.0:
            out = out * std + mean
        return out.astype(np_dtype, copy=False)
    gen, index = _device_source(generator, Device(device))
    out = gen._philox("normal", tuple(shape), draw_dtype, index)
    with backend.device_guard(out):
        if std != 1.0 or mean != 0.0:
            out = out * std + mean
        return out.astype(np_dtype, copy=False)


def integers(low, high, shape, dtype, device=None, generator=None):
    """An array of integers in [low, high) of ``dtype``, drawn on ``device``."""
    np_dtype = dtypes.to_numpy(dtype)
    if _on_cpu(device):
        out = _gen(generator).integers(low, high, shape, dtype=np.int64)
        return out.astype(np_dtype, copy=False)
    gen, index = _device_source(generator, Device(device))
    bits = gen._philox("bits", tuple(shape), np.uint64, index)
    with backend.device_guard(bits):
        # uint64 arithmetic wraps, so low + bits % span is right for any int64 range (the
        # modulo bias is below span / 2**64, as in PyTorch's CUDA randint)
        out = bits % np.uint64(int(high) - int(low)) + np.uint64(int(low) & _U64)
        return out.view(np.int64).astype(np_dtype, copy=False)


def permutation(n, device=None, generator=None):
    """A random permutation of 0..n-1 (int64), drawn on ``device``."""
    if _on_cpu(device):
        return _gen(generator).permutation(n).astype(np.int64)
    gen, index = _device_source(generator, Device(device))
    keys = gen._philox("bits", (int(n),), np.uint64, index)
    with backend.device_guard(keys):
        return backend.xp_of(keys).argsort(keys).astype(np.int64, copy=False)


def exponential(shape, dtype, device=None, lambd=1.0, generator=None):
    """An array of Exp(lambd) samples of ``dtype``, drawn on ``device``."""
    np_dtype = np.dtype(dtypes.to_numpy(dtype))
    if _on_cpu(device):
        return _gen(generator).exponential(1.0 / lambd, shape).astype(np_dtype)
    u = uniform(shape, np.float64, device, generator=generator)
    with backend.device_guard(u):
        xp = backend.xp_of(u)
        return (xp.log1p(-u) * (-1.0 / lambd)).astype(np_dtype, copy=False)


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
    return exponential(t._data.shape, t._data.dtype, t.device, lambd, generator)


# -- Poisson and binomial counts -----------------------------------------------------------------
# The CPU draws with NumPy's samplers. On a GPU the counts are made there from the device's
# uniforms, by vectorised loops that run until every element is done (a host read per round):
# small means by multiplying uniforms (Poisson) or adding geometric waiting times (binomial),
# large ones by Hormann's transformed rejection, PTRS and BTRS (1993), as torch's CUDA kernels.
def poisson(rates, generator=None):
    """Poisson(rates) counts as floats of rates' dtype, drawn where ``rates`` live."""
    if type(rates) is np.ndarray:
        return _gen(generator).poisson(rates.astype(np.float64)).astype(rates.dtype)
    gen, index = _device_source(generator, backend.device_of(rates))
    with backend.device_guard(rates):
        draw = _device_draw(gen, index)
        return _poisson_counts(backend.xp_of(rates), rates.astype(np.float64), draw,
                               backend.of(rates).lgamma).astype(rates.dtype)


def binomial(count, prob, generator=None):
    """Binomial(count, prob) counts as floats of count's dtype (the two broadcast)."""
    if type(count) is np.ndarray:
        n, p = np.broadcast_arrays(count.astype(np.float64), prob.astype(np.float64))
        n = np.maximum(n, 0).astype(np.int64)
        return _gen(generator).binomial(n, np.clip(p, 0, 1)).astype(count.dtype)
    gen, index = _device_source(generator, backend.device_of(count))
    with backend.device_guard(count):
        xp = backend.xp_of(count)
        n, p = xp.broadcast_arrays(count.astype(np.float64), prob.astype(np.float64))
        out = _binomial_counts(xp, xp.maximum(xp.floor(n), 0), xp.clip(p, 0, 1),
                               _device_draw(gen, index), backend.of(count).lgamma)
        return out.astype(count.dtype)


def _device_draw(gen: Generator, index: int):
    return lambda shape: gen._philox("uniform", tuple(shape), np.float64, index)


def _poisson_counts(xp, lam, draw, lgamma):
    """Poisson counts of float64 ``lam`` from ``draw(shape)`` uniforms on [0, 1)."""
    out = xp.zeros_like(lam)
    small = lam < 10
    # Knuth: the count of uniforms whose running product stays above exp(-lam)
    product, limit = xp.ones_like(lam), xp.exp(-lam)
    active = small & (lam > 0)
    while bool(active.any()):
        product = xp.where(active, product * draw(lam.shape), product)
        active = active & (product > limit)
        out += active
    big = ~small
    if not bool(big.any()):
        return out
    slam = xp.sqrt(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    pending = big
    while bool(pending.any()):
        u, v = draw(lam.shape) - 0.5, draw(lam.shape)
        us = 0.5 - xp.abs(u)
        k = xp.floor((2 * a / us + b) * u + lam + 0.43)
        with np.errstate(all="ignore"):
            bound = -lam + k * xp.log(lam) - lgamma(xp.maximum(k, 0) + 1)
            fine = xp.log(v) + xp.log(inv_alpha) - xp.log(a / (us * us) + b) <= bound
        quick = (us >= 0.07) & (v <= vr)
        rejected = (k < 0) | ((us < 0.013) & (v > us))
        accept = pending & (quick | (~rejected & fine))
        out = xp.where(accept, k, out)
        pending = pending & ~accept
    return out


def _binomial_counts(xp, n, p, draw, lgamma):
    """Binomial counts of float64 ``n`` (whole, >= 0) and ``p`` in [0, 1], drawn with
    q = min(p, 1 - p) and mirrored (n - X) where p > 1/2."""
    flip = p > 0.5
    q = xp.where(flip, 1 - p, p)
    out = xp.zeros_like(n)
    small = n * q < 10
    # waiting times: geometric gaps between successes, counted while they fit in n trials
    used = xp.zeros_like(n)
    active = small & (q > 0) & (n > 0)
    log_miss = xp.log1p(-xp.where(active, q, 0.5))
    while bool(active.any()):
        with np.errstate(divide="ignore"):
            gap = xp.ceil(xp.log(1 - draw(n.shape)) / log_miss)
        used = used + xp.where(active, xp.maximum(gap, 1), 0)
        active = active & (used <= n)
        out += active
    big = ~small
    if bool(big.any()):
        out = xp.where(big, _btrs(xp, n, xp.where(big, q, 0.5), big, draw, lgamma), out)
    return xp.where(flip, n - out, out)


def _btrs(xp, n, p, pending, draw, lgamma):
    """Hormann's BTRS for n p >= 10, p <= 1/2: transformed rejection with a squeeze."""
    q = 1 - p
    spq = xp.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = xp.log(p / q)
    m = xp.floor((n + 1) * p)
    h = lgamma(m + 1) + lgamma(n - m + 1)
    out = xp.zeros_like(n)
    while bool(pending.any()):
        u, v = draw(n.shape) - 0.5, draw(n.shape)
        us = 0.5 - xp.abs(u)
        k = xp.floor((2 * a / us + b) * u + c)
        inside = (k >= 0) & (k <= n)
        kk = xp.clip(k, 0, n)
        with np.errstate(all="ignore"):
            log_v = xp.log(v * alpha / (a / (us * us) + b))
            fine = log_v <= h - lgamma(kk + 1) - lgamma(n - kk + 1) + (kk - m) * lpq
        accept = pending & inside & (((us >= 0.07) & (v <= vr)) | fine)
        out = xp.where(accept, k, out)
        pending = pending & ~accept
    return out


# Helpers for Tensor.geometric_, cauchy_ and log_normal_: arrays of the tensor's shape, dtype
# and device, transformed from uniform or normal draws there.
def _transformed(t, draw, transform):
    with backend.device_guard(draw):
        return transform(backend.xp_of(draw), draw).astype(t._data.dtype, copy=False)


def geometric_array(t, p, generator):
    """Trials up to the first success: ceil(log(1 - u) / log(1 - p)), at least 1."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    u = uniform(t._data.shape, np.float64, t.device, generator=generator)
    return _transformed(t, u, lambda xp, u: xp.maximum(xp.ceil(xp.log1p(-u) / np.log1p(-p)), 1))


def cauchy_array(t, median, sigma, generator):
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    u = uniform(t._data.shape, np.float64, t.device, generator=generator)
    return _transformed(t, u, lambda xp, u: median + sigma * xp.tan(np.pi * (u - 0.5)))


def log_normal_array(t, mean, std, generator):
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    z = normal(t._data.shape, np.float64, t.device, mean, std, generator)
    return _transformed(t, z, lambda xp, z: xp.exp(z))
