# Blocks of today's small CIFAR models, in the style of the popular collections: a ShuffleNetV2 unit (its input
# split in two with chunk, channels shuffled), a MobileNetV3-style inverted residual (Hardswish, squeeze-and-
# excitation with Hardsigmoid, ReLU6), GroupNorm in place of BatchNorm, a ConvNeXt-style block (LayerNorm over
# the channels of a channels-last view, SiLU) and a ModuleDict of heads, at a few channels
import torch
import torch.nn as nn
import torch.nn.functional as F


class ShuffleUnit(nn.Module):
    def __init__(self, channels):
        super().__init__()
        half = channels // 2
        self.branch = nn.Sequential(
            nn.Conv2d(half, half, 1, bias=False), nn.GroupNorm(2, half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False), nn.GroupNorm(2, half),
            nn.Conv2d(half, half, 1, bias=False), nn.GroupNorm(2, half), nn.ReLU(inplace=True))

    @staticmethod
    def shuffle(x, groups=2):
        n, c, h, w = x.size()
        return x.view(n, groups, c // groups, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return self.shuffle(torch.cat([x1, self.branch(x2)], dim=1))


class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduction=4):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu6(self.fc1(s))))


class InvertedResidual(nn.Module):
    def __init__(self, channels, expand=2):
        super().__init__()
        hidden = channels * expand
        self.block = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.Hardswish(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            SqueezeExcite(hidden),
            nn.Conv2d(hidden, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x):
        return x + self.block(x)


class ConvNeXtBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.pwconv1 = nn.Linear(channels, 2 * channels)
        self.act = nn.SiLU()
        self.pwconv2 = nn.Linear(2 * channels, channels)
        self.gamma = nn.Parameter(1e-1 * torch.ones(channels))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class ModernNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.GroupNorm(4, 8), nn.SiLU())
        self.stages = nn.Sequential(ShuffleUnit(8), nn.MaxPool2d(2), InvertedResidual(8), nn.MaxPool2d(2),
                                    ConvNeXtBlock(8))
        self.heads = nn.ModuleDict({'classes': nn.Linear(8, num_classes), 'rotation': nn.Linear(8, 4)})

    def forward(self, x):
        features = torch.flatten(F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1), 1)
        return self.heads['classes'](features)


net = ModernNet()
print(net.heads)
print(sum(p.numel() for p in net.parameters()), 'parameters in', len(list(net.modules())), 'modules')
