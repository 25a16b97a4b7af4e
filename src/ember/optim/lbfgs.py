"""L-BFGS: a quasi-Newton method with a limited history, optionally with a line search."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, _check_non_negative, _scalar

__all__ = ["LBFGS"]

# the state entries a step carries over to the next, in torch's order
_CARRIED = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


class LBFGS(Optimizer):
    r"""L-BFGS (Nocedal, 1980; after minFunc), as ``torch.optim.LBFGS``.

    Each call of ``step(closure)`` runs up to ``max_iter`` iterations on the parameters
    viewed as one flat vector :math:`x` with gradient :math:`g`::

        d = -H g        (the two-loop recursion over the last history_size pairs
                         s = x_{k+1} - x_k, y = g_{k+1} - g_k with y.s > 1e-10,
                         scaled by y.s / y.y; d = -g on the very first iteration)
        t = lr          (min(1, 1 / sum|g|) * lr on the very first iteration)
        x = x + t d     (t from a strong-Wolfe line search when line_search_fn is set)

    stopping when ``max|g| <= tolerance_grad``, when ``g.d``, the step or the change of the
    loss falls below ``tolerance_change``, or after ``max_eval`` closure calls.

    All state is global; as in torch it lives in the state of the first parameter:
    ``func_evals``, ``n_iter``, the direction ``d``, the step ``t``, the history
    ``old_dirs`` (y), ``old_stps`` (s) and ``ro`` (1 / y.s), ``H_diag``, ``prev_flat_grad``,
    ``prev_loss`` and ``al``, scratch of the recursion. Scalars that torch keeps as 0-d
    tensors are 0-d tensors of the parameters' dtype here too, kept on the host: the
    algorithm branches on them after every dot product.

    Args:
        params: the tensors to optimize (a single group; per-group options are not
            supported).
        lr: learning rate (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is this small (default 1e-7).
        tolerance_change: stop when the step or the loss changes less (default 1e-9).
        history_size: number of (s, y) pairs kept (default 100).
        line_search_fn: None (a fixed step of lr) or ``"strong_wolfe"``.

    Example:
        >>> opt = ember.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = loss_fn(model(x), y)
        ...     loss.backward()
        ...     return loss
        >>> opt.step(closure)
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        self._check_group(defaults)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative("lr", group["lr"], "learning rate")

    # -- the flat view of the parameters ----------------------------------------------------
    def _flat_grad(self):
        """All gradients as one new flat array (zeros for a parameter without one)."""
        xp = backend.xp_of(self._params[0]._data)
        parts = [xp.zeros(p._data.size, p._data.dtype) if p.grad is None
                 else p.grad._data.reshape(-1) for p in self._params]
        return xp.concatenate(parts)

    def _add_flat(self, step_size, update) -> None:
        """``params += step_size * update``, the flat ``update`` split over the parameters."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += update[offset:offset + n].reshape(p._data.shape) * float(step_size)
            p._vbox[0] += 1
            offset += n

    def _copy_params(self) -> list:
        return [p._data.copy() for p in self._params]

    def _set_params(self, values: list) -> None:
        for p, value in zip(self._params, values):
            p._data[...] = value
            p._vbox[0] += 1

    def _evaluate(self, closure: Callable[[], Any]):
        """Calls the closure (with grad enabled); returns the loss as a float and the flat
        gradient."""
        return float(self._eval_closure(closure)), self._flat_grad()

    def _evaluate_at(self, closure, x: list, t, d):
        """The loss and flat gradient at ``x + t d``; the parameters are left at ``x``."""
        self._add_flat(t, d)
        loss, grad = self._evaluate(closure)
        self._set_params(x)
        return loss, grad

    # -- the step ------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any]):
        """Runs up to ``max_iter`` L-BFGS iterations; returns the loss from the first
        ``closure()`` call (made before any parameter changes).

        Args:
            closure: clears the gradients, reevaluates the model, calls ``backward`` and
                returns the loss; it is called several times per step.
        """
        group = self.param_groups[0]
        lr = _scalar(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_change = group["tolerance_change"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._eval_closure(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if _abs_max(flat_grad) <= group["tolerance_grad"]:
            return orig_loss

        mem = {key: _from_state(state.get(key)) for key in _CARRIED}
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                mem.update(d=-flat_grad, old_dirs=[], old_stps=[], ro=[], H_diag=1)
            else:
                self._update_history(mem, flat_grad, group["history_size"])
                mem["d"] = self._two_loop(state, mem, flat_grad, group["history_size"])
            d = mem["d"]
            if mem["prev_flat_grad"] is None:
                mem["prev_flat_grad"] = flat_grad.copy()
            else:
                mem["prev_flat_grad"][...] = flat_grad
            mem["prev_loss"] = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / _host(backend.xp_of(d).abs(flat_grad).sum())) * lr
            else:
                t = lr
            mem["t"] = t
            gtd = _dot(flat_grad, d)
            if gtd > -tolerance_change:
                break

            loss, flat_grad, t, evals = self._move(closure, group, loss, flat_grad, t, d, gtd,
                                                   max_eval - current_evals,
                                                   last=n_iter == max_iter)
            mem["t"] = t
            current_evals += evals
            state["func_evals"] += evals

            if n_iter == max_iter or current_evals >= max_eval:
                break
            if _abs_max(flat_grad) <= group["tolerance_grad"]:
                break
            if _abs_max(d * t) <= tolerance_change:
                break
            if abs(loss - mem["prev_loss"]) < tolerance_change:
                break

        for key in _CARRIED:
            state[key] = _to_state(mem[key])
        if "al" in state:
            state["al"] = _to_state(state["al"])
        return orig_loss

    def _update_history(self, mem: dict[str, Any], flat_grad, history_size: int) -> None:
        """Adds the last (y, s) pair when the curvature y.s is positive enough."""
        y = flat_grad - mem["prev_flat_grad"]
        s = mem["d"] * mem["t"]
        ys = _dot(y, s)
        if ys > 1e-10:
            if len(mem["old_dirs"]) == history_size:
                for key in ("old_dirs", "old_stps", "ro"):
                    mem[key].pop(0)
            mem["old_dirs"].append(y)
            mem["old_stps"].append(s)
            mem["ro"].append(1.0 / ys)
            mem["H_diag"] = ys / _dot(y, y)

    def _two_loop(self, state: dict[str, Any], mem: dict[str, Any], flat_grad,
                  history_size: int):
        """The direction -H g, with H the L-BFGS inverse-Hessian estimate."""
        dirs, stps, ro = mem["old_dirs"], mem["old_stps"], mem["ro"]
        if "al" not in state:
            state["al"] = [None] * history_size
        al = state["al"]
        q = -flat_grad
        for i in range(len(dirs) - 1, -1, -1):
            al[i] = _dot(stps[i], q) * ro[i]
            q += dirs[i] * -al[i]
        r = q * mem["H_diag"]
        for i in range(len(dirs)):
            be_i = _dot(dirs[i], r) * ro[i]
            r += stps[i] * (al[i] - be_i)
        return r

    def _move(self, closure, group: dict[str, Any], loss: float, flat_grad, t, d, gtd,
              evals_left: int, last: bool):
        """Moves the parameters along ``d``: by a strong-Wolfe line search, or by ``t``
        (then re-evaluating unless this is the ``last`` iteration). Returns the new loss,
        flat gradient, step and the number of closure calls made."""
        line_search = group["line_search_fn"]
        if line_search is not None:
            if line_search != "strong_wolfe":
                raise RuntimeError("only 'strong_wolfe' is supported")
            x = self._copy_params()
            loss, flat_grad, t, evals = _strong_wolfe(
                lambda x, t, d: self._evaluate_at(closure, x, t, d), x, t, d, loss,
                flat_grad, gtd, max_ls=evals_left)  # torch leaves tolerance_change at 1e-9
            self._add_flat(t, d)
            return loss, flat_grad, t, evals
        self._add_flat(t, d)
        if last:  # no use evaluating a point that this step will not move from
            return loss, flat_grad, t, 0
        loss, flat_grad = self._evaluate(closure)
        return loss, flat_grad, t, 1

    # -- state dict ------------------------------------------------------------------------------
    def _cast_state(self, param: Tensor, index: int, state: dict[str, Any]) -> dict[str, Any]:
        """The flat history, not parameter-shaped: copied to the parameter's device/dtype."""
        return {key: _cast(value, param) for key, value in state.items()}


# -- strong-Wolfe line search ---------------------------------------------------------------------
def _strong_wolfe(evaluate, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions (after minFunc's
    ``WolfeLineSearch``): ``f(t) <= f + c1 t g.d`` and ``|g(t).d| <= -c2 g.d``.

    Returns the loss and flat gradient at the chosen step, the step, and the number of
    ``evaluate(x, t, d)`` calls made (at most ``max_ls``).
    """
    d_norm = _abs_max(d)
    start = (0, f, g, gtd)
    bracket, done, calls = _bracket(evaluate, x, t, d, start, c1, c2, max_ls)
    low = 0 if bracket[0][1] <= bracket[-1][1] else 1
    insufficient = False
    while not done and calls < max_ls:
        ts = (bracket[0][0], bracket[1][0])
        if abs(ts[1] - ts[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(*bracket[0][:2], bracket[0][3], *bracket[1][:2], bracket[1][3])
        t, insufficient = _away_from_ends(t, min(ts), max(ts), insufficient)
        f_new, g_new = evaluate(x, t, d)
        calls += 1
        new = (t, f_new, g_new, _dot(g_new, d))
        high = 1 - low
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = new
            low = 0 if bracket[0][1] <= bracket[1][1] else 1
            continue
        if abs(new[3]) <= -c2 * gtd:
            done = True
        elif new[3] * (bracket[high][0] - bracket[low][0]) >= 0:
            bracket[high] = bracket[low]
        bracket[low] = new
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, calls + 1


def _bracket(evaluate, x, t, d, start, c1, c2, max_ls):
    """Grows the step until an interval containing a strong-Wolfe point is found.

    Returns the bracket (a list of (t, f, g, g.d) points; a single point when that point
    already satisfies the conditions), whether it did, and the evaluations after the first.
    """
    _, f, g, gtd = start
    prev = start
    f_new, g_new = evaluate(x, t, d)
    new = (t, f_new, g_new, _dot(g_new, d))
    calls = 0
    while calls < max_ls:
        if f_new > f + c1 * t * gtd or (calls > 1 and f_new >= prev[1]):
            return [prev, new], False, calls
        if abs(new[3]) <= -c2 * gtd:
            return [new], True, calls
        if new[3] >= 0:
            return [prev, new], False, calls
        t = _cubic_interpolate(*prev[:2], prev[3], *new[:2], new[3],
                               bounds=(t + 0.01 * (t - prev[0]), t * 10))
        prev = new
        f_new, g_new = evaluate(x, t, d)
        new = (t, f_new, g_new, _dot(g_new, d))
        calls += 1
    # out of evaluations: bracket the start and the last point tried
    return [(0, f, g, None), (t, f_new, g_new, None)], False, calls


def _away_from_ends(t, lo, hi, insufficient: bool):
    """``t`` moved to 10% inside [lo, hi] when it lands near an end twice in a row or
    outside; returns it with the new insufficient-progress flag."""
    eps = 0.1 * (hi - lo)
    if not min(hi - t, t - lo) < eps:
        return t, False
    if insufficient or t >= hi or t <= lo:
        return (hi - eps if abs(t - hi) < abs(t - lo) else lo + eps), False
    return t, True


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
    clamped to ``bounds`` (default: between x1 and x2); their middle when there is none."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if not d2_square >= 0:  # also for NaN
        return (lo + hi) / 2.0
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, lo), hi)


# -- scalars on the host, state as tensors --------------------------------------------------------
def _host(value):
    """A 0-d device result as a NumPy scalar of its dtype (the host branches on it, as
    torch does; NumPy scalars then follow torch's 0-d tensor promotion rules)."""
    if isinstance(value, np.generic):
        return value
    return backend.of(value).to_numpy(value)[()]


def _dot(a, b):
    return _host(backend.xp_of(a).dot(a, b))


def _abs_max(a):
    return _host(backend.xp_of(a).abs(a).max())


def _to_state(value):
    """Arrays and NumPy scalars as tensors (as torch stores them); lists element-wise."""
    if isinstance(value, list):
        return [_to_state(v) for v in value]
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        return Tensor._make(np.asarray(value))
    if value is None or isinstance(value, (int, float, Tensor)):
        return value
    return Tensor._make(value)  # an xp array


def _from_state(value):
    """The inverse of :func:`_to_state`: 0-d tensors as host scalars, others as arrays."""
    if isinstance(value, list):
        return [_from_state(v) for v in value]
    if isinstance(value, Tensor):
        return _host(value._data) if value._data.ndim == 0 else value._data
    return value


def _cast(value, param: Tensor):
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, param) for v in value)
    if type(value) is np.ndarray:
        value = Tensor._make(value)
    if not isinstance(value, Tensor):
        return value
    data = backend.to_device(value._data, param.device)
    dtype = param._data.dtype if param.is_floating_point() else data.dtype
    return Tensor._make(data.astype(dtype, copy=True))
