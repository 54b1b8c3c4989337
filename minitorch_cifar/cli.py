"""The command line, ``python -m minitorch_cifar COMMAND``; ``COMMAND --help`` lists each command's options.

    train       train a zoo model on CIFAR-10; writes the run folder (metrics.csv, curves.png, weights, run.json)
    evaluate    test a run's weights: accuracy and per-class accuracy
    lr-find     the learning-rate range test: loss against learning rate, and a suggested rate
    show-data   sample images per class and the class distribution, as PNGs
    summary     a model's layers with their output shapes and parameter counts
    check       every op's gradient check, and its fast kernels (or the GPU's) against the float64 reference

Every training setting is a field of ``experiment.RunConfig``; its flag is the field's name with dashes, and its
help shows the field's default. An expected failure (bad flags, missing data, an unreadable checkpoint, a
diverging loss) prints one line saying what to do and exits with 2 (bad usage) or 1 (the rest), without a
traceback: ``experiment.entry``, which the example scripts share.
"""
import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np

from . import models
from .data import CIFAR10
from .experiment import (MONITORS, NORMALIZATIONS, OPTIMIZERS, SCHEDULERS, ConfigError, Experiment, RunConfig,
                         evaluate_checkpoint, format_evaluation, load_run, plot_data)
from .experiment.folder import FILES, prepare_run_folder
from .experiment.runner import check_lr_range_test
from .experiment.entry import CommandParser, device, positive_int, run_command
from .train import CheckpointError

PROG = "python -m minitorch_cifar"
EPOCH_BOUND_SCHEDULES = ("cosine", "onecycle", "piecewise")  # their shape depends on the number of epochs
_ON = argparse.BooleanOptionalAction

# (flag, RunConfig field's type or choices, help): the training settings shared by `train` and `lr-find`. Each help
# gets the field's default from RunConfig itself (see _with_default), so the two cannot disagree.
RUN_FLAGS = [
    ("--model", models.list_models(), f"the zoo model: {', '.join(models.list_models())}"),
    ("--epochs", int, "number of epochs"),
    ("--batch-size", int, "training batch size"),
    ("--optimizer", OPTIMIZERS, None),
    ("--lr", float, "learning rate; the peak of the onecycle and piecewise schedules"),
    ("--momentum", float, "SGD momentum"),
    ("--nesterov", _ON, "Nesterov momentum (SGD)"),
    ("--weight-decay", float, "L2 weight decay (AdamW: decoupled)"),
    ("--scheduler", SCHEDULERS, "learning-rate schedule: cosine and step per epoch; onecycle and piecewise "
                                "(0 -> lr at --warmup-epochs -> 0) per batch"),
    ("--step-size", int, "step schedule: epochs between decays"),
    ("--gamma", float, "step schedule: decay factor"),
    ("--warmup-epochs", float, "piecewise schedule: epoch of the peak"),
    ("--augment", _ON, "random crop (after padding) and horizontal flip"),
    ("--crop-padding", int, "padding before the random crop"),
    ("--padding-mode", ("constant", "reflect"), "padding of the random crop (constant: zeros)"),
    ("--cutout", int, "zero a random square of this side in every training image (0: off)"),
    ("--normalize", tuple(NORMALIZATIONS), "cifar10: the dataset's mean/std; half: to [-1, 1]; none: [0, 1]"),
    ("--train-subset", int, "train on the first N training images (default all)"),
    ("--test-subset", int, "test on N test images, a fixed random choice (default all)"),
    ("--val-split", float, "hold out this fraction (or number) of the training images for validation; "
                           "without it each epoch is validated on the test images"),
    ("--validate", _ON, "validate after every epoch"),
    ("--drop-last", _ON, "drop the last, incomplete training batch"),
    ("--data-dir", str, "CIFAR-10's folder (default $MINITORCH_CIFAR_DATA, else ./data)"),
    ("--download", _ON, "download CIFAR-10 when it is missing"),
    ("--label-smoothing", float, None),
    ("--init", models.INIT_SCHEMES, "weight initialisation of Linear and Conv layers ('default': PyTorch's)"),
    ("--patience", int, "stop after this many epochs without improvement of --monitor (default: never)"),
    ("--monitor", MONITORS, "the metric that picks the best epoch"),
    ("--eval-batch-size", int, "batch size of validation and test"),
    ("--device", device, "cpu, cuda or cuda:N"),
    ("--seed", int, "seed of the weights, the shuffling and the augmentation"),
    ("--out", str, "the run folder (default runs/MODEL)"),
    ("--progress", _ON, "progress bars"),
]
_RUN_DEFAULTS = RunConfig().to_dict()
# lr-find trains a few batches at rates of its own: the epochs, the schedule, validation, early stopping and the
# test images mean nothing to it
LR_FIND_FLAGS = ("--model", "--batch-size", "--optimizer", "--momentum", "--nesterov", "--weight-decay", "--augment",
                 "--crop-padding", "--padding-mode", "--cutout", "--normalize", "--train-subset", "--drop-last",
                 "--data-dir", "--download", "--label-smoothing", "--init", "--device", "--seed", "--progress")


def _with_default(flag, help):
    """``help`` followed by the default of the RunConfig field behind ``flag`` (None: the help says it)."""
    default = _RUN_DEFAULTS[flag[2:].replace("-", "_")]
    if default is None or flag == "--model":  # train and lr-find ask for the model rather than assume one
        return help
    shown = ("on" if default else "off") if isinstance(default, bool) else f"{default:g}" if isinstance(
        default, float) else default
    return f"{help} (default {shown})" if help else f"default {shown}"


def build_parser():
    parser = CommandParser(prog=PROG, description="Train and inspect CIFAR-10 models written in minitorch_cifar.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=CommandParser)

    train = commands.add_parser("train", help="train a model and write its run folder",
                                argument_default=argparse.SUPPRESS,
                                description="Train a zoo model on CIFAR-10. The run folder (--out) gets run.json, "
                                            "metrics.csv, curves.png, checkpoint.npz, best.npz, final.npz, "
                                            "per_class.png and confusion.png; a folder that holds a run already "
                                            "is refused unless --resume or --overwrite.")
    _add_run_flags(train)
    train.add_argument("--resume", metavar="CKPT", help="continue the run of this checkpoint.npz in its folder (its "
                       "run.json gives the settings; flags given here replace them, e.g. more --epochs where the "
                       "schedule allows)")
    train.add_argument("--overwrite", action="store_true", help="replace the run already in the run folder, if any "
                       "(without it, a folder that holds a run is refused: continue that run with --resume)")
    train.add_argument("--quick", action="store_true", help="a smoke test: one epoch on 128 images, test on 100")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="test a run's weights on the test images",
                                   argument_default=argparse.SUPPRESS,
                                   description="Print the test accuracy and the accuracy per class of the weights "
                                               "in CKPT (final.npz, best.npz or checkpoint.npz of a run folder).")
    evaluate.add_argument("checkpoint", metavar="CKPT")
    evaluate.add_argument("--model", choices=models.list_models(), metavar="NAME",
                          help="the model, when CKPT has no run.json beside it to say")
    for flag in ("--data-dir", "--device", "--test-subset", "--eval-batch-size", "--normalize"):
        _add_flag(evaluate, *next(spec for spec in RUN_FLAGS if spec[0] == flag))
    evaluate.set_defaults(handler=_evaluate)

    finder = commands.add_parser("lr-find", help="learning-rate range test",
                                 argument_default=argparse.SUPPRESS,
                                 description="Train a few batches while the learning rate grows exponentially; "
                                             "write the loss against the rate (lr_find.png, lr_find.csv) and "
                                             "print the rate where the loss falls fastest.")
    _add_run_flags(finder, LR_FIND_FLAGS)
    finder.add_argument("--out", help="folder of lr_find.png and lr_find.csv (default runs/lr-find-MODEL)")
    finder.add_argument("--start-lr", type=float, default=1e-7, help="default 1e-7")
    finder.add_argument("--end-lr", type=float, default=10.0, help="default 10")
    finder.add_argument("--num-iter", type=positive_int, default=100, help="number of batches (default 100)")
    finder.add_argument("--step-mode", choices=("exp", "linear"), default="exp", help="default exp")
    finder.set_defaults(handler=_lr_find)

    show = commands.add_parser("show-data", help="sample images and class distribution as PNGs",
                               description="Write samples.png (images of every class) and class_distribution.png.")
    show.add_argument("--data-dir", help="CIFAR-10's folder (default $MINITORCH_CIFAR_DATA, else ./data)")
    show.add_argument("--split", choices=("train", "test"), default="train", help="default train")
    show.add_argument("--per-class", type=positive_int, default=8, help="images per class (default 8)")
    show.add_argument("--out", default=os.path.join("runs", "data"), help="folder of the PNGs (default runs/data)")
    show.add_argument("--download", action=_ON, default=True, help="download CIFAR-10 when missing (default on)")
    show.set_defaults(handler=_show_data)

    summary = commands.add_parser("summary", help="a model's layers, output shapes and parameters",
                                  description="Run the model once on a dummy 3x32x32 image and print each layer's "
                                              "output shape and parameter count.")
    summary.add_argument("--model", choices=models.list_models(), metavar="NAME", required=True,
                         help=f"one of {', '.join(models.list_models())}")
    summary.add_argument("--device", type=device, default="cpu", help="default cpu")
    summary.add_argument("--batch-size", type=int, default=-1, help="batch size for the memory estimate")
    summary.set_defaults(handler=_summary)

    from .check import add_command as add_check  # python -m minitorch_cifar check: see minitorch_cifar/check
    add_check(commands)
    return parser


def _add_run_flags(parser, only=None):
    for spec in RUN_FLAGS:
        if only is None or spec[0] in only:
            _add_flag(parser, *spec)


def _add_flag(parser, flag, kind, help):
    help = _with_default(flag, help)
    if kind is _ON:
        parser.add_argument(flag, action=_ON, help=help)
    elif isinstance(kind, (list, tuple)):
        parser.add_argument(flag, choices=kind, metavar="NAME" if flag == "--model" else None, help=help)
    else:
        parser.add_argument(flag, type=kind, help=help)


def main(argv=None):
    """Run one command; returns the exit status (0 on success)."""
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures go to files; no window pops up
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed
        return stop.code

    def interrupted():
        checkpoint = getattr(args, "_checkpoint", None)
        hint = f"; continue with: {PROG} train --resume {checkpoint}" if checkpoint and checkpoint.exists() else ""
        return f"interrupted{hint}"

    return run_command(f"{PROG} {args.command}", lambda: args.handler(args), interrupted)


def _given(args, *leave_out):
    """The flags given on the command line (the parsers leave the others out), as RunConfig fields."""
    return {key: value for key, value in vars(args).items() if key not in ("command", "handler", *leave_out)}


# ---------------------------------------------------------------------- commands
def _run_config(args, default_out, leave_out=()):
    """The RunConfig of ``train`` / ``lr-find``: the resumed run's settings (its run.json), replaced by the flags
    given; the run folder is the resumed one, else ``default_out`` with the model's name in place of {model}."""
    given = _given(args, "resume", "quick", "overwrite", *leave_out)
    base = RunConfig()
    resume = getattr(args, "resume", None)
    if resume is not None:
        folder = Path(resume).parent
        if not Path(resume).is_file():
            raise CheckpointError(f"{resume}: no such checkpoint file")
        if (folder / "run.json").is_file():
            base = load_run(folder)[0]
            if given.get("model", base.model) != base.model:
                raise ConfigError(f"model={given['model']}: {resume} continues a {base.model} run; drop --model "
                                  f"(the run's own settings are used), or start a new run with --out")
            if base.scheduler in EPOCH_BOUND_SCHEDULES and given.get("epochs", base.epochs) != base.epochs:
                raise ConfigError(f"epochs={given['epochs']}: the {base.scheduler} schedule of this run was laid out "
                                  f"for {base.epochs} epochs, and the checkpoint keeps it; resume with --epochs "
                                  f"{base.epochs}, or start a new run")
        elif "model" not in given:
            raise ConfigError(f"{folder} has no run.json to say which model {resume} holds: pass --model NAME "
                              f"and the run's other settings")
        given.setdefault("out", str(folder))
    elif "model" not in given:
        raise ConfigError(f"which model? pass --model NAME, one of {', '.join(models.list_models())}")
    given.setdefault("out", default_out.format(model=given.get("model", base.model)))
    config = dataclasses.replace(base, **given)
    return (config.quick() if getattr(args, "quick", False) else config).check()


def _train(args):
    config = _run_config(args, os.path.join("runs", "{model}"))
    resume = getattr(args, "resume", None)
    if resume is not None and getattr(args, "overwrite", False):
        raise ConfigError("--resume continues the run in its folder and --overwrite replaces it: give one of them")
    if resume is None:
        checkpoint = Path(config.out) / FILES["checkpoint"]
        prepare_run_folder(config.out, getattr(args, "overwrite", False),
                           f"continue it with --resume {checkpoint}, start it afresh with --overwrite, or choose "
                           f"another folder with --out")
    print("reading CIFAR-10 ...", flush=True)
    experiment = Experiment(config)
    args._checkpoint = experiment.path("checkpoint")
    print(experiment.describe(), flush=True)
    if resume is not None:
        print(f"resuming from {resume}", flush=True)
    print(f"writing to {experiment.out}/", flush=True)
    result = experiment.run(resume=resume)
    stopped = " (stopped early)" if result.stopped_early else ""
    print(f"trained {len(result.history)} epoch(s) in {result.seconds:.1f} s{stopped}; best epoch by "
          f"{config.monitor}: {result.best_epoch}")
    print(format_evaluation(result.test, result.classes))
    print(f"wrote {', '.join(sorted(Path(p).name for p in result.files.values()))} in {experiment.out}/")
    print(f"evaluate again with: {PROG} evaluate {experiment.path('final')}")


def _evaluate(args):
    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_file():
        raise CheckpointError(f"{checkpoint}: no such checkpoint file")
    overrides = _given(args, "checkpoint")
    config = None
    if not (checkpoint.parent / "run.json").is_file():
        if "model" not in overrides:
            raise ConfigError(f"{checkpoint.parent} has no run.json to say which model {checkpoint.name} holds: "
                              f"pass --model NAME (and --normalize if it was not trained with the default)")
        config = RunConfig(model=overrides["model"])
    evaluation, config, data = evaluate_checkpoint(checkpoint, config, **overrides)
    print(f"{config.model} weights from {checkpoint}, tested on {len(data.test):,} images of {data.folder}")
    print(format_evaluation(evaluation, data.classes))


def _lr_find(args):
    options = ("start_lr", "end_lr", "num_iter", "step_mode")
    check_lr_range_test(*(getattr(args, name) for name in options))  # before the data is read
    config = _run_config(args, os.path.join("runs", "lr-find-{model}"), leave_out=options)
    experiment = Experiment(config)
    parameters = sum(p.numel() for p in experiment.model.parameters())
    print(f"{config.model} ({parameters:,} parameters) on {config.device}: {args.num_iter} batches of "
          f"{config.batch_size} from {len(experiment.data.train):,} training images, {config.optimizer} with the "
          f"learning rate from {args.start_lr:g} to {args.end_lr:g} ({args.step_mode})", flush=True)
    result = experiment.find_lr(*(getattr(args, name) for name in options))
    stop = "the loss diverged" if result.diverged else "all iterations ran"
    print(f"tried {len(result.lrs)} learning rates from {result.lrs[0]:.3g} to {result.lrs[-1]:.3g} ({stop})")
    if result.suggested_lr is None:
        cause = "the loss diverged early: lower --end-lr, or " if result.diverged else ""
        print(f"no suggestion: the test is too short to find a slope ({len(result.lrs)} iterations ran, and the "
              f"first {result.skip_start} and last {result.skip_end} are left out as noise); {cause}raise "
              f"--num-iter (100 or more)")
    else:
        print(f"suggested learning rate (steepest descent of the loss): {result.suggested_lr:.3g}")
    print(f"wrote lr_find.png and lr_find.csv in {experiment.out}/")


def _show_data(args):
    dataset = CIFAR10(args.data_dir, train=args.split == "train", download=args.download)
    paths = plot_data(dataset, args.out, args.per_class, title=f"CIFAR-10 {args.split} images")
    counts = np.bincount(dataset.targets, minlength=len(dataset.classes))
    listing = ", ".join(f"{name} {count}" for name, count in zip(dataset.classes, counts))
    print(f"{len(dataset):,} {args.split} images in {dataset.folder}: {listing}")
    print(f"wrote {paths[0]} and {paths[1]}")


def _summary(args):
    from .viz import summary
    summary(models.get_model(args.model).to(args.device), (3, 32, 32), device=args.device,
            batch_size=args.batch_size)
