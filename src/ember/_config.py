"""Global switches torch exposes at its top level, and the layout / memory_format tokens.

Most only store their value for code that reads it back: ember's kernels are deterministic
(NumPy's on the CPU; on a GPU the scatter-adds of CuPy may not be), always compute float32
matmuls in full precision, keep denormals, and use one CPU thread pool (set_num_threads).
"""
from __future__ import annotations

import builtins

from .autograd.grad_mode import _State
from .device import device as Device


class layout:
    """A tensor memory layout (ember has the dense one only: ``ember.strided``)."""

    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return f"ember.{self._name}"

    def __reduce__(self):
        return self._name


class memory_format:
    """A memory-format token for ``memory_format=`` arguments (accepted; ember's tensors are
    row-major)."""

    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return f"ember.{self._name}"

    def __reduce__(self):
        return self._name


strided = layout("strided")
contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


class _Flags:
    deterministic = False
    deterministic_warn_only = False
    matmul_precision = "highest"
    warn_always = False
    interop_threads = 1
    anomaly_without_nan = False  # anomaly mode on with check_nan=False: nothing to check


# -- determinism ---------------------------------------------------------------------------------
def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Records whether deterministic algorithms are asked for (ember's CPU kernels always
    are; the flag is stored for code that reads it)."""
    if not isinstance(mode, builtins.bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not "
                        f"{type(mode).__name__}")
    _Flags.deterministic, _Flags.deterministic_warn_only = mode, bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _Flags.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _Flags.deterministic_warn_only


_DEBUG_MODES = ("default", "warn", "error")


def set_deterministic_debug_mode(debug_mode) -> None:
    """0 / 'default': off, 1 / 'warn': deterministic with warnings, 2 / 'error': on."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, "
                               f"`warn`, `error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    if not _Flags.deterministic:
        return 0
    return 1 if _Flags.deterministic_warn_only else 2


# -- numerics and threads ------------------------------------------------------------------------
def set_float32_matmul_precision(precision: str) -> None:
    """Stored only: ember's float32 matmuls are always full precision ('highest')."""
    if precision not in ("highest", "high", "medium"):
        import warnings
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", stacklevel=2)
        return
    _Flags.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _Flags.matmul_precision


def set_flush_denormal(mode: bool) -> bool:
    """Returns False: ember cannot switch the CPU's denormal handling (torch returns whether
    it could)."""
    return False


def set_warn_always(b: bool) -> None:
    """Stored for is_warn_always_enabled (ember's warnings follow Python's filters)."""
    _Flags.warn_always = bool(b)


def is_warn_always_enabled() -> bool:
    return _Flags.warn_always


def set_num_interop_threads(n: int) -> None:
    """Stored only: ember runs ops one after another (its intra-op pool is set_num_threads)."""
    if isinstance(n, builtins.bool) or not isinstance(n, builtins.int) or n <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    _Flags.interop_threads = n


def get_num_interop_threads() -> int:
    return _Flags.interop_threads


# -- devices ---------------------------------------------------------------------------------------
def get_default_device() -> Device:
    """The device creation functions use without a ``device=``: always the CPU in ember."""
    return Device("cpu")


def set_default_device(device) -> None:
    """Only the CPU (or None) is accepted: ember's creation functions and its internals
    create on the CPU unless given a device, and changing that globally is not supported."""
    if device is not None and Device(device).type != "cpu":
        raise NotImplementedError(f"set_default_device: ember creates tensors on the CPU "
                                  f"unless given device=; pass device={str(device)!r} to the "
                                  f"creation functions or move tensors with .to() instead")


def get_device(input) -> int:
    """The GPU index of a cuda tensor; -1 on the CPU."""
    return input.get_device()


# -- autograd modes ------------------------------------------------------------------------------
def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turns anomaly mode on or off, as autograd.detect_anomaly does for a block. ember's
    anomaly mode is its NaN/inf check, so ``check_nan=False`` only records the mode."""
    _State.anomaly = bool(enabled and check_nan)
    _Flags.anomaly_without_nan = bool(enabled and not check_nan)


def is_anomaly_enabled() -> bool:
    return _State.anomaly or _Flags.anomaly_without_nan


def is_anomaly_check_nan_enabled() -> bool:
    return _State.anomaly or not _Flags.anomaly_without_nan


def is_inference_mode_enabled() -> bool:
    return _State.inference


def is_inference(input) -> bool:
    """False: ember has no inference tensors (inference_mode works as no_grad)."""
    return False


def typename(obj) -> str:
    """A readable type name: 'ember.FloatTensor' for a float32 tensor (torch's legacy tensor
    type names), else the object's module and qualified name."""
    from .tensor import Tensor
    if isinstance(obj, Tensor):
        return _legacy_type_name(obj)
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module, qualname = type(obj).__module__ or "", type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


_LEGACY_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                 "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _legacy_type_name(t) -> str:
    name = _LEGACY_NAMES.get(t.dtype.name, t.dtype.name)
    return f"ember.{'cuda.' if t.device.type == 'cuda' else ''}{name}Tensor"
