"""Optimizer: parameter groups, per-parameter state and PyTorch-format state dicts.

Subclasses implement ``step`` on the raw arrays (``p._data``, ``p.grad._data``) with in-place
xp ufuncs, so an update allocates at most a scratch buffer or two per parameter and float32
parameters stay float32.
"""
from __future__ import annotations

import functools
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import backend
from ..autograd.grad_mode import enable_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyperparameter every param group must set (no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


def _mark_called(step: Callable) -> Callable:
    """Wraps a subclass's ``step`` so LR schedulers can warn when they step first."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)
    wrapper._wraps_optimizer_step = True
    return wrapper


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (param
            groups), each with a ``'params'`` entry and any per-group options.
        defaults: the options a group gets when it does not set them.

    Example:
        >>> opt = ember.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.1}], lr=0.01)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    # state entries that are scalars, not parameter-shaped tensors
    _scalar_state_keys = ("step",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_wraps_optimizer_step", False):
            cls.step = _mark_called(step)

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- param groups -------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters with its own options (e.g. unfreezing layers mid-run).

        Args:
            param_group: a dict with ``'params'`` (tensors) and optional per-group options;
                options it omits take the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params, names = _split_params(param_group["params"])
        self._check_params(params, names)
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
        self._check_group({**self.defaults, **param_group})
        # validated: now the group may be changed (in place, as torch does)
        param_group["params"] = params
        if names is not None:
            param_group["param_names"] = names
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self.param_groups.append(param_group)

    def _check_params(self, params: list[Tensor], names: list[str] | None) -> None:
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=4)
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if self.param_groups and (names is None) != ("param_names" not in self.param_groups[0]):
            raise ValueError("all optimizer param groups should be with/without names. cannot "
                             "add param group " + ("without" if names is None else "with")
                             + " names to the optimizer")

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raises ValueError for an invalid hyperparameter; subclasses override."""

    # -- gradients ------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets every parameter's gradient: to None (default) or to zeros in place.

        Args:
            set_to_none: drop the ``.grad`` tensors instead of zeroing them (saves memory and a
                pass over the data; a None grad also makes ``step`` skip the parameter).
        """
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if grad.grad_fn is not None:
                    grad.detach_()
                else:
                    grad.requires_grad_(False)
                grad._data.fill(0)
                grad._vbox[0] += 1

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs one optimization step; subclasses implement it.

        Args:
            closure: reevaluates the model and returns the loss (needed by some algorithms).
        """
        raise NotImplementedError

    def _eval_closure(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_grad(self, group: dict[str, Any]) -> list[Tensor]:
        """The group's parameters that have a gradient, checked before anything is updated."""
        out = [p for p in group["params"] if p.grad is not None]
        for p in out:
            g = p.grad._data
            if g.shape != p._data.shape:
                raise RuntimeError(f"{type(self).__name__}.step: gradient of shape "
                                   f"{tuple(g.shape)} does not match its parameter of shape "
                                   f"{tuple(p._data.shape)}; fix the assignment to .grad")
            if type(g) is not type(p._data) or p.grad.device != p.device:
                raise RuntimeError(f"{type(self).__name__}.step: gradient on {p.grad.device} "
                                   f"but parameter on {p.device}; move the gradient with .to()")
        return out

    def _step_each(self, closure: Callable[[], Any] | None) -> Any:
        """Runs ``self._update(p, group)`` on every parameter that has a gradient.

        All gradients are checked before the first update, so a bad one raises with every
        parameter unchanged. Each updated parameter's version counter is bumped.
        """
        loss = self._eval_closure(closure)
        todo = [(group, self._params_with_grad(group)) for group in self.param_groups]
        for group, params in todo:
            for p in params:
                with backend.device_guard(p._data):  # CuPy allocates on the current GPU
                    self._update(p, group)
                p._vbox[0] += 1
        return loss

    def _update(self, p: Tensor, group: dict[str, Any]) -> None:
        """Updates one parameter in place; subclasses using ``_step_each`` implement it."""
        raise NotImplementedError

    # -- state dict -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's format.

        Returns:
            ``{'state': {index: {name: value}}, 'param_groups': [{option: value, 'params':
            [index, ...]}]}``, parameters numbered in group order from 0. State tensors are
            the live buffers (as in torch), not copies.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): dict(v)
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a state from :meth:`state_dict` (copied; cast to each parameter's dtype/device).

        Everything is validated before anything changes: on a mismatch (group count, group
        sizes, state tensor shapes) it raises ValueError and the optimizer is left as it was.

        Args:
            state_dict: the optimizer state, as returned by :meth:`state_dict`.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups: "
                             f"{len(saved_groups)} saved vs {len(self.param_groups)} in the "
                             "optimizer")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group: group {i} has "
                                 f"{len(saved['params'])} saved vs {len(group['params'])} "
                                 "parameters")
        id_map = {_as_index(k): p for group, saved in zip(self.param_groups, saved_groups)
                  for k, p in zip(saved["params"], group["params"])}
        new_state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            key = _as_index(key)
            if key in id_map:
                param = id_map[key]
                new_state[param] = self._cast_state(param, key, value)
            else:
                new_state[key] = value
        new_groups = [self._restore_group(group, saved)
                      for group, saved in zip(self.param_groups, saved_groups)]
        self.state = new_state
        self.param_groups = new_groups

    def _restore_group(self, group: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
        new = {k: v for k, v in saved.items() if k != "params"}
        new["params"] = group["params"]
        if "param_names" in group and "param_names" not in new:
            new["param_names"] = group["param_names"]
        for name, default in self.defaults.items():
            # a JSON round trip turns tuples (betas) into lists
            if isinstance(default, tuple) and isinstance(new.get(name), list):
                new[name] = tuple(new[name])
            new.setdefault(name, default)
        return new

    def _cast_state(self, param: Tensor, index: int, state: dict[str, Any]) -> dict[str, Any]:
        """One parameter's saved state, checked against it and copied to its dtype/device."""
        out = {}
        for key, value in state.items():
            if type(value) is np.ndarray:
                value = Tensor._make(value)
            if key in self._scalar_state_keys:
                out[key] = _as_step(value)
            elif isinstance(value, Tensor):
                if tuple(value.shape) != tuple(param.shape):
                    raise ValueError(f"loaded state dict has '{key}' of shape "
                                     f"{tuple(value.shape)} for parameter {index} of shape "
                                     f"{tuple(param.shape)}; was it saved from another model?")
                data = backend.to_device(value._data, param.device)
                dtype = param._data.dtype if param.is_floating_point() else data.dtype
                out[key] = Tensor._make(data.astype(dtype, copy=True))
            else:
                out[key] = value
        return out

    # -- display ----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            if i:
                lines.append("")  # torch separates groups with a blank line
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


# -- helpers shared by the algorithms ---------------------------------------------------------
def _split_params(params) -> tuple[list[Tensor], list[str] | None]:
    """``params`` as a list of tensors, plus their names when given as (name, tensor) pairs."""
    if isinstance(params, Tensor):
        return [params], None
    if isinstance(params, set):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                        "the ordering of tensors in sets will change between runs. Please use a "
                        "list instead.")
    params = list(params)
    named = [p for p in params if isinstance(p, tuple)]
    if not named:
        return params, None
    if len(named) != len(params):
        raise ValueError("all optimizer params should be with/without names. Some param names "
                         "are missing")
    return [p for _, p in named], [n for n, _ in named]


def _as_index(key):
    # state dicts that went through JSON have string keys
    return int(key) if isinstance(key, str) and key.isdigit() else key


def _as_step(value) -> Tensor:
    """A step count as torch 2.x keeps it: a float32 0-d tensor on the CPU."""
    if isinstance(value, Tensor):
        host = backend.of(value._data).to_numpy(value._data)
        return Tensor._make(np.array(host, dtype=np.float32).reshape(()))
    return Tensor._make(np.array(value, dtype=np.float32))


def _new_step() -> Tensor:
    return Tensor._make(np.zeros((), dtype=np.float32))


def _bump_step(state: dict[str, Any]) -> float:
    """Adds one to ``state['step']`` in place and returns the new count as a Python float
    (a Python float keeps bias-correction terms weak, so float32 math stays float32)."""
    step = state["step"]._data
    step += 1
    return float(step)


def _scalar(value) -> float:
    """A hyperparameter as a Python number (an lr may be given as a 0-d tensor)."""
    return float(value) if isinstance(value, Tensor) else value


def _zeros_like(p: Tensor) -> Tensor:
    """A zero state buffer with the parameter's shape, dtype and device."""
    return Tensor._make(backend.xp_of(p._data).zeros_like(p._data))


def _effective_grad(p: Tensor, maximize: bool, weight_decay: float):
    """The gradient the algorithm follows: ``±grad + weight_decay * param``.

    Returns the raw ``p.grad`` array itself when there is nothing to add (never write into
    it), else a fresh array.
    """
    g = p.grad._data
    xp = backend.xp_of(g)
    if weight_decay != 0:
        # explicit out=: NumPy returns a scalar, not an array, for 0-d operands
        out = xp.multiply(p._data, weight_decay, out=xp.empty_like(g))
        return xp.subtract(out, g, out=out) if maximize else xp.add(out, g, out=out)
    return xp.negative(g, out=xp.empty_like(g)) if maximize else g


def _check_non_negative(name: str, value, label: str | None = None) -> None:
    if not 0.0 <= _scalar(value):
        raise ValueError(f"Invalid {label or name}: {value}")


def _check_fused(group: dict[str, Any]) -> None:
    if group.get("fused"):
        if group.get("differentiable"):
            raise RuntimeError("`fused` does not support `differentiable`")
        if group.get("foreach"):
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if group.get("differentiable"):
        raise NotImplementedError("differentiable=True is not supported by ember's optimizers: "
                                  "updates are done in place on the raw arrays")


def _add_scaled(param, update, alpha: float, owned: bool) -> None:
    """``param += alpha * update`` in place; scales ``update`` itself when ``owned``."""
    if owned:
        update *= alpha
        param += update
    else:
        param += backend.xp_of(update).multiply(update, alpha)
