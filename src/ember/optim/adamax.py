"""Adamax: Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from .optimizer import (Optimizer, ParamsT, _bump_step, _check_fused, _check_non_negative,
                        _effective_grad, _new_step, _scalar, _zeros_like)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2014, section 7), as ``torch.optim.Adamax``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:  g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        theta = theta - lr / (1 - beta1^t) * m / u

    State per parameter: ``step``, ``exp_avg`` (m) and ``exp_inf`` (u).

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 2e-3).
        betas: decay rates of the first moment and of the infinity norm (default
            (0.9, 0.999)).
        eps: added to the infinity norm for stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, capturable: accepted for PyTorch compatibility; ember always
            runs its in-place kernels (differentiable=True is not supported).

    Example:
        >>> opt = ember.optim.Adamax(model.parameters(), lr=2e-3)
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_adam_family(group)

    def step(self, closure=None):
        """Performs one Adamax step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _init_state(self, p: Tensor) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            state["exp_avg"] = _zeros_like(p)
            state["exp_inf"] = _zeros_like(p)
        return state

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = (_scalar(b) for b in group["betas"])
        state = self._init_state(p)
        step = _bump_step(state)
        g = _effective_grad(p, group["maximize"], group["weight_decay"])
        xp = backend.xp_of(g)
        m, u = state["exp_avg"]._data, state["exp_inf"]._data

        # every buffer made with out=: NumPy gives a 0-d array's results as scalars
        scratch = xp.subtract(g, m, out=xp.empty_like(m))  # m.lerp_(g, 1 - beta1)
        scratch *= 1 - beta1
        m += scratch
        xp.abs(g, out=scratch)
        scratch += group["eps"]
        u *= beta2
        xp.maximum(u, scratch, out=u)

        update = xp.divide(m, u, out=scratch)
        update *= -(_scalar(group["lr"]) / (1 - beta1 ** step))
        p._data += update


def _check_adam_family(group: dict[str, Any]) -> None:
    """Adam's hyperparameter checks, in torch's order (Adamax, NAdam and RAdam share them)."""
    _check_non_negative("lr", group["lr"], "learning rate")
    _check_non_negative("eps", group["eps"], "epsilon value")
    for i, beta in enumerate(group["betas"]):
        if not 0.0 <= _scalar(beta) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
    _check_non_negative("weight_decay", group["weight_decay"], "weight_decay value")
    _check_fused(group)
