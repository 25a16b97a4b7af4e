"""backward() and grad(): an iterative walk of the graph in reverse topological order.

Nodes run once every node that feeds them a gradient has run (dependency counting), so a
chain of any length needs no recursion. Incoming gradients are summed to each input's shape
here, once for every op (broadcasting is undone in one place). Saved tensors are freed after
the walk unless ``retain_graph``.
"""
from __future__ import annotations

from . import anomaly
from .function import Function, Node
from .grad_mode import _State

Tensor = None  # ember.tensor sets this once the class exists (the two modules import each other)


def _sum_to(grad, shape, create_graph):
    """Sums a broadcast gradient back to ``shape`` (leading dims and size-1 dims)."""
    gshape = grad._data.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
    if create_graph:
        return grad.sum(dim=axes, keepdim=True).reshape(shape) if axes else grad.reshape(shape)
    data = grad._data.sum(axis=axes, keepdims=True) if axes else grad._data
    return Tensor._make(data.reshape(shape))


def _fit(grad, shape, dtype, create_graph):
    if not isinstance(grad, Tensor):
        grad = _once_differentiable(grad) if create_graph else Tensor._make(grad)
    if grad._data.shape != shape:
        try:
            grad = _sum_to(grad, shape, create_graph)
        except (ValueError, IndexError):
            raise RuntimeError(f"backward: gradient of shape {tuple(grad.shape)} does not match "
                               f"its input's shape {tuple(shape)}") from None
    if grad._data.dtype != dtype:
        if grad._data.dtype.kind == "c" and dtype.kind != "c":
            # a real input of a complex op: its gradient is the real part (as PyTorch)
            grad = grad.real if create_graph else Tensor._make(grad._data.real)
        grad = grad.to(dtype) if create_graph else Tensor._make(grad._data.astype(dtype))
    return grad


class OnceDifferentiable(Function):
    """Marks a gradient computed on raw arrays: differentiating it again is an error."""

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("trying to differentiate twice a function whose backward works on raw "
                           "arrays (once differentiable): conv, pooling, normalisation and "
                           "cross-entropy kernels support first derivatives only")


def _once_differentiable(array):
    node = OnceDifferentiable._node_class()
    node.next_edges = ()
    node.needs_input_grad = ()
    return Tensor._make(array, True, node)


def _add(a, b, create_graph):
    return a + b if create_graph else Tensor._make(a._data + b._data)


def _run_hooks(hooks, grad):
    for hook in hooks:
        result = hook(grad)
        if result is not None:
            grad = result
    return grad


class _Walk:
    """One backward pass: gradient buffers per node and leaf accumulation."""

    def __init__(self, retain_graph, create_graph, inputs):
        self.retain_graph = retain_graph
        self.create_graph = create_graph
        self.inputs = inputs  # for autograd.grad: {id(tensor): slot}, results collected here
        self.results = {}
        self.owned = set()    # arrays whose memory a leaf's .grad already holds
        self.fresh = set()    # leaves whose .grad was created in this pass
        self.capture = {}     # node -> [(output_nr, key)] for non-leaf inputs of grad()
        self.post = {}        # id(leaf) -> [leaf, edges still to deliver] (post-accumulate hooks)

    def deliver_to_leaf(self, leaf, grad):
        if leaf._hooks:
            grad = _run_hooks(leaf._hooks, grad)
        if self.inputs is not None:
            key = id(leaf)
            if key in self.inputs:
                prev = self.results.get(key)
                self.results[key] = grad if prev is None else _add(prev, grad, self.create_graph)
            return
        self.accumulate(leaf, grad)
        if self.post:
            pending = self.post.get(id(leaf))
            if pending is not None:
                pending[1] -= 1
                if pending[1] == 0:  # its gradient is complete
                    del self.post[id(leaf)]
                    run_post_accumulate_hooks(leaf)

    def flush_post_hooks(self):
        """Runs the hooks of leaves some of whose edges carried no gradient."""
        for leaf, left in self.post.values():
            if left < self.post_edges[id(leaf)]:
                run_post_accumulate_hooks(leaf)
        self.post = {}

    def accumulate(self, leaf, grad):
        if self.create_graph:
            leaf.grad = grad if leaf.grad is None else leaf.grad + grad
            return
        data = grad._data
        if leaf.grad is None:
            base = data if data.base is None else data.base
            if id(base) in self.owned:
                data = data.copy()
                base = data
            self.owned.add(id(base))
            leaf.grad = Tensor._make(data)
            self.fresh.add(id(leaf))
        elif id(leaf) in self.fresh or leaf.grad._data.shape != data.shape:
            leaf.grad = Tensor._make(leaf.grad._data + data)
        else:
            leaf.grad._data += data  # the leaf owns its .grad from an earlier pass

    def retain(self, node, grads):
        for nr, ref in node._retained.items():
            tensor = ref()
            g = grads[nr]
            if tensor is not None and g is not None:
                tensor.grad = g if tensor.grad is None else _add(tensor.grad, g, False)


post_hooks_exist = False  # set once any leaf registers a post-accumulate hook


def run_post_accumulate_hooks(leaf):
    """Tensor.register_post_accumulate_grad_hook's hooks: hook(leaf), once .grad is final."""
    for hook in tuple(leaf._post_hooks):
        if hook(leaf) is not None:
            raise RuntimeError("hooks registered with register_post_accumulate_grad_hook are "
                               "expected to return None, got a value")


def _dependencies(roots, post=None):
    """How many edges lead into each node reachable from ``roots``; with ``post``, also
    how many into each leaf with post-accumulate hooks (id(leaf) -> [leaf, count])."""
    deps = {}
    seen = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            if not isinstance(edge[0], Node):
                if post is not None and getattr(edge[0], "_post_hooks", None):
                    post.setdefault(id(edge[0]), [edge[0], 0])[1] += 1
                continue
            target = edge[0]
            deps[target] = deps.get(target, 0) + 1
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return deps


def run_backward(tensors, grad_tensors, retain_graph=None, create_graph=False, inputs=None):
    """Runs the backward pass from ``tensors`` seeded with ``grad_tensors``."""
    if retain_graph is None:
        retain_graph = create_graph
    walk = _Walk(retain_graph, create_graph, inputs)
    for g in grad_tensors:
        base = g._data if g._data.base is None else g._data.base
        walk.owned.add(id(base))

    if inputs is not None:
        for t in inputs.values():
            if t.grad_fn is not None:
                walk.capture.setdefault(t.grad_fn, []).append((t._output_nr, id(t)))
    buffers = {}
    roots = []
    for t, g in zip(tensors, grad_tensors):
        if t.grad_fn is None:
            walk.deliver_to_leaf(t, g)
            continue
        node = t.grad_fn
        _buffer(buffers, node, t._output_nr, g, create_graph)
        if node not in roots:
            roots.append(node)
    deps = _dependencies(roots, walk.post if post_hooks_exist else None)
    walk.post_edges = {key: count for key, (_, count) in walk.post.items()}
    ready = [n for n in roots if deps.get(n, 0) == 0]

    prev_mode = _State.enabled
    _State.enabled = create_graph
    try:
        _walk_graph(ready, buffers, deps, walk)
        walk.flush_post_hooks()
    finally:
        _State.enabled = prev_mode
    return walk


def _walk_graph(ready, buffers, deps, walk):
    create_graph = walk.create_graph
    plain = not walk.capture and not _State.anomaly
    while ready:
        node = ready.pop()
        grads = buffers.pop(node, None)
        if grads is None:
            outputs = None  # no gradient reached this node: nothing flows on
        elif plain and node._n_outputs == 1 and node._tensor_hooks is None and \
                node._retained is None and node._hooks is None:
            outputs = node._function.backward(node, grads)
            if type(outputs) is not tuple:
                outputs = (outputs,)
        else:
            outputs = _call_backward(node, grads, walk)
        if not walk.retain_graph:
            node._release()
        edges = node.next_edges
        if outputs is not None and len(outputs) < len(edges) and any(edges[len(outputs):]):
            raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                               f"gradients (expected {len(edges)}, got {len(outputs)})")
        for i, edge in enumerate(edges):
            if edge is None:
                continue
            target = edge[0]
            is_node = isinstance(target, Node)
            grad = None if outputs is None else outputs[i]
            if grad is not None:
                if type(grad) is not Tensor or grad._data.shape != edge[2] or \
                        grad._data.dtype != edge[3]:
                    grad = _fit(grad, edge[2], edge[3], create_graph)
                if not is_node:
                    walk.deliver_to_leaf(target, grad)
                elif target._n_outputs == 1:
                    prev = buffers.get(target)
                    buffers[target] = grad if prev is None else _add(prev, grad, create_graph)
                else:
                    _buffer(buffers, target, edge[1], grad, create_graph)
            if is_node:
                remaining = deps[target] - 1
                deps[target] = remaining
                if remaining == 0:
                    ready.append(target)


def _buffer(buffers, node, nr, grad, create_graph):
    if node._n_outputs == 1:
        prev = buffers.get(node)
        buffers[node] = grad if prev is None else _add(prev, grad, create_graph)
        return
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * node._n_outputs
    slots[nr] = grad if slots[nr] is None else _add(slots[nr], grad, create_graph)


def _call_backward(node, grads, walk):
    if node._n_outputs == 1:
        grads = [grads]
    else:
        grads = [g if g is not None or meta is None else
                 Tensor._make(meta[2].zeros(meta[0], meta[1]))
                 for g, meta in zip(grads, node._out_meta)]
    if node._tensor_hooks is not None:
        for nr, fns in node._tensor_hooks.items():
            if grads[nr] is not None:
                grads[nr] = _run_hooks(fns, grads[nr])
    if node._retained is not None:
        walk.retain(node, grads)
    if node in walk.capture:
        for nr, key in walk.capture[node]:
            prev = walk.results.get(key)
            walk.results[key] = grads[nr] if prev is None else _add(prev, grads[nr], walk.create_graph)
    if _State.anomaly:
        _State.anomaly = False  # report this node, not the ops its backward is made of
        try:
            outputs = node._function.backward(node, *grads)
        finally:
            _State.anomaly = True
        outputs = outputs if type(outputs) is tuple else (outputs,)
        anomaly.check(node.name(), outputs, "backward")
    else:
        outputs = node._function.backward(node, *grads)
        outputs = outputs if type(outputs) is tuple else (outputs,)
    if node._hooks:
        for hook in node._hooks:
            hook(outputs, tuple(grads))
    return outputs
