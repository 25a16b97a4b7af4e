"""ember.optim.lr_scheduler: lr sequences against torch's step by step, state dicts, errors."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import lr_scheduler

STEPS = 30
LRS = (0.1, 0.05)


class Halving:
    """A callable object: LambdaLR saves its __dict__ in the state dict."""

    def __init__(self):
        self.every = 10

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


# name -> (builder(lib, opt) -> scheduler, optimizer name, optimizer options)
SCHEDULERS = {
    "StepLR": (lambda lib, opt: lib.StepLR(opt, step_size=7, gamma=0.5), "SGD", {}),
    "MultiStepLR": (lambda lib, opt: lib.MultiStepLR(opt, milestones=[3, 10, 10, 20],
                                                      gamma=0.3), "SGD", {}),
    "ExponentialLR": (lambda lib, opt: lib.ExponentialLR(opt, gamma=0.9), "SGD", {}),
    "CosineAnnealingLR": (lambda lib, opt: lib.CosineAnnealingLR(opt, T_max=10), "SGD", {}),
    "CosineAnnealingLR-eta_min": (lambda lib, opt: lib.CosineAnnealingLR(opt, T_max=7,
                                                                        eta_min=0.01),
                                  "SGD", {}),
    "LambdaLR": (lambda lib, opt: lib.LambdaLR(opt, lambda e: 1 / (1 + e)), "SGD", {}),
    "LambdaLR-per-group": (lambda lib, opt: lib.LambdaLR(
        opt, [lambda e: 0.95 ** e, Halving()]), "SGD", {}),
    "MultiplicativeLR": (lambda lib, opt: lib.MultiplicativeLR(opt, lambda e: 0.97),
                         "SGD", {}),
    "ConstantLR": (lambda lib, opt: lib.ConstantLR(opt, factor=0.25, total_iters=4),
                   "SGD", {}),
    "LinearLR": (lambda lib, opt: lib.LinearLR(opt, start_factor=0.1, total_iters=8),
                 "SGD", {}),
    "LinearLR-decay": (lambda lib, opt: lib.LinearLR(opt, start_factor=1.0, end_factor=0.2,
                                                     total_iters=12), "SGD", {}),
    "PolynomialLR": (lambda lib, opt: lib.PolynomialLR(opt, total_iters=20, power=2.0),
                     "SGD", {}),
    "OneCycleLR": (lambda lib, opt: lib.OneCycleLR(opt, max_lr=1.0, total_steps=STEPS + 1),
                   "SGD", {"momentum": 0.9}),
    "OneCycleLR-linear-three-phase-adam": (lambda lib, opt: lib.OneCycleLR(
        opt, max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=8, pct_start=0.25,
        anneal_strategy="linear", three_phase=True), "Adam", {}),
    "OneCycleLR-no-momentum": (lambda lib, opt: lib.OneCycleLR(
        opt, max_lr=0.3, total_steps=STEPS + 1, cycle_momentum=False, div_factor=10.0,
        final_div_factor=100.0), "Adagrad", {}),
    "SequentialLR": (lambda lib, opt: lib.SequentialLR(
        opt, [lib.LinearLR(opt, start_factor=0.1, total_iters=5),
              lib.ExponentialLR(opt, gamma=0.9)], milestones=[5]), "SGD", {}),
    "SequentialLR-three": (lambda lib, opt: lib.SequentialLR(
        opt, [lib.ConstantLR(opt, factor=0.5, total_iters=3),
              lib.CosineAnnealingLR(opt, T_max=8),
              lib.StepLR(opt, step_size=4)], milestones=[4, 14]), "SGD", {}),
    "ChainedScheduler": (lambda lib, opt: lib.ChainedScheduler(
        [lib.LinearLR(opt, start_factor=0.2, total_iters=6),
         lib.ExponentialLR(opt, gamma=0.95)]), "SGD", {}),
}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _ember_opt(name, options):
    groups = [{"params": [ember.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    return getattr(optim, name)(groups, **options)


def _torch_opt(torch, name, options):
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    return getattr(torch.optim, name)(groups, **options)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _trace(opt, sched, steps=STEPS):
    """lrs (and momenta) after construction and after each optimizer+scheduler step."""
    rows = [(list(sched.get_last_lr()), _momenta(opt))]
    for _ in range(steps):
        opt.step()  # no gradients: changes nothing, but scheduler.step() must follow it
        sched.step()
        rows.append((list(sched.get_last_lr()), _momenta(opt)))
        assert [g["lr"] for g in opt.param_groups] == rows[-1][0]
    return rows


def _assert_rows_close(ours, theirs):
    assert len(ours) == len(theirs)
    for step, ((lrs, mom), (tlrs, tmom)) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(lrs, tlrs, rtol=1e-12, atol=1e-15, err_msg=f"step {step}")
        np.testing.assert_allclose(np.asarray(mom, float), np.asarray(tmom, float),
                                   rtol=1e-12, err_msg=f"momentum at step {step}")


@pytest.mark.parametrize("case", list(SCHEDULERS))
def test_lr_sequence_matches_torch(torch, case):
    build, opt_name, options = SCHEDULERS[case]
    opt = _ember_opt(opt_name, options)
    ours = _trace(opt, build(lr_scheduler, opt))
    topt = _torch_opt(torch, opt_name, options)
    theirs = _trace(topt, build(torch.optim.lr_scheduler, topt))
    _assert_rows_close(ours, theirs)
    # groups gained the same bookkeeping keys (initial_lr, max_lr, ...)
    assert [set(g) - {"params"} for g in opt.param_groups] == \
           [set(g) - {"params"} for g in topt.param_groups]


@pytest.mark.parametrize("case", list(SCHEDULERS))
def test_state_dict_round_trip(case):
    build, opt_name, options = SCHEDULERS[case]
    opt = _ember_opt(opt_name, options)
    sched = build(lr_scheduler, opt)
    _trace(opt, sched, steps=12)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_state
    expected = _trace(opt, sched, steps=STEPS - 12)

    # as torch recommends: build the scheduler, then load the optimizer, then the scheduler
    opt2 = _ember_opt(opt_name, options)
    sched2 = build(lr_scheduler, opt2)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    _assert_rows_close(_trace(opt2, sched2, steps=STEPS - 12), expected)


def test_lambda_state_dict_keeps_callable_object_state():
    opt = _ember_opt("SGD", {})
    halving = Halving()
    halving.every = 3
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, halving])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"every": 3}]
    fresh = lr_scheduler.LambdaLR(_ember_opt("SGD", {}), [lambda e: 1.0, Halving()])
    fresh.load_state_dict(state)
    assert fresh.lr_lambdas[1].every == 3


REDUCE_CASES = [
    dict(),
    dict(mode="max", factor=0.5, patience=2),
    dict(patience=1, threshold=0.1, threshold_mode="abs", cooldown=2),
    dict(mode="max", patience=0, threshold_mode="abs", min_lr=[0.02, 0.001], factor=0.3),
    dict(patience=0, factor=0.5, min_lr=0.04, eps=1e-3),
]
METRICS = [1.0, 0.9, 0.95, 0.95, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.85,
           0.86, 0.87, 0.87, 0.87, 0.8, 0.8, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86, 0.87,
           0.88]


def _plateau_trace(opt, sched, metrics):
    rows = [(list(sched.get_last_lr()), [])]
    for metric in metrics:
        opt.step()
        sched.step(metric)
        rows.append((list(sched.get_last_lr()), []))
    return rows


@pytest.mark.parametrize("options", REDUCE_CASES, ids=str)
def test_reduce_on_plateau_matches_torch(torch, options):
    opt = _ember_opt("SGD", {})
    ours = _plateau_trace(opt, lr_scheduler.ReduceLROnPlateau(opt, **options), METRICS)
    topt = _torch_opt(torch, "SGD", {})
    theirs = _plateau_trace(topt, torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **options),
                            METRICS)
    _assert_rows_close(ours, theirs)


def test_reduce_on_plateau_accepts_tensor_metric():
    opt = _ember_opt("SGD", {})
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(ember.tensor(1.0))
    sched.step(ember.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.005])


@pytest.mark.parametrize("options", REDUCE_CASES, ids=str)
def test_reduce_on_plateau_state_dict_round_trip(options):
    opt = _ember_opt("SGD", {})
    sched = lr_scheduler.ReduceLROnPlateau(opt, **options)
    _plateau_trace(opt, sched, METRICS[:12])
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    expected = _plateau_trace(opt, sched, METRICS[12:])
    opt2 = _ember_opt("SGD", {})
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    assert _plateau_trace(opt2, sched2, METRICS[12:]) == expected


def test_initial_lr_is_stored_and_base_lrs():
    opt = _ember_opt("SGD", {})
    sched = lr_scheduler.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert sched.base_lrs == list(LRS)
    assert sched.last_epoch == 0


def test_hand_computed_cosine():
    opt = _ember_opt("SGD", {})
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.0)
    for epoch in range(1, 21):
        opt.step()
        sched.step()
        want = [lr * (1 + math.cos(math.pi * epoch / 10)) / 2 for lr in LRS]
        assert sched.get_last_lr() == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("case", ["StepLR", "MultiStepLR", "ExponentialLR",
                                  "CosineAnnealingLR", "LinearLR", "PolynomialLR",
                                  "ConstantLR"])
def test_epoch_argument_uses_closed_form(torch, case):
    build, opt_name, options = SCHEDULERS[case]
    results = []
    for lib, make in ((lr_scheduler, _ember_opt), (torch.optim.lr_scheduler, None)):
        opt = make(opt_name, options) if make else _torch_opt(torch, opt_name, options)
        sched = build(lib, opt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt.step()
            sched.step(13)
        results.append(sched.get_last_lr())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_resume_needs_initial_lr():
    opt = _ember_opt("SGD", {})
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=3, last_epoch=5)
    lr_scheduler.StepLR(opt, step_size=3)
    resumed = lr_scheduler.StepLR(opt, step_size=3, last_epoch=5)
    assert resumed.last_epoch == 6


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _ember_opt("SGD", {})
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = _ember_opt("SGD", {})
    sched2 = lr_scheduler.ExponentialLR(opt2, gamma=0.5)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_get_lr_outside_step_warns():
    sched = lr_scheduler.StepLR(_ember_opt("SGD", {}), step_size=3)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_errors():
    opt = _ember_opt("SGD", {})
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode maximum is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="maximum")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=2.0)
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(_ember_opt("Adagrad", {}), max_lr=0.1, total_steps=10)
    one_cycle = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    opt.step()
    one_cycle.step()
    one_cycle.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        one_cycle.step()
    step = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.raises(ValueError, match="number of milestones"):
        lr_scheduler.SequentialLR(opt, [step], milestones=[3])
    other = lr_scheduler.StepLR(_ember_opt("SGD", {}), step_size=2)
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.SequentialLR(opt, [step, other], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.ChainedScheduler([step, lr_scheduler.ReduceLROnPlateau(opt)])
