"""Rprop: per-coordinate step sizes adapted from the sign of the gradient only."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from .optimizer import (Optimizer, ParamsT, _bump_step, _check_fused, _check_non_negative,
                        _new_step, _scalar, _zeros_like)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun, 1993), as ``torch.optim.Rprop``.

    For each coordinate of a parameter :math:`\theta` with gradient :math:`g_t`::

        g = -g_t if maximize else g_t
        if g * g_prev > 0:  step_size = min(step_size * etaplus, step_size_max)
        if g * g_prev < 0:  step_size = max(step_size * etaminus, step_size_min);  g = 0
        theta = theta - sign(g) * step_size
        g_prev = g

    Only the sign of the gradient is used, so Rprop suits full-batch training; a sign
    change means the last step overshot, so the step shrinks and the coordinate waits.

    State per parameter: ``step``, ``prev`` (g_prev) and ``step_size`` (starts at lr).

    Args:
        params: tensors or param-group dicts to optimize.
        lr: initial step size (default 1e-2).
        etas: (etaminus, etaplus), the factors that shrink and grow the step sizes
            (default (0.5, 1.2)).
        step_sizes: (min, max) allowed step sizes (default (1e-6, 50)).
        maximize: maximize the objective instead of minimizing it.
        capturable, foreach, differentiable: accepted for PyTorch compatibility; ember always
            runs its in-place kernels (differentiable=True is not supported).

    Example:
        >>> opt = ember.optim.Rprop(model.parameters(), lr=0.01)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative("lr", group["lr"], "learning rate")
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus}")
        _check_fused(group)

    def step(self, closure=None):
        """Performs one Rprop step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            state["prev"] = _zeros_like(p)
            grad = p.grad._data
            state["step_size"] = Tensor._make(
                backend.xp_of(grad).full_like(grad, _scalar(group["lr"])))
        return state

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        etaminus, etaplus = group["etas"]
        state = self._init_state(p, group)
        _bump_step(state)
        g = p.grad._data
        xp = backend.xp_of(g)
        if group["maximize"]:
            g = xp.negative(g)
        prev, step_size = state["prev"]._data, state["step_size"]._data

        sign = xp.sign(xp.multiply(g, prev))
        flipped = sign < 0  # the last step overshot this coordinate
        # a NaN product leaves a NaN factor, as in torch
        factor = xp.where(sign > 0, etaplus,
                          xp.where(flipped, etaminus, xp.where(sign == 0, 1, sign)))
        step_size *= factor
        xp.clip(step_size, *group["step_sizes"], out=step_size)

        g = xp.where(flipped, 0, g)  # ...so it waits one step
        prev[...] = g
        xp.sign(g, out=g)
        g *= step_size
        p._data -= g
