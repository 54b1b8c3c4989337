"""The DAWNBench ResNet-9 recipe of examples/08_resnet9.py in PyTorch eager, to time our run against.

The same model (the zoo's ``resnet9`` built with ``nn=torch.nn``), the same data (``load_data`` of the same
RunConfig), the same recipe read from examples/08_resnet9.py (batch 512, last batch dropped, SGD with Nesterov
momentum 0.9 and weight decay 5e-4, the piecewise-linear learning rate stepped every batch, random crops of the
reflect-padded image, flips, cutout after normalising), the augmentation's random parameters drawn by our
transforms' own ``sample`` (so both runs see the same kind of draws) and applied with torch ops on the device.
Every epoch ends with a pass over the test images, as ours does, and its time includes that pass. Float32 with
TF32 off, cuDNN's autotuner on. Prints one line per epoch and the final test accuracy.

    python benchmarks/resnet9_torch.py [--device cuda] [--epochs 24] [--quick] [--data-dir DIR]
                                       [--batch-size N] [--train-subset N] [--test-subset N]
"""
import argparse
import dataclasses
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from minitorch_cifar import models
from minitorch_cifar.data import transforms
from minitorch_cifar.experiment import NORMALIZATIONS, PiecewiseLinear, load_data
from common import set_gpu_float32

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "08_resnet9.py"


def recipe():
    """examples/08_resnet9.py's RECIPE (a RunConfig)."""
    spec = importlib.util.spec_from_file_location("resnet9_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RECIPE


class Augment:
    """Random crop (of the padded image), flip, normalise, cutout: our transforms draw the parameters on the host,
    torch applies them to the whole batch on its device."""

    def __init__(self, config, device):
        self.crop = transforms.RandomCrop(32, padding=config.crop_padding, padding_mode=config.padding_mode)
        self.flip = transforms.RandomHorizontalFlip()
        self.cutout = transforms.Cutout(config.cutout) if config.cutout else None
        mean, std = NORMALIZATIONS[config.normalize]
        self.mean = torch.tensor(mean, device=device).reshape(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).reshape(1, -1, 1, 1)
        self.device = device

    def normalize(self, images):
        return (images.float() / 255 - self.mean) / self.std

    def __call__(self, images, rng):
        shape = tuple(images.shape)
        corners = torch.as_tensor(self.crop.sample(shape, rng), device=self.device)
        flips = torch.as_tensor(self.flip.sample(shape, rng), device=self.device)
        p, side = self.crop.padding, torch.arange(32, device=self.device)
        padded = F.pad(images.float(), (p, p, p, p), mode=self.crop.padding_mode)
        rows, cols = corners[:, :1] + side, corners[:, 1:] + side  # (N, 32) each
        batch = torch.arange(len(images), device=self.device)[:, None, None]
        out = padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (N, C, 32, 32)
        out = torch.where(flips[:, None, None, None], out.flip(3), out)
        out = (out / 255 - self.mean) / self.std
        if self.cutout is not None:
            start = torch.as_tensor(self.cutout.sample(shape, rng), device=self.device) - self.cutout.size // 2
            inside = [(side >= start[:, k:k + 1]) & (side < start[:, k:k + 1] + self.cutout.size) for k in (0, 1)]
            out = out * ~(inside[0][:, None, :, None] & inside[1][:, None, None, :])
        return out


def evaluate(model, images, labels, augment, batch_size):
    """Test accuracy (correct, total) over the images in order, in eval mode."""
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=images.device)
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(augment.normalize(images[start:start + batch_size]))
            correct += (logits.argmax(1) == labels[start:start + batch_size]).sum()
    model.train()
    return int(correct), len(images)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of the recipe's")
    parser.add_argument("--quick", action="store_true", help="the recipe shrunk as examples' --quick does")
    parser.add_argument("--data-dir", help="CIFAR-10's folder (default $MINITORCH_CIFAR_DATA, else ./data)")
    for flag in ("--batch-size", "--train-subset", "--test-subset"):
        parser.add_argument(flag, type=int, help="replaces the recipe's (as the train command's flag of that name)")
    args = parser.parse_args()
    given = {key: getattr(args, key) for key in ("batch_size", "train_subset", "test_subset")
             if getattr(args, key) is not None}
    config = dataclasses.replace(recipe(), data_dir=args.data_dir, download=False, **given)
    if args.epochs is not None:
        config = dataclasses.replace(config, epochs=args.epochs,
                                     warmup_epochs=config.warmup_epochs * args.epochs / config.epochs)
    config = config.quick() if args.quick else config
    device = torch.device(args.device)
    settings = set_gpu_float32(False) if device.type == "cuda" else "float32"
    torch.manual_seed(config.seed)
    data = load_data(config)
    images = torch.as_tensor(data.train.data, device=device)
    labels = torch.as_tensor(data.train.targets, device=device)
    test_images = torch.as_tensor(data.test.data, device=device)
    test_labels = torch.as_tensor(data.test.targets, device=device)
    model = models.get_model("resnet9", nn=torch.nn).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                                weight_decay=config.weight_decay)
    steps_per_epoch = len(images) // config.batch_size  # the last, incomplete batch dropped
    shape = PiecewiseLinear([0, config.warmup_epochs, config.epochs], [0, 1, 0], steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, shape)
    augment, rng = Augment(config, device), np.random.default_rng(config.seed)
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    print(f"PyTorch {torch.__version__} eager, resnet9 on {device} ({settings}): {config.epochs} epochs of "
          f"{steps_per_epoch} batches of {config.batch_size} from {len(images):,} images, test on "
          f"{len(test_images):,}", flush=True)
    total = 0.0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        order = torch.randperm(len(images), generator=generator).to(device)
        for step in range(steps_per_epoch):
            index = order[step * config.batch_size:(step + 1) * config.batch_size]
            loss = F.cross_entropy(model(augment(images[index], rng)), labels[index],
                                   label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach()
        correct, count = evaluate(model, test_images, test_labels, augment, config.eval_batch_size)
        seconds = time.perf_counter() - started  # evaluate read its count from the device: the GPU is done
        total += seconds
        print(f"epoch {epoch}/{config.epochs}: train loss {float(loss_sum) / steps_per_epoch:.4f}, test accuracy "
              f"{correct / count:.2%}, {seconds:.2f} s", flush=True)
    print(f"trained {config.epochs} epoch(s) in {total:.1f} s")
    print(f"test accuracy: {correct / count:.2%} ({correct}/{count})")


if __name__ == "__main__":
    main()
