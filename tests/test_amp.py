"""ember.amp: autocast's op policy against torch's CPU autocast, its state (nesting, threads,
decorator, errors), gradients through the casts, and GradScaler step for step against
torch.amp.GradScaler("cpu"); the fake cuda device for the "cuda" policy and scaler."""
import sys
import threading
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as EF
from ember.amp import _policy
from ember.amp.grad_scaler import OptState
from ember.backend import fake_cuda as fake_module
from conftest import _install


@pytest.fixture(autouse=True)
def _autocast_off_after():
    yield
    assert not _policy.on and not ember.is_autocast_enabled("cpu")  # every region restored


def _rand(lib, rs, shape, half):
    t = lib.tensor(rs.random(shape).astype(np.float32) + 0.5)
    return t.half() if half else t


# op name -> fn(lib, F, m) where m(*shape) makes an input (float32, or float16 as asked)
OPS = {
    "matmul": lambda L, F, m: L.matmul(m(3, 4), m(4, 5)),
    "mm": lambda L, F, m: L.mm(m(3, 4), m(4, 5)),
    "bmm": lambda L, F, m: L.bmm(m(2, 3, 4), m(2, 4, 5)),
    "addmm": lambda L, F, m: L.addmm(m(3, 5), m(3, 4), m(4, 5)),
    "addbmm": lambda L, F, m: L.addbmm(m(3, 5), m(2, 3, 4), m(2, 4, 5)),
    "baddbmm": lambda L, F, m: L.baddbmm(m(2, 3, 5), m(2, 3, 4), m(2, 4, 5)),
    "addmv": lambda L, F, m: L.addmv(m(3), m(3, 4), m(4)),
    "addr": lambda L, F, m: L.addr(m(3, 4), m(3), m(4)),
    "mv": lambda L, F, m: L.mv(m(3, 4), m(4)),
    "dot": lambda L, F, m: L.dot(m(4), m(4)),
    "einsum": lambda L, F, m: L.einsum("ij,jk->ik", m(3, 4), m(4, 5)),
    "tensordot": lambda L, F, m: L.tensordot(m(3, 4), m(4, 5), dims=1),
    "@": lambda L, F, m: m(3, 4) @ m(4, 5),
    "linear": lambda L, F, m: F.linear(m(3, 4), m(5, 4), m(5)),
    "bilinear": lambda L, F, m: F.bilinear(m(3, 4), m(3, 2), m(5, 4, 2), m(5)),
    "conv1d": lambda L, F, m: F.conv1d(m(1, 2, 8), m(3, 2, 3)),
    "conv2d": lambda L, F, m: F.conv2d(m(1, 2, 6, 6), m(3, 2, 3, 3), m(3)),
    "conv3d": lambda L, F, m: F.conv3d(m(1, 2, 4, 4, 4), m(3, 2, 2, 2, 2)),
    "conv_transpose1d": lambda L, F, m: F.conv_transpose1d(m(1, 2, 8), m(2, 3, 3)),
    "conv_transpose2d": lambda L, F, m: F.conv_transpose2d(m(1, 2, 5, 5), m(2, 3, 3, 3)),
    "conv_transpose3d": lambda L, F, m: F.conv_transpose3d(m(1, 2, 3, 3, 3), m(2, 3, 2, 2, 2)),
    "prelu": lambda L, F, m: F.prelu(m(2, 3), m(1)),
    "sdpa": lambda L, F, m: F.scaled_dot_product_attention(m(1, 2, 3, 4), m(1, 2, 3, 4),
                                                           m(1, 2, 3, 4)),
    "exp": lambda L, F, m: L.exp(m(3)),
    "log": lambda L, F, m: m(3).log(),
    "pow": lambda L, F, m: m(3) ** 2,
    "sum": lambda L, F, m: L.sum(m(3)),
    "prod": lambda L, F, m: L.prod(m(3)),
    "cumsum": lambda L, F, m: L.cumsum(m(3), 0),
    "softmax": lambda L, F, m: L.softmax(m(3), 0),
    "log_softmax": lambda L, F, m: F.log_softmax(m(2, 3), 1),
    "layer_norm": lambda L, F, m: F.layer_norm(m(2, 3), (3,), m(3), m(3)),
    "group_norm": lambda L, F, m: F.group_norm(m(2, 4, 3), 2),
    "batch_norm": lambda L, F, m: F.batch_norm(m(2, 3), None, None, m(3), m(3), training=True),
    "cdist": lambda L, F, m: L.cdist(m(3, 4), m(2, 4)),
    "trace": lambda L, F, m: L.trace(m(3, 3)),
    "quantile": lambda L, F, m: L.quantile(m(5), 0.5),
    "mse_loss": lambda L, F, m: F.mse_loss(m(3), m(3)),
    "l1_loss": lambda L, F, m: F.l1_loss(m(3), m(3)),
    "huber_loss": lambda L, F, m: F.huber_loss(m(3), m(3)),
    "cross_entropy": lambda L, F, m: F.cross_entropy(m(2, 3), L.tensor([0, 2])),
    "nll_loss": lambda L, F, m: F.nll_loss(m(2, 3), L.tensor([0, 2])),
    "kl_div": lambda L, F, m: F.kl_div(m(3), m(3), reduction="batchmean"),
    "bce": lambda L, F, m: F.binary_cross_entropy(m(3) * 0.5, m(3) - 0.5),
    "bce_with_logits": lambda L, F, m: F.binary_cross_entropy_with_logits(m(3), m(3) - 0.5),
    "soft_margin_loss": lambda L, F, m: F.soft_margin_loss(m(3), m(3)),
    "cat": lambda L, F, m: L.cat([m(3), _rand(L, np.random.default_rng(1), (3,), False)]),
    "stack": lambda L, F, m: L.stack([m(3), _rand(L, np.random.default_rng(1), (3,), False)]),
    "index_copy": lambda L, F, m: m(3).index_copy(0, L.tensor([0]), L.ones(1)),
    "addcmul": lambda L, F, m: L.addcmul(m(3), m(3), L.ones(3)),
    "cosine_similarity": lambda L, F, m: F.cosine_similarity(m(2, 3), m(2, 3)),
    "relu": lambda L, F, m: F.relu(m(3)),
    "mean": lambda L, F, m: L.mean(m(3)),
    "gelu": lambda L, F, m: F.gelu(m(3)),
    "max_pool2d": lambda L, F, m: F.max_pool2d(m(1, 1, 4, 4), 2),
    "add": lambda L, F, m: m(3) + L.ones(3),
}


@pytest.mark.parametrize("half", [False, True], ids=["float32-in", "float16-in"])
@pytest.mark.parametrize("name", list(OPS))
def test_cpu_policy_matches_torch(torch, name, half):
    out = {}
    for lib, F in ((torch, torch.nn.functional), (ember, EF)):
        rs = np.random.default_rng(0)
        with lib.autocast("cpu", dtype=lib.float16):
            out[lib] = OPS[name](lib, F, lambda *s: _rand(lib, rs, s, half))
    assert out[ember].dtype.name == str(out[torch].dtype).split(".")[1]
    np.testing.assert_allclose(out[ember].detach().float().numpy(),
                               out[torch].detach().float().numpy(), rtol=1e-2, atol=1e-2)


def test_explicit_dtype_and_float64_are_not_cast(fake_cuda):
    x = ember.rand(3, device="cuda").half()
    d = ember.rand(3, 3, device="cuda", dtype=ember.float64)
    with ember.autocast("cuda"):
        assert ember.sum(x, dtype=ember.float16).dtype == ember.float16
        assert ember.softmax(x, 0, dtype=ember.float64).dtype == ember.float64
        assert ember.mm(d, d).dtype == ember.float64  # float64 is not eligible
        assert ember.exp(ember.arange(3, device="cuda")).dtype == ember.float32  # int -> float
        assert ember.mm(ember.rand(2, 2), ember.rand(2, 2)).dtype == ember.float32  # cpu op


@pytest.mark.parametrize("name, expected", [
    ("matmul", "float16"), ("linear", "float16"), ("conv2d", "float16"), ("addmv", "float16"),
    ("einsum", "float16"), ("sdpa", "float16"), ("exp", "float32"), ("pow", "float32"),
    ("sum", "float32"), ("softmax", "float32"), ("log_softmax", "float32"),
    ("layer_norm", "float32"), ("mse_loss", "float32"), ("cosine_similarity", "float32"),
    ("relu", "float16"), ("mean", "float16"), ("trace", "float16"), ("cdist", "float32"),
])
def test_cuda_policy_follows_torch_cuda_lists(fake_cuda, name, expected):
    rs = np.random.default_rng(0)
    with ember.autocast("cuda"):
        out = OPS[name](ember, EF, lambda *s: _rand(ember, rs, s, True).cuda())
    assert out.dtype.name == expected and out.is_cuda


def test_cuda_promote_and_float32_losses(fake_cuda):
    half = ember.rand(3, device="cuda").half()
    single = ember.rand(3, device="cuda")
    with ember.autocast("cuda"):
        assert ember.addcmul(half, half, half).dtype == ember.float16  # widest input
        assert ember.addcmul(half, half, single).dtype == ember.float32
        assert ember.cat([half, half]).dtype == ember.float16  # not listed on cuda
        logits = ember.rand(2, 3, device="cuda").half()
        target = ember.tensor([0, 2], device="cuda")
        assert EF.cross_entropy(logits, target).dtype == ember.float32
        assert EF.nll_loss(logits, target).dtype == ember.float32



def test_cuda_lower_precision_casts_on_the_device(fake_cuda):
    lin = ember.nn.Linear(4, 3).cuda()
    x = ember.randn(2, 4, device="cuda")
    with ember.autocast("cuda"):
        assert ember.get_autocast_dtype("cuda") == ember.float16
        y = lin(x)
        loss = EF.cross_entropy(y, ember.tensor([0, 2], device="cuda"))
    assert y.dtype == ember.float16 and y.is_cuda and type(y._data) is fake_module.FakeCudaArray
    assert loss.dtype == ember.float32
    loss.backward()
    assert lin.weight.grad.dtype == ember.float32 and lin.weight.grad.is_cuda


def test_binary_cross_entropy_is_banned_on_cuda(fake_cuda):
    p = ember.rand(3, device="cuda")
    with ember.autocast("cuda"), pytest.raises(RuntimeError, match="unsafe to autocast"):
        EF.binary_cross_entropy(p, p)


def test_gradients_reach_float32_parameters_as_float32(torch):
    rs = np.random.default_rng(0)
    w, b = rs.standard_normal((3, 4)).astype(np.float32), rs.standard_normal(3).astype(np.float32)
    x, y = rs.standard_normal((5, 4)).astype(np.float32), rs.integers(0, 3, 5)
    grads = {}
    for lib, F in ((torch, torch.nn.functional), (ember, EF)):
        weight = lib.tensor(w, requires_grad=True)
        bias = lib.tensor(b, requires_grad=True)
        with lib.autocast("cpu", dtype=lib.float16):
            loss = F.cross_entropy(lib.relu(F.linear(lib.tensor(x), weight, bias)) @ weight,
                                   lib.tensor(y))
        loss.backward()
        assert str(weight.grad.dtype).endswith("float32") and str(bias.grad.dtype).endswith(
            "float32")
        grads[lib] = (weight.grad.numpy(), bias.grad.numpy())
    for a, b_ in zip(grads[ember], grads[torch]):
        np.testing.assert_allclose(a, b_, rtol=1e-2, atol=2e-3)


def test_weight_casts_are_cached_within_a_region():
    lin = ember.nn.Linear(4, 4)
    x = ember.randn(2, 4)
    with ember.autocast("cpu", dtype=ember.float16):
        first = _policy._cast(lin.weight, ember.float16, "cpu", _policy.local)
        assert _policy._cast(lin.weight, ember.float16, "cpu", _policy.local) is first
        lin(lin(x)).float().sum().backward()  # frees the cast's node: a new one is made
        assert _policy._cast(lin.weight, ember.float16, "cpu", _policy.local) is not first
        with ember.no_grad():
            lin.weight.add_(1.0)  # a changed weight is cast again
            assert _policy._cast(lin.weight, ember.float16, "cpu", _policy.local).grad_fn is None
        with ember.autocast("cpu", dtype=ember.float16, cache_enabled=False):
            assert not ember.is_autocast_cache_enabled()
        assert ember.is_autocast_cache_enabled() and _policy.local.cache
    assert not _policy.local.cache  # cleared when the outermost region exits


# -- state ----------------------------------------------------------------------------------------
def test_nesting_enabled_false_and_restore():
    x = ember.rand(2, 2)
    assert not ember.is_autocast_enabled("cpu") and not ember.is_autocast_enabled()
    with ember.autocast("cpu", dtype=ember.float16) as ac:
        assert isinstance(ac, ember.autocast) and ember.is_autocast_enabled("cpu")
        assert ember.get_autocast_dtype("cpu") == ember.float16
        with ember.autocast("cpu", enabled=False):
            assert not ember.is_autocast_enabled("cpu") and (x @ x).dtype == ember.float32
        assert (x @ x).dtype == ember.float16
        with pytest.raises(KeyError):
            with ember.amp.autocast("cpu", dtype=ember.float16):
                raise KeyError("restored on the way out")
        assert ember.is_autocast_enabled("cpu")
    assert ember.get_autocast_dtype("cpu") is ember.bfloat16 and (x @ x).dtype == ember.float32


def test_decorator():
    @ember.autocast("cpu", dtype=ember.float16)
    def forward(a, depth=0):
        inner = forward(a, depth - 1) if depth else None
        return a @ a, ember.is_autocast_enabled("cpu"), inner

    out, enabled, inner = forward(ember.rand(2, 2), depth=1)
    assert out.dtype == ember.float16 and enabled and inner[1]
    assert not ember.is_autocast_enabled("cpu")
    assert forward.__name__ == "forward"
    with pytest.raises(TypeError, match="requires a callable"):
        ember.autocast("cpu", dtype=ember.float16)(3)


def test_set_autocast_enabled_and_dtype():
    ember.set_autocast_dtype("cpu", ember.float16)
    try:
        ember.set_autocast_enabled("cpu", True)
        assert ember.is_autocast_enabled("cpu") and _policy.on
        assert (ember.rand(2, 2) @ ember.rand(2, 2)).dtype == ember.float16
    finally:
        ember.set_autocast_enabled("cpu", False)
        ember.set_autocast_dtype("cpu", ember.bfloat16)
    assert ember.autocast_increment_nesting() == 1 and ember.autocast_decrement_nesting() == 0


def test_autocast_is_thread_local():
    seen = {}

    def other():
        x = ember.rand(2, 2)
        seen["enabled"] = ember.is_autocast_enabled("cpu")
        seen["dtype"] = (x @ x).dtype
        with ember.autocast("cpu", dtype=ember.float16):
            seen["inner"] = (x @ x).dtype

    with ember.autocast("cpu", dtype=ember.float16):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert ember.is_autocast_enabled("cpu")
    assert seen == {"enabled": False, "dtype": ember.float32, "inner": ember.float16}


def test_argument_errors_and_unsupported_dtypes():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        ember.autocast(ember.device("cpu"))
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'mps'"):
        ember.autocast("mps")
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        ember.is_autocast_enabled("foo")
    assert ember.amp.is_autocast_available("cpu") and not ember.amp.is_autocast_available("mps")
    for dtype in (None, ember.bfloat16, ember.float32):  # cpu default: bfloat16
        with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not "
                                             "supported. Disabling autocast."):
            ac = ember.autocast("cpu", dtype=dtype)
        with ac:
            assert not ember.is_autocast_enabled("cpu")


def test_cuda_autocast_without_a_gpu_warns_and_disables(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    gen = _install(monkeypatch, "", load=False)
    next(gen)
    try:
        with pytest.warns(UserWarning, match="CUDA is not available"):
            ac = ember.autocast("cuda")
        with ac:
            assert not ember.is_autocast_enabled("cuda")
        with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
            scaler = ember.amp.GradScaler()
        assert not scaler.is_enabled() and scaler.get_scale() == 1.0
    finally:
        gen.close()


def test_cuda_bfloat16_is_an_error(fake_cuda):
    ember.set_autocast_dtype("cuda", ember.bfloat16)  # ember.bfloat16 exists as a name only
    try:
        with pytest.raises(RuntimeError, match="does not support bfloat16"):
            ember.autocast("cuda")
    finally:
        ember.set_autocast_dtype("cuda", ember.float16)



def test_deprecated_cuda_amp_aliases(fake_cuda):
    from ember.cuda.amp import GradScaler, autocast
    with pytest.warns(FutureWarning, match=r"ember.amp.autocast\('cuda', args...\)"):
        ac = autocast()
    with ac:
        assert ember.is_autocast_enabled("cuda") and ember.get_autocast_dtype("cuda") is \
            ember.float16
    with pytest.warns(FutureWarning, match="GradScaler"):
        scaler = GradScaler(init_scale=8.0)
    assert isinstance(scaler, ember.amp.GradScaler) and scaler.get_scale() == 8.0
    assert ember.cuda.amp.autocast is autocast


def test_custom_fwd_and_bwd():
    seen = {}

    class Square(ember.autograd.Function):
        @staticmethod
        @ember.amp.custom_fwd(device_type="cpu", cast_inputs=ember.float32)
        def forward(ctx, x):
            seen["fwd"] = (x.dtype, ember.is_autocast_enabled("cpu"))
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @ember.amp.custom_bwd(device_type="cpu")
        def backward(ctx, grad):
            seen["bwd"] = ember.is_autocast_enabled("cpu")
            x, = ctx.saved_tensors
            return 2 * x * grad

    x = ember.rand(3, dtype=ember.float16, requires_grad=True)
    with ember.autocast("cpu", dtype=ember.float16):
        y = Square.apply(x)
    y.sum().backward()
    assert seen == {"fwd": (ember.float32, False), "bwd": False}
    assert y.dtype == ember.float32 and x.grad.dtype == ember.float16
    with pytest.raises(ValueError, match="device_type"):
        ember.amp.custom_fwd(device_type=3)


# -- GradScaler -----------------------------------------------------------------------------------
def _train(lib, F, steps=9, bad=(2, 5), unscale_at=(3,), **scaler_kwargs):
    rs = np.random.default_rng(0)
    lin = lib.nn.Linear(4, 3)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(rs.standard_normal((3, 4)).astype(np.float32)))
        lin.bias.copy_(lib.tensor(rs.standard_normal(3).astype(np.float32)))
    x = lib.tensor(rs.standard_normal((8, 4)).astype(np.float32))
    y = lib.tensor(rs.integers(0, 3, 8))
    opt = lib.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", **scaler_kwargs)
    trajectory = []
    for step in range(steps):
        opt.zero_grad()
        with lib.autocast("cpu", dtype=lib.float16):
            loss = F.cross_entropy(lin(x), y)
        scaler.scale(loss).backward()
        if step in bad:  # an overflowed gradient: the step is skipped and the scale backs off
            lin.weight.grad[0, 0] = float("inf") if step % 2 else float("nan")
        if step in unscale_at:
            scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        trajectory.append((scaler.get_scale(), scaler._get_growth_tracker()))
    return trajectory, lin.weight.detach().numpy(), scaler.state_dict()


def test_grad_scaler_matches_torch_step_for_step(torch):
    kwargs = dict(init_scale=2.0 ** 4, growth_interval=2, growth_factor=3.0, backoff_factor=0.25)
    t_traj, t_weight, t_state = _train(torch, torch.nn.functional, **kwargs)
    e_traj, e_weight, e_state = _train(ember, EF, **kwargs)
    assert e_traj == t_traj
    assert e_state == t_state and list(e_state) == list(t_state)
    np.testing.assert_allclose(e_weight, t_weight, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("scale, tracker, found, interval", [
    (16.0, 0, 0.0, 2), (16.0, 1, 0.0, 2), (16.0, 1, 1.0, 2), (3e38, 0, 0.0, 1),
    (0.1, 4, 2.0, 5), (1.0, 0, 0.0, 1)])
def test_update_scale_matches_torch_kernel(torch, scale, tracker, found, interval):
    from ember.amp.grad_scaler import _update_scale_
    t = [torch.tensor(scale), torch.tensor(tracker, dtype=torch.int32), torch.tensor(found)]
    e = [ember.tensor(scale), ember.tensor(tracker, dtype=ember.int32), ember.tensor(found)]
    torch._amp_update_scale_(*t, 3.0, 0.3, interval)
    with np.errstate(over="ignore"):
        _update_scale_(*e, 3.0, 0.3, interval)
    assert e[0].item() == t[0].item() and e[1].item() == t[1].item()
    assert e[0].dtype == ember.float32 and e[1].dtype == ember.int32


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("bad", [None, float("inf"), float("nan")])
def test_unscale_kernel_matches_torch(torch, dtype, bad):
    from ember.amp.grad_scaler import _non_finite_check_and_unscale_
    values = np.array([3.0, -1e-3, 7e4 if dtype == "float32" else 6e4], np.float32)
    if bad is not None:
        values[1] = bad
    tg = torch.tensor(values).to(getattr(torch, dtype))
    eg = ember.tensor(values).to(getattr(ember, dtype))
    t_found, e_found = torch.zeros(()), ember.zeros(())
    inv = 1.0 / 3.0
    torch._amp_foreach_non_finite_check_and_unscale_([tg], t_found, torch.tensor(inv))
    _non_finite_check_and_unscale_(eg, e_found, ember.tensor(inv))
    assert e_found.item() == t_found.item() == (0.0 if bad is None else 1.0)
    np.testing.assert_array_equal(eg.float().numpy(), tg.float().numpy())



def _scaled_setup(scale=4.0):
    w = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    opt = ember.optim.SGD([w], lr=1.0)
    scaler = ember.amp.GradScaler("cpu", init_scale=scale)
    scaler.scale((w * ember.tensor([3.0, 5.0])).sum()).backward()
    return w, opt, scaler


def test_unscale_divides_once_and_guards_the_order():
    w, opt, scaler = _scaled_setup()
    assert w.grad.tolist() == [12.0, 20.0]
    scaler.unscale_(opt)
    assert w.grad.tolist() == [3.0, 5.0]
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this "
                                           r"optimizer since the last update\(\)"):
        scaler.unscale_(opt)
    assert scaler._per_optimizer_states[id(opt)]["stage"] is OptState.UNSCALED
    assert scaler.step(opt) is None and w.tolist() == [-2.0, -3.0]  # not unscaled twice
    with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last "
                                           r"update\(\)"):
        scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 4.0 and scaler._get_growth_tracker() == 1


def test_step_errors_and_return_value():
    w, opt, scaler = _scaled_setup()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0)

    class Returns(ember.optim.SGD):
        def step(self, closure=None):
            super().step()
            return "stepped"

    returns = Returns([w], lr=1.0)  # kept alive: the scaler keys its state by id(optimizer)
    assert scaler.step(returns) == "stepped"
    empty = ember.optim.SGD([ember.nn.Parameter(ember.ones(1))], lr=1.0)

    with pytest.raises(AssertionError, match="No inf checks were recorded for this optimizer"):
        scaler.step(empty)
    fresh = ember.amp.GradScaler("cpu")
    with pytest.raises(AssertionError, match="did not use scaler.scale"):
        fresh.step(opt)
    half = ember.nn.Parameter(ember.ones(1, dtype=ember.float16))
    half.grad = ember.ones(1, dtype=ember.float16)
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.unscale_(ember.optim.SGD([half], lr=1.0))
    with pytest.raises(AssertionError, match="growth factor must be > 1.0"):
        ember.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match="backoff factor must be < 1.0"):
        ember.amp.GradScaler("cpu", backoff_factor=1.0)


def test_update_with_new_scale_and_without_inf_checks():
    w, opt, scaler = _scaled_setup()
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        scaler.update()
    scaler.update(2.0)
    assert scaler.get_scale() == 2.0
    scaler.update(ember.tensor([8.0]))
    assert scaler.get_scale() == 8.0
    with pytest.raises(AssertionError, match="new_scale should be a float"):
        scaler.update(ember.tensor([1.0, 2.0]))


def test_scale_nested_outputs_and_disabled_scaler():
    scaler = ember.amp.GradScaler("cpu", init_scale=2.0)
    a, b = ember.ones(2), ember.ones(1, dtype=ember.float16)
    out = scaler.scale([a, (b, [a])])
    assert out[0].tolist() == [2.0, 2.0] and isinstance(out[1], tuple)
    assert out[1][0].dtype == ember.float16 and out[1][1][0].tolist() == [2.0, 2.0]
    assert [t.tolist() for t in scaler.scale(t for t in (a,))] == [[2.0, 2.0]]
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable"):
        scaler.scale([3])
    off = ember.amp.GradScaler("cpu", enabled=False)
    assert off.scale(a) is a and off.state_dict() == {} and not off.is_enabled()
    w = ember.nn.Parameter(ember.ones(1))
    w.grad = ember.ones(1)
    off.unscale_(ember.optim.SGD([w], lr=1.0))
    assert off.step(ember.optim.SGD([w], lr=1.0)) is None and w.tolist() == [0.0]
    off.update()
    off.load_state_dict({})


def test_state_dict_round_trip_with_torch_keys(torch):
    scaler = ember.amp.GradScaler("cpu", init_scale=16.0, growth_interval=3)
    w, opt, _ = _scaled_setup()
    scaler.scale(w.sum()).backward()
    scaler.step(opt)
    scaler.update()
    state = scaler.state_dict()
    assert list(state) == list(torch.amp.GradScaler("cpu").state_dict())
    assert state == {"scale": 16.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                     "growth_interval": 3, "_growth_tracker": 1}
    other = ember.amp.GradScaler("cpu")
    other.load_state_dict(state)
    assert other.state_dict() == state
    reference = torch.amp.GradScaler("cpu")
    reference.load_state_dict(state)
    assert reference.state_dict() == state
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        other.load_state_dict({})
    other.set_growth_factor(4.0)
    other.set_backoff_factor(0.125)
    other.set_growth_interval(7)
    assert (other.get_growth_factor(), other.get_backoff_factor(),
            other.get_growth_interval()) == (4.0, 0.125, 7)


def test_grad_scaler_on_cuda_syncs_only_in_step(fake_cuda):
    lin = ember.nn.Linear(4, 3).cuda()
    opt = ember.optim.SGD(lin.parameters(), lr=0.1)
    scaler = ember.amp.GradScaler("cuda", init_scale=2.0 ** 10, growth_interval=1)
    x, y = ember.randn(5, 4, device="cuda"), ember.tensor([0, 1, 2, 0, 1], device="cuda")
    with fake_module.forbid_host_sync():
        with ember.autocast("cuda"):
            loss = EF.cross_entropy(lin(x), y)
        scaled = scaler.scale(loss)

        scaled.backward()
        scaler.unscale_(opt)
    assert scaled.is_cuda and scaler._scale.is_cuda
    before = lin.weight.detach().clone()
    scaler.step(opt)
    with fake_module.forbid_host_sync():
        scaler.update()
    assert scaler.get_scale() == 2.0 ** 11
    assert not np.array_equal(lin.weight.detach().cpu().numpy(), before.cpu().numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.amp.GradScaler("cuda")  # a (fake) GPU is there: no warning
