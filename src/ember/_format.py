"""Tensor.__repr__ in PyTorch's format: tensor([...], dtype=..., requires_grad=True)."""
from __future__ import annotations

import numpy as np

from . import backend

_DEFAULT_DTYPES = ("float32", "int64", "bool")


def _float_formatter(values: np.ndarray):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    if np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    big, small = np.abs(finite).max(), np.abs(finite[finite != 0]).min() if (finite != 0).any() else 1
    if big >= 1e8 or small < 1e-4 or big / small > 1e3 and big > 1e3:
        return lambda v: f"{v:.4e}" if np.isfinite(v) else str(v)
    return lambda v: f"{v:.4f}" if np.isfinite(v) else str(v)


def _shown(data: np.ndarray, edge: int = 3, threshold: int = 1000) -> np.ndarray:
    """The elements a summarised print shows (all of them for small tensors)."""
    flat = data.reshape(-1)
    if flat.size <= threshold:
        return flat
    return np.concatenate([flat[:edge], flat[-edge:]])


def tensor_repr(t) -> str:
    data = backend.of(t._data).to_numpy(t._data)
    suffixes = []
    if str(t.device) != "cpu":
        suffixes.append(f"device='{t.device}'")
    if data.size == 0 and data.shape != (0,):
        suffixes.append(f"size={tuple(data.shape)}")
    kind = data.dtype.kind
    if data.dtype.name not in _DEFAULT_DTYPES:
        suffixes.append(f"dtype=ember.{data.dtype.name}")
    formatter = {}
    if kind == "f" and data.size:
        fmt = _float_formatter(data.astype(np.float64))
        if fmt is not None:
            width = max(len(fmt(v)) for v in _shown(data))
            formatter = {"float_kind": lambda v: fmt(v).rjust(width)}
    body = np.array2string(data, separator=", ", prefix="tensor(", formatter=formatter or None,
                           threshold=1000, edgeitems=3, max_line_width=80)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + suffixes) + ")"
