"""grad, grad_and_value, vjp, jvp, jacrev, jacfwd and hessian, on ember's reverse-mode autograd.

Each transform gives the inputs it differentiates fresh stand-ins: a detached leaf, or, when
the input is itself tracked (by an enclosing transform or the caller's autograd), an identity
node on top of it. Gradients are taken with ``create_graph=True`` exactly when the result may
be differentiated again: when the function's outputs reach a tracked tensor other than the
transform's own leaves. That is what makes ``grad(grad(f))`` a second derivative while a
top-level ``grad(f)`` returns plain tensors, as torch.func does.
"""
from __future__ import annotations

import functools

from ..autograd.functional import _double_backward_jvp, autograd_grad, jacobian_blocks
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from ..tensor import Tensor
from ._pytree import TreeSpec, tree_flatten, tree_map, tree_unflatten

_RANDOMNESS = ("error", "different", "same")


# -- shared plumbing -------------------------------------------------------------------------
def _fresh(t):
    if not isinstance(t, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(t)}")
    return t.view_as(t) if t.requires_grad else t.detach().requires_grad_()


def _argnums_tuple(argnums, num_args: int) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if not isinstance(nums, tuple) or not all(isinstance(n, int) for n in nums):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if not nums:
        raise RuntimeError("argnums must be non-empty")
    for n in nums:
        if not -num_args <= n < num_args:
            raise RuntimeError(f"Got argnum={n}, but only {num_args} positional inputs")
    nums = tuple(n % num_args for n in nums)
    if len(set(nums)) != len(nums):
        raise RuntimeError(f"argnums must be unique, got {argnums}")
    return nums


def _prepare(args, argnums):
    """(args with fresh stand-ins at ``argnums``, the stand-ins flat, their structure)."""
    nums = _argnums_tuple(argnums, len(args))
    args = list(args)
    inputs, specs = [], []
    for n in nums:
        leaves, spec = tree_flatten(args[n])
        fresh = [_fresh(leaf) for leaf in leaves]
        args[n] = tree_unflatten(fresh, spec)
        inputs += fresh
        specs.append(spec)
    spec = specs[0] if isinstance(argnums, int) else TreeSpec(tuple, None, tuple(specs))
    return args, inputs, spec


def _split_aux(output, has_aux: bool, where: str):
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{where}: output of function f should be a tuple: (output, aux) if "
                           "has_aux is True")
    return output


def _tensor_leaves(tree, where: str) -> tuple[list, TreeSpec]:
    leaves, spec = tree_flatten(tree)
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise RuntimeError(f"{where}: Expected f(*args) to return only tensors, got "
                               f"unsupported type {type(leaf)}")
    return leaves, spec


def _tracks_outer(values, own_inputs) -> bool:
    """Whether any tensor in ``values`` depends on a tracked tensor other than ``own_inputs``
    (the transform's fresh leaves): then the result must stay differentiable."""
    if any(t.grad_fn is not None for t in own_inputs):
        return True  # the inputs are identity nodes on tracked tensors
    own = {id(t) for t in own_inputs}
    stack, seen = [], set()
    for t in values:
        if isinstance(t, Tensor) and t.requires_grad:
            if t.grad_fn is None:
                if id(t) not in own:
                    return True
            else:
                stack.append(t.grad_fn)
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
                if id(target) not in own:
                    return True
            else:
                stack.append(target)
    return False


def _grads(outputs, inputs, cotangents, create_graph: bool) -> list:
    """Vector-Jacobian products, zeros for inputs the outputs do not depend on."""
    grads = autograd_grad(outputs, inputs, cotangents, create_graph=create_graph)
    return [g if g is not None else _zeros_like(inp) for g, inp in zip(grads, inputs)]


def _zeros_like(t):
    from ..creation import zeros_like
    return zeros_like(t)


def _detach(tree):
    return tree_map(lambda t: t.detach() if isinstance(t, Tensor) else t, tree)


# -- grad and vjp ------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux: bool = False):
    """Like :func:`grad`, but the transformed function returns ``(gradient, value)``
    (``(gradient, (value, aux))`` with has_aux).

    Example:
        >>> g, value = grad_and_value(lambda x: (x ** 2).sum())(ember.ones(3))
    """
    where = "grad_and_value(f)(*args)"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        outer = is_grad_enabled()
        with enable_grad():
            args, inputs, spec = _prepare(args, argnums)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, where)
            if not isinstance(output, Tensor):
                raise RuntimeError(f"{where}: Expected f(*args) to return a Tensor, got "
                                   f"{type(output)}")
            if output.dim() != 0:
                raise RuntimeError(f"{where}: Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {output.dim()} dims. Maybe you wanted to use "
                                   "the vjp or jacrev APIs instead?")
            graph = outer and _tracks_outer([output] + tree_flatten(aux)[0], inputs)
            grads = tree_unflatten(_grads([output], inputs, [None], graph), spec)
        if not graph:
            output, aux = output.detach(), _detach(aux)
        return (grads, (output, aux)) if has_aux else (grads, output)
    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """The gradient of a scalar function with respect to its ``argnums`` arguments.

    Args:
        func: returns a 0-dim Tensor (and an auxiliary value, with has_aux).
        argnums: the argument (int) or arguments (tuple) to differentiate; each may be a
            Tensor or a tuple, list or dict of Tensors, and its gradient has that structure.
        has_aux: func returns ``(output, aux)``; the transformed function returns
            ``(gradient, aux)``.

    Transforms nest: ``grad(grad(f))`` is the second derivative, and ``vmap(grad(f))`` gives
    per-sample gradients.

    Example:
        >>> ember.func.grad(lambda x: x.sin().sum())(x)                  # cos(x)
        >>> ember.func.grad(ember.func.grad(lambda x: x.sin()))(x0)      # -sin(x0), 0-dim x0
    """
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        grads, value = inner(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return wrapper


def vjp(func, *primals, has_aux: bool = False):
    """``func(*primals)`` and a function that maps cotangents to vector-Jacobian products.

    Returns:
        ``(output, vjp_fn)`` or ``(output, vjp_fn, aux)``; ``vjp_fn(cotangents)`` takes
        tensors shaped like the output and returns a tuple shaped like ``primals``. It may be
        called more than once.

    Example:
        >>> out, vjp_fn = ember.func.vjp(ember.sin, x)
        >>> (g,) = vjp_fn(ember.ones_like(out))                           # cos(x)
    """
    where = "vjp(f, *primals)"
    outer = is_grad_enabled()
    with enable_grad():
        leaves, spec = tree_flatten(primals)
        inputs = [_fresh(t) for t in leaves]
        output, aux = _split_aux(func(*tree_unflatten(inputs, spec)), has_aux, where)
        outputs, out_spec = _tensor_leaves(output, where)
        graph = outer and _tracks_outer(outputs + tree_flatten(aux)[0], inputs)

    def vjp_fn(cotangents, *, retain_graph: bool = True, create_graph: bool | None = None):
        cts, ct_spec = tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree "
                               f"structure of outputs to the function. cotangents: {ct_spec}, "
                               f"primal output: {out_spec}")
        for ct, out in zip(cts, outputs):
            if tuple(ct.shape) != tuple(out.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output has a shape of "
                                   f"{tuple(ct.shape)} and output has a shape of "
                                   f"{tuple(out.shape)}.")
        if create_graph is None:
            create_graph = graph or any(ct.requires_grad for ct in cts)
        with enable_grad():
            return tree_unflatten(_grads(outputs, inputs, cts, create_graph), spec)

    if not graph:
        output, aux = _detach(output), _detach(aux)
    return (output, vjp_fn, aux) if has_aux else (output, vjp_fn)


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``func(*primals)`` and its Jacobian-vector product with ``tangents``.

    Computed by the double-backward trick on reverse mode, so func must be twice
    differentiable in ember's sense (kernels with raw-array backwards, such as conv and
    cross_entropy, are not).

    Returns:
        ``(output, jvp_out)`` or ``(output, jvp_out, aux)``; jvp_out is shaped like output.

    Example:
        >>> out, tangent_out = ember.func.jvp(ember.sin, (x,), (ember.ones_like(x),))
    """
    where = "jvp(f, primals, tangents)"
    for name, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, tuple):
            raise RuntimeError(f"{where}: Expected {name} to be a tuple. E.g. it should be valid "
                               "to call f(*primals).")
    leaves, spec = tree_flatten(primals)
    tangent_leaves, tangent_spec = tree_flatten(tangents)
    if spec != tangent_spec:
        raise RuntimeError(f"{where}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, tangents "
                           f"also must be. Got primals with structure {spec} and tangents with "
                           f"structure {tangent_spec}")
    for p, t in zip(leaves, tangent_leaves):
        if isinstance(p, Tensor) and isinstance(t, Tensor) and p.shape != t.shape:
            raise RuntimeError("Trying to set a forward gradient that has a different size than "
                               "that of the original Tensor, this is not supported. Tensor is of "
                               f"size {list(p.shape)} while the given forward gradient is of size "
                               f"{list(t.shape)}.")
    outer = is_grad_enabled()
    with enable_grad():
        inputs = [_fresh(t) for t in leaves]
        output, aux = _split_aux(func(*tree_unflatten(inputs, spec)), has_aux, where)
        outputs, out_spec = _tensor_leaves(output, where)
        graph = outer and (_tracks_outer(outputs + tree_flatten(aux)[0], inputs)
                           or any(t.requires_grad for t in tangent_leaves))
        result = _double_backward_jvp(outputs, inputs, tangent_leaves, graph)
    if not graph:
        output, result, aux = _detach(output), _detach(result), _detach(aux)
    result = tree_unflatten(result, out_spec)
    return (output, result, aux) if has_aux else (output, result)


# -- Jacobians and Hessians ------------------------------------------------------------------
def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size=None,
           _preallocate_and_copy: bool = False):
    """The Jacobian of ``func`` with respect to its ``argnums`` arguments, by reverse mode.

    Returns:
        For each output leaf, the blocks ``d out / d arg`` of shape ``out.shape + arg.shape``
        arranged like the differentiated arguments (one arg, or a tuple over argnums), and
        those arranged like the output. ``chunk_size`` is accepted and ignored.

    Example:
        >>> jacrev(lambda x: x.sin())(x)                  # diag(cos(x))
        >>> jacrev(lambda x, y: x * y, argnums=(0, 1))(x, y)
    """
    return _jacobian_transform(func, argnums, has_aux, "jacrev")


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """The Jacobian of ``func``, as :func:`jacrev` gives it.

    ember has no forward-mode AD, so this is computed by reverse mode; the result (and the
    structure of the result) is the same. ``randomness`` is validated as torch does.
    """
    _check_randomness(randomness)
    return _jacobian_transform(func, argnums, has_aux, "jacfwd")


def hessian(func, argnums=0):
    """The Hessian of a scalar function: ``jacfwd(jacrev(func, argnums), argnums)``.

    Example:
        >>> hessian(lambda x: (x ** 3).sum())(x)           # diag(6 x)
    """
    return jacfwd(jacrev(func, argnums), argnums)


def _jacobian_transform(func, argnums, has_aux: bool, name: str):
    where = f"{name}(f, ...)(*args)"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        outer = is_grad_enabled()
        with enable_grad():
            args, inputs, spec = _prepare(args, argnums)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, where)
            outputs, out_spec = _tensor_leaves(output, where)
            graph = outer and _tracks_outer(outputs + tree_flatten(aux)[0], inputs)
            per_output = [tree_unflatten(jacobian_blocks(out, inputs, graph), spec)
                          for out in outputs]
        result = tree_unflatten(per_output, out_spec)
        if not graph:
            aux = _detach(aux)
        return (result, aux) if has_aux else result
    return wrapper


def _check_randomness(randomness) -> None:
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")


__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]
