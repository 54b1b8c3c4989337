"""``DataParallel`` as a pass-through: the framework runs a model on one device, so wrapping changes nothing but
the names, which are PyTorch's (``.module``, state_dict keys prefixed with ``module.``)."""
from .module import Module


class DataParallel(Module):
    """Runs ``module`` unchanged on its own device. ``device_ids``, ``output_device`` and ``dim`` are accepted for
    PyTorch's signature and have no effect: there is no splitting of the batch across GPUs."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
