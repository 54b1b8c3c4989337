"""benchmarks/cpu_report.py on one small model: the section names the CPU, its BLAS kernels and the commit, and its
table holds what bench_models.py measured (the ratio is ours / PyTorch of the two medians beside it)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")  # the benchmarks run PyTorch beside us
pytest.importorskip("threadpoolctl")

ROOT = Path(__file__).resolve().parent.parent


def test_the_section_names_the_machine_and_holds_the_measured_rows(tmp_path):
    out = tmp_path / "section.md"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cpu_report.py"), "--models", "lenet",
                           "--threads", "1", "--steps", "2", "--seconds", "0", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text == done.stdout.rstrip("\n") + "\n"
    heading, _, cpu, software, *rest = text.splitlines()
    assert re.fullmatch(r"### .+, commit \w+\+?, \d{4}-\d\d-\d\d \d\d:\d\d UTC", heading)
    assert cpu.startswith("CPU: ") and " CPUs, " in cpu
    assert software.startswith("NumPy ") and "PyTorch " in software
    table = [line for line in rest if line.startswith("| ")]
    assert re.match(r"\| model \| 1 thread, .+, SGEMM \d+ GF/s: ours \| PyTorch \| ratio \| peak MiB", table[0])
    cells = table[1].strip("| ").split(" | ")
    assert cells[0] == "lenet" and len(cells) == 5
    ours, theirs, ratio = map(float, cells[1:4])
    assert ours > 0 and theirs > 0 and abs(ratio - ours / theirs) < 0.01 + 0.01 * ratio
    assert re.fullmatch(r"\d+ / \d+", cells[4])
