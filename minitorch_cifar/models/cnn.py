"""The plain CNNs of the CIFAR-10 experiments: cnn1, cnn2, cnn3 (VGG-style, with BatchNorm) and an AlexNet-style net.

Each builder takes the ``nn`` namespace to build from: ours by default, or ``torch.nn``, which builds
the identical PyTorch model (same layers, names and state_dict keys) from this same code.
"""
import collections


def _namespace(nn):
    if nn is None:
        from .. import nn
    return nn


def _network(nn, features, classifier):
    """features -> flatten -> classifier, with state_dict keys features.i.* and classifier.i.*."""
    return nn.Sequential(collections.OrderedDict([
        ("features", nn.Sequential(*features)), ("flatten", nn.Flatten()), ("classifier", nn.Sequential(*classifier))]))


def _conv_bn_relu(nn, in_channels, out_channels):
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU()]


def cnn1(num_classes=10, nn=None):
    """The first CNN of the progression: two 3x3 convs (64, 32 channels) with ReLU, one maxpool, and a 256-unit
    hidden layer; no BatchNorm, no dropout (it overfits)."""
    nn = _namespace(nn)
    features = [nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    classifier = [nn.Linear(32 * 16 * 16, 256), nn.ReLU(), nn.Linear(256, num_classes)]
    return _network(nn, features, classifier)


def cnn2(num_classes=10, nn=None):
    """Two conv-BN-ReLU-maxpool stages (32, 64 channels), then a 256-unit hidden layer with dropout 0.5."""
    nn = _namespace(nn)
    features = [*_conv_bn_relu(nn, 3, 32), nn.MaxPool2d(2), *_conv_bn_relu(nn, 32, 64), nn.MaxPool2d(2)]
    classifier = [nn.Linear(64 * 8 * 8, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, num_classes)]
    return _network(nn, features, classifier)


def cnn3(num_classes=10, nn=None):
    """VGG-style: conv-BN-ReLU x2 (32), maxpool, x2 (64), maxpool, x1 (128), maxpool; 256-unit hidden layer."""
    nn = _namespace(nn)
    features = [*_conv_bn_relu(nn, 3, 32), *_conv_bn_relu(nn, 32, 32), nn.MaxPool2d(2),
                *_conv_bn_relu(nn, 32, 64), *_conv_bn_relu(nn, 64, 64), nn.MaxPool2d(2),
                *_conv_bn_relu(nn, 64, 128), nn.MaxPool2d(2)]
    classifier = [nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, num_classes)]
    return _network(nn, features, classifier)


def alexnet(num_classes=10, nn=None):
    """AlexNet's shape scaled to 32x32 images: 7x7 and 5x5 convs then three 3x3 convs, three linear layers."""
    nn = _namespace(nn)
    features = [nn.Conv2d(3, 16, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(64, 256, 3, padding=1), nn.ReLU(),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
                nn.Conv2d(256, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    classifier = [nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 256), nn.ReLU(),
                  nn.Dropout(0.3), nn.Linear(256, num_classes)]
    return _network(nn, features, classifier)
