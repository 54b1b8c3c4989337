"""The kernels switch: each op's fast kernels agree with its plain reference (forward, gradients, optimizer
steps), so do whole training steps of cnn3 and resnet10, reference mode never imports numba, and a bad
setting is refused with a clear message."""
import gc
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import optim
from minitorch_cifar.kernels import activation, workers
from minitorch_cifar.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_float32_close(fast, reference, what, rtol=1e-5):
    """Equal up to float32 rounding, relative to the array's scale (sums run in different orders)."""
    fast, reference = np.asarray(fast), np.asarray(reference)
    assert fast.dtype == reference.dtype, f"{what}: dtype {fast.dtype} fast, {reference.dtype} reference"
    scale = max(float(np.abs(reference).max(initial=0)), 1e-30)
    np.testing.assert_allclose(fast, reference, rtol=rtol, atol=rtol * scale, err_msg=what)


def in_both_modes(run):
    """``run()`` with the fast kernels, then with the reference ones, from the same seed."""
    results = []
    for mode in ("fast", "reference"):
        mt.manual_seed(0)
        with mt.use_kernels(mode):
            results.append(run())
    return results


# ----------------------------------------------------------------------------- per op
def channels_last(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def batch_norm(x, weight, bias, training):
    mean, var = mt.zeros(x.shape[1]) + 0.1, mt.ones(x.shape[1]) * 1.5
    return F.batch_norm(x, mean, var, weight, bias, training=training)


OPS = {  # name: (function of the inputs, input shapes)
    "relu": (F.relu, [(4, 6, 13, 15)]),  # above activation.SMALL, where the fast kernel runs
    "gelu": (F.gelu, [(5, 300)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1), [(4, 6, 9, 11)]),
    "max_pool2d_dilated_ceil": (lambda x: F.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True), [(2, 3, 10, 9)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1), [(4, 6, 9, 11)]),
    "avg_pool2d_no_pad_count": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [(2, 3, 7, 8)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(4, 6, 7, 8)]),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, 1), [(4, 6, 7, 8)]),
    "batch_norm_train": (lambda x, w, b: batch_norm(x, w, b, True), [(8, 5, 6, 6), (5,), (5,)]),
    "batch_norm_eval": (lambda x, w, b: batch_norm(x, w, b, False), [(8, 5, 6, 6), (5,), (5,)]),
    "batch_norm_1d": (lambda x, w, b: batch_norm(x, w, b, True), [(16, 7), (7,), (7,)]),
    "linear": (F.linear, [(64, 300), (200, 300), (200,)]),
    "linear_big_weight": (F.linear, [(4, 1024), (256, 1024), (256,)]),  # 1 MiB, 64x the input: W x^T (fast)
    "dropout": (lambda x: F.dropout(x, 0.3), [(6, 50)]),
}


# 4-D inputs run once more as channels-last memory, the layout the fast kernels keep
OP_CASES = [(name, "nchw") for name in sorted(OPS)] + [(name, "channels_last") for name in sorted(OPS)
                                                        if len(OPS[name][1][0]) == 4]


@pytest.mark.parametrize("name,layout", OP_CASES)
def test_op_fast_and_reference_agree(name, layout, monkeypatch):
    """Forward and every input's gradient, float32, from the same inputs and upstream gradient."""
    monkeypatch.setattr(workers, "SPLIT_MATMUL_MIN_PRODUCTS", 1)  # the linear layer's threaded product
    op, shapes = OPS[name]
    rng = np.random.default_rng(1)
    # distinct values (no ties) away from ReLU's kink at 0
    arrays = [(rng.permutation(int(np.prod(s))).reshape(s) / np.prod(s) * 4 - 2 + 1e-3).astype(np.float32)
              for s in shapes]
    if layout == "channels_last":
        arrays[0] = channels_last(arrays[0])

    def run():
        inputs = [mt.Tensor(a.copy(), requires_grad=True) for a in arrays]
        out = op(*inputs)
        upstream = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)
        out.backward(mt.Tensor(upstream))
        return [out.detach().numpy()] + [t.grad.numpy() for t in inputs]

    fast, reference = in_both_modes(run)
    for i, (f, r) in enumerate(zip(fast, reference)):
        assert_float32_close(f, r, f"{name}: {'forward' if i == 0 else f'gradient of input {i - 1}'}")


RELU_INPUTS = {  # 1155 elements: the last byte of the fast kernel's bits is partial
    "nchw": lambda x: x,
    "channels_last": channels_last,
    "with_gaps": lambda x: np.repeat(x, 2, axis=3)[..., ::2],  # not dense: NumPy writes the output
}


@pytest.mark.parametrize("grad_layout", ["same", "other"])
@pytest.mark.parametrize("layout", sorted(RELU_INPUTS))
def test_fast_relu_keeps_bits_that_give_the_reference_gradient(layout, grad_layout):
    """The numba ReLU keeps one bit per element for its backward; read in the output's memory layout or (through
    its boolean mask) in another, they give the reference's gradient, NaN and signed zeros included."""
    fast = mt.kernels.numba_kernels("activation_numba")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 7, 11)).astype(np.float32)
    x[0, 0, 0, :4] = [0.0, -0.0, np.nan, 1e-30]
    x = RELU_INPUTS[layout](x)
    out, positive = fast.relu_forward(x)
    reference_out, reference_positive = activation.reference_relu_forward(x)
    np.testing.assert_array_equal(out, reference_out)
    assert positive.bits.nbytes == -(-x.size // 8)
    grad = np.empty_like(out)  # out's memory layout
    grad[...] = rng.standard_normal(x.shape)
    if grad_layout == "other":
        grad = np.ascontiguousarray(grad) if layout == "channels_last" else channels_last(grad)
    assert (grad.strides == out.strides) == (grad_layout == "same")
    np.testing.assert_array_equal(fast.relu_backward(grad, positive),
                                  activation.reference_relu_backward(grad, reference_positive))


@pytest.mark.parametrize("mode", ["fast", "reference"])
def test_relu_output_is_freed_when_only_relu_would_keep_it(mode):
    """ReLU's backward needs only where its output was positive: followed by a max-pool (which keeps its indices),
    the output's memory is freed after forward, and the gradient is still right."""
    x = mt.tensor(np.random.default_rng(5).standard_normal((2, 4, 30, 30)).astype(np.float32), requires_grad=True)
    with mt.use_kernels(mode):
        y = F.relu(x)
        out = weakref.ref(y.array)
        loss = F.max_pool2d(y, 2).sum()
        del y
        gc.collect()
        assert out() is None
        loss.backward()
    pooled_from = F.max_pool2d(x.detach(), 2, return_indices=True)[1].numpy()
    expected = np.zeros(x.shape, np.float32).reshape(2, 4, -1)
    np.put_along_axis(expected, pooled_from.reshape(2, 4, -1), 1.0, axis=2)
    np.testing.assert_array_equal(x.grad.numpy(), expected.reshape(x.shape) * (x.detach().numpy() > 0))


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=5e-4)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3)),
]


@pytest.mark.parametrize("name,options", OPTIMIZERS, ids=[f"{n}-{'-'.join(o)}" for n, o in OPTIMIZERS])
def test_optimizer_fast_and_reference_steps_are_equal(name, options):
    """Large parameters take the one-pass numba update in fast mode: bitwise the reference's result."""
    rng = np.random.default_rng(0)
    start = rng.uniform(-2, 2, (128, 512)).astype(np.float32)
    grads = [rng.standard_normal(start.shape).astype(np.float32) for _ in range(3)]

    def run():
        param = mt.nn.Parameter(mt.Tensor(start.copy()))
        opt = getattr(optim, name)([param], **options)
        for g in grads:
            param.grad = mt.Tensor(g)
            opt.step()
        return param.detach().numpy()

    fast, reference = in_both_modes(run)
    np.testing.assert_array_equal(fast, reference)


# ----------------------------------------------------------------------------- whole training steps
def training_steps(model_name, make_optimizer, steps=2):
    """Loss, every gradient and the parameters and buffers after each of ``steps`` steps of ``model_name`` on a
    fixed batch, with the fast kernels and with the reference ones, as two records. Both models are built from seed
    0 and run in float64, and each reference step starts from the state (weights, buffers, optimizer state) the fast
    run had before that step. In float32 a value within rounding of a ReLU's kink or of a max-pool tie sends a
    gradient another way in one of the two runs and moves every gradient below it by about 1%: in 1 to 3 of 8
    batches tried, for three of the four pairs of model and optimizer below. In float64 the two agree to about
    1e-14 of the largest gradient on every batch tried, so any difference in what the kernels compute shows. (The
    float32 kernels are compared op by op above.)"""
    models, optimizers = {}, {}
    for mode in ("fast", "reference"):
        mt.manual_seed(0)
        with mt.use_kernels(mode):
            models[mode] = mt.models.get_model(model_name).double()
            optimizers[mode] = make_optimizer(models[mode].parameters())
    rng = np.random.default_rng(3)
    x = mt.tensor(rng.standard_normal((4, 3, 32, 32)))
    y = mt.tensor(rng.integers(0, 10, 4))
    records = {"fast": {}, "reference": {}}
    for step in range(steps):
        weights = {n: mt.tensor(t.detach().numpy().copy()) for n, t in models["fast"].state_dict().items()}
        models["reference"].load_state_dict(weights)
        optimizers["reference"].load_state_dict(optimizers["fast"].state_dict())
        for mode, record in records.items():
            model, opt = models[mode], optimizers[mode]
            with mt.use_kernels(mode):
                mt.manual_seed(step)  # the same dropout masks in both
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                record[f"step {step}: loss"] = loss.detach().numpy()
                record.update({f"step {step}: gradient of {n}": p.grad.numpy().copy()
                               for n, p in model.named_parameters()})
                opt.step()
            record.update({f"after step {step}: {n}": t.detach().numpy().copy() for n, t in model.state_dict().items()})
    return records["fast"], records["reference"]


@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam"])
@pytest.mark.parametrize("model_name", ["cnn3", "resnet10"])
def test_training_steps_fast_and_reference_agree(model_name, optimizer):
    make_optimizer = {
        "sgd_momentum": lambda params: optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4),
        # Adam's first steps are about lr * g / (|g| + eps): for gradients that are rounding noise around zero
        # (a convolution's bias before BatchNorm), the default eps would let rounding pick the step's sign.
        "adam": lambda params: optim.Adam(params, lr=1e-3, eps=1e-3),
    }[optimizer]
    fast, reference = training_steps(model_name, make_optimizer)
    assert fast.keys() == reference.keys()
    scale = max(float(np.abs(v).max()) for k, v in reference.items() if "gradient" in k)
    for what in reference:
        if "gradient" in what:  # relative to the largest gradient: some (biases before BatchNorm) are only noise
            np.testing.assert_allclose(fast[what], reference[what], rtol=1e-9, atol=1e-12 * scale, err_msg=what)
        else:
            np.testing.assert_allclose(fast[what], reference[what], rtol=1e-9, atol=1e-12, err_msg=what)


# ----------------------------------------------------------------------------- no numba, bad settings
NO_NUMBA_STEP = textwrap.dedent("""
    import json, sys
    import numpy as np
    import minitorch_cifar as mt
    from minitorch_cifar.nn import functional as F

    assert mt.get_kernels() == "reference"
    model = mt.models.get_model("cnn3")
    x = mt.tensor(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
    for opt in (mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), mt.optim.Adam(model.parameters())):
        loss = F.cross_entropy(model(x), mt.tensor([1, 2]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    numba = sys.modules.get("numba")
    users = sorted(name for name, module in list(sys.modules.items()) if name.startswith("minitorch_cifar")
                   and numba is not None and getattr(module, "numba", None) is numba)
    print(json.dumps({"numba": numba is not None, "users": users}))
""")

def run_python(code, **environment):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), **environment)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)


@pytest.mark.parametrize("factor, size, build", [(1, 99, "serial"), (1, 100, "parallel"), (8, 799, "serial"),
                                                  (8, 800, "parallel")])
def test_sized_kernel_goes_parallel_from_its_factor_times_the_threshold(factor, size, build, monkeypatch):
    """A kernel built with ``parallel_factor`` (ReLU's) runs its parallel build from that many times
    PARALLEL_MIN_ELEMENTS on, counted by ``elements`` or else by the first array's size."""
    from minitorch_cifar.kernels import sized
    monkeypatch.setattr(sized, "PARALLEL_MIN_ELEMENTS", 100)
    monkeypatch.setattr(sized.numba, "get_num_threads", lambda: 2)
    kernel = sized.SizedKernel(lambda a: None, factor)
    ran = []
    kernel.parallel, kernel.serial = (lambda a: ran.append("parallel")), (lambda a: ran.append("serial"))
    kernel(np.zeros(size))
    kernel(np.zeros(1), elements=size)
    assert ran == [build, build]


THREADING_LAYER = textwrap.dedent("""
    import numba
    import minitorch_cifar as mt
    numba.set_num_threads(2)
    mt.nn.BatchNorm2d(8)(mt.ones(64, 8, 64, 64))  # 2M elements: a parallel loop starts the threading layer
    print(numba.threading_layer())
""")


def _installed(distribution):
    try:
        return bool(importlib.metadata.version(distribution))
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.parametrize("environment, expected", [
    ({}, "tbb" if _installed("tbb") else "workqueue"),
    ({"NUMBA_THREADING_LAYER": "workqueue"}, "workqueue"),
    ({"NUMBA_THREADING_LAYER_PRIORITY": "workqueue tbb omp"}, "workqueue")])
def test_threading_layer_is_tbb_where_installed_unless_the_environment_chooses(environment, expected):
    """The package's choice (``workers.configure_threads``): tbb where it loads, else workqueue, never omp's
    spinning threads; a user's NUMBA_THREADING_LAYER or NUMBA_THREADING_LAYER_PRIORITY wins."""
    result = run_python(THREADING_LAYER, NUMBA_NUM_THREADS="2", **environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == expected


PARALLEL_LOOPS_FROM_THREADS = textwrap.dedent("""
    import threading
    import numba
    import minitorch_cifar as mt

    def train():
        numba.set_num_threads(2)  # per thread, as numba keeps it
        with mt.no_grad():
            for _ in range(5):
                mt.nn.BatchNorm2d(8)(mt.ones(64, 8, 64, 64))  # parallel loops

    threads = [threading.Thread(target=train) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(numba.threading_layer())
""")


@pytest.mark.skipif(not _installed("tbb"), reason="the tbb package is not installed")
def test_parallel_loops_may_start_from_several_threads_with_tbb():
    """With the tbb layer, parallel loops run from three Python threads at once (workqueue stops the process)."""
    result = run_python(PARALLEL_LOOPS_FROM_THREADS, NUMBA_NUM_THREADS="2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "tbb"


def test_reference_mode_never_imports_numba():
    """Importing the package and a cnn3 training step (SGD with momentum, then Adam) in reference mode."""
    result = run_python(NO_NUMBA_STEP, MINITORCH_CIFAR_KERNELS="reference")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["users"], f"reference mode imported numba kernels in {report['users']}"
    assert not report["numba"], "reference mode imported numba"


@pytest.mark.parametrize("value", ["turbo", "Reference", ""])
def test_bad_environment_value_is_refused_in_one_line(value):
    result = run_python("import minitorch_cifar", MINITORCH_CIFAR_KERNELS=value)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"ValueError: environment variable MINITORCH_CIFAR_KERNELS: kernels must be 'fast' or "
                    f"'reference', got {value!r}"), result.stderr


def test_set_kernels_and_use_kernels():
    with mt.use_kernels("reference"):
        assert mt.get_kernels() == "reference"
        mt.set_kernels("fast")
        assert mt.get_kernels() == "fast"
    with pytest.raises(ValueError, match=r"set_kernels: kernels must be 'fast' or 'reference', got 'numpy'"):
        mt.set_kernels("numpy")
    with pytest.raises(RuntimeError), mt.use_kernels("reference"):
        raise RuntimeError("the block failed")
    assert mt.get_kernels() == os.environ.get("MINITORCH_CIFAR_KERNELS", "fast")
