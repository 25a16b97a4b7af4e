"""Whole training runs against PyTorch: same initial weights and data, same loss curve."""
import numpy as np
import pytest

import ember
from ember import nn as enn

torch = pytest.importorskip("torch")


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def bn_cnn(nn):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def twins(build):
    torch.manual_seed(0)
    reference = build(torch.nn)
    ours = build(enn)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in reference.state_dict().items()})
    return ours, reference


def run(model, optimizer, lib, xs, ys, steps):
    losses = []
    for i in range(steps):
        x, y = lib.tensor(xs[i % len(xs)]), lib.tensor(ys[i % len(ys)])
        optimizer.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses)


@pytest.mark.parametrize("name", ["lenet_adam", "bn_cnn_sgd"])
def test_twenty_steps_match_pytorch(name):
    rng = np.random.default_rng(0)
    if name == "lenet_adam":
        ours, reference = twins(lenet)
        xs = rng.standard_normal((4, 16, 1, 28, 28)).astype(np.float32)
        make = lambda lib, m: lib.optim.Adam(m.parameters(), lr=1e-3)  # noqa: E731
    else:
        ours, reference = twins(bn_cnn)
        xs = rng.standard_normal((4, 16, 3, 16, 16)).astype(np.float32)
        make = lambda lib, m: lib.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)  # noqa: E731
    ys = rng.integers(0, 10, (4, 16))
    ember_losses = run(ours, make(ember, ours), ember, xs, ys, 20)
    torch_losses = run(reference, make(torch, reference), torch, xs, ys, 20)
    assert ember_losses[-1] < ember_losses[0]
    np.testing.assert_allclose(ember_losses, torch_losses, rtol=2e-3, atol=2e-4)
    for (key, ours_value), theirs in zip(ours.state_dict().items(), reference.state_dict().values()):
        np.testing.assert_allclose(ours_value.numpy(), theirs.numpy(), rtol=1e-2, atol=1e-3,
                                   err_msg=key)
