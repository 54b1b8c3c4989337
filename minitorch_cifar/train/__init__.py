"""Training: the ``Trainer`` loop, checkpoints and weight files, and the learning-rate range test."""
from .checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint, save_weights
from .lr_finder import LRFinderResult, lr_find
from .trainer import Evaluation, NonFiniteLossError, Trainer

__all__ = ["Trainer", "Evaluation", "NonFiniteLossError", "save_checkpoint", "load_checkpoint", "save_weights",
           "load_weights", "CheckpointError", "lr_find", "LRFinderResult"]
