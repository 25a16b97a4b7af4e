"""detect_anomaly(): after every op (forward and backward), fail on NaN or inf, naming the op."""
from __future__ import annotations

import numpy as np

from .grad_mode import _State


class detect_anomaly:
    """Context manager: raise RuntimeError as soon as an op produces NaN or inf."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = _State.anomaly
        _State.anomaly = self.check_nan

    def __exit__(self, *exc):
        _State.anomaly = self._prev
        return False


def is_anomaly_enabled() -> bool:
    return _State.anomaly


def check(name: str, outputs, phase: str) -> None:
    """Raise when any floating array in ``outputs`` holds NaN or inf."""
    from .. import backend
    for i, out in enumerate(outputs):
        data = getattr(out, "_data", out)
        if isinstance(data, np.generic):
            data = np.asarray(data)
        if data is None or getattr(data, "dtype", None) is None or data.dtype.kind not in "fc":
            continue
        if not backend.xp_of(data).isfinite(data).all():
            raise RuntimeError(f"Function '{name}' returned nan or inf values in its {i}th "
                               f"output ({phase}).")
