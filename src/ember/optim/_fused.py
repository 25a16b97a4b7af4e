"""Fused GPU kernels for the SGD and Adam/AdamW updates: one kernel per parameter per step.

Each update is written once, as an ordered table of ``target = expression`` statements in a
tiny language (names, ``+ - * /``, unary minus, ``sqrt()``, ``maximum()``; no literals, so no
double-precision constants creep into float32 math). From the table come

- the CUDA source of a ``cupy.ElementwiseKernel`` (built on first use, cached; CuPy compiles it
  once per device and caches the binary on disk), and
- a reference that runs the same statements as array expressions (``xp`` ufuncs).

The statements repeat the NumPy optimizer path's operations in the same order and precision
(hyperparameters in the parameter's dtype, as NumPy's weak Python scalars), and the kernel is
compiled without fused multiply-adds, so the GPU rounds exactly as the CPU does.

Only float32/float64 CuPy parameters whose gradient has their dtype take the kernel
(:func:`applies`); everything else, the CPU included, stays on the optimizers' NumPy path.
"""
from __future__ import annotations

import ast
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import backend
from ..tensor import Tensor

# expression-language function -> (CUDA name, the xp function)
_FUNCS = {"sqrt": ("sqrt", lambda xp: xp.sqrt), "maximum": ("ember_maximum", lambda xp: xp.maximum)}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}

# numpy.maximum's rule: NaN if either operand is NaN
PREAMBLE = """
template <typename U>
__device__ __forceinline__ U ember_maximum(U a, U b) { return (a > b || a != a) ? a : b; }
"""
OPTIONS = ("--fmad=false",)  # no contraction of a*b+c: round every step as NumPy does


@dataclass(frozen=True)
class Update:
    """One fused update: arrays read (``inputs``), arrays updated in place (``outputs``),
    hyperparameters (``scalars``, derived) and the statements, in order."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    body: tuple[tuple[str, str], ...]

    @functools.cached_property
    def trees(self) -> tuple[tuple[str, ast.expr], ...]:
        return tuple((target, _parse(expr)) for target, expr in self.body)

    @functools.cached_property
    def scalars(self) -> tuple[str, ...]:
        arrays = set(self.inputs) | set(self.outputs) | {t for t, _ in self.body}
        names = {n.id for _, tree in self.trees for n in ast.walk(tree)
                 if isinstance(n, ast.Name) and n.id not in _FUNCS}
        return tuple(sorted(names - arrays))

    def cuda_source(self) -> tuple[str, str, str]:
        """``(in_params, out_params, operation)`` of the ElementwiseKernel (T: the dtype)."""
        in_params = ", ".join(f"T {n}" for n in self.inputs + self.scalars)
        out_params = ", ".join(f"T {n}" for n in self.outputs)
        declared = set(self.inputs) | set(self.outputs)
        lines = []
        for target, tree in self.trees:
            prefix = "" if target in declared else "T "
            declared.add(target)
            lines.append(f"{prefix}{target} = {_to_c(tree)};")
        return in_params, out_params, "\n".join(lines)

    def reference(self, arrays: dict[str, Any], scalars: dict[str, float]) -> None:
        """Runs the statements with xp ufuncs, writing the outputs in place."""
        p = arrays[self.outputs[0]]
        xp, kind = backend.xp_of(p), p.dtype.type
        env = {n: arrays[n] for n in self.inputs + self.outputs}
        env.update((n, kind(scalars[n])) for n in self.scalars)
        for target, tree in self.trees:
            env[target] = _evaluate(tree, env, xp)
        for n in self.outputs:
            if env[n] is not arrays[n]:
                arrays[n][...] = env[n]


def _parse(expr: str) -> ast.expr:
    tree = ast.parse(expr, mode="eval").body
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Name, ast.Call, ast.Load)) or \
            type(node) in _BINOPS or isinstance(node, ast.USub)
        if isinstance(node, ast.Call):
            ok = isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords
        if isinstance(node, ast.UnaryOp):
            ok = isinstance(node.op, ast.USub)
        if not ok:
            raise ValueError(f"fused update: {ast.dump(node)} is outside the expression "
                             f"language in {expr!r}")
    return tree


def _to_c(node: ast.expr) -> str:
    """C for ``node``, fully parenthesised so C evaluates in Python's order."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.UnaryOp):
        return f"(-{_to_c(node.operand)})"
    if isinstance(node, ast.BinOp):
        return f"({_to_c(node.left)} {_BINOPS[type(node.op)]} {_to_c(node.right)})"
    args = ", ".join(_to_c(a) for a in node.args)
    return f"{_FUNCS[node.func.id][0]}({args})"


def _evaluate(node: ast.expr, env: dict[str, Any], xp):
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        return -_evaluate(node.operand, env, xp)
    if isinstance(node, ast.BinOp):
        a, b = _evaluate(node.left, env, xp), _evaluate(node.right, env, xp)
        op = type(node.op)
        return a + b if op is ast.Add else a - b if op is ast.Sub else \
            a * b if op is ast.Mult else a / b
    return _FUNCS[node.func.id][1](xp)(*(_evaluate(a, env, xp) for a in node.args))


# -- the formula tables -------------------------------------------------------------------------
def _gradient(weight_decay: bool, maximize: bool) -> tuple[str, str]:
    """``d``, the direction followed: ``±g + weight_decay * p`` (optimizer._effective_grad)."""
    if weight_decay:
        return ("d", "p * wd - g" if maximize else "p * wd + g")
    return ("d", "-g" if maximize else "g")


@functools.lru_cache(maxsize=None)
def sgd_update(weight_decay: bool, maximize: bool, momentum: bool, first: bool,
               dampening: bool, nesterov: bool) -> Update:
    """SGD's statements for one configuration (``first``: the momentum buffer's first step)."""
    body = [_gradient(weight_decay, maximize)]
    outputs = ("p",)
    if momentum:
        outputs = ("p", "buf")
        if first:
            body.append(("buf", "d"))
        else:
            body.append(("buf", "buf * momentum + d * dampening1" if dampening
                         else "buf * momentum + d"))
        body.append(("d", "buf * momentum + d" if nesterov else "buf"))
    body.append(("p", "p + d * neg_lr"))
    flags = "".join(str(int(f)) for f in (weight_decay, maximize, momentum, first, dampening,
                                           nesterov))
    return Update(f"ember_sgd_{flags}", ("g",), outputs, tuple(body))


@functools.lru_cache(maxsize=None)
def adam_update(decoupled_decay: bool, l2: bool, maximize: bool, amsgrad: bool) -> Update:
    """Adam's statements: AdamW's decay (``decoupled_decay``) or an L2 term (``l2``)."""
    body = [("p", "p * decay")] if decoupled_decay else []
    body += [_gradient(l2, maximize),
             ("m", "m + (d - m) * omb1"),
             ("v", "v * beta2 + d * d * omb2")]
    outputs = ("p", "m", "v")
    if amsgrad:
        outputs += ("vmax",)
        body.append(("vmax", "maximum(vmax, v)"))
    body += [("den", f"sqrt({'vmax' if amsgrad else 'v'}) / bc2 + eps"),
             ("p", "p + m / den * neg_step")]
    flags = "".join(str(int(f)) for f in (decoupled_decay, l2, maximize, amsgrad))
    return Update(f"ember_adam_{flags}", ("g",), outputs, tuple(body))


# -- launching ----------------------------------------------------------------------------------
_kernels: dict[Update, Any] = {}


def applies(p: Tensor) -> bool:
    """Whether ``p``'s update runs as a fused kernel (a float32/float64 parameter on a real GPU
    whose gradient has its dtype)."""
    data = p._data
    if type(data) is np.ndarray or getattr(backend.of(data), "is_fake", True):
        return False
    return data.dtype in (np.float32, np.float64) and p.grad._data.dtype == data.dtype


def _kernel(update: Update, xp):
    kernel = _kernels.get(update)
    if kernel is None:
        in_params, out_params, operation = update.cuda_source()
        kernel = xp.ElementwiseKernel(in_params, out_params, operation, update.name,
                                      preamble=PREAMBLE, options=OPTIONS)
        _kernels[update] = kernel
    return kernel


def launch(update: Update, arrays: dict[str, Any], scalars: dict[str, float]) -> None:
    """Runs ``update`` in place: the CUDA kernel on CuPy arrays, else the reference."""
    p = arrays[update.outputs[0]]
    with backend.device_guard(p):
        owner = backend.of(p)
        if owner is backend.cpu or getattr(owner, "is_fake", True):
            update.reference(arrays, scalars)
            return
        kernel = _kernel(update, owner.xp)
        kernel(*(arrays[n] for n in update.inputs), *(scalars[n] for n in update.scalars),
               *(arrays[n] for n in update.outputs))


def _scalar(value) -> float:
    return float(value) if isinstance(value, Tensor) else value


def sgd_step(p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
    """One SGD update of ``p`` (as ``SGD._update``), fused; creates the momentum buffer."""
    momentum, dampening = _scalar(group["momentum"]), _scalar(group["dampening"])
    weight_decay = _scalar(group["weight_decay"])
    arrays = {"p": p._data, "g": p.grad._data}
    first = False
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            with backend.device_guard(p._data):
                buf = Tensor._make(backend.xp_of(p._data).empty_like(p._data))
            state["momentum_buffer"] = buf
            first = True
        arrays["buf"] = buf._data
    update = sgd_update(weight_decay != 0, bool(group["maximize"]), momentum != 0, first,
                        dampening != 0, bool(group["nesterov"]))
    scalars = {"wd": weight_decay, "momentum": momentum, "dampening1": 1 - dampening,
               "neg_lr": -_scalar(group["lr"])}
    launch(update, arrays, scalars)


def adam_step(p: Tensor, state: dict[str, Any], group: dict[str, Any], step: float) -> None:
    """One Adam/AdamW update of ``p`` (as ``Adam._update``) after the step count was bumped."""
    lr, weight_decay = _scalar(group["lr"]), _scalar(group["weight_decay"])
    beta1, beta2 = (_scalar(b) for b in group["betas"])
    decoupled, amsgrad = group["decoupled_weight_decay"], group["amsgrad"]
    update = adam_update(decoupled and weight_decay != 0, not decoupled and weight_decay != 0,
                         bool(group["maximize"]), bool(amsgrad))
    arrays = {"p": p._data, "g": p.grad._data, "m": state["exp_avg"]._data,
              "v": state["exp_avg_sq"]._data}
    if amsgrad:
        arrays["vmax"] = state["max_exp_avg_sq"]._data
    scalars = {"decay": 1 - lr * weight_decay, "wd": weight_decay, "omb1": 1 - beta1,
               "omb2": 1 - beta2, "beta2": beta2, "bc2": math.sqrt(1 - beta2 ** step),
               "eps": _scalar(group["eps"]), "neg_step": -(lr / (1 - beta1 ** step))}
    launch(update, arrays, scalars)
