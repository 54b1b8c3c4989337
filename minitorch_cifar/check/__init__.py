"""``python -m minitorch_cifar check``: the framework checks itself on a device, one row per check.

For every differentiable op, layer and loss of the framework: the float64 central-difference gradient check
(``testing.gradcheck``, the one the tests use) on the device, and the forward and every gradient in float32 on
the device against float64 on the CPU (with the plain reference kernels); for every optimizer, a few steps
compared the same way; dropout's masks (shape, rate, scale, gradient) on the device; the batch augmentations on
the device against a plain loop over the images. ``--device cuda`` thus runs every CUDA kernel (im2col/col2im,
pooling, BatchNorm, the optimizers', the augmentation's) against the CPU. Needs neither pytest nor PyTorch. The
checks are one table, ``check/cases.py``.

    python -m minitorch_cifar check [--device cpu|cuda|cuda:N] [--ops NAME ...] [--list]

Exit status 0 when every check passes, 1 when one fails, 2 on bad usage.
"""
import argparse
import time

from .. import backend
from .cases import CASES

COLUMNS = (("check", 34), ("test", 28), ("shapes", 26), ("max error", 9), ("tolerance", 19), ("result", 6))


class ChecksFailed(backend.DeviceError):
    """Some checks failed: the framework computes wrong results on the device checked."""


def op_of(case):
    """The op a case checks: the first word of its name (``max_pool2d`` of ``max_pool2d ceil mode``)."""
    return case.name.split()[0].lower()


def select(names, cases=CASES):
    """The cases whose op (or whole name) is one of ``names``, any case; all of them for no names."""
    if not names:
        return list(cases)
    wanted = {name.lower() for name in names}
    known = {op_of(case) for case in cases} | {case.name.lower() for case in cases}
    unknown = sorted(wanted - known)
    if unknown:
        from ..experiment import ConfigError
        raise ConfigError(f"no check named {', '.join(unknown)}; `check --list` names them")
    return [case for case in cases if op_of(case) in wanted or case.name.lower() in wanted]


def usable_device(device):
    """The canonical device, or a ConfigError saying why it cannot be checked here (and how to fix that)."""
    from ..experiment import ConfigError
    try:
        device = backend.parse_device(device)
        if device != "cpu":
            backend.array_module_for(device)
    except backend.DeviceError as e:
        raise ConfigError(str(e)) from None
    return device


def format_row(values):
    return " ".join(f"{str(value):<{width}}" for value, (_, width) in zip(values, COLUMNS)).rstrip()


def print_row(row):
    error = "-" if row.error != row.error or row.error == float("inf") else f"{row.error:.1e}"
    print(format_row((row.name, row.test, row.shapes, error, row.tolerance, "pass" if row.passed else "FAIL")),
          flush=True)
    if row.note:
        print(f"    {row.note}", flush=True)


def run(device="cpu", ops=None, out=print_row):
    """Run the checks of ``ops`` (all by default) on ``device``; ``out`` receives each Row. Returns the rows."""
    rows = []
    for case in select(ops):
        for row in case.rows(device):
            out(row)
            rows.append(row)
    return rows


def add_command(commands):
    """Register ``check`` among the subcommands of ``python -m minitorch_cifar``."""
    parser = commands.add_parser("check", help="gradient checks, and the device's results against the CPU's",
                                 description=__doc__.split("\n\n")[1].replace("``", ""),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--ops", nargs="+", metavar="NAME", help="only the checks of these ops or layers "
                        "(the first word of a check's name, e.g. conv2d max_pool2d BatchNorm2d SGD)")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.set_defaults(handler=_command)


def _command(args):
    cases = select(args.ops)
    if args.list:
        for case in cases:
            print(f"{case.name:<40} {type(case).__name__:<16} {case.shapes}")
        return
    device = usable_device(args.device)
    print(f"minitorch_cifar check on {device}: {len(cases)} checks; the reference of every comparison is float64 "
          f"on the CPU, with the reference kernels")
    print(format_row(name for name, _ in COLUMNS))
    start = time.perf_counter()
    rows = run(device, args.ops)
    failed = [row for row in rows if not row.passed]
    seconds = time.perf_counter() - start
    print(f"{len(rows)} checks on {device} in {seconds:.0f} s: {len(rows) - len(failed)} passed, {len(failed)} failed")
    if failed:
        names = sorted({row.name for row in failed})
        raise ChecksFailed(f"{len(failed)} check(s) failed on {device}: {', '.join(names)}")
