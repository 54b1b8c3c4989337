"""Dropout1d and Dropout2d: channel-wise dropout (nn.Dropout itself lives in layers.py)."""
from . import functional as F
from .layers import Dropout


class Dropout1d(Dropout):
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability p while training (scaling the rest by
    1/(1-p)); identity in eval."""

    def forward(self, x):
        return F.dropout1d(x, self.p, self.training)


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) input with probability p while training (scaling the rest by
    1/(1-p)); identity in eval."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)
