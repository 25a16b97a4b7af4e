"""gradcheck: analytic gradients against float64 central differences, as torch's."""
from __future__ import annotations

import numpy as np



class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **_ignored) -> bool:
    """Checks ``func``'s gradients w.r.t. every input that requires grad.

    Inputs should be float64. Each output element's analytic row of the Jacobian (one backward
    pass) is compared with central differences ``(f(x+eps) - f(x-eps)) / (2 eps)``.
    """
    from ..tensor import Tensor
    from . import grad as autograd_grad
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outputs = [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor) and o.requires_grad]
    for out_index, out in enumerate(outputs):
        n_out = out.numel()
        for i in wrt:
            x = inputs[i]
            numerical = _numerical(func, inputs, i, out_index, eps)          # (n_in, n_out)
            analytical = np.zeros((x.numel(), n_out))
            for j in range(n_out):
                seed = np.zeros(n_out, out._data.dtype)
                seed[j] = 1
                g, = autograd_grad(out, x, Tensor._make(seed.reshape(out._data.shape)),
                                   retain_graph=True, allow_unused=True)
                if g is not None:
                    analytical[:, j] = np.asarray(g._data, np.float64).reshape(-1)
            if not np.allclose(analytical, numerical, rtol=rtol, atol=atol):
                if raise_exception:
                    worst = np.abs(analytical - numerical).max()
                    raise GradcheckError(
                        f"Jacobian mismatch for output {out_index} with respect to input {i}: "
                        f"max abs difference {worst:.3g}\nnumerical:{numerical}\n"
                        f"analytical:{analytical}")
                return False
    return True


def _numerical(func, inputs, i, out_index, eps):
    """Central differences of output ``out_index`` w.r.t. input i, one column per element."""
    x = inputs[i]
    flat = x._data.reshape(-1)
    if flat.size == 0:
        return np.zeros((0, _float_outputs(func(*inputs))[out_index].size))
    columns = []
    for k in range(flat.size):
        orig = flat[k].item()
        flat[k] = orig + eps
        plus = _float_outputs(func(*inputs))[out_index]
        flat[k] = orig - eps
        minus = _float_outputs(func(*inputs))[out_index]
        flat[k] = orig
        columns.append((plus - minus).reshape(-1) / (2 * eps))
    return np.array(columns).reshape(flat.size, -1)


def _float_outputs(outputs):
    # copies: an output may be a view of the input that is about to be perturbed again
    from .. import backend
    from ..tensor import Tensor
    return [np.array(backend.of(o._data).to_numpy(o._data), np.float64)
            for o in _as_tuple(outputs) if isinstance(o, Tensor) and o._data.dtype.kind == "f"]


def gradgradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """gradcheck of the first derivative (checks double backward)."""
    from ..tensor import Tensor
    from . import grad as autograd_grad
    inputs = _as_tuple(inputs)
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def first_derivative(*xs):
        out = _as_tuple(func(*xs))[0]
        grads = autograd_grad(out.sum(), [x for x in xs if isinstance(x, Tensor) and
                                          x.requires_grad], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    if not wrt:
        return True
    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
