"""Shared fixtures. Tests import torch only through ``torch`` below (None when not installed)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can import op_db

import ember  # noqa: E402
from ember import backend  # noqa: E402


@pytest.fixture
def torch():
    """PyTorch, the reference; the test is skipped when it is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_global_state():
    """Each test starts with grad mode on, anomaly mode off and the default dtype float32."""
    from ember.autograd.grad_mode import _State
    enabled, anomaly = _State.enabled, _State.anomaly
    default = ember.get_default_dtype()
    yield
    _State.enabled, _State.anomaly = enabled, anomaly
    ember.set_default_dtype(default)


# -- the fake cuda device (EMBER_FAKE_CUDA): NumPy arrays of another type -----------------
def _install(monkeypatch, value: str, load: bool = True):
    """Loads the cuda backend afresh with EMBER_FAKE_CUDA=value; restores the old one after."""
    monkeypatch.setenv("EMBER_FAKE_CUDA", value)
    saved = backend._cuda
    backend._cuda = None
    try:
        yield backend.cuda() if load else None
    finally:
        fake = backend._cuda
        if fake is not None:
            backend._by_array_type.pop(fake.array_type, None)
        backend._cuda = saved
        if saved is not None:
            backend._by_array_type[saved.array_type] = saved


@pytest.fixture
def fake_cuda(monkeypatch):
    yield from _install(monkeypatch, "1")


@pytest.fixture
def fake_cuda2(monkeypatch):
    yield from _install(monkeypatch, "2")
