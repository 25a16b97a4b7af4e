"""ASGD: stochastic gradient descent with Polyak-Ruppert averaging of the iterates."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import (Optimizer, ParamsT, _add_scaled, _bump_step, _check_fused,
                        _check_non_negative, _effective_grad, _new_step, _scalar, _zeros_like)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky, 1992), as ``torch.optim.ASGD``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:  g = g + weight_decay * theta
        theta = theta * (1 - lambd * eta) - eta * g
        ax = theta                      if mu == 1
        ax = ax + mu * (theta - ax)     otherwise
        eta = lr / (1 + lambd * lr * t)^alpha
        mu = 1 / max(1, t - t0)

    ``ax``, the running average of the iterates since step ``t0``, is what ASGD offers as
    the solution; the parameters themselves follow plain (decayed) SGD.

    State per parameter: ``step``, ``eta``, ``mu`` (float32 scalars, as in torch; ember keeps
    them on the host, torch on the parameter's device) and ``ax``.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power of the eta schedule (default 0.75).
        t0: step at which averaging starts (default 1e6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, capturable: accepted for PyTorch compatibility; ember always
            runs its in-place kernels (differentiable=True is not supported).

    Example:
        >>> opt = ember.optim.ASGD(model.parameters(), lr=0.01, t0=100)
    """

    _scalar_state_keys = ("step", "eta", "mu")

    def __init__(self, params: ParamsT, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative("lr", group["lr"], "learning rate")
        _check_non_negative("weight_decay", group["weight_decay"], "weight_decay value")
        _check_fused(group)

    def step(self, closure=None):
        """Performs one ASGD step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            state["eta"] = _float32(_scalar(group["lr"]))
            state["mu"] = _float32(1.0)
            state["ax"] = _zeros_like(p)
        return state

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        lr, lambd = _scalar(group["lr"]), group["lambd"]
        state = self._init_state(p, group)
        step = _bump_step(state)
        g = _effective_grad(p, group["maximize"], group["weight_decay"])
        eta, mu = float(state["eta"]._data), float(state["mu"]._data)

        p._data *= 1 - lambd * eta
        _add_scaled(p._data, g, -eta, owned=g is not p.grad._data)
        ax = state["ax"]._data
        if mu != 1:
            diff = backend.xp_of(ax).subtract(p._data, ax)
            diff *= mu
            ax += diff
        else:
            ax[...] = p._data

        # stored as float32, so the next step reads the rounded values, as torch does
        state["eta"]._data[...] = lr / ((1 + lambd * lr * step) ** group["alpha"])
        state["mu"]._data[...] = 1 / max(1, step - group["t0"])


def _float32(value: float) -> Tensor:
    """A float32 0-d host tensor, as torch keeps ASGD's scalar state."""
    return Tensor._make(np.array(value, dtype=np.float32))
