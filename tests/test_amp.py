"""Mixed precision (``minitorch_cifar.amp``): PyTorch's GradScaler training loop, run with ours and with torch's
from the same weights and data (same losses, scales, skipped steps and final weights), the scaler's errors, state
dict and disabled pass-through, and autocast (which computes in float32 here) as context manager and decorator."""
import warnings

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn, optim

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's notes on the overflows made on purpose

IN, HIDDEN, CLASSES, BATCH, STEPS, HUGE_STEP = 8, 16, 4, 6, 10, 4


def batches():
    """STEPS batches; the one at HUGE_STEP is so large that its scaled loss, hence its gradients, overflow."""
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((BATCH, IN)).astype(np.float32), rng.integers(0, CLASSES, BATCH))
            for _ in range(STEPS)]
    data[HUGE_STEP] = (data[HUGE_STEP][0] * np.float32(1e35), data[HUGE_STEP][1])
    return data


def train(lib, model, scaler, device, clip, autocast):
    """PyTorch's AMP loop with library ``lib`` (torch or ours); the losses, step results, scales and state dicts."""
    optimizer = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    criterion = lib.nn.CrossEntropyLoss()
    trace = []
    for x, y in batches():
        x, y = lib.tensor(x, device=device), lib.tensor(y, device=device)
        optimizer.zero_grad()
        with lib.autocast(device_type=device, dtype=lib.float16, enabled=autocast):
            loss = criterion(model(x), y)
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(optimizer)
            lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        result = scaler.step(optimizer)
        scaler.update()
        trace.append((loss.item(), result, scaler.get_scale(), scaler.state_dict()))
    return trace


@pytest.mark.parametrize("clip", [False, True])
def test_training_loop_matches_torch(device, clip):
    """Ours under autocast against torch's without it: ours computes in float32, torch's would in float16."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))
    ours = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.to(device)
    their_trace = train(torch, theirs, torch.amp.GradScaler("cpu", growth_interval=3), "cpu", clip, False)
    our_trace = train(mt, ours, mt.amp.GradScaler(device, growth_interval=3), device, clip, True)
    their_losses, our_losses = [t[0] for t in their_trace], [t[0] for t in our_trace]
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
    assert not np.isfinite(np.float32(our_losses[HUGE_STEP]) * np.float32(2.0 ** 16))  # the scaled loss overflowed
    assert [t[1:] for t in our_trace] == [t[1:] for t in their_trace]  # step results, scales, state dicts
    scales = [t[2] for t in our_trace]
    assert scales[HUGE_STEP] == scales[HUGE_STEP - 1] / 2 and scales[2] == 2.0 ** 17  # backoff, growth
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)


def scale_trace(lib, scaler, gradients):
    """Drive ``scaler`` with a one-parameter model whose gradient is ``g`` times the scale, for each g."""
    p = lib.nn.Parameter(lib.zeros(1))
    optimizer = lib.optim.SGD([p], lr=1.0)
    trace = []
    for g in gradients:
        optimizer.zero_grad()
        scaler.scale((p * g).sum()).backward()
        trace.append((scaler.step(optimizer), p.item(), scaler.get_scale(), scaler.state_dict()))
        scaler.update()
    return trace + [(scaler.get_scale(), scaler.state_dict())]


@pytest.mark.parametrize("init_scale, growth_interval", [(2.0 ** 16, 2), (2.0 ** 127, 1), (3.0, 1)])
def test_scale_backoff_and_growth_match_torch(init_scale, growth_interval):
    """Backoff on inf and NaN, growth after growth_interval clean steps, no growth into inf, odd factors."""
    gradients = [1.0, 2.0, float("inf"), 1.0, float("nan"), 1.0, 1.0, 1.0]
    options = dict(init_scale=init_scale, growth_factor=1.5, backoff_factor=0.25, growth_interval=growth_interval)
    ours = scale_trace(mt, mt.amp.GradScaler("cpu", **options), gradients)
    assert ours == scale_trace(torch, torch.amp.GradScaler("cpu", **options), gradients)
    assert ours[2][0] is None and ours[2][1] == ours[1][1]  # the inf step was skipped


def test_scale_nested_outputs():
    scaler, theirs = mt.amp.GradScaler("cpu", init_scale=4.0), torch.amp.GradScaler("cpu", init_scale=4.0)
    x = np.arange(3, dtype=np.float32)
    ours = scaler.scale([mt.tensor(x), (mt.tensor(x), [mt.tensor(x)])])
    expected = theirs.scale([torch.tensor(x), (torch.tensor(x), [torch.tensor(x)])])
    assert type(ours[1]) is tuple and type(ours[1][1]) is list
    np.testing.assert_array_equal(ours[1][1][0].numpy(), expected[1][1][0].numpy())
    assert ours[0].dtype == mt.float32
    assert [t.tolist() for t in scaler.scale(t for t in [mt.tensor(x)])] == [(4 * x).tolist()]
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        scaler.scale(3.0)


def errors(lib, misuse):
    """The exception type and message that ``misuse(scaler, optimizer, loss)`` raises with ``lib``."""
    p = lib.nn.Parameter(lib.ones(2))
    optimizer = lib.optim.SGD([p], lr=0.1)
    scaler = lib.amp.GradScaler("cpu")
    try:
        misuse(scaler, optimizer, p.sum())
    except Exception as e:
        return type(e), str(e)
    return None


MISUSES = {
    "unscale twice": lambda s, o, loss: [s.scale(loss).backward(), s.unscale_(o), s.unscale_(o)],
    "unscale after step": lambda s, o, loss: [s.scale(loss).backward(), s.step(o), s.unscale_(o)],
    "step twice": lambda s, o, loss: [s.scale(loss).backward(), s.step(o), s.step(o)],
    "step before scale": lambda s, o, loss: s.step(o),
    "update before scale": lambda s, o, loss: s.update(),
    "update without step": lambda s, o, loss: [s.scale(loss), s.update()],
    "closure": lambda s, o, loss: [s.scale(loss).backward(), s.step(o, closure=lambda: loss)],
    "empty state dict": lambda s, o, loss: s.load_state_dict({}),
    "growth factor": lambda s, o, loss: type(s)("cpu", growth_factor=1.0),
    "backoff factor": lambda s, o, loss: type(s)("cpu", backoff_factor=1.0),
}


@pytest.mark.parametrize("misuse", MISUSES)
def test_errors_match_torch(misuse):
    ours = errors(mt, MISUSES[misuse])
    assert ours is not None and ours == errors(torch, MISUSES[misuse])


def test_unscale_then_step_is_allowed_once_per_iteration():
    p = nn.Parameter(mt.ones(2))
    optimizer = optim.SGD([p], lr=0.5)
    scaler = mt.amp.GradScaler("cpu", init_scale=8.0)
    scaler.scale((p * 3).sum()).backward()
    scaler.unscale_(optimizer)
    assert p.grad.tolist() == [3.0, 3.0]
    scaler.step(optimizer)  # does not unscale again
    assert p.tolist() == [-0.5, -0.5]


def test_state_dict_round_trip():
    scaler = mt.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=5)
    scale_trace(mt, scaler, [1.0, 1.0, float("inf"), 1.0])
    state = scaler.state_dict()
    assert state == {"scale": 2.0 ** 9, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 5,
                     "_growth_tracker": 1}
    fresh = mt.amp.GradScaler("cpu")  # not yet scaled: the loaded scale is its initial one
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state and fresh.scale(mt.ones(1)).item() == 2.0 ** 9
    scaled_once = mt.amp.GradScaler("cpu")
    scaled_once.scale(mt.ones(1))
    scaled_once.load_state_dict(state)
    assert scaled_once.state_dict() == state and scaled_once.scale(mt.ones(1)).item() == 2.0 ** 9
    theirs = torch.amp.GradScaler("cpu")
    theirs.load_state_dict(state)
    assert theirs.state_dict() == state


def test_update_with_new_scale():
    scaler = mt.amp.GradScaler("cpu")
    scaler.scale(mt.ones(1))
    scaler.update(8.0)
    assert scaler.get_scale() == 8.0
    scaler.update(mt.tensor([3.0]))
    assert scaler.get_scale() == 3.0
    with pytest.raises(AssertionError, match="1-element"):
        scaler.update(mt.ones(2))


def test_disabled_scaler_passes_through():
    p = nn.Parameter(mt.ones(2))
    optimizer = optim.SGD([p], lr=0.5)
    scaler = mt.amp.GradScaler("cpu", enabled=False)
    loss = (p * float("inf")).sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    assert scaler.unscale_(optimizer) is None and p.grad.tolist() == [float("inf")] * 2  # untouched
    assert scaler.step(optimizer, closure=lambda: 7.0) == 7.0  # stepped despite the infs
    assert p.tolist() == [float("-inf")] * 2
    assert scaler.update() is None and scaler.update(4.0) is None
    assert scaler.get_scale() == 1.0 and not scaler.is_enabled() and scaler.state_dict() == {}
    scaler.load_state_dict({})  # a no-op, no error
    assert scaler.state_dict() == {}


@pytest.mark.parametrize("make", [lambda lib: lib.cuda.amp.GradScaler(), lambda lib: lib.amp.GradScaler("cuda"),
                                  lambda lib: lib.amp.GradScaler()])
def test_cuda_scaler_is_disabled_without_a_gpu_as_torch_does(make):
    if mt.cuda.is_available():
        assert make(mt).is_enabled() and make(mt).get_scale() == 2.0 ** 16
        return
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        ours = make(mt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = make(torch)
    assert (ours.is_enabled(), ours.get_scale(), ours.state_dict()) == \
        (theirs.is_enabled(), theirs.get_scale(), theirs.state_dict())


def test_cuda_scaler_defaults():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaler = mt.cuda.amp.GradScaler(init_scale=4.0, growth_interval=7)
    assert (scaler.get_growth_factor(), scaler.get_backoff_factor(), scaler.get_growth_interval()) == (2.0, 0.5, 7)


def test_autocast_context_manager_nested_and_disabled():
    x = mt.randn(3, 4)
    layer = nn.Linear(4, 2)
    expected = layer(x).detach().numpy()
    assert not mt.is_autocast_enabled("cpu")
    with mt.autocast("cpu", dtype=mt.float16) as outer:
        assert isinstance(outer, mt.autocast) and mt.is_autocast_enabled("cpu")
        out = layer(x)
        with mt.autocast(device_type="cpu", enabled=False, cache_enabled=False):
            assert not mt.is_autocast_enabled("cpu")
            with mt.amp.autocast("cpu"):
                assert mt.is_autocast_enabled("cpu")
            assert not mt.is_autocast_enabled("cpu")
        assert mt.is_autocast_enabled("cpu")
    assert not mt.is_autocast_enabled("cpu")
    assert out.dtype == mt.float32  # a deliberate difference: computed in float32, as without autocast
    np.testing.assert_array_equal(out.detach().numpy(), expected)


def test_autocast_restores_state_after_an_error():
    with pytest.raises(KeyError):
        with mt.autocast("cpu"):
            raise KeyError
    assert not mt.is_autocast_enabled("cpu")


def test_autocast_as_decorator():
    @mt.autocast("cpu")
    def depth(n):
        """Recurses with the same autocast instance entered at each level."""
        assert mt.is_autocast_enabled("cpu")
        return n if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3 and depth.__name__ == "depth" and depth.__doc__.startswith("Recurses")
    assert not mt.is_autocast_enabled("cpu")

    @mt.autocast("cpu", enabled=False)
    def inside():
        return mt.is_autocast_enabled("cpu")

    with mt.autocast("cpu"):
        assert inside() is False and mt.is_autocast_enabled("cpu")


def test_cuda_autocast():
    if mt.cuda.is_available():
        with mt.cuda.amp.autocast():
            assert mt.is_autocast_enabled("cuda") and mt.is_autocast_enabled()
        return
    with pytest.warns(UserWarning, match="CUDA is not available"):
        context = mt.cuda.amp.autocast()
    with context:
        assert not mt.is_autocast_enabled("cuda")  # disabled, as torch's
        assert mt.is_autocast_enabled("cuda") == torch.is_autocast_enabled("cuda")


def test_autocast_bad_device_type():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        mt.autocast(3)
    with pytest.raises(RuntimeError, match="device_type"):
        mt.autocast("tpu")
