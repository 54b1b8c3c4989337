"""Softmax regression: the "does the pipeline work" run.

The original (write-up 000, "CIFAR-10 training", PyTorch): before any real model, one Linear(3072, 10) layer
trained with the write-up's Trainer defaults -- SGD, learning rate 0.1, no weight decay, batches of 256, 20
epochs, pixels scaled to [0, 1], Xavier initialisation -- only to check that loading, training, the
per-epoch metrics and the plots all work. It reported no test accuracy, only its curves ("嗯嗯，能跑通":
yes, it runs). A linear classifier on raw pixels tops out around 40% on CIFAR-10.

A learning rate of 0.1 is large for this model: each of the 3072 inputs adds its own share to every step, so
the steps overshoot, the loss jumps from epoch to epoch and the test accuracy with it (PyTorch does the same
with this recipe). ``--lr 0.01`` gives the steady curves of a linear model near its ~39% ceiling.

    python examples/01_softmax.py [--lr 0.1] [--epochs 20] [--device cpu] [--data-dir DIR] [--out runs/01_softmax]

What to look at in the output folder: curves.png (the pipeline works: the loss falls and the accuracies rise,
jumpily at lr 0.1; with --lr 0.01 they flatten within a few epochs, at a linear model's capacity, with train and
test close together, since a linear model has little to overfit with), metrics.csv (one row per epoch),
per_class.png and confusion.png (which classes a linear model can and cannot tell apart), final.npz (the weights).
"""
import dataclasses
import sys

from minitorch_cifar.experiment import RunConfig, run_and_report, run_script, script_config, script_parser

# The write-up's Trainer defaults. Its init_net used Xavier-normal weights and zero biases; 'xavier_uniform' draws
# from the same variance.
RECIPE = RunConfig(model="softmax", epochs=20, batch_size=256, optimizer="sgd", lr=0.1, normalize="none",
                   init="xavier_uniform")


def main(argv=None):
    parser = script_parser(__doc__, out="runs/01_softmax")
    parser.add_argument("--lr", type=float, default=RECIPE.lr, help=f"learning rate (default {RECIPE.lr})")
    args = parser.parse_args(argv)
    run_and_report(script_config(dataclasses.replace(RECIPE, lr=args.lr), args))
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
