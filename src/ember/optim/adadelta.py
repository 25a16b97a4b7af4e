"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from .optimizer import (Optimizer, ParamsT, _bump_step, _check_fused, _check_non_negative,
                        _effective_grad, _new_step, _scalar, _zeros_like)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    For each parameter :math:`\theta` with gradient :math:`g_t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:  g = g + weight_decay * theta
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        theta = theta - lr * delta

    State per parameter: ``step``, ``square_avg`` (v) and ``acc_delta`` (u).

    Args:
        params: tensors or param-group dicts to optimize.
        lr: coefficient that scales delta before it is applied (default 1.0).
        rho: decay rate of the running averages (default 0.9).
        eps: added inside the square roots for stability (default 1e-6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> opt = ember.optim.Adadelta(model.parameters())
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative("lr", group["lr"], "learning rate")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")
        _check_non_negative("eps", group["eps"], "epsilon value")
        _check_non_negative("weight_decay", group["weight_decay"], "weight_decay value")
        _check_fused(group)

    def step(self, closure=None):
        """Performs one Adadelta step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _init_state(self, p: Tensor) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            state["square_avg"] = _zeros_like(p)
            state["acc_delta"] = _zeros_like(p)
        return state

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        rho, eps = group["rho"], group["eps"]
        state = self._init_state(p)
        _bump_step(state)
        g = _effective_grad(p, group["maximize"], group["weight_decay"])
        xp = backend.xp_of(g)
        v, u = state["square_avg"]._data, state["acc_delta"]._data

        scratch = xp.multiply(g, g, out=xp.empty_like(v))  # out=: 0-d stays an array
        scratch *= 1 - rho
        v *= rho
        v += scratch
        std = xp.add(v, eps, out=xp.empty_like(v))
        xp.sqrt(std, out=std)
        delta = xp.add(u, eps, out=scratch)
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        sq = xp.multiply(delta, delta, out=std)   # std is no longer needed
        sq *= 1 - rho
        u *= rho
        u += sq
        delta *= -_scalar(group["lr"])
        p._data += delta
