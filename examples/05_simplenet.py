"""A small CNN trained for one epoch on the CPU, with the training loop written out; and a look at the data.

The original (write-up 002, "从零开始：基于 PyTorch 的图像分类模型", the SimpleTorch project): first
show_dataset.py, which saves a grid of sample images and a bar chart of the number of images per class
(5,000 of each: CIFAR-10 is balanced); then SimpleNet -- Conv(3, 16, 3, p1), ReLU, MaxPool2, Conv(16, 32, 3, p1),
ReLU, MaxPool2, Linear(2048, 10): 25,578 parameters -- trained for one epoch on the CPU with SGD (learning rate
0.01, no momentum), batches of 32, images normalised to [-1, 1], printing the loss of every 100th batch. Its loss
went from 2.24 (batch 100) to about 1.5-1.8 by the end of the epoch (batch 1500: 1.81); it measured no test
accuracy.

Every other example hands the loop to the Trainer; this one spells it out, as the original did, with the
pieces (data, model, optimizer, loss) built by the same experiment layer.

    python examples/05_simplenet.py [--epochs 1] [--print-every 100] [--device cpu] [--data-dir DIR]
                                    [--out runs/05_simplenet]

What to look at: the printed losses (noisy, since each is one batch of 32, but falling from ~2.3, the loss of
a uniform guess over 10 classes: ln 10 = 2.30); samples.png and class_distribution.png (what the model is
given); batch_losses.csv and batch_losses.png (the printed losses); the test accuracy after one epoch
(a linear classifier on raw pixels gets ~40% with many epochs; this net passes it within one); final.npz.
"""
import csv
import sys
from pathlib import Path

import matplotlib.pyplot as plt

from minitorch_cifar.experiment import (Experiment, RunConfig, format_evaluation, plot_data, run_script, script_config,
                                        script_parser)
from minitorch_cifar.experiment.entry import positive_int
from minitorch_cifar.train import save_weights
from minitorch_cifar.train.checkpoint import atomic_write
from minitorch_cifar.viz import plots

RECIPE = RunConfig(model="simplenet", epochs=1, batch_size=32, optimizer="sgd", lr=0.01, normalize="half",
                   validate=False)


def main(argv=None):
    parser = script_parser(__doc__, out="runs/05_simplenet")
    parser.add_argument("--print-every", type=positive_int, default=100, help="print the loss of every N-th batch")
    args = parser.parse_args(argv)
    experiment = Experiment(script_config(RECIPE, args))
    out = Path(args.out)
    for path in plot_data(experiment.data.train, out, title="CIFAR-10 training images"):
        print(f"wrote {path}")
    print(experiment.describe(), flush=True)

    model, optimizer, loss_fn = experiment.model, experiment.optimizer, experiment.loss_fn
    loader = experiment.loaders.train
    every = min(args.print_every, len(loader))
    logged = []  # (batch, loss)
    for epoch in range(1, experiment.config.epochs + 1):
        print(f"Training epoch {epoch}...")
        model.train()
        for i, (images, labels) in enumerate(loader, start=1):
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            if i % every == 0:
                logged.append(((epoch - 1) * len(loader) + i, loss.item()))
                print(f"Batch [{i}], Loss: {logged[-1][1]:.4f}", flush=True)
    print("Training finished!")

    print(format_evaluation(experiment.test(), experiment.data.classes))
    save_weights(model, experiment.path("final"))
    with atomic_write(out / "batch_losses.csv", text=True) as file:
        csv.writer(file).writerows([("batch", "loss"), *logged])
    figure = plt.figure(figsize=(7, 4))
    axes = figure.subplots()
    axes.plot(*zip(*logged), marker="o")
    axes.set(xlabel="batch", ylabel="loss of that batch", title=f"simplenet: the loss of every {every}th batch")
    axes.grid(alpha=0.3)
    plots.save_figure(figure, out / "batch_losses.png")
    plt.close(figure)
    print(f"wrote batch_losses.csv, batch_losses.png and final.npz in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
