"""The four benchmark models against PyTorch: the same code builds both, weights move through state_dict, and
outputs, gradients and BatchNorm statistics agree."""
import math

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import models, nn
from minitorch_cifar.nn import functional as F

from helpers import assert_close, torch

NAMES = ["cnn2", "cnn3", "alexnet", "resnet10"]


def twins(name, dtype=np.float64, device="cpu"):
    """Our model and PyTorch's with PyTorch's weights, in train mode with dropout off (its masks differ)."""
    torch.manual_seed(0)
    theirs = models.get_model(name, nn=torch.nn).to(getattr(torch, np.dtype(dtype).name))
    ours = models.get_model(name).to(dtype=dtype)
    ours.load_state_dict(theirs.state_dict())
    for m in list(ours.modules()) + list(theirs.modules()):
        if isinstance(m, (nn.Dropout, torch.nn.Dropout)):
            m.p = 0.0
    return ours.to(device), theirs


def test_num_classes_sizes_the_last_layer():  # the registry, repr, state_dict keys, parameter counts: test_zoo.py
    assert isinstance(models.get_model("cnn2", num_classes=5).classifier[-1], nn.Linear)
    assert models.get_model("cnn2", num_classes=5).classifier[-1].out_features == 5


def test_resnet10_has_torchvisions_names_and_init():
    keys = models.get_model("resnet10").state_dict()
    for key in ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                "layer2.0.downsample.1.num_batches_tracked", "layer4.0.bn2.bias", "fc.weight"):
        assert key in keys
    assert "layer1.0.downsample.0.weight" not in keys  # the first stage keeps its shape: identity shortcut
    w = keys["layer3.0.conv2.weight"].numpy()
    assert abs(w.std() - math.sqrt(2 / (256 * 9))) < 0.05 * math.sqrt(2 / (256 * 9))  # kaiming_normal_, fan_out
    assert np.all(keys["layer3.0.bn2.weight"].numpy() == 1)


@pytest.mark.parametrize("name", NAMES)
def test_forward_gradients_and_statistics_match_pytorch(name, device):
    ours, theirs = twins(name, device=device)
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32))
    y = np.array([1, 7, 3])
    loss = F.cross_entropy(ours(mt.tensor(x, device=device)), mt.tensor(y, device=device))
    expected = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    assert_close(loss, expected, 1e-10, 0, "loss")
    loss.backward()
    expected.backward()
    their_params = dict(theirs.named_parameters())
    for key, p in ours.named_parameters():
        g = their_params[key].grad
        # a conv bias followed by BatchNorm has a true gradient of 0: compare on the scale of the layer's weight
        scale = float(their_params[key.rsplit(".", 1)[0] + ".weight"].grad.abs().max())
        assert_close(p.grad, g, 1e-7, 1e-9 * scale, f"gradient of {key}")
    their_buffers = dict(theirs.named_buffers())
    for key, b in ours.named_buffers():
        assert_close(b, their_buffers[key], 1e-10, 1e-12, key)


@pytest.mark.parametrize("name", NAMES)
def test_float32_eval_output_matches_pytorch(name):
    ours, theirs = twins(name, dtype=np.float32)
    ours.eval(), theirs.eval()
    x = np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(np.float32)
    out = ours(mt.tensor(x))
    assert out.dtype == np.float32
    with torch.no_grad():
        assert_close(out, theirs(torch.tensor(x)), 1e-4, 1e-5, "logits")


def small_cnn(nn):
    """conv-BN-ReLU-pool twice, then a linear layer, for 16x16 images."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


def test_small_cnn_trains_20_steps_like_pytorch():
    torch.manual_seed(0)
    theirs = small_cnn(torch.nn)
    ours = small_cnn(nn)
    ours.load_state_dict(theirs.state_dict())
    optimizer = mt.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    torch_optimizer = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    losses, expected = [], []
    for _ in range(20):
        x = rng.standard_normal((16, 3, 16, 16)).astype(np.float32)
        y = rng.integers(0, 10, 16)
        optimizer.zero_grad()
        loss = F.cross_entropy(ours(mt.tensor(x)), mt.tensor(y))
        loss.backward()
        optimizer.step()
        torch_optimizer.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        torch_loss.backward()
        torch_optimizer.step()
        losses.append(loss.item())
        expected.append(torch_loss.item())
    np.testing.assert_allclose(losses, expected, rtol=1e-4)
    assert losses[-1] < losses[0]  # it learnt something: the comparison is not between two flat lines
