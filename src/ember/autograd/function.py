"""Function: one op's forward and backward side by side, and the graph node it records.

``Function.apply`` runs ``forward`` with gradient recording off. Only when an input needs a
gradient does it build a node (the ``ctx`` that forward saw) and hang it on the outputs as
their ``grad_fn``. forward may return arrays (the primitives in ``ember.ops`` do) or Tensors
(user Functions, as in PyTorch); backward receives and returns Tensors (arrays are accepted
too), so a backward written with ember ops can itself be differentiated (create_graph).
"""
from __future__ import annotations

from ..backend import xp_of
from .grad_mode import _State

Tensor = None  # ember.tensor sets this once the class exists (the two modules import each other)

_FREED = object()


class _NoGrad:
    """needs_input_grad when nothing is recorded: every entry is False."""

    __slots__ = ()

    def __getitem__(self, i):
        return False

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False


_NO_GRAD = _NoGrad()


class _NullContext:
    """The ctx forward sees when no graph is recorded: saving and attributes go nowhere."""

    __slots__ = ()
    needs_input_grad = _NO_GRAD

    def __setattr__(self, name, value):
        pass

    def save_for_backward(self, *tensors):
        pass

    def save_output(self):
        pass

    def mark_non_differentiable(self, *tensors):
        pass

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        pass


_NULL_CTX = _NullContext()


class Node:
    """A recorded op: the ``ctx`` of its forward and the ``grad_fn`` of its outputs.

    ``next_edges[i]`` is None when input i needs no gradient, else
    ``(target, output_nr, shape, dtype)`` where target is the input's grad_fn or, for a leaf,
    the input tensor itself.
    """

    __slots__ = ("next_edges", "needs_input_grad", "__dict__", "__weakref__")
    _function = None  # the Function subclass this node belongs to
    # Rarely set, so class-level defaults (instances get a __dict__ only when one is set).
    _saved = ()
    _saved_versions = ()
    _out_data = None
    _n_outputs = 1
    _out_meta = None
    _hooks = None
    _tensor_hooks = None
    _retained = None
    _non_differentiable = None

    # -- used inside forward, as in PyTorch -------------------------------------------------
    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._vbox[0] for t in tensors)

    def save_output(self) -> None:
        """Save the (single) output for backward without a reference cycle."""
        self._out_data = True

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        pass

    # -- used inside backward ------------------------------------------------------------
    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time.")
        for t, version in zip(saved, self._saved_versions):
            if t is not None and t._vbox[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{t.dtype} {list(t.shape)}], which is used by "
                    f"{self.name()}, is at version {t._vbox[0]}; expected version {version} "
                    "instead. Clone the tensor before changing it in place.")
        return saved

    @property
    def saved_output(self):
        """The output of forward, as a Tensor whose grad_fn is this node."""
        if self._saved is _FREED:
            self.saved_tensors  # raises the freed-graph error
        data, vbox, version = self._out_data
        if vbox[0] != version:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: the output of {self.name()} is at version {vbox[0]}; "
                f"expected version {version} instead.")
        out = Tensor._make(data, _State.enabled, self if _State.enabled else None)
        out._vbox = vbox
        return out

    # -- graph inspection, as in PyTorch ------------------------------------------------
    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        out = []
        for edge in self.next_edges:
            if edge is None:
                out.append((None, 0))
            elif isinstance(edge[0], Tensor):
                out.append((AccumulateGrad(edge[0]), 0))
            else:
                out.append((edge[0], edge[1]))
        return tuple(out)

    def register_hook(self, hook) -> None:
        """hook(grad_inputs, grad_outputs) after this node's backward (not modifying)."""
        self._hooks = (self._hooks or []) + [hook]

    def _release(self) -> None:
        """Frees what forward saved (tensors, arrays, ctx attributes); hooks stay.

        A view op's node keeps its ctx: it holds only shapes and indices, and as in PyTorch
        a view taken once may be backpropagated through again (a view of a weight kept
        across steps, say)."""
        if self._function is not None and self._function.is_view:
            return
        state = self.__dict__
        kept = {k: state[k] for k in _KEPT_ON_RELEASE if k in state}
        state.clear()
        state.update(kept)
        state["_saved"] = _FREED

    def __getattr__(self, name):
        # only reached for attributes that are missing, e.g. ctx.mask after release
        if self.__dict__.get("_saved") is _FREED:
            self.saved_tensors  # raises the freed-graph error
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


_KEPT_ON_RELEASE = ("_n_outputs", "_out_meta", "_hooks", "_tensor_hooks", "_retained")


class AccumulateGrad:
    """What PyTorch shows as the grad_fn edge into a leaf tensor."""

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


class FunctionMeta(type):
    """Gives each Function subclass its own node class, named like PyTorch's (MulBackward0)."""

    def __init__(cls, name, bases, namespace):
        super().__init__(name, bases, namespace)
        node_name = namespace.get("node_name") or f"{name}Backward0"
        cls._node_class = type(node_name, (Node,), {"__slots__": (), "_function": cls})


class Function(metaclass=FunctionMeta):
    """Base class of differentiable operations, used exactly as ``torch.autograd.Function``::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                y, = ctx.saved_tensors
                return grad * y

        y = Exp.apply(x)
    """

    is_view = False  # output shares memory and the version counter with the first input

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses must implement forward")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward")

    @classmethod
    def apply(cls, *args):
        enabled = _State.enabled
        ctx = _NULL_CTX
        if enabled:
            recording = False
            for a in args:
                if isinstance(a, Tensor):
                    if a._view_version is not None and a._view_version != a._vbox[0]:
                        refresh_view(a)
                    recording = recording or a._requires_grad
            if recording:
                ctx = _record(cls, args)
        _State.enabled = False
        try:
            out = cls.forward(ctx, *args)
        finally:
            _State.enabled = enabled
        if _State.anomaly:
            from . import anomaly
            anomaly.check(cls.__name__, out if type(out) is tuple else (out,), "forward")
        if ctx is _NULL_CTX:
            ctx = None
        view_of = args[0] if cls.is_view else None
        if type(out) is tuple or isinstance(out, Tensor) or out is None:
            return _wrap(out, ctx, None if view_of is None
                     else (view_of, cls, args[1:], view_of._vbox[0]))
        # the common case, inlined: one array out
        differentiable = ctx is not None and out.dtype.kind in "fc"
        t = Tensor._make(out, differentiable, ctx if differentiable else None)
        if view_of is not None:
            t._vbox = view_of._vbox
            t._view_src = (view_of, cls, args[1:], t._vbox[0])
            t._view_version = t._vbox[0]
        if differentiable and ctx._out_data is True:
            ctx._out_data = (out, t._vbox, t._vbox[0])
        return t


def _record(cls, args):
    """The graph node for one call: an edge per input that needs a gradient."""
    ctx = cls._node_class()
    edges = []
    for a in args:
        if isinstance(a, Tensor) and a._requires_grad:
            data = a._data
            edges.append((a.grad_fn or a, a._output_nr, data.shape, data.dtype))
        else:
            edges.append(None)
    ctx.next_edges = edges
    ctx.needs_input_grad = tuple([e is not None for e in edges])
    return ctx


def _wrap(out, ctx, view_src):
    """Turns forward's result (arrays or Tensors) into the output Tensors of this op."""
    if type(out) is tuple:
        if ctx is not None:
            ctx._n_outputs = len(out)
            arrays = [o._data if isinstance(o, Tensor) else o for o in out]
            ctx._out_meta = tuple(None if a is None else (a.shape, a.dtype, xp_of(a)) for a in arrays)
        return tuple(_wrap_one(o, ctx, i, view_src) for i, o in enumerate(out))
    return _wrap_one(out, ctx, 0, view_src)


def _wrap_one(out, ctx, nr, view_src):
    if out is None:
        return None
    if isinstance(out, Tensor):
        if ctx is not None and ctx._non_differentiable and id(out) in ctx._non_differentiable:
            return out
        data = out._data
    else:
        data = out
    differentiable = ctx is not None and data.dtype.kind in "fc"
    t = Tensor._make(data, differentiable, ctx if differentiable else None, nr)
    if view_src is not None:
        t._vbox = view_src[0]._vbox
        t._view_src = view_src
        t._view_version = t._vbox[0]
    if differentiable and ctx._out_data is True:
        ctx._out_data = (data, t._vbox, t._vbox[0])
    return t


def view_chain(t):
    """(the view ops from t's root base down to t, the root base); ((), None) if t is no view.

    A view is linked to its base as the base was then; in-place view ops on the base since
    (``t_``, ``squeeze_``, ...) are undone first, latest first.
    """
    chain, base = [], None
    src = getattr(t, "_view_src", None)
    while src is not None:
        base, cls, extra, linked = src
        chain.append((cls, extra))
        for version, undo in getattr(base, "_restrides", ()):
            if version > linked:
                if undo is None:
                    raise RuntimeError("a view's history cannot be rebuilt: its base was "
                                       "changed by as_strided_() after the view was taken")
                chain.append(undo)
        src = getattr(base, "_view_src", None)
    chain.reverse()
    return tuple(chain), base


def refresh_view(t) -> None:
    """Gives view ``t`` the history of the same view of its base as the base is now.

    An in-place op on the base (or on another of its views) after ``t`` was taken leaves
    ``t.grad_fn`` describing the old values; like PyTorch, the view's history is regenerated
    from the base's current one the next time ``t`` is used.
    """
    chain, base = view_chain(t)
    enabled, _State.enabled = _State.enabled, True  # also when asked under no_grad
    try:
        fresh = _replay(base, chain)
    finally:
        _State.enabled = enabled
    t.grad_fn, t._output_nr, t._requires_grad = fresh.grad_fn, fresh._output_nr, \
        fresh._requires_grad
    t._view_version = t._vbox[0]


def _replay(t, chain):
    """The same view of ``t`` as ``chain`` (view Functions and their args) took of a base."""
    for cls, extra in chain:
        t = cls.apply(t, *extra)
    return t


class ViewWrite(Function):
    """The new history of a base after an in-place op on its view wrote ``value`` into it."""

    @staticmethod
    def forward(ctx, base, value, chain):
        ctx.chain = chain
        return base._data  # already written in place: this node only carries the history

    @staticmethod
    def backward(ctx, grad):
        data = grad._data
        need = ctx.needs_input_grad
        if data.dtype.kind == "c":
            # a view may cover only the real or imaginary parts: mask the pair of them
            keep = xp_of(data).full(data.shape, 1 + 1j, data.dtype)
            _replay(Tensor._make(keep), ctx.chain)._data[...] = 0
            from ..ops.complex import complex as make_complex
            old = make_complex(grad.real * Tensor._make(keep.real.copy()),
                               grad.imag * Tensor._make(keep.imag.copy())) if need[0] else None
        else:
            keep = xp_of(data).ones(data.shape, data.dtype)
            _replay(Tensor._make(keep), ctx.chain)._data[...] = 0
            old = grad * Tensor._make(keep) if need[0] else None
        return old, _replay(grad, ctx.chain) if need[1] else None, None
