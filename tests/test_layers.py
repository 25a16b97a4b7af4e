"""Every nn layer against torch.nn: same weights and inputs give the same outputs, input and
parameter gradients and buffers; gradcheck in float64; extra_repr; default initialisation."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd.gradcheck import gradcheck

RTOL, ATOL = 1e-4, 1e-5

# (class name, args, kwargs, input specs); a spec is a shape (float input) or ("int", shape, high)
LAYERS = [
    ("Linear", (5, 3), {}, [(4, 5)]),
    ("Linear", (5, 3), {"bias": False}, [(2, 4, 5)]),
    ("Bilinear", (3, 4, 2), {}, [(5, 3), (5, 4)]),
    ("Identity", (), {}, [(3, 4)]),
    ("ReLU", (), {}, [(4, 5)]),
    ("ReLU6", (), {}, [(4, 5)]),
    ("LeakyReLU", (0.2,), {}, [(4, 5)]),
    ("ELU", (0.7,), {}, [(4, 5)]),
    ("CELU", (1.3,), {}, [(4, 5)]),
    ("SELU", (), {}, [(4, 5)]),
    ("GELU", (), {}, [(4, 5)]),
    ("GELU", (), {"approximate": "tanh"}, [(4, 5)]),
    ("SiLU", (), {}, [(4, 5)]),
    ("Mish", (), {}, [(4, 5)]),
    ("Softplus", (), {}, [(4, 5)]),
    ("Softplus", (), {"beta": 2.0, "threshold": 3.0}, [(4, 5)]),
    ("Hardtanh", (-0.5, 0.7), {}, [(4, 5)]),
    ("Sigmoid", (), {}, [(4, 5)]),
    ("Tanh", (), {}, [(4, 5)]),
    ("Softmax", (), {"dim": 1}, [(3, 4, 2)]),
    ("LogSoftmax", (), {"dim": -1}, [(3, 4)]),
    ("Softmin", (), {"dim": 0}, [(3, 4)]),
    ("Softsign", (), {}, [(4, 5)]),
    ("Tanhshrink", (), {}, [(4, 5)]),
    ("LogSigmoid", (), {}, [(4, 5)]),
    ("Hardsigmoid", (), {}, [(4, 5)]),
    ("Hardswish", (), {}, [(4, 5)]),
    ("Threshold", (0.1, -2.0), {}, [(4, 5)]),
    ("GLU", (), {}, [(3, 4)]),
    ("PReLU", (), {}, [(4, 5)]),
    ("PReLU", (3,), {}, [(2, 3, 4)]),
    ("BatchNorm1d", (4,), {}, [(8, 4)]),
    ("BatchNorm1d", (4,), {"momentum": None}, [(6, 4, 3)]),
    ("BatchNorm1d", (4,), {"affine": False}, [(8, 4)]),
    ("BatchNorm1d", (4,), {"track_running_stats": False}, [(8, 4)]),
    ("BatchNorm2d", (3,), {"eps": 1e-3, "momentum": 0.3}, [(4, 3, 5, 5)]),
    ("BatchNorm3d", (2,), {}, [(2, 2, 3, 2, 2)]),
    ("LayerNorm", (5,), {}, [(3, 5)]),
    ("LayerNorm", ((4, 5),), {"elementwise_affine": False}, [(2, 3, 4, 5)]),
    ("LayerNorm", (5,), {"bias": False, "eps": 1e-3}, [(2, 3, 5)]),
    ("GroupNorm", (2, 4), {}, [(3, 4, 5)]),
    ("GroupNorm", (3, 6), {"affine": False}, [(2, 6, 2, 2)]),
    ("Flatten", (), {}, [(2, 3, 4)]),
    ("Flatten", (0, 1), {}, [(2, 3, 4)]),
    ("Unflatten", (1, (2, 3)), {}, [(4, 6)]),
    ("Embedding", (10, 3), {}, [("int", (4, 5), 10)]),
    ("Embedding", (10, 3), {"padding_idx": 0}, [("int", (4, 5), 3)]),
    ("Embedding", (10, 3), {"padding_idx": -1, "scale_grad_by_freq": True}, [("int", (7,), 10)]),
    ("MultiheadAttention", (8, 2), {}, [(3, 2, 8)] * 3),
    ("MultiheadAttention", (8, 4), {"batch_first": True, "bias": False}, [(2, 3, 8), (2, 5, 8),
                                                                         (2, 5, 8)]),
    ("MultiheadAttention", (6, 2), {"kdim": 4, "vdim": 5, "add_bias_kv": True,
                                    "add_zero_attn": True}, [(3, 2, 6), (4, 2, 4), (4, 2, 5)]),
    ("MultiheadAttention", (4, 2), {}, [(3, 4)] * 3),  # unbatched
]
IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(LAYERS)]


def _make_inputs(specs, rng, same=False):
    arrays = []
    for spec in specs:
        if spec and spec[0] == "int":
            arrays.append(rng.integers(0, spec[2], spec[1]))
        else:
            arrays.append(rng.standard_normal(spec).astype(np.float32))
    if same and len(arrays) == 3 and specs[0] == specs[1] == specs[2]:
        arrays = [arrays[0]] * 3  # self-attention: query is key is value
    return arrays


def _twins(torch, name, args, kwargs):
    """A torch layer with perturbed parameters/buffers and its ember twin loaded from it."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(*args, **kwargs)
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(torch.randn_like(p) * 0.2)
        for key, b in tm.named_buffers():
            if key.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.3)
            elif key.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    em = getattr(nn, name)(*args, **kwargs)
    em.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    return tm, em


def _outputs(out):
    outs = out if isinstance(out, tuple) else (out,)
    return [o for o in outs if o is not None]


def _forward_backward(module, tensors, lib, grads):
    """Runs module once; ``grads`` (a list) is filled from the first run's output shapes."""
    out = _outputs(module(*tensors))
    if not grads:
        rng = np.random.default_rng(len(out))
        grads.extend(rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in out)
    total = None
    for o, g in zip(out, grads):
        term = (o * lib.tensor(g)).sum()
        total = term if total is None else total + term
    if total is not None and total.requires_grad:
        total.backward()
    return out


def _compare_pair(torch, tm, em, arrays):
    tt = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    et = [ember.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    if len(arrays) == 3 and arrays[0] is arrays[1] is arrays[2]:
        tt, et = [tt[0]] * 3, [et[0]] * 3
    grads = []
    t_out = _forward_backward(tm, tt, torch, grads)
    e_out = _forward_backward(em, et, ember, grads)
    assert len(t_out) == len(e_out)
    for t, e in zip(t_out, e_out):
        assert tuple(e.shape) == tuple(t.shape)
        assert e.dtype == ember.float32
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=RTOL, atol=ATOL)
    for t, e in zip(tt, et):
        if t.grad is not None:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=RTOL, atol=ATOL)
    e_params = dict(em.named_parameters())
    for key, p in tm.named_parameters():
        if p.grad is None:
            assert e_params[key].grad is None or not e_params[key].grad.numpy().any()
        else:
            np.testing.assert_allclose(e_params[key].grad.numpy(), p.grad.numpy(), rtol=RTOL,
                                       atol=ATOL, err_msg=key)
    e_buffers = dict(em.named_buffers())
    for key, b in tm.named_buffers():
        np.testing.assert_allclose(e_buffers[key].numpy(), b.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=key)


@pytest.mark.parametrize("name,args,kwargs,specs", LAYERS, ids=IDS)
def test_layer_matches_torch(torch, rng, name, args, kwargs, specs):
    tm, em = _twins(torch, name, args, kwargs)
    assert [k for k, _ in em.named_parameters()] == [k for k, _ in tm.named_parameters()]
    assert list(em.state_dict()) == list(tm.state_dict())
    arrays = _make_inputs(specs, rng, same=name == "MultiheadAttention")
    _compare_pair(torch, tm, em, arrays)
    # a second step, then eval mode (BatchNorm's running stats, dropout in MHA)
    tm.zero_grad()
    em.zero_grad()
    _compare_pair(torch, tm, em, _make_inputs(specs, rng))
    tm.eval()
    em.eval()
    tm.zero_grad()
    em.zero_grad()
    _compare_pair(torch, tm, em, _make_inputs(specs, rng))


@pytest.mark.parametrize("name,args,kwargs,specs", LAYERS, ids=IDS)
def test_layer_gradcheck(name, args, kwargs, specs):
    if "padding_idx" in kwargs or "scale_grad_by_freq" in kwargs:
        pytest.skip("the gradient is not the derivative on purpose (torch's semantics)")
    ember.manual_seed(0)
    module = getattr(nn, name)(*args, **kwargs).double()
    rng = np.random.default_rng(1)
    inputs = []
    for spec in specs:
        if spec and spec[0] == "int":
            inputs.append(ember.tensor(rng.integers(0, spec[2], spec[1])))
        else:
            shape = tuple(min(s, 3) for s in spec)
            if name in ("GLU",):
                shape = shape[:-1] + (4,)
            if name in ("Linear", "Bilinear", "PReLU", "LayerNorm", "GroupNorm", "Unflatten",
                        "MultiheadAttention") or name.startswith("BatchNorm"):
                shape = spec
            inputs.append(ember.tensor(rng.standard_normal(shape), dtype=ember.float64,
                                       requires_grad=True))
    params = [p for p in module.parameters() if p.requires_grad]

    def fn(*xs):
        out = module(*xs[:len(inputs)])
        out = out[0] if isinstance(out, tuple) else out
        return out.clone()  # gradcheck perturbs inputs in place: never return a view of one

    assert gradcheck(fn, tuple(inputs) + tuple(params), atol=1e-5, rtol=1e-3)


def test_dropout_statistics_and_gradient():
    ember.manual_seed(0)
    x = ember.ones(200, 100, requires_grad=True)
    drop = nn.Dropout(0.3)
    y = drop(x)
    data = y.detach().numpy()
    kept = data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), data, rtol=1e-6)
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(1.0)(x).detach().numpy().sum() == 0
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_dropout2d_zeroes_whole_channels():
    ember.manual_seed(1)
    x = ember.ones(8, 16, 3, 3)
    y = nn.Dropout2d(0.5)(x).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7


def test_dropout_inplace_and_reproducible():
    ember.manual_seed(3)
    a = F.dropout(ember.ones(50), 0.5).numpy()
    ember.manual_seed(3)
    x = ember.ones(50)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), a)


def test_embedding_max_norm_renormalises_rows(torch):
    tm = torch.nn.Embedding(6, 4, max_norm=1.0)
    em = nn.Embedding(6, 4, max_norm=1.0)
    em.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    idx = np.array([[0, 2], [2, 5]])
    t_out = tm(torch.tensor(idx))
    e_out = em(ember.tensor(idx))
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_embedding_padding_row_is_zero_and_from_pretrained():
    emb = nn.Embedding(5, 3, padding_idx=2)
    assert not emb.weight.detach().numpy()[2].any()
    pre = nn.Embedding.from_pretrained(ember.eye(3))
    assert not pre.weight.requires_grad
    np.testing.assert_array_equal(pre(ember.tensor([1])).numpy(), [[0, 1, 0]])
    with pytest.raises(AssertionError):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(IndexError):
        emb(ember.tensor([5]))


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(ember.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(ember.randn(1, 3))
    with pytest.raises(ValueError):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match="normalized_shape"):
        nn.LayerNorm(4)(ember.randn(2, 5))


def test_batchnorm_running_stats_updated_in_place():
    bn = nn.BatchNorm1d(3)
    mean = bn.running_mean
    x = ember.randn(16, 3) * 2 + 1
    bn(x)
    assert bn.running_mean is mean
    np.testing.assert_allclose(mean.numpy(), 0.1 * x.numpy().mean(0), rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 1
    assert bn.running_var.dtype == ember.float32


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")  # torch's own
def test_mha_masks_match_torch(torch, rng):
    tm, em = _twins(torch, "MultiheadAttention", (8, 2), {"batch_first": True})
    q = rng.standard_normal((2, 4, 8)).astype(np.float32)
    kv = rng.standard_normal((2, 5, 8)).astype(np.float32)
    kpm = np.array([[False, False, False, True, True], [False] * 5])
    causal = np.triu(np.ones((4, 5), bool), 1)
    float_mask = rng.standard_normal((4, 5)).astype(np.float32)
    cases = [dict(key_padding_mask=kpm), dict(attn_mask=causal),
             dict(attn_mask=float_mask, key_padding_mask=kpm, average_attn_weights=False),
             dict(attn_mask=causal, is_causal=True), dict(need_weights=False, attn_mask=causal)]
    for kw in cases:
        t_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        e_kw = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        t_out, t_w = tm(torch.tensor(q), torch.tensor(kv), torch.tensor(kv), **t_kw)
        e_out, e_w = em(ember.tensor(q), ember.tensor(kv), ember.tensor(kv), **e_kw)
        np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=RTOL,
                                   atol=ATOL)
        if t_w is None:
            assert e_w is None
        else:
            np.testing.assert_allclose(e_w.detach().numpy(), t_w.detach().numpy(), rtol=RTOL,
                                       atol=ATOL)


@pytest.mark.parametrize("kw", [dict(), dict(is_causal=True), dict(mask="bool"),
                                dict(mask="float"), dict(scale=0.3)])
def test_scaled_dot_product_attention(torch, rng, kw):
    q = rng.standard_normal((2, 3, 4, 8)).astype(np.float32)
    k = rng.standard_normal((2, 3, 4, 8)).astype(np.float32)
    v = rng.standard_normal((2, 3, 4, 6)).astype(np.float32)
    mask = kw.pop("mask", None)
    if mask == "bool":
        kw["attn_mask"] = np.tril(np.ones((4, 4), bool))
    elif mask == "float":
        kw["attn_mask"] = rng.standard_normal((4, 4)).astype(np.float32)
    t_in = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    e_in = [ember.tensor(a, requires_grad=True) for a in (q, k, v)]
    t_kw = {n: torch.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kw.items()}
    e_kw = {n: ember.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kw.items()}
    t_out = torch.nn.functional.scaled_dot_product_attention(*t_in, **t_kw)
    e_out = F.scaled_dot_product_attention(*e_in, **e_kw)
    g = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
    (t_out * torch.tensor(g)).sum().backward()
    (e_out * ember.tensor(g)).sum().backward()
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=RTOL,
                               atol=ATOL)
    for t, e in zip(t_in, e_in):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_sdpa_dropout_and_gradcheck():
    rng = np.random.default_rng(0)
    q, k, v = (ember.tensor(rng.standard_normal((1, 3, 2)), requires_grad=True)
               for _ in range(3))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
                     (q, k, v))
    ember.manual_seed(0)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    assert not out.detach().numpy().any()


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_modes(torch, rng, mode):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    pad = (1, 2, 2, 1)
    kw = {"value": 1.5} if mode == "constant" else {}
    t_x = torch.tensor(x, requires_grad=True)
    e_x = ember.tensor(x, requires_grad=True)
    t_out = torch.nn.functional.pad(t_x, pad, mode=mode, **kw)
    e_out = F.pad(e_x, pad, mode=mode, **kw)
    g = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
    (t_out * torch.tensor(g)).sum().backward()
    (e_out * ember.tensor(g)).sum().backward()
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy())
    np.testing.assert_allclose(e_x.grad.numpy(), t_x.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_functional_extras_match_torch(torch, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = rng.standard_normal((3, 4)).astype(np.float32)
    tf = torch.nn.functional
    pairs = [
        (F.normalize(ember.tensor(x)), tf.normalize(torch.tensor(x))),
        (F.cosine_similarity(ember.tensor(x), ember.tensor(y)),
         tf.cosine_similarity(torch.tensor(x), torch.tensor(y))),
        (F.pairwise_distance(ember.tensor(x), ember.tensor(y)),
         tf.pairwise_distance(torch.tensor(x), torch.tensor(y))),
        (F.one_hot(ember.tensor([0, 2, 1]), 4), tf.one_hot(torch.tensor([0, 2, 1]), 4)),
        (F.softmax(ember.tensor(x), dim=0, dtype=ember.float64),
         tf.softmax(torch.tensor(x), dim=0, dtype=torch.float64)),
        (F.relu6(ember.tensor(x * 5)), tf.relu6(torch.tensor(x * 5))),
    ]
    for e, t in pairs:
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)


def test_softmax_stable_for_huge_logits():
    x = ember.tensor([[1e4, 0.0, -1e4], [3e38, 3e38, 0.0]])
    s = F.softmax(x, dim=1).numpy()
    ls = F.log_softmax(x, dim=1).numpy()
    assert np.isfinite(s).all() and np.isfinite(ls[0]).all()
    np.testing.assert_allclose(s.sum(1), 1.0, rtol=1e-6)


def test_activation_kinks_have_torch_gradients(torch):
    x_np = np.array([-1.0, 0.0, 0.5, 1.0, 6.0, 7.0], np.float32)
    for name, kw in [("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.1}),
                     ("hardtanh", {"min_val": -1.0, "max_val": 1.0}), ("elu", {}),
                     ("hardswish", {}), ("hardsigmoid", {})]:
        t_x = torch.tensor(x_np - 3 * (name in ("hardswish", "hardsigmoid")), requires_grad=True)
        e_x = ember.tensor(t_x.detach().numpy(), requires_grad=True)
        getattr(torch.nn.functional, name)(t_x, **kw).sum().backward()
        getattr(F, name)(e_x, **kw).sum().backward()
        np.testing.assert_allclose(e_x.grad.numpy(), t_x.grad.numpy(), err_msg=name)


def test_inplace_activations(torch):
    x = ember.randn(5)
    ref = F.relu(x).numpy().copy()
    assert F.relu(x, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), ref)
    y = ember.randn(5)
    expected = F.leaky_relu(y, 0.3).numpy().copy()
    nn.LeakyReLU(0.3, inplace=True)(y)
    np.testing.assert_allclose(y.numpy(), expected)


def test_double_backward_through_smooth_activations():
    x = ember.tensor(np.random.default_rng(0).standard_normal(4), dtype=ember.float64,
                     requires_grad=True)
    for fn in (F.gelu, F.silu, F.mish, F.softplus, F.elu, F.selu,
               lambda t: F.celu(t, 0.5), lambda t: F.gelu(t, approximate="tanh"), F.logsigmoid):
        def first_derivative(t):
            with ember.enable_grad():
                g, = ember.autograd.grad(fn(t).sum(), t, create_graph=True)
            return g
        assert gradcheck(first_derivative, (x,))


# -- repr, extra_repr and defaults -----------------------------------------------------------
REPR_LAYERS = [
    ("Linear", (4, 3), {}), ("Linear", (4, 3), {"bias": False}), ("Bilinear", (2, 3, 4), {}),
    ("Identity", (), {}), ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("ReLU6", (), {}),
    ("LeakyReLU", (0.2, True), {}), ("ELU", (), {}), ("CELU", (), {}), ("SELU", (), {}),
    ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}), ("Mish", (), {}),
    ("Softplus", (), {}), ("Hardtanh", (), {}), ("Sigmoid", (), {}), ("Tanh", (), {}),
    ("Softmax", (), {"dim": 1}), ("LogSoftmax", (), {"dim": 1}), ("Softmin", (), {}),
    ("Threshold", (0.1, 20.0), {}), ("GLU", (), {}), ("PReLU", (), {}), ("Hardswish", (), {}),
    ("Hardsigmoid", (), {}), ("LogSigmoid", (), {}), ("Softsign", (), {}),
    ("BatchNorm1d", (4,), {}), ("BatchNorm2d", (4,), {"momentum": None, "affine": False}),
    ("LayerNorm", (4,), {}), ("LayerNorm", ((3, 4),), {"elementwise_affine": False}),
    ("GroupNorm", (2, 4), {}), ("Dropout", (), {}), ("Dropout2d", (0.2,), {}),
    ("Flatten", (), {}), ("Unflatten", (1, (2, 2)), {}), ("Embedding", (10, 3), {}),
    ("Embedding", (10, 3), {"padding_idx": 1, "max_norm": 2.0}),
    ("MultiheadAttention", (8, 2), {}), ("CrossEntropyLoss", (), {}), ("MSELoss", (), {}),
    ("BCEWithLogitsLoss", (), {}), ("KLDivLoss", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", REPR_LAYERS,
                         ids=[f"{n}-{i}" for i, (n, *_) in enumerate(REPR_LAYERS)])
def test_repr_matches_torch(torch, name, args, kwargs):
    assert repr(getattr(nn, name)(*args, **kwargs)) == \
        repr(getattr(torch.nn, name)(*args, **kwargs))


def test_nested_repr_matches_torch(torch):
    def build(lib):
        return lib.nn.Sequential(
            lib.nn.Linear(4, 8), lib.nn.BatchNorm1d(8), lib.nn.ReLU(),
            lib.nn.ModuleList([lib.nn.Linear(8, 8) for _ in range(3)] + [lib.nn.Tanh()]),
            lib.nn.ModuleDict({"a": lib.nn.GELU(), "b": lib.nn.Sequential(lib.nn.Dropout(0.1))}),
            lib.nn.Sequential(), lib.nn.MultiheadAttention(8, 2))
    assert repr(build(ember)) == repr(build(torch))


@pytest.mark.parametrize("name,args,shape", [("Linear", (400, 300), "weight"),
                                            ("Bilinear", (200, 30, 40), "weight")])
def test_default_init_distribution(name, args, shape):
    ember.manual_seed(0)
    layer = getattr(nn, name)(*args)
    bound = 1 / math.sqrt(args[0] if name == "Linear" else args[0])
    w = layer.weight.detach().numpy()
    assert np.abs(w).max() <= bound + 1e-7
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    b = layer.bias.detach().numpy()
    fan_in = args[0]
    assert np.abs(b).max() <= 1 / math.sqrt(fan_in) + 1e-7


def test_default_init_other_layers():
    ember.manual_seed(0)
    emb = nn.Embedding(300, 200).weight.detach().numpy()
    assert abs(emb.mean()) < 0.01 and abs(emb.std() - 1) < 0.01
    bn = nn.BatchNorm2d(5)
    np.testing.assert_array_equal(bn.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(bn.bias.detach().numpy(), 0)
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)
    assert bn.num_batches_tracked.dtype == ember.int64
    mha = nn.MultiheadAttention(64, 4)
    w = mha.in_proj_weight.detach().numpy()
    bound = math.sqrt(6 / (64 + 3 * 64))
    assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound
    assert not mha.in_proj_bias.detach().numpy().any()
    assert not mha.out_proj.bias.detach().numpy().any()
    ember.manual_seed(5)
    a = nn.Linear(3, 3).weight.detach().numpy()
    ember.manual_seed(5)
    np.testing.assert_array_equal(nn.Linear(3, 3).weight.detach().numpy(), a)


def test_factory_kwargs_dtype():
    layer = nn.Linear(3, 2, dtype=ember.float64)
    assert layer.weight.dtype == ember.float64
    assert layer(ember.randn(4, 3, dtype=ember.float64)).dtype == ember.float64
    assert nn.LayerNorm(3, dtype=ember.float64).weight.dtype == ember.float64


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_sdpa_fully_masked_row_is_zero_not_nan(torch, rng, mask_kind):
    q = rng.standard_normal((1, 2, 2, 4)).astype(np.float32)
    k = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    allowed = np.array([[True, False, True], [False, False, False]])
    mask = allowed if mask_kind == "bool" else np.where(allowed, 0.0, -np.inf).astype(np.float32)
    outs = []
    for lib in (torch, ember):
        qt, kt = lib.tensor(q, requires_grad=True), lib.tensor(k, requires_grad=True)
        out = lib.nn.functional.scaled_dot_product_attention(qt, kt, kt, attn_mask=lib.tensor(mask))
        (out * out).sum().backward()
        outs.append([a.detach().numpy() for a in (out, qt.grad, kt.grad)])
    for e, t in zip(outs[1], outs[0]):
        assert np.isfinite(e).all()
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6)


def test_mha_fully_padded_row_matches_torch_for_need_weights(torch, rng):
    # torch: need_weights=False goes through sdpa (zeros); need_weights=True gives nan
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(4, 1)
    em = nn.MultiheadAttention(4, 1)
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((3, 2, 4)).astype(np.float32)
    kpm = np.array([[True, True, True], [False, True, False]])
    for need in (False, True):
        t_out, _ = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm),
                      need_weights=need)
        e_out, _ = em(*(ember.tensor(x),) * 3, key_padding_mask=ember.tensor(kpm),
                      need_weights=need)
        np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(),
                                   rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("pads", [(-1, 2), (2, -1), (3, -2), (1, -1, -1, 1)])
def test_circular_pad_with_negative_padding_wraps_the_cropped_span(torch, pads):
    # torch pads one dim of a 3-D input, two dims of a 4-D one
    x = np.arange(24, dtype=np.float32).reshape((2, 2, 6) if len(pads) == 2 else (1, 2, 2, 6))
    expected = torch.nn.functional.pad(torch.tensor(x), pads, mode="circular").numpy()
    got = F.pad(ember.tensor(x), pads, mode="circular").numpy()
    np.testing.assert_array_equal(got, expected)


def test_linear_with_1d_weight(torch, rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = rng.standard_normal(4).astype(np.float32)
    res = []
    for lib in (torch, ember):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, np.float32(0.5)))
        out = lib.nn.functional.linear(xt, wt, bt)
        (out * out).sum().backward()
        res.append([a.detach().numpy() for a in (out, xt.grad, wt.grad, bt.grad)])
    for e, t in zip(res[1], res[0]):
        assert e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-5)


# -- InstanceNorm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, shape", [("InstanceNorm1d", (4, 3, 7)), ("InstanceNorm1d", (3, 7)),
                                        ("InstanceNorm2d", (2, 3, 4, 5)),
                                        ("InstanceNorm2d", (3, 4, 5)),
                                        ("InstanceNorm3d", (2, 3, 3, 4, 2)),
                                        ("InstanceNorm3d", (3, 2, 3, 4))])
@pytest.mark.parametrize("options", [dict(), dict(affine=True),
                                     dict(affine=True, track_running_stats=True),
                                     dict(track_running_stats=True, momentum=None)])
def test_instance_norm_modules_match_torch(torch, cls, shape, options):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    results = []
    for lib in (ember, torch):
        m = getattr(lib.nn, cls)(3, **options)
        if m.weight is not None:
            with lib.no_grad():
                m.weight.copy_(lib.tensor([0.5, 1.0, 2.0]))
                m.bias.copy_(lib.tensor([0.1, -0.2, 0.3]))
        seen = []
        for train in (True, True, False):  # two training steps, then eval
            m.train(train)
            t = lib.tensor(x, requires_grad=True)
            y = m(t)
            y.backward(lib.tensor(g))
            seen += [y.detach().numpy(), t.grad.numpy()]
        seen += [v.detach().numpy() for v in m.state_dict().values()]
        results.append((repr(m), seen))
    assert results[0][0] == results[1][0]
    for e, t in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-5)


def test_instance_norm_errors_and_warnings():
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.InstanceNorm1d(3)(ember.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match="match num_features"):
        nn.InstanceNorm2d(4, affine=True)(ember.ones(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm2d(4)(ember.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(ember.ones(2, 3, 1))
    with pytest.raises(RuntimeError, match="use_input_stats is false"):
        F.instance_norm(ember.ones(2, 3, 4), use_input_stats=False)
