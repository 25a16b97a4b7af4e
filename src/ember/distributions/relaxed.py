"""Continuous relaxations of Bernoulli and one-hot categorical samples (the Concrete /
Gumbel-softmax distributions), reparameterizable at a ``temperature``."""
from __future__ import annotations

import math

import ember
from ..tensor import Size
from . import constraints
from .discrete import Categorical, _BinaryParams, _one_of
from .distribution import Distribution
from .sampling import uniform_like
from .transformed import TransformedDistribution
from .transforms import ExpTransform, SigmoidTransform
from .utils import broadcast_all, clamp_probs


def _softplus(x):
    return ember.nn.functional.softplus(x)


def _like(temperature, param):
    """The temperature (a number or a tensor) as a tensor of param's dtype and device."""
    return ember.as_tensor(temperature, dtype=param.dtype, device=param.device)


class LogitRelaxedBernoulli(_BinaryParams, Distribution):
    """The logit of a RelaxedBernoulli sample: (logit(U) + logits) / temperature."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True
    _batched = ("probs", "logits")

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self.temperature = temperature
        _one_of(probs, logits)
        if probs is not None:
            self.probs, = broadcast_all(probs)
        else:
            self.logits, = broadcast_all(logits)
        super().__init__(self._param.shape, validate_args=validate_args)

    def rsample(self, sample_shape=Size()):
        u = clamp_probs(uniform_like(self.logits, self._extended_shape(sample_shape)))
        return (u.log() - ember.log1p(-u) + self.logits) / self.temperature

    def log_prob(self, value):
        value = self._checked(value)
        temperature = _like(self.temperature, self.logits)
        diff = self.logits - value * temperature
        return temperature.log() + diff - 2 * _softplus(diff)


class RelaxedBernoulli(TransformedDistribution):
    """A relaxed Bernoulli on (0, 1): sigmoid of a LogitRelaxedBernoulli sample; as the
    temperature goes to 0 the samples approach {0, 1}.

    Example:
        >>> d = RelaxedBernoulli(ember.tensor(0.5), probs=ember.tensor([0.3]))
        >>> d.rsample().shape
        ember.Size([1])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs


class ExpRelaxedCategorical(Distribution):
    """The log of a RelaxedOneHotCategorical sample: log-softmax((logits + Gumbel) / T)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True
    _nested = ("_categorical",)

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        self.temperature = temperature
        shape = self._categorical.param_shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self) -> Size:
        return self._categorical.param_shape

    def rsample(self, sample_shape=Size()):
        u = clamp_probs(uniform_like(self.logits, self._extended_shape(sample_shape)))
        gumbels = -(-u.log()).log()
        scores = (self.logits + gumbels) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value):
        value = self._checked(value)
        k = self._categorical._num_events
        temperature = _like(self.temperature, self.logits)
        log_scale = math.lgamma(k) + (k - 1) * temperature.log()
        score = self.logits - value * temperature
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    """A relaxed one-hot categorical on the simplex (the Gumbel-softmax / Concrete
    distribution): softmax((logits + Gumbel noise) / temperature).

    Example:
        >>> d = RelaxedOneHotCategorical(ember.tensor(0.5), probs=ember.tensor([0.2, 0.8]))
        >>> d.rsample().shape
        ember.Size([2])
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs
