"""stateless.functional_call, as torch.nn.utils.stateless: the deprecated spelling of
``ember.func.functional_call``.

Example::

    >>> params = {"weight": ember.zeros(2, 3), "bias": ember.ones(2)}
    >>> nn.utils.stateless.functional_call(nn.Linear(3, 2), params, (ember.randn(4, 3),))
"""
from __future__ import annotations

import warnings

__all__ = ["functional_call"]


def functional_call(module, parameters_and_buffers: dict, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """``ember.func.functional_call`` with a FutureWarning (deprecated, as in torch).

    For a parametrized tensor, a key ``<name>.parametrizations.<tensor>.original`` feeds
    the parametrization.
    """
    warnings.warn("`ember.nn.utils.stateless.functional_call` is deprecated. Please use "
                  "`ember.func.functional_call` instead which is a drop-in replacement.",
                  FutureWarning, stacklevel=2)
    from ... import func  # here: ember.func imports ember.nn
    return func.functional_call(module, parameters_and_buffers, args, kwargs,
                                tie_weights=tie_weights, strict=strict)
