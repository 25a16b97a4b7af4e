"""save and load in the safetensors format: no pickle, and nothing in a file ever runs.

``save`` puts every tensor of the object into a safetensors file under a dotted key (a model
state dict keeps its own keys, so PyTorch reads it with ``safetensors.torch.load_file``) and
the structure around the tensors -- nested dicts, lists, tuples, numbers, strings, None -- as
one JSON string in the header's ``__metadata__`` under ``"ember"``.

``load`` validates the header itself before the safetensors package sees the file, so a
hostile or truncated file fails with an ``InvalidFileError`` that says what is wrong. It also
reads PyTorch's zip checkpoints (``.pt``/``.pth``) through an unpickler that can only rebuild
tensors (``ember._pt_unpickler``).

JSON node types under ``"ember"`` (format version 1)::

    null, true, 1, 2.5, "s"                      the value itself
    {"type": "float", "value": "nan"}            nan, inf and -inf
    {"type": "tensor", "key": k, "device": d}    the tensor stored under key k (+ "requires_grad")
    {"type": "dict" | "ordered_dict", "items": [[key_node, value_node], ...]}
    {"type": "list" | "tuple", "items": [node, ...]}
"""
from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict
from typing import IO, Any, Callable, Union

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from . import backend
from .device import device as Device
from .tensor import Tensor

__all__ = ["save", "load", "InvalidFileError"]

FileLike = Union[str, os.PathLike, IO[bytes]]
MapLocation = Union[None, str, Device, dict, Callable]

_META_KEY = "ember"
_VERSION = 1
_MAX_HEADER = 100_000_000  # the safetensors package refuses larger headers too
_MAX_DEPTH = 100  # checkpoints nest a few levels; stays far from the recursion limit
_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32,
           "I64": np.int64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
           "C64": np.complex64}
_LEGACY_HINT = ("re-save it with PyTorch >= 1.6 (torch.save writes zip archives) or convert it "
                "to safetensors")


class InvalidFileError(ValueError):
    """A file ``ember.load`` refuses: malformed, truncated, or not a checkpoint at all."""


# -- save ----------------------------------------------------------------------------------

def save(obj: Any, f: FileLike) -> None:
    """Saves a state dict (or any nest of tensors and plain values) as a safetensors file.

    Tensors are stored under dotted keys: a model's ``state_dict()`` keeps its own keys
    (``fc1.weight``), nested containers join their keys with dots (``state.0.exp_avg``).
    Everything else goes as JSON into the file's header, so the file holds no pickle and a
    model state dict loads in PyTorch with ``safetensors.torch.load_file``.

    Args:
        obj: tensors, None, bools, ints, floats, strings, and dicts, lists and tuples of them
            (dict keys: strings, numbers, None or tuples of them) -- e.g. a model or
            optimizer ``state_dict()``.
        f: a path, or a binary file object opened for writing.

    Raises:
        TypeError: ``obj`` holds something else (a Module, a NumPy array, ...).
        ValueError: ``obj`` contains itself.

    Example::

        >>> ember.save(model.state_dict(), "model.safetensors")
        >>> ember.save({"model": model.state_dict(), "epoch": 3}, "ckpt.safetensors")
    """
    encoder = _Encoder()
    root = encoder.encode(obj, ())
    header = json.dumps({"version": _VERSION, "root": root}, allow_nan=False,
                        separators=(",", ":"))
    metadata = {"format": "pt", _META_KEY: header}
    if isinstance(f, (str, os.PathLike)):
        safetensors.numpy.save_file(encoder.tensors, os.fspath(f), metadata=metadata)
    elif hasattr(f, "write"):
        f.write(safetensors.numpy.save(encoder.tensors, metadata=metadata))
    else:
        raise TypeError(f"ember.save: f must be a path or a binary file object, "
                        f"got {type(f).__name__}")


class _Encoder:
    """Turns an object into a JSON node, collecting its tensors as NumPy arrays."""

    def __init__(self):
        self.tensors: dict[str, np.ndarray] = {}
        self._open: set[int] = set()  # ids of the containers being encoded, to catch cycles

    def encode(self, obj, path: tuple[str, ...]):
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"type": "float", "value": repr(float(obj))}
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return self.encode(obj.item(), path)
        if isinstance(obj, Tensor):
            return self._tensor(obj, path)
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._open:
                raise ValueError(f"ember.save: {_where(path)} contains itself; "
                                 "a checkpoint must not hold reference cycles")
            self._open.add(id(obj))
            try:
                return self._container(obj, path)
            finally:
                self._open.discard(id(obj))
        raise TypeError(f"ember.save: cannot save a {type(obj).__name__} at {_where(path)}; "
                        "ember.save writes tensors, numbers, strings, None, bools and dicts, "
                        "lists and tuples of them (safetensors, no pickle). Save "
                        "model.state_dict() rather than the model, and convert NumPy arrays "
                        "with ember.from_numpy")

    def _container(self, obj, path):
        if isinstance(obj, dict):
            kind = "ordered_dict" if isinstance(obj, OrderedDict) else "dict"
            items = [[self._key(k, path), self.encode(v, path + (str(k),))]
                     for k, v in obj.items()]
            return {"type": kind, "items": items}
        kind = "list" if isinstance(obj, list) else "tuple"
        return {"type": kind, "items": [self.encode(v, path + (str(i),))
                                        for i, v in enumerate(obj)]}

    def _key(self, key, path):
        if key is None or isinstance(key, (bool, int, float, str, np.generic)):
            return self.encode(key, path)
        if isinstance(key, tuple):
            return {"type": "tuple", "items": [self._key(k, path) for k in key]}
        raise TypeError(f"ember.save: cannot save a dict key of type {type(key).__name__} at "
                        f"{_where(path)}; keys must be strings, numbers, None or tuples")

    def _tensor(self, t: Tensor, path):
        base = ".".join(path) or "tensor"
        key, n = base, 1
        while key in self.tensors or key == "__metadata__":  # dotted paths can collide
            key, n = f"{base}#{n}", n + 1
        host = backend.of(t._data).to_numpy(t._data)
        if host.dtype == np.complex128:
            raise TypeError(f"ember.save: the complex128 tensor at {_where(path)} cannot be "
                            "saved: safetensors stores complex64 only; save .cfloat() (or "
                            "ember.view_as_real(t), float64) instead")
        # not np.ascontiguousarray: it turns 0-d arrays into 1-d ones
        self.tensors[key] = host if host.flags.c_contiguous else host.copy(order="C")
        node = {"type": "tensor", "key": key, "device": str(t.device)}
        if t.requires_grad:
            node["requires_grad"] = True
        return node


def _where(path) -> str:
    return f"'{'.'.join(path)}'" if path else "the top level"


# -- load ----------------------------------------------------------------------------------

def load(f: FileLike, map_location: MapLocation = None, *, weights_only: bool = True) -> Any:
    """Loads an object saved by ``ember.save``, any safetensors file, or a PyTorch zip ``.pt``.

    Nothing in the file is executed. A safetensors file is validated (header, dtypes, every
    offset) before its bytes are read; a file without ember's metadata loads as a flat dict
    of tensors. A PyTorch ``torch.save`` archive is read without PyTorch by an unpickler that
    only rebuilds tensors, storages and OrderedDicts and refuses every other global.

    Args:
        f: a path, or a seekable binary file object opened for reading.
        map_location: where tensors go. None or ``'cpu'``: the CPU (unlike torch, None does
            not restore the saved device). A device string or ``ember.device``: that device.
            A dict: maps saved locations to new ones (``{'cuda:1': 'cuda:0'}``); unlisted
            locations are kept. A callable ``fn(tensor, location)``: gets each tensor on the
            CPU with its saved location and returns the tensor to use (None keeps it).
        weights_only: accepted for PyTorch compatibility; ember always loads this way.

    Returns:
        The saved object, with tensors as ``ember.Tensor``.

    Raises:
        InvalidFileError: (a ValueError) the file is malformed, truncated or of an unknown
            kind, naming the file and the problem.
        pickle.UnpicklingError: a ``.pt`` file refers to anything but tensors.

    Example::

        >>> model.load_state_dict(ember.load("model.safetensors"))
        >>> sd = ember.load("resnet.pth", map_location="cpu")  # written by torch.save
    """
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as stream:
            return _load_stream(stream, os.fspath(f), map_location, path=os.fspath(f))
    if not hasattr(f, "read"):
        raise TypeError(f"ember.load: f must be a path or a binary file object, "
                        f"got {type(f).__name__}")
    return _load_stream(f, str(getattr(f, "name", "<file object>")), map_location, path=None)


def _load_stream(stream, name: str, map_location, path: str | None):
    start = stream.tell()
    size = stream.seek(0, os.SEEK_END) - start
    stream.seek(start)
    head = stream.read(8)
    stream.seek(start)

    def make_tensor(array, location: str, requires_grad: bool) -> Tensor:
        return _make_tensor(array, location, requires_grad, map_location)

    if head.startswith(b"PK\x03\x04"):
        from ._pt_unpickler import load_torch_zip
        return load_torch_zip(stream, name, make_tensor)
    if len(head) < 8:
        raise InvalidFileError(f"ember.load: {name}: the file has {size} bytes, too few for a "
                               "safetensors header (8-byte length + JSON)")
    n = struct.unpack("<Q", head)[0]
    if head.startswith(b"\x80") and n > size - 8:
        raise InvalidFileError(f"ember.load: {name}: this is a legacy torch.save file (a bare "
                               f"pickle, not a zip archive), which cannot be read without "
                               f"running its pickle; {_LEGACY_HINT}")
    stream.seek(start + 8)
    raw_header = _read_header(stream, n, size, name)
    entries, metadata = _parse_header(raw_header, size - 8 - n, name)
    stream.seek(start)
    arrays = _read_arrays(stream, size, path, name)
    if metadata is None or _META_KEY not in metadata:
        return {key: make_tensor(arrays[key], "cpu", False) for key in entries}
    return _decode_metadata(metadata[_META_KEY], arrays, name, make_tensor)


def _read_header(stream, n: int, size: int, name: str) -> bytes:
    if n > size - 8:
        raise InvalidFileError(f"ember.load: {name}: header length {n} runs past the end of "
                               f"the file ({size} bytes); the file is truncated or is not a "
                               "safetensors file")
    if n > _MAX_HEADER:
        raise InvalidFileError(f"ember.load: {name}: header length {n} exceeds the "
                               f"{_MAX_HEADER}-byte limit")
    return stream.read(n)


def _read_arrays(stream, size: int, path: str | None, name: str) -> dict[str, np.ndarray]:
    # The header is valid by now, so the package only copies bytes; paths are memory-mapped.
    try:
        if path is not None:
            return safetensors.numpy.load_file(path)
        return safetensors.numpy.load(stream.read(size))
    except SafetensorError as exc:
        raise InvalidFileError(f"ember.load: {name}: {exc}") from exc


def _make_tensor(array: np.ndarray, location: str, requires_grad: bool,
                 map_location) -> Tensor:
    if not array.flags.writeable or not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="), copy=True)
    t = _place(Tensor._make(array), location, map_location)
    if requires_grad and t._data.dtype.kind in "fc":
        t.requires_grad_(True)
    return t


def _place(t: Tensor, location: str, map_location) -> Tensor:
    """``t`` (on the CPU) moved where ``map_location`` sends tensors saved at ``location``."""
    if map_location is None:
        return t
    if callable(map_location) and not isinstance(map_location, (str, Device)):
        out = map_location(t, location)
        if out is None:
            return t
        if not isinstance(out, Tensor):
            raise TypeError(f"ember.load: map_location returned a {type(out).__name__}; "
                            "it must return a Tensor or None")
        return out
    target = map_location.get(location, location) if isinstance(map_location, dict) \
        else map_location
    dev = Device(target)
    if dev.type == "cpu":
        return t
    return Tensor._make(backend.to_device(t._data, dev))


# -- safetensors header validation ---------------------------------------------------------

def _parse_header(raw: bytes, data_size: int, name: str):
    """The header's tensor entries (key -> (dtype, shape, begin, end)) and its metadata."""
    def bad(problem: str):
        raise InvalidFileError(f"ember.load: {name}: {problem}")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        bad("the header is not UTF-8 text")
    if not text.startswith("{"):
        bad("the header does not start with '{'; this is not a safetensors file")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        bad(f"the header is not valid JSON ({exc})")
    if not isinstance(header, dict):
        bad(f"the header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
            isinstance(metadata, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        bad("__metadata__ must be an object mapping strings to strings")
    entries = {key: _parse_entry(key, info, data_size, bad) for key, info in header.items()}
    _check_layout(entries, data_size, bad)
    return entries, metadata


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"duplicate key {dup!r}")
    return dict(pairs)


def _is_index(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _parse_entry(key: str, info, data_size: int, bad):
    if not isinstance(info, dict):
        bad(f"tensor '{key}': expected an object with dtype, shape and data_offsets, "
            f"got {type(info).__name__}")
    missing = [f for f in ("dtype", "shape", "data_offsets") if f not in info]
    if missing:
        bad(f"tensor '{key}': missing {', '.join(missing)}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in _DTYPES:
        hint = " (NumPy has no bfloat16; convert to float32 before saving)" \
            if dtype == "BF16" else ""
        bad(f"tensor '{key}': unsupported dtype {dtype!r}{hint}; ember reads "
            f"{', '.join(_DTYPES)}")
    if not (isinstance(shape, list) and all(_is_index(d) for d in shape)):
        bad(f"tensor '{key}': shape must be a list of non-negative integers, got {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_index, offsets))
            and offsets[0] <= offsets[1]):
        bad(f"tensor '{key}': data_offsets must be [begin, end] with 0 <= begin <= end, "
            f"got {offsets!r}")
    begin, end = offsets
    if end > data_size:
        bad(f"tensor '{key}': data_offsets [{begin}, {end}] run past the end of the data "
            f"({data_size} bytes); the file is truncated")
    need = math.prod(shape) * np.dtype(_DTYPES[dtype]).itemsize
    if end - begin != need:
        bad(f"tensor '{key}': data_offsets [{begin}, {end}] hold {end - begin} bytes, but "
            f"shape {shape} of {dtype} needs {need}")
    return dtype, tuple(shape), begin, end


def _check_layout(entries: dict, data_size: int, bad) -> None:
    """Tensors must tile the data section exactly: no overlaps, gaps or trailing bytes."""
    pos, prev = 0, None
    for key, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin < pos:
            bad(f"tensor '{key}' (bytes {begin}..{end}) overlaps tensor '{prev}' "
                f"(which ends at {pos})")
        if begin > pos:
            bad(f"bytes {pos}..{begin} of the data belong to no tensor (before '{key}')")
        pos, prev = end, key
    if pos != data_size:
        bad(f"{data_size - pos} trailing bytes after the last tensor")


# -- ember metadata ------------------------------------------------------------------------

def _decode_metadata(text: str, arrays: dict, name: str, make_tensor):
    def bad(problem: str):
        raise InvalidFileError(f"ember.load: {name}: malformed ember metadata: {problem}")

    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        bad(f"not valid JSON ({exc})")
    if not isinstance(doc, dict) or "root" not in doc or "version" not in doc:
        bad("expected an object with 'version' and 'root'")
    if doc["version"] != _VERSION:
        bad(f"format version {doc['version']!r}; this ember reads version {_VERSION} "
            "(was the file written by a newer ember?)")
    return _Decoder(arrays, make_tensor, bad).decode(doc["root"], 0)


class _Decoder:
    """Rebuilds the saved object from its JSON nodes, checking each one."""

    def __init__(self, arrays: dict, make_tensor, bad):
        self.arrays, self.make_tensor, self.bad = arrays, make_tensor, bad
        self.tensors: dict[str, Tensor] = {}

    def decode(self, node, depth: int):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if depth > _MAX_DEPTH:
            self.bad(f"nested deeper than {_MAX_DEPTH} levels")
        if not isinstance(node, dict):
            self.bad(f"unexpected JSON {type(node).__name__} where a node belongs")
        kind = node.get("type")
        if kind == "tensor":
            return self._tensor(node)
        if kind in ("dict", "ordered_dict"):
            out = OrderedDict() if kind == "ordered_dict" else {}
            for pair in self._items(node):
                if not (isinstance(pair, list) and len(pair) == 2):
                    self.bad(f"dict items must be [key, value] pairs, got {pair!r:.60}")
                out[self._key(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
            return out
        if kind in ("list", "tuple"):
            items = [self.decode(v, depth + 1) for v in self._items(node)]
            return items if kind == "list" else tuple(items)
        if kind == "float":
            if node.get("value") not in ("nan", "inf", "-inf"):
                self.bad(f"float node value must be 'nan', 'inf' or '-inf', "
                         f"got {node.get('value')!r:.60}")
            return float(node["value"])
        self.bad(f"unknown node type {kind!r:.60}")

    def _items(self, node) -> list:
        items = node.get("items")
        if not isinstance(items, list):
            self.bad(f"{node.get('type')} node needs an 'items' list")
        return items

    def _key(self, node, depth: int):
        key = self.decode(node, depth)
        if not _is_key(key):
            self.bad(f"a dict key must be a string, number, None or tuple, "
                     f"got {type(key).__name__}")
        return key

    def _tensor(self, node) -> Tensor:
        key = node.get("key")
        if not isinstance(key, str) or key not in self.arrays:
            self.bad(f"tensor node refers to {key!r:.60}, which is not a tensor in the file")
        location = node.get("device", "cpu")
        requires_grad = node.get("requires_grad", False)
        if not isinstance(location, str) or not isinstance(requires_grad, bool):
            self.bad(f"tensor '{key}': device must be a string and requires_grad a bool")
        if key not in self.tensors:
            self.tensors[key] = self.make_tensor(self.arrays[key], location, requires_grad)
        return self.tensors[key]


def _is_key(x) -> bool:
    if isinstance(x, tuple):
        return all(_is_key(v) for v in x)
    return x is None or isinstance(x, (bool, int, float, str))
