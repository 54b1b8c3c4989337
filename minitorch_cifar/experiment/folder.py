"""The run folder: its files, and run.json, the record of a run's configuration, data and results."""
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..train.checkpoint import atomic_write
from .config import ConfigError, RunConfig

FILES = {"run": "run.json", "metrics": "metrics.csv", "curves": "curves.png", "checkpoint": "checkpoint.npz",
         "best": "best.npz", "final": "final.npz", "per_class": "per_class.png", "confusion": "confusion.png"}


def prepare_run_folder(folder, overwrite, ways_on):
    """Make way for a new run in ``folder``: when it holds a run already (a run.json or a checkpoint), raise
    ConfigError naming ``ways_on`` (the caller's words for resuming or overwriting), unless ``overwrite``, which
    deletes that run's files (only those: FILES) so that none of them is mistaken for the new run's."""
    folder = Path(folder)
    held = [folder / FILES[key] for key in ("run", "checkpoint") if (folder / FILES[key]).is_file()]
    if not held:
        return
    if not overwrite:
        try:
            what = f"a {load_run(folder)[1].get('status', 'recorded')} run"
        except ConfigError:
            what = "a run"
        raise ConfigError(f"{folder} already holds {what} ({', '.join(p.name for p in held)}), which a new run "
                          f"would replace; {ways_on}")
    for name in FILES.values():
        (folder / name).unlink(missing_ok=True)


def now():
    """The time in UTC, to the second, as run.json writes it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def failure_status(error):
    """run.json's status of a run that ``error`` ended."""
    return {"NonFiniteLossError": "diverged", "KeyboardInterrupt": "interrupted"}.get(type(error).__name__, "failed")


def results_of(result):
    """run.json's "results" of a RunResult."""
    test = result.test
    per_class = dict(zip(result.classes, (float(a) for a in test.per_class_acc)))
    return {"test_acc": test.acc, "test_loss": test.loss, "test_correct": int(np.trace(test.confusion_matrix)),
            "test_images": int(test.confusion_matrix.sum()), "test_per_class_acc": per_class,
            "epochs": len(result.history), "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
            "train_seconds": result.seconds, "last_epoch": result.history[-1] if result.history else None}


def finite(value):
    """``value`` with NaN and infinities (a class absent from a small test set) as None, so the JSON is valid."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_record(path, record):
    """Write run.json atomically, NaN and infinities as null."""
    with atomic_write(path, text=True) as file:
        json.dump(finite(record), file, indent=2)
        file.write("\n")


def close_figure(figure):
    import matplotlib.pyplot as plt
    plt.close(figure)


def load_run(path):
    """(RunConfig, record) from a run folder's run.json (``path`` is the folder, run.json itself, or a file in
    the folder such as final.npz)."""
    path = Path(path)
    file = path if path.suffix == ".json" else (path if path.is_dir() else path.parent) / FILES["run"]
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
        return RunConfig.from_dict(record["config"]), record
    except FileNotFoundError:
        raise ConfigError(f"no {file.name} in {file.parent}, so the run's model and settings are unknown: give "
                          f"them (e.g. the model name) explicitly") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{file} is not a readable run record ({type(e).__name__}: {e})") from None
