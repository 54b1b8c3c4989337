"""The CNN progression: from a CNN that overfits to one that generalises.

The original (write-up 000, "CIFAR-10 training", PyTorch), batches of 256, pixels scaled to [0, 1]:
- cnn1: two 3x3 convs (64, 32 channels) with ReLU, one max-pool, a 256-unit hidden layer; Adam, learning rate
  1e-3, weight decay 5e-4, 50 epochs, Xavier initialisation. "Classic overfitting": about 97% on the training
  set and 65% on the test set.
- cnn2: two conv-BatchNorm-ReLU-max-pool stages (32, 64 channels) and dropout 0.5 before the classifier; same
  optimizer and epochs. The overfitting is tamed, but it underfits a little: about 77%.
- cnn3: five conv-BatchNorm-ReLU layers (32, 32, 64, 64, 128 channels) in three max-pooled stages, dropout 0.5;
  Adam, learning rate 3e-3, weight decay 1e-4, up to 100 epochs with early stopping (patience 10), PyTorch's
  default initialisation (the write-up built it without its init_net). Test accuracy 82% when it stopped.
Early stopping here stops after 10 epochs without a new best test accuracy and puts the best epoch's weights
back (the original stopped after 10 epochs without a gain of more than 0.1 point and kept the last weights).

    python examples/03_cnn_progression.py [--only cnn1 cnn2 cnn3] [--epochs N] [--device cpu] [--data-dir DIR]
                                          [--out runs/03_cnn_progression]

What to look at: cnn_progression.png overlays the three runs (solid: train, dashed: test). cnn1's train
accuracy races towards 100% while its test accuracy stalls and its test loss turns upwards: it memorises.
BatchNorm, pooling and dropout (cnn2) close that gap; depth (cnn3) lifts both curves. Each run's folder
(cnn1/, cnn2/, cnn3/) holds metrics.csv, curves.png, per_class.png, confusion.png and the weights.
"""
import sys
from pathlib import Path

from minitorch_cifar.experiment import (RunConfig, plot_run_folders, run_and_report, run_script, script_config,
                                        script_parser)

FIRST_WRITEUP = dict(batch_size=256, normalize="none")  # its Trainer's default batch size; pixels / 255
RECIPES = {
    "cnn1": RunConfig(model="cnn1", epochs=50, optimizer="adam", lr=1e-3, weight_decay=5e-4, init="xavier_uniform",
                      **FIRST_WRITEUP),
    "cnn2": RunConfig(model="cnn2", epochs=50, optimizer="adam", lr=1e-3, weight_decay=5e-4, init="xavier_uniform",
                      **FIRST_WRITEUP),
    "cnn3": RunConfig(model="cnn3", epochs=100, optimizer="adam", lr=3e-3, weight_decay=1e-4, patience=10,
                      **FIRST_WRITEUP),
}


def main(argv=None):
    parser = script_parser(__doc__, out="runs/03_cnn_progression")
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), help="run only these (default: all three; "
                        "the overlay also draws runs already in --out)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for name in args.only or RECIPES:
        run_and_report(script_config(RECIPES[name], args, out=out / name))
    plot_run_folders({name: out / name for name in RECIPES}, out / "cnn_progression.png",
                     title="cnn1 -> cnn2 -> cnn3 (solid: train, dashed: test)")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
