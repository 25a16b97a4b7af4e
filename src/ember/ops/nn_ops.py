"""The fused, stable or fast primitives behind ``ember.nn.functional``.

Each earns its place by stability (log-sum-exp softmax, cross-entropy from logits, softplus,
BCE with logits) or speed (batch/layer/group norm and cross-entropy: one forward pass that
keeps what backward needs, one backward formula on arrays). Norm and loss backwards return
arrays (once differentiable, like PyTorch's fused kernels); the smooth activations build
their backward from ember ops, so double backward works through them.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _checks, backend
from ..amp import _policy as _amp
from ..backend import threads
from ..autograd.function import Function
from ..autograd.grad_mode import _State
from ..tensor import Tensor
from . import elementwise as ew

_make = Tensor._make
_SQRT2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _float_input(op: str, x) -> None:
    _checks.tensor_type(op, "input", x)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype.name}; "
                           "convert it with .float()")


def _params_dtype(op: str, input, **params) -> None:
    """RuntimeError, as PyTorch on the CPU, for a parameter whose dtype is not the input's
    (float32 parameters may serve a float16 or bfloat16 input: PyTorch's mixed type)."""
    dt = input._data.dtype
    for name, t in params.items():
        if t is None:
            continue
        pdt = t._data.dtype
        if pdt != dt and not (pdt == np.float32 and dt.itemsize == 2):
            raise RuntimeError(f"{op}: expected {name} to have the input's dtype "
                               f"{input.dtype.name}, got {t.dtype.name}; convert one with .to()")


def _softmax_parts(x, axis: int):
    """(x - max, softmax, log-sum-exp of x - max): one exp pass for both softmax and log."""
    xp = backend.xp_of(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    p = xp.exp(shifted)
    total = p.sum(axis=axis, keepdims=True)
    p /= total
    return shifted, p, xp.log(total)


# -- linear ----------------------------------------------------------------------------------
class Linear(Function):
    """x W^T + b in one node: weight and bias gradients come out contiguous, in one BLAS call
    each (composed from matmul, the weight gradient would be a transposed view)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        out = x._data @ weight._data.T
        if bias is not None:
            out += bias._data
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        if grad._data.dtype.kind == "c":  # complex: products with the conjugates
            x, weight = x.conj(), weight.conj()
        need_x, need_w, need_b = ctx.needs_input_grad
        if _State.enabled:  # create_graph: the same formulas in ember ops, differentiable
            rows = _prod(grad.shape[:-1])  # not -1: a dim may be 0
            g2 = grad.reshape(rows, grad.shape[-1])
            return (grad @ weight if need_x else None,
                    g2.mT @ x.reshape(rows, x.shape[-1]) if need_w else None,
                    g2.sum(0) if need_b else None)
        g = grad._data
        rows = _prod(g.shape[:-1])
        g2 = g.reshape(rows, g.shape[-1])
        return (g @ weight._data if need_x else None,
                g2.T @ x._data.reshape(rows, x._data.shape[-1]) if need_w else None,
                g2.sum(axis=0) if need_b else None)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b for input (*, in), weight (out, in), bias (out,)."""
    if _amp.on and _amp.applies("linear", input, weight):
        return _amp.run("linear", linear, input, weight, bias)
    _checks.tensor_type("linear", "input", input)
    _checks.tensor_type("linear", "weight", weight)
    x, w = input._data, weight._data
    if w.ndim == 1 and x.ndim and x.shape[-1] == w.shape[0]:
        # torch: a (in,) weight gives output (*,) (a dot product per row), bias a scalar
        return linear(input, weight.unsqueeze(0), bias).squeeze(-1)
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[-1]:
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied (input "
                           f"{tuple(x.shape)} vs weight {tuple(w.shape)}: in_features "
                           f"{x.shape[-1] if x.ndim else None} != {w.shape[-1]})")
    if x.dtype != w.dtype:
        raise RuntimeError(f"linear: expected input and weight to have the same dtype, got "
                           f"{input.dtype.name} and {weight.dtype.name}")
    if type(x) is not type(w):
        _checks.same_device("linear", x, w)
    if bias is not None and bias._data.shape not in ((w.shape[0],), ()):
        raise RuntimeError(f"linear: bias of shape {tuple(bias.shape)} does not match "
                           f"out_features {w.shape[0]}")
    return Linear.apply(input, weight, bias)


# -- softmax family --------------------------------------------------------------------------
class Softmax(Function):
    @staticmethod
    def forward(ctx, input, dim):
        _, p, _ = _softmax_parts(input._data, dim)
        ctx.dim = dim
        ctx.save_output()
        return p

    @staticmethod
    def backward(ctx, grad):
        if _State.enabled:  # create_graph: the same formula in ember ops, differentiable
            y = ctx.saved_output
            gy = grad * y
            return gy - y * gy.sum(ctx.dim, keepdim=True), None
        y = ctx.saved_output._data
        gy = grad._data * y
        gy -= y * gy.sum(axis=ctx.dim, keepdims=True)
        return gy, None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, input, dim):
        shifted, p, lse = _softmax_parts(input._data, dim)
        shifted -= lse
        ctx.dim, ctx.p = dim, p  # backward needs softmax: keeping it saves an exp pass
        ctx.save_output()
        return shifted

    @staticmethod
    def backward(ctx, grad):
        if _State.enabled:  # create_graph: the same formula in ember ops, differentiable
            return grad - ctx.saved_output.exp() * grad.sum(ctx.dim, keepdim=True), None
        g = grad._data
        return g - ctx.p * g.sum(axis=ctx.dim, keepdims=True), None


def _softmax_args(op: str, input, dim, dtype):
    _checks.tensor_type(op, "input", input)
    if dtype is not None:
        input = ew.cast(input, dtype)
    _float_input(op, input)
    if input._data.ndim == 0:
        return input.reshape(1), 0, True
    return input, _checks.dim(dim, input._data.ndim, op), False


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed with the max subtracted."""
    if _amp.on and _amp.applies("softmax", input):
        return _amp.run("softmax", softmax, input, dim, dtype=dtype)
    x, d, scalar = _softmax_args("softmax", input, dim, dtype)
    out = Softmax.apply(x, d)
    return out.reshape(()) if scalar else out


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """x - logsumexp(x) along ``dim``: finite for any finite logits."""
    if _amp.on and _amp.applies("log_softmax", input):
        return _amp.run("log_softmax", log_softmax, input, dim, dtype=dtype)
    x, d, scalar = _softmax_args("log_softmax", input, dim, dtype)
    out = LogSoftmax.apply(x, d)
    return out.reshape(()) if scalar else out


# -- normalisation ------------------------------------------------------------------------------
# Reductions go through einsum: one pass with no temporary, and several times faster than
# ndarray.sum/mean over many short rows or over the non-channel axes of (N, C, ...).
def _channel_sum(a, b=None):
    """sum over every axis but 1 of a (or of a * b): shape (C,)."""
    xp = backend.xp_of(a)
    n, c = a.shape[:2]
    a = a.reshape(n, c, -1)  # (N, C, spatial): einsum cannot sum over an ellipsis
    if b is None:
        return xp.einsum("ncs->c", a)
    return xp.einsum("ncs,ncs->c", a, b.reshape(n, c, -1))


def _row_sum(a, b=None):
    """sum over the last axis of a 2-D a (or of a * b): shape (M,)."""
    xp = backend.xp_of(a)
    return xp.einsum("ij->i", a) if b is None else xp.einsum("ij,ij->i", a, b)


def _col_sum(a, b=None):
    xp = backend.xp_of(a)
    return xp.einsum("ij->j", a) if b is None else xp.einsum("ij,ij->j", a, b)


def _affine(xhat, weight, bias, shape):
    if weight is None and bias is None:
        return xhat.copy()  # the output must not alias what backward saved
    out = xhat * weight._data.reshape(shape) if weight is not None else xhat.copy()
    if bias is not None:
        out += bias._data.reshape(shape)
    return out


class BatchNorm(Function):
    """Each pass over the input runs by blocks of images: threaded, and a block's later
    passes find it in the cache."""

    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, training, momentum, eps):
        x = input._data
        xp = backend.xp_of(x)
        c = x.shape[1]
        shape = (1, c) + (1,) * (x.ndim - 2)
        n = x.size // c
        out = xp.empty(x.shape, x.dtype)
        if training:
            inv_n = x.dtype.type(1.0 / n)
            mean = sum(threads.for_rows(x, lambda a, b: _channel_sum(x[a:b]))) * inv_n
            m = mean.reshape(shape)

            def center(a, b):
                xc = out[a:b]
                xp.subtract(x[a:b], m, out=xc)
                return _channel_sum(xc, xc)
            var = sum(threads.for_rows(x, center)) * inv_n
            if running_mean is not None:
                _update_running(running_mean, mean, momentum)
            if running_var is not None:
                _update_running(running_var, var * (n / max(n - 1, 1)), momentum)
        else:
            mean = running_mean._data.astype(x.dtype, copy=False)
            var = running_var._data.astype(x.dtype, copy=False)
        invstd = 1 / xp.sqrt(var + eps)
        scale = (invstd if weight is None else invstd * weight._data).reshape(shape)
        if training:  # out holds x - mean
            b4 = None if bias is None else bias._data.reshape(shape)

            def affine(a, b):
                out[a:b] *= scale
                if b4 is not None:
                    out[a:b] += b4
        else:  # one affine map x * scale + shift: two passes over x instead of three
            shift = (-mean.reshape(shape) * scale if bias is None else
                     bias._data.reshape(shape) - mean.reshape(shape) * scale)

            def affine(a, b):
                xp.multiply(x[a:b], scale, out=out[a:b])
                out[a:b] += shift
        threads.for_rows(x, affine)
        ctx.save_for_backward(input, weight)
        ctx.mean, ctx.invstd, ctx.training, ctx.n = mean, invstd, training, n
        return out

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        g, x = grad._data, input._data
        xp = backend.xp_of(x)
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        training, invstd = ctx.training, ctx.invstd
        m = ctx.mean.reshape(shape)
        gb = gxc = None
        if need_b or need_w or (need_x and training):
            def sums(a, b):
                return _channel_sum(g[a:b]), _channel_sum(g[a:b], x[a:b] - m)
            parts = threads.for_rows(x, sums)
            gb, gxc = sum(p[0] for p in parts), sum(p[1] for p in parts)
        dx = None
        if need_x:
            scale = (invstd if weight is None else invstd * weight._data).reshape(shape)
            dx = xp.empty(x.shape, g.dtype)
            if training:
                # dx = scale * (g - mean(g) - xhat * mean(g * xhat))
                k1 = (-(invstd * invstd) * gxc * (1.0 / ctx.n)).reshape(shape)
                k2 = (gb * (1.0 / ctx.n)).reshape(shape)

                def apply(a, b):
                    d = dx[a:b]
                    xp.subtract(x[a:b], m, out=d)
                    d *= k1
                    d += g[a:b]
                    d -= k2
                    d *= scale
            else:
                def apply(a, b):
                    xp.multiply(g[a:b], scale, out=dx[a:b])
            threads.for_rows(x, apply)
        gw = gxc * invstd if need_w else None
        return dx, gw, gb if need_b else None, None, None, None, None, None


def _update_running(stat: Tensor, batch_value, momentum: float) -> None:
    """stat = (1 - momentum) * stat + momentum * batch_value, in place (no history)."""
    data = stat._data
    data *= 1 - momentum
    data += (momentum * batch_value).astype(data.dtype, copy=False)
    stat._vbox[0] += 1


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over (N, C, ...) per channel; updates running stats in training."""
    _float_input("batch_norm", input)
    x = input._data
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dims (N, C, ...), got "
                         f"shape {tuple(x.shape)}")
    c = x.shape[1]
    _params_dtype("batch_norm", input, weight=weight, bias=bias, running_mean=running_mean,
                  running_var=running_var)
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t._data.size != c:
            raise RuntimeError(f"batch_norm: {name} should contain {c} elements (the channels "
                               f"of input {tuple(x.shape)}), got {t._data.size}")
    if not training and (running_mean is None or running_var is None):
        training = True  # nothing else to normalise with
    if training and x.size // max(c, 1) <= 1:
        raise ValueError("Expected more than 1 value per channel when training, got input size "
                         f"{input.shape}")
    momentum = 0.0 if momentum is None else momentum
    return BatchNorm.apply(input, weight, bias, running_mean, running_var, training, momentum,
                           eps)


def _normalize_rows(x2, eps):
    """Per-row x-hat and 1/std of a 2-D array."""
    xp = backend.xp_of(x2)
    inv_k = x2.dtype.type(1.0 / x2.shape[1])
    xc = x2 - (_row_sum(x2) * inv_k)[:, None]
    invstd = 1 / xp.sqrt(_row_sum(xc, xc) * inv_k + eps)
    xc *= invstd[:, None]
    return xc, invstd


def _normalize_rows_backward(gx, xhat, invstd):
    """d x of x-hat rows given d x-hat (gx, consumed)."""
    inv_k = gx.dtype.type(1.0 / gx.shape[1])
    m1 = _row_sum(gx) * inv_k
    m2 = _row_sum(gx, xhat) * inv_k
    gx -= xhat * m2[:, None]
    gx -= m1[:, None]
    gx *= invstd[:, None]
    return gx


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, input, weight, bias, k, eps):
        x = input._data
        inner = x.shape[x.ndim - k:]
        xhat, invstd = _normalize_rows(x.reshape(-1, _prod(inner)), eps)  # (M, K)
        ctx.xhat, ctx.invstd, ctx.weight, ctx.shape, ctx.inner = xhat, invstd, weight, x.shape, \
            inner
        return _affine(xhat, weight, bias, (-1,)).reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        xhat = ctx.xhat
        g = grad._data.reshape(xhat.shape)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = gw = gb = None
        if need_x:
            gx = g * ctx.weight._data.reshape(-1) if ctx.weight is not None else g.copy()
            dx = _normalize_rows_backward(gx, xhat, ctx.invstd).reshape(ctx.shape)
        if need_w:
            gw = _col_sum(g, xhat).reshape(ctx.inner)
        if need_b:
            gb = _col_sum(g).reshape(ctx.inner)
        return dx, gw, gb, None, None


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalises over the trailing ``normalized_shape`` dims, then scales and shifts."""
    if _amp.on and _amp.applies("layer_norm", input):
        return _amp.run("layer_norm", layer_norm, input, normalized_shape, weight, bias, eps)
    _float_input("layer_norm", input)
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    shape = tuple(input._data.shape)
    if k == 0 or k > len(shape) or shape[len(shape) - k:] != normalized_shape:
        raise RuntimeError(f"layer_norm: Given normalized_shape={list(normalized_shape)}, "
                           f"expected input with shape [*, {', '.join(map(str, normalized_shape))}"
                           f"], but got input of size {list(shape)}")
    _params_dtype("layer_norm", input, weight=weight, bias=bias)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._data.shape) != normalized_shape:
            raise RuntimeError(f"layer_norm: {name} of shape {tuple(t.shape)} does not match "
                               f"normalized_shape {normalized_shape}")
    return LayerNorm.apply(input, weight, bias, k, eps)


class GroupNorm(Function):
    @staticmethod
    def forward(ctx, input, weight, bias, groups, eps):
        x = input._data
        n, c = x.shape[:2]
        xhat, invstd = _normalize_rows(x.reshape(n * groups, -1), eps)  # (N*G, C/G*spatial)
        xhat = xhat.reshape(x.shape)
        shape = (1, c) + (1,) * (x.ndim - 2)
        ctx.xhat, ctx.invstd, ctx.groups, ctx.weight, ctx.shape = xhat, invstd, groups, weight, \
            shape
        return _affine(xhat, weight, bias, shape)

    @staticmethod
    def backward(ctx, grad):
        g = grad._data
        xhat, shape = ctx.xhat, ctx.shape
        rows = g.shape[0] * ctx.groups
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = gw = gb = None
        if need_x:
            gx = g * ctx.weight._data.reshape(shape) if ctx.weight is not None else g.copy()
            dx = _normalize_rows_backward(gx.reshape(rows, -1), xhat.reshape(rows, -1),
                                          ctx.invstd).reshape(g.shape)
        if need_w:
            gw = _channel_sum(g, xhat)
        if need_b:
            gb = _channel_sum(g)
        return dx, gw, gb, None, None


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalises each group of channels of an (N, C, ...) input over its channels and space."""
    if _amp.on and _amp.applies("group_norm", input):
        return _amp.run("group_norm", group_norm, input, num_groups, weight, bias, eps)
    _float_input("group_norm", input)
    shape = tuple(input._data.shape)
    if len(shape) < 2 or shape[1] % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible "
                           f"by num_groups, but got input of shape {list(shape)} and "
                           f"num_groups={num_groups}")
    _params_dtype("group_norm", input, weight=weight, bias=bias)
    return GroupNorm.apply(input, weight, bias, num_groups, eps)


# -- losses -------------------------------------------------------------------------------------
def _reduce_scale(g, reduction: str, denom):
    """The per-element factor the upstream gradient contributes, for each reduction."""
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return g / denom
    return g


class CrossEntropy(Function):
    """Fused log-softmax + NLL (class indices) or soft targets; grad = softmax * sum(q) - q.

    With loss_n = -sum_c q_nc log p_nc (q: the weighted, smoothed one-hot or the target
    probabilities), d loss_n / d x_nc = p_nc * sum_c q_nc - q_nc: one pass over the
    softmax kept from forward.
    """

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, smoothing, is_logp):
        x = input._data
        xp = backend.xp_of(x)
        c = x.shape[1]
        if is_logp:  # nll_loss: the input already is log p
            shifted, lse, p = x, x.dtype.type(0), None
        else:
            shifted, p, lse = _softmax_parts(x, 1)   # log p = shifted - lse
        wshape = (1, c) + (1,) * (x.ndim - 2)
        w = None if weight is None else weight._data.astype(x.dtype, copy=False).reshape(wshape)
        t = target._data
        lse_n = lse if is_logp else lse[:, 0]
        if t.dtype.kind in "iub":
            valid = t != ignore_index
            t_safe = xp.where(valid, t, 0)
            picked = xp.take_along_axis(shifted, t_safe[:, None], axis=1)[:, 0] - lse_n
            wt = valid.astype(x.dtype) if w is None else w.reshape(c)[t_safe] * valid
            loss = -(picked * wt)
            if smoothing:
                if w is None:
                    smooth = c * lse_n - shifted.sum(axis=1)
                else:
                    smooth = w.sum() * lse_n - (shifted * w).sum(axis=1)
                loss *= 1 - smoothing
                loss += (smoothing / c) * (smooth * valid)
            denom = wt.sum()
            ctx.t_safe, ctx.wt, ctx.valid = t_safe, wt, valid
        else:
            tgt = t.astype(x.dtype, copy=False)
            if smoothing:
                tgt = tgt * (1 - smoothing) + smoothing / c
            q = tgt if w is None else tgt * w
            loss = lse_n * q.sum(axis=1) - (shifted * q).sum(axis=1)
            denom = loss.size
            ctx.q = q
            if ctx.needs_input_grad[1]:
                ctx.logp = shifted - lse if not is_logp else x
        ctx.p, ctx.w, ctx.denom, ctx.reduction, ctx.smoothing, ctx.shape = \
            p, w, denom, reduction, smoothing, x.shape
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):  # every target ignored: nan
            return total / denom

    @staticmethod
    def backward(ctx, grad):
        p, w, smoothing = ctx.p, ctx.w, ctx.smoothing
        c = ctx.shape[1]
        s = _reduce_scale(grad._data, ctx.reduction, ctx.denom)
        s = s[:, None] if s.ndim else s  # per-sample factor, broadcast over classes
        need_x, need_t = ctx.needs_input_grad[:2]
        dx = dt = None
        if hasattr(ctx, "t_safe"):
            if need_x:
                # ignored positions get exactly 0, even when every target is ignored (s = nan)
                s = backend.xp_of(ctx.wt).where(ctx.valid[:, None], s, 0).astype(ctx.wt.dtype)
                wt = ctx.wt
                hot = (wt * (1 - smoothing) if smoothing else wt)[:, None] * s
                if p is None:
                    dx = backend.xp_of(hot).zeros(ctx.shape, hot.dtype)
                else:
                    qsum = hot
                    if smoothing:
                        wsum = c if w is None else w.sum()
                        qsum = hot + ((smoothing / c) * wsum * ctx.valid)[:, None] * s
                    dx = p * qsum
                _subtract_at_targets(dx, ctx.t_safe, hot)
                if smoothing:
                    spread = ctx.valid[:, None] * s * (smoothing / c)
                    dx -= spread if w is None else spread * w
        else:
            q = ctx.q
            if need_x:
                dx = -q * s
                if p is not None:
                    dx += p * (q.sum(axis=1, keepdims=True) * s)
            if need_t:
                logp = ctx.logp
                dt = -(logp if w is None else logp * w) * s
                if smoothing:
                    dt *= 1 - smoothing
        return dx, dt, None, None, None, None, None


def _subtract_at_targets(dx, t_safe, values) -> None:
    """dx[n, t[n, ...], ...] -= values[n, 0, ...] (each position hit once)."""
    xp = backend.xp_of(dx)
    idx = []
    rest = t_safe.shape[1:]
    for axis, size in enumerate((dx.shape[0],) + tuple(rest)):
        shape = [1] * t_safe.ndim
        shape[axis] = size
        idx.append(xp.arange(size).reshape(shape))
    dx[(idx[0], t_safe) + tuple(idx[1:])] -= values[:, 0]


_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction} is not a valid value for reduction; use 'none', "
                         "'mean' or 'sum'")


def _class_loss(op: str, input, target, weight, ignore_index, reduction, smoothing, is_logp):
    _float_input(op, input)
    _checks.tensor_type(op, "target", target)
    _check_reduction(op, reduction)
    if not 0.0 <= smoothing <= 1.0:
        raise RuntimeError(f"{op}: label_smoothing must be between 0.0 and 1.0. Got: {smoothing}")
    x, t = input._data, target._data
    unbatched = x.ndim == 1
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape((1,) + tuple(t.shape))
        x, t = input._data, target._data
    if x.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got "
                         f"{tuple(x.shape)}")
    c = x.shape[1]
    if t.dtype.kind in "iu":
        expected = (x.shape[0],) + tuple(x.shape[2:])
        if tuple(t.shape) != expected:
            raise RuntimeError(f"{op}: expected target of shape {expected} (class indices) for "
                               f"input {tuple(x.shape)}, got {tuple(t.shape)}")
        if type(t) is np.ndarray and t.size:
            bad = (t != ignore_index) & ((t < 0) | (t >= c))
            if bad.any():
                raise IndexError(f"Target {int(t[bad].flat[0])} is out of bounds.")
    elif t.dtype.kind == "f":
        if ignore_index >= 0:
            raise RuntimeError(f"{op}: ignore_index is not supported for floating point target")
        if is_logp:
            raise RuntimeError(f"{op}: expected target of an integer dtype (class indices), "
                               f"got {target.dtype.name}")
        if tuple(t.shape) != tuple(x.shape):
            raise RuntimeError(f"{op}: expected probability targets of the input's shape "
                               f"{tuple(x.shape)}, got {tuple(t.shape)}")
    else:
        raise RuntimeError(f"{op}: expected target of an integer (class indices) or floating "
                           f"(probabilities) dtype, got {target.dtype.name}")
    if t.dtype.kind in "iu":
        _params_dtype(op, input, weight=weight)
    if weight is not None and (weight._data.ndim != 1 or weight._data.shape[0] != c):
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {c} classes "
                           f"or no classes but got weight tensor of shape: {list(weight.shape)}")
    out = CrossEntropy.apply(input, target, weight, ignore_index, reduction, smoothing, is_logp)
    if unbatched and reduction == "none":
        out = out.reshape(())
    return out


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy from logits (log-softmax + NLL fused); see ``nn.CrossEntropyLoss``."""
    if _amp.on and _amp.applies("cross_entropy", input):
        return _amp.run("cross_entropy", cross_entropy, input, target, weight, ignore_index,
                        reduction, label_smoothing)
    return _class_loss("cross_entropy", input, target, weight, ignore_index, reduction,
                       float(label_smoothing), False)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities."""
    if _amp.on and _amp.applies("nll_loss", input):
        return _amp.run("nll_loss", nll_loss, input, target, weight, ignore_index, reduction)
    return _class_loss("nll_loss", input, target, weight, ignore_index, reduction, 0.0, True)


def _reduce(loss, reduction: str):
    if reduction == "none":
        return loss
    total = loss.sum()
    return total / loss.size if reduction == "mean" else total


class BinaryCrossEntropy(Function):
    @staticmethod
    def forward(ctx, input, target, weight, reduction):
        x, t = input._data, target._data.astype(input._data.dtype, copy=False)
        xp = backend.xp_of(x)
        with np.errstate(divide="ignore"):  # log(0) = -inf, then clamped as PyTorch does
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if weight is not None:
            loss = loss * weight._data
        ctx.arrays = (x, t, log_x, log_1mx)
        ctx.weight, ctx.reduction, ctx.size = weight, reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, log_x, log_1mx = ctx.arrays
        xp = backend.xp_of(x)
        s = _reduce_scale(grad._data, ctx.reduction, ctx.size)
        if ctx.weight is not None:
            s = s * ctx.weight._data
        need_x, need_t = ctx.needs_input_grad[:2]
        dx = s * (x - t) / xp.maximum((1 - x) * x, 1e-12) if need_x else None
        dt = s * (log_1mx - log_x) if need_t else None
        return dx, dt, None, None


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x; logs clamped at -100."""
    if _amp.on and _amp.applies("binary_cross_entropy", input):
        return _amp.run("binary_cross_entropy", binary_cross_entropy, input, target, weight,
                        reduction)
    _float_input("binary_cross_entropy", input)
    _check_reduction("binary_cross_entropy", reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    if target._data.dtype != input._data.dtype:
        raise RuntimeError(f"binary_cross_entropy: expected target to have the input's dtype "
                           f"{input.dtype.name}, got {target.dtype.name}; convert one with .to()")
    x = input._data
    if type(x) is np.ndarray and x.size and ((x < 0) | (x > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


class BinaryCrossEntropyWithLogits(Function):
    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction):
        x, t = input._data, target._data.astype(input._data.dtype, copy=False)
        xp = backend.xp_of(x)
        # log(sigmoid(-x)) = -(max(x, 0) + log1p(exp(-|x|))): never exponentiates a large value
        log_sig_neg = -(xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x))))
        log_sig = log_sig_neg + x
        if pos_weight is None:
            loss = -(t * log_sig + (1 - t) * log_sig_neg)
        else:
            loss = -(pos_weight._data * t * log_sig + (1 - t) * log_sig_neg)
        if weight is not None:
            loss = loss * weight._data
        ctx.arrays = (x, t, log_sig)
        ctx.weight, ctx.pos_weight, ctx.reduction, ctx.size = weight, pos_weight, reduction, \
            loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, log_sig = ctx.arrays
        xp = backend.xp_of(x)
        s = _reduce_scale(grad._data, ctx.reduction, ctx.size)
        if ctx.weight is not None:
            s = s * ctx.weight._data
        sig = xp.exp(log_sig)
        need_x, need_t = ctx.needs_input_grad[:2]
        dx = dt = None
        if ctx.pos_weight is None:
            if need_x:
                dx = s * (sig - t)
            if need_t:
                dt = -s * x
        else:
            pw = ctx.pos_weight._data
            if need_x:
                dx = s * (sig * (pw * t + 1 - t) - pw * t)
            if need_t:
                dt = s * ((1 - pw) * log_sig - x)
        return dx, dt, None, None, None


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy fused and stable for logits of any magnitude."""
    if _amp.on and _amp.applies("binary_cross_entropy_with_logits", input):
        return _amp.run("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits,
                        input, target, weight, reduction, pos_weight)
    _float_input("binary_cross_entropy_with_logits", input)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


# -- activations --------------------------------------------------------------------------------
class _Piecewise(Function):
    """Piecewise-linear activations: backward is grad times a constant 0/1/slope mask."""

    @staticmethod
    def backward(ctx, grad):
        return grad * _make(ctx.factor), None, None


class Hardtanh(_Piecewise):
    @staticmethod
    def forward(ctx, input, min_val, max_val):
        x = input._data
        xp = backend.xp_of(x)
        ctx.factor = ((x > min_val) & (x < max_val)).astype(x.dtype)
        return xp.clip(x, min_val, max_val).astype(x.dtype, copy=False)


class LeakyRelu(_Piecewise):
    @staticmethod
    def forward(ctx, input, slope, _unused):
        x = input._data
        xp = backend.xp_of(x)
        positive = x > 0
        ctx.factor = xp.where(positive, x.dtype.type(1), x.dtype.type(slope))
        return xp.where(positive, x, x * x.dtype.type(slope))


class Threshold(_Piecewise):
    @staticmethod
    def forward(ctx, input, threshold, value):
        x = input._data
        xp = backend.xp_of(x)
        keep = x > threshold
        ctx.factor = keep.astype(x.dtype)
        return xp.where(keep, x, x.dtype.type(value))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    _float_input("hardtanh", input)
    if min_val > max_val:
        raise ValueError("hardtanh: min_val cannot be greater than max_val")
    return Hardtanh.apply(input, min_val, max_val)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    _float_input("leaky_relu", input)
    return LeakyRelu.apply(input, negative_slope, None)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    _float_input("threshold", input)
    return Threshold.apply(input, threshold, value)


class Elu(Function):
    @staticmethod
    def forward(ctx, input, alpha, scale, input_scale):
        x = input._data
        xp = backend.xp_of(x)
        ctx.save_for_backward(input)
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale
        neg = (alpha * scale) * xp.expm1(xp.minimum(x, 0) * input_scale)
        pos = x * x.dtype.type(scale) if scale != 1 else x
        return xp.where(x > 0, pos, neg.astype(x.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        k = ctx.input_scale
        negative = ew.exp(ew.clamp(x, max=0.0) * k) * (ctx.alpha * ctx.scale * k)
        return grad * ew.where(x > 0, float(ctx.scale), negative), None, None, None


def elu(input: Tensor, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    """scale * x for x > 0, else scale * alpha * (exp(input_scale * x) - 1).

    ``scale`` serves SELU and ``input_scale`` CELU (input_scale = 1 / alpha).
    """
    _float_input("elu", input)
    return Elu.apply(input, alpha, scale, input_scale)


class Gelu(Function):
    @staticmethod
    def forward(ctx, input, approximate):
        x = input._data
        xp = backend.xp_of(x)
        ctx.save_for_backward(input)
        ctx.tanh = approximate == "tanh"
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
            return (0.5 * x * (1 + xp.tanh(inner))).astype(x.dtype, copy=False)
        return (0.5 * x * (1 + ew._erf(x / _SQRT2))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        if ctx.tanh:
            x2 = x * x
            t = ew.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x2 * x))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 0.134145 * x2)
        else:
            cdf = 0.5 * (1 + ew.erf(x * (1 / _SQRT2)))
            d = cdf + x * ew.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return grad * d, None


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
    _float_input("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got "
                           f"{approximate!r}")
    return Gelu.apply(input, approximate)


def _sigmoid_array(x):
    xp = backend.xp_of(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _softplus_array(x):
    xp = backend.xp_of(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Silu(Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        x = input._data
        return x * _sigmoid_array(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        s = ew.sigmoid(x)
        return grad * (s * (1 + x * (1 - s)))


def silu(input: Tensor) -> Tensor:
    """x * sigmoid(x)."""
    _float_input("silu", input)
    return Silu.apply(input)


class Mish(Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        x = input._data
        xp = backend.xp_of(x)
        return (x * xp.tanh(_softplus_array(x))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        t = ew.tanh(softplus(x))
        return grad * (t + x * ew.sigmoid(x) * (1 - t * t))


def mish(input: Tensor) -> Tensor:
    """x * tanh(softplus(x))."""
    _float_input("mish", input)
    return Mish.apply(input)


class Softplus(Function):
    @staticmethod
    def forward(ctx, input, beta, threshold):
        ctx.save_for_backward(input)
        ctx.beta, ctx.threshold = beta, threshold
        x = input._data
        xp = backend.xp_of(x)
        bx = x * beta if beta != 1 else x
        soft = _softplus_array(bx)
        if beta != 1:
            soft = soft / beta
        return xp.where(bx > threshold, x, soft.astype(x.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        bx = x * ctx.beta if ctx.beta != 1 else x
        return grad * ew.where(bx > ctx.threshold, 1.0, ew.sigmoid(bx)), None, None


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear above ``threshold``; stable for large |x|."""
    if _amp.on and _amp.applies("softplus", input):
        return _amp.run("softplus", softplus, input, beta, threshold)
    _float_input("softplus", input)

    return Softplus.apply(input, beta, threshold)


class LogSigmoid(Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return -_softplus_array(-input._data)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * ew.sigmoid(-x)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable."""
    _float_input("logsigmoid", input)
    return LogSigmoid.apply(input)


class Embedding(Function):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        w, idx = weight._data, indices._data
        ctx.idx, ctx.shape, ctx.padding_idx, ctx.freq = idx, w.shape, padding_idx, \
            scale_grad_by_freq
        return w[idx]

    @staticmethod
    def backward(ctx, grad):
        g = grad._data
        xp = backend.xp_of(g)
        idx = ctx.idx.reshape(-1)
        rows = g.reshape(-1, ctx.shape[1])
        if ctx.freq:
            counts = xp.bincount(idx, minlength=ctx.shape[0])
            rows = rows / counts[idx][:, None].astype(g.dtype)
        dw = xp.zeros(ctx.shape, g.dtype)
        # scatter-add over a flat index: several times faster than row-wise on NumPy
        dim = ctx.shape[1]
        flat = (idx[:, None] * dim + xp.arange(dim)).reshape(-1)
        backend.of(g).scatter_add(dw.reshape(-1), flat, rows.reshape(-1))
        if ctx.padding_idx is not None:
            dw[ctx.padding_idx] = 0
        return dw, None, None, None


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``; no gradient into ``padding_idx``."""
    _checks.tensor_type("embedding", "input", input)
    _checks.tensor_type("embedding", "weight", weight)
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: Expected tensor for argument #1 'indices' to have one "
                           f"of the following scalar types: Long, Int; but got "
                           f"{input.dtype.name} instead")
    if weight._data.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D, got shape {tuple(weight.shape)}")
    n = weight._data.shape[0]
    if type(idx) is np.ndarray and idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"index out of range in self (embedding of {n} rows, got indices in "
                         f"[{int(idx.min())}, {int(idx.max())}])")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx % n
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, input, padding_idx, scale_grad_by_freq)


def _renorm_rows(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Rescales (in place, no history) the looked-up rows whose norm exceeds max_norm."""
    w = weight._data
    xp = backend.xp_of(w)
    rows = xp.unique(idx.reshape(-1))
    norms = (xp.abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    w[rows] *= scale[:, None]
    weight._vbox[0] += 1
