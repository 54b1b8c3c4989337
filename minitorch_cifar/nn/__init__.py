"""Layers, containers and losses with PyTorch's names, arguments and state_dict keys."""
from . import functional, init, utils
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout1d, Dropout2d
from .layers import (ELU, GELU, Dropout, Flatten, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU,
                     Linear, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Tanh, Unflatten)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .module import Module, Parameter, StateDictError
from .normalization import GroupNorm, InstanceNorm2d, LayerNorm
from .padding import ConstantPad2d, ReflectionPad2d, ReplicationPad2d, ZeroPad2d
from .parallel import DataParallel
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .sparse import Embedding
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
