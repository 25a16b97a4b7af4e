"""RMSprop: divide the gradient by a running root mean square of recent gradients."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from .optimizer import (Optimizer, ParamsT, _bump_step, _check_fused,
                        _check_non_negative, _effective_grad, _new_step, _scalar, _zeros_like)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``.

    For each parameter :math:`\theta` with gradient :math:`g_t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:  g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            a = alpha * a + (1 - alpha) * g
            d = sqrt(v - a * a) + eps
        else:
            d = sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / d
            theta = theta - lr * b
        else:
            theta = theta - lr * g / d

    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b, with momentum)
    and ``grad_avg`` (a, when centered).

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the squared-gradient average (default 0.99).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by an estimate of the gradient's variance instead of its second
            moment.
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> opt = ember.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative("lr", group["lr"], "learning rate")
        _check_non_negative("eps", group["eps"], "epsilon value")
        _check_non_negative("momentum", group["momentum"], "momentum value")
        _check_non_negative("weight_decay", group["weight_decay"], "weight_decay value")
        _check_non_negative("alpha", group["alpha"], "alpha value")
        _check_fused(group)

    def step(self, closure=None):
        """Performs one RMSprop step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            state["square_avg"] = _zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = _zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = _zeros_like(p)
        return state

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        state = self._init_state(p, group)
        _bump_step(state)
        g = _effective_grad(p, group["maximize"], group["weight_decay"])
        xp = backend.xp_of(g)
        v = state["square_avg"]._data

        scratch = xp.multiply(g, g, out=xp.empty_like(v))  # out=: 0-d stays an array
        scratch *= 1 - alpha
        v *= alpha
        v += scratch
        if group["centered"]:
            a = state["grad_avg"]._data
            xp.subtract(g, a, out=scratch)   # a.lerp_(g, 1 - alpha)
            scratch *= 1 - alpha
            a += scratch
            xp.multiply(a, a, out=scratch)
            xp.subtract(v, scratch, out=scratch)
            denom = xp.sqrt(scratch, out=scratch)
        else:
            denom = xp.sqrt(v, out=scratch)
        denom += group["eps"]

        update = xp.divide(g, denom, out=scratch)
        lr = _scalar(group["lr"])
        if momentum > 0:
            b = state["momentum_buffer"]._data
            b *= momentum
            b += update
            update = xp.multiply(b, -lr, out=scratch)
        else:
            update *= -lr
        p._data += update
