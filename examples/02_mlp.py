"""Multi-layer perceptrons: the first one, and the final one after much tuning.

The original (write-up 000, "CIFAR-10 training", PyTorch), with its Trainer's defaults (batches of 256, pixels
scaled to [0, 1], Xavier initialisation):
- mlp_first: Flatten, Linear(3072, 96), ReLU, Dropout(0), Linear(96, 10); SGD, learning rate 0.1, no weight
  decay, 50 epochs. About 45% on the test set, which the author first took for overfitting, then found to
  come from training on data_batch_1 alone (10,000 images) -- so that is this recipe's default too
  (``--all-batches`` trains it on all 50,000).
- mlp_final: four layers (1024, 512, 256 units; Dropout 0.2 after the first two), Adam, learning rate 1e-3,
  weight decay 1e-4, 50 epochs on all five batches: near convergence after about 20 epochs, with train and
  test accuracy both around 50%.

    python examples/02_mlp.py [--only mlp_first|mlp_final] [--all-batches] [--epochs 50] [--device cpu]
                              [--data-dir DIR] [--out runs/02_mlp]

What to look at: mlp_runs.png overlays the two runs (solid: train, dashed: test). mlp_first's test curve
flattens well below its train curve (10,000 images are too few); mlp_final's stay together near 50%: an MLP
sees pixels, not shapes, and the regularisation (dropout, weight decay) keeps it from memorising. Each run's
folder (mlp_first/, mlp_final/) holds metrics.csv, curves.png, per_class.png, confusion.png and final.npz.
"""
import dataclasses
import sys
from pathlib import Path

from minitorch_cifar.experiment import (RunConfig, plot_run_folders, run_and_report, run_script, script_config,
                                        script_parser)

FIRST_WRITEUP = dict(batch_size=256, normalize="none", init="xavier_uniform")  # its Trainer's defaults, init_net
RECIPES = {
    "mlp_first": RunConfig(model="mlp_first", epochs=50, optimizer="sgd", lr=0.1, train_subset=10_000,
                           **FIRST_WRITEUP),
    "mlp_final": RunConfig(model="mlp_final", epochs=50, optimizer="adam", lr=1e-3, weight_decay=1e-4,
                           **FIRST_WRITEUP),
}


def main(argv=None):
    parser = script_parser(__doc__, out="runs/02_mlp")
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), help="run only these (default: both)")
    parser.add_argument("--all-batches", action="store_true",
                        help="train mlp_first on all 50,000 images, not data_batch_1 alone")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for name in args.only or RECIPES:
        recipe = RECIPES[name]
        if args.all_batches:
            recipe = dataclasses.replace(recipe, train_subset=None)
        run_and_report(script_config(recipe, args, out=out / name))
    plot_run_folders({name: out / name for name in RECIPES}, out / "mlp_runs.png",
                     title="MLPs on CIFAR-10 (solid: train, dashed: test)")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
