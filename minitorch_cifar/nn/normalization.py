"""GroupNorm, LayerNorm and InstanceNorm2d with PyTorch's arguments, parameters and initialisation (weight 1,
bias 0)."""
from .. import factories
from ..ops.norm import group_norm, layer_norm
from . import functional as F
from . import init
from .module import Module, Parameter


class _AffineNorm(Module):
    """A normalisation followed by a learnable scale (``weight``) and shift (``bias``) of ``shape``, if ``affine``."""

    def _affine_parameters(self, shape, affine, bias, device, dtype):
        make = lambda: Parameter(factories.empty(*shape, device=device, dtype=dtype))  # noqa: E731
        self.register_parameter("weight", make() if affine else None)
        self.register_parameter("bias", make() if affine and bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)


class GroupNorm(_AffineNorm):
    """Normalises (N, C, ...) input over each group of C / num_groups channels, then scales and shifts each
    channel."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self._affine_parameters((num_channels,), affine, bias, device, dtype)

    def forward(self, x):
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LayerNorm(_AffineNorm):
    """Normalises input over its trailing axes ``normalized_shape``, then scales and shifts elementwise."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self._affine_parameters(shape, elementwise_affine, bias, device, dtype)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class InstanceNorm2d(_AffineNorm):
    """Normalises each channel of each (C, H, W) image over its positions, then (``affine``) scales and shifts each
    channel. Running statistics (``track_running_stats=True``) are not supported."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if track_running_stats:
            raise NotImplementedError("InstanceNorm2d: track_running_stats=True (normalising with running statistics "
                                      "in eval mode) is not supported here; use the default, False")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self._affine_parameters((num_features,), affine, bias, device, dtype)

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"expected 3D or 4D input (got {x.ndim}D input of shape {x.shape})")
        if self.affine and x.shape[-3] != self.num_features:
            raise ValueError(f"expected input's size at dim={x.ndim - 3} to match num_features ({self.num_features}), "
                             f"but got: {x.shape[-3]}.")
        batched = x if x.ndim == 4 else x.unsqueeze(0)
        out = F.instance_norm(batched, weight=self.weight, bias=self.bias, eps=self.eps)
        return out if x.ndim == 4 else out.squeeze(0)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")
