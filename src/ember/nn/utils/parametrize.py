"""Parametrizations: a module's tensor computed from other tensors on every access, as
torch.nn.utils.parametrize.

``register_parametrization(module, "weight", P)`` moves ``module.weight`` into
``module.parametrizations.weight.original`` and swaps the module's class for a subclass with
a ``weight`` property returning ``P(original)``. Assigning ``module.weight = X`` stores
``P.right_inverse(X)`` in the original. The state_dict keys are PyTorch's
(``parametrizations.weight.original``, or ``original0``, ``original1``, ... when
``right_inverse`` returns several tensors), so checkpoints move between ember and torch.

Example::

    >>> class Symmetric(nn.Module):
    ...     def forward(self, X):
    ...         return X.triu() + X.triu(1).mT
    >>> m = nn.Linear(3, 3)
    >>> P.register_parametrization(m, "weight", Symmetric())
    >>> bool((m.weight == m.weight.T).all())
    True
    >>> list(m.state_dict())
    ['bias', 'parametrizations.weight.original']
    >>> with P.cached():  # computes m.weight once inside the block
    ...     y = m(x) + m(x)
"""
from __future__ import annotations

import collections.abc
import copy
import copyreg
from contextlib import contextmanager
from types import SimpleNamespace

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

__all__ = ["cached", "ParametrizationList", "register_parametrization", "is_parametrized",
           "remove_parametrizations", "type_before_parametrizations",
           "transfer_parametrizations_and_params"]

_cache_enabled = 0
_cache: dict = {}


@contextmanager
def cached():
    """Within this block each parametrized tensor is computed once, on first access, and
    reused (e.g. a recurrent kernel used at every time step). Blocks may nest."""
    global _cache, _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache = {}


def _register_parameter_or_buffer(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _maybe_set(dest: Tensor, src: Tensor) -> None:
    """dest takes src's memory (torch's ``set_``), keeping its identity for optimizers."""
    if dest is not src:
        dest._data = src._data
        dest._vbox[0] += 1


def _check_same(message: str, before, after, names: tuple[str, str]) -> None:
    """Registering may change neither dtype nor shape (unless ``unsafe``). ``message`` and
    ``names`` (the labels of the two values) are templates filled with the attribute."""
    for attr in ("dtype", "shape"):
        if getattr(before, attr) != getattr(after, attr):
            raise ValueError(f"{message.format(attr)}\n{names[0].format(attr)}: "
                             f"{getattr(before, attr)}\n{names[1].format(attr)}: "
                             f"{getattr(after, attr)}")


_MAY_NOT_CHANGE = ("Registering a parametrization may not change the {} of the tensor, unless "
                   "the `unsafe` flag is enabled.")


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, and the original tensor(s) they are applied to.

    ``module.parametrizations[name]`` is one of these. It holds the tensor as ``original``,
    or as ``original0``, ``original1``, ... when the first parametrization's
    ``right_inverse`` returns a sequence. Built by ``register_parametrization``, not by users.

    Args:
        modules: the parametrizations, applied in order.
        original: the parameter or buffer being parametrized.
        unsafe: whether the parametrization may change the tensor's shape and dtype.
    """

    def __init__(self, modules, original: Tensor, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        shape, dtype = original.shape, original.dtype
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass  # a right_inverse that cannot invert acts as the identity
        if not isinstance(new, (Tensor, collections.abc.Sequence)):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors "
                             f"(list, tuple...). Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            self._register_original(original, new)
        else:
            self._register_originals(original, new)
        if not unsafe:
            Z = self()
            if not isinstance(Z, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got "
                                 f"{type(Z).__name__}.")
            before = SimpleNamespace(shape=shape, dtype=dtype)
            _check_same(_MAY_NOT_CHANGE, before, Z, ("unparametrized {}", "parametrized {}"))

    def _register_original(self, original: Tensor, new: Tensor) -> None:
        for attr in ("dtype", "device"):
            if getattr(original, attr) != getattr(new, attr):
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change "
                                 f"the {attr}.\noriginal.{attr}: {getattr(original, attr)}\n"
                                 f"right_inverse(original).{attr}: {getattr(new, attr)}")
        with no_grad():
            _maybe_set(original, new)  # the same Parameter object: optimizers still hold it
        _register_parameter_or_buffer(self, "original", original)

    def _register_originals(self, original: Tensor, new) -> None:
        for i, tensor in enumerate(new):
            if not isinstance(tensor, Tensor):
                raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors "
                                 f"(list, tuple...). Got element {i} of the sequence with type "
                                 f"{type(tensor).__name__}.")
            if isinstance(original, Parameter):
                tensor = Parameter(tensor, original.requires_grad)
            tensor.requires_grad_(original.requires_grad)
            _register_parameter_or_buffer(self, f"original{i}", tensor)

    def right_inverse(self, value: Tensor) -> None:
        """Stores the right inverse of ``value`` (through every parametrization, last first)
        in ``original`` or ``original0``, ``original1``, ..."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       "implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                self._set_original(value)
            else:
                self._set_originals(value)

    def _set_original(self, value) -> None:
        if not isinstance(value, Tensor):
            raise ValueError(f"`right_inverse` should return a tensor. Got "
                             f"{type(value).__name__}")
        if value.dtype != self.original.dtype:
            raise ValueError(f"The tensor returned by `right_inverse` has dtype {value.dtype} "
                             f"while `original` has dtype {self.original.dtype}")
        _maybe_set(self.original, value)

    def _set_originals(self, value) -> None:
        if not isinstance(value, collections.abc.Sequence):
            raise ValueError("'right_inverse' must return a sequence of tensors. Got "
                             f"{type(value).__name__}.")
        if len(value) != self.ntensors:
            raise ValueError("'right_inverse' must return a sequence of tensors of length "
                             f"{self.ntensors}. Got a sequence of length {len(value)}.")
        for i, tensor in enumerate(value):
            original_i = getattr(self, f"original{i}")
            if not isinstance(tensor, Tensor):
                raise ValueError("'right_inverse' must return a sequence of tensors. Got "
                                 f"element {i} of type {type(tensor).__name__}.")
            if original_i.dtype != tensor.dtype:
                raise ValueError(f"Tensor {i} returned by `right_inverse` has dtype "
                                 f"{tensor.dtype} while `original{i}` has dtype "
                                 f"{original_i.dtype}")
            _maybe_set(original_i, tensor)

    def forward(self) -> Tensor:
        parametrizations = list(self)
        if self.is_tensor:
            x = parametrizations[0](self.original)
        else:
            x = parametrizations[0](*(getattr(self, f"original{i}")
                                      for i in range(self.ntensors)))
        for parametrization in parametrizations[1:]:
            x = parametrization(x)
        return x


def _default_deepcopy(self, memo):
    replica = memo.get(id(self))
    if replica is not None:
        return replica
    replica = self.__new__(self.__class__)
    memo[id(self)] = replica
    replica.__dict__ = copy.deepcopy(self.__dict__, memo)
    for slot in copyreg._slotnames(self.__class__):
        if hasattr(self, slot):
            setattr(replica, slot, copy.deepcopy(getattr(self, slot), memo))
    return replica


def _refuse_pickling(self):
    raise RuntimeError("Serialization of parametrized modules is only supported through "
                       "state_dict(). See:\nhttps://pytorch.org/tutorials/beginner/"
                       "saving_loading_models.html#saving-loading-a-general-checkpoint-for-"
                       "inference-and-or-resuming-training")


def _inject_new_class(module: Module) -> None:
    """Gives ``module`` a class of its own (a subclass of its class) to hold the properties."""
    cls = module.__class__
    namespace = {"__getstate__": _refuse_pickling}
    if not hasattr(cls, "__deepcopy__"):  # pickling is refused, deepcopy still works
        namespace["__deepcopy__"] = _default_deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), namespace)


def _inject_property(module: Module, tensor_name: str) -> None:
    if hasattr(module, tensor_name):
        raise AssertionError(f"Module already has an attribute named '{tensor_name}'")

    def get_parametrized(self) -> Tensor:
        override = self.__dict__.get(tensor_name)
        if override is not None:  # func.functional_call was given the plain name
            return override
        parametrization = self.parametrizations[tensor_name]
        if not _cache_enabled:
            return parametrization()
        key = (id(self), tensor_name)
        tensor = _cache.get(key)
        if tensor is None:
            tensor = _cache[key] = parametrization()
        return tensor

    def set_original(self, value: Tensor) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def _check_appended(module: Module, tensor_name: str, parametrization: Module) -> None:
    """A parametrization added on top of others must map the tensor's space to itself."""
    Y = getattr(module, tensor_name)
    X = parametrization(Y)
    if not isinstance(X, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(X).__name__}.")
    names = (f"module.{tensor_name}.{{}}", f"parametrization(module.{tensor_name}).{{}}")
    _check_same(_MAY_NOT_CHANGE, Y, X, names)
    if not hasattr(parametrization, "right_inverse"):
        return
    try:
        Z = parametrization.right_inverse(X)
    except NotImplementedError:
        return
    if not isinstance(Z, Tensor):
        raise ValueError(f"parametrization.right_inverse must return a tensor. Got: "
                         f"{type(Z).__name__}")
    _check_same("The tensor returned by parametrization.right_inverse must have the same {} "
                f"as module.{tensor_name}, unless the `unsafe` flag is enabled.", Y, Z,
                (f"module.{tensor_name}.{{}}", "returned {}"))


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Makes ``module.<tensor_name>`` the output of ``parametrization`` applied to the
    original tensor, recomputed on every access (once per ``cached()`` block).

    The first registration on a tensor moves it to
    ``module.parametrizations[tensor_name].original`` (the same object, so an optimizer
    built before still updates it), after replacing its value by
    ``parametrization.right_inverse(tensor)`` when that method exists. A ``right_inverse``
    returning a sequence stores ``original0``, ``original1``, ... (new parameters) and the
    parametrization's forward takes that many tensors. Later registrations are applied on top.

    Args:
        module: the module that owns the tensor.
        tensor_name: name of a parameter or buffer (or an already parametrized tensor).
        parametrization: a Module mapping the original tensor(s) to the tensor.
        unsafe: allow the parametrization to change the tensor's shape and dtype (skips the
            consistency checks).

    Returns:
        ``module``, whose class is now ``Parametrized<Class>``.

    Raises:
        ValueError: ``tensor_name`` is neither a parameter, a buffer nor parametrized, or
            (unless ``unsafe``) the parametrization changes the dtype or shape.
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            _check_appended(module, tensor_name, parametrization)
        parametrizations = module.parametrizations[tensor_name]
        parametrizations.append(parametrization)
        parametrizations.unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        parametrizations = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = parametrizations
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has a parametrization on ``tensor_name`` (on any tensor if None)."""
    parametrizations = getattr(module, "parametrizations", None)
    if not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def remove_parametrizations(module: Module, tensor_name: str,
                            leave_parametrized: bool = True) -> Module:
    """Removes the parametrizations on ``module.<tensor_name>``.

    With ``leave_parametrized`` the tensor keeps its current (parametrized) value; otherwise
    it goes back to the original, possible only when there is one original tensor. A single
    original keeps its identity (the same Parameter object). The module's class goes back to
    the one it had once no tensor is parametrized.

    Raises:
        ValueError: the tensor is not parametrized, or ``leave_parametrized=False`` with
            several original tensors.
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    parametrizations = module.parametrizations[tensor_name]
    if parametrizations.is_tensor:
        original = parametrizations.original
        if leave_parametrized:
            with no_grad():
                _maybe_set(original, getattr(module, tensor_name))
    elif leave_parametrized:
        t = getattr(module, tensor_name)  # with grad: its requires_grad says Parameter or not
        original = Parameter(t) if t.requires_grad else t
    else:
        raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                         "that is parametrized in terms of a sequence of tensors.")
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class before any parametrization was registered (its class if none)."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def transfer_parametrizations_and_params(from_module: Module, to_module: Module,
                                         tensor_name: str | None = None) -> Module:
    """Registers ``from_module``'s parametrizations (all, or those on ``tensor_name``) on
    ``to_module`` too, creating missing tensors, and shares the original tensors."""
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        source = from_module.parametrizations[name]
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name)))
        for parametrization in source:
            register_parametrization(to_module, name, parametrization)
        target = to_module.parametrizations[name]
        if hasattr(source, "original"):
            target.original = source.original
        else:
            for i in range(source.ntensors):
                setattr(target, f"original{i}", getattr(source, f"original{i}"))
    return to_module
