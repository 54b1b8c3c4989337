"""``torch.utils``'s names: ``minitorch_cifar.utils.data`` mirrors ``torch.utils.data`` (datasets, DataLoader)."""
from . import data

__all__ = ["data"]
