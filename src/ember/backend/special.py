"""NumPy kernels of the special functions NumPy lacks, without SciPy.

Each takes a floating array and returns one of the same dtype, computed in float64 (about
1e-15 relative, absolute near the function's zeros). Values at poles and infinities follow
PyTorch, whose kernels come from Cephes (so i0(inf) is nan, as there). The CPU backend and
the fake cuda device use these; CuPy has its own in cupyx.scipy.special.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

_EPS = np.finfo(np.float64).eps


def _in_dtype(fn):
    """``fn`` on float64 copies of its array arguments, returned in their result dtype."""
    def kernel(*args):
        arrays = [np.asarray(a) for a in args if not isinstance(a, int)]
        dt = np.result_type(*arrays)
        f64 = [np.asarray(a, np.float64) if not isinstance(a, int) else a for a in args]
        with np.errstate(all="ignore"):
            out = fn(*f64)
        return np.asarray(out).astype(dt, copy=False)
    kernel.__name__ = fn.__name__.lstrip("_")
    kernel.__doc__ = fn.__doc__
    return kernel


def _pieces(x, *pieces):
    """An array like ``x`` (nan where no piece applies) with ``fn(x[mask])`` where ``mask``."""
    out = np.full(x.shape, np.nan)
    for mask, fn in pieces:
        if mask.any():
            out[mask] = fn(x[mask])
    return out


def _poly(x, coefficients):
    """Horner's rule, highest coefficient first."""
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out = out * x + c
    return out


# -- error function: fdlibm's rational approximations (s_erf.c), below 1 ulp ------------------
_ERX = 8.45062911510467529297e-01
_PP = (-2.37630166566501626084e-05, -5.77027029648944159157e-03, -2.84817495755985104766e-02,
       -3.25042107247001499370e-01, 1.28379167095512558561e-01)
_QQ = (-3.96022827877536812320e-06, 1.32494738004321644526e-04, 5.08130628187576562776e-03,
       6.50222499887672944485e-02, 3.97917223959155352819e-01, 1.0)
_PA = (-2.16637559486879084300e-03, 3.54783043256182359371e-02, -1.10894694282396677476e-01,
       3.18346619901161753674e-01, -3.72207876035701323847e-01, 4.14856118683748331666e-01,
       -2.36211856075265944077e-03)
_QA = (1.19844998467991074170e-02, 1.36370839120290507362e-02, 1.26171219808761642112e-01,
       7.18286544141962662868e-02, 5.40397917702171048937e-01, 1.06420880400844228286e-01, 1.0)
_RA = (-9.81432934416914548592e+00, -8.12874355063065934246e+01, -1.84605092906711035994e+02,
       -1.62396669462573470355e+02, -6.23753324503260060396e+01, -1.05586262253232909814e+01,
       -6.93858572707181764372e-01, -9.86494403484714822705e-03)
_SA = (-6.04244152148580987438e-02, 6.57024977031928170135e+00, 1.08635005541779435134e+02,
       4.29008140027567833386e+02, 6.45387271733267880336e+02, 4.34565877475229228821e+02,
       1.37657754143519042600e+02, 1.96512716674392571292e+01, 1.0)
_RB = (-4.83519191608651397019e+02, -1.02509513161107724954e+03, -6.37566443368389627722e+02,
       -1.60636384855821916062e+02, -1.77579549177547519889e+01, -7.99283237680523006574e-01,
       -9.86494292470009928597e-03)
_SB = (-2.24409524465858183362e+01, 4.74528541206955367215e+02, 2.55305040643316442583e+03,
       3.19985821950859553908e+03, 1.53672958608443695994e+03, 3.25792512996573918826e+02,
       3.03380607434824582924e+01, 1.0)


def _erf_ratio(x):
    """erf(x) = x + x * ratio for |x| < 0.84375."""
    z = x * x
    return _poly(z, _PP) / _poly(z, _QQ)


def _erf_mid(ax):
    """erf(|x|) - erx for 0.84375 <= |x| < 1.25."""
    s = ax - 1
    return _poly(s, _PA) / _poly(s, _QA)


def _erfc_tail(ax):
    """erfc(|x|) for |x| >= 1.25 (0 from 28 on, where it underflows)."""
    ax = np.minimum(ax, 28.0)
    s = 1 / (ax * ax)
    near = ax < 1 / 0.35
    r = np.where(near, _poly(s, _RA), _poly(s, _RB))
    q = np.where(near, _poly(s, _SA), _poly(s, _SB))
    # exp(-x*x) split as exp(-z*z) * exp((z-x)(z+x)), z = x's high 32 bits: no rounding loss
    z = (np.ascontiguousarray(ax).view(np.uint64) & np.uint64(0xFFFFFFFF00000000)).view(np.float64)
    out = np.exp(-z * z - 0.5625) * np.exp((z - ax) * (z + ax) + r / q) / ax
    return np.where(ax >= 28.0, 0.0, out)


@_in_dtype
def _erf(x):
    """The error function."""
    ax = np.abs(x)
    return _pieces(
        x, (ax < 0.84375, lambda v: v + v * _erf_ratio(v)),
        ((ax >= 0.84375) & (ax < 1.25), lambda v: np.copysign(_ERX + _erf_mid(np.abs(v)), v)),
        (ax >= 1.25, lambda v: np.copysign(1 - _erfc_tail(np.abs(v)), v)))


@_in_dtype
def _erfc(x):
    """The complementary error function 1 - erf(x), accurate where it is tiny."""
    ax = np.abs(x)

    def small(v):
        y = v * _erf_ratio(v)
        return np.where(v < 0.25, 1 - (v + y), 0.5 - (y + (v - 0.5)))

    def mid(v):
        r = _erf_mid(np.abs(v))
        return np.where(v > 0, (1 - _ERX) - r, 1 + (_ERX + r))

    def tail(v):
        r = _erfc_tail(np.abs(v))
        return np.where(v > 0, r, 2 - r)

    return _pieces(x, (ax < 0.84375, small), ((ax >= 0.84375) & (ax < 1.25), mid),
                   (ax >= 1.25, tail))


# Giles (2010), "Approximating the erfinv function": single precision, refined by Newton below
_ERFINV_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                   0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)
_ERFINV_STEPS = 3


@_in_dtype
def _erfinv(y):
    """The inverse error function on [-1, 1] (±inf at ±1, nan outside)."""
    ay = np.abs(y)
    inside = ay < 1
    v = np.where(inside, y, 0.0)
    w = -np.log((1 - v) * (1 + v))
    x = v * np.where(w < 5, _poly(w - 2.5, _ERFINV_CENTRAL),
                     _poly(np.sqrt(w) - 3, _ERFINV_TAIL))
    # beyond the fit's range (1 - |y| below float32's resolution), invert the leading term
    # of erfc's asymptotic expansion, erfc(x) ~ exp(-x^2) / (x sqrt(pi))
    t = -np.log((1 - np.abs(v)) * math.sqrt(math.pi))
    x = np.where(w > 16, np.copysign(np.sqrt(np.maximum(t - 0.5 * np.log(t), 0)), v), x)
    central, av = np.abs(v) <= 0.5, np.abs(v)
    ax = np.abs(x)
    for _ in range(_ERFINV_STEPS):
        # Newton on erf(x) = y in the centre; in the tails on log erfc(|x|) = log(1 - |y|),
        # which stays nearly linear where erf flattens out (1 - |y| is exact there)
        e = np.exp(-ax * ax) * (2 / math.sqrt(math.pi))
        c = _erfc(ax)
        step = np.where(central, (_erf(ax) - av) / e, (np.log(c) - np.log1p(-av)) * c / -e)
        ax = ax - step
    x = np.copysign(ax, v)
    x = np.where(ay == 1, np.copysign(np.inf, y), x)
    return np.where(inside | (ay == 1), x, np.nan)


# -- gamma family ----------------------------------------------------------------------------
# Lanczos (g = 7, 9 terms): Gamma to about 1e-15 relative for x >= 1/2
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_EULER_GAMMA = 0.5772156649015329


def _lgamma_lanczos(x):
    """log Gamma(x) for x >= 1/2."""
    z = x - 1
    a = np.full_like(z, _LANCZOS[0])
    for k, c in enumerate(_LANCZOS[1:], 1):
        a = a + c / (z + k)
    t = z + 7.5
    return _HALF_LOG_2PI + (z + 0.5) * np.log(t) - t + np.log(a)


def _abs_sinpi(x):
    """|sin(pi x)|, exact at integers (0) and accurate for large |x|."""
    f = x - np.floor(x)
    return np.sin(math.pi * np.minimum(f, 1 - f))


@_in_dtype
def _lgamma(x):
    """log |Gamma(x)|; inf at 0, the negative integers and ±inf."""
    def reflected(v):  # Gamma(v) Gamma(1 - v) = pi / sin(pi v)
        return math.log(math.pi) - np.log(_abs_sinpi(v)) - _lgamma_lanczos(1 - v)

    return _pieces(x, (x >= 0.5, _lgamma_lanczos), (x < 0.5, reflected),
                   (np.abs(x) < 1e-12, lambda v: -np.log(np.abs(v)) - _EULER_GAMMA * v),
                   (np.isinf(x), lambda v: np.full_like(v, np.inf)),
                   ((x == 1) | (x == 2), np.zeros_like))


def _bernoulli_ratios(count: int) -> list:
    """B_2k / (2k)! for k = 1..count, from the Bernoulli numbers' recurrence."""
    b = [Fraction(1)]
    for m in range(1, 2 * count + 1):
        b.append(-sum(math.comb(m + 1, j) * b[j] for j in range(m)) / (m + 1))
    return [float(b[2 * k] / math.factorial(2 * k)) for k in range(1, count + 1)]


_B2K_OVER_FACT = _bernoulli_ratios(12)
_B2K_OVER_2K = [float(r * math.factorial(2 * k) / (2 * k))
                for k, r in enumerate(_B2K_OVER_FACT[:7], 1)]


def _digamma_positive(x):
    """psi(x) for x > 0: the recurrence psi(x) = psi(x + 1) - 1/x up to 10, then the
    asymptotic series."""
    shift = np.zeros_like(x)
    for _ in range(10):
        low = x < 10
        shift = shift - np.where(low, 1 / x, 0.0)
        x = np.where(low, x + 1, x)
    inv2 = 1 / (x * x)
    series = np.zeros_like(x)
    for c in reversed(_B2K_OVER_2K):
        series = (series + c) * inv2
    return shift + np.log(x) - 0.5 / x - series


@_in_dtype
def _digamma(x):
    """psi(x) = d/dx log Gamma(x); at 0 -inf (+inf at -0.0), nan at negative integers."""
    def negative(v):  # psi(1 - v) - psi(v) = pi cot(pi v)
        r = v - np.round(v)
        out = _digamma_positive(1 - v) - math.pi / np.tan(math.pi * r)
        return np.where(r == 0, np.nan, out)

    return _pieces(x, (x > 0, _digamma_positive), (x < 0, negative),
                   (x == 0, lambda v: np.copysign(np.inf, -v)))


def _hurwitz_zeta(s: int, q):
    """zeta(s, q) = sum over k >= 0 of (q + k)^-s for an integer s >= 2 and q >= 0, by
    Euler-Maclaurin: the first terms directly, the rest from their integral and Bernoulli
    corrections (which converge fast once q + terms > s + 10)."""
    n = 10 + s
    total = np.zeros_like(q)
    for k in range(n):
        total = total + (q + k) ** -s
    a = q + n
    tail = a ** (1 - s) / (s - 1) + 0.5 * a ** -s
    term = a ** (-s - 1)
    rising = float(s)
    for j, c in enumerate(_B2K_OVER_FACT, 1):
        tail = tail + c * rising * term
        term = term / (a * a)
        rising *= (s + 2 * j - 1) * (s + 2 * j)
    return total + tail


def _cot_derivative(n: int):
    """Coefficients (highest power first) of P with d^n/dx^n cot(x) = P(cot(x))."""
    p = np.array([1.0, 0.0])  # cot itself
    for _ in range(n):
        derivative = p[:-1] * np.arange(len(p) - 1, 0, -1)
        p = -np.convolve([1.0, 0.0, 1.0], derivative)  # d/dx cot = -(1 + cot^2)
    return p


@_in_dtype
def _polygamma(n: int, x):
    """The n-th derivative of psi: (-1)^(n+1) n! zeta(n + 1, x) for n >= 1; for x < 0 by
    reflection, psi_n(x) = (-1)^n psi_n(1 - x) - pi d^n/dx^n cot(pi x)."""
    if n == 0:
        return _digamma(x)
    x = x + 0.0  # -0.0 is the pole at +0.0
    reflect = x < 0
    out = (-1) ** (n + 1) * math.factorial(n) * _hurwitz_zeta(n + 1, np.where(reflect, 1 - x, x))
    if reflect.any():
        cot = 1 / np.tan(math.pi * (x - np.round(x)))
        mirrored = (-1) ** n * out - math.pi ** (n + 1) * _poly(cot, _cot_derivative(n))
        out = np.where(reflect, mirrored, out)
    if n >= 2:  # PyTorch's values at the infinities (its zeta is nan at q = inf)
        out = np.where(x == np.inf, np.nan, np.where(x == -np.inf, (-1) ** (n + 1) * np.inf, out))
    return out


# -- modified Bessel functions I0 and I1 -------------------------------------------------------
_BESSEL_SERIES_MAX = 20.0  # the power series below, the asymptotic expansion above


def _bessel_series(x, nu: int):
    """I_nu(x) for |x| <= 20 by its power series in (x/2)^2 (positive terms: no loss)."""
    t = 0.25 * x * x
    term = np.ones_like(x) if nu == 0 else 0.5 * x
    total = term
    for k in range(1, 42):
        term = term * t / (k * (k + nu))
        total = total + term
    return total


def _bessel_scaled_asymptotic(ax, nu: int):
    """exp(-x) I_nu(x) for x > 20: Hankel's expansion, sum of a_k(nu) / x^k."""
    term = np.ones_like(ax)
    total = term
    for k in range(1, 32):
        term = term * ((2 * k - 1) ** 2 - 4 * nu * nu) / (8 * k * ax)
        total = total + term
    return total / np.sqrt(2 * math.pi * ax)


def _bessel_scaled(x, nu: int):
    """exp(-|x|) I_nu(x)."""
    ax = np.abs(x)
    odd = (lambda v, out: np.copysign(out, v)) if nu else (lambda v, out: out)
    return _pieces(
        x, (ax <= _BESSEL_SERIES_MAX, lambda v: np.exp(-np.abs(v)) * _bessel_series(v, nu)),
        (ax > _BESSEL_SERIES_MAX, lambda v: odd(v, _bessel_scaled_asymptotic(np.abs(v), nu))))


@_in_dtype
def _i0(x):
    """The modified Bessel function of the first kind, order 0 (nan at ±inf, as PyTorch)."""
    return _bessel_scaled(x, 0) * np.exp(np.abs(x))


@_in_dtype
def _i0e(x):
    """exp(-|x|) i0(x)."""
    return _bessel_scaled(x, 0)


@_in_dtype
def _i1(x):
    """The modified Bessel function of the first kind, order 1 (nan at ±inf, as PyTorch)."""
    return _bessel_scaled(x, 1) * np.exp(np.abs(x))


@_in_dtype
def _i1e(x):
    """exp(-|x|) i1(x)."""
    return _bessel_scaled(x, 1)


# -- regularized incomplete gamma ------------------------------------------------------------
_GAMMA_MAX_ITER = 100_000
_TINY = 1e-300


def _lower_series(a, x):
    """P(a, x) by its power series (used for x < a + 1)."""
    term = 1 / a
    total = term.copy()
    ap = a.copy()
    active = np.arange(a.size)
    for _ in range(_GAMMA_MAX_ITER):
        if not active.size:
            break
        ap[active] += 1
        term[active] *= x[active] / ap[active]
        total[active] += term[active]
        active = active[np.abs(term[active]) > np.abs(total[active]) * _EPS]
    return total * np.exp(a * np.log(x) - x - _lgamma(a))


def _upper_fraction(a, x):
    """Q(a, x) by its continued fraction, modified Lentz (used for x >= a + 1)."""
    b = x + 1 - a
    c = np.full_like(x, 1 / _TINY)
    d = 1 / b
    h = d.copy()
    active = np.arange(a.size)
    for i in range(1, _GAMMA_MAX_ITER):
        if not active.size:
            break
        an = -i * (i - a[active])
        b[active] += 2
        da = an * d[active] + b[active]
        da = np.where(np.abs(da) < _TINY, _TINY, da)
        ca = b[active] + an / c[active]
        ca = np.where(np.abs(ca) < _TINY, _TINY, ca)
        d[active] = 1 / da
        c[active] = ca
        delta = ca / da
        h[active] *= delta
        active = active[np.abs(delta - 1) > _EPS]
    return h * np.exp(a * np.log(x) - x - _lgamma(a))


def _incomplete_gamma(a, x, upper: bool):
    a, x = np.broadcast_arrays(a, x)
    a, x = a.ravel(), x.ravel()
    out = np.full(a.shape, np.nan)
    regular = (a > 0) & (x > 0) & np.isfinite(a) & np.isfinite(x)
    series = regular & (x < a + 1)
    fraction = regular & ~series
    if series.any():
        p = _lower_series(a[series], x[series])
        out[series] = 1 - p if upper else p
    if fraction.any():
        q = _upper_fraction(a[fraction], x[fraction])
        out[fraction] = q if upper else 1 - q
    # edges as PyTorch: P = 1 where a = 0 < x or x = inf > a; P = 0 where x = 0 < a or a = inf
    one = ((a == 0) & (x > 0)) | ((x == np.inf) & (a >= 0) & (a < np.inf))
    zero = ((x == 0) & (a > 0)) | ((a == np.inf) & (x >= 0) & (x < np.inf))
    out[one] = 0.0 if upper else 1.0
    out[zero] = 1.0 if upper else 0.0
    return out


@_in_dtype
def _igamma(a, x):
    """The regularized lower incomplete gamma function P(a, x)."""
    shape = np.broadcast_shapes(a.shape, x.shape)
    return _incomplete_gamma(a, x, upper=False).reshape(shape)


@_in_dtype
def _igammac(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    shape = np.broadcast_shapes(a.shape, x.shape)
    return _incomplete_gamma(a, x, upper=True).reshape(shape)


erf, erfc, erfinv = _erf, _erfc, _erfinv
lgamma, digamma, polygamma = _lgamma, _digamma, _polygamma
i0, i0e, i1, i1e = _i0, _i0e, _i1, _i1e
igamma, igammac = _igamma, _igammac
