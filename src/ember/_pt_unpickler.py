"""Reads PyTorch's zip checkpoints without PyTorch and without running anything from them.

``torch.save`` (PyTorch >= 1.6) writes a zip archive::

    <archive>/data.pkl     the object, pickled; each storage is a persistent id
                           ('storage', torch.FloatStorage, '<key>', 'cpu', numel)
    <archive>/data/<key>   the storage's raw bytes
    <archive>/byteorder    'little' or 'big'

A normal pickle load would import and call whatever data.pkl names. Here ``find_class``
answers only for the few globals a state dict needs -- ``torch._utils._rebuild_tensor_v2``
(and ``_rebuild_tensor``, ``_rebuild_parameter``), the ``torch.*Storage`` dtype markers and
``collections.OrderedDict`` -- each replaced by ember's own harmless stand-in; every other
global is refused. Tensors are rebuilt as NumPy copies of strided views of their storage.
"""
from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from collections import OrderedDict
from typing import Any, Callable, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .serialization import InvalidFileError

_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}
_UNSUPPORTED_STORAGES = {
    "BFloat16Storage": "bfloat16 (NumPy has no bfloat16; convert with .float() in PyTorch)",
}
_TENSOR_ONLY = ("only tensors, storages and OrderedDict may appear in a checkpoint ember "
                "loads (it never runs code from a file); save a plain state_dict() from "
                "PyTorch, or convert the file to safetensors")


class _Refused(pickle.UnpicklingError):
    """ember's own refusal, already worded; other unpickling errors get wrapped."""


class _StorageType(str):
    """Stands in for torch.FloatStorage & co.: the NumPy dtype name, immutable."""

    __slots__ = ()


class _Storage(NamedTuple):
    array: np.ndarray  # 1-D, in the file's byte order, read-only
    location: str


class _Rebuilt(NamedTuple):
    array: np.ndarray
    requires_grad: bool
    location: str


def load_torch_zip(stream, name: str, make_tensor: Callable) -> Any:
    """Loads a torch.save zip archive from ``stream``; tensors via ``make_tensor``.

    Args:
        stream: a seekable binary file positioned at the archive.
        name: the file's name, for messages.
        make_tensor: ``(array, location, requires_grad) -> Tensor``.
    """
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidFileError(f"ember.load: {name}: not a readable zip archive ({exc})") \
            from exc
    with archive:
        prefix = _archive_prefix(archive, name)
        order = _byteorder(archive, prefix, name)
        pickled = _read_entry(archive, f"{prefix}data.pkl", name)
        unpickler = _RestrictedUnpickler(io.BytesIO(pickled), archive, prefix, order, name)
        try:
            return _finish(unpickler.load(), make_tensor, {})
        except (_Refused, InvalidFileError):
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                KeyError, IndexError, OverflowError, RecursionError, struct.error) as exc:
            raise pickle.UnpicklingError(
                f"ember.load: {name}: malformed data.pkl ({type(exc).__name__}: {exc})") \
                from exc


def _archive_prefix(archive: zipfile.ZipFile, name: str) -> str:
    pkls = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkls) != 1:
        found = "no" if not pkls else f"{len(pkls)}"
        raise InvalidFileError(f"ember.load: {name}: a zip archive with {found} "
                               "'<archive>/data.pkl' entries; not a torch.save checkpoint")
    return pkls[0][:-len("data.pkl")]


def _byteorder(archive: zipfile.ZipFile, prefix: str, name: str) -> str:
    if f"{prefix}byteorder" not in archive.namelist():
        return "<"  # written before PyTorch recorded it; those writers were little-endian
    order = _read_entry(archive, f"{prefix}byteorder", name)
    if order not in (b"little", b"big"):
        raise InvalidFileError(f"ember.load: {name}: byteorder must be 'little' or 'big', "
                               f"got {order[:20]!r}")
    return "<" if order == b"little" else ">"


def _read_entry(archive: zipfile.ZipFile, entry: str, name: str) -> bytes:
    try:
        info = archive.getinfo(entry)
    except KeyError:
        raise InvalidFileError(f"ember.load: {name}: the archive has no '{entry}'") from None
    # torch.save never compresses; refusing it also rules out zip bombs.
    if info.compress_type != zipfile.ZIP_STORED:
        raise InvalidFileError(f"ember.load: {name}: '{entry}' is compressed, which "
                               "torch.save never writes")
    return archive.read(info)


class _RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose only globals are ember's stand-ins for torch's tensor rebuilders."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, order: str, name: str):
        super().__init__(file)
        self._archive, self._prefix, self._order, self._name = archive, prefix, order, name
        self._raw: dict[str, np.ndarray] = {}
        self._globals = self._make_globals()

    def _refuse(self, problem: str):
        raise _Refused(f"ember.load: {self._name}: {problem}")

    def find_class(self, module: str, name: str):
        found = self._globals.get((module, name))
        if found is not None:
            return found
        if module in ("torch", "torch.storage") and name in _UNSUPPORTED_STORAGES:
            self._refuse(f"tensor dtype {_UNSUPPORTED_STORAGES[name]} is not supported")
        self._refuse(f"refusing to unpickle {module}.{name}: {_TENSOR_ONLY}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            self._refuse(f"unexpected persistent id {pid!r:.80}; expected "
                         "('storage', type, key, location, numel)")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, _StorageType):
            self._refuse(f"storage type {storage_type!r:.60} is not a torch.*Storage")
        if not (isinstance(key, str) and isinstance(location, str)
                and isinstance(numel, int) and not isinstance(numel, bool) and numel >= 0):
            self._refuse(f"malformed storage id {pid!r:.80}")
        dtype = np.dtype(str(storage_type)).newbyteorder(self._order)
        raw = self._storage_bytes(key)
        if raw.size != numel * dtype.itemsize:
            self._refuse(f"data/{key} holds {raw.size} bytes, but data.pkl declares {numel} "
                         f"elements of {storage_type}")
        return _Storage(raw.view(dtype), location)

    def _storage_bytes(self, key: str) -> np.ndarray:
        if key not in self._raw:
            data = _read_entry(self._archive, f"{self._prefix}data/{key}", self._name)
            self._raw[key] = np.frombuffer(data, np.uint8)
        return self._raw[key]

    def _make_globals(self) -> dict:
        # Fresh function objects per load: a hostile BUILD opcode can set attributes on what
        # find_class returned, and must not reach anything that outlives this load.
        def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
                              backward_hooks, metadata=None):
            if not isinstance(requires_grad, bool):
                self._refuse(f"requires_grad must be a bool, got {requires_grad!r:.40}")
            return _Rebuilt(self._strided_copy(storage, storage_offset, size, stride),
                            requires_grad, storage.location)

        def rebuild_tensor(storage, storage_offset, size, stride):
            return rebuild_tensor_v2(storage, storage_offset, size, stride, False, None)

        def rebuild_parameter(data, requires_grad, backward_hooks, state=None):
            if not isinstance(data, _Rebuilt) or not isinstance(requires_grad, bool):
                self._refuse("_rebuild_parameter expects a rebuilt tensor and a bool")
            return data._replace(requires_grad=requires_grad)

        found = {
            ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
            ("collections", "OrderedDict"): OrderedDict,
        }
        for storage, dtype in _STORAGE_DTYPES.items():
            found["torch", storage] = found["torch.storage", storage] = _StorageType(dtype)
        return found

    def _strided_copy(self, storage, offset, size, stride) -> np.ndarray:
        if not isinstance(storage, _Storage):
            self._refuse(f"_rebuild_tensor_v2 expects a storage, got {type(storage).__name__}")
        size, stride = _ints(size), _ints(stride)
        if not (_is_index(offset) and size is not None and stride is not None
                and len(size) == len(stride)):
            self._refuse(f"malformed tensor layout: offset {offset!r:.40}, size {size!r:.60}, "
                         f"stride {stride!r:.60}")
        array = storage.array
        native = array.dtype.newbyteorder("=")
        if math.prod(size) == 0:
            if offset > array.size:
                self._refuse(f"storage offset {offset} past a storage of {array.size}")
            return np.empty(size, native)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= array.size:
            self._refuse(f"a tensor of size {size}, stride {stride} at offset {offset} reaches "
                         f"element {last} of a storage of {array.size} elements")
        view = as_strided(array[offset:], shape=size,
                          strides=[s * array.itemsize for s in stride], writeable=False)
        if native == np.bool_:
            return view.view(np.uint8) != 0  # any nonzero byte is True, as in torch
        return np.array(view, dtype=native, order="C")


def _is_index(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _ints(xs) -> tuple[int, ...] | None:
    """``xs`` as a tuple of non-negative ints, or None when it is anything else."""
    if isinstance(xs, (tuple, list)) and all(_is_index(x) for x in xs):
        return tuple(xs)
    return None


def _finish(obj, make_tensor: Callable, memo: dict):
    """Replaces the rebuilt stand-ins in what data.pkl produced with ember Tensors."""
    oid = id(obj)
    if oid in memo:
        return memo[oid][1]
    memo[oid] = (obj, obj)  # holds obj so its id stays unique; a cycle back here sees obj
    if isinstance(obj, _Rebuilt):
        out = make_tensor(obj.array, obj.location, obj.requires_grad)
    elif isinstance(obj, _Storage):  # a bare storage: a 1-D tensor of its elements
        native = obj.array.dtype.newbyteorder("=")
        out = make_tensor(np.array(obj.array, dtype=native), obj.location, False)
    elif isinstance(obj, dict):
        for key, value in list(obj.items()):
            obj[key] = _finish(value, make_tensor, memo)
        out = obj
    elif isinstance(obj, list):
        obj[:] = [_finish(v, make_tensor, memo) for v in obj]
        out = obj
    elif type(obj) is tuple:
        out = tuple(_finish(v, make_tensor, memo) for v in obj)
    else:
        return obj
    memo[oid] = (obj, out)
    return out
