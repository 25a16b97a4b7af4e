"""nn.utils beyond clipping, against torch.nn.utils: parametrize (registration, caching,
assignment, removal, errors), parametrizations (orthogonal, weight_norm, spectral_norm), the
hook-based weight_norm and spectral_norm, BatchNorm fusion, skip_init; state dicts moving
between the two libraries both ways, and a parametrized module on the fake cuda device."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.backend.fake_cuda import FakeCudaArray
from ember.nn.utils import parametrizations as PZ
from ember.nn.utils import parametrize as P

RNG = np.random.default_rng(0)




def _np(t):
    return t if isinstance(t, np.ndarray) else t.detach().cpu().numpy()


def _to_ember(em, tm, strict=True):
    """Loads torch module tm's state into ember module em."""
    return em.load_state_dict({k: _np(v) for k, v in tm.state_dict().items()}, strict=strict)


def _to_torch(tm, em, torch):
    tm.load_state_dict({k: torch.tensor(_np(v)) for k, v in em.state_dict().items()})


def _twins(torch, make):
    """make(lib) in both libraries, ember's holding torch's values."""
    tm, em = make(torch), make(ember)
    _to_ember(em, tm)
    return tm, em


def _randomize(tm, em, torch, skip=("_u", "_v", "base")):
    """Gives both modules the same random values for every state entry but ``skip``."""
    state = {k: _np(v) for k, v in tm.state_dict().items()}
    for k, v in state.items():
        if not k.endswith(skip):
            state[k] = RNG.standard_normal(v.shape).astype(v.dtype) * 0.5
    tm.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    em.load_state_dict(state)


def _close(e, t, tol=2e-5):
    np.testing.assert_allclose(_np(e), _np(t), rtol=tol, atol=tol)


def _check_forward_and_grads(tm, em, torch, x_shape, tol=2e-5):
    x = RNG.standard_normal(x_shape).astype(np.float32)
    ty, ey = tm(torch.tensor(x)), em(ember.tensor(x))
    _close(ey, ty, tol)
    (ty ** 2).sum().backward()
    (ey ** 2).sum().backward()
    t_params, e_params = dict(tm.named_parameters()), dict(em.named_parameters())
    assert list(t_params) == list(e_params)
    for name, p in t_params.items():
        _close(e_params[name].grad, p.grad, tol)


# -- parametrizations against torch -------------------------------------------------------------
ORTHOGONAL = [dict(), dict(orthogonal_map="cayley"), dict(orthogonal_map="householder"),
              dict(orthogonal_map="householder", use_trivialization=False),
              dict(orthogonal_map="matrix_exp", use_trivialization=False)]
CASES = ([("orthogonal", kw) for kw in ORTHOGONAL]
         + [("weight_norm", dict()), ("weight_norm", dict(dim=None)),
            ("weight_norm", dict(dim=1)), ("spectral_norm", dict()),
            ("spectral_norm", dict(n_power_iterations=3, eps=1e-6))])


@pytest.mark.parametrize("kind,kwargs", CASES)
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_parametrizations_match_torch(torch, kind, kwargs, shape):
    tm, em = _twins(torch, lambda lib: lib.nn.Linear(shape[1], shape[0]))
    t_weight = _np(tm.weight)
    getattr(torch.nn.utils.parametrizations, kind)(tm, **kwargs)
    getattr(PZ, kind)(em, **kwargs)
    assert type(em).__name__ == "ParametrizedLinear"
    assert P.type_before_parametrizations(em) is nn.Linear
    assert list(em.state_dict()) == list(tm.state_dict())
    if kind == "weight_norm":  # registering leaves the weight as it was
        _close(em.weight, t_weight, 1e-6)
    elif kind == "orthogonal":  # the Q of the weight's QR (columns only: base's rest is random)
        _close(em.weight, tm.weight, 1e-5)
    _randomize(tm, em, torch)
    _check_forward_and_grads(tm, em, torch, (2, shape[1]))
    if kind == "spectral_norm":  # the forward advanced u and v identically
        _close(em.parametrizations.weight[0]._u, tm.parametrizations.weight[0]._u, 1e-5)
    round_trip = torch.nn.Linear(shape[1], shape[0])
    getattr(torch.nn.utils.parametrizations, kind)(round_trip, **kwargs)
    _to_torch(round_trip, em, torch)
    x = torch.randn(2, shape[1])
    em.eval(), round_trip.eval()
    _close(em(ember.tensor(x.numpy())), round_trip(x))


def test_orthogonal_gives_orthogonal_weights_on_batches_and_convs():
    m = PZ.orthogonal(nn.Conv2d(3, 3, 1))  # weight (3, 3, 1, 1): a batch of 1x1 matrices
    assert m.parametrizations.weight[0].orthogonal_map.name == "matrix_exp"  # 1x1 matrices
    for shape, omap in [((2, 4, 3), "matrix_exp"), ((2, 3, 4), "cayley"), ((4, 3), None)]:
        holder = nn.Module()
        holder.register_buffer("w", ember.randn(*shape))
        PZ.orthogonal(holder, "w", omap)
        w = holder.w
        gram = w.mT @ w if shape[-2] >= shape[-1] else w @ w.mT
        np.testing.assert_allclose(_np(gram), np.broadcast_to(np.eye(min(shape[-2:])),
                                                              gram.shape), atol=1e-5)
        assert "w" not in dict(holder.named_parameters())  # a buffer stays a buffer
        assert "parametrizations.w.original" in holder.state_dict()
        with ember.no_grad():
            holder.parametrizations.w.original.add_(0.1)  # its own, writable memory


def test_orthogonal_assignment_matches_torch(torch):
    q = np.linalg.qr(RNG.standard_normal((5, 5)))[0].astype(np.float32)
    for kwargs in [dict(), dict(orthogonal_map="householder", use_trivialization=False)]:
        tm, em = _twins(torch, lambda lib: lib.nn.Linear(5, 5))
        torch.nn.utils.parametrizations.orthogonal(tm, **kwargs)
        PZ.orthogonal(em, **kwargs)
        original = em.parametrizations.weight.original
        tm.weight, em.weight = torch.tensor(q), ember.tensor(q)
        _close(em.weight, tm.weight, 1e-5)
        _close(em.weight, q, 1e-5)
        assert em.parametrizations.weight.original is original  # assigned in place
    em = PZ.orthogonal(nn.Linear(4, 4), use_trivialization=False)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        em.weight = ember.eye(4)


def test_parametrization_errors_match_torch(torch):
    for lib, utils in [(torch, torch.nn.utils), (ember, nn.utils)]:
        with pytest.raises(ValueError, match="no parameter or buffer with name 'nope'"):
            utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), "nope")
        with pytest.raises(ValueError, match="Expected a matrix"):
            utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), "bias")
        with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
            utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), orthogonal_map="qr")
        with pytest.raises(IndexError, match="Dimension out of range"):
            utils.parametrizations.spectral_norm(lib.nn.Linear(3, 3), dim=2)
        with pytest.raises(ValueError, match="n_power_iterations to be positive"):
            utils.parametrizations.spectral_norm(lib.nn.Linear(3, 3), n_power_iterations=0)
        m = utils.parametrizations.orthogonal(lib.nn.Linear(3, 4))
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices of shape"):
            m.weight = lib.zeros(4, 4)


# -- parametrize ---------------------------------------------------------------------------------
def _parametrizations(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

        def right_inverse(self, A):
            return A.triu()

    class Scale(lib.nn.Module):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def forward(self, X):
            return X * self.factor

        def right_inverse(self, A):
            return A / self.factor

    class Sum(lib.nn.Module):  # two original tensors
        def forward(self, a, b):
            return a + b

        def right_inverse(self, A):
            return A * 0.75, A * 0.25

    class Flatten(lib.nn.Module):  # changes the shape: unsafe only
        def forward(self, X):
            return X.reshape(-1)

    class WrongInverse(lib.nn.Module):
        def forward(self, X):
            return X

        def right_inverse(self, A):
            return A[:1]

    class NoInverse(lib.nn.Module):
        def forward(self, X):
            return X * 2

    class NotATensor(lib.nn.Module):
        def forward(self, X):
            return X

        def right_inverse(self, A):
            return 3

    return Symmetric, Scale, Sum, Flatten, WrongInverse, NoInverse, NotATensor


def test_register_chain_assign_and_remove_match_torch(torch):
    results = {}
    for lib, utils in [(torch, torch.nn.utils), (ember, nn.utils)]:
        Symmetric, Scale, Sum, *_ = _parametrizations(lib)
        lin = lib.nn.Linear(3, 3)
        lin.load_state_dict({"weight": lib.tensor(np.arange(9.0, dtype=np.float32)
                                                  .reshape(3, 3)), "bias": lib.zeros(3)})
        weight = lin.weight
        utils.parametrize.register_parametrization(lin, "weight", Symmetric())
        utils.parametrize.register_parametrization(lin, "weight", Scale(2.0))
        assert lin.parametrizations.weight.original is weight  # kept for the optimizer
        out = [_np(lin.weight)]
        lin.weight = lib.tensor(np.ones((3, 3), np.float32) * 4)  # right_inverse of both
        out += [_np(lin.weight), _np(lin.parametrizations.weight.original)]
        utils.parametrize.remove_parametrizations(lin, "weight", leave_parametrized=False)
        assert lin.weight is weight and not utils.parametrize.is_parametrized(lin)
        assert type(lin) is lib.nn.Linear
        out.append(_np(lin.weight))
        two = lib.nn.Linear(2, 2)
        two.load_state_dict({"weight": lib.ones(2, 2), "bias": lib.zeros(2)})
        utils.parametrize.register_parametrization(two, "weight", Sum())
        out += [_np(two.parametrizations.weight.original0), _np(two.weight)]
        out.append(list(two.state_dict()))
        assert utils.parametrize.is_parametrized(two, "weight")
        assert not utils.parametrize.is_parametrized(two, "bias")
        utils.parametrize.remove_parametrizations(two, "weight")
        assert isinstance(two.weight, lib.nn.Parameter) and two.weight.requires_grad
        out += [_np(two.weight), list(two.state_dict())]
        results[lib.__name__] = out
    for e, t in zip(results["ember"], results["torch"]):
        assert e == t if isinstance(e, list) else np.array_equal(e, t)


def test_registration_errors_match_torch(torch):
    for lib, utils in [(torch, torch.nn.utils), (ember, nn.utils)]:
        Symmetric, Scale, Sum, Flatten, WrongInverse, NoInverse, NotATensor = \
            _parametrizations(lib)
        register = utils.parametrize.register_parametrization
        with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
            register(lib.nn.Linear(3, 3), "missing", Symmetric())
        with pytest.raises(ValueError, match="may not change the shape"):
            register(lib.nn.Linear(3, 3), "weight", Flatten())
        register(lib.nn.Linear(3, 3), "weight", Flatten(), unsafe=True)
        with pytest.raises(ValueError, match="may not change the shape"):
            register(lib.nn.Linear(3, 3), "weight", WrongInverse())
        m = register(lib.nn.Linear(3, 3), "weight", Symmetric())
        with pytest.raises(ValueError, match="right_inverse must have the same shape"):
            register(m, "weight", WrongInverse())
        with pytest.raises(ValueError, match="does not have a parametrization on bias"):
            utils.parametrize.remove_parametrizations(m, "bias")
        two = register(lib.nn.Linear(2, 2), "weight", Sum())
        with pytest.raises(ValueError, match="Cannot leave unparametrized"):
            utils.parametrize.remove_parametrizations(two, "weight", leave_parametrized=False)
        with pytest.raises(ValueError, match="must return a Tensor or a Sequence"):
            register(lib.nn.Linear(2, 2), "weight", NotATensor())
        no_inverse = register(lib.nn.Linear(2, 2), "weight", NoInverse())
        with pytest.raises(RuntimeError, match="does not implement right_inverse"):
            no_inverse.weight = lib.ones(2, 2)
        with pytest.raises(RuntimeError, match="Serialization of parametrized modules"):
            pickle.dumps(m)


def test_cached_computes_once_and_forgets_on_exit():
    calls = []

    class Counting(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 2

    m = P.register_parametrization(nn.Linear(3, 3), "weight", Counting())
    calls.clear()  # registration checked the output once
    m.weight, m.weight
    assert len(calls) == 2
    with P.cached():
        first = m.weight
        with P.cached():
            assert m.weight is first
        assert m(ember.randn(2, 3)) is not None and m.weight is first
    assert len(calls) == 3
    assert m.weight is not first and len(calls) == 4 and not P._cache


def test_deepcopy_and_transfer():
    m = PZ.weight_norm(nn.Linear(3, 2))
    clone = copy.deepcopy(m)
    np.testing.assert_array_equal(_np(clone.weight), _np(m.weight))
    assert clone.parametrizations.weight.original0 is not m.parametrizations.weight.original0
    target = nn.Linear(3, 2)
    P.transfer_parametrizations_and_params(m, target)
    assert target.parametrizations.weight.original1 is m.parametrizations.weight.original1
    np.testing.assert_array_equal(_np(target.weight), _np(m.weight))


def test_parametrized_buffer_and_optimizer_step():
    m = nn.Linear(3, 3)
    opt = ember.optim.SGD(m.parameters(), lr=0.1)
    Symmetric = _parametrizations(ember)[0]
    P.register_parametrization(m, "weight", Symmetric())
    m(ember.randn(4, 3)).sum().backward()
    before = _np(m.weight)
    opt.step()  # the optimizer built before registration still updates the original
    assert not np.array_equal(_np(m.weight), before)
    np.testing.assert_array_equal(_np(m.weight), _np(m.weight).T)


# -- weight norm and spectral norm ---------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, None, -2])
def test_weight_norm_parametrization_on_conv(torch, dim):
    tm, em = _twins(torch, lambda lib: lib.nn.Conv2d(2, 3, 3))
    torch.nn.utils.parametrizations.weight_norm(tm, dim=dim)
    PZ.weight_norm(em, dim=dim)
    assert em.parametrizations.weight.original0.shape == tm.parametrizations.weight.original0.shape
    _close(em.parametrizations.weight.original0, tm.parametrizations.weight.original0)
    _randomize(tm, em, torch)
    _check_forward_and_grads(tm, em, torch, (2, 2, 5, 5))


def test_weight_norm_parametrization_loads_old_keys(torch):
    old = torch.nn.Linear(4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.nn.utils.weight_norm(old)
    em = PZ.weight_norm(nn.Linear(4, 3))
    assert _to_ember(em, old) is not None
    _close(em.weight, old.weight)


@pytest.mark.parametrize("make,dim", [(lambda lib: lib.nn.Conv2d(2, 4, 3), None),
                                      (lambda lib: lib.nn.ConvTranspose2d(2, 4, 3), None),
                                      (lambda lib: lib.nn.Linear(5, 3), 1)])
def test_spectral_norm_power_iteration_step_for_step(torch, make, dim):
    tm, em = _twins(torch, make)
    torch.nn.utils.parametrizations.spectral_norm(tm, n_power_iterations=2, dim=dim)
    PZ.spectral_norm(em, n_power_iterations=2, dim=dim)
    t_sn, e_sn = tm.parametrizations.weight[0], em.parametrizations.weight[0]
    assert e_sn.dim == t_sn.dim and list(em.state_dict()) == list(tm.state_dict())
    _to_ember(em, tm)  # the same (random) u and v
    x_shape = (2, 5) if isinstance(tm, torch.nn.Linear) else (2, 2, 6, 6)
    u_buffer = e_sn._u
    for _ in range(3):  # training: every access advances u and v
        _close(em.weight, tm.weight, 1e-5)
        _close(e_sn._u, t_sn._u, 1e-5)
        _close(e_sn._v, t_sn._v, 1e-5)
    assert e_sn._u is u_buffer  # updated in place
    _check_forward_and_grads(tm, em, torch, x_shape, 1e-4)
    tm.eval(), em.eval()
    frozen = _np(e_sn._u)
    for _ in range(2):
        _close(em.weight, tm.weight, 1e-5)
    np.testing.assert_array_equal(_np(e_sn._u), frozen)
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    P.remove_parametrizations(em, "weight")
    assert list(em.state_dict()) == list(tm.state_dict())
    _close(em.weight, tm.weight, 1e-5)


def test_spectral_norm_of_a_vector_normalizes_it():
    m = PZ.spectral_norm(nn.Linear(3, 4), "bias")
    np.testing.assert_allclose(np.linalg.norm(_np(m.bias)), 1.0, rtol=1e-6)
    assert list(m.parametrizations.bias[0]._buffers) == []


def test_hook_weight_norm_matches_torch(torch):
    tm, em = _twins(torch, lambda lib: lib.nn.Conv1d(3, 4, 3))
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        nn.utils.weight_norm(em, dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.nn.utils.weight_norm(tm, dim=1)
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias", "weight_g", "weight_v"]
    _randomize(tm, em, torch)
    _check_forward_and_grads(tm, em, torch, (2, 3, 7))
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        nn.utils.weight_norm(em, dim=1)
    torch.nn.utils.remove_weight_norm(tm)
    nn.utils.remove_weight_norm(em)
    assert list(em.state_dict()) == list(tm.state_dict())
    assert isinstance(em.weight, nn.Parameter) and not em._forward_pre_hooks
    _close(em.weight, tm.weight)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(em)


def test_hook_spectral_norm_matches_torch(torch):
    tm, em = _twins(torch, lambda lib: lib.nn.ConvTranspose1d(3, 4, 2))
    torch.nn.utils.spectral_norm(tm)
    nn.utils.spectral_norm(em)
    assert list(em.state_dict()) == list(tm.state_dict())
    assert em.weight_u.shape == tm.weight_u.shape  # dim 1 for transposed convolutions
    _randomize(tm, em, torch, skip=())
    x = RNG.standard_normal((2, 3, 5)).astype(np.float32)
    for _ in range(3):
        _close(em(ember.tensor(x)), tm(torch.tensor(x)), 1e-4)
        _close(em.weight_u, tm.weight_u, 1e-5)
        _close(em.weight_v, tm.weight_v, 1e-5)
    tm.eval(), em.eval()
    frozen = _np(em.weight_v)
    _check_forward_and_grads(tm, em, torch, (2, 3, 5), 1e-4)
    np.testing.assert_array_equal(_np(em.weight_v), frozen)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(em)
    torch.nn.utils.remove_spectral_norm(tm)
    nn.utils.remove_spectral_norm(em)
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    _close(em.weight, tm.weight, 1e-5)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(em)


# -- fusion and the rest -------------------------------------------------------------------------
@pytest.mark.parametrize("conv_cls,transpose,bias,affine", [
    ("Conv2d", False, True, True), ("Conv1d", False, False, False),
    ("ConvTranspose2d", True, True, True)])
def test_fuse_conv_bn_matches_unfused_and_torch(torch, conv_cls, transpose, bias, affine):
    def make(lib):
        conv = getattr(lib.nn, conv_cls)(3, 4, 3, bias=bias)
        bn = (lib.nn.BatchNorm2d if conv_cls.endswith("2d") else lib.nn.BatchNorm1d)(
            4, affine=affine)
        return lib.nn.Sequential(conv, bn)
    tm, em = _twins(torch, make)
    _randomize(tm, em, torch, skip=("num_batches_tracked", "running_var"))
    tm.eval(), em.eval()
    fused = nn.utils.fuse_conv_bn_eval(em[0], em[1], transpose=transpose)
    t_fused = torch.nn.utils.fuse_conv_bn_eval(tm[0], tm[1], transpose=transpose)
    assert isinstance(fused.bias, nn.Parameter) and fused is not em[0]
    _close(fused.weight, t_fused.weight, 1e-6)
    _close(fused.bias, t_fused.bias, 1e-6)
    x = ember.randn(2, 3, *([6, 6] if conv_cls.endswith("2d") else [6]))
    _close(fused(x), em(x), 1e-5)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        nn.utils.fuse_conv_bn_eval(em[0].train(), em[1])


def test_fuse_linear_bn_matches_unfused(torch):
    tm, em = _twins(torch, lambda lib: lib.nn.Sequential(lib.nn.Linear(5, 4),
                                                         lib.nn.BatchNorm1d(4)))
    _randomize(tm, em, torch, skip=("num_batches_tracked", "running_var"))
    tm.eval(), em.eval()
    fused = nn.utils.fuse_linear_bn_eval(em[0], em[1])
    t_fused = torch.nn.utils.fuse_linear_bn_eval(tm[0], tm[1])
    _close(fused.weight, t_fused.weight, 1e-6)
    _close(fused.bias, t_fused.bias, 1e-6)
    x = ember.randn(3, 5)
    _close(fused(x), em(x), 1e-5)
    with pytest.raises(AssertionError, match="bn.num_features"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(5, 3).eval(), em[1])


def test_parameters_to_vector_of_a_parametrized_module():
    m = PZ.weight_norm(nn.Linear(3, 2))
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert vec.numel() == 2 + 2 + 6
    nn.utils.vector_to_parameters(ember.arange(10.0), m.parameters())
    np.testing.assert_array_equal(_np(vec.detach()) * 0, 0)
    assert m.parametrizations.weight.original0.tolist() == [[2.0], [3.0]]
    expected = nn.utils.parameters_to_vector(m.parameters())
    np.testing.assert_array_equal(_np(expected), np.arange(10.0))


def test_skip_init():
    m = nn.utils.skip_init(nn.Linear, 5, 1, bias=False)
    assert type(m) is nn.Linear and m.weight.shape == (1, 5) and m.bias is None
    with pytest.raises(RuntimeError, match="Expected a Module"):
        nn.utils.skip_init(int)
    with pytest.raises(RuntimeError, match="support a 'device' arg"):
        nn.utils.skip_init(nn.ReLU)


def test_names_match_torch(torch):
    missing = {"convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"}
    assert set(torch.nn.utils.__all__) - set(nn.utils.__all__) == missing
    assert set(torch.nn.utils.parametrize.__all__) == set(P.__all__)
    assert set(torch.nn.utils.parametrizations.__all__) == set(PZ.__all__)


# -- devices -------------------------------------------------------------------------------------
def test_parametrized_module_moves_to_the_device(fake_cuda):
    m = nn.Sequential(PZ.spectral_norm(nn.Linear(4, 4)), PZ.orthogonal(nn.Linear(4, 3)),
                      PZ.weight_norm(nn.Linear(3, 2)))
    m.to("cuda")
    for name, t in list(m.named_parameters()) + list(m.named_buffers()):
        assert type(t._data) is FakeCudaArray, name
    y = m(ember.randn(5, 4, device="cuda"))
    assert y.is_cuda
    y.sum().backward()
    assert all(p.grad.is_cuda for p in m.parameters())
    assert m[0].parametrizations.weight[0]._u.is_cuda  # the power iteration stayed there
    q = ember.linalg.qr(ember.randn(4, 3, device="cuda"))[0].T
    m[1].weight = q  # right_inverse on the device: QR, a random completion, the base buffer
    assert m[1].parametrizations.weight[0].base.is_cuda
    _close(m[1].weight, q, 1e-5)
    P.remove_parametrizations(m[1], "weight")
    assert m[1].weight.is_cuda and isinstance(m[1].weight, nn.Parameter)
    householder = PZ.orthogonal(nn.Linear(3, 4).to("cuda"), use_trivialization=False)
    householder.weight = q.T  # geqrf on the device
    assert householder.parametrizations.weight.original.is_cuda
    _close(householder.weight, q.T, 1e-5)


def test_stateless_functional_call_is_the_func_one():
    m = PZ.weight_norm(nn.Linear(3, 2))
    x = ember.randn(4, 3)
    v = ember.ones(2, 3)
    with pytest.warns(FutureWarning, match="ember.func.functional_call"):
        y = nn.utils.stateless.functional_call(
            m, {"parametrizations.weight.original1": v}, (x,))
    g = m.parametrizations.weight.original0
    expected = x @ (g * v / v.norm(dim=1, keepdim=True)).T + m.bias
    _close(y, expected, 1e-6)
    assert m.parametrizations.weight.original1 is not v


def test_functional_call_with_the_plain_name_bypasses_the_parametrization():
    m = nn.Linear(3, 2)

    class Double(nn.Module):
        def forward(self, X):
            return X * 2
    P.register_parametrization(m, "weight", Double())
    before = m.weight.detach().numpy().copy()
    w = ember.ones(2, 3)
    y = ember.func.functional_call(m, {"weight": w, "bias": ember.zeros(2)}, (ember.ones(1, 3),))
    np.testing.assert_allclose(y.numpy(), [[3.0, 3.0]])
    np.testing.assert_allclose(m.weight.detach().numpy(), before)  # restored after the call
