"""Tensor.__repr__ in PyTorch's format: tensor([...], dtype=..., requires_grad=True)."""
from __future__ import annotations

import numpy as np

from . import backend

_DEFAULT_DTYPES = ("float32", "int64", "bool")
_THRESHOLD, _EDGE = 1000, 3


def _shown(data: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows (all of them for small tensors)."""
    flat = data.reshape(-1)
    if flat.size <= _THRESHOLD:
        return flat
    return np.concatenate([flat[:_EDGE], flat[-_EDGE:]])


def _float_format(values: np.ndarray):
    """PyTorch's choice: integers as '3.', fixed '0.1235', or scientific '1.2346e+05'."""
    finite = values[np.isfinite(values)]
    nonzero = np.abs(finite[finite != 0])
    integral = finite.size == 0 or np.all(finite == np.ceil(finite))
    big = nonzero.max() if nonzero.size else 0.0
    small = nonzero.min() if nonzero.size else 0.0
    ratio = big / small if small else 0.0
    if integral:
        sci = ratio > 1000 or big > 1e8
        fmt = "{:.4e}" if sci else "{:.0f}."
    else:
        sci = ratio > 1000 or big > 1e8 or (small and small < 1e-4)
        fmt = "{:.4e}" if sci else "{:.4f}"

    def one(v):
        return fmt.format(v) if np.isfinite(v) else str(v)
    return one


def tensor_repr(t) -> str:
    data = backend.of(t._data).to_numpy(t._data)
    suffixes = []
    if str(t.device) != "cpu":
        suffixes.append(f"device='{t.device}'")
    if data.size == 0 and data.shape != (0,):
        suffixes.append(f"size={tuple(data.shape)}")
    if data.dtype.name not in _DEFAULT_DTYPES or (data.size == 0 and data.dtype.name != "float32"):
        suffixes.append(f"dtype=ember.{data.dtype.name}")
    body = _body(data)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + suffixes) + ")"


def _body(data: np.ndarray) -> str:
    if data.size == 0:
        return "[]"
    kind = data.dtype.kind
    if kind == "f":
        fmt = _float_format(data.astype(np.float64))
    elif kind == "b":
        fmt = str
    else:
        fmt = str
    shown = _shown(data)
    if kind == "f":  # as PyTorch: only finite nonzero values set the column width
        shown = shown[np.isfinite(shown) & (shown != 0)]
    width = max((len(fmt(v)) for v in shown.tolist()), default=0)
    kind_key = {"f": "float_kind", "b": "bool", "i": "int", "u": "int"}[kind]
    body = np.array2string(data, separator=", ", prefix="tensor(", threshold=_THRESHOLD,
                           edgeitems=_EDGE, max_line_width=80,
                           formatter={kind_key: lambda v: fmt(v).rjust(width)})
    return body.replace(", ...,", ",  ...,")
