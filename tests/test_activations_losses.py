"""The activations and losses beyond ReLU and cross-entropy, against PyTorch: values and gradients at the exact
kinks (where a gradient check cannot decide and PyTorch's choice is the rule), far out where a naive formula
overflows, each reduction, the errors, F.one_hot, and the module wrappers. (tests/test_ops.py's OPS table holds
their float64 gradient checks and parity on smooth inputs.)"""
import warnings

import numpy as np
import pytest

import minitorch_cifar as mt
import minitorch_cifar.nn.functional as F
from minitorch_cifar import nn
from helpers import check_against_torch, torch

TF = torch.nn.functional

# every kink of the piecewise activations (0, 6, +-1, +-3, hardtanh(-2, 3)'s ends), a float32 step either side of
# +-3, and far-out values
BOUNDARIES = np.array([-1000.0, -30.0, -6.0, -3.0000002, -3.0, -2.9999998, -2.0, -1.0, -1e-30, 0.0, 1e-30, 1.0,
                       2.9999998, 3.0, 3.0000002, 6.0, 20.0, 30.0, 1000.0])

ACTIVATIONS = {
    "relu6": (F.relu6, TF.relu6),
    "hardtanh": (F.hardtanh, TF.hardtanh),
    "hardtanh(-2, 3)": (lambda a: F.hardtanh(a, -2.0, 3.0), lambda a: TF.hardtanh(a, -2.0, 3.0)),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish),
    "elu": (F.elu, TF.elu),
    "elu(alpha=0.5)": (lambda a: F.elu(a, 0.5), lambda a: TF.elu(a, 0.5)),
    "silu": (F.silu, TF.silu),
    "mish": (F.mish, TF.mish),
    "softplus": (F.softplus, TF.softplus),
    "softplus(beta=2, threshold=3)": (lambda a: F.softplus(a, 2.0, 3.0), lambda a: TF.softplus(a, 2.0, 3.0)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values_and_gradients_at_the_kinks_and_far_out_are_pytorchs(name, dtype, device):
    ours, theirs = ACTIVATIONS[name]
    out = check_against_torch([BOUNDARIES.astype(dtype)], ours, theirs, device=device, rtol=1e-6, atol=1e-7)
    assert out.dtype == dtype and np.isfinite(out.detach().numpy()).all()


def test_the_documented_boundary_gradients():
    """The PyTorch choices the kink test holds us to, spelt out: relu6 passes no gradient at 0 or 6, hardswish's is
    0 at -3 and 1 at 3, hardsigmoid's 0 at both ends, elu's alpha at 0."""
    def grad(fn, *points):
        x = mt.tensor(points, dtype=mt.float64, requires_grad=True)
        fn(x).sum().backward()
        return x.grad.tolist()

    assert grad(F.relu6, 0.0, 6.0, 3.0) == [0.0, 0.0, 1.0]
    assert grad(F.hardswish, -3.0, 3.0, 0.0) == [0.0, 1.0, 0.5]
    assert grad(F.hardsigmoid, -3.0, 3.0) == [0.0, 0.0]
    assert grad(lambda a: F.elu(a, 0.5), 0.0) == [0.5]


def test_softplus_and_logit_losses_stay_finite_for_huge_inputs():
    x = mt.tensor([-1e4, -100.0, 100.0, 1e4], requires_grad=True)
    y = F.softplus(x)
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, np.float32(np.exp(-100.0)), 100.0, 1e4])
    loss = F.binary_cross_entropy_with_logits(x, mt.tensor([1.0, 0.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1e4, 0.0, 100.0, 0.0], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.0, 1.0, 0.0], atol=1e-30)  # sigmoid(x) - y


# ----------------------------------------------------------------------------- losses: every reduction
SHAPE = (4, 5)


def _probabilities(rng):
    return rng.uniform(0.02, 0.98, SHAPE)


def _distribution(rng):
    """Rows of probabilities, one of them 0 (it must add 0, and give the input no gradient)."""
    p = rng.dirichlet(np.ones(SHAPE[1]), size=SHAPE[0])
    p[1, 2] = 0.0
    return p / p.sum(axis=1, keepdims=True)


def _log_distribution(rng):
    return np.log(rng.dirichlet(np.ones(SHAPE[1]), size=SHAPE[0]))


LOSSES = {  # name: (ours, theirs, input makers, whether the target gets a gradient in the comparison)
    "l1_loss": (F.l1_loss, TF.l1_loss, [SHAPE, SHAPE], True),
    "smooth_l1_loss": (F.smooth_l1_loss, TF.smooth_l1_loss, [SHAPE, SHAPE], True),
    "smooth_l1_loss(beta=0)": (lambda a, b, **kw: F.smooth_l1_loss(a, b, beta=0.0, **kw),
                               lambda a, b, **kw: TF.smooth_l1_loss(a, b, beta=0.0, **kw), [SHAPE, SHAPE], True),
    "huber_loss(delta=0.7)": (lambda a, b, **kw: F.huber_loss(a, b, delta=0.7, **kw),
                              lambda a, b, **kw: TF.huber_loss(a, b, delta=0.7, **kw), [SHAPE, SHAPE], True),
    "binary_cross_entropy": (F.binary_cross_entropy, TF.binary_cross_entropy, [_probabilities, _probabilities], True),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                                         [SHAPE, _probabilities], True),
    "kl_div": (F.kl_div, TF.kl_div, [_log_distribution, _distribution], False),  # PyTorch: NaN for a 0 target
    "kl_div(log_target)": (lambda a, b, **kw: F.kl_div(a, b, log_target=True, **kw),
                           lambda a, b, **kw: TF.kl_div(a, b, log_target=True, **kw),
                           [_log_distribution, _log_distribution], True),
}


def _compare_loss(name, device, **options):
    ours, theirs, makers, target_grad = LOSSES[name]
    rng = np.random.default_rng(3)
    x, t = (rng.uniform(-2, 2, m) if isinstance(m, tuple) else m(rng) for m in makers)
    if target_grad:
        check_against_torch([x, t], lambda a, b: ours(a, b, **options), lambda a, b: theirs(a, b, **options),
                            device=device)
    else:
        check_against_torch([x], lambda a: ours(a, mt.Tensor(t, device=device), **options),
                            lambda a: theirs(a, torch.tensor(t), **options), device=device)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_match_pytorch_in_each_reduction(name, reduction, device):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning, PyTorch's and ours
        _compare_loss(name, device, reduction=reduction)


@pytest.mark.parametrize("name", ["kl_div", "kl_div(log_target)"])
def test_kl_div_batchmean_divides_by_the_batch(name, device):
    _compare_loss(name, device, reduction="batchmean")


def test_kl_div_mean_warns_as_pytorch_does():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(mt.zeros(2, 3), mt.ones(2, 3) / 3)


def test_distillation_loss_as_written_for_pytorch(device, rng):
    """Knowledge distillation's KL term, and label smoothing by hand through one_hot, each as a PyTorch script writes
    them: the same loss and student gradient as PyTorch's."""
    temperature = 4.0
    teacher, labels = rng.normal(size=(6, 10)), np.array([3, 0, 9, 1, 1, 7])

    def distill(F, student, teacher):
        soft = F.kl_div(F.log_softmax(student / temperature, 1), F.softmax(teacher / temperature, 1),
                        reduction="batchmean") * temperature * temperature
        target = F.one_hot(labels_of(student), 10) * 0.9 + 0.01
        return soft - (target * F.log_softmax(student, 1)).sum(1).mean()

    def labels_of(student):
        return mt.tensor(labels, device=device) if isinstance(student, mt.Tensor) else torch.tensor(labels)

    check_against_torch([(6, 10)], lambda s: distill(F, s, mt.Tensor(teacher, device=device)),
                        lambda s: distill(TF, s, torch.tensor(teacher)), device=device)


def test_loss_weights_and_pos_weight_match_pytorch(device, rng):
    x, p, t = rng.normal(size=SHAPE), rng.uniform(0.05, 0.95, SHAPE), rng.uniform(0, 1, SHAPE)
    weight, pos_weight = rng.uniform(0.5, 2, SHAPE[1]), rng.uniform(0.5, 3, SHAPE[1])

    def ours(w, pw):
        return (mt.Tensor(w, device=device) if w is not None else None,
                mt.Tensor(pw, device=device) if pw is not None else None)

    for w, pw in [(weight, None), (None, pos_weight), (weight, pos_weight)]:
        ow, opw = ours(w, pw)
        tw, tpw = (torch.tensor(v) if v is not None else None for v in (w, pw))
        check_against_torch(
            [x], lambda a: F.binary_cross_entropy_with_logits(a, mt.Tensor(t, device=device), ow, pos_weight=opw),
            lambda a: TF.binary_cross_entropy_with_logits(a, torch.tensor(t), tw, pos_weight=tpw), device=device)
    ow, _ = ours(weight, None)
    check_against_torch([p], lambda a: F.binary_cross_entropy(a, mt.Tensor(t, device=device), ow, reduction="sum"),
                        lambda a: TF.binary_cross_entropy(a, torch.tensor(t), torch.tensor(weight), reduction="sum"),
                        device=device)


def test_binary_cross_entropy_clamps_its_logs_at_minus_100_as_pytorch(device):
    x, y = np.array([0.0, 1.0, 0.0, 1.0, 1e-30]), np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    out = check_against_torch([x, y], lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                              lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), device=device, grad=False)
    np.testing.assert_array_equal(out.numpy(), [100.0, 100.0, 0.0, 0.0, -np.log(1e-30)])


@pytest.mark.parametrize("size_average, reduce, reduction", [(None, False, "none"), (False, None, "sum"),
                                                              (True, True, "mean"), (None, None, "sum")])
def test_deprecated_size_average_and_reduce_pick_the_reduction_as_in_pytorch(size_average, reduce, reduction, rng):
    """Where given they override ``reduction`` (here 'sum')."""
    x, t = rng.normal(size=SHAPE), rng.normal(size=SHAPE)
    legacy = F.l1_loss(mt.Tensor(x), mt.Tensor(t), size_average, reduce, "sum")
    np.testing.assert_allclose(legacy.numpy(), F.l1_loss(mt.Tensor(x), mt.Tensor(t), reduction=reduction).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation warning
        expected = torch.nn.L1Loss(size_average, reduce, "sum")(torch.tensor(x), torch.tensor(t))
    np.testing.assert_allclose(nn.L1Loss(size_average, reduce, "sum")(mt.Tensor(x), mt.Tensor(t)).numpy(),
                               expected.numpy())


def test_loss_input_errors():
    with pytest.raises(ValueError, match=r"l1_loss: input of shape \(3, 1\) and target of shape \(3,\) differ"):
        F.l1_loss(mt.ones(3, 1), mt.ones(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: .* \(2, 3\) .* \(2,\)"):
        F.binary_cross_entropy_with_logits(mt.ones(2, 3), mt.ones(2))
    with pytest.raises(ValueError, match=r"kl_div: .* \(4, 5\) .* \(5,\)"):
        F.kl_div(mt.zeros(4, 5), mt.ones(5) / 5, reduction="batchmean")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.smooth_l1_loss(mt.ones(2), mt.ones(2), reduction="batchmean")
    with pytest.raises(ValueError, match="'avg'"):
        F.kl_div(mt.ones(2), mt.ones(2), reduction="avg")
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(mt.ones(2), mt.ones(2), beta=-0.5)
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        nn.HuberLoss(delta=0.0)(mt.ones(2), mt.ones(2))
    with pytest.raises(RuntimeError, match=r"between 0 and 1, got values in \[-0.5, 0.5\]"):
        F.binary_cross_entropy(mt.tensor([-0.5, 0.5]), mt.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(2.0, 1.0)


# ----------------------------------------------------------------------------- one_hot
@pytest.mark.parametrize("labels, num_classes", [([0, 3, 1], -1), ([[2, 0], [1, 1]], 4), (2, 5), ([], 3)])
def test_one_hot_matches_pytorch(labels, num_classes, device):
    ours = F.one_hot(mt.tensor(labels, dtype=mt.int64, device=device), num_classes)
    theirs = TF.one_hot(torch.tensor(labels, dtype=torch.int64), num_classes)
    assert ours.dtype == np.int64 and str(ours.device).startswith(device)
    np.testing.assert_array_equal(ours.cpu().numpy(), theirs.numpy())
    assert ours.shape == tuple(theirs.shape)


@pytest.mark.parametrize("labels, num_classes, message", [
    ([0, -1], 3, "must be non-negative"), ([0, 3], 3, r"smaller than num_classes \(3\), got 3"),
    ([0, 1], 0, "smaller than num_classes"), ([], -1, "Can not infer"),
])
def test_one_hot_refuses_what_pytorch_refuses(labels, num_classes, message):
    with pytest.raises(RuntimeError, match=message):
        F.one_hot(mt.tensor(labels, dtype=mt.int64), num_classes)
    with pytest.raises(RuntimeError):
        TF.one_hot(torch.tensor(labels, dtype=torch.int64), num_classes)


def test_one_hot_refuses_float_classes_as_pytorch():
    with pytest.raises(RuntimeError, match="index tensor"):
        F.one_hot(mt.tensor([1.0]))
    with pytest.raises(RuntimeError):
        TF.one_hot(torch.tensor([1.0]))


# ----------------------------------------------------------------------------- the modules
MODULES = [
    ("ReLU6", (), {}), ("ReLU6", (True,), {}), ("SiLU", (), {}), ("SiLU", (), {"inplace": True}), ("Mish", (), {}),
    ("Hardswish", (True,), {}), ("Hardsigmoid", (), {}), ("ELU", (0.5,), {}), ("ELU", (), {"inplace": True}),
    ("Hardtanh", (-2.0, 3.0), {}), ("Softplus", (), {}), ("Softplus", (2, 3), {}),
]


@pytest.mark.parametrize("name, args, kwargs", MODULES)
def test_activation_modules_match_pytorch(name, args, kwargs, device):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    check_against_torch([BOUNDARIES], ours, lambda a: theirs(a.clone()), device=device)  # PyTorch's inplace: no leaf


LOSS_MODULES = [
    ("L1Loss", {"reduction": "sum"}), ("SmoothL1Loss", {"beta": 0.5}), ("HuberLoss", {"delta": 2.0}),
    ("BCELoss", {"reduction": "none"}), ("BCEWithLogitsLoss", {}), ("KLDivLoss", {"reduction": "batchmean"}),
]


@pytest.mark.parametrize("name, kwargs", LOSS_MODULES)
def test_loss_modules_match_pytorch(name, kwargs, device, rng):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    x, t = rng.uniform(0.05, 0.95, SHAPE), rng.uniform(0.05, 0.95, SHAPE)
    check_against_torch([np.log(x) if name == "KLDivLoss" else x, t], ours, theirs, device=device)


def test_bce_loss_weights_are_buffers_as_in_pytorch(rng):
    weight, pos_weight = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 3, 5)
    ours = nn.BCEWithLogitsLoss(mt.Tensor(weight), pos_weight=mt.Tensor(pos_weight))
    theirs = torch.nn.BCEWithLogitsLoss(torch.tensor(weight), pos_weight=torch.tensor(pos_weight))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    assert list(nn.BCELoss(mt.Tensor(weight)).state_dict()) == ["weight"]
    assert list(nn.BCELoss().state_dict()) == []
    check_against_torch([SHAPE, rng.uniform(0, 1, SHAPE)], ours, theirs)
