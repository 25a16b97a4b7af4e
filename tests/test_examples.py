"""The examples run end to end: the MNIST main job for one short epoch, and the seed loop."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mnist_one_epoch_learns(tmp_path):
    mnist = load("mnist")
    ckpt = tmp_path / "lenet.safetensors"
    acc = mnist.main(["--epochs", "1", "--no-progress", "--save", str(ckpt)])
    assert acc > 0.80  # one epoch on 4,000 digits; the full default run reaches 97%+
    assert ckpt.exists()


def test_mnist_resume_equals_uninterrupted(tmp_path):
    mnist = load("mnist")
    args = ["--epochs", "2", "--no-progress", "--batch-size", "256"]
    straight = mnist.main(args + ["--save", str(tmp_path / "ckpt-{epoch}.safetensors")])
    resumed = mnist.main(args + ["--resume", str(tmp_path / "ckpt-1.safetensors")])
    assert resumed == straight


def test_mnist_plot(tmp_path):
    pytest.importorskip("matplotlib")
    mnist = load("mnist")
    png = tmp_path / "curves.png"
    mnist.main(["--epochs", "1", "--no-progress", "--batch-size", "500", "--plot", str(png)])
    assert png.stat().st_size > 10_000


def test_seed_loop_loss_falls():
    losses = load("seed_loop").main(epochs=3)
    assert losses[-1] < losses[0]
