"""Time the pooling, BatchNorm and Dropout2d layers against PyTorch CPU in one process.

Each case is one layer's forward + backward (input gradient and parameter gradients) at batch 128,
float32, on the activation shapes of the cnn3 and resnet10 models, in NCHW and in channels-last
memory. Both frameworks run with the same thread count. Printed: milliseconds per call (the best of
--repeat rounds), ours and PyTorch's, and the ratio ours / PyTorch (below 1.0: we are faster), then
per-model totals.

    python benchmarks/bench_layers.py [--threads 2] [--layout nchw|nhwc|both] [--repeat 15]

The layer's input is made by a pass-through op that drops the gradient it receives, in both
frameworks (torch.autograd.grad on PyTorch's side), so that neither run pays for storing an input
.grad that a real network would pass on to the previous layer.
"""
import argparse
import os

import numpy as np
import torch

import minitorch_cifar as mt
from minitorch_cifar import autograd, nn
from common import best_of, set_threads

# name: (our layer, PyTorch's layer, input shape (N, C, H, W))
CASES = {
    "bn32@32x32": (lambda: nn.BatchNorm2d(32), lambda: torch.nn.BatchNorm2d(32), (128, 32, 32, 32)),
    "bn64@32x32": (lambda: nn.BatchNorm2d(64), lambda: torch.nn.BatchNorm2d(64), (128, 64, 32, 32)),
    "bn64@16x16": (lambda: nn.BatchNorm2d(64), lambda: torch.nn.BatchNorm2d(64), (128, 64, 16, 16)),
    "bn128@8x8": (lambda: nn.BatchNorm2d(128), lambda: torch.nn.BatchNorm2d(128), (128, 128, 8, 8)),
    "bn256@4x4": (lambda: nn.BatchNorm2d(256), lambda: torch.nn.BatchNorm2d(256), (128, 256, 4, 4)),
    "bn512@2x2": (lambda: nn.BatchNorm2d(512), lambda: torch.nn.BatchNorm2d(512), (128, 512, 2, 2)),
    "maxpool2@32x32x32": (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (128, 32, 32, 32)),
    "maxpool2@64x16x16": (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (128, 64, 16, 16)),
    "maxpool2@128x8x8": (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (128, 128, 8, 8)),
    "maxpool3s2p1@64x32x32": (lambda: nn.MaxPool2d(3, 2, 1), lambda: torch.nn.MaxPool2d(3, 2, 1), (128, 64, 32, 32)),
    "avgpool(1)@512x2x2": (lambda: nn.AdaptiveAvgPool2d(1), lambda: torch.nn.AdaptiveAvgPool2d(1), (128, 512, 2, 2)),
    "dropout2d@64x16x16": (lambda: nn.Dropout2d(0.2), lambda: torch.nn.Dropout2d(0.2), (128, 64, 16, 16)),
}

# How many times each model runs each case in one training step.
MODELS = {
    "cnn3": {"bn32@32x32": 2, "maxpool2@32x32x32": 1, "bn64@16x16": 2, "maxpool2@64x16x16": 1, "bn128@8x8": 1,
             "maxpool2@128x8x8": 1},
    "resnet10": {"bn64@32x32": 1, "maxpool3s2p1@64x32x32": 1, "bn64@16x16": 2, "bn128@8x8": 3, "bn256@4x4": 3,
                 "bn512@2x2": 3, "avgpool(1)@512x2x2": 1},
}


class _Upstream(mt.Function):
    """Stands for the layer before: passes its input on, and drops the gradient it gets back."""

    def forward(self, a):
        return a

    def backward(self, grad):
        return None



def _in_layout(array, channels_last):
    """The array as is, or as an NCHW-shaped view of NHWC memory."""
    if not channels_last or array.ndim != 4:
        return array
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def make_steps(make_ours, make_theirs, shape, channels_last):
    """One training pass (forward, backward) of our layer and of PyTorch's, on the same data."""
    rng = np.random.default_rng(0)
    ours, theirs = make_ours(), make_theirs()
    our_x = mt.Tensor(_in_layout(rng.standard_normal(shape, dtype=np.float32), channels_last), requires_grad=True)
    with mt.no_grad():
        out_shape = ours(our_x).shape
    upstream = _in_layout(rng.standard_normal(out_shape, dtype=np.float32), channels_last)

    def our_step():
        out = ours(_Upstream.apply(our_x))
        for p in ours.parameters():
            p.grad = None
        autograd.backward(out, upstream)

    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    as_torch = lambda a: torch.from_numpy(np.ascontiguousarray(a)).contiguous(memory_format=memory_format)  # noqa: E731
    their_x, their_upstream = as_torch(our_x.array).requires_grad_(), as_torch(upstream)

    def their_step():
        out = theirs(their_x)
        torch.autograd.grad(out, [their_x] + list(theirs.parameters()), their_upstream)

    return our_step, their_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--layout", choices=["nchw", "nhwc", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=15, help="rounds; each layer's figure is its best")
    args = parser.parse_args()
    print(set_threads(args.threads))
    layouts = ["nchw", "nhwc"] if args.layout == "both" else [args.layout]
    for layout in layouts:
        steps = [make_steps(*case, layout == "nhwc") for case in CASES.values()]
        times = best_of([step for pair in steps for step in pair], args.repeat)
        results = {name: times[2 * i:2 * i + 2] for i, name in enumerate(CASES)}
        print(f"\n{layout.upper()}  (forward + backward, batch 128, float32; ms)")
        print(f"{'layer':<24}{'ours':>9}{'torch':>9}{'ratio':>8}")
        for name, (ours_ms, theirs_ms) in results.items():
            print(f"{name:<24}{ours_ms:>9.2f}{theirs_ms:>9.2f}{ours_ms / theirs_ms:>8.2f}")
        for model, counts in MODELS.items():
            ours_ms = sum(results[name][0] * n for name, n in counts.items())
            theirs_ms = sum(results[name][1] * n for name, n in counts.items())
            print(f"{model + ' total':<24}{ours_ms:>9.2f}{theirs_ms:>9.2f}{ours_ms / theirs_ms:>8.2f}")


if __name__ == "__main__":
    main()
