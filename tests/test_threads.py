"""backend.threads, and the ops that run by blocks in it, with blocks forced on small arrays."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import threads

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


@pytest.fixture
def tiny_blocks(monkeypatch):
    # every array is threaded, one first-axis entry per block, over 3 threads
    monkeypatch.setattr(threads, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(threads, "BLOCK_BYTES", 1)
    monkeypatch.setattr(threads, "THREADS", 3)


def test_run_shared_keeps_item_order_and_runs_items_at_once(tiny_blocks):
    assert threads.run_shared(list(range(10)), lambda i: i * i, 3) == [i * i for i in range(10)]
    if threads.executor()._max_workers >= 2:
        both = threading.Barrier(2, timeout=10)  # broken unless two items run concurrently
        assert threads.run_shared([0, 1], lambda i: both.wait() * 0 + i, 2) == [0, 1]
    assert threads.for_blocks(5, 4, lambda a, b: (a, b), np) == [(i, i + 1) for i in range(5)]
    assert threads.for_blocks(1, 4, lambda a, b: (a, b), np) == [(0, 1)]


def test_run_shared_waits_for_every_thread_before_raising(tiny_blocks):
    done = []

    def work(i):
        if i == 0:
            raise ValueError("item 0")
        done.append(i)
    with pytest.raises(ValueError, match="item 0"):
        threads.run_shared(list(range(6)), work, 3)
    assert {1, 2, 4, 5} <= set(done)  # the other threads' items (the failing one stops)


@needs_torch
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_and_relu_by_blocks_match_torch(tiny_blocks, training):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 4, 6)).astype(np.float32) * 2 + 1
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    mean, var = rng.standard_normal(3).astype(np.float32), rng.random(3).astype(np.float32) + .5
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for lib, fn in ((ember, F), (torch, torch.nn.functional)):
        xs, ws, bs = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        rm, rv = lib.tensor(mean.copy()), lib.tensor(var.copy())
        y = fn.relu(fn.batch_norm(xs, rm, rv, ws, bs, training=training))
        y.backward(lib.tensor(g))
        results.append([t.detach().numpy() for t in (y, xs.grad, ws.grad, bs.grad, rm, rv)])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dim, keepdim", [((2, 3), False), ((1,), True), ((1, 2, 3), False),
                                          ((0, 2), False)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.bool_])
def test_sum_and_mean_by_blocks_match_numpy(tiny_blocks, dim, keepdim, dtype):
    x = (np.random.default_rng(1).standard_normal((5, 3, 4, 2)) * 3).astype(dtype)
    got = ember.tensor(x).sum(dim, keepdim=keepdim)
    expected = x.sum(axis=dim, keepdims=keepdim, dtype=np.int64 if x.dtype.kind in "iub" else None)
    assert got.numpy().dtype == expected.dtype
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    if x.dtype.kind == "f":
        np.testing.assert_allclose(ember.tensor(x).mean(dim, keepdim=keepdim).numpy(),
                                   x.mean(axis=dim, keepdims=keepdim), rtol=1e-6)
