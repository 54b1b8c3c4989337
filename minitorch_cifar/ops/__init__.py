"""Differentiable ops, each a ``Function`` with its forward and backward together.

The functions below are the module-level spellings (``minitorch_cifar.cat``, ``.where`` ...);
most ops are also methods of ``Tensor``.
"""
import numpy as np

from .elementwise import Maximum, Where
from .shape import Cat, Pad, Stack


def cat(tensors, dim=0):
    """Join tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    return Cat.apply(*tensors, axis=dim)


def stack(tensors, dim=0):
    """Join tensors of one shape along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    return Stack.apply(*tensors, axis=dim)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other`` (each may broadcast)."""
    if not hasattr(condition, "shape"):  # a nested list of bools: on the CPU, as Tensor(condition) would be
        condition = np.asarray(condition)
    return Where.apply(condition, input, other)


def pad(input, pad, mode="constant", value=0.0):
    """Pad with PyTorch's order: (left, right) of the last axis first. Modes: constant, reflect, replicate, circular."""
    return Pad.apply(input, pad=tuple(pad), mode=mode, value=value)


def maximum(input, other):
    return Maximum.apply(input, other, take_max=True)


def minimum(input, other):
    return Maximum.apply(input, other, take_max=False)
