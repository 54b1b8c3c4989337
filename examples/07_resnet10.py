"""A ResNet, a learning-rate range test to choose its learning rate, then training without and with augmentation.

The original (write-up 001, "cifar10_resnet9", PyTorch): a torchvision-style ResNet with one BasicBlock per
stage (64, 128, 256, 512 channels; a 3x3 stem and a 3x3 max-pool; ten weight layers, which the write-up calls
"Resnet9"), images normalised to [-1, 1]:
1. A learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks"): 300 batches
   while the learning rate grows exponentially from 1e-7 to 1, recording the loss; from the loss-lr plot it
   chose 5e-3, in the region where the loss falls fastest.
2. SGD, learning rate 5e-3, momentum 0.9, weight decay ``5e-4 * BATCH_SIZE`` = 0.032 as written (the
   DAWNBench form, meant for a summed loss, used here with the mean loss: see 08_resnet9.py), batches of 64,
   cosine annealing, 24 epochs: 99% on the training images, 82% on the test images -- overfitting.
3. The same with random crops (padding 4) and horizontal flips: 91% train, 88% test.

    python examples/07_resnet10.py [--only lr_find plain augmented] [--lr 5e-3] [--epochs 24] [--device cpu]
                                   [--data-dir DIR] [--out runs/07_resnet10]

What to look at: lr_find/lr_find.png (flat at tiny rates, a steep fall, then a rise once the rate is too large,
which may or may not blow up within the 300 batches; the red mark is the steepest fall, printed beside the
write-up's pick); resnet10_runs.png (both runs overlaid: without augmentation the train accuracy runs ahead of
the test accuracy, towards ~100% over the full 24 epochs, and the test loss turns up; with it the curves stay
together, learn more slowly at first, and over the full run end higher); the train and test accuracies printed
after each run, both measured after training in eval mode (the gap is the overfitting), beside the train
accuracy that the curves draw (measured while training); each run's folder (plain/, augmented/) with
metrics.csv, curves.png, per_class.png, confusion.png, the weights.
"""
import dataclasses
import sys
from pathlib import Path

from minitorch_cifar.experiment import (Experiment, RunConfig, load_data, plot_run_folders,
                                        print_train_and_test_accuracy, run_and_report, run_script, script_config,
                                        script_parser)

BATCH_SIZE = 64
PLAIN = RunConfig(model="resnet10", epochs=24, batch_size=BATCH_SIZE, optimizer="sgd", lr=5e-3, momentum=0.9,
                  weight_decay=5e-4 * BATCH_SIZE, scheduler="cosine", normalize="half")
RUNS = {"plain": PLAIN, "augmented": dataclasses.replace(PLAIN, augment=True, crop_padding=4)}
RANGE_TEST = dict(start_lr=1e-7, end_lr=1.0, num_iter=300)


def main(argv=None):
    parser = script_parser(__doc__, out="runs/07_resnet10")
    parser.add_argument("--only", nargs="+", choices=["lr_find", *RUNS], help="do only these steps (default: all)")
    parser.add_argument("--lr", type=float, default=PLAIN.lr, help=f"the learning rate to train with (default "
                        f"{PLAIN.lr:g}, the write-up's pick from its range test)")
    args = parser.parse_args(argv)
    out, steps = Path(args.out), args.only or ["lr_find", *RUNS]
    configs = {name: script_config(dataclasses.replace(recipe, lr=args.lr), args, out=out / name)
               for name, recipe in RUNS.items()}
    data = load_data(configs["plain"])  # the runs differ in augmentation only, so they share the images

    if "lr_find" in steps:
        finder = Experiment(dataclasses.replace(configs["plain"], out=str(out / "lr_find")), data)
        num_iter = 20 if args.quick else RANGE_TEST["num_iter"]
        print(f"== learning-rate range test: {num_iter} batches of {finder.config.batch_size}, lr from "
              f"{RANGE_TEST['start_lr']:g} to {RANGE_TEST['end_lr']:g}", flush=True)
        found = finder.find_lr(**{**RANGE_TEST, "num_iter": num_iter})
        stop = "stopped when the loss blew up" if found.diverged else "all batches ran"
        suggestion = "none (too few points)" if found.suggested_lr is None else f"{found.suggested_lr:.2g}"
        print(f"tried {len(found.lrs)} rates up to {found.lrs[-1]:.2g} ({stop}); steepest fall of the loss at: "
              f"{suggestion} (the write-up chose 5e-3); plot: {out / 'lr_find' / 'lr_find.png'}")

    for name in (step for step in RUNS if step in steps):
        print_train_and_test_accuracy(*run_and_report(configs[name], data), name=name)
    plot_run_folders({name: out / name for name in RUNS}, out / "resnet10_runs.png",
                     title="resnet10 without and with augmentation (solid: train, dashed: test)")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
