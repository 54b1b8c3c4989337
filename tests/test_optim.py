"""Optimizers: 50-step trajectories against PyTorch's single-tensor implementations (every option that changes
the maths), parameter groups, zero_grad, closures, state dicts (format, snapshot, round trip, PyTorch's own and
layout, device and dtype) and errors."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import optim
from minitorch_cifar.nn import Parameter

from helpers import kernel_build  # noqa: F401 (a fixture)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("kernels")  # each test runs with the fast and the reference kernels

SHAPES = [(64, 512), (5,), (3, 2, 4)]  # the first large enough for the one-pass CPU kernels
STEPS = 50

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=5e-4, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3)),  # beta1 < 0.5: lerp's other branch
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, betas=(0.85, 0.95))),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.3, eps=1e-3, centered=True, momentum=0.5)),  # lerp's other branch
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, momentum=0.8, maximize=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.05, centered=True, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, eps=1e-3, maximize=True)),
]
STATE_KEYS = {"SGD": ("momentum_buffer",), "Adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
              "AdamW": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
              "RMSprop": ("square_avg", "momentum_buffer", "grad_avg"), "Adagrad": ("sum",)}


def to_numpy(x):
    return mt.backend.to_device(x.array, "cpu") if isinstance(x, mt.Tensor) else x.detach().numpy()


def assert_close(ours, theirs, what, rtol=1e-5):
    """Equal to PyTorch up to float32 rounding (PyTorch fuses some multiply-adds, we round twice),
    relative to each tensor's scale."""
    a, b = to_numpy(ours), to_numpy(theirs)
    assert a.dtype == b.dtype == np.float32, f"{what}: dtype {a.dtype}, PyTorch {b.dtype}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 0.1 * np.abs(b).max(), err_msg=what)


def initial_values(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, s).astype(np.float32) for s in SHAPES]


def gradient_stream(steps=STEPS, seed=1):
    """Per step, one gradient per parameter; every 7th step the second parameter has none (skipped)."""
    rng = np.random.default_rng(seed)
    return [[None if step % 7 == 3 and i == 1 else rng.standard_normal(s).astype(np.float32)
             for i, s in enumerate(SHAPES)] for step in range(steps)]


def our_params(values, device):
    return [Parameter(mt.Tensor(v.copy(), device=device)) for v in values]


def set_grads(params, grads, device=None):
    for p, g in zip(params, grads):
        if isinstance(p, mt.Tensor):
            p.grad = None if g is None else mt.Tensor(g.copy(), device=device)
        else:
            p.grad = None if g is None else torch.tensor(g)


@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{'-'.join(o) or 'defaults'}" for n, o in CASES])
def test_trajectory_matches_torch(device, kernels, name, options):
    if kernels == "reference" and name not in ("SGD", "Adam", "AdamW"):
        pytest.skip(f"{name} has no fused kernel: its array code runs under either setting")
    values = initial_values()
    ours = our_params(values, device)
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    opt = getattr(optim, name)(ours, **options)
    ref = getattr(torch.optim, name)(theirs, foreach=False, **options)
    for step, grads in enumerate(gradient_stream()):
        set_grads(ours, grads, device)
        set_grads(theirs, grads)
        grad_arrays = [None if p.grad is None else p.grad.array for p in ours]
        opt.step()
        ref.step()
        for i, (p, g, q) in enumerate(zip(ours, grads, theirs)):
            assert_close(p, q, f"{name} step {step}: parameter {i}")
            if g is not None:
                assert p.grad.array is grad_arrays[i], "step() replaced .grad"
                np.testing.assert_array_equal(to_numpy(p.grad), g, err_msg="step() wrote into .grad")
    # Centered RMSprop divides by sqrt(v - a * a), which cancels: its momentum buffer carries float32 rounding
    # (and PyTorch's fused multiply-add) amplified by v / (v - a * a).
    state_rtol = 1e-4 if options.get("centered") else 1e-5
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert p.device == mt.backend.parse_device(device)
        expected = ref.state[q]
        assert set(opt.state[p]) == set(expected), f"state keys of parameter {i}"
        for key in STATE_KEYS[name]:
            if key in expected:
                assert opt.state[p][key].device == p.device
                assert_close(opt.state[p][key], expected[key], f"state[{i}][{key!r}]", state_rtol)
        if "step" in expected:
            assert opt.state[p]["step"] == int(expected["step"].item())


SGD_OPTIONS = [dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
               dict(lr=0.05, momentum=0.9, dampening=0.0, weight_decay=5e-4, nesterov=False, maximize=False),
               dict(lr=0.05, momentum=0.9, dampening=0.0, weight_decay=1e-2, nesterov=True, maximize=True),
               dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.0, nesterov=False, maximize=False)]
ADAM_OPTIONS = [dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False,
                     maximize=False),
                dict(lr=1e-2, beta1=0.3, beta2=0.9, eps=1e-3, weight_decay=0.1, amsgrad=True, decoupled=False,
                     maximize=True),
                dict(lr=5e-2, beta1=0.85, beta2=0.99, eps=1e-8, weight_decay=0.3, amsgrad=True, decoupled=True,
                     maximize=False)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_the_reference_bitwise(dtype, kernel_build):
    """The one-pass numba updates, serial and parallel builds, compute exactly the reference's array operations
    (which also serve CuPy)."""
    from minitorch_cifar.kernels import optim as kernels
    from minitorch_cifar.optim import adam, sgd
    rng = np.random.default_rng(0)
    size = 3000
    grads = [rng.standard_normal(size).astype(dtype) for _ in range(6)]
    for options in SGD_OPTIONS:
        p1, b1 = rng.uniform(-2, 2, size).astype(dtype), np.empty(size, dtype)
        p2, b2 = p1.copy(), b1.copy()
        for step, g in enumerate(grads):
            kernels.reference_sgd(p1, g, b1, first=step == 0, **options)
            sgd._sgd_fused(p2, g, b2, first=step == 0, **options)
            np.testing.assert_array_equal(p1, p2, err_msg=f"SGD {options} step {step}")
            assert p1.dtype == dtype
    for options in ADAM_OPTIONS:
        first = [rng.uniform(-2, 2, size).astype(dtype)] + [np.zeros(size, dtype) for _ in range(3)]
        second = [a.copy() for a in first]
        for step, g in enumerate(grads, 1):
            corrections = dict(step_size=options["lr"] / (1 - options["beta1"] ** step),
                               bias_correction2_sqrt=(1 - options["beta2"] ** step) ** 0.5)
            kernels.reference_adam(first[0], g, *first[1:], **options, **corrections)
            adam._adam_fused(second[0], g, *second[1:], **options, **corrections)
            for a, b in zip(first, second):
                np.testing.assert_array_equal(a, b, err_msg=f"Adam {options} step {step}")


@pytest.mark.skipif(not mt.cuda_is_available(), reason="needs CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_kernels_equal_the_cpu_kernels_bitwise(dtype):
    """One CUDA kernel per parameter (compiled without FMA contraction) computes the numba kernels' numbers."""
    from minitorch_cifar import backend
    from minitorch_cifar.optim import adam, sgd
    rng = np.random.default_rng(0)
    size = 40000  # the CPU's fused path starts at 32768 elements
    grads = [rng.standard_normal(size).astype(dtype) for _ in range(4)]
    to_gpu = lambda arrays: [backend.to_device(a, "cuda") for a in arrays]  # noqa: E731
    for options in SGD_OPTIONS:
        cpu = [rng.uniform(-2, 2, size).astype(dtype), np.empty(size, dtype)]
        gpu = to_gpu(cpu)
        for step, g in enumerate(grads):
            sgd._sgd_fused(cpu[0], g, cpu[1], first=step == 0, **options)
            sgd._sgd_fused(gpu[0], backend.to_device(g, "cuda"), gpu[1], first=step == 0, **options)
            np.testing.assert_array_equal(backend.to_device(gpu[0], "cpu"), cpu[0], err_msg=f"SGD {options} step {step}")
    for options in ADAM_OPTIONS:
        cpu = [rng.uniform(-2, 2, size).astype(dtype)] + [np.zeros(size, dtype) for _ in range(3)]
        gpu = to_gpu(cpu)
        for step, g in enumerate(grads, 1):
            corrections = dict(step_size=options["lr"] / (1 - options["beta1"] ** step),
                               bias_correction2_sqrt=(1 - options["beta2"] ** step) ** 0.5)
            adam._adam_fused(cpu[0], g, *cpu[1:], **options, **corrections)
            adam._adam_fused(gpu[0], backend.to_device(g, "cuda"), *gpu[1:], **options, **corrections)
            for a, b in zip(gpu, cpu):
                np.testing.assert_array_equal(backend.to_device(a, "cpu"), b, err_msg=f"Adam {options} step {step}")


def test_fused_views_take_contiguous_arrays_of_any_size(monkeypatch):
    from cupy_standin import StandInCupy, on_gpu
    from minitorch_cifar import backend
    from minitorch_cifar.optim.optimizer import fused_views
    monkeypatch.setattr(backend, "_cupy", StandInCupy())
    param, grad = on_gpu(np.ones((2, 3), np.float32)), on_gpu(np.ones((2, 3), np.float32))
    views = fused_views(param, grad)
    assert [v.shape for v in views] == [(6,), (6,)] and np.shares_memory(views[0], param)
    cpu_views = fused_views(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32))
    assert [v.shape for v in cpu_views] == [(6,), (6,)]
    assert fused_views(param, grad.astype(np.float64)) is None
    assert fused_views(param, on_gpu(np.ones((3, 2), np.float32)).T) is None  # not contiguous
    assert fused_views(param, np.ones((2, 3), np.float32)) is None             # another device


def test_param_groups_with_their_own_options():
    values = initial_values()
    ours, theirs = our_params(values, "cpu"), [torch.nn.Parameter(torch.tensor(v)) for v in values]

    def groups(params):
        return [{"params": [params[0]], "lr": 0.2, "momentum": 0.5},
                {"params": params[1:], "nesterov": True, "weight_decay": 1e-2}]
    opt = optim.SGD(groups(ours), lr=0.05, momentum=0.9)
    ref = torch.optim.SGD(groups(theirs), lr=0.05, momentum=0.9, foreach=False)
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.05]
    assert [g["momentum"] for g in opt.param_groups] == [0.5, 0.9]
    assert opt.param_groups[1]["params"] == ours[1:]
    for grads in gradient_stream(20):
        set_grads(ours, grads)
        set_grads(theirs, grads)
        opt.step()
        ref.step()
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert_close(p, q, f"parameter {i}")

    extra = Parameter(mt.zeros(3))
    opt.add_param_group({"params": extra, "lr": 1.0})
    assert opt.param_groups[2]["params"] == [extra]
    assert opt.param_groups[2]["momentum"] == 0.9 and opt.param_groups[2]["lr"] == 1.0


def test_zero_grad():
    params = our_params(initial_values(), "cpu")
    opt = optim.SGD(params, lr=0.1)
    set_grads(params, gradient_stream(1)[0])
    params[2].grad = None
    grad = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is grad and not grad.array.any()
    assert params[2].grad is None
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_with_closure_returns_the_loss():
    w = Parameter(mt.tensor([1.0, -2.0, 3.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert loss.item() == 14.0
    np.testing.assert_array_equal(w.array, np.float32([0.5, -1.0, 1.5]))  # w - 0.25 * 2w


def test_updates_stay_float32_with_numpy_hyperparameters():
    w = Parameter(mt.ones(4))
    opt = optim.Adam([w], lr=np.float64(0.1), betas=(np.float64(0.9), np.float64(0.999)))
    w.grad = mt.ones(4)
    opt.step()
    assert w.dtype == np.float32 and opt.state[w]["exp_avg_sq"].dtype == np.float32
    np.testing.assert_allclose(w.array, 0.9, rtol=1e-6)


def test_parameters_moved_by_module_to_are_still_optimized(device):
    model = mt.nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=1.0)
    before = model.weight.detach().numpy().copy()
    model.to(device)
    model(mt.ones(4, 3, device=device)).sum().backward()
    opt.step()
    assert model.weight.device == mt.backend.parse_device(device)
    np.testing.assert_allclose(model.weight.detach().numpy(), before - 4.0, rtol=1e-6)


# ----------------------------------------------------------------------------- state dicts
def run(opt, params, stream, device="cpu"):
    for grads in stream:
        set_grads(params, grads, device)
        opt.step()


def test_state_dict_format():
    params = our_params(initial_values(), "cpu")
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], amsgrad=True)
    run(opt, params, gradient_stream(4))
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1] == dict(lr=0.5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=True,
                                         maximize=False, decoupled_weight_decay=False, params=[2])
    assert list(sd["state"]) == [0, 1, 2]
    assert sd["state"][1]["step"] == 3  # parameter 1 had no gradient on the fourth step
    assert sd["state"][0]["step"] == 4 and type(sd["state"][0]["step"]) is int
    for index, p in enumerate(params):
        entry = sd["state"][index]
        assert set(entry) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert isinstance(entry[key], mt.Tensor) and entry[key].shape == p.shape
            np.testing.assert_array_equal(entry[key].array, opt.state[p][key].array)
            assert entry[key].array is not opt.state[p][key].array  # a snapshot, not the live buffer
    run(opt, params, gradient_stream(1, seed=5))
    assert sd["state"][0]["step"] == 4 and not np.array_equal(sd["state"][0]["exp_avg"].array,
                                                              opt.state[params[0]]["exp_avg"].array)


def npz_like(value):
    """What a checkpoint written to .npz without pickle gives back: NumPy arrays and scalars, str keys."""
    if isinstance(value, dict):
        return {str(k): npz_like(v) for k, v in value.items()}
    if isinstance(value, mt.Tensor):
        return value.numpy()
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    return np.asarray(value)


@pytest.mark.parametrize("name,options", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
                                          ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
                                          ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
                                          ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1))])
@pytest.mark.parametrize("through_npz", [False, True], ids=["dict", "npz-like"])
def test_state_dict_round_trip_continues_identically(device, name, options, through_npz):
    values, stream = initial_values(), gradient_stream(40)
    uninterrupted = our_params(values, device)
    opt = getattr(optim, name)(uninterrupted, **options)
    run(opt, uninterrupted, stream[:20], device)
    sd = opt.state_dict()
    resumed = our_params([p.detach().numpy() for p in uninterrupted], device)
    fresh = getattr(optim, name)(resumed, lr=123.0)  # the options come from the state dict
    fresh.load_state_dict(npz_like(sd) if through_npz else sd)
    assert fresh.param_groups[0]["lr"] == options["lr"] and type(fresh.param_groups[0]["lr"]) is float
    run(opt, uninterrupted, stream[20:], device)
    run(fresh, resumed, stream[20:], device)
    for p, q in zip(resumed, uninterrupted):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


TORCH_ONLY_OPTIONS = {"foreach", "capturable", "differentiable", "fused"}


@pytest.mark.parametrize("name,options", [("Adam", dict(lr=0.01)),
                                          ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
                                          ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1))])
def test_state_dict_matches_pytorch_layout(name, options):
    """The same entries (names and shapes) and group options as PyTorch's, also for a parameter without gradients."""
    values, stream = initial_values(), gradient_stream(4)
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    ours = our_params(values, "cpu")
    groups = lambda params: [{"params": params[:2]}, {"params": params[2:], "lr": 0.5}]  # noqa: E731
    opt, ref = getattr(optim, name)(groups(ours), **options), getattr(torch.optim, name)(groups(theirs), **options)
    for params, optimizer in ((ours, opt), (theirs, ref)):
        params[2].grad = None
        for grads in stream:
            set_grads(params[:2], grads[:2])
            optimizer.step()
    sd, expected = opt.state_dict(), ref.state_dict()
    assert list(sd["state"]) == list(expected["state"])
    for index, entry in expected["state"].items():
        assert set(sd["state"][index]) == set(entry), f"state[{index}]"
        for key, value in entry.items():
            assert tuple(np.shape(sd["state"][index][key])) == tuple(value.shape), f"state[{index}][{key!r}]"
            if key == "step":
                assert sd["state"][index][key] == value.item()
    for group, their_group in zip(sd["param_groups"], expected["param_groups"]):
        assert group == {key: value for key, value in their_group.items() if key not in TORCH_ONLY_OPTIONS}


@pytest.mark.parametrize("name,options", [("Adam", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.9)),
                                          ("Adagrad", dict(lr=0.1, lr_decay=0.01))])
def test_loads_pytorch_state_dict_and_continues_like_pytorch(name, options):
    values, stream = initial_values(), gradient_stream(30)
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    ref = getattr(torch.optim, name)(theirs, foreach=False, **options)
    run(ref, theirs, stream[:15])
    ours = our_params([q.detach().numpy() for q in theirs], "cpu")
    opt = getattr(optim, name)(ours)
    opt.load_state_dict(ref.state_dict())
    assert opt.state[ours[0]]["step"] == 15
    run(ref, theirs, stream[15:])
    run(opt, ours, stream[15:])
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert_close(p, q, f"parameter {i}")


def test_load_moves_state_to_parameter_device_and_dtype(device):
    source = Parameter(mt.ones(2, 3))
    opt = optim.SGD([source], lr=0.1, momentum=0.9)
    source.grad = mt.full((2, 3), 0.5)
    opt.step()
    target = Parameter(mt.ones(2, 3, device=device, dtype=np.float64))
    loaded = optim.SGD([target], lr=0.1, momentum=0.9)
    loaded.load_state_dict(opt.state_dict())
    buf = loaded.state[target]["momentum_buffer"]
    assert buf.device == target.device and buf.dtype == np.float64
    np.testing.assert_array_equal(buf.numpy(), np.full((2, 3), 0.5))


def loaded_fails(opt, sd, *fragments):
    before = (opt.state_dict(), [dict(g) for g in opt.param_groups])
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(sd)
    for fragment in fragments:
        assert fragment in str(info.value)
    after = opt.state_dict()
    assert after["param_groups"] == before[0]["param_groups"] and set(after["state"]) == set(before[0]["state"])


def test_load_state_dict_errors_name_the_mismatch():
    params = our_params(initial_values(), "cpu")
    opt = optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1, momentum=0.9)
    run(opt, params, gradient_stream(2))
    sd = opt.state_dict()

    loaded_fails(optim.SGD(our_params(initial_values(), "cpu"), lr=0.1), sd, "2 parameter group(s)", "has 1")
    other = our_params(initial_values(), "cpu")
    loaded_fails(optim.SGD([{"params": other[:1]}, {"params": other[1:]}], lr=0.1), sd,
                 "parameter group 0 has 2 parameter(s) in the state dict but 1")
    shapes = [Parameter(mt.zeros(64, 512)), Parameter(mt.zeros(4)), Parameter(mt.zeros(3, 2, 4))]
    loaded_fails(optim.SGD([{"params": shapes[:2]}, {"params": shapes[2:]}], lr=0.1), sd,
                 "state[1]['momentum_buffer'] has shape (5,) but its parameter has shape (4,)")
    stray = {"state": {**sd["state"], 7: sd["state"][0]}, "param_groups": sd["param_groups"]}
    loaded_fails(opt, stray, "state for parameter 7")
    loaded_fails(opt, {"param_groups": sd["param_groups"]}, "no 'state' entry")


def test_constructor_errors():
    w = Parameter(mt.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([w], lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas\\[1\\]"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="params\\[1\\] is a ndarray"):
        optim.SGD([w, np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="one Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({w}, lr=0.1)
    assert optim.AdamW([w]).defaults["weight_decay"] == 1e-2
    for make, message in [(lambda: optim.RMSprop([w], alpha=-0.5), "invalid alpha -0.5"),
                          (lambda: optim.RMSprop([w], momentum=-0.1), "invalid momentum"),
                          (lambda: optim.RMSprop([w], eps=-1.0), "invalid eps"),
                          (lambda: optim.Adagrad([w], lr_decay=-1.0), "invalid lr_decay"),
                          (lambda: optim.Adagrad([w], initial_accumulator_value=-1.0),
                           "invalid initial_accumulator_value"),
                          (lambda: optim.Adagrad([w], weight_decay=-1.0), "invalid weight_decay")]:
        with pytest.raises(ValueError, match=message):
            make()


def test_defaults_are_pytorch_s():
    import inspect
    for name in ("RMSprop", "Adagrad"):
        ours, theirs = (inspect.signature(getattr(module, name)).parameters for module in (optim, torch.optim))
        for option, parameter in ours.items():
            assert parameter.default == theirs[option].default, f"{name}({option}=...)"


def test_adagrad_state_starts_at_construction_and_for_added_groups():
    """As in PyTorch: every parameter's sum exists before the first step; a group added later gets it (from
    the constructor's initial_accumulator_value) at its first step."""
    params = our_params(initial_values(), "cpu")
    opt = optim.Adagrad(params[:2], initial_accumulator_value=0.25)
    assert [entry["step"] for entry in opt.state_dict()["state"].values()] == [0, 0]
    np.testing.assert_array_equal(opt.state[params[1]]["sum"].numpy(), np.full(SHAPES[1], 0.25, np.float32))
    opt.add_param_group({"params": params[2:], "initial_accumulator_value": 3.0})
    params[2].grad = mt.ones(*SHAPES[2])
    opt.step()
    np.testing.assert_allclose(opt.state[params[2]]["sum"].numpy(), 1.25)
