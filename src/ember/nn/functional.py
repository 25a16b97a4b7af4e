"""ember.nn.functional: the math behind every layer and loss, as ``torch.nn.functional``.

Modules hold state and call into these functions. Fused or stable kernels live in
``ember.ops.nn_ops``; everything else here is composed from ember ops.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import _checks, backend, creation
from .. import random as _random
from ..amp import _policy as _amp
from ..autograd.grad_mode import no_grad
from ..ops import elementwise as ew
from ..ops import indexing, linalg, movement
from ..ops import ctc, nn_ops
from ..ops import reduce as red
from ..ops.nn_ops import batch_norm, gelu, group_norm, layer_norm, linear, logsigmoid  # noqa: F401
from ..ops.sampling import affine_grid, grid_sample  # noqa: F401
from ..tensor import Tensor
from . import _antialias

from ..ops.conv import (adaptive_avg_pool1d, adaptive_avg_pool2d,  # noqa: F401
                        adaptive_max_pool1d, adaptive_max_pool2d, avg_pool1d, avg_pool2d,
                        conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,
                        conv_transpose3d, max_pool1d, max_pool2d)
from ..ops.pool3d import (adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d,  # noqa: F401
                          lp_pool1d, lp_pool2d, lp_pool3d, max_pool3d, max_unpool1d,
                          max_unpool2d, max_unpool3d)

_make = Tensor._make


# -- linear ---------------------------------------------------------------------------------
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T W_k x2 + b_k.

    Shape:
        input1 (*, in1), input2 (*, in2), weight (out, in1, in2), output (*, out).
    """
    if _amp.on and _amp.applies("bilinear", input1, input2, weight):
        return _amp.run("bilinear", bilinear, input1, input2, weight, bias)
    out_f, in1, in2 = weight.shape
    lead = tuple(input1.shape[:-1])
    x1 = movement.reshape(input1, (-1, in1))
    x2 = movement.reshape(input2, (-1, in2))
    # (B, in1) @ (in1, out*in2) -> (B, out, in2); then contract in2 with x2
    w = movement.reshape(movement.permute(weight, (1, 0, 2)), (in1, out_f * in2))
    tmp = movement.reshape(linalg.matmul(x1, w), (-1, out_f, in2))
    out = red.sum(tmp * movement.unsqueeze(x2, 1), -1)
    if bias is not None:
        out = out + bias
    return movement.reshape(out, lead + (out_f,))


def identity(input: Tensor) -> Tensor:
    return input


# -- activations ------------------------------------------------------------------------------
def _maybe_inplace(input: Tensor, inplace: bool, fn, *args) -> Tensor:
    if inplace:
        return input._inplace(fn, *args)
    return fn(input, *args)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return _maybe_inplace(input, inplace, ew.relu)


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val] (zero gradient outside the open interval)."""
    return _maybe_inplace(input, inplace, nn_ops.hardtanh, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return _maybe_inplace(input, inplace, nn_ops.leaky_relu, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _maybe_inplace(input, inplace, nn_ops.elu, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _maybe_inplace(input, inplace, nn_ops.elu, _SELU_ALPHA, _SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu: alpha cannot be 0")
    return _maybe_inplace(input, inplace, nn_ops.elu, alpha, 1.0, 1.0 / alpha)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x if x > threshold else value."""
    return _maybe_inplace(input, inplace, nn_ops.threshold, threshold, value)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _maybe_inplace(input, True, nn_ops.threshold, threshold, value)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: x where x > 0, else a * x.

    While training, each element's slope a is drawn from U(lower, upper) (ember's RNG, on the
    input's device); otherwise a is (lower + upper) / 2.
    """
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"rrelu: not implemented for {input.dtype} input; use a "
                                  "floating point input")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    return _maybe_inplace(input, inplace, _random_slopes, lower, upper)


def _random_slopes(input: Tensor, lower: float, upper: float) -> Tensor:
    dtype = input._data.dtype
    slopes = _random.uniform(tuple(input.shape), dtype, input.device, lower, upper)
    xp = backend.xp_of(slopes)
    # as PyTorch, zero takes a random slope too (its gradient)
    return input * _make(xp.where(input._data <= 0, slopes, dtype.type(1)))


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return _maybe_inplace(input, inplace, nn_ops.silu)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, inplace, nn_ops.mish)


def sigmoid(input: Tensor) -> Tensor:
    return ew.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return ew.tanh(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, reverting to x where beta * x > threshold."""
    return nn_ops.softplus(input, beta, threshold)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (ew.abs(input) + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return input - ew.tanh(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    if inplace:
        return input._inplace(hardsigmoid)
    return nn_ops.hardtanh(input + 3.0, 0.0, 6.0) * (1.0 / 6.0)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    if inplace:
        return input._inplace(hardswish)
    return input * nn_ops.hardtanh(input + 3.0, 0.0, 6.0) * (1.0 / 6.0)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) where a, b are the halves of ``input`` along ``dim``."""
    if input._data.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[_checks.dim(dim, input._data.ndim, "glu")]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {size}")
    a, b = movement.chunk(input, 2, dim)
    return a * ew.sigmoid(b)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """max(0, x) + weight * min(0, x), weight broadcast along the channel dim (dim 1)."""
    if _amp.on and _amp.applies("prelu", input, weight):
        return _amp.run("prelu", prelu, input, weight)
    w = weight
    if input._data.ndim >= 2 and weight._data.size > 1:
        w = movement.reshape(weight, (-1,) + (1,) * (input._data.ndim - 2))
    return ew.where(input > 0, input, w * input)


def _softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim``, computed stably."""
    if dim is None:
        dim = _softmax_dim("softmax", input.dim())
    return nn_ops.softmax(input, dim, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x)."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim())
    return nn_ops.softmax(-input if dtype is None else -ew.cast(input, dtype), dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """x_i - logsumexp(x) along ``dim``: finite for any finite logits."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim())
    return nn_ops.log_softmax(input, dim, dtype)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``."""
    norm = red.norm(input, p, dim, keepdim=True)
    return input / ew.clamp(norm, min=eps)


# -- dropout ------------------------------------------------------------------------------------
def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input: Tensor, shape: tuple, p: float) -> Tensor:
    """A constant tensor of 0 and 1/(1-p), zero with probability p (ember's RNG)."""
    dtype = input._data.dtype
    u = _random.uniform(shape, dtype, input.device)
    if p == 1.0:
        return _make(backend.xp_of(u).zeros(shape, dtype))
    return _make((u < 1.0 - p).astype(dtype) * dtype.type(1.0 / (1.0 - p)))


def _apply_mask(input: Tensor, mask: Tensor, inplace: bool) -> Tensor:
    return input._inplace(ew.mul, mask) if inplace else input * mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element with probability p and scales the rest by 1/(1-p) (when training)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply_mask(input, _keep_mask(input, tuple(input.shape), p), inplace)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     batched: bool) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape)
    keep = 2 if batched else 1
    mask_shape = shape[:keep] + (1,) * (len(shape) - keep)
    return _apply_mask(input, _keep_mask(input, mask_shape, p), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zeroes whole channels of (N, C, L) or (C, L) inputs."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a "
                           f"{input.dim()}D input.")
    return _feature_dropout(input, p, training, inplace, input.dim() == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zeroes whole channels of (N, C, H, W) inputs (3-D inputs: channel-wise 1D, as torch)."""
    dim = input.dim()
    if dim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {dim}-D input to dropout2d, which is deprecated "
                      "and will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead. Note that dropout2d "
                      "exists to provide channel-wise dropout on inputs with 2 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. "
                      "3D or 4D inputs).", stacklevel=2)
    if dim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, dim >= 2)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""
    return _feature_dropout(input, p, training, inplace, input.dim() == 5)


# -- normalisation (re-exported above), embedding, one_hot, pad -----------------------------
def instance_norm(input: Tensor, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:
    """Normalises each (sample, channel) of an (N, C, spatial...) input over its spatial dims.

    With running statistics it works as PyTorch's: batch_norm over the input seen as one
    sample of N*C channels, with the running statistics repeated N times, which then become
    their mean over the batch. ``use_input_stats=False`` normalises with them instead.
    """
    nn_ops._params_dtype("instance_norm", input, weight=weight, bias=bias,
                         running_mean=running_mean, running_var=running_var)
    if input.dim() < 3:
        raise ValueError(f"instance_norm: expected an input of at least 3 dims (N, C, "
                         f"spatial...), got shape {tuple(input.shape)}")
    n, c = input.shape[:2]
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    if running_mean is None and running_var is None:
        if not use_input_stats:
            raise RuntimeError("instance_norm: expected running_mean and running_var to be "
                               "defined when use_input_stats is false")
        return group_norm(input, c, weight, bias, eps)

    def repeated(t):  # a fresh array: batch_norm updates it in place
        return None if t is None else _make(backend.xp_of(t._data).tile(t._data, n))
    stats = [repeated(running_mean), repeated(running_var)]
    out = batch_norm(input.reshape((1, n * c) + tuple(input.shape[2:])), stats[0], stats[1],
                     None if weight is None else movement.repeat(weight, n),
                     None if bias is None else movement.repeat(bias, n),
                     use_input_stats, momentum, eps)
    for target, stat in zip((running_mean, running_var), stats):
        if target is not None:
            with no_grad():
                target.copy_(red.mean(stat.reshape(n, c), 0))
    return out.reshape(input.shape)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Looks up rows of ``weight``; see ``nn.Embedding``."""
    return nn_ops.embedding(input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq,
                            sparse)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last dim of size num_classes."""
    return indexing.one_hot(tensor, num_classes)


def _pad_index(n: int, left: int, right: int, mode: str, xp):
    i = np.arange(-left, n + right)
    if mode == "reflect":
        if left >= n or right >= n:
            raise RuntimeError(f"pad: Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({left}, {right}) at dimension of "
                               f"size {n}")
        i = (n - 1) - np.abs((n - 1) - np.abs(i))
    elif mode == "replicate":
        i = np.clip(i, 0, n - 1)
    else:  # circular
        if left > n or right > n:
            raise RuntimeError("pad: Padding value causes wrapping around more than once.")
        # as torch: negative pads crop first, then the kept span [lo, hi) wraps
        lo, hi = max(0, -left), n - max(0, -right)
        i = lo + (i - lo) % (hi - lo)
    return xp.asarray(i)


def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pads the last len(pad)//2 dims: pad = (left_last, right_last, left_prev, ...).

    Args:
        mode: 'constant' (with ``value``), 'reflect', 'replicate' or 'circular'.
    """
    if mode == "constant":
        return movement.pad_constant(input, pad, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: unknown padding mode {mode!r}; use 'constant', "
                                  "'reflect', 'replicate' or 'circular'")
    if value is not None and value != 0:
        raise ValueError(f"Padding mode \"{mode}\" doesn't take in value argument.")
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    ndim = input.dim()
    if len(pad) // 2 > ndim - 1:
        raise RuntimeError(f"pad: {mode} padding of {len(pad) // 2} dims needs an input with "
                           f"a batch or channel dim in front, got shape {tuple(input.shape)}")
    xp = backend.xp_of(input._data)
    out = input
    for k in range(len(pad) // 2):
        d = ndim - 1 - k
        left, right = int(pad[2 * k]), int(pad[2 * k + 1])
        if left == 0 and right == 0:
            continue
        idx = _pad_index(out.shape[d], left, right, mode, xp)
        out = indexing.index_select(out, d, _make(idx))
    return out


# -- pixel shuffling, shrinkage, RMS normalisation ----------------------------------------------
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r): sub-pixel channels laid out in space."""
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    *lead, c, h, w = input.shape
    if r <= 0 or c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of pixel_shuffle: (*, C, H * r, W * r) -> (*, C * r^2, H, W)."""
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    *lead, c, h, w = input.shape
    if r <= 0 or h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} and input.size(-1)={w} "
                           f"are not divisible by {r}")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return ew.where(ew.abs(input) > lambd, input, 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return ew.where(input > lambd, input - lambd, ew.where(input < -lambd, input + lambd, 0.0))


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2 over the trailing ``normalized_shape`` dims) + eps) * weight;
    eps None is the dtype's machine epsilon, as PyTorch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(int(n) for n in normalized_shape)
    if tuple(input.shape[input.dim() - len(shape):]) != shape:
        raise RuntimeError(f"rms_norm: Given normalized_shape={list(shape)}, expected input "
                           f"with shape [*, {', '.join(map(str, shape))}], but got input of "
                           f"size {list(input.shape)}")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.dim() - len(shape), input.dim()))
    out = input * ew.rsqrt(red.mean(input * input, dims, keepdim=True) + eps)
    return out if weight is None else out * weight


# -- bags of embeddings ---------------------------------------------------------------------------
def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2.0,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of the embeddings of each bag of indices: the rows of a 2-D
    ``input``, or the spans of a 1-D one that ``offsets`` start. Entries equal to
    ``padding_idx`` are left out; an empty bag gives zeros."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences.")
        bags, length = input.shape
        bounds = np.arange(bags + 1) * length
        flat = input.reshape(-1)
        weights = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None or offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor but got None" if offsets is None
                             else f"offsets has to be a 1D Tensor, got {offsets.dim()}D")
        bounds = offsets.cpu().numpy().astype(np.int64)
        # with include_last_offset the last offset ends the last bag, else the input does
        bounds = bounds if include_last_offset else np.append(bounds, input.shape[0])
        flat, weights = input, per_sample_weights
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    starts, n = bounds[:-1], flat.shape[0]
    bag_of = np.full(n, -1)  # entries after the last bag belong to none
    bag_of[:bounds[-1]] = np.repeat(np.arange(len(starts)), np.diff(bounds))
    keep = bag_of >= 0
    if padding_idx is not None:
        keep &= flat.cpu().numpy() != padding_idx
    rows = embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq)  # (n, D)
    xp = backend.xp_of(weight._data)
    counts = np.bincount(bag_of[keep], minlength=len(starts))
    if mode == "max":
        return _bag_max(rows, bag_of, keep, counts, xp)
    kept = np.flatnonzero(keep)
    values = indexing.index_select(rows, 0, _make(xp.asarray(kept)))
    if weights is not None:
        values = values * indexing.index_select(weights, 0, _make(xp.asarray(kept))).unsqueeze(1)
    out = indexing.index_add(creation.zeros((len(starts), weight.shape[1]), dtype=weight.dtype,
                                            device=weight.device),
                             0, _make(xp.asarray(bag_of[kept])), values)
    if mode == "mean":
        out = out / _make(xp.asarray(np.maximum(counts, 1).astype(out._data.dtype)[:, None]))
    return out


def _bag_max(rows: Tensor, bag_of, keep, counts, xp) -> Tensor:
    """Per bag, the elementwise maximum of its kept rows (the first among ties gets the
    gradient, as PyTorch); zeros for an empty bag."""
    from ..ops.conv import _first_max
    bags, longest = len(counts), int(counts.max()) if counts.size else 0
    padded = movement.cat([rows, creation.full((1, rows.shape[1]), float("-inf"),
                                               dtype=rows.dtype, device=rows.device)])
    slots = np.full((bags, max(longest, 1)), rows.shape[0])  # the -inf row by default
    kept = np.flatnonzero(keep)
    position = np.arange(kept.size) - np.searchsorted(bag_of[kept], bag_of[kept])
    slots[bag_of[kept], position] = kept
    gathered = indexing.index_select(padded, 0, _make(xp.asarray(slots.reshape(-1))))
    gathered = gathered.reshape(bags, slots.shape[1], rows.shape[1])
    best = _first_max(movement.unbind(gathered, 1))
    empty = _make(xp.asarray((counts == 0)[:, None]))
    return ew.where(empty, 0.0, best)


# -- sliding blocks ------------------------------------------------------------------------------
def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value), int(value))


def _blocks_geometry(op, size, kernel_size, dilation, padding, stride):
    """(k, d, p, s) pairs and the number of block positions per spatial dim."""
    k, d, p, s = (_pair(v) for v in (kernel_size, dilation, padding, stride))
    counts = tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1
                   for n, kk, dd, pp, ss in zip(size, k, d, p, s))
    if any(c <= 0 for c in counts):
        raise RuntimeError(f"{op}: Given input with spatial size {tuple(size)}, kernel_size="
                           f"{k}, dilation={d}, padding={p}, calculated shape of the array of "
                           f"sliding blocks as {counts}, but its components must be at least "
                           "one.")
    return k, d, p, s, counts


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks of (N, C, H, W) as columns: (N, C * kH * kW, L), PyTorch's im2col."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"unfold: Expected 3D (unbatched) or 4D (batched) input, but got "
                           f"input of size: {list(input.shape)}")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw), (oh, ow) = _blocks_geometry(
        "unfold", x.shape[2:], kernel_size, dilation, padding, stride)
    if ph or pw:
        x = movement.pad_constant(x, (pw, pw, ph, ph))
    n, c = x.shape[:2]
    blocks = [x[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]
              .reshape(n, c, oh * ow) for i in range(kh) for j in range(kw)]
    out = movement.stack(blocks, 2).reshape(n, c * kh * kw, oh * ow)
    return out if batched else out.squeeze(0)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """The adjoint of unfold: columns (N, C * kH * kW, L) summed back into (N, C, H, W)."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"fold: Expected 2D (unbatched) or 3D (batched) input, but got "
                           f"input of size: {list(input.shape)}")
    batched = input.dim() == 3
    cols = input if batched else input.unsqueeze(0)
    h, w = _pair(output_size)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw), (oh, ow) = _blocks_geometry(
        "fold", (h, w), kernel_size, dilation, padding, stride)
    n, ckk, length = cols.shape
    if ckk % (kh * kw) or length != oh * ow:
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size ({kh * kw}) and dimension 2 to match the "
                           f"calculated number of sliding blocks {oh} * {ow} = {oh * ow}, but "
                           f"got input of size {list(input.shape)}")
    c = ckk // (kh * kw)
    blocks = cols.reshape(n, c, kh * kw, oh, ow)
    hp, wp = h + 2 * ph, w + 2 * pw
    out = None
    for i in range(kh):
        for j in range(kw):
            block = _spread(blocks[:, :, i * kw + j], sh, sw)  # strided positions, zeros between
            top, left = i * dh, j * dw
            placed = movement.pad_constant(block, (left, wp - left - block.shape[3],
                                                   top, hp - top - block.shape[2]))
            out = placed if out is None else out + placed
    out = out[:, :, ph:ph + h, pw:pw + w]
    return out if batched else out.squeeze(0)


def _spread(block: Tensor, sh: int, sw: int) -> Tensor:
    """(N, C, a, b) -> (N, C, (a-1)*sh+1, (b-1)*sw+1) with the values sh and sw apart."""
    n, c, a, b = block.shape
    if sh > 1:
        block = movement.cat([block.unsqueeze(3)] + [creation.zeros_like(block).unsqueeze(3)] *
                             (sh - 1), 3).reshape(n, c, a * sh, b)[:, :, :(a - 1) * sh + 1]
    if sw > 1:
        a2 = block.shape[2]
        block = movement.cat([block.unsqueeze(4)] + [creation.zeros_like(block).unsqueeze(4)] *
                             (sw - 1), 4).reshape(n, c, a2, b * sw)[:, :, :, :(b - 1) * sw + 1]
    return block


# -- resampling ---------------------------------------------------------------------------------
_MODE_DIMS = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "area": (1, 2, 3),
              "linear": (1,), "bilinear": (2,), "bicubic": (2,), "lanczos": (2,),
              "trilinear": (3,)}


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resamples the spatial dims of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input.

    Args:
        size: the output's spatial size (an int or one per dim); or
        scale_factor: a multiplier per dim (the output size is floor(input size * factor)).
        mode: 'nearest', 'nearest-exact', 'area' (any), 'linear' (3-D input), 'bilinear' or
            'bicubic' (4-D), 'trilinear' (5-D), 'lanczos' (4-D, antialias only).
        align_corners: for the linear and cubic modes, map the corner pixels' centres onto
            each other.
        recompute_scale_factor: compute the scale from the sizes rather than use
            ``scale_factor`` itself.
        antialias: for 'bilinear', 'bicubic' and 'lanczos' on 4-D float or uint8 input,
            stretch the filter by the downsampling factor so that each output pixel averages
            the input pixels it covers (PyTorch's and Pillow's resampling; the cubic uses
            a = -0.5 here). uint8 is resampled in Pillow's fixed point, rounded per pass.

    The source positions are computed as PyTorch computes them (in float32 for the nearest
    modes), so the same pixels are picked and weighted. Built from index_select, multiply
    and add (matmul with antialias), so it is differentiable, twice over for the linear
    modes.

    Example::

        >>> x = ember.rand(1, 3, 64, 48)
        >>> F.interpolate(x, size=(16, 12), mode="bicubic", antialias=True).shape
        ember.Size([1, 3, 16, 12])
    """
    _checks.tensor_type("interpolate", "input", input)
    if mode not in _MODE_DIMS:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported in ember; use "
                                  f"one of {', '.join(repr(m) for m in _MODE_DIMS)}")
    _check_interpolate_options(input, mode, align_corners, antialias)
    nd = input.dim() - 2
    if nd not in _MODE_DIMS[mode]:
        wanted = " or ".join(f"{d + 2}D" for d in _MODE_DIMS[mode])
        raise NotImplementedError(f"interpolate: got {input.dim()}D input (shape "
                                  f"{tuple(input.shape)}), but {mode} mode needs {wanted} input "
                                  "(N, C, spatial...)")
    if mode == "lanczos" and not antialias:
        raise ValueError("Lanczos mode requires antialias=True")
    sizes, scales = _output_size(input, nd, size, scale_factor, recompute_scale_factor)
    spatial = tuple(input.shape[2:])
    # 'area' is adaptive_avg_pool, which allows an empty output and checks for itself
    if mode != "area" and min(spatial + sizes) <= 0:
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"{spatial} and output {sizes} (mode {mode!r})")
    if antialias:
        return _antialias.resample(input, mode, sizes, scales, bool(align_corners))
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[nd - 1](input,
                                                                                    sizes)
    out = input
    # the last dim first: bilinear then weighs (w-interpolated rows) by the h weights, as
    # PyTorch's kernel does
    for axis in reversed(range(2, 2 + nd)):
        n_in, n_out, scale = out.shape[axis], sizes[axis - 2], scales[axis - 2]
        if mode.startswith("nearest"):
            index = _nearest_source(n_in, n_out, scale, mode == "nearest-exact", nd == 2)
            out = indexing.index_select(out, axis, _make(_on_device(index, input)))
        elif mode == "bicubic":
            out = _cubic_along(out, axis, n_in, n_out, scale, bool(align_corners))
        elif n_out != n_in:  # PyTorch's linear modes leave a dim of unchanged size as it is
            out = _linear_along(out, axis, n_in, n_out, scale, bool(align_corners))
    return out.clone() if out is input else out


def _check_interpolate_options(input: Tensor, mode: str, align_corners, antialias: bool):
    if align_corners is not None and mode not in ("linear", "bilinear", "bicubic", "trilinear",
                                                  "lanczos"):
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode == "lanczos" and align_corners:
        raise ValueError("Lanczos mode does not support align_corners=True")
    if antialias and (mode not in _antialias.MODES or input.dim() != 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         f"modes and requires a 4-D tensor as input (got mode {mode!r} and "
                         f"{input.dim()}-D input)")


def _output_size(input: Tensor, nd: int, size, scale_factor, recompute_scale_factor):
    """The output's spatial sizes, and the scales the kernels use (None: from the sizes)."""
    spatial = tuple(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    given = size if size is not None else scale_factor
    values = tuple(given) if isinstance(given, (tuple, list)) else (given,) * nd
    if len(values) != nd:
        raise ValueError(f"Input and output must have the same number of spatial dimensions, "
                         f"but got input with spatial dimensions of {list(spatial)} and output "
                         f"{'size' if size is not None else 'scale_factor'} of {given}. Please "
                         "provide input tensor in (N, C, d1, d2, ...,dK) format and output size "
                         "in (o1, o2, ...,oK) format.")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        return tuple(int(v) for v in values), (None,) * nd
    sizes = tuple(int(math.floor(float(n) * float(f))) for n, f in zip(spatial, values))
    return sizes, (None,) * nd if recompute_scale_factor else tuple(float(f) for f in values)


def _nearest_source(n_in: int, n_out: int, scale, exact: bool, shortcuts: bool) -> np.ndarray:
    """PyTorch's nearest / nearest-exact source index of each output position.

    PyTorch's 2-D 'nearest' kernel maps a dim that keeps its size, or doubles it, without
    the scale (its 1-D kernel and 'nearest-exact' always use it): ``shortcuts`` follows that.
    """
    dst = np.arange(n_out)
    if shortcuts and not exact and n_out in (n_in, 2 * n_in):
        return dst if n_out == n_in else dst >> 1
    s = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    pos = dst.astype(np.float32) + np.float32(0.5) if exact else dst.astype(np.float32)
    return np.minimum(np.floor(pos * s).astype(np.int64), n_in - 1)


def _linear_along(x: Tensor, axis: int, n_in: int, n_out: int, scale, align_corners: bool):
    """Linear interpolation of x along one axis, with PyTorch's source positions."""
    src = np.maximum(_source_positions(x, "linear modes", n_in, n_out, scale, align_corners), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam1 = np.clip(src - i0, 0, 1).astype(src.dtype)
    return _weighted_taps(x, axis, [i0, i0 + (i0 < n_in - 1)], [1 - lam1, lam1])


def _source_positions(x: Tensor, op: str, n_in: int, n_out: int, scale, align_corners: bool):
    """PyTorch's (unclamped) source position of each output along one axis, in x's dtype."""
    dtype = x._data.dtype
    if dtype.kind != "f":
        raise RuntimeError(f"interpolate: {op} needs a floating point input, got "
                           f"{x.dtype.name}")
    dst = np.arange(n_out, dtype=dtype)
    if align_corners:
        return dtype.type((n_in - 1) / (n_out - 1) if n_out > 1 else 0) * dst
    s = dtype.type(1.0 / scale) if scale else dtype.type(n_in) / dtype.type(n_out)
    return s * (dst + dtype.type(0.5)) - dtype.type(0.5)


def _weighted_taps(x: Tensor, axis: int, taps, weights) -> Tensor:
    """sum_k x[taps[k]] * weights[k] along ``axis``, in PyTorch's order of terms."""
    shape = [1] * x.dim()
    shape[axis] = -1
    out = None
    for index, w in zip(taps, weights):
        term = indexing.index_select(x, axis, _make(_on_device(index, x))) * \
            _make(_on_device(w.reshape(shape), x))
        out = term if out is None else out + term
    return out


def _cubic_along(x: Tensor, axis: int, n_in: int, n_out: int, scale, align_corners: bool):
    """Cubic convolution (A = -0.75, as PyTorch) along one axis; edge taps are clamped."""
    src = _source_positions(x, "bicubic", n_in, n_out, scale, align_corners)
    i = np.floor(src).astype(np.int64)
    t = src - i.astype(src.dtype)
    a = -0.75

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    taps = [np.clip(i + k, 0, n_in - 1) for k in (-1, 0, 1, 2)]
    return _weighted_taps(x, axis, taps, [far(t + 1), near(t), near(1 - t), far(2 - t)])


def _on_device(array: np.ndarray, like: Tensor):
    return backend.xp_of(like._data).asarray(array)


# -- losses -------------------------------------------------------------------------------------
def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    result = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{result}' instead.", stacklevel=3)
    return result


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return red.mean(loss)
    if reduction == "sum":
        return red.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_target_size(op: str, input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean") -> Tensor:
    """|x - y|, reduced."""
    if _amp.on and _amp.applies("l1_loss", input, target):
        return _amp.run("l1_loss", l1_loss, input, target, size_average, reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_target_size("l1_loss", input, target)
    return _reduce(ew.abs(input - target), reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """(x - y)^2, reduced."""
    if _amp.on and _amp.applies("mse_loss", input, target):
        return _amp.run("mse_loss", mse_loss, input, target, size_average, reduce, reduction,
                        weight)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_target_size("mse_loss", input, target)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    if _amp.on and _amp.applies("smooth_l1_loss", input, target):
        return _amp.run("smooth_l1_loss", smooth_l1_loss, input, target, size_average, reduce,
                        reduction, beta)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_target_size("smooth_l1_loss", input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    diff = ew.abs(input - target)
    if beta == 0.0:
        return _reduce(diff, reduction)
    loss = ew.where(diff < beta, (0.5 / beta) * diff * diff, diff - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    if _amp.on and _amp.applies("huber_loss", input, target):
        return _amp.run("huber_loss", huber_loss, input, target, reduction, delta, weight)
    _check_target_size("huber_loss", input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff = ew.abs(input - target)
    loss = ew.where(diff < delta, 0.5 * diff * diff, delta * (diff - 0.5 * delta))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits and class indices or class probabilities.

    Shape:
        input (C,), (N, C) or (N, C, d1, ...); target (), (N,) or (N, d1, ...) of class
        indices, or probabilities of the input's shape.

    Example::

        >>> loss = F.cross_entropy(ember.randn(3, 5, requires_grad=True), ember.tensor([1, 0, 4]))
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return nn_ops.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """-input[n, target[n]] (weighted), for log-probability inputs."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return nn_ops.nll_loss(input, target, weight, ignore_index, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-w (y log x + (1 - y) log(1 - x)) for probabilities x."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return nn_ops.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of sigmoid(input), stable for any logits; ``pos_weight`` scales
    the positive term per class."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return nn_ops.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) pointwise: target * (log target - input).

    ``reduction='batchmean'`` divides the sum by the batch size (the mathematical KL).
    """
    if _amp.on and _amp.applies("kl_div", input, target):
        return _amp.run("kl_div", kl_div, input, target, size_average, reduce, reduction,
                        log_target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_target:
        loss = ew.exp(target) * (target - input)
    else:
        positive = target > 0
        safe = ew.where(positive, target, 1.0)
        loss = target * ew.log(safe) - target * input
    if reduction == "batchmean":
        total = red.sum(loss)
        return total / input.shape[0] if input.dim() else total
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood."""
    if _amp.on and _amp.applies("poisson_nll_loss", input, target):
        return _amp.run("poisson_nll_loss", poisson_nll_loss, input, target, log_input, full,
                        size_average, eps, reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = ew.exp(input) - target * input
    else:
        loss = input - target * ew.log(input + eps)
    if full:
        t = target
        stirling = t * ew.log(ew.where(t > 1, t, 1.0)) - t + 0.5 * ew.log(
            ew.where(t > 1, t, 1.0) * (2 * math.pi))
        loss = loss + ew.where(t > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """(x1 / max(||x1||, eps)) . (x2 / max(||x2||, eps)) along ``dim``, after broadcasting
    x1 and x2 together, as PyTorch (normalising first keeps the result in [-1, 1])."""
    if _amp.on and _amp.applies("cosine_similarity", x1, x2):
        return _amp.run("cosine_similarity", cosine_similarity, x1, x2, dim, eps)
    x1, x2 = movement.broadcast_tensors(x1, x2)  # the norms run over the broadcast dim
    n1 = ew.clamp(red.norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = ew.clamp(red.norm(x2, 2, dim, keepdim=True), min=eps)
    return red.sum((x1 / n1) * (x2 / n2), dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim."""
    return red.norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    if _amp.on and _amp.applies("cosine_embedding_loss", input1, input2, target):
        return _amp.run("cosine_embedding_loss", cosine_embedding_loss, input1, input2, target,
                        margin, size_average, reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    # PyTorch's own cosine here: eps added to each squared norm, not cosine_similarity's clamp
    dot = red.sum(input1 * input2, -1)
    squares = (red.sum(input1 * input1, -1) + 1e-12) * (red.sum(input2 * input2, -1) + 1e-12)
    cos = dot / ew.sqrt(squares)
    loss = ew.where(target > 0, 1 - cos, ew.clamp(cos - margin, min=0.0))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    if _amp.on and _amp.applies("margin_ranking_loss", input1, input2, target):
        return _amp.run("margin_ranking_loss", margin_ranking_loss, input1, input2, target,
                        margin, size_average, reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(ew.clamp(-target * (input1 - input2) + margin, min=0.0), reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the p-norm distance; ``swap`` uses the
    nearer of the negative's distances to the anchor and to the positive."""
    if _amp.on and _amp.applies("triplet_margin_loss", anchor, positive, negative):
        return _amp.run("triplet_margin_loss", triplet_margin_loss, anchor, positive, negative,
                        margin, p, eps, swap, size_average, reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(ew.clamp(margin + d_pos - d_neg, min=0.0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """x where the target is 1, max(0, margin - x) where it is -1."""
    if _amp.on and _amp.applies("hinge_embedding_loss", input, target):
        return _amp.run("hinge_embedding_loss", hinge_embedding_loss, input, target, margin,
                        size_average, reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    below_margin = ew.where(target != 1, ew.clamp(margin - input, min=0.0), 0.0)
    return _reduce(below_margin + ew.where(target != -1, input, 0.0), reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)) for targets y of +-1."""
    if _amp.on and _amp.applies("soft_margin_loss", input, target):
        return _amp.run("soft_margin_loss", soft_margin_loss, input, target, size_average,
                        reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(ew.log1p(ew.exp(-input * target)), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on logits per class, averaged over the classes (last dim)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    classes = input.shape[-1] if input.dim() else 1
    return _reduce(red.sum(loss, input.dim() - 1) / classes, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge: sum over the wrong classes i of max(0, margin - x[y] + x[i])^p / C."""
    if _amp.on and _amp.applies("multi_margin_loss", input, target):
        return _amp.run("multi_margin_loss", multi_margin_loss, input, target, p, margin, weight,
                        size_average, reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input
    t = target.reshape(1) if unbatched else target
    if x.dim() != 2 or t.shape[0] != x.shape[0]:
        raise RuntimeError(f"multi_margin_loss: expected input (N, C) or (C,) and target (N,), "
                           f"got {tuple(input.shape)} and {tuple(target.shape)}")
    correct = indexing.gather(x, 1, t.unsqueeze(1))
    terms = ew.clamp(margin - correct + x, min=0.0)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        terms = terms * indexing.index_select(weight, 0, t).unsqueeze(1)
    terms = ew.where(indexing.one_hot(t, x.shape[1]) > 0, 0.0, terms)
    loss = red.sum(terms, 1) / x.shape[1]
    return _reduce(loss.reshape(()) if unbatched else loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """0.5 (log var + (x - y)^2 / var) (+ 0.5 log 2 pi with ``full``); var is clamped to
    ``eps`` for the value only, as PyTorch (the gradient is the unclamped one)."""
    if not isinstance(var, Tensor):
        var = creation.full_like(input, float(var))
    elif tuple(var.shape) == tuple(input.shape[:-1]):
        var = var.unsqueeze(-1)
    elif tuple(var.shape) != tuple(input.shape) and not _one_var_per_slice(input, var):
        raise ValueError(f"var is of incorrect size: {tuple(var.shape)} for input of shape "
                         f"{tuple(input.shape)}; give it input's shape, or size 1 in one dim")
    if bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    held = var.detach()
    var = var + (ew.clamp(held, min=eps) - held)
    loss = 0.5 * (ew.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _one_var_per_slice(input: Tensor, var: Tensor) -> bool:
    """PyTorch's homoscedastic test: var has input's dims and differs only in one of size 1
    (what PyTorch checks: the sizes var has where they differ add up to 1)."""
    if var.dim() != input.dim():
        return False
    return sum(v for n, v in zip(input.shape, var.shape) if n != v) == 1


def _check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge: sum over the target classes j and the other classes i of
    max(0, 1 - (x[j] - x[i])), divided by the number of classes.

    Shape:
        input (C,) or (N, C); target of the same shape, int64 class indices ended by the
        first -1 (what follows it is ignored). Output () or (N,) with reduction='none'.
    """
    if _amp.on and _amp.applies("multilabel_margin_loss", input, target):
        return _amp.run("multilabel_margin_loss", multilabel_margin_loss, input, target,
                        size_average, reduce, reduction)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    shape = tuple(input.shape)
    if not (input.dim() == 0 or (input.dim() <= 2 and shape[-1] != 0)):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(shape)}")
    classes = shape[-1] if shape else 1
    expected = (shape[0], classes) if input.dim() == 2 else None
    if (tuple(target.shape) != expected if expected else
            (target.dim() > 1 or target.numel() != classes)):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(shape)}")
    if target._data.dtype != np.int64:
        raise RuntimeError(f"multilabel_margin_loss: expected target of dtype int64 (Long), "
                           f"but found {target.dtype}")
    t = target._data.reshape(-1, classes)
    xp = backend.xp_of(t)
    if t.size and bool(((t < -1) | (t >= classes)).any()):
        raise RuntimeError(f"multilabel_margin_loss: argument #2 'target' is out of range: "
                           f"class indices must lie in [-1, {classes})")
    # the entries before the first -1
    listed = xp.cumprod((t >= 0).astype(np.int64), axis=1).astype(bool)
    labels = xp.where(listed, t, 0)
    slot_is = (labels[:, :, None] == xp.arange(classes)) & listed[:, :, None]  # (N, j, c)
    others = ~slot_is.any(axis=1)                        # (N, C): not a target class
    x = input.reshape(-1, classes)
    x_target = indexing.gather(x, 1, _make(labels))      # (N, C): x[y_j] per target slot j
    # (N, j, i): the hinge of target slot j against class i
    margins = ew.relu(1 - x_target.unsqueeze(2) + x.unsqueeze(1))
    pairs = _make((listed[:, :, None] & others[:, None, :]).astype(x._data.dtype))
    loss = red.sum(margins * pairs, (1, 2)) / classes
    return _reduce(loss if input.dim() == 2 else loss.reshape(()), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) for any distance function d (default
    pairwise_distance); ``swap`` uses the nearer of d(a, n) and d(p, n)."""
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {dims[0]}D, "
                           f"positive {dims[1]}D, and negative {dims[2]}D inputs")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = ew.minimum(d_neg, distance(positive, negative))
    return _reduce(ew.clamp(margin + d_pos - d_neg, min=0.0), reduction)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss: -log p(target | log_probs), summed over
    every alignment of the target to the input frames (blanks between and around labels).

    Args:
        log_probs: (T, N, C) or unbatched (T, C) log-probabilities (log_softmax outputs).
        targets: (N, S) padded or 1-D concatenated class indices (blank excluded).
        input_lengths, target_lengths: (N,) tensors or sequences of ints.
        blank: the blank class.
        reduction: 'none' (N,), 'sum', or 'mean': each loss divided by its target length
            (at least 1), then averaged over the batch, as PyTorch.
        zero_infinity: impossible alignments give 0 loss and 0 gradient instead of inf.

    Example::

        >>> lp = ember.randn(50, 2, 20, requires_grad=True).log_softmax(2)
        >>> loss = F.ctc_loss(lp, ember.randint(1, 20, (2, 10)), [50, 40], [10, 7])
    """
    _check_reduction(reduction)
    if log_probs._data.dtype not in (np.float32, np.float64):
        raise NotImplementedError(f"ctc_loss: not implemented for log_probs of dtype "
                                  f"{log_probs.dtype}; pass float32 or float64")
    batched = log_probs.dim() == 3
    if log_probs.dim() not in (2, 3):
        raise RuntimeError(f"ctc_loss: expected log_probs of shape (T, N, C) or (T, C), got "
                           f"{log_probs.dim()}-dimensional tensor of shape "
                           f"{tuple(log_probs.shape)}")
    lp = log_probs if batched else log_probs.unsqueeze(1)
    steps, n, classes = lp.shape
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    in_lens = _ctc_lengths(input_lengths, n, "input_lengths", steps)
    tgt_lens = _ctc_lengths(target_lengths, n, "target_lengths", None)
    extended = _ctc_extended_targets(targets, tgt_lens, blank, classes, lp)
    xp = backend.xp_of(lp._data)
    loss = ctc.CTCNegLogLikelihood.apply(lp, extended, xp.asarray(in_lens),
                                         xp.asarray(tgt_lens), max(int(in_lens.max(initial=0)), 1),
                                         zero_infinity)
    if zero_infinity:
        loss = ew.where(_make(xp.isinf(loss._data)), 0.0, loss)
    if reduction == "mean":
        divisor = _make(xp.asarray(np.maximum(tgt_lens, 1).astype(loss._data.dtype)))
        return red.mean(loss / divisor)
    if reduction == "sum":
        return red.sum(loss)
    return loss if batched else loss.reshape(())


def _ctc_lengths(lengths, n: int, name: str, most: int | None) -> np.ndarray:
    """Sequence lengths as a host int64 array of n entries, checked as PyTorch."""
    if isinstance(lengths, Tensor):
        if lengths._data.dtype.kind not in "iu":
            raise RuntimeError(f"{name} must be integral")
        values = backend.of(lengths._data).to_numpy(lengths._data)
    else:
        values = np.asarray(lengths)
    values = values.reshape(-1).astype(np.int64)
    if values.shape[0] != n:
        raise RuntimeError(f"{name} must be of size batch_size")
    for v in values:
        if v < 0:
            raise RuntimeError(f"Expected {name} to have value at least 0, but got value {v} "
                               f"(while checking arguments for ctc_loss)")
        if most is not None and v > most:
            raise RuntimeError(f"Expected {name} to have value at most {most}, but got value "
                               f"{v} (while checking arguments for ctc_loss)")
    return values


def _ctc_extended_targets(targets: Tensor, lengths: np.ndarray, blank: int, classes: int,
                          like: Tensor):
    """(N, 2 * max_length + 1) int64 labels on the device: blank, y1, blank, y2, ..., blank
    (blanks also past each target's end)."""
    n = lengths.shape[0]
    longest = int(lengths.max(initial=0))
    xp = backend.xp_of(like._data)
    flat = targets._data.reshape(-1)
    position = np.arange(longest)
    inside = position[None, :] < lengths[:, None]  # (N, longest)
    if targets.dim() == 1:
        if targets.shape[0] != int(lengths.sum()):
            raise RuntimeError(f"Expected tensor to have size {int(lengths.sum())} at dimension "
                               f"0, but got size {targets.shape[0]} for argument #2 'targets' "
                               f"(while checking arguments for ctc_loss)")
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        index = np.where(inside, starts[:, None] + position[None, :], 0)
    elif targets.dim() == 2:
        if targets.shape[0] != n:
            raise RuntimeError(f"Expected tensor to have size {n} at dimension 0, but got size "
                               f"{targets.shape[0]} for argument #2 'targets' (while checking "
                               f"arguments for ctc_loss)")
        if targets.shape[1] < longest:
            raise RuntimeError(f"Expected tensor to have size at least {longest} at dimension "
                               f"1, but got size {targets.shape[1]} for argument #2 'targets' "
                               f"(while checking arguments for ctc_loss)")
        index = np.where(inside, np.arange(n)[:, None] * targets.shape[1] + position, 0)
    else:
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {targets.dim()}-dimensional "
                           f"tensor for argument #2 'targets' (while checking arguments for "
                           f"ctc_loss)")
    if index.size and flat.size == 0:
        raise RuntimeError("ctc_loss: targets are empty but target_lengths are not all 0")
    labels = flat[xp.asarray(index.reshape(-1))].reshape(n, longest).astype(np.int64) \
        if index.size else xp.zeros((n, longest), np.int64)
    inside = xp.asarray(inside)
    if labels.size and bool(((labels < 0) | (labels >= classes))[inside].any()):
        raise RuntimeError(f"ctc_loss: targets must be class indices in [0, {classes})")
    extended = xp.full((n, 2 * longest + 1), blank, np.int64)
    extended[:, 1::2] = xp.where(inside, labels, blank)
    return extended


# -- attention ----------------------------------------------------------------------------------
def _mask_bias(mask: Tensor, dtype, allowed_is_true: bool) -> Tensor:
    """A float mask to add to attention scores: -inf where attention is not allowed."""
    m = mask._data
    if m.dtype.kind != "b":
        return mask if m.dtype == dtype else ew.cast(mask, dtype)
    xp = backend.xp_of(m)
    blocked = ~m if allowed_is_true else m
    return _make(xp.where(blocked, dtype.type(-np.inf), dtype.type(0)))


def _causal_bias(length: int, source: int, dtype, xp) -> Tensor:
    allowed = xp.tril(xp.ones((length, source), bool))
    return _make(xp.where(allowed, dtype.type(0), dtype.type(-np.inf)))


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dim, with 0 (value and gradient) on rows that are all -inf.

    torch's sdpa does this so a query that may attend nothing gets a zero output, not nan.
    """
    xp = backend.xp_of(scores._data)
    dead = xp.isneginf(scores._data).all(axis=-1, keepdims=True)
    if not dead.any():
        return nn_ops.softmax(scores, -1)
    dead = _make(dead)
    attn = nn_ops.softmax(ew.where(dead, 0.0, scores), -1)
    return ew.where(dead, 0.0, attn)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + mask) V.

    Args:
        attn_mask: boolean (True = may attend) or float (added to the scores), broadcastable
            to (..., L, S).
        dropout_p: dropout on the attention weights (always applied when > 0, as in torch).
        is_causal: mask out future positions (query i attends keys j <= i).
        scale: defaults to 1/sqrt(E).

    Shape:
        query (..., L, E), key (..., S, E), value (..., S, Ev); output (..., L, Ev).
    """
    if _amp.on and _amp.applies("scaled_dot_product_attention", query, key, value):
        return _amp.run("scaled_dot_product_attention", scaled_dot_product_attention, query,
                        key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: explicit attn_mask should not be set "
                           "when is_causal=True")
    dtype = query._data.dtype
    length, source = query.shape[-2], key.shape[-2]
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        key = _repeat_heads(key, query.shape[-3] // key.shape[-3])
        value = _repeat_heads(value, query.shape[-3] // value.shape[-3])
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = linalg.matmul(query, movement.transpose(key, -2, -1)) * scale
    if is_causal:
        scores = scores + _causal_bias(length, source, dtype, backend.xp_of(query._data))
    elif attn_mask is not None:
        scores = scores + _mask_bias(attn_mask, dtype, allowed_is_true=True)
    attn = _safe_softmax(scores) if attn_mask is not None else nn_ops.softmax(scores, -1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, True)
    return linalg.matmul(attn, value)


def _repeat_heads(x: Tensor, n: int) -> Tensor:
    """(..., H, S, E) -> (..., H*n, S, E), each head repeated n times in a row."""
    shape = tuple(x.shape)
    expanded = movement.expand(movement.unsqueeze(x, -3), shape[:-2] + (n,) + shape[-2:])
    return movement.reshape(expanded, shape[:-3] + (shape[-3] * n,) + shape[-2:])


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor,
                                 embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
                                 bias_k: Tensor | None, bias_v: Tensor | None,
                                 add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                                 training: bool = True, key_padding_mask: Tensor | None = None,
                                 need_weights: bool = True, attn_mask: Tensor | None = None,
                                 use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None,
                                 k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None,
                                 static_k=None, static_v=None,
                                 average_attn_weights: bool = True,
                                 is_causal: bool = False):
    """Multi-head attention on (L, N, E) query and (S, N, E) key/value (or unbatched (L, E)).

    Masks: ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N*H, L, S); boolean True
    means "do not attend", float masks are added to the scores.

    Returns:
        (output (L, N, E), weights (N, L, S) averaged over heads, (N, H, L, S), or None).
    """
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v are not "
                                  "supported in ember")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    batched = query.dim() == 3
    if not batched:
        query, key, value = (movement.unsqueeze(t, 1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = movement.unsqueeze(key_padding_mask, 0)
    length, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    dtype = query._data.dtype

    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias,
                             use_separate_proj_weight, q_proj_weight, k_proj_weight,
                             v_proj_weight, embed_dim)
    if attn_mask is not None:
        attn_mask = _mask_bias(attn_mask, dtype, allowed_is_true=False)
        if attn_mask.dim() == 2:
            attn_mask = movement.unsqueeze(attn_mask, 0)
    if bias_k is not None and bias_v is not None:
        k = movement.cat([k, movement.expand(bias_k, (1, bsz, embed_dim))], 0)
        v = movement.cat([v, movement.expand(bias_v, (1, bsz, embed_dim))], 0)
        if attn_mask is not None:
            attn_mask = movement.pad_constant(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = movement.pad_constant(key_padding_mask, (0, 1))
    # (L, N, E) -> (N*H, L, hd)
    q = movement.transpose(movement.reshape(q, (length, bsz * num_heads, head_dim)), 0, 1)
    k = movement.transpose(movement.reshape(k, (k.shape[0], bsz * num_heads, head_dim)), 0, 1)
    v = movement.transpose(movement.reshape(v, (v.shape[0], bsz * num_heads, head_dim)), 0, 1)
    if add_zero_attn:
        zeros = _make(backend.xp_of(k._data).zeros((bsz * num_heads, 1, head_dim), dtype))
        k = movement.cat([k, zeros], 1)
        v = movement.cat([v, zeros], 1)
        if attn_mask is not None:
            attn_mask = movement.pad_constant(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = movement.pad_constant(key_padding_mask, (0, 1))
    source = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, source):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, source)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        kpm = _mask_bias(key_padding_mask, dtype, allowed_is_true=False)
        # (N, S) -> (N*H, 1, S)
        kpm = movement.reshape(movement.expand(movement.reshape(kpm, (bsz, 1, 1, source)),
                                               (bsz, num_heads, 1, source)),
                               (bsz * num_heads, 1, source))
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    scores = linalg.matmul(q * (1.0 / math.sqrt(head_dim)), movement.transpose(k, 1, 2))
    if attn_mask is not None:
        scores = scores + attn_mask
    # torch routes need_weights=False through sdpa, whose fully masked rows give 0, not nan
    weights = nn_ops.softmax(scores, -1) if need_weights else _safe_softmax(scores)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p, True)
    out = linalg.matmul(weights, v)                                   # (N*H, L, hd)
    out = movement.reshape(movement.transpose(out, 0, 1), (length * bsz, embed_dim))
    out = linear(out, out_proj_weight, out_proj_bias)
    out = movement.reshape(out, (length, bsz, embed_dim))
    if not batched:
        out = movement.squeeze(out, 1)
    if not need_weights:
        return out, None
    weights = movement.reshape(weights, (bsz, num_heads, length, source))
    if average_attn_weights:
        weights = red.mean(weights, 1)
    if not batched:
        weights = movement.squeeze(weights, 0)
    return out, weights


def _in_projection(query, key, value, w, b, separate, wq, wk, wv, embed_dim):
    if separate:
        bq = bk = bv = None
        if b is not None:
            bq, bk, bv = movement.chunk(b, 3)
        return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    if query is key and key is value:
        # self-attention: one matmul for q, k and v together
        q, k, v = movement.chunk(linear(query, w, b), 3, -1)
        return q, k, v
    wq, wk, wv = movement.chunk(w, 3)
    bq = bk = bv = None
    if b is not None:
        bq, bk, bv = movement.chunk(b, 3)
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


# -- alpha dropout, local response norm, channel shuffle, pdist, gumbel, deprecated upsample --
_ALPHA_DROPOUT = 1.7580993408473766  # minus SELU's negative saturation value (scale * alpha)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for self-normalising (SELU) networks: dropped elements take SELU's negative
    saturation value and an affine map keeps the mean and variance (when training)."""
    return _alpha_dropout(input, p, training, inplace, feature=False)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """alpha_dropout of whole channels: one draw per (sample, channel) of (N, C, *) input."""
    return _alpha_dropout(input, p, training, inplace, feature=True)


def _alpha_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                   feature: bool) -> Tensor:
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if feature and input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1.0:
        return _maybe_inplace(input, inplace, ew.mul, 0.0)
    shape = tuple(input.shape)
    if feature:
        shape = shape[:2] + (1,) * (len(shape) - 2)
    dtype = input._data.dtype
    keep = (_random.uniform(shape, dtype, input.device) < 1.0 - p).astype(dtype)
    a = 1.0 / math.sqrt((_ALPHA_DROPOUT ** 2 * p + 1) * (1 - p))
    shift = (keep - 1) * dtype.type(_ALPHA_DROPOUT * a) + dtype.type(_ALPHA_DROPOUT * a * p)
    return _maybe_inplace(input, inplace, _scale_shift, _make(keep * dtype.type(a)),
                          _make(shift))


def _scale_shift(input: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    return input * scale + shift


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta.

    Shape:
        (N, C, *) with at least one spatial dim; the output has the input's shape.
    """
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if size <= 0:
        raise RuntimeError(f"local_response_norm: size should be greater than zero, but got "
                           f"{size}")
    if input.numel() == 0:
        return input
    div = input * input
    if dim == 3:
        div = pad(div.unsqueeze(1), (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = tuple(input.shape)
        # (N, C, *) -> (N, 1, C, d1, rest): average over the channel axis with a pooling window
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1).reshape(sizes)
    return input / (div * alpha + k) ** beta


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleaves the ``groups`` groups of channels of an (N, C, *) input: channel
    g * (C / groups) + i moves to i * groups + g.

    Example::

        >>> F.channel_shuffle(ember.arange(4.0).reshape(1, 4, 1), 2).flatten()
        tensor([0., 2., 1., 3.])
    """
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c = input.shape[:2]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    # (N, C, *) -> (N, g, C/g, *) -> (N, C/g, g, *)
    grouped = input.reshape(n, groups, c // groups, *input.shape[2:])
    return movement.transpose(grouped, 1, 2).reshape(input.shape)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """channel_shuffle under PyTorch's kernel-level name."""
    return channel_shuffle(input, groups)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distance between every pair of rows i < j of an (N, M) input, as a flat
    (N * (N - 1) / 2,) tensor in row-major order of the pairs."""
    if _amp.on and _amp.applies("pdist", input):
        return _amp.run("pdist", pdist, input, p)
    if input.dim() != 2:

        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if input._data.dtype.kind != "f":
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    first, second = np.triu_indices(input.shape[0], 1)
    xp = backend.xp_of(input._data)
    rows = [indexing.IndexSelect.apply(input, 0, _make(xp.asarray(i.astype(np.int64))))
            for i in (first, second)]
    if input.shape[1] == 0:  # rows without entries are 0 apart for every p (inf included)
        return red.sum(rows[0] - rows[1], 1)
    return red.norm(rows[0] - rows[1], p, 1)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """softmax((logits + g) / tau) with Gumbel(0, 1) noise g (ember's RNG); ``hard`` returns
    one-hot samples whose gradient is the soft sample's (straight-through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    draws = _random.exponential(tuple(logits.shape), logits._data.dtype, logits.device)
    gumbels = -ew.log(_make(draws))
    y_soft = nn_ops.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = red.argmax(y_soft, dim, keepdim=True)
    y_hard = indexing.scatter(creation.zeros_like(logits), dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated: interpolate."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: interpolate(mode='nearest')."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: interpolate(mode='bilinear', align_corners=True)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
