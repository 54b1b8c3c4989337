"""Time one optimizer step (SGD with momentum and weight decay, Nesterov, Adam, AdamW) against PyTorch CPU.

The parameters have the shapes of a CIFAR MLP (3072-512-512-10, 1.8M weights), of ResNet-18 for CIFAR
(11.2M weights in 62 tensors) and of 60 tiny tensors (where the per-parameter overhead shows), float32,
each with a fixed gradient. PyTorch runs its default CPU implementation (single-tensor, foreach=False);
both frameworks use the same thread count. Printed: milliseconds per step, ours and PyTorch's, and the
ratio ours / PyTorch (below 1.0: we are faster).

    python benchmarks/bench_optim.py [--threads 2] [--repeat 15]
"""
import argparse
import os

import numpy as np
import torch

import minitorch_cifar as mt
from common import best_of, set_threads


def mlp_shapes():
    return [(512, 3072), (512,), (512, 512), (512,), (10, 512), (10,)]


def resnet18_shapes():
    shapes, channels = [(64, 3, 3, 3), (64,), (64,)], 64
    for width in (64, 128, 256, 512):
        for _ in range(2):
            shapes += [(width, channels, 3, 3), (width,), (width,), (width, width, 3, 3), (width,), (width,)]
            if channels != width:
                shapes += [(width, channels, 1, 1), (width,), (width,)]
            channels = width
    return shapes + [(10, 512), (10,)]


MODELS = {"mlp": mlp_shapes(), "resnet18": resnet18_shapes(), "60 tiny": [(10, 20)] * 60}
OPTIMIZERS = {
    "SGD momentum wd": ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=5e-4)),
    "SGD nesterov wd": ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    "Adam": ("Adam", dict(lr=1e-3)),
    "AdamW": ("AdamW", dict(lr=1e-3, weight_decay=1e-2)),
}



def time_case(shapes, name, options, repeat):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    ours = [mt.nn.Parameter(mt.Tensor(v.copy())) for v in values]
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    for p, q, v in zip(ours, theirs, values):
        p.grad = mt.Tensor(v * 1e-2)
        q.grad = torch.from_numpy(v * 1e-2)
    return best_of([getattr(mt.optim, name)(ours, **options).step,
                    getattr(torch.optim, name)(theirs, foreach=False, **options).step], repeat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(set_threads(args.threads))
    print(f"{'parameters':<11}{'optimizer':<18}{'ours ms':>9}{'torch ms':>10}{'ratio':>8}")
    for model, shapes in MODELS.items():
        for label, (name, options) in OPTIMIZERS.items():
            ours_ms, theirs_ms = time_case(shapes, name, options, args.repeat)
            print(f"{model:<11}{label:<18}{ours_ms:>9.2f}{theirs_ms:>10.2f}{ours_ms / theirs_ms:>8.2f}")


if __name__ == "__main__":
    main()
