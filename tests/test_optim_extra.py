"""Adamax, NAdam, RAdam, ASGD, Rprop and LBFGS against torch.optim: steps, state dicts both
ways, validation, schedulers and the (fake) cuda device."""
import numpy as np
import pytest

import ember
from ember import optim
from ember.backend.fake_cuda import forbid_host_sync

SHAPES = [(4, 3), (3,)]
STEPS = 8  # RAdam's rectified update starts at step 6 with the default betas
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}

# (optimizer name, options): every option path of every algorithm
CASES = [
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, eps=1e-3, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, t0=2, lambd=0.1, alpha=0.5)),
    ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.01, etas=(0.1, 1.5), step_sizes=(1e-3, 0.02))),
    ("Rprop", dict(lr=0.05, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
       for name, kw in CASES]




def _data(dtype=np.float32, seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return inits, grads


def _params(lib, arrays):
    return [lib.tensor(a.copy(), requires_grad=True) for a in arrays]


def _run(lib, opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = lib.tensor(g.copy())
        opt.step()


def _optimizer(lib, name, params, kw):
    return getattr(lib.optim, name)(params, **kw)


def _values(params):
    return [p.detach().cpu().numpy().copy() for p in params]


def _assert_params_close(ours, theirs, tol):
    for got, want in zip(_values(ours), _values(theirs)):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, **tol)


def _assert_state_matches(ours, theirs, tol):
    """``ours`` (ember) has the structure, kinds, dtypes, shapes and counts of torch's, and
    its values (unless ``tol`` is None)."""
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs)
        for key in theirs:
            _assert_state_matches(ours[key], theirs[key], tol)
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_state_matches(a, b, tol)
    elif hasattr(theirs, "detach"):  # a torch tensor
        assert isinstance(ours, ember.Tensor)
        got, want = ours.detach().cpu().numpy(), theirs.detach().numpy()
        assert got.dtype == want.dtype and got.shape == want.shape
        if tol is not None:
            np.testing.assert_allclose(got, want, **tol)
    elif theirs is None:
        assert ours is None
    else:
        assert type(ours) is type(theirs)
        if isinstance(theirs, int):
            assert ours == theirs
        elif tol is not None:
            np.testing.assert_allclose(ours, theirs, **tol)


def _map_tensors(value, kind, fn):
    if isinstance(value, dict):
        return {k: _map_tensors(v, kind, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_tensors(v, kind, fn) for v in value]
    return fn(value) if isinstance(value, kind) else value


def _to_torch(torch, state_dict):
    return _map_tensors(state_dict, ember.Tensor,
                        lambda t: torch.from_numpy(t.detach().cpu().numpy().copy()))


def _to_ember(torch, state_dict):
    return _map_tensors(state_dict, torch.Tensor,
                        lambda t: ember.tensor(t.detach().numpy().copy()))


# -- parity with torch ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_steps_and_state_match_torch(torch, name, kw, dtype):
    inits, grads = _data(dtype)
    params = _params(ember, inits)
    opt = _optimizer(ember, name, params, kw)
    _run(ember, opt, params, grads)
    tparams = _params(torch, inits)
    topt = _optimizer(torch, name, tparams, kw)
    _run(torch, topt, tparams, grads)
    _assert_params_close(params, tparams, TOL[dtype])
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    assert [list(g) for g in ours["param_groups"]] == [list(g) for g in theirs["param_groups"]]
    _assert_state_matches(ours["state"], theirs["state"], TOL[dtype])


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_moves_between_ember_and_torch(torch, name, kw):
    inits, grads = _data()
    reference = _params(torch, inits)
    _run(torch, _optimizer(torch, name, reference, kw), reference, grads)

    # ember -> torch
    params = _params(ember, inits)
    opt = _optimizer(ember, name, params, kw)
    _run(ember, opt, params, grads[:4])
    tparams = _params(torch, _values(params))
    topt = _optimizer(torch, name, tparams, {})
    topt.load_state_dict(_to_torch(torch, opt.state_dict()))
    _run(torch, topt, tparams, grads[4:])
    _assert_params_close(tparams, reference, TOL[np.float32])

    # torch -> ember
    tparams = _params(torch, inits)
    topt = _optimizer(torch, name, tparams, kw)
    _run(torch, topt, tparams, grads[:4])
    params = _params(ember, _values(tparams))
    opt = _optimizer(ember, name, params, {})
    opt.load_state_dict(_to_ember(torch, topt.state_dict()))
    assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
    _run(ember, opt, params, grads[4:])
    _assert_params_close(params, reference, TOL[np.float32])


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_round_trip_in_ember(name, kw):
    inits, grads = _data()
    params = _params(ember, inits)
    _run(ember, _optimizer(ember, name, params, kw), params, grads)
    uninterrupted = _values(params)

    params = _params(ember, inits)
    opt = _optimizer(ember, name, params, kw)
    _run(ember, opt, params, grads[:3])
    saved = opt.state_dict()
    resumed = _params(ember, _values(params))
    fresh = _optimizer(ember, name, resumed, {})
    fresh.load_state_dict(saved)
    _run(ember, fresh, resumed, grads[3:])
    for got, want in zip(_values(resumed), uninterrupted):
        np.testing.assert_array_equal(got, want)


def test_scalar_state_is_float32_on_load():
    # NAdam's mu_product and ASGD's eta and mu are float32 scalars like step, whatever the
    # parameter's dtype
    for name, keys in (("NAdam", ("step", "mu_product")), ("ASGD", ("step", "eta", "mu"))):
        params = _params(ember, _data()[0])
        opt = _optimizer(ember, name, params, {})
        _run(ember, opt, params, _data()[1][:2])
        doubles = _params(ember, [a.astype(np.float64) for a in _values(params)])
        other = _optimizer(ember, name, doubles, {})
        other.load_state_dict(opt.state_dict())
        for key in keys:
            value = other.state[doubles[0]][key]
            assert value.dtype == ember.float32 and value.shape == ()
            assert value.item() == opt.state[params[0]][key].item()


# -- LBFGS ---------------------------------------------------------------------------------------
def _rosenbrock_closure(opt, params):
    """A gentle Rosenbrock in ``x`` plus a quadratic in ``w``. (The classic coefficient 100
    in place of 2 amplifies the last-bit differences between NumPy's and torch's BLAS dot
    products past any useful tolerance within a few dozen iterations.)"""
    x, w = params

    def closure():
        opt.zero_grad()
        loss = (2 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        loss = loss + ((w - 0.5) ** 2 * 3).sum()
        loss.backward()
        return loss
    return closure


def _lbfgs_inits(dtype):
    return [np.array([-1.2, 1.0, -0.5, 0.8], dtype), np.arange(6, dtype=dtype).reshape(2, 3)]


LBFGS_CASES = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, history_size=3, max_iter=7),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=10, max_eval=14),
    dict(lr=0.1, tolerance_change=1e-2),
    dict(tolerance_change=1e-3),
    dict(line_search_fn="strong_wolfe", tolerance_change=1e-4, tolerance_grad=1e-3),
]
LBFGS_IDS = ["-".join(f"{k}={v}" for k, v in kw.items()) or "default" for kw in LBFGS_CASES]
LBFGS_TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _flat(value) -> np.ndarray:
    """Every number in a state value (a tensor, a number, a list of them) in one array."""
    if isinstance(value, list):
        parts = [_flat(v) for v in value if v is not None]
        return np.concatenate(parts) if parts else np.zeros(0)
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy().astype(np.float64).ravel()
    return np.array([value], np.float64)


def _lbfgs_run(lib, kw, inits, steps):
    params = _params(lib, inits)
    opt = lib.optim.LBFGS(params, **kw)
    closure = _rosenbrock_closure(opt, params)
    losses = [opt.step(closure).item() for _ in range(steps)]
    return params, opt, losses


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("kw", LBFGS_CASES, ids=LBFGS_IDS)
def test_lbfgs_matches_torch(torch, kw, dtype):
    inits = _lbfgs_inits(dtype)
    params, opt, losses = _lbfgs_run(ember, kw, inits, 3)
    tparams, topt, tlosses = _lbfgs_run(torch, kw, inits, 3)
    tol = LBFGS_TOL[dtype]
    np.testing.assert_allclose(losses, tlosses, **tol)
    _assert_params_close(params, tparams, tol)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    # the same iterations and closure calls: every branch was taken as in torch
    _assert_state_matches(ours["state"], theirs["state"], None)
    if dtype is np.float64:
        # the history is made of gradient differences, so near the minimum its float32
        # values are rounding noise; in float64 they agree relative to their scale
        for key, want in theirs["state"][0].items():
            want, got = _flat(want), _flat(ours["state"][0][key])
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-8 * np.abs(want).max())


@pytest.mark.parametrize("kw", [LBFGS_CASES[2], LBFGS_CASES[3]], ids=LBFGS_IDS[2:4])
def test_lbfgs_state_dict_moves_between_ember_and_torch(torch, kw):
    inits = _lbfgs_inits(np.float64)
    tol = LBFGS_TOL[np.float64]
    reference, _, _ = _lbfgs_run(torch, kw, inits, 3)

    params, opt, _ = _lbfgs_run(ember, kw, inits, 1)
    tparams = _params(torch, _values(params))
    topt = torch.optim.LBFGS(tparams, **kw)
    topt.load_state_dict(_to_torch(torch, opt.state_dict()))
    closure = _rosenbrock_closure(topt, tparams)
    for _ in range(2):
        topt.step(closure)
    _assert_params_close(tparams, reference, tol)

    tparams, topt, _ = _lbfgs_run(torch, kw, inits, 1)
    params = _params(ember, _values(tparams))
    opt = optim.LBFGS(params, **kw)
    opt.load_state_dict(_to_ember(torch, topt.state_dict()))
    closure = _rosenbrock_closure(opt, params)
    for _ in range(2):
        opt.step(closure)
    _assert_params_close(params, reference, tol)


def test_lbfgs_state_survives_ember_save_and_load(tmp_path):
    kw = dict(history_size=3, max_iter=5)
    inits = _lbfgs_inits(np.float32)
    params, opt, _ = _lbfgs_run(ember, kw, inits, 1)
    ember.save({"optimizer": opt.state_dict()}, tmp_path / "lbfgs.safetensors")
    resumed = _params(ember, _values(params))
    fresh = optim.LBFGS(resumed, **kw)
    fresh.load_state_dict(ember.load(tmp_path / "lbfgs.safetensors")["optimizer"])
    opt.step(_rosenbrock_closure(opt, params))
    fresh.step(_rosenbrock_closure(fresh, resumed))
    for got, want in zip(_values(resumed), _values(params)):
        np.testing.assert_array_equal(got, want)


def test_lbfgs_stops_at_a_minimum_without_moving():
    p = ember.tensor(np.zeros(3), requires_grad=True)
    opt = optim.LBFGS([p])

    def closure():
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == 0.0
    assert opt.state[p] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(p.detach().numpy(), np.zeros(3))


def test_lbfgs_rejects_groups_and_unknown_line_search(torch):
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(2, requires_grad=True)
    ta, tb = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError) as theirs:
        torch.optim.LBFGS([{"params": [ta]}, {"params": [tb]}])
    with pytest.raises(ValueError) as ours:
        optim.LBFGS([{"params": [a]}, {"params": [b]}])
    assert str(ours.value) == str(theirs.value)
    opt = optim.LBFGS([a], line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = ((a - 1) ** 2).sum()
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


# -- validation ----------------------------------------------------------------------------------
INVALID = [
    ("Adamax", dict(lr=-1.0)),
    ("Adamax", dict(eps=-1e-8)),
    ("Adamax", dict(betas=(1.0, 0.999))),
    ("Adamax", dict(betas=(0.9, -0.1))),
    ("Adamax", dict(weight_decay=-1)),
    ("NAdam", dict(lr=-0.5)),
    ("NAdam", dict(betas=(0.9, 1.0))),
    ("NAdam", dict(momentum_decay=-1)),
    ("NAdam", dict(weight_decay=-0.1)),
    ("RAdam", dict(lr=-1.0)),
    ("RAdam", dict(eps=-1)),
    ("RAdam", dict(betas=(-0.1, 0.999))),
    ("RAdam", dict(weight_decay=-0.5)),
    ("ASGD", dict(lr=-1.0)),
    ("ASGD", dict(weight_decay=-1)),
    ("Rprop", dict(lr=-1.0)),
    ("Rprop", dict(etas=(1.5, 2.0))),
    ("Rprop", dict(etas=(0.5, 0.9))),
    ("Rprop", dict(etas=(0.0, 1.2))),
    ("LBFGS", dict(lr=-1.0)),
]


@pytest.mark.parametrize("name,kw", INVALID)
def test_invalid_hyperparameters_match_torch(torch, name, kw):
    with pytest.raises(Exception) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
    with pytest.raises(Exception) as ours:
        getattr(optim, name)([ember.zeros(2, requires_grad=True)], **kw)
    assert type(ours.value) is type(theirs.value) is ValueError
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
def test_differentiable_is_not_supported(name):
    # updates are in place on the raw arrays, as in ember's other optimizers
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        getattr(optim, name)([ember.zeros(2, requires_grad=True)], differentiable=True)


def test_invalid_group_option_rejected():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid eta values: 2.0, 3.0"):
        optim.Rprop([{"params": [a]}, {"params": [b], "etas": (2.0, 3.0)}])


# -- lr schedulers -------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", CASES[::3] + [("LBFGS", dict(lr=0.5, max_iter=3))],
                         ids=IDS[::3] + ["LBFGS"])
def test_lr_scheduler_drives_them_like_torch(torch, name, kw):
    results = []
    for lib in (ember, torch):
        if name == "LBFGS":
            params = _params(lib, _lbfgs_inits(np.float32))
            opt = lib.optim.LBFGS(params, **kw)
            closure = _rosenbrock_closure(opt, params)
        else:
            inits, grads = _data()
            params = _params(lib, inits)
            opt = _optimizer(lib, name, params, kw)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        for i in range(5):
            if name == "LBFGS":
                opt.step(closure)
            else:
                _run(lib, opt, params, grads[i:i + 1])
            sched.step()
        results.append((params, opt.param_groups[0]["lr"]))
    (params, lr), (tparams, tlr) = results
    assert lr == tlr
    _assert_params_close(params, tparams, dict(rtol=1e-4, atol=1e-5))


# -- the (fake) cuda device ----------------------------------------------------------------------
def _on_cuda(t):
    assert t.device == ember.device("cuda", 0) and t.is_cuda


def _device_buffers(state):
    """The state's tensors with a shape (scalars such as step stay on the host, as in
    torch)."""
    found = []
    for value in state.values():
        values = value if isinstance(value, list) else [value]
        found += [v for v in values if isinstance(v, ember.Tensor) and v.dim() > 0]
    return found


@pytest.mark.parametrize("name,kw", CASES[1::3], ids=IDS[1::3])
def test_state_stays_on_the_device(fake_cuda, name, kw):
    inits, grads = _data(steps=3)
    cpu = _params(ember, inits)
    _run(ember, _optimizer(ember, name, cpu, kw), cpu, grads)
    params = [ember.tensor(a.copy(), device="cuda", requires_grad=True) for a in inits]
    opt = _optimizer(ember, name, params, kw)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = ember.tensor(g.copy(), device="cuda")
        with forbid_host_sync():  # the scalars (step, eta, mu, ...) live on the host
            opt.step()
    for p in params:
        _on_cuda(p)
        buffers = _device_buffers(opt.state[p])
        assert buffers
        for value in buffers:
            _on_cuda(value)
    for got, want in zip(_values(params), _values(cpu)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kw", [LBFGS_CASES[2], LBFGS_CASES[3]], ids=LBFGS_IDS[2:4])
def test_lbfgs_on_the_device(fake_cuda, kw):
    inits = _lbfgs_inits(np.float32)
    cpu, _, cpu_losses = _lbfgs_run(ember, kw, inits, 2)
    params = [ember.tensor(a.copy(), device="cuda", requires_grad=True) for a in inits]
    opt = optim.LBFGS(params, **kw)
    closure = _rosenbrock_closure(opt, params)
    losses = [opt.step(closure).item() for _ in range(2)]
    assert losses == cpu_losses
    for got, want in zip(_values(params), _values(cpu)):
        np.testing.assert_array_equal(got, want)
    buffers = _device_buffers(opt.state[params[0]])
    assert len(buffers) >= 4  # d, prev_flat_grad and the history
    for value in buffers:
        _on_cuda(value)
