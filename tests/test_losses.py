"""Every loss against torch.nn: values and gradients for each option, gradcheck in float64,
stability for huge logits, and error inputs."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd.gradcheck import gradcheck

RTOL, ATOL = 1e-5, 1e-6


def _data(kind, rng, shape, classes=None):
    if kind == "logits":
        return rng.standard_normal(shape).astype(np.float32) * 2
    if kind == "index":
        return rng.integers(0, classes, shape)
    if kind == "prob":
        p = rng.random(shape).astype(np.float32) + 0.05
        return p / p.sum(1, keepdims=True)
    if kind == "unit":
        return rng.uniform(0.02, 0.98, shape).astype(np.float32)
    if kind == "binary":
        return (rng.random(shape) > 0.5).astype(np.float32)
    if kind == "logprob":
        x = rng.standard_normal(shape).astype(np.float32)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))
    raise ValueError(kind)


# (loss class, kwargs, input kind, input shape, target kind, target shape, classes,
#  tensors in kwargs as numpy, target requires grad)
N, C = 6, 4
CASES = [
    ("CrossEntropyLoss", {}, "logits", (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"reduction": "sum"}, "logits", (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"reduction": "none"}, "logits", (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"weight": "w"}, "logits", (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"ignore_index": 1}, "logits", (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"ignore_index": 2, "reduction": "none", "weight": "w"}, "logits",
     (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"label_smoothing": 0.2}, "logits", (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "weight": "w", "ignore_index": 0}, "logits",
     (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"label_smoothing": 0.3, "reduction": "sum", "ignore_index": 3},
     "logits", (N, C), "index", (N,)),
    ("CrossEntropyLoss", {"label_smoothing": 0.3, "reduction": "none", "weight": "w"},
     "logits", (N, C), "index", (N,)),
    ("CrossEntropyLoss", {}, "logits", (N, C), "prob", (N, C)),
    ("CrossEntropyLoss", {"weight": "w", "reduction": "sum"}, "logits", (N, C), "prob", (N, C)),
    ("CrossEntropyLoss", {"label_smoothing": 0.25, "reduction": "none"}, "logits", (N, C),
     "prob", (N, C)),
    ("CrossEntropyLoss", {"weight": "w", "label_smoothing": 0.1}, "logits", (2, C, 3), "prob",
     (2, C, 3)),
    ("CrossEntropyLoss", {}, "logits", (2, C, 3, 2), "index", (2, 3, 2)),
    ("CrossEntropyLoss", {"weight": "w", "ignore_index": 0, "label_smoothing": 0.2}, "logits",
     (2, C, 5), "index", (2, 5)),
    ("CrossEntropyLoss", {"reduction": "none", "ignore_index": 1}, "logits", (2, C, 3, 2),
     "index", (2, 3, 2)),
    ("CrossEntropyLoss", {}, "logits", (C,), "index", ()),
    ("CrossEntropyLoss", {"reduction": "none", "label_smoothing": 0.1}, "logits", (C,), "prob1",
     (C,)),
    ("NLLLoss", {}, "logprob", (N, C), "index", (N,)),
    ("NLLLoss", {"weight": "w", "reduction": "sum"}, "logprob", (N, C), "index", (N,)),
    ("NLLLoss", {"ignore_index": 2, "reduction": "none"}, "logprob", (N, C), "index", (N,)),
    ("NLLLoss", {"weight": "w", "ignore_index": 0}, "logprob", (2, C, 3), "index", (2, 3)),
    ("BCELoss", {}, "unit", (N, 3), "unit", (N, 3)),
    ("BCELoss", {"weight": "bw", "reduction": "sum"}, "unit", (N, 3), "binary", (N, 3)),
    ("BCELoss", {"reduction": "none"}, "unit", (N, 3), "binary", (N, 3)),
    ("BCEWithLogitsLoss", {}, "logits", (N, 3), "unit", (N, 3)),
    ("BCEWithLogitsLoss", {"pos_weight": "pw"}, "logits", (N, 3), "binary", (N, 3)),
    ("BCEWithLogitsLoss", {"pos_weight": "pw", "weight": "bw", "reduction": "none"}, "logits",
     (N, 3), "unit", (N, 3)),
    ("BCEWithLogitsLoss", {"weight": "bw", "reduction": "sum"}, "logits", (N, 3), "unit", (N, 3)),
    ("MSELoss", {}, "logits", (N, 3), "logits", (N, 3)),
    ("MSELoss", {"reduction": "sum"}, "logits", (N, 3), "logits", (N, 3)),
    ("L1Loss", {"reduction": "none"}, "logits", (N, 3), "logits", (N, 3)),
    ("L1Loss", {}, "logits", (N, 3), "logits", (N, 3)),
    ("SmoothL1Loss", {}, "logits", (N, 3), "logits", (N, 3)),
    ("SmoothL1Loss", {"beta": 0.5, "reduction": "sum"}, "logits", (N, 3), "logits", (N, 3)),
    ("SmoothL1Loss", {"beta": 0.0}, "logits", (N, 3), "logits", (N, 3)),
    ("HuberLoss", {}, "logits", (N, 3), "logits", (N, 3)),
    ("HuberLoss", {"delta": 0.3, "reduction": "none"}, "logits", (N, 3), "logits", (N, 3)),
    ("KLDivLoss", {"reduction": "batchmean"}, "logprob", (N, C), "prob", (N, C)),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, "logprob", (N, C), "logprob",
     (N, C)),
    ("KLDivLoss", {"reduction": "none"}, "logprob", (N, C), "prob", (N, C)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _kwargs(kwargs, rng, lib, shape):
    out = {}
    for k, v in kwargs.items():
        if v == "w":
            v = lib.tensor(rng.uniform(0.2, 2.0, C).astype(np.float32))
        elif v == "bw":
            v = lib.tensor(rng.uniform(0.2, 2.0, shape[-1]).astype(np.float32))
        elif v == "pw":
            v = lib.tensor(rng.uniform(0.5, 3.0, shape[-1]).astype(np.float32))
        out[k] = v
    return out


def _case_data(case, seed=0):
    name, kwargs, xkind, xshape, tkind, tshape = case
    rng = np.random.default_rng(seed)
    x = _data(xkind, rng, xshape)
    if tkind == "prob1":
        t = _data("prob", rng, (1,) + tshape)[0]
    else:
        t = _data(tkind, rng, tshape, C)
    if tkind == "index" and "ignore_index" in kwargs:
        t.flat[0] = kwargs["ignore_index"]  # at least one ignored target
    return x, t


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loss_matches_torch(torch, case):
    name, kwargs, *_ = case
    x, t = _case_data(case)
    target_grad = t.dtype.kind == "f"
    results = []
    for lib in (torch, ember):
        kw = _kwargs(kwargs, np.random.default_rng(7), lib, x.shape)
        xt = lib.tensor(x, requires_grad=True)
        tt = lib.tensor(t, requires_grad=target_grad)
        loss = getattr(lib.nn, name)(**kw)(xt, tt)
        g = np.random.default_rng(3).standard_normal(tuple(loss.shape)).astype(np.float32)
        (loss * lib.tensor(g)).sum().backward()
        results.append((loss.detach().numpy(), xt.grad.numpy(),
                        None if tt.grad is None else tt.grad.numpy(), str(loss.dtype)))
    (t_loss, t_gx, t_gt, t_dtype), (e_loss, e_gx, e_gt, e_dtype) = results
    assert t_dtype.split(".")[-1] == e_dtype.split(".")[-1]
    assert e_loss.shape == t_loss.shape
    np.testing.assert_allclose(e_loss, t_loss, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(e_gx, t_gx, rtol=1e-4, atol=ATOL)
    if t_gt is not None:
        np.testing.assert_allclose(e_gt, t_gt, rtol=1e-4, atol=ATOL)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loss_gradcheck(case):
    name, kwargs, *_ = case
    x, t = _case_data(case, seed=1)
    kw = _kwargs(kwargs, np.random.default_rng(7), ember, x.shape)
    kw = {k: v.double() if isinstance(v, ember.Tensor) else v for k, v in kw.items()}
    xt = ember.tensor(x.astype(np.float64), requires_grad=True)
    target_grad = t.dtype.kind == "f" and name not in ("BCELoss",)
    tt = ember.tensor(t.astype(np.float64) if t.dtype.kind == "f" else t,
                      requires_grad=target_grad)
    loss = getattr(nn, name)(**kw)
    assert gradcheck(lambda a, b: loss(a, b), (xt, tt), atol=1e-5, rtol=1e-3)


def test_cross_entropy_finite_for_huge_logits(torch):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [3e4, 3e4, -3e4]], np.float32)
    t = np.array([1, 0, 2])
    e_x = ember.tensor(x, requires_grad=True)
    loss = F.cross_entropy(e_x, ember.tensor(t), label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(e_x.grad.numpy()).all()
    t_x = torch.tensor(x, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t_x, torch.tensor(t), label_smoothing=0.1)
    t_loss.backward()
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-6)
    np.testing.assert_allclose(e_x.grad.numpy(), t_x.grad.numpy(), rtol=1e-5, atol=1e-7)
    logits = ember.tensor([[1e4, -1e4], [-50.0, 50.0]], requires_grad=True)
    bce = F.binary_cross_entropy_with_logits(logits, ember.tensor([[0.0, 1.0], [1.0, 0.0]]))
    bce.backward()
    assert np.isfinite(bce.item()) and np.isfinite(logits.grad.numpy()).all()


def test_bce_clamps_log_like_torch(torch):
    x = np.array([0.0, 1.0, 0.5, 1e-30], np.float32)
    t = np.array([1.0, 0.0, 1.0, 1.0], np.float32)
    e = F.binary_cross_entropy(ember.tensor(x), ember.tensor(t), reduction="none").numpy()
    r = torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(t),
                                                 reduction="none").numpy()
    np.testing.assert_allclose(e, r, rtol=1e-6)


def test_cross_entropy_all_ignored_is_nan_like_torch(torch):
    x = np.zeros((2, 3), np.float32)
    t = np.array([-100, -100])
    e = F.cross_entropy(ember.tensor(x), ember.tensor(t)).item()
    r = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t)).item()
    assert np.isnan(e) and np.isnan(r)


def test_loss_errors():
    x = ember.randn(3, 4)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, ember.tensor([0, 4, 1]))
    with pytest.raises(RuntimeError, match="target"):
        F.cross_entropy(x, ember.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="probability"):
        F.cross_entropy(x, ember.randn(3, 5))
    with pytest.raises(ValueError):
        F.cross_entropy(x, ember.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(RuntimeError, match="weight"):
        F.cross_entropy(x, ember.tensor([0, 1, 2]), weight=ember.ones(3))
    with pytest.raises(ValueError, match="same as input size"):
        F.binary_cross_entropy_with_logits(x, ember.ones(4))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(x * 10, ember.ones(3, 4))
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(ember.randn(3, 1), ember.randn(3))


def test_legacy_reduction_arguments():
    x, t = ember.randn(4, 3), ember.tensor([0, 1, 2, 1])
    with pytest.warns(UserWarning):
        loss = nn.CrossEntropyLoss(reduce=False)
    assert loss.reduction == "none"
    assert loss(x, t).shape == (4,)
    with pytest.warns(UserWarning):
        assert F.mse_loss(x, x, size_average=False).item() == 0.0


def test_loss_buffers_in_state_dict(torch):
    w = np.ones(3, np.float32)
    e = nn.CrossEntropyLoss(weight=ember.tensor(w))
    t = torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(e.state_dict()) == list(t.state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=ember.ones(2)).state_dict()) == \
        list(torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(2)).state_dict())


def test_cross_entropy_all_ignored_mean_gives_zero_gradient(torch):
    # torch: the loss is nan (0/0) but ignored positions get exactly 0, not nan
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    for smoothing in (0.0, 0.2):
        xe = ember.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xe, ember.tensor([-100] * 4), label_smoothing=smoothing)
        loss.backward()
        xt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.cross_entropy(xt, torch.tensor([-100] * 4),
                                          label_smoothing=smoothing).backward()
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(xe.grad.numpy(), xt.grad.numpy())
    # partly ignored with reduction='none': ignored rows stay exactly zero
    xe = ember.tensor(x, requires_grad=True)
    F.nll_loss(xe, ember.tensor([1, -100, 2, -100]), reduction="none").sum().backward()
    np.testing.assert_array_equal(xe.grad.numpy()[[1, 3]], 0.0)


def test_cross_entropy_probability_target_rejects_ignore_index():
    x, p = ember.zeros(2, 3), ember.full((2, 3), 1 / 3)
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        F.cross_entropy(x, p, ignore_index=1)
    F.cross_entropy(x, p, ignore_index=-100)  # the default is fine


# -- parameters whose dtype is not the input's: an error, as PyTorch on the CPU -------------------
_MIXED = {  # name: (call(lib, F, f32, f64), PyTorch raises)
    "batch_norm running stats": (lambda L, F, a, b: F.batch_norm(
        L.ones(4, 3, 2, 2, dtype=a), L.zeros(3, dtype=b), L.ones(3, dtype=b)), True),
    "batch_norm weight": (lambda L, F, a, b: F.batch_norm(
        L.ones(4, 3, 2, 2, dtype=a), None, None, L.ones(3, dtype=b), training=True), True),
    "layer_norm weight": (lambda L, F, a, b: F.layer_norm(
        L.ones(4, 3, dtype=a), (3,), L.ones(3, dtype=b)), True),
    "group_norm bias": (lambda L, F, a, b: F.group_norm(
        L.ones(2, 4, 3, dtype=a), 2, None, L.ones(4, dtype=b)), True),
    "instance_norm weight": (lambda L, F, a, b: F.instance_norm(
        L.ones(2, 3, 4, dtype=a), weight=L.ones(3, dtype=b)), True),
    "cross_entropy class weight": (lambda L, F, a, b: F.cross_entropy(
        L.ones(2, 3, dtype=a), L.tensor([0, 1]), weight=L.ones(3, dtype=b)), True),
    "nll_loss class weight": (lambda L, F, a, b: F.nll_loss(
        L.ones(2, 3, dtype=a), L.tensor([0, 1]), weight=L.ones(3, dtype=b)), True),
    "binary_cross_entropy target": (lambda L, F, a, b: F.binary_cross_entropy(
        L.full((3,), 0.5, dtype=a), L.ones(3, dtype=b)), True),
    "binary_cross_entropy weight": (lambda L, F, a, b: F.binary_cross_entropy(
        L.full((3,), 0.5, dtype=a), L.ones(3, dtype=a), weight=L.ones(3, dtype=b)), False),
    "cross_entropy probability target": (lambda L, F, a, b: F.cross_entropy(
        L.ones(2, 3, dtype=a), L.full((2, 3), 1 / 3, dtype=b)), False),
}


@pytest.mark.parametrize("case", sorted(_MIXED))
@pytest.mark.parametrize("swap", [False, True])
def test_mixed_parameter_dtypes_raise_as_torch(torch, case, swap):
    call, raises = _MIXED[case]
    a, b = ("float64", "float32") if swap else ("float32", "float64")
    outcomes = []
    for lib, fn in ((ember, F), (torch, torch.nn.functional)):
        try:
            call(lib, fn, getattr(lib, a), getattr(lib, b))
            outcomes.append(None)
        except RuntimeError as exc:
            outcomes.append(str(exc))
    assert (outcomes[0] is not None) == (outcomes[1] is not None) == raises, outcomes
    if raises:  # ember's message names the op, the operand and both dtypes
        op = case.split()[0]
        assert op in outcomes[0] and a in outcomes[0] and b in outcomes[0], outcomes[0]


# -- metric-learning and margin losses ------------------------------------------------------------
def _margin_cases():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    pm1 = np.where(rng.random((5, 4)) > 0.5, 1.0, -1.0).astype(np.float32)
    labels = (rng.random((5, 4)) > 0.5).astype(np.float32)
    cls = np.array([0, 3, 1, 1, 2])
    w = np.linspace(0.5, 2.0, 4).astype(np.float32)
    var = (rng.random((5, 4)) + 0.1).astype(np.float32)
    return [
        ("TripletMarginLoss()", [x, x[::-1].copy(), x * 0.5]),
        ("TripletMarginLoss(margin=0.3, p=1, swap=True)", [x, x[::-1].copy(), x * 0.5]),
        ("HingeEmbeddingLoss(margin=0.5)", [x, pm1]),
        ("SoftMarginLoss()", [x, pm1]),
        ("MultiLabelSoftMarginLoss()", [x, labels]),
        ("MultiLabelSoftMarginLoss(weight=W)", [x, labels]),
        ("MultiMarginLoss()", [x, cls]),
        ("MultiMarginLoss(p=2, margin=0.7, weight=W)", [x, cls]),
        ("MultiMarginLoss()", [x[0], cls[:1].reshape(())]),
        ("GaussianNLLLoss()", [x, x[::-1].copy(), var]),
        ("GaussianNLLLoss(full=True, eps=0.3)", [x, x[::-1].copy(), var]),
        ("GaussianNLLLoss()", [x, x[::-1].copy(), var[:, 0].copy()]),
    ], w


@pytest.mark.parametrize("index", range(12))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_losses_match_torch(torch, index, reduction):
    cases, w = _margin_cases()
    text, arrays = cases[index]
    results = []
    for lib in (ember, torch):
        name, args = text[:text.index("(")], text[text.index("(") + 1:-1]
        ctor = f"{name}({args}{', ' if args else ''}reduction='{reduction}')"
        module = eval("lib.nn." + ctor, {"lib": lib, "W": lib.tensor(w)})
        graded = (0, 1, 2) if "Triplet" in text else (0, 2)  # anchors/positives/negatives;
        # otherwise the input and GaussianNLLLoss's var (targets have no gradient in torch)
        inputs = [lib.tensor(a, requires_grad=i in graded and a.dtype.kind == "f")
                  for i, a in enumerate(arrays)]
        out = module(*inputs)
        (out * out).sum().backward()
        results.append([out.detach().numpy()] +
                       [t.grad.numpy() for t in inputs if t.requires_grad])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6)
