"""The model zoo against PyTorch: every model built by the same code from ``torch.nn`` has our repr and
state_dict keys, and with copied weights the same outputs, parameter gradients and BatchNorm statistics.
(cnn2, cnn3, alexnet and resnet10 have their numeric parity tests in test_models.py.)"""
import math

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import models, nn

from helpers import assert_close, torch

ZOO = ["alexnet", "cnn1", "cnn2", "cnn3", "lenet", "mlp_final", "mlp_first", "resnet10", "resnet18", "resnet9",
       "simplenet", "softmax"]
NEW = ["softmax", "mlp_first", "mlp_final", "cnn1", "lenet", "simplenet", "resnet18", "resnet9"]
# Parameter counts: simplenet's is the write-up's own figure (25,578), lenet's PyTorch's tutorial net's, resnet18's
# the usual CIFAR ResNet-18's (11.17M); the others follow from the layer lists.
PARAMETERS = {"softmax": 30_730, "mlp_first": 295_978, "mlp_final": 3_805_450, "cnn1": 2_120_234, "lenet": 62_006,
              "simplenet": 25_578, "resnet18": 11_173_962, "resnet9": 6_573_120, "cnn2": 1_070_986, "cnn3": 667_178,
              "alexnet": 1_244_106, "resnet10": 4_903_242}


def test_every_zoo_model_is_registered():
    assert models.list_models() == ZOO


def test_unknown_model_error_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'vgg16'") as error:
        models.get_model("vgg16")
    assert all(name in str(error.value) for name in ZOO)


@pytest.mark.parametrize("name", ZOO)
def test_same_repr_and_state_dict_as_pytorch(name):
    ours, theirs = models.get_model(name), models.get_model(name, nn=torch.nn)
    assert repr(ours) == repr(theirs)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


@pytest.mark.parametrize("name", ZOO)
def test_parameter_count(name):
    assert sum(p.numel() for p in models.get_model(name).parameters()) == PARAMETERS[name]


def test_layer_names_follow_the_originals():
    assert list(models.get_model("lenet").state_dict()) == [
        f"{layer}.{p}" for layer in ("conv1", "conv2", "fc1", "fc2", "fc3") for p in ("weight", "bias")]
    assert list(models.get_model("simplenet").state_dict()) == [
        f"{layer}.{p}" for layer in ("conv1", "conv2", "fc1") for p in ("weight", "bias")]
    assert list(models.get_model("softmax").state_dict()) == ["fc.weight", "fc.bias"]
    keys = models.get_model("resnet9").state_dict()
    for key in ("prep.conv.weight", "layer1.residual.res2.bn.running_var", "layer3.residual.res1.conv.weight",
                "fc.weight"):
        assert key in keys
    assert "fc.bias" not in keys and not any(k.endswith("conv.bias") for k in keys)
    resnet18 = models.get_model("resnet18")
    assert isinstance(resnet18.maxpool, nn.Identity)  # the CIFAR stem: no max-pool
    assert [len(getattr(resnet18, f"layer{i}")) for i in range(1, 5)] == [2, 2, 2, 2]
    assert keys["layer2.conv.weight"].shape == (256, 128, 3, 3)


def twins(name, device):
    """Our model with the PyTorch twin's weights, float64, train mode, dropout off (the masks would differ)."""
    torch.manual_seed(0)
    theirs = models.get_model(name, nn=torch.nn).double()
    ours = models.get_model(name).to(dtype=np.float64)
    ours.load_state_dict(theirs.state_dict())
    for m in list(ours.modules()) + list(theirs.modules()):
        if isinstance(m, (nn.Dropout, torch.nn.Dropout)):
            m.p = 0.0
    return ours.to(device), theirs


@pytest.mark.parametrize("name", NEW)
def test_forward_and_gradients_match_pytorch(name, device):
    ours, theirs = twins(name, device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 32, 32))
    out, expected = ours(mt.tensor(x, device=device)), theirs(torch.tensor(x))
    assert_close(out, expected, 1e-9, 1e-12, "logits")
    upstream = rng.standard_normal(expected.shape)
    out.backward(mt.tensor(upstream, device=device))
    expected.backward(torch.tensor(upstream))
    their_params = dict(theirs.named_parameters())
    for key, p in ours.named_parameters():
        g = their_params[key].grad
        assert_close(p.grad, g, 1e-7, 1e-10 * float(g.abs().max()), f"gradient of {key}")
    their_buffers = dict(theirs.named_buffers())
    for key, b in ours.named_buffers():
        assert_close(b, their_buffers[key], 1e-10, 1e-12, key)


def test_resnet9_scales_its_logits_by_an_eighth():
    model = models.get_model("resnet9").eval()
    x = mt.tensor(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
    features = model[:-1](x)  # everything but the final scale
    assert_close(model(x), features * 0.125, 0, 0, "scaled logits")


@pytest.mark.parametrize("namespace", ["ours", "torch"])
@pytest.mark.parametrize("scheme", ["kaiming_uniform", "xavier_uniform"])
def test_init_weights_redraws_linear_and_conv_weights_only(scheme, namespace):
    nn_ = None if namespace == "ours" else torch.nn
    model = models.get_model("cnn2", nn=nn_)
    before = {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}
    assert models.init_weights(model, scheme, nn=nn_) is model
    after = {k: v.numpy() for k, v in model.state_dict().items()}
    for key in before:
        layer = key.rsplit(".", 1)[0]
        weighted = key.endswith(".weight") and layer in ("features.0", "features.4", "classifier.0", "classifier.3")
        assert np.array_equal(before[key], after[key]) != weighted, key
        if weighted:
            w = after[key]
            fan_in, fan_out = w[0].size, w.shape[0] * w[0, 0].size
            bound = math.sqrt(6 / fan_in) if scheme == "kaiming_uniform" else math.sqrt(6 / (fan_in + fan_out))
            assert np.abs(w).max() <= bound
            assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound / math.sqrt(3)  # U(-b, b) has std b/sqrt(3)


def test_init_weights_default_leaves_the_model_and_unknown_scheme_is_refused():
    model = models.get_model("lenet")
    before = {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}
    models.init_weights(model, "default")
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="unknown init scheme 'he'.*kaiming_uniform"):
        models.init_weights(model, "he")
