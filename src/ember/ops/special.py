"""Special functions: error-function and gamma families, modified Bessel functions, xlogy
and logit, with PyTorch's gradients.

The arrays are computed by the backend (``backend.special`` kernels on the CPU and the fake
device, cupyx.scipy.special on GPUs); backward is written with ember ops, so it is itself
differentiable. Integer and bool inputs give the default float dtype.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _checks, backend, creation, dtypes
from ..amp import _policy as _amp
from ..autograd.function import Function
from ..tensor import Tensor
from . import elementwise as ew
from .elementwise import _float, _tensor

_make = Tensor._make
_SQRT_PI = math.sqrt(math.pi)


def _kernel(name: str, *args):
    """The backend's special function ``name`` of the arrays (the last one picks the backend)."""
    _checks.not_complex(name, args[-1])  # real kernels: PyTorch has no complex ones either
    return getattr(backend.of(args[-1]), name)(*args)


def _eps_mask(a: Tensor):
    """|a| > the dtype's epsilon, as PyTorch's Bessel gradients guard their 1/x."""
    x = a._data
    return _make(backend.xp_of(x).abs(x) > np.finfo(x.dtype).eps)


# -- error function family ---------------------------------------------------------------------
class Erfc(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _kernel("erfc", _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * (-2 / _SQRT_PI) * ew.exp(-a * a)


class Erfinv(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        return _kernel("erfinv", _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        y = ctx.saved_output
        return grad * (_SQRT_PI / 2) * ew.exp(y * y)


def erfc(input):
    """1 - erf(input), accurate where it is tiny (large inputs)."""
    return Erfc.apply(_tensor("erfc", input))


def erfinv(input):
    """The inverse of erf on [-1, 1]: ±inf at ±1, nan outside."""
    if _amp.on and _amp.applies("erfinv", input):
        return _amp.run("erfinv", erfinv, input)
    return Erfinv.apply(_tensor("erfinv", input))



# -- gamma family ------------------------------------------------------------------------------
class Lgamma(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _kernel("lgamma", _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * digamma(a)


class Digamma(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _kernel("digamma", _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * polygamma(1, a)


class Polygamma(Function):
    @staticmethod
    def forward(ctx, a, n):
        ctx.save_for_backward(a)
        ctx.n = n
        return _kernel("polygamma", n, _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * polygamma(ctx.n + 1, a), None


def lgamma(input):
    """log |Gamma(input)|; inf at 0, the negative integers and ±inf."""
    return Lgamma.apply(_tensor("lgamma", input))


def digamma(input):
    """psi(input) = d/dx lgamma; -inf at 0 (inf at -0.0), nan at the negative integers."""
    return Digamma.apply(_tensor("digamma", input))


def polygamma(n: int, input):
    """The n-th derivative of digamma (n = 0 is digamma itself)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"polygamma: argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n={n}")
    return Polygamma.apply(_tensor("polygamma", input), int(n))


def mvlgamma(input, p: int):
    """The multivariate log-gamma of dimension p: sum over j < p of lgamma(input - j/2),
    plus p(p - 1)/4 log(pi)."""
    _tensor("mvlgamma", input)
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    x = input if input.is_floating_point() else input.to(dtypes.get_default_dtype())
    out = lgamma(x)
    for j in range(1, p):
        out = out + lgamma(x - j / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)


# -- regularized incomplete gamma --------------------------------------------------------------
class Igamma(Function):
    @staticmethod
    def forward(ctx, a, x, upper):
        ctx.save_for_backward(a, x)
        ctx.upper = upper
        name = "igammac" if upper else "igamma"
        return ew._elementwise(name, lambda p, q: _kernel(name, p, q), *ew._arrays(name, a, x))

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        name = "igammac" if ctx.upper else "igamma"
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        # d/dx P(a, x) = x^(a-1) e^-x / Gamma(a); Q = 1 - P
        density = ew.exp((a - 1) * ew.log(x) - x - lgamma(a))
        return None, -grad * density if ctx.upper else grad * density, None


def _incomplete_gamma(name: str, input, other, upper: bool):
    _tensor(name, input), ew._checks.tensor_type(name, "other", other)
    ew._floating(name, input._data, other._data)
    return Igamma.apply(input, other, upper)


def igamma(input, other):
    """The regularized lower incomplete gamma function P(input, other) (floating tensors);
    differentiable in ``other`` only, as in PyTorch."""
    return _incomplete_gamma("igamma", input, other, upper=False)


def igammac(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    return _incomplete_gamma("igammac", input, other, upper=True)


# -- modified Bessel functions of the first kind -----------------------------------------------
class I0(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _kernel("i0", _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * i1(a)


class I0e(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        ctx.save_output()
        return _kernel("i0e", _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * (i1e(a) - ew.sign(a) * ctx.saved_output)


class I1(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        ctx.save_output()
        return _kernel("i1", _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        # i1' = i0 - i1 / x, whose limit at 0 is 1/2
        big = _eps_mask(a)
        safe = ew.where(big, a, 1.0)
        return grad * ew.where(big, i0(safe) - ctx.saved_output / safe, 0.5)


class I1e(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        ctx.save_output()
        return _kernel("i1e", _float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        big = _eps_mask(a)
        safe = ew.where(big, a, 1.0)
        slope = i0e(safe) - ctx.saved_output * (ew.sign(safe) + 1 / safe)
        return grad * ew.where(big, slope, 0.5)


def i0(input):
    """The modified Bessel function of the first kind of order 0."""
    return I0.apply(_tensor("i0", input))


def i0e(input):
    """exp(-|input|) * i0(input), finite for large inputs."""
    return I0e.apply(_tensor("i0e", input))


def i1(input):
    """The modified Bessel function of the first kind of order 1."""
    return I1.apply(_tensor("i1", input))


def i1e(input):
    """exp(-|input|) * i1(input)."""
    return I1e.apply(_tensor("i1e", input))


# -- xlogy and logit ---------------------------------------------------------------------------
class Xlogy(Function):
    @staticmethod
    def forward(ctx, a, b):
        x, y = ew._arrays("xlogy", a, b, float_result=True)
        _checks.not_complex("xlogy", x)
        ew._save_operands(ctx, a, b)
        xp = backend.xp_of(x)
        # 0 * log(0) is 0 (unless y is nan), as the limit
        return ew._elementwise("xlogy", lambda x, y: xp.where((x == 0) & ~xp.isnan(y), 0,
                                                             x * xp.log(y)), x, y)

    @staticmethod
    def backward(ctx, grad):
        a, b = ew._saved_operands(ctx)
        need_a, need_b = ctx.needs_input_grad[:2]
        # PyTorch's: log(y), except 0 where x == 0 and y <= 0
        return (ew.where((a == 0) & (b <= 0), 0.0, grad * xlogy(creation.ones_like(grad), b))
                if need_a else None,
                grad * a / b if need_b else None)


def xlogy(input, other):
    """input * log(other), 0 where input is 0 (either may be a number)."""
    return Xlogy.apply(input, other)


class Logit(Function):
    @staticmethod
    def forward(ctx, a, eps):
        ctx.save_for_backward(a)
        ctx.eps = eps
        x = _float(a._data)
        xp = backend.xp_of(x)
        if eps is not None:
            x = xp.where(x < eps, eps, xp.where(x > 1 - eps, 1 - eps, x)).astype(x.dtype)
        return xp.log(x / (1 - x))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        eps, x = ctx.eps, a._data
        slope = grad / (a * (1 - a))
        if eps is None:  # nan outside [0, 1], as PyTorch
            return ew.where(_make((x < 0) | (x > 1)), math.nan, slope), None
        return ew.where(_make((x < eps) | (x > 1 - eps)), 0.0, slope), None


def logit(input, eps: float | None = None):
    """log(p / (1 - p)); with ``eps``, p is first clamped to [eps, 1 - eps]."""
    if eps is not None and eps < 0:
        eps = None  # PyTorch clamps only for a non-negative eps
    _checks.not_complex("logit", _tensor("logit", input))
    return Logit.apply(input, eps)
