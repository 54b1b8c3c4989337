"""An AlexNet-style net: Kaiming initialisation, plain SGD, curves on twin axes, predictions, save and reload.

The original (write-up 003, "Homework2 - CNN", PyTorch): AlexNet's shape scaled to 32x32 images -- Conv 7x7 (16),
Conv 5x5 (64), each with ReLU and max-pooling, three 3x3 convs (256, 256, 64), max-pool, then Linear
1024 -> 256 -> 256 -> 10 with dropout 0.3 -- Kaiming-uniform weights ("He initialisation suits ReLU"), plain
SGD with a "rather aggressive" learning rate of 0.03, batches of 100, 20 epochs, pixels in [0, 1]. The test
accuracy settled after 10-15 epochs (epoch 5: 57.7%, 10: 66.0%, 15: 68.8%, 20: 67.9%) while the training
accuracy kept climbing (87.5% at epoch 20): overfitting. It drew loss and accuracies on twin y-axes, classified
a few test images, saved the model, loaded it again and measured 67.94% with the reloaded model, per class
from cat 44.6% to ship 85.3% (its per-class figures divide by the images *predicted* as the class; the ones
here, by the images that *are* of the class).

    python examples/06_alexnet.py [--epochs 20] [--device cpu] [--data-dir DIR] [--out runs/06_alexnet]

What to look at: curves.png (loss on the left axis, accuracies on the right: the train accuracy keeps rising
after the test accuracy has levelled off); predictions.png (test images with their true and predicted classes,
mistakes in red); per_class.png (vehicles above animals, cat lowest); the two accuracies printed at the end:
measured after training, and again with a fresh model loaded from final.npz -- identical.
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from minitorch_cifar.experiment import (RunConfig, evaluate_checkpoint, run_and_report, run_script, script_config,
                                        script_parser)
from minitorch_cifar.experiment.entry import positive_int
from minitorch_cifar.viz import plots

RECIPE = RunConfig(model="alexnet", epochs=20, batch_size=100, optimizer="sgd", lr=0.03, init="kaiming_uniform",
                   normalize="none")


def main(argv=None):
    parser = script_parser(__doc__, out="runs/06_alexnet")
    parser.add_argument("--show", type=positive_int, default=16, help="number of test images in predictions.png")
    args = parser.parse_args(argv)
    experiment, result = run_and_report(script_config(RECIPE, args))

    test, out = experiment.data.test, Path(args.out)
    chosen = np.random.default_rng(0).choice(len(test), size=min(args.show, len(test)), replace=False)
    figure = plots.plot_predictions(test.data[chosen], test.targets[chosen], experiment.predict(test.data[chosen]),
                                    test.classes, path=out / "predictions.png")
    plt.close(figure)
    print(f"predictions for {len(chosen)} test images: {out / 'predictions.png'}")

    weights = result.files["final"]
    reloaded, _, _ = evaluate_checkpoint(weights, device=experiment.config.device)
    correct = [int(np.trace(e.confusion_matrix)) for e in (result.test, reloaded)]
    total = int(result.test.confusion_matrix.sum())
    print(f"test accuracy of the trained model:     {result.test.acc:.2%} ({correct[0]}/{total})")
    print(f"test accuracy reloaded from {Path(weights).name}: {reloaded.acc:.2%} ({correct[1]}/{total})")
    if not np.array_equal(result.test.confusion_matrix, reloaded.confusion_matrix):
        print("the reloaded model predicts differently: saving or loading lost something")
        return 1
    print("identical, down to every cell of the confusion matrix")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
