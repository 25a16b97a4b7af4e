"""Adam and AdamW (Adam with decoupled weight decay)."""
from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..tensor import Tensor
from . import _fused
from .optimizer import (Optimizer, ParamsT, _bump_step, _check_fused, _check_non_negative,
                        _effective_grad, _new_step, _scalar, _zeros_like)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2014), as ``torch.optim.Adam``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:
            theta = theta * (1 - lr * weight_decay)  if decoupled_weight_decay (AdamW)
            g = g + weight_decay * theta             otherwise
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        if amsgrad:  v_max = max(v_max, v);  v_hat = v_max  else  v_hat = v
        theta = theta - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad,
    ``max_exp_avg_sq``.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the first and second moment averages (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        amsgrad: use the AMSGrad variant (the running maximum of v).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly, as AdamW does.
        foreach, capturable, differentiable, fused: accepted for PyTorch compatibility; ember
            always runs its in-place kernels (differentiable=True is not supported).

    Example:
        >>> opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative("lr", group["lr"], "learning rate")
        _check_non_negative("eps", group["eps"], "epsilon value")
        for i, beta in enumerate(group["betas"]):
            if not 0.0 <= _scalar(beta) < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        _check_non_negative("weight_decay", group["weight_decay"], "weight_decay value")
        _check_fused(group)

    def step(self, closure=None):
        """Performs one Adam step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _init_state(self, p: Tensor, amsgrad: bool) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = _zeros_like(p)
        return state

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        lr, wd = _scalar(group["lr"]), group["weight_decay"]
        beta1, beta2 = (_scalar(b) for b in group["betas"])
        decoupled = group["decoupled_weight_decay"]
        state = self._init_state(p, group["amsgrad"])
        step = _bump_step(state)
        if _fused.applies(p):  # a CuPy parameter: the same update as one GPU kernel
            _fused.adam_step(p, state, group, step)
            return
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
        if group["amsgrad"]:
            v = xp.maximum(state["max_exp_avg_sq"]._data, v, out=state["max_exp_avg_sq"]._data)

        # Python floats: weak scalars, so the float32 arrays stay float32
        step_size = lr / (1 - beta1 ** step)
        denom = xp.sqrt(v, out=scratch)
        denom /= math.sqrt(1 - beta2 ** step)
        denom += group["eps"]
        update = xp.divide(m, denom, out=scratch)
        update *= -step_size
        p._data += update


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Identical to :class:`Adam` except that weight decay shrinks the weights directly,
    ``theta = theta * (1 - lr * weight_decay)``, instead of adding ``weight_decay * theta``
    to the gradient; the default weight_decay is 1e-2.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the moment averages (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: decoupled weight decay coefficient (default 1e-2).
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> opt = ember.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
