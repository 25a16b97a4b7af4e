"""nn.init: sample statistics against the theoretical distributions, calculate_gain against
torch, reproducibility from ember.manual_seed, and error inputs."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn import init

SHAPE = (256, 384)  # fan_in 384, fan_out 256


def _sample(fn, *args, shape=SHAPE, **kwargs):
    ember.manual_seed(0)
    t = ember.empty(*shape)
    out = fn(t, *args, **kwargs)
    assert out is t
    return t.numpy().astype(np.float64)


def _uniform_std(bound):
    return bound / math.sqrt(3)


def test_uniform_and_normal():
    u = _sample(init.uniform_, -2.0, 3.0)
    assert u.min() >= -2.0 and u.max() <= 3.0
    assert abs(u.mean() - 0.5) < 0.03 and abs(u.std() - 5 / math.sqrt(12)) < 0.02
    n = _sample(init.normal_, 1.5, 0.5)
    assert abs(n.mean() - 1.5) < 0.01 and abs(n.std() - 0.5) < 0.01


def test_constant_ones_zeros_eye_dirac():
    assert (_sample(init.constant_, 0.3) == np.float32(0.3)).all()
    assert (_sample(init.ones_) == 1).all() and (_sample(init.zeros_) == 0).all()
    np.testing.assert_array_equal(_sample(init.eye_, shape=(3, 4)), np.eye(3, 4))
    d = _sample(init.dirac_, shape=(2, 2, 3))
    assert d[0, 0, 1] == 1 and d[1, 1, 1] == 1 and d.sum() == 2
    with pytest.raises(ValueError):
        init.eye_(ember.empty(2, 2, 2))


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(gain):
    std = gain * math.sqrt(2.0 / (SHAPE[0] + SHAPE[1]))
    u = _sample(init.xavier_uniform_, gain=gain)
    assert np.abs(u).max() <= math.sqrt(3) * std + 1e-6
    assert abs(u.std() - std) < 0.02 * std and abs(u.mean()) < 0.02 * std
    n = _sample(init.xavier_normal_, gain=gain)
    assert abs(n.std() - std) < 0.02 * std


@pytest.mark.parametrize("mode,nonlinearity,a", [("fan_in", "leaky_relu", 0),
                                                ("fan_out", "relu", 0),
                                                ("fan_in", "leaky_relu", math.sqrt(5)),
                                                ("fan_in", "tanh", 0)])
def test_kaiming(mode, nonlinearity, a):
    fan = SHAPE[1] if mode == "fan_in" else SHAPE[0]
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    u = _sample(init.kaiming_uniform_, a=a, mode=mode, nonlinearity=nonlinearity)
    assert np.abs(u).max() <= math.sqrt(3) * std + 1e-6
    assert abs(u.std() - std) < 0.02 * std
    n = _sample(init.kaiming_normal_, a=a, mode=mode, nonlinearity=nonlinearity)
    assert abs(n.std() - std) < 0.02 * std


def test_kaiming_on_conv_shaped_weight_uses_receptive_field():
    u = _sample(init.kaiming_normal_, shape=(64, 16, 3, 3), mode="fan_out")
    assert abs(u.std() - math.sqrt(2 / (64 * 9))) < 0.03 * math.sqrt(2 / (64 * 9))


def test_trunc_normal_matches_scipy_moments():
    stats = pytest.importorskip("scipy.stats")
    t = _sample(init.trunc_normal_, mean=0.5, std=1.0, a=-1.0, b=2.0)
    assert t.min() >= -1.0 and t.max() <= 2.0
    ref = stats.truncnorm(-1.5, 1.5, loc=0.5, scale=1.0)
    assert abs(t.mean() - ref.mean()) < 0.01 and abs(t.std() - ref.std()) < 0.01


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (4, 3, 2)])
def test_orthogonal(shape):
    w = _sample(init.orthogonal_, gain=2.0, shape=shape)
    flat = w.reshape(shape[0], -1)
    if flat.shape[0] <= flat.shape[1]:
        np.testing.assert_allclose(flat @ flat.T, 4 * np.eye(flat.shape[0]), atol=1e-5)
    else:
        np.testing.assert_allclose(flat.T @ flat, 4 * np.eye(flat.shape[1]), atol=1e-5)


def test_sparse():
    w = _sample(init.sparse_, 0.5, std=0.1, shape=(10, 20))
    assert ((w == 0).sum(0) >= 5).all()


def test_calculate_gain_matches_torch(torch):
    cases = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
             ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None),
             ("conv_transpose2d", None)]
    for name, param in cases:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-12)
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", "x")


def test_reproducible_with_seed_and_generator():
    a = _sample(init.normal_, shape=(5,))
    b = _sample(init.normal_, shape=(5,))
    np.testing.assert_array_equal(a, b)
    g = ember.Generator().manual_seed(3)
    x = init.uniform_(ember.empty(4), generator=g).numpy().copy()
    g.manual_seed(3)
    np.testing.assert_array_equal(init.uniform_(ember.empty(4), generator=g).numpy(), x)


def test_init_on_parameters_records_no_history():
    p = nn.Parameter(ember.empty(3, 4))
    init.kaiming_uniform_(p, a=math.sqrt(5))
    assert p.grad_fn is None and p.requires_grad and p.is_leaf
    init.zeros_(p)
    assert not p.detach().numpy().any()
    d = ember.empty(3, dtype=ember.float64)
    init.normal_(d)
    assert d.dtype == ember.float64


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(ember.empty(3))
    with pytest.raises(ValueError, match="Mode"):
        init.kaiming_uniform_(ember.empty(3, 3), mode="fan_avg")
    with pytest.warns(UserWarning):
        init.kaiming_uniform_(ember.empty(0, 3))
