"""The command line, run in-process through ``cli.main(argv)`` (one subprocess checks ``python -m``)."""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from minitorch_cifar import cli
from minitorch_cifar.data import cifar, write_fake_cifar10

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory):
    """100 training and 50 test images in CIFAR-10's format."""
    return str(write_fake_cifar10(tmp_path_factory.mktemp("cifar"), train_per_class=10, test_per_class=5))


def run(capsys, *argv):
    """(exit status, stdout, stderr) of one command."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def accuracy_line(text):
    return next(line for line in text.splitlines() if line.startswith("test accuracy: "))


def test_train_leaves_csv_png_weights_and_json_then_evaluate_prints_the_same_accuracy(fake_data, tmp_path, capsys):
    out = tmp_path / "x"
    status, printed, progress = run(capsys, "train", "--model", "cnn2", "--epochs", "1", "--batch-size", "25",
                                    "--data-dir", fake_data, "--out", out)
    assert status == 0
    assert re.search(r"^epoch 1/1  loss [0-9.]+ acc [0-9.]+%  val [0-9.]+ [0-9.]+%  lr 0.01  \d+ s$", printed, re.M)
    assert "\r" not in progress  # no bar redrawn where it cannot be (a captured, non-terminal stderr)
    for name in ("metrics.csv", "curves.png", "final.npz", "best.npz", "checkpoint.npz", "run.json"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "curves.png").read_bytes().startswith(PNG)
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and 0 <= float(rows[0]["train_acc"]) <= 1
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and record["config"]["model"] == "cnn2"
    trained_line = accuracy_line(printed)
    assert trained_line.startswith(f"test accuracy: {record['results']['test_acc']:.2%} (")
    assert re.search(r"\(\d+/50\)", trained_line)

    status, printed, _ = run(capsys, "evaluate", out / "final.npz")
    assert status == 0 and accuracy_line(printed) == trained_line
    assert len([line for line in printed.splitlines() if line.startswith("  ")]) == 10  # one line per class

    elsewhere = tmp_path / "copied"  # weights without run.json: the model must be named
    elsewhere.mkdir()
    shutil.copy(out / "final.npz", elsewhere)
    status, _, err = run(capsys, "evaluate", elsewhere / "final.npz", "--data-dir", fake_data)
    assert status == 2 and "pass --model NAME" in err and len(err.splitlines()) == 1
    status, printed, _ = run(capsys, "evaluate", elsewhere / "final.npz", "--data-dir", fake_data, "--model", "cnn2")
    assert status == 0 and accuracy_line(printed) == trained_line

    (elsewhere / "final.npz").write_bytes(b"not a checkpoint")
    status, _, err = run(capsys, "evaluate", elsewhere / "final.npz", "--data-dir", fake_data, "--model", "cnn2")
    assert status == 1 and "not an .npz archive" in err and "Traceback" not in err
    status, _, err = run(capsys, "evaluate", elsewhere / "cnn3" / "final.npz", "--model", "cnn3")
    assert status == 1 and "no such checkpoint file" in err


def weights(path):
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files if key.startswith("model/")}


def test_resume_continues_as_an_uninterrupted_run(fake_data, tmp_path, capsys):
    common = ["--model", "simplenet", "--batch-size", "32", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.05",
              "--augment", "--scheduler", "step", "--step-size", "1", "--gamma", "0.5", "--data-dir", fake_data, "--no-progress"]
    assert run(capsys, "train", *common, "--epochs", "2", "--out", tmp_path / "straight")[0] == 0
    assert run(capsys, "train", *common, "--epochs", "1", "--out", tmp_path / "resumed")[0] == 0
    status, printed, _ = run(capsys, "train", "--resume", tmp_path / "resumed" / "checkpoint.npz", "--epochs", "2")
    assert status == 0 and "resuming from" in printed
    straight, resumed = weights(tmp_path / "straight" / "final.npz"), weights(tmp_path / "resumed" / "final.npz")
    assert straight.keys() == resumed.keys()
    assert all(np.array_equal(straight[key], resumed[key]) for key in straight)
    metrics = [[{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(open(folder / "metrics.csv"))]
               for folder in (tmp_path / "straight", tmp_path / "resumed")]
    assert metrics[0] == metrics[1] and len(metrics[0]) == 2
    assert json.loads((tmp_path / "resumed" / "run.json").read_text())["resumed_from"].endswith("checkpoint.npz")


def test_lr_find_writes_the_plot_and_prints_a_suggestion(fake_data, tmp_path, capsys):
    status, printed, _ = run(capsys, "lr-find", "--model", "softmax", "--data-dir", fake_data, "--batch-size", "10",
                             "--num-iter", "25", "--end-lr", "1", "--out", tmp_path)
    assert status == 0
    assert re.search(r"suggested learning rate \(steepest descent of the loss\): [0-9.e-]+", printed)
    assert (tmp_path / "lr_find.png").read_bytes().startswith(PNG)
    assert len((tmp_path / "lr_find.csv").read_text().splitlines()) == 26


def test_show_data_writes_samples_and_distribution(fake_data, tmp_path, capsys):
    status, printed, _ = run(capsys, "show-data", "--data-dir", fake_data, "--split", "test", "--out", tmp_path)
    assert status == 0 and "50 test images" in printed and "airplane 5" in printed
    assert all((tmp_path / name).read_bytes().startswith(PNG) for name in ("samples.png", "class_distribution.png"))


def test_summary_prints_every_layer(capsys):
    status, printed, _ = run(capsys, "summary", "--model", "lenet")
    assert status == 0
    assert re.search(r"Conv2d-1\s+\[-1, 6, 28, 28\]\s+456", printed) and "Total params: 62,006" in printed


def test_missing_data_is_one_clear_line(tmp_path, capsys, monkeypatch):
    def offline(url):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(cifar, "open_url", offline)
    status, _, err = run(capsys, "train", "--model", "cnn2", "--data-dir", tmp_path / "nowhere")
    assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "CIFAR-10 is not in" in err and "--data-dir DIR" in err
    status, _, err = run(capsys, "show-data", "--data-dir", tmp_path / "nowhere", "--no-download")
    assert status == 1 and "download=False" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "vgg"], "argument --model: invalid choice: 'vgg'"),
    (["train", "--epochs", "3"], "which model? pass --model NAME, one of alexnet"),
    (["train", "--model", "cnn2", "--batch-size", "0"], "batch_size=0: must be a positive integer"),
    (["train", "--model", "cnn2", "--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    (["train", "--model", "cnn2", "--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
    (["summary", "--model", "vgg"], "argument --model: invalid choice: 'vgg'"),
    (["fly"], "argument COMMAND: invalid choice: 'fly'"),
])
def test_bad_flags_are_one_line_and_exit_2(argv, message, capsys):
    status, _, err = run(capsys, *argv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_resume_from_a_missing_checkpoint_says_so(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--resume", tmp_path / "checkpoint.npz")
    assert status == 1 and "no such checkpoint file" in err


def test_resume_refuses_to_stretch_a_schedule_laid_out_for_the_epochs(fake_data, tmp_path, capsys):
    assert run(capsys, "train", "--model", "softmax", "--epochs", "1", "--scheduler", "cosine", "--data-dir",
               fake_data, "--out", tmp_path, "--no-progress")[0] == 0
    status, _, err = run(capsys, "train", "--resume", tmp_path / "checkpoint.npz", "--epochs", "3")
    assert status == 2 and "the cosine schedule of this run was laid out for 1 epochs" in err


@pytest.fixture(scope="module")
def finished_run(fake_data, tmp_path_factory):
    """A finished 2-epoch softmax run (constant learning rate, so more epochs may follow), copied for each test."""
    folder = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main(["train", "--model", "softmax", "--epochs", "2", "--data-dir", fake_data, "--out", str(folder),
                     "--no-progress"]) == 0
    return folder


def a_copy(folder, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    return copy, (copy / "run.json").read_bytes()


def test_a_failed_resume_leaves_run_json_byte_identical(finished_run, fake_data, tmp_path, capsys):
    folder, record = a_copy(finished_run, tmp_path)
    checkpoint = folder / "checkpoint.npz"
    status, _, err = run(capsys, "train", "--resume", checkpoint, "--epochs", "3", "--model", "cnn2")
    assert status == 2 and "continues a softmax run; drop --model" in err and len(err.splitlines()) == 1
    assert (folder / "run.json").read_bytes() == record

    good = checkpoint.read_bytes()
    checkpoint.write_bytes(good[: len(good) // 2])  # cut short, as by a full disk
    status, _, err = run(capsys, "train", "--resume", checkpoint, "--epochs", "3")
    assert status == 1 and "cannot read it as a checkpoint" in err and "Traceback" not in err
    assert (folder / "run.json").read_bytes() == record
    checkpoint.write_bytes(good)
    status, printed, _ = run(capsys, "evaluate", folder / "final.npz")  # the finished run is still whole
    assert status == 0 and accuracy_line(printed)


@pytest.mark.parametrize("epochs, message", [
    ("1", "epochs=1: {ckpt} has already trained 2 epochs; resume with more epochs than 2"),
    ("2", "epochs=2: the run of {ckpt} is complete (2 epochs: it trained all its epochs), so there is nothing to "
          "resume"),
])
def test_resuming_a_complete_run_says_so_and_changes_nothing(finished_run, tmp_path, capsys, epochs, message):
    folder, record = a_copy(finished_run, tmp_path)
    checkpoint = folder / "checkpoint.npz"
    status, _, err = run(capsys, "train", "--resume", checkpoint, "--epochs", epochs)
    assert status == 2 and message.format(ckpt=checkpoint) in err and len(err.splitlines()) == 1
    assert (folder / "run.json").read_bytes() == record


def test_a_resumed_run_keeps_its_results_until_new_ones_replace_them(finished_run, tmp_path, capsys, monkeypatch):
    folder, record = a_copy(finished_run, tmp_path)
    results = json.loads(record)["results"]
    monkeypatch.setattr(cli.Experiment, "fit", lambda self, resume=None: (_ for _ in ()).throw(KeyboardInterrupt))
    status, _, err = run(capsys, "train", "--resume", folder / "checkpoint.npz", "--epochs", "3")
    assert status == 130 and f"continue with: python -m minitorch_cifar train --resume {folder}" in err
    interrupted = json.loads((folder / "run.json").read_text())
    assert interrupted["status"] == "interrupted" and interrupted["results"] == results


def test_train_into_a_folder_that_holds_a_run_refuses_unless_told(finished_run, fake_data, tmp_path, capsys):
    folder, record = a_copy(finished_run, tmp_path)
    final = (folder / "final.npz").read_bytes()
    again = ["train", "--model", "softmax", "--epochs", "1", "--data-dir", fake_data, "--out", folder, "--no-progress"]
    status, _, err = run(capsys, *again)
    assert status == 2 and len(err.splitlines()) == 1
    assert f"{folder} already holds a finished run" in err and "--resume" in err and "--overwrite" in err
    assert (folder / "run.json").read_bytes() == record and (folder / "final.npz").read_bytes() == final
    (folder / "best.npz").unlink()
    (folder / "stale.txt").write_text("not the run's")
    assert run(capsys, *again, "--overwrite", "--no-validate")[0] == 0
    assert json.loads((folder / "run.json").read_text())["config"]["epochs"] == 1
    assert not (folder / "best.npz").exists() and (folder / "stale.txt").exists()  # only the run's own files go


def test_python_dash_m_help():
    done = subprocess.run([sys.executable, "-m", "minitorch_cifar", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0
    assert all(command in done.stdout for command in ("train", "evaluate", "lr-find", "show-data", "summary"))


def test_help_shows_each_run_flag_with_run_configs_own_default():
    commands = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    helps = {action.option_strings[0]: action.help for action in commands["train"]._actions if action.option_strings}
    defaults = cli.RunConfig().to_dict()
    for flag, _, _ in cli.RUN_FLAGS:
        value = defaults[flag[2:].replace("-", "_")]
        if value is None or flag == "--model":
            continue
        shown = ("on" if value else "off") if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) \
            else value
        assert helps[flag].endswith(f"default {shown})") or helps[flag] == f"default {shown}", (flag, helps[flag])


def command(*argv, cwd):
    """(exit status, stdout, stderr) of ``python -m minitorch_cifar ARGV`` in a fresh interpreter, stdout and stderr
    pipes (not terminals), this checkout first on the path and every download refused at once."""
    refused = "http://127.0.0.1:9"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "https_proxy": refused, "HTTPS_PROXY": refused}
    done = subprocess.run([sys.executable, "-m", "minitorch_cifar", *map(str, argv)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("argv, status, message", [
    (["train", "--model", "cnn2", "--epochs", "0"], 2, "epochs=0: must be a positive integer"),
    (["train", "--model", "cnn2", "--quick", "--epochs", "0"], 2, "epochs=0: must be a positive integer"),
    (["train", "--model", "cnn2", "--device", "gpu"], 2, "argument --device: unknown device 'gpu'"),
    (["train", "--model", "cnn2", "--data-dir", "mistyped"], 1, "CIFAR-10 is not in mistyped (downloading"),
    (["evaluate", "nowhere/final.npz"], 1, "nowhere/final.npz: no such checkpoint file"),
    (["lr-find", "--model", "softmax", "--num-iter", "0"], 2, "argument --num-iter: 0 is below 1"),
    (["lr-find", "--model", "softmax", "--num-iter", "1"], 2, "num_iter=1: the test needs at least 2 iterations"),
    (["lr-find", "--model", "softmax", "--start-lr", "1", "--end-lr", "0.1"], 2, "start_lr=1, end_lr=0.1"),
    (["lr-find", "--model", "softmax", "--epochs", "3"], 2, "unrecognized arguments: --epochs 3"),
    (["lr-find", "--model", "softmax", "--scheduler", "cosine"], 2, "unrecognized arguments: --scheduler cosine"),
    (["lr-find", "--model", "softmax", "--patience", "3"], 2, "unrecognized arguments: --patience 3"),
    (["show-data", "--data-dir", "mistyped", "--no-download"], 1, "CIFAR-10 is not in mistyped (download=False)"),
    (["show-data", "--per-class", "0"], 2, "argument --per-class: 0 is below 1"),
    (["summary", "--model", "lenet", "--device", "gpu"], 2, "argument --device: unknown device 'gpu'"),
])
def test_each_command_ends_a_bad_input_in_one_line(argv, status, message, tmp_path):
    code, _, err = command(*argv, cwd=tmp_path)
    lines = err.strip().splitlines()
    assert code == status and len(lines) == 1 and "Traceback" not in err, err
    assert re.match(rf"python -m minitorch_cifar( {argv[0]})?: error: ", lines[0]) and message in lines[0], err
    if "CIFAR-10 is not in" in message:
        assert "--data-dir DIR" in err and "root=" not in err
    assert list(tmp_path.iterdir()) == []  # no folder made for a mistyped path, no run folder begun


@pytest.mark.parametrize("progress", ["--progress", "--no-progress"])
def test_each_epoch_prints_one_summary_line_and_a_log_gets_no_bar(fake_data, tmp_path, progress):
    code, printed, err = command("train", "--model", "softmax", "--epochs", "2", "--data-dir", fake_data, "--out",
                                 tmp_path / "run", progress, cwd=tmp_path)
    assert code == 0, err
    lines = [line for line in printed.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    assert all(re.fullmatch(r"epoch \d/2  loss [0-9.]+ acc [0-9.]+%  val [0-9.]+ [0-9.]+%  lr 0.01  \d+ s", line)
               and len(line) <= 80 for line in lines), lines
    assert "\r" not in printed + err and "batch/s" not in err  # stdout and stderr are pipes here: no bar


def test_lr_find_shows_its_progress_like_train(fake_data, tmp_path, capsys, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    status, printed, _ = run(capsys, "lr-find", "--model", "softmax", "--data-dir", fake_data, "--batch-size", "10",
                             "--num-iter", "12", "--out", tmp_path)
    assert status == 0 and "lr-find" in terminal.getvalue() and "12/12" in terminal.getvalue()
    assert "no suggestion: the test is too short to find a slope (12 iterations ran" in printed


def test_the_readme_lists_every_file_of_a_run_folder_and_speaks_to_a_user():
    from minitorch_cifar.experiment import FILES
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{name}`" in quickstart for name in FILES.values())
    assert "minutes" in quickstart and "GPU" in quickstart  # how long the main job takes, and where
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    for text in (readme, results):
        assert not re.search(r"\bsessions?\b|\blent\b|we had", text, re.IGNORECASE)
