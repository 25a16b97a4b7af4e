"""ember.optim: every optimizer against torch.optim step by step, state dicts, validation."""
import numpy as np
import pytest

import ember
from ember import optim

SHAPES = [(4, 3), (3,)]
STEPS = 5

# (optimizer name, options): every option path of every algorithm
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1,
                     maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
       for name, kw in CASES]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _data(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    return inits, grads


def _ember_params(inits):
    return [ember.tensor(a.copy(), requires_grad=True) for a in inits]


def _run_ember(opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = ember.tensor(g)
        opt.step()


def _run_torch(torch, name, kw, inits, grads):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in inits]
    opt = getattr(torch.optim, name)(params, **kw)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        opt.step()
    return params, opt


def _values(params):
    return [p.detach().numpy().copy() for p in params]


def _to_numpy(value):
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


# -- parity with torch ---------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_steps_match_torch(torch, name, kw):
    inits, grads = _data()
    params = _ember_params(inits)
    opt = getattr(optim, name)(params, **kw)
    _run_ember(opt, params, grads)
    expected, _ = _run_torch(torch, name, kw, inits, grads)
    for p, e in zip(params, expected):
        assert p.dtype == ember.float32
        np.testing.assert_allclose(p.detach().numpy(), e.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_matches_torch(torch, name, kw):
    inits, grads = _data(steps=2)
    params = _ember_params(inits)
    opt = getattr(optim, name)(params, **kw)
    _run_ember(opt, params, grads)
    _, topt = _run_torch(torch, name, kw, inits, grads)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert ours.keys() == theirs.keys()
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for group, tgroup in zip(ours["param_groups"], theirs["param_groups"]):
        assert list(group) == list(tgroup)  # same keys, same order
        assert group == tgroup
    assert list(ours["state"]) == list(theirs["state"])
    for index, state in ours["state"].items():
        tstate = theirs["state"][index]
        assert list(state) == list(tstate)
        for key, value in state.items():
            expected = _to_numpy(tstate[key])
            assert value.dtype == ember.float32
            assert tuple(value.shape) == expected.shape
            np.testing.assert_allclose(value.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_param_groups_with_different_lrs(torch):
    inits, grads = _data()
    params = _ember_params(inits)
    opt = optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.01,
                                                 "momentum": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["nesterov"] is False  # defaults filled in
    _run_ember(opt, params, grads)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in inits]
    topt = torch.optim.SGD([{"params": [tparams[0]]}, {"params": [tparams[1]], "lr": 0.01,
                                                       "momentum": 0.5}], lr=0.1, momentum=0.9)
    for step_grads in grads:
        for p, g in zip(tparams, step_grads):
            p.grad = torch.tensor(g)
        topt.step()
    for p, e in zip(params, tparams):
        np.testing.assert_allclose(p.detach().numpy(), e.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_add_param_group_matches_torch(torch):
    inits, grads = _data()
    params = _ember_params(inits)
    opt = optim.Adam([params[0]], lr=0.01)
    opt.add_param_group({"params": params[1], "lr": 0.05})
    _run_ember(opt, params, grads)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in inits]
    topt = torch.optim.Adam([tparams[0]], lr=0.01)
    topt.add_param_group({"params": tparams[1], "lr": 0.05})
    for step_grads in grads:
        for p, g in zip(tparams, step_grads):
            p.grad = torch.tensor(g)
        topt.step()
    assert opt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]
    for p, e in zip(params, tparams):
        np.testing.assert_allclose(p.detach().numpy(), e.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_torch_state_dict_and_continue(torch):
    inits, grads = _data()
    kw = dict(lr=0.01, amsgrad=True, weight_decay=0.1)
    expected, _ = _run_torch(torch, "Adam", kw, inits, grads)
    _, topt = _run_torch(torch, "Adam", kw, inits, grads[:3])
    tsd = topt.state_dict()
    converted = {"state": {i: {k: ember.tensor(v.numpy()) for k, v in s.items()}
                           for i, s in tsd["state"].items()},
                 "param_groups": tsd["param_groups"]}
    params = [ember.tensor(p.detach().numpy().copy(), requires_grad=True)
              for p in topt.param_groups[0]["params"]]
    opt = optim.Adam(params)
    opt.load_state_dict(converted)
    _run_ember(opt, params, grads[3:])
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.detach().numpy(), e.detach().numpy(), rtol=1e-5, atol=1e-6)


# -- state dict ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_round_trip(name, kw):
    inits, grads = _data()
    params = _ember_params(inits)
    cls = getattr(optim, name)
    opt = cls(params, **kw)
    _run_ember(opt, params, grads)
    uninterrupted = _values(params)

    params = _ember_params(inits)
    opt = cls(params, **kw)
    _run_ember(opt, params, grads[:3])
    saved = opt.state_dict()
    resumed = _ember_params(_values(params))
    fresh = cls(resumed, lr=0.5)  # the loaded groups' options win
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    _run_ember(fresh, resumed, grads[3:])
    for got, want in zip(_values(resumed), uninterrupted):
        np.testing.assert_array_equal(got, want)
    # the loaded state is a copy, so continuing did not write into the saved dict
    for index, state in saved["state"].items():
        for key, value in state.items():
            assert fresh.state[resumed[index]][key]._data is not value._data


def test_state_dict_format():
    params = _ember_params(_data()[0])
    extra = ember.tensor(np.zeros(2, np.float32), requires_grad=True)
    opt = optim.SGD([{"params": params}, {"params": [extra], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p in params:
        p.grad = ember.ones_like(p)
    opt.step()  # extra has no grad: no state
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 1]
    assert list(sd["state"][0]) == ["momentum_buffer"]
    assert sd["param_groups"][1]["lr"] == 0.5


def test_adam_state_layout():
    params = _ember_params(_data()[0])
    opt = optim.Adam(params, amsgrad=True)
    for p in params:
        p.grad = ember.ones_like(p)
    opt.step()
    opt.step()
    state = opt.state[params[0]]
    assert list(state) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    step = state["step"]
    assert isinstance(step, ember.Tensor) and step.dtype == ember.float32 and step.shape == ()
    assert step.item() == 2.0
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        assert state[key].dtype == ember.float32 and state[key].shape == params[0].shape


def test_load_state_dict_casts_to_param_dtype():
    params = _ember_params(_data()[0])
    opt = optim.Adam(params)
    for p in params:
        p.grad = ember.ones_like(p)
    opt.step()
    doubles = [ember.tensor(p.detach().numpy().astype(np.float64), requires_grad=True)
               for p in params]
    other = optim.Adam(doubles)
    other.load_state_dict(opt.state_dict())
    state = other.state[doubles[0]]
    assert state["exp_avg"].dtype == ember.float64
    assert state["step"].dtype == ember.float32
    for p in doubles:
        p.grad = ember.ones_like(p)
    other.step()
    assert all(p.dtype == ember.float64 for p in doubles)
    assert other.state[doubles[0]]["step"].item() == 2.0


def test_load_state_dict_after_json_round_trip():
    # ember.save keeps optimizer state as JSON: int keys become strings, tuples lists
    params = _ember_params(_data()[0])
    opt = optim.Adam(params, betas=(0.8, 0.9))
    for p in params:
        p.grad = ember.ones_like(p)
    opt.step()
    sd = opt.state_dict()
    mangled = {"state": {str(k): v for k, v in sd["state"].items()},
               "param_groups": [{**g, "betas": list(g["betas"])} for g in sd["param_groups"]]}
    fresh = optim.Adam(params)
    fresh.load_state_dict(mangled)
    assert fresh.param_groups[0]["betas"] == (0.8, 0.9)
    assert fresh.state[params[1]]["step"].item() == 1.0


@pytest.mark.parametrize("mutate,match", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "number of parameter"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "doesn't match the size"),
    (lambda sd: sd["state"][1].update(exp_avg=ember.zeros(5)), "shape"),
])
def test_load_state_dict_errors_change_nothing(mutate, match):
    params = _ember_params(_data()[0])
    opt = optim.Adam(params, lr=0.01)
    for p in params:
        p.grad = ember.ones_like(p)
    opt.step()
    target = optim.Adam(params, lr=0.02)
    for p in params:
        p.grad = ember.ones_like(p)
    target.step()
    before_state = {p: dict(s) for p, s in target.state.items()}
    before_groups = [dict(g) for g in target.param_groups]
    sd = opt.state_dict()
    sd = {"state": {k: dict(v) for k, v in sd["state"].items()},
          "param_groups": [{**g, "params": list(g["params"])} for g in sd["param_groups"]]}
    mutate(sd)
    with pytest.raises(ValueError, match=match):
        target.load_state_dict(sd)
    assert [dict(g) for g in target.param_groups] == before_groups
    assert target.param_groups[0]["lr"] == 0.02
    for p, state in target.state.items():
        assert all(state[k] is v for k, v in before_state[p].items())


# -- validation ------------------------------------------------------------------------------------
INVALID = [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    ("Adam", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("AdamW", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("RMSprop", dict(alpha=-0.5), "Invalid alpha value: -0.5"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("RMSprop", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(lr=-2), "Invalid learning rate: -2"),
]


@pytest.mark.parametrize("name,kw,message", INVALID)
def test_invalid_hyperparameters(name, kw, message):
    params = _ember_params(_data()[0])
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        getattr(optim, name)(params, **kw)


@pytest.mark.parametrize("name,kw,message", INVALID)
def test_invalid_hyperparameter_messages_match_torch(torch, name, kw, message):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([ember.zeros(2, requires_grad=True)], **kw)
    assert str(ours.value) == str(theirs.value)


def test_invalid_group_option_rejected():
    params = _ember_params(_data()[0])
    with pytest.raises(ValueError, match="Invalid learning rate: -3"):
        optim.SGD([{"params": params, "lr": -3}], lr=0.1)


def test_bad_params():
    p = ember.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="must be a dict"):
        optim.SGD([p], lr=0.1).add_param_group([p])


def test_duplicate_params_across_groups():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a, b]}, {"params": [b]}], lr=0.1)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    assert len(opt.param_groups) == 1


def test_named_params():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.param_groups[0]["params"][0] is a
    with pytest.raises(ValueError, match="with/without names"):
        optim.SGD([("w", a), b], lr=0.1)


# -- behaviour -------------------------------------------------------------------------------------
def test_zero_grad():
    params = _ember_params(_data()[0])
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = ember.ones_like(p)
    grads = [p.grad for p in params]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(params, grads):
        assert p.grad is g and not p.grad.numpy().any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_params_without_grad_are_skipped():
    params = _ember_params(_data()[0])
    opt = optim.Adam(params, lr=0.1)
    params[0].grad = ember.ones_like(params[0])
    before = params[1].detach().numpy().copy()
    opt.step()
    np.testing.assert_array_equal(params[1].detach().numpy(), before)
    assert params[1] not in opt.state and params[0] in opt.state


def test_step_updates_in_place_and_bumps_version():
    params = _ember_params(_data()[0])
    opt = optim.Adam(params, lr=0.1)
    arrays = [p._data for p in params]
    versions = [p._version for p in params]
    for _ in range(2):
        for p in params:
            p.grad = ember.ones_like(p)
        opt.step()
    assert all(p._data is a for p, a in zip(params, arrays))
    assert all(p._version == v + 2 for p, v in zip(params, versions))


def test_bad_grad_raises_before_any_update():
    params = _ember_params(_data()[0])
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    before = _values(params)
    params[0].grad = ember.ones_like(params[0])
    params[1].grad = ember.ones(5)
    with pytest.raises(RuntimeError, match="does not match"):
        opt.step()
    for got, want in zip(_values(params), before):
        np.testing.assert_array_equal(got, want)
    assert not opt.state


def test_closure_runs_with_grad_enabled():
    p = ember.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)

    def closure():
        assert ember.is_grad_enabled()
        opt.zero_grad()
        p.grad = ember.tensor(np.array([1.0, -1.0], np.float32))
        return 3.0

    with ember.no_grad():
        assert opt.step(closure) == 3.0
    np.testing.assert_allclose(p.detach().numpy(), [0.5, 2.5])


def test_float64_params_stay_float64():
    p = ember.tensor(np.ones(3), requires_grad=True)
    assert p.dtype == ember.float64
    for cls in (optim.SGD, optim.Adam, optim.RMSprop, optim.Adagrad, optim.Adadelta):
        opt = cls([p], lr=0.1)
        p.grad = ember.tensor(np.full(3, 0.5))
        opt.step()
        assert p.dtype == ember.float64


def test_hand_computed_sgd_momentum():
    p = ember.tensor(np.array([1.0], np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    for _ in range(2):
        p.grad = ember.tensor(np.array([1.0], np.float32))
        opt.step()
    # buf: 1, then 1.9; p: 1 - 0.1 - 0.19
    np.testing.assert_allclose(p.detach().numpy(), [0.71], rtol=1e-6)


def test_repr():
    opt = optim.SGD([ember.zeros(2, requires_grad=True)], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text


def test_repr_separates_param_groups_like_torch(torch):
    reprs = []
    for lib in (torch, ember):
        a, b = lib.zeros(2, requires_grad=True), lib.zeros(1, requires_grad=True)
        reprs.append(repr(lib.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])))
    assert reprs[1] == reprs[0]
    assert "\n\nParameter Group 1\n" in reprs[1]


def test_duplicate_params_in_one_group_warn():
    a = ember.zeros(2, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([a, a], lr=0.1)


def test_adagrad_state_is_created_eagerly():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)
    opt = optim.Adagrad([a], initial_accumulator_value=0.5)
    opt.add_param_group({"params": [b], "initial_accumulator_value": 0.25})
    assert list(opt.state_dict()["state"][1]) == ["step", "sum"]
    assert opt.state[a]["step"].item() == 0.0
    np.testing.assert_array_equal(opt.state[a]["sum"].numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(opt.state[b]["sum"].numpy(), [0.25] * 3)


def test_state_dict_survives_ember_save_and_load(tmp_path):
    inits, grads = _data()
    params = _ember_params(inits)
    opt = optim.AdamW(params, lr=0.01, amsgrad=True)
    _run_ember(opt, params, grads)
    uninterrupted = _values(params)

    params = _ember_params(inits)
    opt = optim.AdamW(params, lr=0.01, amsgrad=True)
    _run_ember(opt, params, grads[:3])
    ember.save({"optimizer": opt.state_dict()}, tmp_path / "ckpt.safetensors")
    loaded = ember.load(tmp_path / "ckpt.safetensors")["optimizer"]
    resumed = _ember_params(_values(params))
    fresh = optim.AdamW(resumed)
    fresh.load_state_dict(loaded)
    _run_ember(fresh, resumed, grads[3:])
    for got, want in zip(_values(resumed), uninterrupted):
        np.testing.assert_array_equal(got, want)
