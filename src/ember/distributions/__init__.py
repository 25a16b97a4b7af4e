"""Probability distributions with sampling, log-densities and KL divergences, as
``torch.distributions``.

    >>> from ember.distributions import Normal, kl_divergence
    >>> p = Normal(ember.tensor([0.0]), ember.tensor([1.0]))
    >>> x = p.rsample((4,))                  # differentiable in loc and scale
    >>> p.log_prob(x).shape, kl_divergence(p, Normal(1.0, 2.0))

Parameters are checked on construction and values in ``log_prob`` unless validation is off
(``Distribution.set_default_validate_args(False)`` or ``validate_args=False``). Everything
stays on the parameters' device: samples are drawn there by ember's generator.
"""
from . import constraints, transforms
from .continuous import Cauchy, Exponential, Laplace, Normal, Uniform
from .discrete import (Bernoulli, Binomial, Categorical, Geometric, Multinomial,
                       OneHotCategorical, Poisson)
from .distribution import Distribution
from .gamma import Beta, Chi2, Gamma, StudentT
from .independent import Independent
from .kl import kl_divergence, register_kl
from .multivariate import Dirichlet, MultivariateNormal
from .relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli,
                      RelaxedOneHotCategorical)
from .transformed import Gumbel, HalfNormal, LogNormal, TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, ComposeTransform, ExpTransform,
                         SigmoidTransform, SoftmaxTransform, TanhTransform, Transform,
                         identity_transform)

__all__ = ["AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial", "Categorical",
           "Cauchy", "Chi2", "ComposeTransform", "Dirichlet", "Distribution", "ExpTransform",
           "ExpRelaxedCategorical", "Exponential", "Gamma", "Geometric", "Gumbel", "HalfNormal",
           "Independent", "Laplace", "LogNormal", "LogitRelaxedBernoulli", "Multinomial",
           "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson", "RelaxedBernoulli",
           "RelaxedOneHotCategorical", "SigmoidTransform", "SoftmaxTransform", "StudentT",
           "TanhTransform", "Transform", "TransformedDistribution", "Uniform", "constraints",
           "identity_transform", "kl_divergence", "register_kl", "transforms"]
