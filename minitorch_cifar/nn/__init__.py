"""Layers, containers and losses with PyTorch's names, arguments and state_dict keys."""
from . import functional, init, utils
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout2d
from .layers import GELU, Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter, StateDictError
from .parallel import DataParallel
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
