"""assert_close and make_tensor, as torch.testing."""
from __future__ import annotations

import numpy as np

from . import backend, creation, dtypes
from .ops.movement import stack
from .tensor import Tensor

# PyTorch's default tolerances per dtype: (rtol, atol)
_TOLERANCES = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
               np.dtype(np.float64): (1e-7, 1e-7)}


def _host(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return backend.of(x._data).to_numpy(x._data)
    return np.asarray(x)


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False,
                 check_dtype=True, msg=None) -> None:
    """Raises AssertionError unless ``actual`` and ``expected`` are close elementwise."""
    a, e = _host(actual), _host(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: "
                                    f"{a.shape} != {e.shape}.")
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor) \
            and a.dtype != e.dtype:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: "
                                    f"ember.{a.dtype} != ember.{e.dtype}.")
    default_rtol, default_atol = _TOLERANCES.get(a.dtype, (0.0, 0.0))
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    if a.dtype.kind in "fc" or e.dtype.kind in "fc":
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    else:
        close = a == e
    if not np.all(close):
        bad = np.argwhere(~np.asarray(close))
        diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
        raise AssertionError(msg or (
            f"Tensor-likes are not close!\n\nMismatched elements: {len(bad)} / {a.size} "
            f"({100 * len(bad) / max(a.size, 1):.1f}%)\nGreatest absolute difference: "
            f"{np.nanmax(diff):.6g} (up to {atol} allowed)\nGreatest relative difference: "
            f"{np.nanmax(diff / np.maximum(np.abs(e), 1e-30)):.6g} (up to {rtol} allowed)"))


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False,
                noncontiguous=False) -> Tensor:
    """A random tensor of ``shape`` with values in [low, high)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    d = dtypes.as_dtype(dtype)
    if d is dtypes.bool:
        t = creation.randint(0, 2, shape).to(d)
    elif d.is_floating_point:
        lo, hi = (-9.0 if low is None else low), (9.0 if high is None else high)
        t = creation.rand(shape, dtype=dtypes.float64) * (hi - lo) + lo
        t = t.to(d)
    else:
        lo = -9 if low is None else int(low)
        hi = 10 if high is None else int(high)
        lo = max(lo, 0) if d is dtypes.uint8 else lo
        t = creation.randint(lo, hi, shape, dtype=d)
    if noncontiguous and t.numel() > 1:
        t = stack([t, t], -1)[..., 0]
    if device is not None:
        t = t.to(device)
    return t.requires_grad_(requires_grad) if requires_grad else t
