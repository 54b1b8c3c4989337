"""Going further: the DAWNBench ResNet-9 recipe, 94% in 24 epochs (on a GPU).

The original (David Page, Myrtle.ai, "How to train your ResNet", the DAWNBench CIFAR-10 entry, PyTorch): the
ResNet-9 of this zoo (prep conv 64; conv 128 + max-pool + a residual pair of 128; conv 256 + max-pool; conv 512 +
max-pool + a residual pair of 512; global max-pool; Linear(512, 10) without bias, the output scaled by 0.125),
images normalised by CIFAR-10's mean and std, augmented by random 32x32 crops of the image padded by 4
(reflected), horizontal flips and one 8x8 cutout; batches of 512 (the last, incomplete one dropped), SGD with
Nesterov momentum 0.9, the learning rate rising linearly from 0 to its peak at epoch 5 and falling linearly to
0 at epoch 24, stepped every batch. 94% test accuracy, in minutes on one V100.

The learning rate and weight decay, for a mean loss. The original sums the loss over the batch and writes
    lr_step = schedule(t) / 512    (peak 0.4 / 512)        weight_decay = 5e-4 * 512
SGD's step is then, with g_sum = the gradient of the summed loss = 512 * g_mean,
    v <- 0.9 v + (g_sum + 5e-4 * 512 * w) = 512 * [0.9 v' + (g_mean + 5e-4 * w)]   where v = 512 v'
    w <- w - (schedule(t) / 512) * (g_sum + 5e-4 * 512 * w + 0.9 v)   (Nesterov)
      = w - schedule(t) * (g_mean + 5e-4 * w + 0.9 v')
which is exactly SGD on the mean loss (our CrossEntropyLoss, as PyTorch's default) with the learning rate
schedule(t) itself -- peak 0.4 -- and weight decay 5e-4. Those are this recipe's numbers. (Taking the 0.4 as a
rate for the *summed* loss would step 512 times too far and diverge at once; keeping 5e-4 * 512 as the decay
of a mean loss would decay 512 times too hard.) tests/test_examples.py checks the equality step by step.
Later posts added label smoothing 0.2 (``--label-smoothing 0.2``) among other tricks.

    python examples/08_resnet9.py --device cuda [--epochs 24] [--label-smoothing 0] [--data-dir DIR]
                                  [--out runs/08_resnet9]

On a CPU an epoch takes long: 11-14 minutes on a 2-core AMD EPYC (``--epochs`` keeps the schedule's shape: the
peak stays at 5/24 of the run). What to look at: curves.png (the test accuracy climbs with the learning rate's
fall in the second part of the run; the train accuracy, measured on augmented images while training, stays a
little below it); lr in metrics.csv (the triangle); per_class.png; final.npz.
"""
import dataclasses
import sys

from minitorch_cifar.experiment import RunConfig, run_and_report, run_script, script_config, script_parser

BATCH_SIZE = 512
# As a summed-loss recipe: lr(t) = schedule(t) / 512 with schedule's peak 0.4, weight decay 5e-4 * 512. For the
# mean loss (see the docstring): lr(t) = schedule(t), peak 0.4, and weight decay 5e-4.
PEAK_LR, WEIGHT_DECAY = 0.4, 5e-4
RECIPE = RunConfig(model="resnet9", epochs=24, batch_size=BATCH_SIZE, drop_last=True, optimizer="sgd", lr=PEAK_LR,
                   momentum=0.9, nesterov=True, weight_decay=WEIGHT_DECAY, scheduler="piecewise", warmup_epochs=5,
                   augment=True, crop_padding=4, padding_mode="reflect", cutout=8, normalize="cifar10")


def main(argv=None):
    parser = script_parser(__doc__, out="runs/08_resnet9")
    parser.add_argument("--label-smoothing", type=float, default=0.0, help="0.2 in the later posts (default 0)")
    args = parser.parse_args(argv)
    run_and_report(script_config(dataclasses.replace(RECIPE, label_smoothing=args.label_smoothing), args))
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
