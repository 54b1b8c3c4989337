"""Running a model only to look inside it: eval mode and no_grad, with every module's mode put back after."""
import contextlib

from ..autograd import no_grad


@contextlib.contextmanager
def inspecting(model):
    """Run ``model`` in eval mode without recording a graph; restore each sub-module's train/eval mode on exit,
    even when the forward raises (so BatchNorm's running statistics and Dropout are left untouched)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training
