"""ember: PyTorch's API on NumPy (CPU) and CuPy (GPU), in pure Python.

    import ember as torch
"""
from __future__ import annotations

__version__ = "0.1.0"

import builtins as _builtins
import warnings as _warnings

import numpy as _np

# NumPy warns on log(0), x / 0 and the like; PyTorch returns inf/nan silently, so does ember.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember(\.|$)")

from . import autograd, backend, dtypes
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, as_tensor, asarray, bernoulli, empty, empty_like, eye,
                       from_numpy, full, full_like, linspace, logspace, multinomial, normal,
                       ones, ones_like, rand, rand_like, randint, randint_like, randn,
                       randn_like, randperm, tensor, zeros, zeros_like)
from .creation import binomial, frombuffer, poisson
from ._config import (are_deterministic_algorithms_enabled, channels_last, channels_last_3d,
                      contiguous_format, get_default_device, get_deterministic_debug_mode,
                      get_device,
                      get_float32_matmul_precision, get_num_interop_threads, is_anomaly_enabled,
                      is_anomaly_check_nan_enabled, is_deterministic_algorithms_warn_only_enabled,
                      is_inference, is_inference_mode_enabled, is_warn_always_enabled, layout,
                      memory_format, preserve_format, set_anomaly_enabled, set_default_device,
                      set_deterministic_debug_mode, set_float32_matmul_precision,
                      set_flush_denormal, set_num_interop_threads, set_warn_always, strided,
                      typename, use_deterministic_algorithms)
from ._format import set_printoptions
from .device import device
from .dtypes import (bfloat16, bool, double, dtype, float, float16, float32, float64,
                     get_default_dtype, half, int, int8, int16, int32, int64, long,
                     promote_types, set_default_dtype, short, uint8)
from .dtypes import cdouble, cfloat, complex64, complex128
from .ops.complex import (complex, conj, conj_physical, imag, is_complex, is_conj, is_neg,
                          polar, real, resolve_conj, resolve_neg, view_as_complex, view_as_real)
from .ops.elementwise import (abs, absolute, add, addcdiv, addcmul, allclose, atan2, float_power,
                              bitwise_and, bitwise_not, bitwise_or, bitwise_xor, ceil, clamp,
                              clip, cos, div, divide, eq, equal, erf, exp, exp2, expm1,
                              floor, floor_divide, fmax, fmin, fmod, frac, ge, greater,
                              greater_equal, gt, isclose, isfinite, isinf, isnan, le, lerp,
                              less, less_equal, log, log1p, log2, log10, logical_and,
                              logical_not, logical_or, logical_xor, lt, maximum, minimum, mul,
                              multiply, nan_to_num, ne, neg, negative, not_equal, pow,
                              reciprocal, relu, remainder, round, rsqrt, sigmoid, sign, sin,
                              sqrt, square, sub, subtract, tan, tanh, true_divide, trunc, where)
from .ops.elementwise import (abs_, acos, acos_, acosh, acosh_, angle, arccos, arccos_, arccosh,
                              arccosh_, arcsin, arcsin_, arcsinh, arcsinh_, arctan, arctan2,
                              arctan_, arctanh, arctanh_, asin, asin_, asinh, asinh_, atan, atan_,
                              atanh, atanh_, bitwise_left_shift, bitwise_right_shift, ceil_,
                              clamp_, clamp_max, clamp_max_, clamp_min, clamp_min_, clip_,
                              copysign, cos_, cosh, cosh_, deg2rad, deg2rad_, erf_, erfc_, exp2_,
                              exp_, expm1_, fill, fill_, fix, fix_, floor_, frac_, frexp, gcd,
                              gcd_, heaviside, hypot, i0_, isin, isneginf, isposinf, isreal, lcm,
                              lcm_, ldexp, ldexp_, log10_, log1p_, log2_, log_, logaddexp2, logit_,
                              nan_to_num_, neg_, negative_, nextafter, positive, rad2deg, rad2deg_,
                              reciprocal_, relu_, round_, rsqrt_, rsub, sgn, sigmoid_, signbit,
                              sin_, sinc, sinc_, sinh, sinh_, sqrt_, square_, tan_, tanh_, trunc_,
                              xlogy_, zero_)
from .ops.special import (digamma, erfc, erfinv, i0, igamma, igammac, lgamma, logit, mvlgamma,
                          polygamma, xlogy)
from .ops.indexing import (argsort, argwhere, gather, index_add, index_copy, index_fill,
                           index_put, index_reduce, index_select, masked_fill, masked_scatter,
                           masked_select, nonzero, nonzero_static, put, scatter, scatter_add,
                           scatter_reduce, sort, take, take_along_dim, topk, unravel_index)
from .ops.composite import (addbmm, addmm, addmv, addr, atleast_1d, atleast_2d, atleast_3d,
                            baddbmm, bincount, block_diag, bucketize, can_cast, cartesian_prod,
                            cdist, combinations, cross, cumulative_trapezoid, diff, dist, ger,
                            gradient, inner, is_nonzero, is_same_size, is_signed, kron,
                            logaddexp, meshgrid, mv, nanmean, renorm, repeat_interleave,
                            result_type, scalar_tensor, searchsorted, tensordot, trace,
                            trapezoid, trapz, tril_indices, triu_indices, unique,
                            unique_consecutive, vander, vdot)
from .ops.composite import range_ as range  # noqa: A001 (torch.range; hides the builtin here)
from .ops.statistics import (corrcoef, cov, histc, histogram, kthvalue, median, mode, msort,
                             nanmedian, nanquantile, quantile)
from .ops.windows import (bartlett_window, blackman_window, hamming_window, hann_window,
                          kaiser_window)
from .ops.linalg import bmm, dot, einsum, matmul, mm, outer
from .ops.nn_ops import log_softmax, softmax
from .ops.movement import (alias_copy, as_strided, as_strided_copy, as_strided_scatter,
                           broadcast_shapes, broadcast_tensors, broadcast_to, cat, chunk, clone,
                           column_stack, concat, concatenate, detach_copy, diag, diag_embed,
                           diagflat, diagonal, diagonal_copy, diagonal_scatter, dsplit, dstack,
                           empty_strided, expand, expand_copy, flatten, flip, fliplr, flipud,
                           hsplit, hstack, moveaxis, movedim, narrow, narrow_copy, permute,
                           permute_copy, ravel, repeat, reshape, roll, rot90, row_stack, select,
                           select_copy, select_scatter, slice_copy, slice_scatter, split,
                           split_copy, split_with_sizes, split_with_sizes_copy, squeeze,
                           squeeze_copy, stack, swapaxes, swapdims, t, t_copy, tensor_split,
                           tile, transpose, transpose_copy, tril, triu, unbind, unbind_copy,
                           unflatten, unfold_copy, unsafe_chunk, unsafe_split,
                           unsafe_split_with_sizes, unsqueeze, unsqueeze_copy, view_copy,
                           vsplit, vstack)
from .ops.reduce import (all, amax, amin, aminmax, any, argmax, argmin, count_nonzero,
                         cummax, cummin, cumprod, cumsum, logcumsumexp, logsumexp, max, mean,
                         min, nansum, norm, prod, std, std_mean, sum, var, var_mean)
from .serialization import load, save
from .random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed,
                     seed, set_rng_state)
from .tensor import Size, Tensor
from . import amp  # loaded with the ops already, which check its flag
from .amp.autocast_mode import (autocast, autocast_decrement_nesting, autocast_increment_nesting,
                                clear_autocast_cache, get_autocast_dtype,
                                is_autocast_cache_enabled, is_autocast_enabled,
                                set_autocast_cache_enabled, set_autocast_dtype,
                                set_autocast_enabled)



_LAZY = ("nn", "optim", "utils", "vision", "cuda", "testing", "linalg", "func", "distributions",
         "fft")


# torch's top-level spellings of nn.functional ops and of older linalg APIs, loaded (with
# ember.nn / ember.linalg) on first use: name -> the module that defines it
_LAZY_NAMES = {name: module for module, names in {
    "_nn_aliases": """conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d
        convolution avg_pool1d max_pool1d max_pool2d max_pool3d max_pool1d_with_indices
        adaptive_avg_pool1d adaptive_max_pool1d batch_norm layer_norm group_norm instance_norm
        rms_norm dropout dropout_ alpha_dropout alpha_dropout_ feature_alpha_dropout
        feature_alpha_dropout_ feature_dropout feature_dropout_ embedding embedding_bag bilinear
        binary_cross_entropy_with_logits cosine_similarity cosine_embedding_loss ctc_loss
        hinge_embedding_loss kl_div margin_ranking_loss poisson_nll_loss triplet_margin_loss
        pairwise_distance pdist pixel_shuffle pixel_unshuffle channel_shuffle
        native_channel_shuffle prelu rrelu rrelu_ selu selu_ celu celu_ threshold threshold_
        hardshrink constant_pad_nd""",
    "_linalg_legacy": """det logdet slogdet inverse pinverse matrix_exp matrix_power svd qr
        cholesky cholesky_solve cholesky_inverse triangular_solve lu lu_unpack lu_solve
        chain_matmul adjoint frobenius_norm nuclear_norm geqrf orgqr ormqr solve lstsq eig
        symeig matrix_rank""",
    "func": "vmap",
}.items() for name in names.split()}


def __getattr__(name):
    # The heavier submodules load on first use, so `import ember` stays quick.
    if name in _LAZY_NAMES:
        import importlib
        value = getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _LAZY:
        import importlib
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            raise AttributeError(f"module 'ember' has no attribute '{name}' ({exc})") from None
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ember' has no attribute '{name}'")


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()


def detach(input: Tensor) -> Tensor:
    return input.detach()


def detach_(input: Tensor) -> Tensor:
    return input.detach_()


def resize_as_(input: Tensor, the_template: Tensor, *, memory_format=None) -> Tensor:
    return input.resize_as_(the_template)


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    return input.index_put_(indices, values, accumulate)


def addmv_(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    return input.addmv_(mat, vec, beta=beta, alpha=alpha)


def as_strided_(input: Tensor, size, stride, storage_offset=None) -> Tensor:
    return input.as_strided_(size, stride, storage_offset)


class finfo:
    """Machine limits of a floating-point dtype (the default one without an argument), with
    torch.finfo's fields: bits, eps, max, min, tiny (= smallest_normal), resolution, dtype."""

    def __init__(self, type=None):
        d = get_default_dtype() if type is None else dtypes.as_dtype(type).to_real()
        if d.numpy.kind != "f":
            raise TypeError(f"finfo: {d} is not a floating point dtype; use ember.iinfo")
        info = _np.finfo(d.numpy)
        self.bits, self.dtype = info.bits, d.name
        f = _builtins.float
        self.eps, self.max, self.min = f(info.eps), f(info.max), f(info.min)
        self.tiny = self.smallest_normal = f(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
                f"dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype, with torch.iinfo's fields: bits, max, min, dtype."""

    def __init__(self, type):
        d = dtypes.as_dtype(type)
        if d.numpy.kind not in "iu":
            raise TypeError(f"iinfo: {d} is not an integer dtype; use ember.finfo for floats")
        info = _np.iinfo(d.numpy)
        self.bits, self.dtype = info.bits, d.name
        self.max, self.min = _builtins.int(info.max), _builtins.int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def get_num_threads() -> int:
    """The threads ember's CPU kernels use (its thread pool; also the BLAS's, once set)."""
    from .backend import threads
    return threads.THREADS


def set_num_threads(n: int) -> None:
    """Sets the threads of ember's CPU thread pool and, where it can be set (OpenBLAS), of the
    BLAS. The environment variable EMBER_NUM_THREADS sets the starting value."""
    if isinstance(n, _builtins.bool) or not isinstance(n, _builtins.int) or n <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    from .backend import blas, threads
    threads.THREADS = n
    old, threads._pool = threads._pool, None  # the next parallel op starts a pool of n
    if old is not None:
        old.shutdown(wait=False)
    controls = blas._controls()
    if controls is not None:
        controls[1](n)
