"""The gamma family: Gamma, Chi2, Beta and StudentT.

Their samples come from the Marsaglia-Tsang gamma sampler; ``rsample`` is differentiable in
the concentration through the implicit reparameterization gradient (see
``sampling.standard_gamma_grad``), in the other parameters through the closed form.
"""
from __future__ import annotations

import math
import numbers

import ember
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .multivariate import Dirichlet
from .sampling import normal_like, standard_gamma
from .utils import broadcast_all, finfo, xlogy


def _keep_tiny(value):
    """value clamped to its dtype's tiny without cutting the gradient (as torch's in-place
    clamp of the sample's data)."""
    return value + (value.clamp(min=finfo(value).tiny) - value).detach()


class Gamma(Distribution):
    """The gamma distribution with shape ``concentration`` and ``rate`` (mean c / rate).

    Example:
        >>> Gamma(ember.tensor([2.0]), ember.tensor([1.0])).log_prob(ember.tensor([1.0]))
        tensor([-1.])
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _batched = ("concentration", "rate")

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        value = standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return _keep_tiny(value)

    def log_prob(self, value):
        value = self._checked(value)
        c, rate = self.concentration, self.rate
        return xlogy(c, rate) + xlogy(c - 1, value) - rate * value - ember.lgamma(c)

    def cdf(self, value):
        value = self._checked(value)
        return ember.igamma(self.concentration, self.rate * value)

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + ember.lgamma(c) + (1 - c) * ember.digamma(c)


class Chi2(Gamma):
    """The chi-squared distribution with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2).

    Example:
        >>> Chi2(ember.tensor([4.0])).mean
        tensor([4.])
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        df, = broadcast_all(df)
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    @property
    def df(self):
        return self.concentration * 2


class Beta(Distribution):
    """The beta distribution on [0, 1] with ``concentration1`` (alpha) and ``concentration0``
    (beta); sampled as the first coordinate of a Dirichlet([alpha, beta]).

    Example:
        >>> Beta(2.0, 2.0).mean
        tensor(0.5000)
    """

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True
    _nested = ("_dirichlet",)

    def __init__(self, concentration1, concentration0, validate_args=None):
        if isinstance(concentration1, numbers.Real) and isinstance(concentration0, numbers.Real):
            both = ember.tensor([float(concentration1), float(concentration0)])
        else:
            both = ember.stack(broadcast_all(concentration1, concentration0), -1)
        self._dirichlet = Dirichlet(both, validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    @property
    def concentration1(self):
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self):
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=Size()):
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value):
        value = self._checked(value)
        heads_tails = ember.stack([value, 1.0 - value], -1)
        return self._dirichlet.log_prob(heads_tails)

    def entropy(self):
        return self._dirichlet.entropy()


class StudentT(Distribution):
    """Student's t distribution with ``df`` degrees of freedom, ``loc`` and ``scale``;
    sampled as loc + scale * X / sqrt(Z / df), X ~ N(0, 1), Z ~ Chi2(df).

    Example:
        >>> StudentT(ember.tensor([3.0])).variance
        tensor([3.])
    """

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True
    _batched = ("df", "loc", "scale")
    _nested = ("_chi2",)

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.shape, validate_args=validate_args)

    @property
    def mean(self):
        return ember.where(self.df > 1, self.loc, math.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale ** 2 * df / (df - 2)
        return ember.where(df > 2, finite, ember.where(df > 1, math.inf, math.nan))

    def rsample(self, sample_shape=Size()):
        x = normal_like(self.df, self._extended_shape(sample_shape))
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * x * (z / self.df).rsqrt()

    def log_prob(self, value):
        value = self._checked(value)
        df = self.df
        y = (value - self.loc) / self.scale
        log_norm = self.scale.log() + 0.5 * df.log() + 0.5 * math.log(math.pi) \
            + ember.lgamma(0.5 * df) - ember.lgamma(0.5 * (df + 1))
        return -0.5 * (df + 1) * ember.log1p(y ** 2 / df) - log_norm

    def entropy(self):
        df = self.df
        log_beta = ember.lgamma(0.5 * df) + math.lgamma(0.5) - ember.lgamma(0.5 * (df + 1))
        return self.scale.log() + 0.5 * (df + 1) * (ember.digamma(0.5 * (df + 1))
                                                    - ember.digamma(0.5 * df)) \
            + 0.5 * df.log() + log_beta
