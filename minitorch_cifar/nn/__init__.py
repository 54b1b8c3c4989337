"""Layers, containers and losses with PyTorch's names, arguments and state_dict keys."""
from . import functional, init, utils
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout2d
from .layers import (ELU, GELU, Dropout, Flatten, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Linear,
                     LogSoftmax, Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Tanh)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .module import Module, Parameter, StateDictError
from .normalization import GroupNorm, LayerNorm
from .parallel import DataParallel
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .sparse import Embedding
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
