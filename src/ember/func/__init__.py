"""Function transforms with torch.func's API, built on ember's reverse-mode autograd.

grad, grad_and_value, vjp, jvp, jacrev, jacfwd and hessian differentiate plain functions of
Tensors (or of tuples, lists and dicts of them); vmap maps a function over a batch dimension;
functional_call runs a module with substituted parameters, and stack_module_state prepares
an ensemble. The transforms nest freely, on any device.

Example:
    >>> from ember.func import functional_call, grad, vmap
    >>> model = ember.nn.Linear(3, 1)
    >>> params = {k: v.detach() for k, v in model.named_parameters()}
    >>> def loss(params, x, y):                       # one sample: x (3,), y (1,)
    ...     return ((functional_call(model, params, (x,)) - y) ** 2).mean()
    >>> per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, xs, ys)
    >>> per_sample["weight"].shape                    # (batch, 1, 3)
    >>> grad(grad(ember.sin))(ember.tensor(0.5))      # -sin(0.5)
"""
from ._module import functional_call, stack_module_state
from ._transforms import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, vjp
from ._vmap import vmap

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state"]
