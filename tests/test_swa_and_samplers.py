"""ConcatDataset, WeightedRandomSampler and optim.swa_utils (AveragedModel, EMA, SWALR, update_bn) against PyTorch."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn, optim
from minitorch_cifar.optim import swa_utils
from minitorch_cifar.utils.data import ConcatDataset, DataLoader, TensorDataset, WeightedRandomSampler

torch = pytest.importorskip("torch")
tdata = torch.utils.data


class Items:
    """A plain map-style dataset: item i is (offset + i) (no in-memory arrays)."""

    def __init__(self, n, offset):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return self.offset + (i % self.n)


# ---------------------------------------------------------------------------------------------- ConcatDataset
def test_concat_dataset_matches_torch():
    parts = [Items(3, 0), Items(0, 100), Items(5, 200), Items(1, 300)]
    ours, theirs = ConcatDataset(parts), tdata.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 9
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-len(ours), len(ours)):
        assert ours[i] == theirs[i]
    with pytest.raises(ValueError, match="absolute value of index"):
        ours[-10]
    with pytest.raises(IndexError):
        ours[9]
    with pytest.raises(AssertionError, match="empty iterable"):
        ConcatDataset([])


def test_concat_dataset_in_a_loader_gives_the_items_in_order():
    x1, x2 = np.arange(12, dtype=np.float32).reshape(6, 2), -np.arange(8, dtype=np.float32).reshape(4, 2)
    parts = [TensorDataset(x1, np.arange(6)), TensorDataset(x2, np.arange(4) + 6)]
    whole = ConcatDataset(parts)
    batches = list(DataLoader(whole, batch_size=4))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), np.concatenate([x1, x2]))
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), np.arange(10))
    item_by_item = list(DataLoader(ConcatDataset([Items(3, 0), Items(2, 10)]), batch_size=2))
    assert [b.tolist() for b in item_by_item] == [[0, 1], [2, 10], [11]]


# ---------------------------------------------------------------------------------------------- WeightedRandomSampler
def test_weighted_sampler_frequencies_follow_the_weights():
    weights = [1.0, 0.0, 3.0, 6.0]
    draws = np.array(list(WeightedRandomSampler(weights, 20000, generator=mt.Generator().manual_seed(0))))
    frequencies = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(frequencies, np.array(weights) / 10, atol=0.015)
    assert frequencies[1] == 0


def test_weighted_sampler_without_replacement_draws_distinct_indices_heavy_first():
    weights = np.array([1.0, 100.0, 1.0, 1.0, 50.0, 1.0])
    sampler = WeightedRandomSampler(weights, 6, replacement=False, generator=np.random.default_rng(1))
    firsts = []
    for _ in range(300):
        order = list(sampler)
        assert sorted(order) == list(range(6))
        firsts.append(order[0])
    assert 0.55 < np.mean(np.array(firsts) == 1) < 0.78  # P(first is index 1) = 100 / 154 = 0.65
    assert sorted(WeightedRandomSampler([1.0, 0.0, 0.0], 2, replacement=False))[0] == 0  # zero weights come last


def test_weighted_sampler_seeding_and_loader():
    mt.manual_seed(3)
    first = list(WeightedRandomSampler([1, 2, 3], 50))
    mt.manual_seed(3)
    assert list(WeightedRandomSampler([1, 2, 3], 50)) == first
    same = [list(WeightedRandomSampler([1, 2, 3], 50, generator=mt.Generator().manual_seed(7))) for _ in range(2)]
    assert same[0] == same[1] and same[0] != first
    dataset = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    sampler = WeightedRandomSampler(mt.tensor([0.0] * 9 + [1.0]), 7)
    batches = list(DataLoader(dataset, batch_size=3, sampler=sampler))
    assert [len(b[1]) for b in batches] == [3, 3, 1] and all((b[1].numpy() == 9).all() for b in batches)


@pytest.mark.parametrize("args, error, message", [
    (([1.0], 0), ValueError, "num_samples should be a positive integer"),
    (([1.0], True), ValueError, "num_samples should be a positive integer"),
    (([1.0], 2, 1), ValueError, "replacement should be a boolean"),
    (([[1.0, 2.0]], 2), ValueError, "weights should be a 1d sequence"),
])
def test_weighted_sampler_argument_errors_as_torch(args, error, message):
    with pytest.raises(error, match=message):
        WeightedRandomSampler(*args)
    with pytest.raises(error, match=message):
        tdata.WeightedRandomSampler(*args)


@pytest.mark.parametrize("weights, num_samples, replacement", [
    ([1.0, -1.0], 2, True), ([0.0, 0.0], 2, True), ([1.0, 2.0], 3, False), ([1.0, float("nan")], 1, True)])
def test_weighted_sampler_bad_distributions_raise_when_drawn_as_torch(weights, num_samples, replacement):
    with pytest.raises(RuntimeError):
        list(tdata.WeightedRandomSampler(weights, num_samples, replacement))
    sampler = WeightedRandomSampler(weights, num_samples, replacement)
    with pytest.raises(RuntimeError):
        list(sampler)


# ---------------------------------------------------------------------------------------------- AveragedModel
def make_pair(seed=0):
    """The same small model (Linear, BatchNorm1d, Linear) in ours and torch."""
    torch.manual_seed(seed)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def perturb(ours, theirs, rng):
    """Move both models' weights and buffers the same random way (a stand-in for training steps)."""
    with torch.no_grad():
        for (name, p), q in zip(theirs.state_dict().items(), ours.state_dict().values()):
            noise = torch.from_numpy(rng.normal(size=tuple(p.shape)).astype(np.float32))
            p.copy_(p * noise.exp() if name.endswith("running_var") else p + (noise * 3).to(p.dtype))
            q.copy_(p.numpy())


def assert_same_state(ours, theirs):
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        np.testing.assert_allclose(ours_state[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("averaging", ["swa", "ema_multi", "ema", "swa_buffers"])
def test_averaged_model_matches_torch(averaging):
    ours, theirs = make_pair()
    options = {"swa": ({}, {}), "swa_buffers": ({"use_buffers": True}, {"use_buffers": True}),
               "ema_multi": ({"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.9)},
                             {"multi_avg_fn": torch.optim.swa_utils.get_ema_multi_avg_fn(0.9)}),
               "ema": ({"avg_fn": swa_utils.get_ema_avg_fn(0.8)},
                       {"avg_fn": torch.optim.swa_utils.get_ema_avg_fn(0.8)})}[averaging]
    ours_avg = swa_utils.AveragedModel(ours, **options[0])
    theirs_avg = torch.optim.swa_utils.AveragedModel(theirs, **options[1])
    rng = np.random.default_rng(0)
    for _ in range(4):
        perturb(ours, theirs, rng)
        ours_avg.update_parameters(ours)
        theirs_avg.update_parameters(theirs)
        assert_same_state(ours_avg, theirs_avg)
    assert int(ours_avg.n_averaged) == 4
    x = rng.normal(size=(5, 3)).astype(np.float32)
    ours_avg.eval(), theirs_avg.eval()
    np.testing.assert_allclose(ours_avg(mt.tensor(x)).detach().numpy(), theirs_avg(torch.from_numpy(x)).detach(),
                               rtol=1e-5, atol=1e-5)


def test_averaged_model_is_a_copy_and_checks_its_arguments():
    ours, _ = make_pair()
    averaged = swa_utils.AveragedModel(ours)
    assert averaged.module is not ours and averaged.module[0].weight is not ours[0].weight
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(ours, avg_fn=swa_utils.get_ema_avg_fn(), multi_avg_fn=swa_utils.get_ema_multi_avg_fn())
    for make in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match=r"Invalid decay value 1.5"):
            make(1.5)


# ---------------------------------------------------------------------------------------------- SWALR
@pytest.mark.parametrize("swa_lr, anneal_epochs, strategy", [(0.05, 5, "cos"), ([0.01, 0.2], 3, "linear"),
                                                             (0.05, 0, "cos")])
def test_swalr_learning_rates_match_torch(swa_lr, anneal_epochs, strategy):
    def groups(lib):
        return [{"params": [lib.zeros(2, requires_grad=True)], "lr": 0.5},
                {"params": [lib.zeros(2, requires_grad=True)], "lr": 0.1}]
    ours_opt, theirs_opt = optim.SGD(groups(mt), lr=0.5), torch.optim.SGD(groups(torch), lr=0.5)
    ours = swa_utils.SWALR(ours_opt, swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    theirs = torch.optim.swa_utils.SWALR(theirs_opt, swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    for _ in range(8):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        ours_opt.step(), theirs_opt.step()
        ours.step(), theirs.step()
    assert set(ours.state_dict()) == set(theirs.state_dict()) - {"_get_lr_called_within_step", "_is_initial"}
    ours.load_state_dict(theirs.state_dict())
    assert ours.anneal_func is (swa_utils.SWALR._cosine_anneal if strategy == "cos" else swa_utils.SWALR._linear_anneal)


def test_swalr_errors_as_torch():
    for lib, module in ((mt, swa_utils), (torch, torch.optim.swa_utils)):
        opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError, match="anneal_strategy must be one of"):
            module.SWALR(opt, 0.05, anneal_strategy="exp")
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
            module.SWALR(opt, 0.05, anneal_epochs=-1)
        with pytest.raises(ValueError, match="swa_lr"):
            module.SWALR(opt, [0.05, 0.1])


# ---------------------------------------------------------------------------------------------- update_bn
def test_update_bn_matches_torch():
    ours, theirs = make_pair(1)
    rng = np.random.default_rng(2)
    perturb(ours, theirs, rng)
    ours.eval(), theirs.eval()
    x = (rng.normal(size=(22, 3)) * 2 + 1).astype(np.float32)
    ours_loader = DataLoader(TensorDataset(x, np.zeros(22, dtype=np.int64)), batch_size=5)
    theirs_loader = tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(x), torch.zeros(22)), batch_size=5)
    swa_utils.update_bn(ours_loader, ours)
    torch.optim.swa_utils.update_bn(theirs_loader, theirs)
    assert_same_state(ours, theirs)
    assert not ours.training and ours[1].momentum == 0.1
    swa_utils.update_bn([mt.tensor(x[:4])], ours)  # plain tensors as batches, as PyTorch accepts
    torch.optim.swa_utils.update_bn([torch.from_numpy(x[:4])], theirs)
    assert_same_state(ours, theirs)
