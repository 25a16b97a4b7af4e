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


class Buffer(Tensor):
    """A Tensor that, assigned as a Module attribute, is registered as one of its buffers.

    It shares memory (and the version counter) with ``data``, as ``data.detach()``. Unlike
    PyTorch, where ``nn.Buffer(t)`` is a plain Tensor flagged as a buffer, ember's is an
    instance of this subclass (so ``isinstance(b, nn.Buffer)`` holds either way).

    Args:
        data: the buffer's value; an empty float tensor when None.
        persistent: whether the buffer is part of the module's ``state_dict``.

    Example::

        >>> m = nn.Module()
        >>> m.steps = nn.Buffer(ember.zeros(()), persistent=False)
        >>> list(m.buffers()), list(m.state_dict())
        ([tensor(0.)], [])
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            data = creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer: data must be a Tensor, not {type(data).__name__}")
        self = object.__new__(cls)
        self._data = data._data
        self._vbox = data._vbox
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._hooks = None
        self._view_version = None
        self.persistent = persistent
        if data.requires_grad:
            self.requires_grad_(True)
        return self

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True):
        pass  # everything happens in __new__


_DATA = Tensor.__dict__["_data"]  # the slot that holds a Tensor's array
_UNINITIALIZED_SHAPE = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually "
    "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
    "initialized one. Call `forward` to initialize the parameters before accessing their "
    "attributes.")


class UninitializedTensorMixin:
    """A parameter or buffer whose shape is not known yet (lazy modules).

    It holds an empty placeholder that only records a device and a dtype; moving and casting
    it (``to``, ``cuda``, ``float``, ``Module.to``) change those, and ``materialize`` gives
    it a shape and turns it into the regular class. Any other use raises ValueError.
    """

    __slots__ = ()
    cls_to_become = None

    @property
    def _data(self):
        raise ValueError(
            f"Attempted to use an uninitialized parameter in an ember operation. This error "
            f"happens when you are using a `LazyModule` or explicitly manipulating "
            f"`ember.nn.parameter.{type(self).__name__}` objects. When using LazyModules call "
            f"`forward` with a dummy batch to initialize the parameters before calling ember "
            f"functions")

    @_data.setter
    def _data(self, value) -> None:
        _DATA.__set__(self, value)

    def _placeholder(self) -> Tensor:
        return Tensor._make(_DATA.__get__(self))

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Gives the tensor ``shape`` (uninitialised values) on its device and dtype, or the
        given ones, and makes it a regular Parameter (or Buffer)."""
        held = self._placeholder()
        value = creation.empty(tuple(shape), device=held.device if device is None else device,
                               dtype=held.dtype if dtype is None else dtype)
        _DATA.__set__(self, value._data)
        self._vbox[0] += 1
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_UNINITIALIZED_SHAPE)

    def size(self, dim: int | None = None):
        return self._placeholder().size(dim)

    @property
    def dtype(self):
        return self._placeholder().dtype

    @property
    def device(self):
        return self._placeholder().device

    @property
    def is_cuda(self) -> bool:
        return self._placeholder().is_cuda

    def is_floating_point(self) -> bool:
        return self._placeholder().is_floating_point()

    def is_complex(self) -> bool:
        return self._placeholder().is_complex()

    def requires_grad_(self, requires_grad: bool = True):
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def data(self) -> Tensor:
        return self._placeholder()

    @data.setter
    def data(self, value: Tensor) -> None:
        _DATA.__set__(self, value._data)

    def to(self, *args, **kwargs):
        """The placeholder moved or cast (a Parameter's, as PyTorch, is a plain Tensor)."""
        return self._placeholder().to(*args, **kwargs)

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, protocol):
        return (type(self), (self._requires_grad,))

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            held = self._placeholder()
            memo[id(self)] = type(self)(self._requires_grad, held.device, held.dtype)
        return memo[id(self)]


def is_lazy(param) -> bool:
    """Whether ``param`` is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is inferred later (by a lazy module's first forward).

    Args:
        requires_grad: as Parameter.
        device, dtype: those of the parameter once materialized (defaults: cpu, the default
            dtype).
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        return Parameter.__new__(cls, creation.empty(0, device=device, dtype=dtype),
                                 requires_grad)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        pass


class UninitializedBuffer(UninitializedTensorMixin, Buffer):
    """A buffer whose shape is inferred later; it becomes a ``Buffer`` when materialized.

    Moving or casting it gives a new UninitializedBuffer (as PyTorch), so ``Module.to``
    keeps it lazy.
    """

    cls_to_become = Buffer

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None,
                persistent: bool = True):
        self = Buffer.__new__(cls, creation.empty(0, device=device, dtype=dtype),
                              persistent=persistent)
        self._requires_grad = bool(requires_grad)
        return self

    def __init__(self, requires_grad: bool = False, device=None, dtype=None,
                 persistent: bool = True):
        pass

    def to(self, *args, **kwargs):
        moved = self._placeholder().to(*args, **kwargs)
        return UninitializedBuffer(self._requires_grad, moved.device, moved.dtype,
                                   self.persistent)
