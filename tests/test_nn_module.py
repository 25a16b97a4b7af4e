"""nn.Module, Parameter and the containers: registration, traversal, state_dict round trips
with PyTorch, load_state_dict errors, modes, dtype moves, hooks and repr."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F


class Block(nn.Module):
    def __init__(self, lib=ember):
        super().__init__()
        self.fc = lib.nn.Linear(3, 4)
        self.scale = lib.nn.Parameter(lib.ones(4))
        self.register_buffer("steps", lib.zeros(1))
        self.register_buffer("cache", lib.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale


def _twin_models(torch):
    """The same model in both libraries: MLP + BatchNorm1d + LayerNorm + Embedding + MHA."""
    def build(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = lib.nn.Embedding(10, 8, padding_idx=0)
                self.attn = lib.nn.MultiheadAttention(8, 2, batch_first=True)
                self.mlp = lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.BatchNorm1d(16),
                                             lib.nn.ReLU(), lib.nn.Linear(16, 8))
                self.norm = lib.nn.LayerNorm(8)
                self.head = lib.nn.Linear(8, 3)

            def forward(self, idx):
                h = self.emb(idx)                            # (N, L, 8)
                h = h + self.attn(h, h, h)[0]
                h = h.mean(1)                                # (N, 8)
                return self.head(self.norm(h + self.mlp(h)))
        return Net()
    torch.manual_seed(0)
    return build(torch), build(ember)


# -- registration ---------------------------------------------------------------------------
def test_registration_through_setattr():
    m = Block()
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in m.named_buffers()] == ["steps", "cache"]
    assert list(m.state_dict()) == ["scale", "steps", "fc.weight", "fc.bias"]
    assert isinstance(m.scale, nn.Parameter) and m._parameters["scale"] is m.scale
    assert m._modules["fc"] is m.fc
    m.scale = None
    assert "scale" in m._parameters and m.scale is None
    with pytest.raises(TypeError, match="parameter 'scale'"):
        m.scale = ember.ones(4)
    m.steps = ember.ones(1)
    assert m._buffers["steps"] is m.steps
    with pytest.raises(TypeError, match="buffer 'steps'"):
        m.steps = 3
    with pytest.raises(TypeError, match="child module 'fc'"):
        m.fc = 3
    m.fc = None
    assert m.fc is None and list(m.children()) == []
    del m.steps
    assert "steps" not in m._buffers
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'nope'"):
        m.nope
    m.plain = 5
    assert m.plain == 5 and "plain" not in m._parameters
    assert "fc" in dir(m) and "cache" in dir(m)


def test_register_errors_match_torch_classes():
    m = nn.Module()
    with pytest.raises(KeyError):
        m.register_buffer("a.b", ember.zeros(1))
    with pytest.raises(KeyError):
        m.register_parameter("", None)
    with pytest.raises(TypeError):
        m.register_buffer("b", [1, 2])
    with pytest.raises(TypeError):
        m.register_parameter("p", ember.zeros(2))
    w = nn.Parameter(ember.ones(2))
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("q", _nonleaf(w))
    m.x = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("x", ember.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("c", ember.zeros(1))
    m.add_module("child", nn.Linear(1, 1))
    assert m.get_submodule("child") is m.child
    assert m.get_parameter("child.weight") is m.child.weight

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.ones(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def _nonleaf(w):
    p = nn.Parameter(ember.ones(2))
    p.grad_fn = (w * 2).grad_fn  # simulate a parameter produced by an op
    return p


def test_shared_parameters_are_deduplicated():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.modules())) == 3
    assert [n for n, _ in seq.named_children()] == ["0", "1"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in seq.named_parameters(prefix="net")] == ["net.0.weight", "net.0.bias"]
    assert len(list(seq.parameters(recurse=False))) == 0


# -- state_dict --------------------------------------------------------------------------------
def test_state_dict_keys_and_shapes_match_torch(torch):
    t_model, e_model = _twin_models(torch)
    t_sd, e_sd = t_model.state_dict(), e_model.state_dict()
    assert type(e_sd) is OrderedDict
    assert not hasattr(e_sd, "_metadata")
    assert list(e_sd) == list(t_sd)
    for key in t_sd:
        assert tuple(e_sd[key].shape) == tuple(t_sd[key].shape), key
        assert str(e_sd[key].dtype).split(".")[-1] == str(t_sd[key].dtype).split(".")[-1], key
    assert [n for n, _ in e_model.named_parameters()] == \
        [n for n, _ in t_model.named_parameters()]
    assert [n for n, _ in e_model.named_buffers()] == [n for n, _ in t_model.named_buffers()]


def test_torch_state_dict_round_trip_gives_same_outputs(torch):
    t_model, e_model = _twin_models(torch)
    idx = np.random.default_rng(0).integers(0, 10, (5, 4))
    t_model.train()
    t_model(torch.tensor(idx))  # move BatchNorm's running stats away from their defaults
    result = e_model.load_state_dict({k: v.numpy() for k, v in t_model.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for mode in ("train", "eval"):
        getattr(t_model, mode)()
        getattr(e_model, mode)()
        t_out = t_model(torch.tensor(idx))
        e_out = e_model(ember.tensor(idx))
        np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
    # and back: ember's state_dict loads into torch
    back = {k: torch.tensor(v.numpy()) for k, v in e_model.state_dict().items()}
    t_model.load_state_dict(back)
    np.testing.assert_allclose(t_model(torch.tensor(idx)).detach().numpy(),
                               e_model(ember.tensor(idx)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_state_dict_values_share_memory_and_keep_vars():
    m = nn.Linear(2, 3)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad
    sd["weight"].zero_()
    assert not m.weight.detach().numpy().any()
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    assert list(m.state_dict(prefix="p.")) == ["p.weight", "p.bias"]


def test_load_state_dict_strict_errors_match_torch(torch):
    t_model, e_model = torch.nn.Linear(3, 2), nn.Linear(3, 2)
    bad = {"weight": np.zeros((2, 3), np.float32), "extra": np.zeros(1, np.float32)}
    with pytest.raises(RuntimeError) as t_err:
        t_model.load_state_dict({k: torch.tensor(v) for k, v in bad.items()})
    with pytest.raises(RuntimeError) as e_err:
        e_model.load_state_dict(bad)
    assert str(e_err.value) == str(t_err.value)
    result = e_model.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    assert result == t_model.load_state_dict({k: torch.tensor(v) for k, v in bad.items()},
                                             strict=False)
    missing, unexpected = result
    assert missing == ["bias"]


def test_load_state_dict_size_mismatch_changes_nothing(torch):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    sd = {k: np.full(v.shape, 7, v.numpy().dtype) for k, v in model.state_dict().items()}
    sd["1.bias"] = np.zeros(5, np.float32)  # wrong shape, after entries that are fine
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(sd)
    message = str(err.value)
    assert "size mismatch for 1.bias" in message
    assert "ember.Size([5])" in message and "ember.Size([2])" in message
    t_model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    with pytest.raises(RuntimeError) as t_err:
        t_model.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    assert message == str(t_err.value).replace("torch.Size", "ember.Size")
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    with pytest.raises(RuntimeError):
        model.load_state_dict(sd, strict=False)  # a size mismatch raises even when not strict
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    with pytest.raises(TypeError):
        model.load_state_dict([1, 2])


def test_load_state_dict_keeps_identity_dtype_and_fills_num_batches_tracked():
    model = nn.BatchNorm1d(2)
    weight = model.weight
    result = model.load_state_dict({"weight": ember.tensor([2.0, 3.0], dtype=ember.float64),
                                    "bias": np.zeros(2), "running_mean": np.ones(2),
                                    "running_var": np.ones(2)})
    assert result.missing_keys == []  # old checkpoints lack num_batches_tracked, as in torch
    assert model.weight is weight and weight.dtype == ember.float32
    np.testing.assert_array_equal(weight.detach().numpy(), [2, 3])
    model.load_state_dict({"weight": np.ones(2), "bias": np.ones(2), "running_mean": np.ones(2),
                           "running_var": np.ones(2), "num_batches_tracked": np.array(4)})
    assert model.num_batches_tracked.item() == 4
    assigned = nn.Linear(2, 1)
    new_w = ember.ones(1, 2)
    assigned.load_state_dict({"weight": new_w, "bias": ember.zeros(1)}, assign=True)
    assert isinstance(assigned.weight, nn.Parameter) and assigned.weight._data is new_w._data


def test_non_persistent_buffers_and_extra_state():
    m = Block()
    assert "cache" not in m.state_dict()
    assert any(b is m.cache for b in m.buffers())

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.value = 1

        def get_extra_state(self):
            return {"value": self.value}

        def set_extra_state(self, state):
            self.value = state["value"]
    src, dst = WithExtra(), WithExtra()
    src.value = 9
    dst.load_state_dict(src.state_dict())
    assert dst.value == 9


# -- modes, dtype and device, gradients ----------------------------------------------------
def test_train_eval_recursive():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError):
        model.train("yes")


def test_to_dtype_keeps_parameter_identity():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(model.parameters())
    model(ember.randn(4, 2)).sum().backward()
    assert model.double() is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.dtype == ember.float64 for p in model.parameters())
    assert all(p.grad.dtype == ember.float64 for p in model.parameters())
    assert model[1].running_mean.dtype == ember.float64
    assert model[1].num_batches_tracked.dtype == ember.int64
    out = model(ember.randn(4, 2, dtype=ember.float64))
    assert out.dtype == ember.float64
    model.to(ember.float32)
    assert params[0].dtype == ember.float32 and params[0].requires_grad
    model.to("cpu")
    model.cpu()
    model.to(ember.zeros(1, dtype=ember.float64))
    assert params[0].dtype == ember.float64
    model.float()
    with pytest.raises(TypeError, match="floating point"):
        model.to(ember.int64)


def test_zero_grad_apply_requires_grad():
    model = nn.Linear(2, 2)
    model(ember.randn(3, 2)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert not model.weight.grad.numpy().any()
    model.zero_grad()
    assert model.weight.grad is None
    seen = []
    nested = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    nested.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]
    nested.requires_grad_(False)
    assert not any(p.requires_grad for p in nested.parameters())


def test_parameters_follow_an_optimizer_like_update():
    model = nn.Linear(2, 1)
    with ember.no_grad():
        for p in model.parameters():
            p.sub_(ember.ones_like(p))
    assert model.weight.requires_grad and model.weight.grad_fn is None


# -- hooks ---------------------------------------------------------------------------------------
def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    h3 = m.register_forward_hook(lambda mod, args, out: calls.append("first"), prepend=True)
    out = m(ember.randn(3, 2))
    expected = m.bias.detach().numpy() + 1
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(expected, (3, 2)),
                               rtol=1e-6)
    assert calls == ["first", (3, 2)]
    for h in (h1, h2, h3):
        h.remove()
    x = ember.randn(3, 2)
    np.testing.assert_allclose(m(x).detach().numpy(), F.linear(x, m.weight, m.bias).detach()
                               .numpy())

    def kw_hook(mod, args, kwargs):
        return args, {}
    with m.register_forward_pre_hook(kw_hook, with_kwargs=True):
        m(x)
    assert not m._forward_pre_hooks
    seen = []
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(sorted(kwargs)),
                            with_kwargs=True)
    m(input=x)
    assert seen == [["input"]]


# -- printing ------------------------------------------------------------------------------------
def test_custom_module_repr_matches_torch(torch):
    def build(lib):
        class Custom(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = lib.nn.Linear(2, 2)
                self.empty = None

            def extra_repr(self):
                return "alpha=1,\nbeta=2"
        seq = lib.nn.Sequential(OrderedDict([("custom", Custom()), ("act", lib.nn.ReLU())]))
        return seq
    assert repr(build(ember)) == repr(build(torch))


def test_parameter():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    assert isinstance(p, ember.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    q = nn.Parameter(ember.zeros(2), requires_grad=False)
    assert not q.requires_grad
    assert nn.Parameter().shape == (0,)
    c = copy.deepcopy(p)
    assert type(c) is nn.Parameter and c.requires_grad and c._data is not p._data
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is nn.Parameter and r.requires_grad
    np.testing.assert_array_equal(r.detach().numpy(), [1, 2])
    (p * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2, 2])


def test_deepcopy_module_is_independent():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    clone = copy.deepcopy(model)
    with ember.no_grad():
        clone[0].weight.fill_(0)
    assert model[0].weight.detach().numpy().any()
    assert isinstance(clone[0].weight, nn.Parameter)


# -- containers ----------------------------------------------------------------------------------
def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    assert list(sub._modules) == ["1", "2"]
    x = ember.randn(4, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(), c(b(a(x))).detach().numpy())
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is c
    seq.insert(1, b)
    assert seq[1] is b
    assert seq.pop(1) is b
    seq[0] = nn.Identity()
    assert isinstance(seq[0], nn.Identity)
    with pytest.raises(IndexError):
        seq[10]
    named = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert named.fc is a and list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert len(seq + named) == len(seq) + 2
    seq.extend([nn.Tanh()])
    assert isinstance(seq[-1], nn.Tanh)


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(5)]
    layers += [nn.Sigmoid()]
    assert len(layers) == 6
    d = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    d["c"] = nn.Tanh()
    d.update([("e", nn.Identity())])
    assert list(d) == ["a", "b", "c", "e"]
    assert isinstance(d.pop("b"), nn.ReLU) and "b" not in d
    assert [k for k, _ in d.named_parameters()] == ["a.weight", "a.bias"]
    plist = nn.ParameterList([nn.Parameter(ember.ones(2)), ember.zeros(3)])
    assert len(plist) == 2 and isinstance(plist[1], nn.Parameter)
    assert [n for n, _ in plist.named_parameters()] == ["0", "1"]
    pdict = nn.ParameterDict({"w": nn.Parameter(ember.ones(1))})
    assert list(pdict.state_dict()) == ["w"] and "w" in pdict


def test_identity_and_flatten():
    x = ember.randn(2, 3, 4)
    assert nn.Identity(54, unused="x")(x) is x
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Unflatten(1, (3, 1))(x).shape == (2, 3, 1, 4)


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_mlp_with_batchnorm_trains_like_torch(torch):
    """Five SGD steps with the fused kernels in one graph give torch's parameters."""
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(6, 16), lib.nn.BatchNorm1d(16), lib.nn.GELU(),
                                 lib.nn.Dropout(0.0), lib.nn.Linear(16, 8), lib.nn.LayerNorm(8),
                                 lib.nn.SiLU(), lib.nn.Linear(8, 4))
    torch.manual_seed(0)
    t_model, e_model = build(torch), build(ember)
    e_model.load_state_dict({k: v.numpy() for k, v in t_model.state_dict().items()})
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.standard_normal((10, 6)).astype(np.float32)
        y = rng.integers(0, 4, 10)
        losses = []
        for lib, model in ((torch, t_model), (ember, e_model)):
            model.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y),
                                                   label_smoothing=0.1)
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p.sub_(p.grad * 0.5)
            losses.append(loss.item())
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    for (k, t), (_, e) in zip(t_model.state_dict().items(), e_model.state_dict().items()):
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-3, atol=1e-4, err_msg=k)


def test_full_backward_hooks_match_torch(torch):
    def run(lib):
        lib.manual_seed(0)
        m = lib.nn.Linear(3, 2)
        with lib.no_grad():
            m.weight.copy_(lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]))
        seen = []
        m.register_full_backward_pre_hook(lambda mod, go: seen.append(("pre", go[0].numpy()
                                                                        .copy())))
        m.register_full_backward_hook(
            lambda mod, gi, go: (seen.append(("post", gi[0].numpy().copy(), go[0].numpy()
                                              .copy())), (gi[0] * 2,))[1])
        x = lib.tensor([[1.0, -1.0, 0.5]], requires_grad=True)
        (m(x) * lib.tensor([[1.0, 3.0]])).sum().backward()
        return seen, x.grad.numpy()
    t_seen, t_grad = run(torch)
    e_seen, e_grad = run(ember)
    assert [s[0] for s in e_seen] == [s[0] for s in t_seen] == ["pre", "post"]
    for t, e in zip(t_seen, e_seen):
        for a, b in zip(t[1:], e[1:]):
            np.testing.assert_allclose(b, a)
    np.testing.assert_allclose(e_grad, t_grad)  # the hook's doubled grad_input is used


def test_backward_hook_without_input_grad():
    m = nn.Linear(2, 1)
    calls = []
    m.register_full_backward_hook(lambda mod, gi, go: calls.append((gi, go[0].shape)))
    m(ember.ones(4, 2)).sum().backward()
    assert calls == [((None,), (4, 1))]
    assert m.weight.grad is not None


def test_parameter_container_reprs_match_torch(torch):
    def build(lib):
        return (lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2, 3)),
                                      lib.nn.Parameter(lib.ones(1))]),
                lib.nn.ParameterDict({"a": lib.nn.Parameter(lib.ones(2, 3))}))
    for e, t in zip(build(ember), build(torch)):
        assert repr(e) == repr(t).replace("torch.", "ember.")


def test_bfloat16_raises_instead_of_silently_keeping_float32():
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="bfloat16"):
        model.bfloat16()
    assert model.weight.dtype == ember.float32
