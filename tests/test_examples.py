"""The example scripts, each run in --quick mode in-process (its ``main(argv)``) on a tiny CIFAR-format dataset,
and the resnet9 recipe's mean-loss form of the DAWNBench learning rate and weight decay."""
import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn, optim
from minitorch_cifar.data import write_fake_cifar10

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"
RUN = ("metrics.csv", "curves.png", "per_class.png", "final.npz", "run.json")  # what every Trainer run leaves

# script -> (files it writes under --out, number of runs, a line it prints that is its own story)
OUTPUTS = {
    "01_softmax": (RUN, 1, r"optimizer: sgd lr 0\.1, weight decay 0$"),
    "02_mlp": ([f"{run}/{f}" for run in ("mlp_first", "mlp_final") for f in RUN] + ["mlp_runs.png"], 2,
               r"curves of mlp_first, mlp_final overlaid"),
    "03_cnn_progression": ([f"{run}/{f}" for run in ("cnn1", "cnn2", "cnn3") for f in RUN] + ["cnn_progression.png"],
                           3, r"curves of cnn1, cnn2, cnn3 overlaid"),
    "04_lenet": ([*RUN, "feature_maps_conv1.png", "feature_maps_conv2.png"], 1,
                 r"accuracy on the 128 training images: \d+\.\d\d%; on the 100 test images: \d+\.\d\d%\n  \(both after "
                 r"training, in eval mode; curves.png draws the train accuracy while training: \d+\.\d\d% over"),
    "05_simplenet": (["batch_losses.csv", "batch_losses.png", "samples.png", "class_distribution.png", "final.npz"],
                     1, r"Batch \[2\], Loss: \d\.\d{4}"),
    "06_alexnet": ([*RUN, "predictions.png"], 1, r"identical, down to every cell of the confusion matrix"),
    "07_resnet10": (["lr_find/lr_find.png", "lr_find/lr_find.csv", "resnet10_runs.png"] +
                    [f"{run}/{f}" for run in ("plain", "augmented") for f in RUN], 2,
                    r"tried \d+ rates up to .*; steepest fall of the loss at: "),
    "08_resnet9": (RUN, 1, r"optimizer: sgd lr 0\.4 momentum 0\.9 \(nesterov\), weight decay 0\.0005, piecewise"),
}
ACCURACY = re.compile(r"^test accuracy: \d+\.\d\d% \(\d+/100\), loss \d+\.\d{4}$", re.MULTILINE)


@pytest.fixture(scope="session")
def fake_cifar(tmp_path_factory):
    """200 training and 100 test images in CIFAR-10's format, shared by every example."""
    return str(write_fake_cifar10(tmp_path_factory.mktemp("examples_cifar"), train_per_class=20, test_per_class=10))


def load_example(name):
    """The script examples/NAME.py as a module (its name starts with a digit, so it cannot be imported)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_script_is_tested():
    assert sorted(p.stem for p in EXAMPLES.glob("[0-9][0-9]_*.py")) == sorted(OUTPUTS)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_quick_run_writes_its_outputs_and_prints_the_test_accuracy(name, fake_cifar, tmp_path, capsys):
    files, runs, story = OUTPUTS[name]
    extra = ["--print-every", "2"] if name == "05_simplenet" else []
    status = load_example(name).main(["--quick", "--device", "cpu", "--data-dir", fake_cifar, "--out",
                                      str(tmp_path), *extra])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert len(ACCURACY.findall(printed)) == runs, printed
    assert re.search(story, printed, re.MULTILINE), printed
    for file in files:
        path = tmp_path / file
        assert path.is_file() and path.stat().st_size > 0, f"{name} did not write {file}"
        content = path.read_bytes()
        if path.suffix == ".png":
            assert content.startswith(PNG), file
        elif path.suffix == ".csv":
            assert len(content.decode().strip().splitlines()) >= 2, file  # a header and at least one row
        elif path.suffix == ".npz":
            assert zipfile.is_zipfile(path), file


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_help_describes_the_original_and_lists_the_shared_flags(name, capsys):
    with pytest.raises(SystemExit) as stop:
        load_example(name).main(["--help"])
    printed = capsys.readouterr().out
    assert stop.value.code == 0
    assert "The original" in printed
    assert all(flag in printed for flag in ("--device", "--data-dir", "--epochs", "--out", "--quick"))


def run_script(name, *argv, cwd):
    """(exit status, stdout, stderr) of ``python examples/NAME.py ARGV`` in a fresh interpreter, with this checkout
    first on the path and every download refused at once (a closed proxy port)."""
    refused = "http://127.0.0.1:9"
    env = {**os.environ, "PYTHONPATH": str(EXAMPLES.parent), "https_proxy": refused, "HTTPS_PROXY": refused,
           "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, argv)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)
    return done.returncode, done.stdout, done.stderr


def one_line_error(err, script):
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith(f"{script}.py: error: ") and "Traceback" not in err


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_bad_flags_and_missing_data_end_in_one_line(name, tmp_path):
    status, _, err = run_script(name, "--quick", "--epochs", "0", cwd=tmp_path)
    assert status == 2 and one_line_error(err, name) and "argument --epochs: 0 is below 1" in err, err
    status, _, err = run_script(name, "--quick", "--device", "gpu", cwd=tmp_path)
    assert status == 2 and one_line_error(err, name) and "unknown device 'gpu'" in err, err
    status, _, err = run_script(name, "--quick", "--data-dir", tmp_path / "mistyped", cwd=tmp_path)
    assert status == 1 and one_line_error(err, name), err
    assert "CIFAR-10 is not in" in err and "--data-dir DIR" in err and "root=" not in err
    assert not (tmp_path / "mistyped").exists() and not (tmp_path / "runs").exists()  # nothing written


@pytest.mark.parametrize("name, argv, message", [
    ("04_lenet", ["--image", "1000"], "--image 1000: there are 100 test images"),
    ("05_simplenet", ["--print-every", "0"], "argument --print-every: 0 is below 1"),
    ("06_alexnet", ["--show", "-3"], "argument --show: -3 is below 1"),
    ("07_resnet10", ["--lr", "0"], "lr=0.0: must be a number in (0, inf)"),
    ("08_resnet9", ["--label-smoothing", "1.5"], "label_smoothing=1.5: must be a number in [0, 1)"),
])
def test_a_scripts_own_flags_are_checked_the_same_way(name, argv, message, fake_cifar, tmp_path):
    status, _, err = run_script(name, "--quick", "--data-dir", fake_cifar, *argv, cwd=tmp_path)
    assert status == 2 and one_line_error(err, name) and message in err, err


def test_a_script_does_not_replace_the_runs_in_its_folder_unless_told(fake_cifar, tmp_path, capsys):
    argv = ["--quick", "--data-dir", fake_cifar, "--out", str(tmp_path)]
    assert load_example("01_softmax").main(argv) == 0
    record = (tmp_path / "run.json").read_bytes()
    status, _, err = run_script("01_softmax", *argv, cwd=tmp_path)
    assert status == 2 and one_line_error(err, "01_softmax") and "--overwrite" in err
    assert (tmp_path / "run.json").read_bytes() == record
    assert load_example("01_softmax").main([*argv, "--overwrite"]) == 0


def test_resnet9_mean_loss_recipe_takes_the_same_steps_as_the_summed_loss_original():
    """DAWNBench sums the loss over the batch of 512 and uses lr schedule(t) / 512 and weight decay 5e-4 * 512;
    08_resnet9.py uses the mean loss with lr schedule(t) and weight decay 5e-4. Same weights after every step."""
    recipe = load_example("08_resnet9").RECIPE
    batch = recipe.batch_size
    schedule = [0.0, 0.15, 0.4, 0.25]  # learning rates of four steps, as on the triangle's way up and down

    def train(reduction, lr_of, weight_decay):
        mt.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.Flatten(), nn.Linear(4 * 6 * 6, 10, bias=False)).to(dtype=mt.float64)
        optimizer = optim.SGD(model.parameters(), lr=lr_of(schedule[0]), momentum=recipe.momentum,
                              nesterov=recipe.nesterov, weight_decay=weight_decay)
        loss_fn = nn.CrossEntropyLoss(reduction=reduction)
        start = [p.detach().numpy().copy() for p in model.parameters()]
        rng = np.random.default_rng(1)
        for peak in schedule:
            for group in optimizer.param_groups:
                group["lr"] = lr_of(peak)
            x = mt.tensor(rng.standard_normal((batch, 3, 6, 6)), dtype=mt.float64)
            y = mt.tensor(rng.integers(0, 10, batch))
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        return start, [p.detach().numpy() for p in model.parameters()]

    start, original = train("sum", lambda s: s / batch, 5e-4 * batch)
    _, ours = train("mean", lambda s: s, recipe.weight_decay)
    assert recipe.lr == 0.4 and recipe.weight_decay == 5e-4 and batch == 512
    for a, b in zip(original, ours):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)

    def moved(weights):
        return sum(np.sum((w - w0) ** 2) for w, w0 in zip(weights, start)) ** 0.5

    _, raw = train("sum", lambda s: s, recipe.weight_decay)  # 0.4 read as the summed loss's rate
    assert moved(raw) > 100 * moved(original)  # hundreds of times the intended steps


def test_the_examples_readme_states_the_device_default_the_scripts_and_the_cli_use():
    from minitorch_cifar import cli
    from minitorch_cifar.experiment import script_parser
    default = script_parser("x", out="o").parse_args([]).device
    assert default == cli.RunConfig().device == "cpu"
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert f"(default `{default}`, as for `python -m minitorch_cifar train`" in readme
