"""CTC loss: the connectionist temporal classification negative log-likelihood, as PyTorch.

One primitive, the per-sequence negative log-likelihood of (T, N, C) log-probabilities. Its
forward runs the alpha recursion in log space over the extended targets (a blank between and
around the labels), one vectorised step per time step; its backward runs the beta recursion
and gives PyTorch's gradient ``exp(log_probs) - exp(log(sum of alpha*beta per label) + nll -
log_probs)``: the gradient through the log_softmax that should precede the loss, folded in.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..tensor import Tensor

_make = Tensor._make


def _log_sum(*terms):
    """log(sum(exp(terms))) elementwise, shifted by the largest (0 when all are -inf)."""
    xp = backend.xp_of(terms[0])
    top = terms[0]
    for t in terms[1:]:
        top = xp.maximum(top, t)
    top = xp.where(xp.isneginf(top), 0, top).astype(terms[0].dtype, copy=False)
    total = xp.exp(terms[0] - top)
    for t in terms[1:]:
        total = total + xp.exp(t - top)
    with np.errstate(divide="ignore"):
        return xp.log(total) + top


def _shift(a, k: int, fill):
    """a moved k places along the last axis (k > 0: towards higher s), ``fill`` entering."""
    xp = backend.xp_of(a)
    out = xp.full(a.shape, fill, a.dtype)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


class CTCNegLogLikelihood(Function):
    """-log p(target | log_probs) per sequence.

    forward(log_probs (T, N, C), extended (N, S) int64 labels with blanks, input_lengths and
    target_lengths (N,) int64 arrays on the device, steps (the longest input length, at least
    1), zero_infinity) -> (N,).
    """

    @staticmethod
    def forward(ctx, log_probs, extended, input_lengths, target_lengths, steps, zero_infinity):
        lp = log_probs._data
        xp = backend.xp_of(lp)
        neg_inf = lp.dtype.type(-np.inf)
        n = lp.shape[1]
        batch = xp.arange(n)
        lp_ext = lp[:steps, batch[:, None], extended]  # (T, N, S): log p per extended label
        skip = xp.zeros(extended.shape, bool)     # s may come from s - 2 (distinct labels)
        skip[:, 2:] = extended[:, 2:] != extended[:, :-2]
        alpha = xp.full((steps,) + extended.shape, neg_inf, lp.dtype)
        alpha[0, :, 0] = lp_ext[0, :, 0]
        if extended.shape[1] > 1:
            alpha[0, :, 1] = xp.where(target_lengths > 0, lp_ext[0, :, 1], neg_inf)
        for t in range(1, steps):
            prev = alpha[t - 1]
            alpha[t] = _log_sum(prev, _shift(prev, 1, neg_inf),
                                xp.where(skip, _shift(prev, 2, neg_inf), neg_inf)) + lp_ext[t]
        last = xp.maximum(input_lengths - 1, 0)
        end = alpha[last, batch, 2 * target_lengths]
        before = xp.where(target_lengths > 0,
                          alpha[last, batch, xp.maximum(2 * target_lengths - 1, 0)], neg_inf)
        nll = -_log_sum(end, before)
        # an empty input explains only an empty target
        nll = xp.where(input_lengths == 0, xp.where(target_lengths == 0, 0, np.inf), nll)
        nll = nll.astype(lp.dtype, copy=False)
        ctx.saved = (lp_ext, skip, alpha, nll)
        ctx.args = (extended, input_lengths, target_lengths, zero_infinity, lp.shape)
        ctx.save_for_backward(log_probs)
        return nll

    @staticmethod
    def backward(ctx, grad):
        log_probs, = ctx.saved_tensors
        lp_ext, skip, alpha, nll = ctx.saved
        extended, input_lengths, target_lengths, zero_infinity, shape = ctx.args
        lp = log_probs._data
        xp = backend.xp_of(lp)
        steps, n, s = alpha.shape
        beta = _beta(lp_ext, skip, input_lengths, target_lengths)
        # log of sum over the extended positions holding label c of alpha * beta
        both = alpha + beta
        top = both.max(axis=2, keepdims=True)
        top = xp.where(xp.isneginf(top), 0, top).astype(lp.dtype, copy=False)
        total = xp.zeros((steps, n, shape[2]), lp.dtype)
        t_index = xp.arange(steps).reshape(-1, 1, 1)
        b_index = xp.arange(n).reshape(1, -1, 1)
        backend.of(total).scatter_add(total, (t_index, b_index, extended[None]),
                                      xp.exp(both - top))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lcab = xp.log(total) + top
            g = xp.exp(lp[:steps]) - xp.exp(lcab + nll[None, :, None] - lp[:steps])
        live = xp.arange(steps).reshape(-1, 1) < input_lengths.reshape(1, -1)  # (T', N)
        if zero_infinity:
            live = live & ~xp.isinf(nll).reshape(1, -1)
        g = xp.where(live[:, :, None], g, 0).astype(lp.dtype, copy=False)
        full = xp.zeros(shape, lp.dtype)
        full[:steps] = g
        return _make(full) * grad.reshape(1, -1, 1), None, None, None, None, None


def _beta(lp_ext, skip, input_lengths, target_lengths):
    """The backward variables: log p(rest of the target from s at t) per (t, n, s)."""
    xp = backend.xp_of(lp_ext)
    neg_inf = lp_ext.dtype.type(-np.inf)
    steps, n, s = lp_ext.shape
    skip_up = _shift(skip, -2, False)  # s may come from s + 2
    positions = xp.arange(s).reshape(1, -1)
    end = 2 * target_lengths.reshape(-1, 1)
    finals = (positions == end) | ((positions == end - 1) & (end > 0))
    beta = xp.full((steps, n, s), neg_inf, lp_ext.dtype)
    following = None
    for t in range(steps - 1, -1, -1):
        if following is None:
            current = xp.full((n, s), neg_inf, lp_ext.dtype)
        else:
            current = _log_sum(following, _shift(following, -1, neg_inf),
                               xp.where(skip_up, _shift(following, -2, neg_inf), neg_inf)) \
                + lp_ext[t]
        starts = (input_lengths - 1 == t).reshape(-1, 1)
        current = xp.where(starts, xp.where(finals, lp_ext[t], neg_inf), current)
        current = xp.where((input_lengths - 1 < t).reshape(-1, 1), neg_inf, current)
        beta[t] = current
        following = current
    return beta
