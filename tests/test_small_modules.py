"""Pixel shuffling, padding layers, RMSNorm, shrinkage, Softmax2d and the distance modules
against PyTorch: repr, parameters, outputs and input/parameter gradients."""
from __future__ import annotations

import numpy as np
import pytest

import ember

_CASES = [  # (constructor text, input shapes)
    ("PixelShuffle(2)", [(2, 8, 3, 4)]),
    ("PixelShuffle(3)", [(18, 2, 2)]),
    ("PixelUnshuffle(2)", [(2, 3, 4, 6)]),
    ("ZeroPad1d((1, 2))", [(2, 3, 4)]),
    ("ZeroPad2d(1)", [(2, 3, 4, 5)]),
    ("ConstantPad1d(2, 3.5)", [(2, 3, 4)]),
    ("ConstantPad2d((1, 0, 2, 1), -1.0)", [(2, 3, 4, 5)]),
    ("ReflectionPad1d(2)", [(2, 3, 5)]),
    ("ReflectionPad2d((1, 0, 2, 1))", [(2, 3, 4, 5)]),
    ("ReplicationPad1d((0, 3))", [(2, 3, 4)]),
    ("ReplicationPad2d(2)", [(1, 2, 3, 3)]),
    ("CircularPad1d(1)", [(2, 3, 4)]),
    ("CircularPad2d((1, 2, 0, 1))", [(2, 3, 4, 5)]),
    ("RMSNorm(8)", [(3, 5, 8)]),
    ("RMSNorm([4, 5], eps=1e-5)", [(2, 3, 4, 5)]),
    ("RMSNorm(6, elementwise_affine=False)", [(4, 6)]),
    ("Hardshrink()", [(3, 7)]),
    ("Softshrink(0.3)", [(3, 7)]),
    ("Softmax2d()", [(2, 3, 4, 5)]),
    ("Softmax2d()", [(3, 4, 5)]),
    ("CosineSimilarity()", [(4, 6), (4, 6)]),
    ("CosineSimilarity(dim=0, eps=1e-6)", [(4, 6), (4, 6)]),
    ("PairwiseDistance()", [(4, 6), (4, 6)]),
    ("PairwiseDistance(p=1.0, keepdim=True)", [(4, 6), (4, 6)]),
]


@pytest.mark.parametrize("text, shapes", _CASES, ids=[c[0] for c in _CASES])
def test_module_matches_torch(torch, text, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    results = []
    for lib in (ember, torch):
        module = eval("lib.nn." + text, {"lib": lib})
        if text.startswith("RMSNorm") and module.weight is not None:
            with lib.no_grad():
                module.weight.copy_(lib.tensor(np.linspace(0.5, 1.5, module.weight.numel())
                                               .reshape(tuple(module.weight.shape))
                                               .astype(np.float32)))
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = module(*inputs)
        g = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(np.float32)
        (out * lib.tensor(g)).sum().backward()
        results.append((repr(module), [n for n, _ in module.named_parameters()],
                        [out.detach().numpy()] + [t.grad.numpy() for t in inputs] +
                        [p.grad.numpy() for p in module.parameters()]))
    assert results[0][:2] == results[1][:2]
    for e, t in zip(results[0][2], results[1][2]):
        assert e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(RuntimeError, match="divisible by the square"):
        ember.nn.PixelShuffle(2)(ember.ones(1, 3, 2, 2))
    with pytest.raises(RuntimeError, match="divisible by downscale_factor"):
        ember.nn.PixelUnshuffle(2)(ember.ones(1, 3, 3, 2))
    with pytest.raises(ValueError, match="tuple of 4 ints"):
        ember.nn.ZeroPad2d((1, 2))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        ember.nn.RMSNorm(4)(ember.ones(2, 5))
    with pytest.raises(ValueError, match="3D or 4D"):
        ember.nn.Softmax2d()(ember.ones(2, 3))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2),
                                                          padding=1, stride=(2, 1)),
                                dict(kernel_size=3, padding=1, stride=2)])
def test_unfold_and_fold_match_torch(torch, kw):
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 6)).astype(np.float32)
    results = []
    for lib in (ember, torch):
        unfold, fold = lib.nn.Unfold(**kw), lib.nn.Fold((5, 6), **kw)
        t = lib.tensor(x, requires_grad=True)
        cols = unfold(t)
        back = fold(cols * 1.5)
        unbatched = lib.nn.functional.unfold(t[0], **kw)
        ((cols * cols).sum() + (back * back).sum() + unbatched.sum()).backward()
        results.append(([repr(unfold), repr(fold)],
                        [cols.detach().numpy(), back.detach().numpy(), t.grad.numpy()]))
    assert results[0][0] == results[1][0]
    for e, t in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-5)


def test_unfold_and_fold_errors():
    with pytest.raises(RuntimeError, match="sliding blocks"):
        ember.nn.functional.unfold(ember.ones(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        ember.nn.functional.fold(ember.ones(1, 5, 4), (3, 3), 2)


_BAGS = [  # kwargs, 2-D input?
    (dict(mode="sum"), False), (dict(mode="mean"), False), (dict(mode="max"), False),
    (dict(mode="mean", padding_idx=2), False), (dict(mode="max", padding_idx=4), False),
    (dict(mode="sum", include_last_offset=True), False), (dict(mode="mean"), True),
    (dict(mode="max"), True), (dict(mode="sum", per_sample_weights=True), False),
]


@pytest.mark.parametrize("kw, two_d", _BAGS)
def test_embedding_bag_matches_torch(torch, kw, two_d):
    kw = dict(kw)
    weighted = kw.pop("per_sample_weights", False)
    weight = np.random.default_rng(4).standard_normal((10, 3)).astype(np.float32)
    indices = np.array([1, 2, 4, 5, 4, 3, 2, 9, 2, 2])
    offsets = np.array([0, 4, 4, 7] + ([10] if kw.get("include_last_offset") else []))
    samples = np.random.default_rng(5).random(10).astype(np.float32)
    results = []
    for lib in (ember, torch):
        bag = lib.nn.EmbeddingBag(10, 3, _weight=lib.tensor(weight), **kw)
        psw = lib.tensor(samples, requires_grad=True) if weighted else None
        if two_d:
            out = bag(lib.tensor(indices.reshape(2, 5)))
        else:
            out = bag(lib.tensor(indices), lib.tensor(offsets), per_sample_weights=psw)
        g = np.random.default_rng(6).standard_normal(tuple(out.shape)).astype(np.float32)
        (out * lib.tensor(g)).sum().backward()
        results.append([out.detach().numpy(), bag.weight.grad.numpy()] +
                       ([psw.grad.numpy()] if weighted else []))
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-6)


def test_embedding_bag_errors():
    bag = ember.nn.EmbeddingBag(5, 2, mode="mean")
    with pytest.raises(ValueError, match="offsets has to be None"):
        bag(ember.tensor([[1, 2]]), ember.tensor([0]))
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        bag(ember.tensor([1, 2]), ember.tensor([0]), per_sample_weights=ember.ones(2))
    with pytest.raises(ValueError, match="mode has to be one of"):
        ember.nn.functional.embedding_bag(ember.tensor([1]), ember.ones(3, 2), ember.tensor([0]),
                                          mode="median")
