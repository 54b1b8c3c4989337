"""Write OUT_DIR/report.md from what benchmarks/device_check.sh left there: stages.tsv and one log per stage.

    python benchmarks/device_report.py OUT_DIR [--device cuda] [--quick]

The report names the machine (GPU, driver, CUDA, the versions of Python, NumPy, numba, CuPy and PyTorch), lists
every stage with its status and time, and gives each stage's key figures: the checks passed, the CUDA tests
passed, the training-step table against PyTorch, and the ResNet-9 recipe's time per epoch and final test accuracy
in both frameworks, with their ratio.
"""
import argparse
import csv
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

import machine as machine_info

STAGES = {"data": "CIFAR-10 from the JPEG archive", "check": "python -m minitorch_cifar check",
          "tests": "the CUDA cases of the test suite (pytest -m cuda)",
          "bench": "a training step against PyTorch, TF32 off", "bench_tf32": "the same, TF32 on in both",
          "resnet9_torch": "ResNet-9 recipe, PyTorch eager", "resnet9": "ResNet-9 recipe, examples/08_resnet9.py"}


def read_stages(out):
    """{stage: dict(status, rc, seconds, limit, note)} in the order they ran."""
    stages = {}
    path = out / "stages.tsv"
    for line in path.read_text().splitlines() if path.is_file() else []:
        name, status, rc, seconds, limit, *note = line.split("\t")
        stages[name] = dict(status=status, rc=rc, seconds=seconds, limit=limit, note="\t".join(note))
    return stages


def log_of(out, name):
    path = out / f"{name}.log"
    return path.read_text(errors="replace") if path.is_file() else ""


def _run(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(device):
    """(what, value) pairs describing the machine and the software."""
    rows = [("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
            ("host", f"{platform.node()}, {os.cpu_count()} CPU threads, {platform.platform()}")]
    rows.append(("CPU", machine_info.cpu()))
    if device != "cpu":
        gpu = _run("nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader")
        rows.append(("GPU (nvidia-smi)", gpu.replace("\n", "; ") or "nvidia-smi gave nothing"))
    rows.append(("Python", sys.version.split()[0]))
    for module in ("numpy", "numba", "cupy", "torch"):
        rows.append((module, _version(module)))
    rows.append(("minitorch_cifar commit", machine_info.commit()))
    if device != "cpu":
        rows += _cuda_versions()
    return rows


def _version(module):
    try:
        return __import__(module).__version__
    except Exception as e:  # not installed, or broken: say which
        return f"not usable ({type(e).__name__})"


def _cuda_versions():
    rows = []
    try:
        import cupy
        runtime, driver = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        name = name.decode() if isinstance(name, bytes) else name
        rows += [("CUDA runtime (CuPy)", _cuda_version(runtime)), ("CUDA driver API", _cuda_version(driver)),
                 ("GPU (CuPy)", name)]
    except Exception as e:
        rows.append(("CuPy", f"cannot reach the GPU ({type(e).__name__}: {e})"))
    try:
        import torch
        rows += [("CUDA of PyTorch", str(torch.version.cuda)),
                 ("cuDNN of PyTorch", str(torch.backends.cudnn.version()))]
    except Exception as e:
        rows.append(("PyTorch CUDA", f"not usable ({type(e).__name__})"))
    return rows


def _cuda_version(number):
    return f"{number // 1000}.{number % 1000 // 10}"


# ---------------------------------------------------------------------------------------------- key figures
def check_figures(log):
    """(summary, the rows that failed with their notes)."""
    lines = log.splitlines()
    summary = next((line for line in reversed(lines) if re.match(r"\d+ checks on ", line)), "")
    failed = []
    for i, line in enumerate(lines):
        if line.endswith(" FAIL"):
            failed.append(line)
            if i + 1 < len(lines) and lines[i + 1].startswith("    "):  # the row's note
                failed.append(lines[i + 1])
    error = next((line for line in lines if ": error: " in line), "")
    return summary or error, failed


def test_figures(log):
    """(pytest's summary line, the tests that failed); for a run stopped by its time limit, which printed no
    summary, the outcomes counted from pytest's -v lines so far."""
    lines = log.splitlines()
    summary = next((line.strip("= ") for line in reversed(lines)
                    if re.search(r"\d+ (passed|failed|skipped|deselected|error)", line)), "")
    failed = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    if not summary:
        outcomes = [(m[1], m[2]) for m in (re.match(r"(\S+::\S+) (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)", line)
                                           for line in lines) if m]
        counts = {}
        for _, outcome in outcomes:
            counts[outcome.lower()] = counts.get(outcome.lower(), 0) + 1
        summary = ("stopped before the end; so far " + ", ".join(f"{n} {k}" for k, n in counts.items())
                   if counts else "")
        failed = [f"FAILED {name}" for name, outcome in outcomes if outcome in ("FAILED", "ERROR")]
    return summary, failed


def bench_table(log):
    """The lines of bench_models.py's table (header to the load average), or its 'skipped' line."""
    lines = log.splitlines()
    skipped = next((line for line in lines if "rows skipped" in line), "")
    start = next((i for i, line in enumerate(lines) if " vs torch " in line), None)
    if start is None:
        return skipped, []
    end = next((i for i, line in enumerate(lines[start:], start) if line.startswith("load average at the end")),
               len(lines) - 1)
    return skipped, lines[start:end + 1]


def torch_epochs(log):
    """[(epoch, seconds, test accuracy %)] of resnet9_torch.py's log."""
    return [(int(m[1]), float(m[3]), float(m[2]))
            for m in re.finditer(r"epoch (\d+)/\d+: .*test accuracy ([\d.]+)%, ([\d.]+) s", log)]


def our_epochs(run_folder):
    """[(epoch, seconds, validation accuracy %)] of our run's metrics.csv."""
    path = run_folder / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [(int(r["epoch"]), float(r["seconds"]), 100 * float(r["val_acc"]) if r["val_acc"] else float("nan"))
                for r in csv.DictReader(f)]


def final_accuracy(log):
    match = re.findall(r"test accuracy: ([\d.]+%) \((\d+/\d+)\)", log)
    return f"{match[-1][0]} ({match[-1][1]})" if match else "not reached"


def epoch_summary(epochs):
    """(epochs done, first epoch s, median of the later epochs s, total s), or None for no epoch."""
    if not epochs:
        return None
    seconds = [s for _, s, _ in epochs]
    later = seconds[1:] or seconds
    return len(epochs), seconds[0], statistics.median(later), sum(seconds)


# ---------------------------------------------------------------------------------------------- the report
def report(out, device, quick):
    stages = read_stages(out)
    lines = [f"# Device check on {device}{' (--quick)' if quick else ''}", "",
             "Written by `benchmarks/device_check.sh`; the raw output of each stage is in its `STAGE.log` here.", "",
             "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {what} | {value} |" for what, value in machine(device)]
    lines += ["", "## Stages", "", "| stage | what | status | seconds | limit |", "|---|---|---|---|---|"]
    for name, stage in stages.items():
        status = stage["status"] + (f" (exit {stage['rc']})" if stage["status"] == "fail" else "")
        skipped = bench_table(log_of(out, name))[0] if name.startswith("bench") else ""
        note = stage["note"] or skipped  # a bench that found nothing to compare says so
        status += f": {note}" if note else ""
        lines.append(f"| {name} | {STAGES.get(name, '')} | {status} | {stage['seconds']} | {stage['limit']} |")

    if "check" in stages:
        summary, failed = check_figures(log_of(out, "check"))
        lines += ["", "## 1. `python -m minitorch_cifar check`", "", summary or "no summary line (see check.log)"]
        lines += _block(failed, "failed checks")
    if "tests" in stages:
        summary, failed = test_figures(log_of(out, "tests"))
        lines += ["", "## 2. The CUDA cases of the test suite", "", summary or "no summary line (see tests.log)"]
        lines += _block(failed, "failed tests")
    for name, title in (("bench", "3a. A training step against PyTorch, TF32 off"),
                        ("bench_tf32", "3b. A training step against PyTorch, TF32 on in both")):
        if name in stages:
            skipped, table = bench_table(log_of(out, name))
            lines += ["", f"## {title}", ""]
            lines += [skipped] if skipped else _block(table) if table else ["no table (see the log)"]
    if "resnet9" in stages or "resnet9_torch" in stages:
        lines += _resnet9(out, stages)
    lines += ["", "## Files", ""] + [f"- `{p.name}`" for p in sorted(out.iterdir()) if p.name != "report.md"]
    text = "\n".join(lines) + "\n"
    partial = out / "report.md.partial"
    partial.write_text(text)
    partial.replace(out / "report.md")
    return text


def _block(lines, title=None):
    if not lines:
        return []
    return (["", f"{title}:"] if title else []) + ["", "```"] + list(lines) + ["```"]


def _resnet9(out, stages):
    lines = ["", "## 4. The DAWNBench ResNet-9 recipe (examples/08_resnet9.py)", "",
             "Time per epoch includes the pass over the test images that ends every epoch, in both frameworks.", "",
             "| framework | epochs done | first epoch s | median later epoch s | total s | final test accuracy |",
             "|---|---|---|---|---|---|"]
    runs = {"minitorch_cifar": (our_epochs(out / "resnet9"), log_of(out, "resnet9")),
            "PyTorch eager": (torch_epochs(log_of(out, "resnet9_torch")), log_of(out, "resnet9_torch"))}
    medians = {}
    for framework, (epochs, log) in runs.items():
        summary = epoch_summary(epochs)
        if summary is None:
            lines.append(f"| {framework} | 0 | | | | {final_accuracy(log)} |")
            continue
        done, first, median, total = summary
        medians[framework] = median
        lines.append(f"| {framework} | {done} | {first:.2f} | {median:.2f} | {total:.1f} | {final_accuracy(log)} |")
    if len(medians) == 2:
        lines += ["", f"Ratio of the median epochs, ours / PyTorch: "
                      f"{medians['minitorch_cifar'] / medians['PyTorch eager']:.2f}"]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    report(args.out, args.device, args.quick)
    print(f"wrote {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
