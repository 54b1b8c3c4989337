"""In-place weight initialisers with PyTorch's formulas (fans, gains, bounds)."""
import math

from .. import backend
from ..autograd import no_grad

_GAINS = {"linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "sigmoid": 1.0,
          "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance steady through ``nonlinearity``."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")
    return _GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor):
    """fan_in = in_channels x receptive field, fan_out = out_channels x receptive field."""
    if tensor.ndim < 2:
        raise ValueError(f"fans need a tensor of at least 2 dimensions, got shape {tensor.shape}")
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


@no_grad()
def uniform_(tensor, a=0.0, b=1.0):
    xp = backend.get_array_module(tensor.array)
    with backend.on_device(tensor.device):
        tensor.array[...] = backend.generator(xp).random(tensor.shape, dtype=tensor.dtype) * (b - a) + a
    return tensor


@no_grad()
def normal_(tensor, mean=0.0, std=1.0):
    xp = backend.get_array_module(tensor.array)
    with backend.on_device(tensor.device):
        tensor.array[...] = backend.generator(xp).standard_normal(tensor.shape, dtype=tensor.dtype) * std + mean
    return tensor


@no_grad()
def constant_(tensor, val):
    tensor.array[...] = val
    return tensor


@no_grad()
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """N(mean, std^2) truncated to [a, b] (values, not multiples of std): values outside are drawn again."""
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    mass = (math.erf((b - mean) / (std * math.sqrt(2))) - math.erf((a - mean) / (std * math.sqrt(2)))) / 2
    if mass < 1e-3:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds only {mass:.2g} of N({mean}, {std}^2); "
                         f"redrawing until values fall in it would take too long")
    xp = backend.get_array_module(tensor.array)
    with backend.on_device(tensor.device):
        def draw(shape):
            return backend.generator(xp).standard_normal(shape, dtype=tensor.dtype) * std + mean
        values = draw(tensor.shape)
        outside = (values < a) | (values > b)
        while outside.any():
            values[outside] = draw(int(outside.sum()))
            outside = (values < a) | (values > b)
        tensor.array[...] = values
    return tensor


@no_grad()
def orthogonal_(tensor, gain=1.0):
    """``gain`` times a uniformly random (semi-)orthogonal matrix, of the first axis by all the others flattened:
    the Q of a Gaussian matrix's QR decomposition, each column's sign made that of R's diagonal entry."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    xp = backend.get_array_module(tensor.array)
    with backend.on_device(tensor.device):
        q, r = xp.linalg.qr(backend.generator(xp).standard_normal((max(rows, cols), min(rows, cols))))
        q *= xp.sign(xp.diag(r))
        tensor.array[...] = (gain * (q.T if rows < cols else q)).reshape(tensor.shape).astype(tensor.dtype)
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He initialisation: U(-b, b) with b = gain * sqrt(3 / fan)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He initialisation: N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode)))


def xavier_uniform_(tensor, gain=1.0):
    """Glorot initialisation: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def default_init_(weight, bias=None):
    """PyTorch's default for Linear and Conv layers: kaiming_uniform_(a=sqrt(5)) for the weight, which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
