"""The op registry: one OpInfo per op, driving tests/test_ops.py.

Each entry names an ember callable and its PyTorch counterpart, a sample-input generator
(several shapes including broadcasting, non-contiguous views, 0-d and empty tensors, edge
values), which arguments are differentiable, the dtypes to test and error inputs.

Sample arguments are plain data: float64 NumPy arrays become tensors of the dtype under test,
other arrays (int64 indices, bool masks) keep their dtype, everything else (numbers, slices,
lists of ints) is passed as is. Containers (lists, tuples) are converted element by element.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

import ember
from ember.ops import elementwise as EW
from ember.ops import indexing as IX
from ember.ops import linalg as LA
from ember.ops import movement as MV
from ember.ops import nn_ops as NN
from ember.ops import reduce as RD
from ember.ops import special as SP

FLOATS = ("float32",)
INF = float("inf")


@dataclasses.dataclass
class SampleInput:
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    name: str = ""
    noncontig: bool = False   # tensors become transposed / strided views of their storage
    gradcheck: bool = True    # False at kinks and ties, where finite differences are unreliable


@dataclasses.dataclass
class ErrorInput:
    args: tuple
    exc: type
    match: str                # regex the message must contain
    kwargs: dict = dataclasses.field(default_factory=dict)
    torch_exc: type | None = None  # PyTorch's class when it differs (documented divergence)
    names: str | None = None       # the op the message must name (default: the OpInfo's name)


@dataclasses.dataclass
class OpInfo:
    name: str
    op: Callable                        # ember callable
    ref: Callable | None = None         # torch callable; None: ``op`` works on torch tensors too
    samples: Callable = None            # samples(make) -> list[SampleInput]
    grad: bool = True                   # differentiable
    grad_args: tuple | None = None      # positions of differentiable args (None: every float arg)
    dtypes: tuple = FLOATS
    errors: Callable = lambda: []
    atol: float = 1e-5
    rtol: float = 1.3e-5
    grad_atol: float = 1e-4
    grad_rtol: float = 1e-4
    gradcheck: bool = True
    compare_grad: bool = True           # False where PyTorch has no derivative (ember has one)
    double_grad: bool = True            # the backward is itself differentiable


class Maker:
    """Random sample data for one dtype: ``make(3, 4, low=..., high=...)``."""

    def __init__(self, dtype: str, seed: int = 0):
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)

    def __call__(self, *shape, low: float = -3.0, high: float = 3.0, away: float = 0.0,
                 round: bool = False) -> np.ndarray:
        if len(shape) == 1 and isinstance(shape[0], tuple):
            shape = shape[0]
        if self.dtype == "bool":
            return np.asarray(self.rng.random(shape) > 0.5)
        if self.dtype == "uint8":
            low = max(low, 0.0)
        a = self.rng.uniform(low, high, shape)
        if away:  # magnitudes at least ``away`` (divisors, log of |x|)
            a = np.where(np.abs(a) < away, np.copysign(away, a) + a, a)
        if round or self.dtype not in ("float16", "float32", "float64"):
            a = np.round(a)
            if away:
                a = np.where(a == 0, 1.0, a)
        return np.asarray(a, np.float64)

    def index(self, shape, high: int, low: int = 0) -> np.ndarray:
        return self.rng.integers(low, high, shape).astype(np.int64)

    def mask(self, *shape) -> np.ndarray:
        return np.asarray(self.rng.random(shape) > 0.5)

    def distinct(self, *shape) -> np.ndarray:
        """Data without ties (sorting and top-k order are then unique)."""
        n = int(np.prod(shape))
        values = self.rng.permutation(n) - n // 2
        if self.dtype.startswith("float"):
            values = values + self.rng.uniform(-0.4, 0.4, n)
        return values.reshape(shape).astype(np.float64)

    def perm_index(self, shape, dim: int, n: int) -> np.ndarray:
        """Indices without repeats along ``dim`` (scatter writes are then deterministic)."""
        shape = tuple(shape)
        moved = shape[:dim] + shape[dim + 1:] + (shape[dim],)
        rows = [self.rng.permutation(n)[:shape[dim]] for _ in range(int(np.prod(moved[:-1])))]
        return np.moveaxis(np.array(rows).reshape(moved), -1, dim).astype(np.int64)


def S(*args, **kwargs) -> SampleInput:
    meta = {k: kwargs.pop(k) for k in ("name", "noncontig", "gradcheck") if k in kwargs}
    return SampleInput(args, kwargs, **meta)


def E(*args, exc=RuntimeError, match="", torch_exc=None, names=None, **kwargs) -> ErrorInput:
    return ErrorInput(args, exc, match, kwargs, torch_exc, names)


def f64(x) -> np.ndarray:
    return np.asarray(x, np.float64)


# -- sample generators ----------------------------------------------------------------------------
def unary_samples(low=-3.0, high=3.0, away=0.0, edge=None):
    def gen(m):
        out = [S(m(3, 4, low=low, high=high, away=away)),
               S(m((), low=low, high=high, away=away), name="0-d"),
               S(m(0, 3, low=low, high=high, away=away), name="empty"),
               S(m(2, 3, 4, low=low, high=high, away=away), noncontig=True),
               S(m(5, low=low, high=high, away=away), noncontig=True)]
        if edge is not None and m.dtype.startswith("float"):
            out.append(S(f64(edge), name="edge", gradcheck=False))
        return out
    return gen


def binary_samples(low=-3.0, high=3.0, low2=None, high2=None, away2=0.0, scalars=(),
                   round=False, ties=False):
    low2 = low if low2 is None else low2
    high2 = high if high2 is None else high2

    def gen(m):
        a = lambda *s: m(*s, low=low, high=high, round=round)
        b = lambda *s: m(*s, low=low2, high=high2, away=away2, round=round)
        out = [S(a(3, 4), b(3, 4)),
               S(a(3, 1), b(1, 4), name="broadcast"),
               S(a(4), b(2, 3, 4), name="broadcast lead"),
               S(a(()), b(2, 3), name="0-d lhs"),
               S(a(2, 3), b(()), name="0-d rhs"),
               S(a(0, 3), b(1, 3), name="empty"),
               S(a(4, 3), b(4, 3), noncontig=True)]
        out += [S(a(2, 3), s, name=f"scalar {s!r}") for s in scalars]
        if ties:
            x = m(3, 4, low=-2, high=2, round=True)
            out.append(S(x, x.copy() if m.dtype == "bool" else np.flip(x).copy(),
                         name="ties", gradcheck=False))
        return out
    return gen


def reduce_samples(dims=(None, 1, (0, 1), -1), keepdim=True, empty=True, low=-3.0, high=3.0):
    def gen(m):
        x = lambda *s: m(*s, low=low, high=high)
        out = [S(x(3, 4), **({} if d is None else {"dim": d}), name=f"dim={d}") for d in dims]
        if keepdim:
            out += [S(x(3, 4), dim=1, keepdim=True), S(x(2, 3, 4), dim=(0, 2), keepdim=True,
                                                        noncontig=True)]
        out += [S(x(()), name="0-d"), S(x(2, 3, 4), dim=-1, noncontig=True)]
        if empty:
            out += [S(x(0, 3), dim=1, name="empty")]
        return out
    return gen


def _pick(name, *modules):
    for mod in modules:
        if hasattr(mod, name):
            return getattr(mod, name)
    raise AttributeError(name)


def fn(name: str, torch_name: str | None = None):
    """(ember function, torch function) of the same name, looked up lazily."""
    def ember_op(*a, **k):
        return _pick(name, ember, EW, RD, MV, LA, IX)(*a, **k)

    def torch_op(*a, **k):
        import torch
        import torch.nn.functional as F
        return _pick(torch_name or name, torch, F)(*a, **k)
    return ember_op, torch_op


def method(name: str):
    return lambda x, *a, **k: getattr(x, name)(*a, **k)


def set_item(x, index, value):
    y = x.clone()   # a leaf that requires grad cannot be written in place
    y[index] = value
    return y


def inplace(name: str):
    return lambda x, *a, **k: getattr(x.clone(), name)(*a, **k)


# -- error inputs ---------------------------------------------------------------------------------
def _dim_error(op_args=()):
    return lambda: [E(f64(np.ones((2, 3))), *op_args, dim=5, exc=IndexError,
                      match="Dimension out of range")]


def _binary_errors():
    return [E(f64(np.ones((2, 3))), f64(np.ones((4, 5))), match="broadcast|size")]


# -- the registry ---------------------------------------------------------------------------------
op_db: list[OpInfo] = []


def register(*infos: OpInfo) -> None:
    op_db.extend(infos)


# elementwise unary
_UNARY = [
    ("neg", {}, ("float32", "int64")),
    ("abs", {"edge": [0.0, -0.0, 1.5, -2.0]}, ("float32", "int32")),
    ("exp", {"edge": [-100.0, 0.0, 10.0]}, ("float32", "int64")),
    ("log", {"low": 0.1, "high": 4.0, "edge": [1e-30, 1.0, 1e30]}, ("float32", "int64")),
    ("log1p", {"low": -0.9, "high": 4.0, "edge": [-0.999, 1e-8, 0.0]}, FLOATS),
    ("expm1", {"edge": [-30.0, 1e-8, 0.0]}, FLOATS),
    ("sqrt", {"low": 0.1, "high": 4.0, "edge": [1e-12, 1.0, 1e12]}, ("float32", "int64")),
    ("rsqrt", {"low": 0.1, "high": 4.0}, ("float32", "int64")),
    ("sin", {}, ("float32", "int64")),
    ("cos", {}, FLOATS),
    ("tanh", {"edge": [-50.0, 0.0, 50.0]}, ("float32", "int64")),
    ("sigmoid", {"edge": [-1e4, -100.0, 0.0, 100.0, 1e4]}, ("float32", "int64")),
    ("relu", {"edge": [-1.0, 0.0, 2.0]}, ("float32", "int64")),
]
for _name, _kw, _dtypes in _UNARY:
    register(OpInfo(_name, method(_name), samples=unary_samples(**_kw), dtypes=_dtypes))

register(
    OpInfo("sign", method("sign"), samples=unary_samples(edge=[0.0, -1.0, 2.0]), grad=False,
           dtypes=("float32", "int64", "int8")),
    OpInfo("floor", method("floor"), samples=unary_samples(), grad=False),
    OpInfo("logical_not", method("logical_not"), samples=unary_samples(), grad=False,
           dtypes=("bool", "float32", "int64")),
    OpInfo("square", method("square"), samples=unary_samples()),
    OpInfo("neg_op", lambda x: -x, samples=unary_samples()),
    OpInfo("abs_op", lambda x: abs(x), samples=unary_samples()),
    OpInfo("clamp", method("clamp"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4), -1.0, 1.0), S(m(3, 4), min=0.5), S(m(3, 4), max=-0.5),
        S(m(()), -1, 1, name="0-d"), S(m(0, 2), 0, 1, name="empty"),
        S(m(4, 3), -1.0, 0.5, noncontig=True),
        S(f64([-1.0, 0.0, 1.0, 2.0]), 0.0, 1.0, name="boundaries", gradcheck=False)],
        errors=lambda: [E(f64([1.0]), match="min.*max")]),
    OpInfo("clamp_tensor", method("clamp"), samples=lambda m: [
        S(m(3, 4), m(3, 4, low=-2, high=-0.5), m(1, 4, low=0.5, high=2)),
        S(m(3, 4), m(4, low=-1, high=0)), S(m(3, 4), None, m(3, 1, low=0, high=1))]),
)

# elementwise binary
_BINARY = [
    ("add", {"scalars": (2, 1.5, True)}, ("float32", "int64", "int32", "bool"), True),
    ("sub", {"scalars": (2, 1.5)}, ("float32", "int64"), True),
    ("mul", {"scalars": (2, -0.5, False)}, ("float32", "int64", "bool"), True),
    ("div", {"away2": 0.5, "scalars": (2, 0.25)}, ("float32", "int64"), True),
    ("maximum", {"ties": True}, ("float32", "int64"), True),
    ("minimum", {"ties": True}, ("float32", "int64"), True),
    ("remainder", {"low2": 0.5, "high2": 3.0, "scalars": (2, 1.5)}, ("float32", "int64"), True),
    ("floor_divide", {"away2": 0.6, "scalars": (2,)}, ("float32", "int64"), False),
    ("fmod", {"away2": 0.5, "scalars": (2, 1.5)}, ("float32", "int64"), True),
]
for _name, _kw, _dtypes, _grad in _BINARY:
    register(OpInfo(_name, method(_name), samples=binary_samples(**_kw), dtypes=_dtypes,
                    grad=_grad, errors=_binary_errors))
register(
    OpInfo("pow", method("pow"), samples=lambda m: binary_samples(low=0.5, high=2.0)(m) + [
        S(m(3, 4), 2), S(m(3, 4), 3.0), S(m(3, 4, low=0.5, high=2), -1.5), S(m(3, 4), 0),
        S(m(3, 4, low=0.5, high=2), 0.5)], dtypes=("float32", "int64")),
    OpInfo("pow_zero_base", method("pow"), samples=lambda m: [
        S(f64([0.0, 1.0, 2.0]), f64([2.0, 3.0, 0.5]), gradcheck=False),
        S(f64([0.0, 0.0, 2.0]), f64([0.0, 2.0, 0.0]), name="zero exponent", gradcheck=False)]),
    OpInfo("atan2", fn("atan2")[0], fn("atan2")[1], samples=binary_samples(away2=0.5),
           dtypes=("float32", "int64")),
    OpInfo("nan_to_num", fn("nan_to_num")[0], fn("nan_to_num")[1],
           dtypes=("float32", "int64"), samples=lambda m: unary_samples()(m) + ([
               S(f64([np.nan, INF, -INF, 1.5]), name="non-finite", gradcheck=False),
               S(f64([np.nan, INF, -INF]), nan=1.0, posinf=2.0, neginf=-2.0,
                 name="replacements", gradcheck=False)] if m.dtype == "float32" else [])),
    OpInfo("add_alpha", lambda x, y: x.add(y, alpha=2), samples=binary_samples()),
    OpInfo("sub_alpha", lambda x, y: x.sub(y, alpha=0.5), samples=binary_samples()),
    OpInfo("lerp", method("lerp"), samples=lambda m: [
        S(m(3, 4), m(3, 4), 0.3), S(m(3, 1), m(1, 4), m(3, 4, low=0, high=1)),
        S(m(()), m(2, 3), 0.75), S(m(4, 3), m(4, 3), m(4, 3), noncontig=True)]),
    OpInfo("where", fn("where")[0], fn("where")[1], dtypes=("float32", "int64"),
           samples=lambda m: [
               S(m.mask(3, 4), m(3, 4), m(3, 4)), S(m.mask(3, 1), m(1, 4), m(3, 4)),
               S(m.mask(3, 4), m(3, 4), 0.0 if m.dtype == "float32" else 0, name="scalar"),
               S(m.mask(2, 3), m(()), m(2, 3), name="0-d"),
               S(m.mask(0, 3), m(0, 3), m(0, 3), name="empty"),
               S(m.mask(4, 3), m(4, 3), m(4, 3), noncontig=True),
               S(m.mask(2, 3), 1.0, 0.0, name="two floats"),
               S(m.mask(2, 3), 1, 0, name="two ints"),
               S(m.mask(2, 3), 1, 0.5, name="int and float")],
           errors=lambda: [E(f64([1.0, 0.0]), f64([1.0, 2.0]), f64([3.0, 4.0]),
                             match="where.*bool"),
                           E(np.array([True, False]), f64([1.0, 2.0]), f64([1.0, 2, 3]),
                             match="where")]),
)

# operators with Python scalars on either side
_SCALAR_OPS = {
    "radd": (lambda x: 2 + x, lambda x: 1.5 + x),
    "rsub": (lambda x: 2 - x, lambda x: 1.5 - x),
    "rmul": (lambda x: 3 * x, lambda x: 0.5 * x),
    "rtruediv": (lambda x: 2 / x, lambda x: 1.5 / x),
    "truediv": (lambda x: x / 2, lambda x: x / 0.5),
    "floordiv": (lambda x: x // 2, lambda x: x // 0.75),
    "rfloordiv": (lambda x: 7 // x, lambda x: 7.5 // x),
    "mod": (lambda x: x % 2, lambda x: x % 1.5),
    "rmod": (lambda x: 5 % x, lambda x: 5.5 % x),
    "pow_scalar": (lambda x: x ** 2, lambda x: x ** 0.5),
    "rpow": (lambda x: 2 ** x, lambda x: 1.5 ** x),
}
for _name, (_int_op, _float_op) in _SCALAR_OPS.items():
    _grad = "floordiv" not in _name
    _low = 0.5 if _name in ("rtruediv", "rfloordiv", "rmod", "pow_scalar") else -3.0
    _kw = dict(samples=unary_samples(low=_low, high=3.0), dtypes=("float32", "int64"),
               grad=_grad, compare_grad=_name != "rmod")
    register(OpInfo(f"{_name}_int", _int_op, **_kw), OpInfo(f"{_name}_float", _float_op, **_kw))
register(
    OpInfo("div_int_by_int", lambda x, y: x / y, dtypes=("int64", "int32", "uint8"), grad=False,
           samples=binary_samples(low=0.0, high=5.0, low2=1.0, high2=4.0)),
    OpInfo("div_trunc", lambda x, y: x.div(y, rounding_mode="trunc"), grad=False,
           dtypes=("float32", "int64"), samples=binary_samples(away2=0.7)),
    OpInfo("div_floor", lambda x, y: x.div(y, rounding_mode="floor"), grad=False,
           dtypes=("float32", "int64"), samples=binary_samples(away2=0.7)),
)

# comparisons and logic: bool results, no gradient
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    register(OpInfo(_name, method(_name), grad=False, dtypes=("float32", "int64", "bool"),
                    samples=binary_samples(round=True, scalars=(1, 0.5)),
                    errors=_binary_errors))
for _name, _op in (("op_eq", lambda x, y: x == y), ("op_lt", lambda x, y: x < y),
                   ("op_ge", lambda x, y: x >= y), ("op_ne", lambda x, y: x != y)):
    register(OpInfo(_name, _op, grad=False, dtypes=("float32", "int64"),
                    samples=binary_samples(round=True, scalars=(1, 2.5))))
for _name in ("logical_and", "logical_or", "logical_xor"):
    register(OpInfo(_name, method(_name), grad=False, dtypes=("bool", "float32", "int64"),
                    samples=binary_samples(round=True)))
register(
    OpInfo("bitwise_and_op", lambda x, y: x & y, grad=False, dtypes=("bool", "int64"),
           samples=binary_samples(round=True)),
    OpInfo("bitwise_or_op", lambda x, y: x | y, grad=False, dtypes=("bool", "int64"),
           samples=binary_samples(round=True)),
    OpInfo("invert_op", lambda x: ~x, grad=False, dtypes=("bool", "int64"),
           samples=unary_samples()),
    OpInfo("isnan", method("isnan"), grad=False,
           samples=lambda m: [S(f64([0.0, math.nan, INF, -INF]))]),
    OpInfo("isinf", method("isinf"), grad=False,
           samples=lambda m: [S(f64([0.0, math.nan, INF, -INF]))]),
)

# more elementwise math (ember.ops.elementwise and ember.ops.special)
_NEG = [-0.0, -1.0, -2.5]
_UNARY_MATH = [
    ("asin", {"low": -0.95, "high": 0.95, "edge": [-1.0, 1.0, 0.0, 1.5]}, ("float32", "int64")),
    ("acos", {"low": -0.95, "high": 0.95, "edge": [-1.0, 1.0, 0.0, -1.5]}, ("float32", "bool")),
    ("atan", {"edge": [-INF, INF, 0.0, 1e10]}, ("float32", "int64")),
    ("sinh", {"edge": [-100.0, 0.0, 100.0, 1e-8]}, ("float32", "int64")),
    ("cosh", {"edge": [-100.0, 0.0, 100.0]}, ("float32", "int64")),
    ("asinh", {"edge": [-1e10, 0.0, 1e10, -INF]}, ("float32", "int64")),
    ("acosh", {"low": 1.1, "high": 4.0, "edge": [1.0, 0.5, 1e10, INF]}, ("float32", "int64")),
    ("atanh", {"low": -0.9, "high": 0.9, "edge": [-1.0, 1.0, 0.0, 1.5]}, ("float32", "int64")),
    ("sinc", {"edge": [0.0, 1.0, -2.0, 1e-8, INF]}, ("float32", "int64", "bool")),
    ("deg2rad", {}, ("float32", "int64", "bool")),
    ("rad2deg", {}, ("float32", "int64")),
    ("erfc", {"edge": [-30.0, 30.0, 0.0, 5.0, -INF, INF]}, ("float32", "int64")),
    ("erfinv", {"low": -0.95, "high": 0.95, "edge": [-1.0, 1.0, 0.0, 1.5, 0.9999]},
     ("float32", "int64")),
    ("lgamma", {"low": 0.2, "high": 6.0, "edge": [0.0, 1.0, 2.0, -2.5, -1.0, INF, -INF]},
     ("float32", "int64", "bool")),
    ("digamma", {"low": 0.2, "high": 6.0, "edge": [0.0, -0.0, -2.5, 1.0, INF, -INF]},
     ("float32", "int64")),
    ("i0", {"edge": [0.0, 30.0, -30.0, 800.0, INF, -INF]}, ("float32", "int64")),
    ("logit", {"low": 0.05, "high": 0.95, "edge": [0.0, 1.0, 0.5, -1.0, 2.0]},
     ("float32", "int64")),
]
for _name, _kw, _dtypes in _UNARY_MATH:
    register(OpInfo(_name, method(_name), samples=unary_samples(**_kw), dtypes=_dtypes))


def _special_ref(name: str):
    """(ember.ops.special.<name>, torch.special.<name>), for the functions of torch.special
    only."""
    def torch_op(*a, **k):
        import torch
        return getattr(torch.special, name)(*a, **k)
    return getattr(SP, name), torch_op


register(*[OpInfo(_name, *_special_ref(_name), dtypes=("float32", "int64"),
                  samples=unary_samples(edge=[0.0, 1e-9, -1e-9, 30.0, -30.0, INF, -INF]))
           for _name in ("i0e", "i1", "i1e")])

register(
    OpInfo("polygamma", lambda x, n: ember.polygamma(n, x), lambda x, n: x.polygamma(n),
           dtypes=("float32", "int64"), samples=lambda m: [
               S(m(3, 4, low=0.3, high=5.0), n) for n in (0, 1, 2, 3)] + [
               S(m((), low=0.3, high=5.0), 1, name="0-d"), S(m(0, 2), 2, name="empty"),
               ] + ([  # negative integers are poles: PyTorch is finite at n = 1 there
               S(m(4, 3, low=-3.0, high=-0.1), 1, noncontig=True, name="negative"),
               S(m(5, low=-3.0, high=-0.1), 2, noncontig=True, name="negative"),
               S(f64([0.0, -2.5, INF, -INF, 1e-3, 1e4]), 1, name="edge", gradcheck=False),
               S(f64([0.0, -1.0, -2.5, -INF, 1e-3, 1e4]), 2, name="edge", gradcheck=False)]
               if m.dtype == "float32" else []),
           errors=lambda: [E(f64([1.0]), -1, match="negative n"),
                           E(f64([1.0]), 1.0, exc=TypeError, match="must be int")]),
    OpInfo("mvlgamma", method("mvlgamma"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4, low=1.6, high=6.0), 1), S(m(3, 4, low=1.6, high=6.0), 3),
        S(m((), low=2.0, high=6.0), 2, name="0-d"), S(m(4, 3, low=2, high=5), 4, noncontig=True)],
           errors=lambda: [E(f64([3.0]), 0, match="p has to be")]),
    OpInfo("logit_eps", lambda x, eps: x.logit(eps), samples=lambda m: [
        S(m(3, 4, low=-0.5, high=1.5), 0.1, gradcheck=False), S(m(3, 4, low=0.2, high=0.8), 0.1),
        S(m(5, low=0.2, high=0.8), -1.0, noncontig=True, name="negative eps")]),
    OpInfo("fix", method("fix"), samples=unary_samples(), grad=False, dtypes=("float32", "int64")),
    OpInfo("sgn", method("sgn"), samples=unary_samples(edge=[0.0, -0.0, -1.0, 2.0]),
           dtypes=("float32", "int64", "bool"), compare_grad=False),  # torch: a ZeroTensor
    OpInfo("positive", method("positive"), samples=unary_samples(), dtypes=("float32", "int64"),
           errors=lambda: [E(np.array([True, False]), match="bool")]),
    OpInfo("angle", method("angle"), samples=unary_samples(edge=[-1.0, 0.0, -0.0, -INF]),
           dtypes=("float32", "int64")),
    OpInfo("frexp", method("frexp"), samples=unary_samples(
        edge=[0.0, -0.0, 1.0, -0.75, 1e-40, 1e30, INF, -INF]),
           errors=lambda: [E(np.array([1, 2]), match="floating-point")]),
    OpInfo("signbit", method("signbit"), grad=False, dtypes=("float32", "int64", "uint8", "bool"),
           samples=unary_samples(edge=[-0.0, 0.0, -1.0, INF, -INF])),
    OpInfo("isposinf", method("isposinf"), grad=False, dtypes=("float32", "int64"),
           samples=unary_samples(edge=[INF, -INF, 0.0, 1e38])),
    OpInfo("isneginf", method("isneginf"), grad=False, dtypes=("float32", "int64"),
           samples=unary_samples(edge=[INF, -INF, 0.0, -1e38])),
    OpInfo("isreal", method("isreal"), grad=False, dtypes=("float32", "int64", "bool"),
           samples=unary_samples()),
)

_BINARY_MATH = [
    ("hypot", {}, ("float32",), True),
    ("copysign", {"scalars": (-1, 2.5, -0.0)}, ("float32", "int64", "bool"), True),
    ("logaddexp2", {"low": -20.0, "high": 20.0}, ("float32",), True),
    ("nextafter", {}, ("float32",), True),
    ("xlogy", {"low2": 0.1, "high2": 4.0, "scalars": (2, 0.5)}, ("float32", "int64"), True),
    ("arctan2", {"away2": 0.5}, ("float32",), True),
    ("heaviside", {"round": True, "ties": True}, ("float32", "int64", "bool"), False),
]
for _name, _kw, _dtypes, _grad in _BINARY_MATH:
    register(OpInfo(_name, method(_name), samples=binary_samples(**_kw), dtypes=_dtypes,
                    grad=_grad, errors=lambda n=_name: [
                        E(f64(np.ones((2, 3))), f64(np.ones((4, 5))), match="broadcast|size",
                          names="atan2" if n == "arctan2" else n)]))
for _name in ("gcd", "lcm"):
    register(OpInfo(_name, method(_name), grad=False, dtypes=("int64", "int32", "uint8"),
                    samples=binary_samples(round=True), errors=lambda: [
                        E(np.ones((2, 3), np.int64), np.ones((4, 5), np.int64), match="broadcast"),
                        E(f64([4.0]), f64([6.0]), exc=NotImplementedError, match="Float|float32")]))

register(
    OpInfo("xlogy_edges", fn("xlogy")[0], fn("xlogy")[1], samples=lambda m: [
        S(f64([0.0, 0.0, 0.0, 1.0, -1.0, 2.0]), f64([0.0, math.nan, -1.0, 0.0, INF, -1.0]),
          gradcheck=False),
        S(2.0, m(3, 4, low=0.1, high=3.0), name="scalar input")]),
    OpInfo("logaddexp2_edges", fn("logaddexp2")[0], fn("logaddexp2")[1], samples=lambda m: [
        S(f64([INF, -INF, INF, 1.0, -INF]), f64([INF, -INF, -INF, math.nan, 3.0]),
          gradcheck=False)]),
    OpInfo("hypot_edges", fn("hypot")[0], fn("hypot")[1], samples=lambda m: [
        S(f64([3e38, INF, 0.0, math.nan, -3.0]), f64([3e38, math.nan, 0.0, INF, 4.0]),
          gradcheck=False)], errors=lambda: [
        E(np.array([1, 2]), np.array([3, 4]), exc=NotImplementedError, match="Long|int64",
          names="hypot"),
        E(f64([1.0]), 2.0, exc=TypeError, match="must be Tensor", names="hypot")]),
    OpInfo("ldexp", method("ldexp"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4), m(3, 4)), S(m(3, 1), m(1, 4, round=True)), S(m(()), m(2, 3), name="0-d"),
        S(m(4, 3), m(4, 3), noncontig=True)]),
    # PyTorch's gradient is wrong for integer exponents (2^other in integers: 0 below zero)
    OpInfo("ldexp_int_exponent", method("ldexp"), compare_grad=False, samples=lambda m: [
        S(m(3, 4), m.index((3, 4), 6, -6)), S(m(2, 3), m.index((3,), 4), name="broadcast"),
        S(m(2), np.array([200, -200]), name="overflow", gradcheck=False)]),
    OpInfo("rsub", fn("rsub")[0], fn("rsub")[1], dtypes=("float32", "int64"),
           samples=lambda m: binary_samples()(m) + [S(m(3, 4), 2), S(m(3, 4), m(3, 4), alpha=2)]),
    OpInfo("clamp_min", method("clamp_min"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4), 0.5), S(m(3, 4), m(1, 4)), S(m(()), -1, name="0-d"),
        S(m(4, 3), m(4, 3), noncontig=True)]),
    OpInfo("clamp_max", method("clamp_max"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4), 0.5), S(m(3, 4), m(3, 1)), S(m(4, 3), m(4, 3), noncontig=True)]),
    OpInfo("igamma", method("igamma"), grad_args=(1,), atol=1e-5, rtol=1e-4, samples=lambda m: [
        S(m(3, 4, low=0.1, high=6), m(3, 4, low=0.1, high=8)),
        S(m(3, 1, low=0.5, high=30), m(1, 4, low=0.5, high=40), name="broadcast"),
        S(m((), low=0.5, high=3), m(2, 3, low=0.5, high=3), name="0-d"),
        S(m(4, 3, low=0.5, high=3), m(4, 3, low=0.5, high=3), noncontig=True),
        S(f64([0.0, 0.0, 1.0, INF, 1.0, -1.0, 2.0]), f64([1.0, 0.0, 0.0, 1.0, INF, 1.0, -1.0]),
          name="edge", gradcheck=False)],
           errors=lambda: [E(np.array([1, 2]), np.array([3, 4]), exc=NotImplementedError,
                             match="Long|int64")]),
    OpInfo("igammac", method("igammac"), grad_args=(1,), atol=1e-5, rtol=1e-4,
           samples=lambda m: [
               S(m(3, 4, low=0.1, high=6), m(3, 4, low=0.1, high=8)),
               S(m(3, 1, low=0.5, high=30), m(1, 4, low=0.5, high=40), name="broadcast"),
               S(f64([0.0, 1.0, INF, 1.0]), f64([1.0, 0.0, 1.0, INF]), name="edge",
                 gradcheck=False)]),
    OpInfo("isin", fn("isin")[0], fn("isin")[1], grad=False, dtypes=("float32", "int64"),
           samples=lambda m: [
               S(m(3, 4, round=True), m(5, round=True)), S(m(3, 4, round=True), 1),
               S(2, m(5, round=True), name="scalar elements"),
               S(m(3, 4, round=True), m(2, 2, round=True), invert=True),
               S(m(0, 2), m(3), name="empty")],
           errors=lambda: [E(np.array([True]), np.array([True]), match="Bool")]),
    OpInfo("bitwise_left_shift", method("bitwise_left_shift"), grad=False,
           dtypes=("int64", "int32", "uint8"), samples=lambda m: [
               S(m(3, 4, round=True), m(3, 4, low=0, high=6, round=True)),
               S(m(3, 4, round=True), 3), S(m(2, 3, round=True), m(3, low=0, high=3, round=True)),
               S(m(4), np.array([0, 7, 8, 70]), name="wide shifts")],
           errors=lambda: [E(f64([1.0]), 2, exc=NotImplementedError, match="Float|float32")]),
    OpInfo("bitwise_right_shift", method("bitwise_right_shift"), grad=False,
           dtypes=("int64", "int32", "uint8"), samples=lambda m: [
               S(m(3, 4, round=True), m(3, 4, low=0, high=6, round=True)),
               S(m(3, 4, round=True), 1), S(m(4), np.array([0, 7, 8, 70]), name="wide shifts")]),
    OpInfo("lshift_op", lambda x, y: x << y, grad=False, dtypes=("int64", "int32"),
           samples=lambda m: [S(m(3, 4, round=True), 2)]),
    OpInfo("rrshift_op", lambda x: 64 >> x, grad=False, dtypes=("int64",),
           samples=lambda m: [S(m(3, 4, low=0, high=8, round=True))]),
    OpInfo("bitwise_and", method("bitwise_and"), grad=False, dtypes=("int64", "bool"),
           samples=binary_samples(round=True)),
    OpInfo("bitwise_not", method("bitwise_not"), grad=False, dtypes=("int64", "bool", "uint8"),
           samples=unary_samples()),
)

# their in-place forms (on a clone, so the gradient flows to the original)
register(*[OpInfo(f"{_name}_", inplace(f"{_name}_"), samples=_samples)
           for _name, _samples in [
               ("asin", lambda m: [S(m(3, 4, low=-0.9, high=0.9))]),
               ("sinh", lambda m: [S(m(3, 4))]), ("sin", lambda m: [S(m(3, 4))]),
               ("lgamma", lambda m: [S(m(3, 4, low=0.5))]),
               ("erfinv", lambda m: [S(m(3, 4, low=-0.9, high=0.9))]),
               ("logit", lambda m: [S(m(3, 4, low=0.1, high=0.9)), S(m(3, 4), 0.2)]),
               ("polygamma", lambda m: [S(m(3, 4, low=0.5), 1)]),
               ("hypot", lambda m: [S(m(3, 4), m(3, 4)), S(m(3, 4), m(4))]),
               ("copysign", lambda m: [S(m(3, 4), m(1, 4)), S(m(3, 4), -1.0)]),
               ("xlogy", lambda m: [S(m(3, 4), m(3, 4, low=0.1)), S(m(3, 4), 2)]),
               ("clamp_min", lambda m: [S(m(3, 4), 0.5), S(m(3, 4), m(3, 4))]),
               ("eq", lambda m: [S(m(3, 4, round=True), 1.0)]),
               ("gt", lambda m: [S(m(3, 4), m(3, 4))]),
               ("frac", lambda m: [S(m(3, 4))]), ("square", lambda m: [S(m(3, 4))]),
               ("reciprocal", lambda m: [S(m(3, 4, away=0.5))]),
           ]],
         OpInfo("sgn_", inplace("sgn_"), samples=lambda m: [S(m(3, 4))], compare_grad=False),
         OpInfo("float_power_", lambda x, e: x.double().clone().float_power_(e),
                samples=lambda m: [S(m(3, 4, low=0.5), 2), S(m(3, 4, low=0.5), m(4))]))


# matmul family
register(
    OpInfo("matmul", method("matmul"), atol=1e-4, rtol=1e-4, dtypes=("float32", "int64"),
           samples=lambda m: [
               S(m(3), m(3), name="1-D @ 1-D"), S(m(2, 3), m(3), name="2-D @ 1-D"),
               S(m(3), m(3, 4), name="1-D @ 2-D"), S(m(2, 3), m(3, 4), name="2-D"),
               S(m(2, 2, 3), m(3, 4), name="batched @ 2-D"),
               S(m(3), m(2, 3, 4), name="1-D @ batched"),
               S(m(2, 1, 2, 3), m(5, 3, 2), name="batch broadcast"),
               S(m(0, 3), m(3, 2), name="empty"), S(m(2, 0), m(0, 3), name="empty inner"),
               S(m(2, 4), m(4, 3), noncontig=True)],
           errors=lambda: [
               E(f64(np.ones((2, 3))), f64(np.ones((4, 5))), match=r"matmul.*\(2, 3\).*\(4, 5\)"),
               E(f64(1.0), f64(np.ones(3)), match="matmul.*dimension"),
               E(f64(np.ones((2, 2, 3))), f64(np.ones((3, 3, 2))), match="matmul.*batch")]),
    OpInfo("matmul_op", lambda x, y: x @ y, atol=1e-4, rtol=1e-4,
           samples=lambda m: [S(m(2, 3), m(3, 4)), S(m(4), m(4))]),
    OpInfo("mm", method("mm"), atol=1e-4, rtol=1e-4,
           samples=lambda m: [S(m(2, 3), m(3, 4)), S(m(2, 3), m(3, 4), noncontig=True),
                              S(m(0, 3), m(3, 1), name="empty")],
           errors=lambda: [E(f64(np.ones((2, 2, 3))), f64(np.ones((3, 2))), match="mm.*2-D"),
                           E(f64(np.ones((2, 3))), f64(np.ones((2, 3))), match="mm")]),
    OpInfo("bmm", method("bmm"), atol=1e-4, rtol=1e-4,
           samples=lambda m: [S(m(2, 2, 3), m(2, 3, 4)),
                              S(m(2, 3, 4), m(2, 4, 2), noncontig=True)],
           errors=lambda: [E(f64(np.ones((2, 3))), f64(np.ones((3, 2))), match="bmm.*3-D"),
                           E(f64(np.ones((2, 2, 3))), f64(np.ones((3, 3, 2))), match="bmm")]),
    OpInfo("dot", method("dot"), atol=1e-4, rtol=1e-4, dtypes=("float32", "int64"),
           samples=lambda m: [S(m(5), m(5)), S(m(4), m(4), noncontig=True), S(m(0), m(0))],
           errors=lambda: [E(f64(np.ones((2, 3))), f64(np.ones(3)), match="dot.*1D"),
                           E(f64(np.ones(3)), f64(np.ones(4)), match="dot|inner")]),
    OpInfo("outer", method("outer"), dtypes=("float32", "int64"),
           samples=lambda m: [S(m(3), m(4)), S(m(4), m(2), noncontig=True), S(m(0), m(2))],
           errors=lambda: [E(f64(np.ones((2, 3))), f64(np.ones(3)), match="outer")]),
)

_EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]), ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (2,)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]), ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("ijk,k->ij", [(2, 3, 4), (4,)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("i...->...", [(2, 3, 4)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ik,jk->", [(2, 3), (4, 3)]), ("ij,kl->ijkl", [(2, 2), (2, 1)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->j", [(2, 2, 3)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]), ("ab,cb->", [(2, 3), (1, 3)]),
    ("i->", [(0,)]), ("ij,ij->", [(2, 1), (1, 3)]), ("iji->j", [(2, 3, 2)]),
    ("b...c,b...c->b", [(2, 3, 1, 2), (2, 1, 4, 2)]), ("Ab,bC->AC", [(2, 3), (3, 2)]),
]
register(OpInfo(
    "einsum", lambda *a: LA.einsum(*a), lambda *a: __import__("torch").einsum(*a),
    atol=1e-4, rtol=1e-4, grad_args=None,
    samples=lambda m: [S(eq, *(m(*s) for s in shapes), name=eq) for eq, shapes in _EINSUM] + [
        S("ij,jk->ik", m(2, 4), m(4, 3), noncontig=True)],
    errors=lambda: [
        E("ij,jk->ik", f64(np.ones((2, 3))), match="einsum.*fewer operands"),
        E("ij->ik", f64(np.ones((2, 3))), match="einsum.*output subscript k"),
        E("ijk->ik", f64(np.ones((2, 3))), match="einsum.*number of subscripts"),
        E("ij,jk->ik", f64(np.ones((2, 3))), f64(np.ones((4, 2))), match="einsum.*size 4"),
        E("ij->ii", f64(np.ones((2, 2))), match="einsum.*more than once"),
        E("i1->i", f64(np.ones((2, 2))), match="einsum.*invalid subscript"),
        E("i,i->", f64(np.ones(2)), f64(np.ones(2)), f64(np.ones(2)),
          match="einsum.*more operands")]))

# reductions
register(
    OpInfo("sum", method("sum"), atol=1e-5, rtol=1e-5,
           dtypes=("float32", "int32", "int64", "bool", "uint8"),
           samples=lambda m: reduce_samples()(m) + [S(m(3, 4), dim=(), name="dim=()"),
                                                    S(m(3, 4), dim=[0, 1], name="list")],
           errors=_dim_error()),
    OpInfo("sum_dtype", lambda x: x.sum(dtype=ember.float64) if isinstance(x, ember.Tensor)
           else x.sum(dtype=__import__("torch").float64), samples=lambda m: [S(m(3, 4)), S(m(()))],
           dtypes=("float32", "int32")),
    OpInfo("mean", method("mean"), samples=reduce_samples(),
           errors=lambda: [E(np.ones((2, 3), np.int64), match="mean.*dtype"),
                           *_dim_error()()]),
    OpInfo("prod", method("prod"), dtypes=("float32", "int32"), atol=1e-4, rtol=1e-4,
           samples=lambda m: [
               S(m(3, 4, low=0.5, high=1.5)), S(m(3, 4), 1), S(m(3, 4), dim=-1, keepdim=True),
               S(m(()), name="0-d"), S(m(0, 3), 0, name="empty"),
               S(m(4, 3), 0, noncontig=True),
               S(f64([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [2.0, 3.0, 4.0]]), 1, name="zeros")],
           errors=_dim_error()),
    OpInfo("max", method("max"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), 1), S(m(3, 4), dim=0, keepdim=True),
        S(m(2, 3, 4), -1, noncontig=True), S(m(()), name="0-d"), S(m(()), 0, name="0-d dim"),
        S(m(0, 3), 1, name="empty"),
        S(f64([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), name="ties", gradcheck=False)],
        errors=lambda: [E(f64(np.ones((0, 3))), match="max.*numel"),
                        E(f64(np.ones((0, 3))), 0, match="max.*non-zero size",
                          exc=IndexError), *_dim_error()()]),
    OpInfo("min", method("min"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), 1), S(m(3, 4), dim=-1, keepdim=True),
        S(m(2, 3, 4), 0, noncontig=True), S(m(()), name="0-d")],
        errors=_dim_error()),
    OpInfo("max_binary", lambda x, y: x.max(y), samples=binary_samples()),
    OpInfo("amax", method("amax"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), 1), S(m(3, 4), (0, 1), keepdim=True),
        S(m(2, 3, 4), (0, 2), noncontig=True), S(m(()), name="0-d"),
        S(f64([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), 1, name="ties", gradcheck=False)],
        errors=_dim_error()),
    OpInfo("amin", method("amin"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), -1, keepdim=True), S(m(2, 3, 4), (1, 2), noncontig=True),
        S(f64([[1.0, 1.0, 3.0], [2.0, 2.0, 0.0]]), name="ties", gradcheck=False)]),
    OpInfo("argmax", method("argmax"), grad=False, dtypes=("float32", "int64"),
           samples=lambda m: [S(m(3, 4)), S(m(3, 4), 1), S(m(3, 4), dim=0, keepdim=True),
                              S(m(2, 3, 4), -1, noncontig=True), S(m(()), name="0-d"),
                              S(m(3, 0), 0, name="empty, non-empty dim")],
           errors=lambda: _dim_error()() + [
               E(f64(np.ones((3, 0))), 1, exc=IndexError, match="non-zero size")]),
    OpInfo("argmin", method("argmin"), grad=False, dtypes=("float32", "int64"),
           samples=lambda m: [S(m(3, 4)), S(m(3, 4), 1, keepdim=True),
                              S(m(2, 3, 4), 0, noncontig=True)]),
    OpInfo("var", method("var"), atol=1e-5, rtol=1e-4, samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), 1), S(m(3, 4), dim=(0, 1), keepdim=True),
        S(m(3, 4), 1, unbiased=False), S(m(3, 4), dim=0, correction=0),
        S(m(3, 4), dim=1, correction=2), S(m(2, 3, 4), -1, noncontig=True),
        S(m(1, 3), 0, name="one sample", gradcheck=False)],
        errors=_dim_error()),
    OpInfo("std", method("std"), atol=1e-5, rtol=1e-4, samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), 1), S(m(3, 4), dim=1, unbiased=False, keepdim=True),
        S(m(3, 4), dim=(0, 1), correction=0), S(m(2, 3, 4), -1, noncontig=True)]),
    OpInfo("nansum", fn("nansum")[0], fn("nansum")[1], dtypes=("float32", "int64", "bool"),
           samples=lambda m: reduce_samples(dims=(None, 1))(m) + ([
               S(f64([[1.0, np.nan], [np.nan, 2.0]]), 1, name="nan", gradcheck=False)]
               if m.dtype == "float32" else [])),
    OpInfo("count_nonzero", fn("count_nonzero")[0], fn("count_nonzero")[1], grad=False,
           dtypes=("float32", "bool"), samples=lambda m: [
               S(m(3, 4)), S(m(3, 4), 1), S(m(2, 3, 4), (0, 2)),
               S(m(3, 4), dim=(), name="dim=()")]),
    OpInfo("norm", method("norm"), atol=1e-5, rtol=1e-4, samples=lambda m: [
        S(m(3, 4), dim=(), name="dim=()"), S(m(3, 4)),
        S(m(3, 4), dim=1), S(m(3, 4), p=1), S(m(3, 4), p=INF, dim=1),
        S(m(3, 4), p=3, dim=0, keepdim=True), S(m(3, 4), p=-INF), S(m(3, 4), p=0, dim=1),
        S(m(2, 3, 4), dim=(1, 2), noncontig=True), S(m(()), name="0-d"),
        S(f64([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]]), dim=1, name="zero row", gradcheck=False)]),
    OpInfo("logsumexp", method("logsumexp"), atol=1e-5, rtol=1e-5, samples=lambda m: [
        S(m(3, 4), 1), S(m(3, 4), (0, 1)), S(m(3, 4), -1, keepdim=True),
        S(m(2, 3, 4), 0, noncontig=True), S(m(()), 0, name="0-d"),
        S(f64([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]), 1, name="large", gradcheck=False),
        S(f64([[-INF, -INF], [0.0, -INF]]), 1, name="-inf", gradcheck=False),
        S(m(3, 0), -1, name="empty dim"), S(m(0, 3), 1, keepdim=True, name="empty batch")],
        errors=_dim_error()),
    OpInfo("all", method("all"), grad=False, dtypes=("bool", "float32", "int64"),
           samples=reduce_samples(dims=(None, 1, -1))),
    OpInfo("any", method("any"), grad=False, dtypes=("bool", "float32", "uint8"),
           samples=reduce_samples(dims=(None, 0))),
    OpInfo("cumsum", method("cumsum"), dtypes=("float32", "int32", "bool"), samples=lambda m: [
        S(m(3, 4), 0), S(m(3, 4), -1), S(m(2, 3, 4), 1, noncontig=True),
        S(m(()), 0, name="0-d"), S(m(0, 3), 1, name="empty")],
        errors=lambda: [E(f64(np.ones((2, 3))), 5, exc=IndexError, match="cumsum.*out of range")]),
    OpInfo("cumprod", method("cumprod"), dtypes=("float32", "int32", "bool"), double_grad=False,
           samples=lambda m: [
        S(m(3, 4), 0), S(m(3, 4), -1), S(m(2, 3, 4), 1, noncontig=True),
        S(m(()), 0, name="0-d"), S(m(0, 3), 1, name="empty"),
        S(f64([[2.0, 0.0, 3.0, 0.5], [0.0, 0.0, 1.5, 2.0]]), 1, name="zeros")],
        errors=lambda: [E(f64(np.ones((2, 3))), 5, exc=IndexError, match="cumprod.*out of range")]),
    OpInfo("cumprod_dtype", lambda x, d: x.cumprod(d, dtype=x.double().dtype),
           dtypes=("float32", "int32"), double_grad=False,
           samples=lambda m: [S(m(3, 4), 1), S(m(()), 0)]),
)

# shape and movement
register(
    OpInfo("reshape", method("reshape"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4), 4, 3), S(m(3, 4), (2, -1)), S(m(3, 4), [12]), S(m(()), 1, 1, name="0-d"),
        S(m(1), (), name="to 0-d"), S(m(0, 3), 3, 0, name="empty"),
        S(m(4, 3), -1, noncontig=True)],
        errors=lambda: [E(f64(np.ones((2, 3))), 4, 2, match="reshape.*invalid"),
                        E(f64(np.ones((2, 3))), -1, -1, match="reshape.*one dimension")]),
    OpInfo("view", method("view"), samples=lambda m: [
        S(m(3, 4), 4, 3), S(m(3, 4), -1), S(m(2, 3, 4), 6, 4), S(m(()), 1)],
        errors=lambda: [E(f64(np.ones((2, 3))), 4, match="view.*invalid")]),
    OpInfo("view_noncontig_error", lambda x: x.t().view(-1), samples=lambda m: [],
           errors=lambda: [E(f64(np.ones((2, 3))), match="view.*reshape", names="view")]),
    OpInfo("flatten", method("flatten"), samples=lambda m: [
        S(m(2, 3, 4)), S(m(2, 3, 4), 1), S(m(2, 3, 4), 0, 1), S(m(()), name="0-d"),
        S(m(2, 3, 4), start_dim=1, noncontig=True), S(m(2, 0, 3), name="empty")],
        errors=lambda: [E(f64(np.ones((2, 3, 4))), 2, 1, match="flatten")]),
    OpInfo("unflatten", method("unflatten"), samples=lambda m: [
        S(m(2, 12), 1, (3, 4)), S(m(6, 2), 0, (2, -1)), S(m(4, 6), -1, (2, 3), noncontig=True)],
        errors=lambda: [E(f64(np.ones((2, 6))), 1, (4, 2), match="unflatten.*multiply")]),
    OpInfo("squeeze", method("squeeze"), samples=lambda m: [
        S(m(3, 1, 4, 1)), S(m(3, 1, 4), 1), S(m(3, 1, 4), 0), S(m(1, 1, 4), (0, 1)),
        S(m(()), name="0-d"), S(m(1, 4, 1), -1, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 1))), 3, exc=IndexError, match="squeeze")]),
    OpInfo("unsqueeze", method("unsqueeze"), samples=lambda m: [
        S(m(3, 4), 0), S(m(3, 4), -1), S(m(3, 4), 1), S(m(()), 0, name="0-d"),
        S(m(4, 3), 2, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 4))), 3, exc=IndexError, match="unsqueeze")]),
    OpInfo("transpose", method("transpose"), samples=lambda m: [
        S(m(3, 4), 0, 1), S(m(2, 3, 4), -1, 0), S(m(2, 3, 4), 1, 1),
        S(m(2, 3, 4), 0, 2, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 4))), 0, 2, exc=IndexError, match="transpose")]),
    OpInfo("permute", method("permute"), samples=lambda m: [
        S(m(2, 3, 4), 2, 0, 1), S(m(2, 3, 4), (1, 0, 2)), S(m(2, 3, 4), [-1, -2, -3]),
        S(m(2, 3, 4), 1, 2, 0, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 4))), 0, match="permute.*dims"),
                        E(f64(np.ones((3, 4))), 0, 0, match="permute.*repeated")]),
    OpInfo("t", method("t"), samples=lambda m: [
        S(m(3, 4)), S(m(4)), S(m(())), S(m(4, 3), noncontig=True)],
        errors=lambda: [E(f64(np.ones((2, 3, 4))), match="t\\(\\)")]),
    OpInfo("T", lambda x: x.T, samples=lambda m: [S(m(3, 4)), S(m(2, 3, 4)), S(m(4))]),
    OpInfo("mT", lambda x: x.mT, samples=lambda m: [S(m(3, 4)), S(m(2, 3, 4))]),
    OpInfo("expand", method("expand"), samples=lambda m: [
        S(m(3, 1), 3, 4), S(m(3, 1), (2, 3, 5)), S(m(3, 1), -1, 2), S(m(()), 2, 3, name="0-d"),
        S(m(4, 1), 2, 4, 3, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 2))), 3, 4, match="expand.*size"),
                        E(f64(np.ones((3, 2))), 2, match="expand.*number of sizes")]),
    OpInfo("expand_as", method("expand_as"), grad_args=(0,), samples=lambda m: [
        S(m(3, 1), m(2, 3, 4))]),
    OpInfo("repeat", method("repeat"), samples=lambda m: [
        S(m(2, 3), 2, 2), S(m(2, 3), (1, 2, 1)), S(m(3), 2, 3), S(m(()), 3, name="0-d"),
        S(m(3, 2), 2, 1, noncontig=True), S(m(2, 3), 0, 1, name="zero")],
        errors=lambda: [E(f64(np.ones((2, 3))), 2, match="repeat")]),
    OpInfo("tile", method("tile"), samples=lambda m: [
        S(m(2, 3), (2,)), S(m(2, 3), (2, 1, 2)), S(m(3, 2), (3, 2), noncontig=True)]),
    OpInfo("flip", method("flip"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4), 0), S(m(3, 4), (0, 1)), S(m(2, 3, 4), [-1]), S(m(()), (), name="0-d"),
        S(m(()), -1, name="0-d dim -1"),
        S(m(4, 3), 1, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 4))), 2, exc=IndexError, match="flip")]),
    OpInfo("diagonal", method("diagonal"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), 1), S(m(3, 4), -2), S(m(3, 4), 9, name="offset past the end"),
        S(m(2, 3, 4), 0, 2, 1), S(m(2, 3, 4), -1, -1, 0, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 4))), 0, 1, 1, match="diagonal.*identical"),
                        E(f64(np.ones((3, 4))), 0, 0, 2, exc=IndexError, match="diagonal")]),
    OpInfo("roll", method("roll"), samples=lambda m: [
        S(m(3, 4), 1, 1), S(m(3, 4), -2, 0), S(m(3, 4), 5), S(m(3, 4), (1, 2), (0, 1)),
        S(m(4, 3), 2, 0, noncontig=True)]),
    OpInfo("cat", lambda ts, *a, **k: ember.cat(ts, *a, **k),
           lambda ts, *a, **k: __import__("torch").cat(ts, *a, **k),
           dtypes=("float32", "int64"), samples=lambda m: [
               S([m(2, 3), m(1, 3)]), S([m(2, 3), m(2, 1), m(2, 2)], 1),
               S([m(2, 3), m(2, 3)], dim=-1), S([m(3)], 0),
               S([m(2, 3), m(0)], 0, name="legacy empty"),
               S([m(0, 3), m(2, 3)], 0, name="empty"), S([m(4, 3), m(4, 3)], 1, noncontig=True)],
           errors=lambda: [E([f64(np.ones((2, 3))), f64(np.ones((2, 4)))], match="cat.*sizes"),
                           E([], exc=ValueError, match="cat"),
                           E([f64(1.0), f64(2.0)], match="cat.*zero-dim")]),
    OpInfo("stack", lambda ts, *a, **k: ember.stack(ts, *a, **k),
           lambda ts, *a, **k: __import__("torch").stack(ts, *a, **k), samples=lambda m: [
               S([m(2, 3), m(2, 3)]), S([m(2, 3), m(2, 3), m(2, 3)], 1),
               S([m(3), m(3)], -1), S([m(()), m(())], name="0-d"),
               S([m(4, 3), m(4, 3)], 2, noncontig=True)],
           errors=lambda: [E([f64(np.ones((2, 3))), f64(np.ones((3, 2)))],
                             match="stack.*equal size")]),
    OpInfo("split", method("split"), samples=lambda m: [
        S(m(5, 3), 2), S(m(5, 3), [1, 4]), S(m(3, 6), 4, 1), S(m(3, 6), [2, 0, 4], dim=1),
        S(m(6, 4), 3, 1, noncontig=True)],
        errors=lambda: [E(f64(np.ones((5, 3))), [2, 2], match="split.*sum")]),
    OpInfo("chunk", method("chunk"), samples=lambda m: [
        S(m(5, 3), 2), S(m(6, 3), 3), S(m(3, 5), 2, 1), S(m(2, 3), 5),
        S(m(6, 4), 2, 1, noncontig=True)],
        errors=lambda: [E(f64(np.ones((5, 3))), 0, match="chunk")]),
    OpInfo("unbind", method("unbind"), samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), 1), S(m(2, 3, 4), -1, noncontig=True)]),
    OpInfo("narrow", method("narrow"), samples=lambda m: [
        S(m(5, 3), 0, 1, 3), S(m(5, 3), 1, 0, 2), S(m(5, 3), -1, -2, 2), S(m(5, 3), 0, 5, 0),
        S(m(4, 6), 1, 2, 3, noncontig=True)],
        errors=lambda: [E(f64(np.ones((5, 3))), 0, 3, 4, exc=IndexError, match="narrow",
                          torch_exc=RuntimeError)]),
    OpInfo("pad", lambda x, *a, **k: MV.pad_constant(x, *a, **k),
           lambda x, *a, **k: __import__("torch").nn.functional.pad(x, *a, **k),
           samples=lambda m: [
               S(m(2, 3), (1, 2)), S(m(2, 3), (1, 1, 2, 0)), S(m(2, 3), (0, 1), value=1.5),
               S(m(2, 3, 4), (2, 1, 0, 0, 1, 1)), S(m(2, 5), (-1, 2), name="crop"),
               S(m(4, 3), (1, 1, 1, 1), noncontig=True)],
           errors=lambda: [E(f64(np.ones((2, 3))), (1, 2, 3), match="pad")]),
)

# indexing with gradient
register(
    OpInfo("getitem", lambda x, idx: x[idx], dtypes=("float32", "int64"), samples=lambda m: [
        S(m(4, 5), 1, name="int"), S(m(4, 5), -1, name="negative int"),
        S(m(4, 5), (slice(1, None, 2), slice(None, None, 3)), name="steps"),
        S(m(4, 5), (None, 1, Ellipsis), name="None ..."), S(m(2, 3, 4), (Ellipsis, 0)),
        S(m(4, 5), np.array([0, 2, 2]), name="int tensor, repeated"),
        S(m(4, 5), [3, 0], name="list"), S(m(4, 5), ([0, 1], [2, 4]), name="two lists"),
        S(m(4, 5), (slice(None), np.array([[0, 1], [4, 4]])), name="2-D index"),
        S(m(4, 5), m.mask(4, 5), name="bool mask"), S(m(4, 5), m.mask(4), name="row mask"),
        S(m(4, 5), (1, slice(None), None), name="int then None"),
        S(m(()), (), name="0-d"), S(m(()), None, name="0-d None"),
        S(m(5, 4), (slice(1, 4), 2), noncontig=True),
        S(m(0, 3), (slice(None), 1), name="empty"),
        S(m(3, 4, 5), (0, slice(None), [0, 1]), name="int before list"),
        S(m(3, 4, 5), (1, Ellipsis, np.array([0, 4])), name="int ... tensor"),
        S(m(3, 4, 5), (0, None, [1, 2]), name="int None list"),
        S(m(3, 4, 5), ([0, 1], slice(None), [0, 1]), name="separated lists"),
        S(m(3, 4, 5), [[0, 1], [1, 2]], name="list of lists is a tuple"),
        S(m(3, 4, 5), [slice(None), 1], name="list with a slice"),
        S(m(3, 4), True, name="True"), S(m(3, 4), (False, 1), name="False, int")],
        errors=lambda: [E(f64(np.ones((3, 4))), 5, exc=IndexError, match="index.*5",
                          names="index"),
                        E(f64(np.ones((3, 4))), (0, 0, 0), exc=IndexError, match="index",
                          names="index")]),
    OpInfo("setitem", set_item, dtypes=("float32", "int64"), samples=lambda m: [
        S(m(4, 5), 1, m(5), name="int"), S(m(4, 5), (slice(None), 2), 0.5, name="scalar"),
        S(m(4, 5), (slice(0, 4, 2), slice(1, 3)), m(2, 2), name="steps"),
        S(m(4, 5), np.array([0, 3]), m(1, 5), name="int tensor"),
        S(m(4, 5), m.mask(4, 5), 0.0, name="mask"),
        S(m(4, 5), (Ellipsis, 1), m(()), name="0-d value"),
        S(m(5, 4), (slice(1, 3),), m(4), noncontig=True),
        S(m(3, 4, 5), (0, slice(None), [0, 1]), m(4, 2), name="int before list")],
        errors=lambda: [E(f64(np.ones((3, 4))), 0, f64(np.ones(3)), match="shape|broadcast")]),
    OpInfo("gather", method("gather"), dtypes=("float32", "int64"), grad_args=(0,),
           samples=lambda m: [
               S(m(3, 4), 1, m.index((3, 2), 4)), S(m(3, 4), 0, m.index((5, 4), 3)),
               S(m(3, 4), -1, m.index((2, 3), 4), name="smaller index"),
               S(m(()), 0, np.array(0), name="0-d"),
               S(m(4), 0, np.array(2), name="0-d index"),
               S(m(()), 0, np.array([0, 0]), name="0-d input"),
               S(m(3, 4), 0, np.zeros((0, 4), np.int64), name="empty"),
               S(m(4, 3), 1, m.index((4, 3), 3), noncontig=True)],
           errors=lambda: [
               E(f64(np.ones((3, 4))), 1, np.zeros((3, 2), np.int16), match="gather.*int64"),
               E(f64(np.ones((3, 4))), 0, np.array([[5]]), match="gather.*out of bounds"),
               E(f64(np.ones((3, 4))), 0, np.array([0]), match="gather.*same number of dim"),
               E(f64(np.ones((3, 4))), 1, np.zeros((4, 1), np.int64), match="gather.*Size"),
               E(f64(np.ones((3, 4))), 2, np.zeros((3, 1), np.int64), exc=IndexError,
                 match="gather")]),
    OpInfo("scatter", method("scatter"), grad_args=(0, 3), samples=lambda m: [
        S(m(3, 4), 1, m.perm_index((3, 2), 1, 4), m(3, 2)),
        S(m(3, 4), 1, m.perm_index((3, 3), 1, 4), 1.5, name="value"),
        S(m(4, 3), 0, m.perm_index((4, 3), 0, 4), m(4, 3), noncontig=True)],
        errors=lambda: [
            E(f64(np.ones((3, 4))), 0, np.zeros((1, 4), np.int64),
              np.ones((1, 4), np.float16), match="scatter.*dtype"),
            E(f64(np.ones((3, 4))), 0, np.array([[7]]), 1.0, match="scatter.*out of bounds")]),
    # PyTorch's backward rejects a src larger than index; ember pads the gradient with zeros
    OpInfo("scatter_bigger_src", method("scatter"), grad_args=(0, 3), compare_grad=False,
           samples=lambda m: [S(m(3, 4), 0, m.perm_index((2, 4), 0, 3), m(3, 5))]),
    OpInfo("scatter_add_bigger_src", method("scatter_add"), grad_args=(0, 3),
           compare_grad=False, samples=lambda m: [S(m(3, 4), 0, m.index((2, 4), 3), m(3, 4))]),
    OpInfo("scatter_value_kw", lambda x, d, i, v: x.scatter(d, i, value=v),
           samples=lambda m: [S(m(3, 4), 1, m.perm_index((3, 2), 1, 4), -2.0)]),
    OpInfo("scatter_reduce_add", lambda x, d, i, s: x.scatter(d, i, s, reduce="add"),
           grad=False, samples=lambda m: [
               S(m(3, 4), 1, m.index((3, 5), 4), m(3, 5)),
               S(m(3, 4), 0, m.index((2, 4), 3), 2.0, name="value")]),
    OpInfo("scatter_reduce_multiply", lambda x, d, i, s: x.scatter(d, i, s, reduce="multiply"),
           grad=False, samples=lambda m: [
               S(m(3, 4), 1, m.index((3, 5), 4), m(3, 5)),
               S(m(3, 4), 0, m.index((2, 4), 3), 2.0, name="value")]),
    OpInfo("scatter_add", method("scatter_add"), grad_args=(0, 3), atol=1e-5, rtol=1e-5,
           samples=lambda m: [
               S(m(3, 4), 1, m.index((3, 6), 4), m(3, 6), name="repeated"),
               S(m(()), 0, np.array(0), m(()), name="0-d"),
               S(m(4), 0, np.array(1), m(()), name="0-d index"),
               S(m(4, 3), 0, m.index((4, 3), 4), m(4, 3), noncontig=True)],
           errors=lambda: [E(f64(np.ones((3, 4))), 0, np.zeros((2, 2), np.int64),
                             f64(np.ones((1, 1))), match="scatter_add.*src")]),
    OpInfo("index_select", method("index_select"), dtypes=("float32", "int64"),
           grad_args=(0,), samples=lambda m: [
               S(m(4, 3), 0, np.array([0, 3, 3, 1])), S(m(4, 3), 1, np.array([2])),
               S(m(4, 3), -1, np.array([], np.int64), name="empty index"),
               S(m(4, 3), 0, np.array(2), name="0-d index"),
               S(m(4, 3), 0, np.array([1, 0], np.int32), name="int32 index"),
               S(m(5, 4), 1, np.array([3, 0]), noncontig=True)],
           errors=lambda: [
               E(f64(np.ones((3, 4))), 0, np.array([[0]]), exc=IndexError,
                 match="index_select.*vector"),
               E(f64(np.ones((3, 4))), 0, np.array([5]), exc=IndexError,
                 match="index_select.*out of range"),
               E(f64(np.ones((3, 4))), 0, f64([0.0]), match="index_select.*dtype")]),
    OpInfo("index_add", IX.index_add, fn("index_add")[1], grad_args=(0, 3), samples=lambda m: [
        S(m(4, 3), 0, np.array([0, 3, 3]), m(3, 3)), S(m(4, 3), 1, np.array([2]), m(4, 1)),
        S(m(4, 3), 0, np.array([1, 2]), m(2, 3), alpha=2.5, name="alpha"),
        S(m(5, 4), 1, np.array([3, 0]), m(5, 2), noncontig=True)],
        errors=lambda: [
            E(f64(np.ones((3, 3))), 0, np.array([0, 1]), f64(np.ones((1, 3))),
              match="index_add.*Number of indices"),
            E(f64(np.ones((3, 3))), 0, np.array([5]), f64(np.ones((1, 3))),
              match="index_add.*out of bounds")]),
    OpInfo("index_fill", method("index_fill"), grad_args=(0,), dtypes=("float32", "int64"),
           samples=lambda m: [
               S(m(4, 3), 0, np.array([0, 3, 3]), -1.0), S(m(4, 3), 1, np.array([-1]), 2),
               S(m(5, 4), 1, np.array([3, 0]), 0.5, noncontig=True)],
           errors=lambda: [
               E(f64(np.ones((3, 3))), 0, np.array([5]), 1.0, exc=IndexError,
                 match="index_fill.*out of bounds"),
               E(f64(np.ones((3, 3))), 0, np.array([0], np.int32), 1.0, exc=IndexError,
                 match="index_fill.*int64")]),
    OpInfo("index_fill_tensor_value", method("index_fill"), grad_args=(0, 3),
           samples=lambda m: [S(m(4, 3), 0, np.array([0, 0, 2]), m(()))]),
    OpInfo("masked_fill", method("masked_fill"), dtypes=("float32", "int64", "bool"),
           grad_args=(0,), samples=lambda m: [
               S(m(3, 4), m.mask(3, 4), -1.0 if m.dtype == "float32" else 1),
               S(m(3, 4), m.mask(4), 2, name="broadcast mask"),
               S(m(3, 4), m.mask(2, 3, 4), 0, name="broadcast input"),
               S(m(()), np.array(True), 5, name="0-d"),
               S(m(4, 3), m.mask(4, 3), 1, noncontig=True)],
           errors=lambda: [
               E(f64(np.ones((3, 3))), np.ones((3, 3), np.uint8), 1.0,
                 match="masked_fill.*boolean"),
               E(f64(np.ones((3, 3))), np.ones(3, bool), f64([1.0]),
                 match="masked_fill.*0-dimensional"),
               E(f64(np.ones((3, 3))), np.ones(2, bool), 1.0, match="masked_fill")]),
    OpInfo("masked_fill_tensor_value", method("masked_fill"), grad_args=(0, 2),
           samples=lambda m: [S(m(3, 4), m.mask(3, 4), m(()))]),
    OpInfo("masked_select", method("masked_select"), dtypes=("float32", "int64"),
           grad_args=(0,), samples=lambda m: [
               S(m(3, 4), m.mask(3, 4)), S(m(3, 4), m.mask(4), name="broadcast mask"),
               S(m(4), m.mask(3, 4), name="broadcast input"), S(m(()), np.array(True)),
               S(m(4, 3), m.mask(4, 3), noncontig=True)],
           errors=lambda: [E(f64(np.ones((3, 3))), f64(np.ones((3, 3))),
                             match="masked_select.*[Bb]ool"),
                           E(f64(np.ones((3, 3))), np.ones((2, 3), bool),
                             match="masked_select|size")]),
    OpInfo("take_along_dim", method("take_along_dim"), grad_args=(0,), samples=lambda m: [
        S(m(3, 4), m.index((3, 2), 4), 1), S(m(3, 4), m.index((1, 4), 3), 0),
        S(m(3, 4), np.array([0, 5, 11, 5])), S(m(3, 4), np.array([[-1], [0], [-4]]), 1),
        S(m(3, 1), m.index((3, 2), 1), 0, name="broadcast input"),
        S(m(4, 3), m.index((4, 2), 3), 1, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 3))), np.array([[0]], np.int32), 1,
                          match="take_along_dim.*Long"),
                        E(f64(np.ones((3, 3))), np.array([0]), 1,
                          match="take_along_dim.*same number")]),
    OpInfo("nonzero", method("nonzero"), grad=False, dtypes=("float32", "int64", "bool"),
           samples=lambda m: [S(m(3, 4, round=True)), S(m(5, round=True)),
                              S(m((), round=True)), S(m(0, 3)),
                              S(m(3, 4, round=True), as_tuple=True),
                              S(m(4, 3, round=True), noncontig=True)]),
    OpInfo("sort", method("sort"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m.distinct(3, 5)), S(m.distinct(3, 5), 0), S(m.distinct(3, 5), descending=True),
        S(m.distinct(3, 5), dim=0, descending=True),
        S(m(()), name="0-d"), S(m(0, 3), name="empty"),
        S(m.distinct(4, 5), 1, noncontig=True),
        S(m(3, 6, round=True), stable=True, name="stable ties", gradcheck=False),
        S(m(3, 6, round=True), stable=True, descending=True, name="stable ties desc",
          gradcheck=False),
        *([S(f64([3.0, math.nan, -1.0, INF]), name="nan", gradcheck=False)]
          if m.dtype.startswith("float") else [])],
        errors=lambda: [E(f64(np.ones((3, 3))), 2, exc=IndexError, match="sort")]),
    OpInfo("argsort", method("argsort"), grad=False, dtypes=("float32", "int64"),
           samples=lambda m: [S(m.distinct(3, 5)), S(m.distinct(3, 5), 0, True),
                              S(m.distinct(3, 5), descending=True),
                              S(m(3, 6, round=True), stable=True, name="stable ties"),
                              S(m.distinct(4, 5), 1, noncontig=True)]),
    OpInfo("topk", method("topk"), dtypes=("float32", "int64"), samples=lambda m: [
        S(m.distinct(3, 5), 2), S(m.distinct(3, 5), 3, 0),
        S(m.distinct(3, 5), 2, largest=False), S(m.distinct(3, 5), 5, -1),
        S(m.distinct(3, 5), 0), S(m(()), 1, name="0-d"),
        S(m.distinct(4, 5), 2, 1, noncontig=True)],
        errors=lambda: [E(f64(np.ones((3, 3))), 4, match="topk.*k out of range"),
                        E(f64(np.ones((3, 3))), 1, 2, exc=IndexError, match="topk")]),
    OpInfo("one_hot", lambda x, *a: IX.one_hot(x, *a),
           lambda x, *a: __import__("torch").nn.functional.one_hot(x, *a), grad=False,
           dtypes=("int64",), samples=lambda m: [
               S(np.array([0, 2, 1])), S(np.array([[0, 2], [1, 1]]), 4), S(np.array(2), 3),
               S(np.zeros(0, np.int64), 3)],
           errors=lambda: [
               E(np.array([0, 1], np.int32), match="one_hot.*LongTensor"),
               E(np.array([0, -1]), match="one_hot.*non-negative"),
               E(np.array([0, 3]), 2, match="one_hot.*smaller than num_classes"),
               E(np.zeros(0, np.int64), match="one_hot.*empty")]),
)

# in-place ops (on a clone, so the gradient flows to the original)
register(
    OpInfo("add_", inplace("add_"), samples=lambda m: [
        S(m(3, 4), m(3, 4)), S(m(3, 4), m(4)), S(m(3, 4), 2.5), S(m(3, 4), m(4), alpha=2)],
        errors=lambda: [E(f64(np.ones((3,))), f64(np.ones((2, 3))), match="add_.*shape")]),
    OpInfo("sub_", inplace("sub_"), samples=lambda m: [S(m(3, 4), m(3, 1)), S(m(3, 4), 1)]),
    OpInfo("mul_", inplace("mul_"), samples=lambda m: [S(m(3, 4), m(3, 4)), S(m(3, 4), -2)]),
    OpInfo("div_", inplace("div_"), samples=lambda m: [S(m(3, 4), m(3, 4, away=0.5)),
                                                       S(m(3, 4), 4)]),
    OpInfo("clamp_", inplace("clamp_"), samples=lambda m: [S(m(3, 4), -1, 1),
                                                           S(m(3, 4), min=0.0)]),
    OpInfo("copy_", inplace("copy_"), samples=lambda m: [S(m(3, 4), m(3, 4)), S(m(3, 4), m(4))]),
    OpInfo("int_add_", lambda x, y: x.clone().add_(y), grad=False, dtypes=("int64",),
           samples=lambda m: [S(m(3, 4), m(3, 4))],
           errors=lambda: [E(np.ones(3, np.int64), f64(np.ones(3)) + 0.5,
                             match="add_.*can't be cast", names="add_")]),
)

# softmax family (numerically stable: finite for logits of magnitude 1e4). Their backward
# returns arrays (once differentiable), so double backward is not compared.
for _name in ("softmax", "log_softmax"):
    register(OpInfo(
        _name, lambda x, d, _f=getattr(NN, _name): _f(x, d),
        lambda x, d, _n=_name: getattr(__import__("torch"), _n)(x, d),
        samples=lambda m: [
            S(m(3, 4), 1), S(m(3, 4), 0), S(m(2, 3, 4), -1, noncontig=True), S(m(()), 0),
            S(m(0, 3), 1, name="empty"),
            S(f64([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [5e3, 5e3, -5e3]]), 1, name="1e4",
              gradcheck=False),
            S(f64([[-INF, 0.0, 1.0]]), 1, name="-inf", gradcheck=False)],
        errors=lambda: [E(f64(np.ones((2, 3))), 2, exc=IndexError, match="softmax")],
        double_grad=False))
