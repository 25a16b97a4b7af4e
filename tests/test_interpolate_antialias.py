"""F.interpolate(..., antialias=True) against PyTorch: the weight matrices, values and
gradients (float), exact pixels (uint8), errors, and the fake cuda device."""
from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.backend.fake_cuda import FakeCudaArray
from ember.nn import _antialias

MODES = ("bilinear", "bicubic", "lanczos")


def _torch_bug(shape, out_size) -> bool:
    """PyTorch's float kernel on a contiguous input gives every output row the first row's
    vertical weights when the output is one pixel wide (channels_last is right)."""
    return out_size[1] == 1 and out_size[0] not in (1, shape[2])


def _torch_backward_differs(shape, kw) -> bool:
    """PyTorch's forward leaves a dim that keeps its size as it is, but its backward still
    resamples it with the weights of the given scale factor."""
    if "scale_factor" not in kw or kw.get("recompute_scale_factor") or kw.get("align_corners"):
        return False
    return any(int(n * f) == n and f != 1 for n, f in zip(shape[2:], kw["scale_factor"]))


def _cases(seed: int, count: int):
    """Random (mode, input shape, kwargs, dtype) draws that PyTorch gets right."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        mode = MODES[len(cases) % 3]
        shape = (2, 3) + tuple(int(v) for v in rng.integers(1, 14, 2))
        kw = {}
        if rng.random() < 0.5:
            kw["size"] = tuple(int(v) for v in rng.integers(1, 16, 2))
            out = kw["size"]
        else:
            factors = tuple(float(rng.choice([0.25, 1 / 3, 0.3, 0.5, 0.7, 0.9, 1.1, 1.5, 2.5]))
                            for _ in range(2))
            out = tuple(int(n * f) for n, f in zip(shape[2:], factors))
            kw["scale_factor"] = factors
            if rng.random() < 0.4:
                kw["recompute_scale_factor"] = True
        if min(out) < 1 or _torch_bug(shape, out):
            continue
        if mode != "lanczos" and rng.random() < 0.5:
            kw["align_corners"] = bool(rng.random() < 0.5)
        cases.append((mode, shape, kw, np.float64 if rng.random() < 0.4 else np.float32))
    return cases


_FIXED = [(mode, (1, 2, h, w), dict(size=size), np.float32)
          for mode in MODES
          for (h, w), size in [((12, 12), (6, 6)), ((12, 12), (4, 3)), ((16, 12), (4, 4)),
                               ((10, 7), (3, 5)), ((4, 5), (9, 11)), ((6, 9), (11, 4)),
                               ((7, 8), (1, 1)), ((7, 8), (1, 5)), ((5, 1), (5, 1))]]


@pytest.mark.parametrize("mode, shape, kw, dtype", _FIXED + _cases(0, 45))
def test_antialias_matches_torch(torch, mode, shape, kw, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    results = []
    for lib in (ember, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.interpolate(t, mode=mode, antialias=True, **kw)
        g = np.random.default_rng(2).standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(lib.tensor(g))
        results.append((y.detach().numpy(), t.grad.numpy()))
    (ey, eg), (ty, tg) = results
    assert ey.dtype == ty.dtype and ey.shape == ty.shape
    # PyTorch computes float32 weights in float32, ember in float64 and rounds them once
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ey, ty, rtol=tol, atol=tol)
    if not _torch_backward_differs(shape, kw):
        np.testing.assert_allclose(eg, tg, rtol=tol, atol=tol)


def test_gradient_of_an_unchanged_dim_is_the_identity():
    # PyTorch's backward resamples the height here with the 1.1 weights its forward skipped
    x = ember.randn(1, 1, 7, 4, dtype=ember.float64, requires_grad=True)
    y = F.interpolate(x, scale_factor=(1.1, 0.5), mode="bilinear", antialias=True)
    g = ember.randn(*y.shape, dtype=ember.float64)
    y.backward(g)
    w = _antialias.weights(4, 2, "bilinear", 0.5, False)
    np.testing.assert_allclose(x.grad.numpy(), g.numpy() @ w, atol=1e-14)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("align_corners", [False, True])
def test_weights_are_pytorchs(torch, mode, align_corners):
    """Resizing the columns of an identity image reads PyTorch's weight matrix off."""
    if mode == "lanczos" and align_corners:
        return
    for n_in, n_out in [(1, 3), (3, 1), (5, 2), (7, 3), (9, 20), (13, 4), (8, 8), (6, 13)]:
        eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, 1, n_in, 1).expand(
            n_in, 1, n_in, 2)
        y = torch.nn.functional.interpolate(eye, size=(n_out, 2), mode=mode, antialias=True,
                                            align_corners=align_corners or None)
        expected = y[:, 0, :, 0].T.numpy() if n_out != n_in else np.eye(n_in)
        np.testing.assert_allclose(_antialias.weights(n_in, n_out, mode, None, align_corners),
                                   expected, atol=1e-14)


def test_uint8_matches_torch_exactly(torch):
    rng = np.random.default_rng(3)
    for mode in MODES:
        for channels, (h, w), kw in [(3, (32, 24), dict(size=(9, 7))),
                                     (1, (10, 13), dict(size=(17, 5))),
                                     (4, (8, 8), dict(scale_factor=0.3)),
                                     (5, (11, 7), dict(scale_factor=(1.7, 0.45))),
                                     (3, (6, 9), dict(size=(6, 3))),
                                     (2, (5, 4), dict(size=(12, 1))),
                                     (3, (9, 14), dict(size=(4, 20), align_corners=True))]:
            if mode == "lanczos" and "align_corners" in kw:
                continue
            x = rng.integers(0, 256, (2, channels, h, w)).astype(np.uint8)
            ours = F.interpolate(ember.tensor(x), mode=mode, antialias=True, **kw).numpy()
            theirs = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, antialias=True,
                                                     **kw).numpy()
            assert ours.dtype == np.uint8
            np.testing.assert_array_equal(ours, theirs)


def test_uint8_to_one_pixel_is_the_rounded_float_result():
    # PyTorch's uint8 kernel fails an internal assert here
    x = np.random.default_rng(4).integers(0, 256, (1, 3, 6, 5)).astype(np.uint8)
    for mode in MODES:
        ours = F.interpolate(ember.tensor(x), size=1, mode=mode, antialias=True).numpy()
        exact = F.interpolate(ember.tensor(x.astype(np.float64)), size=1, mode=mode,
                              antialias=True).numpy()
        assert np.abs(ours - np.clip(exact, 0, 255)).max() <= 1


def test_one_pixel_wide_output_matches_torch_channels_last(torch):
    # on a contiguous input PyTorch repeats the first output row (see _torch_bug)
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6))
    ours = F.interpolate(ember.tensor(x), size=(4, 1), mode="bilinear", antialias=True)
    channels_last = torch.tensor(x).contiguous(memory_format=torch.channels_last)
    theirs = torch.nn.functional.interpolate(channels_last, size=(4, 1), mode="bilinear",
                                             antialias=True)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)


def test_upsampling_bilinear_is_plain_bilinear():
    x = ember.randn(1, 2, 4, 5, dtype=ember.float64)
    np.testing.assert_allclose(
        F.interpolate(x, size=(9, 7), mode="bilinear", antialias=True).numpy(),
        F.interpolate(x, size=(9, 7), mode="bilinear").numpy(), atol=1e-14)


def test_unchanged_size_gives_a_copy():
    x = ember.ones(1, 1, 3, 4)
    y = F.interpolate(x, scale_factor=1.2, mode="bicubic", antialias=True)  # floor(3.6), 4.8
    assert tuple(y.shape) == (1, 1, 3, 4)
    y.add_(1)
    assert float(x.sum()) == 12.0


@pytest.mark.parametrize("mode, shape, kw", [
    ("bilinear", (1, 2, 7, 6), dict(size=(3, 4))),
    ("bilinear", (1, 1, 5, 5), dict(scale_factor=(0.4, 1.6), align_corners=True)),
    ("bicubic", (1, 2, 8, 5), dict(size=(3, 7))),
    ("bicubic", (1, 1, 9, 4), dict(scale_factor=0.3, recompute_scale_factor=True)),
    ("lanczos", (1, 1, 9, 7), dict(size=(4, 2))),
])
def test_antialias_gradcheck(mode, shape, kw):
    x = ember.tensor(np.random.default_rng(6).standard_normal(shape), dtype=ember.float64,
                     requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, mode=mode, antialias=True, **kw), (x,))


_AA_ONLY = "Anti-alias option is restricted to bilinear, bicubic, and lanczos"


@pytest.mark.parametrize("shape, kw, error, match", [
    ((1, 2, 5, 5), dict(mode="nearest", antialias=True), ValueError, _AA_ONLY),
    ((1, 2, 5, 5), dict(mode="area", antialias=True), ValueError, _AA_ONLY),
    ((1, 2, 5), dict(mode="linear", antialias=True), ValueError, _AA_ONLY),
    ((1, 2, 5), dict(mode="bilinear", antialias=True), ValueError, _AA_ONLY),
    ((1, 2, 5, 5, 5), dict(mode="bicubic", antialias=True), ValueError, _AA_ONLY),
    ((1, 2, 5, 5, 5), dict(mode="trilinear", antialias=True), ValueError, _AA_ONLY),
    ((1, 2, 5, 5), dict(mode="lanczos"), ValueError, "Lanczos mode requires antialias=True"),
    ((1, 2, 5, 5), dict(mode="lanczos", antialias=True, align_corners=True), ValueError,
     "Lanczos mode does not support align_corners=True"),
])
def test_antialias_errors_match_torch(torch, shape, kw, error, match):
    size = 3 if len(shape) == 3 else (3,) * (len(shape) - 2)
    for lib in (ember, torch):
        with pytest.raises(error, match=match):
            lib.nn.functional.interpolate(lib.ones(shape), size=size, **kw)


def test_antialias_rejects_other_dtypes_and_empty_sizes():
    with pytest.raises(NotImplementedError, match="floating point or uint8"):
        F.interpolate(ember.ones(1, 1, 4, 4, dtype=ember.int32), size=2, mode="bilinear",
                      antialias=True)
    with pytest.raises(RuntimeError, match="greater than 0"):
        F.interpolate(ember.ones(1, 1, 4, 4), size=(0, 2), mode="bilinear", antialias=True)




@pytest.mark.parametrize("dtype", [ember.float32, ember.uint8])
def test_antialias_stays_on_the_fake_cuda_device(fake_cuda, dtype):
    x = ember.tensor(np.random.default_rng(7).uniform(0, 255, (2, 3, 9, 7))).to(dtype)
    expected = F.interpolate(x, size=(4, 10), mode="bicubic", antialias=True)
    y = F.interpolate(x.to("cuda"), size=(4, 10), mode="bicubic", antialias=True)
    assert type(y._data) is FakeCudaArray and y.is_cuda and y.dtype == dtype
    np.testing.assert_array_equal(y.cpu().numpy(), expected.numpy())
    if dtype == ember.float32:
        xc = x.to("cuda").requires_grad_()
        F.interpolate(xc, size=(4, 10), mode="bicubic", antialias=True).sum().backward()
        assert type(xc.grad._data) is FakeCudaArray
