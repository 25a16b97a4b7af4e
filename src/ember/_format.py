"""Tensor.__repr__ in PyTorch's format, tensor([...], dtype=..., requires_grad=True), with the
options of ``ember.set_printoptions`` (PyTorch's algorithm: summarised rows, one width per
tensor, integer / fixed / scientific notation chosen from the values shown)."""
from __future__ import annotations

import math

import numpy as np

from . import backend, dtypes


class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _PrintOptions()
# (precision, threshold, edgeitems, linewidth) of torch's profiles
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
             "full": (4, math.inf, 3, 80)}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Sets how tensors print, as torch.set_printoptions.

    Args:
        precision: digits after the point of floats (default 4).
        threshold: more elements than this are summarised with '...' (default 1000).
        edgeitems: items shown at each end of every summarised dim (default 3).
        linewidth: characters per line before a row wraps (default 80).
        profile: 'default', 'short' or 'full' sets the four above; the others override it.
        sci_mode: True or False forces scientific notation on or off; None (the default, also
            when omitted, as in torch) lets the values choose.

    Example:
        >>> ember.set_printoptions(precision=2)
        >>> ember.tensor([1.12345])
        tensor([1.12])
        >>> ember.set_printoptions(profile="default")
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected one of "
                             f"{', '.join(map(repr, _PROFILES))}")
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
         PRINT_OPTS.linewidth) = _PROFILES[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current print options, as torch._tensor_str.get_printoptions."""
    return {name: getattr(PRINT_OPTS, name) for name in
            ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")}


class _Formatter:
    """How the elements of one tensor print: one width for all, and for floats PyTorch's
    choice of integers ('3.'), fixed ('0.1235') or scientific ('1.2346e+05') notation, made
    from the finite non-zero values shown."""

    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = values.reshape(-1)
        if not self.floating:
            self.width = max((len(str(v)) for v in flat.tolist()), default=1)
            return
        flat = flat.astype(np.float64)
        shown = flat[np.isfinite(flat) & (flat != 0)]
        if shown.size == 0:
            return
        low, high = np.abs(shown).min(), np.abs(shown).max()
        self.int_mode = bool(np.all(shown == np.ceil(shown)))
        auto = high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
        self.sci_mode = bool(auto if PRINT_OPTS.sci_mode is None else PRINT_OPTS.sci_mode)
        point = 1 if self.int_mode and not self.sci_mode else 0  # the '.' of '3.'
        self.width = max(len(self._plain(v)) for v in shown.tolist()) + point

    def _plain(self, value: float) -> str:
        if self.sci_mode:
            return f"{value:.{PRINT_OPTS.precision}e}"
        if self.int_mode:
            return f"{value:.0f}"
        return f"{value:.{PRINT_OPTS.precision}f}"

    def __call__(self, value) -> str:
        text = self._plain(value) if self.floating else f"{value}"
        if self.floating and self.int_mode and not self.sci_mode and math.isfinite(value):
            text += "."
        return text.rjust(self.width)


class _ComplexFormatter:
    """Complex elements, as PyTorch: real and imaginary parts each with a formatter of its
    own ('1.+2.j'); the imaginary part is not padded."""

    def __init__(self, values: np.ndarray):
        self.real, self.imag = _Formatter(values.real), _Formatter(values.imag)
        self.width = self.real.width + self.imag.width + 1  # the 'j'

    def __call__(self, value) -> str:
        imag = (self.imag(value.imag) + "j").lstrip()
        return self.real(value.real) + (imag if imag[0] in "+-" else "+" + imag)


def _summarized(data: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows: ``edgeitems`` at each end of every dim."""
    edge = PRINT_OPTS.edgeitems
    if data.ndim == 0:
        return data
    if data.ndim == 1:
        return np.concatenate([data[:edge], data[-edge:]]) if len(data) > 2 * edge else data
    if not edge:
        return data[(slice(0, 0),) * data.ndim]
    rows = _rows(len(data), True)
    return np.stack([_summarized(data[i]) for i in rows if i is not None])


def _rows(n: int, summarize: bool) -> list:
    """Row indices to print, None standing for the '...' of a summarised dim."""
    edge = PRINT_OPTS.edgeitems
    if summarize and n > 2 * edge:
        return [*range(edge), None, *range(n - edge, n)]
    return list(range(n))


def _vector_str(data: np.ndarray, indent: int, summarize: bool, fmt) -> str:
    # an element takes its width plus ', '
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2)))
    if summarize and not PRINT_OPTS.edgeitems:
        items = ["..."]
    else:
        items = [" ..." if i is None else fmt(data[i].item()) for i in _rows(len(data), summarize)]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(data: np.ndarray, indent: int, summarize: bool, fmt) -> str:
    if data.ndim == 0:
        return fmt(data.item())
    if data.ndim == 1:
        return _vector_str(data, indent, summarize, fmt)
    parts = ["..." if i is None else _nested_str(data[i], indent + 1, summarize, fmt)
             for i in _rows(len(data), summarize)]
    return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _tensor_str(data: np.ndarray, indent: int) -> str:
    summarize = data.size > PRINT_OPTS.threshold
    formatter = _ComplexFormatter if data.dtype.kind == "c" else _Formatter
    fmt = formatter(_summarized(data) if summarize else data)
    return _nested_str(data, indent, summarize, fmt)


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    """', suffix' after the body, or on a new line where the line would pass linewidth."""
    parts = [text]
    line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line += len(suffix) + 2
    return "".join(parts) + ")"


def _implicit_dtypes() -> tuple:
    """The dtypes a repr leaves unnamed (its values show them)."""
    return (dtypes.get_default_dtype().numpy, dtypes.default_complex(), np.dtype(np.int64),
            np.dtype(np.bool_))


def tensor_repr(t) -> str:
    data = backend.of(t._data).to_numpy(t._data)
    prefix = "tensor("
    suffixes = []
    if str(t.device) != "cpu":
        suffixes.append(f"device='{t.device}'")
    dtype_suffix = f"dtype=ember.{data.dtype.name}"
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if data.dtype != dtypes.get_default_dtype().numpy:
            suffixes.append(dtype_suffix)
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(data.shape)}")
        if data.dtype not in _implicit_dtypes():
            suffixes.append(dtype_suffix)
        body = _tensor_str(data, len(prefix))
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, len(prefix))
