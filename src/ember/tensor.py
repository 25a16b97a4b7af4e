"""Tensor: an xp array (NumPy or CuPy) with autograd state.

Methods and operator dunders are thin calls into ``ember.ops``; no math lives here. The table
at the bottom binds the op functions whose first argument is the tensor as methods.
"""
from __future__ import annotations

import weakref

import numpy as np

from . import backend, dtypes
from .autograd.grad_mode import _State
from .device import device as Device


class Tensor:
    """A multi-dimensional array that records the ops applied to it for autograd."""

    # _view_version: for an output of a view op, the version at which its grad_fn was set
    # (None otherwise); _view_src (base, view Function, its extra args, the version then) is
    # set only on views; _restrides ((version, undo (Function, args) or None), ...) only on
    # tensors changed by in-place view ops (t_, squeeze_, ...); _post_hooks only on leaves
    # with post-accumulate-grad hooks
    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_output_nr", "_vbox", "_hooks",
                 "_view_version", "_restrides", "_view_src", "_post_hooks", "__weakref__")
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, *args, requires_grad: bool = False):
        # torch.Tensor(data) or torch.Tensor(*sizes): a float tensor, as in PyTorch.
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            data = np.asarray(args[0], dtypes.get_default_dtype().numpy)
        else:
            data = np.empty(tuple(int(a) for a in args), dtypes.get_default_dtype().numpy)
        self._data = data
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._vbox = [0]
        self._hooks = None
        self._view_version = None
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data, requires_grad=False, grad_fn=None, output_nr=0):
        """Wraps an xp array without copying (the internal constructor)."""
        if type(data) is not _ndarray and isinstance(data, _np_generic):
            data = np.asarray(data)  # NumPy reductions return scalars, not 0-d arrays
        t = _new(Tensor)
        t._data = data
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = grad_fn
        t._output_nr = output_nr
        t._vbox = [0]
        t._hooks = None
        t._view_version = None
        return t

    # -- metadata -------------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """The same memory without autograd history."""
        out = Tensor._make(self._data)
        out._vbox = self._vbox
        return out

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_checks.dim(dim, self._data.ndim, "size")]

    def dim(self) -> int:
        return self._data.ndim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy(self._data.dtype)

    @property
    def device(self) -> Device:
        return backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return type(self._data) is np.ndarray

    def get_device(self) -> int:
        """The GPU index of a cuda tensor; -1 on the CPU."""
        return -1 if type(self._data) is np.ndarray else self.device.index

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def layout(self):
        return _config.strided

    @property
    def output_nr(self) -> int:
        """Which output of its grad_fn this tensor is (0 for leaves)."""
        return self._output_nr

    def is_inference(self) -> bool:
        return False  # ember has no inference tensors: inference_mode works as no_grad

    # ember's tensors are dense, strided and materialised
    is_sparse = is_sparse_csr = is_quantized = is_meta = is_nested = is_mkldnn = False

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    @property
    def real(self) -> Tensor:
        """The real parts, a view for complex tensors (self for real ones); settable."""
        return complex_ops.real(self)

    @real.setter
    def real(self, value) -> None:
        complex_ops.real(self).copy_(value)

    @property
    def imag(self) -> Tensor:
        """The imaginary parts of a complex tensor, a view; settable."""
        return complex_ops.imag(self)

    @imag.setter
    def imag(self, value) -> None:
        complex_ops.imag(self).copy_(value)

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_checks.dim(dim, self._data.ndim, "stride")]

    def data_ptr(self) -> int:
        return self._data.__array_interface__["data"][0] if type(self._data) is np.ndarray \
            else self._data.data.ptr

    @property
    def _version(self) -> int:
        return self._vbox[0]

    # -- autograd state ---------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        self._refresh_if_stale()
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you "
                               "want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients, "
                               f"got {self.dtype}")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        self._refresh_if_stale()
        return self.grad_fn is None

    def _refresh_if_stale(self) -> None:
        """A view whose base changed in place since it was taken gets its history
        regenerated from the base's (autograd.function.refresh_view)."""
        if self._view_version is not None and self._view_version != self._vbox[0]:
            _function.refresh_view(self)

    def detach(self) -> Tensor:
        """The same memory, cut from the graph."""
        out = Tensor._make(self._data)
        out._vbox = self._vbox
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep .grad for this non-leaf tensor after backward."""
        self._refresh_if_stale()
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        node = self.grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        node = self.grad_fn
        return node is not None and node._retained is not None and self._output_nr in node._retained

    def register_hook(self, hook) -> _HookHandle:
        """``hook(grad)`` runs when this tensor's gradient is computed; a return value replaces it."""
        self._refresh_if_stale()
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self.grad_fn
            if node._tensor_hooks is None:
                node._tensor_hooks = {}
            hooks = node._tensor_hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook) -> _HookHandle:
        """``hook(self)`` runs once a backward pass has accumulated this leaf's ``.grad``
        (e.g. to step an optimizer inside backward); it must return None."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        hooks = getattr(self, "_post_hooks", None)
        if hooks is None:
            hooks = self._post_hooks = []
            _engine.post_hooks_exist = True
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulates d(self)/d(leaf) into every leaf's ``.grad``."""
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # -- conversion -------------------------------------------------------------------------
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The NumPy array behind this CPU tensor (shared memory)."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if type(self._data) is not np.ndarray:
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                                "Tensor.cpu() to copy the tensor to host memory first.")
            return backend.of(self._data).to_numpy(self._data)
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)``; self if unchanged.

        ``non_blocking=True`` uploads from pinned memory without waiting for the copy.
        """
        # to(device, dtype, non_blocking, copy): the first positional bool is non_blocking
        flags = [a for a in args if isinstance(a, bool)]
        non_blocking = bool(kwargs.pop("non_blocking", flags[0] if flags else False))
        dev, dtype, copy = _parse_to(args, kwargs)
        out = self
        if dev is not None and dev != self.device:
            out = _move(out, dev, non_blocking)
        if dtype is not None and dtype.numpy != out._data.dtype:
            out = elementwise.cast(out, dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        """A copy on GPU ``device`` (default: the current GPU), or self if already there."""
        dev = Device("cuda") if device is None else Device(device)
        return self.to(dev, non_blocking=non_blocking)

    # -- pinned host memory (section owned with the cuda backend) --------------------------
    def pin_memory(self, device=None) -> Tensor:
        """A copy of this CPU tensor in page-locked host memory (self if already pinned).

        Uploads from pinned memory with ``.to('cuda', non_blocking=True)`` run asynchronously.
        Needs a cuda backend (RuntimeError without one, as in PyTorch).
        """
        if type(self._data) is not np.ndarray:
            raise RuntimeError(f"pin_memory: cannot pin '{self.device}' memory: only dense CPU "
                               f"tensors can be pinned")
        if backend.is_pinned(self._data):
            return self
        if self._requires_grad and _State.enabled:
            raise RuntimeError("pin_memory: ember cannot pin a tensor that requires grad while "
                               "recording; pin t.detach() instead")
        return Tensor._make(backend.pin_memory(self._data))

    def is_pinned(self, device=None) -> bool:
        """Whether this tensor lives in page-locked host memory."""
        return backend.is_pinned(self._data)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def type(self, dtype=None):
        if dtype is None:
            return f"ember.{self.dtype.name}"
        return self.to(dtypes.as_dtype(dtype))

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def cfloat(self) -> Tensor:
        return self.to(dtypes.complex64)

    def cdouble(self) -> Tensor:
        return self.to(dtypes.complex128)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def short(self) -> Tensor:
        return self.to(dtypes.int16)

    def char(self) -> Tensor:
        return self.to(dtypes.int8)

    def byte(self) -> Tensor:
        return self.to(dtypes.uint8)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool)

    def contiguous(self, memory_format=None) -> Tensor:
        return self if self._data.flags.c_contiguous else movement.contiguous(self)

    # -- in-place machinery -------------------------------------------------------------------
    def _inplace(self, op, *args, **kwargs) -> Tensor:
        """Writes ``op(self, *args)`` into self's memory, keeping autograd history right."""
        if _State.enabled:
            self._refresh_if_stale()
        recording = _State.enabled and (self._requires_grad or any(
            isinstance(a, Tensor) and a._requires_grad for a in args))
        if recording:
            if self._requires_grad and self.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            chain, base = _function.view_chain(self)
            if base is not None and base._requires_grad and base.grad_fn is None:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation; clone() the leaf first.")
            # backward may need the old value: compute from a snapshot of it
            source = Tensor._make(self._data.copy(), self._requires_grad, self.grad_fn,
                                  self._output_nr)
            result = op(source, *args, **kwargs)
        else:
            result = op(self, *args, **kwargs)
        _checks.inplace_result(self, result, op)
        data = self._data
        if result._data is not data:
            data[...] = result._data
        self._vbox[0] += 1
        if recording:
            self.grad_fn = result.grad_fn
            self._output_nr = result._output_nr
            self._requires_grad = result._requires_grad
            if self._view_version is not None:
                self._view_version = self._vbox[0]
            if base is not None and backend.xp_of(data).may_share_memory(data, base._data):
                _rebase(base, chain, result)
        return self

    def _write(self, value) -> Tensor:
        """Overwrites every element with ``value``: fill_, zero_, init.

        In a recorded graph the old values get a zero gradient, as in PyTorch.
        """
        if _State.enabled and self._requires_grad:
            return self._inplace(elementwise.fill, value)
        self._data[...] = value._data if isinstance(value, Tensor) else value
        self._vbox[0] += 1
        return self

    def zero_(self) -> Tensor:
        return self._write(0)

    def fill_(self, value) -> Tensor:
        return self._write(value)

    def copy_(self, src, non_blocking: bool = False) -> Tensor:
        return self._inplace(movement.copy_from, src)

    def add_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(elementwise.add, other, alpha=alpha)

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(elementwise.sub, other, alpha=alpha)

    def mul_(self, other) -> Tensor:
        return self._inplace(elementwise.mul, other)

    def div_(self, other, *, rounding_mode=None) -> Tensor:
        return self._inplace(elementwise.div, other, rounding_mode=rounding_mode)

    def pow_(self, exponent) -> Tensor:
        return self._inplace(elementwise.pow, exponent)

    def clamp_(self, min=None, max=None) -> Tensor:
        return self._inplace(elementwise.clamp, min, max)

    clip_ = clamp_

    def neg_(self) -> Tensor:
        return self._inplace(elementwise.neg)

    def exp_(self) -> Tensor:
        return self._inplace(elementwise.exp)

    def sqrt_(self) -> Tensor:
        return self._inplace(elementwise.sqrt)

    def abs_(self) -> Tensor:
        return self._inplace(elementwise.abs)

    def relu_(self) -> Tensor:
        return self._inplace(elementwise.relu)

    def sigmoid_(self) -> Tensor:
        return self._inplace(elementwise.sigmoid)

    def tanh_(self) -> Tensor:
        return self._inplace(elementwise.tanh)

    def lerp_(self, end, weight) -> Tensor:
        return self._inplace(elementwise.lerp, end, weight)

    def float_power_(self, exponent) -> Tensor:
        if self._data.dtype != np.float64:
            raise RuntimeError(f"float_power_: the base given to float_power_ has dtype "
                               f"{self.dtype.name} but the operation's result requires dtype "
                               f"float64; convert it with .double() first")
        return self._inplace(elementwise.float_power, exponent)

    def polygamma(self, n: int) -> Tensor:
        return special.polygamma(n, self)

    def polygamma_(self, n: int) -> Tensor:
        return self._inplace(Tensor.polygamma, n)

    def masked_fill_(self, mask, value) -> Tensor:
        return self._inplace(indexing.masked_fill, mask, value)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None) -> Tensor:
        return self._inplace(indexing.scatter, dim, index, src, value=value, reduce=reduce)

    def scatter_add_(self, dim, index, src) -> Tensor:
        return self._inplace(indexing.scatter_add, dim, index, src)

    def index_fill_(self, dim, index, value) -> Tensor:
        return self._inplace(indexing.index_fill, dim, index, value)

    def index_add_(self, dim, index, source, *, alpha=1) -> Tensor:
        return self._inplace(indexing.index_add, dim, index, source, alpha=alpha)

    def index_put_(self, indices, values, accumulate=False) -> Tensor:
        if accumulate:
            return self._inplace(indexing.index_put, tuple(indices), values, True)
        indexing.setitem(self, tuple(indices), values)
        return self

    def index_copy_(self, dim, index, source) -> Tensor:
        return self._inplace(indexing.index_copy, dim, index, source)

    def index_reduce_(self, dim, index, source, reduce, *, include_self=True) -> Tensor:
        return self._inplace(indexing.index_reduce, dim, index, source, reduce,
                             include_self=include_self)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True) -> Tensor:
        return self._inplace(indexing.scatter_reduce, dim, index, src, reduce,
                             include_self=include_self)

    def put_(self, index, source, accumulate=False) -> Tensor:
        return self._inplace(indexing.put, index, source, accumulate)

    def masked_scatter_(self, mask, source) -> Tensor:
        return self._inplace(indexing.masked_scatter, mask, source)

    def cumsum_(self, dim, *, dtype=None) -> Tensor:
        return self._inplace(reduce.cumsum, dim, dtype=dtype)

    def cumprod_(self, dim, *, dtype=None) -> Tensor:
        return self._inplace(reduce.cumprod, dim, dtype=dtype)

    def tril_(self, diagonal=0) -> Tensor:
        return self._inplace(movement.tril, diagonal)

    def triu_(self, diagonal=0) -> Tensor:
        return self._inplace(movement.triu, diagonal)

    def fill_diagonal_(self, fill_value, wrap=False) -> Tensor:
        return self._inplace(movement.fill_diagonal, fill_value, wrap)

    def renorm_(self, p, dim, maxnorm) -> Tensor:
        return self._inplace(composite.renorm, p, dim, maxnorm)

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(composite.addmm, mat1, mat2, beta=beta, alpha=alpha)

    def addmv_(self, mat, vec, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(composite.addmv, mat, vec, beta=beta, alpha=alpha)

    def addr_(self, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(composite.addr, vec1, vec2, beta=beta, alpha=alpha)

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(composite.baddbmm, batch1, batch2, beta=beta, alpha=alpha)

    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
        return self._inplace(composite.addbmm, batch1, batch2, beta=beta, alpha=alpha)

    # -- in-place view ops: self takes a view's shape and strides over the same memory ---------
    def _restride(self, op, *args) -> Tensor:
        """Makes self ``op(self, *args)`` (a view op), in place: t_, squeeze_, as_strided_."""
        recording = _State.enabled and self._requires_grad
        if recording:
            if self.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            self._refresh_if_stale()
        old = Tensor._make(self._data, self._requires_grad, self.grad_fn, self._output_nr)
        old._vbox = self._vbox
        out = op(old, *args)
        self._data = out._data
        if recording:
            self.grad_fn, self._output_nr = out.grad_fn, out._output_nr
        src, new_src = getattr(self, "_view_src", None), getattr(out, "_view_src", None)
        if src is not None and new_src is not None:  # a view of the same base, one op further
            old._view_src, old._view_version = src, self._view_version
            self._view_src = new_src
        self._vbox[0] += 1
        if src is not None:
            self._view_version = self._vbox[0]
        # views taken of self before this replay their history from self's old geometry
        self._restrides = getattr(self, "_restrides", ()) + (
            (self._vbox[0], _undo(new_src, old._data.shape)),)
        return self

    def t_(self) -> Tensor:
        return self._restride(movement.t)

    def transpose_(self, dim0, dim1) -> Tensor:
        return self._restride(movement.transpose, dim0, dim1)

    swapaxes_ = swapdims_ = transpose_

    def squeeze_(self, dim=None) -> Tensor:
        return self._restride(movement.squeeze, dim)

    def unsqueeze_(self, dim) -> Tensor:
        return self._restride(movement.unsqueeze, dim)

    def as_strided_(self, size, stride, storage_offset=None) -> Tensor:
        return self._restride(movement.as_strided, size, stride, storage_offset)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        return self._write(random.uniform_array(self, a, b, generator))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        return self._write(random.normal_array(self, mean, std, generator))

    def bernoulli_(self, p: float = 0.5, *, generator=None) -> Tensor:
        return self._write(random.uniform_array(self, 0.0, 1.0, generator) < p)

    def random_(self, low: int = 0, high: int | None = None, *, generator=None) -> Tensor:
        return self._write(random.integer_array(self, low, high, generator))

    def exponential_(self, lambd: float = 1.0, *, generator=None) -> Tensor:
        return self._write(random.exponential_array(self, lambd, generator))

    def geometric_(self, p: float, *, generator=None) -> Tensor:
        return self._write(random.geometric_array(self, p, generator))

    def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
        return self._write(random.cauchy_array(self, median, sigma, generator))

    def log_normal_(self, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
        return self._write(random.log_normal_array(self, mean, std, generator))

    # -- resizing and Python-function maps (no autograd) ----------------------------------------
    def resize_(self, *sizes, memory_format=None) -> Tensor:
        """Gives self the shape ``sizes``, keeping its first elements in row-major order.

        Shrinking keeps the memory (growing back within it finds the old values, as in
        torch); growing past it allocates anew, and new elements are uninitialised. Other
        tensors that shared the old memory keep it. Only a contiguous tensor (or one asked
        for its own shape) can be resized.
        """
        shape = creation._size(sizes)
        if self._requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        data = self._data
        if shape == data.shape:
            return self
        if not data.flags.c_contiguous:
            raise RuntimeError(f"resize_: ember can only resize a contiguous tensor, got shape "
                               f"{tuple(data.shape)} with strides {self.stride()}; resize "
                               f"t.contiguous() instead")
        self._data = _resized(data, shape)
        self._vbox[0] += 1
        return self

    def resize_as_(self, the_template: Tensor, memory_format=None) -> Tensor:
        return self.resize_(the_template.shape)

    def apply_(self, callable) -> Tensor:
        """Replaces every element x by ``callable(x)``, a Python function (slow; CPU only)."""
        return self._python_map("apply_", callable)

    def map_(self, tensor: Tensor, callable) -> Tensor:
        """self[i] = callable(self[i], tensor[i]), tensor broadcast to self (CPU only)."""
        return self._python_map("map_", callable, tensor)

    def map2_(self, x: Tensor, y: Tensor, callable) -> Tensor:
        """self[i] = callable(self[i], x[i], y[i]), x and y broadcast to self (CPU only)."""
        return self._python_map("map2_", callable, x, y)

    def _python_map(self, op: str, callable, *others) -> Tensor:
        if self._requires_grad:
            raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use "
                               f"var.detach().{op}() instead.")
        arrays = [self._data] + [o._data for o in others]
        if any(type(a) is not np.ndarray for a in arrays):
            raise RuntimeError(f"{op}: only implemented on CPU tensors, got "
                               f"{', '.join(str(Tensor._make(a).device) for a in arrays)}")
        try:
            arrays[1:] = [np.broadcast_to(a, self._data.shape) for a in arrays[1:]]
        except ValueError:
            raise RuntimeError(f"{op}: cannot broadcast "
                               f"{', '.join(str(tuple(o.shape)) for o in others)} to self's "
                               f"shape {tuple(self.shape)}") from None
        if self._data.size:
            self._data[...] = np.frompyfunc(callable, len(arrays), 1)(*arrays)
        self._vbox[0] += 1
        return self

    # -- Python protocol ----------------------------------------------------------------------
    def __repr__(self) -> str:
        return _format.tensor_repr(self)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(movement.unbind(self, 0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data)

    def __complex__(self) -> complex:
        return complex(self.item())

    __hash__ = object.__hash__

    def __reduce__(self):
        return (_rebuild, (backend.of(self._data).to_numpy(self._data), str(self.device),
                           self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        out = type(self).__new__(type(self))
        for name in Tensor.__slots__:  # the copy is nobody's view and has no restrides
            if name not in ("_restrides", "_view_src", "_post_hooks", "__weakref__"):
                setattr(out, name, getattr(self, name))
        out._view_version = None
        out._data = self._data.copy()
        out._vbox = [0]
        out._hooks = None
        out.grad = None if self.grad is None else self.grad.clone()
        if hasattr(self, "__dict__"):
            import copy
            out.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = out
        return out

    # operators
    # the hottest four call their primitive directly
    def __add__(self, other): return _add(self, other)
    def __radd__(self, other): return _add(other, self)
    def __sub__(self, other): return _sub(self, other)
    def __rsub__(self, other): return _sub(other, self)
    def __mul__(self, other): return _mul(self, other)
    def __rmul__(self, other): return _mul(other, self)
    def __truediv__(self, other): return _div(self, other)
    def __rtruediv__(self, other): return _div(other, self)
    def __floordiv__(self, other): return elementwise.floor_divide(self, other)
    def __rfloordiv__(self, other): return elementwise.floor_divide(other, self)
    def __mod__(self, other): return elementwise.remainder(self, other)
    def __rmod__(self, other): return elementwise.remainder(other, self)
    def __pow__(self, other): return elementwise.pow(self, other)
    def __rpow__(self, other): return elementwise.pow(other, self)
    def __matmul__(self, other): return linalg.matmul(self, other)
    def __rmatmul__(self, other): return linalg.matmul(other, self)
    def __neg__(self): return elementwise.neg(self)
    def __pos__(self): return self
    def __abs__(self): return elementwise.abs(self)
    def __invert__(self): return elementwise.bitwise_not(self)
    def __and__(self, other): return elementwise.bitwise_and(self, other)
    def __rand__(self, other): return elementwise.bitwise_and(other, self)
    def __or__(self, other): return elementwise.bitwise_or(self, other)
    def __ror__(self, other): return elementwise.bitwise_or(other, self)
    def __xor__(self, other): return elementwise.bitwise_xor(self, other)
    def __rxor__(self, other): return elementwise.bitwise_xor(other, self)
    def __lshift__(self, other): return elementwise.bitwise_left_shift(self, other)
    def __rlshift__(self, other): return elementwise.bitwise_left_shift(other, self)
    def __rshift__(self, other): return elementwise.bitwise_right_shift(self, other)
    def __rrshift__(self, other): return elementwise.bitwise_right_shift(other, self)
    def __eq__(self, other): return elementwise.eq(self, other)
    def __ne__(self, other): return elementwise.ne(self, other)
    def __lt__(self, other): return elementwise.lt(self, other)
    def __le__(self, other): return elementwise.le(self, other)
    def __gt__(self, other): return elementwise.gt(self, other)
    def __ge__(self, other): return elementwise.ge(self, other)
    def __getitem__(self, index): return indexing.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        indexing.setitem(self, index, value)

    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)
    def __ifloordiv__(self, other): return self.floor_divide_(other)
    def __imod__(self, other): return self.remainder_(other)
    def __ipow__(self, other): return self.pow_(other)
    def __iand__(self, other): return self.bitwise_and_(other)
    def __ior__(self, other): return self.bitwise_or_(other)
    def __ixor__(self, other): return self.bitwise_xor_(other)
    def __ilshift__(self, other): return self.bitwise_left_shift_(other)
    def __irshift__(self, other): return self.bitwise_right_shift_(other)

    @property
    def T(self) -> Tensor:
        return movement.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        return movement.transpose(self, -2, -1)

    @property
    def H(self) -> Tensor:
        """The conjugate transpose (the transpose for real tensors)."""
        return complex_ops.conj(self.T)

    @property
    def mH(self) -> Tensor:
        """The conjugate transpose of the last two dims."""
        return complex_ops.conj(self.mT)

    def adjoint(self) -> Tensor:
        return self.mH

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
        return creation.tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return creation.zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                              requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return creation.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                             requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
        return creation.full(size, fill_value, dtype=dtype or self.dtype,
                             device=device or self.device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return creation.empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                              requires_grad=requires_grad)

    def new_empty_strided(self, size, stride, dtype=None, device=None,
                          requires_grad=False) -> Tensor:
        return movement.empty_strided(size, stride, dtype=dtype or self.dtype,
                                      device=device or self.device, requires_grad=requires_grad)

    def new(self, *args, device=None) -> Tensor:
        """The legacy constructor, in self's dtype and on its device: new() is empty,
        new(2, 3) or new(Size) uninitialised, new(data) a copy of data."""
        device = device or self.device
        if len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            return creation.tensor(args[0], dtype=self.dtype, device=device)
        return creation.empty(*(args or (0,)), dtype=self.dtype, device=device)


_new = object.__new__
_np_generic = np.generic
_ndarray = np.ndarray


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``ember.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        out = super().__getitem__(item)
        return Size(out) if isinstance(item, slice) else out


class _HookHandle:
    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _rebase(base: Tensor, chain: tuple, value: Tensor) -> None:
    """After an in-place op on a view of ``base``: base's history becomes its old history
    outside the view and ``value``'s inside it (PyTorch's CopySlices)."""
    from .autograd.function import ViewWrite
    old = Tensor._make(base._data, base._requires_grad, base.grad_fn, base._output_nr)
    new = ViewWrite.apply(old, value, chain)
    base.grad_fn, base._output_nr, base._requires_grad = new.grad_fn, 0, new._requires_grad


def _rebuild(array, device, requires_grad):
    t = Tensor._make(backend.to_device(array, Device(device)))
    t._requires_grad = requires_grad
    return t


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, (str, Device)) and not (isinstance(a, str) and a in dtypes._BY_NAME):
            dev = a
        elif isinstance(a, int) and not isinstance(a, bool):
            dev = Device("cuda", a)
        elif isinstance(a, bool):
            continue  # to(dtype, non_blocking) positional
        else:
            dtype = a
    if dev is not None:
        dev = backend.resolve(Device(dev))  # plain 'cuda': the current GPU, as in torch
    return dev, None if dtype is None else dtypes.as_dtype(dtype), copy


def _undo(view_src, old_shape):
    """The view op (Function, args) that takes an in-place view op's result back to the
    tensor it was applied to; None for as_strided_ (not invertible this way)."""
    if view_src is None:
        return None
    cls, args = view_src[1], view_src[2]
    if cls is movement.Permute:
        return cls, (tuple(int(i) for i in np.argsort(args[0])),)
    if cls in (movement.Reshape, movement.View):
        return movement.Reshape, (old_shape,)
    return None


def _move(t: Tensor, dev: Device, non_blocking: bool) -> Tensor:
    """``t`` copied to ``dev``; asynchronously (from pinned memory) when asked and no graph is
    recorded (the ToDevice primitive itself always blocks)."""
    if non_blocking and not (t._requires_grad and _State.enabled):
        return Tensor._make(backend.to_device(t._data, dev, non_blocking=True))
    return movement.to_device(t, dev)


def _resized(data, shape: tuple):
    """``data`` (contiguous) as ``shape``: its first elements, in memory it shares when the
    allocation it starts is large enough, else in a fresh one."""
    n = int(np.prod(shape, dtype=np.int64))
    root = data
    while isinstance(root.base, type(data)):
        root = root.base
    if root.flags.c_contiguous and _address(root) == _address(data) and root.size >= n:
        return root.reshape(-1)[:n].reshape(shape)
    with backend.device_guard(data):
        grown = backend.xp_of(data).empty(n, dtype=data.dtype)
        kept = min(n, data.size)
        grown[:kept] = data.reshape(-1)[:kept]
    return grown.reshape(shape)


def _address(array) -> int:
    ptr = getattr(array.data, "ptr", None)  # CuPy's memory pointer; NumPy's is a memoryview
    return ptr if ptr is not None else array.__array_interface__["data"][0]


from .autograd import engine as _engine, function as _function  # noqa: E402

_function.Tensor = _engine.Tensor = Tensor

from . import _checks, _config, _format, creation, random  # noqa: E402
from .ops import elementwise, indexing, linalg, movement, nn_ops, reduce  # noqa: E402
from .ops import composite, statistics  # noqa: E402
from .ops import complex as complex_ops  # noqa: E402
from .ops import special  # noqa: E402

_add, _sub = elementwise.Add.apply, elementwise.Sub.apply
_mul, _div = elementwise.Mul.apply, elementwise.Div.apply

# Op functions whose first argument is the tensor, bound as methods (x.exp() is exp(x)).
_METHODS = {
    elementwise: """add sub mul div true_divide floor_divide remainder fmod pow neg negative abs
        sign exp exp2 log log2 log10 log1p expm1 sqrt rsqrt square sin cos tan tanh sigmoid
        relu clamp clip minimum maximum fmax fmin where lerp reciprocal floor ceil round trunc
        frac eq ne lt le gt ge equal isclose allclose logical_and logical_or logical_not
        logical_xor isnan isinf isfinite nan_to_num atan2 erf addcmul addcdiv float_power
        absolute asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arctan2
        arcsinh arccosh arctanh sgn positive fix hypot copysign heaviside logaddexp2 sinc
        deg2rad rad2deg signbit nextafter ldexp frexp gcd lcm isneginf isposinf isreal
        bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift
        clamp_min clamp_max greater greater_equal less less_equal not_equal divide multiply
        subtract angle""",
    special: "erfc erfinv lgamma digamma mvlgamma i0 igamma igammac xlogy logit",
    reduce: """sum mean prod max min amax amin argmax argmin var std norm logsumexp all any
        cumsum cumprod var_mean std_mean count_nonzero nansum cummax cummin logcumsumexp
        aminmax sum_to_size""",
    movement: """reshape view view_as flatten unflatten squeeze unsqueeze transpose swapaxes
        reshape_as permute t expand expand_as repeat tile flip roll split chunk unbind narrow clone
        movedim moveaxis diagonal tril triu fliplr flipud swapdims ravel broadcast_to
        tensor_split hsplit vsplit dsplit split_with_sizes unsafe_split unsafe_chunk
        unsafe_split_with_sizes rot90 diag diag_embed diagflat diagonal_scatter select
        select_scatter slice_scatter as_strided as_strided_scatter unfold narrow_copy""",
    linalg: "matmul mm bmm dot outer",
    indexing: """gather scatter scatter_add index_select masked_fill masked_select
        take_along_dim nonzero topk sort argsort index_fill index_add take put index_copy
        index_put index_reduce scatter_reduce masked_scatter argwhere nonzero_static""",
    statistics: """median nanmedian kthvalue mode msort quantile nanquantile cov corrcoef histc
        histogram""",
    composite: """bincount unique unique_consecutive diff kron cross mv addmm addmv addr baddbmm
        addbmm repeat_interleave logaddexp nanmean trace dist vdot ger renorm is_nonzero
        is_same_size is_signed inner""",
    nn_ops: "softmax log_softmax",
    complex_ops: "conj conj_physical resolve_conj resolve_neg is_conj is_neg",
}
for _module, _names in _METHODS.items():
    for _name in _names.split():
        setattr(Tensor, _name, getattr(_module, _name))
del _module, _names, _name


def _inplace_method(op):
    def method(self, *args, **kwargs):
        return self._inplace(op, *args, **kwargs)
    method.__name__ = f"{op.__name__}_"
    method.__doc__ = f"In-place ``{op.__name__}``: the result is written into self."
    return method


# In-place variants, x.name_(*args): name(x, *args) written into x by Tensor._inplace.
_INPLACE_METHODS = {
    elementwise: """absolute negative exp2 expm1 log log2 log10 log1p rsqrt square reciprocal
        sin cos tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh
        arccosh arctanh atan2 arctan2 floor ceil round trunc fix frac sign sgn erf nan_to_num
        floor_divide remainder fmod true_divide divide multiply subtract addcmul addcdiv hypot
        copysign heaviside nextafter ldexp gcd lcm sinc deg2rad rad2deg clamp_min clamp_max
        logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor
        bitwise_not bitwise_left_shift bitwise_right_shift""",
    special: "erfc erfinv lgamma digamma mvlgamma i0 igamma igammac xlogy logit",
}
for _module, _names in _INPLACE_METHODS.items():
    for _name in _names.split():
        setattr(Tensor, f"{_name}_", _inplace_method(getattr(_module, _name)))
# comparisons in place keep self's dtype (1.0 / 0.0) and its graph, with a zero gradient
for _name in "eq ne lt le gt ge greater greater_equal less less_equal not_equal".split():
    setattr(Tensor, f"{_name}_", _inplace_method(elementwise.kept_dtype(
        getattr(elementwise, _name))))
del _module, _names, _name


def _lazy_method(module: str, name: str):
    """A method calling ``module.name`` (a module that imports this one), bound in its place
    on first use."""
    def method(self, *args, **kwargs):
        import importlib
        function = getattr(importlib.import_module(module), name)
        setattr(Tensor, name, function)
        return function(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = f"``{module.lstrip('_')}.{name}(self, ...)``"
    return method


# Methods from modules that import this one (creation, ember.linalg, nn.functional).
_LAZY_METHODS = {
    "ember.creation": "multinomial bernoulli",
    "ember._linalg_legacy": """det logdet slogdet inverse pinverse matrix_exp matrix_power svd
        qr cholesky cholesky_solve cholesky_inverse triangular_solve lu lu_solve geqrf orgqr
        ormqr lstsq solve eig symeig""",
    "ember._nn_aliases": "hardshrink prelu",
}
for _module, _names in _LAZY_METHODS.items():
    for _name in _names.split():
        setattr(Tensor, _name, _lazy_method(_module, _name))
del _module, _names, _name
