"""Backend switches under PyTorch's names: ``backends.cuda.matmul.allow_tf32`` and ``backends.cudnn.*``.

``backends.cuda.matmul.allow_tf32`` (default False, as in PyTorch) lets float32 matrix products on a CUDA
device (the linear layers and the convolutions' products) run on the tensor cores in TF32: each operand
is rounded to a 10-bit mantissa (about 3 decimal digits) before the multiply, the sums stay float32.
Expect relative errors of about 1e-3 in each product instead of about 1e-7: harmless for training (the
gradient noise is far larger), and several times the float32 speed on Ampere and newer GPUs; it breaks
float32 comparisons at tight tolerances (the CPU parity checks run with it off). It takes effect from the
next product; float64 and the CPU are never affected::

    import minitorch_cifar as mt
    mt.backends.cuda.matmul.allow_tf32 = True

``backends.cudnn`` (``benchmark``, ``deterministic``, ``enabled``, ``allow_tf32``) is accepted so that
PyTorch scripts run unchanged, but has no effect: the framework does not use cuDNN (convolutions are im2col
and matrix products, which ``cuda.matmul.allow_tf32`` governs).
"""
import sys


class _Flags:
    """A namespace of boolean switches: reading gives the value, assigning checks that it is a bool."""

    def __init__(self, name, **defaults):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", dict(defaults))

    def __getattr__(self, flag):
        try:
            return self._values[flag]
        except KeyError:
            raise AttributeError(f"{self._name} has no setting {flag!r}; it has {', '.join(self._values)}") from None

    def __setattr__(self, flag, value):
        if flag not in self._values:
            raise AttributeError(f"{self._name} has no setting {flag!r}; it has {', '.join(self._values)}")
        if not isinstance(value, bool):
            raise TypeError(f"{self._name}.{flag} must be True or False, got {value!r}")
        self._values[flag] = value

    def __repr__(self):
        return f"{self._name}({', '.join(f'{k}={v}' for k, v in self._values.items())})"


class _Cuda:
    """``backends.cuda``: ``matmul.allow_tf32``."""

    def __init__(self):
        self.matmul = _Flags("backends.cuda.matmul", allow_tf32=False)


cuda = _Cuda()
cudnn = _Flags("backends.cudnn", enabled=True, benchmark=False, deterministic=False, allow_tf32=True)
# PyTorch scripts write `import torch.backends.cudnn as cudnn`: the import finds the switches here
sys.modules[__name__ + ".cudnn"] = cudnn
