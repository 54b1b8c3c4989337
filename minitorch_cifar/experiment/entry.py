"""How every command-line entry point (``python -m minitorch_cifar COMMAND`` and each script under examples/) reads
its flags and ends: a bad flag or an expected failure is one line that names the problem and the fix, with exit
status 2 (bad usage) or 1 (a failure), never a traceback; an unexpected error still shows its traceback."""
import argparse
import sys

from .. import backend
from ..data import DatasetError, DatasetNotFoundError
from ..train import CheckpointError, NonFiniteLossError
from .config import ConfigError

USAGE_ERROR, FAILURE, INTERRUPTED = 2, 1, 130


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that reports a usage error in one line with where to look, exit status 2."""

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def device(text):
    """An argparse type: a device parsed where it enters, to its canonical string ('cuda' is 'cuda:0')."""
    try:
        return backend.parse_device(text)
    except backend.DeviceError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive_int(text):
    """An argparse type: an integer >= 1."""
    return _whole_number(text, 1)


def non_negative_int(text):
    """An argparse type: an integer >= 0."""
    return _whole_number(text, 0)


def _whole_number(text, low):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} is below {low}")
    return value


def run_command(where, action, interrupted=lambda: "interrupted"):
    """Call ``action()`` and return the exit status for the shell: its own (None is 0), or, when it ends in an
    expected failure, 2 or 1 after printing ``where: error: <what and how to fix it>`` on stderr in one line.
    ``interrupted()`` says what to print on Ctrl-C (exit status 130)."""
    try:
        status = action()
        return 0 if status is None else status
    except SystemExit as stop:  # --help, or a usage error that the parser has printed
        return stop.code
    except ConfigError as e:
        return _fail(where, e, USAGE_ERROR)
    except DatasetNotFoundError as e:  # the Python wording (root=...) becomes the command line's
        return _fail(where, e.explain("--data-dir DIR"), FAILURE)
    except (DatasetError, CheckpointError, NonFiniteLossError, backend.DeviceError) as e:
        return _fail(where, e, FAILURE)
    except KeyboardInterrupt:
        return _fail(where, interrupted(), INTERRUPTED)


def _fail(where, message, status):
    print(f"{where}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return status
