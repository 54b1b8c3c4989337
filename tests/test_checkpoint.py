"""Checkpoints and weight files: round trips, fit checks, bad files, atomic writes, random-generator state."""
import json
import os
import re

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, nn, optim
from minitorch_cifar.train import CheckpointError, load_checkpoint, load_weights, save_checkpoint, save_weights
from training_helpers import ArrayLoader, blobs, mlp


def arrays_of(state_dict):
    return {key: backend.to_device(value.array if isinstance(value, mt.Tensor) else value, "cpu")
            for key, value in state_dict.items()}


def assert_same_state(a, b):
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def assert_same_optimizer(a, b):
    assert a.state_dict()["param_groups"] == b.state_dict()["param_groups"]
    sa, sb = a.state_dict()["state"], b.state_dict()["state"]
    assert sa.keys() == sb.keys() and sa
    for index in sa:
        assert sa[index].keys() == sb[index].keys()
        for name, value in sa[index].items():
            if isinstance(value, mt.Tensor):
                assert value.device == sb[index][name].device
                np.testing.assert_array_equal(value.numpy(), sb[index][name].numpy())
            else:
                assert value == sb[index][name]


def trained(device, optimizer_class=optim.SGD, steps=3, **options):
    """A model, optimizer and scheduler after a few steps, so that every piece has non-trivial state."""
    model = mlp(dropout=0.5).to(device)
    optimizer = optimizer_class(model.parameters(), lr=0.1, **options)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    x, y = blobs(n=32)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(mt.tensor(x, device=device)), mt.tensor(y, device=device)).backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


@pytest.mark.parametrize("optimizer_class, options", [(optim.SGD, {"momentum": 0.9}), (optim.Adam, {})])
def test_checkpoint_round_trip(tmp_path, device, optimizer_class, options):
    model, optimizer, scheduler = trained(device, optimizer_class, **options)
    history = [{"epoch": 1, "train_loss": 1.25, "train_acc": 0.5, "val_loss": None, "val_acc": None, "lr": 0.1,
                "seconds": 0.01}]
    loader = ArrayLoader(*blobs(n=32), seed=3)
    list(loader)
    path = save_checkpoint(tmp_path / "run.npz", model, optimizer, scheduler, epoch=3, history=history,
                           loader=loader.state_dict(), note="hello", counts={7: np.arange(3)})

    mt.manual_seed(1)
    model2 = mlp(dropout=0.5).to(device)
    optimizer2 = optimizer_class(model2.parameters(), lr=0.5, **options)
    scheduler2 = optim.lr_scheduler.StepLR(optimizer2, step_size=2, gamma=0.5)
    state = load_checkpoint(path, model2, optimizer2, scheduler2)

    assert_same_state(arrays_of(model.state_dict()), arrays_of(model2.state_dict()))
    assert all(t.device == backend.parse_device(device) for t in model2.state_dict().values())
    assert_same_optimizer(optimizer, optimizer2)
    assert scheduler2.state_dict() == scheduler.state_dict()
    assert optimizer2.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] == 0.05
    assert state["epoch"] == 3 and state["history"] == history and state["note"] == "hello"
    assert list(state["counts"]) == [7]
    np.testing.assert_array_equal(state["counts"][7], np.arange(3))
    loader2 = ArrayLoader(*blobs(n=32), seed=99)
    loader2.load_state_dict(state["loader"])
    assert loader2.generator.permutation(32).tolist() == loader.generator.permutation(32).tolist()


def test_archive_layout_is_plain_arrays_and_json(tmp_path):
    model, optimizer, scheduler = trained("cpu", momentum=0.9)
    path = save_checkpoint(tmp_path / "run.npz", model, optimizer, scheduler, epoch=1)
    with np.load(path, allow_pickle=False) as archive:  # loads without pickle
        names = set(archive.files)
        assert {"model/0.weight", "model/0.bias", "model/3.weight", "model/3.bias", "__meta__"} <= names
        assert {"optimizer/state/0/momentum_buffer", "optimizer/state/3/momentum_buffer"} <= names
        np.testing.assert_array_equal(archive["model/0.weight"], model[0].weight.detach().numpy())
        assert archive["model/0.weight"].dtype == np.float32
        assert '"fingerprint": [["0.weight", [16, 8], "float32"]' in archive["__meta__"].item()


def test_checkpoint_restores_the_random_generator(tmp_path):
    model = mlp()
    mt.rand(5)
    path = save_checkpoint(tmp_path / "run.npz", model)
    expected = mt.rand(5).numpy()
    mt.manual_seed(123)
    load_checkpoint(path, mlp())
    np.testing.assert_array_equal(mt.rand(5).numpy(), expected)


def test_the_random_state_in_a_checkpoint_is_a_seed_and_a_stream(tmp_path, device):
    mt.manual_seed(17)
    backend.start_stream(3)
    first = mt.rand(2, device=device).numpy()
    path = save_checkpoint(tmp_path / "run.npz", mlp())
    following = mt.rand(4, device=device).numpy()
    with np.load(path, allow_pickle=False) as archive:
        rng = json.loads(archive["__meta__"].item())["rng"]
    assert (rng["seed"], rng["stream"]) == (17, 3)
    mt.manual_seed(0)
    load_checkpoint(path, mlp())
    if device == "cpu":  # the CPU generator resumes where it was
        np.testing.assert_array_equal(mt.rand(4).numpy(), following)
    else:  # a GPU's starts the stream again (the Trainer starts one per epoch)
        np.testing.assert_array_equal(mt.rand(2, device=device).numpy(), first)


def test_weights_round_trip(tmp_path, device):
    model = nn.Sequential(nn.Linear(8, 6), nn.BatchNorm1d(6), nn.Linear(6, 3)).to(device)
    model(mt.randn(10, 8, device=device))  # moves the running statistics
    path = save_weights(model, tmp_path / "weights.npz")
    other = nn.Sequential(nn.Linear(8, 6), nn.BatchNorm1d(6), nn.Linear(6, 3))
    assert load_weights(other, path) is other
    assert_same_state(arrays_of(model.state_dict()), arrays_of(other.state_dict()))
    assert other[1].num_batches_tracked.item() == 1


def test_load_weights_reads_a_full_checkpoint(tmp_path):
    model, optimizer, scheduler = trained("cpu")
    path = save_checkpoint(tmp_path / "run.npz", model, optimizer, scheduler)
    other = load_weights(mlp(dropout=0.5), path)
    assert_same_state(arrays_of(model.state_dict()), arrays_of(other.state_dict()))


@pytest.mark.parametrize("other, problem", [
    (lambda: mlp(hidden=32), "'0.weight' has shape (16, 8) in the file but (32, 8) in the model"),
    (lambda: nn.Sequential(mlp(), nn.ReLU()), "key '0.0.weight' of the model is missing from the file"),
    (lambda: nn.Sequential(nn.Linear(8, 16)), "the file has key '3.weight', which the model does not"),
])
def test_another_architecture_is_named_and_nothing_changes(tmp_path, other, problem):
    model, optimizer, scheduler = trained("cpu", momentum=0.9)
    path = save_checkpoint(tmp_path / "run.npz", model, optimizer, scheduler)
    target = other()
    target_optimizer = optim.SGD(target.parameters(), lr=0.3, momentum=0.9)
    before = arrays_of(target.state_dict())
    with pytest.raises(CheckpointError, match=re.escape(problem)) as error:
        load_checkpoint(path, target, target_optimizer)
    assert str(path) in str(error.value)
    assert_same_state(before, arrays_of(target.state_dict()))
    assert target_optimizer.param_groups[0]["lr"] == 0.3 and not target_optimizer.state
    with pytest.raises(CheckpointError, match=re.escape(problem)):
        load_weights(target, path)


def test_optimizer_that_does_not_fit_is_refused(tmp_path):
    model, optimizer, _ = trained("cpu", momentum=0.9)
    path = save_checkpoint(tmp_path / "run.npz", model, optimizer)
    target = mlp(dropout=0.5)
    split = optim.SGD([{"params": list(target[0].parameters())}, {"params": list(target[3].parameters())}], lr=0.1)
    with pytest.raises(CheckpointError, match="optimizer state does not fit this SGD"):
        load_checkpoint(path, target, split)
    with pytest.raises(CheckpointError, match="holds no scheduler state"):
        load_checkpoint(path, target, scheduler=optim.lr_scheduler.StepLR(split, 1))
    weights = save_weights(model, tmp_path / "weights.npz")
    with pytest.raises(CheckpointError, match="holds no optimizer state .*weights file"):
        load_checkpoint(weights, target, optim.SGD(target.parameters(), lr=0.1))


def bad_files(folder):
    """(path, what the error says) for files that are not checkpoints in assorted ways."""
    model = mlp()
    good = save_weights(model, folder / "good.npz")
    content = open(good, "rb").read()
    truncated = folder / "truncated.npz"
    truncated.write_bytes(content[: len(content) // 2])
    text = folder / "notes.txt"
    text.write_text("not a checkpoint\n")
    plain = folder / "plain.npz"
    np.savez(plain, weights=np.ones(3))
    single = folder / "single.npy"
    np.save(single, np.ones(3))
    pickled = folder / "pickled.npy"
    np.save(pickled, np.array([{"code": "here"}], dtype=object), allow_pickle=True)
    mangled = folder / "mangled.npz"
    np.savez(mangled, **{"model/0.weight": np.ones((16, 8), np.float32), "__meta__": np.array("{not json")})
    foreign = folder / "foreign.npz"
    np.savez(foreign, __meta__=np.array('{"format": "somebody.else"}'))
    noise = folder / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    pickle_inside = folder / "pickle_inside.npz"
    np.savez(pickle_inside, __meta__=np.array([{"code": "here"}], dtype=object))
    not_npz = "not an .npz archive"
    return [(folder / "missing.npz", "no such checkpoint file"), (truncated, "truncated, corrupt"),
            (text, not_npz), (plain, "has no __meta__ entry"), (single, not_npz), (pickled, not_npz),
            (noise, not_npz), (pickle_inside, "it holds pickled data, which is never loaded"),
            (mangled, "JSONDecodeError"), (foreign, "format 'somebody.else'")]


def test_bad_files_give_one_clear_error(tmp_path):
    for path, message in bad_files(tmp_path):
        for load in (lambda: load_checkpoint(path, mlp()), lambda: load_weights(mlp(), path)):
            with pytest.raises(CheckpointError) as error:
                load()
            assert str(path) in str(error.value) and message in str(error.value), str(error.value)
            assert "allow_pickle" not in str(error.value)  # no advice to unpickle a file of unknown origin


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    model, optimizer, scheduler = trained("cpu", momentum=0.9)
    path = save_checkpoint(tmp_path / "run.npz", model, optimizer, scheduler, epoch=1)
    before = open(path, "rb").read()

    def failing_savez(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, mlp(dropout=0.5), epoch=2)
    with pytest.raises(OSError, match="disk full"):
        save_weights(model, tmp_path / "new.npz")
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["run.npz"]  # no temporary file left behind, no partial new file
    monkeypatch.undo()
    assert load_checkpoint(path, mlp(dropout=0.5))["epoch"] == 1


def test_unstorable_value_is_refused_by_name(tmp_path):
    with pytest.raises(TypeError, match="cannot store set at 'extra/tags'"):
        save_checkpoint(tmp_path / "run.npz", mlp(), tags={1, 2})
    assert not os.listdir(tmp_path)
    with pytest.raises(ValueError, match="two arrays would be stored as 'extra/a/b'"):
        save_checkpoint(tmp_path / "run.npz", mlp(), a={"b": np.ones(2)}, **{"a/b": np.zeros(2)})
    assert not os.listdir(tmp_path)
