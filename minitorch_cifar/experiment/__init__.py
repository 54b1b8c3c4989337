"""Training runs described by one ``RunConfig``: the layer the command line and every example script call.

    from minitorch_cifar.experiment import RunConfig, run
    result = run(RunConfig(model="cnn2", epochs=50, optimizer="adam", lr=1e-3, weight_decay=5e-4, out="runs/cnn2"))
    print(format_evaluation(result.test, result.classes))

``Experiment(config)`` builds the pieces (data, loaders, model, optimizer, scheduler, loss, Trainer) for a script
that wants them one by one; ``Experiment.run()`` (or ``run(config)``) trains, tests and writes the run folder
``config.out``:

    run.json            the configuration, the data and model used, and the results: written when the run starts
                        (status 'running'), and again when it ends ('finished', 'diverged', 'interrupted')
    metrics.csv         the history, one row per epoch
    curves.png          loss and accuracy curves, redrawn after every epoch
    checkpoint.npz      everything needed to resume (``resume=`` / ``--resume``), written every epoch
    best.npz            the weights of the best epoch by ``monitor`` (when there is validation)
    final.npz           the weights when training ended: those the test accuracy was measured with
    per_class.png, confusion.png    the test results per class

Validation after each epoch uses ``val_split`` of the training images when set, else the test images, as the
original write-ups did (their curves are train against test); ``validate=False`` skips it.

The scripts under examples/ share their command line through ``script_parser`` and ``script_config`` (a recipe
with --device, --data-dir, --epochs, --out and --quick applied), run through ``run_and_report`` and overlay runs
with ``plot_run_folders``.

The modules, by concern: ``config`` (RunConfig), ``data`` (the images and loaders), ``builders`` (model, optimizer,
schedule, loss), ``runner`` (Experiment, run), ``folder`` (the run folder's files and run.json), ``after`` (testing
saved weights, printing results), ``entry`` (how every command-line entry point checks its flags and ends in one
line) and ``scripts`` (the examples' command line).
"""
from .after import evaluate_checkpoint, format_evaluation, plot_data
from .builders import PiecewiseLinear, build_loss, build_model, build_optimizer, build_scheduler
from .config import MONITORS, NORMALIZATIONS, OPTIMIZERS, SCHEDULERS, ConfigError, RunConfig
from .data import Datasets, Loaders, build_loaders, build_transforms, evaluation_loader, load_data
from .folder import FILES, load_run
from .runner import Experiment, RunResult, run
from .scripts import (plot_run_folders, print_train_and_test_accuracy, run_and_report, run_script, script_config,
                      script_parser)

__all__ = ["RunConfig", "ConfigError", "OPTIMIZERS", "SCHEDULERS", "NORMALIZATIONS", "MONITORS", "FILES",
           "Datasets", "Loaders", "load_data", "build_transforms", "build_loaders", "evaluation_loader",
           "build_model", "build_optimizer", "PiecewiseLinear", "build_scheduler", "build_loss",
           "Experiment", "RunResult", "run", "load_run", "evaluate_checkpoint", "format_evaluation", "plot_data",
           "script_parser", "script_config", "run_and_report", "run_script", "plot_run_folders",
           "print_train_and_test_accuracy"]
