"""The benchmark workloads, written once for any framework with PyTorch's API.

Each builder takes a framework module (``ember`` or ``torch``) and returns a model built from
that framework's ``nn``; ``copy_weights`` makes two models start from the same numbers, and
``MLPFloor`` is the hand-written NumPy (or CuPy) training step the MLP row is compared with.
``memory_child`` is what the peak-memory row runs in a fresh interpreter.

Nothing here imports a framework at module level, so a fresh process measures only the
framework it was asked for.
"""
from __future__ import annotations

import dataclasses
import gc
import json
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"


@dataclasses.dataclass
class Sizes:
    """Problem sizes; the defaults are the issue's, ``Sizes.tiny()`` is for the smoke test."""

    mlp: tuple[int, ...] = (784, 512, 256, 10)
    mlp_batch: int = 128
    lenet_batch: int = 64
    cnn_channels: tuple[int, int, int] = (32, 64, 128)
    cnn_hw: int = 32
    cnn_batch: int = 128
    infer_batch: int = 128
    classes: int = 10

    @classmethod
    def tiny(cls) -> Sizes:
        return cls(mlp=(20, 16, 8, 10), mlp_batch=4, lenet_batch=2, cnn_channels=(4, 8, 16),
                   cnn_hw=8, cnn_batch=2, infer_batch=2)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Sizes:
        fields = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


# -- models -------------------------------------------------------------------------------

def mlp(lib, sizes: Sizes):
    """784-512-256-10 with ReLU (the widths come from ``sizes.mlp``)."""
    nn = lib.nn
    layers = []
    widths = sizes.mlp
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def lenet5(lib, sizes: Sizes):
    """LeNet-5 for 1x28x28 inputs, with ReLU and max pooling."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 6x14x14
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),             # 16x5x5
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, sizes.classes))


def cnn(lib, sizes: Sizes):
    """conv-BN-ReLU x2, max pool, conv-BN-ReLU, global average pool, linear."""
    nn = lib.nn
    c1, c2, c3 = sizes.cnn_channels

    class GlobalAvgPool(nn.Module):
        def forward(self, x):
            return x.mean((2, 3))  # (N, C, H, W) -> (N, C)

    return nn.Sequential(
        nn.Conv2d(3, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3, padding=1), nn.BatchNorm2d(c3), nn.ReLU(),
        GlobalAvgPool(),
        nn.Linear(c3, sizes.classes))


MODELS = {"mlp": mlp, "lenet": lenet5, "cnn": cnn}


def input_shape(model: str, sizes: Sizes, batch: int | None = None) -> tuple[int, ...]:
    if model == "mlp":
        return (batch or sizes.mlp_batch, sizes.mlp[0])
    if model == "lenet":
        return (batch or sizes.lenet_batch, 1, 28, 28)
    return (batch or sizes.cnn_batch, 3, sizes.cnn_hw, sizes.cnn_hw)


def make_data(shape: tuple[int, ...], classes: int, seed: int = 0):
    """Fixed random float32 inputs and int64 labels, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, classes, size=shape[0], dtype=np.int64)
    return x, y


def to_lib(lib, array: np.ndarray, device: str):
    return lib.from_numpy(np.ascontiguousarray(array)).to(device)


def state_arrays(model) -> list[tuple[str, np.ndarray]]:
    """Every parameter and buffer of ``model`` as host NumPy arrays, in state_dict order."""
    return [(k, v.detach().cpu().numpy().copy()) for k, v in model.state_dict().items()]


def copy_weights(src_model, dst_lib, dst_model) -> None:
    """Copies ``src_model``'s parameters and buffers into ``dst_model`` (in state_dict order)."""
    dst_state = list(dst_model.state_dict().items())
    src_state = state_arrays(src_model)
    if len(dst_state) != len(src_state):
        raise RuntimeError(f"copy_weights: {len(src_state)} tensors vs {len(dst_state)}")
    with dst_lib.no_grad():
        for (sk, sv), (dk, dv) in zip(src_state, dst_state):
            if tuple(sv.shape) != tuple(dv.shape):
                raise RuntimeError(f"copy_weights: {sk} {sv.shape} vs {dk} {tuple(dv.shape)}")
            dv.copy_(dst_lib.from_numpy(sv).to(dv.device).to(dv.dtype))


def optimizer(lib, model_name: str, params):
    """Adam for LeNet-5, SGD with momentum 0.9 for the others (as the issue specifies)."""
    if model_name == "lenet":
        return lib.optim.Adam(params, lr=1e-3)
    return lib.optim.SGD(params, lr=0.01, momentum=0.9)


def train_step(lib, model, opt, x, y):
    """The step that is timed: zero_grad, forward, loss, backward, optimizer step."""
    loss_fn = lib.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return step


# -- the NumPy floor ----------------------------------------------------------------------

class MLPFloor:
    """The MLP training step written directly in NumPy (or CuPy): the speed floor.

    Same maths as the framework step: Linear (x @ W.T + b) and ReLU layers, mean
    cross-entropy from logits via a max-shifted softmax, hand-derived backward, and SGD
    with momentum (PyTorch's form: buf = momentum * buf + g; p -= lr * buf), updated in place.

    Args:
        xp: numpy or cupy.
        state: [(name, array)] weights as PyTorch lays them out (weight (out, in), bias).
        x, y: the batch (arrays of ``xp``).
    """

    def __init__(self, xp, state, x, y, lr: float = 0.01, momentum: float = 0.9):
        self.xp = xp
        self.params = [xp.asarray(v) for _, v in state]
        self.x, self.y = x, y
        self.rows = xp.arange(x.shape[0])
        self.lr, self.momentum = lr, momentum
        self.bufs = None
        self.loss = None

    def forward_backward(self):
        xp, p = self.xp, self.params
        n_layers = len(p) // 2
        acts = [self.x]
        h = self.x
        for i in range(n_layers):
            w, b = p[2 * i], p[2 * i + 1]
            h = h @ w.T
            h += b
            if i < n_layers - 1:
                xp.maximum(h, 0, out=h)
                acts.append(h)
        logits = h
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        self.loss = (xp.log(total[:, 0]) - shifted[self.rows, self.y]).mean()
        grad = exp
        grad /= total
        grad[self.rows, self.y] -= 1
        grad /= logits.shape[0]
        grads = [None] * len(p)
        for i in reversed(range(n_layers)):
            a = acts[i]
            grads[2 * i] = grad.T @ a
            grads[2 * i + 1] = grad.sum(axis=0)
            if i > 0:
                grad = grad @ p[2 * i]
                grad *= a > 0  # ReLU's mask, from its output
        return grads

    def step(self):
        grads = self.forward_backward()
        if self.bufs is None:
            self.bufs = [g.copy() for g in grads]
        else:
            for buf, g in zip(self.bufs, grads):
                buf *= self.momentum
                buf += g
        for param, buf in zip(self.params, self.bufs):
            param -= self.lr * buf


# -- peak memory, in a fresh process ------------------------------------------------------

def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0); False where that is impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_now_mb() -> float:
    kb = _status_kb("VmRSS")
    if kb is None:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return kb / 1024


def _rss_peak_mb() -> float:
    kb = _status_kb("VmHWM")
    if kb is None:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return kb / 1024


def memory_child(framework: str, device: str, sizes_json: str, steps: int = 3) -> dict:
    """Peak RSS growth of ``steps`` CNN training steps, measured in this (fresh) process.

    The baseline is the RSS after importing the framework and building the model, optimizer
    and data, and nothing else; the peak is the high-water mark after the steps. On cuda the
    framework's own GPU allocation peak is reported beside it.
    """
    import sys
    sys.path.insert(0, str(SRC))
    sizes = Sizes.from_json(sizes_json)
    if framework == "ember":
        import ember as lib
        lib.manual_seed(0)
    else:
        import torch as lib
        lib.manual_seed(0)
    model = cnn(lib, sizes).to(device)
    opt = optimizer(lib, "cnn", model.parameters())
    x_np, y_np = make_data(input_shape("cnn", sizes), sizes.classes)
    x, y = to_lib(lib, x_np, device), to_lib(lib, y_np, device)
    del x_np, y_np
    step = train_step(lib, model, opt, x, y)
    gpu = _gpu_probe(framework, lib, device)
    gc.collect()
    reset = _reset_peak()
    base = _rss_now_mb()
    gpu_base = gpu() if gpu else None
    for _ in range(steps):
        step()
    peak = _rss_peak_mb()
    out = {"framework": framework, "baseline_mb": base, "peak_mb": peak,
           "delta_mb": peak - base, "peak_was_reset": reset}
    if gpu:
        out["gpu_delta_mb"] = gpu() - gpu_base
    return out


def _gpu_probe(framework: str, lib, device: str):
    """A function giving the GPU memory high-water mark in MB (since this call), or None."""
    if not device.startswith("cuda"):
        return None
    # ember.cuda and torch.cuda share these names and meanings
    lib.cuda.synchronize()
    lib.cuda.reset_peak_memory_stats()
    return lambda: (lib.cuda.synchronize(), lib.cuda.max_memory_allocated() / 2**20)[1]
