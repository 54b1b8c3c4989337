"""The GPU path's logic, checked on the CPU with a CuPy-shaped stand-in: constants uploaded once per device,
ops run on their inputs' GPU, the TF32 switch, class-index range checks without a sync per step, and random streams that resume."""
import types

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, backends
from minitorch_cifar.data import transforms
from minitorch_cifar.kernels import pooling, pooling_cuda
from minitorch_cifar.nn import functional as F
from minitorch_cifar.ops import linalg

from cupy_standin import DeviceArray, StandInCupy, on_gpu


@pytest.fixture
def cupy(monkeypatch):
    standin = StandInCupy()
    monkeypatch.setattr(backend, "_cupy", standin)
    monkeypatch.setattr(backend, "_constants", {})
    monkeypatch.setattr(backend, "_tf32_in_cupy", None)
    monkeypatch.setattr(backend, "_saw_a_gpu", None)
    return standin


# ---------------------------------------------------------------------- constants on the device
def test_a_device_constant_is_uploaded_once_per_content_and_device(cupy):
    on_0, on_1 = on_gpu(np.zeros(2), 0), on_gpu(np.zeros(2), 1)
    first = backend.device_constant([1, 2, 3], on_0)
    assert backend.device_constant(np.array([1, 2, 3]), on_0) is first and len(cupy.uploads) == 1
    assert first.device.id == 0 and first.tolist() == [1, 2, 3]
    on_other = backend.device_constant([1, 2, 3], on_1)
    assert on_other.device.id == 1 and cupy.uploads == [(0, (3,)), (1, (3,))]
    assert backend.device_constant([1, 2, 4], on_0).tolist() == [1, 2, 4]                     # other content
    assert backend.device_constant([1, 2, 3], on_0, np.float32).dtype == np.float32          # other dtype
    assert len(cupy.uploads) == 4


def test_the_device_constant_cache_is_bounded(cupy, monkeypatch):
    monkeypatch.setattr(backend, "_MAX_CONSTANTS", 3)
    like = on_gpu(np.zeros(1))
    for value in range(5):
        backend.device_constant([value], like)
    assert len(backend._constants) == 3
    backend.device_constant([4], like)
    assert len(cupy.uploads) == 5  # the newest stayed
    backend.device_constant([0], like)
    assert len(cupy.uploads) == 6  # the oldest was dropped


def test_pooling_uploads_its_window_tables_once_per_layer_shape_and_device(cupy):
    windows, _ = pooling.sliding_windows((8, 6), (3, 3), (2, 2), (1, 1), (1, 1), False)
    x0, x1 = on_gpu(np.zeros((2, 3, 8, 6)), 0), on_gpu(np.zeros((2, 3, 8, 6)), 1)
    args = pooling_cuda._window_args(windows, x0, x0.shape, (2, 3, 4, 3))
    assert len(cupy.uploads) == 4
    for got, table in zip(args[:2] + args[3:5], (windows.h_start, windows.h_stop, windows.w_start, windows.w_stop)):
        np.testing.assert_array_equal(got, table)
    assert args[2] == args[5] == 1 and args[6:] == (8, 6, 4, 3)
    again = pooling_cuda._window_args(windows, x0, x0.shape, (2, 3, 4, 3))
    assert len(cupy.uploads) == 4 and all(a is b for a, b in zip(args, again))
    pooling_cuda._window_args(windows, x1, x1.shape, (2, 3, 4, 3))
    assert len(cupy.uploads) == 8 and {device for device, _ in cupy.uploads[4:]} == {1}
    square, _ = pooling.sliding_windows((10, 10), (3, 3), (2, 2), (1, 1), (1, 1), False)
    pooling_cuda._window_args(square, x0, (2, 3, 10, 10), (2, 3, 5, 5))
    assert len(cupy.uploads) == 10  # rows and columns have the same tables: one copy serves both


def test_normalize_uploads_mean_and_std_once_per_device(cupy):
    normalize = transforms.Normalize((0.5, 0.25, 0.0), (0.5, 0.25, 2.0))
    batch = on_gpu(np.random.default_rng(0).random((4, 3, 2, 2), dtype=np.float32))
    expected = (np.asarray(batch) - np.array([0.5, 0.25, 0.0], np.float32)[:, None, None]) \
        / np.array([0.5, 0.25, 2.0], np.float32)[:, None, None]
    for _ in range(3):
        np.testing.assert_allclose(normalize.apply(batch, None), expected, rtol=1e-6)
    assert len(cupy.uploads) == 2


# ---------------------------------------------------------------------- arrays crossing between host and device
def test_setitem_moves_an_array_value_to_the_tensors_device(cupy):
    gpu = mt.Tensor._wrap(on_gpu(np.zeros(4, np.float32), 1))
    gpu[1:3] = np.array([1.0, 2.0], np.float32)
    assert cupy.uploads == [(1, (2,))] and gpu.array.tolist() == [0, 1, 2, 0]
    gpu[0] = 5.0  # a number needs no copy
    assert len(cupy.uploads) == 1 and gpu.array[0] == 5
    cpu = mt.zeros(3)
    cpu[:2] = on_gpu(np.array([3.0, 4.0], np.float32))
    assert type(cpu.array) is np.ndarray and cpu.tolist() == [3, 4, 0]


def test_an_array_dataset_of_gpu_arrays_or_tensors_holds_numpy(cupy):
    from minitorch_cifar.data import ArrayDataset
    images = on_gpu(np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2))
    dataset = ArrayDataset(images, mt.Tensor._wrap(on_gpu(np.array([1, 0]))))
    assert type(dataset.data) is np.ndarray and type(dataset.targets) is np.ndarray
    np.testing.assert_array_equal(dataset.data, np.asarray(images))
    assert dataset.targets.tolist() == [1, 0]


def test_the_gpu_count_is_asked_for_until_a_gpu_was_seen(cupy, monkeypatch):
    counts = []
    monkeypatch.setattr(cupy.cuda.runtime, "getDeviceCount", lambda: counts.append(1) or len(counts) - 1)
    with pytest.raises(backend.DeviceError, match="CuPy sees no GPU"):
        backend.array_module_for("cuda")
    for _ in range(3):
        assert backend.array_module_for("cuda:1") is cupy
        backend.to_device(np.zeros(1), "cuda")
    assert len(counts) == 2  # the failed call and the first successful one


# ---------------------------------------------------------------------- ops on their inputs' GPU
class _Recorded(mt.autograd.Function):
    """y = 2x, noting the current GPU and the gradient's GPU when forward and backward run."""
    seen = []

    def forward(self, a):
        _Recorded.seen.append(("forward", backend.current_gpu()))
        return a * 2

    def backward(self, grad):
        _Recorded.seen.append(("backward", backend.current_gpu(), grad.gpu_id))
        return grad * 2


def test_ops_run_forward_and_backward_on_their_inputs_gpu(cupy):
    _Recorded.seen = []
    x = mt.Tensor._wrap(on_gpu(np.arange(3.0), 1)).requires_grad_()
    on_1 = _Recorded.apply(x)                       # CuPy's current GPU is 0, the input's is 1
    on_0 = _Recorded.apply(on_1.to("cuda:0"))
    assert _Recorded.seen == [("forward", 1), ("forward", 0)] and cupy._current == 0
    on_0.sum().backward()
    assert _Recorded.seen[2:] == [("backward", 0, 0), ("backward", 1, 1)]
    assert cupy._current == 0 and x.grad.array.gpu_id == 1 and x.grad.tolist() == [4, 4, 4]
    with cupy.cuda.Device(1):                      # called from another GPU: that one is current again afterwards
        _Recorded.apply(mt.Tensor._wrap(on_gpu([1.0], 0)).requires_grad_()).sum().backward()
        assert _Recorded.seen[4:] == [("forward", 0), ("backward", 0, 0)] and cupy._current == 1
    assert cupy._current == 0


def test_the_gradient_given_to_backward_is_copied_onto_the_tensors_gpu(cupy):
    _Recorded.seen = []
    x = mt.Tensor._wrap(on_gpu(np.ones(2), 1)).requires_grad_()
    _Recorded.apply(x).backward(on_gpu([5.0, 6.0], 1))
    assert _Recorded.seen == [("forward", 1), ("backward", 1, 1)]
    assert x.grad.array.gpu_id == 1 and x.grad.tolist() == [10, 12] and cupy._current == 0


def test_dropout_on_a_gpu_draws_from_that_gpus_generator(cupy, monkeypatch):
    monkeypatch.setattr(backend, "_generators", {})
    mt.manual_seed(4)
    x = mt.Tensor._wrap(on_gpu(np.ones(1000, np.float32), 1))
    with mt.use_kernels("reference"):  # the stand-in runs no CUDA kernels
        y = F.dropout(x, 0.5, training=True)
    assert list(backend._generators) == [1]
    words = np.random.SeedSequence(4, spawn_key=(0, 2)).generate_state(2, np.uint32)  # stream 0, GPU 1
    uniform = np.random.default_rng(int(words[0]) << 32 | int(words[1])).random(1000, dtype=np.float32)
    np.testing.assert_array_equal(y.numpy(), (uniform >= 0.5) * np.float32(2))


_REPEATED = {"ints": np.random.default_rng(5).integers(0, 5, 300), "zeros": np.zeros(200, np.int64),
             "slice and ints": (slice(None), np.random.default_rng(6).integers(0, 6, (40, 3))),
             "pairs": (np.random.default_rng(7).integers(0, 5, 90), np.random.default_rng(8).integers(0, 6, 90)),
             "none": np.array([], np.int64)}


@pytest.mark.parametrize("index", _REPEATED.values(), ids=_REPEATED.keys())
def test_add_at_in_order_is_np_add_at_to_the_bit(index):
    """The GPU's scatter-add, run with NumPy: each element's values summed in the order they come, as np.add.at sums
    them (float32, many repeats: another order would round differently)."""
    rng = np.random.default_rng(9)
    target = rng.standard_normal((5, 6)).astype(np.float32)
    values = rng.standard_normal(target[index].shape).astype(np.float32)
    expected = target.copy()
    np.add.at(expected, index, values)
    backend.add_at_in_order(np, target, index, values)
    assert target.tobytes() == expected.tobytes()


def test_indexing_backward_on_a_gpu_sums_repeated_indices_as_the_cpu_does(cupy, monkeypatch):
    """x[idx] with repeated indices: its backward on the GPU gives the CPU's gradient to the bit (no atomic adds)."""
    calls = []
    in_order = backend.add_at_in_order
    monkeypatch.setattr(backend, "add_at_in_order", lambda xp, *args: calls.append(xp) or in_order(xp, *args))
    rng = np.random.default_rng(10)
    values, index = rng.standard_normal((5, 6)).astype(np.float32), rng.integers(0, 5, (70, 2))
    upstream = rng.standard_normal((70, 2, 6)).astype(np.float32)
    grads = []
    for place in [np.asarray, on_gpu]:
        x = mt.Tensor._wrap(place(values)).requires_grad_()
        x[index].backward(place(upstream))
        grads.append(np.asarray(x.grad.array))
    assert calls == [cupy] and isinstance(x.grad.array, cupy.ndarray) and grads[0].tobytes() == grads[1].tobytes()


@pytest.mark.parametrize("make", [lambda ps: mt.optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: mt.optim.Adam(ps)],
                         ids=["SGD", "Adam"])
def test_an_optimizer_updates_its_parameters_on_their_gpu(cupy, monkeypatch, make):
    """A model on GPU 1 while GPU 0 is CuPy's current one: the updates (and the state they make) run on GPU 1."""
    from minitorch_cifar.kernels import optim as kernels
    updates = []  # CuPy's current GPU at each parameter's update

    def recorded(update):
        def run(*args, **options):
            updates.append(cupy._current)
            return update(*args, **options)
        return run
    for name in ("reference_sgd", "reference_adam"):
        monkeypatch.setattr(kernels, name, recorded(getattr(kernels, name)))
    params = [mt.nn.Parameter(mt.Tensor._wrap(on_gpu(np.ones(3, np.float32), 1))) for _ in range(2)]
    optimizer = make(params)
    for p in params:
        p.grad = mt.Tensor._wrap(on_gpu(np.full(3, 0.5, np.float32), 1))
    with mt.use_kernels("reference"):  # the stand-in runs no CUDA kernels
        optimizer.step()
    assert updates == [1, 1] and cupy._current == 0
    assert all(p.array.gpu_id == 1 and (p.array < 1).all() for p in params)


def test_the_lr_range_test_runs_on_the_models_gpu(cupy, monkeypatch):
    """The model on GPU 1, GPU 0 CuPy's current one: the range test's new arrays, the stack of losses read back
    among them, are made on GPU 1."""
    stacked_on = []
    stack = cupy.stack
    monkeypatch.setattr(cupy, "stack", lambda *arrays, **options: stacked_on.append(cupy._current)
                        or stack(*arrays, **options), raising=False)
    rng = np.random.default_rng(12)
    model = mt.nn.Linear(3, 2).to("cuda:1")
    batches = [(rng.standard_normal((4, 3)).astype(np.float32), rng.integers(0, 2, 4)) for _ in range(3)]
    with mt.use_kernels("reference"):  # the stand-in runs no CUDA kernels
        result = mt.train.lr_find(model, mt.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, batches,
                                  num_iter=12, sync_every=5, skip_start=1, skip_end=1)
    assert len(result.lrs) == 12 and set(stacked_on) == {1} and cupy._current == 0
    assert model.weight.array.gpu_id == 1


@pytest.mark.parametrize("index", [np.array([], np.int64), np.zeros(5, bool)], ids=["no indices", "all-false mask"])
def test_indexing_backward_on_a_gpu_with_nothing_selected_gives_a_zero_gradient(cupy, index):
    x = mt.Tensor._wrap(on_gpu(np.ones((5, 2), np.float32))).requires_grad_()
    x[index].sum().backward()
    assert isinstance(x.grad.array, cupy.ndarray) and x.grad.tolist() == [[0, 0]] * 5


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_topk_on_a_gpu_gives_the_cpus_values_indices_and_gradient(cupy, dim):
    rng = np.random.default_rng(11)
    values = rng.permutation(60).reshape(3, 4, 5).astype(np.float32)  # no ties: one right order
    shape = list(values.shape)
    shape[dim] = 2
    upstream = rng.standard_normal(shape).astype(np.float32)
    results = []
    for place in [np.asarray, on_gpu]:
        x = mt.Tensor._wrap(place(values)).requires_grad_()
        top = x.topk(2, dim)
        top.values.backward(place(upstream))
        results.append([np.asarray(a) for a in (top.values.array, top.indices.array, x.grad.array)])
        assert all(isinstance(a, type(place(values))) for a in (top.values.array, top.indices.array, x.grad.array))
    for cpu, gpu in zip(*results):
        np.testing.assert_array_equal(gpu, cpu)


def test_clipping_the_gradient_norm_on_a_gpu_reads_nothing_back_to_the_host(cupy, monkeypatch):
    def no_sync(*args):
        raise AssertionError("a device-to-host read")
    for name in ("__float__", "__bool__", "item", "get", "tolist"):
        monkeypatch.setattr(DeviceArray, name, no_sync)
    grads = [np.full((2, 3), 3.0, np.float32), np.full(4, -2.0, np.float32)]  # norm sqrt(6 * 9 + 4 * 4)
    params = [mt.Tensor._wrap(on_gpu(np.zeros_like(g))).requires_grad_() for g in grads]
    for p, g in zip(params, grads):
        p.grad = mt.Tensor._wrap(on_gpu(g))
    norm = mt.nn.utils.clip_grad_norm_(params, 1.0)
    monkeypatch.undo()
    assert isinstance(norm.array, DeviceArray) and np.isclose(float(norm.array), 70 ** 0.5)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(np.asarray(p.grad.array), g / np.float32(70 ** 0.5 + 1e-6), rtol=1e-6)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_adds_its_borders_gradient_back_in_a_fixed_order_and_uploads_its_sources_once(cupy, monkeypatch, mode):
    """No scatter-add (on the GPU it sums repeated indices in any order): each source element's gradient is the sum
    of its copies' gradients, as np.bincount over the positions the pad copies computes it."""
    monkeypatch.setattr(backend, "scatter_add", lambda *args: pytest.fail("a scatter-add in pad's backward"))
    rng = np.random.default_rng(2)
    values, pad = rng.standard_normal((2, 3, 4, 5)), (2, 1, 1, 3)
    widths = [(0, 0), (0, 0), (1, 3), (2, 1)]
    copied = np.pad(np.arange(values.size).reshape(values.shape), widths, mode={"replicate": "edge",
                                                                              "circular": "wrap"}.get(mode, mode))
    grad = rng.standard_normal(copied.shape)
    expected = np.bincount(copied.ravel(), grad.ravel(), values.size).reshape(values.shape)
    for _ in range(2):
        x = mt.Tensor._wrap(on_gpu(values)).requires_grad_()
        y = mt.pad(x, pad, mode=mode)
        np.testing.assert_array_equal(y.array, values.ravel()[copied])
        y.backward(on_gpu(grad))
        np.testing.assert_allclose(x.grad.array, expected, rtol=1e-13, atol=1e-15)
    assert cupy.uploads == [(0, (4 + 1 + 3,)), (0, (5 + 2 + 1,))]  # the two padded axes' source indices, once


# ---------------------------------------------------------------------- backends switches and TF32
@pytest.fixture
def tf32_restored():
    """The test may set backends.cuda.matmul.allow_tf32; it is put back afterwards (a plain save and restore:
    monkeypatch cannot, since the switch is no instance attribute)."""
    saved = backends.cuda.matmul.allow_tf32
    yield
    backends.cuda.matmul.allow_tf32 = saved


def test_backends_flags_mirror_pytorch_defaults_and_check_their_values(tf32_restored):
    assert backends.cuda.matmul.allow_tf32 is False
    assert (backends.cudnn.enabled, backends.cudnn.benchmark, backends.cudnn.deterministic) == (True, False, False)
    assert mt.backends is backends
    backends.cuda.matmul.allow_tf32 = True
    assert backends.cuda.matmul.allow_tf32 is True
    with pytest.raises(TypeError, match="allow_tf32 must be True or False, got 1"):
        backends.cuda.matmul.allow_tf32 = 1
    with pytest.raises(AttributeError, match="backends.cudnn has no setting 'fast'"):
        backends.cudnn.fast = True
    with pytest.raises(AttributeError, match="has no setting 'allow_fp16'"):
        backends.cuda.matmul.allow_fp16


def test_cuda_matmuls_follow_the_tf32_switch(cupy, monkeypatch, tf32_restored):
    backends.cuda.matmul.allow_tf32 = False
    a, b = on_gpu(np.ones((2, 3), np.float32)), on_gpu(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(linalg._matmul(a, b), np.full((2, 4), 3.0))
    backend.matmul(a, b)
    assert cupy.compute_types == [(np.float32, 1)]  # full float32, set once
    backends.cuda.matmul.allow_tf32 = True
    backend.cuda_matmul(a, b)
    linalg._matmul(a, b)
    assert cupy.compute_types == [(np.float32, 1), (np.float32, 7)]
    backends.cuda.matmul.allow_tf32 = False
    out = on_gpu(np.zeros((2, 4), np.float32))
    assert backend.cuda_matmul(a, b, out=out) is out and out[0, 0] == 3
    assert cupy.compute_types[-1] == (np.float32, 1)


def test_without_cupys_compute_type_switch_float32_needs_none_and_tf32_says_what_is_missing(cupy, monkeypatch,
                                                                                             tf32_restored):
    cupy._core = types.SimpleNamespace()  # a CuPy whose private switch moved
    monkeypatch.delenv("CUPY_TF32", raising=False)
    a = on_gpu(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(backend.cuda_matmul(a, a.T), np.full((2, 2), 3.0))
    backends.cuda.matmul.allow_tf32 = True
    with pytest.raises(backend.DeviceError, match="set_compute_type.*leave backends.cuda.matmul.allow_tf32 False"):
        backend.cuda_matmul(a, a.T)
    backends.cuda.matmul.allow_tf32 = False
    monkeypatch.setenv("CUPY_TF32", "1")  # CuPy's default made TF32, which only that switch could undo
    monkeypatch.setattr(backend, "_tf32_in_cupy", None)
    with pytest.raises(backend.DeviceError, match="unset CUPY_TF32"):
        backend.cuda_matmul(a, a.T)


@pytest.fixture
def patches_by_the_reference(monkeypatch):
    """im2col_cuda's two functions done by the reference im2col/col2im (the stand-in runs no CUDA kernels)."""
    from minitorch_cifar.kernels import im2col, im2col_fast

    def into(out, values):
        out[...] = values
        return out

    kernels = types.SimpleNamespace(
        im2col=lambda x, geometry, shape, out: into(out, im2col.im2col(x, geometry)),
        col2im=lambda cols, geometry, input_shape, out: into(out, im2col.col2im(cols, geometry, input_shape)))
    monkeypatch.setattr(im2col_fast, "_cuda", lambda: kernels)


@pytest.mark.parametrize("groups", [1, 2])
def test_the_convolutions_cuda_products_follow_the_tf32_switch(cupy, patches_by_the_reference, monkeypatch, tf32_restored,
                                                               groups):
    """On the GPU the fast convolution (im2col) and the reference one run each of their products, Y_g = P_g W_g,
    dW_g = P_g^T dY_g and dP_g = dY_g W_g^T, through backend.cuda_matmul, and compute what the CPU computes."""
    from minitorch_cifar.kernels import conv_methods
    from minitorch_cifar.kernels.im2col import ConvGeometry
    from minitorch_cifar.ops import conv
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 6, 4)).astype(np.float32)  # channels last
    weight = rng.standard_normal((6, 4 // groups, 3, 3)).astype(np.float32)
    grad_y = rng.standard_normal((2, 5, 6, 6)).astype(np.float32)
    geometry = ConvGeometry((3, 3), (1, 1), (1, 1), (1, 1), groups, (5, 6))
    needs = (True, True, False)
    expected = [conv.reference_conv2d(x, weight, None, geometry),
                *conv.reference_conv2d_backward(x, weight, grad_y, geometry, needs)[:2]]
    products = []
    real = backend.cuda_matmul
    monkeypatch.setattr(backend, "cuda_matmul", lambda a, b, out=None: products.append(a.shape) or real(a, b, out))
    backends.cuda.matmul.allow_tf32 = True
    x, weight, grad_y = on_gpu(x), on_gpu(weight), on_gpu(grad_y)
    method = conv_methods.Im2col(weight, geometry, x.shape)
    fast = [method.run_forward(x, None), *method.run_backward(x, grad_y, needs)[:2]]
    assert len(products) == 3 * groups
    reference = [conv.reference_conv2d(x, weight, None, geometry),
                 *conv.reference_conv2d_backward(x, weight, grad_y, geometry, needs)[:2]]
    assert len(products) == 6 * groups
    assert cupy.compute_types == [(np.float32, 7)]  # TF32, set before the first product
    for name, got, want in zip(["y", "dx", "dW"] * 2, fast + reference, expected * 2):
        assert isinstance(got, cupy.ndarray), name
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)


def test_gpu_chunks_hold_a_byte_budget_of_patches_whatever_the_thread_count(cupy, monkeypatch):
    from minitorch_cifar.kernels import conv_methods, workers
    layer = types.SimpleNamespace(rows_per_image=32 * 32, row_items=9 * 128, min_rows=9 * 128)  # 128 channels, 3x3
    fits = conv_methods.GPU_CHUNK_BYTES // (32 * 32 * 9 * 128 * 4)  # float32 images whose patches fit the budget
    small = types.SimpleNamespace(rows_per_image=32 * 32, row_items=27, min_rows=27)  # a first layer: 56 MB in all
    huge = types.SimpleNamespace(rows_per_image=512 * 512, row_items=9 * 512, min_rows=9 * 512)  # 4.8 GB per image
    for threads in (1, 2, 3):
        monkeypatch.setattr(workers, "num_threads", lambda: threads)
        ranges = conv_methods.chunks(cupy, 512, layer, 4)
        sizes = [stop - start for start, stop in ranges]
        assert ranges[0][0] == 0 and ranges[-1][1] == 512 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert len(ranges) == -(-512 // fits) and max(sizes) <= fits and max(sizes) - min(sizes) <= 1
        assert conv_methods.chunks(cupy, 512, small, 4) == [(0, 512)]
        assert conv_methods.chunks(cupy, 3, huge, 4) == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("groups", [1, 2])
def test_the_gpu_convolution_runs_its_chunks_in_turn_and_multiplies_into_its_outputs(
        cupy, patches_by_the_reference, monkeypatch, groups):
    """One image per chunk, all on the calling thread; with one group the products write straight into the output
    and the patches' gradient (C-contiguous), with two into column slices of them."""
    import threading
    from minitorch_cifar.kernels import conv_methods
    from minitorch_cifar.kernels.im2col import ConvGeometry
    from minitorch_cifar.ops import conv
    monkeypatch.setattr(conv_methods, "GPU_CHUNK_BYTES", 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 6, 4))  # channels last
    weight = rng.standard_normal((6, 4 // groups, 3, 3))
    grad_y = rng.standard_normal((3, 5, 6, 6))
    geometry = ConvGeometry((3, 3), (1, 1), (1, 1), (1, 1), groups, (5, 6))
    needs = (True, False, False)
    expected = [conv.reference_conv2d(x, weight, None, geometry),
                conv.reference_conv2d_backward(x, weight, grad_y, geometry, needs)[0]]
    outputs = []
    real = backend.cuda_matmul
    monkeypatch.setattr(backend, "cuda_matmul", lambda a, b, out=None: outputs.append(
        (threading.current_thread(), out.flags.c_contiguous)) or real(a, b, out))
    x, weight, grad_y = on_gpu(x), on_gpu(weight), on_gpu(grad_y)
    method = conv_methods.Im2col(weight, geometry, x.shape)
    got = [method.run_forward(x, None), method.run_backward(x, grad_y, needs)[0]]
    assert method.chunks == [(0, 1), (1, 2), (2, 3)]
    assert outputs == [(threading.current_thread(), groups == 1)] * (2 * 3 * groups)  # (y, dP) x 3 chunks x groups
    for name, result, want in zip(["y", "dx"], got, expected):
        np.testing.assert_allclose(result, want, rtol=1e-12, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------------- class-index range checks
@pytest.fixture
def no_pending_targets(monkeypatch):
    monkeypatch.setattr(F, "_target_ranges", {})


def test_target_ranges_are_folded_on_the_device_and_raised_at_the_check(no_pending_targets, monkeypatch):
    reads = []
    real = backend.to_device
    monkeypatch.setattr(backend, "to_device", lambda a, d: reads.append(d) or real(a, d))
    for labels in ([3, 1, 2], [0, 4], [2]):
        F._track_target_range(np.array(labels), 5, "cross_entropy")
    F._track_target_range(np.array([], dtype=np.int64), 5, "cross_entropy")
    assert reads == []  # nothing read while training steps run
    F.check_targets()   # 0..4 are all valid for 5 classes
    assert reads == ["cpu"] and F._target_ranges == {}
    for labels in ([3, 1], [7, 0], [2]):
        F._track_target_range(np.array(labels), 5, "nll_loss")
    with pytest.raises(IndexError, match=r"nll_loss: target holds class 7, outside 0\.\.4 .*ranged over 0\.\.7"):
        F.check_targets()
    F._track_target_range(np.array([-1, 2]), 3, "cross_entropy")
    with pytest.raises(IndexError, match=r"target holds class -1, outside 0\.\.2"):
        F.check_targets()
    F.check_targets()  # a reported range is not reported again


def test_a_custom_loops_loss_item_on_a_gpu_raises_for_a_bad_class(cupy, no_pending_targets):
    """A loop of its own, without the Trainer: the bad label shows at loss.item(), where PyTorch's device-side
    assert would surface too; the check reads nothing more when all labels were valid."""
    logits = mt.Tensor._wrap(on_gpu(np.zeros((3, 4), np.float32)))
    assert F.cross_entropy(logits, mt.Tensor._wrap(on_gpu([0, 3, 1]))).item() == pytest.approx(np.log(4))
    assert F._target_ranges == {}
    loss = F.cross_entropy(logits, mt.Tensor._wrap(on_gpu([0, -1, 1])))  # wraps round, as on a GPU: no error yet
    with pytest.raises(IndexError, match=r"cross_entropy: target holds class -1, outside 0\.\.3"):
        loss.item()


def test_cross_entropy_flags_a_bad_class_on_any_device(device, no_pending_targets):
    logits = mt.randn(4, 3, device=device)
    with pytest.raises(IndexError, match="class 3, outside 0..2"):
        F.cross_entropy(logits, mt.tensor([0, 1, 2, 3], device=device))
        F.check_targets()  # on a GPU the loss does not wait for the labels' range; the check reads it
    F.cross_entropy(logits, mt.tensor([0, -100, 2, 1], device=device))  # ignore_index is not a class
    F.check_targets()


# ---------------------------------------------------------------------- random streams
def test_generators_derive_from_seed_and_stream_alone(device):
    mt.manual_seed(3)
    mt.rand(7, device=device)
    backend.start_stream(5)
    state = backend.rng_state()
    assert (state["seed"], state["stream"]) == (3, 5)
    expected = mt.rand(6, device=device).numpy()
    mt.manual_seed(11)
    mt.rand(3, device=device)
    backend.set_rng_state({"seed": 3, "stream": 5})  # two integers: nothing else is needed
    np.testing.assert_array_equal(mt.rand(6, device=device).numpy(), expected)
    backend.start_stream(6)
    assert not np.array_equal(mt.rand(6, device=device).numpy(), expected)


def test_stream_zero_on_the_cpu_is_numpys_default_rng_of_the_seed():
    mt.manual_seed(42)
    np.testing.assert_array_equal(mt.rand(4, dtype=mt.float64).numpy(), np.random.default_rng(42).random(4))


def test_each_gpu_and_stream_gets_its_own_generator_from_the_seed(monkeypatch):
    seeds = []
    standin = StandInCupy()
    standin.random = type("random", (), {"default_rng": staticmethod(lambda seed: seeds.append(seed) or seed)})
    mt.manual_seed(9)
    for stream in (0, 4):
        backend.start_stream(stream)
        for device_id in (0, 1):
            with standin.cuda.Device(device_id):
                assert backend.generator(standin) == backend.generator(standin)  # made once per stream and GPU
    expected = []
    for stream in (0, 4):
        for device_id in (0, 1):
            words = np.random.SeedSequence(9, spawn_key=(stream, 1 + device_id)).generate_state(2, np.uint32)
            expected.append(int(words[0]) << 32 | int(words[1]))
    assert seeds == expected and len(set(seeds)) == 4


def test_an_unseeded_run_keeps_its_entropy_so_that_it_can_resume(monkeypatch):
    monkeypatch.setattr(backend, "_seed", None)
    monkeypatch.setattr(backend, "_generators", {})
    state = backend.rng_state()
    assert isinstance(state["seed"], int) and state["seed"] > 0
    first = mt.rand(3).numpy()
    backend.set_rng_state({"seed": state["seed"], "stream": state["stream"]})
    np.testing.assert_array_equal(mt.rand(3).numpy(), first)


def test_old_checkpoints_rng_state_of_the_cpu_generator_alone_still_loads():
    mt.manual_seed(5)
    mt.rand(2)
    old = {"numpy": backend.generator(np).bit_generator.state}
    expected = mt.rand(3).numpy()
    mt.manual_seed(6)
    backend.set_rng_state(old)
    np.testing.assert_array_equal(mt.rand(3).numpy(), expected)
