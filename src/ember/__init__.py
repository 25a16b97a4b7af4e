"""ember: PyTorch's API on NumPy (CPU) and CuPy (GPU), in pure Python.

    import ember as torch
"""
from __future__ import annotations

__version__ = "0.1.0"

import warnings as _warnings

# NumPy warns on log(0), x / 0 and the like; PyTorch returns inf/nan silently, so does ember.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember(\.|$)")

from . import autograd, backend, dtypes
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, as_tensor, asarray, bernoulli, empty, empty_like, eye,
                       from_numpy, full, full_like, linspace, logspace, multinomial, normal,
                       ones, ones_like, rand, rand_like, randint, randint_like, randn,
                       randn_like, randperm, tensor, zeros, zeros_like)
from .device import device
from .dtypes import (bfloat16, bool, double, dtype, float, float16, float32, float64,
                     get_default_dtype, half, int, int8, int16, int32, int64, long,
                     promote_types, set_default_dtype, short, uint8)
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
from .ops.indexing import (argsort, gather, index_add, index_fill, index_select, masked_fill,
                           masked_select, nonzero, scatter, scatter_add, sort, take_along_dim,
                           topk)
from .ops.composite import (addmm, addmv, atleast_1d, atleast_2d, atleast_3d, bincount,
                            bucketize, cdist, cross, diff, kron, logaddexp, median, meshgrid,
                            mv, nanmean, repeat_interleave, searchsorted, tensordot, unique)
from .ops.linalg import bmm, dot, einsum, inner, matmul, mm, outer
from .ops.nn_ops import log_softmax, softmax
from .ops.movement import (broadcast_to, cat, chunk, clone, concat, concatenate, diagonal,
                           expand, flatten, flip, fliplr, flipud, hstack, moveaxis, movedim,
                           narrow, permute, repeat, reshape, roll, split, squeeze, stack,
                           swapaxes, t, tile, transpose, tril, triu, unbind, unflatten,
                           unsqueeze, vstack)
from .ops.reduce import (all, amax, amin, any, argmax, argmin, count_nonzero, cumprod, cumsum,
                         logsumexp, max, mean, min, nansum, norm, prod, std, std_mean, sum, var,
                         var_mean)
from .serialization import load, save
from .random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed,
                     seed, set_rng_state)
from .tensor import Size, Tensor


_LAZY = ("nn", "optim", "utils", "vision", "cuda", "testing", "linalg")


def __getattr__(name):
    # The heavier submodules load on first use, so `import ember` stays quick.
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
