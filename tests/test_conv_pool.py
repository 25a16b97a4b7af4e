"""Convolution and pooling: functional ops and modules against PyTorch, NumPy loops and
gradcheck in float64."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd import gradcheck
from ember.ops import conv as C

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the torch comparisons are skipped
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
RTOL, ATOL = 1e-4, 1e-4


def _rand(rng, shape, dtype=np.float32, ties=False):
    x = rng.standard_normal(shape).astype(dtype)
    return np.round(x * 2).astype(dtype) if ties else x


def _compare(e_fn, t_fn, arrays, rng, ties=False, multi=False):
    """Runs both frameworks on the same arrays; checks outputs and every input's gradient."""
    et = [ember.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    tt = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ey, ty = e_fn(*et), t_fn(*tt)
    if multi:
        np.testing.assert_array_equal(ey[1].numpy(), ty[1].numpy())  # indices
        assert ey[1].dtype == ember.int64
        ey, ty = ey[0], ty[0]
    assert tuple(ey.shape) == tuple(ty.shape)
    assert ey.dtype == ember.dtypes.from_numpy(arrays[0].dtype)
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=RTOL, atol=ATOL)
    g = rng.standard_normal(tuple(ty.shape)).astype(arrays[0].dtype)
    ty.backward(torch.tensor(g))
    ey.backward(ember.tensor(g))
    for e, t in zip(et, tt):
        if t.requires_grad:
            assert e.grad.dtype == e.dtype and tuple(e.grad.shape) == tuple(e.shape)
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=RTOL, atol=ATOL)


# -- conv2d against PyTorch ---------------------------------------------------------------------
CONV2D = [  # input shape, weight shape, bias, kwargs
    ((2, 3, 7, 8), (4, 3, 3, 3), True, {}),
    ((2, 3, 7, 8), (4, 3, 3, 3), False, dict(stride=2)),
    ((2, 3, 9, 8), (4, 3, 3, 2), True, dict(stride=(2, 1), padding=1)),
    ((2, 3, 7, 8), (5, 3, 2, 3), True, dict(padding=(1, 2), dilation=2)),
    ((2, 3, 7, 8), (4, 3, 3, 3), True, dict(padding="same")),
    ((2, 3, 7, 8), (4, 3, 2, 4), True, dict(padding="same", dilation=(1, 2))),
    ((2, 3, 7, 8), (4, 3, 3, 3), True, dict(padding="valid")),
    ((2, 4, 7, 8), (6, 2, 3, 3), True, dict(groups=2, padding=1, stride=(1, 2))),
    ((2, 4, 7, 8), (8, 1, 3, 3), True, dict(groups=4, padding=1)),  # depthwise x2
    ((2, 4, 6, 6), (4, 1, 3, 3), False, dict(groups=4, dilation=2, padding=2)),
    ((2, 3, 7, 8), (4, 3, 1, 1), True, {}),  # 1x1: no columns
    ((2, 3, 7, 8), (4, 3, 1, 1), True, dict(stride=2)),
    ((2, 3, 4, 4), (4, 3, 2, 2), True, dict(stride=2)),  # non-overlapping windows
    ((3, 7, 8), (4, 3, 3, 3), True, dict(padding=1)),  # unbatched
    ((2, 3, 5, 5), (4, 3, 5, 5), True, {}),  # kernel = input
    ((1, 2, 6, 7), (3, 2, 3, 3), True, dict(stride=3, padding=(2, 1), dilation=(1, 2))),
]


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("xs, ws, bias, kw", CONV2D)
def test_conv2d_matches_torch(xs, ws, bias, kw):
    rng = np.random.default_rng(0)
    arrays = [_rand(rng, xs), _rand(rng, ws)] + ([_rand(rng, (ws[0],))] if bias else [])
    _compare(lambda x, w, *b: C.conv2d(x, w, *b, **kw),
             lambda x, w, *b: TF.conv2d(x, w, *b, **kw), arrays, rng)


CONV1D = [
    ((2, 3, 9), (4, 3, 3), True, {}),
    ((2, 3, 9), (4, 3, 3), False, dict(stride=2, padding=1, dilation=2)),
    ((2, 4, 9), (6, 2, 4), True, dict(groups=2, padding="same")),
    ((3, 9), (4, 3, 2), True, dict(padding="valid", stride=3)),
]


@needs_torch
@pytest.mark.parametrize("xs, ws, bias, kw", CONV1D)
def test_conv1d_matches_torch(xs, ws, bias, kw):
    rng = np.random.default_rng(1)
    arrays = [_rand(rng, xs), _rand(rng, ws)] + ([_rand(rng, (ws[0],))] if bias else [])
    _compare(lambda x, w, *b: C.conv1d(x, w, *b, **kw),
             lambda x, w, *b: TF.conv1d(x, w, *b, **kw), arrays, rng)


CONV_T = [  # input, weight (C_in, C_out/groups, ...), kwargs
    ((2, 3, 5, 6), (3, 4, 3, 3), {}),
    ((2, 3, 5, 6), (3, 4, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                      groups=2)),
    ((2, 3, 4, 5), (3, 2, 2, 3), dict(dilation=2, padding=1, stride=2, output_padding=1)),
    ((3, 4, 5), (3, 2, 3, 3), dict(stride=1, padding=2, output_padding=1, dilation=2)),
    ((2, 4, 3, 3), (4, 1, 2, 2), dict(stride=2, groups=4)),
]


@needs_torch
@pytest.mark.parametrize("xs, ws, kw", CONV_T)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_matches_torch(xs, ws, kw, bias):
    rng = np.random.default_rng(2)
    c_out = ws[1] * kw.get("groups", 1)
    arrays = [_rand(rng, xs), _rand(rng, ws)] + ([_rand(rng, (c_out,))] if bias else [])
    _compare(lambda x, w, *b: C.conv_transpose2d(x, w, *b, **kw),
             lambda x, w, *b: TF.conv_transpose2d(x, w, *b, **kw), arrays, rng)


@needs_torch
def test_conv_transpose1d_matches_torch():
    rng = np.random.default_rng(3)
    kw = dict(stride=2, padding=1, output_padding=1)
    arrays = [_rand(rng, (2, 4, 5)), _rand(rng, (4, 3, 3)), _rand(rng, (3,))]
    _compare(lambda x, w, b: C.conv_transpose1d(x, w, b, **kw),
             lambda x, w, b: TF.conv_transpose1d(x, w, b, **kw), arrays, rng)


@needs_torch
def test_pooling_threaded_path_matches_torch(monkeypatch):
    # pooling's batch-chunked threads normally start at ~4M elements; force them on a small case
    monkeypatch.setattr(C, "_MIN_PARALLEL", 0)
    monkeypatch.setattr(C.threads, "THREADS", 3)
    rng = np.random.default_rng(4)
    _compare(lambda x: C.max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1),
             [_rand(rng, (5, 3, 8, 8), ties=True)], rng)


@needs_torch
@pytest.mark.parametrize("chunk_bytes", [1, 3000])
@pytest.mark.parametrize("threads", [True, False])
def test_conv_in_chunks_of_images_matches_torch(monkeypatch, chunk_bytes, threads):
    # normally each chunk is a few MB of columns; force chunks of one and of a few images
    # (the last chunk shorter), for both the wide (stride 1) and the strided layouts, shared
    # among threads or (no BLAS thread control) all on the calling thread
    monkeypatch.setattr(C, "_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(C, "_ONE_CHUNK_BYTES", 0)
    monkeypatch.setattr(C, "_GEMM_COLUMNS", 7)  # and GEMMs in blocks of a few columns
    monkeypatch.setattr(C.threads, "THREADS", 3)
    if not threads:
        monkeypatch.setattr(C.blas, "available", lambda: False)
    rng = np.random.default_rng(19)
    arrays = [_rand(rng, (5, 3, 6, 7)), _rand(rng, (4, 3, 3, 3)), _rand(rng, (4,))]
    for kw in [dict(padding=1), dict(stride=2, padding=(0, 1)), dict(dilation=2, groups=1)]:
        _compare(lambda x, w, b: C.conv2d(x, w, b, **kw),
                 lambda x, w, b: TF.conv2d(x, w, b, **kw), arrays, rng)
    wt = [_rand(rng, (5, 3, 4, 4)), _rand(rng, (3, 2, 3, 3)), _rand(rng, (2,))]
    _compare(lambda x, w, b: C.conv_transpose2d(x, w, b, stride=2, padding=1),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1), wt, rng)


# -- conv against a NumPy loop (runs without torch) -----------------------------------------------
def _conv2d_loops(x, w, b, stride, padding, dilation, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for f in range(o):
        grp = f // og
        for i in range(oh):
            for j in range(ow):
                win = xp[:, grp * cg:(grp + 1) * cg,
                         i * stride:i * stride + dilation * (kh - 1) + 1:dilation,
                         j * stride:j * stride + dilation * (kw - 1) + 1:dilation]
                out[:, f, i, j] = (win * w[f]).sum(axis=(1, 2, 3)) + b[f]
    return out


@pytest.mark.parametrize("stride, padding, dilation, groups",
                         [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2), (2, 1, 1, 4)])
def test_conv2d_matches_numpy_loops(stride, padding, dilation, groups):
    rng = np.random.default_rng(5)
    x = _rand(rng, (2, 4, 7, 6), np.float64)
    w = _rand(rng, (4, 4 // groups, 3, 2), np.float64)
    b = _rand(rng, (4,), np.float64)
    y = C.conv2d(ember.tensor(x), ember.tensor(w), ember.tensor(b), stride, padding, dilation,
                 groups)
    assert y.dtype == ember.float64
    np.testing.assert_allclose(y.numpy(), _conv2d_loops(x, w, b, stride, padding, dilation,
                                                        groups), rtol=1e-12, atol=1e-12)


def test_conv_keeps_float32_and_handles_odd_layouts():
    rng = np.random.default_rng(6)
    x = ember.tensor(_rand(rng, (2, 3, 6, 5))).transpose(2, 3)  # non-contiguous input
    w = ember.tensor(_rand(rng, (4, 3, 3, 3)), requires_grad=True)
    y = C.conv2d(x, w, padding=1)
    assert y.dtype == ember.float32 and y.is_contiguous()
    y.sum().backward()  # an expanded (stride-0) output gradient
    assert w.grad.dtype == ember.float32
    ref = C.conv2d(x.contiguous(), w.detach(), padding=1)
    np.testing.assert_allclose(y.detach().numpy(), ref.numpy(), rtol=1e-6)


def test_conv_input_grad_only_keeps_input_shape():
    x = ember.randn(3, 9, requires_grad=True)  # unbatched conv1d, frozen weight
    y = C.conv1d(x, ember.randn(4, 3, 3), padding=1)
    y.sum().backward()
    assert tuple(x.grad.shape) == (3, 9)
    x = ember.randn(2, 4, 5, requires_grad=True)
    C.conv_transpose1d(x, ember.randn(4, 2, 3)).sum().backward()
    assert tuple(x.grad.shape) == (2, 4, 5)


def test_conv_empty_batch_and_retain_graph():
    x = ember.randn(0, 3, 5, 5, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    y = C.conv2d(x, w)
    assert tuple(y.shape) == (0, 4, 3, 3)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 5, 5) and float(w.grad.abs().sum()) == 0.0

    x = ember.randn(1, 2, 5, 5, requires_grad=True)
    w = ember.randn(3, 2, 3, 3, requires_grad=True)
    y = C.conv2d(x, w).sum()
    y.backward(retain_graph=True)
    first = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-5)


def _col2im_loops(cols, g):
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c) + g.inp)
    for i in range(kh):
        for j in range(kw):
            for a in range(oh):
                for b in range(ow):
                    y = a * g.s[0] + i * g.d[0] - g.lo[0]
                    x = b * g.s[1] + j * g.d[1] - g.lo[1]
                    if 0 <= y < g.inp[0] and 0 <= x < g.inp[1]:
                        out[:, :, y, x] += cols[:, :, i, j, a, b]
    return out


def _col2im(gcols, g, c):
    out = np.full((gcols.shape[1], c) + g.inp, np.nan)  # must be overwritten everywhere
    C._col2im(gcols, g, out)
    return out


def _gemm_layout(cols, g):
    """(N, C, KH, KW, OH, OW) -> the kernels' column layout (C*KH*KW, N, run)."""
    n, c, kh, kw, oh, ow = cols.shape
    rows = np.full((c * kh * kw, n, g.run), np.nan)  # garbage must never be read
    C._real(rows, g)[...] = cols.transpose(1, 2, 3, 0, 4, 5).reshape(-1, n, oh, ow)
    C._zero_garbage(rows, g)
    return rows


@pytest.mark.parametrize("k, d, lo, hi, h", [((3, 3), (1, 1), (1, 1), (1, 1), (5, 6)),
                                             ((2, 4), (2, 1), (1, 2), (1, 1), (4, 5)),
                                             ((1, 5), (1, 2), (0, 4), (0, 4), (3, 7)),
                                             ((3, 2), (1, 3), (0, 1), (2, 2), (4, 4)),
                                             ((4, 3), (1, 1), (0, 0), (0, 2), (6, 4))])
def test_col2im_both_layouts_match_loops(k, d, lo, hi, h):
    # stride 1 takes the wide-rows path (contiguous runs), a stride the strided-slices path
    out = tuple(C._out_len(n, kk, 1, dd, a, b) for n, kk, dd, a, b in zip(h, k, d, lo, hi))
    g = C._Geom(k, (1, 1), d, lo, hi, h, out)
    assert g.wide
    rng = np.random.default_rng(20)
    cols = rng.standard_normal((2, 3) + k + out)
    np.testing.assert_allclose(_col2im(_gemm_layout(cols, g), g, 3), _col2im_loops(cols, g),
                               atol=1e-12)
    out2 = (out[0], (out[1] + 1) // 2)
    g2 = C._Geom(k, (1, 2), d, lo, hi, h, out2)
    assert not g2.wide
    cols2 = rng.standard_normal((2, 3) + k + out2)
    np.testing.assert_allclose(_col2im(_gemm_layout(cols2, g2), g2, 3),
                               _col2im_loops(cols2, g2), atol=1e-12)


@needs_torch
@pytest.mark.parametrize("padding", [0, 1])
def test_conv2d_non_finite_input_stays_in_its_columns(padding):
    # wide rows compute garbage columns from real inputs; an inf there must not reach
    # weight offsets that never see it (zero gradient times inf is NaN)
    x = np.arange(2 * 2 * 5 * 6, dtype=np.float32).reshape(2, 2, 5, 6) / 50
    x[0, 1, 2, 5] = np.inf
    w = np.linspace(-1, 1, 3 * 2 * 3 * 3, dtype=np.float32).reshape(3, 2, 3, 3)
    ex, ew = ember.tensor(x), ember.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x), torch.tensor(w, requires_grad=True)
    C.conv2d(ex, ew, padding=padding).sum().backward()
    TF.conv2d(tx, tw, padding=padding).sum().backward()
    np.testing.assert_array_equal(np.isnan(ew.grad.numpy()), np.isnan(tw.grad.numpy()))
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), rtol=1e-5)
    # and a non-finite weight: its NaN must not reach input positions it never touches
    w[1, 0, 0, 0] = np.inf
    ex, ew = ember.tensor(np.ones_like(x), requires_grad=True), ember.tensor(w)
    tx, tw = torch.tensor(np.ones_like(x), requires_grad=True), torch.tensor(w)
    C.conv2d(ex, ew, padding=padding).sum().backward()
    TF.conv2d(tx, tw, padding=padding).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-5)


# -- gradcheck in float64 ------------------------------------------------------------------------
def _f64(rng, *shape):
    return ember.tensor(rng.standard_normal(shape), dtype=ember.float64, requires_grad=True)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, dilation=(1, 2), padding=(0, 2)),
                                dict(groups=2, padding="same")])
def test_conv2d_gradcheck(kw):
    rng = np.random.default_rng(7)
    x, w, b = _f64(rng, 1, 2, 4, 5), _f64(rng, 2, 2 // kw.get("groups", 1), 2, 3), _f64(rng, 2)
    assert gradcheck(lambda x, w, b: C.conv2d(x, w, b, **kw), (x, w, b))


def test_conv1d_and_transpose_gradcheck():
    rng = np.random.default_rng(8)
    x, w, b = _f64(rng, 2, 2, 5), _f64(rng, 3, 2, 2), _f64(rng, 3)
    assert gradcheck(lambda x, w, b: C.conv1d(x, w, b, stride=2, padding=1), (x, w, b))
    x, w, b = _f64(rng, 1, 2, 3, 3), _f64(rng, 2, 2, 2, 3), _f64(rng, 4)
    assert gradcheck(lambda x, w, b: C.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                        output_padding=1, groups=2), (x, w, b))


def test_pool_gradcheck():
    rng = np.random.default_rng(9)
    # distinct values keep the max away from ties, where the derivative jumps
    x = ember.tensor(rng.permutation(2 * 5 * 6).reshape(1, 2, 5, 6) / 7.0, dtype=ember.float64,
                     requires_grad=True)
    assert gradcheck(lambda x: C.max_pool2d(x, 3, 2, 1, ceil_mode=True), (x,))
    assert gradcheck(lambda x: C.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                            count_include_pad=False), (x,))
    assert gradcheck(lambda x: C.adaptive_avg_pool2d(x, (3, 4)), (x,))
    assert gradcheck(lambda x: C.adaptive_max_pool2d(x, (2, 4)), (x,))
    x1 = ember.tensor(rng.permutation(14).reshape(2, 7) / 5.0, dtype=ember.float64,
                      requires_grad=True)
    assert gradcheck(lambda x: C.max_pool1d(x, 2, 1, 1, dilation=2), (x1,))
    assert gradcheck(lambda x: C.avg_pool1d(x, 3, 2, 1), (x1,))


# -- pooling against PyTorch ---------------------------------------------------------------------
MAX_POOL = [  # input shape, args, kwargs
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 7, 8), (3,), dict(stride=2, padding=1)),
    ((2, 3, 7, 8), ((3, 2),), dict(stride=(2, 1), padding=(1, 1), dilation=2)),
    ((2, 3, 7, 9), (2,), dict(ceil_mode=True)),
    ((2, 3, 7, 8), (3,), dict(stride=2, padding=1, ceil_mode=True)),
    ((3, 6, 6), (2,), dict(stride=1)),  # unbatched, overlapping windows
]


@needs_torch
@pytest.mark.parametrize("xs, args, kw", MAX_POOL)
def test_max_pool2d_matches_torch_with_ties(xs, args, kw):
    rng = np.random.default_rng(10)
    x = _rand(rng, xs, ties=True)  # many equal values: the first maximum must win
    _compare(lambda x: C.max_pool2d(x, *args, return_indices=True, **kw),
             lambda x: TF.max_pool2d(x, *args, return_indices=True, **kw), [x], rng,
             multi=True)
    _compare(lambda x: C.max_pool2d(x, *args, **kw), lambda x: TF.max_pool2d(x, *args, **kw),
             [x], rng)


@needs_torch
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1,
                                                          dilation=2, ceil_mode=True)])
def test_max_pool1d_matches_torch(kw):
    rng = np.random.default_rng(11)
    x = _rand(rng, (2, 3, 11), ties=True)
    _compare(lambda x: C.max_pool1d(x, return_indices=True, **kw),
             lambda x: TF.max_pool1d(x, return_indices=True, **kw), [x], rng, multi=True)


@needs_torch
def test_max_pool_nan_and_inf_like_torch():
    x = np.array([[[[np.nan, 1, 2, np.nan],
                    [0, np.nan, -np.inf, -np.inf],
                    [3, 3, -np.inf, -np.inf],
                    [1, 2, -np.inf, -np.inf]]]], np.float32)
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)]:
        ev, ei = C.max_pool2d(ember.tensor(x), return_indices=True, **kw)
        tv, ti = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(ev.numpy(), tv.numpy())
        np.testing.assert_array_equal(ei.numpy(), ti.numpy())


def test_max_pool_hand_computed():
    x = ember.tensor([[[[1., 5., 5., 0.],
                        [2., 5., 1., 7.],
                        [0., 0., 3., 3.],
                        [0., 0., 3., 1.]]]], requires_grad=True)
    y, idx = C.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y.detach().numpy(), [[[[5., 7.], [0., 3.]]]])
    np.testing.assert_array_equal(idx.numpy(), [[[[1, 7], [8, 10]]]])  # first maximum wins
    y.sum().backward()
    expected = np.zeros((4, 4), np.float32)
    expected.flat[[1, 7, 8, 10]] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


AVG_POOL = [
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 7, 8), (3,), dict(stride=2, padding=1)),
    ((2, 3, 7, 8), (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ((2, 3, 7, 8), ((3, 2),), dict(stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 7, 8), (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((2, 3, 7, 8), (3,), dict(padding=1, divisor_override=5)),
    ((3, 6, 6), (3,), dict(stride=1)),
]


@needs_torch
@pytest.mark.parametrize("xs, args, kw", AVG_POOL)
def test_avg_pool2d_matches_torch(xs, args, kw):
    rng = np.random.default_rng(12)
    _compare(lambda x: C.avg_pool2d(x, *args, **kw), lambda x: TF.avg_pool2d(x, *args, **kw),
             [_rand(rng, xs)], rng)


@needs_torch
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=4, stride=2, padding=2,
                                                          ceil_mode=True,
                                                          count_include_pad=False)])
def test_avg_pool1d_matches_torch(kw):
    rng = np.random.default_rng(13)
    _compare(lambda x: C.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw),
             [_rand(rng, (2, 3, 11))], rng)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avg_pool_matches_numpy(ceil_mode):
    rng = np.random.default_rng(14)
    x = _rand(rng, (1, 2, 5, 5), np.float64)
    y = C.avg_pool2d(ember.tensor(x), 2, 2, ceil_mode=ceil_mode).numpy()
    ref = x[:, :, :4, :4].reshape(1, 2, 2, 2, 2, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(y[:, :, :2, :2], ref)
    if ceil_mode:  # the last window hangs off the input: only its in-bounds part counts
        np.testing.assert_allclose(y[:, :, 2, 2], x[:, :, 4, 4])
        np.testing.assert_allclose(y[:, :, 0, 2], x[:, :, 0:2, 4].mean(axis=2))


@needs_torch
@pytest.mark.parametrize("xs, size", [((2, 3, 7, 8), (3, 5)), ((2, 3, 8, 8), (4, None)),
                                      ((3, 7, 7), 1), ((2, 3, 5, 6), (5, 4)),
                                      ((2, 3, 4, 4), (6, 7))])
def test_adaptive_pools_match_torch(xs, size):
    rng = np.random.default_rng(15)
    _compare(lambda x: C.adaptive_avg_pool2d(x, size),
             lambda x: TF.adaptive_avg_pool2d(x, size), [_rand(rng, xs)], rng)
    _compare(lambda x: C.adaptive_max_pool2d(x, size, return_indices=True),
             lambda x: TF.adaptive_max_pool2d(x, size, return_indices=True),
             [_rand(rng, xs, ties=True)], rng, multi=True)


def test_global_pools_match_numpy():
    rng = np.random.default_rng(16)
    x = _rand(rng, (2, 3, 5, 7))
    np.testing.assert_allclose(C.adaptive_avg_pool2d(ember.tensor(x), 1).numpy(),
                               x.mean(axis=(2, 3), keepdims=True), rtol=1e-6)
    np.testing.assert_array_equal(C.adaptive_max_pool2d(ember.tensor(x), 1).numpy(),
                                  x.max(axis=(2, 3), keepdims=True))


@needs_torch
def test_integer_pools_and_conv_match_torch():
    x = np.array([[[[-1, -2, 3], [2, -2, 5], [1, 1, 1]]]], np.int64)
    for e, t in [(C.avg_pool2d(ember.tensor(x), 2, 1), TF.avg_pool2d(torch.tensor(x), 2, 1)),
                 (C.max_pool2d(ember.tensor(x), 2, 1, 1), TF.max_pool2d(torch.tensor(x), 2, 1, 1)),
                 (C.conv2d(ember.tensor(x), ember.ones(1, 1, 2, 2, dtype=ember.int64)),
                  TF.conv2d(torch.tensor(x), torch.ones(1, 1, 2, 2, dtype=torch.int64)))]:
        assert e.dtype == ember.int64
        np.testing.assert_array_equal(e.numpy(), t.numpy())


# -- device-generic kernels (the fake cuda device: NumPy arrays of another type) ------------------


OPS_ON_DEVICE = [
    lambda x, w: C.conv2d(x, w, padding=1),
    lambda x, w: C.conv2d(x, w[:, :2], stride=2, groups=2, dilation=(2, 1), padding=(2, 1)),
    lambda x, w: C.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
    lambda x, w: C.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)[0] * w.sum(),
    lambda x, w: C.avg_pool2d(x, 3, 2, 1, count_include_pad=False) * w.sum(),
    lambda x, w: C.adaptive_avg_pool2d(x, (3, 4)) * w.sum(),
    lambda x, w: C.adaptive_max_pool2d(x, (3, 4)) * w.sum(),
]


@pytest.mark.parametrize("op", range(len(OPS_ON_DEVICE)))
def test_kernels_run_on_another_device(fake_cuda, op):
    fn = OPS_ON_DEVICE[op]
    rng = np.random.default_rng(21)
    x, w = _rand(rng, (2, 4, 7, 6), ties=True), _rand(rng, (4, 4, 3, 3))
    results = []
    for device in ("cpu", "cuda"):
        xt = ember.tensor(x, device=device, requires_grad=True)
        wt = ember.tensor(w, device=device, requires_grad=True)
        y = fn(xt, wt)
        assert y.device.type == device
        y.sum().backward()
        assert xt.grad.device.type == device and type(xt.grad._data) is type(xt._data)
        results.append([t.detach().cpu().numpy() for t in (y, xt.grad, wt.grad)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


# -- errors ----------------------------------------------------------------------------------------
def test_conv_errors_name_the_shapes():
    x, w = ember.randn(2, 3, 5, 5), ember.randn(8, 4, 3, 3)
    with pytest.raises(RuntimeError, match=r"weight of size \[8, 4, 3, 3\].*input\[2, 3, 5, 5\]"
                                           r".*4 channels.*got 3"):
        C.conv2d(x, w)
    with pytest.raises(RuntimeError, match=r"padded input size per channel: \(4 x 4\)"
                                           r".*Kernel size: \(5 x 5\)"):
        C.conv2d(ember.randn(1, 1, 2, 2), ember.randn(1, 1, 5, 5), padding=1)
    with pytest.raises(RuntimeError, match="Expected 3D .*or 4D .*input.*\\[2, 3\\]"):
        C.conv2d(ember.randn(2, 3), w)
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 8"):
        C.conv2d(ember.randn(2, 4, 5, 5), w, ember.randn(3))
    with pytest.raises(RuntimeError, match="divisible by 3"):
        C.conv2d(ember.randn(2, 12, 5, 5), w, groups=3)
    with pytest.raises(RuntimeError, match="not supported for strided"):
        C.conv2d(ember.randn(2, 4, 5, 5), w, padding="same", stride=2)
    with pytest.raises(RuntimeError, match="Invalid padding string"):
        C.conv2d(ember.randn(2, 4, 5, 5), w, padding="full")
    with pytest.raises(RuntimeError, match="non-positive stride"):
        C.conv2d(ember.randn(2, 4, 5, 5), w, stride=0)
    with pytest.raises(RuntimeError, match="negative padding"):
        C.conv2d(ember.randn(2, 4, 5, 5), w, padding=-1)
    with pytest.raises(RuntimeError, match="float64.*float32|type"):
        C.conv2d(ember.randn(2, 4, 5, 5, dtype=ember.float64), w)
    with pytest.raises(TypeError, match="must be Tensor"):
        C.conv2d(np.zeros((2, 4, 5, 5)), w)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        C.conv_transpose2d(ember.randn(1, 8, 3, 3), w, stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match=r"transposed=1, weight of size \[8, 4, 3, 3\]"):
        C.conv_transpose2d(ember.randn(1, 4, 3, 3), w)


def test_pool_errors():
    x = ember.randn(2, 3, 5, 5)
    with pytest.raises(RuntimeError, match="pad should be smaller than or equal to half"):
        C.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="pad should be smaller than or equal to half"):
        C.avg_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="pad should be smaller than or equal to half"):
        C.max_pool2d(x, 3, padding=2, dilation=2)  # PyTorch's rule ignores the dilation
    with pytest.raises(RuntimeError, match=r"Given input size: \(3x2x2\).*\(3x0x0\).*too small"):
        C.max_pool2d(ember.randn(2, 3, 2, 2), 3)
    with pytest.raises(RuntimeError, match="stride"):
        C.max_pool2d(x, 2, stride=0)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        C.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(RuntimeError, match="3D or 4D"):
        C.max_pool2d(ember.randn(5, 5), 2)
    with pytest.raises(NotImplementedError, match="Long|int64"):
        C.adaptive_avg_pool2d(ember.ones(1, 2, 4, 4, dtype=ember.int64), 2)


# -- modules ---------------------------------------------------------------------------------------
MODULES = [
    ("Conv1d", (4, 8, 3), dict(stride=2, padding=1, padding_mode="circular")),
    ("Conv2d", (3, 8, 3), {}),
    ("Conv2d", (3, 8, (3, 5)), dict(stride=(2, 1), padding=(1, 2), dilation=2, bias=False)),
    ("Conv2d", (4, 8, 3), dict(padding="same", groups=2, padding_mode="reflect")),
    ("Conv2d", (4, 8, 4), dict(padding="same", padding_mode="replicate")),
    ("Conv2d", (4, 8, 3), dict(padding=1, padding_mode="circular", stride=2)),
    ("Conv2d", (4, 8, 3), dict(padding="valid")),
    ("ConvTranspose2d", (4, 8, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("ConvTranspose2d", (4, 6, (2, 3)), dict(dilation=2, bias=False)),
    ("MaxPool1d", (3,), {}),
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True, dilation=1)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool2d", ((2, 3),), dict(ceil_mode=True, divisor_override=4)),
    ("AdaptiveAvgPool2d", ((3, None),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveMaxPool2d", ((2, 3),), {}),
]


@needs_torch
@pytest.mark.parametrize("name, args, kw", MODULES)
def test_module_repr_state_dict_and_outputs_match_torch(name, args, kw):
    e, t = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(e) == repr(t)
    sd = t.state_dict()
    assert list(e.state_dict()) == list(sd)
    for key, value in e.state_dict().items():
        assert tuple(value.shape) == tuple(sd[key].shape)
    e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in sd.items()})
    rng = np.random.default_rng(17)
    batched = (2, 4 if "Conv" in name and args[0] == 4 else 3)
    spatial = (9,) if name.endswith("1d") else (9, 8)
    x = _rand(rng, batched + spatial)
    if "Conv" in name:
        x = _rand(rng, (2, args[0]) + spatial)
    _compare(e, t, [x], rng)
    _compare(e, t, [x[0]], rng)  # without the batch dim


def test_conv_module_parameters_and_init_bounds():
    ember.manual_seed(0)
    m = nn.Conv2d(16, 32, 3, groups=2)
    assert tuple(m.weight.shape) == (32, 8, 3, 3) and tuple(m.bias.shape) == (32,)
    bound = 1 / math.sqrt(8 * 9)  # kaiming_uniform_(a=sqrt(5)) gives 1/sqrt(fan_in)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.5 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound  # uniform's std
    t = nn.ConvTranspose2d(6, 4, 3, groups=2)
    assert tuple(t.weight.shape) == (6, 2, 3, 3) and tuple(t.bias.shape) == (4,)
    tb = 1 / math.sqrt(2 * 9)  # fan_in of the (in, out/groups, k, k) weight is dim 1 * k * k
    assert np.abs(t.bias.detach().numpy()).max() <= tb
    assert m.bias.requires_grad and [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert nn.Conv1d(2, 4, 3, bias=False).bias is None


def test_conv_module_argument_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(4, 4, 3, padding="full")
    with pytest.raises(ValueError, match="not supported for strided"):
        nn.Conv2d(4, 4, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError, match=r"expected input\[2, 3, 8, 8\] to have 4 channels"):
        nn.Conv2d(4, 4, 3)(ember.randn(2, 3, 8, 8))


@needs_torch
def test_conv_transpose_output_size_matches_torch():
    e, t = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(3, 2, 3, 2, 1)
    e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(18).standard_normal((1, 3, 4, 5)).astype(np.float32)
    for size in [(7, 9), (8, 10), (1, 2, 8, 9)]:
        ey, ty = e(ember.tensor(x), output_size=size), t(torch.tensor(x), output_size=size)
        assert tuple(ey.shape) == tuple(ty.shape)
        np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=RTOL,
                                   atol=ATOL)
    with pytest.raises(ValueError, match="requested an output size"):
        e(ember.tensor(x), output_size=(10, 9))


def test_max_pool_module_return_indices_and_stride_default():
    m = nn.MaxPool2d(2, return_indices=True)
    assert m.stride == 2
    y, idx = m(ember.arange(16.).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(idx.numpy(), [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(y.numpy(), [[[[5., 7.], [13., 15.]]]])


# -- conv3d ---------------------------------------------------------------------------------------
CONV3D = [  # input shape, weight shape, bias, kwargs
    ((2, 3, 4, 5, 6), (4, 3, 2, 3, 3), True, {}),
    ((2, 3, 5, 5, 6), (4, 3, 3, 3, 2), False, dict(stride=(2, 1, 2), padding=1)),
    ((1, 4, 4, 6, 5), (6, 2, 3, 2, 3), True,
     dict(groups=2, padding=(1, 0, 2), dilation=(1, 2, 1))),
    ((2, 3, 5, 4, 6), (4, 3, 2, 3, 2), True, dict(padding="same")),
    ((3, 4, 5, 6), (5, 3, 3, 3, 3), True, dict(padding="valid")),  # unbatched
]


@needs_torch
@pytest.mark.parametrize("x_shape, w_shape, bias, kw", CONV3D)
def test_conv3d_matches_torch(x_shape, w_shape, bias, kw):
    rng = np.random.default_rng(11)
    arrays = [_rand(rng, x_shape), _rand(rng, w_shape)] + \
        ([_rand(rng, (w_shape[0],))] if bias else [])
    _compare(lambda *a: C.conv3d(*a, **kw) if bias else C.conv3d(a[0], a[1], **kw),
             lambda *a: TF.conv3d(*a, **kw) if bias else TF.conv3d(a[0], a[1], **kw),
             arrays, rng)


@needs_torch
def test_conv3d_module_matches_torch():
    import torch
    for kw in (dict(padding=1), dict(padding=(0, 1, 1), padding_mode="circular", bias=False)):
        ours, theirs = nn.Conv3d(2, 3, 3, **kw), torch.nn.Conv3d(2, 3, 3, **kw)
        assert repr(ours) == repr(theirs)
        ours.load_state_dict({k: ember.tensor(v.detach().numpy())
                              for k, v in theirs.state_dict().items()})
        x = np.random.default_rng(12).standard_normal((2, 2, 4, 5, 5)).astype(np.float32)
        np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(),
                                   theirs(torch.tensor(x)).detach().numpy(), rtol=RTOL,
                                   atol=ATOL)


def test_conv3d_gradcheck_and_errors():
    rng = np.random.default_rng(13)
    x, w, b = _f64(rng, 1, 2, 3, 4, 3), _f64(rng, 2, 1, 2, 2, 2), _f64(rng, 2)
    assert gradcheck(lambda x, w, b: C.conv3d(x, w, b, stride=(1, 2, 1), padding=1, groups=2),
                     (x, w, b))
    with pytest.raises(RuntimeError, match="5-dimensional"):
        C.conv3d(ember.ones(1, 2, 3, 3, 3), ember.ones(2, 2, 3, 3))
    with pytest.raises(RuntimeError, match="channels"):
        C.conv3d(ember.ones(1, 3, 3, 3, 3), ember.ones(2, 2, 1, 1, 1))
    with pytest.raises(RuntimeError, match="kernel"):
        C.conv3d(ember.ones(1, 2, 2, 3, 3), ember.ones(2, 2, 3, 1, 1))


# -- 3-D pooling ----------------------------------------------------------------------------------
_POOL3D = [
    ("MaxPool3d(2)", (2, 3, 4, 6, 5)),
    ("MaxPool3d((2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), dilation=(2, 1, 1))",
     (2, 2, 5, 6, 7)),
    ("MaxPool3d(3, stride=2, padding=1)", (3, 5, 5, 6)),  # unbatched
    ("AvgPool3d(2)", (2, 3, 4, 6, 5)),
    ("AvgPool3d((3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0))", (2, 2, 5, 6, 7)),
    ("AvgPool3d(2, count_include_pad=False)", (1, 2, 4, 4, 4)),
    ("AdaptiveAvgPool3d((3, None, 4))", (2, 2, 5, 6, 7)),
    ("AdaptiveAvgPool3d(1)", (3, 4, 5, 6)),
    ("AdaptiveMaxPool3d((3, None, 4))", (2, 2, 5, 6, 7)),
    ("AdaptiveMaxPool3d(2)", (3, 3, 5, 4)),
]


@needs_torch
@pytest.mark.parametrize("text, shape", _POOL3D, ids=[c[0] for c in _POOL3D])
def test_pool3d_matches_torch(text, shape):
    import torch
    x = _rand(np.random.default_rng(14), shape, ties=True)
    results = []
    for lib in (ember, torch):
        module = eval("lib.nn." + text, {"lib": lib})
        t = lib.tensor(x, requires_grad=True)
        y = module(t)
        g = np.random.default_rng(15).standard_normal(tuple(y.shape)).astype(np.float32)
        (y * lib.tensor(g)).sum().backward()
        results.append((repr(module), y.detach().numpy(), t.grad.numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=RTOL, atol=ATOL)


@needs_torch
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(2, 1, 1),
                                     output_padding=(1, 0, 0)),
                                dict(groups=2, stride=(1, 2, 1))])
def test_conv_transpose3d_matches_torch(kw):
    rng = np.random.default_rng(16)
    groups = kw.get("groups", 1)
    arrays = [_rand(rng, (2, 4, 3, 4, 3)), _rand(rng, (4, 6 // groups, 3, 2, 3)),
              _rand(rng, (6,))]
    _compare(lambda x, w, b: C.conv_transpose3d(x, w, b, **kw),
             lambda x, w, b: TF.conv_transpose3d(x, w, b, **kw), arrays, rng)


@needs_torch
def test_conv_transpose3d_module_matches_torch():
    import torch
    ours = nn.ConvTranspose3d(2, 3, (2, 3, 2), stride=2, padding=(0, 1, 0))
    theirs = torch.nn.ConvTranspose3d(2, 3, (2, 3, 2), stride=2, padding=(0, 1, 0))
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(17).standard_normal((2, 3, 4, 3)).astype(np.float32)  # unbatched
    np.testing.assert_allclose(ours(ember.tensor(x), output_size=(7, 8, 7)).detach().numpy(),
                               theirs(torch.tensor(x), output_size=(7, 8, 7)).detach().numpy(),
                               rtol=RTOL, atol=ATOL)
