"""The vectorised samplers behind the distributions: gamma (Marsaglia-Tsang), Poisson
(inversion, Hörmann's PTRS), binomial (waiting times, Hörmann's BTRS), and the implicit
reparameterization gradient of the gamma sample.

Rejection runs on whole tensors: each round draws a proposal for every element and keeps it
where that element is still waiting and the proposal is accepted, until none is waiting. The
draws use ember's RNG on the parameters' device, so on a GPU only the "any left?" test of
each round reads back to the host.
"""
from __future__ import annotations

import math

import ember
from ..autograd import no_grad
from ..autograd.function import Function
from ..tensor import Tensor


def uniform_like(t: Tensor, shape=None) -> Tensor:
    """U[0, 1) samples of ``shape`` (default t's) with t's dtype and device."""
    return ember.rand(tuple(t.shape if shape is None else shape), dtype=t.dtype, device=t.device)


def normal_like(t: Tensor, shape=None) -> Tensor:
    """Standard normal samples of ``shape`` (default t's) with t's dtype and device."""
    return ember.randn(tuple(t.shape if shape is None else shape), dtype=t.dtype,
                       device=t.device)


def _rejection(waiting: Tensor, propose) -> Tensor:
    """Calls ``propose() -> (value, accepted)`` until every ``waiting`` element accepted once;
    elements not waiting at the start stay NaN."""
    out = ember.full(tuple(waiting.shape), math.nan, dtype=ember.float64, device=waiting.device)
    while bool(waiting.any()):
        value, accepted = propose()
        out = ember.where(waiting & accepted, value, out)
        waiting = waiting & ~accepted
    return out


# -- gamma -------------------------------------------------------------------------------------
def sample_standard_gamma(alpha: Tensor) -> Tensor:
    """Gamma(alpha, 1) samples (no gradient), computed in float64, clamped to alpha's tiny.

    Marsaglia and Tsang (2000): for a >= 1 accept d v with v = (1 + c x)^3, x ~ N(0, 1), with
    probability above 0.95; for a < 1 draw Gamma(a + 1) and multiply by U^(1/a).
    """
    with no_grad():
        alpha64 = alpha.double()
        boosted = alpha64 < 1
        a = ember.where(boosted, alpha64 + 1, alpha64)
        d = a - 1 / 3
        c = (9 * d).rsqrt()

        def propose():
            x, u = normal_like(a), uniform_like(a)
            v = (1 + c * x) ** 3
            accepted = (v > 0) & (ember.log(u) < 0.5 * x * x + d - d * v + d * ember.log(v))
            return d * v, accepted

        g = _rejection(ember.isfinite(a) & (a > 0), propose)
        boost = ember.exp(ember.log(uniform_like(a)) / alpha64)
        g = ember.where(boosted, g * boost, g)
        return g.clamp(min=ember.finfo(alpha.dtype).tiny).to(alpha.dtype)


def standard_gamma_grad(alpha: Tensor, sample: Tensor) -> Tensor:
    """d sample / d alpha of a Gamma(alpha, 1) sample, holding its CDF value fixed.

    The implicit reparameterization gradient (Figurnov et al., 2018): -(dP(a, x)/da) / p(x; a)
    with P the regularized incomplete gamma function. dP/da is a central difference of P in
    float64 (of Q = 1 - P in the upper half, where Q is the accurate one), which is good to
    about 1e-8 relative, well below float32 rounding.
    """
    with no_grad():
        a, x = alpha.double(), sample.double()
        h = 1e-4 * ember.minimum(a, a.sqrt())
        upper = ember.igamma(a, x) > 0.5

        def tail(at):
            return ember.where(upper, ember.igammac(at, x), ember.igamma(at, x))

        dtail = (tail(a + h) - tail(a - h)) / (2 * h)
        dcdf = ember.where(upper, -dtail, dtail)
        log_pdf = (a - 1) * ember.log(x) - x - ember.lgamma(a)
        # a ratio of logs, so tail samples with tiny density do not give 0/0
        grad = -ember.sign(dcdf) * ember.exp(ember.log(dcdf.abs()) - log_pdf)
        return grad.to(alpha.dtype)


class _StandardGamma(Function):
    @staticmethod
    def forward(ctx, alpha):
        sample = sample_standard_gamma(alpha)
        ctx.save_for_backward(alpha, sample)
        return sample._data

    @staticmethod
    def backward(ctx, grad):
        alpha, sample = ctx.saved_tensors
        return grad * standard_gamma_grad(alpha, sample)


def standard_gamma(alpha: Tensor) -> Tensor:
    """Gamma(alpha, 1) samples, differentiable in alpha by the implicit gradient."""
    return _StandardGamma.apply(alpha)


# -- Poisson -----------------------------------------------------------------------------------
def poisson(rate: Tensor) -> Tensor:
    """Poisson(rate) counts in rate's dtype: inversion below rate 10, PTRS above."""
    with no_grad():
        lam = rate.double()
        valid = ember.isfinite(lam) & (lam >= 0)
        lam = ember.where(valid, lam, 0.0)
        small = lam < 10
        out = ember.zeros_like(lam)
        if bool(small.any()):
            out = ember.where(small, _poisson_inversion(ember.where(small, lam, 0.0)), out)
        if not bool(small.all()):
            out = ember.where(small, out, _poisson_ptrs(ember.where(small, 10.0, lam)))
        return ember.where(valid, out, math.nan).to(rate.dtype)


def _poisson_inversion(lam: Tensor) -> Tensor:
    """Sequential search of the CDF; about lam + 1 rounds."""
    u = uniform_like(lam)
    k = ember.zeros_like(lam)
    p = ember.exp(-lam)
    cdf = p
    waiting = u > cdf
    i = 0
    while bool(waiting.any()):
        i += 1
        k = k + waiting.to(k.dtype)
        p = p * lam / i
        cdf = cdf + p
        waiting = waiting & (u > cdf) & (p > 0)  # p == 0: the CDF has stopped moving
    return k


def _poisson_ptrs(lam: Tensor) -> Tensor:
    """Hörmann's transformed rejection with squeeze (PTRS, 1993), for lam >= 10."""
    log_lam = ember.log(lam)
    b = 0.931 + 2.53 * lam.sqrt()
    a = -0.059 + 0.02483 * b
    log_inv_alpha = ember.log(1.1239 + 1.1328 / (b - 3.4))
    vr = 0.9277 - 3.6224 / (b - 2)

    def propose():
        u, v = uniform_like(lam) - 0.5, uniform_like(lam)
        us = 0.5 - u.abs()
        k = ember.floor((2 * a / us + b) * u + lam + 0.43)
        quick = (us >= 0.07) & (v <= vr)
        lhs = ember.log(v) + log_inv_alpha - ember.log(a / (us * us) + b)
        rhs = -lam + k * log_lam - ember.lgamma(k + 1)
        slow = (k >= 0) & ~((us < 0.013) & (v > us)) & (lhs <= rhs)
        return k, quick | slow

    return _rejection(ember.ones_like(lam, dtype=ember.bool), propose)


# -- binomial ----------------------------------------------------------------------------------
def binomial(count: Tensor, prob: Tensor) -> Tensor:
    """Binomial(count, prob) counts in count's dtype (the two broadcast).

    With q = min(p, 1 - p): waiting times between successes below n q = 10, BTRS above.
    """
    with no_grad():
        n, p = ember.broadcast_tensors(count.double(), prob.double())
        valid = (n >= 0) & (p >= 0) & (p <= 1) & ember.isfinite(n)
        flip = p > 0.5
        q = ember.where(valid, ember.where(flip, 1 - p, p), 0.0)
        n = ember.where(valid, n, 0.0)
        small = n * q < 10
        out = ember.zeros_like(n)
        if bool(small.any()):
            out = ember.where(small, _binomial_waiting(ember.where(small, n, 0.0),
                                                      ember.where(small, q, 0.0)), out)
        if not bool(small.all()):
            out = ember.where(small, out, _binomial_btrs(ember.where(small, 40.0, n),
                                                        ember.where(small, 0.5, q)))
        out = ember.where(flip, n - out, out)
        return ember.where(valid, out, math.nan).to(count.dtype)


def _binomial_waiting(n: Tensor, q: Tensor) -> Tensor:
    """Counts the successes among n trials by jumping geometric gaps between them."""
    log1m_q = ember.log1p(-q)
    k = ember.zeros_like(n)
    position = ember.zeros_like(n)
    waiting = (n > 0) & (q > 0)
    while bool(waiting.any()):
        gap = ember.ceil(ember.log(uniform_like(n)) / log1m_q)  # trials to the next success
        position = position + gap
        waiting = waiting & (position <= n)
        k = k + waiting.to(k.dtype)
    return k


def _binomial_btrs(n: Tensor, q: Tensor) -> Tensor:
    """Hörmann's transformed rejection with squeeze (BTRS, 1993), for n q >= 10, q <= 1/2."""
    spq = (n * q * (1 - q)).sqrt()
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q
    c = n * q + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    log_odds = ember.log(q / (1 - q))
    m = ember.floor((n + 1) * q)
    h = ember.lgamma(m + 1) + ember.lgamma(n - m + 1)

    def propose():
        u, v = uniform_like(n) - 0.5, uniform_like(n)
        us = 0.5 - u.abs()
        k = ember.floor((2 * a / us + b) * u + c)
        inside = (k >= 0) & (k <= n)
        quick = (us >= 0.07) & (v <= vr)
        lhs = ember.log(v * alpha / (a / (us * us) + b))
        rhs = h - ember.lgamma(k + 1) - ember.lgamma(n - k + 1) + (k - m) * log_odds
        return k, inside & (quick | (lhs <= rhs))

    return _rejection(ember.ones_like(n, dtype=ember.bool), propose)


# -- categorical -------------------------------------------------------------------------------
def categorical(probs: Tensor, sample_shape) -> Tensor:
    """Indices (int64) of shape ``sample_shape + probs.shape[:-1]``, by inverting the CDF."""
    with no_grad():
        cdf = probs.double().cumsum(-1)
        cdf = cdf / cdf[..., -1:]  # the last entry exactly 1, so u < 1 always lands
        shape = tuple(sample_shape) + tuple(probs.shape[:-1])
        u = uniform_like(cdf, shape).unsqueeze(-1)
        index = (cdf <= u).sum(-1)
        return index.clamp(max=probs.shape[-1] - 1).long()


def multinomial(total_count: Tensor, probs: Tensor, sample_shape) -> Tensor:
    """Counts of shape ``sample_shape + probs.shape`` (probs' dtype): one binomial draw per
    category, of the trials left over at the mass left over."""
    with no_grad():
        shape = tuple(sample_shape) + tuple(probs.shape)
        p = probs.double()
        p = (p / p.sum(-1, keepdim=True)).expand(shape)
        tail = p.flip(-1).cumsum(-1).flip(-1)  # mass of this category and those after it
        left = total_count.double().expand(shape[:-1])
        counts = []
        for i in range(shape[-1]):
            share = ember.where(tail[..., i] > 0, p[..., i] / tail[..., i], 0.0).clamp(0, 1)
            count = binomial(left, share)
            counts.append(count)
            left = left - count
        return ember.stack(counts, -1).to(probs.dtype)
