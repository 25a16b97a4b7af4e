"""F.interpolate and the Upsample modules against PyTorch: values, gradients, errors, repr."""
from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck


def _cases(seed: int, count: int):
    """Random (mode, input shape, kwargs, dtype) draws, invalid ones left out."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        nd = int(rng.integers(1, 3))
        modes = ["nearest", "nearest-exact", "area"] + (
            ["linear"] if nd == 1 else ["bilinear", "bicubic"])
        mode = str(rng.choice(modes))
        spatial = tuple(int(v) for v in rng.integers(1, 9, nd))
        kw = {}
        if rng.random() < 0.5:
            kw["size"] = tuple(int(v) for v in rng.integers(1, 13, nd))
        else:
            factors = tuple(float(rng.choice([0.5, 0.7, 1.3, 1.5, 2.0, 2.5, 3.0]))
                            for _ in range(nd))
            if min(int(n * f) for n, f in zip(spatial, factors)) <= 0:
                continue
            kw["scale_factor"] = factors if nd > 1 else factors[0]
            if rng.random() < 0.3:
                kw["recompute_scale_factor"] = True
            elif all(int(n * f) == n for n, f in zip(spatial, factors)) and (
                    mode == "bicubic" or nd == 1 and mode == "nearest"):
                continue  # PyTorch's backward disagrees with its own forward here
        if mode in ("linear", "bilinear") and rng.random() < 0.6:
            kw["align_corners"] = bool(rng.random() < 0.5)
        dtype = np.float64 if rng.random() < 0.4 else np.float32
        cases.append((mode, (2, 3) + spatial, kw, dtype))
    return cases


@pytest.mark.parametrize("mode, shape, kw, dtype", _cases(0, 120))
def test_interpolate_matches_torch(torch, mode, shape, kw, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    results = []
    for lib in (ember, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.interpolate(t, mode=mode, **kw)
        g = np.random.default_rng(2).standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(lib.tensor(g))
        results.append((y.detach().numpy(), t.grad.numpy()))
    (ey, eg), (ty, tg) = results
    assert ey.dtype == ty.dtype and ey.shape == ty.shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ey, ty, rtol=tol, atol=tol)
    np.testing.assert_allclose(eg, tg, rtol=tol, atol=tol)


def test_nearest_picks_pytorch_pixels_for_integer_images(torch):
    x = np.arange(5 * 7, dtype=np.uint8).reshape(1, 1, 5, 7)
    for kw in (dict(size=(9, 4)), dict(scale_factor=(1.7, 0.6)), dict(size=(10, 14))):
        for mode in ("nearest", "nearest-exact"):
            np.testing.assert_array_equal(
                F.interpolate(ember.tensor(x), mode=mode, **kw).numpy(),
                torch.nn.functional.interpolate(torch.tensor(x), mode=mode, **kw).numpy())


def test_one_d_nearest_gradient_is_the_adjoint_of_the_forward():
    # PyTorch's 1-D nearest kernel uses the scale here ([0, 0, 1]) but its backward does not;
    # ember's gradient is the true one of the forward both agree on
    x = ember.tensor([[[1.0, 2.0, 3.0]]], requires_grad=True)
    y = F.interpolate(x, scale_factor=1.3)
    np.testing.assert_array_equal(y.detach().numpy(), [[[1.0, 1.0, 2.0]]])
    y.backward(ember.tensor([[[1.0, 10.0, 100.0]]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[[11.0, 100.0, 0.0]]])


@pytest.mark.parametrize("mode, shape, kw", [
    ("linear", (1, 2, 5), dict(size=8, align_corners=True)),
    ("linear", (1, 2, 6), dict(scale_factor=0.7)),
    ("bilinear", (1, 2, 3, 4), dict(size=(5, 7))),
    ("bilinear", (1, 1, 4, 3), dict(scale_factor=(1.5, 2.0), align_corners=True)),
    ("nearest", (1, 2, 3, 4), dict(scale_factor=2)),
    ("bicubic", (1, 2, 3, 4), dict(size=(6, 5))),
    ("bicubic", (1, 1, 4, 4), dict(scale_factor=0.6, align_corners=True)),
    ("bicubic", (1, 1, 2, 3), dict(scale_factor=1.3)),  # PyTorch's backward is wrong here
])
def test_interpolate_gradcheck(mode, shape, kw):
    x = ember.tensor(np.random.default_rng(3).standard_normal(shape), dtype=ember.float64,
                     requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, mode=mode, **kw), (x,))


def test_interpolate_keeps_an_unchanged_input_apart():
    x = ember.ones(1, 1, 3, 3)
    y = F.interpolate(x, size=(3, 3), mode="bilinear")
    y.add_(1)
    assert float(x.sum()) == 9.0


@pytest.mark.parametrize("call, error, match", [
    (lambda x: F.interpolate(x, size=4, scale_factor=2), ValueError, "only one of size"),
    (lambda x: F.interpolate(x), ValueError, "either size or scale_factor"),
    (lambda x: F.interpolate(x, size=4, align_corners=True), ValueError, "align_corners"),
    (lambda x: F.interpolate(x, size=4, mode="trilinear"), NotImplementedError, "trilinear"),
    (lambda x: F.interpolate(x, size=4, mode="linear"), NotImplementedError, "4D input"),
    (lambda x: F.interpolate(x, size=(4, 4, 4)), ValueError, "same number of spatial"),
    (lambda x: F.interpolate(x, size=4, recompute_scale_factor=True), ValueError,
     "recompute_scale_factor"),
    (lambda x: F.interpolate(x[0, 0], size=4), NotImplementedError, "2D input"),
])
def test_interpolate_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(ember.ones(1, 2, 3, 3))


def test_upsample_modules_match_torch(torch):
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5)).astype(np.float32)
    pairs = [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
             (nn.Upsample(size=(7, 3), mode="bilinear"),
              torch.nn.Upsample(size=(7, 3), mode="bilinear")),
             (nn.Upsample(scale_factor=(1.5, 2), mode="nearest-exact"),
              torch.nn.Upsample(scale_factor=(1.5, 2), mode="nearest-exact")),
             (nn.UpsamplingNearest2d(size=9), torch.nn.UpsamplingNearest2d(size=9)),
             (nn.UpsamplingBilinear2d(scale_factor=2),
              torch.nn.UpsamplingBilinear2d(scale_factor=2))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(ember.tensor(x)).numpy(),
                                   theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
        assert ours.state_dict() == {}


_CASES_3D = [
    ("trilinear", dict(size=(4, 5, 3))),
    ("trilinear", dict(scale_factor=(1.5, 0.5, 2.0), align_corners=True)),
    ("trilinear", dict(scale_factor=2.0)),
    ("nearest", dict(size=(5, 2, 7))),
    ("nearest", dict(scale_factor=(2.0, 1.5, 0.5))),
    ("nearest-exact", dict(size=(4, 6, 3))),
    ("area", dict(size=(2, 3, 1))),
]


@pytest.mark.parametrize("mode, kw", _CASES_3D)
def test_interpolate_3d_matches_torch(torch, mode, kw):
    x = np.random.default_rng(5).standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    results = []
    for lib in (ember, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.interpolate(t, mode=mode, **kw)
        g = np.random.default_rng(6).standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(lib.tensor(g))
        results.append((y.detach().numpy(), t.grad.numpy()))
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-5)
