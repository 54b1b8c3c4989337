"""Tensor creation, dtypes, devices, conversions, comparisons, and the errors bad input gets."""
import sys

import numpy as np
import pytest

import minitorch_cifar as mt
import minitorch_cifar.nn.functional as F
from minitorch_cifar import backend


def test_python_data_gets_pytorch_default_dtypes():
    assert mt.tensor([1.0, 2.0]).dtype == np.float32
    assert mt.tensor([1, 2]).dtype == np.int64
    assert mt.tensor([True]).dtype == np.bool_
    assert mt.tensor(np.zeros(2)).dtype == np.float64  # an array keeps its dtype
    assert mt.tensor([1, 2], dtype=mt.float64).dtype == np.float64


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(3, dtype=np.float32)
    copied, shared = mt.tensor(a), mt.from_numpy(a)
    a[0] = 5
    assert copied.data[0] == 0 and shared.data[0] == 5


@pytest.mark.parametrize("maker, dtype", [(mt.zeros, np.float32), (mt.ones, np.float32), (mt.rand, np.float32),
                                          (mt.randn, np.float32), (mt.empty, np.float32)])
def test_factories_shapes_dtypes_devices(maker, dtype, device):
    t = maker(2, 3, device=device)
    assert t.shape == (2, 3) and t.dtype == dtype and t.device.startswith(device)
    assert maker((4,), dtype=mt.float64, device=device).dtype == np.float64
    like = mt.zeros_like(t)
    assert like.shape == t.shape and like.device == t.device


def test_ranges_and_fills():
    np.testing.assert_array_equal(mt.arange(5).numpy(), np.arange(5))
    assert mt.arange(5).dtype == np.int64 and mt.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_allclose(mt.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    assert mt.full((2, 2), 7).dtype == np.int64 and mt.full((2,), 0.5).dtype == np.float32
    np.testing.assert_allclose(mt.full_like(mt.zeros(2), 3.0).numpy(), [3.0, 3.0])
    np.testing.assert_allclose(mt.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))


def test_manual_seed_repeats_random_draws(device):
    mt.manual_seed(7)
    a = mt.randn(5, device=device).numpy()
    mt.manual_seed(7)
    np.testing.assert_array_equal(a, mt.randn(5, device=device).numpy())
    assert mt.rand(1000, device=device).numpy().min() >= 0
    assert mt.randint(3, size=(100,), device=device).numpy().max() < 3
    assert sorted(mt.randperm(6, device=device).tolist()) == list(range(6))


class _CupyLikeGenerator:
    """A NumPy generator with only the draws that cupy.random.Generator also has (it has no permutation)."""

    def __init__(self, generator):
        self._generator = generator

    def random(self, size=None, dtype=np.float64):
        return self._generator.random(size, dtype=dtype)

    def standard_normal(self, size=None, dtype=np.float64):
        return self._generator.standard_normal(size, dtype=dtype)

    def integers(self, low, high=None, size=None):
        return self._generator.integers(low, high, size=size)


def test_random_factories_use_only_draws_cupy_has(monkeypatch):
    monkeypatch.setattr(backend, "generator", lambda xp: _CupyLikeGenerator(np.random.default_rng(0)))
    assert mt.rand(3).shape == mt.randn(3).shape == mt.randint(5, size=(3,)).shape == (3,)
    assert sorted(mt.randperm(6).tolist()) == list(range(6))
    assert F.dropout(mt.ones(4), 0.5).shape == (4,)


def test_conversions():
    t = mt.tensor([[1.5, -2.0]])
    assert t.numpy().tolist() == [[1.5, -2.0]] and t.tolist() == [[1.5, -2.0]]
    assert mt.tensor([3.0]).item() == 3.0 and float(mt.tensor(2.5)) == 2.5
    assert t.double().dtype == np.float64 and t.long().dtype == np.int64
    assert t.to("cpu") is t and t.cpu().device == "cpu"
    with pytest.raises(ValueError, match="one element"):
        t.item()
    with pytest.raises(RuntimeError, match="detach"):
        mt.ones(2, requires_grad=True).numpy()


def test_cast_passes_gradients_back_in_the_source_dtype():
    x = mt.ones(2, requires_grad=True)
    x.double().sum().backward()
    assert x.grad.dtype == np.float32


def test_clone_copies_the_data_and_passes_gradients_through():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert repr(y.grad_fn) == "<CopyBackward>" and not np.shares_memory(x.array, y.array)
    (y * mt.tensor([3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]


def test_where_takes_a_condition_as_a_nested_list():
    a = mt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = mt.where([[True, False], [False, True]], a, 0.0)
    assert y.tolist() == [[1.0, 0.0], [0.0, 4.0]]
    y.sum().backward()
    assert a.grad.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_comparisons_give_boolean_tensors_without_gradient():
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == np.bool_ and not mask.requires_grad
    assert (x == mt.tensor([1.0, 0.0, 3.0])).tolist() == [True, False, True]
    assert x.argmax().item() == 2


def test_max_along_a_dim_returns_values_and_indices():
    x = mt.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.max().item() == 7.0 and x.min(0).indices.tolist() == [0, 1, 0]


def test_repr_shows_values_and_grad_function():
    assert repr(mt.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "grad_fn=<MulBackward>" in repr(mt.ones(2, requires_grad=True) * 2)
    assert "dtype=float64" in repr(mt.ones(1, dtype=mt.float64))


def test_matmul_and_linear_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        mt.ones(2, 3) @ mt.ones(4, 5)
    with pytest.raises(ValueError, match=r"input of shape \(2, 3\) does not fit weight of shape \(4, 5\)"):
        F.linear(mt.ones(2, 3), mt.ones(4, 5))


def test_loss_input_errors():
    with pytest.raises(TypeError, match="class indices"):
        F.cross_entropy(mt.ones(2, 3), mt.tensor([True, False]))
    with pytest.raises(ValueError, match=r"float target .* for class indices pass an integer tensor"):
        F.cross_entropy(mt.ones(2, 3), mt.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"target of shape \(3,\) does not fit input of shape \(2, 3\)"):
        F.cross_entropy(mt.ones(2, 3), mt.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match="class 5"):
        F.cross_entropy(mt.ones(2, 3), mt.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"\(2, 3\) and target of shape \(3, 2\)"):
        F.mse_loss(mt.ones(2, 3), mt.ones(3, 2))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(mt.ones(2), mt.ones(2), reduction="avg")


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"shape \(2, 3\) .* into \(4, 2\)"):
        mt.ones(2, 3).reshape(4, 2)


def test_unknown_device_is_refused():
    with pytest.raises(backend.DeviceError, match="unknown device 'tpu'"):
        mt.zeros(2, device="tpu")


def test_the_package_imports_and_trains_without_torch_or_cupy():
    """Neither PyTorch (a test need only) nor CuPy (an extra) is needed to import every module and run a step."""
    import subprocess
    code = """if True:
        import sys

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('torch', 'cupy'):
                    raise ImportError('blocked: ' + name)

        sys.meta_path.insert(0, Blocker())
        import minitorch_cifar as mt
        from minitorch_cifar import cli, data, experiment, models, optim, train, viz
        model = models.get_model('cnn2')
        loss = mt.nn.functional.cross_entropy(model(mt.randn(2, 3, 32, 32)), mt.tensor([1, 2]))
        loss.backward()
        optim.SGD(model.parameters(), lr=0.1).step()
        assert not mt.cuda.is_available()
        assert not any(name.split('.')[0] in ('torch', 'cupy') for name in sys.modules)
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cuda_without_cupy_says_how_to_install(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(builtins, "__import__", no_cupy)
    with pytest.raises(backend.DeviceError, match=r"cuda12.*cuda13"):
        mt.zeros(2, device="cuda")
    assert not mt.cuda.is_available()


class _FakeGPUArray(np.ndarray):
    """Stands in for a CuPy array so that the device check can be tested without a GPU."""


def test_mixing_devices_in_one_op_names_both(monkeypatch):
    monkeypatch.setattr(backend, "device_of",
                        lambda a: "cuda:0" if isinstance(a, _FakeGPUArray) else "cpu")
    gpu = mt.Tensor._wrap(np.ones(2, dtype=np.float32).view(_FakeGPUArray))
    with pytest.raises(backend.DeviceError, match="cpu and cuda:0"):
        mt.ones(2) + gpu


def test_an_array_of_cupy_imported_before_the_framework_asked_for_it_is_a_gpu_array(monkeypatch):
    import types
    fake_cupy = types.ModuleType("cupy")
    fake_cupy.ndarray = _FakeGPUArray
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setattr(backend, "_cupy", None)
    gpu = np.ones(2).view(_FakeGPUArray)
    assert backend.is_cupy_array(gpu) and backend.get_array_module(gpu) is fake_cupy
    assert not backend.is_cupy_array(np.ones(2))


@pytest.mark.skipif(not mt.cuda_is_available(), reason="needs CuPy and an NVIDIA GPU")
def test_round_trip_to_the_gpu_keeps_values_and_gradients():
    x = mt.randn(3, 4, requires_grad=True)
    y = (x.cuda() * 2).sum()
    assert y.device == "cuda:0"
    y.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2.0)
    with pytest.raises(backend.DeviceError, match="cpu and cuda:0"):
        mt.ones(2) + mt.ones(2, device="cuda")
