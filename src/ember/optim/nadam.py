"""NAdam: Adam with Nesterov momentum."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..tensor import Tensor
from .adamax import _check_adam_family
from .optimizer import (Optimizer, ParamsT, _bump_step, _check_non_negative, _effective_grad,
                        _new_step, _scalar, _zeros_like)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), as ``torch.optim.NAdam``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:
            theta = theta * (1 - lr * weight_decay)  if decoupled_weight_decay (NAdamW)
            g = g + weight_decay * theta             otherwise
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))
        P = P * mu_t                         (the running product of the mu's)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2^t)) + eps
        theta = theta - lr * (1 - mu_t) / (1 - P) * g / denom
                      - lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / denom

    State per parameter: ``step``, ``mu_product`` (P, a float32 scalar as in torch),
    ``exp_avg`` (m) and ``exp_avg_sq`` (v).

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 2e-3).
        betas: decay rates of the moment averages (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        momentum_decay: how fast the momentum schedule mu_t approaches beta1 (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW does.
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: accepted for PyTorch compatibility; ember always
            runs its in-place kernels (differentiable=True is not supported).

    Example:
        >>> opt = ember.optim.NAdam(model.parameters(), lr=2e-3)
    """

    # mu_product is a float32 scalar, like step (cast as such on load)
    _scalar_state_keys = ("step", "mu_product")

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_adam_family(group)
        _check_non_negative("momentum_decay", group["momentum_decay"], "momentum_decay value")

    def step(self, closure=None):
        """Performs one NAdam step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _init_state(self, p: Tensor) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            state["mu_product"] = Tensor._make(np.ones((), dtype=np.float32))
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
        return state

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        lr, wd = _scalar(group["lr"]), group["weight_decay"]
        beta1, beta2 = (_scalar(b) for b in group["betas"])
        decoupled = group["decoupled_weight_decay"]
        state = self._init_state(p)
        step = _bump_step(state)
        if decoupled and wd != 0:
            p._data *= 1 - lr * wd
        g = _effective_grad(p, group["maximize"], 0 if decoupled else wd)
        xp = backend.xp_of(g)
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data

        decay = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        product = state["mu_product"]._data
        product *= mu                      # in float32, as torch keeps it
        product = float(product)

        # every buffer made with out=: NumPy gives a 0-d array's results as scalars
        scratch = xp.subtract(g, m, out=xp.empty_like(m))  # m.lerp_(g, 1 - beta1)
        scratch *= 1 - beta1
        m += scratch
        xp.multiply(g, g, out=scratch)     # v = beta2 v + (1 - beta2) g^2
        scratch *= 1 - beta2
        v *= beta2
        v += scratch
        denom = xp.divide(v, 1 - beta2 ** step, out=xp.empty_like(v))
        xp.sqrt(denom, out=denom)
        denom += group["eps"]

        update = xp.divide(g, denom, out=scratch)
        update *= -lr * (1.0 - mu) / (1.0 - product)
        p._data += update
        update = xp.divide(m, denom, out=scratch)
        update *= -lr * mu_next / (1.0 - product * mu_next)
        p._data += update
