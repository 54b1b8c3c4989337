"""The kinds of check, each a small class whose ``rows(device)`` runs it and returns its ``Row``s of results.

    Differentiable   an op, layer, loss or model: the float64 gradient check (``testing.gradcheck``) on the device,
                     and float32 on the device against float64 on the CPU (forward and every gradient)
    OptimizerStep    a few steps of an optimizer, float32 on the device against float64 on the CPU
    DropoutMask      dropout's masks on the device: their shape, the rate of zeros, the scale, the gradient
    Augmentation     the batch augmentations on the device against a plain loop over the images, on the CPU

The reference of every comparison is the CPU in float64 with the plain reference kernels (``kernels.switch``), so
``--device cpu`` checks the fast float32 kernels of the CPU the same way ``--device cuda`` checks the GPU's.
"""
import dataclasses
import math
from typing import Callable, Optional

import numpy as np

from .. import backend, testing
from ..kernels.switch import use_kernels
from ..tensor import Tensor


@dataclasses.dataclass
class Row:
    """One result: what ran (``test``) on which shapes, the largest error against its tolerance, and a note on
    failure."""
    name: str
    test: str
    shapes: str
    error: float
    tolerance: str
    passed: bool
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Arg:
    """One input: floats uniform in [low, high) (``sign``: magnitudes in [low, high) with a random sign, which keeps
    them away from kinks at 0), integer ``labels`` in [0, high), or a boolean ``mask``; ``grad=False`` makes a float
    input a constant (a target)."""
    shape: tuple
    low: float = -2.0
    high: float = 2.0
    kind: str = "float"
    sign: bool = False
    grad: bool = True

    def draw(self, rng):
        if self.kind == "labels":
            return rng.integers(0, int(self.high), self.shape)
        if self.kind == "mask":
            return rng.random(self.shape) < 0.5
        values = rng.uniform(self.low, self.high, self.shape)
        return values * rng.choice([-1.0, 1.0], self.shape) if self.sign else values

    @property
    def differentiable(self):
        return self.kind == "float" and self.grad


def shapes_of(shapes):
    return ", ".join("x".join(map(str, shape)) or "()" for shape in shapes)


def _tolerance(atol, rtol):
    return f"atol {atol:.0e} rtol {rtol:.0e}"


def _compared(pairs, atol, rtol):
    """(largest |candidate - reference|, whether every pair is close) over (name, candidate, reference) triples;
    the candidate is moved to the CPU, a missing one fails."""
    worst, close, missing = 0.0, True, []
    for name, candidate, reference in pairs:
        if candidate is None or reference is None:
            missing.append(name)
            continue
        candidate = backend.to_device(candidate, "cpu").astype(np.float64)
        reference = np.asarray(reference, dtype=np.float64)
        if candidate.shape != reference.shape:
            missing.append(f"{name} of shape {candidate.shape}, not {reference.shape}")
            continue
        difference = np.abs(candidate - reference)
        worst = max(worst, float(np.nan_to_num(difference, nan=np.inf).max(initial=0.0)))
        close &= bool(np.all(difference <= atol + rtol * np.abs(reference)))
    note = f"missing: {', '.join(missing)}" if missing else ""
    return worst, close and not missing, note


def _against_reference(run, dtype, device, atol, rtol):
    """``run(dtype, device)`` gives named arrays: in ``dtype`` on ``device`` against float64 on the CPU with the
    reference kernels, as ``_compared`` reports it; the two must name the same arrays."""
    with use_kernels("reference"):
        reference = run(np.float64, "cpu")
    candidate = run(dtype, device)
    if [name for name, _ in reference] != [name for name, _ in candidate]:
        raise AssertionError(f"{[n for n, _ in candidate]} differ from the CPU's {[n for n, _ in reference]}")
    return _compared([(name, c, r) for (name, c), (_, r) in zip(candidate, reference)], atol, rtol)


def _reference_row(check, test, run, dtype, device):
    """The row of ``check`` (its name, shapes and tolerance) for ``_against_reference(run, dtype, device, ...)``."""
    atol, rtol = check.tolerance
    tolerance = _tolerance(atol, rtol)
    try:
        error, passed, note = _against_reference(run, dtype, device, atol, rtol)
    except Exception as e:
        return _failed(check.name, test, check.shapes, tolerance, e)
    return Row(check.name, test, check.shapes, error, tolerance, passed, note)


def _failed(name, test, shapes, tolerance, error):
    """The row of a check that raised: the exception's type and first line."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return Row(name, test, shapes, math.inf, tolerance, False, f"{type(error).__name__}: {message}")


@dataclasses.dataclass(frozen=True)
class Differentiable:
    """``fn(*inputs)`` (or ``fn(module, *inputs)`` when ``module`` builds a layer or model, whose parameters are
    checked too). ``gradcheck`` holds testing.gradcheck's options (None: no float64 check, for models, whose
    layers have their own); ``tolerance`` is the comparison's (atol, rtol), which runs in ``dtype`` on the device
    against float64 on the CPU with the reference kernels."""
    name: str
    inputs: tuple
    fn: Optional[Callable] = None
    module: Optional[Callable] = None
    tolerance: tuple = (1e-5, 1e-5)
    gradcheck: Optional[dict] = dataclasses.field(default_factory=dict)
    dtype: type = np.float32

    def build(self, dtype, device, seed=0):
        """The inputs as tensors of ``dtype`` on ``device`` and the module (or None), the same draws every call."""
        from .. import manual_seed
        rng = np.random.default_rng(seed)
        tensors = []
        for arg in self.inputs:
            array = arg.draw(rng)
            array = array.astype(dtype) if arg.kind == "float" else array
            tensors.append(Tensor(array, device=device, requires_grad=arg.differentiable))
        module = None
        if self.module is not None:
            manual_seed(seed)  # the same initial weights on both sides
            module = self.module().to(device, dtype)
        return tensors, module

    def call(self, module, tensors):
        if module is None:
            return self.fn(*tensors)
        return (self.fn or (lambda m, *t: m(*t)))(module, *tensors)

    @property
    def shapes(self):
        return shapes_of(arg.shape for arg in self.inputs)

    def rows(self, device):
        return ([] if self.gradcheck is None else [self._gradcheck_row(device)]) + [self._comparison_row(device)]

    def _gradcheck_row(self, device):
        options = dict(dict(atol=1e-5, rtol=1e-3), **self.gradcheck)
        test = "gradcheck f64" + (f", {options['directions']} directions" if "directions" in options else "")
        tolerance = _tolerance(options["atol"], options["rtol"])
        try:
            tensors, module = self.build(np.float64, device)
            parameters = [] if module is None else [p for p in module.parameters() if p.requires_grad]
            inputs = tensors + parameters
            error = testing.gradcheck(lambda *t: self.call(module, t[:len(tensors)]), inputs, return_error=True,
                                      **options)
        except testing.GradcheckError as e:
            return Row(self.name, test, self.shapes, math.inf, tolerance, False, str(e))
        except Exception as e:  # a crash is a failed check, and the next checks still run
            return _failed(self.name, test, self.shapes, tolerance, e)
        return Row(self.name, test, self.shapes, error, tolerance, True)

    def _forward_backward(self, dtype, device):
        """The output and every gradient (inputs', then parameters'), as arrays of ``device``."""
        tensors, module = self.build(dtype, device)
        out = self.call(module, tensors)
        upstream = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
        out.backward(Tensor(upstream, device=device))
        parameters = [] if module is None else list(module.named_parameters())
        gradients = [(f"input {i} grad", t) for i, t in enumerate(tensors) if t.requires_grad]
        gradients += [(f"{name} grad", p) for name, p in parameters]
        return [("output", out.array)] + [(name, None if t.grad is None else t.grad.array) for name, t in gradients]

    def _comparison_row(self, device):
        return _reference_row(self, f"f{np.dtype(self.dtype).itemsize * 8} {device} vs f64 cpu", self._forward_backward,
                              self.dtype, device)


class _OneRow:
    """A check of one row, made by ``row(device)``."""

    def rows(self, device):
        return [self.row(device)]


@dataclasses.dataclass(frozen=True)
class OptimizerStep(_OneRow):
    """``steps`` updates by ``make(parameters)`` of parameters of ``shapes`` with fresh random gradients each step;
    the parameters and the optimizer's state after them, float32 on the device against float64 on the CPU."""
    name: str
    make: Callable
    shapes_: tuple = ((200, 200), (7,))  # a matrix and a vector: both take the one-pass kernel on the CPU
    steps: int = 3
    tolerance: tuple = (1e-6, 1e-5)

    @property
    def shapes(self):
        return shapes_of(self.shapes_)

    def _run(self, dtype, device):
        rng = np.random.default_rng(0)
        parameters = [Tensor(rng.uniform(-1, 1, shape).astype(dtype), device=device, requires_grad=True)
                      for shape in self.shapes_]
        optimizer = self.make(parameters)
        for _ in range(self.steps):
            for p in parameters:
                p.grad = Tensor(rng.standard_normal(p.shape).astype(dtype), device=device)
            optimizer.step()
        results = [(f"parameter {i}", p.array) for i, p in enumerate(parameters)]
        for i, p in enumerate(parameters):
            results += [(f"parameter {i} {key}", value.array) for key, value in sorted(optimizer.state[p].items())
                        if isinstance(value, Tensor)]
        return results

    def row(self, device):
        return _reference_row(self, f"{self.steps} steps f32 {device} vs f64 cpu", self._run, np.float32, device)


@dataclasses.dataclass(frozen=True)
class DropoutMask(_OneRow):
    """A dropout layer ``make()`` in training mode on ones of ``shape``: the output keeps the shape; each element
    (or, with ``block``, each whole (N, C) plane) is 0 or 1/(1-p) (to float32's rounding); the rate of zeros is p
    within 5 standard deviations of a binomial count; the gradient is the upstream gradient times the same mask."""
    name: str
    make: Callable
    p: float
    shape: tuple = (32, 16, 8, 8)
    block: bool = False

    @property
    def shapes(self):
        return shapes_of([self.shape])

    def row(self, device):
        from .. import manual_seed
        draws = self.shape[0] * self.shape[1] if self.block else int(np.prod(self.shape))
        sigma = math.sqrt(self.p * (1 - self.p) / draws)
        test, tolerance = f"mask rate on {device}", f"5 sd = {5 * sigma:.1e}"
        try:
            manual_seed(0)
            x = Tensor(np.ones(self.shape, dtype=np.float32), device=device, requires_grad=True)
            out = self.make().train()(x)
            upstream = np.random.default_rng(0).standard_normal(self.shape).astype(np.float32)
            out.backward(Tensor(upstream, device=device))
            mask = backend.to_device(out.array, "cpu")
            grad = backend.to_device(x.grad.array, "cpu")
            rate = float((mask == 0).mean())
            problems = []
            if mask.shape != tuple(self.shape):
                problems.append(f"output shape {mask.shape}")
            if not np.all((mask == 0) | np.isclose(mask, 1 / (1 - self.p), rtol=1e-6, atol=0)):
                problems.append("kept values are not scaled by 1/(1-p)")
            if self.block and not np.all(mask == mask[:, :, :1, :1]):
                problems.append("a channel is partly dropped")
            if not np.allclose(grad, upstream * mask, rtol=1e-6, atol=0):
                problems.append("the gradient is not the upstream gradient times the mask")
        except Exception as e:
            return _failed(self.name, test, self.shapes, tolerance, e)
        error = abs(rate - self.p)
        passed = error <= 5 * sigma and not problems
        return Row(self.name, test, self.shapes, error, tolerance, passed, "; ".join(problems))


@dataclasses.dataclass(frozen=True)
class Augmentation(_OneRow):
    """``transform`` applied to a uint8 batch on the device, against ``reference(transform, batch, params)``, a
    plain loop over the images in NumPy, with the same random parameters (``transform.sample``); for a
    ``Compose``, ``reference`` is a list, one for each transform."""
    name: str
    transform: object
    reference: object
    shape: tuple = (16, 3, 12, 12)
    tolerance: tuple = (0.0, 0.0)

    @property
    def shapes(self):
        return shapes_of([self.shape])

    def _expected(self, batch, rng):
        transforms = getattr(self.transform, "transforms", [self.transform])
        references = self.reference if isinstance(self.reference, list) else [self.reference]
        for transform, reference in zip(transforms, references):
            batch = reference(transform, batch, transform.sample(batch.shape, rng))
        return batch

    def row(self, device):
        atol, rtol = self.tolerance
        test, tolerance = f"on {device} vs image loop", _tolerance(atol, rtol)
        try:
            batch = np.random.default_rng(0).integers(0, 256, self.shape).astype(np.uint8)
            out = self.transform(backend.to_device(batch, device), np.random.default_rng(1))
            expected = self._expected(batch, np.random.default_rng(1))
            error, passed, note = _compared([("batch", out, expected)], atol, rtol)
            if out.dtype != expected.dtype:
                passed, note = False, f"dtype {out.dtype}, expected {expected.dtype}"
        except Exception as e:
            return _failed(self.name, test, self.shapes, tolerance, e)
        return Row(self.name, test, self.shapes, error, tolerance, passed, note)
