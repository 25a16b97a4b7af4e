"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from .optimizer import (Optimizer, ParamsT, _bump_step, _check_fused, _check_non_negative,
                        _effective_grad, _new_step, _scalar)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:  g = g + weight_decay * theta
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                       (s starts at initial_accumulator_value)
        theta = theta - lr_t * g / (sqrt(s) + eps)

    State per parameter (created with the optimizer, as in torch): ``step`` and ``sum`` (s).

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of the squared-gradient sum (default 0).
        eps: added to the denominator for stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> opt = ember.optim.Adagrad(model.parameters(), lr=0.01)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative("lr", group["lr"], "learning rate")
        _check_non_negative("lr_decay", group["lr_decay"], "lr_decay value")
        _check_non_negative("weight_decay", group["weight_decay"], "weight_decay value")
        _check_non_negative("initial_accumulator_value", group["initial_accumulator_value"],
                            "initial_accumulator_value value")
        _check_non_negative("eps", group["eps"], "epsilon value")
        _check_fused(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a param group and creates its state (Adagrad's state is eager, as in torch)."""
        super().add_param_group(param_group)
        for p in param_group["params"]:
            self._init_state(p, param_group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            xp = backend.xp_of(p._data)
            with backend.device_guard(p._data):
                state["sum"] = Tensor._make(
                    xp.full_like(p._data, group["initial_accumulator_value"]))
        return state

    def step(self, closure=None):
        """Performs one Adagrad step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        state = self._init_state(p, group)
        step = _bump_step(state)
        g = _effective_grad(p, group["maximize"], group["weight_decay"])
        xp = backend.xp_of(g)
        clr = _scalar(group["lr"]) / (1 + (step - 1) * group["lr_decay"])
        total = state["sum"]._data

        scratch = xp.multiply(g, g, out=xp.empty_like(total))  # out=: 0-d stays an array
        total += scratch
        denom = xp.sqrt(total, out=scratch)
        denom += group["eps"]
        update = xp.divide(g, denom, out=scratch)
        update *= -clr
        p._data += update
