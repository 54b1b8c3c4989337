"""``python -m minitorch_cifar check``: it passes on a sound framework, and each kind of check catches a broken op."""
import subprocess
import sys

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import check, cli, optim
from minitorch_cifar.check import cases
from minitorch_cifar.data import transforms
from minitorch_cifar.ops import pool, random
from minitorch_cifar.testing import gradcheck


def rows_of(ops, device="cpu"):
    return check.run(device, ops, out=lambda row: None)


def test_the_command_runs_every_check_on_the_cpu_and_passes(capsys):
    assert cli.main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.endswith((" pass", " FAIL"))]
    gradient_checks = sum(getattr(case, "gradcheck", None) is not None for case in cases.CASES)
    assert len(rows) == len(cases.CASES) + gradient_checks
    assert all(row.endswith(" pass") for row in rows)
    assert lines[-1].startswith(f"{len(rows)} checks on cpu in ")
    assert lines[-1].endswith(f"{len(rows)} passed, 0 failed")


def test_every_op_has_a_float64_gradient_check_and_a_float32_comparison():
    names = [case.name for case in cases.CASES]
    assert len(names) == len(set(names)), "check names must be unique"
    for name in ("conv2d groups 2", "max_pool2d ceil mode", "BatchNorm2d train", "cross_entropy spatial",
                 "BatchNorm1d"):
        tests = [row.test for row in rows_of([name])]
        assert tests == ["gradcheck f64", "f32 cpu vs f64 cpu"], name


def test_a_wrong_backward_fails_the_gradient_check_and_names_the_op(monkeypatch, capsys):
    backward = pool.MaxPool.backward
    monkeypatch.setattr(pool.MaxPool, "backward", lambda self, grad: backward(self, grad) * 1.01)
    assert cli.main(["check", "--ops", "max_pool2d", "relu"]) == 1
    out, err = capsys.readouterr()
    failed = [line for line in out.splitlines() if line.endswith(" FAIL")]
    assert failed and all(line.startswith("max_pool2d") and "gradcheck f64" in line for line in failed)
    assert any(line.startswith("relu") and line.endswith(" pass") for line in out.splitlines())
    assert err.count("\n") == 1 and "max_pool2d overlapping" in err and "failed on cpu" in err


def test_the_comparison_catches_a_kernel_wrong_in_float32_only(monkeypatch):
    """What ``--device cuda`` does, on the CPU: float32 on the device checked against float64 on the CPU. A
    backward wrong only in float32 (as a device kernel might be) passes the float64 gradient check and fails the
    comparison."""
    backward = pool.AvgPool.backward

    def wrong_in_float32(self, grad):
        result = backward(self, grad)
        return result * 1.001 if result.dtype == np.float32 else result

    monkeypatch.setattr(pool.AvgPool, "backward", wrong_in_float32)
    rows = rows_of(["avg_pool2d overlapping"])
    assert [(row.test, row.passed) for row in rows] == [("gradcheck f64", True), ("f32 cpu vs f64 cpu", False)]
    assert 1e-5 < rows[1].error < 1e-2


def test_an_optimizer_wrong_in_float32_fails_its_step_check(monkeypatch):
    step = optim.SGD._update_group

    def drifting(self, group):
        step(self, group)
        for p in group["params"]:
            if p.dtype == np.float32:
                p.array += np.float32(1e-4)

    monkeypatch.setattr(optim.SGD, "_update_group", drifting)
    rows = rows_of(["SGD"])
    assert len(rows) == 3 and not any(row.passed for row in rows)
    assert all(row.test == "3 steps f32 cpu vs f64 cpu" for row in rows)


def test_a_dropout_that_keeps_too_much_fails_its_mask_check(monkeypatch):
    forward = random.Dropout.forward
    monkeypatch.setattr(random.Dropout, "forward", lambda self, a, p, mask_shape=None: forward(self, a, p / 2,
                                                                                              mask_shape))
    rows = rows_of(["dropout", "dropout2d"])
    assert [row.passed for row in rows] == [False, False]
    assert rows[0].error > 0.1


def test_a_broken_augmentation_fails_against_the_image_loop(monkeypatch):
    monkeypatch.setattr(transforms.Cutout, "apply", lambda self, batch, centres: batch.copy())
    rows = {row.name: row for row in rows_of(["cutout", "compose", "randomcrop"])}
    assert not rows["Cutout"].passed and not rows["Compose crop-flip-cutout-normalize"].passed
    assert rows["RandomCrop zeros"].passed and rows["RandomCrop reflect"].passed


def test_a_crash_is_a_failed_row_and_the_next_checks_still_run(monkeypatch):
    def crash(self, grad):
        raise RuntimeError("kernel launch failed\nsecond line")

    monkeypatch.setattr(pool.MaxPool, "backward", crash)
    rows = rows_of(["MaxPool2d", "AvgPool2d"])
    assert [(row.name, row.passed) for row in rows] == [("MaxPool2d", False)] * 2 + [("AvgPool2d", True)] * 2
    assert rows[0].note == "RuntimeError: kernel launch failed"


def test_ops_picks_checks_by_their_first_word_or_whole_name(capsys):
    assert {row.name for row in rows_of(["Adam"])} == {"Adam", "Adam amsgrad"}
    assert [row.name for row in rows_of(["adam amsgrad"])] == ["Adam amsgrad"]
    assert cli.main(["check", "--ops", "conv2d", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed and all(line.lower().startswith("conv2d ") for line in listed)  # F.conv2d and nn.Conv2d
    assert len(listed) == sum(case.name.lower().split()[0] == "conv2d" for case in cases.CASES)


def test_an_unknown_op_is_a_usage_error(capsys):
    assert cli.main(["check", "--ops", "conv3d"]) == 2
    assert "no check named conv3d" in capsys.readouterr().err


@pytest.mark.parametrize("device, message", [("tpu", "unknown device 'tpu'"), ("cuda", "pip install")])
def test_a_device_that_cannot_be_checked_exits_2_with_one_line(device, message):
    if device == "cuda" and mt.cuda_is_available():
        pytest.skip("CUDA is usable here")
    done = subprocess.run([sys.executable, "-m", "minitorch_cifar", "check", "--device", device],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_gradcheck_can_return_its_largest_error():
    x = mt.Tensor(np.random.default_rng(0).uniform(0.5, 2, (3, 4)), requires_grad=True)
    error = gradcheck(lambda t: t.log(), [x], return_error=True)
    assert isinstance(error, float) and 0 < error < 1e-6
    assert 0 < gradcheck(lambda t: t.log(), [x], directions=3, return_error=True) < 1e-6
    assert gradcheck(lambda t: t.log(), [x]) is True
