"""Per-op Python overhead against PyTorch CPU: small ops, where the cost is the framework's, not the arithmetic's.

Each row runs the same work in minitorch_cifar and in PyTorch, in one process, written once for both (the
workloads take the framework's namespace, ``mt`` or ``torch``): a chain of 4x8 additions, multiplications
and ReLUs, under no_grad and with a graph and its backward; a small Linear layer's forward, and forward with
backward; making a 4x8 tensor from an array and a zero-filled one; entering and leaving no_grad; and the
training step of lenet and mlp_final (as in bench_models.py) at batch 4 and 128. Printed: ops per second of
each (steps per second for the training steps) and the ratio of the times, ours / PyTorch (below 1.0: we
are faster). Each figure is the best of ``--rounds`` timings (see common.best_of).

    python benchmarks/bench_overhead.py [--threads 2] [--rounds 15] [--rows chain linear ...]
"""
import argparse
import os

import numpy as np
import torch

import minitorch_cifar as mt
from bench_models import Pair
from common import best_of, set_threads

CHAIN = 10  # (x + b) * c, relu: three ops per link
REPEAT = 100  # units of small work per timed call, so the timing loop's own cost stays negligible


def _small(lib, shape, requires_grad=False, low=0.5, high=0.9, seed=0):
    values = np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)
    return lib.tensor(values, requires_grad=requires_grad)


def chain(lib, graph):
    """3 x CHAIN elementwise ops on 4x8 tensors; with ``graph``, recorded and followed by sum and backward."""
    x, b, c = _small(lib, (4, 8), requires_grad=graph), _small(lib, (4, 8), seed=1), _small(lib, (4, 8), seed=2)

    def links():
        y = x
        for _ in range(CHAIN):
            y = ((y + b) * c).relu()
        return y

    def run():
        if graph:
            x.grad = None
            links().sum().backward()
        else:
            with lib.no_grad():
                links()
    return run


def linear(lib, backward):
    """One Linear(84, 10) on a batch of 4 (LeNet's last layer at the example's batch), REPEAT times."""
    lib.manual_seed(0)
    layer, x = lib.nn.Linear(84, 10), _small(lib, (4, 84))

    def run():
        for _ in range(REPEAT):
            out = layer(x)
            if backward:
                layer.weight.grad = layer.bias.grad = None
                out.sum().backward()
    return run


def from_array(lib):
    values = np.ones((4, 8), np.float32)

    def run():
        for _ in range(REPEAT):
            lib.tensor(values)
    return run


def zeros(lib):
    def run():
        for _ in range(REPEAT):
            lib.zeros(4, 8)
    return run


def no_grad(lib):
    def run():
        for _ in range(REPEAT):
            with lib.no_grad():
                pass
    return run


# name: (make(lib) -> a callable, units of work per call); a unit is one op, except where the name says
MICRO = {
    "chain 4x8 add/mul/relu, no_grad": (lambda lib: chain(lib, graph=False), 3 * CHAIN),
    "chain 4x8 add/mul/relu, graph+backward": (lambda lib: chain(lib, graph=True), 3 * CHAIN),
    "Linear(84,10) batch 4, forward": (lambda lib: linear(lib, backward=False), REPEAT),
    "Linear(84,10) batch 4, fwd+sum+backward": (lambda lib: linear(lib, backward=True), REPEAT),
    "tensor(4x8 array)": (from_array, REPEAT),
    "zeros(4, 8)": (zeros, REPEAT),
    "no_grad() enter+exit": (no_grad, REPEAT),
}
STEPS = [("lenet", 4), ("lenet", 128), ("mlp_final", 4), ("mlp_final", 128)]


def rows(selected):
    """(name, units per call, ours, PyTorch's) of each row whose name contains one of the texts ``selected``."""
    def wanted(name):
        return any(text.lower() in name.lower() for text in selected)

    for name, (make, units) in MICRO.items():
        if wanted(name):
            yield name, units, make(mt), make(torch)
    for model, batch in STEPS:
        name = f"{model} training step, batch {batch}"
        if wanted(name):
            pair = Pair(model, "cpu", batch=batch)
            yield name, 1, pair.step_ours, pair.step_theirs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=15, help="timings per row and framework; the best counts")
    parser.add_argument("--rows", nargs="+", default=[""], metavar="TEXT",
                        help="only the rows whose name contains one of these, in any case (e.g. chain linear lenet)")
    args = parser.parse_args()
    print(set_threads(args.threads) + f"; load average {os.getloadavg()[0]:.2f}")
    selected = list(rows(args.rows))
    steps = [step for _, _, ours, theirs in selected for step in (ours, theirs)]
    times = best_of(steps, args.rounds)
    print(f"\n{'':42} {'ours op/s':>12} {'PyTorch op/s':>13} {'ratio':>6}")
    for i, (name, units, _, _) in enumerate(selected):
        ours, theirs = times[2 * i], times[2 * i + 1]
        print(f"{name:42} {units / ours * 1e3:12,.0f} {units / theirs * 1e3:13,.0f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
