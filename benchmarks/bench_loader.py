"""The DataLoader's cost per CIFAR-10 epoch, set against a CNN's training epoch and a PyTorch data pipeline.

One epoch is 50,000 synthetic uint8 images (3 x 32 x 32) in batches of 128 (391 batches), shuffled, with the
standard augmentation: random crop 32 with 4 pixels of zero padding, horizontal flip, normalize. Printed:

- seconds per epoch of our loader, with the augmentation and without it (gather and scale only), and
  with Cutout(8) added;
- the same epoch with PyTorch's usual torchvision-free pipeline: a Dataset whose __getitem__ pads, crops,
  flips and normalizes one image with torch ops, fed through torch.utils.data.DataLoader (num_workers=0);
- a CNN epoch estimate: 391 times the training step (forward, backward, SGD update) of a small CNN
  (conv 3-32, pool, conv 32-64, pool, linear; batch 128) in our framework and in PyTorch, and the loader's
  epoch as a fraction of it.

    python benchmarks/bench_loader.py [--threads 2] [--images 50000] [--repeat 3]
"""
import argparse
import os

import numpy as np
import torch

import minitorch_cifar as mt
from minitorch_cifar import nn
from minitorch_cifar.data import DataLoader, TensorDataset, transforms as T
from common import best_of, set_threads

BATCH = 128


def seconds_per_epoch(loader, repeat):
    """The best of ``repeat`` full passes over ``loader``."""
    def one_pass():
        for _batch in loader:
            pass

    return best_of([one_pass], rounds=repeat, inner=1, warmup=0)[0] / 1e3


class TorchAugmentedDataset(torch.utils.data.Dataset):
    """What one writes in PyTorch without torchvision: pad, crop, flip and normalize one image at a time."""

    def __init__(self, images, labels):
        self.images, self.labels = torch.from_numpy(images), torch.from_numpy(labels)
        self.mean = torch.tensor(T.CIFAR10_MEAN).view(3, 1, 1)
        self.std = torch.tensor(T.CIFAR10_STD).view(3, 1, 1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = torch.nn.functional.pad(self.images[i].float().div(255), [4, 4, 4, 4])
        top, left = torch.randint(0, 9, (2,)).tolist()
        image = image[:, top:top + 32, left:left + 32]
        if torch.rand(1).item() < 0.5:
            image = image.flip(-1)
        return (image - self.mean) / self.std, self.labels[i]


def small_cnn(layers):
    """conv(3, 32) - ReLU - maxpool - conv(32, 64) - ReLU - maxpool - linear(64 * 8 * 8, 10), in ``layers``."""
    return layers.Sequential(layers.Conv2d(3, 32, 3, padding=1), layers.ReLU(), layers.MaxPool2d(2),
                             layers.Conv2d(32, 64, 3, padding=1), layers.ReLU(), layers.MaxPool2d(2),
                             layers.Flatten(), layers.Linear(64 * 8 * 8, 10))


def our_cnn_step_seconds():
    model = small_cnn(nn)
    x, y = next(iter(DataLoader(TensorDataset(*synthetic(BATCH)), BATCH, transform=T.ToFloat())))

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with mt.no_grad():
            for p in model.parameters():
                p.array -= np.float32(0.01) * p.grad.array
                p.grad = None

    return best_of([step], rounds=10, inner=1)[0] / 1e3


def torch_cnn_step_seconds():
    model = small_cnn(torch.nn)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(BATCH, 3, 32, 32), torch.randint(0, 10, (BATCH,))

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return best_of([step], rounds=10, inner=1)[0] / 1e3


def synthetic(n):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(set_threads(args.threads))
    torch.manual_seed(0)
    images, labels = synthetic(args.images)
    dataset = TensorDataset(images, labels)
    standard = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)]
    batches = -(-args.images // BATCH)
    print(f"{args.images} images, batch {BATCH} ({batches} batches)")

    loaders = {
        "ours, no augmentation": DataLoader(dataset, BATCH, shuffle=True, seed=0, transform=T.ToFloat()),
        "ours, crop+flip+normalize": DataLoader(dataset, BATCH, shuffle=True, seed=0,
                                                transform=T.Compose(standard)),
        "ours, crop+flip+normalize+cutout": DataLoader(dataset, BATCH, shuffle=True, seed=0,
                                                       transform=T.Compose(standard + [T.Cutout(8)])),
        "torch, per-image Dataset": torch.utils.data.DataLoader(TorchAugmentedDataset(images, labels),
                                                               batch_size=BATCH, shuffle=True),
    }
    epoch = {name: seconds_per_epoch(loader, args.repeat) for name, loader in loaders.items()}
    print(f"\n{'data pipeline (one epoch)':<36}{'s/epoch':>9}{'ms/batch':>10}")
    for name, seconds in epoch.items():
        print(f"{name:<36}{seconds:>9.3f}{seconds / batches * 1e3:>10.2f}")
    ours = epoch["ours, crop+flip+normalize"]
    print(f"torch per-image pipeline / ours: {epoch['torch, per-image Dataset'] / ours:.1f}x")

    print(f"\n{'small CNN training epoch estimate':<36}{'ms/step':>9}{'s/epoch':>10}{'loader share':>14}")
    for name, seconds in [("ours", our_cnn_step_seconds()), ("torch", torch_cnn_step_seconds())]:
        cnn_epoch = seconds * batches
        print(f"{name:<36}{seconds * 1e3:>9.1f}{cnn_epoch:>10.1f}{ours / (cnn_epoch + ours):>13.2%}")


if __name__ == "__main__":
    main()
