"""One command that measures this CPU against PyTorch and prints its section of benchmarks/RESULTS.md.

    python benchmarks/cpu_report.py [--models cnn2 cnn3 alexnet resnet10 resnet9 lenet mlp_final] [--threads 2 1]
                                    [--coretype Haswell ...] [--steps 10] [--seconds 1] [--out FILE]

Runs ``bench_models.py --memory`` on every model once per thread count, with the BLAS kernels OpenBLAS picks for
this CPU (or those ``OPENBLAS_CORETYPE`` names, where it is set), and once more on the first thread count for each
``--coretype`` (e.g. Haswell on an AVX-512 CPU: what AVX2 kernels give), each run in a process of its own. Then
prints, and with --out writes, a markdown section: the CPU (model, family, SIMD flags, caches), the BLAS and its
kernels, PyTorch's BLAS and vector instructions, the versions and commit, the date, and one table with a group of
columns per run (ours and PyTorch's median ms per step, their ratio, each one's peak MiB of a step), each group
headed by its threads, kernels and NumPy's SGEMM rate. Every figure thus names the machine it came from.
"""
import argparse
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ["cnn2", "cnn3", "alexnet", "resnet10", "resnet9", "lenet", "mlp_final"]


def run_setting(models, threads, coretype, passed, log):
    """bench_models.py's JSON for one setting; its printed table goes to ``log`` as it runs."""
    env = dict(os.environ, **({"OPENBLAS_CORETYPE": coretype} if coretype else {}))
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "setting.json"
        command = [sys.executable, str(HERE / "bench_models.py"), "--models", *models, "--threads", str(threads),
                   "--memory", "--json", str(result), *passed]
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        return json.loads(result.read_text())


def kernels_of(blas):
    """'SkylakeX kernels' out of machine.numpy_blas()'s 'OpenBLAS 0.3.31, SkylakeX kernels', else the whole."""
    return blas.split(", ", 1)[1].split(" (OPENBLAS_CORETYPE")[0] if ", " in blas else blas


def section(settings, date):
    """The markdown section: a heading naming the CPU and commit, the machine lines, one table of all settings."""
    first = settings[0]
    cpu_line, software_line = first["machine"]
    cpu_name = cpu_line.removeprefix("CPU: ").split(",")[0]
    commit = software_line.rsplit("commit ", 1)[-1]
    loads = [s[key] for s in settings for key in ("load_start", "load_end")]
    lines = [f"### {cpu_name}, commit {commit}, {date}", "",
             f"{cpu_line}.  ", f"{software_line}.  ",
             f"numba's threading layer: {first['numba_layer']}. Load average {min(loads):.2f}-{max(loads):.2f}. "
             "Batch 128, float32, SGD momentum 0.9; ms = median per training step, ratio = ours / PyTorch, peak MiB = "
             "growth of resident memory over a step, each framework in a process of its own.", ""]
    heads, rule = ["model"], ["---"]
    for s in settings:
        thread_word = "thread" if s["threads"] == 1 else "threads"
        heads += [f"{s['threads']} {thread_word}, {kernels_of(s['blas'])}, SGEMM {s['sgemm_gflops']:.0f} GF/s: ours",
                  "PyTorch", "ratio", "peak MiB ours / PyTorch"]
        rule += ["---:"] * 4
    lines += ["| " + " | ".join(heads) + " |", "|" + "|".join(rule) + "|"]
    for i, row in enumerate(first["rows"]):
        cells = [row["model"]]
        for s in settings:
            r = s["rows"][i]
            cells += [f"{r['ours_ms']:.1f}", f"{r['torch_ms']:.1f}", f"{r['ratio']:.2f}",
                      f"{r['ours_mib']:.0f} / {r['torch_mib']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    """``text`` in ``path``, written whole or not at all (a temporary file renamed over it)."""
    temporary = path.with_name(f"{path.name}.tmp{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--threads", nargs="+", type=int, default=[2, 1])
    parser.add_argument("--coretype", nargs="*", default=[],
                        help="OpenBLAS kernels to run once more with, on the first thread count (OPENBLAS_CORETYPE)")
    parser.add_argument("--steps", type=int, help="passed on to bench_models.py")
    parser.add_argument("--seconds", type=float, help="passed on to bench_models.py")
    parser.add_argument("--out", type=Path, help="also write the section to this file")
    args = parser.parse_args()
    missing = [name for name in ("torch", "threadpoolctl") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(f"cpu_report.py needs {' and '.join(missing)} (the comparison runs PyTorch beside us): "
                 "python -m pip install -e '.[test]'")
    passed = [arg for name in ("steps", "seconds") if getattr(args, name) is not None
              for arg in (f"--{name}", str(getattr(args, name)))]
    runs = [(threads, None) for threads in args.threads] + [(args.threads[0], kind) for kind in args.coretype]
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        settings = [run_setting(args.models, threads, kind, passed, sys.stderr) for threads, kind in runs]
    except subprocess.CalledProcessError as e:
        sys.exit(f"cpu_report.py: {' '.join(e.cmd[1:3])} ... failed (exit status {e.returncode}); its output is above")
    text = section(settings, date)
    print(text)
    if args.out:
        write_atomically(args.out, text)


if __name__ == "__main__":
    main()
