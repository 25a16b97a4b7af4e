"""nn.utils: gradient clipping and parameter vectors against torch.nn.utils."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import clip_grad_norm_, clip_grad_value_, vector_to_parameters

SHAPES = [(3, 4), (5,), (2, 2, 2)]


def _params(lib, rng_seed=0, scale=1.0):
    rng = np.random.default_rng(rng_seed)
    params = []
    for shape in SHAPES:
        p = lib.nn.Parameter(lib.tensor(rng.standard_normal(shape).astype(np.float32)))
        p.grad = lib.tensor(rng.standard_normal(shape).astype(np.float32) * scale)
        params.append(p)
    return params


@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (100.0, 2.0), (0.5, 1.0),
                                                (0.3, float("inf")), (2.0, 3.0), (1.0, "inf")])
def test_clip_grad_norm_matches_torch(torch, max_norm, norm_type):
    t_params, e_params = _params(torch), _params(ember)
    t_total = torch.nn.utils.clip_grad_norm_(t_params, max_norm, norm_type)
    e_total = clip_grad_norm_(e_params, max_norm, norm_type)
    assert e_total.dtype == ember.float32 and e_total.dim() == 0
    np.testing.assert_allclose(e_total.item(), t_total.item(), rtol=1e-5)
    for t, e in zip(t_params, e_params):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(ember.ones(3))
    assert clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients
    p.grad = ember.tensor([3.0, 4.0, 0.0])
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)  # a single tensor
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8, 0], rtol=1e-5)
    p.grad = ember.tensor([float("inf"), 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    model = nn.Linear(3, 2)
    model(ember.randn(4, 3)).sum().backward()
    grad_obj = model.weight.grad
    clip_grad_norm_(model.parameters(), 1e-3)
    assert model.weight.grad is grad_obj  # in place


@pytest.mark.parametrize("clip", [0.1, 1.0])
def test_clip_grad_value_matches_torch(torch, clip):
    t_params, e_params = _params(torch, scale=2.0), _params(ember, scale=2.0)
    torch.nn.utils.clip_grad_value_(t_params, clip)
    clip_grad_value_(e_params, clip)
    for t, e in zip(t_params, e_params):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())


def test_parameters_to_vector_and_back(torch):
    t_params, e_params = _params(torch), _params(ember)
    t_vec = torch.nn.utils.parameters_to_vector(t_params)
    e_vec = nn.utils.parameters_to_vector(e_params)
    np.testing.assert_array_equal(e_vec.detach().numpy(), t_vec.detach().numpy())
    for p in e_params:
        p.grad = None
    (e_vec * ember.arange(e_vec.numel()).float()).sum().backward()  # differentiable
    np.testing.assert_array_equal(e_params[1].grad.numpy(), np.arange(12, 17))
    new = np.arange(e_vec.numel(), dtype=np.float32)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), t_params)
    vector_to_parameters(ember.tensor(new), e_params)
    for t, e in zip(t_params, e_params):
        np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy())
        assert isinstance(e, nn.Parameter) and e.requires_grad
    with pytest.raises(TypeError):
        vector_to_parameters(new, e_params)


def test_clip_grad_norm_zero_norm_type_counts_nonzeros(torch):
    t_params, e_params = _params(torch), _params(ember)
    for p in e_params + t_params:
        p.grad[..., 0] = 0.0
    t_total = torch.nn.utils.clip_grad_norm_(t_params, 1.0, norm_type=0)
    e_total = clip_grad_norm_(e_params, 1.0, norm_type=0)
    np.testing.assert_allclose(e_total.item(), t_total.item())
    for t, e in zip(t_params, e_params):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-6)
