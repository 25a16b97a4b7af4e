"""Operator-level autograd: Function, backward, grad, grad modes, gradcheck, anomaly mode."""
from __future__ import annotations

from ..backend import xp_of
from . import anomaly, functional
from .anomaly import detect_anomaly, is_anomaly_enabled
from .engine import run_backward, run_post_accumulate_hooks
from .function import Function, Node
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "gradcheck", "gradgradcheck", "detect_anomaly", "functional"]


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _seed_grads(outputs, grad_outputs, op):
    from ..tensor import Tensor
    grads = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"{op}: got {len(grads)} gradients for {len(outputs)} outputs")
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if not out.requires_grad:  # (a stale view's history is regenerated first)
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               "grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind == "c":
                raise RuntimeError("grad can be implicitly created only for real scalar outputs")
            g = Tensor._make(xp_of(out._data).ones_like(out._data))
        elif not isinstance(g, Tensor):
            g = Tensor._make(xp_of(out._data).full_like(out._data, g))
        elif g.shape != out.shape:
            raise RuntimeError(f"{op}: Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{tuple(g.shape)} and output[{i}] has a shape of "
                               f"{tuple(out.shape)}.")
        seeds.append(g)
    return seeds


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None) -> None:
    """Accumulates gradients of ``tensors`` into the ``.grad`` of the leaves."""
    tensors = _as_list(tensors)
    seeds = _seed_grads(tensors, grad_tensors, "backward")
    if inputs is not None:
        inputs = _as_list(inputs)
        walk = run_backward(tensors, seeds, retain_graph, create_graph,
                            inputs={id(t): t for t in inputs})
        for t in inputs:
            g = walk.results.get(id(t))
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
                if t.grad_fn is None and getattr(t, "_post_hooks", None):
                    run_post_accumulate_hooks(t)
        return
    run_backward(tensors, seeds, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """The gradients of ``outputs`` w.r.t. ``inputs``, without touching any ``.grad``."""
    outputs = _as_list(outputs)
    inputs_list = _as_list(inputs)
    seeds = _seed_grads(outputs, grad_outputs, "grad")
    walk = run_backward(outputs, seeds, retain_graph, create_graph,
                        inputs={id(t): t for t in inputs_list})
    results = []
    for i, t in enumerate(inputs_list):
        g = walk.results.get(id(t))
        if g is None:
            if materialize_grads:
                from ..creation import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not "
                                   "have been used in the graph. Set allow_unused=True if this is "
                                   "the desired behavior.")
        results.append(g)
    return tuple(results)
