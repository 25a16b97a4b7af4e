"""Activation checkpointing: trade compute for memory, as torch.utils.checkpoint.

``checkpoint(f, x)`` runs ``f`` without recording a graph, so none of its intermediate
activations are kept. When the backward pass reaches it, ``f`` is run again with the graph on
(with the random state of the first run, so dropout draws the same mask) and backpropagated;
the gradients are those of the plain run.

Two flavours, chosen by ``use_reentrant`` as in PyTorch:

* ``use_reentrant=True``: the checkpoint node has an edge to each tensor argument; the
  recomputed graph is backpropagated with ``autograd.backward``, which accumulates into the
  ``.grad`` of every leaf it reaches (the module's parameters, say). Use it with
  ``loss.backward()``; if no tensor argument requires grad, parameters get no gradient.
* ``use_reentrant=False`` (recommended): PyTorch records the graph and drops its saved
  tensors. ember has no saved-tensor hooks, so it finds the tensors the function depends on
  by looking at it: parameters of the modules it is, is bound to or closes over, and tensors
  in its closure, defaults, keyword arguments and the globals it names. Those get real edges,
  so ``autograd.grad`` works and an input that needs no gradient is fine. Any other leaf the
  recomputation reaches still gets its gradient accumulated into ``.grad``.

Example:
    >>> from ember.utils.checkpoint import checkpoint, checkpoint_sequential
    >>> y = checkpoint(block, x, use_reentrant=False)
    >>> y = checkpoint_sequential(model, 2, x, use_reentrant=False)  # model: nn.Sequential
"""
from __future__ import annotations

import functools
import inspect
import types
import warnings
from contextlib import contextmanager, nullcontext

from .. import random as _random
from ..autograd import backward as _backward
from ..autograd.function import Function
from ..autograd.functional import autograd_grad
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError"]

_SCAN_LIMIT = 256  # containers larger than this are not searched for tensors


class CheckpointError(RuntimeError):
    """The recomputation did not reproduce the forward pass."""


def checkpoint(function, *args, use_reentrant: bool | None = None, context_fn=None,
               determinism_check: str = "default", debug: bool = False,
               early_stop: bool = True, preserve_rng_state: bool = True, **kwargs):
    """Runs ``function(*args, **kwargs)`` without keeping activations; recomputes in backward.

    Args:
        function: the part of the model to checkpoint.
        args: its positional arguments.
        use_reentrant: which flavour (see the module docstring). Not passing it warns, as in
            PyTorch 2.13, and means True.
        context_fn: (non-reentrant) returns two context managers, entered around the forward
            run and around the recomputation.
        determinism_check: "default" checks that the recomputed outputs have the forward's
            shapes and dtypes; "none" skips it.
        debug, early_stop: accepted for compatibility.
        preserve_rng_state: restore the random state for the recomputation.
        kwargs: keyword arguments of ``function`` (non-reentrant only).

    Returns:
        What ``function`` returns.
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly. Starting in PyTorch 2.9, calling checkpoint without "
                      "use_reentrant will raise an exception. use_reentrant=False is "
                      "recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.", stacklevel=2)
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not None or debug:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
    run = _Run(function, args, kwargs, use_reentrant, preserve_rng_state, context_fn,
               determinism_check == "default")
    outputs = _Checkpoint.apply(run, *run.inputs)
    return run.rebuild(outputs)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None,
                          **kwargs):
    """Runs ``functions`` in order, checkpointing all but the last of ``segments`` chunks.

    Args:
        functions: an nn.Sequential or a list of modules/functions, run one after another.
        segments: the number of chunks.
        input: the input of the first function.
        use_reentrant: as for :func:`checkpoint`; not passing it warns and means True.
        preserve_rng_state: (keyword) as for :func:`checkpoint`.

    Example:
        >>> out = checkpoint_sequential(model, 2, x, use_reentrant=False)
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter "
                      "should be passed explicitly. In version 2.9 we will raise an exception if "
                      "use_reentrant is not passed. use_reentrant=False is recommended, but if "
                      "you need to preserve the current default behavior, you can pass "
                      "use_reentrant=True. Refer to docs for more details on the differences "
                      "between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if hasattr(functions, "children") and not isinstance(functions, (list, tuple)):
        functions = list(functions.children())
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(_run_segment(functions, start, end), input,
                           use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return _run_segment(functions, end + 1, len(functions) - 1)(input)


def _run_segment(functions, start: int, end: int):
    def forward(input):
        for j in range(start, end + 1):
            input = functions[j](input)
        return input
    return forward


class _Checkpoint(Function):
    """The node standing for the whole checkpointed function."""

    @staticmethod
    def forward(ctx, run, *tensors):
        if run.reentrant and not any(t.requires_grad for t in tensors):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                          stacklevel=4)
        run.stash_rng(tensors)
        with run.forward_context:
            outputs = run.call(tensors)
        ctx.run = run
        ctx.save_for_backward(*tensors)
        return run.flatten(outputs)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + ctx.run.recompute_and_backward(ctx.saved_tensors, grads)


class _Run:
    """Everything one checkpoint call needs between its forward and its backward."""

    def __init__(self, function, args, kwargs, reentrant, preserve_rng, context_fn, check):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.reentrant, self.preserve_rng, self.check = reentrant, preserve_rng, check
        self.positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.inputs = [args[i] for i in self.positions]
        self.n_args = len(self.inputs)
        if not reentrant:
            known = {id(t) for t in self.inputs}
            self.inputs += [t for t in _reachable_tensors((function, kwargs))
                            if id(t) not in known]
        contexts = context_fn() if context_fn is not None else (nullcontext(), nullcontext())
        self.forward_context, self.recompute_context = contexts
        self.rng_states = None
        self.template = None  # the output with its tensors replaced by None
        self.meta = None      # (shape, dtype) of each output tensor in the forward run

    def call(self, tensors):
        args = list(self.args)
        for i, t in zip(self.positions, tensors):
            args[i] = t
        return self.function(*args, **self.kwargs)

    # -- outputs ---------------------------------------------------------------------------
    def flatten(self, outputs):
        if isinstance(outputs, Tensor):
            self.template, tensors = None, [outputs]
        else:
            items = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
            tensors = [o for o in items if isinstance(o, Tensor)]
            self.template = (type(outputs), [None if isinstance(o, Tensor) else o for o in items],
                             isinstance(outputs, (tuple, list)))
        self.meta = [(tuple(t.shape), t.dtype) for t in tensors]
        return tensors[0] if self.template is None else tuple(tensors)

    def rebuild(self, tensors):
        if self.template is None:
            return tensors
        kind, items, is_sequence = self.template
        it = iter(tensors if isinstance(tensors, tuple) else (tensors,))
        items = [next(it) if o is None else o for o in items]
        return kind(items) if is_sequence else items[0]

    # -- random state ------------------------------------------------------------------------
    def stash_rng(self, tensors) -> None:
        if self.preserve_rng:
            self.rng_states = _rng_states(tensors)

    @contextmanager
    def _forward_rng(self):
        if self.rng_states is None:
            yield
            return
        current = [(gen, gen.get_state()) for gen, _ in self.rng_states]
        _set_rng_states(self.rng_states)
        try:
            yield
        finally:
            _set_rng_states(current)

    # -- backward ----------------------------------------------------------------------------
    def recompute_and_backward(self, saved, grads) -> tuple:
        create_graph = is_grad_enabled()  # the engine turns grad mode on only for create_graph
        args = [_fresh(t, create_graph and not self.reentrant) for t in saved[:self.n_args]]
        captured = list(saved[self.n_args:])
        with self._forward_rng(), enable_grad(), self.recompute_context:
            outputs = self.call(args)
        outs = self._check(outputs)
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                               "necessary")
        outs, grads = [p[0] for p in pairs], [p[1] for p in pairs]
        if self.reentrant:
            _backward(outs, grads, create_graph=create_graph)
            return tuple(a.grad for a in args)
        return self._grads(outs, grads, args + captured, create_graph)

    def _check(self, outputs) -> list:
        outs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        outs = [o for o in outs if isinstance(o, Tensor)]
        meta = [(tuple(t.shape), t.dtype) for t in outs]
        if self.check and meta != self.meta:
            raise CheckpointError("torch.utils.checkpoint: Recomputed values have different "
                                  f"metadata than during the forward pass: forward {self.meta}, "
                                  f"recomputation {meta}. Pass determinism_check='none' to skip "
                                  "this check.")
        return outs

    def _grads(self, outs, grads, targets, create_graph) -> tuple:
        """Gradients for the node's edges; other leaves reached get theirs in ``.grad``."""
        wanted = [t for t in targets if t.requires_grad]
        extra = _other_leaves(outs, wanted)
        found = autograd_grad(outs, wanted + extra, grads, create_graph=create_graph)
        for leaf, g in zip(extra, found[len(wanted):]):
            if g is not None:
                leaf.grad = g if leaf.grad is None else leaf.grad + g
        it = iter(found[:len(wanted)])
        return tuple(next(it) if t.requires_grad else None for t in targets)


def _fresh(t, keep_graph: bool):
    """The recomputation's copy of input ``t``: a new leaf, or for double backward an identity
    node on ``t`` so the gradients stay connected to the caller's graph."""
    if keep_graph and t.requires_grad:
        return t.view_as(t)
    return t.detach().requires_grad_(t.requires_grad)


def _rng_states(tensors) -> list:
    gens = [_random.default_generator]
    for index in sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"}):
        gens.append(_random.cuda_default_generator(index))
    return [(gen, gen.get_state()) for gen in gens]


def _set_rng_states(states) -> None:
    for gen, state in states:
        gen.set_state(state)


def _other_leaves(outputs, known) -> list:
    """Leaves requiring grad that ``outputs`` reach without passing through ``known``."""
    known_ids = {id(t) for t in known}
    stops = {t.grad_fn for t in known if t.grad_fn is not None}
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None and o.grad_fn not in stops]
    seen, leaves = set(stops), {}
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for edge in node.next_edges:
            if edge is None:
                continue
            target = edge[0]
            if isinstance(target, Tensor):
                if id(target) not in known_ids:
                    leaves[id(target)] = target
            elif target not in seen:
                stack.append(target)
    return list(leaves.values())


def _reachable_tensors(root) -> list:
    """Tensors requiring grad that a function may use: see the module docstring."""
    from ..nn.module import Module
    found, seen = {}, set()

    def visit(obj, depth):
        if depth > 6 or id(obj) in seen or isinstance(obj, (type, types.ModuleType)):
            return
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            if obj.requires_grad:
                found[id(obj)] = obj
        elif isinstance(obj, Module):
            for p in obj.parameters():
                visit(p, depth)
        elif isinstance(obj, (list, tuple, set, frozenset, dict)):
            if len(obj) <= _SCAN_LIMIT:
                for item in (obj.values() if isinstance(obj, dict) else obj):
                    visit(item, depth + 1)
        elif isinstance(obj, functools.partial):
            visit((obj.func, obj.args, obj.keywords), depth + 1)
        elif inspect.ismethod(obj):
            visit((obj.__self__, obj.__func__), depth + 1)
        elif isinstance(obj, types.FunctionType):
            visit(_function_refs(obj), depth + 1)
        elif hasattr(obj, "__dict__") and callable(obj):
            visit(vars(obj), depth + 1)

    visit(root, 0)
    return list(found.values())


def _function_refs(fn) -> list:
    """The closure contents, defaults and named globals of a Python function."""
    refs = [cell.cell_contents for cell in fn.__closure__ or () if _has_contents(cell)]
    refs += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    names = set(fn.__code__.co_names)
    for const in fn.__code__.co_consts:  # names used by nested functions and lambdas
        if isinstance(const, types.CodeType):
            names.update(const.co_names)
    refs += [fn.__globals__[n] for n in names if n in fn.__globals__]
    return refs


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not yet assigned
        return False
    return True
