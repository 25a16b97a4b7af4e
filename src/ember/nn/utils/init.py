"""skip_init, as torch.nn.utils.init: a module whose parameters are to be treated as
uninitialized, for code that sets every value itself (e.g. from a checkpoint).

Example::

    >>> m = nn.utils.skip_init(nn.Linear, 5, 1)
    >>> m.weight.shape
    ember.Size([1, 5])
"""
from __future__ import annotations

import inspect

from ..module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type, *args, **kwargs) -> Module:
    """``module_cls(*args, **kwargs)`` with parameters and buffers whose values are not
    to be relied on.

    torch builds the module on the "meta" device and allocates it on ``device`` without
    running the initializers. ember has no meta device, so the module is built directly on
    ``device`` (default cpu): the result is the same kind of module, only not faster.

    Raises:
        RuntimeError: ``module_cls`` is not a Module subclass or takes no ``device``.
    """
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs.setdefault("device", "cpu")
    return module_cls(*args, **kwargs)
