"""functional_call and stack_module_state: modules as functions of their parameters."""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

from ..ops.movement import stack

_MISSING = object()


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """Calls ``module`` with some of its parameters and buffers replaced by the given tensors.

    The module's own tensors are put back afterwards, also when the call raises. Combined with
    :func:`grad` or :func:`vmap`, this makes a module a pure function of its parameters.

    Args:
        module: the nn.Module to call.
        parameter_and_buffer_dicts: ``{dotted name: tensor}``, or a tuple/list of such dicts
            with distinct keys.
        args: the positional arguments (a non-tuple is one argument).
        kwargs: the keyword arguments.
        tie_weights: a tensor shared under several names (tied weights) is replaced under all
            of them when one name is given; different values for tied names are an error.
        strict: the names must be exactly the module's parameters and buffers.

    Example:
        >>> model = ember.nn.Linear(3, 2)
        >>> params = {k: v.detach() for k, v in model.named_parameters()}
        >>> def loss(params, x, y):
        ...     return ((functional_call(model, params, (x,)) - y) ** 2).mean()
        >>> grads = ember.func.grad(loss)(params, x, y)       # a dict like params
    """
    tensors = _merge_dicts(parameter_and_buffer_dicts)
    if kwargs is None:
        kwargs = {}
    if not isinstance(args, tuple):
        args = () if args is None else (args,)
    with _reparametrize(module, tensors, tie_weights, strict):
        return module(*args, **kwargs)


def _merge_dicts(dicts) -> dict:
    if isinstance(dicts, dict):
        return dicts
    if not isinstance(dicts, Sequence):
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                         f"dicts, but got {type(dicts)}")
    if not all(isinstance(d, dict) for d in dicts):
        raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
    counts = {}
    for d in dicts:
        for k in d:
            counts[k] = counts.get(k, 0) + 1
    repeated = [k for k, n in counts.items() if n > 1]
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional "
                         "call is ambiguous")
    return {k: v for d in dicts for k, v in d.items()}


def _named_tensors(module) -> dict:
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    return named


def _untie(module, tensors: dict) -> dict:
    """``tensors`` plus, for each given name of a tied tensor, its other names."""
    groups = {}
    for name, t in _named_tensors(module).items():
        groups.setdefault(id(t), []).append(name)
    out = dict(tensors)
    for names in groups.values():
        given = [n for n in names if n in tensors]
        if len(names) < 2 or not given:
            continue
        values = {id(tensors[n]) for n in given}
        if len(values) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(given)}, "
                             "which are tied. Consider using tie_weights=False")
        for n in names:
            out.setdefault(n, tensors[given[0]])
    return out


def _check_keys(module, names) -> None:
    valid = set(_named_tensors(module))
    missing, unexpected = sorted(valid - set(names)), sorted(set(names) - valid)
    errors = []
    if unexpected:
        errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if errors:
        raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t"
                           + "\n\t".join(errors))


@contextmanager
def _reparametrize(module, tensors: dict, tie_weights: bool, strict: bool):
    given = tensors
    if tie_weights:
        tensors = _untie(module, tensors)
    if strict:
        _check_keys(module, tensors)
    originals = []
    try:
        for name, value in tensors.items():
            owner, attr = _owner(module, name)
            originals.append((name, owner, attr, _swap(owner, attr, value)))
        yield
    finally:
        for name, owner, attr, old in reversed(originals):
            current = _swap(owner, attr, old)
            if name in given and current is not given[name]:
                given[name] = current  # the module reassigned it during the call, as torch keeps


def _owner(module, name: str):
    path, _, attr = name.rpartition(".")
    return (module.get_submodule(path) if path else module), attr


def _swap(owner, attr: str, value):
    """Puts ``value`` under ``owner.attr`` (its parameter, buffer or plain attribute slot) and
    returns what was there; ``_MISSING`` removes a plain attribute."""
    for store in (owner._parameters, owner._buffers):
        if attr in store:
            old, store[attr] = store[attr], value
            return old
    old = owner.__dict__.get(attr, _MISSING)
    if value is _MISSING:
        owner.__dict__.pop(attr, None)
    else:
        owner.__dict__[attr] = value
    return old


def stack_module_state(models) -> tuple[dict, dict]:
    """Stacks the parameters and buffers of same-class modules, for ensembling with vmap.

    Returns:
        ``(params, buffers)``: dicts from names to tensors with a new leading dim of size
        ``len(models)``. Stacked parameters are new leaves (requiring grad when the originals
        do), unrelated to the originals.

    Example:
        >>> params, buffers = stack_module_state(models)
        >>> call = lambda p, b, x: functional_call(models[0], (p, b), (x,))
        >>> out = ember.func.vmap(call, in_dims=(0, 0, None))(params, buffers, x)
    """
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    if len({type(m) for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params = [dict(m.named_parameters()) for m in models]
    buffers = [dict(m.named_buffers()) for m in models]
    return ({k: _stacked_leaf([p[k] for p in params], k) for k in params[0]},
            {k: _stacked_leaf([b[k] for b in buffers], k) for k in buffers[0]})


def _stacked_leaf(tensors, name: str):
    flags = {t.requires_grad for t in tensors}
    if len(flags) > 1:
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = stack([t.detach() for t in tensors])
    return result.requires_grad_() if flags == {True} else result
