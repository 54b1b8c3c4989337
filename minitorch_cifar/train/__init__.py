"""Training: the ``Trainer`` loop, checkpoints and weight files."""
from .checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint, save_weights
from .trainer import Evaluation, NonFiniteLossError, Trainer

__all__ = ["Trainer", "Evaluation", "NonFiniteLossError", "save_checkpoint", "load_checkpoint", "save_weights",
           "load_weights", "CheckpointError"]
