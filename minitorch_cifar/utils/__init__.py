"""``torch.utils``'s names: ``minitorch_cifar.utils.data`` mirrors ``torch.utils.data`` (datasets and the DataLoader)."""
from . import data

__all__ = ["data"]
