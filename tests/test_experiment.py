"""The experiment layer: configuration checks, data cuts, schedules, the run folder, evaluation of saved weights."""
import csv
import dataclasses
import json
import re

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import experiment as ex
from minitorch_cifar.data import CIFAR10, transforms, write_fake_cifar10
from minitorch_cifar.train import NonFiniteLossError

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory):
    """200 training and 100 test images in CIFAR-10's format."""
    return str(write_fake_cifar10(tmp_path_factory.mktemp("cifar"), train_per_class=20, test_per_class=10))


def config(data_dir, **fields):
    return ex.RunConfig(**{"model": "softmax", "epochs": 1, "batch_size": 32, "data_dir": data_dir,
                           "progress": False, **fields})


@pytest.mark.parametrize("fields, message", [
    ({"model": "vgg"}, "model='vgg': unknown model; known: alexnet, cnn1"),
    ({"batch_size": 0}, "batch_size=0: must be a positive integer"),
    ({"epochs": 2.5}, "epochs=2.5: must be a positive integer"),
    ({"optimizer": "rmsprop"}, "optimizer='rmsprop': choose one of sgd, adam, adamw"),
    ({"lr": 0.0}, r"lr=0.0: must be a number in \(0, inf\)"),
    ({"nesterov": True}, "Nesterov momentum needs optimizer='sgd' and a momentum above 0"),
    ({"scheduler": "piecewise", "epochs": 4}, r"warmup_epochs=5.0: must be a number in \(0, 4\)"),
    ({"val_split": 1.5}, "val_split=1.5: must be a fraction"),
    ({"patience": 3, "validate": False}, "early stopping on val_acc needs validation"),
    ({"init": "he"}, "init='he': choose one of default, kaiming_uniform, xavier_uniform"),
    ({"device": "tpu"}, "device='tpu': unknown device"),
])
def test_check_names_the_field_and_what_would_work(fields, message):
    with pytest.raises(ex.ConfigError, match=message):
        ex.RunConfig(**fields).check()


@pytest.mark.skipif(mt.cuda_is_available(), reason="CUDA is usable here")
def test_cuda_without_a_gpu_is_refused_with_the_fix():
    with pytest.raises(ex.ConfigError, match="no CUDA GPU is usable here.*use device 'cpu'"):
        ex.RunConfig(device="cuda").check()


def test_config_round_trips_through_json_and_refuses_unknown_fields():
    c = ex.RunConfig(model="resnet9", scheduler="piecewise", epochs=24, lr=0.4, nesterov=True, momentum=0.9)
    assert ex.RunConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ex.ConfigError, match="unknown run configuration field.*learning_rate"):
        ex.RunConfig.from_dict({**c.to_dict(), "learning_rate": 1})


def test_quick_shrinks_the_run_but_keeps_the_recipe():
    c = ex.RunConfig(model="resnet9", epochs=24, batch_size=512, scheduler="piecewise", warmup_epochs=5,
                     optimizer="sgd", lr=0.4, cutout=8).quick()
    assert (c.epochs, c.batch_size, c.train_subset, c.test_subset) == (1, 32, 128, 100)
    assert (c.model, c.lr, c.cutout, c.warmup_epochs) == ("resnet9", 0.4, 8, 5 / 24)
    c.check()


def test_load_data_cuts_subsets_and_splits(fake_data):
    full = CIFAR10(fake_data)
    data = ex.load_data(config(fake_data, train_subset=50, val_split=0.2, test_subset=30, seed=3))
    assert (len(data.train), len(data.val), len(data.test)) == (40, 10, 30)
    both = np.concatenate([data.train.data, data.val.data])
    assert sorted(map(bytes, both)) == sorted(map(bytes, full.data[:50]))  # the first 50, split in two
    assert data.classes == list(full.classes)
    other_seed = ex.load_data(config(fake_data, test_subset=30, seed=4), train=False)
    assert other_seed.train is None and np.array_equal(other_seed.test.data, data.test.data)
    assert len(np.unique(data.test.targets)) > 5  # drawn at random, not the first (maybe one-class) images
    with pytest.raises(ex.ConfigError, match="train_subset=1000: there are only 200 training images"):
        ex.load_data(config(fake_data, train_subset=1000))
    with pytest.raises(ex.ConfigError, match="drop_last=True: batches of 64 leave none of the 40 training images"):
        ex.build_loaders(config(fake_data, batch_size=64, drop_last=True), data)


def test_transforms_augment_then_normalise_then_cut_out():
    train, evaluation = ex.build_transforms(ex.RunConfig(augment=True, cutout=8, padding_mode="reflect"))
    assert [type(t) for t in train.transforms] == [transforms.RandomCrop, transforms.RandomHorizontalFlip,
                                                  transforms.Normalize, transforms.Cutout]
    assert train.transforms[0].padding_mode == "reflect" and train.transforms[0].padding == 4
    assert isinstance(evaluation, transforms.Normalize) and evaluation.mean == transforms.CIFAR10_MEAN
    train, evaluation = ex.build_transforms(ex.RunConfig(normalize="none"))
    assert [type(t) for t in train.transforms] == [transforms.ToFloat] and isinstance(evaluation, transforms.ToFloat)


def schedule(scheduler, steps_per_epoch=4, **fields):
    """(the learning rate of every training step, when the Trainer steps the scheduler)."""
    c = ex.RunConfig(scheduler=scheduler, lr=0.4, epochs=6, **fields)
    optimizer = ex.build_optimizer(c, [mt.nn.Parameter(mt.zeros(1))])
    built, when = ex.build_scheduler(c, optimizer, steps_per_epoch)
    lrs = []
    for _ in range(c.epochs * steps_per_epoch if when == "step" else c.epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        built.step()
    return np.array(lrs), when, built


def test_piecewise_schedule_rises_to_lr_at_warmup_then_falls_to_zero_per_step():
    lrs, when, scheduler = schedule("piecewise", warmup_epochs=2)
    assert when == "step"
    expected = 0.4 * np.interp(np.arange(24) / 4, [0, 2, 6], [0, 1, 0])
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)
    assert lrs[8] == pytest.approx(0.4) and lrs.argmax() == 8
    json.dumps(scheduler.state_dict())  # a checkpoint can store it (the factor's knots are plain numbers)


@pytest.mark.parametrize("name, when", [("cosine", "epoch"), ("step", "epoch"), ("onecycle", "step")])
def test_other_schedules_and_when_they_step(name, when):
    lrs, stepped, _ = schedule(name, step_size=2)
    assert stepped == when
    if name == "cosine":
        np.testing.assert_allclose(lrs, 0.2 * (1 + np.cos(np.pi * np.arange(6) / 6)), rtol=1e-12)
    elif name == "step":
        np.testing.assert_allclose(lrs, [0.4, 0.4, 0.04, 0.04, 0.004, 0.004], rtol=1e-12)
    else:  # PyTorch's OneCycleLR over the same steps
        torch = pytest.importorskip("torch")
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.4)
        theirs = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.4, epochs=6, steps_per_epoch=4)
        expected = []
        for _ in range(24):
            expected.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            theirs.step()
        np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_optimizers_follow_the_config():
    params = [mt.nn.Parameter(mt.zeros(1))]
    sgd = ex.build_optimizer(ex.RunConfig(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4), params)
    assert isinstance(sgd, mt.optim.SGD)
    assert {k: sgd.param_groups[0][k] for k in ("lr", "momentum", "nesterov", "weight_decay")} == \
           {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}
    adamw = ex.build_optimizer(ex.RunConfig(optimizer="adamw", lr=1e-3, weight_decay=0.05), params)
    assert isinstance(adamw, mt.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == 0.05


def test_same_config_same_initial_weights_and_init_scheme(fake_data):
    data = ex.load_data(config(fake_data))
    first, again = (ex.Experiment(config(fake_data, model="cnn1"), data).model.state_dict() for _ in range(2))
    other = ex.Experiment(config(fake_data, model="cnn1", seed=1), data).model.state_dict()
    assert all(np.array_equal(first[k].numpy(), again[k].numpy()) for k in first)
    assert not np.array_equal(first["features.0.weight"].numpy(), other["features.0.weight"].numpy())
    kaiming = ex.Experiment(config(fake_data, model="cnn1", init="kaiming_uniform"), data).model
    assert np.abs(kaiming.features[0].weight.detach().numpy()).max() > 1 / np.sqrt(27)  # beyond PyTorch's default bound


def test_the_device_is_parsed_where_it_enters_and_the_model_moved_once(fake_data, monkeypatch):
    assert ex.RunConfig(device="cpu").check().device == "cpu"
    moves, batch_moves = [], []
    module_to, tensor_to = mt.nn.Module.to, mt.Tensor.to
    monkeypatch.setattr(mt.nn.Module, "to", lambda self, *a, **k: moves.append(a) or module_to(self, *a, **k))
    monkeypatch.setattr(mt.Tensor, "to", lambda self, *a, **k: batch_moves.append(a) or tensor_to(self, *a, **k))
    experiment = ex.Experiment(config(fake_data, model="cnn2"))
    experiment.fit()
    assert moves == [("cpu",)]   # by the Trainer alone
    assert batch_moves == []     # the loaders' batches are already on the device


def test_run_writes_the_folder_and_its_weights_test_the_same(fake_data, tmp_path):
    c = config(fake_data, model="simplenet", epochs=2, optimizer="adam", lr=3e-3, augment=True, out=str(tmp_path))
    result = ex.run(c)
    assert set(result.files) == set(ex.FILES)
    assert all((tmp_path / name).stat().st_size > 0 for name in ex.FILES.values())
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG)
    with open(tmp_path / "metrics.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["1", "2"]
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "finished" and ex.RunConfig.from_dict(record["config"]) == c
    assert record["results"]["test_acc"] == result.test.acc > 0.3  # learnt something (chance is 0.1)
    assert record["data"] | {"folder": None} == {"folder": None, "classes": result.classes, "train_images": 200,
                                                 "val_images": 0, "test_images": 100, "validation": "test images"}
    evaluation, loaded, data = ex.evaluate_checkpoint(tmp_path / "final.npz")
    assert loaded == dataclasses.replace(c, data_dir=record["data"]["folder"])  # found wherever we run from
    assert evaluation.acc == result.test.acc
    np.testing.assert_array_equal(evaluation.confusion_matrix, result.test.confusion_matrix)
    text = ex.format_evaluation(evaluation, data.classes)
    assert text.splitlines()[0] == f"test accuracy: {result.test.acc:.2%} ({round(100 * result.test.acc)}/100), " \
                                   f"loss {result.test.loss:.4f}"
    assert len(text.splitlines()) == 11 and "airplane" in text


def test_find_lr_leaves_the_run_unchanged(fake_data, tmp_path):
    c = config(fake_data, augment=True, optimizer="sgd", momentum=0.9, out=str(tmp_path))
    plain = ex.Experiment(c)
    plain.fit()
    probed = ex.Experiment(c)
    result = probed.find_lr(start_lr=1e-5, end_lr=1.0, num_iter=12)
    assert len(result.lrs) == 12 or result.diverged
    assert (tmp_path / "lr_find.png").read_bytes().startswith(PNG)
    assert (tmp_path / "lr_find.csv").read_text().splitlines()[0] == "lr,loss,raw_loss"
    probed.fit()
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in
               zip(plain.model.state_dict().values(), probed.model.state_dict().values()))


@pytest.mark.filterwarnings("ignore:overflow|invalid value:RuntimeWarning")
def test_a_diverging_run_says_so_in_run_json(fake_data, tmp_path):
    with pytest.raises(NonFiniteLossError):
        ex.run(config(fake_data, lr=1e38, out=str(tmp_path)))
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "diverged" and "NonFiniteLossError" in record["error"]


def test_load_run_without_run_json_names_the_folder(tmp_path):
    with pytest.raises(ex.ConfigError, match=f"no run.json in {tmp_path}"):
        ex.load_run(tmp_path / "final.npz")
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ex.ConfigError, match="not a readable run record"):
        ex.load_run(tmp_path)


def test_format_evaluation_marks_classes_without_test_images():
    matrix = np.array([[3, 1, 0], [0, 0, 0], [1, 0, 5]])
    evaluation = mt.train.Evaluation(0.5, 0.8, np.array([0.75, np.nan, 5 / 6]), matrix)
    lines = ex.format_evaluation(evaluation, ["cat", "dog", "ship"]).splitlines()
    assert lines[0] == "test accuracy: 80.00% (8/10), loss 0.5000"
    assert lines[1:] == ["  cat    75.0%  (3/4)", "  dog      n/a  (0/0)", "  ship   83.3%  (5/6)"]


def test_plot_data_writes_samples_and_distribution(fake_data, tmp_path):
    paths = ex.plot_data(CIFAR10(fake_data, train=False), tmp_path / "figures", per_class=4)
    assert [p.name for p in paths] == ["samples.png", "class_distribution.png"]
    assert all(p.read_bytes().startswith(PNG) for p in paths)


def test_script_flags_replace_the_recipe_and_keep_the_schedule_shape(fake_data):
    recipe = ex.RunConfig(model="resnet9", epochs=24, scheduler="piecewise", warmup_epochs=5, lr=0.4, cutout=8)
    parser = ex.script_parser("the story", out="runs/nine")
    args = parser.parse_args(["--data-dir", fake_data, "--epochs", "12"])
    c = ex.script_config(recipe, args)
    assert (c.epochs, c.warmup_epochs, c.out, c.data_dir, c.device) == (12, 2.5, "runs/nine", fake_data, "cpu")
    assert (c.lr, c.cutout, c.scheduler) == (0.4, 8, "piecewise")  # the rest of the recipe stays
    assert ex.script_config(recipe, parser.parse_args([]), out="runs/nine/a").out == "runs/nine/a"
    assert ex.script_config(recipe, parser.parse_args([])).epochs == 24
    quick = ex.script_config(recipe, parser.parse_args(["--quick"]))
    assert (quick.epochs, quick.train_subset, quick.warmup_epochs) == (1, 128, 5 / 24)
    assert parser.parse_args([]).device == "cpu"  # as the command line's
    with pytest.raises(ex.ConfigError, match="label_smoothing=2: must be a number in"):
        ex.script_config(dataclasses.replace(recipe, label_smoothing=2), parser.parse_args(["--quick"]))


def test_evaluate_on_other_images_and_predict_agree_with_test(fake_data):
    experiment = ex.Experiment(config(fake_data, model="simplenet", optimizer="adam", lr=3e-3))
    experiment.fit()
    tested = experiment.test()
    again = experiment.evaluate(experiment.data.test)
    assert again.acc == tested.acc and np.array_equal(again.confusion_matrix, tested.confusion_matrix)
    assert experiment.evaluate(experiment.data.train).confusion_matrix.sum() == 200
    experiment.model.train()
    predicted = experiment.predict(experiment.data.test.data)
    assert experiment.model.training  # the mode is put back
    assert predicted.dtype == np.int64 and predicted.shape == (100,)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (experiment.data.test.targets, predicted), 1)
    np.testing.assert_array_equal(confusion, tested.confusion_matrix)


def test_run_and_report_prints_the_run_and_plot_run_folders_draws_those_that_ran(fake_data, tmp_path, capsys):
    experiment, result = ex.run_and_report(config(fake_data, out=str(tmp_path / "a")))
    printed = capsys.readouterr().out
    assert printed.startswith(f"== softmax -> {tmp_path / 'a'}/\n{experiment.describe()}\nepoch 1/1  loss ")
    assert "\ntrained 1 epoch(s) in " in printed
    assert ex.format_evaluation(result.test, result.classes) in printed
    figure = tmp_path / "runs.png"
    assert ex.plot_run_folders({"a": tmp_path / "a", "b": tmp_path / "b"}, figure) == ["a"]
    assert figure.read_bytes().startswith(PNG)
    assert capsys.readouterr().out == f"curves of a overlaid in {figure}\n"
    assert ex.plot_run_folders({"b": tmp_path / "b"}, tmp_path / "none.png") == []
    assert not (tmp_path / "none.png").exists() and capsys.readouterr().out == ""


def test_run_and_report_says_which_epoch_early_stopping_tested(fake_data, capsys):
    ex.run_and_report(config(fake_data, epochs=3, patience=1, lr=1e-30))  # nothing learnt: no epoch beats the 1st
    assert re.search(r"^trained 2 epoch\(s\) in \d+ s, stopped early; tested with the weights of the best epoch, 1$",
                     capsys.readouterr().out, re.MULTILINE)
