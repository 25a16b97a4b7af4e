"""The long tail of torch's API: the LU family and torch's older linalg spellings, the
top-level nn.functional aliases, global switches, set_printoptions, Tensor extras (resize_,
apply_, post-accumulate hooks, samplers), DistributedSampler and StackDataset; all checked
against PyTorch."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember
from ember.backend.fake_cuda import FakeCudaArray

RNG = np.random.default_rng(0)


def _np(t):
    return t.detach().cpu().numpy()


def _close(ours, theirs, atol=1e-10, rtol=1e-7):
    np.testing.assert_allclose(_np(ours), theirs.detach().numpy(), atol=atol, rtol=rtol)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]


def _pair(torch, a, requires_grad=False):
    """The same float64 array as an ember and a torch tensor."""
    return (ember.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


# -- the LU family -------------------------------------------------------------------------------
LU_SHAPES = [(4, 4), (5, 3), (3, 5), (2, 6, 6), (2, 1, 4, 3), (40, 40)]


@pytest.mark.parametrize("shape", LU_SHAPES)
def test_lu_factor_and_lu_match_torch(torch, shape):
    a = RNG.standard_normal(shape)
    e, t = _pair(torch, a)
    ours, theirs = ember.linalg.lu_factor_ex(e), torch.linalg.lu_factor_ex(t)
    _close(ours.LU, theirs.LU)
    _close(ours.pivots, theirs.pivots)
    _close(ours.info, theirs.info)
    for x, y in zip(ember.linalg.lu(e), torch.linalg.lu(t)):
        _close(x, y)
    assert type(ours).__name__ == "linalg_lu_factor_ex"
    assert ember.linalg.lu(e)._fields == ("P", "L", "U")


@pytest.mark.parametrize("shape", LU_SHAPES)
def test_lu_gradients_match_torch(torch, shape):
    a, w = RNG.standard_normal(shape), RNG.standard_normal(shape)
    e, t = _pair(torch, a, requires_grad=True)
    (ember.linalg.lu_factor(e).LU * ember.tensor(w)).sum().backward()
    (torch.linalg.lu_factor(t).LU * torch.tensor(w)).sum().backward()
    _close(e.grad, t.grad, atol=1e-8)
    e.grad = t.grad = None
    _, L, U = ember.linalg.lu(e)
    (L.sin().sum() + (U ** 2).sum()).backward()
    _, L, U = torch.linalg.lu(t)
    (L.sin().sum() + (U ** 2).sum()).backward()
    _close(e.grad, t.grad, atol=1e-8)


@pytest.mark.parametrize("shape", [(3, 3), (3, 4), (4, 2)])
def test_lu_gradcheck(shape):
    a = ember.tensor(RNG.standard_normal(shape) + 3 * np.eye(*shape), requires_grad=True)
    assert ember.autograd.gradcheck(lambda x: ember.linalg.lu_factor(x).LU, (a,))
    assert ember.autograd.gradgradcheck(lambda x: ember.linalg.lu_factor(x).LU, (a,))


def test_lu_singular_matrices(torch):
    a = np.array([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]])
    e, t = _pair(torch, a)
    _close(ember.linalg.lu_factor_ex(e).info, torch.linalg.lu_factor_ex(t).info)
    with pytest.raises(ember.linalg.LinAlgError, match=r"Batch element 0\): U\[2,2\] is zero"):
        ember.linalg.lu_factor(e)
    with pytest.raises(ember.linalg.LinAlgError):
        ember.linalg.lu_factor_ex(e, check_errors=True)
    LU, pivots = ember.lu(ember.zeros(2, 2))  # torch.lu does not raise
    result = ember.lu(ember.zeros(2, 2), get_infos=True)
    assert type(result).__name__ == "_lu_with_info" and result.info.tolist() == 1
    assert type(ember.lu(ember.eye(2))) is tuple


def test_lu_without_pivoting():
    a = ember.tensor(RNG.standard_normal((2, 4, 4)) + 4 * np.eye(4))
    LU, pivots = ember.linalg.lu_factor(a, pivot=False)
    assert pivots.tolist() == [[1, 2, 3, 4]] * 2
    P, L, U = ember.linalg.lu(a, pivot=False)
    assert P.numel() == 0
    np.testing.assert_allclose(_np(L @ U), _np(a), atol=1e-12)


def test_lu_unpack_matches_torch(torch):
    a = RNG.standard_normal((2, 5, 3))
    LU, piv = ember.linalg.lu_factor(ember.tensor(a))
    tLU, tpiv = torch.linalg.lu_factor(torch.tensor(a))
    for flags in [(True, True), (False, True), (True, False)]:
        ours, theirs = ember.lu_unpack(LU, piv, *flags), torch.lu_unpack(tLU, tpiv, *flags)
        assert type(ours).__name__ == "lu_unpack"
        for x, y in zip(ours, theirs):
            _close(x, y)
    with pytest.raises(RuntimeError, match="int32"):
        ember.lu_unpack(LU, piv.long())
    with pytest.raises(RuntimeError, match="pivots must lie"):
        ember.lu_unpack(LU, piv * 0)


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_lu_solve_matches_torch(torch, left, adjoint):
    a, b = RNG.standard_normal((2, 4, 4)), RNG.standard_normal((3, 1, 4, 2) if left else (2, 4))
    e, t = _pair(torch, a, requires_grad=True)
    eb, tb = _pair(torch, b, requires_grad=True)
    ours = ember.linalg.lu_solve(*ember.linalg.lu_factor(e), eb, left=left, adjoint=adjoint)
    theirs = torch.linalg.lu_solve(*torch.linalg.lu_factor(t), tb, left=left, adjoint=adjoint)
    _close(ours, theirs, atol=1e-9)
    ours.sin().sum().backward()
    theirs.sin().sum().backward()
    _close(e.grad, t.grad, atol=1e-8)
    _close(eb.grad, tb.grad, atol=1e-8)


def test_old_lu_solve_and_methods(torch):
    a, b = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 2))
    e, t = _pair(torch, a)
    eb, tb = _pair(torch, b)
    _close(ember.lu_solve(eb, *e.lu()), torch.lu_solve(tb, *t.lu()))
    _close(eb.lu_solve(*ember.lu(e)), torch.linalg.solve(t, tb))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        ember.linalg.lu_solve(*ember.linalg.lu_factor(e), ember.ones(4, 1, dtype=ember.float64))


# -- torch's older linalg spellings --------------------------------------------------------------
def _spd(n, batch=()):
    m = RNG.standard_normal(batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def test_svd_old_api(torch):
    a = RNG.standard_normal((2, 5, 3))
    e, t = _pair(torch, a, requires_grad=True)
    for some in (True, False):
        ours, theirs = ember.svd(e, some=some), torch.svd(t, some=some)
        assert ours._fields == ("U", "S", "V") and type(ours).__name__ == "svd"
        for x, y in zip(ours, theirs):
            assert tuple(x.shape) == tuple(y.shape)
        _close(ours.S, theirs.S)
    U, S, V = ember.svd(e)
    (U @ ember.diag_embed(S) @ V.mT).square().sum().backward()
    U, S, V = torch.svd(t)
    (U @ torch.diag_embed(S) @ V.mT).square().sum().backward()
    _close(e.grad, t.grad, atol=1e-9)
    U, S, V = e.svd(compute_uv=False)
    assert tuple(U.shape) == (2, 5, 5) and tuple(V.shape) == (2, 3, 3) and not U.abs().sum()


@pytest.mark.parametrize("some", [True, False])
def test_qr_old_api(torch, some):
    a = RNG.standard_normal((4, 3))
    e, t = _pair(torch, a, requires_grad=some)
    ours, theirs = ember.qr(e, some), torch.qr(t, some)
    assert type(ours).__name__ == "qr"
    for x, y in zip(ours, theirs):
        _close(x, y)
    if some:
        (ours.Q.sum() + ours.R.square().sum()).backward()
        (theirs.Q.sum() + theirs.R.square().sum()).backward()
        _close(e.grad, t.grad, atol=1e-9)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_family(torch, upper):
    a, b = _spd(3, (2,)), RNG.standard_normal((2, 3, 2))
    e, t = _pair(torch, a, requires_grad=True)
    eb, tb = _pair(torch, b, requires_grad=True)
    ef, tf = ember.cholesky(e, upper), torch.cholesky(t, upper)
    _close(ef, tf)
    ours = [ember.cholesky_solve(eb, ef, upper), ef.cholesky_inverse(upper)]
    theirs = [torch.cholesky_solve(tb, tf, upper), tf.cholesky_inverse(upper)]
    for x, y in zip(ours, theirs):
        _close(x, y, atol=1e-9)
    sum(x.sin().sum() for x in ours).backward()
    sum(y.sin().sum() for y in theirs).backward()
    _close(e.grad, t.grad, atol=1e-8)
    _close(eb.grad, tb.grad, atol=1e-8)


@pytest.mark.parametrize("upper,transpose,unit", [(True, False, False), (False, True, False),
                                                  (True, True, True)])
def test_triangular_solve(torch, upper, transpose, unit):
    a, b = RNG.standard_normal((3, 3)) + 3 * np.eye(3), RNG.standard_normal((2, 3, 2))
    e, t = _pair(torch, a, requires_grad=True)
    eb, tb = _pair(torch, b, requires_grad=True)
    ours = ember.triangular_solve(eb, e, upper, transpose, unit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.triangular_solve(tb, t, upper, transpose, unit)
    assert ours._fields == ("solution", "cloned_coefficient")
    _close(ours.solution, theirs.solution)
    _close(ours.cloned_coefficient, theirs.cloned_coefficient)
    ours.solution.sum().backward()
    theirs.solution.sum().backward()
    _close(e.grad, t.grad, atol=1e-9)
    _close(eb.grad, tb.grad, atol=1e-9)


def test_logdet_and_aliases(torch):
    a = np.stack([_spd(3), -_spd(3), np.zeros((3, 3))])
    e, t = _pair(torch, a)
    _close(ember.logdet(e), torch.logdet(t))
    e, t = _pair(torch, _spd(3), requires_grad=True)
    e.logdet().backward()
    t.logdet().backward()
    _close(e.grad, t.grad)
    x, tx = _pair(torch, RNG.standard_normal((2, 3, 3)))
    for name, args in [("det", ()), ("inverse", ()), ("pinverse", ()), ("matrix_exp", ()),
                       ("matrix_power", (3,)), ("matrix_power", (-2,))]:
        _close(getattr(ember, name)(x, *args), getattr(torch, name)(tx, *args), atol=1e-9)
        _close(getattr(x, name)(*args), getattr(tx, name)(*args), atol=1e-9)
    for ours, theirs in zip(x.slogdet(), torch.slogdet(tx)):
        _close(ours, theirs)


def test_more_linalg_matches_torch(torch):
    a, v = RNG.standard_normal((2, 4, 4)), RNG.standard_normal((2, 4))
    e, t = _pair(torch, a)
    ev, tv = _pair(torch, v)
    _close(ember.linalg.vecdot(ev, ev), torch.linalg.vecdot(tv, tv))
    _close(ember.linalg.vander(ev, N=3), torch.linalg.vander(tv, N=3))
    _close(ember.linalg.vander(ember.tensor([1, 2, 3])),
           torch.linalg.vander(torch.tensor([1, 2, 3])))
    _close(ember.linalg.diagonal(e, offset=1), torch.linalg.diagonal(t, offset=1))
    for p in (None, 2, -2, "fro", "nuc", 1, float("inf")):
        _close(ember.linalg.cond(e, p), torch.linalg.cond(t, p), atol=1e-8, rtol=1e-8)
    _close(ember.linalg.cond(ember.zeros(2, 2), "fro"),
           torch.linalg.cond(torch.zeros(2, 2), "fro"))
    b = RNG.standard_normal((4, 2, 2))
    _close(ember.linalg.tensorinv(ember.tensor(b), ind=1),
           torch.linalg.tensorinv(torch.tensor(b), ind=1), atol=1e-9)
    big = RNG.standard_normal((2, 3, 6))
    rhs = RNG.standard_normal((2, 3))
    _close(ember.linalg.tensorsolve(ember.tensor(big), ember.tensor(rhs)),
           torch.linalg.tensorsolve(torch.tensor(big), torch.tensor(rhs)), atol=1e-9)
    _close(ember.linalg.tensorsolve(ember.tensor(big).permute(2, 0, 1), ember.tensor(rhs),
                                    dims=(0,)),
           torch.linalg.tensorsolve(torch.tensor(big).permute(2, 0, 1), torch.tensor(rhs),
                                    dims=(0,)), atol=1e-9)


def test_multi_dot_and_chain_matmul(torch):
    shapes = [(5,), (5, 30), (30, 2), (2, 40), (40,)]
    arrays = [RNG.standard_normal(s) for s in shapes]
    ours = ember.linalg.multi_dot([ember.tensor(x, requires_grad=True) for x in arrays])
    _close(ours, torch.linalg.multi_dot([torch.tensor(x) for x in arrays]), atol=1e-9)
    mats = arrays[1:4]
    _close(ember.chain_matmul(*map(ember.tensor, mats)),
           torch.chain_matmul(*map(torch.tensor, mats)), atol=1e-9)
    with pytest.raises(RuntimeError, match="expected at least 2 tensors"):
        ember.linalg.multi_dot([ember.ones(2, 2)])
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        ember.linalg.multi_dot([ember.ones(2, 3), ember.ones(4, 2)])


def test_solve_ex(torch):
    a = np.stack([RNG.standard_normal((3, 3)), np.zeros((3, 3))])
    b = RNG.standard_normal((2, 3))
    ours = ember.linalg.solve_ex(ember.tensor(a), ember.tensor(b))
    theirs = torch.linalg.solve_ex(torch.tensor(a), torch.tensor(b))
    assert type(ours).__name__ == "linalg_solve_ex"
    _close(ours.info, theirs.info)
    _close(ours.result[0], theirs.result[0], atol=1e-10)
    assert ours.result[1].isnan().all()
    with pytest.raises(ember.linalg.LinAlgError):
        ember.linalg.solve_ex(ember.tensor(a), ember.tensor(b), check_errors=True)


def test_householder_geqrf_ormqr(torch):
    a, c = RNG.standard_normal((2, 5, 3)), RNG.standard_normal((2, 5, 4))
    ea, et = ember.geqrf(ember.tensor(a))
    ta, tt = torch.geqrf(torch.tensor(a))
    assert type(ember.geqrf(ember.tensor(a))).__name__ == "geqrf"
    _close(ea, ta)
    _close(et, tt)
    _close(ember.linalg.householder_product(ea, et), torch.linalg.householder_product(ta, tt))
    _close(ea.orgqr(et), ta.orgqr(tt))
    for left in (True, False):
        for transpose in (True, False):
            cc = c if left else np.swapaxes(c, -1, -2)
            _close(ember.ormqr(ea, et, ember.tensor(cc), left, transpose),
                   torch.ormqr(ta, tt, torch.tensor(cc), left, transpose), atol=1e-12)
    x, tx = _pair(torch, a, requires_grad=True)
    y, ty = _pair(torch, RNG.random((2, 3)), requires_grad=True)
    ember.linalg.householder_product(x, y).sin().sum().backward()
    torch.linalg.householder_product(tx, ty).sin().sum().backward()
    _close(x.grad, tx.grad, atol=1e-9)
    _close(y.grad, ty.grad, atol=1e-9)
    with pytest.raises(RuntimeError, match="derivative of linalg.geqrf"):
        ember.geqrf(x)[0].sum().backward()


def test_small_linalg_aliases(torch):
    a = RNG.standard_normal((2, 3, 4))
    e, t = _pair(torch, a)
    _close(ember.adjoint(e), torch.adjoint(t))
    _close(ember.frobenius_norm(e, (1, 2)), torch.frobenius_norm(t, (1, 2)))
    _close(ember.nuclear_norm(e[0]), torch.nuclear_norm(t[0]))
    _close(ember.nuclear_norm(e, (1, 2), True), torch.nuclear_norm(t, (1, 2), True))
    for name in ("solve", "lstsq", "eig", "symeig", "matrix_rank"):
        with pytest.raises(RuntimeError, match="removed"):
            getattr(ember, name)(e[0])


# -- top-level nn.functional aliases ------------------------------------------------------------
def _arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


X3, X4 = _arr(2, 4, 9), _arr(2, 4, 6, 6)
W1, W2, W3 = _arr(6, 4, 3), _arr(6, 2, 3, 3), _arr(3, 4, 2, 2, 2)
PROBS = RNG.random((2, 4)).astype(np.float32)
SIGNS = np.array([1.0, -1.0], np.float32)
INDICES = np.array([1, 2, 4, 5, 4, 3, 2, 9])
SEQ = np.log(RNG.dirichlet(np.ones(5), size=(8, 2)).astype(np.float32))

# name -> the arguments, numpy arrays standing for tensors
ALIAS_CASES = {
    "conv1d": (X3, W1, _arr(6), 2, 1),
    "conv2d": (X4, W2, None, 1, 1, 1, 2),
    "conv3d": (_arr(1, 4, 4, 4, 4), W3, None, 1, "same"),
    "conv_transpose1d": (X3, _arr(4, 3, 3), None, 2, 1, 1),
    "conv_transpose2d": (X4, _arr(4, 2, 3, 3), None, 2),
    "conv_transpose3d": (_arr(1, 4, 3, 3, 3), _arr(4, 2, 2, 2, 2)),
    "convolution": (X3, W1, None, [1], [1], [1], False, [0], 1),
    "avg_pool1d": (X3, 3, 2),
    "max_pool1d": (X3, 3),
    "max_pool2d": (X4, 2, 1, 1),
    "max_pool3d": (_arr(1, 2, 4, 4, 4), 2),
    "max_pool1d_with_indices": (X3, 2),
    "adaptive_avg_pool1d": (X3, 4),
    "adaptive_max_pool1d": (X3, 4),
    "batch_norm": (X3, _arr(4), _arr(4), _arr(4), np.abs(_arr(4)), False, 0.1, 1e-5, True),
    "layer_norm": (X3, [9], _arr(9), None, 1e-5, True),
    "group_norm": (X4, 2, _arr(4), _arr(4)),
    "instance_norm": (X3, _arr(4), _arr(4), None, None, True, 0.1, 1e-5, True),
    "rms_norm": (X3, [9]),
    "embedding": (_arr(10, 3), np.array([[1, 2], [0, 9]]), 0),
    "bilinear": (_arr(3, 4), _arr(3, 5), _arr(2, 4, 5), _arr(2)),
    "binary_cross_entropy_with_logits": (_arr(2, 4), PROBS, None, np.float32(2) * PROBS, 2),
    "cosine_similarity": (_arr(3, 5), _arr(3, 5), 1),
    "cosine_embedding_loss": (_arr(2, 5), _arr(2, 5), SIGNS, 0.1, 0),
    "ctc_loss": (SEQ, np.array([[1, 2, 2], [3, 4, 0]]), [8, 7], [3, 2], 0, 1),
    "hinge_embedding_loss": (_arr(2, 3), np.array([[1.0, -1, 1], [-1, 1, 1]], np.float32), 0.5,
                             2),
    "kl_div": (np.log(PROBS), PROBS[::-1].copy(), 1),
    "margin_ranking_loss": (_arr(2), _arr(2), SIGNS, 0.2, 1),
    "kl_div_default_reduction": (np.log(PROBS), PROBS),
    "poisson_nll_loss": (_arr(2, 3), np.abs(_arr(2, 3)), True, True, 1e-8, 0),
    "triplet_margin_loss": (_arr(3, 4), _arr(3, 4), _arr(3, 4), 1.0, 2, 1e-6, True, 2),
    "pairwise_distance": (_arr(3, 4), _arr(3, 4)),
    "pdist": (_arr(4, 3),),
    "pixel_shuffle": (_arr(1, 8, 2, 2), 2),
    "pixel_unshuffle": (X4, 2),
    "channel_shuffle": (X4, 2),
    "prelu": (X4, np.array([0.1, 0.2, 0.3, 0.4], np.float32)),
    "selu": (X3,),
    "celu": (X3, 0.7),
    "threshold": (X3, 0.1, 5.0),
    "hardshrink": (X3, 0.3),
    "constant_pad_nd": (X3, [1, 2, -1, 0], 0.5),
    "rrelu": (X3,),
    "dropout": (X3, 0.5, False),
    "alpha_dropout": (X3, 0.5, False),
    "feature_alpha_dropout": (X3, 0.5, False),
    "feature_dropout": (X3, 0.5, False),
}


def _args(lib, args):
    return [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args]


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


@pytest.mark.parametrize("name", sorted(ALIAS_CASES))
def test_functional_aliases_match_torch(torch, name):
    op = name.replace("_default_reduction", "")
    ours = getattr(ember, op)(*_args(ember, ALIAS_CASES[name]))
    theirs = getattr(torch, op)(*_args(torch, ALIAS_CASES[name]))
    for x, y in zip(_as_tuple(ours), _as_tuple(theirs), strict=True):
        _close(x, y, atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("two_d", [False, True])
def test_embedding_bag_outputs_match_torch(torch, mode, two_d):
    weight = _arr(10, 3)
    args = (INDICES, np.array([0, 4]) if two_d else np.array([0, 3, 3]))
    # torch crashes on a 2-D input here: it is checked against the 1-D bags it stands for
    ours_args = (INDICES.reshape(2, 4), np.zeros(0, np.int64)) if two_d else args
    ours = ember.embedding_bag(*_args(ember, (weight,) + ours_args), False, mode)
    theirs = torch.embedding_bag(*_args(torch, (weight,) + args), False, mode)
    for x, y in zip(ours, theirs):
        _close(x, y, atol=1e-6)


def test_dropout_aliases_in_training(torch):
    x = ember.ones(200, 30, 4)
    kept = (ember.dropout(x, 0.25, True) != 0).float().mean().item()
    assert abs(kept - 0.75) < 0.02
    channels = ember.feature_dropout(x, 0.5, True)
    per_channel = channels.amax(-1) == channels.amin(-1)  # whole channels kept or dropped
    assert per_channel.all() and set(channels.unique().tolist()) == {0.0, 2.0}
    y = ember.ones(4, 3)
    assert ember.dropout_(y, 1.0, True) is y and not y.any()
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        ember.feature_dropout(ember.ones(3), 0.5, True)
    z = ember.tensor([-1.0, 0.5, 2.0])
    ember.threshold_(z, 1.0, 0.0)
    ember.celu_(z)
    assert z.tolist() == [0.0, 0.0, 2.0]


def test_functional_alias_errors():
    with pytest.raises(ValueError, match="reduction must be 0"):
        ember.kl_div(ember.ones(2), ember.ones(2), 3)
    with pytest.raises(NotImplementedError, match="generator"):
        ember.rrelu(ember.ones(2), generator=ember.Generator())


def test_tensor_methods_hardshrink_prelu(torch):
    e, t = _pair(torch, X4)
    _close(e.hardshrink(0.2), t.hardshrink(0.2))
    w = np.array([0.25], np.float32)
    _close(e.prelu(ember.tensor(w)), t.prelu(torch.tensor(w)))


# -- global switches -------------------------------------------------------------------------------
def test_vmap_and_typename(torch):
    assert ember.vmap is ember.func.vmap
    assert ember.typename(ember.ones(2)) == torch.typename(torch.ones(2)).replace("torch", "ember")
    assert ember.typename(ember.ones(2, dtype=ember.int32)) == "ember.IntTensor"
    assert ember.typename(3) == "int"
    assert ember.typename(ember.nn.Linear) == "ember.nn.modules.linear.Linear"


def test_inference_mode_flags():
    assert not ember.is_inference_mode_enabled()
    with ember.inference_mode():
        assert ember.is_inference_mode_enabled() and not ember.is_grad_enabled()
        with ember.inference_mode(False):
            assert not ember.is_inference_mode_enabled()
        assert ember.is_inference_mode_enabled()
        assert not ember.is_inference(ember.ones(1)) and not ember.ones(1).is_inference()

    @ember.inference_mode()
    def inside():
        return ember.is_inference_mode_enabled()
    assert inside() and not ember.is_inference_mode_enabled()


def test_anomaly_flags_follow_torch(torch):
    for args in [(True,), (True, False), (False,)]:
        for lib in (ember, torch):
            lib.set_anomaly_enabled(*args)
        assert ember.is_anomaly_enabled() == torch.is_anomaly_enabled()
        assert ember.is_anomaly_check_nan_enabled() == torch.is_anomaly_check_nan_enabled()
    ember.set_anomaly_enabled(True)
    x = ember.tensor([-1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="nan"):
        x.sqrt()
    ember.set_anomaly_enabled(False)


def _determinism(lib):
    return (lib.are_deterministic_algorithms_enabled(), lib.get_deterministic_debug_mode(),
            lib.is_deterministic_algorithms_warn_only_enabled())


def test_determinism_and_precision_flags(torch):
    try:  # (torch's use_deterministic_algorithms takes seconds on first use: not called here)
        for mode in ("error", 1, "default", 2, 0):
            for lib in (ember, torch):
                lib.set_deterministic_debug_mode(mode)
            assert _determinism(ember) == _determinism(torch)
        ember.use_deterministic_algorithms(True, warn_only=True)
        assert _determinism(ember) == (True, 1, True)
        ember.use_deterministic_algorithms(True)
        assert _determinism(ember) == (True, 2, False)
    finally:
        torch.set_deterministic_debug_mode(0)
        ember.use_deterministic_algorithms(False)
    with pytest.raises(RuntimeError, match="debug_mode"):
        ember.set_deterministic_debug_mode("bad")
    ember.set_float32_matmul_precision("medium")
    assert ember.get_float32_matmul_precision() == "medium"
    ember.set_float32_matmul_precision("highest")
    assert ember.set_flush_denormal(True) is False
    ember.set_warn_always(True)
    assert ember.is_warn_always_enabled()
    ember.set_warn_always(False)
    ember.set_num_interop_threads(3)
    assert ember.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="positive integer"):
        ember.set_num_interop_threads(0)
    assert ember.get_default_device() == ember.device("cpu")
    ember.set_default_device("cpu")
    with pytest.raises(NotImplementedError, match="device="):
        ember.set_default_device("cuda")
    assert repr(ember.strided) == "ember.strided" and ember.ones(1).layout is ember.strided
    assert ember.ones(2).contiguous(memory_format=ember.contiguous_format).is_contiguous()


# -- set_printoptions ------------------------------------------------------------------------------
@pytest.fixture
def printoptions(torch):
    yield
    torch.set_printoptions(profile="default")
    ember.set_printoptions(profile="default")


PRINT_OPTIONS = [dict(precision=2), dict(threshold=5), dict(edgeitems=1, threshold=10),
                 dict(linewidth=40), dict(profile="short"), dict(profile="full"),
                 dict(sci_mode=True), dict(sci_mode=False), dict(edgeitems=0, threshold=3),
                 dict(profile="short", precision=6, linewidth=120)]
PRINT_DATA = [np.arange(1500), np.arange(2000.0).reshape(40, 50) / 7,
              RNG.standard_normal((3, 4, 7)).astype(np.float32) * 1e5,
              np.array([1e-6, 1.0, np.nan, -np.inf], np.float32), np.array(3.14159),
              RNG.integers(-100, 100, (30, 40))]


@pytest.mark.parametrize("options", PRINT_OPTIONS)
def test_set_printoptions_matches_torch_repr(torch, printoptions, options):
    torch.set_printoptions(**options)
    ember.set_printoptions(**options)
    for data in PRINT_DATA:
        for requires_grad in (False, data.dtype.kind == "f"):
            ours = repr(ember.tensor(data, requires_grad=requires_grad))
            theirs = repr(torch.tensor(data, requires_grad=requires_grad))
            assert ours == theirs.replace("torch.", "ember.")


def test_printoptions_reset_and_errors(printoptions):
    ember.set_printoptions(precision=1)
    assert repr(ember.tensor([1.26])) == "tensor([1.3])"
    ember.set_printoptions(profile="default")
    assert repr(ember.tensor([1.26])) == "tensor([1.2600])"
    with pytest.raises(ValueError, match="profile"):
        ember.set_printoptions(profile="long")


def test_repr_with_float64_default_dtype(torch):
    torch_default = torch.get_default_dtype()
    try:
        for lib in (ember, torch):
            lib.set_default_dtype(lib.float64)
        for data in ([1.5, 2.0], np.zeros(0)):
            assert repr(ember.tensor(data)) == repr(torch.tensor(data)).replace("torch.", "ember.")
        assert repr(ember.tensor([1.5], dtype=ember.float32)) == \
            repr(torch.tensor([1.5], dtype=torch.float32)).replace("torch.", "ember.")
    finally:
        torch.set_default_dtype(torch_default)


# -- creation and sampling -------------------------------------------------------------------------
def test_frombuffer_matches_torch(torch):
    raw = bytearray(np.arange(6, dtype=np.int32).tobytes())
    for kwargs in [dict(dtype="int32"), dict(dtype="int16", count=3, offset=2),
                   dict(dtype="float32", offset=4)]:
        ours = ember.frombuffer(raw, dtype=getattr(ember, kwargs["dtype"]),
                                **{k: v for k, v in kwargs.items() if k != "dtype"})
        theirs = torch.frombuffer(raw, dtype=getattr(torch, kwargs["dtype"]),
                                  **{k: v for k, v in kwargs.items() if k != "dtype"})
        _close(ours, theirs)
    shared = ember.frombuffer(raw, dtype=ember.int32)
    raw[0] = 7
    assert shared[0].item() == 7
    for buffer, kwargs, match in [(b"", {}, "must not be 0"),
                                  (bytearray(8), dict(offset=8), "offset"),
                                  (bytearray(10), {}, "multiple of element size"),
                                  (bytearray(8), dict(count=3), "requested buffer length")]:
        with pytest.raises(ValueError, match=match):
            ember.frombuffer(buffer, dtype=ember.float32, **kwargs)
    with pytest.warns(UserWarning, match="not writable"):
        assert ember.frombuffer(b"\x00\x00\x80?", dtype=ember.float32).tolist() == [1.0]


def test_poisson_and_binomial():
    ember.manual_seed(0)
    rates = ember.tensor([0.0, 0.5, 4.0, 30.0], dtype=ember.float64).expand(5000, 4)
    x = ember.poisson(rates)
    assert x.dtype == ember.float64 and tuple(x.shape) == (5000, 4)
    np.testing.assert_allclose(_np(x.mean(0)), [0, 0.5, 4, 30], rtol=0.05, atol=0.01)
    g = ember.Generator().manual_seed(3)
    assert ember.poisson(rates[:2], g).tolist() == \
        ember.poisson(rates[:2], ember.Generator().manual_seed(3)).tolist()
    n = ember.tensor([0.0, 10.0, 10.0, 200.0, 5.0])
    p = ember.tensor([0.3, 0.0, 1.0, 0.7, 1.5])
    draws = ember.binomial(n.expand(4000, 5), p)
    assert draws.dtype == ember.float32
    np.testing.assert_allclose(_np(draws.mean(0)), [0, 0, 10, 140, 5], rtol=0.02, atol=0.01)
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.poisson(ember.tensor([-1.0]))
    with pytest.raises(NotImplementedError, match="floating point"):
        ember.poisson(ember.tensor([1]))
    with pytest.raises(RuntimeError, match="one floating point dtype"):
        ember.binomial(ember.tensor([5.0]), ember.tensor([0.5], dtype=ember.float64))


def _pmf_check(samples, pmf):
    values, counts = np.unique(samples, return_counts=True)
    freq = counts / samples.size
    expected = np.array([pmf(int(v)) for v in values])
    assert np.abs(freq - expected).max() < 0.02


def test_device_count_samplers_match_their_distributions():
    """The GPU algorithms (Knuth, PTRS, waiting times, BTRS) run here on NumPy draws."""
    from ember import random as R
    from ember.backend import special
    rng = np.random.default_rng(1)
    draw = lambda shape: rng.random(shape)  # noqa: E731
    for lam in (2.5, 25.0):
        x = R._poisson_counts(np, np.full(40000, lam), draw, special.lgamma)
        _pmf_check(x, lambda k: math.exp(k * math.log(lam) - lam - math.lgamma(k + 1)))
    for n, p in ((12, 0.3), (60, 0.8)):
        x = R._binomial_counts(np, np.full(40000, float(n)), np.full(40000, p), draw,
                               special.lgamma)
        _pmf_check(x, lambda k: math.comb(n, k) * p ** k * (1 - p) ** (n - k))


def test_random_tensor_methods():
    ember.manual_seed(0)
    g = ember.empty(20000, dtype=ember.float64).geometric_(0.25)
    assert g.min().item() >= 1 and abs(g.mean().item() - 4) < 0.15
    c = ember.empty(20001).cauchy_(2.0, 0.5)
    assert abs(c.median().item() - 2.0) < 0.05
    ln = ember.empty(20000, dtype=ember.float64).log_normal_(0.0, 0.5)
    assert abs(ln.log().std().item() - 0.5) < 0.02
    for call, match in [(lambda: ember.ones(2).geometric_(1.0), "geometric_"),
                        (lambda: ember.ones(2).cauchy_(sigma=0), "sigma"),
                        (lambda: ember.ones(2).log_normal_(std=-1), "std")]:
        with pytest.raises(RuntimeError, match=match):
            call()
    assert ember.ones(3).bernoulli(0.0).tolist() == [0.0] * 3
    assert ember.tensor([0.0, 1.0]).multinomial(3, True).tolist() == [1, 1, 1]


# -- Tensor extras ---------------------------------------------------------------------------------
def test_tensor_attributes(torch):
    for make in (lambda L: L.ones(2, 3), lambda L: L.ones(3, 2, dtype=L.int16).t()):
        e, t = make(ember), make(torch)
        assert (e.nbytes, e.itemsize, e.get_device(), e.is_cpu, e.output_nr) == \
            (t.nbytes, t.itemsize, t.get_device(), t.is_cpu, t.output_nr)
        assert ember.get_device(e) == torch.get_device(t)
    values, indices = ember.ones(2, 2, requires_grad=True).max(1)
    assert (values.output_nr, indices.output_nr) == (0, 1)
    assert not (e.is_sparse or e.is_quantized or e.is_meta or e.is_nested)


def test_apply_and_maps_match_torch(torch):
    results = []
    for lib in (ember, torch):
        x = lib.arange(6.0).reshape(2, 3)
        x.apply_(lambda v: v * v + 1)
        x.map_(lib.tensor([1.0, 2.0, 3.0]), lambda a, b: a - b)
        x.map2_(lib.ones(2, 1), lib.full((2, 3), 2.0), lambda a, b, c: a * c + b)
        results.append(x.tolist())
    assert results[0] == results[1]
    with pytest.raises(RuntimeError, match="requires grad"):
        ember.ones(2, requires_grad=True).apply_(abs)
    with pytest.raises(RuntimeError, match="broadcast"):
        ember.ones(2).map_(ember.ones(3), max)


def test_resize_matches_torch(torch):
    for lib in (ember, torch):
        x = lib.arange(6.0)
        view = x[1:4]
        x.resize_(2, 2)
        assert x.tolist() == [[0.0, 1.0], [2.0, 3.0]] and view.tolist() == [1.0, 2.0, 3.0]
        x.resize_(6)  # grows back within the memory: the old values return
        assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and x.is_contiguous()
        x.resize_(3, 4)
        assert tuple(x.shape) == (3, 4) and x.flatten()[:6].tolist() == list(range(6))
        t = lib.arange(6.0).reshape(2, 3).t()
        assert t.resize_(3, 2).stride() == (1, 3)  # its own shape: unchanged
        y = lib.zeros(5)
        assert y.resize_as_(lib.ones(2, 2)).shape == (2, 2)
        assert lib.resize_as_(y, lib.ones(1)).shape == (1,)
    with pytest.raises(RuntimeError, match="require grad"):
        ember.ones(2, requires_grad=True).resize_(3)
    with pytest.raises(RuntimeError, match="contiguous"):
        ember.arange(6.0).reshape(2, 3).t().resize_(2, 2)


def _hook_events(lib):
    events = []
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([0.5], requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t: events.append(("post", t.grad.tolist())))
    handle = w.register_post_accumulate_grad_hook(lambda t: events.append(("second", t is w)))
    b.register_post_accumulate_grad_hook(lambda t: events.append(("b", t.grad.tolist())))
    ((w * 3).sum() + (w * w).sum() * b).sum().backward()  # w reached by three edges
    handle.remove()
    w.register_hook(lambda g: events.append(("pre", g.tolist())))
    (w * 2).sum().backward(inputs=[w])
    lib.autograd.grad((w * 2).sum(), [w])  # no accumulation: no post hook
    return events


def test_post_accumulate_grad_hooks_match_torch(torch):
    ours, theirs = _hook_events(ember), _hook_events(torch)
    assert ours == theirs  # once per leaf and pass, after the pre-hooks, not for grad()
    assert ("post", [4.0, 5.0]) in ours
    with pytest.raises(RuntimeError, match="non-leaf"):
        (ember.ones(1, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(1).register_post_accumulate_grad_hook(print)
    w = ember.ones(1, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t: 1)
    with pytest.raises(RuntimeError, match="return None"):
        (w * 2).sum().backward()


def test_post_accumulate_hook_steps_an_optimizer_in_backward():
    w = ember.nn.Parameter(ember.tensor([1.0, -2.0]))
    opt = ember.optim.SGD([w], lr=0.1)

    def step(param):
        opt.step()
        opt.zero_grad()
    w.register_post_accumulate_grad_hook(step)
    (w.square().sum() + w.sum()).backward()
    assert w.grad is None
    np.testing.assert_allclose(_np(w), [1.0 - 0.1 * 3, -2.0 + 0.1 * 3], rtol=1e-6)


def test_init_deprecated_spellings():
    for name in ("dirac", "eye", "sparse"):
        with pytest.warns(FutureWarning, match=f"nn.init.{name}_"):
            args = {"dirac": (ember.empty(2, 2, 3),), "eye": (ember.empty(2, 3),),
                    "sparse": (ember.empty(4, 3), 0.5)}[name]
            getattr(ember.nn.init, name)(*args)


# -- utils.data ---------------------------------------------------------------------------------
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_without_shuffle_matches_torch(torch, drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler
    from ember.utils.data import DistributedSampler
    for n in (0, 1, 5, 10, 11):
        for replicas in (1, 3, 4):
            for rank in range(replicas):
                ours = DistributedSampler(range(n), replicas, rank, shuffle=False,
                                          drop_last=drop_last)
                theirs = TorchSampler(range(n), replicas, rank, shuffle=False,
                                      drop_last=drop_last)
                assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_shuffles_into_a_partition(drop_last):
    from ember.utils.data import DistributedSampler
    n, replicas = 23, 4
    samplers = [DistributedSampler(range(n), replicas, r, seed=5, drop_last=drop_last)
                for r in range(replicas)]
    shares = [list(s) for s in samplers]
    size = n // replicas if drop_last else -(-n // replicas)
    assert all(len(share) == size == len(s) for share, s in zip(shares, samplers))
    every = sum(shares, [])
    if drop_last:
        assert len(set(every)) == len(every) == size * replicas
    else:
        assert set(every) == set(range(n)) and len(every) - len(set(every)) == size * replicas - n
    assert shares == [list(s) for s in samplers]  # the same epoch: the same order
    for s in samplers:
        s.set_epoch(1)
    reshuffled = [list(s) for s in samplers]
    assert reshuffled != shares and list(map(len, reshuffled)) == list(map(len, shares))
    with pytest.raises(ValueError, match="Invalid rank 4"):
        DistributedSampler(range(3), 4, 4)
    with pytest.raises(RuntimeError, match="num_replicas and rank"):
        DistributedSampler(range(3))


def test_stack_dataset_matches_torch(torch):
    from torch.utils.data import StackDataset as TorchStack
    from ember.utils.data import StackDataset, TensorDataset

    class Batched:  # a dataset with __getitems__
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return i * 10

        def __getitems__(self, indices):
            return [i * 10 for i in indices]
    ours = StackDataset(list("abcd"), Batched())
    theirs = TorchStack(list("abcd"), Batched())
    assert ours[2] == theirs[2] and len(ours) == len(theirs) == 4
    assert ours.__getitems__([0, 3]) == theirs.__getitems__([0, 3])
    ours = StackDataset(x=list("abcd"), y=Batched())
    theirs = TorchStack(x=list("abcd"), y=Batched())
    assert ours[1] == theirs[1] and ours.__getitems__([1, 2]) == theirs.__getitems__([1, 2])
    tensors = StackDataset(TensorDataset(ember.arange(3)), ember.arange(3) * 2)
    assert tensors[1][1].item() == 2
    for args, kwargs, match in [((list("ab"), list("abc")), {}, "Size mismatch"),
                                ((), {}, "At least one"), ((list("a"),), {"y": [1]}, "both")]:
        with pytest.raises(ValueError, match=match):
            StackDataset(*args, **kwargs)


# -- on the fake cuda device ------------------------------------------------------------------
def _on_device(t):
    assert type(t._data) is FakeCudaArray and t.device.type == "cuda"


def test_lu_family_on_fake_cuda(fake_cuda):
    a = RNG.standard_normal((2, 5, 5))
    b = RNG.standard_normal((2, 5, 2))
    host = ember.tensor(a)
    dev = ember.tensor(a, device="cuda", requires_grad=True)
    LU, pivots = ember.linalg.lu_factor(dev)
    _on_device(LU), _on_device(pivots)
    ref_LU, ref_piv = ember.linalg.lu_factor(host)
    np.testing.assert_allclose(_np(LU), _np(ref_LU), atol=1e-12)
    assert pivots.cpu().tolist() == ref_piv.tolist()
    for t in ember.linalg.lu(dev):
        _on_device(t)
    x = ember.linalg.lu_solve(LU, pivots, ember.tensor(b, device="cuda"))
    _on_device(x)
    np.testing.assert_allclose(_np(dev @ x), b, atol=1e-10)
    x.sum().backward()
    _on_device(dev.grad)
    P, L, U = ember.lu_unpack(LU, pivots)
    _on_device(P)
    _on_device(ember.cholesky_inverse(ember.tensor(_spd(3), device="cuda").cholesky()))
    _on_device(ember.triangular_solve(ember.tensor(b, device="cuda"), dev).solution)
    _on_device(ember.geqrf(dev.detach()).tau)


def test_sampling_on_fake_cuda(fake_cuda):
    rates = ember.tensor([1.0, 40.0], device="cuda").expand(4000, 2)
    x = ember.poisson(rates)
    _on_device(x)
    np.testing.assert_allclose(_np(x.mean(0)), [1, 40], rtol=0.05)
    n = ember.tensor([8.0, 100.0], device="cuda").expand(4000, 2)
    y = ember.binomial(n, ember.tensor([0.25, 0.6], device="cuda"))
    _on_device(y)
    np.testing.assert_allclose(_np(y.mean(0)), [2, 60], rtol=0.05)
    for t in (ember.ones(3, device="cuda").geometric_(0.5), ember.ones(3, device="cuda").cauchy_(),
              ember.ones(3, device="cuda").log_normal_()):
        _on_device(t)
    r = ember.arange(6.0, device="cuda").resize_(2, 2)
    _on_device(r)
    assert r.get_device() == 0 and not r.is_cpu
    r.resize_(9)
    _on_device(r)
    assert r[:4].cpu().tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="only implemented on CPU"):
        r.apply_(abs)


def test_distributed_sampler_feeds_device_tensors(fake_cuda):
    from ember.utils.data import DataLoader, DistributedSampler, TensorDataset
    data = TensorDataset(ember.arange(10, device="cuda"))
    seen = []
    for rank in range(3):
        loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 3, rank))
        for (batch,) in loader:
            _on_device(batch)
            seen += batch.cpu().tolist()
    assert sorted(set(seen)) == list(range(10)) and len(seen) == 12
