"""ember.linalg against torch.linalg: values, gradients, gradcheck and gradgradcheck."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

_A = np.random.default_rng(0).standard_normal((2, 3, 3)) + 3 * np.eye(3)
_B = np.random.default_rng(1).standard_normal((2, 3, 2))
_V = np.random.default_rng(2).standard_normal((2, 3))

_CASES = {
    "inv": (lambda L, a: L.linalg.inv(a), [_A]),
    "det": (lambda L, a: L.linalg.det(a), [_A]),
    "slogdet": (lambda L, a: L.linalg.slogdet(a)[1] * L.linalg.slogdet(a)[0], [_A]),
    "solve": (lambda L, a, b: L.linalg.solve(a, b), [_A, _B]),
    "solve vector": (lambda L, a, b: L.linalg.solve(a, b), [_A, _V]),
    "solve right": (lambda L, a, b: L.linalg.solve(a, b.transpose(-2, -1), left=False),
                    [_A, _B]),
    "norm": (lambda L, a: L.linalg.norm(a), [_A]),
    "norm ord dim": (lambda L, a: L.linalg.norm(a, float("inf"), dim=(0, 2)), [_A]),
    "matrix_norm": (lambda L, a: L.linalg.matrix_norm(a, -1, keepdim=True), [_A]),
    "vector_norm": (lambda L, a: L.linalg.vector_norm(a, 3, dim=1), [_A]),
    "cross": (lambda L, a, b: L.linalg.cross(a, b), [_A, _A[::-1].copy()]),
}


@pytest.mark.parametrize("name", sorted(_CASES))
def test_linalg_matches_torch(torch, name):
    fn, arrays = _CASES[name]
    results = []
    for lib in (ember, torch):
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *inputs)
        (out * out).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in inputs])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "solve", "solve vector"])
def test_linalg_gradcheck_twice(name):
    fn, arrays = _CASES[name]
    inputs = tuple(ember.tensor(a, requires_grad=True) for a in arrays)
    assert gradcheck(lambda *t: fn(ember, *t), inputs)
    assert gradgradcheck(lambda *t: fn(ember, *t), inputs)


def test_errors():
    with pytest.raises(ember.linalg.LinAlgError, match="singular"):
        ember.linalg.inv(ember.zeros(2, 2))
    with pytest.raises(RuntimeError, match="square matrices"):
        ember.linalg.det(ember.ones(2, 3))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        ember.linalg.solve(ember.eye(3), ember.ones(2, 2))
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        ember.linalg.matrix_norm(ember.eye(3), 3)


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((0, 2), True), ((2, 0), False)])
def test_singular_value_norms_match_torch(torch, ord, dim, keepdim):
    a = np.random.default_rng(3).standard_normal((3, 4, 5))
    e = ember.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    out_e = ember.linalg.matrix_norm(e, ord, dim, keepdim)
    out_t = torch.linalg.matrix_norm(t, ord, dim, keepdim)
    out_e.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)
