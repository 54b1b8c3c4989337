"""benchmarks/device_check.sh on the CPU with every stage shrunk to seconds (DEVICE_CHECK_TINY=1): the stages run,
each under its own limit, a failing one does not stop the next, and report.md says what ran and how it ended."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from minitorch_cifar.data import write_fake_cifar10

pytest.importorskip("torch")  # the benchmarks run PyTorch beside us

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "device_check.sh"


def device_check(*args, **env):
    environment = dict(os.environ, DEVICE_CHECK_TINY="1", PYTHON=sys.executable, **env)
    environment.pop("MINITORCH_CIFAR_DATA", None)
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=environment,
                          cwd=ROOT)


def stages(out):
    """{stage: (status, note)} of stages.tsv."""
    rows = [line.split("\t") for line in (out / "stages.tsv").read_text().splitlines()]
    return {row[0]: (row[1], row[5]) for row in rows}


def test_every_stage_runs_on_the_cpu_and_the_report_gives_their_figures(tmp_path):
    data, out = write_fake_cifar10(tmp_path / "data"), tmp_path / "out"
    done = device_check("--device", "cpu", "--data", data, out)
    assert done.returncode == 0, done.stderr
    assert {name: status for name, (status, _) in stages(out).items()} == dict.fromkeys(
        ["check", "tests", "bench", "bench_tf32", "resnet9_torch", "resnet9"], "pass")
    for name in stages(out):
        assert (out / f"{name}.log").stat().st_size > 0, name
    report = (out / "report.md").read_text()
    for heading in ("# Device check on cpu", "## Machine", "## Stages", "## 1. `python -m minitorch_cifar check`",
                    "## 2. The CUDA cases", "## 3a.", "## 3b.", "## 4. The DAWNBench ResNet-9 recipe"):
        assert f"\n{heading}" in "\n" + report, heading
    assert "| numpy | " in report and "| torch | " in report
    assert "8 checks on cpu in " in report and "8 passed, 0 failed" in report
    assert re.search(r"\n\d+ skipped, \d+ deselected", report)  # tests/test_tensor.py's GPU cases: no GPU here
    assert "| softmax " not in report and "\nsoftmax " in report  # the bench table, verbatim
    assert "| bench_tf32 | the same, TF32 on in both | pass: TF32 rows skipped: TF32 is a GPU setting |" in report
    assert "| minitorch_cifar | 1 | " in report and "| PyTorch eager | 1 | " in report
    assert "Ratio of the median epochs, ours / PyTorch: " in report
    assert (out / "resnet9" / "metrics.csv").is_file()


def test_a_failing_stage_does_not_stop_the_later_ones(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    (data / "cifar-10-batches-py").mkdir(parents=True)  # there, but empty: both trainings fail to read it
    done = device_check("--device", "cpu", "--data", data, "--only", "resnet9_torch,resnet9", out)
    assert done.returncode == 0, done.stderr  # the script reports failures; it does not fail itself
    assert {name: status for name, (status, _) in stages(out).items()} == {"resnet9_torch": "fail",
                                                                           "resnet9": "fail"}
    report = (out / "report.md").read_text()
    assert "| resnet9_torch | ResNet-9 recipe, PyTorch eager | fail (exit 1) |" in report
    assert "| minitorch_cifar | 0 | | | | not reached |" in report


def test_a_rerun_into_the_same_folder_trains_again(tmp_path):
    """The usual second run after a fix: the run folder the first left is replaced, not a reason to fail."""
    data, out = write_fake_cifar10(tmp_path / "data"), tmp_path / "out"
    for _ in range(2):
        done = device_check("--device", "cpu", "--data", data, "--only", "resnet9", out)
        assert done.returncode == 0, done.stderr
        assert stages(out)["resnet9"][0] == "pass", (out / "resnet9.log").read_text()[-2000:]


def test_without_data_the_trainings_are_skipped_and_say_why(tmp_path):
    out = tmp_path / "out"
    done = device_check("--device", "cpu", "--data", tmp_path, "--only", "resnet9_torch,resnet9", out)
    assert done.returncode == 0, done.stderr
    assert [status for status, _ in stages(out).values()] == ["skipped", "skipped"]
    assert all("no CIFAR-10 in" in note for _, note in stages(out).values())


@pytest.mark.parametrize("args", [["--device", "tpu", "out"], [], ["--frobnicate", "out"], ["a", "b"]])
def test_bad_usage_exits_2_with_a_usage_line(args, tmp_path):
    done = device_check(*args)
    assert done.returncode == 2
    assert "usage: bash benchmarks/device_check.sh" in done.stderr or "--device must be" in done.stderr
    assert done.stdout == ""
