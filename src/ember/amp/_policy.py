"""Autocast's per-thread state and the dtype policy of each listed op.

Every listed op starts with the same two lines::

    if _amp.on and _amp.applies("mm", input, mat2):
        return _amp.run("mm", mm, input, mat2)

``on`` is a module global that is False unless some thread has autocast enabled, so with
autocast off an op pays one global read. ``applies`` then looks at this thread's state and the
op's policy for the device of its first tensor; ``run`` casts the arguments as the policy says
and calls the op again with autocast suspended, so the ops it is composed of are not cast a
second time (as PyTorch excludes autocast inside an autocast kernel).

The policies are PyTorch's lists (``aten/src/ATen/autocast_mode``): CUDA's for "cuda",
CPU's for "cpu", restricted to the ops ember has.
"""
from __future__ import annotations

import threading

import numpy as np

from .. import dtypes
from ..autograd.function import _FREED
from ..autograd.grad_mode import _State
from ..tensor import Tensor

on = False  # True while autocast is enabled in some thread

LOWER = "lower"        # eligible inputs cast to the autocast dtype
FP32 = "fp32"          # eligible inputs cast to float32
FP32_OPT = "fp32_opt"  # as FP32 unless the call gives an explicit dtype=
PROMOTE = "promote"    # eligible inputs cast to the widest of them
KEEP = "keep"          # no cast; the ops inside run uncast (one native kernel in PyTorch)
BANNED = "banned"      # RuntimeError: unsafe to autocast


def _table(**lists: str) -> dict:
    kinds = {"lower": LOWER, "fp32": FP32, "fp32_opt": FP32_OPT, "promote": PROMOTE,
             "keep": KEEP, "banned": BANNED}
    return {op: kinds[kind] for kind, names in lists.items() for op in names.split()}


POLICIES = {
    # trace keeps its input's dtype on CUDA (ember's is a sum, which would run in float32)
    "cuda": _table(

        lower="""matmul mm bmm addmm addbmm baddbmm addmv addr mv einsum linear conv1d conv2d
            conv3d conv_transpose1d conv_transpose2d conv_transpose3d prelu
            scaled_dot_product_attention""",
        fp32="""acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan
            pow softplus layer_norm group_norm cosine_similarity poisson_nll_loss
            cosine_embedding_loss nll_loss hinge_embedding_loss kl_div l1_loss smooth_l1_loss
            huber_loss mse_loss margin_ranking_loss multilabel_margin_loss soft_margin_loss
            triplet_margin_loss multi_margin_loss binary_cross_entropy_with_logits
            cross_entropy dist pdist cdist renorm logsumexp""",
        fp32_opt="prod softmax log_softmax cumprod cumsum sum norm",
        promote="addcdiv addcmul atan2 bilinear cross dot vdot index_put tensordot scatter_add",
        keep="trace",
        banned="binary_cross_entropy",
    ),
    # einsum is not on PyTorch's CPU list but runs in float16 there through the bmm it
    # becomes; mv, addmv and bilinear are single float32 kernels there, matmuls here
    "cpu": _table(
        lower="""matmul mm bmm addmm addbmm baddbmm linear einsum conv1d conv2d conv3d
            conv_transpose1d conv_transpose2d conv_transpose3d prelu
            scaled_dot_product_attention""",
        fp32="""prod quantile nanquantile cdist trace binary_cross_entropy mse_loss
            cosine_embedding_loss nll_loss hinge_embedding_loss poisson_nll_loss
            smooth_l1_loss cross_entropy l1_loss huber_loss margin_ranking_loss
            soft_margin_loss triplet_margin_loss multi_margin_loss kl_div
            multilabel_margin_loss binary_cross_entropy_with_logits""",
        promote="cat stack index_copy",
        keep="mv addmv bilinear",
    ),
}

_BCE_BANNED = (
    "ember.nn.functional.binary_cross_entropy and ember.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using ember.nn.functional.binary_cross_entropy_with_"
    "logits\nor ember.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and "
    "BCEWithLogits are\nsafe to autocast.")



class _Local(threading.local):
    """This thread's autocast state (each thread starts with autocast off, as in PyTorch)."""

    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {"cpu": dtypes.bfloat16, "cuda": dtypes.float16}
        self.cache_enabled = True
        self.nesting = 0
        self.busy = False    # inside a listed op: the ops it calls are not cast again
        self.counted = False  # counted in _threads_on
        self.cache = {}      # id(weight) -> (weight, its cast, weight version)


local = _Local()
_lock = threading.Lock()
_threads_on = 0


def set_enabled(device_type: str, enabled: bool) -> None:
    st = local
    st.enabled[device_type] = bool(enabled)
    now = any(st.enabled.values())
    if now != st.counted:
        global _threads_on, on
        with _lock:
            _threads_on += 1 if now else -1
            st.counted = now
            on = _threads_on > 0


def _device_type(args) -> str | None:
    for a in args:
        if isinstance(a, Tensor):
            return "cpu" if type(a._data) is np.ndarray else "cuda"
        if type(a) in (list, tuple) and a and isinstance(a[0], Tensor):
            return "cpu" if type(a[0]._data) is np.ndarray else "cuda"
    return None


def applies(op: str, *args) -> bool:
    """Whether ``op`` called on ``args`` is autocast in this thread now."""
    st = local
    if st.busy:
        return False
    device = _device_type(args)
    return device is not None and st.enabled[device] and op in POLICIES[device]


def run(op: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with its arguments cast by ``op``'s policy, autocast suspended."""
    st = local
    device = _device_type(args)
    kind = POLICIES[device][op]
    if kind is BANNED:
        raise RuntimeError(_BCE_BANNED)
    target = _target(kind, device, args, kwargs, st)
    if target is not None:
        args = tuple(_cast(a, target, device, st) for a in args)
        kwargs = {k: _cast(v, target, device, st) for k, v in kwargs.items()}
    st.busy = True
    try:
        return fn(*args, **kwargs)
    finally:
        st.busy = False


def _target(kind: str, device: str, args, kwargs, st):
    """The dtype the policy casts eligible inputs to (None: no cast)."""
    if kind is LOWER:
        return st.dtype[device]
    if kind is FP32 or (kind is FP32_OPT and kwargs.get("dtype") is None):
        return dtypes.float32
    if kind is PROMOTE:
        widest = st.dtype[device]
        for t in _tensors(args):
            if t._data.dtype == np.float32 and _eligible(t, device):
                widest = dtypes.float32
        return widest
    return None


def _tensors(args):
    for a in args:
        if isinstance(a, Tensor):
            yield a
        elif type(a) in (list, tuple):
            yield from (t for t in a if isinstance(t, Tensor))


def _eligible(t: Tensor, device: str) -> bool:
    """Floating, not float64, on the autocast device: what PyTorch casts."""
    dt = t._data.dtype
    return (dt.kind == "f" and dt != np.float64
            and (type(t._data) is np.ndarray) == (device == "cpu"))


def _cast(value, dtype, device: str, st):
    if isinstance(value, Tensor):
        if value._data.dtype == dtype.numpy or not _eligible(value, device):
            return value
        return _cached_cast(value, dtype, device, st)
    if type(value) in (list, tuple):
        return type(value)(_cast(v, dtype, device, st) for v in value)
    return value


def _cached_cast(t: Tensor, dtype, device: str, st) -> Tensor:
    """``t.to(dtype)``; float32 leaf weights cast to the autocast dtype are cached until the
    outermost autocast region exits, so a weight used many times is cast once (as PyTorch)."""
    cacheable = (st.cache_enabled and dtype is st.dtype[device] and t._requires_grad
                 and t.grad_fn is None and t._data.dtype == np.float32 and _State.enabled)
    if not cacheable:
        return t.to(dtype)
    hit = st.cache.get(id(t))
    if hit is not None and hit[0] is t and hit[2] == t._vbox[0] and _usable(hit[1]):
        return hit[1]
    out = t.to(dtype)
    st.cache[id(t)] = (t, out, t._vbox[0])
    return out


def _usable(cast: Tensor) -> bool:
    # a backward() since the cast released its node: a new graph needs a new cast
    node = cast.grad_fn
    return node is not None and node.__dict__.get("_saved") is not _FREED
