"""What the scripts under examples/ share: their command line, the way they run and report, their overlays."""
import argparse
import dataclasses
import sys
from pathlib import Path

from .after import format_evaluation
from .entry import CommandParser, device, positive_int, run_command
from .folder import FILES, close_figure, prepare_run_folder
from .runner import Experiment


def script_parser(description, out):
    """The command line that every script under examples/ shares (a script adds its own flags): --device (default
    cpu, as the command line's), --data-dir, --epochs (default: the recipe's), --out (default ``out``),
    --overwrite and --quick. Its usage errors are one line (``entry.CommandParser``)."""
    parser = CommandParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--data-dir", help="CIFAR-10's folder (default $MINITORCH_CIFAR_DATA, else ./data; "
                                           "downloaded there when missing)")
    parser.add_argument("--epochs", type=positive_int, help="train this many epochs instead of the recipe's; a "
                                                            "schedule keeps its shape over the shorter or longer run")
    parser.add_argument("--out", default=out, help=f"folder for the metrics, figures and weights (default {out})")
    parser.add_argument("--overwrite", action="store_true", help="replace the runs already in --out (without it, "
                                                                 "a folder that holds a run is refused)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: one epoch on 128 training images, "
                                                             "tested on 100")
    return parser


def run_script(main):
    """Run an example's ``main()`` as a command (``entry.run_command``): a bad flag or an expected failure ends
    in one line and exit status 2 or 1; returns the exit status, for ``sys.exit``."""
    return run_command(Path(sys.argv[0]).name, main)


def script_config(config, args, out=None):
    """The recipe ``config`` with a script's flags (``script_parser``) applied: device, data_dir, the run folder
    ``out`` (default ``args.out``) and, when given, epochs (the piecewise schedule's warm-up stays the same
    fraction of the run; 'cosine' and 'onecycle' follow the epochs by themselves); then ``quick()`` under
    --quick. A run folder that holds a run already is refused unless --overwrite. Returns the checked RunConfig."""
    config = dataclasses.replace(config, device=args.device, data_dir=args.data_dir,
                                 out=str(out if out is not None else args.out))
    if args.epochs is not None:
        config = dataclasses.replace(config, epochs=args.epochs,
                                     warmup_epochs=config.warmup_epochs * args.epochs / config.epochs)
    config = (config.quick() if args.quick else config).check()
    prepare_run_folder(config.out, args.overwrite, "start it afresh with --overwrite, or choose another --out")
    return config


def run_and_report(config, data=None):
    """Run ``config`` as the example scripts do, printing what runs (``describe``), then the epochs trained and
    the test accuracy per class; returns (Experiment, RunResult)."""
    experiment = Experiment(config, data)
    print(f"== {config.model}{'' if experiment.out is None else f' -> {experiment.out}/'}\n{experiment.describe()}",
          flush=True)
    result = experiment.run()
    stopped = ", stopped early" if result.stopped_early else ""
    if config.patience is not None and result.best_epoch is not None:  # early stopping puts the best weights back
        stopped += f"; tested with the weights of the best epoch, {result.best_epoch}"
    print(f"trained {len(result.history)} epoch(s) in {result.seconds:.0f} s{stopped}")
    print(format_evaluation(result.test, result.classes), flush=True)
    return experiment, result


def print_train_and_test_accuracy(experiment, result, name=None):
    """Print the accuracy on the training images measured as the test one is (after training, in eval mode, without
    augmentation) beside the test accuracy, and say how it differs from the train accuracy that curves.png draws
    (the mean over the last epoch's batches, measured while training); returns the training images' Evaluation."""
    train = experiment.evaluate(experiment.data.train)
    during = f"{result.history[-1]['train_acc']:.2%}" if result.history else "none"
    print(f"{f'{name}: ' if name else ''}accuracy on the {len(experiment.data.train):,} training images: "
          f"{train.acc:.2%}; on the {len(experiment.data.test):,} test images: {result.test.acc:.2%}\n"
          f"  (both after training, in eval mode; curves.png draws the train accuracy while training: {during} "
          f"over the last epoch's batches)", flush=True)
    return train


def plot_run_folders(folders, path, title=None):
    """Overlay the curves (``viz.plots.plot_runs``) of the run folders ``folders`` (a name -> folder mapping)
    that hold a metrics.csv, into ``path``, and say so; returns the names drawn (none: no figure)."""
    from ..viz import plots
    found = {name: Path(folder) / FILES["metrics"] for name, folder in folders.items()}
    found = {name: metrics for name, metrics in found.items() if metrics.is_file()}
    if found:
        close_figure(plots.plot_runs(found, path=path, title=title))
        print(f"curves of {', '.join(found)} overlaid in {path}")
    return list(found)
