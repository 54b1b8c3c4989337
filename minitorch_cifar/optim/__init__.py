"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) and learning-rate schedulers (``optim.lr_scheduler``), as in
PyTorch."""
from . import lr_scheduler, swa_utils
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
