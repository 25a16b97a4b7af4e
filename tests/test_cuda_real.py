"""ember on a real NVIDIA GPU through CuPy: ops, layers, optimizers and memory on cuda vs cpu.

Marked ``cuda``; skipped cleanly without CuPy or a visible GPU (and under EMBER_FAKE_CUDA,
which replaces the GPU by the fake). Run with ``pytest -m cuda`` or scripts/gpu_check.sh.
The CPU results are the reference (they are checked against PyTorch elsewhere); GPU float32
math may differ in the last bits (other reduction orders, fused multiply-adds), hence the
tolerances.
"""
from __future__ import annotations

import io
import os

import numpy as np
import pytest

import ember
from ember import backend

pytestmark = pytest.mark.cuda

if os.environ.get("EMBER_FAKE_CUDA", "").strip() not in ("", "0"):
    pytest.skip("EMBER_FAKE_CUDA is set: these tests need the real GPU", allow_module_level=True)
cupy = pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x)")
try:
    _GPUS = cupy.cuda.runtime.getDeviceCount()
except Exception:  # noqa: BLE001 - any driver failure means: no usable GPU
    _GPUS = 0
if _GPUS == 0:
    pytest.skip("CuPy found no CUDA GPU", allow_module_level=True)

from test_cuda_fake import (KNOWN_CORE_ISSUES, OPTIMIZERS, UNARY, _adam_configs,  # noqa: E402
                            _run_steps, _sgd_configs, _tiny_module, _train, _unary_input,
                            check_op_on_device, op_db)

from ember.backend import philox  # noqa: E402
from ember.optim import _fused  # noqa: E402

CUDA = ember.device("cuda", 0)
CPU = ember.device("cpu")


@pytest.fixture(autouse=True)
def _real_backend():
    """The real CuPy backend, even if a fake one was loaded earlier in the session."""
    if backend._cuda is not None and getattr(backend._cuda, "is_fake", False):
        backend._by_array_type.pop(backend._cuda.array_type, None)
        backend._cuda = None
    be = backend.cuda()
    assert not be.is_fake
    yield be


def _on_gpu(t, index=0):
    assert isinstance(t._data, cupy.ndarray), type(t._data)
    assert t.device == ember.device("cuda", index) and t._data.device.id == index


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=rtol,
                               atol=atol)


# -- plumbing -----------------------------------------------------------------------------------
def test_backend_and_api(_real_backend):
    assert ember.cuda.is_available() and ember.cuda.device_count() == _GPUS
    assert ember.cuda.current_device() == 0
    name = ember.cuda.get_device_name()
    assert isinstance(name, str) and name
    ember.cuda.synchronize()
    ember.cuda.manual_seed(0)
    ember.cuda.manual_seed_all(0)
    with ember.cuda.device(0):
        assert ember.cuda.current_device() == 0


def test_moves_round_trip():
    for dtype in (ember.float32, ember.float64, ember.float16, ember.int64, ember.int32,
                  ember.uint8, ember.bool):
        x = (ember.arange(24).reshape(2, 3, 4) % 5).to(dtype)
        y = x.cuda()
        _on_gpu(y)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.cpu().numpy(), x.numpy())
    t = ember.arange(12.0).reshape(3, 4).t()
    np.testing.assert_array_equal(t.cuda().cpu().numpy(), t.numpy())
    with pytest.raises(TypeError):
        ember.ones(2, device="cuda").numpy()


def test_creation_with_device():
    for t in (ember.zeros(2, 3, device="cuda"), ember.ones(2, device=CUDA),
              ember.randn(4, device="cuda:0"), ember.arange(5, device="cuda"),
              ember.tensor([1.0, 2.0], device="cuda"), ember.full((2,), 3, device="cuda"),
              ember.eye(3, device="cuda"), ember.randint(0, 5, (3,), device="cuda")):
        _on_gpu(t)
    ember.manual_seed(3)
    a = ember.randn(6, device="cuda")
    ember.manual_seed(3)
    np.testing.assert_array_equal(a.cpu().numpy(), ember.randn(6, device="cuda").cpu().numpy())
    np.testing.assert_allclose(a.cpu().numpy(), philox.draw("normal", (6,), np.float32, 3, 0),
                               rtol=1e-5, atol=1e-6)


def test_creation_makes_no_host_copies(_real_backend, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("host-to-device copy")

    monkeypatch.setattr(_real_backend, "from_numpy", refuse)
    for t in (ember.zeros(2, 3, device="cuda"), ember.ones(4, dtype=ember.int64, device="cuda"),
              ember.full((2,), 7.0, device="cuda"), ember.arange(0.0, 1.0, 0.25, device="cuda"),
              ember.eye(3, device="cuda"), ember.linspace(0, 1, 5, device="cuda"),
              ember.rand(3, device="cuda"), ember.randn(3, device="cuda"),
              ember.randint(0, 9, (4,), device="cuda"), ember.randperm(7, device="cuda"),
              ember.empty(3, device="cuda").normal_().bernoulli_(0.5)):
        _on_gpu(t)


# -- random numbers on the GPU: the Philox kernels against their NumPy reference ---------------
@pytest.mark.parametrize("kind, dtype", sorted(philox.KINDS, key=str))
def test_philox_kernels_match_the_reference(_real_backend, kind, dtype):
    seed, offset, shape = 0xDEADBEEF12345678, 2**32 - 3, (65, 129)
    out = _real_backend.random_philox(kind, shape, dtype, seed, offset, 0)
    assert isinstance(out, cupy.ndarray) and out.dtype == dtype and out.shape == shape
    want = philox.draw(kind, shape, dtype, seed, offset)
    if kind == "normal":  # the GPU's log and cos may differ from NumPy's in the last bits
        np.testing.assert_allclose(cupy.asnumpy(out), want, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(cupy.asnumpy(out), want)


def test_device_rng_is_reproducible_and_stays_on_the_device(_real_backend, monkeypatch):
    ember.manual_seed(0)
    cpu_ref = ember.rand(5)
    ember.manual_seed(0)
    a = ember.rand(1000, device="cuda")
    np.testing.assert_array_equal(ember.rand(5).numpy(), cpu_ref.numpy())
    monkeypatch.setattr(_real_backend, "from_numpy", lambda *a, **k: pytest.fail("upload"))
    ember.manual_seed(0)
    b = ember.rand(1000, device="cuda")
    assert bool((a._data == b._data).all())
    state = ember.cuda.get_rng_state()
    d = ember.nn.functional.dropout(ember.ones(256, 256, device="cuda"), 0.5)
    ember.cuda.set_rng_state(state)
    _on_gpu(d)
    assert bool((d._data == ember.nn.functional.dropout(ember.ones(256, 256, device="cuda"),
                                                          0.5)._data).all())


def test_mixed_devices_raise():
    a, b = ember.ones(2), ember.ones(2, device="cuda")
    for fn in (lambda: a + b, lambda: b * a, lambda: ember.cat([a, b]),
               lambda: a.reshape(2, 1) @ b.reshape(1, 2)):
        with pytest.raises(RuntimeError, match="cpu"):
            fn()


@pytest.mark.parametrize("name", sorted(UNARY))
def test_ops_forward_backward_match_cpu(name):
    fn = UNARY[name]
    xd, xc = _unary_input("cuda"), _unary_input("cpu")
    yd, yc = fn(xd), fn(xc)
    _on_gpu(yd)
    assert yd.dtype == yc.dtype
    _close(yd, yc)
    yd.sum().backward()
    yc.sum().backward()
    _on_gpu(xd.grad)
    _close(xd.grad, xc.grad)


def _registry_cases():
    return [pytest.param(info, dtype, id=f"{info.name}-{dtype}", marks=[pytest.mark.xfail(
                reason=KNOWN_CORE_ISSUES[info.name], strict=False)]
                if info.name in KNOWN_CORE_ISSUES else [])
            for info in op_db for dtype in info.dtypes]


@pytest.mark.skipif(not op_db, reason="tests/op_db.py is not importable")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("info, dtype", _registry_cases())
def test_op_registry_on_gpu(info, dtype):
    check_op_on_device(info, dtype, "cuda", cupy.ndarray,
                       atol=max(info.grad_atol, 1e-5), rtol=max(info.grad_rtol, 1e-5))


# -- layers and training -------------------------------------------------------------------------
def _cnn():
    nn = ember.nn
    for name in ("Conv2d", "BatchNorm2d", "MaxPool2d", "Linear", "Flatten", "CrossEntropyLoss"):
        if not hasattr(nn, name):
            pytest.skip(f"ember.nn.{name} not available yet")
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),  # 4x8x8
        nn.Conv2d(4, 8, 3), nn.ReLU(), nn.MaxPool2d(2),                                # 8x3x3
        nn.Flatten(), nn.Linear(72, 10))


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_small_cnn_training_steps_match_cpu(opt_name):
    ember.manual_seed(0)
    cpu_model = _cnn()
    gpu_model = _cnn()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.cuda()
    loss_fn = ember.nn.CrossEntropyLoss()
    x = ember.randn(16, 1, 16, 16)
    y = ember.randint(0, 10, (16,))
    opts = [getattr(ember.optim, opt_name)(m.parameters(), lr=0.01) for m in (cpu_model,
                                                                             gpu_model)]
    for _ in range(3):
        losses = []
        for model, opt, dev in ((cpu_model, opts[0], "cpu"), (gpu_model, opts[1], "cuda")):
            opt.zero_grad()
            loss = loss_fn(model(x.to(dev)), y.to(dev))
            loss.backward()
            opt.step()
            losses.append(loss)
        _on_gpu(losses[1])
        _close(losses[1], losses[0], rtol=1e-4, atol=1e-5)
    for (name, pc), pg in zip(cpu_model.named_parameters(), gpu_model.parameters()):
        _on_gpu(pg)
        _close(pg, pc, rtol=1e-3, atol=1e-5)
    for key, buf in gpu_model.state_dict().items():
        assert buf.device == CUDA, key


def test_training_step_makes_no_host_copies(_real_backend, monkeypatch):
    """Ops must not pull device data to the host inside a step (a hidden synchronisation)."""
    model = _cnn().cuda()
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    x = ember.randn(8, 1, 16, 16, device="cuda")
    y = ember.randint(0, 10, (8,), device="cuda")
    step = lambda: (opt.zero_grad(), ember.nn.functional.cross_entropy(model(x), y).backward(),
                    opt.step())
    step()  # first step creates the state

    def refuse(array):
        raise AssertionError("device-to-host copy inside a training step")

    monkeypatch.setattr(_real_backend, "to_numpy", refuse)
    step()


def test_fused_path_is_taken_for_float_gpu_parameters():
    for dtype, fused in ((ember.float32, True), (ember.float64, True), (ember.float16, False)):
        p = ember.ones(3, dtype=dtype, device="cuda", requires_grad=True)
        p.grad = ember.ones(3, dtype=dtype, device="cuda")
        assert _fused.applies(p) is fused
    p.grad = ember.ones(3, device="cuda")  # a float32 gradient for a float16 parameter
    assert not _fused.applies(p)
    q = ember.ones(3, requires_grad=True)
    q.grad = ember.ones(3)
    assert not _fused.applies(q)


def _fused_cases():
    # every configuration in float32; a sample in float64 (each one is a kernel to compile)
    configs = _sgd_configs() + _adam_configs()
    return [pytest.param(c, np.float32, id=f"float32-{c!r}") for c in configs] + \
        [pytest.param(c, np.float64, id=f"float64-{c!r}") for c in configs[::5]]


@pytest.mark.parametrize("config, dtype", _fused_cases())
def test_fused_optimizer_kernels_match_the_numpy_path(monkeypatch, config, dtype):
    """The fused kernels (compiled without FMA) give the CPU optimizers' numbers bit for bit."""
    launched = []
    real_launch = _fused.launch

    def spy(update, arrays, scalars):
        launched.append(update.name)
        return real_launch(update, arrays, scalars)

    monkeypatch.setattr(_fused, "launch", spy)
    config = dict(config)
    opt_cls = getattr(ember.optim, config.pop("cls", "SGD"))
    cpu, cpu_opt = _run_steps(opt_cls, config, dtype, False, monkeypatch)
    assert not launched
    gpu, gpu_opt = _run_steps(opt_cls, config, dtype, True, monkeypatch, device="cuda")
    assert launched and _fused._kernels, "the fused kernels did not run"
    for a, b in zip(gpu, cpu):
        _on_gpu(a)
        np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().numpy())
        for key, value in cpu_opt.state[b].items():
            np.testing.assert_array_equal(gpu_opt.state[a][key].cpu().numpy(), value.numpy(),
                                          err_msg=key)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_on_gpu_match_cpu(name):
    opt_cls = getattr(ember.optim, name, None)
    if opt_cls is None:
        pytest.skip(f"ember.optim.{name} not available yet")
    cpu_model, gpu_model = _tiny_module(), _tiny_module().cuda()
    _train(cpu_model, opt_cls, "cpu", **OPTIMIZERS[name])
    opt = _train(gpu_model, opt_cls, "cuda", **OPTIMIZERS[name])
    _on_gpu(gpu_model.weight)
    _close(gpu_model.weight, cpu_model.weight, rtol=1e-5, atol=1e-6)
    for key, value in opt.state[gpu_model.weight].items():
        if isinstance(value, ember.Tensor) and value.dim() > 0:
            _on_gpu(value)


def test_save_load_map_location(tmp_path):
    t = ember.arange(6.0, device="cuda")
    path = tmp_path / "t.safetensors"
    ember.save({"t": t}, path)
    assert ember.load(path)["t"].device == CPU
    _on_gpu(ember.load(path, map_location="cuda")["t"])
    buf = io.BytesIO()
    ember.save({"t": ember.ones(2)}, buf)
    buf.seek(0)
    _on_gpu(ember.load(buf, map_location=CUDA)["t"])


def test_pinned_memory_and_non_blocking_copy():
    host = np.arange(1 << 16, dtype=np.float32)
    pinned = backend.pin_memory(host)
    assert backend.is_pinned(pinned) and not backend.is_pinned(host)
    t = ember.from_numpy(pinned).cuda(non_blocking=True)
    ember.cuda.synchronize()
    np.testing.assert_array_equal(t.cpu().numpy(), host)


# -- memory and timing -------------------------------------------------------------------------
def test_memory_stats():
    cuda = ember.cuda
    cuda.synchronize()
    cuda.reset_peak_memory_stats()
    base = cuda.memory_allocated()
    big = ember.zeros(16 << 20, device="cuda")  # 64 MiB
    assert cuda.memory_allocated() >= base + (64 << 20)
    assert cuda.memory_reserved() >= cuda.memory_allocated()
    del big
    assert cuda.memory_allocated() < base + (64 << 20)
    assert cuda.max_memory_allocated() >= base + (64 << 20)
    cuda.reset_peak_memory_stats()
    assert cuda.max_memory_allocated() < base + (64 << 20)
    reserved = cuda.memory_reserved()
    cuda.empty_cache()
    assert cuda.memory_allocated() <= cuda.memory_reserved() <= reserved


def test_event_timing():
    a = ember.randn(1024, 1024, device="cuda")
    start, end = ember.cuda.Event(enable_timing=True), ember.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(5):
        a = a @ a / 1024.0
    end.record()
    end.synchronize()
    assert end.query() and start.elapsed_time(end) > 0.0


@pytest.mark.skipif(_GPUS < 2, reason="needs two GPUs")
def test_second_gpu_moves():
    x = ember.arange(6.0)
    y = x.to("cuda:1")
    _on_gpu(y, 1)
    np.testing.assert_array_equal(y.to("cuda:0").cpu().numpy(), x.numpy())
