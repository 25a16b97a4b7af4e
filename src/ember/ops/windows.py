"""Window functions (torch.hann_window and kin): 1-D tensors of the default float dtype, made
on the requested device.

A periodic window of length n is the symmetric window of length n + 1 without its last
point, as in PyTorch (the form spectral analysis wants).
"""
from __future__ import annotations

import math

import numpy as np

from .. import creation, dtypes
from ..tensor import Tensor


def _window(op: str, length: int, periodic: bool, dtype, device, requires_grad: bool,
            formula) -> Tensor:
    """The window ``formula(xp, k, n)`` over points k = 0..n-1, computed in float64."""
    if length < 0:
        raise RuntimeError(f"{op} requires non-negative window_length, got "
                           f"window_length={length}")
    dt = dtypes.to_numpy(dtype) if dtype is not None else dtypes.get_default_dtype().numpy
    if dt.kind != "f":
        raise RuntimeError(f"{op} expects floating point dtypes, got: {dtypes.from_numpy(dt)}")

    def make(xp):
        if length <= 1:
            return xp.ones(length, dt)
        n = length + 1 if periodic else length
        return formula(xp, xp.arange(n, dtype=np.float64), n)[:length].astype(dt)
    return creation._create(device, requires_grad, make)


def _cosine_sum(*coefficients):
    """The window sum_j (-1)^j a_j cos(2 pi j k / (n - 1))."""
    def formula(xp, k, n):
        phase = 2 * math.pi * k / (n - 1)
        return sum((-1) ** j * a * xp.cos(j * phase) for j, a in enumerate(coefficients))
    return formula


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                requires_grad: bool = False) -> Tensor:
    """The Hann window: 0.5 - 0.5 cos(2 pi k / (n - 1)).

    Example:
        >>> ember.hann_window(4)
        tensor([0.0000, 0.5000, 1.0000, 0.5000])
    """
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum(0.5, 0.5))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype=None, device=None,
                   requires_grad: bool = False) -> Tensor:
    """The Hamming window: alpha - beta cos(2 pi k / (n - 1))."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum(alpha, beta))


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                    requires_grad: bool = False) -> Tensor:
    """The Blackman window: 0.42 - 0.5 cos(2 pi k / (n - 1)) + 0.08 cos(4 pi k / (n - 1))."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum(0.42, 0.5, 0.08))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                    requires_grad: bool = False) -> Tensor:
    """The Bartlett (triangular) window: 1 - |2k / (n - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda xp, k, n: 1 - xp.abs(2 * k / (n - 1) - 1))


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Kaiser window: I0(beta sqrt(1 - (2k / (n - 1) - 1)^2)) / I0(beta), I0 being the
    modified Bessel function of order 0."""
    def formula(xp, k, n):
        ratio = 2 * k / (n - 1) - 1
        return _i0(xp, beta * xp.sqrt(xp.maximum(1 - ratio * ratio, 0)), abs(beta)) / \
            _i0(xp, xp.asarray(float(beta)), abs(beta))
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   formula)


def _i0(xp, x, largest: float):
    """I0(x) = sum_m ((x/2)^m / m!)^2 for |x| <= ``largest``, to float64 precision. The
    number of terms is found on the host from ``largest``, so the device never waits."""
    terms, term, total, m = 1, 1.0, 1.0, 0
    while term > 1e-17 * total:
        m += 1
        term *= (largest / 2) ** 2 / (m * m)
        total += term
        terms += 1
    quarter = (x / 2) ** 2
    out, term = xp.ones_like(x), xp.ones_like(x)
    for m in range(1, terms):
        term = term * quarter / (m * m)
        out = out + term
    return out
