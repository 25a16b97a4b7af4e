"""Complex dtypes against PyTorch: promotion, creation, views, repr, op values, gradients in
PyTorch's convention (z.grad = dL/dRe z + i dL/dIm z for a real loss L), finite differences,
and the ops PyTorch refuses for complex inputs."""
from __future__ import annotations

import io
import itertools
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

REAL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
COMPLEX = ["complex64", "complex128"]


def _np(t) -> np.ndarray:
    """The values of an ember or torch tensor (torch's conjugate bit resolved)."""
    if isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().numpy()
    return t.detach().numpy()


def _name(dtype) -> str:
    # NumPy has no complex32 (torch's chalf): ember promotes float16 with complex to complex64
    name = str(dtype).split(".")[-1]
    return "complex64" if name == "complex32" else name


def _ones(lib, name: str, shape):
    return lib.from_numpy(np.ones(shape, dtype=np.dtype(name)))


def _result(op, *args) -> str:
    try:
        return _name(op(*args).dtype)
    except (RuntimeError, TypeError) as exc:
        return type(exc).__name__


# -- promotion ------------------------------------------------------------------------------------
PAIRS = [(a, b) for a, b in itertools.product(REAL + COMPLEX, COMPLEX)]


@pytest.mark.parametrize("a, b", PAIRS)
def test_promotion_tensor_tensor_and_zero_dim(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that complex32 is experimental
        for shape_a, shape_b in [((2,), (2,)), ((2,), ()), ((), (2,)), ((), ())]:
            for x, y in [(a, b), (b, a)]:
                ours, theirs = (_result(lambda p, q: p + q, _ones(lib, x, shape_a),
                                        _ones(lib, y, shape_b)) for lib in (ember, torch))
                assert ours == theirs, (x, shape_a, y, shape_b)


@pytest.mark.parametrize("a", REAL + COMPLEX)
@pytest.mark.parametrize("scalar", [True, 2, 2.5, 1 + 2j], ids=["bool", "int", "float", "complex"])
def test_promotion_with_python_scalars(a, scalar):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for shape in [(2,), ()]:
            for op in (lambda p, q: p * q, lambda p, q: q * p):
                assert _result(op, _ones(ember, a, shape), scalar) == \
                    _result(op, _ones(torch, a, shape), scalar)


@pytest.mark.parametrize("a, b", PAIRS)
def test_promote_types(a, b):
    ours = ember.promote_types(getattr(ember, a), getattr(ember, b))
    assert ours.name == _name(torch.promote_types(getattr(torch, a), getattr(torch, b)))


def test_default_complex_follows_default_dtype():
    assert ember.tensor([1j]).dtype == ember.complex64
    assert (ember.ones(2, dtype=ember.int64) * 1j).dtype == ember.complex64
    ember.set_default_dtype(ember.float64)
    assert ember.tensor([1 + 2j]).dtype == ember.complex128
    assert (ember.ones(2, dtype=ember.int64) * 1j).dtype == ember.complex128
    assert (ember.ones(2, dtype=ember.float32) * 1j).dtype == ember.complex64
    assert ember.full((2,), 1j).dtype == ember.complex128


# -- dtypes and creation ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", COMPLEX + ["float32", "float64", "int64", "bool"])
def test_dtype_attributes(name):
    ours, theirs = getattr(ember, name), getattr(torch, name)
    for attr in ("itemsize", "is_complex", "is_floating_point", "is_signed"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.to_real().name == _name(theirs.to_real())
    if name.startswith(("float", "complex")):
        assert ours.to_complex().name == _name(theirs.to_complex())
    else:
        with pytest.raises(RuntimeError):
            ours.to_complex()


def test_aliases_and_names():
    assert ember.cfloat is ember.complex64 and ember.cdouble is ember.complex128
    assert repr(ember.complex64) == "ember.complex64"
    assert ember.tensor([1], dtype=complex).dtype == ember.complex128
    with pytest.raises(RuntimeError, match="complex32"):
        ember.float16.to_complex()
    assert ember.finfo(ember.complex64).eps == torch.finfo(torch.complex64).eps
    assert ember.finfo(ember.complex128).dtype == "float64"


@pytest.mark.parametrize("data", [[1 + 2j], [1, 2j], 1j, [[1.5, -2j], [0, 3]], [True, 1j]])
def test_tensor_infers_complex_like_torch(data):
    ours, theirs = ember.tensor(data), torch.tensor(data)
    assert ours.dtype.name == _name(theirs.dtype)
    np.testing.assert_array_equal(_np(ours), _np(theirs))


def test_creation_with_complex_dtypes():
    z = np.array([1 + 2j, -3j], np.complex128)
    assert ember.tensor(z).dtype == ember.complex128  # NumPy arrays keep their dtype
    assert ember.as_tensor(z).dtype == ember.complex128
    assert ember.tensor([1.0, 2.0], dtype=ember.complex64).dtype == ember.complex64
    assert ember.zeros(2, dtype=ember.cfloat).dtype == ember.complex64
    assert ember.full((2,), 1 - 1j).dtype == ember.complex64
    assert ember.ones_like(ember.tensor(z)).dtype == ember.complex128
    assert ember.eye(2, dtype=ember.complex64).dtype == ember.complex64
    with pytest.raises(TypeError):
        torch.tensor([1 + 2j], dtype=torch.float32)
    with pytest.raises(TypeError):
        ember.tensor([1 + 2j], dtype=ember.float32)
    assert ember.tensor([1 + 2j]).is_complex() and ember.is_complex(ember.tensor([1j]))
    assert not ember.ones(2).is_complex() and not ember.tensor([1j]).is_floating_point()


def test_random_complex_matches_torch_statistics():
    ember.manual_seed(0)
    z = ember.randn(20000, dtype=ember.complex64)
    assert z.dtype == ember.complex64
    assert abs(float(z.real.var()) - 0.5) < 0.03 and abs(float(z.imag.var()) - 0.5) < 0.03
    u = ember.rand(1000, dtype=ember.complex128)
    assert u.dtype == ember.complex128
    assert 0 <= float(u.real.min()) and float(u.imag.max()) < 1 and float(u.imag.min()) >= 0


def test_conversions():
    x = ember.tensor([1.0, -2.0])
    assert x.cfloat().dtype == ember.complex64 and x.cdouble().dtype == ember.complex128
    assert x.to(ember.complex64).dtype == ember.complex64
    np.testing.assert_array_equal(_np(x.to(ember.cfloat)), [1, -2])
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        y = ember.tensor([1 + 2j]).to(ember.float32)
    assert y.dtype == ember.float32 and y.item() == 1.0
    assert ember.tensor([1 + 2j]).item() == 1 + 2j
    assert ember.tensor([[1 + 2j]]).tolist() == [[(1 + 2j)]]
    assert complex(ember.tensor(3j)) == 3j


@pytest.mark.parametrize("lib_name", ["complex", "polar"])
def test_complex_and_polar(lib_name):
    a, b = np.array([1.0, 0.0, -2.0, 3.0]), np.array([2.0, np.inf, 0.5, -1.0])
    for dtype in ("float32", "float64"):
        ours = getattr(ember, lib_name)(ember.tensor(a, dtype=getattr(ember, dtype)),
                                        ember.tensor(b, dtype=getattr(ember, dtype)))
        theirs = getattr(torch, lib_name)(torch.tensor(a, dtype=getattr(torch, dtype)),
                                          torch.tensor(b, dtype=getattr(torch, dtype)))
        assert ours.dtype.name == _name(theirs.dtype)
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6)
    with pytest.raises(RuntimeError):
        ember.complex(ember.ones(2), ember.ones(2, dtype=ember.float64))
    with pytest.raises(RuntimeError):
        ember.complex(ember.ones(2, dtype=ember.int64), ember.ones(2, dtype=ember.int64))


# -- views --------------------------------------------------------------------------------------
def test_real_and_imag_are_views_that_write_through():
    z = ember.tensor([1 + 2j, 3 - 4j])
    re, im = z.real, ember.imag(z)
    assert re.dtype == ember.float32 and im.dtype == ember.float32
    assert re.stride() == (2,) and not re.is_contiguous()
    re[0] = 10.0
    im.mul_(2)
    np.testing.assert_array_equal(_np(z), [10 + 4j, 3 - 8j])
    z.real = ember.tensor([7.0, 8.0])
    z.imag = ember.tensor(0.5)
    np.testing.assert_array_equal(_np(z), [7 + 0.5j, 8 + 0.5j])
    x = ember.ones(2)
    assert x.real is x and ember.real(x) is x
    with pytest.raises(RuntimeError, match="non-complex"):
        x.imag


def test_view_as_real_and_view_as_complex_share_memory():
    z = ember.tensor([[1 + 2j, 3 - 1j], [0j, -1 + 0.5j]], dtype=ember.complex128)
    r = ember.view_as_real(z)
    assert r.shape == (2, 2, 2) and r.dtype == ember.float64
    np.testing.assert_array_equal(_np(r), _np(torch.view_as_real(torch.tensor(_np(z)))))
    r[0, 0, 1] = 5.0
    assert z[0, 0].item() == 1 + 5j
    c = ember.view_as_complex(r)
    c[1, 1] = 9j
    assert r[1, 1].tolist() == [0.0, 9.0] and z[1, 1].item() == 9j
    # strided and 0-d inputs
    np.testing.assert_array_equal(_np(ember.view_as_real(z.T)), _np(r).transpose(1, 0, 2))
    assert ember.view_as_real(ember.tensor(1 + 2j)).tolist() == [1.0, 2.0]
    assert ember.view_as_complex(ember.ones(3, 4)[:, :2]).shape == (3,)


@pytest.mark.parametrize("make", [
    lambda lib: lib.view_as_real(lib.ones(2)),
    lambda lib: lib.view_as_complex(lib.ones(3, 3)),
    lambda lib: lib.view_as_complex(lib.ones(2, 3).T),
    lambda lib: lib.view_as_complex(lib.ones(4, 2, dtype=lib.int64)),
], ids=["real_of_real", "last_not_2", "last_stride", "int"])
def test_view_errors_like_torch(make):
    with pytest.raises(RuntimeError):
        make(torch)
    with pytest.raises(RuntimeError):
        make(ember)


def test_conj_is_eager():
    z = ember.tensor([1 + 2j, -3j])
    c = ember.conj(z)
    np.testing.assert_array_equal(_np(c), [1 - 2j, 3j])
    assert not c.is_conj() and not ember.is_conj(c) and ember.resolve_conj(c) is c
    assert z.conj_physical().tolist() == c.tolist() and c.resolve_neg() is c
    x = ember.ones(2)
    assert x.conj() is x
    m = ember.tensor([[1 + 1j, 2j], [3, 4 - 1j]])
    np.testing.assert_array_equal(_np(m.H), _np(torch.tensor(_np(m)).H))
    np.testing.assert_array_equal(_np(m[None].mH), _np(torch.tensor(_np(m))[None].mH))
    np.testing.assert_array_equal(_np(m.adjoint()), _np(m.H))


# -- repr ------------------------------------------------------------------------------------------
REPRS = [
    [1 + 2j, 3 - 1j], [1 + 2j, 3 - 10j, 100 + 0.5j], [1.5 + 2j, -3 - 1e-5j], 1 + 2j,
    [complex(np.nan, 1), complex(np.inf, -2), complex(0, np.inf)], [[1 + 2j, 3 - 1j], [0j, -0.0]],
    [1e10 + 1j, 1 + 1e-10j], [0j, 0j], [1e-5 + 1j, 2 + 0j],
]


@pytest.mark.parametrize("data", REPRS)
def test_repr_matches_torch(data):
    assert repr(ember.tensor(data)) == repr(torch.tensor(data)).replace("torch.", "ember.")


def test_repr_dtype_grad_and_wrapping():
    for lib in (ember, torch):
        lib.manual_seed(0)
    z = np.random.default_rng(0).standard_normal((3, 40)) * (1 - 0.5j)
    assert repr(ember.tensor(z, dtype=ember.complex64)) == \
        repr(torch.tensor(z, dtype=torch.complex64)).replace("torch.", "ember.")
    assert repr(ember.tensor([1j], dtype=ember.complex128, requires_grad=True)) == \
        "tensor([0.+1.j], dtype=ember.complex128, requires_grad=True)"
    assert repr(ember.zeros(2, 0, dtype=ember.complex64)) == \
        "tensor([], size=(2, 0), dtype=ember.complex64)"
    big = np.arange(2000) * (1 + 1j)
    assert repr(ember.tensor(big.tolist())) == repr(torch.tensor(big.tolist())).replace(
        "torch.", "ember.")


# -- op values -------------------------------------------------------------------------------------
rng = np.random.default_rng(0)
Z = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))) * 0.7
W = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))) * 0.7
R = rng.standard_normal((3, 4))

VALUE_OPS = {
    "neg": lambda L, z, w: -z, "reciprocal": lambda L, z, w: z.reciprocal(),
    "exp": lambda L, z, w: z.exp(), "log": lambda L, z, w: z.log(),
    "sqrt": lambda L, z, w: z.sqrt(),
    "sin": lambda L, z, w: z.sin(), "cos": lambda L, z, w: z.cos(), "tan": lambda L, z, w: z.tan(),
    "tanh": lambda L, z, w: z.tanh(), "sigmoid": lambda L, z, w: z.sigmoid(),
    "sinh": lambda L, z, w: z.sinh(), "cosh": lambda L, z, w: z.cosh(),
    "asin": lambda L, z, w: z.asin(),
    "acos": lambda L, z, w: z.acos(), "atan": lambda L, z, w: z.atan(),
    "asinh": lambda L, z, w: z.asinh(),
    "acosh": lambda L, z, w: z.acosh(), "atanh": lambda L, z, w: z.atanh(),
    "log1p": lambda L, z, w: z.log1p(), "expm1": lambda L, z, w: z.expm1(),
    "log2": lambda L, z, w: z.log2(), "log10": lambda L, z, w: z.log10(),
    "exp2": lambda L, z, w: L.exp2(z),
    "rsqrt": lambda L, z, w: z.rsqrt(), "square": lambda L, z, w: z.square(),
    "abs": lambda L, z, w: z.abs(), "angle": lambda L, z, w: z.angle(),
    "sgn": lambda L, z, w: z.sgn(),
    "add": lambda L, z, w: z + w, "sub": lambda L, z, w: z - w, "mul": lambda L, z, w: z * w,
    "div": lambda L, z, w: z / w, "pow": lambda L, z, w: z ** w,
    "pow_scalar": lambda L, z, w: z ** 2.5,
    "pow_complex_scalar": lambda L, z, w: z ** (1 - 1j), "rpow": lambda L, z, w: 2 ** z,
    "scalar_ops": lambda L, z, w: (1j - z) * 2 / (0.5 + 1j) + True,
    "real_tensor_mix": lambda L, z, w: z * L.tensor(R, dtype=L.float32) - L.arange(4),
    "sum": lambda L, z, w: z.sum(0), "mean": lambda L, z, w: z.mean(),
    "prod": lambda L, z, w: z.prod(1),
    "cumsum": lambda L, z, w: z.cumsum(1), "cumprod": lambda L, z, w: z.cumprod(0),
    "var": lambda L, z, w: z.var(1), "std": lambda L, z, w: z.std(),
    "norm": lambda L, z, w: z.norm(),
    "matmul": lambda L, z, w: z @ w.mT, "mm": lambda L, z, w: L.mm(z.T, w),
    "bmm": lambda L, z, w: L.bmm(z[None], w.mT[None]),
    "einsum": lambda L, z, w: L.einsum("ij,kj->ik", z, w),
    "dot": lambda L, z, w: L.dot(z[0], w[0]), "vdot": lambda L, z, w: L.vdot(z[0], w[0]),
    "cat": lambda L, z, w: L.cat([z, w], 1), "stack": lambda L, z, w: L.stack([z, w]),
    "reshape_permute": lambda L, z, w: z.reshape(2, 6).permute(1, 0),
    "index": lambda L, z, w: z[[0, 2], 1:], "flip_roll": lambda L, z, w: z.flip(1).roll(1, 0),
    "gather": lambda L, z, w: z.gather(1, L.tensor([[0, 1], [2, 3], [1, 1]])),
    "where": lambda L, z, w: L.where(z.real > 0, z, w), "eq": lambda L, z, w: z == z.conj(),
    "ne": lambda L, z, w: z != w, "isclose": lambda L, z, w: L.isclose(z, z + 1e-9),
    "isnan": lambda L, z, w: (z / 0).isnan(), "isfinite": lambda L, z, w: (z / 0).isfinite(),
    "isreal": lambda L, z, w: L.cat([z + z.conj(), z]).isreal(),
    "cov": lambda L, z, w: L.cov(z), "corrcoef": lambda L, z, w: L.corrcoef(z),
    "kron_diff": lambda L, z, w: L.kron(z[0], w[1]).diff(),
    "linear": lambda L, z, w: L.nn.functional.linear(z, w, w[:, 0]),
    "nan_to_num": lambda L, z, w: (z / 0).nan_to_num(),
}


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", list(VALUE_OPS))
def test_op_values_match_torch(name, dtype):
    fn = VALUE_OPS[name]
    ours, theirs = (fn(lib, lib.tensor(Z, dtype=getattr(lib, dtype)),
                       lib.tensor(W, dtype=getattr(lib, dtype))) for lib in (ember, torch))
    assert ours.dtype.name == _name(theirs.dtype)
    tol = 2e-5 if dtype == "complex64" else 1e-10
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=tol, atol=tol)


def test_allclose_and_equal():
    z = ember.tensor(Z)
    assert ember.allclose(z, z + 1e-9) and not ember.allclose(z, z + 1e-3j)
    assert ember.equal(z, z.clone()) and not ember.equal(z, z.conj())


# -- gradients -------------------------------------------------------------------------------------
def _loss(out):
    """A real loss that sees both parts of a complex result."""
    if out.dtype.is_complex:
        return (out.real * 0.7 - out.imag * 1.3).sum() + (out.abs() ** 2).sum() * 0.1
    return (out * out).sum() * 0.5 + out.sum()


GRAD_OPS = {name: VALUE_OPS[name] for name in (
    "neg reciprocal exp log sqrt sin cos tan tanh sigmoid sinh cosh asin acos atan asinh acosh "
    "atanh log1p expm1 log2 exp2 rsqrt square abs angle sgn add sub mul div pow pow_scalar "
    "pow_complex_scalar rpow scalar_ops sum mean prod cumsum cumprod var std norm matmul mm bmm "
    "einsum dot vdot cat stack reshape_permute index flip_roll gather where cov linear"
    ).split()}
GRAD_OPS.update({
    "real": lambda L, z, w: z.real * w.imag, "imag": lambda L, z, w: z.imag ** 2,
    "conj": lambda L, z, w: z.conj() * w, "view_as_real": lambda L, z, w: L.view_as_real(z) ** 2,
    "view_as_complex": lambda L, z, w: L.view_as_complex(L.view_as_real(z) * 2) * w,
    "complex": lambda L, z, w: L.complex(z.real * z.imag, z.real - w.imag),
    "polar": lambda L, z, w: L.polar(z.abs(), w.imag), "H": lambda L, z, w: z @ w.H,
    "einsum3": lambda L, z, w: L.einsum("ij,ij,ik->k", z, w, z), "sinc": lambda L, z, w: z.sinc(),
    "prod_with_zeros": lambda L, z, w: (z * L.tensor([[1, 0, 1, 1]])).prod(1) + z.prod(),
    "cumprod_with_zeros": lambda L, z, w: (z * L.tensor([[1, 0, 1, 1]])).cumprod(1),
    "abs_angle_sgn_at_zero": lambda L, z, w: (z * 0).abs() + (z * 0).angle() + (z * 0).sgn(),
    "in_place_on_real_view": lambda L, z, w: (lambda y: (y.real.mul_(3), y * w)[1])(z * 1),
    "in_place_on_view_as_real": lambda L, z, w: (lambda y: (L.view_as_real(y)[..., 1].add_(1),
                                                             y.exp())[1])(z * 1),
    "set_imag": lambda L, z, w: (lambda y: (setattr(y, "imag", w.real), y * y)[1])(z * 1),
    "lerp_addcmul": lambda L, z, w: L.lerp(z, w, 0.3) + L.addcmul(z, z, w),
})


def _grads(lib, fn, dtype="complex128"):
    z = lib.tensor(Z, dtype=getattr(lib, dtype), requires_grad=True)
    w = lib.tensor(W, dtype=getattr(lib, dtype), requires_grad=True)
    _loss(fn(lib, z, w)).backward()
    return [None if t.grad is None else _np(t.grad) for t in (z, w)]


@pytest.mark.parametrize("name", list(GRAD_OPS))
def test_gradients_match_torch(name):
    ours, theirs = _grads(ember, GRAD_OPS[name]), _grads(torch, GRAD_OPS[name])
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_gradients_in_complex64():
    for name in ("mul", "exp", "matmul", "abs", "div"):
        ours, theirs = (_grads(lib, GRAD_OPS[name], "complex64") for lib in (ember, torch))
        assert ours[0].dtype == np.complex64
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4, atol=1e-5)


REAL_LEAF_OPS = {
    "times_complex_scalar": lambda L, x: (x * (1 + 2j)).abs(),
    "complex": lambda L, x: L.complex(x, x * x).sin(),
    "to_complex": lambda L, x: (x.to(L.complex128) * (0.5 - 1j)).exp(),
    "polar": lambda L, x: L.polar(x.abs() + 1, x),
    "view_as_complex": lambda L, x: L.view_as_complex(x[:, :2].contiguous()).sqrt(),
    "matmul": lambda L, x: x.to(L.complex128) @ L.ones(4, 2, dtype=L.complex128) * 1j,
    "real_plus_complex_tensor": lambda L, x: x + L.tensor(W),
    "pow_real_base": lambda L, x: (x.abs() + 0.1) ** L.tensor(W[:, :1]),
}


@pytest.mark.parametrize("name", list(REAL_LEAF_OPS))
def test_real_leaf_gets_the_real_part(name):
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(R, dtype=lib.float64, requires_grad=True)
        _loss(REAL_LEAF_OPS[name](lib, x)).backward()
        grads.append(_np(x.grad))
    assert grads[0].dtype == np.float64
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-7, atol=1e-9)


def _numerical_grad(f, z0: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dL/dRe z + i dL/dIm z by central differences, for a real function L of z."""
    out = np.zeros_like(z0)
    for k in range(z0.size):
        for step in (1, 1j):
            d = np.zeros_like(z0)
            d.flat[k] = eps * step
            slope = (f(z0 + d) - f(z0 - d)) / (2 * eps)
            out.flat[k] += slope * step
    return out


@pytest.mark.parametrize("name", ["mul", "div", "exp", "sqrt", "abs", "angle", "matmul", "real",
                                  "imag", "view_as_real", "prod", "cumprod", "acosh", "pow"])
def test_gradients_match_finite_differences(name):
    fn = GRAD_OPS[name]
    w = ember.tensor(W)

    def loss_of(values):
        return _loss(fn(ember, ember.tensor(values), w)).item()
    z = ember.tensor(Z, requires_grad=True)
    _loss(fn(ember, z, w)).backward()
    np.testing.assert_allclose(z.grad.numpy(), _numerical_grad(loss_of, Z.copy()), rtol=1e-5,
                               atol=1e-6)


def test_double_backward_matches_torch():
    results = []
    for lib in (ember, torch):
        z = lib.tensor(Z[0] + 0.1, requires_grad=True)
        g, = lib.autograd.grad((z.exp() * z).abs().sum(), z, create_graph=True)
        g2, = lib.autograd.grad(lib.view_as_real(g).sum(), z)
        results.append(_np(g2))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-7)


def test_backward_of_complex_scalar_needs_a_gradient():
    z = ember.tensor([1 + 2j], requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        z.sum().backward()
    (z * z).sum().backward(ember.tensor(1 + 0j))
    assert z.grad.tolist() == [2 - 4j]


# -- ops PyTorch refuses for complex inputs --------------------------------------------------------
REFUSED = {
    "max": lambda L, z: z.max(), "max_dim": lambda L, z: z.max(0), "min": lambda L, z: z.min(),
    "amax": lambda L, z: z.amax(), "amin": lambda L, z: z.amin(), "argmax": lambda L, z: z.argmax(),
    "argmin": lambda L, z: z.argmin(0), "aminmax": lambda L, z: z.aminmax(),
    "relu": lambda L, z: L.relu(z), "clamp": lambda L, z: z.clamp(0, 1),
    "clamp_min": lambda L, z: z.clamp_min(0), "floor": lambda L, z: z.floor(),
    "ceil": lambda L, z: z.ceil(), "round": lambda L, z: z.round(), "trunc": lambda L, z: z.trunc(),
    "frac": lambda L, z: z.frac(), "sort": lambda L, z: z.sort(),
    "argsort": lambda L, z: z.argsort(),
    "topk": lambda L, z: z.topk(1), "msort": lambda L, z: z.msort(), "lt": lambda L, z: z < z,
    "le_scalar": lambda L, z: z <= 1, "gt_reflected": lambda L, z: 1 > z, "ge": lambda L, z: z >= z,
    "lt_real_tensor": lambda L, z: z.real < z, "maximum": lambda L, z: L.maximum(z, z),
    "minimum": lambda L, z: L.minimum(z, z), "fmax": lambda L, z: L.fmax(z, z),
    "sign": lambda L, z: z.sign(), "remainder": lambda L, z: z % 2,
    "floor_divide": lambda L, z: z // 2, "fmod": lambda L, z: L.fmod(z, 2),
    "atan2": lambda L, z: L.atan2(z, z), "erf": lambda L, z: L.erf(z),
    "median": lambda L, z: z.median(), "median_dim": lambda L, z: z.median(0),
    "cummax": lambda L, z: z.cummax(0), "kthvalue": lambda L, z: z.kthvalue(1),
    "mode": lambda L, z: z.mode(), "signbit": lambda L, z: z.signbit(),
    "hypot": lambda L, z: L.hypot(z, z), "copysign": lambda L, z: L.copysign(z, z),
    "deg2rad": lambda L, z: z.deg2rad(), "isposinf": lambda L, z: z.isposinf(),
    "heaviside": lambda L, z: L.heaviside(z, z), "nansum": lambda L, z: z.nansum(),
    "into_real_in_place": lambda L, z: L.ones(2).add_(z),
    "erfc": lambda L, z: L.erfc(z), "lgamma": lambda L, z: L.lgamma(z),
    "digamma": lambda L, z: L.digamma(z), "i0": lambda L, z: L.i0(z),
    "xlogy": lambda L, z: L.xlogy(z, z), "logit": lambda L, z: L.logit(z),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_like_torch(name):
    fn = REFUSED[name]
    with pytest.raises(RuntimeError) as theirs:
        fn(torch, torch.tensor([1 + 2j, -3 + 0.5j]))
    with pytest.raises(RuntimeError) as ours:
        fn(ember, ember.tensor([1 + 2j, -3 + 0.5j]))
    assert type(ours.value) is type(theirs.value)


def test_refusal_names_the_complex_type():
    with pytest.raises(NotImplementedError, match="'ComplexFloat'"):
        ember.tensor([1j]) < 1
    with pytest.raises(NotImplementedError, match="'ComplexDouble'"):
        ember.tensor([1j], dtype=ember.complex128).amax()


# -- devices and files -----------------------------------------------------------------------------
def test_complex_tensors_stay_on_the_fake_device(fake_cuda):
    z = ember.randn(3, 4, dtype=ember.complex64, device="cuda", requires_grad=True)
    outs = [z * 1j, z.abs(), z.angle(), z.real, ember.view_as_real(z), z.conj(),
            ember.complex(z.real, z.imag), z @ z.mH, z.exp().sum(), z.sgn()]
    for out in outs:
        assert out.device.type == "cuda" and type(out._data) is fake_cuda.array_type
    (outs[1].sum() + outs[7].real.sum() + outs[8].imag).backward()
    assert z.grad.device.type == "cuda" and z.grad.dtype == ember.complex64
    assert "device='cuda:0'" in repr(z.detach())


def test_save_and_load_complex(tmp_path):
    z = ember.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    ember.save({"z": z, "w": ember.ones(2)}, tmp_path / "c.safetensors")
    loaded = ember.load(tmp_path / "c.safetensors")
    assert loaded["z"].dtype == ember.complex64 and loaded["z"].requires_grad
    assert loaded["z"].tolist() == z.tolist()
    with pytest.raises(TypeError, match="complex128"):
        ember.save({"z": z.cdouble()}, tmp_path / "d.safetensors")


def test_load_torch_checkpoint_with_complex_tensors():
    buffer = io.BytesIO()
    torch.save({"a": torch.tensor([1 + 2j, 3j]),
                "b": torch.tensor([[1j, 2], [3, 4j]], dtype=torch.complex128).T}, buffer)
    buffer.seek(0)
    loaded = ember.load(buffer)
    assert loaded["a"].dtype == ember.complex64 and loaded["a"].tolist() == [1 + 2j, 3j]
    assert loaded["b"].dtype == ember.complex128 and loaded["b"].tolist() == [[1j, 3], [2, 4j]]
