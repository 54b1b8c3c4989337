"""The small tutorial CNNs: ``lenet`` (PyTorch's CIFAR-10 tutorial net) and ``simplenet`` (two convs, one linear).

Layers are named as in the originals' ``nn.Module`` classes (conv1, conv2, fc1, ...), so their state_dict keys
(``conv1.weight``, ``fc3.bias``) are the originals' and the PyTorch twin's.
"""
from collections import OrderedDict

from .cnn import _namespace


def lenet(num_classes=10, nn=None):
    """LeNet-5's shape: 5x5 convs with 6 and 16 channels, each followed by ReLU and 2x2 max-pooling, then
    linear layers of 120 and 84 units."""
    nn = _namespace(nn)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 6, 5), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),     # (6, 14, 14)
        conv2=nn.Conv2d(6, 16, 5), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),    # (16, 5, 5)
        flatten=nn.Flatten(),
        fc1=nn.Linear(16 * 5 * 5, 120), relu3=nn.ReLU(),
        fc2=nn.Linear(120, 84), relu4=nn.ReLU(),
        fc3=nn.Linear(84, num_classes)))


def simplenet(num_classes=10, nn=None):
    """Two 3x3 convs (16, 32 channels), each followed by ReLU and 2x2 max-pooling, then one linear layer."""
    nn = _namespace(nn)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 16, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),    # (16, 16, 16)
        conv2=nn.Conv2d(16, 32, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),   # (32, 8, 8)
        flatten=nn.Flatten(),
        fc1=nn.Linear(32 * 8 * 8, num_classes)))
