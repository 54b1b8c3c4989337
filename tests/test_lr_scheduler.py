"""Learning-rate schedulers: each one's learning rates (and OneCycleLR's and CyclicLR's momentum or beta1) step
by step against PyTorch's, with two parameter groups, over restarts and cycles; state-dict round trips
mid-schedule (also through NumPy values, as a checkpoint gives them back, and from PyTorch's own state dicts);
errors."""
import math
import warnings

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import optim
from minitorch_cifar.optim import lr_scheduler

torch = pytest.importorskip("torch")

GROUP_LRS = (0.1, 0.04)


def optimizers(kind="SGD", **options):
    """The same two-group optimizer in both frameworks (parameters without gradients: steps change nothing)."""
    ours = [mt.nn.Parameter(mt.zeros(3)), mt.nn.Parameter(mt.zeros(2))]
    theirs = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))]

    def groups(params):
        return [{"params": [params[0]], "lr": GROUP_LRS[0]}, {"params": [params[1]], "lr": GROUP_LRS[1]}]
    return getattr(optim, kind)(groups(ours), **options), getattr(torch.optim, kind)(groups(theirs), **options)


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def record(opt, scheduler, steps, metrics=None):
    """The learning rates and momenta after construction and after each step."""
    history = [(scheduler.get_last_lr(), [g["lr"] for g in opt.param_groups], momenta(opt))]
    for step in range(steps):
        opt.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[step])
        history.append((list(scheduler.get_last_lr()), [g["lr"] for g in opt.param_groups], momenta(opt)))
    return history


def assert_same_schedule(make, steps, kind="SGD", options=None, metrics=None):
    if options is None:
        options = {"momentum": 0.9} if kind == "SGD" else {}
    ours_opt, their_opt = optimizers(kind, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's advice about step order
        ours, theirs = record(ours_opt, make(lr_scheduler, ours_opt), steps, metrics), \
            record(their_opt, make(torch.optim.lr_scheduler, their_opt), steps, metrics)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"step {step}: ours (last_lr, group lrs, momenta) {a}, PyTorch's {b}"
    return ours


def sequential_warmup_cosine(m, opt):
    return m.SequentialLR(opt, [m.LinearLR(opt, start_factor=0.1, total_iters=5),
                                m.CosineAnnealingLR(opt, T_max=20, eta_min=1e-4)], milestones=[5])


class Halving:
    """A callable object: LambdaLR saves its attributes in the state dict."""

    def __init__(self):
        self.every = 4

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


class Shrinking:
    """A callable object for CyclicLR's scale_fn (saved in the state dict)."""

    def __init__(self):
        self.rate = 0.8

    def __call__(self, x):
        return self.rate ** x


SCHEDULES = {
    "StepLR": (lambda m, opt: m.StepLR(opt, step_size=3, gamma=0.5), 20),
    "MultiStepLR": (lambda m, opt: m.MultiStepLR(opt, milestones=[2, 5, 5, 9], gamma=0.3), 15),
    "ExponentialLR": (lambda m, opt: m.ExponentialLR(opt, gamma=0.9), 30),
    "CosineAnnealingLR": (lambda m, opt: m.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3), 45),
    "LinearLR-warmup": (lambda m, opt: m.LinearLR(opt, start_factor=0.1, total_iters=6), 12),
    "LinearLR-decay": (lambda m, opt: m.LinearLR(opt, start_factor=1.0, end_factor=0.2, total_iters=8), 12),
    "LambdaLR": (lambda m, opt: m.LambdaLR(opt, lambda epoch: 0.95 ** epoch), 20),
    "LambdaLR-per-group": (lambda m, opt: m.LambdaLR(opt, [lambda e: 1 / (e + 1), Halving()]), 20),
    "SequentialLR-warmup-cosine": (sequential_warmup_cosine, 40),
    "SequentialLR-three": (lambda m, opt: m.SequentialLR(opt, [m.LinearLR(opt, 0.25, total_iters=3),
                                                               m.StepLR(opt, 2, 0.5), m.ExponentialLR(opt, 0.8)],
                                                         milestones=[3, 8]), 16),
    "SequentialLR-lambda": (lambda m, opt: m.SequentialLR(opt, [m.ExponentialLR(opt, 0.5),
                                                                m.LambdaLR(opt, lambda e: 1.0 + e)], [4]), 10),
    "OneCycleLR": (lambda m, opt: m.OneCycleLR(opt, max_lr=[1.0, 0.3], total_steps=40), 40),
    "OneCycleLR-linear-three-phase": (lambda m, opt: m.OneCycleLR(
        opt, max_lr=0.5, epochs=5, steps_per_epoch=8, pct_start=0.25, anneal_strategy="linear", three_phase=True,
        div_factor=10.0, final_div_factor=100.0, base_momentum=0.8, max_momentum=[0.9, 0.95]), 40),
    "OneCycleLR-no-momentum": (lambda m, opt: m.OneCycleLR(opt, max_lr=0.2, total_steps=25, pct_start=0.5,
                                                           cycle_momentum=False), 25),
    "MultiplicativeLR": (lambda m, opt: m.MultiplicativeLR(opt, lambda epoch: 0.9), 15),
    "MultiplicativeLR-per-group": (lambda m, opt: m.MultiplicativeLR(opt, [lambda e: 0.95, Halving()]), 15),
    "ConstantLR": (lambda m, opt: m.ConstantLR(opt), 10),
    "ConstantLR-half": (lambda m, opt: m.ConstantLR(opt, factor=0.5, total_iters=3), 8),
    "PolynomialLR": (lambda m, opt: m.PolynomialLR(opt), 8),
    "PolynomialLR-squared": (lambda m, opt: m.PolynomialLR(opt, total_iters=9, power=2.0), 12),
    "CosineAnnealingWarmRestarts": (lambda m, opt: m.CosineAnnealingWarmRestarts(opt, T_0=5), 23),
    "CosineAnnealingWarmRestarts-T_mult": (lambda m, opt: m.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2,
                                                                                        eta_min=1e-3), 50),
    "CyclicLR": (lambda m, opt: m.CyclicLR(opt, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4), 30),
    "CyclicLR-triangular2": (lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, step_size_up=3, step_size_down=5,
                                                       mode="triangular2", base_momentum=[0.8, 0.7]), 40),
    "CyclicLR-exp_range": (lambda m, opt: m.CyclicLR(opt, [0.01, 0.02], 0.1, step_size_up=5, mode="exp_range",
                                                     gamma=0.95, max_momentum=0.95), 40),
    "CyclicLR-scale_fn": (lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, step_size_up=2, step_size_down=3,
                                                    scale_fn=Shrinking(), scale_mode="iterations"), 25),
    "CyclicLR-no-momentum": (lambda m, opt: m.CyclicLR(opt, 0.001, 0.05, step_size_up=3, cycle_momentum=False), 15),
    "ChainedScheduler": (lambda m, opt: m.ChainedScheduler([m.ConstantLR(opt, factor=0.1, total_iters=2),
                                                            m.ExponentialLR(opt, gamma=0.9)]), 10),
    "ChainedScheduler-warm-restarts": (lambda m, opt: m.ChainedScheduler(
        [m.LinearLR(opt, 0.2, total_iters=4), m.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)], opt), 20),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_torch(name):
    make, steps = SCHEDULES[name]
    assert_same_schedule(make, steps)


RESUMED = {  # built with last_epoch=4, as when resuming from a checkpoint
    "StepLR": lambda m, opt: m.StepLR(opt, step_size=3, gamma=0.5, last_epoch=4),
    "ExponentialLR": lambda m, opt: m.ExponentialLR(opt, gamma=0.9, last_epoch=4),
    "CosineAnnealingLR": lambda m, opt: m.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3, last_epoch=4),
    "LinearLR": lambda m, opt: m.LinearLR(opt, start_factor=0.1, total_iters=6, last_epoch=4),
}


def test_cyclic_lr_cycles_adam_beta1():
    history = assert_same_schedule(lambda m, opt: m.CyclicLR(opt, 1e-3, 1e-2, step_size_up=3, base_momentum=0.85,
                                                             max_momentum=0.95), 12, kind="Adam",
                                   options={"betas": (0.9, 0.99)})
    assert [h[2][0] for h in history[:4]] == pytest.approx([0.95, 0.95 - 0.1 / 3, 0.95 - 0.2 / 3, 0.85])


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_with_fractional_epochs(T_mult):
    """The per-batch loop of PyTorch's docs, ``scheduler.step(epoch + i / iters)``, and jumps back and forth."""
    epochs = [epoch + i / 7 for epoch in range(16) for i in range(7)] + [2, 30.5, 0.25, 11, 3]

    def make(m, opt):
        return m.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=T_mult, eta_min=0.005)
    ours_opt, their_opt = optimizers("SGD", momentum=0.9)
    ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, their_opt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # step(epoch) is not deprecated here
        for epoch in epochs:
            ours.step(epoch)
            theirs.step(epoch)
            assert ours.get_last_lr() == theirs.get_last_lr(), f"epoch {epoch}"
            assert (ours.last_epoch, ours.T_cur, ours.T_i) == (theirs.last_epoch, theirs.T_cur, theirs.T_i)
    ours.step()  # a whole epoch on from there
    theirs.step()
    assert ours.get_last_lr() == theirs.get_last_lr()
    with pytest.raises(ValueError, match="non-negative epoch"):
        ours.step(-1)


@pytest.mark.parametrize("name", RESUMED)
def test_schedule_resumed_at_last_epoch_matches_torch(name):
    def make(m, opt):
        for group, initial_lr in zip(opt.param_groups, (0.3, 0.2)):
            group["initial_lr"] = initial_lr
        return RESUMED[name](m, opt)
    assert_same_schedule(make, 12)


def test_step_with_an_epoch_jumps_there_in_closed_form():
    def make(m, opt):
        scheduler = m.MultiStepLR(opt, milestones=[2, 5, 5], gamma=0.5)
        scheduler.step(6)
        return scheduler
    assert_same_schedule(make, 4)
    with pytest.warns(UserWarning, match="deprecated"):  # as PyTorch's does
        make(lr_scheduler, optimizers()[0])


def test_one_cycle_cycles_adam_beta1():
    history = assert_same_schedule(lambda m, opt: m.OneCycleLR(opt, max_lr=0.01, total_steps=30, three_phase=True),
                                   30, kind="Adam", options={"betas": (0.9, 0.99)})
    assert min(h[2][0] for h in history) == pytest.approx(0.85) and history[0][2][0] == 0.95


def test_one_cycle_refuses_to_step_past_total_steps():
    opt, _ = optimizers("SGD", momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=3)
    for _ in range(5):
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(1.0 / 25 / 1e4)  # the last step of the cycle
    scheduler.step()  # one more is allowed, as in PyTorch
    with pytest.raises(ValueError, match="tried to step 7 times.*total steps is 6"):
        scheduler.step()


METRIC_RUNS = {
    "min-rel": (dict(patience=2), [5, 4, 4, 4, 4, 3.9999, 3, 3, 3, 3, 3, 2, 2.5, 2.5, 2.5, 2.5, 1]),
    "min-abs-cooldown": (dict(patience=1, threshold=0.1, threshold_mode="abs", cooldown=2, factor=0.5),
                         [1.0, 0.95, 0.92, 0.9, 0.85, 0.84, 0.84, 0.7, 0.7, 0.7, 0.7, 0.7, 0.1, 0.1, 0.1]),
    "max-rel-min_lr": (dict(mode="max", patience=0, factor=0.3, min_lr=[0.005, 0.01]),
                       [0.1, 0.2, 0.2, 0.19, 0.3, 0.3, 0.3, 0.3, 0.3, 0.31, 0.2, 0.2]),
    "max-abs-eps": (dict(mode="max", threshold=0.05, threshold_mode="abs", patience=1, factor=0.5, min_lr=0.02,
                         eps=0.015), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
}


@pytest.mark.parametrize("name", METRIC_RUNS)
def test_reduce_on_plateau_matches_torch(name):
    options, metrics = METRIC_RUNS[name]
    history = assert_same_schedule(lambda m, opt: m.ReduceLROnPlateau(opt, **options), len(metrics),
                                   metrics=metrics)
    assert history[-1][1] != list(GROUP_LRS), "the metric sequence should reduce the learning rate"


def test_reduce_on_plateau_takes_a_tensor_metric():
    opt, _ = optimizers()
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(mt.tensor(1.0))
    scheduler.step(mt.tensor([2.0]))
    assert scheduler.get_last_lr() == [pytest.approx(0.01), pytest.approx(0.004)]


# ----------------------------------------------------------------------------- state dicts
def npz_like(value):
    """Values as a .npz checkpoint (written without pickle) gives them back: NumPy arrays, str keys."""
    if isinstance(value, dict):
        return {str(k): npz_like(v) for k, v in value.items()}
    if isinstance(value, list) and any(v is None or isinstance(v, dict) for v in value):
        return [npz_like(v) for v in value]
    if isinstance(value, mt.Tensor):
        return value.numpy()
    return value if value is None else np.asarray(value)


ROUND_TRIPS = ["StepLR", "MultiStepLR", "CosineAnnealingLR", "LinearLR-warmup", "LambdaLR-per-group",
               "SequentialLR-warmup-cosine", "SequentialLR-three", "OneCycleLR", "OneCycleLR-linear-three-phase",
               "MultiplicativeLR-per-group", "ConstantLR", "PolynomialLR-squared", "CosineAnnealingWarmRestarts-T_mult",
               "CyclicLR-triangular2", "CyclicLR-scale_fn", "ChainedScheduler-warm-restarts"]


@pytest.mark.parametrize("through_npz", [False, True], ids=["dict", "npz-like"])
@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_state_dict_round_trip_mid_schedule(name, through_npz):
    make, steps = SCHEDULES[name]
    opt, _ = optimizers(momentum=0.9)
    scheduler = make(lr_scheduler, opt)
    if name in ("LambdaLR-per-group", "MultiplicativeLR-per-group"):
        scheduler.lr_lambdas[1].every = 3  # saved with the callable object
    if name == "CyclicLR-scale_fn":
        scheduler._scale_fn_custom.rate = 0.7
    record(opt, scheduler, steps // 2)
    saved_optimizer, saved_scheduler = opt.state_dict(), scheduler.state_dict()
    if through_npz:
        saved_optimizer, saved_scheduler = npz_like(saved_optimizer), npz_like(saved_scheduler)
    expected = record(opt, scheduler, steps - steps // 2)

    resumed_opt, _ = optimizers(momentum=0.9)
    resumed = make(lr_scheduler, resumed_opt)  # build the scheduler first, then load both, as in PyTorch
    resumed_opt.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    assert record(resumed_opt, resumed, steps - steps // 2) == expected
    assert all(type(lr) is float for lr in resumed.get_last_lr())


@pytest.mark.parametrize("name", ["SequentialLR-warmup-cosine", "CosineAnnealingWarmRestarts-T_mult",
                                  "CyclicLR-scale_fn", "ChainedScheduler-warm-restarts", "PolynomialLR-squared"])
def test_loads_pytorch_scheduler_state(name):
    make = SCHEDULES[name][0]
    ours_opt, their_opt = optimizers(momentum=0.9)
    ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, their_opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record(their_opt, theirs, 12)
        ours_opt.load_state_dict(their_opt.state_dict())
        ours.load_state_dict(theirs.state_dict())
        assert record(ours_opt, ours, 20) == record(their_opt, theirs, 20)


def test_lambdas_are_not_saved():
    opt, _ = optimizers()
    state = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, Halving()]).state_dict()
    assert state["lr_lambdas"] == [None, {"every": 4}]
    assert lr_scheduler.CyclicLR(opt, 0.1, 1.0, scale_fn=lambda x: 1.0).state_dict()["_scale_fn_custom"] is None
    assert lr_scheduler.CyclicLR(opt, 0.1, 1.0, scale_fn=Shrinking()).state_dict()["_scale_fn_custom"] == {"rate": 0.8}


@pytest.mark.parametrize("name", ["CosineAnnealingWarmRestarts", "CyclicLR-exp_range", "MultiplicativeLR",
                                  "ConstantLR", "PolynomialLR", "ChainedScheduler"])
def test_state_dict_keys_are_pytorch_s(name):
    make = SCHEDULES[name][0]
    ours_opt, their_opt = optimizers(momentum=0.9)
    ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, their_opt)
    expected = {key for key in theirs.state_dict() if key not in ("_get_lr_called_within_step", "_is_initial")}
    assert set(ours.state_dict()) == expected
    assert set(ours_opt.param_groups[0]) <= set(their_opt.param_groups[0])


def test_multistep_state_lists_its_milestones():
    opt, _ = optimizers()
    assert lr_scheduler.MultiStepLR(opt, [9, 2, 5, 5]).state_dict()["milestones"] == [2, 5, 5, 9]


def test_load_state_dict_of_another_scheduler_fails():
    opt, _ = optimizers()
    step = lr_scheduler.StepLR(opt, step_size=3)
    expected = r"missing key\(s\) \['gamma', 'step_size'\]; unknown key\(s\) \['T_max', 'eta_min'\]"
    with pytest.raises(ValueError, match=expected):
        step.load_state_dict(lr_scheduler.CosineAnnealingLR(opt, T_max=3).state_dict())


def test_resuming_with_last_epoch_needs_initial_lr():
    opt, _ = optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=3, last_epoch=4)


def test_constructor_errors():
    opt, _ = optimizers()
    with pytest.raises(ValueError, match="total_steps, or both epochs and steps_per_epoch"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=3)
    with pytest.raises(ValueError, match="max_lr has 3 values but the optimizer has 2"):
        lr_scheduler.OneCycleLR(opt, max_lr=[1.0, 1.0, 1.0], total_steps=5)
    with pytest.raises(ValueError, match="cycle_momentum"):
        lr_scheduler.OneCycleLR(optim.Optimizer([mt.nn.Parameter(mt.zeros(1))], {"lr": 0.1}), max_lr=1.0,
                                total_steps=5)
    with pytest.raises(ValueError, match="1 milestone"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(opt, 3)], [2, 4])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt)], [])
    with pytest.raises(ValueError, match="another optimizer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(optimizers()[0], 2)], [])
    with pytest.raises(ValueError, match="mode"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(TypeError, match="expected an Optimizer"):
        lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), 2)


@pytest.mark.parametrize("make,error,message", [
    (lambda m, opt: m.CosineAnnealingWarmRestarts(opt, T_0=0), ValueError, "positive integer T_0"),
    (lambda m, opt: m.CosineAnnealingWarmRestarts(opt, T_0=2.5), ValueError, "positive integer T_0"),
    (lambda m, opt: m.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=0), ValueError, "T_mult >= 1"),
    (lambda m, opt: m.CosineAnnealingWarmRestarts(opt, T_0=3, eta_min="0"), ValueError, "eta_min"),
    (lambda m, opt: m.CyclicLR(opt, 0.1, 1.0, mode="sawtooth"), ValueError, "mode"),
    (lambda m, opt: m.CyclicLR(opt, [0.1, 0.2, 0.3], 1.0), ValueError, "base_lr has 3 values"),
    (lambda m, opt: m.ConstantLR(opt, factor=1.5), ValueError, "factor must be in"),
    (lambda m, opt: m.MultiplicativeLR(opt, 0.9), TypeError, "lr_lambda should be a function"),
    (lambda m, opt: m.MultiplicativeLR(opt, [lambda e: 0.9]), ValueError, "expected 2 lr_lambdas"),
    (lambda m, opt: m.ChainedScheduler([]), ValueError, "at least one scheduler"),
    (lambda m, opt: m.ChainedScheduler([m.ReduceLROnPlateau(opt)]), ValueError, "ReduceLROnPlateau"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_new_scheduler_errors_as_pytorch(make, error, message):
    """Our error (with a message naming the problem) where PyTorch's constructor raises the same type."""
    ours_opt, their_opt = optimizers(momentum=0.9)
    with pytest.raises(error, match=message):
        make(lr_scheduler, ours_opt)
    with pytest.raises(error):
        make(torch.optim.lr_scheduler, their_opt)


def test_cyclic_lr_needs_momentum_to_cycle_it():
    ours = optim.Adagrad([mt.nn.Parameter(mt.zeros(2))])
    theirs = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match="cycle_momentum needs an optimizer with momentum or betas"):
        lr_scheduler.CyclicLR(ours, 0.01, 0.1)
    with pytest.raises(ValueError, match="momentum"):
        torch.optim.lr_scheduler.CyclicLR(theirs, 0.01, 0.1)
    scheduler = lr_scheduler.CyclicLR(ours, 0.01, 0.1, step_size_up=2, cycle_momentum=False)
    scheduler.step()
    assert scheduler.get_last_lr() == [pytest.approx(0.055)] and "momentum" not in ours.param_groups[0]


def test_chained_scheduler_of_another_optimizer_fails():
    opt, _ = optimizers()
    other, _ = optimizers()
    with pytest.raises(ValueError, match=r"schedulers\[1\] \(StepLR\) belongs to another optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(other, 2)])


def test_cosine_closed_form_at_t_max():
    opt, _ = optimizers()
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)
    for _ in range(7):
        scheduler.step()
    assert scheduler.get_last_lr() == [pytest.approx(0.01, abs=1e-15)] * 2
    assert math.isclose(scheduler._get_closed_form_lr()[0], 0.01)
