"""torch's top-level spellings of nn.functional ops, with torch's top-level signatures.

They differ from nn.functional's in places, and these follow torch.*: dropouts take
``(input, p, train)``, losses an int ``reduction`` (0 none, 1 mean, 2 sum; torch's Python
binding leaves an omitted one at 0, unreduced, whatever its schema says), batch_norm and
instance_norm take weight and bias before the running statistics, embedding takes the weight
first, max_pool1d has no return_indices. ``cudnn_enable(d)`` is accepted and ignored. Each is
a thin call into ember.nn.functional (loaded with ember.nn on first use).
"""
from __future__ import annotations

import warnings

from .nn import functional as F
from .tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(op: str, reduction) -> str:
    if isinstance(reduction, str):  # accepted too, as nn.functional spells it
        return reduction
    if reduction not in (0, 1, 2) or isinstance(reduction, bool):
        raise ValueError(f"{op}: reduction must be 0 (none), 1 (mean) or 2 (sum), got "
                         f"{reduction!r}")
    return _REDUCTIONS[reduction]


# -- convolution and pooling ---------------------------------------------------------------------
conv1d, conv2d, conv3d = F.conv1d, F.conv2d, F.conv3d
conv_transpose1d, conv_transpose2d, conv_transpose3d = (F.conv_transpose1d, F.conv_transpose2d,
                                                        F.conv_transpose3d)
avg_pool1d, adaptive_avg_pool1d = F.avg_pool1d, F.adaptive_avg_pool1d
pixel_shuffle, pixel_unshuffle, channel_shuffle = (F.pixel_shuffle, F.pixel_unshuffle,
                                                   F.channel_shuffle)
native_channel_shuffle = F.native_channel_shuffle


def convolution(input: Tensor, weight: Tensor, bias, stride, padding, dilation, transposed: bool,
                output_padding, groups: int) -> Tensor:
    """conv1d/2d/3d or their transposes, chosen by weight's dims and ``transposed``."""
    spatial = weight.dim() - 2
    if spatial not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a weight of 3, 4 or 5 dims, got shape "
                           f"{tuple(weight.shape)}")
    if transposed:
        op = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[spatial - 1]
        return op(input, weight, bias, tuple(stride), tuple(padding), tuple(output_padding),
                  groups, tuple(dilation))
    op = (F.conv1d, F.conv2d, F.conv3d)[spatial - 1]
    return op(input, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups)


def _stride(stride):
    return None if stride is None or (isinstance(stride, (list, tuple)) and not stride) else stride


def max_pool1d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode: bool = False):
    """(output, indices) of max_pool1d."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                        return_indices=True)


def adaptive_max_pool1d(input: Tensor, output_size):
    """(output, indices), as torch's top-level adaptive_max_pool1d always returns both."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


# -- normalisation ---------------------------------------------------------------------------------
def batch_norm(input: Tensor, weight, bias, running_mean, running_var, training: bool,
               momentum: float, eps: float, cudnn_enabled: bool = True) -> Tensor:
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, weight, bias, running_mean, running_var,
                  use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool = True) -> Tensor:
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5,
               cudnn_enable: bool = True) -> Tensor:
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5,
               cudnn_enabled: bool = True) -> Tensor:
    return F.group_norm(input, num_groups, weight, bias, eps)


rms_norm = F.rms_norm


# -- dropout: (input, p, train) -------------------------------------------------------------------
def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return F.dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return F.dropout(input, p, train, inplace=True)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return F.alpha_dropout(input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return F.alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return F.feature_alpha_dropout(input, p, train, inplace=True)


def _feature_dropout(input: Tensor, p: float, train: bool, inplace: bool) -> Tensor:
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return F._feature_dropout(input, p, train, inplace, batched=True)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Zeroes whole channels (dim 1) of an (N, C, *) input with probability p."""
    return _feature_dropout(input, p, train, False)


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return _feature_dropout(input, p, train, True)


# -- embedding, bilinear, distances ------------------------------------------------------------
def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """weight's rows at ``indices``; torch.embedding takes the weight first, and a negative
    padding_idx means none."""
    return F.embedding(indices, weight, None if padding_idx < 0 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor,
                  scale_grad_by_freq: bool = False, mode: int = 0, sparse: bool = False,
                  per_sample_weights=None, include_last_offset: bool = False,
                  padding_idx=None):
    """(output, offset2bag, bag_size, max_indices) as torch's CPU kernel gives them: output
    is F.embedding_bag's; offset2bag the bag of each index (empty in sum mode), bag_size the
    indices per bag other than padding_idx (zeros in sum mode), max_indices the weight row
    each max came from (max mode) or bag_size (mean mode) or zeros (sum mode)."""
    if mode not in (0, 1, 2):
        raise RuntimeError(f"embedding_bag: mode must be 0 (sum), 1 (mean) or 2 (max), got "
                           f"{mode!r}")
    output = F.embedding_bag(indices, weight, None if indices.dim() == 2 else offsets,
                             scale_grad_by_freq=scale_grad_by_freq,
                             mode=_BAG_MODES[mode], sparse=sparse,
                             per_sample_weights=per_sample_weights,
                             include_last_offset=include_last_offset, padding_idx=padding_idx)
    from . import creation
    from .ops import composite
    bags = output.shape[0]
    flat = indices.reshape(-1)
    if indices.dim() == 2:
        bag_of = creation.arange(bags, device=indices.device).repeat_interleave(indices.shape[1])
    else:  # index i is in the last bag whose start is <= i
        starts = offsets[:bags] if include_last_offset else offsets
        positions = creation.arange(flat.shape[0], device=indices.device)
        bag_of = composite.bucketize(positions, starts, right=True) - 1
    zeros = creation.zeros(bags, dtype=flat.dtype, device=flat.device)
    if mode == 0:
        return output, flat.new_zeros(0), zeros, zeros.clone()
    kept = flat != padding_idx if padding_idx is not None else creation.ones_like(flat).bool()
    bag_size = zeros.index_add(0, bag_of, kept.long())
    if mode == 1:
        return output, bag_of, bag_size, bag_size.clone()
    rows = weight.detach()[flat]  # (N, D): the row each index picks
    hit = (rows == output.detach()[bag_of]) & kept.unsqueeze(1)
    big = weight.shape[0]
    candidate = hit.long() * flat.unsqueeze(1) + (~hit).long() * big
    max_indices = creation.full((bags, weight.shape[1]), big, dtype=flat.dtype,
                                device=flat.device)
    max_indices = max_indices.scatter_reduce(0, bag_of.unsqueeze(1).expand_as(candidate),
                                             candidate, "amin")
    return output, bag_of, bag_size, max_indices.masked_fill(max_indices == big, 0)


bilinear = F.bilinear
cosine_similarity = F.cosine_similarity
pairwise_distance = F.pairwise_distance
pdist = F.pdist


# -- losses: an int reduction ---------------------------------------------------------------------
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight=None,
                                     pos_weight=None, reduction: int = 0) -> Tensor:
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction("binary_cross_entropy_with_logits",
                                                    reduction), pos_weight=pos_weight)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 0) -> Tensor:
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction("cosine_embedding_loss", reduction))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: int = 0, zero_infinity: bool = False) -> Tensor:
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      _reduction("ctc_loss", reduction), zero_infinity)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: int = 0) -> Tensor:
    return F.hinge_embedding_loss(input, target, margin,
                                  reduction=_reduction("hinge_embedding_loss", reduction))


def kl_div(input: Tensor, target: Tensor, reduction: int = 0, *,
           log_target: bool = False) -> Tensor:
    """The pointwise KL divergence; reduction 1 is the mean over all elements (torch's
    top-level kl_div does not warn about 'batchmean' as nn.functional's does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return F.kl_div(input, target, reduction=_reduction("kl_div", reduction),
                        log_target=log_target)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 0) -> Tensor:
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction("margin_ranking_loss", reduction))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction("poisson_nll_loss", reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        reduction: int = 0) -> Tensor:
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction("triplet_margin_loss", reduction))


# -- activations ---------------------------------------------------------------------------------
prelu, hardshrink = F.prelu, F.hardshrink
selu, selu_, celu, celu_ = F.selu, F.selu_, F.celu, F.celu_


def rrelu(input: Tensor, lower: float = 0.125, upper: float = 1.0 / 3.0,
          training: bool = False, generator=None) -> Tensor:
    """Randomized leaky ReLU; ``generator`` must be None (nn.functional draws from the
    default generator)."""
    _no_generator("rrelu", generator)
    return F.rrelu(input, lower, upper, training)


def rrelu_(input: Tensor, lower: float = 0.125, upper: float = 1.0 / 3.0,
           training: bool = False, generator=None) -> Tensor:
    _no_generator("rrelu_", generator)
    return F.rrelu_(input, lower, upper, training)


def _no_generator(op: str, generator) -> None:
    if generator is not None:
        raise NotImplementedError(f"{op}: ember draws rrelu's slopes from the default "
                                  f"generator; pass generator=None (seed with ember.manual_seed)")


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    return F.threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return F.threshold_(input, threshold, value)


def constant_pad_nd(input: Tensor, pad, value=0) -> Tensor:
    """Pads with ``value``: pad lists (before, after) pairs from the last dim backwards;
    negative amounts crop."""
    return F.pad(input, tuple(pad), "constant", value)
