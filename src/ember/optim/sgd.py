"""Stochastic gradient descent, with optional (Nesterov) momentum."""
from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from . import _fused
from .optimizer import (Optimizer, ParamsT, _check_fused, _check_non_negative,
                        _add_scaled, _effective_grad, _scalar)

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`::

        g = -g_t if maximize else g_t
        if weight_decay != 0:  g = g + weight_decay * theta
        if momentum != 0:
            b = g                                   (t = 1)
            b = momentum * b + (1 - dampening) * g  (t > 1)
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, fused: accepted for PyTorch compatibility; ember always runs
            its in-place kernels (differentiable=True is not supported).

    Example:
        >>> opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative("lr", group["lr"], "learning rate")
        _check_non_negative("momentum", group["momentum"], "momentum value")
        _check_non_negative("weight_decay", group["weight_decay"], "weight_decay value")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_fused(group)

    def step(self, closure=None):
        """Performs one SGD step; returns ``closure()``'s loss when a closure is given."""
        return self._step_each(closure)

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        if _fused.applies(p):  # a CuPy parameter: the same update as one GPU kernel
            _fused.sgd_step(p, self.state[p], group)
            return
        momentum, dampening = group["momentum"], group["dampening"]
        g = _effective_grad(p, group["maximize"], group["weight_decay"])
        owned = g is not p.grad._data  # a fresh array we may overwrite
        xp = backend.xp_of(g)
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = Tensor._make(g.astype(p._data.dtype, copy=True))
                state["momentum_buffer"] = buf
            else:
                b = buf._data
                b *= momentum
                b += g if dampening == 0 else xp.multiply(g, 1 - dampening)
            if group["nesterov"]:
                ahead = xp.multiply(buf._data, momentum)
                ahead += g
                g, owned = ahead, True
            else:
                g, owned = buf._data, False
        _add_scaled(p._data, g, -_scalar(group["lr"]), owned)
