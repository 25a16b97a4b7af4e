"""RAdam: Adam with a rectified (warm-up free) adaptive learning rate."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from .adamax import _check_adam_family
from .optimizer import (Optimizer, ParamsT, _bump_step, _effective_grad, _new_step, _scalar,
                        _zeros_like)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2019), as ``torch.optim.RAdam``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:
            theta = theta * (1 - lr * weight_decay)  if decoupled_weight_decay
            g = g + weight_decay * theta             otherwise
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1^t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            theta = theta - lr * m_hat * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r
        else:
            theta = theta - lr * m_hat

    State per parameter: ``step``, ``exp_avg`` (m) and ``exp_avg_sq`` (v).

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the moment averages (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        decoupled_weight_decay: decay the weights directly, as AdamW does.
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, differentiable: accepted for PyTorch compatibility; ember always
            runs its in-place kernels (differentiable=True is not supported).

    Example:
        >>> opt = ember.optim.RAdam(model.parameters(), lr=1e-3)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_adam_family(group)

    def step(self, closure=None):
        """Performs one RAdam step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _init_state(self, p: Tensor) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
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

        # every buffer made with out=: NumPy gives a 0-d array's results as scalars
        scratch = xp.subtract(g, m, out=xp.empty_like(m))  # m.lerp_(g, 1 - beta1)
        scratch *= 1 - beta1
        m += scratch
        xp.multiply(g, g, out=scratch)     # v = beta2 v + (1 - beta2) g^2
        scratch *= 1 - beta2
        v *= beta2
        v += scratch

        bias_correction2 = 1 - beta2 ** step
        update = xp.divide(m, 1 - beta1 ** step, out=xp.empty_like(m))
        update *= lr
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = xp.sqrt(v, out=scratch)
            adaptive += group["eps"]
            # torch computes scalar / tensor as reciprocal(tensor) * scalar: same rounding
            xp.reciprocal(adaptive, out=adaptive)
            adaptive *= bias_correction2 ** 0.5
            update *= adaptive
            update *= rect
        p._data -= update
