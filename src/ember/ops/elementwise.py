"""Elementwise primitives and the ops composed from them.

Binary ops broadcast; the engine sums gradients back to each input's shape. Python scalars are
weak (NEP 50, as PyTorch), so ``float32_tensor * 2.5`` stays float32.
"""
from __future__ import annotations

import functools
import math
import warnings
from collections import namedtuple

import numpy as np

from .. import _checks, backend, dtypes
from ..backend import threads
from ..autograd.function import Function
from ..autograd.grad_mode import _State
from ..amp import _policy as _amp
from ..tensor import Tensor
from . import complex as _cx  # uses this module only at call time: the cycle is harmless

_make = Tensor._make
_NUMBER = (int, float, bool, complex, np.number, np.bool_)


# -- operand handling ----------------------------------------------------------------------
def _operands(op: str, a, b):
    """Arrays (or weak scalars) of a and b in PyTorch's result dtype."""
    x = a._data if isinstance(a, Tensor) else _scalar(op, a)
    y = b._data if isinstance(b, Tensor) else _scalar(op, b)
    tx, ty = type(x), type(y)
    if tx is ty:
        if tx is _ndarray:
            if x.dtype == y.dtype:
                return x, y
        elif tx in _SCALARS:
            raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and "
                            f"{type(b).__name__}")
        else:
            _checks.same_device(op, x, y)  # GPU arrays: cuda:0 vs cuda:1
            if x.dtype == y.dtype:
                return x, y
    elif tx is float and y.dtype.kind == "f" or ty is float and x.dtype.kind == "f":
        return x, y
    elif tx not in _SCALARS and ty not in _SCALARS:
        _checks.same_device(op, x, y)
    dt = dtypes.result_type(x, y)
    if dt.kind in "iu":
        x, y = _wrap_int(x, dt), _wrap_int(y, dt)
    # NumPy promotes a bool array to the other array's dtype by itself: no cast pass needed
    if tx not in _SCALARS and x.dtype != dt and (x.dtype.kind != "b" or ty in _SCALARS):
        x = x.astype(dt)
    if ty not in _SCALARS and y.dtype != dt and (y.dtype.kind != "b" or tx in _SCALARS):
        y = y.astype(dt)
    return x, y


_SCALARS = (int, float, bool, complex)
_ndarray = np.ndarray


def _wrap_int(v, dt):
    """A Python int outside ``dt``'s range wraps around into it, as PyTorch casts scalars
    (uint8 tensor + -3 adds 253 modulo 256); NumPy would raise OverflowError instead."""
    if type(v) is int:
        info = np.iinfo(dt)
        if not info.min <= v <= info.max:
            return np.array(v).astype(dt)
    return v


def _save_operands(ctx, a, b, keep_a: bool = True, keep_b: bool = True) -> None:
    """Saves the operands backward needs: tensors through save_for_backward (version-checked,
    released after backward), Python scalars as they are."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    ctx.save_for_backward(a if ta and keep_a else None, b if tb and keep_b else None)
    ctx.scalars = (None if ta else a, None if tb else b)


def _saved_operands(ctx):
    """The operands saved by _save_operands (None for a tensor that was not kept)."""
    a, b = ctx.saved_tensors
    sa, sb = ctx.scalars
    return (sa if a is None else a), (sb if b is None else b)


def _scalar(op: str, value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (complex, np.complexfloating)):
        return complex(value)
    raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")


def _is_float(v) -> bool:
    dt = getattr(v, "dtype", None)
    return isinstance(v, (float, complex)) if dt is None else dt.kind in "fc"


def _conj(v):
    """The conjugate of a complex tensor or number; anything else as it is."""
    if isinstance(v, Tensor):
        return _cx.Conj.apply(v) if v._data.dtype.kind == "c" else v
    return v.conjugate() if type(v) is complex else v


def _grad_times(grad, derivative):
    """grad * derivative, conjugated for a complex gradient: PyTorch's convention gives a
    holomorphic op the backward grad * conj(f'(z))."""
    if grad._data.dtype.kind == "c":
        derivative = _conj(derivative)
    return grad * derivative


def _grad_over(grad, denominator):
    """grad / denominator, conjugated for a complex gradient (see _grad_times)."""
    if grad._data.dtype.kind == "c":
        denominator = _conj(denominator)
    return grad / denominator


def _float(x):
    """Integer and bool arrays become the default float dtype (exp(int) is float32)."""
    if x.dtype.kind in "fc":
        return x
    return x.astype(dtypes.get_default_dtype().numpy)


def _int_to_float(t):
    """An int/bool operand of a float-valued op (true division, atan2) in the default float
    dtype, cast from its own values: PyTorch never wraps it through the promoted integer dtype
    (int32 -5 / uint8 5 is -1.0, not 251 / 5)."""
    f = dtypes.get_default_dtype().numpy
    if isinstance(t, Tensor):
        return t._data.astype(f)
    return float(t)


def _binary(op: str, fn, a, b):
    x, y = _operands(op, a, b)
    try:
        return fn(x, y)
    except ValueError:
        raise _checks.broadcast_error(op, x, y) from None


def _real_binary(op: str, fn, a, b):
    """_binary for ops PyTorch has no complex kernel for: complex operands are refused."""
    x, y = _operands(op, a, b)
    dt = getattr(x, "dtype", None)  # an array operand carries the result dtype
    if (dt if dt is not None else y.dtype).kind == "c":
        _refuse_complex(op, x, y)
    try:
        return fn(x, y)
    except ValueError:
        raise _checks.broadcast_error(op, x, y) from None


# PyTorch's wording where it is not "<op>" not implemented for 'ComplexFloat'
_COMPLEX_REFUSALS = {op: (f"{op} not implemented for complex tensors", RuntimeError)
                     for op in ("maximum", "minimum", "fmax", "fmin")}


def _refuse_complex(op: str, x, y) -> None:
    message, error = _COMPLEX_REFUSALS.get(op, (None, NotImplementedError))
    _checks.not_complex(op, x if hasattr(x, "dtype") else y, message, error)


def _tensor(op: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument 'input' must be Tensor, not {type(x).__name__}")
    return x


# -- arithmetic -----------------------------------------------------------------------------
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _binary("add", np.add, a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _binary("sub", np.subtract, a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad if ctx.needs_input_grad[1] else None


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        # a tensor times a scalar needs only the scalar in backward: saving the tensor would
        # make a later in-place edit of it fail backward, which PyTorch allows
        both = isinstance(a, Tensor) and isinstance(b, Tensor)
        _save_operands(ctx, a, b, keep_a=both, keep_b=both)
        return _binary("mul", np.multiply, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = _saved_operands(ctx)
        if grad._data.dtype.kind == "c":
            a, b = _conj(a), _conj(b)
        need_a, need_b = ctx.needs_input_grad[:2]
        return grad * b if need_a else None, grad * a if need_b else None


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        x, y = _operands("div", a, b)
        if not _is_float(x) and not _is_float(y):
            x, y = _int_to_float(a), _int_to_float(b)
        _save_operands(ctx, a, b, keep_a=isinstance(b, Tensor))  # a / 2: a is not needed
        try:
            return x / y
        except ValueError:
            raise _checks.broadcast_error("div", x, y) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = _saved_operands(ctx)
        if grad._data.dtype.kind == "c":
            a, b = _conj(a), _conj(b)
        need_a, need_b = ctx.needs_input_grad[:2]
        return (grad / b if need_a else None,
                -grad * a / (b * b) if need_b else None)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        x, y = _operands("pow", a, b)
        try:
            if not _is_float(x) and not _is_float(y) and type(y) is not bool:
                out = _int_pow(x, y)
            else:
                out = x ** y
        except ValueError:
            raise _checks.broadcast_error("pow", x, y) from None
        _save_operands(ctx, a, b)
        ctx.save_output()
        return out

    @staticmethod
    def backward(ctx, grad):
        base, exponent = _saved_operands(ctx)
        need_a, need_b = ctx.needs_input_grad[:2]
        if grad._data.dtype.kind == "c":
            return _complex_pow_grads(grad, base, exponent, ctx.saved_output, need_a, need_b)
        ga = gb = None
        if need_a:
            if isinstance(exponent, Tensor):
                # 0 where the exponent is 0, as PyTorch (not 0 * 0 ** -1 = nan at a zero base)
                ga = where(exponent == 0, 0.0, grad * exponent * base ** (exponent - 1))
            elif exponent == 0:
                ga = grad * 0
            else:
                ga = grad * exponent * base ** (exponent - 1)
        if need_b:
            out = ctx.saved_output
            # d/db a**b = a**b * log(a); PyTorch defines it as 0 where a == 0 and b >= 0
            base_t = base if isinstance(base, Tensor) else _make(
                backend.xp_of(grad._data).asarray(base, dtype=grad._data.dtype))
            safe = where(base_t == 0, 1.0, base_t)
            gb = where((base_t == 0) & (exponent >= 0), 0.0, grad * out * log(safe))
        return ga, gb


def _complex_pow_grads(grad, base, exponent, out, need_a, need_b):
    """Pow's gradients when the result is complex (PyTorch's pow_backward formulas)."""
    ga = gb = None
    if need_a:
        slope = exponent * base ** (exponent - 1)
        ga = grad * _conj(slope)
        if isinstance(exponent, Tensor):
            ga = where(exponent == 0, 0, ga)
        elif exponent == 0:
            ga = grad * 0
    if need_b:
        xp = backend.xp_of(grad._data)
        base_t = base if isinstance(base, Tensor) else _make(xp.asarray(base, grad._data.dtype))
        base_t = base_t.to(grad.dtype)
        # as PyTorch: 0 where the base is 0 and the exponent real and >= 0
        if isinstance(exponent, Tensor):
            ex = exponent._data
            real_nonneg = _make((xp.imag(ex) == 0) & (xp.real(ex) >= 0))
        else:
            real_nonneg = exponent.imag == 0 and exponent.real >= 0
        skip = (base_t == 0) & real_nonneg
        safe = where(skip, 1, base_t)
        gb = where(skip, 0, grad * _conj(out * log(safe)))
    return ga, gb


def _int_pow(x, y):
    """Integer power; negative tensor exponents give 1, -1 or 0 (integer reciprocals)."""
    if isinstance(y, int):
        if y < 0:
            raise RuntimeError("pow: Integers to negative integer powers are not allowed; "
                               "use a float base or exponent")
        return x ** y
    xp = backend.xp_of(y)
    negative = y < 0
    if not negative.any():
        return x ** y
    out = x ** xp.where(negative, 0, y) if isinstance(x, int) else xp.power(x, xp.abs(y))
    inverse = xp.where(x == 1, 1, xp.where(x == -1, xp.where(y % 2 == 0, 1, -1), 0))
    return xp.where(negative, inverse, out).astype(out.dtype, copy=False)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a._data

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).abs(a._data)

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * (sign(a) if a._data.dtype.kind != "c" else _cx.sgn(a))


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        return backend.xp_of(a._data).exp(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        return _grad_times(grad, ctx.saved_output)


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).log(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_over(grad, a)


class Log1p(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).log1p(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_over(grad, a + 1)


class Expm1(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        return backend.xp_of(a._data).expm1(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        return _grad_times(grad, ctx.saved_output + 1)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        return backend.xp_of(a._data).sqrt(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        return _grad_over(grad, 2 * ctx.saved_output)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).sin(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_times(grad, cos(a))


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).cos(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_times(-grad, sin(a))


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        return backend.xp_of(a._data).tanh(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        y = ctx.saved_output
        return _grad_times(grad, 1 - y * y)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_output()
        x = _float(a._data)
        xp = backend.xp_of(x)
        if x.dtype.kind == "c":
            return 1 / (1 + xp.exp(-x))
        # stable for large |x|: exp never sees a large positive argument
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        y = ctx.saved_output
        return _grad_times(grad, y * (1 - y))


@functools.lru_cache(maxsize=16)
def _zero_row(length: int, dtype_char: str) -> np.ndarray:
    row = np.zeros(length, dtype_char)
    row.flags.writeable = False
    return row


def _clamp_min_zero(x, out) -> None:
    """out = maximum(x, 0). NumPy's maximum against a scalar is not vectorised (3x slower than
    against an array, measured), so a contiguous CPU x meets a row of zeros instead."""
    xp = backend.xp_of(x)
    if xp is not np or not x.flags.c_contiguous or x.size == 0:
        xp.maximum(x, 0, out=out)
        return
    length = 1
    for d in reversed(x.shape):  # a row of at least ~1k elements: few outer iterations
        if length >= 1024:
            break
        length *= d
    np.maximum(x.reshape(-1, length), _zero_row(length, x.dtype.char),
               out=out.reshape(-1, length))


class Relu(Function):
    """By blocks of the first axis, threaded when large (backend.threads)."""

    @staticmethod
    def forward(ctx, a):
        x = a._data
        ctx.save_output()
        if x.dtype.kind in "bc":
            _checks.not_complex("relu", x, "clamp is not supported for complex types")
            return x.copy()
        xp = backend.xp_of(x)
        if x.ndim == 0:
            return xp.maximum(x, 0, dtype=x.dtype)
        out = xp.empty(x.shape, x.dtype)
        threads.for_rows(x, lambda i, j: _clamp_min_zero(x[i:j], out[i:j]))
        return out

    @staticmethod
    def backward(ctx, grad):
        y = ctx.saved_output
        if _State.enabled:  # create_graph
            return grad * (y > 0)
        g, y = grad._data, y._data
        if y.ndim == 0:
            return g * (y > 0)
        xp = backend.xp_of(y)
        out = xp.empty(y.shape, g.dtype)
        threads.for_rows(out, lambda i, j: xp.multiply(g[i:j], y[i:j] > 0, out=out[i:j]))
        return out


class Erf(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _erf(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return grad * (2 / math.sqrt(math.pi)) * exp(-a * a)


def _erf(x):
    if isinstance(x, np.generic):  # a 0-d input may arrive as a NumPy scalar
        x = np.asarray(x)
    return backend.of(x).erf(x)


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        x = a._data
        xp = backend.xp_of(x)
        lo_v = lo._data if isinstance(lo, Tensor) else lo
        hi_v = hi._data if isinstance(hi, Tensor) else hi
        dt = dtypes.result_type(*(v for v in (x, lo_v, hi_v) if v is not None))
        x = x.astype(dt, copy=False)
        out = x
        if lo_v is not None:
            out = xp.maximum(out, lo_v).astype(dt, copy=False)
        if hi_v is not None:
            out = xp.minimum(out, hi_v).astype(dt, copy=False)
        if out is x:
            out = x.copy()
        need = ctx.needs_input_grad
        if need[0]:
            mask = xp.ones(x.shape, bool) if lo_v is None else x >= lo_v
            ctx.mask = mask if hi_v is None else mask & (x <= hi_v)
        # gradients of tensor bounds, as PyTorch: min gets it where x < min < max,
        # max where x > max or max < min
        if need[1]:
            ctx.lo_mask = (x < lo_v) if hi_v is None else (x < lo_v) & (lo_v < hi_v)
        if need[2]:
            ctx.hi_mask = (x > hi_v) if lo_v is None else (x > hi_v) | (hi_v < lo_v)
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        return (grad * _make(ctx.mask) if need[0] else None,
                grad * _make(ctx.lo_mask) if need[1] else None,
                grad * _make(ctx.hi_mask) if need[2] else None)


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _real_binary("maximum", np.maximum, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _split_ties(grad, a > b, a == b, ctx.needs_input_grad)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _real_binary("minimum", np.minimum, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _split_ties(grad, a < b, a == b, ctx.needs_input_grad)


def _split_ties(grad, a_wins, tie, needs):
    """Gradient of max/min: to the winner, half each on a tie (as PyTorch)."""
    share = a_wins.to(grad.dtype) + tie.to(grad.dtype) * 0.5
    return (grad * share if needs[0] else None, grad * (1 - share) if needs[1] else None)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        c = cond._data
        x, y = _operands("where", a, b)
        ctx.save_for_backward(cond)
        xp = backend.xp_of(c)
        try:
            return xp.where(c, x, y)
        except ValueError:
            raise _checks.broadcast_error("where", x, y) from None

    @staticmethod
    def backward(ctx, grad):
        cond, = ctx.saved_tensors
        _, na, nb = ctx.needs_input_grad[:3]
        zero = grad * 0
        return None, where(cond, grad, zero) if na else None, where(cond, zero, grad) if nb else None


class Sign(Function):
    """Piecewise-constant ops: the output stays in the graph (as PyTorch), with gradient 0."""

    @staticmethod
    def forward(ctx, a, fn):
        return fn(a._data)

    @staticmethod
    def backward(ctx, grad):
        return _make(backend.xp_of(grad._data).zeros_like(grad._data)), None


class Floor(Sign):
    pass


class Ceil(Sign):
    pass


class Round(Sign):
    pass


class Trunc(Sign):
    pass


class FloorDivide(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _real_binary("floor_divide", np.floor_divide, a, b)

    @staticmethod
    def backward(ctx, grad):
        zero = _make(backend.xp_of(grad._data).zeros_like(grad._data))
        need_a, need_b = ctx.needs_input_grad[:2]
        return zero if need_a else None, zero if need_b else None


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a._data.dtype
        x = a._data
        if x.dtype.kind == "c" and dtype.numpy.kind != "c":
            warnings.warn("Casting complex values to real discards the imaginary part",
                          UserWarning, stacklevel=4)
            x = x.real
        return x.astype(dtype.numpy)

    @staticmethod
    def backward(ctx, grad):
        if grad._data.dtype.kind == "c" and ctx.dtype.kind != "c":
            grad = _cx.real(grad)  # a real input: its gradient is the real part
        return grad.to(dtypes.from_numpy(ctx.dtype)), None


class Remainder(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return _real_binary("remainder", np.remainder, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = _saved_operands(ctx)
        need_a, need_b = ctx.needs_input_grad[:2]
        return grad if need_a else None, -grad * floor_divide(a, b) if need_b else None


class Fmod(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return _real_binary("fmod", np.fmod, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = _saved_operands(ctx)
        need_a, need_b = ctx.needs_input_grad[:2]
        return (grad if need_a else None,
                -grad * div(a, b, rounding_mode="trunc") if need_b else None)


class NanToNum(Function):
    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        x = a._data
        xp = backend.xp_of(x)
        if ctx.needs_input_grad[0]:
            ctx.finite = xp.isfinite(x)
        return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, grad):
        return grad * _make(ctx.finite), None, None, None


# -- public functions ------------------------------------------------------------------------
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, broadcasting."""
    return _out(Add.apply(input, other if alpha == 1 else other * alpha), out)


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other, broadcasting."""
    return _out(Sub.apply(input, other if alpha == 1 else other * alpha), out)


subtract = sub


def mul(input, other, *, out=None):
    return _out(Mul.apply(input, other), out)


multiply = mul


def div(input, other, *, rounding_mode=None, out=None):
    """True division (int / int gives float32); rounding_mode 'trunc' or 'floor'."""
    if rounding_mode is None:
        return _out(Div.apply(input, other), out)
    if rounding_mode == "floor":
        return _out(floor_divide(input, other), out)
    if rounding_mode == "trunc":
        x, y = _operands("div", input, other)
        q = backend.xp_of(x if hasattr(x, "dtype") else y).trunc(np.true_divide(x, y)) \
            if _is_float(x) or _is_float(y) else _trunc_int_div(x, y)
        return _out(_make(q), out)
    raise ValueError(f"div: expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def _trunc_int_div(x, y):
    xp = backend.xp_of(x if hasattr(x, "dtype") else y)
    q = xp.floor_divide(x, y)
    fix = (xp.remainder(x, y) != 0) & ((xp.asarray(x) < 0) != (xp.asarray(y) < 0))
    return q + fix.astype(q.dtype)


true_divide = divide = div


def floor_divide(input, other):
    """Floor division (its gradient is zero)."""
    return FloorDivide.apply(input, other)


def remainder(input, other):
    return Remainder.apply(input, other)


def fmod(input, other):
    """C-style remainder (the sign of ``input``), broadcasting."""
    return Fmod.apply(input, other)


def pow(input, exponent):
    """input ** exponent, broadcasting; either may be a Python number."""
    if _amp.on and _amp.applies("pow", input, exponent):
        return _amp.run("pow", pow, input, exponent)
    return Pow.apply(input, exponent)


def float_power(input, exponent):
    return pow(input.double() if isinstance(input, Tensor) else input,
               exponent.double() if isinstance(exponent, Tensor) else exponent)


def neg(input):
    return Neg.apply(_tensor("neg", input))


negative = neg


def abs(input):
    return Abs.apply(_tensor("abs", input))


absolute = abs


def sign(input):
    """-1, 0 or 1 elementwise (gradient zero); bool tensors are kept as they are."""
    x = _tensor("sign", input)._data
    if x.dtype.kind == "c":
        _checks.not_complex("sign", x, "Unlike NumPy, torch.sign is not intended to support "
                            "complex numbers. Please use torch.sgn instead.")
    return Sign.apply(input, backend.xp_of(x).sign if x.dtype.kind != "b" else _keep)


def sgn(input):
    """sign for real tensors; z / |z| (0 at 0) for complex ones."""
    if _tensor("sgn", input)._data.dtype.kind == "c":
        return _cx.sgn(input)
    return sign(input)


def exp(input):
    if _amp.on and _amp.applies("exp", input):
        return _amp.run("exp", exp, input)
    return Exp.apply(_tensor("exp", input))


def exp2(input):
    return pow(2.0, input)


def log(input):
    if _amp.on and _amp.applies("log", input):
        return _amp.run("log", log, input)
    return Log.apply(_tensor("log", input))


def log2(input):
    if _amp.on and _amp.applies("log2", input):
        return _amp.run("log2", log2, input)
    return log(input) / math.log(2)


def log10(input):
    if _amp.on and _amp.applies("log10", input):
        return _amp.run("log10", log10, input)
    return log(input) / math.log(10)


def log1p(input):
    if _amp.on and _amp.applies("log1p", input):
        return _amp.run("log1p", log1p, input)
    return Log1p.apply(_tensor("log1p", input))


def expm1(input):
    if _amp.on and _amp.applies("expm1", input):
        return _amp.run("expm1", expm1, input)
    return Expm1.apply(_tensor("expm1", input))


def sqrt(input):
    return Sqrt.apply(_tensor("sqrt", input))


def rsqrt(input):
    if _amp.on and _amp.applies("rsqrt", input):
        return _amp.run("rsqrt", rsqrt, input)
    return pow(input, -0.5) if input._data.dtype.kind in "fc" else pow(input.float(), -0.5)


def square(input):
    return mul(input, input)


def reciprocal(input):
    if _amp.on and _amp.applies("reciprocal", input):
        return _amp.run("reciprocal", reciprocal, input)
    return div(1.0, input)


def sin(input):
    return Sin.apply(_tensor("sin", input))


def cos(input):
    return Cos.apply(_tensor("cos", input))


def tan(input):
    if _amp.on and _amp.applies("tan", input):
        return _amp.run("tan", tan, input)
    return sin(input) / cos(input)


def tanh(input):
    return Tanh.apply(_tensor("tanh", input))


def sigmoid(input):
    return Sigmoid.apply(_tensor("sigmoid", input))


def relu(input):
    return Relu.apply(_tensor("relu", input))


def erf(input):
    if _tensor("erf", input)._data.dtype.kind == "c":
        _checks.not_complex("erf", input)
    return Erf.apply(input)


class Atan2(Function):
    @staticmethod
    def forward(ctx, a, b):
        x, y = _operands("atan2", a, b)
        if not _is_float(x) and not _is_float(y):
            x, y = _int_to_float(a), _int_to_float(b)
        ctx.save_for_backward(a, b)
        try:
            return np.arctan2(x, y)
        except ValueError:
            raise _checks.broadcast_error("atan2", x, y) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        scale = grad / (a * a + b * b)
        return (scale * b if ctx.needs_input_grad[0] else None,
                -scale * a if ctx.needs_input_grad[1] else None)


def atan2(input, other):
    if _amp.on and _amp.applies("atan2", input, other):
        return _amp.run("atan2", atan2, input, other)
    _tensor("atan2", input), _tensor("atan2", other)
    _checks.not_complex("atan2", input), _checks.not_complex("atan2", other)
    return Atan2.apply(input, other)


def clamp(input, min=None, max=None):
    """Limits values to [min, max]; the gradient passes where min <= input <= max."""
    if _tensor("clamp", input)._data.dtype.kind == "c":
        _checks.not_complex("clamp", input, "clamp is not supported for complex types")
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    return Clamp.apply(input, min, max)


clip = clamp


def maximum(input, other):
    """Elementwise max; on ties the gradient is split evenly."""
    return Maximum.apply(input, other)


def minimum(input, other):
    return Minimum.apply(input, other)


def fmax(input, other):
    return _make(_real_binary("fmax", np.fmax, input, other))


def fmin(input, other):
    return _make(_real_binary("fmin", np.fmin, input, other))


def where(condition, input=None, other=None):
    """input where condition else other; ``where(condition)`` is ``nonzero(as_tuple=True)``."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    _tensor("where", condition)
    if condition._data.dtype.kind != "b":
        raise RuntimeError(f"where: expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {condition.dtype.name}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        # two Python scalars: 0-d tensors of their promoted dtype (float32, int64 or bool)
        xp = backend.xp_of(condition._data)
        dt = dtypes.result_type(_scalar("where", input), _scalar("where", other))
        input, other = _make(xp.asarray(input, dtype=dt)), _make(xp.asarray(other, dtype=dt))
    return Where.apply(condition, input, other)


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return input + weight * (end - input)


def addcmul(input, tensor1, tensor2, *, value=1):
    if _amp.on and _amp.applies("addcmul", input, tensor1, tensor2):
        return _amp.run("addcmul", addcmul, input, tensor1, tensor2, value=value)
    return input + value * tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, *, value=1):
    if _amp.on and _amp.applies("addcdiv", input, tensor1, tensor2):
        return _amp.run("addcdiv", addcdiv, input, tensor1, tensor2, value=value)
    return input + value * tensor1 / tensor2



class Fill(Function):
    """Every element set to a constant: no gradient reaches the old values."""

    @staticmethod
    def forward(ctx, a, value):
        value = value._data if isinstance(value, Tensor) else value
        return backend.xp_of(a._data).full_like(a._data, value)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, None


def fill(input, value):
    """A tensor like ``input`` with every element ``value`` (the value of ``fill_``)."""
    return Fill.apply(input, value)


def cast(input, dtype):
    """input converted to ``dtype``; differentiable between floating types."""
    return Cast.apply(input, dtypes.as_dtype(dtype))


def _keep(x):
    return x.copy()


def floor(input):
    x = _tensor("floor", input)._data
    if x.dtype.kind == "c":
        _checks.not_complex("floor", x, "floor is not supported for complex inputs")
    return Floor.apply(input, backend.xp_of(x).floor if x.dtype.kind == "f" else _keep)


def ceil(input):
    x = _tensor("ceil", input)._data
    if x.dtype.kind == "c":
        _checks.not_complex("ceil", x, "ceil is not supported for complex inputs")
    return Ceil.apply(input, backend.xp_of(x).ceil if x.dtype.kind == "f" else _keep)


def round(input, *, decimals=0):
    x = _tensor("round", input)._data
    if x.dtype.kind == "c":
        _checks.not_complex("round", x)
    if x.dtype.kind != "f":
        return Round.apply(input, _keep)
    xp = backend.xp_of(x)
    return Round.apply(input, lambda v: xp.round(v, decimals))


def trunc(input):
    x = _tensor("trunc", input)._data
    if x.dtype.kind == "c":
        _checks.not_complex("trunc", x, "trunc is not supported for complex inputs")
    return Trunc.apply(input, backend.xp_of(x).trunc if x.dtype.kind == "f" else _keep)


def frac(input):
    _checks.not_complex("frac", _tensor("frac", input))
    return input - trunc(input)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    return NanToNum.apply(_tensor("nan_to_num", input), nan, posinf, neginf)


# -- comparisons and logic (no gradient, bool results) ---------------------------------------
def _compare(name, fn):
    def op(input, other):
        return _make(_binary(name, fn, input, other))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` comparison with broadcasting; a bool tensor."
    return op


def _ordering(name, fn):
    """A comparison that needs an order: complex operands are refused, as in PyTorch."""
    def op(input, other):
        return _make(_real_binary(name, fn, input, other))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` comparison with broadcasting; a bool tensor."
    return op


eq = _compare("eq", np.equal)
ne = _compare("ne", np.not_equal)
lt = _ordering("lt", np.less)
le = _ordering("le", np.less_equal)
gt = _ordering("gt", np.greater)
ge = _ordering("ge", np.greater_equal)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)
logical_xor = _compare("logical_xor", np.logical_xor)
bitwise_and = _compare("bitwise_and", np.bitwise_and)
bitwise_or = _compare("bitwise_or", np.bitwise_or)
bitwise_xor = _compare("bitwise_xor", np.bitwise_xor)


def logical_not(input):
    x = _tensor("logical_not", input)._data
    return _make(backend.xp_of(x).logical_not(x))


def bitwise_not(input):
    x = _tensor("bitwise_not", input)._data
    if x.dtype.kind == "f":
        raise TypeError("bitwise_not: not supported for floating point tensors")
    return _make(~x)


def isnan(input):
    x = _tensor("isnan", input)._data
    return _make(backend.xp_of(x).isnan(x))


def isinf(input):
    x = _tensor("isinf", input)._data
    return _make(backend.xp_of(x).isinf(x))


def isfinite(input):
    x = _tensor("isfinite", input)._data
    return _make(backend.xp_of(x).isfinite(x))


def equal(input, other) -> bool:
    """True when both have the same shape and elements."""
    return input.shape == other.shape and bool((input._data == other._data).all())


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    x, y = _operands("isclose", input, other)
    return _make(backend.xp_of(x).isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def _out(result, out):
    if out is None:
        return result
    out._write(result)
    return out


# -- helpers of the ops below ------------------------------------------------------------------
def _arrays(op: str, a, b, float_result: bool = False):
    """a and b as arrays of their result dtype (a Python number becomes a 0-d array on the
    other's device); with ``float_result``, integer and bool operands become the default
    float dtype, each from its own values (as ``div``)."""
    x, y = _operands(op, a, b)
    if float_result and not _is_float(x) and not _is_float(y):
        x, y = _int_to_float(a), _int_to_float(b)
    dt = dtypes.result_type(x, y)
    xp = backend.xp_of(y if type(x) in _SCALARS else x)
    if type(x) in _SCALARS:
        x = xp.full((), x, dt)
    if type(y) in _SCALARS:
        y = xp.full((), y, dt)
    return x.astype(dt, copy=False), y.astype(dt, copy=False)


def _dtype_error(op: str, dt, hint: str) -> NotImplementedError:
    """PyTorch's error for a dtype an op has no kernel for."""
    return NotImplementedError(f"{op}: \"{op}\" not implemented for "
                               f"'{dtypes.from_numpy(dt).name}'; {hint}")


def _floating(op: str, *arrays) -> None:
    """Real floating operands only (complex ones are refused, as in PyTorch)."""
    dt = dtypes.result_type(*arrays)
    _checks.not_complex(op, dt)
    if dt.kind != "f":
        raise _dtype_error(op, dt, "convert the inputs with .float()")


def _integral(op: str, *arrays) -> None:
    dt = dtypes.result_type(*arrays)
    if dt.kind not in "iu":
        raise _dtype_error(op, dt, "it takes integer tensors")


def _zeros(grad):
    return _make(backend.xp_of(grad._data).zeros_like(grad._data))


def _elementwise(op: str, fn, x, y):
    try:
        return fn(x, y)
    except ValueError:
        raise _checks.broadcast_error(op, x, y) from None


# -- inverse trigonometric and hyperbolic functions ------------------------------------------
class Asin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).arcsin(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_times(grad, rsqrt(1 - a * a))


class Acos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).arccos(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_times(-grad, rsqrt(1 - a * a))


class Atan(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).arctan(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_over(grad, a * a + 1)


class Sinh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).sinh(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_times(grad, cosh(a))


class Cosh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).cosh(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_times(grad, sinh(a))


class Asinh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).arcsinh(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_times(grad, rsqrt(a * a + 1))


class Acosh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).arccosh(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        if grad._data.dtype.kind == "c":  # the principal branch: sqrt(z * z - 1) can flip sign
            return grad * _conj(rsqrt(a - 1) * rsqrt(a + 1))
        return grad * rsqrt(a * a - 1)


class Atanh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a._data).arctanh(_float(a._data))

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return _grad_over(grad, 1 - a * a)


def asin(input):
    """Inverse sine; nan outside [-1, 1] (integer inputs give the default float dtype)."""
    if _amp.on and _amp.applies("asin", input):
        return _amp.run("asin", asin, input)
    return Asin.apply(_tensor("asin", input))


def acos(input):
    """Inverse cosine; nan outside [-1, 1]."""
    if _amp.on and _amp.applies("acos", input):
        return _amp.run("acos", acos, input)
    return Acos.apply(_tensor("acos", input))


def atan(input):
    return Atan.apply(_tensor("atan", input))


def sinh(input):
    if _amp.on and _amp.applies("sinh", input):
        return _amp.run("sinh", sinh, input)
    return Sinh.apply(_tensor("sinh", input))


def cosh(input):
    if _amp.on and _amp.applies("cosh", input):
        return _amp.run("cosh", cosh, input)
    return Cosh.apply(_tensor("cosh", input))


def asinh(input):
    return Asinh.apply(_tensor("asinh", input))


def acosh(input):
    """Inverse hyperbolic cosine; nan below 1."""
    return Acosh.apply(_tensor("acosh", input))


def atanh(input):
    """Inverse hyperbolic tangent; ±inf at ±1, nan outside [-1, 1]."""
    return Atanh.apply(_tensor("atanh", input))


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh


# -- more elementwise math ---------------------------------------------------------------------
class Hypot(Function):
    @staticmethod
    def forward(ctx, a, b):
        x, y = _arrays("hypot", a, b)
        ctx.save_for_backward(a, b)
        ctx.save_output()
        return _elementwise("hypot", np.hypot, x, y)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        scale = grad / ctx.saved_output
        return (scale * a if ctx.needs_input_grad[0] else None,
                scale * b if ctx.needs_input_grad[1] else None)


def hypot(input, other):
    """sqrt(input^2 + other^2) without overflow, broadcasting (floating tensors)."""
    _tensor("hypot", input), _checks.tensor_type("hypot", "other", other)
    _floating("hypot", input._data, other._data)
    return Hypot.apply(input, other)


class Copysign(Function):
    @staticmethod
    def forward(ctx, a, b):
        x, y = _arrays("copysign", a, b, float_result=True)
        out = _elementwise("copysign", np.copysign, x, y)
        if ctx.needs_input_grad[0]:
            # d out / d input is out / input: ±1, piecewise constant (0 at input = 0)
            ctx.ratio = backend.xp_of(x).where(x == 0, 0, out / x).astype(out.dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad[:2]
        return grad * _make(ctx.ratio) if need_a else None, _zeros(grad) if need_b else None


def copysign(input, other):
    """The magnitude of ``input`` with the sign of ``other`` (a tensor or a number), as
    floating point; the sign bit counts, so -0.0 is negative."""
    _checks.not_complex("copysign", _tensor("copysign", input))
    _checks.not_complex("copysign", other)
    return Copysign.apply(input, other)


class LogAddExp2(Function):
    @staticmethod
    def forward(ctx, a, b):
        x, y = _arrays("logaddexp2", a, b)
        ctx.save_for_backward(a, b)
        xp = backend.xp_of(x)
        try:
            high = xp.maximum(x, y)
        except ValueError:
            raise _checks.broadcast_error("logaddexp2", x, y) from None
        out = high + xp.log1p(xp.exp2(-xp.abs(x - y))) / math.log(2)
        # equal infinities: inf - inf is nan, but log2(2^inf + 2^inf) is inf (0 for -inf's)
        return xp.where(xp.isinf(x) & (x == y), x, out)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (grad / (1 + exp2(b - a)) if ctx.needs_input_grad[0] else None,
                grad / (1 + exp2(a - b)) if ctx.needs_input_grad[1] else None)


def logaddexp2(input, other):
    """log2(2^input + 2^other) without overflow, broadcasting (floating tensors)."""
    _tensor("logaddexp2", input), _checks.tensor_type("logaddexp2", "other", other)
    _floating("logaddexp2", input._data, other._data)
    return LogAddExp2.apply(input, other)


class Sinc(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        x = _float(a._data)
        xp = backend.xp_of(x)
        px = x * math.pi
        return xp.where(x == 0, 1, xp.sin(px) / px).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        zero = a == 0
        safe = where(zero, 1.0, a)  # no 0/0, even in double backward
        px = safe * math.pi
        slope = (px * cos(px) - sin(px)) / (px * safe)
        # at 0 the slope is 0 and its derivative -pi^2/3 (sinc's Taylor series)
        return _grad_times(grad, where(zero, a * (-math.pi ** 2 / 3), slope))


def sinc(input):
    """sin(pi x) / (pi x), 1 at 0 (the normalized sinc)."""
    return Sinc.apply(_tensor("sinc", input))


class NextAfter(Function):
    @staticmethod
    def forward(ctx, a, b):
        x, y = _arrays("nextafter", a, b)
        out = _elementwise("nextafter", np.nextafter, x, y)
        if ctx.needs_input_grad[0]:
            ctx.moved = x != y  # as PyTorch: the gradient passes where input is not other
        return out

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad[:2]
        return grad * _make(ctx.moved) if need_a else None, _zeros(grad) if need_b else None


def nextafter(input, other):
    """The next representable value after ``input`` towards ``other`` (floating tensors)."""
    _tensor("nextafter", input), _checks.tensor_type("nextafter", "other", other)
    _floating("nextafter", input._data, other._data)
    return NextAfter.apply(input, other)


frexp_result = namedtuple("frexp", ["mantissa", "exponent"])


class Frexp(Function):
    @staticmethod
    def forward(ctx, a):
        xp = backend.xp_of(a._data)
        mantissa, exponent = (xp.asarray(v) for v in xp.frexp(a._data))  # 0-d: not scalars
        if ctx.needs_input_grad[0]:
            ctx.scale = xp.ldexp(mantissa.dtype.type(1), -exponent)
        return mantissa, exponent.astype(np.int32, copy=False)

    @staticmethod
    def backward(ctx, grad, grad_exponent):
        return grad * _make(ctx.scale)


def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2^exponent, |mantissa| in [0.5, 1);
    the exponent is int32."""
    x = _tensor("frexp", input)._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"frexp: torch.frexp() only supports floating-point dtypes, got "
                           f"{dtypes.from_numpy(x.dtype).name}")
    return frexp_result(*Frexp.apply(input))


def ldexp(input, other):
    """input * 2^other, as floating point."""
    _tensor("ldexp", input), _checks.tensor_type("ldexp", "other", other)
    return mul(input, pow(2.0, other))


def rsub(input, other, *, alpha=1):
    """other - alpha * input (``sub`` with the operands swapped)."""
    return sub(other, input, alpha=alpha)


def positive(input):
    """``input`` itself (unary plus); bool tensors are refused, as in PyTorch."""
    if _tensor("positive", input)._data.dtype.kind == "b":
        raise RuntimeError("positive: The `+` operator, on a bool tensor is not supported.")
    return input


fix = trunc


def angle(input):
    """The argument of each element (a real tensor): for real ones pi below zero, else 0,
    and nan stays nan."""
    x = _float(_tensor("angle", input)._data)
    if x.dtype.kind == "c":
        return _cx.angle(input)
    xp = backend.xp_of(x)
    return Sign.apply(input, lambda _: xp.where(x < 0, math.pi, xp.where(x == x, 0, x))
                      .astype(x.dtype, copy=False))


def deg2rad(input):
    _checks.not_complex("deg2rad", _tensor("deg2rad", input),
                        "deg2rad is not supported for complex tensors.", RuntimeError)
    return mul(input, math.pi / 180)


def rad2deg(input):
    _checks.not_complex("rad2deg", _tensor("rad2deg", input),
                        "rad2deg is not supported for complex tensors.", RuntimeError)
    return mul(input, 180 / math.pi)


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def heaviside(input, values):
    """The step function: 0 below zero, 1 above, ``values`` at zero (no gradient)."""
    _tensor("heaviside", input), _checks.tensor_type("heaviside", "values", values)
    _checks.not_complex("heaviside", input, "heaviside is not yet implemented for complex "
                        "tensors.", RuntimeError)
    x, v = input._data, values._data
    if x.dtype != v.dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different "
                           f"dtypes: input {input.dtype.name} vs values {values.dtype.name}")
    _checks.same_device("heaviside", x, v)
    xp = backend.xp_of(x)
    return _make(_elementwise("heaviside", lambda x, v: xp.where(x == 0, v, x > 0), x, v)
                 .astype(x.dtype, copy=False))


# -- integer and bit ops (no gradient) ---------------------------------------------------------
def gcd(input, other):
    """Greatest common divisor, non-negative, of integer tensors (gcd(0, 0) is 0)."""
    _tensor("gcd", input), _checks.tensor_type("gcd", "other", other)
    _integral("gcd", input._data, other._data)
    return _make(_binary("gcd", np.gcd, input, other))


def lcm(input, other):
    """Least common multiple, non-negative, of integer tensors (0 if either is 0)."""
    _tensor("lcm", input), _checks.tensor_type("lcm", "other", other)
    _integral("lcm", input._data, other._data)
    return _make(_binary("lcm", np.lcm, input, other))


def _shift(op: str, a, b, left: bool):
    x, y = _arrays(op, a, b)
    _integral(op, x, y)
    xp = backend.xp_of(x)
    # shifts outside [0, bits) are defined as PyTorch does: 0 to the left, sign fill to the
    # right (C leaves them undefined, so GPUs differ)
    inside = (y >= 0) & (y < 8 * x.dtype.itemsize)
    amount = xp.where(inside, y, 0)
    if left:
        out, outside = _elementwise(op, xp.left_shift, x, amount), 0
    else:
        out = _elementwise(op, xp.right_shift, x, amount)
        outside = 0 if x.dtype.kind == "u" else xp.where(x < 0, -1, 0).astype(x.dtype)
    return _make(xp.where(inside, out, outside).astype(x.dtype, copy=False))


def bitwise_left_shift(input, other):
    """input << other for integers, broadcasting; shifting out every bit gives 0."""
    return _shift("bitwise_left_shift", input, other, left=True)


def bitwise_right_shift(input, other):
    """input >> other (arithmetic) for integers, broadcasting."""
    return _shift("bitwise_right_shift", input, other, left=False)


# -- elementwise predicates (bool results) ------------------------------------------------------
def signbit(input):
    """True where the sign bit is set (so for -0.0, and for nan with the bit set)."""
    x = _tensor("signbit", input)._data
    _checks.not_complex("signbit", x, "signbit is not implemented for complex tensors.")
    xp = backend.xp_of(x)
    return _make(xp.signbit(x) if x.dtype.kind == "f" else x < 0)


def isposinf(input):
    x = _tensor("isposinf", input)._data
    _checks.not_complex("isposinf", x, "isposinf does not support complex inputs.",
                        RuntimeError)
    return _make(x == math.inf if x.dtype.kind == "f" else backend.xp_of(x).zeros_like(x, bool))


def isneginf(input):
    x = _tensor("isneginf", input)._data
    _checks.not_complex("isneginf", x, "isneginf does not support complex inputs.",
                        RuntimeError)
    return _make(x == -math.inf if x.dtype.kind == "f" else backend.xp_of(x).zeros_like(x, bool))


def isreal(input):
    """True where the imaginary part is 0 (everywhere for real tensors)."""
    x = _tensor("isreal", input)._data
    if x.dtype.kind == "c":
        return _make(x.imag == 0)
    return _make(backend.xp_of(x).ones_like(x, bool))


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False):
    """Whether each of ``elements`` occurs in ``test_elements`` (either may be a number);
    nan occurs nowhere."""
    for v in (elements, test_elements):
        if isinstance(v, (bool, np.bool_)) or getattr(v, "dtype", None) == dtypes.bool:
            raise RuntimeError("isin: Unsupported input type encountered for isin(): Bool")
    x, y = _arrays("isin", elements, test_elements)
    xp = backend.xp_of(x)
    return _make(xp.isin(x, y, assume_unique=assume_unique, invert=invert))


# -- in-place values ---------------------------------------------------------------------------
class Compared(Sign):
    """A comparison written into its input's dtype (eq_ and friends): zero gradient."""


def kept_dtype(compare):
    """``compare`` as the value of its in-place form: the result in the input's dtype, in the
    graph with a zero gradient (PyTorch's ``x.eq_(y)``)."""
    def op(input, other):
        result = compare(input, other)._data.astype(input._data.dtype)
        return Compared.apply(input, lambda _: result)
    op.__name__ = compare.__name__
    return op


def _in_place_function(name: str):
    def op(input, *args, **kwargs):
        return getattr(_tensor(name, input), name)(*args, **kwargs)
    op.__name__ = name
    op.__doc__ = f"In-place ``input.{name}(...)``."
    return op


# torch.abs_(x) and friends: the in-place methods, as functions
_IN_PLACE_FUNCTIONS = """abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_
    asin_ asinh_ atan_ atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_
    erf_ erfc_ exp2_ exp_ expm1_ fill_ fix_ floor_ frac_ gcd_ i0_ lcm_ ldexp_ log10_ log1p_
    log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ relu_ round_ rsqrt_
    sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ xlogy_ zero_""".split()
for _name in _IN_PLACE_FUNCTIONS:
    globals()[_name] = _in_place_function(_name)
del _name
