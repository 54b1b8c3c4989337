"""``summary(model, input_shape)``: each layer's output shape and parameter count, like torchsummary."""
import math

import numpy as np

from ..tensor import Tensor
from ._inspect import inspecting

_RULE, _DOUBLE_RULE = "-" * 64, "=" * 64
_MB = 1024.0 ** 2
_DUMMY_BATCH = 2  # two samples, so that any layer that needs a batch statistic still runs


def summary(model, input_shape, device="cpu", batch_size=-1, dtype=None, print_fn=print):
    """Print, and return as a string, a torchsummary-style table of ``model``'s layers.

    ``input_shape`` is one sample's shape without the batch dimension, e.g. ``(3, 32, 32)``, or a list of
    such shapes for a model with several inputs. The model runs once, in eval mode under ``no_grad``, on a
    dummy batch of random numbers (from a private generator, so the framework's seed is not disturbed) made
    on ``device`` with ``dtype`` (default: the model's first floating-point parameter's dtype, else float32).
    Forward hooks on the layers record each output; they are removed, and every module's train/eval mode is
    restored, even when the forward raises.

    One row per call of a layer (a module with no sub-modules, or one that owns parameters itself), named
    ``ClassName-k`` with k the row number, giving its output shape with the batch dimension shown as
    ``batch_size`` (-1: any) and the number of parameters it owns. The totals count each parameter once; a
    parameter with ``requires_grad=False`` is non-trainable. Sizes are in MiB (as torchsummary's "MB"): the
    input, the outputs of every row twice (forward values and their gradients), and the parameters, for
    ``max(batch_size, 1)`` samples. ``print_fn=None`` only returns the text.
    """
    shapes = _input_shapes(input_shape)
    dtype = np.dtype(dtype) if dtype is not None else _float_dtype(model)
    rng = np.random.default_rng(0)
    inputs = [Tensor(rng.random((_DUMMY_BATCH, *s)).astype(dtype), device=device) for s in shapes]

    rows = []  # (layer, output shapes without the batch dimension, own parameter count, bytes per sample)

    def record(module, args, output):
        outputs = _tensors_in(output)
        per_sample = [t.shape[1:] for t in outputs]
        nbytes = sum(math.prod(s) * t.dtype.itemsize for s, t in zip(per_sample, outputs))
        own = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append((f"{type(module).__name__}-{len(rows) + 1}", per_sample, own, nbytes))

    handles = [m.register_forward_hook(record) for m in model.modules() if _is_layer(m)]
    try:
        with inspecting(model):
            model(*inputs)
    except Exception as error:
        if hasattr(error, "add_note"):  # Python 3.11+
            error.add_note(f"(raised by summary() running the model on a dummy input of shape(s) "
                           f"{[(_DUMMY_BATCH, *s) for s in shapes]} on {device})")
        raise
    finally:
        for handle in handles:
            handle.remove()

    text = _table(rows, list(model.parameters()), inputs, batch_size)
    if print_fn is not None:
        print_fn(text)
    return text


def _input_shapes(input_shape):
    """One shape, or a list of shapes, as a list of tuples of positive ints."""
    shapes = [input_shape] if all(isinstance(d, (int, np.integer)) for d in input_shape) else list(input_shape)
    shapes = [tuple(int(d) for d in s) for s in shapes]
    if not shapes or any(not s or min(s) < 1 for s in shapes):
        raise ValueError(f"summary(): input_shape must be one sample's shape without the batch dimension, such "
                         f"as (3, 32, 32), or a list of such shapes; got {input_shape!r}")
    return shapes


def _float_dtype(model):
    for p in model.parameters():
        if p.dtype.kind == "f":
            return p.dtype
    return np.dtype(np.float32)


def _is_layer(module):
    """A module that gets a row: one without sub-modules, or one that owns parameters itself."""
    return next(module.children(), None) is None or next(module.parameters(recurse=False), None) is not None


def _tensors_in(output):
    """The tensors a forward returned: one, or those inside a tuple or list."""
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for t in output if isinstance(t, Tensor)]
    return []


def _shape_text(per_sample, batch_size):
    shapes = [[batch_size, *s] for s in per_sample]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _table(rows, parameters, inputs, batch_size):
    unique = list({id(p): p for p in parameters}.values())
    total = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    samples = max(batch_size, 1)
    input_mb = samples * sum(t.array.nbytes for t in inputs) / _DUMMY_BATCH / _MB
    activations_mb = samples * 2 * sum(r[3] for r in rows) / _MB  # x2: each output and its gradient
    params_mb = sum(p.array.nbytes for p in unique) / _MB
    lines = [_RULE, f"{'Layer (type)':>20}  {'Output Shape':>25} {'Param #':>15}", _DOUBLE_RULE]
    lines += [f"{name:>20}  {_shape_text(shapes, batch_size):>25} {own:>15,}" for name, shapes, own, _ in rows]
    lines += [_DOUBLE_RULE,
              f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}",
              _RULE,
              f"Input size (MB): {input_mb:.2f}",
              f"Forward/backward pass size (MB): {activations_mb:.2f}",
              f"Params size (MB): {params_mb:.2f}",
              f"Estimated Total Size (MB): {input_mb + activations_mb + params_mb:.2f}",
              _RULE]
    return "\n".join(lines)
