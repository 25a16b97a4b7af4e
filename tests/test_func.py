"""Function transforms against PyTorch: ember.autograd.functional (jacobian, hessian, vjp, jvp,
hvp, vhp), ember.func (grad, vjp, jvp, jacrev, jacfwd, hessian, vmap, functional_call,
stack_module_state) and their nesting, and ember.utils.checkpoint."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
import ember.autograd.functional as AF
import ember.func as EF
from ember.backend.fake_cuda import FakeCudaArray
from ember.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential


def _pair(torch, rng, *shape):
    a = rng.standard_normal(shape).astype(np.float32)
    return ember.tensor(a), torch.tensor(a)


def _close(ours, ref, rtol=1e-4, atol=1e-5):
    """Same nested structure (tuples, lists, dicts) and the same values."""
    if isinstance(ref, (tuple, list)):
        assert type(ours) is type(ref) and len(ours) == len(ref), (type(ours), type(ref))
        for a, b in zip(ours, ref):
            _close(a, b, rtol, atol)
    elif isinstance(ref, dict):
        assert isinstance(ours, dict) and list(ours) == list(ref)
        for k in ref:
            _close(ours[k], ref[k], rtol, atol)
    else:
        assert isinstance(ours, ember.Tensor), type(ours)
        assert tuple(ours.shape) == tuple(ref.shape)
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=rtol,
                                   atol=atol)


def _mlp(w1, w2):
    """A matmul-based MLP of its input, weights closed over."""
    return lambda x: (x @ w1).tanh() @ w2


# -- ember.autograd.functional ------------------------------------------------------------------
def test_jacobian_single_tuple_and_nested_structures(torch, rng):
    (x, xt), (y, yt) = _pair(torch, rng, 3), _pair(torch, rng, 3)
    cases = [
        (lambda a: a.sin() * a, lambda a: a.sin() * a, x, xt),
        (lambda a, b: a * b.exp(), lambda a, b: a * b.exp(), (x, y), (xt, yt)),
        (lambda a: (a ** 2, a.sum()), lambda a: (a ** 2, a.sum()), x, xt),
        (lambda a, b: (a * b, (a ** 2).sum() * b), lambda a, b: (a * b, (a ** 2).sum() * b),
         (x, y), (xt, yt)),
    ]
    for f, ft, inp, inpt in cases:
        for strategy in ("reverse-mode", "forward-mode"):
            # torch's forward mode gives lists where its reverse mode gives tuples; ember
            # gives tuples for both
            ref = torch.autograd.functional.jacobian(ft, inpt, strategy=strategy, vectorize=True)
            _close(AF.jacobian(f, inp, strategy=strategy), _tuples(ref))


def _tuples(tree):
    return tuple(map(_tuples, tree)) if isinstance(tree, (list, tuple)) else tree


def test_jacobian_of_an_mlp_and_of_a_matrix_input(torch, rng):
    (w1, w1t), (w2, w2t) = _pair(torch, rng, 4, 5), _pair(torch, rng, 5, 2)
    x, xt = _pair(torch, rng, 3, 4)
    _close(AF.jacobian(_mlp(w1, w2), x),
           torch.autograd.functional.jacobian(_mlp(w1t, w2t), xt))


def test_jacobian_create_graph_and_detached_results(torch, rng):
    x = ember.tensor([0.5, -1.0], requires_grad=True)
    jac = AF.jacobian(lambda a: a ** 3, x)
    assert not jac.requires_grad
    jac = AF.jacobian(lambda a: a ** 3, x, create_graph=True)
    (g,) = ember.autograd.grad(jac.sum(), x)                    # d/dx sum(3 x^2 on the diagonal)
    np.testing.assert_allclose(g.numpy(), 6 * x.detach().numpy(), rtol=1e-6)


def test_jacobian_errors_and_strict_mode():
    x = ember.ones(2)
    with pytest.raises(AssertionError, match="strategy"):
        AF.jacobian(lambda a: a, x, strategy="sideways")
    with pytest.raises(NotImplementedError, match="create_graph"):
        AF.jacobian(lambda a: a, x, create_graph=True, strategy="forward-mode")
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        AF.jacobian(lambda a: a, [x])
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.jacobian(lambda a, b: a * 2, (x, ember.ones(2)), strict=True)
    zero = AF.jacobian(lambda a, b: a * 2, (x, ember.ones(2)))[1]
    assert zero.shape == (2, 2) and not zero.numpy().any()


def test_hessian_single_and_tuple_inputs(torch, rng):
    (x, xt), (y, yt) = _pair(torch, rng, 3), _pair(torch, rng, 2)
    _close(AF.hessian(lambda a: (a.sin() * a ** 2).sum(), x),
           torch.autograd.functional.hessian(lambda a: (a.sin() * a ** 2).sum(), xt))
    _close(AF.hessian(lambda a, b: (a.exp().sum() * b ** 2).sum(), (x, y)),
           torch.autograd.functional.hessian(lambda a, b: (a.exp().sum() * b ** 2).sum(),
                                             (xt, yt)))
    with pytest.raises(RuntimeError, match="single element"):
        AF.hessian(lambda a: a ** 2, x)


def test_vjp_jvp_hvp_vhp_match_torch(torch, rng):
    (x, xt), (y, yt) = _pair(torch, rng, 3), _pair(torch, rng, 3)
    (v, vt), (u, ut) = _pair(torch, rng, 3), _pair(torch, rng, 3)
    F = torch.autograd.functional

    def f(a, b):
        return a * b.exp(), (a ** 2).sum() * b.sin()

    def scalar(a, b):
        return (a.sin() * b ** 2).sum()

    _close(AF.vjp(f, (x, y), (v, u)), F.vjp(f, (xt, yt), (vt, ut)))
    _close(AF.jvp(f, (x, y), (v, u)), F.jvp(f, (xt, yt), (vt, ut)))
    _close(AF.hvp(scalar, (x, y), (v, u)), F.hvp(scalar, (xt, yt), (vt, ut)))
    _close(AF.vhp(scalar, (x, y), (v, u)), F.vhp(scalar, (xt, yt), (vt, ut)))
    _close(AF.vjp(lambda a: (a ** 2).sum(), x), F.vjp(lambda a: (a ** 2).sum(), xt))


def test_vjp_and_jvp_argument_errors():
    x = ember.ones(3)
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.jvp(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="v has invalid size"):
        AF.vjp(lambda a: a * 2, x, ember.ones(4))
    with pytest.raises(RuntimeError, match="invalid length"):
        AF.jvp(lambda a, b: a * b, (x, x), (x,))


# -- ember.func: grad, vjp, jvp ---------------------------------------------------------------
def test_grad_argnums_has_aux_and_grad_and_value(torch, rng):
    (x, xt), (y, yt) = _pair(torch, rng, 3), _pair(torch, rng, 3)

    def f(a, b):
        return (a.sin() * b).sum()

    def f_aux(a, b):
        return (a * b).sum(), {"norm": a.norm()}

    TF = torch.func
    _close(EF.grad(f)(x, y), TF.grad(f)(xt, yt))
    _close(EF.grad(f, argnums=1)(x, y), TF.grad(f, argnums=1)(xt, yt))
    _close(EF.grad(f, argnums=(0, -1))(x, y), TF.grad(f, argnums=(0, -1))(xt, yt))
    _close(EF.grad(f_aux, has_aux=True)(x, y), TF.grad(f_aux, has_aux=True)(xt, yt))
    _close(EF.grad_and_value(f, argnums=(0, 1))(x, y), TF.grad_and_value(f, argnums=(0, 1))(xt, yt))
    _close(EF.grad(lambda p: (p["w"] * p["b"][0]).sum())({"w": x, "b": [y]}),
           TF.grad(lambda p: (p["w"] * p["b"][0]).sum())({"w": xt, "b": [yt]}))
    _close(EF.grad(lambda a, b: b.sum())(x, y), TF.grad(lambda a, b: b.sum())(xt, yt))  # zeros


def test_grad_errors_match_torch():
    x = ember.ones(3)
    with pytest.raises(RuntimeError, match="scalar Tensor, got tensor with 1 dims"):
        EF.grad(lambda a: a)(x)
    with pytest.raises(RuntimeError, match="argnum=2, but only 2 positional inputs"):
        EF.grad(lambda a, b: a.sum(), argnums=2)(x, x)
    with pytest.raises(RuntimeError, match="should be a tuple"):
        EF.grad(lambda a: a.sum(), has_aux=True)(x)
    with pytest.raises(ValueError, match="must be Tensor"):
        EF.grad(lambda a: a.sum())(3.0)


def test_top_level_results_are_plain_but_tracked_inputs_keep_the_graph():
    f = EF.grad(lambda a: (a ** 3).sum())
    x = ember.tensor([1.0, 2.0])
    assert not f(x).requires_grad and f(x).grad_fn is None
    x.requires_grad_()
    g = f(x)                                           # 3 x^2, differentiable w.r.t. x
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])
    w = ember.tensor([2.0], requires_grad=True)        # a tracked closure variable
    gw = EF.grad(lambda a: (a * w).sum())(ember.ones(1))
    assert gw.requires_grad


def test_nested_grad_gives_higher_derivatives(torch):
    x, xt = ember.tensor(0.7), torch.tensor(0.7)
    TF = torch.func

    def f(a):
        return a.sin() * a

    _close(EF.grad(EF.grad(f))(x), TF.grad(TF.grad(f))(xt))
    _close(EF.grad(EF.grad(EF.grad(f)))(x), TF.grad(TF.grad(TF.grad(f)))(xt))
    # the inner transform closes over the outer one's input
    _close(EF.grad(lambda a: EF.grad(lambda b: a * b ** 2)(x))(x),
           TF.grad(lambda a: TF.grad(lambda b: a * b ** 2)(xt))(xt))


def test_vjp_and_jvp_with_pytrees_and_aux(torch, rng):
    (x, xt), (y, yt) = _pair(torch, rng, 3), _pair(torch, rng, 3)
    TF = torch.func

    def f(a, b):
        return a * b.exp(), {"s": a.sum() * b}

    out, fn = EF.vjp(f, x, y)
    out_t, fn_t = TF.vjp(f, xt, yt)
    _close(out, out_t)
    _close(fn((y, {"s": x})), fn_t((yt, {"s": xt})))
    _close(fn((x, {"s": y})), fn_t((xt, {"s": yt})))   # callable more than once
    out, fn, aux = EF.vjp(lambda a: (a.exp(), a.cos()), x, has_aux=True)
    out_t, fn_t, aux_t = TF.vjp(lambda a: (a.exp(), a.cos()), xt, has_aux=True)
    _close((out, fn(y), aux), (out_t, fn_t(yt), aux_t))
    _close(EF.jvp(f, (x, y), (y, x)), TF.jvp(f, (xt, yt), (yt, xt)))
    _close(EF.jvp(lambda a: (a ** 3, a), (x,), (y,), has_aux=True),
           TF.jvp(lambda a: (a ** 3, a), (xt,), (yt,), has_aux=True))
    with pytest.raises(RuntimeError, match="Expected primals to be a tuple"):
        EF.jvp(lambda a: a, x, (y,))
    with pytest.raises(RuntimeError, match="different size"):
        EF.jvp(lambda a: a, (x,), (ember.ones(4),))
    with pytest.raises(RuntimeError, match="pytree structure of cotangents"):
        EF.vjp(lambda a: a, x)[1]((x, x))


# -- ember.func: Jacobians and Hessians ---------------------------------------------------------
def test_jacrev_jacfwd_structures_match_torch(torch, rng):
    (x, xt), (y, yt) = _pair(torch, rng, 3), _pair(torch, rng, 2, 3)
    TF = torch.func

    def f(a, b):
        return (b @ a.exp(), {"s": a.sum() * b})

    for ours, ref in ((EF.jacrev, TF.jacrev), (EF.jacfwd, TF.jacfwd)):
        _close(ours(f)(x, y), ref(f)(xt, yt))
        _close(ours(f, argnums=(0, 1))(x, y), ref(f, argnums=(0, 1))(xt, yt))
        _close(ours(lambda d: d["a"].sin() * d["b"])({"a": x, "b": x}),
               ref(lambda d: d["a"].sin() * d["b"])({"a": xt, "b": xt}))
        _close(ours(lambda a: (a.sin(), a.cos()), has_aux=True)(x),
               ref(lambda a: (a.sin(), a.cos()), has_aux=True)(xt))


def test_hessian_and_nested_jacobians_of_an_mlp(torch, rng):
    (w1, w1t), (w2, w2t) = _pair(torch, rng, 3, 4), _pair(torch, rng, 4, 1)
    x, xt = _pair(torch, rng, 3)
    f, ft = _mlp(w1, w2), _mlp(w1t, w2t)

    def scalar(lib_f):
        return lambda a: lib_f(a).sum()

    TF = torch.func
    _close(EF.hessian(scalar(f))(x), TF.hessian(scalar(ft))(xt))
    _close(EF.jacrev(EF.jacrev(scalar(f)))(x), TF.jacrev(TF.jacrev(scalar(ft)))(xt))
    _close(EF.hessian(lambda a, b: (a * b.exp()).sum(), argnums=(0, 1))(x, x),
           TF.hessian(lambda a, b: (a * b.exp()).sum(), argnums=(0, 1))(xt, xt))


# -- ember.func: vmap --------------------------------------------------------------------------
def test_vmap_in_dims_out_dims_variants(torch, rng):
    (a, at), (b, bt) = _pair(torch, rng, 4, 3), _pair(torch, rng, 3, 4)
    (c, ct) = _pair(torch, rng, 3)
    TF = torch.func
    _close(EF.vmap(ember.dot)(a, b.T), TF.vmap(torch.dot)(at, bt.T))
    _close(EF.vmap(lambda x, y: x * y, in_dims=(0, 1))(a, b),
           TF.vmap(lambda x, y: x * y, in_dims=(0, 1))(at, bt))
    _close(EF.vmap(lambda x, y: x + y, in_dims=(1, None), out_dims=1)(b, c[:3]),
           TF.vmap(lambda x, y: x + y, in_dims=(1, None), out_dims=1)(bt, ct[:3]))
    _close(EF.vmap(lambda d: d["x"] * d["y"][0], in_dims=({"x": 0, "y": [None]},))(
               {"x": a, "y": [c]}),
           TF.vmap(lambda d: d["x"] * d["y"][0], in_dims=({"x": 0, "y": [None]},))(
               {"x": at, "y": [ct]}))
    _close(EF.vmap(lambda x: (x.sum(), {"m": x * 2}), out_dims=(0, {"m": 1}))(a),
           TF.vmap(lambda x: (x.sum(), {"m": x * 2}), out_dims=(0, {"m": 1}))(at))
    _close(EF.vmap(lambda x, scale=1.0: x * scale, in_dims=-1)(b, scale=3.0),
           TF.vmap(lambda x, scale=1.0: x * scale, in_dims=-1)(bt, scale=3.0))
    _close(EF.vmap(EF.vmap(lambda x: x ** 2))(a), TF.vmap(TF.vmap(lambda x: x ** 2))(at))
    ours = EF.vmap(lambda x: (x * 2, c), out_dims=(0, None))(a)
    assert ours[1] is c


def test_vmap_errors_match_torch():
    a, b = ember.ones(2, 3), ember.ones(3, 3)
    with pytest.raises(ValueError, match="same size in the mapped dimension, got sizes \\[2, 3\\]"):
        EF.vmap(lambda x, y: x + y)(a, b)
    with pytest.raises(ValueError, match="at least one Tensor to vmap over"):
        EF.vmap(lambda x: x, in_dims=(None,))(a)
    with pytest.raises(ValueError, match="in_dims is not compatible with the structure"):
        EF.vmap(lambda x: x, in_dims=(0, 0))(a)
    with pytest.raises(ValueError, match="expected in_dim to satisfy -2 <= in_dim < 2"):
        EF.vmap(lambda x: x, in_dims=2)(a)
    with pytest.raises(ValueError, match="cannot vmap over non-Tensor arguments"):
        EF.vmap(lambda x, n: x, in_dims=(0, 0))(a, 3)
    with pytest.raises(ValueError, match="must only return Tensors"):
        EF.vmap(lambda x: 3)(a)
    with pytest.raises(ValueError, match="expected `in_dims` to be int"):
        EF.vmap(lambda x: x, in_dims="0")(a)
    with pytest.raises(ValueError, match="out_dims is not compatible"):
        EF.vmap(lambda x: x, out_dims=(0, 0))(a)
    with pytest.raises(ValueError, match="can not return a BatchedTensor when out_dim is None"):
        EF.vmap(lambda x: x, out_dims=None)(ember.arange(3.0))
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        EF.vmap(lambda x: x, randomness="sometimes")


def test_vmap_randomness_modes():
    x = ember.zeros(3, 2)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        EF.vmap(lambda t: t + ember.rand(2))(x)
    same = EF.vmap(lambda t: t + ember.rand(2), randomness="same")(x)
    assert np.allclose(same.numpy(), same.numpy()[0])
    different = EF.vmap(lambda t: t + ember.rand(2), randomness="different")(x)
    assert not np.allclose(different.numpy()[0], different.numpy()[1])


def test_per_sample_gradients_of_a_linear_model_match_torch(torch, rng):
    ember.manual_seed(0)
    model = ember.nn.Linear(4, 3)
    ref = torch.nn.Linear(4, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(model.weight.detach().numpy()))
        ref.bias.copy_(torch.tensor(model.bias.detach().numpy()))
    (x, xt) = _pair(torch, rng, 5, 4)
    labels = rng.integers(0, 3, 5)
    y, yt = ember.tensor(labels), torch.tensor(labels)

    def loss(lib, module, fc):
        def compute(params, sample, target):
            logits = fc(module, params, (sample.unsqueeze(0),))
            return lib.nn.functional.cross_entropy(logits, target.unsqueeze(0))
        return compute

    params = {k: v.detach() for k, v in model.named_parameters()}
    params_t = {k: v.detach() for k, v in ref.named_parameters()}
    ours = EF.vmap(EF.grad(loss(ember, model, EF.functional_call)), in_dims=(None, 0, 0))(
        params, x, y)
    theirs = torch.func.vmap(torch.func.grad(loss(torch, ref, torch.func.functional_call)),
                             in_dims=(None, 0, 0))(params_t, xt, yt)
    _close(ours, theirs)
    assert ours["weight"].shape == (5, 3, 4)
    # the mean of the per-sample gradients is the batch gradient
    ember.nn.functional.cross_entropy(model(x), y).backward()
    np.testing.assert_allclose(ours["weight"].numpy().mean(0), model.weight.grad.numpy(),
                               rtol=1e-5, atol=1e-6)


def test_vmap_of_jacrev_and_grad_of_vmap(torch, rng):
    a, at = _pair(torch, rng, 4, 3)
    TF = torch.func
    _close(EF.vmap(EF.jacrev(lambda x: x.sin() * x.sum()))(a),
           TF.vmap(TF.jacrev(lambda x: x.sin() * x.sum()))(at))
    _close(EF.grad(lambda x: EF.vmap(lambda r: (r ** 2).sum())(x).sum())(a),
           TF.grad(lambda x: TF.vmap(lambda r: (r ** 2).sum())(x).sum())(at))


# -- functional_call and stack_module_state ---------------------------------------------------
class _Net(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = ember.nn.Linear(3, 2)
        self.register_buffer("shift", ember.ones(2))

    def forward(self, x, fail=False):
        if fail:
            raise ValueError("boom")
        return self.fc(x) + self.shift


def test_functional_call_swaps_and_restores():
    net = _Net()
    weight, bias, shift = net.fc.weight, net.fc.bias, net.shift
    new = {"fc.weight": ember.zeros(2, 3), "fc.bias": ember.ones(2), "shift": ember.zeros(2)}
    out = EF.functional_call(net, new, ember.ones(1, 3))
    np.testing.assert_allclose(out.numpy(), [[1.0, 1.0]])
    assert net.fc.weight is weight and net.fc.bias is bias and net.shift is shift
    with pytest.raises(ValueError, match="boom"):
        EF.functional_call(net, new, (ember.ones(1, 3),), {"fail": True})
    assert net.fc.weight is weight and net.shift is shift
    assert isinstance(net.fc.weight, ember.nn.Parameter)
    # a tuple of dicts, as torch allows
    out = EF.functional_call(net, ({"fc.weight": ember.zeros(2, 3)}, {"fc.bias": ember.zeros(2)}),
                             (ember.ones(1, 3),))
    np.testing.assert_allclose(out.numpy(), [[1.0, 1.0]])


def test_functional_call_strict_duplicates_and_tied_weights():
    net = _Net()
    with pytest.raises(RuntimeError, match="Unexpected key\\(s\\): 'foo'.\n\tMissing key\\(s\\): "
                                           "'fc.bias', 'shift'."):
        EF.functional_call(net, {"fc.weight": ember.zeros(2, 3), "foo": ember.ones(1)},
                           (ember.ones(1, 3),), strict=True)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        EF.functional_call(net, ({"shift": ember.ones(2)}, {"shift": ember.ones(2)}),
                           (ember.ones(1, 3),))
    tied = ember.nn.Sequential(ember.nn.Linear(2, 2, bias=False), ember.nn.Linear(2, 2, bias=False))
    tied[1].weight = tied[0].weight
    x = ember.ones(1, 2)
    out = EF.functional_call(tied, {"0.weight": 2 * ember.eye(2)}, (x,))
    np.testing.assert_allclose(out.numpy(), [[4.0, 4.0]])           # both layers replaced
    out = EF.functional_call(tied, {"0.weight": 2 * ember.eye(2)}, (x,), tie_weights=False)
    expected = (2 * x) @ tied[0].weight.detach().T
    np.testing.assert_allclose(out.detach().numpy(), expected.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="which are tied"):
        EF.functional_call(tied, {"0.weight": ember.eye(2), "1.weight": ember.eye(2)}, (x,))


def test_stack_module_state_ensemble_matches_torch(torch, rng):
    ember.manual_seed(0)
    models = [ember.nn.Linear(3, 2) for _ in range(3)]
    refs = [torch.nn.Linear(3, 2) for _ in range(3)]
    with torch.no_grad():
        for m, r in zip(models, refs):
            r.weight.copy_(torch.tensor(m.weight.detach().numpy()))
            r.bias.copy_(torch.tensor(m.bias.detach().numpy()))
    params, buffers = EF.stack_module_state(models)
    assert params["weight"].shape == (3, 2, 3) and params["weight"].is_leaf
    assert params["weight"].requires_grad and buffers == {}
    x, xt = _pair(torch, rng, 4, 3)
    ours = EF.vmap(lambda p, b, x: EF.functional_call(models[0], (p, b), (x,)),
                   in_dims=(0, 0, None))(params, buffers, x)
    pt, bt = torch.func.stack_module_state(refs)
    theirs = torch.func.vmap(lambda p, b, x: torch.func.functional_call(refs[0], (p, b), (x,)),
                             in_dims=(0, 0, None))(pt, bt, xt)
    _close(ours, theirs)
    with pytest.raises(RuntimeError, match="at least one model"):
        EF.stack_module_state([])
    with pytest.raises(RuntimeError, match="same training/eval mode"):
        EF.stack_module_state([ember.nn.Linear(1, 1), ember.nn.Linear(1, 1).eval()])


# -- checkpoint --------------------------------------------------------------------------------
def _model():
    ember.manual_seed(0)
    nn = ember.nn
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 8), nn.ReLU(),
                         nn.Dropout(0.3), nn.Linear(8, 2))


def _grads_after(run, x_requires_grad=True):
    model = _model()
    x = ember.randn(6, 4, generator=ember.Generator().manual_seed(5))
    x.requires_grad_(x_requires_grad)
    ember.manual_seed(1)
    out = run(model, x)
    ember.rand(7)  # the random state moves on before backward
    (out ** 2).sum().backward()
    grads = [p.grad.numpy() for p in model.parameters()]
    return grads + ([x.grad.numpy()] if x_requires_grad else [])


@pytest.mark.parametrize("reentrant", [True, False])
def test_checkpoint_gradients_equal_the_plain_run_with_dropout(reentrant):
    plain = _grads_after(lambda m, x: m(x))
    runs = [lambda m, x: checkpoint(m, x, use_reentrant=reentrant),
            lambda m, x: checkpoint(lambda t: m(t), x, use_reentrant=reentrant),
            lambda m, x: checkpoint_sequential(m, 3, x, use_reentrant=reentrant)]
    for run in runs:
        for a, b in zip(plain, _grads_after(run)):
            np.testing.assert_array_equal(a, b)


def test_non_reentrant_checkpoint_without_input_grad_and_with_autograd_grad():
    plain = _grads_after(lambda m, x: m(x), x_requires_grad=False)
    ours = _grads_after(lambda m, x: checkpoint(m, x, use_reentrant=False), x_requires_grad=False)
    for a, b in zip(plain, ours):
        np.testing.assert_array_equal(a, b)
    model = _model().eval()
    x = ember.randn(2, 4)
    grads = ember.autograd.grad(checkpoint(model, x, use_reentrant=False).sum(),
                                list(model.parameters()))
    expected = ember.autograd.grad(model(x).sum(), list(model.parameters()))
    for a, b in zip(grads, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_checkpoint_keeps_the_forward_off_the_graph_and_supports_double_backward():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    y = checkpoint(lambda t: seen.append(ember.is_grad_enabled()) or (t ** 3).sum(), w,
                   use_reentrant=False)
    (g,) = ember.autograd.grad(y, w, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), w)
    assert seen == [False, True]                         # forward without graph, then recompute
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    np.testing.assert_allclose(gg.numpy(), [6.0, 12.0])


def test_checkpoint_non_tensor_outputs_kwargs_and_determinism_check():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    out, label = checkpoint(lambda t, scale: (t * scale, "tag"), w, scale=3.0, use_reentrant=False)
    assert label == "tag"
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])
    calls = []

    def shape_changes(t):
        calls.append(1)
        return t[: len(calls)] * 2

    y = checkpoint(shape_changes, w, use_reentrant=False)
    with pytest.raises(CheckpointError, match="different metadata"):
        y.sum().backward()


def test_checkpoint_use_reentrant_warning_and_argument_errors():
    w = ember.tensor([1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda t: t * 2, w)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint_sequential([lambda t: t * 2], 1, w)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, w, scale=2.0, use_reentrant=True)
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        checkpoint(lambda t: t, w, use_reentrant=True, debug=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda t: t * 2, w, use_reentrant=False)       # passed explicitly: silent


def test_torch_checkpoint_warns_the_same_way(torch):
    w = torch.ones(1, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        torch.utils.checkpoint.checkpoint(lambda t: t * 2, w)


# -- devices -----------------------------------------------------------------------------------
def test_jacrev_functional_call_and_vmap_stay_on_the_device(fake_cuda):
    x = ember.tensor([0.5, -1.0, 2.0], device="cuda")
    jac = EF.jacrev(lambda a: a.sin() * a.sum())(x)
    assert type(jac._data) is FakeCudaArray and jac.device == ember.device("cuda", 0)
    expected = EF.jacrev(lambda a: a.sin() * a.sum())(x.cpu())
    np.testing.assert_allclose(jac.cpu().numpy(), expected.numpy(), rtol=1e-6)
    net = _Net().to("cuda")
    params = {k: v.detach() for k, v in net.named_parameters()}
    grads = EF.vmap(EF.grad(lambda p, s: EF.functional_call(net, p, (s,)).sum()),
                    in_dims=(None, 0))(params, ember.ones(4, 3, device="cuda"))
    for g in grads.values():
        assert type(g._data) is FakeCudaArray and g.shape[0] == 4
    assert net.fc.weight.is_cuda and isinstance(net.fc.weight, ember.nn.Parameter)
    h = AF.hessian(lambda a: (a ** 3).sum(), x)
    assert type(h._data) is FakeCudaArray


def test_checkpoint_restores_the_cuda_generator(fake_cuda):
    w = ember.ones(8, device="cuda", requires_grad=True)
    drop = ember.nn.Dropout(0.5)
    ember.manual_seed(3)
    drop(w).sum().backward()
    expected = w.grad.cpu().numpy()
    w.grad = None
    ember.manual_seed(3)
    y = checkpoint(drop, w, use_reentrant=False)
    ember.rand(4, device="cuda")
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.cpu().numpy(), expected)
