"""nn.Module and the basic layers: names, state dicts, reprs and initialisation, against PyTorch."""
import math

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn
from minitorch_cifar.nn import init
from helpers import assert_close, check_against_torch, torch

pytestmark = pytest.mark.usefixtures("kernels")  # each test runs with the fast and the reference kernels


def mlp(nn):
    """The same MLP in either framework: our nn and torch.nn share the API."""
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 6),
                         nn.LeakyReLU(0.1), nn.Linear(6, 3, bias=False))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp(nn)
        self.heads = nn.ModuleList([nn.Linear(3, 2), nn.Tanh()])
        self.register_buffer("scale", mt.ones(2))
        self.register_buffer("cache", mt.zeros(1), persistent=False)

    def forward(self, x):
        return self.heads[1](self.heads[0](self.body(x))) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp(torch.nn)
        self.heads = torch.nn.ModuleList([torch.nn.Linear(3, 2), torch.nn.Tanh()])
        self.register_buffer("scale", torch.ones(2))
        self.register_buffer("cache", torch.zeros(1), persistent=False)


def test_state_dict_keys_and_shapes_equal_pytorchs():
    ours, theirs = Net().state_dict(), TorchNet().state_dict()
    assert list(ours) == list(theirs)
    assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]


def test_weights_move_both_ways_and_outputs_agree():
    ours, theirs = Net().eval(), TorchNet().eval()
    ours.load_state_dict(theirs.state_dict())  # torch tensors in
    x = np.random.default_rng(0).normal(size=(4, 3, 2, 2)).astype(np.float32)
    expected = theirs.heads[1](theirs.heads[0](theirs.body(torch.tensor(x)))) * theirs.scale
    assert_close(ours(mt.tensor(x)), expected, 1e-5, 1e-6, "output")
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in Net().state_dict().items()})


def test_load_state_dict_accepts_numpy_and_names_bad_keys():
    net = Net()
    state = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state["body.1.weight"][:] = 0.25
    net.load_state_dict(state)
    assert np.all(net.body[1].weight.detach().numpy() == 0.25)
    with pytest.raises(nn.StateDictError, match=r"'body.1.weight' has shape \(8, 3\) in the state dict but \(8, 12\)"):
        net.load_state_dict({**state, "body.1.weight": np.zeros((8, 3))})
    with pytest.raises(nn.StateDictError, match=r"missing key\(s\) 'scale'.*unexpected key\(s\) 'extra'"):
        net.load_state_dict({**{k: v for k, v in state.items() if k != "scale"}, "extra": np.zeros(1)})
    result = net.load_state_dict({"scale": np.full(2, 3.0)}, strict=False)
    assert "body.1.weight" in result.missing_keys and net.scale.tolist() == [3.0, 3.0]


def test_repr_matches_pytorchs():
    assert repr(Net()).replace("Net(", "X(") == repr(TorchNet()).replace("TorchNet(", "X(")


def test_traversal_of_parameters_buffers_and_modules():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [n for n, _ in TorchNet().named_parameters()]
    assert [n for n, _ in net.named_modules()] == [n for n, _ in TorchNet().named_modules()]
    assert [n for n, _ in net.named_buffers()] == ["scale", "cache"]
    assert len(list(net.children())) == 2
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in TorchNet().parameters())


def test_sequential_indexing_slicing_and_len():
    seq = mlp(nn)
    assert len(seq) == 7 and isinstance(seq[1], nn.Linear) and isinstance(seq[-1], nn.Linear)
    part = seq[1:3]
    assert isinstance(part, nn.Sequential) and len(part) == 2 and list(part.state_dict()) == ["1.weight", "1.bias"]
    assert [type(m).__name__ for m in seq][:3] == ["Flatten", "Linear", "ReLU"]


def test_train_eval_switches_every_module_and_dropout():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    x = mt.randn(5, 12)
    assert np.array_equal(net.body(x).detach().numpy(), net.body(x).detach().numpy())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_apply_and_to_dtype():
    net = Net()
    net(mt.randn(2, 12)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 4
    weight = net.body[1].weight
    net.double()
    assert net.body[1].weight is weight and weight.dtype == np.float64 and net.scale.dtype == np.float64


def test_forward_hooks_see_outputs_and_can_be_removed():
    seq = mlp(nn)
    seen = []
    handle = seq[2].register_forward_hook(lambda m, inputs, out: seen.append(out.shape))
    seq(mt.randn(3, 12))
    handle.remove()
    seq(mt.randn(3, 12))
    assert seen == [(3, 8)]


def test_assigning_a_non_parameter_to_a_parameter_slot_is_refused():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        layer.weight = mt.ones(2, 2)


@pytest.mark.parametrize("layer_name, args", [("Linear", (5, 3)), ("ReLU", ()), ("LeakyReLU", (0.2,)),
                                              ("GELU", ()), ("Sigmoid", ()), ("Tanh", ()), ("Identity", ()),
                                              ("Flatten", ()), ("Softmax", (1,)), ("LogSoftmax", (1,))])
def test_layers_match_pytorch(layer_name, args, device):
    ours, theirs = getattr(nn, layer_name)(*args), getattr(torch.nn, layer_name)(*args).double()
    ours.load_state_dict(theirs.state_dict())
    ours.to(device, mt.float64)
    params = dict(ours.named_parameters())
    check_against_torch([(4, 5)], ours, theirs, device=device)
    for name, p in theirs.named_parameters():
        assert_close(params[name].grad, p.grad, 1e-6, 1e-8, name)
    assert repr(ours) == repr(theirs)


def test_loss_modules_match_pytorch(device):
    labels = np.array([0, 2, 1, 2])
    check_against_torch([(4, 3), labels], nn.CrossEntropyLoss(label_smoothing=0.1),
                        torch.nn.CrossEntropyLoss(label_smoothing=0.1), device=device)
    check_against_torch([(4, 3), labels], lambda x, t: nn.NLLLoss()(x.log_softmax(1), t),
                        lambda x, t: torch.nn.NLLLoss()(x.log_softmax(1), t), device=device)
    check_against_torch([(4, 3), (4, 3)], nn.MSELoss(), torch.nn.MSELoss(), device=device)


def test_linear_default_init_follows_pytorchs_distribution():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound  # U(-b, b) has std b/sqrt(3)
    assert np.abs(b).max() <= bound and w.dtype == np.float32


FAN_IN, FAN_OUT = 200 * 9, 100 * 9  # of a (100, 200, 3, 3) conv weight


@pytest.mark.parametrize("fn, kwargs, expected_std", [
    (init.kaiming_uniform_, dict(nonlinearity="relu"), math.sqrt(2 / FAN_IN)),
    (init.kaiming_normal_, dict(nonlinearity="relu"), math.sqrt(2 / FAN_IN)),
    (init.kaiming_normal_, dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2 / FAN_OUT)),
    (init.xavier_uniform_, {}, math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (init.xavier_normal_, dict(gain=2.0), 2 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (init.normal_, dict(std=0.3), 0.3),
    (init.uniform_, dict(a=-1.0, b=1.0), 1 / math.sqrt(3)),
])
def test_initialisers_give_the_documented_spread(fn, kwargs, expected_std):
    w = fn(mt.empty(100, 200, 3, 3), **kwargs)
    assert w.dtype == np.float32
    assert abs(w.numpy().std() - expected_std) < 0.01 * expected_std


def test_constant_initialisers_and_gain():
    w = mt.empty(3, 4)
    assert init.zeros_(w).numpy().sum() == 0 and init.ones_(w).numpy().sum() == 12
    assert np.all(init.constant_(w, 0.5).numpy() == 0.5)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))
    assert init.calculate_gain("tanh") == pytest.approx(torch.nn.init.calculate_gain("tanh"))
