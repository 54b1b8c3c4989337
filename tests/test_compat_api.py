"""PyTorch's API where PyTorch CIFAR-10 code relies on it: save/load, devices, tensor conveniences, in-place ops
with autograd's version check, a user's LR scheduler and DataParallel; each checked against PyTorch itself."""
import collections
import os

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, models, nn, optim
from helpers import assert_close, to_numpy

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------------- save / load
class _FakeGPUArray(np.ndarray):
    """Stands in for a CuPy array, so that CUDA tensors' paths are tested without a GPU."""

    def get(self):
        return self.view(np.ndarray)


def _assert_same_structure(ours, theirs, values=True):
    """Equal nesting, container types, keys and leaf types; tensors and arrays of equal dtype and shape, and with
    ``values`` bit-exact (other leaves always equal)."""
    if isinstance(theirs, (mt.Tensor, torch.Tensor, np.ndarray)):
        kind = np.ndarray if isinstance(theirs, np.ndarray) else mt.Tensor
        assert type(ours) is kind, f"{type(ours).__name__} in place of {type(theirs).__name__}"
        a, b = to_numpy(ours), to_numpy(theirs)
        assert a.dtype == b.dtype and a.shape == b.shape and (not values or np.array_equal(a, b))
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for key in theirs:
            _assert_same_structure(ours[key], theirs[key], values)
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same_structure(a, b, values)
    else:
        assert type(ours) is type(theirs) and (ours == theirs or not values and isinstance(ours, float))


def _train_a_step(lib, model, optimizer):
    x = lib.tensor(np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(np.float32))
    y = lib.tensor(np.array([0, 1, 2, 3]))
    optimizer.zero_grad()
    lib.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


def test_a_training_checkpoint_round_trips_bit_exact_with_the_structure_torch_load_gives(tmp_path):
    """A checkpoint dict of state dicts, numbers, strings, None, bools, tuples and arrays comes back bit-exact, with
    the containers, keys and leaf types that torch.load gives for the same checkpoint made in PyTorch."""
    def checkpoint(lib, nn_namespace):
        model = models.cnn1(nn=nn_namespace)
        optimizer = lib.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
        scheduler = lib.optim.lr_scheduler.StepLR(optimizer, 2, gamma=0.5)
        _train_a_step(lib, model, optimizer)
        scheduler.step()
        return {"epoch": 3, "name": "cnn1", "best": None, "finished": False, "acc": 0.625, "sizes": (32, 32),
                "history": [1.5, 1.25], "mean": np.array([0.49, 0.48, 0.45], dtype=np.float32),
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": {k: v for k, v in scheduler.state_dict().items() if k in ("last_epoch", "base_lrs")}}

    torch.save(checkpoint(torch, torch.nn), tmp_path / "torch.pth")
    theirs = torch.load(tmp_path / "torch.pth", weights_only=False)
    ours = checkpoint(mt, None)
    mt.save(ours, tmp_path / "ours.pt")
    loaded = mt.load(tmp_path / "ours.pt")
    _assert_same_structure(loaded, ours)
    for key in set(theirs) - {"optimizer"}:  # Adam's state differs in kind: PyTorch keeps 'step' as a tensor
        _assert_same_structure(loaded[key], theirs[key], values=False)
    for index, state in theirs["optimizer"]["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            _assert_same_structure(loaded["optimizer"]["state"][index][name], state[name], values=False)
    model = models.cnn1()  # and the loaded state dicts load back
    model.load_state_dict(loaded["model"])
    optim.Adam(model.parameters(), lr=1e-3).load_state_dict(loaded["optimizer"])


def test_save_is_atomic_and_load_maps_tensors_to_a_device(tmp_path):
    path = tmp_path / "x.pt"
    mt.save({"w": mt.ones(2)}, path)
    with pytest.raises(TypeError, match="cannot store a function"):
        mt.save({"w": mt.zeros(2), "f": lambda: 0}, path)
    assert np.array_equal(mt.load(path)["w"].numpy(), [1, 1])  # the failed save left the old file
    assert sorted(os.listdir(tmp_path)) == ["x.pt"]
    for map_location in (mt.device("cpu"), "cpu", {"cpu": "cpu"}, lambda storage, location: storage):
        loaded = mt.load(path, map_location=map_location)["w"]
        assert isinstance(loaded, mt.Tensor) and loaded.device == "cpu"


@pytest.mark.skipif(mt.cuda.is_available(), reason="checks the message given where no GPU is usable")
def test_tensors_saved_on_a_gpu_need_map_location_to_load_without_one(tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "device_of", lambda a: "cuda:0" if isinstance(a, _FakeGPUArray) else "cpu")
    mt.save({"w": mt.Tensor._wrap(np.arange(3.0).view(_FakeGPUArray))}, tmp_path / "gpu.pt")
    with pytest.raises(backend.DeviceError, match="saved on cuda:0.*map_location='cpu'"):
        mt.load(tmp_path / "gpu.pt")
    loaded = mt.load(tmp_path / "gpu.pt", map_location="cpu")["w"]
    assert loaded.device == "cpu" and np.array_equal(loaded.numpy(), [0, 1, 2])


def test_load_refuses_a_torch_pickle_in_one_line_saying_how_to_convert(tmp_path, monkeypatch):
    for kwargs in ({}, {"_use_new_zipfile_serialization": False}):
        path = tmp_path / "weights.pth"
        torch.save(torch.nn.Linear(2, 2).state_dict(), path, **kwargs)
        with pytest.raises(ValueError, match=r"torch\.save.*pickle.*numpy\.savez") as error:
            mt.load(path)
        assert "\n" not in str(error.value)
    # the conversion the message shows, run as written: PyTorch's weights reach our model
    theirs = models.cnn1(nn=torch.nn)
    torch.save(theirs.state_dict(), path)
    message = str(pytest.raises(ValueError, mt.load, path).value)
    conversion = message[message.index("numpy.savez("):message.index(", then ")]
    monkeypatch.chdir(tmp_path)
    exec(conversion, {"numpy": np, "torch": torch})
    ours = models.cnn1()
    ours.load_state_dict(dict(np.load("weights.npz")))
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    assert_close(ours.eval()(mt.tensor(x)), theirs.eval()(torch.tensor(x)), 1e-4, 1e-5, "converted weights")


@pytest.mark.parametrize("name", models.list_models())
def test_a_zoo_model_saved_whole_loads_back_with_identical_outputs(tmp_path, name):
    model = models.get_model(name)
    _train_a_step(mt, model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9))  # moves BN statistics
    model.eval()
    mt.save(model, tmp_path / "model.pt")
    loaded = mt.load(tmp_path / "model.pt")
    assert type(loaded) is type(model) and not loaded.training and repr(loaded) == repr(model)
    x = mt.randn(2, 3, 32, 32)
    assert np.array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())


def test_a_sequential_saved_whole_matches_torch_save_of_the_same_model(tmp_path):
    def build(nn_namespace):
        return nn_namespace.Sequential(nn_namespace.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
                                       nn_namespace.BatchNorm2d(8), nn_namespace.ReLU(), nn_namespace.Dropout(0.3),
                                       nn_namespace.AdaptiveAvgPool2d(1), nn_namespace.Flatten(),
                                       nn_namespace.Linear(8, 10))
    theirs, ours = build(torch.nn), build(nn)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours[6].bias.requires_grad_(False)
    torch.save(theirs.eval(), tmp_path / "torch.pth")
    mt.save(ours.eval(), tmp_path / "ours.pt")
    theirs, ours = torch.load(tmp_path / "torch.pth", weights_only=False), mt.load(tmp_path / "ours.pt")
    assert not ours[6].bias.requires_grad and ours[6].weight.requires_grad
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    assert_close(ours(mt.tensor(x)), theirs(torch.tensor(x)), 1e-5, 1e-6, "reloaded Sequential")


def test_a_user_defined_model_is_refused_naming_save_of_its_state_dict(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x)

    for model in (Net(), nn.Sequential(nn.Linear(2, 2), Net())):
        with pytest.raises(TypeError, match=r"Net.*user-defined.*save\(model\.state_dict\(\), path\)"):
            mt.save(model, tmp_path / "net.pt")
    assert not (tmp_path / "net.pt").exists()


# ---------------------------------------------------------------------- devices
def test_device_objects_spell_and_compare_as_pytorchs():
    for args in (("cpu",), ("cuda",), ("cuda:1",), ("cuda", 1)):
        ours, theirs = mt.device(*args), torch.device(*args)
        assert (repr(ours), str(ours), ours.type, ours.index) == (repr(theirs), str(theirs), theirs.type, theirs.index)
    assert mt.device(1) == mt.device("cuda", 1) == "cuda:1"  # torch.device(1) needs a GPU to say so
    with pytest.raises(backend.DeviceError, match="unknown device 'tpu'"):
        mt.device("tpu")
    device = mt.device("cuda" if mt.cuda.is_available() else "cpu")
    x = mt.tensor([1.0, 2.0], device=device)
    assert x.device == str(device) and x.device == device and x.to(device).device == device
    assert mt.zeros(2, device=mt.device("cpu")).device == "cpu"
    assert nn.Linear(2, 2).to(mt.device("cpu")).weight.device == mt.device("cpu")
    assert mt.cuda.device_count() == (backend.cupy().cuda.runtime.getDeviceCount() if mt.cuda.is_available() else 0)
    mt.cuda.synchronize()
    mt.cuda.empty_cache()
    if mt.cuda.is_available():
        assert mt.cuda.current_device() == 0 and mt.cuda.get_device_name(0) == mt.cuda.get_device_name()
    else:
        with pytest.raises(backend.DeviceError):
            mt.cuda.get_device_name()


# ---------------------------------------------------------------------- tensor behaviour
def test_max_and_min_along_a_dim_return_values_and_indices_as_torch():
    a = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    for fn in ("max", "min"):
        for dim in (0, 1):
            ours, theirs = getattr(mt, fn)(mt.tensor(a).data, dim), getattr(torch, fn)(torch.tensor(a).data, dim)
            _, predicted = ours
            assert ours._fields == ("values", "indices") and predicted is ours.indices
            assert_close(ours.values, theirs.values, 0, 0, f"{fn} values")
            assert_close(ours.indices, theirs.indices, 0, 0, f"{fn} indices")
    x, tx = mt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = x.topk(2, 1), tx.topk(2, 1)
    assert_close(ours.values, theirs.values, 0, 0, "topk values")
    assert_close(ours.indices, theirs.indices, 0, 0, "topk indices")
    upstream = np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32)
    (ours.values * mt.tensor(upstream)).sum().backward()
    (theirs.values * torch.tensor(upstream)).sum().backward()
    assert_close(x.grad, tx.grad, 0, 0, "topk gradient")


def test_array_protocol_converts_a_cpu_tensor_and_refuses_a_cuda_one_as_torch(monkeypatch):
    t = mt.arange(6).reshape(2, 3)
    assert np.array_equal(np.asarray(t), np.arange(6).reshape(2, 3))
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    monkeypatch.setattr(backend, "device_of", lambda a: "cuda:0" if isinstance(a, _FakeGPUArray) else "cpu")
    gpu = mt.Tensor._wrap(np.ones(2, dtype=np.float32).view(_FakeGPUArray))
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy\. Use Tensor\.cpu\(\)"):
        np.asarray(gpu)


def test_format_of_a_zero_d_tensor_formats_its_value_as_torch():
    for value in (1.23456, 0.5):
        assert f"{mt.tensor(value):.4f}" == f"{torch.tensor(value):.4f}"
    assert f"{mt.tensor(7):>4}" == f"{torch.tensor(7):>4}"
    with pytest.raises(TypeError, match="format"):
        f"{mt.zeros(2):.3f}"


def test_numpy_style_axis_is_accepted_beside_dim():
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    ours, theirs = mt.tensor(a), torch.tensor(a)
    for fn in ("sum", "mean", "amax", "amin", "argmax", "argmin"):
        assert_close(getattr(ours, fn)(axis=1), getattr(theirs, fn)(axis=1), 1e-6, 1e-6, fn)
    assert_close(mt.sum(ours, axis=0), torch.sum(theirs, axis=0), 1e-6, 1e-6, "mt.sum")
    assert_close(ours.max(axis=1).values, theirs.max(axis=1).values, 0, 0, "max(axis=)")


def test_type_names_and_conversions_as_torch():
    ours, theirs = mt.tensor([1.5, -2.5]), torch.tensor([1.5, -2.5])
    assert ours.type() == theirs.type() == "torch.FloatTensor"
    for target in (mt.int64, "torch.LongTensor", "torch.DoubleTensor"):
        assert_close(ours.type(target), theirs.type(target if isinstance(target, str) else torch.int64), 0, 0, target)
    assert ours.long().type() == "torch.LongTensor" and ours.half().dtype == np.float16
    assert mt.tensor([1, 2], dtype=mt.float).dtype == np.float32 and mt.long is mt.int64
    assert ours[1].item() == theirs[1].item() == -2.5 and isinstance(ours[1].item(), float)
    assert mt.is_tensor(ours) and not mt.is_tensor(a := np.zeros(1)) and mt.numel(mt.zeros(2, 3)) == 6 and a.size == 1


def test_top_level_functions_as_torch():
    a = np.random.default_rng(0).uniform(-3, 3, (2, 4, 4, 4)).astype(np.float32)
    x, tx = mt.tensor(a), torch.tensor(a)
    for fn in ("floor", "ceil", "round", "relu", "exp", "sqrt", "flatten"):
        arg = x.abs() if fn == "sqrt" else x
        assert_close(getattr(mt, fn)(arg), getattr(torch, fn)(tx.abs() if fn == "sqrt" else tx), 1e-6, 1e-6, fn)
    assert_close(mt.max_pool2d(x, 2), torch.max_pool2d(tx, 2), 0, 0, "max_pool2d")
    assert_close(mt.flatten(x, 1), torch.flatten(tx, 1), 0, 0, "flatten(x, 1)")
    assert_close(mt.argmax(x, 1), torch.argmax(tx, 1), 0, 0, "argmax")
    assert_close(x.new_zeros(2, 3), tx.new_zeros(2, 3), 0, 0, "new_zeros")
    assert_close(x.masked_fill(x > 0, 0.5), tx.masked_fill(tx > 0, 0.5), 0, 0, "masked_fill")
    model = nn.Linear(2, 2)
    assert mt.compile(model) is model
    # the write-up's plot limits: torch.floor(min(train_loss) * 10) / 10 - 0.1, with train_loss a tensor
    ours, theirs = (float(lib.floor(min(lib.tensor([1.26, 0.93])) * 10) / 10 - 0.1) for lib in (mt, torch))
    assert ours == theirs


def test_set_grad_enabled_as_a_call_and_as_a_context_and_inference_mode():
    x = mt.ones(2, requires_grad=True)
    with mt.inference_mode():
        assert not (x * 2).requires_grad
    with mt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    mt.set_grad_enabled(False)
    try:
        assert not mt.is_grad_enabled()
    finally:
        mt.set_grad_enabled(True)
    assert mt.is_grad_enabled()


# ---------------------------------------------------------------------- in-place ops
_INPLACE = [("add_", lambda t, o: t.add_(o, alpha=2)), ("sub_", lambda t, o: t.sub_(o)),
            ("mul_", lambda t, o: t.mul_(o)), ("div_", lambda t, o: t.div_(o + 3)),
            ("clamp_", lambda t, o: t.clamp_(-0.5, 0.5)), ("pow_", lambda t, o: t.pow_(2)),
            ("relu_", lambda t, o: t.relu_()), ("sqrt_", lambda t, o: t.abs_().sqrt_()),
            ("masked_fill_", lambda t, o: t.masked_fill_(o > 0, 0.25)), ("copy_", lambda t, o: t.copy_(o * 3)),
            ("iadd", lambda t, o: t.__iadd__(o))]


@pytest.mark.parametrize("name,op", _INPLACE, ids=[n for n, _ in _INPLACE])
def test_in_place_ops_give_torchs_values_and_gradients(name, op):
    rng = np.random.default_rng(0)
    a, b, g = (rng.uniform(-2, 2, (3, 4)) for _ in range(3))
    results = []
    for lib in (mt, torch):
        x, w = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        y = x * 1.5  # a non-leaf: in-place ops on it are recorded
        out = op(y, w)
        assert out is y
        (y * lib.tensor(g)).sum().backward()
        results.append((y, x.grad, w.grad))
    for ours, theirs, what in zip(results[0], results[1], ("value", "grad of x", "grad of w")):
        if theirs is None:
            assert ours is None, f"{name}: {what}"
        elif ours is None:  # copy_ cuts the old values from the graph, where PyTorch sends them zeros
            assert name == "copy_" and not theirs.any(), f"{name}: {what}"
        else:
            assert_close(ours, theirs, 1e-12, 1e-12, f"{name}: {what}")


def test_an_in_place_op_into_a_constant_by_a_tensor_needing_grad_gives_torchs_gradient():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-2, 2, 5), rng.uniform(-2, 2, 5)
    grads = []
    for lib in (mt, torch):
        w = lib.tensor(b, requires_grad=True)
        x = lib.tensor(a)
        x.mul_(w).mul_(w)  # x * w^2: the gradient needs x's values from before the first mul_
        assert x.requires_grad
        x.sum().backward()
        grads.append(w.grad)
    assert_close(grads[0], grads[1], 1e-12, 1e-12, "grad of w")


def test_in_place_updates_under_no_grad_reach_aliases_and_leaves_refuse_them_otherwise():
    weight = nn.Linear(3, 2).weight
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        weight.mul_(2)
    before = weight.detach().numpy().copy()
    with mt.no_grad():
        weight.mul_(2).add_(1)
    np.testing.assert_allclose(weight.detach().numpy(), before * 2 + 1)
    weight.data.fill_(0.5)  # .data shares the array, as in PyTorch
    assert np.all(weight.detach().numpy() == 0.5) and weight.requires_grad
    with pytest.raises(RuntimeError, match="can't be cast"):
        mt.arange(3).mul_(0.5)


def test_random_fills_follow_the_seed_and_their_distribution():
    mt.manual_seed(1)
    x = mt.empty(20000).normal_(2.0, 0.5)
    assert abs(x.mean().item() - 2.0) < 0.02 and abs(x.std().item() - 0.5) < 0.02
    u = mt.empty(20000).uniform_(-1, 3)
    assert u.min().item() >= -1 and u.max().item() < 3 and abs(u.mean().item() - 1) < 0.05
    mask = mt.empty(20000).bernoulli_(0.8)
    assert set(np.unique(mask.numpy())) == {0.0, 1.0} and abs(mask.mean().item() - 0.8) < 0.02
    mt.manual_seed(1)
    assert np.array_equal(mt.empty(20000).normal_(2.0, 0.5).numpy(), x.numpy())


def test_modifying_a_tensor_saved_for_backward_raises_torchs_error():
    for lib in (mt, torch):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = x.sigmoid()  # saves its output
        y.mul_(2)
        with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been "
                                               "modified by an inplace operation"):
            y.sum().backward()
        a = x * 2
        b = a + 1  # Add saves nothing: modifying a afterwards is allowed
        a.add_(1)
        b.sum().backward()
        assert np.array_equal(np.asarray(x.grad.tolist()), [2.0, 2.0, 2.0])


def test_the_in_place_check_follows_shared_arrays_and_only_changes_after_the_save():
    for lib in (mt, torch):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = x.sigmoid()
        alias = y.detach()
        alias.mul_(2)  # the same array under another tensor: PyTorch shares the version counter
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        before = lib.ones(3)
        before.add_(1)  # changed before the op saved it: fine
        other = lib.ones(3)
        z = x * before
        other.add_(1)  # changed after, but not saved by the op: fine
        z.sum().backward()
        assert np.array_equal(np.asarray(x.grad.tolist()), [2.0, 2.0, 2.0])


def test_tensors_changed_in_place_are_forgotten_once_gone():
    from minitorch_cifar import autograd
    kept = len(autograd._changed)
    for _ in range(50):
        mt.ones(3).add_(1)
    assert len(autograd._changed) == kept


# ---------------------------------------------------------------------- schedulers and DataParallel
def test_a_user_scheduler_subclass_gives_torchs_learning_rates():
    """The LR range test's scheduler of the write-ups, subclassing the legacy _LRScheduler, in both frameworks."""
    def lrs(lib):
        class ExponentialLR(lib.optim.lr_scheduler._LRScheduler):
            def __init__(self, optimizer, end_lr, num_iter, last_epoch=-1):
                self.end_lr = end_lr
                self.num_iter = num_iter
                super(ExponentialLR, self).__init__(optimizer, last_epoch)

            def get_lr(self):
                r = (self.last_epoch + 1) / self.num_iter
                return [base_lr * (self.end_lr / base_lr) ** r for base_lr in self.base_lrs]

        optimizer = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=1e-5)
        scheduler = ExponentialLR(optimizer, 1, 20)
        history = []
        for _ in range(20):
            optimizer.step()
            scheduler.step()
            history.append((scheduler.get_lr()[0], scheduler.get_last_lr()[0], optimizer.param_groups[0]["lr"]))
        return history

    assert optim.lr_scheduler._LRScheduler is optim.lr_scheduler.LRScheduler
    assert lrs(mt) == lrs(torch)


def test_data_parallel_passes_through_with_torchs_keys():
    ours, theirs = nn.DataParallel(models.cnn1()), torch.nn.DataParallel(models.cnn1(nn=torch.nn))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert isinstance(ours.module, nn.Sequential)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    assert_close(ours(mt.tensor(x)), theirs(torch.tensor(x)), 1e-4, 1e-5, "DataParallel output")
    assert collections.Counter(type(m).__name__ for m in ours.modules())["DataParallel"] == 1
