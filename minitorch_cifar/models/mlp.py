"""The fully connected models of the CIFAR-10 experiments: softmax regression and two MLPs.

Built from either ``nn`` namespace (ours by default, or ``torch.nn``), with named layers (fc1, relu1, ...), so
state_dict keys read ``fc1.weight`` and match the PyTorch twin's.
"""
from collections import OrderedDict

from .cnn import _namespace

PIXELS = 3 * 32 * 32


def softmax(num_classes=10, nn=None):
    """Softmax regression: one linear layer on the flattened image (the loss applies the softmax)."""
    nn = _namespace(nn)
    return nn.Sequential(OrderedDict(flatten=nn.Flatten(), fc=nn.Linear(PIXELS, num_classes)))


def mlp_first(num_classes=10, nn=None):
    """The first MLP of the write-up: one hidden layer of 96 units (dropout 0, a placeholder to tune)."""
    nn = _namespace(nn)
    return nn.Sequential(OrderedDict(
        flatten=nn.Flatten(),
        fc1=nn.Linear(PIXELS, 96), relu1=nn.ReLU(), dropout1=nn.Dropout(0.0),
        fc2=nn.Linear(96, num_classes)))


def mlp_final(num_classes=10, nn=None):
    """The final MLP of the write-up: hidden layers of 1024, 512 and 256 units, dropout 0.2 after the first two."""
    nn = _namespace(nn)
    return nn.Sequential(OrderedDict(
        flatten=nn.Flatten(),
        fc1=nn.Linear(PIXELS, 1024), relu1=nn.ReLU(), dropout1=nn.Dropout(0.2),
        fc2=nn.Linear(1024, 512), relu2=nn.ReLU(), dropout2=nn.Dropout(0.2),
        fc3=nn.Linear(512, 256), relu3=nn.ReLU(),
        fc4=nn.Linear(256, num_classes)))
