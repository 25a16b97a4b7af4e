"""ember.fft against torch.fft: values and result dtypes for every transform, norm, n/s
padding and truncation and dim choice; gradients (PyTorch's, including rfft/irfft's handling
of the Hermitian half); argument errors; frequencies and shifts; the fake cuda device."""
from __future__ import annotations

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 6))
Z = X + 1j * rng.standard_normal((4, 6))
NORMS = [None, "ortho", "forward"]  # None is "backward" (checked in test_backward_is_default)

# (function, keyword arguments, whether the input is complex)
C2C = [("fft", {}), ("fft", {"n": 4, "dim": 0}), ("fft", {"n": 9}), ("ifft", {}),
       ("ifft", {"n": 3}), ("fft2", {}), ("fft2", {"s": (3, 8)}), ("ifft2", {"s": (5, 5)}),
       ("fftn", {}), ("fftn", {"s": (3, -1)}), ("fftn", {"dim": (1, 0)}), ("ifftn", {"dim": 0}),
       ("ifftn", {"s": (7,), "dim": (1,)})]
C2R = [("irfft", {}), ("irfft", {"n": 7}), ("irfft", {"n": 4, "dim": 0}), ("irfftn", {}),
       ("irfft2", {"s": (3, 9)}), ("irfftn", {"s": (5, 6), "dim": (1, 0)}), ("hfft", {}),
       ("hfft", {"n": 5}), ("hfft", {"n": 12, "dim": 0})]
R2C = [("rfft", {}), ("rfft", {"n": 5}), ("rfft", {"n": 8, "dim": 0}), ("rfftn", {}),
       ("rfft2", {"s": (3, 7)}), ("rfftn", {"dim": (1, 0)}), ("rfftn", {"s": (5,)}),
       ("ihfft", {}), ("ihfft", {"n": 5})]
CASES = [(f, kw, c) for f, kw in C2C + C2R for c in (False, True)] + \
        [(f, kw, False) for f, kw in R2C]
IDS = [f"{f}-{kw}-{'complex' if c else 'real'}" for f, kw, c in CASES]


def _np(t) -> np.ndarray:
    return t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _name(dtype) -> str:
    return str(dtype).split(".")[-1]


def _input(lib, complex_input: bool, dtype: str = "64", requires_grad: bool = False):
    name = ("complex" + str(2 * int(dtype))) if complex_input else "float" + dtype
    return lib.tensor(Z if complex_input else X, dtype=getattr(lib, name),
                      requires_grad=requires_grad)


def _loss(out):
    if out.dtype.is_complex:
        return (out.real * 0.7 - out.imag * 1.3).sum() + (out.abs() ** 2).sum() * 0.1
    return (out * out).sum() + out.sum()


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("fn, kwargs, complex_input", CASES, ids=IDS)
def test_values_and_dtypes_match_torch(fn, kwargs, complex_input, norm):
    for precision, tol in (("32", 1e-4), ("64", 1e-10)):
        ours = getattr(ember.fft, fn)(_input(ember, complex_input, precision), **kwargs, norm=norm)
        theirs = getattr(torch.fft, fn)(_input(torch, complex_input, precision), **kwargs,
                                        norm=norm)
        assert ours.dtype.name == _name(theirs.dtype)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=tol, atol=tol)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("fn, kwargs, complex_input", CASES, ids=IDS)
def test_gradients_match_torch(fn, kwargs, complex_input, norm):
    grads = []
    for lib in (ember, torch):
        x = _input(lib, complex_input, requires_grad=True)
        _loss(getattr(lib.fft, fn)(x, **kwargs, norm=norm)).backward()
        grads.append(_np(x.grad))
    assert grads[0].dtype == grads[1].dtype
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-8, atol=1e-10)


def test_backward_is_default():
    x = ember.tensor(X)
    for fn in ("fft", "rfft", "ihfft"):
        np.testing.assert_array_equal(_np(getattr(ember.fft, fn)(x, norm="backward")),
                                      _np(getattr(ember.fft, fn)(x)))


def test_float32_gradients():
    for fn in ("fft", "rfft", "irfft", "fft2"):
        grads = []
        for lib in (ember, torch):
            x = lib.tensor(X, dtype=lib.float32, requires_grad=True)
            _loss(getattr(lib.fft, fn)(x)).backward()
            grads.append(_np(x.grad))
        assert grads[0].dtype == np.float32
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-4)


def test_integer_and_bool_inputs_promote_to_the_default_dtype():
    for data in (np.arange(6), np.array([True, False, True])):
        ours, theirs = ember.fft.fft(ember.tensor(data)), torch.fft.fft(torch.tensor(data))
        assert ours.dtype == ember.complex64 and _name(theirs.dtype) == "complex64"
        np.testing.assert_allclose(_np(ours), _np(theirs), atol=1e-5)
    ember.set_default_dtype(ember.float64)
    assert ember.fft.rfft(ember.arange(4)).dtype == ember.complex128


def test_round_trips():
    x = ember.tensor(X)
    np.testing.assert_allclose(_np(ember.fft.irfft(ember.fft.rfft(x), n=6)), X, atol=1e-12)
    np.testing.assert_allclose(_np(ember.fft.ifftn(ember.fft.fftn(ember.tensor(Z)))), Z,
                               atol=1e-12)
    np.testing.assert_allclose(_np(ember.fft.hfft(ember.fft.ihfft(x), n=6)), X, atol=1e-12)


def test_second_derivative_matches_torch():
    results = []
    for lib in (ember, torch):
        x = lib.tensor(X, requires_grad=True)
        g, = lib.autograd.grad((lib.fft.rfft(x).abs() ** 3).sum(), x, create_graph=True)
        g2, = lib.autograd.grad((g * g).sum(), x)
        results.append(_np(g2))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-8)


@pytest.mark.parametrize("call", [
    lambda lib: lib.fft.fft(lib.ones(4), n=0),
    lambda lib: lib.fft.fft(lib.ones(4), dim=1),
    lambda lib: lib.fft.fft(lib.ones(4), norm="bad"),
    lambda lib: lib.fft.fftn(lib.ones(4, 6), s=(3,), dim=(0, 1)),
    lambda lib: lib.fft.fftn(lib.ones(4, 6), dim=(0, 0)),
    lambda lib: lib.fft.fftn(lib.ones(4, 6), s=(3, 4, 5)),
    lambda lib: lib.fft.rfft(lib.ones(4, dtype=lib.complex64)),
    lambda lib: lib.fft.ihfft(lib.ones(4, dtype=lib.complex64)),
    lambda lib: lib.fft.irfft(lib.ones(1, dtype=lib.complex64)),
    lambda lib: lib.fft.fft(lib.tensor(1.0)),
    lambda lib: lib.fft.fft(lib.ones(4, dtype=lib.float16)),
], ids=["n0", "dim", "norm", "s_vs_dim", "repeated_dim", "long_s", "rfft_complex",
        "ihfft_complex", "irfft_one_point", "zero_dim", "half"])
def test_errors_like_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(ember)
    assert type(ours.value) is type(theirs.value)


def test_zero_dim_fftn_and_empty_dims():
    assert ember.fft.fftn(ember.tensor(2.0)).tolist() == torch.fft.fftn(torch.tensor(2.0)).tolist()
    out = ember.fft.fftn(ember.tensor(X), dim=())
    assert out.dtype == ember.complex128 and np.allclose(_np(out), X)


@pytest.mark.parametrize("n, d", [(1, 1.0), (5, 1.0), (6, 0.3), (7, 2.0)])
def test_frequencies(n, d):
    for name in ("fftfreq", "rfftfreq"):
        ours, theirs = getattr(ember.fft, name)(n, d), getattr(torch.fft, name)(n, d)
        assert ours.dtype == ember.float32
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6)
        ours = getattr(ember.fft, name)(n, d, dtype=ember.float64)
        theirs = getattr(torch.fft, name)(n, d, dtype=torch.float64)
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-12)


@pytest.mark.parametrize("dim", [None, 0, 1, (1, 0), -1])
def test_shifts(dim):
    x = np.arange(35.0).reshape(5, 7)
    for name in ("fftshift", "ifftshift"):
        ours = getattr(ember.fft, name)(ember.tensor(x, requires_grad=True), dim=dim)
        theirs = getattr(torch.fft, name)(torch.tensor(x), dim=dim)
        np.testing.assert_array_equal(_np(ours), _np(theirs))
        ours.sum().backward()  # a roll: differentiable
    shifted = ember.fft.ifftshift(ember.fft.fftshift(ember.tensor(x), dim=dim), dim=dim)
    np.testing.assert_array_equal(_np(shifted), x)


def test_results_stay_on_the_fake_device(fake_cuda):
    x = ember.tensor(X, dtype=ember.float32, device="cuda", requires_grad=True)
    z = ember.tensor(Z, dtype=ember.complex64, device="cuda", requires_grad=True)
    outs = [ember.fft.fft(x), ember.fft.rfft(x, n=9), ember.fft.irfft(z), ember.fft.fftn(z),
            ember.fft.hfft(z), ember.fft.ihfft(x), ember.fft.ifft2(z, s=(3, 3)),
            ember.fft.fftshift(z), ember.fft.fftfreq(4, device="cuda"),
            ember.fft.rfftfreq(4, device="cuda")]
    for out in outs:
        assert out.device.type == "cuda" and type(out._data) is fake_cuda.array_type
    assert outs[0].dtype == ember.complex64 and outs[2].dtype == ember.float32
    sum(_loss(o) for o in outs[:8]).backward()
    for leaf in (x, z):
        assert leaf.grad.device.type == "cuda" and type(leaf.grad._data) is fake_cuda.array_type
    assert x.grad.dtype == ember.float32 and z.grad.dtype == ember.complex64
