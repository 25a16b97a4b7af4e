"""Discrete distributions: Bernoulli, Categorical, OneHotCategorical, Binomial, Multinomial,
Poisson and Geometric. Those parameterized by probabilities take ``probs`` or ``logits``
(exactly one); the other is derived on first use."""
from __future__ import annotations

import math
import numbers

import ember
from ..tensor import Size
from . import constraints, sampling
from .distribution import Distribution
from .utils import (broadcast_all, finfo, lazy_property, logits_to_probs, probs_to_logits,
                    xlogy)


def _softplus(x):
    return ember.nn.functional.softplus(x)


def _one_of(probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


class _BinaryParams:
    """probs/logits of one event probability per batch element."""

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def _param(self):
        return self.__dict__["probs"] if "probs" in self.__dict__ else self.__dict__["logits"]

    @property
    def param_shape(self) -> Size:
        return self._param.shape


class Bernoulli(_BinaryParams, Distribution):
    """The Bernoulli distribution: 1 with probability ``probs`` (or sigmoid(``logits``)).

    Example:
        >>> Bernoulli(probs=ember.tensor([0.3])).log_prob(ember.tensor([1.0]))
        tensor([-1.2040])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _batched = ("probs", "logits")

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            self.probs, = broadcast_all(probs)
        else:
            self.logits, = broadcast_all(logits)
        super().__init__(self._param.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return ember.where(self.probs == 0.5, math.nan, mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        with ember.no_grad():
            shape = self._extended_shape(sample_shape)
            return (sampling.uniform_like(self.probs, shape) < self.probs).to(self.probs.dtype)

    def log_prob(self, value):
        value = self._checked(value)
        return value * self.logits - _softplus(self.logits)

    def entropy(self):
        return _softplus(self.logits) - self.probs * self.logits

    def enumerate_support(self, expand=True):
        param = self._param
        values = ember.arange(2, dtype=param.dtype, device=param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class Categorical(Distribution):
    """The categorical distribution over 0..K-1 with ``probs`` (normalised over the last dim)
    or ``logits`` (unnormalised log-probabilities).

    Example:
        >>> d = Categorical(probs=ember.tensor([0.2, 0.8]))
        >>> d.log_prob(ember.tensor(1))
        tensor(-0.2231)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True
    _batched = ("probs", "logits")

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        param = self._param
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def _param(self):
        return self.__dict__["probs"] if "probs" in self.__dict__ else self.__dict__["logits"]

    @property
    def param_shape(self) -> Size:
        return self._param.shape

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return ember.full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype,
                          device=self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return self.mean

    def sample(self, sample_shape=Size()):
        return sampling.categorical(self.probs, sample_shape)

    def log_prob(self, value):
        value = self._checked(value)
        index = value.long().unsqueeze(-1)
        index, log_pmf = ember.broadcast_tensors(index, self.logits)
        return log_pmf.gather(-1, index[..., :1]).squeeze(-1)

    def entropy(self):
        logits = self.logits.clamp(min=finfo(self.logits).min)  # -inf * 0 would be nan
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = ember.arange(self._num_events, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class OneHotCategorical(Distribution):
    """A categorical distribution whose samples are one-hot vectors of length K.

    Example:
        >>> OneHotCategorical(probs=ember.tensor([0.0, 1.0])).sample()
        tensor([0., 1.])
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True
    _nested = ("_categorical",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
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

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return self._one_hot(self.probs.argmax(-1))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def _one_hot(self, index):
        k = self._categorical._num_events
        return ember.nn.functional.one_hot(index, k).to(self.probs.dtype)

    def sample(self, sample_shape=Size()):
        return self._one_hot(self._categorical.sample(sample_shape))

    def log_prob(self, value):
        value = self._checked(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        k = self._event_shape[0]
        values = ember.eye(k, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape((k,) + (1,) * len(self._batch_shape) + (k,))
        return values.expand((k,) + tuple(self._batch_shape) + (k,)) if expand else values


class Binomial(_BinaryParams, Distribution):
    """The number of successes in ``total_count`` Bernoulli(``probs``) trials.

    Example:
        >>> Binomial(10, probs=ember.tensor([0.5])).mean
        tensor([5.])
    """

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True
    _batched = ("total_count", "probs", "logits")

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            total_count, self.probs = broadcast_all(total_count, probs)
        else:
            total_count, self.logits = broadcast_all(total_count, logits)
        self.total_count = total_count.to(self._param.dtype)
        super().__init__(self._param.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        return sampling.binomial(self.total_count.expand(shape), self.probs.expand(shape))

    def log_prob(self, value):
        value = self._checked(value)
        n, logits = self.total_count, self.logits
        log_binom = ember.lgamma(n + 1) - ember.lgamma(value + 1) - ember.lgamma(n - value + 1)
        return log_binom + value * logits - n * _softplus(logits)

    def _homogeneous_count(self, what: str) -> int:
        n = int(self.total_count.max())
        if int(self.total_count.min()) != n:
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return n

    def entropy(self):
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(ember.exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        n = self._homogeneous_count("enumerate_support")
        param = self._param
        values = ember.arange(1 + n, dtype=param.dtype, device=param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class Multinomial(Distribution):
    """Counts of ``total_count`` draws from a categorical distribution over K classes.

    Example:
        >>> Multinomial(4, probs=ember.tensor([0.5, 0.5])).log_prob(ember.tensor([2.0, 2.0]))
        tensor(-0.9808)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    _nested = ("_categorical",)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, numbers.Integral):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = int(total_count)
        self._categorical = Categorical(probs, logits)
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

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        probs = self.probs.expand(tuple(self._extended_shape()))
        count = ember.tensor(float(self.total_count), dtype=probs.dtype, device=probs.device)
        return sampling.multinomial(count, probs, sample_shape)

    def log_prob(self, value):
        value = self._checked(value)
        logits, value = ember.broadcast_tensors(self.logits, value)
        logits = ember.where((value == 0) & (logits == -math.inf), 0.0, logits)
        log_factorial_n = ember.lgamma(value.sum(-1) + 1)
        log_factorial_xs = ember.lgamma(value + 1).sum(-1)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)

    def entropy(self):
        # H = n H(categorical) - log n! + sum_i E[log x_i!], x_i ~ Binomial(n, p_i)
        n = self.total_count
        binomial = Binomial(n, self.probs, validate_args=False)
        support = binomial.enumerate_support(False)[1:]
        weights = ember.exp(binomial.log_prob(support)) * ember.lgamma(support + 1)
        return n * self._categorical.entropy() - math.lgamma(n + 1) + weights.sum(0).sum(-1)


class Poisson(Distribution):
    """The Poisson distribution with ``rate``.

    Example:
        >>> Poisson(ember.tensor([2.0])).log_prob(ember.tensor([1.0]))
        tensor([-1.3069])
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer
    _batched = ("rate",)

    def __init__(self, rate, validate_args=None):
        self.rate, = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=Size()):
        return sampling.poisson(self.rate.expand(tuple(self._extended_shape(sample_shape))))

    def log_prob(self, value):
        value = self._checked(value)
        return xlogy(value, self.rate) - self.rate - ember.lgamma(value + 1)


class Geometric(_BinaryParams, Distribution):
    """The number of failures before the first success of Bernoulli(``probs``) trials.

    Example:
        >>> Geometric(probs=ember.tensor([0.25])).mean
        tensor([3.])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer
    _batched = ("probs", "logits")

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            self.probs, = broadcast_all(probs)
        else:
            self.logits, = broadcast_all(logits)
        super().__init__(self._param.shape, validate_args=validate_args)
        if self._validate_args and probs is not None and not bool((self.probs > 0).all()):
            value = self.probs
            raise ValueError(f"Expected parameter probs ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) of distribution {self!r} to be positive "
                             f"but found invalid values:\n{value[value <= 0]}")

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return ember.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=Size()):
        with ember.no_grad():
            u = sampling.uniform_like(self.probs, self._extended_shape(sample_shape))
            u = u.clamp(min=finfo(self.probs).tiny)
            return (u.log() / ember.log1p(-self.probs)).floor()

    def log_prob(self, value):
        value = self._checked(value)
        value, probs = ember.broadcast_tensors(value, self.probs)
        # 0 failures of a certain success: 0 * log(0) is 0
        safe = ember.where((probs == 1) & (value == 0), 0.0, probs)
        return value * ember.log1p(-safe) + self.probs.log()

    def entropy(self):
        return (_softplus(self.logits) - self.probs * self.logits) / self.probs

