"""The PyTorch tutorial's CIFAR-10 net (LeNet-5's shape), its accuracy per class, and what its convolutions see.

The original (write-up 001, "cifar10_origin", PyTorch's "Training a Classifier" tutorial run as written):
Conv(3, 6, 5), ReLU, MaxPool2, Conv(6, 16, 5), ReLU, MaxPool2, then Linear 400 -> 120 -> 84 -> 10; images
normalised to [-1, 1]; SGD, learning rate 1e-3, momentum 0.9, batches of 4, 2 epochs. It reached 53% on the
test set (car 79%, ship 80%, but cat 59%, bird 32%, dog 27%); with the epochs doubled to 4, the loss settled
near 1.1 and it reached 61% on the training images and 57% on the test images. It then showed the feature maps
of one test image after the first and after the second convolution.

    python examples/04_lenet.py [--epochs 2] [--image 0] [--device cpu] [--data-dir DIR] [--out runs/04_lenet]

What to look at: the per-class lines printed (and per_class.png): vehicles are easy, animals that look alike
(cat, dog, bird) are hard; the accuracy on the training images beside the test one (two epochs of a tiny net
do not overfit yet); feature_maps_conv1.png (6 maps at 28x28: edges and colour blobs of the input, still
recognisable) and feature_maps_conv2.png (16 maps at 10x10: coarser, more abstract responses); curves.png and
metrics.csv (12,500 steps per epoch at batch size 4, so even 2 epochs take the loss well down).
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt

from minitorch_cifar.experiment import (NORMALIZATIONS, ConfigError, RunConfig, load_data,
                                        print_train_and_test_accuracy, run_and_report, run_script, script_config,
                                        script_parser)
from minitorch_cifar.experiment.entry import non_negative_int
from minitorch_cifar.viz import plots

RECIPE = RunConfig(model="lenet", epochs=2, batch_size=4, optimizer="sgd", lr=1e-3, momentum=0.9, normalize="half")


def main(argv=None):
    parser = script_parser(__doc__, out="runs/04_lenet")
    parser.add_argument("--image", type=non_negative_int, default=0,
                        help="the test image whose feature maps are drawn (default 0)")
    args = parser.parse_args(argv)
    config = script_config(RECIPE, args)
    data = load_data(config)
    if args.image >= len(data.test):
        raise ConfigError(f"--image {args.image}: there are {len(data.test)} test images; pick one below that")
    experiment, result = run_and_report(config, data)
    print_train_and_test_accuracy(experiment, result)

    data, out = experiment.data.test, Path(args.out)
    mean, std = NORMALIZATIONS[config.normalize]
    label = data.classes[data.targets[args.image]]
    for layer in ("conv1", "conv2"):
        path = out / f"feature_maps_{layer}.png"
        figure = plots.plot_feature_maps(experiment.model, data.data[args.image], layer, path=path, mean=mean,
                                         std=std, title=f"test image {args.image} ({label}) after {layer}")
        plt.close(figure)
        print(f"feature maps of test image {args.image} ({label}) after {layer}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
