"""The rarer parts of torch.nn against PyTorch: grid_sample and affine_grid, CTC and the other
added losses, RReLU, alpha dropout, local response norms, channel shuffle, 3-D padding,
gumbel_softmax, pdist, the deprecated upsample functions, lazy modules with uninitialized
parameters and buffers, nn.Buffer and AdaptiveLogSoftmaxWithLoss. Values and gradients are
compared from identical inputs and weights; random layers by their invariants and statistics.
"""
from __future__ import annotations

import copy
import itertools
import pickle
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.backend.fake_cuda import FakeCudaArray, forbid_host_sync
from ember.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy


def _array(shape, seed=0, low=None, high=None, dtype=np.float32):
    rng = np.random.default_rng(seed)
    if low is None:
        return rng.standard_normal(shape).astype(dtype)
    return rng.uniform(low, high, shape).astype(dtype)


def _run(lib, fn, arrays, grad_of=None, seed=1):
    """fn(*tensors) and the gradients of (out * w).sum() w.r.t. the inputs ``grad_of``."""
    grad_of = range(len(arrays)) if grad_of is None else grad_of
    inputs = [lib.tensor(a, requires_grad=i in grad_of and a.dtype.kind == "f")
              for i, a in enumerate(arrays)]
    out = fn(lib, *inputs)
    weight = _array(tuple(out.shape), seed, dtype=out.detach().numpy().dtype)
    (out * lib.tensor(weight)).sum().backward()
    return [out.detach().numpy()] + [inputs[i].grad.numpy() for i in grad_of]


def _assert_parity(torch, fn, arrays, grad_of=None, rtol=1e-5, atol=1e-5):
    mine, theirs = _run(ember, fn, arrays, grad_of), _run(torch, fn, arrays, grad_of)
    for e, t in zip(mine, theirs):
        assert e.shape == t.shape and e.dtype == t.dtype
        np.testing.assert_allclose(e, t, rtol=rtol, atol=atol)


def _copy_from_torch(module, torch_module):
    module.load_state_dict({k: v.detach().numpy() for k, v in
                            torch_module.state_dict().items()})


# -- grid_sample and affine_grid ----------------------------------------------------------------
_GRID_CASES = [(mode, pad, ac, nd) for mode, pad, ac, nd in itertools.product(
    ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"), (False, True), (2, 3))
    if not (mode == "bicubic" and nd == 3)]


@pytest.mark.parametrize("mode, padding_mode, align_corners, nd", _GRID_CASES)
def test_grid_sample_matches_torch(torch, mode, padding_mode, align_corners, nd):
    shape = (2, 3, 5, 6) if nd == 2 else (2, 2, 4, 5, 3)
    grid_shape = (2, 4, 7, 2) if nd == 2 else (2, 3, 4, 2, 3)
    arrays = [_array(shape), _array(grid_shape, 2, -1.3, 1.3)]  # partly outside the input
    _assert_parity(torch, lambda lib, x, g: lib.nn.functional.grid_sample(
        x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners), arrays,
        atol=1e-4)


@pytest.mark.parametrize("mode, padding_mode", itertools.product(
    ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection")))
def test_grid_sample_of_affine_grid_matches_torch(torch, mode, padding_mode):
    # exact corner coordinates (align_corners=True) and theta's gradient through both ops
    theta = np.array([[[1, 0, 0], [0, 1, 0]], [[0.5, 0.2, 0.1], [-0.3, 1.2, 0]]], np.float32)

    def fn(lib, x, t):
        F_ = lib.nn.functional
        grid = F_.affine_grid(t, (2, 3, 6, 7), align_corners=True)
        return F_.grid_sample(x, grid, mode=mode, padding_mode=padding_mode,
                              align_corners=True)
    _assert_parity(torch, fn, [_array((2, 3, 4, 5)), theta], atol=1e-4)


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 3, 1, 5), (2, 1, 3, 4, 5)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(torch, size, align_corners):
    theta = _array((2, 2, 3) if len(size) == 4 else (2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unit-size warning, checked below
        _assert_parity(torch, lambda lib, t: lib.nn.functional.affine_grid(
            t, size, align_corners=align_corners), [theta])


def test_grid_sample_float64_and_empty_batch(torch):
    arrays = [_array((1, 2, 3, 4), dtype=np.float64),
              _array((1, 2, 2, 2), 1, -1, 1, np.float64)]
    _assert_parity(torch, lambda lib, x, g: lib.nn.functional.grid_sample(
        x, g, align_corners=False), arrays, rtol=1e-12, atol=1e-12)
    out = F.grid_sample(ember.zeros(0, 3, 4, 5), ember.zeros(0, 2, 2, 2), align_corners=False)
    assert tuple(out.shape) == (0, 3, 2, 2)


def test_grid_sample_and_affine_grid_errors():
    x, grid = ember.zeros(2, 3, 4, 5), ember.zeros(2, 3, 3, 2)
    with pytest.raises(ValueError, match="expected mode"):
        F.grid_sample(x, grid, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="expected padding_mode"):
        F.grid_sample(x, grid, padding_mode="wrap", align_corners=False)
    with pytest.raises(RuntimeError, match="same batch size"):
        F.grid_sample(x, ember.zeros(3, 3, 3, 2), align_corners=False)
    with pytest.raises(RuntimeError, match="size 2 in last dimension"):
        F.grid_sample(x, ember.zeros(2, 3, 3, 3), align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D"):
        F.grid_sample(ember.zeros(1, 1, 2, 2, 2), ember.zeros(1, 2, 2, 2, 3), mode="bicubic",
                      align_corners=False)
    with pytest.raises(RuntimeError, match="non-empty spatial dimensions"):
        F.grid_sample(ember.zeros(2, 3, 0, 5), grid, align_corners=False)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.grid_sample(x, grid.double(), align_corners=False)
    with pytest.raises(NotImplementedError, match="floating point"):
        F.grid_sample(x.long(), grid, align_corners=False)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, grid)
    theta = ember.zeros(2, 2, 3)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(theta, (2, 3, 4, 5))
    with pytest.warns(UserWarning, match="unit-size grids"):
        F.affine_grid(theta, (2, 3, 1, 5), align_corners=True)
    with pytest.raises(ValueError, match="floating point type"):
        F.affine_grid(theta.long(), (2, 3, 4, 5), align_corners=False)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(ember.zeros(2, 3, 3), (2, 3, 4, 5), align_corners=False)
    with pytest.raises(ValueError, match="Nx3x4"):
        F.affine_grid(theta, (2, 3, 4, 5, 6), align_corners=False)
    with pytest.raises(NotImplementedError, match="4D and 5D sizes"):
        F.affine_grid(theta, (2, 3, 4), align_corners=False)
    with pytest.raises(ValueError, match="positive output size"):
        F.affine_grid(theta, (2, 3, 0, 5), align_corners=False)
    with pytest.raises(RuntimeError, match="theta holds 2 matrices"):
        F.affine_grid(theta, (3, 3, 4, 5), align_corners=False)


# -- CTC ------------------------------------------------------------------------------------------
def _ctc_case(fmt, blank, lengths, t=12, classes=6):
    rng = np.random.default_rng(5)
    labels = [rng.choice([c for c in range(classes) if c != blank], size=n) for n in lengths]
    if fmt == "padded":
        targets = np.full((len(lengths), max(lengths) + 2), blank, np.int64)
        for i, seq in enumerate(labels):
            targets[i, :len(seq)] = seq
    else:
        targets = np.concatenate(labels).astype(np.int64)
    return _array((t, len(lengths), classes), 4), targets


@pytest.mark.parametrize("fmt, reduction, zero_infinity, blank, normalized", [
    (fmt, red, zi, blank, norm) for fmt, red, zi, blank, norm in itertools.product(
        ("padded", "concat"), ("mean", "sum", "none"), (False, True), (0, 3), (True, False))
    if (blank == 0 and norm) or (red == "mean" and blank == 3) or (red == "sum" and not norm)])
def test_ctc_loss_matches_torch(torch, fmt, reduction, zero_infinity, blank, normalized):
    # row 1: empty target; row 3: a target longer than its input can emit (infinite loss)
    input_lengths, target_lengths = [12, 9, 5, 2], [4, 0, 3, 3]
    x, targets = _ctc_case(fmt, blank, target_lengths)

    def fn(lib, x, targets):
        log_probs = x.log_softmax(2) if normalized else x
        return lib.nn.functional.ctc_loss(log_probs, targets, lib.tensor(input_lengths),
                                          lib.tensor(target_lengths), blank, reduction,
                                          zero_infinity)
    mine, theirs = _run(ember, fn, [x, targets], [0]), _run(torch, fn, [x, targets], [0])
    for e, t in zip(mine, theirs):
        assert e.shape == t.shape and e.dtype == t.dtype
        np.testing.assert_allclose(e, t, rtol=1e-4, atol=1e-5, equal_nan=True)


def test_ctc_loss_unbatched_float64_and_empty_inputs(torch):
    x, targets = _ctc_case("concat", 0, [3])

    def fn(lib, x, targets):
        return lib.nn.functional.ctc_loss(x[:, 0].log_softmax(1), targets, lib.tensor(10),
                                          lib.tensor(3))
    _assert_parity(torch, fn, [x, targets], [0], rtol=1e-4)
    x, targets = _ctc_case("padded", 0, [2, 0, 1])
    _assert_parity(torch, lambda lib, x, t: lib.nn.functional.ctc_loss(
        x.log_softmax(2), t, [12, 0, 0], [2, 0, 1], reduction="none"),
        [x.astype(np.float64), targets], [0], rtol=1e-10, atol=1e-10)


def test_ctc_module_and_errors(torch):
    x, targets = _ctc_case("padded", 0, [4, 2])
    lp = ember.tensor(x).log_softmax(2)
    module = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert repr(module) == repr(torch.nn.CTCLoss(0, "sum", True)) == "CTCLoss()"
    expected = F.ctc_loss(lp, ember.tensor(targets), (12, 12), (4, 2), reduction="sum",
                          zero_infinity=True)
    assert module(lp, ember.tensor(targets), [12, 12], [4, 2]).item() == expected.item()
    t = ember.tensor(targets)
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        F.ctc_loss(lp, t, [12, 12], [4, 2], blank=6)
    with pytest.raises(RuntimeError, match="input_lengths must be of size batch_size"):
        F.ctc_loss(lp, t, [12], [4, 2])
    with pytest.raises(RuntimeError, match="input_lengths to have value at most 12"):
        F.ctc_loss(lp, t, [13, 12], [4, 2])
    with pytest.raises(RuntimeError, match="target_lengths to have value at least 0"):
        F.ctc_loss(lp, t, [12, 12], [-1, 2])
    with pytest.raises(RuntimeError, match="size at least 7 at dimension 1"):
        F.ctc_loss(lp, t, [12, 12], [7, 2])
    with pytest.raises(RuntimeError, match="size 6 at dimension 0"):
        F.ctc_loss(lp, ember.tensor([1, 2, 3]), [12, 12], [4, 2])
    with pytest.raises(RuntimeError, match="integral"):
        F.ctc_loss(lp, t, ember.tensor([12.0, 12.0]), [4, 2])
    with pytest.raises(RuntimeError, match=r"class indices in \[0, 6\)"):
        F.ctc_loss(lp, ember.tensor([[1, 9], [1, 1]]), [12, 12], [2, 2])
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.ctc_loss(lp, t, [12, 12], [4, 2], reduction="avg")
    with pytest.raises(NotImplementedError, match="float32 or float64"):
        F.ctc_loss(lp.long(), t, [12, 12], [4, 2])


# -- the other losses ---------------------------------------------------------------------------
_MULTILABEL_TARGETS = np.array([[3, 0, -1, 1, 2], [1, 1, 4, -1, -1], [-1, 2, 3, 0, 0],
                                [0, 1, 2, 3, 4]], np.int64)  # repeats, early -1, all classes


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("batched", [True, False])
def test_multilabel_margin_loss_matches_torch(torch, reduction, batched):
    x, target = _array((4, 5)), _MULTILABEL_TARGETS
    if not batched:
        x, target = x[0], target[0]
    _assert_parity(torch, lambda lib, x, t: lib.nn.functional.multilabel_margin_loss(
        x, t, reduction=reduction), [x, target], [0])
    _assert_parity(torch, lambda lib, x, t: lib.nn.MultiLabelMarginLoss(reduction=reduction)(
        x, t), [x, target], [0])


def test_multilabel_margin_loss_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F.multilabel_margin_loss(x, ember.zeros(1, 4, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="non-empty vector or matrix"):
        F.multilabel_margin_loss(ember.zeros(2, 3, 4), ember.zeros(2, 3, 4, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="out of range"):
        F.multilabel_margin_loss(x, ember.tensor([[1, 5, -1, 0]] * 3))
    with pytest.raises(RuntimeError, match="int64"):
        F.multilabel_margin_loss(x, ember.zeros(3, 4, dtype=ember.int32))
    with pytest.raises(ValueError, match="not a valid value"):
        F.multilabel_margin_loss(x, ember.zeros(3, 4, dtype=ember.int64), reduction="avg")


@pytest.mark.parametrize("distance, swap, reduction", [
    (None, False, "mean"), (None, True, "none"), ("cosine", False, "sum"),
    ("cosine", True, "mean")])
def test_triplet_margin_with_distance_loss_matches_torch(torch, distance, swap, reduction):
    arrays = [_array((5, 4), seed) for seed in (0, 1, 2)]

    def fn(lib, a, p, n):
        def cosine_distance(x, y):
            return 1.0 - lib.nn.functional.cosine_similarity(x, y)
        d = cosine_distance if distance == "cosine" else None
        loss = lib.nn.functional.triplet_margin_with_distance_loss(
            a, p, n, distance_function=d, margin=1.5, swap=swap, reduction=reduction)
        module = lib.nn.TripletMarginWithDistanceLoss(distance_function=d, margin=1.5,
                                                      swap=swap, reduction=reduction)
        return loss + module(a, p, n)
    _assert_parity(torch, fn, arrays)


def test_triplet_margin_with_distance_loss_module_and_errors(torch):
    assert repr(nn.TripletMarginWithDistanceLoss()) == \
        repr(torch.nn.TripletMarginWithDistanceLoss())
    assert repr(nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: a)) == \
        "TripletMarginWithDistanceLoss()"
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)
    x = ember.zeros(3, 4)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(x, x, x, margin=-1.0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        F.triplet_margin_with_distance_loss(x, x, x[0])
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.triplet_margin_with_distance_loss(x, x, x, reduction="bad")


def test_nll_loss_2d_is_a_deprecated_nll_loss(torch):
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        module = nn.NLLLoss2d(ignore_index=1)
    assert isinstance(module, nn.NLLLoss) and repr(module) == "NLLLoss2d()"
    x, target = _array((2, 3, 4, 4)), np.random.default_rng(0).integers(0, 3, (2, 4, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        _assert_parity(torch, lambda lib, x, t: lib.nn.NLLLoss2d(ignore_index=1)(
            x.log_softmax(1), t), [x, target], [0])


# -- activations and dropout ----------------------------------------------------------------------
def test_rrelu_eval_matches_torch(torch):
    x = _array((4, 6))
    x[0, 0] = 0.0
    _assert_parity(torch, lambda lib, x: lib.nn.functional.rrelu(x, 0.1, 0.4), [x])
    _assert_parity(torch, lambda lib, x: lib.nn.RReLU(0.2, 0.3).eval()(x * 1.0), [x])
    assert repr(nn.RReLU()) == repr(torch.nn.RReLU())
    assert repr(nn.RReLU(0.1, 0.3, inplace=True)) == repr(torch.nn.RReLU(0.1, 0.3, True))


def test_rrelu_training_draws_slopes_in_range():
    ember.manual_seed(0)
    x = ember.tensor(_array(20000), requires_grad=True)
    out = F.rrelu(x, 0.1, 0.3, training=True)
    out.sum().backward()
    xs, ys, slopes = x.detach().numpy(), out.detach().numpy(), x.grad.numpy()
    negative = xs < 0
    np.testing.assert_array_equal(ys[~negative], xs[~negative])
    assert (slopes[~negative] == 1).all()
    assert ((slopes[negative] >= 0.1) & (slopes[negative] <= 0.3)).all()
    np.testing.assert_allclose(ys[negative], xs[negative] * slopes[negative], rtol=1e-6)
    assert abs(slopes[negative].mean() - 0.2) < 0.005
    assert abs(slopes[negative].std() - 0.2 / np.sqrt(12)) < 0.005
    y = ember.tensor(xs.copy())
    assert F.rrelu_(y, 0.1, 0.3, training=True) is y and (y.numpy()[~negative] > 0).all()
    module = nn.RReLU(0.1, 0.3)
    assert module.training and not np.array_equal(module(x).detach().numpy(),
                                                   F.rrelu(x, 0.1, 0.3).detach().numpy())
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal"):
        F.rrelu(x, 0.5, 0.1)


def test_inplace_activations_match_torch(torch):
    x = _array((3, 5))
    for name, args in (("selu_", ()), ("celu_", (0.7,)), ("threshold_", (0.1, -2.0))):
        _assert_parity(torch, lambda lib, x: getattr(lib.nn.functional, name)(x * 1.0, *args),
                       [x])
        t = ember.tensor(x)
        assert getattr(F, name)(t, *args) is t


def test_alpha_dropout_keeps_mean_and_variance(torch):
    ember.manual_seed(0)
    x = ember.tensor(_array(200000))
    alpha, p = 1.7580993408473766, 0.3
    a = 1 / np.sqrt((alpha ** 2 * p + 1) * (1 - p))
    out = F.alpha_dropout(x, p, training=True).numpy()
    kept = np.isclose(out, a * x.numpy() + alpha * a * p, atol=1e-6)
    dropped = np.isclose(out, alpha * a * (p - 1), atol=1e-6)
    assert (kept | dropped).all() and abs(dropped.mean() - p) < 0.01
    assert abs(out.mean()) < 0.01 and abs(out.std() - 1) < 0.01
    assert F.alpha_dropout(x, p) is x and F.alpha_dropout(x, 0.0, True) is x
    assert (F.alpha_dropout(x, 1.0, True).numpy() == 0).all()
    y = ember.tensor(_array((2, 3, 4)), requires_grad=True)
    out = F.alpha_dropout(y, 0.5, True)
    out.sum().backward()
    scale, a_half = y.grad.numpy(), 1 / np.sqrt((alpha ** 2 * 0.5 + 1) * 0.5)
    assert (np.isclose(scale, 0) | np.isclose(scale, a_half)).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.alpha_dropout(x, 1.5)


def test_feature_alpha_dropout_drops_whole_channels(torch):
    ember.manual_seed(1)
    x = ember.ones(8, 16, 3, 3)
    out = F.feature_alpha_dropout(x, 0.5, training=True).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert (per_channel == per_channel[:, :, :1]).all()
    assert len(np.unique(per_channel.round(5))) == 2
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.feature_alpha_dropout(ember.ones(4), 0.5, True)
    for name in ("AlphaDropout", "FeatureAlphaDropout"):
        module, reference = getattr(nn, name)(0.2), getattr(torch.nn, name)(0.2)
        assert repr(module) == repr(reference)
        assert module.eval()(x) is x


@pytest.mark.parametrize("shape, size", [((2, 5, 7), 3), ((2, 6, 4, 5), 5), ((1, 4, 3, 2, 2), 2),
                                         ((2, 3, 4), 1)])
def test_local_response_norm_matches_torch(torch, shape, size):
    x = _array(shape)
    _assert_parity(torch, lambda lib, x: lib.nn.functional.local_response_norm(
        x, size, alpha=0.1, beta=0.6, k=1.5), [x])
    _assert_parity(torch, lambda lib, x: lib.nn.LocalResponseNorm(size)(x), [x])
    assert repr(nn.LocalResponseNorm(size, k=2.0)) == repr(torch.nn.LocalResponseNorm(size, k=2.0))
    with pytest.raises(ValueError, match="3D or higher"):
        F.local_response_norm(ember.zeros(2, 3), 2)


@pytest.mark.parametrize("size, channels", [(5, 7), (3, 4), (4, 6), (2, 3)])
def test_cross_map_lrn2d_matches_torch(torch, size, channels):
    x = _array((2, channels, 3, 4))
    _assert_parity(torch, lambda lib, x: lib.nn.CrossMapLRN2d(size, alpha=0.5, beta=0.7, k=2)(x),
                   [x])
    assert repr(nn.CrossMapLRN2d(size)) == repr(torch.nn.CrossMapLRN2d(size))
    with pytest.raises(ValueError, match="Expected input to be 4D"):
        nn.CrossMapLRN2d(size)(ember.zeros(2, 3, 4))


def test_channel_shuffle_matches_torch(torch):
    x = _array((2, 6, 3, 2))
    for groups in (1, 2, 3, 6):
        _assert_parity(torch, lambda lib, x: lib.nn.functional.channel_shuffle(x, groups), [x])
        with torch.no_grad():  # torch has no derivative for the native kernel
            np.testing.assert_array_equal(
                F.native_channel_shuffle(ember.tensor(x), groups).numpy(),
                torch.nn.functional.native_channel_shuffle(torch.tensor(x), groups).numpy())
        _assert_parity(torch, lambda lib, x: lib.nn.ChannelShuffle(groups)(x), [x])
    assert repr(nn.ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3))
    with pytest.raises(RuntimeError, match="must be positive"):
        F.channel_shuffle(ember.zeros(2, 4, 3), 0)
    with pytest.raises(RuntimeError, match="divisible by groups. Got 5 channels and 2"):
        F.channel_shuffle(ember.zeros(2, 5, 3), 2)
    with pytest.raises(RuntimeError, match="> 2 dims"):
        F.channel_shuffle(ember.zeros(2, 4), 2)


_PAD3D = ["ZeroPad3d(1)", "ZeroPad3d((1, 0, 2, 1, 0, 2))", "ConstantPad3d(2, -1.5)",
          "ConstantPad3d((0, 1, 1, 0, 2, 1), 3.0)", "ReflectionPad3d(1)",
          "ReflectionPad3d((1, 2, 0, 1, 2, 0))", "ReplicationPad3d((2, 0, 1, 3, 0, 1))",
          "ReplicationPad3d(2)", "CircularPad3d(1)", "CircularPad3d((1, 2, 0, 1, 2, 0))"]


@pytest.mark.parametrize("text", _PAD3D)
@pytest.mark.parametrize("shape", [(2, 2, 3, 4, 5), (2, 3, 4, 5)])
def test_padding_3d_matches_torch(torch, text, shape):
    _assert_parity(torch, lambda lib, x: eval("lib.nn." + text, {"lib": lib})(x),
                   [_array(shape)])
    assert repr(eval("nn." + text, {"nn": nn})) == repr(eval("nn." + text, {"nn": torch.nn}))


def test_circular_pads_check_dims():
    with pytest.raises(ValueError, match=r"expected 4D or 5D input \(got 3D input\)"):
        nn.CircularPad3d(1)(ember.zeros(3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.CircularPad2d(1)(ember.zeros(4, 5))


# -- gumbel_softmax, pdist, deprecated upsample ---------------------------------------------------
def test_gumbel_softmax_samples_the_softmax():
    ember.manual_seed(0)
    logits = ember.tensor(np.log(np.array([0.1, 0.2, 0.3, 0.4], np.float32)))
    batch = logits.expand(20000, 4)
    soft = F.gumbel_softmax(batch, tau=0.5).numpy()
    np.testing.assert_allclose(soft.sum(1), 1, rtol=1e-5)
    hard = F.gumbel_softmax(batch, hard=True).numpy()
    assert set(np.unique(hard)) == {0.0, 1.0} and (hard.sum(1) == 1).all()
    np.testing.assert_allclose(hard.mean(0), [0.1, 0.2, 0.3, 0.4], atol=0.015)
    x = ember.tensor(_array((3, 5)), requires_grad=True)
    ember.manual_seed(3)
    y_hard = F.gumbel_softmax(x, tau=0.7, hard=True, dim=0)
    assert (y_hard.detach().numpy().sum(0) == 1).all()
    (y_hard * ember.tensor(_array((3, 5), 1))).sum().backward()
    grad_hard = x.grad.numpy()
    x.grad = None
    ember.manual_seed(3)  # the same noise: the straight-through gradient is the soft one
    (F.gumbel_softmax(x, tau=0.7, dim=0) * ember.tensor(_array((3, 5), 1))).sum().backward()
    np.testing.assert_allclose(grad_hard, x.grad.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(x, eps=1e-5)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
def test_pdist_matches_torch(torch, p):
    _assert_parity(torch, lambda lib, x: lib.nn.functional.pdist(x, p), [_array((5, 3))])
    assert tuple(F.pdist(ember.zeros(1, 3)).shape) == (0,)


def test_pdist_errors():
    with pytest.raises(RuntimeError, match="only supports 2D tensors, got: 1D"):
        F.pdist(ember.zeros(3))
    with pytest.raises(RuntimeError, match="non-negative p"):
        F.pdist(ember.zeros(3, 2), -1)
    with pytest.raises(RuntimeError, match="floating-point"):
        F.pdist(ember.zeros(3, 2, dtype=ember.int64))


@pytest.mark.parametrize("name, kwargs", [("upsample", dict(scale_factor=2)),
                                          ("upsample", dict(size=(5, 7), mode="bilinear",
                                                            align_corners=False)),
                                          ("upsample_nearest", dict(scale_factor=2)),
                                          ("upsample_bilinear", dict(size=(6, 9)))])
def test_deprecated_upsample_matches_torch(torch, name, kwargs):
    with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated"):
        getattr(F, name)(ember.zeros(1, 1, 2, 3), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _assert_parity(torch, lambda lib, x: getattr(lib.nn.functional, name)(x, **kwargs),
                       [_array((2, 3, 3, 4))])


# -- lazy modules -----------------------------------------------------------------------------
_LAZY = [("LazyLinear(4)", "Linear", (3, 5)), ("LazyLinear(2, bias=False)", "Linear", (2, 3, 6)),
         ("LazyConv1d(4, 3, padding=1)", "Conv1d", (2, 3, 7)),
         ("LazyConv2d(4, 3, groups=2, bias=False)", "Conv2d", (2, 6, 5, 5)),
         ("LazyConv2d(3, 2, padding='same', padding_mode='reflect')", "Conv2d", (3, 4, 4)),
         ("LazyConv3d(2, (1, 2, 2))", "Conv3d", (1, 3, 3, 4, 4)),
         ("LazyConvTranspose1d(3, 2, stride=2)", "ConvTranspose1d", (2, 4, 5)),
         ("LazyConvTranspose2d(4, 3, groups=2)", "ConvTranspose2d", (2, 2, 3, 3)),
         ("LazyConvTranspose3d(2, 2)", "ConvTranspose3d", (1, 3, 2, 3, 3)),
         ("LazyBatchNorm1d()", "BatchNorm1d", (4, 3)),
         ("LazyBatchNorm2d(momentum=None, affine=False)", "BatchNorm2d", (3, 2, 4, 4)),
         ("LazyBatchNorm3d(track_running_stats=False)", "BatchNorm3d", (2, 3, 2, 2, 2)),
         ("LazyInstanceNorm1d()", "InstanceNorm1d", (2, 3, 6)),
         ("LazyInstanceNorm2d(affine=False)", "InstanceNorm2d", (2, 3, 4, 4)),
         ("LazyInstanceNorm3d(bias=False)", "InstanceNorm3d", (2, 2, 3, 3, 3))]


@pytest.mark.parametrize("text, becomes, shape", _LAZY, ids=[c[0] for c in _LAZY])
def test_lazy_module_matches_torch(torch, text, becomes, shape):
    mine, theirs = (eval("lib.nn." + text, {"lib": lib}) for lib in (ember, torch))
    assert repr(mine) == repr(theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [repr(v) for v in mine.state_dict().values() if is_lazy(v)] == \
        [repr(v) for v in theirs.state_dict().values()
         if isinstance(v, torch.nn.parameter.UninitializedTensorMixin)]
    x = _array(shape)
    theirs(torch.tensor(x))  # materializes (and updates running statistics once)
    mine(ember.tensor(x))
    assert type(mine).__name__ == type(theirs).__name__ == becomes
    assert repr(mine) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in mine.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    _copy_from_torch(mine, theirs)
    _assert_parity(torch, lambda lib, x: (mine if lib is ember else theirs)(x), [x])
    back = eval("torch.nn." + text, {"torch": torch})  # ember's state moves back to torch
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mine.state_dict().items()})
    assert type(back).__name__ == "Lazy" + becomes  # loaded, not yet run: still lazy


def test_lazy_module_initialises_like_the_regular_one():
    ember.manual_seed(0)
    lazy = nn.LazyLinear(3)
    lazy(ember.zeros(1, 4))
    ember.manual_seed(0)
    regular = nn.Linear(4, 3)
    np.testing.assert_array_equal(lazy.weight.numpy(force=True), regular.weight.numpy(force=True))
    bn = nn.LazyBatchNorm1d()
    bn.eval()(ember.zeros(2, 5))
    assert bn.running_var.numpy().tolist() == [1.0] * 5 and isinstance(bn.running_mean, nn.Buffer)


def test_lazy_state_dict_loading():
    source = nn.Linear(5, 3)
    lazy = nn.LazyLinear(3)
    assert repr(lazy.load_state_dict(source.state_dict())) == "<All keys matched successfully>"
    assert type(lazy) is nn.LazyLinear and tuple(lazy.weight.shape) == (3, 5)
    np.testing.assert_array_equal(lazy(ember.ones(2, 5)).detach().numpy(),
                                  source(ember.ones(2, 5)).detach().numpy())
    assert type(lazy) is nn.Linear and lazy.in_features == 0  # as PyTorch after a load
    empty = nn.LazyLinear(3)
    empty.load_state_dict(nn.LazyLinear(3).state_dict())  # nothing to copy
    assert is_lazy(empty.weight)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        nn.Linear(5, 3).load_state_dict(nn.LazyLinear(3).state_dict())
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        lazy.load_state_dict(nn.Linear(4, 3).state_dict())
    bn = nn.LazyBatchNorm2d()
    bn.load_state_dict({k: v.numpy() for k, v in nn.BatchNorm2d(4).state_dict().items()})
    assert tuple(bn.running_var.shape) == (4,) and not bn.has_uninitialized_params()


def test_lazy_module_moves_and_casts_before_materializing():
    m = nn.LazyConv1d(2, 3).double()
    assert is_lazy(m.weight) and m.weight.dtype == ember.float64
    m(ember.zeros(1, 4, 5, dtype=ember.float64))
    assert m.weight.dtype == ember.float64 and tuple(m.weight.shape) == (2, 4, 3)
    bn = nn.LazyBatchNorm1d(dtype=ember.float64)
    bn.to(ember.float32)
    assert isinstance(bn.running_mean, UninitializedBuffer)
    assert bn.running_mean.dtype == ember.float32 and bn.weight.dtype == ember.float32
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D"):
        nn.LazyConv2d(2, 3)(ember.zeros(5, 5))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(ember.zeros(1, 3, 5, 5))


def test_uninitialized_parameter_and_buffer():
    p = UninitializedParameter(dtype=ember.float64)
    assert repr(p) == "<UninitializedParameter>" and p.requires_grad and isinstance(p, nn.Parameter)
    assert p.dtype == ember.float64 and p.device == ember.device("cpu")
    assert type(p.to(ember.float32)) is ember.Tensor and tuple(p.size()) == (0,)
    with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
        p + 1
    with pytest.raises(ValueError, match="uninitialized parameter"):
        p.detach()
    with pytest.raises(RuntimeError, match="Can't access the shape"):
        p.shape
    with pytest.raises(RuntimeError, match="Can't share memory"):
        p.share_memory_()
    clone = copy.deepcopy(p)
    assert type(clone) is UninitializedParameter and clone is not p
    assert pickle.loads(pickle.dumps(UninitializedParameter(False))).requires_grad is False
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and tuple(p.shape) == (2, 3) and p.dtype == ember.float64
    b = UninitializedBuffer(persistent=False)
    assert repr(b) == "<UninitializedBuffer>" and isinstance(b, nn.Buffer) and not b.persistent
    b.materialize((4,), dtype=ember.float64)
    assert type(b) is nn.Buffer and b.dtype == ember.float64 and not b.persistent


# -- nn.Buffer ------------------------------------------------------------------------------------
def test_buffer_assignment_registers_a_buffer(torch):
    for lib in (ember, torch):
        m = lib.nn.Module()
        m.a = lib.nn.Buffer(lib.ones(2))
        m.b = lib.nn.Buffer(lib.zeros(3), persistent=False)
        m.c = lib.ones(1)  # a plain tensor stays an attribute
        assert [n for n, _ in m.named_buffers()] == ["a", "b"]
        assert list(m.state_dict()) == ["a"]
        m.b = lib.nn.Buffer(lib.zeros(3))  # reassigning takes the new persistence
        assert list(m.state_dict()) == ["a", "b"]
        m.b = lib.ones(3)  # a plain tensor replaces a registered buffer's value
        assert m.b.sum().item() == 3 and list(m.state_dict()) == ["a", "b"]
        with pytest.raises(KeyError, match="already exists"):
            m.c = lib.nn.Buffer(lib.ones(1))
    x = ember.ones(2, requires_grad=True)
    b = nn.Buffer(x)
    assert b.requires_grad and b.is_leaf and b.data_ptr() == x.data_ptr()
    assert isinstance(b, ember.Tensor) and b.persistent
    assert repr(b) == repr(torch.nn.Buffer(torch.ones(2, requires_grad=True)))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Early(nn.Module):
            def __init__(self):
                self.x = nn.Buffer(ember.ones(1))
        Early()


# -- AdaptiveLogSoftmaxWithLoss ------------------------------------------------------------------
@pytest.mark.parametrize("head_bias, cutoffs, div_value", [(False, [4, 9], 2.0),
                                                           (True, [3], 4.0)])
def test_adaptive_log_softmax_matches_torch(torch, head_bias, cutoffs, div_value):
    torch.manual_seed(0)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 14, cutoffs, div_value, head_bias)
    mine = nn.AdaptiveLogSoftmaxWithLoss(8, 14, cutoffs, div_value, head_bias)
    assert repr(mine) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in mine.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _copy_from_torch(mine, theirs)
    x, target = _array((6, 8)), np.array([0, 13, 5, 9, 3, 11])

    def run(lib, module):
        inp = lib.tensor(x, requires_grad=True)
        output, loss = module(inp, lib.tensor(target))
        (output.sum() + loss).backward()
        unbatched = module(inp[2], lib.tensor(target[2]))
        return [output.detach().numpy(), loss.detach().numpy(), inp.grad.numpy(),
                unbatched.output.detach().numpy(), unbatched.loss.detach().numpy(),
                module.log_prob(inp).detach().numpy(), module.predict(inp).numpy(),
                module.predict(inp[:1] * 0).numpy()] + \
            [p.grad.numpy() for p in module.parameters()]
    for e, t in zip(run(ember, mine), run(torch, theirs)):
        assert e.shape == t.shape and e.dtype == t.dtype
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6)
    assert type(mine(ember.tensor(x), ember.tensor(target))).__name__ == "_ASMoutput"


def test_adaptive_log_softmax_errors():
    with pytest.raises(ValueError, match="length larger than 0"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [])
    with pytest.raises(ValueError, match="unique, positive integers"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3])
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5])
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\]"):
        m(ember.zeros(2, 8), ember.tensor([1, 10]))
    with pytest.raises(RuntimeError, match="same size in the batch dimension"):
        m(ember.zeros(3, 8), ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        m(ember.zeros(3, 8), ember.zeros(3, 2, dtype=ember.int64))


# -- fake cuda: results stay on the device --------------------------------------------------------


def _on_device(*tensors):
    for t in tensors:
        assert type(t._data) is FakeCudaArray and t.device == ember.device("cuda", 0)


def test_fake_cuda_grid_sample_ctc_and_lazy(fake_cuda):
    x, grid = ember.tensor(_array((2, 3, 4, 5))), ember.tensor(_array((2, 3, 3, 2), 1, -1.2, 1.2))
    for mode in ("bilinear", "nearest", "bicubic"):
        xc, gc = x.cuda().requires_grad_(), grid.cuda().requires_grad_()
        with forbid_host_sync():  # (backward: index_add checks its indices on the host)
            out = F.grid_sample(xc, gc, mode=mode, padding_mode="reflection", align_corners=False)
        out.sum().backward()
        _on_device(out, xc.grad, gc.grad)
        xh, gh = x.detach().requires_grad_(), grid.detach().requires_grad_()
        expected = F.grid_sample(xh, gh, mode=mode, padding_mode="reflection",
                                 align_corners=False)
        expected.sum().backward()
        for a, b in ((out, expected), (xc.grad, xh.grad), (gc.grad, gh.grad)):
            np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().numpy())
    log_probs, targets = _ctc_case("concat", 0, [4, 2])
    lp_device = ember.tensor(log_probs).cuda().requires_grad_()
    loss = F.ctc_loss(lp_device.log_softmax(2), ember.tensor(targets).cuda(),
                      ember.tensor([12, 9]).cuda(), ember.tensor([4, 2]).cuda())
    loss.backward()
    _on_device(loss, lp_device.grad)
    lp_host = ember.tensor(log_probs, requires_grad=True)
    expected = F.ctc_loss(lp_host.log_softmax(2), ember.tensor(targets), [12, 9], [4, 2])
    expected.backward()
    assert loss.item() == expected.item()
    np.testing.assert_array_equal(lp_device.grad.cpu().numpy(), lp_host.grad.numpy())
    lazy = nn.LazyBatchNorm1d().cuda()
    _on_device(lazy(ember.ones(4, 3).cuda()), lazy.weight, lazy.running_mean)
    linear = nn.LazyLinear(2).cuda()
    _on_device(linear(ember.ones(4, 3).cuda()), linear.weight, linear.bias)
    assert type(linear) is nn.Linear
