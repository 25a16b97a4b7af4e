"""The elementwise math beyond tests/op_db.py's float32 parity: float64 accuracy of the special
functions (ember's own NumPy kernels, no SciPy) against PyTorch, integer-to-float rules, the
in-place forms (values, version counters, autograd, views, dtype errors), error inputs, and
the fake cuda device."""
from __future__ import annotations

import math
import operator
import sys

import numpy as np
import pytest

import ember
from ember.backend import special as kernels
from ember.ops import special as SP


INF, NAN = math.inf, math.nan




def _assert_close(ours, theirs, rtol=1e-12, atol=0.0):
    ours = ours.detach().numpy() if isinstance(ours, ember.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy(force=True) if hasattr(theirs, "detach") else \
        np.asarray(theirs)  # force: PyTorch's ZeroTensor gradients
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


def _grid(rng, low, high, n=400, edges=()):
    return np.concatenate([rng.uniform(low, high, n), np.asarray(edges, np.float64)])


# -- float64 accuracy against PyTorch -----------------------------------------------------------
POLES = [0.0, -0.0, -1.0, -2.0, -2.5, 1.0, 2.0, 1e-300, 1e300, INF, -INF, NAN]
UNARY_F64 = {  # name: (sample ranges and edges, rtol, atol)
    "erfc": ([(-6, 6), (-30, 30)], [0.0, 0.84375, 1.25, 1 / 0.35, 27.0, 28.0, INF, -INF, NAN],
             1e-14, 0.0),
    "erfinv": ([(-1, 1), (0.999999, 1)], [0.0, -0.0, 1.0, -1.0, 1.5, 1 - 2 ** -53, 1e-300, NAN],
               1e-14, 0.0),
    "lgamma": ([(-20, 20), (0, 1e6)], POLES + [0.5, -0.5, 1e-320], 1e-13, 1e-14),
    "digamma": ([(-20, 20), (0, 1e6)], [0.0, -0.0, -3.0, 1.0, 1e-300, INF, -INF, NAN],
                1e-12, 1e-14),
    "i0": ([(-30, 30), (-700, 700)], [0.0, 20.0, -20.0, 710.0, INF, -INF, NAN], 1e-14, 0.0),
}


@pytest.mark.parametrize("name", sorted(UNARY_F64))
def test_special_functions_float64_match_torch(torch, rng, name):
    ranges, edges, rtol, atol = UNARY_F64[name]
    x = np.concatenate([_grid(rng, lo, hi, 300) for lo, hi in ranges] + [np.asarray(edges)])
    _assert_close(getattr(ember, name)(ember.tensor(x)), getattr(torch, name)(torch.tensor(x)),
                  rtol, atol)


@pytest.mark.parametrize("name", ["i0e", "i1", "i1e"])
def test_bessel_functions_float64_match_torch_special(torch, rng, name):
    x = _grid(rng, -40, 40, 400, [0.0, -0.0, 20.0, 1e-8, 500.0, -500.0, INF, -INF, NAN])
    _assert_close(getattr(SP, name)(ember.tensor(x)),
                  getattr(torch.special, name)(torch.tensor(x)), 1e-14)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_polygamma_float64_matches_torch(torch, rng, n):
    x = _grid(rng, -8, 12, 300, [0.0, -0.0, 1e-3, 1e4, 1e8, -INF, NAN])
    if n >= 2:  # PyTorch's n = 1 kernel is finite at the negative integers and 0 at inf
        x = np.append(x, [-1.0, -2.0, INF])
    # PyTorch's own trigamma is good to 5e-10 (ours 5e-16 against mpmath)
    _assert_close(ember.polygamma(n, ember.tensor(x)), torch.polygamma(n, torch.tensor(x)),
                  1e-9 if n == 1 else 1e-11, 1e-14)


def test_polygamma_at_negative_integers_is_a_pole():
    # PyTorch's trigamma gives large finite values there (1.29e15 at -1.0 in float32)
    out = ember.polygamma(1, ember.tensor([-1.0, -3.0], dtype=ember.float64))
    assert np.isposinf(out.numpy()).all()
    assert np.isnan(ember.digamma(ember.tensor([-1.0, -4.0])).numpy()).all()


def test_incomplete_gamma_float64(torch, rng):
    a = np.concatenate([10 ** rng.uniform(-2, 3, 300), [0.0, 0.0, 1.0, INF, 1.0, -1.0, INF, 2.0]])
    x = np.concatenate([a[:300] * rng.uniform(0.3, 2.0, 300),
                        [1.0, 0.0, 0.0, 1.0, INF, 1.0, INF, -1.0]])
    ta, tx = torch.tensor(a), torch.tensor(x)
    # PyTorch's own error reaches 2e-9 where a is near x (its asymptotic series); ours ~1e-12
    _assert_close(ember.igamma(ember.tensor(a), ember.tensor(x)), torch.igamma(ta, tx), 1e-8,
                  1e-300)
    _assert_close(ember.igammac(ember.tensor(a), ember.tensor(x)), torch.igammac(ta, tx), 1e-8,
                  1e-300)
    p = kernels.igamma(a[:300], x[:300]) + kernels.igammac(a[:300], x[:300])
    np.testing.assert_allclose(p, 1.0, rtol=1e-13)


def test_mvlgamma_float64_matches_torch(torch, rng):
    x = rng.uniform(2.0, 30.0, (40, 3))
    for p in (1, 2, 5):
        _assert_close(ember.mvlgamma(ember.tensor(x), p), torch.mvlgamma(torch.tensor(x), p),
                      1e-13)


def test_erf_kernel_without_scipy(torch, rng, monkeypatch):
    x = _grid(rng, -7, 7, 500, [0.0, -0.0, 0.84375, 1.25, 6.0, 30.0, INF, -INF, NAN])
    _assert_close(kernels.erf(x), torch.erf(torch.tensor(x)).numpy(), 1e-15, 1e-300)
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    _assert_close(ember.erf(ember.tensor(x)), torch.erf(torch.tensor(x)), 1e-15, 1e-300)


def test_kernels_keep_float32():
    x = np.linspace(0.1, 3.0, 7, dtype=np.float32)
    for fn in (kernels.erf, kernels.erfc, kernels.lgamma, kernels.digamma, kernels.i0,
               lambda v: kernels.polygamma(2, v), lambda v: kernels.igamma(v, v)):
        assert fn(x).dtype == np.float32
    assert kernels.lgamma(np.array(0.5)).shape == ()


# -- gradients in float64 ---------------------------------------------------------------------
GRADS = {
    "erfc": (lambda m, x: m.erfc(x), (-3, 3)),
    "erfinv": (lambda m, x: m.erfinv(x), (-0.99, 0.99)),
    "lgamma": (lambda m, x: m.lgamma(x), (-4, 6)),
    "digamma": (lambda m, x: m.digamma(x), (-4, 6)),
    "polygamma3": (lambda m, x: m.polygamma(3, x), (0.2, 6)),
    "mvlgamma": (lambda m, x: m.mvlgamma(x, 3), (1.5, 6)),
    "i0": (lambda m, x: m.i0(x), (-25, 25)),
    "i1e": (lambda m, x: (m.special.i1e if m.__name__ == "torch" else SP.i1e)(x), (-25, 25)),
    "asinh": (lambda m, x: m.asinh(x), (-5, 5)),
    "acosh": (lambda m, x: m.acosh(x), (1.1, 5)),
    "atanh": (lambda m, x: m.atanh(x), (-0.9, 0.9)),
    "sinc": (lambda m, x: m.sinc(x), (-3, 3)),
    "logit": (lambda m, x: m.logit(x, 0.2), (0.05, 0.95)),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_float64_match_torch(torch, rng, name):
    fn, (low, high) = GRADS[name]
    x = rng.uniform(low, high, 20)
    e = ember.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    w = rng.standard_normal(20)
    ge, = ember.autograd.grad((fn(ember, e) * ember.tensor(w)).sum(), e, create_graph=True)
    gt, = torch.autograd.grad((fn(torch, t) * torch.tensor(w)).sum(), t, create_graph=True)
    _assert_close(ge, gt, 1e-9, 1e-12)
    # second order too: every backward is written with differentiable ops
    _assert_close(ember.autograd.grad(ge.sum(), e)[0], torch.autograd.grad(gt.sum(), t)[0],
                  1e-7, 1e-10)


def test_sinc_derivatives_at_zero(torch):
    x = ember.tensor([0.0, 0.5], dtype=ember.float64, requires_grad=True)
    g, = ember.autograd.grad(ember.sinc(x).sum(), x, create_graph=True)
    t = torch.tensor([0.0, 0.5], dtype=torch.float64, requires_grad=True)
    _assert_close(g, torch.autograd.grad(torch.sinc(t).sum(), t)[0])
    # PyTorch's second derivative is nan at 0; the limit is -pi^2/3
    second, = ember.autograd.grad(g.sum(), x)
    assert second[0].item() == pytest.approx(-math.pi ** 2 / 3)


def test_gradcheck_special_functions(rng):
    x = ember.tensor(rng.uniform(0.5, 3.0, 5), requires_grad=True)
    a = ember.tensor(rng.uniform(0.5, 3.0, 5))
    for fn in (ember.lgamma, ember.digamma, lambda v: ember.polygamma(2, v), SP.i1,
               lambda v: ember.igamma(a, v), lambda v: ember.igammac(a, v),
               lambda v: ember.xlogy(v, v + 1), lambda v: ember.hypot(v, v * 2 - 3)):
        assert ember.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_igamma_has_no_gradient_for_its_first_argument():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="igamma: input"):
        ember.igamma(a, ember.tensor([1.0, 3.0])).sum().backward()


# -- dtypes -------------------------------------------------------------------------------------
FLOAT_VALUED = "asin acos atan sinh cosh asinh acosh atanh sinc deg2rad rad2deg erfc erfinv " \
               "lgamma digamma i0 logit".split()


@pytest.mark.parametrize("name", FLOAT_VALUED)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float64"])
def test_integer_inputs_give_the_default_float(torch, name, dtype):
    values = np.array([0, 1, 2, 1, 0]).astype(dtype)
    ours = getattr(ember, name)(ember.from_numpy(values.copy()))
    theirs = getattr(torch, name)(torch.from_numpy(values.copy()))
    _assert_close(ours, theirs, 1e-6, 1e-7)
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        assert getattr(ember, name)(ember.from_numpy(values)).dtype == ember.float64
    finally:
        torch.set_default_dtype(torch.float32)


def test_binary_float_results(torch):
    i32 = np.array([1, -2, 3], np.int32)
    u8 = np.array([1, 2, 250], np.uint8)
    f64 = np.array([0.5, -0.25, 2.0])
    for name, args in [("copysign", (i32, u8)), ("copysign", (u8, -1)), ("xlogy", (i32, f64)),
                       ("xlogy", (2, u8)), ("ldexp", (i32, i32)), ("hypot", (f64, i32)),
                       ("rsub", (u8, 1.5)), ("clamp_min", (i32, 0.5)), ("atan2", (i32, u8))]:
        e = [ember.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in args]
        t = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in args]
        _assert_close(getattr(ember, name)(*e), getattr(torch, name)(*t), 1e-6)


def test_integer_ops_match_torch(torch, rng):
    a = rng.integers(-50, 50, 30)
    b = rng.integers(-50, 50, 30)
    for dtype in ("int64", "int32", "int16", "uint8"):
        x, y = a.astype(dtype), b.astype(dtype)
        for name in ("gcd", "lcm"):
            _assert_close(getattr(ember, name)(ember.from_numpy(x), ember.from_numpy(y)),
                          getattr(torch, name)(torch.from_numpy(x), torch.from_numpy(y)))
        shifts = np.array([0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 100, -1]).astype(dtype)
        for name in ("bitwise_left_shift", "bitwise_right_shift"):
            xs = x[:12]
            _assert_close(getattr(ember, name)(ember.from_numpy(xs), ember.from_numpy(shifts)),
                          getattr(torch, name)(torch.from_numpy(xs), torch.from_numpy(shifts)))


def test_predicates(torch):
    x = np.array([-0.0, 0.0, -NAN, NAN, INF, -INF, -1.0, 3.0])
    for name in ("signbit", "isposinf", "isneginf", "isreal"):
        _assert_close(getattr(ember, name)(ember.tensor(x)), getattr(torch, name)(torch.tensor(x)))
    e = ember.isin(ember.tensor([1.0, NAN, 2.5]), ember.tensor([NAN, 1.0]))
    assert e.tolist() == [True, False, False]
    assert ember.isin(3, ember.tensor([1, 3])).item() is True


def test_frexp_roundtrip_and_gradient(torch):
    x = np.array([0.0, -0.0, 1.0, -3.5, 1e-310, 1e300, INF, NAN])
    m, e = ember.frexp(ember.tensor(x))
    mt, et = torch.frexp(torch.tensor(x))
    _assert_close(m, mt)
    _assert_close(e, et)
    assert e.dtype == ember.int32
    v = ember.tensor([3.0, -0.1], requires_grad=True)
    ember.frexp(v).mantissa.sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [0.25, 8.0])


# -- in-place forms -----------------------------------------------------------------------------
IN_PLACE = [("asin_", (), (-0.9, 0.9)), ("erfinv_", (), (-0.9, 0.9)), ("lgamma_", (), (0.5, 4)),
            ("digamma_", (), (0.5, 4)), ("polygamma_", (2,), (0.5, 4)),
            ("mvlgamma_", (2,), (1.0, 4)), ("i0_", (), (-3, 3)), ("sinc_", (), (-2, 2)),
            ("logit_", (0.1,), (0, 1)), ("xlogy_", (2.0,), (0, 2)), ("hypot_", (None,), (-2, 2)),
            ("copysign_", (-1.0,), (-2, 2)), ("ldexp_", (None,), (-2, 2)),
            ("clamp_min_", (0.0,), (-2, 2)), ("clamp_max_", (0.0,), (-2, 2)),
            ("rad2deg_", (), (-2, 2)), ("fix_", (), (-2, 2)),
            ("exp2_", (), (-2, 2)), ("log1p_", (), (0, 2)), ("reciprocal_", (), (0.5, 2)),
            ("square_", (), (-2, 2)), ("frac_", (), (-2, 2)), ("nextafter_", (None,), (-2, 2)),
            ("atan2_", (None,), (-2, 2)), ("arccos_", (), (-0.9, 0.9)),
            ("true_divide_", (2.0,), (-2, 2)), ("subtract_", (1.0,), (-2, 2)),
            ("lt_", (0.0,), (-2, 2)), ("ge_", (None,), (-2, 2)), ("heaviside_", (None,), (-1, 1))]


def _args(lib, args, rng_values):
    return [lib.tensor(rng_values) if a is None else a for a in args]


@pytest.mark.parametrize("name, args, bounds", IN_PLACE, ids=[c[0] for c in IN_PLACE])
def test_in_place_matches_torch(torch, rng, name, args, bounds):
    x = rng.uniform(*bounds, (3, 4))
    other = rng.uniform(-2, 2, 4)
    e_leaf = ember.tensor(x, requires_grad=True)
    t_leaf = torch.tensor(x, requires_grad=True)
    e, t = e_leaf * 1, t_leaf * 1
    version = e._version
    out = getattr(e, name)(*_args(ember, args, other))
    getattr(t, name)(*_args(torch, args, other))
    assert out is e and e._version == version + 1
    _assert_close(e, t, 1e-10, 1e-12)
    if name.startswith("heaviside"):
        return  # PyTorch has no derivative for it
    w = rng.standard_normal((3, 4))
    (e * ember.tensor(w)).sum().backward()
    (t * torch.tensor(w)).sum().backward()
    _assert_close(e_leaf.grad, t_leaf.grad, 1e-9, 1e-12)


def test_in_place_on_a_view_updates_the_base_and_its_gradient(torch):
    x = np.array([[0.2, -0.4, 0.6], [0.1, 0.3, -0.5]])
    grads = []
    for lib in (ember, torch):
        leaf = lib.tensor(x, requires_grad=True)
        base = leaf * 2
        base[0].asin_()
        base[:, 1].lgamma_()
        base.sum().backward()
        grads.append((base.detach().numpy(), leaf.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10)


def test_in_place_comparison_keeps_dtype_and_graph(torch):
    x = ember.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x * 1
    y.gt_(0.0)
    assert y.dtype == ember.float32 and y.tolist() == [1.0, 0.0, 1.0] and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    i = ember.tensor([1, 2, 3])
    i.lt_(2.5)
    assert i.dtype == ember.int64 and i.tolist() == [1, 1, 0]


@pytest.mark.parametrize("name, args", [
    ("sin_", ()), ("asin_", ()), ("reciprocal_", ()), ("lgamma_", ()), ("copysign_", (-1,)),
    ("xlogy_", (2,)), ("sinc_", ()), ("logit_", ()), ("deg2rad_", ()), ("clamp_min_", (0.5,))])
def test_in_place_on_integers_refuses_a_float_result(torch, name, args):
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(ember.tensor([1, 2]), name)(*args)
    with pytest.raises(RuntimeError):
        getattr(torch.tensor([1, 2]), name)(*args)


def test_in_place_integer_ops_and_operators(torch):
    a = np.array([12, -7, 5, 0])
    for op in (operator.ilshift, operator.irshift, operator.iand, operator.ior, operator.ixor,
               operator.imod, operator.ifloordiv, operator.ipow):
        e, t = ember.tensor(a), torch.tensor(a)
        assert op(e, 2) is e
        op(t, 2)
        _assert_close(e, t)
    for name in ("gcd_", "lcm_", "bitwise_left_shift_", "bitwise_and_"):
        e, t = ember.tensor(a), torch.tensor(a)
        getattr(e, name)(ember.tensor([4, 6, 10, 3]))
        getattr(t, name)(torch.tensor([4, 6, 10, 3]))
        _assert_close(e, t)
    assert (ember.tensor([3]) << 2).item() == 12 and (1 << ember.tensor([3])).item() == 8


def test_float_power_in_place_needs_float64():
    with pytest.raises(RuntimeError, match="float64"):
        ember.tensor([1.0, 2.0]).float_power_(2)
    x = ember.tensor([1.0, 2.0], dtype=ember.float64)
    assert x.float_power_(3) is x and x.tolist() == [1.0, 8.0]


def test_top_level_in_place_functions(torch, rng):
    x = rng.uniform(0.2, 0.8, 5)
    for name, args in [("abs_", ()), ("asin_", ()), ("erfc_", ()), ("logit_", (0.3,)),
                       ("xlogy_", (3.0,)), ("clamp_min_", (0.5,)), ("sigmoid_", ()),
                       ("exp_", ()), ("fix_", ()), ("i0_", ()), ("zero_", ()), ("fill_", (2.0,))]:
        e, t = ember.tensor(x), torch.tensor(x)
        assert getattr(ember, name)(e, *args) is e
        getattr(torch, name)(t, *args)
        _assert_close(e, t, 1e-12)


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, match", [
    (lambda: ember.hypot(ember.tensor([1]), ember.tensor([2])), NotImplementedError, "hypot"),
    (lambda: ember.logaddexp2(ember.tensor([1.0]), 2.0), TypeError, "must be Tensor"),
    (lambda: ember.nextafter(ember.tensor([1]), ember.tensor([2])), NotImplementedError, "int64"),
    (lambda: ember.gcd(ember.tensor([1.0]), ember.tensor([2.0])), NotImplementedError, "gcd"),
    (lambda: ember.bitwise_left_shift(ember.tensor([True]), ember.tensor([True])),
     NotImplementedError, "bool"),
    (lambda: ember.tensor([1.5]) >> 1, NotImplementedError, "float32"),
    (lambda: ember.frexp(ember.tensor([1])), RuntimeError, "floating-point"),
    (lambda: ember.heaviside(ember.tensor([1.0]), ember.tensor([1])), RuntimeError, "dtypes"),
    (lambda: ember.heaviside(ember.tensor([1.0]), 0.5), TypeError, "values"),
    (lambda: ember.polygamma(-1, ember.tensor([1.0])), RuntimeError, "negative n"),
    (lambda: ember.mvlgamma(ember.tensor([3.0]), 0), RuntimeError, "p has to be"),
    (lambda: ember.isin(ember.tensor([1]), ember.tensor([True])), RuntimeError, "Bool"),
    (lambda: ember.positive(ember.tensor([True])), RuntimeError, "bool"),
    (lambda: ember.igamma(ember.tensor([1]), ember.tensor([1])), NotImplementedError, "igamma"),
    (lambda: ember.hypot(ember.ones(2, 3), ember.ones(4)), RuntimeError, "broadcast"),
    (lambda: ember.asin([0.5]), TypeError, "Tensor"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_every_elementwise_name_of_torch_exists(torch):
    names = """abs_ acos acos_ acosh acosh_ angle arccos arccos_ arccosh arccosh_ arcsin arcsin_
        arcsinh arcsinh_ arctan arctan2 arctan_ arctanh arctanh_ asin asin_ asinh asinh_ atan
        atan_ atanh atanh_ bitwise_left_shift bitwise_right_shift ceil_ clamp_ clamp_max
        clamp_max_ clamp_min clamp_min_ clip_ copysign cos_ cosh cosh_ deg2rad deg2rad_ digamma
        erf_ erfc erfc_ erfinv exp2_ exp_ expm1_ fill fill_ fix fix_ floor_ frac_ frexp gcd gcd_
        heaviside hypot i0 i0_ igamma igammac isin isneginf isposinf isreal lcm lcm_ ldexp
        ldexp_ lgamma log10_ log1p_ log2_ log_ logaddexp2 logit logit_ mvlgamma nan_to_num_ neg_
        negative_ nextafter polygamma positive rad2deg rad2deg_ reciprocal_ relu_ round_ rsqrt_
        rsub sgn sigmoid_ signbit sin_ sinc sinc_ sinh sinh_ sqrt_ square_ tan_ tanh_ trunc_
        xlogy xlogy_ zero_""".split()
    assert [n for n in names if hasattr(torch, n) and not hasattr(ember, n)] == []
    methods = [n for n in dir(torch.Tensor) if n.endswith("_") and not n.startswith("_")
               and hasattr(ember.Tensor, n[:-1]) and n[:-1] in dir(ember.ops.elementwise)]
    assert [n for n in methods if not hasattr(ember.Tensor, n)] == []


# -- the fake cuda device -----------------------------------------------------------------------
DEVICE_OPS = {
    "asin": lambda m, x, y: m.asin(x * 0.3), "cosh": lambda m, x, y: m.cosh(x),
    "sinc": lambda m, x, y: m.sinc(x), "erfc": lambda m, x, y: m.erfc(x),
    "erfinv": lambda m, x, y: m.erfinv(x * 0.3), "lgamma": lambda m, x, y: m.lgamma(x),
    "digamma": lambda m, x, y: m.digamma(x), "polygamma": lambda m, x, y: m.polygamma(2, x),
    "i0": lambda m, x, y: m.i0(x), "i1e": lambda m, x, y: SP.i1e(x),
    "igamma": lambda m, x, y: m.igamma(x.abs(), y.abs()), "logit": lambda m, x, y: m.logit(x, 0.1),
    "xlogy": lambda m, x, y: m.xlogy(x, y.abs()), "hypot": lambda m, x, y: m.hypot(x, y),
    "copysign": lambda m, x, y: m.copysign(x, -1.0), "logaddexp2": lambda m, x, y:
    m.logaddexp2(x, y), "nextafter": lambda m, x, y: m.nextafter(x, y),
    "ldexp": lambda m, x, y: m.ldexp(x, y), "heaviside": lambda m, x, y: m.heaviside(x, y),
    "frexp": lambda m, x, y: m.frexp(x).mantissa, "signbit": lambda m, x, y: m.signbit(x),
    "isin": lambda m, x, y: m.isin(x, y), "gcd": lambda m, x, y: m.gcd(x.long(), y.long()),
    "shift": lambda m, x, y: m.bitwise_right_shift(x.long(), 2),
    "mvlgamma": lambda m, x, y: m.mvlgamma(x.abs() + 2, 3), "angle": lambda m, x, y: m.angle(x),
}


@pytest.mark.parametrize("name", sorted(DEVICE_OPS))
def test_ops_stay_on_the_fake_device(fake_cuda, rng, name):
    x = np.round(rng.uniform(-3, 3, (3, 4)), 1)
    y = np.round(rng.uniform(-3, 3, (3, 4)), 1)
    cpu = DEVICE_OPS[name](ember, ember.tensor(x), ember.tensor(y))
    dev = DEVICE_OPS[name](ember, ember.tensor(x, device="cuda"), ember.tensor(y, device="cuda"))
    assert dev.device == ember.device("cuda", 0) and dev.dtype == cpu.dtype
    np.testing.assert_array_equal(dev.cpu().numpy(), cpu.numpy())


def test_in_place_and_gradients_on_the_fake_device(fake_cuda):
    x = ember.tensor([0.3, 1.5, 2.5], device="cuda", requires_grad=True)
    y = x * 1
    y.lgamma_()
    y.sinc_()
    y.sum().backward()
    cpu = ember.tensor([0.3, 1.5, 2.5], requires_grad=True)
    (cpu * 1).lgamma_().sinc_().sum().backward()
    assert x.grad.device == ember.device("cuda", 0)
    np.testing.assert_array_equal(x.grad.cpu().numpy(), cpu.grad.numpy())


def test_xlogy_gradient_at_zero_x_is_torchs(torch):
    xs, ys = [0.0, 0.0, 0.0, 1.0, 2.0], [2.0, 0.0, -1.0, 3.0, 0.5]
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(xs, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(ys, dtype=lib.float64, requires_grad=True)
        lib.xlogy(x, y).sum().backward()
        column = lib.tensor([[0.0], [1.0]], dtype=lib.float64, requires_grad=True)
        lib.xlogy(column, 3.0).sum().backward()
        grads.append([g.grad.numpy() for g in (x, y, column)])
    for e, t in zip(*grads):
        np.testing.assert_allclose(e, t)
