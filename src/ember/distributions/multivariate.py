"""Distributions over vectors: Dirichlet and MultivariateNormal."""
from __future__ import annotations

import math

import ember
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .sampling import normal_like, standard_gamma
from .utils import lazy_property, xlogy


class Dirichlet(Distribution):
    """The Dirichlet distribution on the simplex with ``concentration`` (last dim: the event);
    sampled as normalised gamma draws, differentiable through them.

    Example:
        >>> Dirichlet(ember.tensor([1.0, 2.0, 3.0])).mean
        tensor([0.1667, 0.3333, 0.5000])
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True
    _batched = ("concentration",)

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        c = self.concentration
        excess = (c - 1).clamp(min=0)
        mode = excess / excess.sum(-1, keepdim=True)
        # with every concentration below 1 the density is unbounded at every vertex; the
        # first one is taken, as torch does
        vertex = ember.zeros_like(c)
        vertex[..., 0] = 1.0
        return ember.where((c < 1).all(-1, keepdim=True), vertex, mode)

    @property
    def variance(self):
        c = self.concentration
        total = c.sum(-1, keepdim=True)
        return c * (total - c) / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        g = standard_gamma(self.concentration.expand(shape))
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value):
        value = self._checked(value)
        c = self.concentration
        return xlogy(c - 1.0, value).sum(-1) + ember.lgamma(c.sum(-1)) \
            - ember.lgamma(c).sum(-1)

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        total = c.sum(-1)
        return ember.lgamma(c).sum(-1) - ember.lgamma(total) \
            - (k - total) * ember.digamma(total) - ((c - 1.0) * ember.digamma(c)).sum(-1)


def _batch_mahalanobis(scale_tril, x):
    """|L^-1 x|^2 over the last dim, broadcasting L's batch against x's."""
    return ember.linalg.solve_triangular(scale_tril, x.unsqueeze(-1), upper=False) \
        .squeeze(-1).pow(2).sum(-1)


def _inverse_lower(scale_tril):
    eye = ember.eye(scale_tril.shape[-1], dtype=scale_tril.dtype, device=scale_tril.device)
    return ember.linalg.solve_triangular(scale_tril, eye, upper=False)


def _precision_to_scale_tril(precision):
    # the Cholesky factor of P flipped both ways is the inverse transpose of L (flipped)
    flipped = ember.linalg.cholesky(precision.flip((-2, -1)))
    return _inverse_lower(flipped.flip((-2, -1)).mT)


class MultivariateNormal(Distribution):
    """The multivariate normal distribution with mean ``loc`` and exactly one of
    ``covariance_matrix``, ``precision_matrix`` or ``scale_tril`` (the lower Cholesky factor of
    the covariance). Everything is computed from that factor, by triangular solves.

    Example:
        >>> d = MultivariateNormal(ember.zeros(2), covariance_matrix=ember.eye(2))
        >>> d.log_prob(ember.zeros(2))
        tensor(-1.8379)
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True
    _batched = ("loc", "covariance_matrix", "precision_matrix", "scale_tril")

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = {"scale_tril": scale_tril, "covariance_matrix": covariance_matrix,
                 "precision_matrix": precision_matrix}
        given = {k: v for k, v in given.items() if v is not None}
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        (name, matrix), = given.items()
        if matrix.dim() < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional "
                             f"leading batch dimensions")
        batch_shape = ember.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        setattr(self, name, matrix.expand(tuple(batch_shape) + (-1, -1)))
        self.loc = loc.expand(tuple(batch_shape) + (-1,))
        super().__init__(batch_shape, loc.shape[-1:], validate_args=validate_args)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = ember.linalg.cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(matrix)

    def _matrix_shape(self) -> tuple:
        return tuple(self._batch_shape) + tuple(self._event_shape) * 2

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        tril = self._unbroadcasted_scale_tril
        return (tril @ tril.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        inverse = _inverse_lower(self._unbroadcasted_scale_tril)
        return (inverse.mT @ inverse).expand(self._matrix_shape())

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        shape = tuple(self._batch_shape) + tuple(self._event_shape)
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(shape)

    def rsample(self, sample_shape=Size()):
        eps = normal_like(self.loc, self._extended_shape(sample_shape))
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value):
        value = self._checked(value)
        m = _batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        k = self._event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self):
        k = self._event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(tuple(self._batch_shape))
