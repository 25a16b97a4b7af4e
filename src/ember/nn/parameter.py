"""Parameter: a Tensor that a Module registers as one of its learnable weights."""
from __future__ import annotations

from .. import creation
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that, assigned as a Module attribute, is added to ``module.parameters()``.

    It shares memory (and the version counter) with ``data`` and requires grad by default.

    Args:
        data: the initial value; an empty float tensor when None.
        requires_grad: whether the parameter requires gradient (default True).

    Example::

        >>> w = nn.Parameter(ember.zeros(2, 3))
        >>> w.requires_grad
        True
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: data must be a Tensor, not {type(data).__name__}")
        self = object.__new__(cls)
        self._data = data._data
        self._vbox = data._vbox
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._hooks = None
        self._view_version = None
        if requires_grad:
            self.requires_grad_(True)
        return self

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        pass  # everything happens in __new__ (Tensor.__init__ takes other arguments)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce__(self):
        plain = Tensor._make(self._data)
        return (_rebuild_parameter, (plain, self._requires_grad))


def _rebuild_parameter(data: Tensor, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


def is_lazy(param) -> bool:
    """Lazy (uninitialized) parameters do not exist in ember."""
    return False
