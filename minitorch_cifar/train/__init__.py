"""Training: checkpoints and weight files."""
from .checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint, save_weights

__all__ = ["save_checkpoint", "load_checkpoint", "save_weights", "load_weights", "CheckpointError"]
