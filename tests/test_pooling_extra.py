"""3-D pooling (ceil_mode, indices, divisors), max-unpooling and LP pooling against PyTorch:
values, indices and input gradients, module reprs, errors, and the fake cuda device."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck
from test_cuda_fake import _install

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the torch comparisons are skipped
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
RTOL, ATOL = 1e-5, 1e-5


def _data(rng, shape, ties=False, positive=False, dtype=np.float32):
    x = rng.standard_normal(shape)
    if ties:  # rounded values: many equal maxima in each window
        x = np.round(x * 1.5)
    if positive:
        x = np.abs(x) + 0.1
    return x.astype(dtype)


def _lib_call(fn, lib, arrays):
    """fn(lib, *tensors) on fresh leaf tensors (gradients for floating arrays)."""
    tensors = [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    return fn(lib, *tensors), tensors


def _compare(fn, arrays, seed=0, with_indices=False):
    """fn(lib, *tensors) in ember and torch: output values (and indices), input gradients."""
    (ey, et), (ty, tt) = _lib_call(fn, ember, arrays), _lib_call(fn, torch, arrays)
    if with_indices:
        np.testing.assert_array_equal(ey[1].numpy(), ty[1].numpy())
        assert ey[1].dtype == ember.int64
        ey, ty = ey[0], ty[0]
    assert tuple(ey.shape) == tuple(ty.shape)
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=RTOL, atol=ATOL)
    if not ty.requires_grad:
        return
    g = np.random.default_rng(seed).standard_normal(tuple(ty.shape)).astype(arrays[0].dtype)
    ey.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    for e, t in zip(et, tt):
        if t.requires_grad:
            assert e.grad.dtype == e.dtype and tuple(e.grad.shape) == tuple(e.shape)
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=RTOL, atol=ATOL)


# -- max_pool3d -------------------------------------------------------------------------------
MAX3D = [  # input shape, kwargs
    ((2, 3, 5, 6, 7), dict(kernel_size=2)),
    ((2, 2, 7, 6, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 6, 7, 8), dict(kernel_size=(3, 2, 2), stride=(2, 1, 3), padding=(1, 0, 1),
                           dilation=(1, 2, 2), ceil_mode=True)),
    ((2, 2, 5, 5, 5), dict(kernel_size=2, stride=1)),  # overlapping windows
    ((1, 3, 6, 5, 7), dict(kernel_size=(2, 3, 3), stride=2, padding=(1, 1, 0), dilation=(2, 1, 1))),
    ((3, 5, 6, 4), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),  # unbatched
    # ceil_mode drops a last window that would start in the right padding (along D and W)
    ((2, 2, 5, 4, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
]


@needs_torch
@pytest.mark.parametrize("shape, kw", MAX3D)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool3d_values_indices_and_gradients_match_torch(shape, kw, ties):
    x = _data(np.random.default_rng(1), shape, ties=ties)
    _compare(lambda lib, t: lib.nn.functional.max_pool3d(t, return_indices=True, **kw), [x],
             with_indices=True)
    _compare(lambda lib, t: lib.nn.functional.max_pool3d(t, **kw), [x])


@needs_torch
def test_max_pool3d_nan_inf_and_integers_like_torch():
    x = np.zeros((1, 2, 2, 2, 2), np.float32)
    x[0, 0, 0, 0, 1] = x[0, 0, 1, 0, 1] = np.nan  # the last NaN wins, as PyTorch
    x[0, 1] = -np.inf  # every value -inf: the first one is the argmax
    for fn in (lambda lib, t: lib.nn.functional.max_pool3d(t, 2, return_indices=True),
               lambda lib, t: lib.nn.functional.adaptive_max_pool3d(t, 1, return_indices=True)):
        (ey, ei), (ty, ti) = _lib_call(fn, ember, [x])[0], _lib_call(fn, torch, [x])[0]
        np.testing.assert_array_equal(ei.numpy(), ti.numpy())
        np.testing.assert_array_equal(ey.detach().numpy(), ty.detach().numpy())
    ints = -np.arange(1, 28, dtype=np.int64).reshape(1, 1, 3, 3, 3)  # all below zero
    _compare(lambda lib, t: lib.nn.functional.max_pool3d(t, 2, padding=1, return_indices=True),
             [ints], with_indices=True)


# -- adaptive_max_pool3d ----------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("size", [(3, 4, 2), 1, (None, 3, 4), (4, 5, 3), (5, 6, 7)])
def test_adaptive_max_pool3d_indices_match_torch(size):
    x = _data(np.random.default_rng(2), (2, 3, 5, 6, 7), ties=True)
    _compare(lambda lib, t: lib.nn.functional.adaptive_max_pool3d(t, size, True), [x],
             with_indices=True)
    _compare(lambda lib, t: lib.nn.functional.adaptive_max_pool3d(t[0], size, True), [x],
             with_indices=True)  # unbatched


# -- avg_pool3d -------------------------------------------------------------------------------
AVG3D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(3, 2, 2), stride=(2, 1, 3), padding=(1, 0, 1), count_include_pad=False),
    dict(kernel_size=(2, 3, 3), stride=2, padding=(1, 1, 0), ceil_mode=True,
         divisor_override=5),
    dict(kernel_size=2, stride=1, divisor_override=3),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
]


@needs_torch
@pytest.mark.parametrize("kw", AVG3D)
def test_avg_pool3d_matches_torch(kw):
    x = _data(np.random.default_rng(3), (2, 3, 7, 6, 5))
    _compare(lambda lib, t: lib.nn.functional.avg_pool3d(t, **kw), [x])
    _compare(lambda lib, t: lib.nn.functional.avg_pool3d(t[1], **kw), [x])  # unbatched
    ints = np.random.default_rng(4).integers(-20, 20, (1, 2, 5, 6, 7))  # truncating division
    _compare(lambda lib, t: lib.nn.functional.avg_pool3d(t, **kw), [ints])


def test_pool3d_gradcheck():
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((1, 2, 4, 5, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.avg_pool3d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                     (x,))
    assert gradcheck(lambda t: F.max_pool3d(t, 2, 1, 1, ceil_mode=True), (x,))
    assert gradcheck(lambda t: F.adaptive_max_pool3d(t, (3, 2, 2)), (x,))


# -- max_unpool -------------------------------------------------------------------------------
UNPOOL = [  # dims, input shape, pooling kwargs
    (1, (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    (1, (3, 8), dict(kernel_size=2)),  # unbatched
    (2, (2, 3, 7, 5), dict(kernel_size=3, stride=2, padding=1)),
    (2, (2, 3, 8, 6), dict(kernel_size=3, stride=2, padding=1)),  # needs output_size
    (2, (3, 6, 8), dict(kernel_size=(2, 3), stride=(2, 3))),  # unbatched, needs output_size
    (3, (2, 2, 5, 3, 7), dict(kernel_size=3, stride=2, padding=1)),
    (3, (2, 4, 4, 6), dict(kernel_size=2)),  # unbatched
]


@needs_torch
@pytest.mark.parametrize("nd, shape, kw", UNPOOL)
def test_max_unpool_round_trip_matches_torch(nd, shape, kw):
    x = _data(np.random.default_rng(6), shape)
    y, index = getattr(TF, f"max_pool{nd}d")(torch.tensor(x), return_indices=True, **kw)
    pooled, index = y.numpy(), index.numpy()
    sizes = [shape[-nd:]] + ([shape] if len(shape) == nd + 2 else [])
    try:
        default = tuple(getattr(TF, f"max_unpool{nd}d")(y, torch.tensor(index), **kw).shape)
    except RuntimeError:  # indices past the default size
        default = None
    if default == shape:
        sizes.append(None)
    for size in sizes:
        _compare(lambda lib, t, i: getattr(lib.nn.functional, f"max_unpool{nd}d")(
            t, i, output_size=size, **kw), [pooled, index])
    out = getattr(nn, f"MaxUnpool{nd}d")(**kw)(ember.tensor(pooled), ember.tensor(index),
                                              output_size=shape[-nd:])
    # the round trip puts each window's maximum back in its place, zeros elsewhere
    kept = out.numpy() != 0
    planes = index.reshape(math.prod(index.shape[:-nd]), -1)
    assert kept.sum() == sum(len(np.unique(plane)) for plane in planes)
    np.testing.assert_array_equal(out.numpy()[kept], x[kept])


def test_max_unpool_gradient_gathers_at_the_indices():
    x = ember.arange(16.).reshape(1, 1, 4, 4)
    y, index = F.max_pool2d(x, 2, return_indices=True)
    y = y.detach().requires_grad_()
    out = F.max_unpool2d(y, index, 2)
    (out * ember.arange(16.).reshape(1, 1, 4, 4)).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[[[5., 7.], [13., 15.]]]])
    assert out.grad_fn.name() == "MaxUnpool2DBackward0"
    rng = np.random.default_rng(7)
    v = ember.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    i = ember.tensor(rng.integers(0, 2, (2, 3, 2)) + np.array([0, 2]))  # one per window of 2
    assert gradcheck(lambda t: F.max_unpool1d(t, i, 2), (v,))


# -- LP pooling -------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("p", [1, 2, 3, 1.5, math.inf])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_lp_pool_matches_torch(p, nd):
    rng = np.random.default_rng(8)
    shape = (2, 3) + (7, 6, 5)[:nd]
    x = _data(rng, shape, positive=p not in (1, 2, math.inf))  # odd powers of x < 0: nan
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, ceil_mode=True)):
        _compare(lambda lib, t: getattr(lib.nn.functional, f"lp_pool{nd}d")(t, p, **kw), [x])
        _compare(lambda lib, t: getattr(lib.nn.functional, f"lp_pool{nd}d")(t[0], p, **kw), [x])


@needs_torch
def test_lp_pool_zero_windows_and_negative_sums_like_torch():
    x = np.zeros((1, 2, 4, 4), np.float32)
    x[0, 1, :2, :2] = [[1, -2], [3, -5]]  # p=3: a negative sum, nan as in PyTorch
    for p in (2, 3):
        _compare(lambda lib, t: lib.nn.functional.lp_pool2d(t, p, 2), [x])
    e = ember.zeros(1, 1, 4, 4, requires_grad=True)
    F.lp_pool2d(e, 2, 2).sum().backward()  # the gradient is 0, not nan, at a zero sum
    np.testing.assert_array_equal(e.grad.numpy(), np.zeros((1, 1, 4, 4)))


# -- modules ----------------------------------------------------------------------------------
MODULES = [  # constructor text, input shape
    ("MaxPool3d(3, stride=2, padding=1, ceil_mode=True)", (2, 2, 5, 6, 7)),
    ("MaxPool3d(2, return_indices=True)", (2, 3, 4, 4, 5)),
    ("AvgPool3d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)", (2, 2, 5, 6, 7)),
    ("AvgPool3d((2, 3, 2), divisor_override=7)", (3, 4, 6, 5)),
    ("AdaptiveMaxPool3d((3, None, 2), return_indices=True)", (2, 2, 5, 6, 7)),
    ("LPPool1d(2, 3, stride=2)", (2, 3, 9)),
    ("LPPool2d(1, (2, 3), ceil_mode=True)", (2, 3, 7, 8)),
    ("LPPool3d(2.5, 2)", (2, 2, 4, 5, 6)),
]


@needs_torch
@pytest.mark.parametrize("text, shape", MODULES, ids=[m[0] for m in MODULES])
def test_module_repr_and_outputs_match_torch(text, shape):
    x = _data(np.random.default_rng(9), shape, ties="Max" in text, positive=True)
    modules = {lib: eval("lib.nn." + text, {"lib": lib}) for lib in (ember, torch)}
    assert repr(modules[ember]) == repr(modules[torch])
    _compare(lambda lib, t: modules[lib](t), [x], with_indices="return_indices" in text)


@needs_torch
@pytest.mark.parametrize("text", ["MaxUnpool1d(3)", "MaxUnpool1d(3, stride=2, padding=1)",
                                  "MaxUnpool2d((2, 3))", "MaxUnpool2d(3, 1, 1)",
                                  "MaxUnpool3d(2)", "MaxUnpool3d((1, 2, 3), stride=2)"])
def test_unpool_module_repr_matches_torch(text):
    assert repr(eval("ember.nn." + text)) == repr(eval("torch.nn." + text))
    assert nn.MaxUnpool2d(2).stride == (2, 2)


# -- errors -----------------------------------------------------------------------------------
def test_errors():
    y, index = F.max_pool2d(ember.arange(16.).reshape(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(RuntimeError, match=r"invalid max index: 10[0-9] .*4x4"):
        F.max_unpool2d(y, index + 100, 2)
    with pytest.raises(RuntimeError, match="invalid max index: -"):
        F.max_unpool2d(y, index - 100, 2)
    with pytest.raises(RuntimeError, match="should be type int64 but got: int32"):
        F.max_unpool2d(y, index.int(), 2)
    with pytest.raises(RuntimeError, match=r"same as that of the input tensor \(\[1, 1, 2, 2\]"):
        F.max_unpool2d(y, index[..., :1], 2)
    with pytest.raises(ValueError, match=r"invalid output_size \"\(9, 9\)\" \(dim 0 must be "
                                         r"between 2 and 6\)"):
        F.max_unpool2d(y, index, 2, output_size=(9, 9))
    with pytest.raises(ValueError, match="containing 2 or 4 elements, but it has a length of '1'"):
        F.max_unpool2d(y, index, 2, output_size=(5,))
    with pytest.raises(RuntimeError, match="3d or 4d Tensor, but got a tensor with 2"):
        F.max_unpool2d(y[0, 0], index[0, 0], 2)
    with pytest.raises(NotImplementedError, match="int64"):
        F.max_unpool2d(y.long(), index, 2)
    with pytest.raises(RuntimeError, match="4d or 5d Tensor"):
        nn.MaxUnpool3d(2)(y[0], index[0])
    x = ember.ones(1, 2, 5, 5, 5)
    with pytest.raises(RuntimeError, match="pad should be smaller than or equal to half of kernel"):
        F.max_pool3d(x, 3, padding=2, dilation=2)
    with pytest.raises(RuntimeError, match="pad should be smaller than or equal to half of"):
        F.avg_pool3d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool3d(x, 2, divisor_override=0)
    with pytest.raises(RuntimeError, match=r"Given input size: \(2x5x5x5\).*\(2x0x0x0\)"):
        F.max_pool3d(x, 6)
    with pytest.raises(RuntimeError, match="4D or 5D"):
        F.max_pool3d(x[0, 0], 2)
    with pytest.raises(NotImplementedError, match="int64"):
        F.adaptive_max_pool3d(x.long(), 2)


def test_old_import_paths_still_work():
    from ember.ops import conv, pool3d
    from ember.ops.conv import _first_max, adaptive_max_pool3d, max_pool3d
    assert max_pool3d is F.max_pool3d is pool3d.max_pool3d
    assert adaptive_max_pool3d is F.adaptive_max_pool3d and callable(_first_max)
    assert conv.avg_pool3d is F.avg_pool3d and conv.adaptive_avg_pool3d is F.adaptive_avg_pool3d
    with pytest.raises(AttributeError):
        conv.no_such_pool


# -- the fake cuda device ---------------------------------------------------------------------
@pytest.fixture
def fake_cuda(monkeypatch):
    yield from _install(monkeypatch, "1")


ON_DEVICE = [
    lambda x: F.max_pool3d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
    lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda x: F.adaptive_max_pool3d(x, (2, 3, 2), return_indices=True),
    lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2)),
    lambda x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2, output_size=x.shape),
    lambda x: F.lp_pool3d(x, 2, 2, ceil_mode=True),
    lambda x: F.lp_pool2d(x[0], 3, 2),
]


@pytest.mark.parametrize("op", range(len(ON_DEVICE)))
def test_pools_stay_on_the_device_and_match_the_cpu(fake_cuda, op):
    x = _data(np.random.default_rng(10), (2, 3, 5, 6, 5), ties=True, positive=True)
    results = []
    for device in ("cpu", "cuda"):
        t = ember.tensor(x, device=device, requires_grad=True)
        out = ON_DEVICE[op](t)
        outs = out if isinstance(out, tuple) else (out,)
        assert all(o.device.type == device for o in outs)
        outs[0].sum().backward()
        assert t.grad.device.type == device and type(t.grad._data) is type(t._data)
        results.append([o.detach().cpu().numpy() for o in outs] + [t.grad.cpu().numpy()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
