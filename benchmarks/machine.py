"""What a benchmark figure needs beside it: the CPU (model, family, SIMD flags, caches), the BLAS that NumPy and
PyTorch call and the kernels it chose, numba's threading layer, and the versions.

The same framework ranks differently against PyTorch on different CPUs: Intel's and AMD's, AVX2 and AVX-512, and
OpenBLAS picks its kernels per CPU (``OPENBLAS_CORETYPE`` overrides it). A figure without these is not comparable.
"""
import os
import platform
import re
import subprocess
from pathlib import Path

SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")  # those that change the kernels


def _cpuinfo():
    """The first CPU's fields in /proc/cpuinfo and the flags of interest it has ({} and () where there is none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return {}, ()
    fields = {}
    for line in lines:
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    present = set(fields.get("flags", "").split())
    return fields, tuple(flag for flag in SIMD_FLAGS if flag in present)


def _caches():
    """L2 and L3 sizes as lscpu gives them ('L2 2 MiB (2 instances), L3 32 MiB'), or '' without lscpu."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    sizes = re.findall(r"^(L[23]) cache:\s*(.+)$", text, re.MULTILINE)
    return ", ".join(f"{level} {size.strip()}" for level, size in sizes)


def cpu():
    """e.g. 'AMD EPYC (AuthenticAMD family 25 model 17), 2 CPUs, avx2 fma avx512f ..., L2 2 MiB (2 instances), ...'."""
    fields, flags = _cpuinfo()
    if not fields:
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    parts = [f"{fields.get('model name', '?')} ({fields.get('vendor_id', '?')} family {fields.get('cpu family', '?')} "
             f"model {fields.get('model', '?')})", f"{os.cpu_count()} CPUs", " ".join(flags) or "no AVX2"]
    caches = _caches()
    return ", ".join(parts + ([caches] if caches else []))


def numpy_blas():
    """NumPy's BLAS and the kernels it chose for this CPU, e.g. 'OpenBLAS 0.3.31.188.0, SkylakeX kernels'."""
    import numpy as np
    try:
        import threadpoolctl
    except ImportError:
        return "unknown (threadpoolctl is not installed)"
    np.ones((2, 2)) @ np.ones((2, 2))  # loads NumPy's BLAS
    loaded = [info for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    numpys = [info for info in loaded if "numpy" in info["filepath"]]  # a wheel's; SciPy may load another
    names = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}
    found = [f"{names.get(info['internal_api'], info['internal_api'])} {info['version']}"
             + (f", {info['architecture']} kernels" if info.get("architecture") else "") for info in numpys or loaded]
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return "; ".join(found or ["unknown"]) + (f" (OPENBLAS_CORETYPE={forced})" if forced else "")


def torch_cpu():
    """PyTorch's version, BLAS and the vector instructions its kernels use, e.g. '2.13.0+cpu, BLAS mkl, AVX512'."""
    import torch
    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return f"{torch.__version__}, BLAS {blas.group(1) if blas else '?'}, {torch.backends.cpu.get_cpu_capability()}"


def numba_layer():
    """numba's threading layer, once a parallel loop has started it."""
    import numba
    try:
        return numba.threading_layer()
    except ValueError:
        return "not started"


def commit():
    """The checkout's short commit, '+' when it has uncommitted changes, or 'unknown'."""
    here = str(Path(__file__).resolve().parent)
    try:
        sha = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("+" if dirty else "")) or "unknown"


def describe():
    """The lines a CPU benchmark prints first."""
    import numba
    import numpy as np
    return [f"CPU: {cpu()}",
            f"NumPy {np.__version__}: {numpy_blas()}; numba {numba.__version__}; PyTorch {torch_cpu()}; "
            f"minitorch_cifar commit {commit()}"]
