"""Composite ops (ops/composite.py) against PyTorch: values, dtypes and input gradients."""
from __future__ import annotations

import numpy as np
import pytest

import ember


def _run(lib, fn, arrays, grad):
    inputs = [lib.tensor(a, requires_grad=grad and a.dtype.kind == "f")
              if isinstance(a, np.ndarray) else a for a in arrays]
    out = fn(lib, *inputs)
    outs = list(out) if isinstance(out, tuple) else [out]
    values = [o.detach().numpy() for o in outs]
    grads = []
    if grad:
        rng = np.random.default_rng(1)
        loss = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)))).sum()
                   for o in outs if o.dtype.is_floating_point)
        loss.backward()
        grads = [t.grad.numpy() for t in inputs if isinstance(t, lib.Tensor) and t.requires_grad]
    return values, grads


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


_CASES = {
    "meshgrid ij": (lambda m, a, b: m.meshgrid(a, b, indexing="ij"),
                    [_rand(3), _rand(4, seed=1)]),
    "meshgrid xy": (lambda m, a, b, c: m.meshgrid(a, b, c, indexing="xy"),
                    [_rand(3), _rand(4, seed=1), _rand(2, seed=2)]),
    "cdist p2": (lambda m, a, b: m.cdist(a, b), [_rand(2, 4, 3), _rand(2, 5, 3, seed=1)]),
    "cdist p1": (lambda m, a, b: m.cdist(a, b, p=1.0), [_rand(4, 3), _rand(5, 3, seed=1)]),
    "cdist pinf": (lambda m, a, b: m.cdist(a, b, p=float("inf")),
                   [_rand(4, 3), _rand(5, 3, seed=1)]),
    "repeat_interleave int": (lambda m, a: m.repeat_interleave(a, 2), [_rand(2, 3)]),
    "repeat_interleave dim": (lambda m, a: m.repeat_interleave(a, m.tensor([1, 0, 3]), dim=1),
                              [_rand(2, 3)]),
    "addmm": (lambda m, i, a, b: m.addmm(i, a, b, beta=0.5, alpha=2.0),
              [_rand(3), _rand(2, 4, seed=1), _rand(4, 3, seed=2)]),
    "addmm beta0": (lambda m, i, a, b: m.addmm(i, a, b, beta=0),
                    [np.full((2, 3), np.nan), _rand(2, 4, seed=1), _rand(4, 3, seed=2)]),
    "addmv": (lambda m, i, a, v: m.addmv(i, a, v), [_rand(2), _rand(2, 4, seed=1),
                                                     _rand(4, seed=2)]),
    "mv": (lambda m, a, v: m.mv(a, v), [_rand(3, 4), _rand(4, seed=1)]),
    "logaddexp": (lambda m, a, b: m.logaddexp(a, b), [_rand(3, 4) * 30, _rand(4, seed=1)]),
    "diff": (lambda m, a: m.diff(a), [_rand(3, 5)]),
    "diff n2 dim0 prepend append": (lambda m, a, p, q: m.diff(a, 2, 0, prepend=p, append=q),
                                    [_rand(3, 4), _rand(1, 4, seed=1), _rand(2, 4, seed=2)]),
    "kron": (lambda m, a, b: m.kron(a, b), [_rand(2, 3), _rand(4, 1, 2, seed=1)]),
    "cross default dim": (lambda m, a, b: m.cross(a, b),
                          [_rand(2, 3, 4), _rand(2, 3, 4, seed=1)]),
    "cross dim": (lambda m, a, b: m.cross(a, b, dim=-1), [_rand(4, 3), _rand(4, 3, seed=1)]),
    "tensordot int": (lambda m, a, b: m.tensordot(a, b, 2),
                      [_rand(2, 3, 4), _rand(3, 4, 5, seed=1)]),
    "tensordot lists": (lambda m, a, b: m.tensordot(a, b, ([0, 2], [2, 0])),
                        [_rand(2, 3, 4), _rand(4, 5, 2, seed=1)]),
    "atleast_2d": (lambda m, a, b, c: m.atleast_2d(a, b, c), [_rand(), _rand(3), _rand(2, 3)]),
    "atleast_3d": (lambda m, a, b, c: m.atleast_3d((a, b, c)), [_rand(), _rand(3), _rand(2, 3)]),
    "median all": (lambda m, a: m.median(a), [_rand(2, 5)]),
    "median dim": (lambda m, a: m.median(a, 1, keepdim=True), [_rand(3, 6)]),
    "nanmean": (lambda m, a: m.nanmean(a, 1), [np.where(_rand(3, 4) > 0.5, np.nan, _rand(3, 4))]),
    "moveaxis": (lambda m, a: m.moveaxis(a, (0, 1), (2, 0)), [_rand(2, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(_CASES))
def test_composite_matches_torch(torch, name):
    fn, arrays = _CASES[name]
    grad = name not in ("addmm beta0",)
    ours, theirs = _run(ember, fn, arrays, grad), _run(torch, fn, arrays, grad)
    for e, t in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        assert e.shape == t.shape and e.dtype == t.dtype, (e.shape, t.shape, e.dtype, t.dtype)
        np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-9)


def test_integer_valued_ops_match_torch(torch):
    x = np.array([1, 3, 3, 0, 7, 3, 1])
    w = np.linspace(0, 1, 7).astype(np.float32)
    pairs = [
        (lambda m: m.bincount(m.tensor(x))),
        (lambda m: m.bincount(m.tensor(x), m.tensor(w), minlength=10)),
        (lambda m: m.unique(m.tensor([[3, 1], [2, 3]]), return_inverse=True,
                            return_counts=True)),
        (lambda m: m.unique(m.tensor([2.5, -1.0, 2.5]))),
        (lambda m: m.searchsorted(m.tensor([1.0, 3.0, 5.0, 7.0]), m.tensor([[3.0, 6.0],
                                                                          [9.0, 0.0]]))),
        (lambda m: m.searchsorted(m.tensor([[1, 3, 5], [2, 4, 6]]), m.tensor([[3], [3]]),
                                  right=True)),
        (lambda m: m.bucketize(m.tensor([0.5, 3.0, 7.5]), m.tensor([1.0, 3.0, 5.0]),
                               out_int32=True)),
        (lambda m: m.bucketize(m.tensor([0.5, 3.0, 7.5]), m.tensor([1.0, 3.0, 5.0]),
                               right=True)),
    ]
    for make in pairs:
        ours, theirs = make(ember), make(torch)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for e, t in zip(ours, theirs):
            np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)  # float sums: order
            assert e.numpy().dtype == t.numpy().dtype


def test_errors():
    with pytest.raises(RuntimeError, match="same number of columns"):
        ember.cdist(ember.ones(2, 3), ember.ones(2, 4))
    with pytest.raises(RuntimeError, match="same size as input"):
        ember.repeat_interleave(ember.ones(3), ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="must have length 3"):
        ember.cross(ember.ones(2, 3), ember.ones(2, 3), dim=0)
    with pytest.raises(RuntimeError, match="1-d non-negative"):
        ember.bincount(ember.tensor([1, -1]))
