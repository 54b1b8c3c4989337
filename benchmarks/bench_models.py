"""Time one training step of the CIFAR-10 models in minitorch_cifar and in PyTorch, in one process.

A step is forward, cross-entropy, backward and an SGD momentum update, at batch 128 in float32, on
the same weights (copied from PyTorch's model through state_dict) and the same random batch. Both
frameworks use the same number of threads. The steps of the two alternate, after warm-up steps, --steps of
each or, for a fast model, as many as last about --seconds, and the median of each is printed with the ratio
ours / PyTorch (below 1.0: we are faster), the achieved GFLOP/s (a step counted as 3x the forward's multiply-adds
x 2) beside the machine's SGEMM GFLOP/s, and, with --memory, each framework's peak memory of a step (see
peak_memory). On a GPU both run in float32 with TF32 off (``--tf32``: on in both, where our side has the switch)
and PyTorch with cuDNN's autotuner.

    python benchmarks/bench_models.py [--models cnn2 cnn3 alexnet resnet10] [--steps 10] [--seconds 1] [--threads 2]
                                      [--breakdown [MODEL]] [--memory] [--device cuda [--tf32]] [--json FILE]
"""
import argparse
import collections
import gc
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import threadpoolctl
import torch

import minitorch_cifar as mt
from minitorch_cifar import autograd, models
from minitorch_cifar import nn as our_nn
from minitorch_cifar.ops import conv as conv_op
import machine
from common import SETTLE_S, set_gpu_float32, set_threads
from cpu_report import write_atomically

BATCH, LR, MOMENTUM = 128, 0.01, 0.9


# ----------------------------------------------------------------------------- one training step
class Pair:
    """The same model, weights and batch in both frameworks, and a training step of each."""

    def __init__(self, name, device, batch=BATCH, seed=0):
        torch.manual_seed(seed)
        self.theirs = models.get_model(name, nn=torch.nn).to(device)
        self.ours = models.get_model(name)
        self.ours.load_state_dict({k: v.cpu() for k, v in self.theirs.state_dict().items()})
        self.ours.to(device)
        rng = np.random.default_rng(seed)
        images = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        labels = rng.integers(0, 10, batch)
        self.x, self.y = mt.tensor(images, device=device), mt.tensor(labels, device=device)
        self.tx, self.ty = torch.tensor(images, device=device), torch.tensor(labels, device=device)
        self.optimizer = mt.optim.SGD(self.ours.parameters(), lr=LR, momentum=MOMENTUM)
        self.torch_optimizer = torch.optim.SGD(self.theirs.parameters(), lr=LR, momentum=MOMENTUM)
        self.device = device

    def step_ours(self):
        self.optimizer.zero_grad()
        loss = our_nn.functional.cross_entropy(self.ours(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        self.synchronize()
        return loss

    def step_theirs(self):
        self.torch_optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.theirs(self.tx), self.ty)
        loss.backward()
        self.torch_optimizer.step()
        self.synchronize()
        return loss

    def synchronize(self):
        """Wait for both frameworks' queued GPU work (nothing to wait for on the CPU)."""
        if self.device != "cpu":
            mt.backend.cupy().cuda.Device().synchronize()
            torch.cuda.synchronize()


def time_pair(pair, steps, warmup, seconds=0.0):
    """Per-step seconds, ours and PyTorch's (lists), their steps alternating, each after a short pause so that
    neither framework's idle threads are still busy when the other's step starts. At least ``steps`` of each, and
    for a model whose step is short, as many as last about ``seconds``: the median of 10 LeNet steps (70 ms) moved
    by 20-40% between runs on a shared 2-core machine."""
    ours, theirs = [], []

    def alternate(count):
        for _ in range(count):
            for step, times in ((pair.step_ours, ours), (pair.step_theirs, theirs)):
                time.sleep(SETTLE_S)
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)

    alternate(max(warmup, 1))
    longest = max(ours[-1], theirs[-1])
    ours.clear()
    theirs.clear()
    alternate(max(steps, math.ceil(seconds / longest)))
    return ours, theirs


# ----------------------------------------------------------------------------- work and the machine's ceiling
def forward_flops(model, batch, device="cpu"):
    """2 x the multiply-adds of the convolutions and linear layers in one forward pass of a batch."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, our_nn.Conv2d):
            kh, kw = module.kernel_size
            total += 2 * output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, our_nn.Linear):
            total += 2 * output.numel() * module.in_features

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (our_nn.Conv2d, our_nn.Linear))]
    with mt.no_grad():
        model(mt.zeros(batch, 3, 32, 32, device=device))
    for h in handles:
        h.remove()
    return total


def sgemm_gflops(threads, device="cpu", size=2048, repeat=5):
    """The best float32 matrix-product rate of square matrices: NumPy's BLAS with ``threads`` threads
    (minitorch_cifar itself keeps BLAS single-threaded and runs its own threads), or CuPy on a GPU (in TF32 where
    the switch allows it)."""
    if device != "cpu":
        cp = mt.backend.cupy()
        a = cp.asarray(np.random.default_rng(0).standard_normal((size, size)), dtype=cp.float32)
        # through the framework's product, which sets CuPy's TF32 mode from the switch (--tf32) before it multiplies
        product = lambda: (mt.backend.cuda_matmul(a, a), cp.cuda.Device().synchronize())  # noqa: E731
        product()
        return 2 * size ** 3 / min(_timed(product) for _ in range(repeat)) / 1e9
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    with threadpoolctl.threadpool_limits(threads, user_api="blas"):
        a @ a
        best = min(_timed(lambda: a @ a) for _ in range(repeat))
    return 2 * size ** 3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- peak memory
def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(framework, name, steps, threads):
    """Run in a fresh process: RSS once the model, its optimizer state (momentum buffers) and the batch exist and
    the kernels are loaded (a step at batch 2), then the peak RSS over training steps at batch 128. Prints the
    growth in MiB."""
    set_threads(threads)
    small = Pair(name, "cpu", batch=2)
    (small.step_ours if framework == "ours" else small.step_theirs)()
    del small
    pair = Pair(name, "cpu")
    model, optimizer = (pair.ours, pair.optimizer) if framework == "ours" else (pair.theirs, pair.torch_optimizer)
    for p in model.parameters():  # a step with zero gradients creates the momentum buffers and changes nothing
        p.grad = (mt.zeros_like if framework == "ours" else torch.zeros_like)(p)
    optimizer.step()
    optimizer.zero_grad()
    gc.collect()
    baseline = _rss_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    step = pair.step_ours if framework == "ours" else pair.step_theirs
    for _ in range(steps):
        step()
    print((_rss_kib("VmHWM") - baseline) / 1024)


def peak_memory(name, threads, steps=3):
    """Each framework's peak RSS growth over a training step, measured in a subprocess of its own (so that
    neither framework's allocator caches count against the other). Both keep the same model, optimizer
    state and batch before the baseline is taken; the growth is what the step itself allocates."""
    result = {}
    for framework in ("ours", "theirs"):
        out = subprocess.run([sys.executable, __file__, "--memory-child", framework, name, str(steps), str(threads)],
                             check=True, capture_output=True, text=True)
        result[framework] = float(out.stdout.strip().splitlines()[-1])
    return result["ours"], result["theirs"]


# ----------------------------------------------------------------------------- per-layer breakdown
class OpTimer:
    """Seconds spent in each autograd Function's forward and backward (ours), by op name, and in each
    convolution layer (``conv``, keyed by (layer, phase)). ``sync`` waits for the GPU before and after each timed
    call, so that an op's time is its kernels' and not only their launch."""

    def __init__(self, sync=lambda: None):
        self.forward, self.backward = collections.defaultdict(float), collections.defaultdict(float)
        self.conv = collections.defaultdict(float)
        self.patched = []
        self.sync = sync

    def __enter__(self):
        for cls in _subclasses(autograd.Function):
            for phase, table in (("forward", self.forward), ("backward", self.backward)):
                if phase in vars(cls):
                    original = vars(cls)[phase]
                    timed = _timing(original, table, cls.__name__, self.sync)
                    setattr(cls, phase,
                            _conv_timing(timed, self.conv, phase, self.sync) if cls is conv_op.Conv2d else timed)
                    self.patched.append((cls, phase, original))
        return self

    def __exit__(self, *exc):
        for cls, phase, original in self.patched:
            setattr(cls, phase, original)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _timing(fn, table, name, sync):
    def timed(*args, **kwargs):
        sync()
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sync()
            table[name] += time.perf_counter() - start
    return timed


def _conv_timing(fn, table, phase, sync):
    """Also time each convolution layer, labelled by its shapes and method (set in forward, read in backward)."""
    def timed(self, *args, **kwargs):
        label = getattr(self, "bench_label", None)
        sync()
        start = time.perf_counter()
        result = fn(self, *args, **kwargs)
        if phase == "forward":
            (_, h, w, c), (c_out, _, kh, kw) = self.x.shape, self.weight.shape
            label = self.bench_label = (f"{kh}x{kw} {c}->{c_out} {h}x{w}->{result.shape[2]}x{result.shape[3]} "
                                        f"{self.algorithm}")
        table[(label, phase)] += time.perf_counter() - start
        return result
    return timed


# PyTorch's profiler names -> our op names, for the side-by-side table
TORCH_OPS = {
    "aten::mkldnn_convolution": ("Conv2d", "forward"), "aten::convolution_backward": ("Conv2d", "backward"),
    "aten::cudnn_convolution": ("Conv2d", "forward"),
    "aten::native_batch_norm": ("BatchNorm", "forward"), "aten::native_batch_norm_backward": ("BatchNorm", "backward"),
    "aten::cudnn_batch_norm": ("BatchNorm", "forward"), "aten::cudnn_batch_norm_backward": ("BatchNorm", "backward"),
    "aten::max_pool2d_with_indices": ("MaxPool", "forward"),
    "aten::max_pool2d_with_indices_backward": ("MaxPool", "backward"),
    "aten::clamp_min": ("ReLU", "forward"), "aten::relu": ("ReLU", "forward"),
    "aten::threshold_backward": ("ReLU", "backward"),
    "aten::addmm": ("Linear", "forward"), "aten::mm": ("Linear", "backward"),
    "aten::_adaptive_avg_pool2d": ("AvgPool", "forward"), "aten::mean": ("AvgPool", "forward"),
    "aten::_adaptive_avg_pool2d_backward": ("AvgPool", "backward"),
    "aten::native_dropout": ("Dropout", "forward"), "aten::native_dropout_backward": ("Dropout", "backward"),
    "aten::add": ("Add", "forward"), "aten::_log_softmax": ("LogLikelihood", "forward"),
    "aten::_log_softmax_backward_data": ("LogLikelihood", "backward"),
}


def breakdown(pair, steps):
    """Print milliseconds per step in each op's forward and backward, ours beside PyTorch's (the profiler's self
    time on the CPU; on a GPU, the time of the kernels each op launched)."""
    with OpTimer(pair.synchronize) as timer:
        for _ in range(steps):
            pair.step_ours()
    theirs = collections.defaultdict(float)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if pair.device != "cpu":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(steps):
            pair.step_theirs()
    for event in prof.key_averages():
        if event.key in TORCH_OPS:
            seconds = event.self_cpu_time_total if pair.device == "cpu" else _device_time(event)
            theirs[TORCH_OPS[event.key]] += seconds / 1e6
    names = sorted(set(timer.forward) | set(timer.backward) | {k for k, _ in theirs},
                   key=lambda k: -(timer.forward[k] + timer.backward[k]))
    print("\n  per op, ms per step    ours fwd   bwd   | PyTorch fwd   bwd")
    for name in names:
        f, b = timer.forward[name] / steps * 1e3, timer.backward[name] / steps * 1e3
        tf, tb = theirs[(name, "forward")] / steps * 1e3, theirs[(name, "backward")] / steps * 1e3
        print(f"  {name:<22} {f:8.1f} {b:7.1f}   | {tf:8.1f} {tb:7.1f}")
    print(f"  {'total':<22} {sum(timer.forward.values()) / steps * 1e3:8.1f} "
          f"{sum(timer.backward.values()) / steps * 1e3:7.1f}   (ours: time inside ops; the rest is Python)")
    print("\n  our convolutions, ms per step (a layer run twice a step counts twice)      fwd     bwd")
    layers = {label for label, _ in timer.conv}
    for label in sorted(layers, key=lambda k: -timer.conv[(k, "forward")] - timer.conv[(k, "backward")]):
        print(f"  {label:<70} {timer.conv[(label, 'forward')] / steps * 1e3:7.1f} "
              f"{timer.conv[(label, 'backward')] / steps * 1e3:7.1f}")


def _device_time(event):
    """Microseconds of GPU kernels launched under a profiler event (the attribute's name changed in PyTorch 2.4)."""
    return getattr(event, "device_time_total", None) or getattr(event, "cuda_time_total", 0)


# ----------------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["cnn2", "cnn3", "alexnet", "resnet10"],
                        choices=models.list_models())
    parser.add_argument("--steps", type=int, default=10, help="timed steps per framework and model, at least")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="a fast model takes more steps, until each framework's last about this long (0: --steps)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to compare with PyTorch on the GPU")
    parser.add_argument("--tf32", action="store_true", help="on the GPU: TF32 matrix products in both frameworks "
                                                             "(default off in both)")
    parser.add_argument("--breakdown", nargs="?", const="slowest", metavar="MODEL",
                        help="per-op forward/backward times of MODEL (default: the one with the highest ratio)")
    parser.add_argument("--memory", action="store_true", help="peak memory of a step, each framework in a subprocess")
    parser.add_argument("--json", metavar="FILE", help="also write the machine, the settings and the rows to FILE")
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        framework, name, steps, threads = args.memory_child
        return memory_child(framework, name, int(steps), int(threads))
    set_threads(args.threads)
    device = mt.backend.parse_device(args.device)
    settings = ""
    if device != "cpu":
        try:
            settings = f"; {set_gpu_float32(args.tf32)}"
        except RuntimeError as e:
            print(f"TF32 rows skipped: {e}")
            return
    elif args.tf32:
        print("TF32 rows skipped: TF32 is a GPU setting")
        return
    ceiling, load, described = sgemm_gflops(args.threads, device), os.getloadavg()[0], machine.describe()
    print("\n".join(described))
    print(f"minitorch_cifar {mt.__version__} vs torch {torch.__version__} on {device}, {args.threads} threads, "
          f"batch {BATCH}, float32{settings}; {'NumPy' if device == 'cpu' else 'CuPy'} SGEMM {ceiling:.0f} "
          f"GFLOP/s; load average {load:.2f}")
    print("median (best) ms per training step of --steps or more (--seconds); ratio = ours / PyTorch of the medians; "
          "GF/s of the medians")
    header = f"{'model':<10} {'ours ms':>14} {'torch ms':>14} {'ratio':>6} {'ours GF/s':>10} {'torch GF/s':>11}"
    print(header + ("   peak MiB ours / torch" if args.memory else ""))
    ratios, pairs, rows = {}, {}, []
    for name in args.models:
        pair = pairs[name] = Pair(name, device)
        ours_times, theirs_times = time_pair(pair, args.steps, args.warmup, args.seconds)
        ours, theirs = float(np.median(ours_times)), float(np.median(theirs_times))
        ratios[name] = ours / theirs
        work = 3 * forward_flops(pair.ours, BATCH, device) / 1e9
        row = dict(model=name, ours_ms=ours * 1e3, ours_best_ms=min(ours_times) * 1e3, torch_ms=theirs * 1e3,
                   torch_best_ms=min(theirs_times) * 1e3, ratio=ours / theirs)
        line = ("{model:<10} {ours_ms:7.1f} ({ours_best_ms:5.1f}) {torch_ms:7.1f} ({torch_best_ms:5.1f}) "
                "{ratio:6.2f}".format(**row) + f" {work / ours:10.0f} {work / theirs:11.0f}")
        if args.memory and device == "cpu":
            row["ours_mib"], row["torch_mib"] = peak_memory(name, args.threads)
            line += "   {ours_mib:8.0f} / {torch_mib:.0f}".format(**row)
        rows.append(row)
        print(line, flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        write_atomically(Path(args.json), json.dumps(dict(
            machine=described, blas=machine.numpy_blas(), numba_layer=machine.numba_layer(), device=device,
            threads=args.threads, sgemm_gflops=ceiling, load_start=load, load_end=os.getloadavg()[0], rows=rows),
            indent=1))
    if args.breakdown:
        name = max(ratios, key=ratios.get) if args.breakdown == "slowest" else args.breakdown
        print(f"\nbreakdown of {name}:")
        breakdown(pairs.get(name) or Pair(name, device), max(3, args.steps // 2))


if __name__ == "__main__":
    main()
