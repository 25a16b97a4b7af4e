"""Higher-order autograd helpers with torch.autograd.functional's API.

jacobian, hessian, vjp, jvp, vhp and hvp take a function of Tensors and the point to evaluate
it at (a Tensor or a tuple of Tensors). Everything is built on reverse mode
(``autograd.grad``): a Jacobian is one backward pass per output element, jvp uses the
double-backward trick (the vjp is linear in its vector, so differentiating it with respect to
that vector gives the jvp), and ``strategy="forward-mode"`` is accepted and computed the same
way. With ``create_graph=True`` the results can be differentiated again.

Example:
    >>> from ember.autograd.functional import jacobian, hessian
    >>> x = ember.tensor([1.0, 2.0])
    >>> jacobian(lambda x: x ** 2, x)                # 2 * diag(x)
    >>> hessian(lambda x: (x ** 3).sum(), x)         # 6 * diag(x)
    >>> out, jv = jvp(lambda x: x.exp(), x, ember.ones(2))
"""
from __future__ import annotations

from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


def _tensor_type():
    from ..tensor import Tensor
    return Tensor


def _zeros_like(t):
    from ..creation import zeros_like
    return zeros_like(t)


# -- argument plumbing, as torch.autograd.functional does it ------------------------------------
def _as_tuple(value, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    """(whether ``value`` was a tuple, ``value`` as a tuple of Tensors)."""
    Tensor = _tensor_type()
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the {where} has type {type(item)}.")
    return is_tuple, items


def _tuple_postprocess(res, to_unpack):
    """Undoes _as_tuple: ``to_unpack`` is one flag, or (outer, inner) flags for nested tuples."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
        return res
    return res if to_unpack else res[0]


def _grad_preprocess(inputs, create_graph: bool, need_graph: bool) -> tuple:
    """Fresh inputs to differentiate with respect to.

    With create_graph a tracked input becomes an identity node on top of itself, so the result
    stays differentiable with respect to the caller's tensors; otherwise a detached leaf."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(need_graph) for t in inputs)


def _grad_postprocess(values, create_graph: bool):
    if isinstance(values, tuple):
        return tuple(_grad_postprocess(v, create_graph) for v in values)
    return values if create_graph or values is None else values.detach()


def _validate_v(v, other, is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prepend = f"Entry {i} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_other.shape} but got "
                               f"{el_v.shape}.")


def _check_requires_grad(values, what: str, strict: bool) -> None:
    if not strict:
        return
    for i, t in enumerate(values):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not t.requires_grad:
            if what == "outputs":
                raise RuntimeError(f"Output {i} of the user-provided function does not require "
                                   "gradients. The outputs must be computed in a differentiable "
                                   "manner from the input when running in strict mode.")
            raise RuntimeError(f"The {what} with respect to input {i} is independent of the "
                               "input. This is not allowed in strict mode.")


def autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False,
                  retain_graph=True) -> tuple:
    """``autograd.grad`` that skips outputs without a graph and gives None for unused inputs."""
    from . import grad
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs)
             if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, seeds = zip(*pairs)
    return grad(list(outs), list(inputs), list(seeds), retain_graph=retain_graph,
                create_graph=create_graph, allow_unused=True)


def _fill_in_zeros(grads, refs, strict: bool, what: str) -> tuple:
    """Zeros where a gradient is None (the mathematical value), or an error in strict mode."""
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The {what} of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")
            g = _zeros_like(ref)
        out.append(g)
    return tuple(out)


def _call(func, inputs, fn_name: str):
    outputs = func(*inputs)
    return _as_tuple(outputs, "outputs of the user-provided function", fn_name)


# -- vjp and jvp ---------------------------------------------------------------------------
def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The vector-Jacobian product ``v^T J`` of ``func`` at ``inputs``.

    Args:
        func: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors.
        v: like func's output; may be None when the output has a single element.
        create_graph: make the results differentiable.
        strict: raise when an input does not influence the outputs (else zeros).

    Returns:
        (func_output, vjp), vjp shaped like ``inputs``.
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        grads = autograd_grad(outputs, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grads, inputs, strict, "output")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The Jacobian-vector product ``J v`` of ``func`` at ``inputs``.

    Computed by the double-backward trick: the vjp ``u^T J`` is linear in ``u``, and its
    gradient with respect to ``u`` along ``v`` is ``J v``.

    Returns:
        (func_output, jvp), jvp shaped like the output.
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            v = _grad_preprocess(v, create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        is_outputs_tuple, outputs = _call(func, inputs, "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        result = _double_backward_jvp(outputs, inputs, v, create_graph, strict)
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_outputs_tuple))


def _double_backward_jvp(outputs, inputs, v, create_graph: bool, strict: bool = False) -> tuple:
    """J v for each output, by differentiating u -> u^T J with respect to u."""
    seeds = tuple(_zeros_like(o).requires_grad_(o.requires_grad) for o in outputs)
    grad_inputs = autograd_grad(outputs, inputs, seeds, create_graph=True)
    _check_requires_grad(grad_inputs, "gradient", strict)
    result = autograd_grad(grad_inputs, seeds, v, create_graph=create_graph)
    return _fill_in_zeros(result, outputs, strict, "output")


# -- Jacobian and Hessian ----------------------------------------------------------------
def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``, one backward pass per output element.

    Args:
        func: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors.
        create_graph: make the Jacobian differentiable (for Hessians and the like).
        strict: raise when an output does not depend on an input (else zeros).
        vectorize: accepted for compatibility; ember always loops over output elements.
        strategy: "reverse-mode" or "forward-mode" (computed by reverse mode as well).

    Shape:
        The block for output i and input j has shape ``out_i.shape + in_j.shape``.

    Returns:
        A Tensor for one input and one output; a tuple over the inputs or the outputs when
        one side is a tuple; a tuple (over outputs) of tuples (over inputs) when both are.
    """
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             "Hint: If your function has more outputs than inputs, "
                             '"forward-mode" tends to be more performant. Otherwise, prefer to '
                             'use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` '
                                      'and `strategy="forward-mode"` are not supported together '
                                      '(yet). Please either set `create_graph=False` or '
                                      '`strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and '
                               '`strategy="forward-mode"` are not supported together (yet). '
                               'Please either set `strict=False` or `strategy="reverse-mode"`.')
    if vectorize and strict:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                           "`vectorized=True` are not supported together. Please either set "
                           "`strict=False` or `vectorize=False`.")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        blocks = tuple(_jacobian_blocks(out, i, inputs, create_graph, strict)
                       for i, out in enumerate(outputs))
    return _tuple_postprocess(_grad_postprocess(blocks, create_graph),
                              (is_outputs_tuple, is_inputs_tuple))


def jacobian_blocks(out, inputs, create_graph: bool) -> tuple:
    """d out / d input for each input, shaped ``out.shape + input.shape`` (zeros if unused)."""
    return _jacobian_blocks(out, 0, inputs, create_graph, strict=False)


def _jacobian_blocks(out, index: int, inputs, create_graph: bool, strict: bool) -> tuple:
    from ..creation import eye, zeros
    from ..ops.movement import stack
    n = out.numel()
    rows = [[] for _ in inputs]
    if out.requires_grad and n:
        basis = eye(n, dtype=out.dtype, device=out.device)
        for k in range(n):
            grads = autograd_grad((out,), inputs, (basis[k].reshape(out.shape),),
                                  create_graph=create_graph)
            for j, (g, inp) in enumerate(zip(grads, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"Output {index} of the user-provided function is "
                                           f"independent of input {j}. This is not allowed in "
                                           "strict mode.")
                    g = _zeros_like(inp)
                rows[j].append(g)
    shape = tuple(out.shape)
    return tuple(stack(r).reshape(shape + tuple(inp.shape)) if r else
                 zeros(shape + tuple(inp.shape), dtype=inp.dtype, device=inp.device)
                 for r, inp in zip(rows, inputs))


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function ``func`` at ``inputs``: the Jacobian of its gradient.

    Returns:
        A Tensor of shape ``in.shape + in.shape`` for one input; for a tuple of inputs, a
        tuple of tuples whose (i, j) block has shape ``in_i.shape + in_j.shape``.
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_output(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        if is_out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        jac = jacobian(scalar_output, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The vector-Hessian product ``v^T H`` of a scalar function ``func`` at ``inputs``.

    Returns:
        (func_output, vhp), vhp shaped like ``inputs``.
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The Hessian-vector product ``H v`` of a scalar function ``func`` at ``inputs``.

    The Hessian of a twice-differentiable function is symmetric, so ``H v`` is computed as
    ``v^T H`` (two backward passes; torch uses a third, forward-mode-like one).

    Returns:
        (func_output, hvp), hvp shaped like ``inputs``.
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph: bool, strict: bool, name: str):
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", name)
            v = _grad_preprocess(v, create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        is_outputs_tuple, outputs = _call(func, inputs, name)
        _check_requires_grad(outputs, "outputs", strict)
        if is_outputs_tuple:
            raise RuntimeError(f"The function given to {name} should return a single Tensor")
        if outputs[0].numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {name} should "
                               "contain a single element")
        jac = autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        grads = autograd_grad(jac, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grads, inputs, strict, "hessian")
    return (_grad_postprocess(outputs[0], create_graph),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))
