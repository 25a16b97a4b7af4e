"""Regressions found by randomized differential testing against PyTorch: one test per
divergence, each the smallest input that showed it."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F


def _pair(torch, array, grad: bool = True):
    """The same array as a torch and an ember leaf tensor."""
    t = torch.tensor(array, requires_grad=grad)
    e = ember.tensor(array, requires_grad=grad)
    return t, e


def _close(t, e, **tol):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), **tol)


# -- pooling ------------------------------------------------------------------------------------
def test_max_unpool_empty_output_ignores_indices(torch):
    """An output of size 0 along a dim: PyTorch returns it without looking at the indices."""
    t, e = _pair(torch, np.ones((1, 1, 1, 1), np.float32))
    index = np.full((1, 1, 1, 1), 7, np.int64)
    args = ((2, 1), (3, 1), (1, 0))
    ty = torch.nn.functional.max_unpool2d(t, torch.tensor(index), *args)
    ey = F.max_unpool2d(e, ember.tensor(index), *args)
    assert tuple(ey.shape) == tuple(ty.shape) == (1, 1, 0, 1)
    ey.sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), np.zeros((1, 1, 1, 1), np.float32))


def test_max_unpool_negative_output_size_raises(torch):
    x, index = np.ones((1, 1, 1), np.float32), np.zeros((1, 1, 1), np.int64)
    with pytest.raises(ValueError, match="non-negative"):
        torch.nn.functional.max_unpool1d(torch.tensor(x), torch.tensor(index), 1, 3, 1)
    with pytest.raises(ValueError, match="non-negative"):
        F.max_unpool1d(ember.tensor(x), ember.tensor(index), 1, 3, 1)


def test_avg_pool3d_input_smaller_than_kernel_raises(torch):
    """PyTorch's 3-D average pool wants the unpadded input at least as large as the kernel."""
    x = np.ones((1, 1, 2, 1, 2), np.float32)
    with pytest.raises(RuntimeError, match="smaller than kernel size"):
        torch.nn.functional.avg_pool3d(torch.tensor(x), 2, None, 1)
    with pytest.raises(RuntimeError, match="smaller than kernel size"):
        F.avg_pool3d(ember.tensor(x), 2, None, 1)


def test_max_pool3d_window_all_in_padding(torch):
    """Dilated windows that see only padding: -inf, PyTorch's index, and no gradient (it
    crashed in backward)."""
    x = np.arange(48, dtype=np.float32).reshape(2, 2, 2, 6)  # (C, D, H, W), D windows padded
    t, e = _pair(torch, x)
    ty, ti = torch.nn.functional.max_pool3d(t, 2, None, 1, 2, return_indices=True)
    ey, ei = F.max_pool3d(e, 2, None, 1, 2, return_indices=True)
    _close(ty, ey)
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    weights = np.arange(ty.numel(), dtype=np.float32).reshape(ty.shape)
    (ty.nan_to_num(0.0, 0.0, 0.0) * torch.tensor(weights)).sum().backward()
    (ey.nan_to_num(0.0, 0.0, 0.0) * ember.tensor(weights)).sum().backward()
    _close(t.grad, e.grad)


# -- grid_sample, interpolate -----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["border", "reflection"])
def test_grid_sample_nan_coordinate_clips_to_zero(torch, mode, padding_mode):
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    grid = np.array([[[[np.nan, 0.2], [0.2, np.nan], [np.inf, 0.2], [-np.inf, np.nan]]]])
    args = (mode, padding_mode, False)
    ty = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(grid), *args)
    ey = F.grid_sample(ember.tensor(x), ember.tensor(grid), *args)
    _close(ty, ey)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_interpolate_empty_output_raises(torch, mode):
    x = np.ones((1, 1, 3))
    with pytest.raises(RuntimeError, match="greater than 0"):
        torch.nn.functional.interpolate(torch.tensor(x), size=0, mode=mode)
    with pytest.raises(RuntimeError, match="greater than 0"):
        F.interpolate(ember.tensor(x), size=0, mode=mode)


def test_interpolate_area_scale_to_empty(torch):
    """'area' is adaptive average pooling, which allows an empty output."""
    x = np.ones((1, 1, 1, 1))
    ty = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=0.5, mode="area")
    ey = F.interpolate(ember.tensor(x), scale_factor=0.5, mode="area")
    assert tuple(ey.shape) == tuple(ty.shape) == (1, 1, 0, 0)


# -- statistics ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_histc_bins_by_division(torch, dtype):
    """Near a bin edge PyTorch's (x - min) * bins / (max - min) can pick the lower bin."""
    x = np.array([-1.0] * 6 + [-0.7, -1.2, -0.95], dtype)
    ty = torch.histc(torch.tensor(x), 10, -1.2, -0.7)
    ey = ember.histc(ember.tensor(x), 10, -1.2, -0.7)
    np.testing.assert_array_equal(ey.numpy(), ty.numpy())


@pytest.mark.parametrize("interpolation", ["linear", "midpoint", "lower"])
@pytest.mark.parametrize("op", ["quantile", "nanquantile"])
def test_quantile_gradient_reaches_q(torch, op, interpolation):
    x = np.array([[0.3, -1.2, 2.0, 0.7], [np.nan if op == "nanquantile" else 0.2, 1.0, 0.5, -0.4]])
    q = np.array([0.1, 0.45, 0.9])
    tx, ex = _pair(torch, x)
    tq, eq = _pair(torch, q)
    ty = getattr(torch, op)(tx, tq, 1, interpolation=interpolation)
    ey = getattr(ember, op)(ex, eq, 1, interpolation=interpolation)
    _close(ty, ey)
    weights = np.arange(1.0, 7.0).reshape(3, 2)
    (ty.nan_to_num(0.0) * torch.tensor(weights)).sum().backward()
    (ey.nan_to_num(0.0) * ember.tensor(weights)).sum().backward()
    if interpolation == "linear":  # the others do not depend on q
        _close(tq.grad, eq.grad)
    _close(tx.grad, ex.grad)


def test_cov_correction_must_be_int(torch):
    x = np.ones((2, 3))
    with pytest.raises(TypeError):
        torch.cov(torch.tensor(x), correction=0.5)
    with pytest.raises(TypeError):
        ember.cov(ember.tensor(x), correction=0.5)


def test_cov_no_degrees_of_freedom_gives_positive_inf(torch):
    x, weights = np.array([0.3, 0.7]), np.array([1.53, 1.51])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ty = torch.cov(torch.tensor(x), correction=2, aweights=torch.tensor(weights))
        ey = ember.cov(ember.tensor(x), correction=2, aweights=ember.tensor(weights))
    assert float(ey) == float(ty) == np.inf


# -- shape and index ops --------------------------------------------------------------------------
def test_searchsorted_sorter(torch):
    seq = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    values = np.array([[1.5, 2.5], [0.0, 6.0]])
    order = np.argsort(seq, axis=-1)
    ty = torch.searchsorted(torch.tensor(seq), torch.tensor(values),
                            sorter=torch.tensor(order), side="right")
    ey = ember.searchsorted(ember.tensor(seq), ember.tensor(values),
                            sorter=ember.tensor(order), side="right")
    np.testing.assert_array_equal(ey.numpy(), ty.numpy())


@pytest.mark.parametrize("seq_shape, values_shape", [((3, 1), (3, 0)), ((2, 0), (2, 3)),
                                                     ((0, 3), (0, 2))])
def test_searchsorted_empty_rows(torch, seq_shape, values_shape):
    ty = torch.searchsorted(torch.zeros(seq_shape), torch.zeros(values_shape))
    ey = ember.searchsorted(ember.zeros(seq_shape), ember.zeros(values_shape))
    assert tuple(ey.shape) == tuple(ty.shape)


def test_searchsorted_side_contradicts_right(torch):
    with pytest.raises(RuntimeError, match="opposites"):
        torch.searchsorted(torch.tensor([1.0, 2.0]), torch.tensor([1.5]), right=True, side="left")
    with pytest.raises(RuntimeError, match="opposites"):
        ember.searchsorted(ember.tensor([1.0, 2.0]), ember.tensor([1.5]), right=True, side="left")


@pytest.mark.parametrize("n, prepend", [(3, None), (0, [1.0]), (2, None)])
def test_diff_orders_past_the_length_and_zero(torch, n, prepend):
    """n past the length gives an empty result; n = 0 returns input and ignores prepend."""
    x = np.array([0.5, 2.0])
    tx, ex = _pair(torch, x)
    tp = None if prepend is None else torch.tensor(prepend, dtype=torch.float64)
    ep = None if prepend is None else ember.tensor(prepend, dtype=ember.float64)
    ty, ey = torch.diff(tx, n, prepend=tp), ember.diff(ex, n, prepend=ep)
    _close(ty, ey)
    ty.sum().backward()
    ey.sum().backward()
    _close(tx.grad, ex.grad)


def test_diff_of_bools_is_xor(torch):
    x = np.array([True, False, False, True])
    ty = torch.diff(torch.tensor(x), 2, prepend=torch.tensor([True]))
    ey = ember.diff(ember.tensor(x), 2, prepend=ember.tensor([True]))
    np.testing.assert_array_equal(ey.numpy(), ty.numpy())


def test_diff_of_a_scalar_raises(torch):
    with pytest.raises(RuntimeError, match="one-dimensional"):
        torch.diff(torch.tensor(1.0))
    with pytest.raises(RuntimeError, match="one-dimensional"):
        ember.diff(ember.tensor(1.0))


@pytest.mark.parametrize("op", ["trapezoid", "cumulative_trapezoid", "gradient"])
def test_bool_integrals_raise(torch, op):
    x = np.array([True, False, True])
    with pytest.raises(RuntimeError):
        getattr(torch, op)(torch.tensor(x))
    with pytest.raises(RuntimeError):
        getattr(ember, op)(ember.tensor(x))


def test_trapezoid_of_no_bool_samples_is_zero(torch):
    x = np.zeros((2, 0), bool)
    ty, ey = torch.trapezoid(torch.tensor(x), dim=1), ember.trapezoid(ember.tensor(x), dim=1)
    np.testing.assert_array_equal(ey.numpy(), ty.numpy())


@pytest.mark.parametrize("op", ["unique_consecutive", "take_along_dim"])
def test_dim_of_a_scalar_raises(torch, op):
    args = {"unique_consecutive": lambda lib: (lib.tensor(1.0),),
            "take_along_dim": lambda lib: (lib.tensor(2.0), lib.tensor(0))}[op]
    with pytest.raises(IndexError):
        getattr(torch, op)(*args(torch), dim=0)
    with pytest.raises(IndexError):
        getattr(ember, op)(*args(ember), dim=0)


def test_index_copy_no_indices_into_a_scalar(torch):
    x, index, source = np.array(1.0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32)
    ty = torch.index_copy(torch.tensor(x), 0, torch.tensor(index), torch.tensor(source))
    ey = ember.index_copy(ember.tensor(x), 0, ember.tensor(index), ember.tensor(source))
    _close(ty, ey)


# -- losses and distances -------------------------------------------------------------------------
def test_cosine_similarity_broadcasts_along_dim(torch):
    """The norms run over the broadcast tensors: x2 (1, 2) counts three times along dim 0."""
    a = np.array([[-1.15, -0.15], [-0.36, 1.31], [-0.90, -0.44]])
    b = np.array([[1.79, -1.10]])
    ta, ea = _pair(torch, a)
    tb, eb = _pair(torch, b)
    ty = torch.nn.functional.cosine_similarity(ta, tb, 0)
    ey = F.cosine_similarity(ea, eb, 0)
    _close(ty, ey)
    ty.sum().backward()
    ey.sum().backward()
    _close(ta.grad, ea.grad)
    _close(tb.grad, eb.grad)


def test_cosine_similarity_zero_vector_gradient(torch):
    a, b = np.array([[0.09, -1.11]], np.float32), np.zeros((1, 2), np.float32)
    ta, ea = _pair(torch, a)
    tb, eb = _pair(torch, b)
    torch.nn.functional.cosine_similarity(ta, tb).sum().backward()
    F.cosine_similarity(ea, eb).sum().backward()
    _close(tb.grad, eb.grad, rtol=1e-5)


def test_cosine_embedding_loss_zero_vector_gradient(torch):
    a, b = np.array([[0.5, -1.0], [1.0, 2.0]]), np.array([[0.0, 0.0], [0.3, 0.1]])
    y = np.array([1.0, -1.0])
    ta, ea = _pair(torch, a)
    tb, eb = _pair(torch, b)
    torch.nn.functional.cosine_embedding_loss(ta, tb, torch.tensor(y)).backward()
    F.cosine_embedding_loss(ea, eb, ember.tensor(y)).backward()
    _close(ta.grad, ea.grad, rtol=1e-6)
    _close(tb.grad, eb.grad, rtol=1e-6)


def test_gaussian_nll_loss_var_of_wrong_size_raises(torch):
    x, var = np.zeros((3, 1)), np.ones(1)
    with pytest.raises(ValueError, match="incorrect size"):
        torch.nn.functional.gaussian_nll_loss(torch.tensor(x), torch.tensor(x), torch.tensor(var))
    with pytest.raises(ValueError, match="incorrect size"):
        F.gaussian_nll_loss(ember.tensor(x), ember.tensor(x), ember.tensor(var))


def test_pdist_of_rows_without_entries(torch):
    ty = torch.nn.functional.pdist(torch.zeros(4, 0), float("inf"))
    ey = F.pdist(ember.zeros(4, 0), float("inf"))
    _close(ty, ey)


# -- optimizers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam",
                                  "RAdam"])
def test_optimizer_steps_a_scalar_parameter(torch, name):
    """A 0-d parameter: NumPy returns a 0-d array's results as scalars, which broke out=."""
    values = []
    for lib in (torch, ember):
        p = lib.tensor(1.0, requires_grad=True)
        opt = getattr(lib.optim, name)([p], lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            (p * p * p).backward()
            opt.step()
        values.append(p.detach().numpy())
    np.testing.assert_allclose(values[1], values[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("features", [(0, 3), (3, 0), (0, 0)])
def test_linear_backward_with_zero_features(torch, features):
    grads = []
    for lib in (ember, torch):
        i, o = features
        x = lib.ones(2, 5, i, requires_grad=True)
        w = lib.ones(o, i, requires_grad=True)
        b = lib.ones(o, requires_grad=True)
        lib.nn.functional.linear(x, w, b).sum().backward()
        grads.append([t.grad.numpy() for t in (x, w, b)])
    for e, t in zip(*grads):
        assert e.shape == t.shape
        np.testing.assert_array_equal(e, t)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam"])
def test_maximize_and_weight_decay_on_a_0d_parameter(torch, name):
    values = []
    for lib in (ember, torch):
        p = lib.tensor(1.5, requires_grad=True)
        opt = getattr(lib.optim, name)([p], lr=0.1, weight_decay=0.1, maximize=True)
        for _ in range(2):
            opt.zero_grad()
            (p * p).backward()
            opt.step()
        values.append(p.item())
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)
