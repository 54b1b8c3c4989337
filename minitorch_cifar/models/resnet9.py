"""The DAWNBench ResNet-9 (David Page, "How to train your ResNet", 2018), built from either ``nn`` namespace.

    prep     conv-BN-ReLU 64                                        (64, 32, 32)
    layer1   conv-BN-ReLU 128, max-pool 2, residual of two 128      (128, 16, 16)
    layer2   conv-BN-ReLU 256, max-pool 2                           (256, 8, 8)
    layer3   conv-BN-ReLU 512, max-pool 2, residual of two 512      (512, 4, 4)
    pool     global max-pool; flatten; fc Linear(512, 10) without bias; scale the logits by 0.125

Every conv is 3x3 with padding 1 and no bias (the BatchNorm after it has one). State_dict keys read
``layer1.residual.res2.conv.weight``, equal to the PyTorch twin's.
"""
import functools
from collections import OrderedDict

from .cnn import _namespace


@functools.cache
def resnet9_classes(nn):
    """The (Residual, Scale) module classes of ResNet-9, subclassing ``nn.Module`` of the namespace ``nn``."""

    class Residual(nn.Module):
        """x + res2(res1(x)), with res1 and res2 conv-BN-ReLU blocks that keep the channel count."""

        def __init__(self, channels):
            super().__init__()
            self.res1 = conv_bn_relu(nn, channels, channels)
            self.res2 = conv_bn_relu(nn, channels, channels)

        def forward(self, x):
            return x + self.res2(self.res1(x))

    class Scale(nn.Module):
        """Multiply the input by a constant ``factor``."""

        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def forward(self, x):
            return x * self.factor

        def extra_repr(self):
            return f"factor={self.factor}"

    return Residual, Scale


def conv_bn_relu(nn, in_channels, out_channels, **after):
    """A Sequential conv 3x3 (no bias) - BN - ReLU, then the modules in ``after`` (e.g. pool=..., residual=...)."""
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                                     bn=nn.BatchNorm2d(out_channels), relu=nn.ReLU(), **after))


def resnet9(num_classes=10, nn=None):
    """The DAWNBench ResNet-9 (94% on CIFAR-10 in 24 epochs with its recipe)."""
    nn = _namespace(nn)
    Residual, Scale = resnet9_classes(nn)
    return nn.Sequential(OrderedDict(
        prep=conv_bn_relu(nn, 3, 64),
        layer1=conv_bn_relu(nn, 64, 128, pool=nn.MaxPool2d(2), residual=Residual(128)),
        layer2=conv_bn_relu(nn, 128, 256, pool=nn.MaxPool2d(2)),
        layer3=conv_bn_relu(nn, 256, 512, pool=nn.MaxPool2d(2), residual=Residual(512)),
        pool=nn.AdaptiveMaxPool2d(1),
        flatten=nn.Flatten(),
        fc=nn.Linear(512, num_classes, bias=False),
        scale=Scale(0.125)))
