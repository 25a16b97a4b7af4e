"""A test-only stand-in for CUDA: NumPy arrays that carry a fake GPU index.

Selected with ``EMBER_FAKE_CUDA=1`` (or ``=2`` for two devices) before the cuda backend is
first loaded, so CI without a GPU still exercises the device plumbing: moves, mixed-device
errors, optimizer state placement, ``map_location``.

``FakeCudaArray`` is an ``np.ndarray`` subclass with its own type, so ``backend.of`` tells
it apart from host arrays by one dict lookup. It copies CuPy's rules wherever a rule would
catch a bug that a real GPU would hit:

- results of ufuncs, NumPy functions, reductions and scalar indexing stay ``FakeCudaArray``
  on the operands' device (reductions give 0-d arrays, not NumPy scalars, as CuPy does);
- mixing a fake array with a host ``np.ndarray`` in an op raises ``TypeError``;
- creation through ``xp`` and ``.copy()`` land on the *current* device, and kernels refuse
  operands that are not on the current device (``ValueError``), as CuPy without peer access.

- inside ``forbid_host_sync()``, reading a value on the host (``item()``, ``tolist()``,
  ``bool()``, ``float()``, ``int()``, ...) or uploading host data through ``xp.asarray``,
  either of which makes CuPy wait for the GPU, raises.

What it cannot catch: ``np.asarray(device_array)`` silently gives a host array here (NumPy
offers subclasses no hook for that), where CuPy raises ``TypeError``.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
import weakref

import numpy as np
from numpy.lib.stride_tricks import as_strided as _np_as_strided
from numpy.lib.stride_tricks import sliding_window_view as _np_window_view

from ..device import device as Device
from . import philox, special

_local = threading.local()
_lock = threading.Lock()
_count = 1                      # devices of the loaded fake backend
_allocated: dict[int, int] = {}  # live bytes per device
_peak: dict[int, int] = {}
_reserved: dict[int, int] = {}   # what a caching allocator would hold: allocation high-water
_pinned: dict[int, weakref.ref] = {}
_generation = [0]                # bumped when a new fake backend resets the counters


def current_index() -> int:
    return getattr(_local, "index", 0)


@contextlib.contextmanager
def forbid_host_sync():
    """Inside the block, reading a fake cuda array's values on the host raises RuntimeError:
    on a GPU each such read waits for every queued kernel (a hidden synchronisation)."""
    previous = getattr(_local, "forbid_sync", False)
    _local.forbid_sync = True
    try:
        yield
    finally:
        _local.forbid_sync = previous


def _host_read(what: str) -> None:
    if getattr(_local, "forbid_sync", False):
        raise RuntimeError(f"{what}: with CuPy this waits for the GPU (a host synchronisation "
                           f"inside forbid_host_sync())")


def _set_current(index: int) -> None:
    _local.index = index


# -- memory accounting ----------------------------------------------------------------------
def _track(array: np.ndarray, index: int) -> None:
    """Counts a fresh buffer of ``index`` until ``array`` is garbage collected."""
    nbytes = array.nbytes
    with _lock:
        now = _allocated.get(index, 0) + nbytes
        _allocated[index] = now
        _peak[index] = max(_peak.get(index, 0), now)
        _reserved[index] = max(_reserved.get(index, 0), now)
    weakref.finalize(array, _release, index, nbytes, _generation[0])


def _release(index: int, nbytes: int, generation: int) -> None:
    with _lock:
        if generation == _generation[0]:  # arrays of an earlier backend no longer count
            _allocated[index] = _allocated.get(index, 0) - nbytes


def _reset_memory() -> None:
    with _lock:
        _generation[0] += 1
        _allocated.clear()
        _peak.clear()
        _reserved.clear()


# -- the array type -------------------------------------------------------------------------
def _plain(x):
    """``x`` with every FakeCudaArray inside (lists, tuples, dicts) viewed as np.ndarray."""
    if isinstance(x, FakeCudaArray):
        return x.view(np.ndarray)
    if type(x) in (list, tuple):
        return type(x)(_plain(v) for v in x)
    if type(x) is dict:
        return {k: _plain(v) for k, v in x.items()}
    return x


def _fakes(x, found: list, hosts: list) -> None:
    """Collects the fake arrays and the host ndarrays among ``x`` (one container deep)."""
    if isinstance(x, FakeCudaArray):
        found.append(x)
    elif isinstance(x, np.ndarray):
        hosts.append(x)
    elif type(x) in (list, tuple):
        for v in x:
            _fakes(v, found, hosts)


def _wrap(result, index: int):
    """NumPy's result as fake arrays on ``index``; NumPy scalars become 0-d arrays (CuPy)."""
    if isinstance(result, FakeCudaArray):
        return result
    if isinstance(result, np.ndarray):
        if result.base is None:  # a fresh buffer, not a view of a fake array
            _track(result, index)
        out = result.view(FakeCudaArray)
        out._ember_index = index
        return out
    if isinstance(result, np.generic):
        return _wrap(np.asarray(result), index)
    if type(result) is list:
        return [_wrap(r, index) for r in result]
    if isinstance(result, tuple):  # NumPy's named results (QRResult, ...) are plain in CuPy
        return tuple(_wrap(r, index) for r in result)
    return result


def _device_of(op: str, arrays, strict: bool) -> int:
    """The one device of ``arrays``; with ``strict`` it must be the current one (a kernel)."""
    index = arrays[0]._ember_index
    for a in arrays[1:]:
        if a._ember_index != index:
            raise ValueError(f"{op}: fake cuda arrays on different devices: cuda:{index} and "
                             f"cuda:{a._ember_index}")
    if strict and index != current_index():
        raise ValueError(f"{op}: the device where the array resides (cuda:{index}) is different "
                         f"from the current device (cuda:{current_index()}); run the op under "
                         f"`with ember.cuda.device({index})`")
    return index


def _host_error(op: str) -> TypeError:
    return TypeError(f"{op}: cannot mix a (fake) cuda array with a host numpy.ndarray; move "
                     "the host array to the device first, as CuPy requires")


# NumPy functions that only look at shapes or make views: no kernel, any current device.
_NO_KERNEL = {np.shape, np.ndim, np.size, np.result_type, np.broadcast_to, np.broadcast_arrays,
              np.transpose, np.reshape, np.moveaxis, np.swapaxes, np.expand_dims, np.squeeze,
              np.may_share_memory, np.shares_memory, np.iscomplexobj, np.isrealobj}


class FakeCudaArray(np.ndarray):
    """A NumPy array that plays a CUDA array on fake device ``_ember_index``."""

    def __array_finalize__(self, obj):
        self._ember_index = getattr(obj, "_ember_index", current_index())
        if self.base is None and obj is not None:  # copy, astype, fancy indexing
            _track(self, self._ember_index)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        found, hosts = [], []
        _fakes(inputs, found, hosts)
        if out is not None:
            _fakes(out, found, hosts)
        if hosts:
            raise _host_error(name)
        index = _device_of(name, found, strict=True)
        if out is not None:
            kwargs["out"] = _plain(out)
        result = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return None if method == "at" else _wrap(result, index)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        found, hosts = [], []
        _fakes(args, found, hosts)
        _fakes(tuple(kwargs.values()), found, hosts)
        if hosts and func not in _NO_KERNEL:
            raise _host_error(name)
        index = _device_of(name, found, strict=func not in _NO_KERNEL)
        return _wrap(func(*_plain(args), **_plain(kwargs)), index)

    def __getitem__(self, key):
        result = super().__getitem__(_plain(key))
        return result if isinstance(result, np.ndarray) else _wrap(result, self._ember_index)

    def __setitem__(self, key, value) -> None:
        found = [value] if isinstance(value, FakeCudaArray) else []
        _device_of("setitem", [self] + found, strict=True)
        super().__setitem__(_plain(key), _plain(value))

    def copy(self, order="C"):
        """A copy on the *current* device, as ``cupy.ndarray.copy``."""
        out = np.array(self.view(np.ndarray), order=order, copy=True)
        return _wrap(out, current_index())

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        if copy or np.dtype(dtype) != self.dtype:
            _device_of("astype", [self], strict=True)
        return super().astype(dtype, order, casting, subok, copy)

    def __reduce__(self):
        return _rebuild, (np.array(self.view(np.ndarray)), self._ember_index)

    @property
    def device(self) -> _FakeDevice:
        """The fake GPU holding this array (``.id``, as ``cupy.ndarray.device``)."""
        return _FakeDevice(self._ember_index)

    def __repr__(self) -> str:
        return f"{np.array_repr(self.view(np.ndarray))[:-1]}, device='cuda:{self._ember_index}')"

    # reading values on the host: a synchronisation with CuPy
    def item(self, *args):
        _host_read("item() of a fake cuda array")
        return super().item(*args)

    def tolist(self):
        _host_read("tolist() of a fake cuda array")
        return super().tolist()

    def __bool__(self) -> bool:
        _host_read("bool() of a fake cuda array")
        return super().__bool__()

    def __float__(self) -> float:
        _host_read("float() of a fake cuda array")
        return super().__float__()

    def __int__(self) -> int:
        _host_read("int() of a fake cuda array")
        return super().__int__()

    def __index__(self) -> int:
        _host_read("operator.index() of a fake cuda array")
        return super().__index__()


class _FakeDevice:
    __slots__ = ("id",)

    def __init__(self, index: int):
        self.id = index

    def __repr__(self) -> str:
        return f"<fake CUDA Device {self.id}>"


def _on_device_result(method_name: str):
    base = getattr(np.ndarray, method_name)

    def method(self, *args, **kwargs):
        result = base(self.view(np.ndarray), *_plain(args), **_plain(kwargs))
        return _wrap(result, self._ember_index)

    method.__name__ = method_name
    return method


# C-level methods that would hand back NumPy scalars or plain arrays.
for _name in ("argmax", "argmin", "nonzero", "argsort", "take", "repeat", "searchsorted",
              "dot", "trace", "choose", "compress", "ptp", "round"):
    if hasattr(np.ndarray, _name):
        setattr(FakeCudaArray, _name, _on_device_result(_name))
del _name


def _rebuild(host: np.ndarray, index: int) -> FakeCudaArray:
    return _wrap(host, index)


# -- the xp namespace -----------------------------------------------------------------------
_CREATION = ("array", "asarray", "asanyarray", "ascontiguousarray", "zeros", "ones", "empty",
             "full", "arange", "eye", "identity", "linspace", "logspace", "tri", "zeros_like",
             "ones_like", "empty_like", "full_like", "fromiter", "frombuffer")


# creation functions that copy host data (an upload: with CuPy it waits for the copy)
_FROM_HOST = frozenset({"array", "asarray", "asanyarray", "ascontiguousarray", "fromiter",
                        "frombuffer"})


def _creation(func):
    def create(*args, **kwargs):
        if func.__name__ in ("asarray", "asanyarray") and isinstance(args[0], FakeCudaArray) \
                and len(args) == 1 and not kwargs:
            return args[0]
        if func.__name__ in _FROM_HOST and args and not isinstance(args[0], FakeCudaArray):
            _host_read(f"xp.{func.__name__}() of host data (an upload)")
        result = func(*_plain(args), **_plain(kwargs))
        if isinstance(result, np.ndarray) and result.base is not None:
            result = result.copy()  # asarray of host data aliases it; a device copy does not
        return _wrap(result, current_index())

    create.__name__ = func.__name__
    return create


class _FakeRandom:
    """``xp.random``: NumPy's functions, drawn on the host and placed on the current device."""

    def __getattr__(self, name):
        value = getattr(np.random, name)
        if callable(value) and not isinstance(value, type):
            value = _creation(value)
        setattr(self, name, value)
        return value


class FakeXP:
    """numpy, except that arrays made here land on the current fake cuda device (as cupy)."""

    ndarray = FakeCudaArray

    def __init__(self):
        self.random = _FakeRandom()

    def __getattr__(self, name):
        value = getattr(np, name)
        if name in _CREATION:
            value = _creation(value)
        setattr(self, name, value)
        return value

    @staticmethod
    def asnumpy(array) -> np.ndarray:
        return np.array(array.view(np.ndarray) if isinstance(array, FakeCudaArray) else array)

    def __repr__(self) -> str:
        return "<ember fake cuda xp (numpy)>"


def _on_host(op: str, kernel, *arrays) -> FakeCudaArray:
    """``kernel`` of the arrays' host views, as a kernel on their (current) device."""
    index = _device_of(op, list(arrays), strict=True)
    return _wrap(np.asarray(kernel(*_plain(arrays))), index)


# -- the backend ----------------------------------------------------------------------------
class FakeEvent:
    """A cuda event that records host time (the fake device runs synchronously)."""

    def __init__(self, enable_timing: bool = False):
        self.enable_timing = enable_timing
        self._time = None

    def record(self, stream=None) -> None:
        self._time = time.perf_counter()

    def synchronize(self) -> None:
        pass

    def query(self) -> bool:
        return True

    def wait(self, stream=None) -> None:
        pass

    def elapsed_time(self, end: FakeEvent) -> float:
        if self._time is None or end._time is None:
            raise RuntimeError("elapsed_time: both events must be recorded before measuring")
        return (end._time - self._time) * 1000.0


class FakeCudaBackend:
    """The backend for the fake cuda devices (NumPy underneath)."""

    array_type = FakeCudaArray
    name = "cuda"
    is_fake = True

    def __init__(self, count: int = 1):
        global _count
        _count = count
        _set_current(0)
        _reset_memory()
        self.xp = FakeXP()

    # -- devices ------------------------------------------------------------------------------
    def device_count(self) -> int:
        return _count

    def check_index(self, index: int | None) -> int:
        index = current_index() if index is None else int(index)
        if not 0 <= index < _count:
            raise RuntimeError(f"cuda: invalid device ordinal {index}: there "
                               f"{'is' if _count == 1 else 'are'} {_count} fake cuda "
                               f"device{'s' if _count != 1 else ''} (EMBER_FAKE_CUDA={_count})")
        return index

    def current_device(self) -> int:
        return current_index()

    def set_device(self, index: int) -> None:
        _set_current(self.check_index(index))

    @contextlib.contextmanager
    def device_guard(self, index: int | None):
        """Makes ``index`` the current device inside the block."""
        previous = current_index()
        _set_current(self.check_index(index))
        try:
            yield
        finally:
            _set_current(previous)

    def device_name(self, index: int | None = None) -> str:
        return f"ember fake cuda device {self.check_index(index)}"

    def synchronize(self, index: int | None = None) -> None:
        self.check_index(index)

    def device_of(self, array) -> Device:
        return Device("cuda", array._ember_index)

    # -- moves --------------------------------------------------------------------------------
    def to_numpy(self, array) -> np.ndarray:
        return np.array(array.view(np.ndarray))

    def from_numpy(self, array, index: int | None = None,
                   non_blocking: bool = False) -> FakeCudaArray:
        host = np.array(array, copy=True)
        if host.dtype.kind == "O":
            raise TypeError("cuda: cannot move an object array to a cuda device")
        return _wrap(host, self.check_index(index))

    def to_index(self, array, index: int | None) -> FakeCudaArray:
        index = self.check_index(index)
        if array._ember_index == index:
            return array
        return _wrap(np.array(array.view(np.ndarray)), index)

    # -- kernels ------------------------------------------------------------------------------
    @staticmethod
    def as_strided(array, shape, strides, writeable: bool = False):
        view = _np_as_strided(array.view(np.ndarray), shape, strides, writeable=writeable)
        return _wrap(view, array._ember_index)

    @staticmethod
    def sliding_window_view(array, window_shape, axis=None):
        view = _np_window_view(array.view(np.ndarray), window_shape, axis)
        return _wrap(view, array._ember_index)

    @staticmethod
    def scatter_add(target, index, values) -> None:
        """target[index] += values, accumulating repeated indices."""
        found, hosts = [], []
        _fakes((target, values), found, hosts)
        _device_of("scatter_add", found, strict=True)
        np.add.at(target.view(np.ndarray), _plain(index), _plain(values))

    @staticmethod
    def erf(array) -> FakeCudaArray:
        """The error function, elementwise (``CupyBackend.erf``), computed on the host."""
        _device_of("erf", [array], strict=True)
        host = array.view(np.ndarray)
        values = np.vectorize(math.erf, otypes=[np.float64])(host) if host.size else host
        return _wrap(np.asarray(values).astype(array.dtype), array._ember_index)

    # the other special functions (``CupyBackend``'s), by ember's NumPy kernels on the host
    @staticmethod
    def erfc(array) -> FakeCudaArray:
        return _on_host("erfc", special.erfc, array)

    @staticmethod
    def erfinv(array) -> FakeCudaArray:
        return _on_host("erfinv", special.erfinv, array)

    @staticmethod
    def lgamma(array) -> FakeCudaArray:
        return _on_host("lgamma", special.lgamma, array)

    @staticmethod
    def digamma(array) -> FakeCudaArray:
        return _on_host("digamma", special.digamma, array)

    @staticmethod
    def polygamma(n: int, array) -> FakeCudaArray:
        return _on_host("polygamma", lambda x: special.polygamma(n, x), array)

    @staticmethod
    def i0(array) -> FakeCudaArray:
        return _on_host("i0", special.i0, array)

    @staticmethod
    def i0e(array) -> FakeCudaArray:
        return _on_host("i0e", special.i0e, array)

    @staticmethod
    def i1(array) -> FakeCudaArray:
        return _on_host("i1", special.i1, array)

    @staticmethod
    def i1e(array) -> FakeCudaArray:
        return _on_host("i1e", special.i1e, array)

    @staticmethod
    def igamma(a, x) -> FakeCudaArray:
        return _on_host("igamma", special.igamma, a, x)

    @staticmethod
    def igammac(a, x) -> FakeCudaArray:
        return _on_host("igammac", special.igammac, a, x)

    # -- random -------------------------------------------------------------------------------
    def random_philox(self, kind: str, shape: tuple, dtype, seed: int, offset: int,
                      index: int | None = None) -> FakeCudaArray:
        """Philox draws of ``kind`` on fake device ``index``: the NumPy reference of the CUDA
        kernel, so the fake gives the numbers a real GPU gives."""
        return _wrap(philox.draw(kind, tuple(shape), dtype, seed, offset), self.check_index(index))

    # -- memory -------------------------------------------------------------------------------
    def memory_allocated(self, index: int | None = None) -> int:
        return _allocated.get(self.check_index(index), 0)

    def max_memory_allocated(self, index: int | None = None) -> int:
        return _peak.get(self.check_index(index), 0)

    def reset_peak_memory_stats(self, index: int | None = None) -> None:
        index = self.check_index(index)
        with _lock:
            _peak[index] = _allocated.get(index, 0)

    def memory_reserved(self, index: int | None = None) -> int:
        return _reserved.get(self.check_index(index), 0)

    def empty_cache(self) -> None:
        with _lock:
            for index, live in _allocated.items():
                _reserved[index] = live
            _pinned.clear()

    def empty_pinned(self, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised host array in (fake) page-locked memory: a plain np.ndarray."""
        out = np.empty(tuple(shape), np.dtype(dtype))
        _pinned[id(out)] = weakref.ref(out)
        return out

    def pin_memory(self, array: np.ndarray) -> np.ndarray:
        """A copy of host ``array`` in (fake) page-locked memory: a plain np.ndarray."""
        out = self.empty_pinned(array.shape, array.dtype)
        out[...] = array
        return out

    def is_pinned(self, array) -> bool:
        root = array
        while isinstance(root, np.ndarray) and root.base is not None:
            root = root.base
        ref = _pinned.get(id(root))
        return ref is not None and ref() is root

    def new_event(self, enable_timing: bool = False, blocking: bool = False,
                  interprocess: bool = False) -> FakeEvent:
        return FakeEvent(enable_timing)
