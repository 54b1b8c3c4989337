"""torchvision-style ResNets with BasicBlocks, for 32x32 images, built from either nn namespace.

``ResNet`` and ``BasicBlock`` are made by ``resnet_classes(nn)`` from the given namespace (ours, or
``torch.nn`` for the identical PyTorch model), so module names and state_dict keys are torchvision's:
conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, fc, ...
"""
import functools


@functools.cache
def resnet_classes(nn):
    """The (BasicBlock, ResNet) classes subclassing ``nn.Module`` of the namespace ``nn``."""

    class BasicBlock(nn.Module):
        """conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (1x1 conv + BN where the shape changes), then ReLU."""
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or in_planes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                                nn.BatchNorm2d(planes))
            self.stride = stride

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet(nn.Module):
        """Stem conv3x3(3, 64)-BN-ReLU (then max-pool 3/2/1 if ``stem_pool``), four stages of BasicBlocks with
        64, 128, 256, 512 channels (the last three start with stride 2), global average pool, linear classifier.
        Initialised as torchvision: conv weights kaiming_normal_(fan_out, relu), BN weight 1 and bias 0."""

        def __init__(self, blocks_per_stage, num_classes=10, stem_pool=True):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if stem_pool else nn.Identity()
            in_planes = 64
            for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), blocks_per_stage)):
                stride = 1 if i == 0 else 2
                stage = [BasicBlock(in_planes if b == 0 else planes, planes, stride if b == 0 else 1)
                         for b in range(blocks)]
                setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
                in_planes = planes
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return BasicBlock, ResNet


def _namespace(nn):
    if nn is None:
        from .. import nn
    return nn


def resnet10(num_classes=10, nn=None):
    """One BasicBlock per stage, with the max-pooled stem: the ResNet of the learning-rate and augmentation runs."""
    return resnet_classes(_namespace(nn))[1]([1, 1, 1, 1], num_classes=num_classes, stem_pool=True)


def resnet18(num_classes=10, nn=None):
    """The standard CIFAR ResNet-18: two BasicBlocks per stage and a 3x3 stem without max-pooling."""
    return resnet_classes(_namespace(nn))[1]([2, 2, 2, 2], num_classes=num_classes, stem_pool=False)
