"""Distribution: the base class of every distribution, as ``torch.distributions.Distribution``."""
from __future__ import annotations

import warnings

import ember
from ..autograd import no_grad
from ..tensor import Size, Tensor
from . import constraints
from .utils import extended


class Distribution:
    """A batch of probability distributions of one family.

    A sample has shape ``sample_shape + batch_shape + event_shape``: ``batch_shape`` indexes
    independent distributions with their own parameters, ``event_shape`` is the shape of one
    draw (``(k,)`` for a k-dimensional multivariate normal, ``()`` for a scalar one).

    With validation on (the default, as in torch; see :meth:`set_default_validate_args`)
    parameters are checked against ``arg_constraints`` on construction, and values passed to
    ``log_prob``/``cdf`` against ``support``, raising ValueError.

    Example:
        >>> d = ember.distributions.Normal(ember.zeros(3), 1.0)
        >>> d.batch_shape, d.event_shape
        (ember.Size([3]), ember.Size([]))
        >>> d.sample((5,)).shape
        ember.Size([5, 3])
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__
    # expand() expands these attributes: parameters (batch_shape + their own event dims) and
    # inner distributions
    _batched: tuple = ()
    _nested: tuple = ()

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turns argument and sample validation on or off for every new distribution."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape = Size(tuple(batch_shape))
        self._event_shape = Size(tuple(event_shape))
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self) -> None:
        try:
            arg_constraints = self.arg_constraints
        except NotImplementedError:
            arg_constraints = {}
            warnings.warn(f"{type(self)} does not define `arg_constraints`. Please set "
                          f"`arg_constraints = {{}}` or initialize the distribution with "
                          f"`validate_args=False` to turn off validation.", stacklevel=3)
        for param, constraint in arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if param not in self.__dict__ and not isinstance(
                    getattr(type(self), param, None), property):
                continue  # a lazily derived parameter (probs from logits) is not checked
            value = getattr(self, param)
            if not bool(constraint.check(value).all()):
                raise ValueError(f"Expected parameter {param} ({type(value).__name__} of shape "
                                 f"{tuple(value.shape)}) of distribution {self!r} to satisfy "
                                 f"the constraint {constraint!r}, but found invalid values:\n"
                                 f"{value}")

    # -- shapes ----------------------------------------------------------------------------
    @property
    def batch_shape(self) -> Size:
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        return self._event_shape

    def _extended_shape(self, sample_shape=Size()) -> Size:
        return extended(sample_shape, tuple(self._batch_shape) + tuple(self._event_shape))

    def expand(self, batch_shape, _instance=None):
        """A new distribution with the parameters expanded (as views) to ``batch_shape``.

        Example:
            >>> Normal(0.0, 1.0).expand((2, 3)).batch_shape
            ember.Size([2, 3])
        """
        if not (self._batched or self._nested) and type(self).expand is Distribution.expand:
            raise NotImplementedError(f"{type(self).__name__} cannot expand: name its parameters "
                                      f"in _batched (or override expand)")
        batch_shape = Size(tuple(batch_shape))
        new = type(self).__new__(type(self)) if _instance is None else _instance
        new.__dict__.update(self.__dict__)
        n = len(self._batch_shape)
        for name in self._batched:
            if name in self.__dict__:
                value = self.__dict__[name]
                new.__dict__[name] = value.expand(tuple(batch_shape) + tuple(value.shape[n:]))
        for name in self._nested:
            new.__dict__[name] = self.__dict__[name].expand(batch_shape)
        new._batch_shape = batch_shape
        return new

    # -- what subclasses define ------------------------------------------------------------
    @property
    def arg_constraints(self) -> dict:
        """The constraint each parameter must satisfy, by name."""
        raise NotImplementedError

    @property
    def support(self):
        """The constraint a sample satisfies."""
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def sample(self, sample_shape=Size()) -> Tensor:
        """A sample of shape ``sample_shape + batch_shape + event_shape``, without gradient."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=Size()) -> Tensor:
        """A reparameterized sample: differentiable with respect to the parameters."""
        raise NotImplementedError

    def sample_n(self, n: int) -> Tensor:
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", UserWarning)
        return self.sample(Size((n,)))

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Every value of a discrete distribution's support, along a new leading dimension."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        return ember.exp(self.entropy())

    # -- validation ------------------------------------------------------------------------
    def _validate_sample(self, value) -> None:
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_start = value.dim() - len(self._event_shape)
        if tuple(value.shape[event_start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{value.shape} vs {self._event_shape}.")
        expected = tuple(self._batch_shape) + tuple(self._event_shape)
        for i, j in zip(reversed(tuple(value.shape)), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{value.shape} vs {Size(expected)}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{type(self)} does not define `support` to enable sample validation. "
                          f"Please initialize the distribution with `validate_args=False` to "
                          f"turn off validation.", stacklevel=3)
            return
        if not bool(support.check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) to be within the support ({support!r}) of "
                             f"the distribution {self!r}, but found invalid values:\n{value}")

    def _checked(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return value

    def __repr__(self) -> str:
        try:
            names = [k for k in self.arg_constraints if k in self.__dict__]
        except NotImplementedError:
            names = []
        args = ", ".join(f"{k}: {v if v.numel() == 1 else v.shape}"
                         for k, v in ((k, self.__dict__[k]) for k in names))
        return f"{type(self).__name__}({args})"

