"""ember.linalg's decompositions against torch.linalg: values, gradients, gradcheck, errors.

Signs of eigen/singular vectors and of QR factors are arbitrary, so the cases compare what does
not depend on them: sign-fixed Q and R, |U|, |V|, projectors, reconstructions.
"""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

_rng = np.random.default_rng(0)
_SQ = _rng.standard_normal((2, 3, 3))
_SPD = _SQ @ _SQ.swapaxes(-1, -2) + 3 * np.eye(3)
_TALL = _rng.standard_normal((2, 4, 3))
_WIDE = _rng.standard_normal((3, 5))
_RHS = _rng.standard_normal((2, 4, 2))
_SCALED = _SQ * np.array([0.2, 4.0])[:, None, None]  # matrix_exp: no squaring, and 5 of them


def _qr_fixed(L, a, mode="reduced"):
    """Q and R with R's diagonal made positive (the factorisation is then unique)."""
    q, r = L.linalg.qr(a, mode=mode)
    k = min(a.shape[-2:])
    d = r.diagonal(0, -2, -1).sign()
    return q[..., :k] * d.unsqueeze(-2), r[..., :k, :] * d.unsqueeze(-1)


def _svd_invariants(L, a, full_matrices=False):
    u, s, vh = L.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    return s, u.abs(), vh.abs(), (u[..., :2] * s[..., None, :2]) @ vh[..., :2, :]


def _eigh_invariants(L, a, uplo="L"):
    w, v = L.linalg.eigh(a, UPLO=uplo)
    return w, v.abs(), v[..., :2] @ v[..., :2].transpose(-2, -1)


_CASES = {
    "cholesky": (lambda L, a: L.linalg.cholesky(a), [_SPD]),
    "cholesky 2-D": (lambda L, a: L.linalg.cholesky(a), [_SPD[0]]),
    "cholesky upper": (lambda L, a: L.linalg.cholesky(a, upper=True), [_SPD]),
    "cholesky_ex": (lambda L, a: L.linalg.cholesky_ex(a).L, [_SPD]),
    "solve_triangular": (lambda L, a, b: L.linalg.solve_triangular(a, b, upper=True),
                         [_SQ + 3 * np.eye(3), _TALL[:, :3, :2]]),
    "solve_triangular right unit": (
        lambda L, a, b: L.linalg.solve_triangular(a, b, upper=False, left=False,
                                                  unitriangular=True), [_SQ, _TALL]),
    "solve_triangular broadcast": (
        lambda L, a, b: L.linalg.solve_triangular(a, b, upper=False),
        [_SQ[0] + 3 * np.eye(3), _TALL[:, :3]]),
    "qr tall": (lambda L, a: _qr_fixed(L, a), [_TALL]),
    "qr wide": (lambda L, a: _qr_fixed(L, a), [_WIDE]),
    "qr complete square": (lambda L, a: _qr_fixed(L, a, "complete"), [_SQ]),
    "eigh": (lambda L, a: _eigh_invariants(L, a), [_SQ]),
    "eigh upper": (lambda L, a: _eigh_invariants(L, a, "U"), [_SQ[0]]),
    "eigvalsh": (lambda L, a: L.linalg.eigvalsh(a), [_SQ]),
    "svd square": (lambda L, a: _svd_invariants(L, a), [_SQ]),
    "svd tall": (lambda L, a: _svd_invariants(L, a), [_TALL]),
    "svd wide": (lambda L, a: _svd_invariants(L, a), [_WIDE]),
    "svd full_matrices": (lambda L, a: _svd_invariants(L, a, True), [_TALL]),
    "svdvals": (lambda L, a: L.linalg.svdvals(a), [_WIDE]),
    "pinv": (lambda L, a: L.linalg.pinv(a), [_TALL]),
    "pinv rank-deficient": (lambda L, a: L.linalg.pinv(a), [_TALL[..., [0, 1, 1]] * [1, 1, 2]]),
    "pinv hermitian atol": (lambda L, a: L.linalg.pinv(a + a.transpose(-2, -1), hermitian=True,
                                                       atol=0.5), [_SQ]),
    "lstsq": (lambda L, a, b: L.linalg.lstsq(a, b).solution, [_TALL, _RHS]),
    "lstsq gelsd": (lambda L, a, b: L.linalg.lstsq(a, b, driver="gelsd")[:2], [_TALL, _RHS]),
    "lstsq wide vector": (lambda L, a, b: L.linalg.lstsq(a, b).solution, [_WIDE, _WIDE[:, 0]]),
    "matrix_power": (lambda L, a: L.linalg.matrix_power(a, 5), [_SQ / 2]),
    "matrix_power negative": (lambda L, a: L.linalg.matrix_power(a, -2), [_SPD]),
    "matrix_exp": (lambda L, a: L.linalg.matrix_exp(a), [_SCALED]),
    "matrix_exp 2-D": (lambda L, a: L.linalg.matrix_exp(a), [_SQ[0]]),
    "inv_ex": (lambda L, a: L.linalg.inv_ex(a).inverse, [_SPD]),
}


def _tuple(out):
    return tuple(out) if isinstance(out, tuple) else (out,)


def _run(lib, fn, arrays, dtype):
    inputs = [lib.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    outs = _tuple(fn(lib, *inputs))
    sum((o ** 3).sum() for o in outs).backward()
    return [o.detach() for o in outs] + [t.grad for t in inputs]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(_CASES))
def test_matches_torch(torch, name, dtype):
    fn, arrays = _CASES[name]
    mine = _run(ember, fn, arrays, getattr(ember, dtype))
    theirs = _run(torch, fn, arrays, getattr(torch, dtype))
    rtol = 1e-9 if dtype == "float64" else 2e-3
    for k, (e, t) in enumerate(zip(mine, theirs)):
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (name, k)
        t = t.numpy()
        np.testing.assert_allclose(e.numpy(), t, rtol=rtol, atol=rtol * np.abs(t).max(),
                                   err_msg=f"{name} output/grad {k}")


def _spd(a):
    return a @ a.transpose(-2, -1) + 3 * ember.eye(3, dtype=a.dtype)


def _sym(a):
    return a + a.transpose(-2, -1)


# cholesky and eigh read one triangle, so their inputs are made symmetric inside the function
_GRADCHECK = {
    "cholesky": (lambda a: ember.linalg.cholesky(_spd(a)), [_SQ]),
    "cholesky upper": (lambda a: ember.linalg.cholesky(_spd(a), upper=True), [_SQ[0]]),
    "solve_triangular": (lambda a, b: ember.linalg.solve_triangular(a, b, upper=True),
                         [_SQ + 3 * np.eye(3), _TALL[:, :3, :2]]),
    "solve_triangular right": (lambda a, b: ember.linalg.solve_triangular(
        a, b, upper=False, left=False, unitriangular=True), [_SQ[0], _TALL[0]]),
    "qr tall": (lambda a: _qr_fixed(ember, a), [_TALL[0]]),
    "qr wide": (lambda a: _qr_fixed(ember, a), [_WIDE]),
    "eigh": (lambda a: _eigh_invariants(ember, _sym(a)), [_SQ]),
    "eigvalsh": (lambda a: ember.linalg.eigvalsh(_sym(a)), [_SQ[0]]),
    "svd tall": (lambda a: _svd_invariants(ember, a), [_TALL[0]]),
    "svd wide": (lambda a: _svd_invariants(ember, a), [_WIDE]),
    "svdvals": (lambda a: ember.linalg.svdvals(a), [_TALL]),
    "pinv": (lambda a: ember.linalg.pinv(a), [_WIDE]),
    # a cut-off singular value: torch's pinv_backward is not this function's derivative there
    "pinv rtol": (lambda a: ember.linalg.pinv(a, rtol=0.4), [_SQ]),
    "lstsq": (lambda a, b: ember.linalg.lstsq(a, b).solution, [_TALL[0], _RHS[0]]),
    "matrix_exp": (lambda a: ember.linalg.matrix_exp(a), [_SCALED]),
}
_TWICE = {"cholesky", "solve_triangular", "qr tall", "eigh", "svd tall", "svd wide", "svdvals",
          "matrix_exp"}


@pytest.mark.parametrize("name", sorted(_GRADCHECK))
def test_gradcheck(name):
    fn, arrays = _GRADCHECK[name]
    inputs = tuple(ember.tensor(a, requires_grad=True) for a in arrays)
    assert gradcheck(fn, inputs)
    if name in _TWICE:
        assert gradgradcheck(lambda *t: _tuple(fn(*t))[0], inputs)


def test_results_are_torch_namedtuples():
    a = ember.tensor(_SPD)
    assert ember.linalg.svd(a)._fields == ("U", "S", "Vh")
    assert ember.linalg.eigh(a)._fields == ("eigenvalues", "eigenvectors")
    assert ember.linalg.qr(a)._fields == ("Q", "R")
    assert ember.linalg.cholesky_ex(a)._fields == ("L", "info")
    assert ember.linalg.inv_ex(a)._fields == ("inverse", "info")
    assert ember.linalg.lstsq(a, a)._fields == ("solution", "residuals", "rank",
                                                "singular_values")


@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5)])
def test_qr_mode_shapes(torch, mode, shape):
    a = _rng.standard_normal(shape)
    mine, theirs = ember.linalg.qr(ember.tensor(a), mode), torch.linalg.qr(torch.tensor(a), mode)
    assert [tuple(t.shape) for t in mine] == [tuple(t.shape) for t in theirs]


@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_shapes(torch, full_matrices):
    a = _rng.standard_normal((2, 3, 5))
    mine = ember.linalg.svd(ember.tensor(a), full_matrices)
    theirs = torch.linalg.svd(torch.tensor(a), full_matrices)
    assert [tuple(t.shape) for t in mine] == [tuple(t.shape) for t in theirs]


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
def test_lstsq_fields(torch, driver):
    a = _TALL.copy()
    if driver in ("gelsd", "gelss"):  # torch's gelsy misjudges ranks (pytorch#71222)
        a[1] = a[1][:, [0, 0, 1]]  # rank 2
    for b in (_RHS, _RHS[:1], _RHS[..., 0]):
        mine = ember.linalg.lstsq(ember.tensor(a), ember.tensor(b), driver=driver)
        theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        for k, (e, t) in enumerate(zip(mine[1:], theirs[1:])):
            assert tuple(e.shape) == tuple(t.shape), (driver, k)
            np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-9, atol=1e-12)


def test_solve_triangular_casts_b_to_a_dtype_like_torch(torch):
    a, b = np.triu(_SQ[0]) + 3 * np.eye(3), _TALL[0, :3]
    mine = ember.linalg.solve_triangular(ember.tensor(a, dtype=ember.float32), ember.tensor(b),
                                         upper=True)
    theirs = torch.linalg.solve_triangular(torch.tensor(a, dtype=torch.float32),
                                           torch.tensor(b), upper=True)
    assert mine.dtype == ember.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6)


def test_matrix_rank(torch):
    a = np.stack([_TALL[0], _TALL[0][:, [0, 0, 1]], np.zeros((4, 3))])
    for kwargs in ({}, {"atol": 1.0}, {"rtol": 0.5}, {"atol": 0.1, "rtol": 0.0}):
        mine = ember.linalg.matrix_rank(ember.tensor(a), **kwargs)
        assert mine.dtype == ember.int64
        np.testing.assert_array_equal(mine.numpy(),
                                      torch.linalg.matrix_rank(torch.tensor(a), **kwargs))
    sym = _SQ + _SQ.swapaxes(-1, -2)
    np.testing.assert_array_equal(
        ember.linalg.matrix_rank(ember.tensor(sym), hermitian=True, rtol=0.3).numpy(),
        torch.linalg.matrix_rank(torch.tensor(sym), hermitian=True, rtol=0.3).numpy())


def test_matrix_power_of_integers_and_zero(torch):
    a = np.array([[1, 2], [3, 4]])
    for n in (0, 1, 3):
        np.testing.assert_array_equal(ember.linalg.matrix_power(ember.tensor(a), n).numpy(),
                                      torch.linalg.matrix_power(torch.tensor(a), n).numpy())
    assert ember.linalg.matrix_power(ember.tensor(_SQ), 0).shape == (2, 3, 3)


def test_failures_report_info(torch):
    singular = np.stack([np.eye(3), np.array([[1., 2, 3], [2, 4, 6], [1, 1, 1]]), np.zeros((3, 3))])
    not_pd = np.stack([np.eye(3), np.diag([1., 2, -1]), np.diag([1., -2, 1])])
    for mine, theirs, a in ((ember.linalg.inv_ex, torch.linalg.inv_ex, singular),
                            (ember.linalg.cholesky_ex, torch.linalg.cholesky_ex, not_pd)):
        e, t = mine(ember.tensor(a)), theirs(torch.tensor(a))
        assert e.info.dtype == ember.int32
        np.testing.assert_array_equal(e.info.numpy(), t.info.numpy())
        np.testing.assert_array_equal(e[0].numpy()[0], t[0].numpy()[0])  # the good one


def test_degenerate_values_keep_finite_gradients(torch):
    # torch skips the 1 / (s_j - s_i) term when no vector is used; so does ember
    for name in ("svdvals", "eigvalsh"):
        grads = []
        for lib in (ember, torch):
            a = lib.tensor(2 * np.eye(3), requires_grad=True)
            (getattr(lib.linalg, name)(a) ** 2).sum().backward()
            grads.append(a.grad.numpy())
        np.testing.assert_allclose(*grads, atol=1e-12)


def _raises(torch, call, exc, match):
    with pytest.raises(exc, match=match):
        call(ember)
    with pytest.raises(RuntimeError if exc is ember.linalg.LinAlgError else exc):
        call(torch)


@pytest.mark.parametrize("call, exc, match", [
    (lambda L: L.linalg.cholesky(L.tensor([[1., 2.], [2., 1.]])), ember.linalg.LinAlgError,
     r"linalg.cholesky: .*not positive-definite \(the leading minor of order 2"),
    (lambda L: L.linalg.cholesky(L.tensor(np.stack([np.eye(2), -np.eye(2)]))),
     ember.linalg.LinAlgError, r"\(Batch element 1\): .*leading minor of order 1 "),
    (lambda L: L.linalg.cholesky_ex(-L.eye(2), check_errors=True), ember.linalg.LinAlgError,
     "linalg.cholesky_ex"),
    (lambda L: L.linalg.inv(L.zeros(2, 2, 2)), ember.linalg.LinAlgError,
     r"linalg.inv: \(Batch element 0\): The diagonal element 1 is zero"),
    (lambda L: L.linalg.cholesky(L.ones(2, 3)), RuntimeError, "square matrices.*2 by 3"),
    (lambda L: L.linalg.eigh(L.ones(2, 3)), RuntimeError, "linalg.eigh: A must be batches"),
    (lambda L: L.linalg.cholesky(L.ones(2, 2, dtype=L.int64)), RuntimeError, "floating point"),
    (lambda L: L.linalg.svd(L.ones(3)), RuntimeError, "at least 2 dimensions"),
    (lambda L: L.linalg.qr(L.ones(2, 2, dtype=L.int64)), RuntimeError, "floating point"),
    (lambda L: L.linalg.qr(L.ones(2, 2), mode="x"), RuntimeError, "unrecognized mode 'x'"),
    (lambda L: L.linalg.eigh(L.eye(2), UPLO="X"), RuntimeError, "UPLO"),
    (lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(3, 2), upper=False), RuntimeError,
     r"Incompatible shapes.*AX = B"),
    (lambda L: L.linalg.lstsq(L.ones(3, 2), L.ones(3, 2), driver="foo"), RuntimeError,
     "driver"),
    (lambda L: L.linalg.lstsq(L.ones(3, 2), L.ones(4, 2)), RuntimeError, "size"),
    (lambda L: L.linalg.matrix_power(L.eye(2), 1.5), TypeError, "must be int"),
    (lambda L: L.linalg.matrix_power(L.ones(2, 3), 2), RuntimeError, "square"),
    (lambda L: L.linalg.matrix_exp(L.ones(2, 3)), RuntimeError, "square"),
])
def test_errors(torch, call, exc, match):
    _raises(torch, call, exc, match)


@pytest.mark.parametrize("mode, shape, match", [("r", (3, 3), "mode='r'"),
                                                ("complete", (4, 3), "nrows > ncols")])
def test_qr_backward_errors(torch, mode, shape, match):
    for lib in (ember, torch):
        a = lib.ones(*shape, requires_grad=True) + lib.eye(*shape)
        with pytest.raises(RuntimeError, match=match):
            lib.linalg.qr(a, mode=mode).R.sum().backward()


# -- the fake cuda device -------------------------------------------------------------------------
_ON_DEVICE = {
    "cholesky": lambda L, a: L.linalg.cholesky(a),
    "cholesky_ex failing": lambda L, a: L.linalg.cholesky_ex(a - 4 * L.eye(3, dtype=a.dtype,
                                                                          device=a.device)),
    "solve_triangular": lambda L, a: L.linalg.solve_triangular(a, a[..., :2], upper=True),
    "inv_ex singular": lambda L, a: L.linalg.inv_ex(a * L.tensor([0.0, 1.0], dtype=a.dtype,
                                                                 device=a.device)[:, None, None]),
    "qr": lambda L, a: _qr_fixed(L, a),
    "eigh": lambda L, a: _eigh_invariants(L, a),
    "eigvalsh": lambda L, a: L.linalg.eigvalsh(a),
    "svd": lambda L, a: _svd_invariants(L, a),
    "pinv": lambda L, a: L.linalg.pinv(a),
    "lstsq": lambda L, a: L.linalg.lstsq(a, a[..., :2], driver="gelsd"),
    "matrix_rank": lambda L, a: L.linalg.matrix_rank(a),
    "matrix_power": lambda L, a: L.linalg.matrix_power(a, -2),
    "matrix_exp": lambda L, a: L.linalg.matrix_exp(a / 4),
}


@pytest.mark.parametrize("name", sorted(_ON_DEVICE))
def test_stays_on_fake_cuda_with_cpu_values(fake_cuda, name):
    from ember.backend.fake_cuda import FakeCudaArray
    fn = _ON_DEVICE[name]
    results = []
    for device in ("cpu", "cuda"):
        a = ember.tensor(_SPD, device=device, requires_grad=True)
        outs = _tuple(fn(ember, a))
        floats = [o for o in outs if o.dtype.is_floating_point]
        if floats:
            sum((o ** 2).sum() for o in floats).backward()
        results.append(list(outs) + ([a.grad] if floats else []))
    for k, (c, g) in enumerate(zip(*results)):
        assert type(g._data) is FakeCudaArray and g.device == ember.device("cuda", 0), (name, k)
        assert g.dtype == c.dtype and tuple(g.shape) == tuple(c.shape)
        np.testing.assert_allclose(g.detach().cpu().numpy(), c.detach().numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=f"{name} {k}")
