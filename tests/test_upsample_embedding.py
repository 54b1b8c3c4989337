"""F.interpolate and the Upsample layers, F.embedding and nn.Embedding: values and gradients against PyTorch, float64
finite differences, initialisation, reprs and errors."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn
from minitorch_cifar.nn import functional as F
from minitorch_cifar.testing import gradcheck

from helpers import check_against_torch, torch

TF = torch.nn.functional

# (input shape, keyword arguments of interpolate): upsampling, downsampling, non-integer scale factors (whose
# source-index scale is 1 / scale_factor, unless recomputed), align_corners, sizes where in/out rounds in float32
INTERPOLATIONS = [
    ((2, 3, 4, 5), dict(scale_factor=2)),
    ((2, 3, 5, 4), dict(size=(7, 11))),
    ((1, 2, 9, 7), dict(size=(4, 3))),
    ((1, 2, 5, 6), dict(scale_factor=(1.7, 0.6))),
    ((1, 2, 5, 6), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ((1, 2, 7, 10), dict(size=(21, 23))),
    ((2, 3, 4, 5), dict(scale_factor=2, mode="nearest-exact")),
    ((1, 2, 5, 6), dict(size=(13, 4), mode="nearest-exact")),
    ((2, 3, 4, 5), dict(scale_factor=2, mode="bilinear")),
    ((2, 3, 4, 5), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ((1, 2, 5, 6), dict(size=(9, 4), mode="bilinear")),
    ((1, 2, 5, 6), dict(size=(9, 1), mode="bilinear", align_corners=True)),
    ((1, 2, 5, 6), dict(scale_factor=(1.7, 0.6), mode="bilinear")),
    ((1, 2, 5, 6), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((1, 2, 5, 6), dict(size=(5, 6), mode="bilinear")),
]
IDS = ["-".join(f"{k}{v}" for k, v in kw.items()) for _, kw in INTERPOLATIONS]


@pytest.mark.parametrize("shape, kwargs", INTERPOLATIONS, ids=IDS)
def test_interpolate_matches_torch(shape, kwargs, device):
    check_against_torch([shape], lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
                        device=device)


@pytest.mark.parametrize("shape, kwargs", INTERPOLATIONS[::3], ids=IDS[::3])
def test_interpolate_float32_matches_torch(shape, kwargs, device):
    check_against_torch([shape], lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
                        device=device, dtype=np.float32, rtol=1e-6, atol=1e-6)


def test_nearest_source_indices_match_torch_on_many_sizes():
    """PyTorch computes nearest's source indices in float32: the sizes and factors where that rounds differently."""
    rng = np.random.default_rng(0)
    for mode in ("nearest", "nearest-exact"):
        for _ in range(100):
            h, w = (int(n) for n in rng.integers(1, 40, 2))
            kwargs = dict(size=tuple(int(n) for n in rng.integers(1, 80, 2))) if rng.random() < 0.5 else \
                dict(scale_factor=float(rng.choice([0.3, 0.7, 1.1, 1.5, 2.2, 2.5, 3.3])))
            x = np.arange(h * w, dtype=np.float32).reshape(1, 1, h, w)
            try:
                expected = TF.interpolate(torch.tensor(x), mode=mode, **kwargs).numpy()
            except RuntimeError:  # an output size of 0
                continue
            np.testing.assert_array_equal(F.interpolate(mt.tensor(x), mode=mode, **kwargs).numpy(), expected,
                                          err_msg=f"{mode} {(h, w)} {kwargs}")


@pytest.mark.parametrize("kwargs", [dict(size=(5, 7)), dict(scale_factor=1.5, mode="bilinear"),
                                    dict(size=(3, 8), mode="bilinear", align_corners=True)])
def test_interpolate_gradcheck(kwargs, rng):
    x = mt.tensor(rng.standard_normal((2, 2, 4, 5)), requires_grad=True)
    assert gradcheck(lambda a: F.interpolate(a, **kwargs), [x])


def test_interpolate_nearest_copies_integers_and_infinities():
    images = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    np.testing.assert_array_equal(F.interpolate(mt.tensor(images), scale_factor=2).numpy(),
                                  TF.interpolate(torch.tensor(images), scale_factor=2).numpy())
    x = np.ones((1, 1, 2, 2), np.float32)
    x[0, 0, 0, 0] = np.inf
    np.testing.assert_array_equal(F.interpolate(mt.tensor(x), size=(3, 3)).numpy(),
                                  TF.interpolate(torch.tensor(x), size=(3, 3)).numpy())


def test_interpolate_errors():
    x = mt.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=8, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(ValueError, match="greater than 0"):
        F.interpolate(x, scale_factor=0.2)
    with pytest.raises(ValueError, match="recompute_scale_factor"):
        F.interpolate(x, size=8, recompute_scale_factor=True)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(NotImplementedError, match="4-d input"):
        F.interpolate(mt.randn(1, 2, 4), scale_factor=2)


@pytest.mark.parametrize("make", [
    lambda nn: nn.Upsample(scale_factor=2),
    lambda nn: nn.Upsample(size=(5, 7), mode="bilinear"),
    lambda nn: nn.Upsample(scale_factor=(2, 1.5), mode="nearest-exact"),
    lambda nn: nn.UpsamplingNearest2d(scale_factor=3),
    lambda nn: nn.UpsamplingBilinear2d(size=6),
], ids=["nearest", "bilinear", "nearest-exact", "UpsamplingNearest2d", "UpsamplingBilinear2d"])
def test_upsample_layers_match_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    check_against_torch([(2, 3, 4, 4)], ours, theirs)


# ----------------------------------------------------------------------------- embedding
INDICES = np.array([[1, 4, 1], [0, 4, 2], [1, 1, 3]])  # repeated indices: their gradients add up


@pytest.mark.parametrize("padding_idx", [None, 1, -2])
def test_embedding_matches_torch(padding_idx, device):
    check_against_torch([INDICES, (6, 5)], lambda i, w: F.embedding(i, w, padding_idx),
                        lambda i, w: TF.embedding(i, w, padding_idx), device=device)


def test_embedding_gradcheck(rng):
    weight = mt.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    assert gradcheck(lambda w: F.embedding(mt.tensor(INDICES), w), [weight])  # padding_idx: no gradient on purpose


def test_embedding_layer_initialises_as_torch():
    mt.manual_seed(0)
    layer = nn.Embedding(1000, 16, padding_idx=3)
    assert repr(layer) == repr(torch.nn.Embedding(1000, 16, padding_idx=3))
    weight = layer.weight.detach().numpy()
    assert not weight[3].any()
    others = np.delete(weight, 3, axis=0)
    assert abs(others.mean()) < 0.02 and abs(others.std() - 1) < 0.02  # N(0, 1)
    out = layer(mt.tensor(np.array([3, 5, 3])))
    out.sum().backward()
    assert not layer.weight.grad.numpy()[3].any() and (layer.weight.grad.numpy()[5] == 1).all()


def test_embedding_from_pretrained():
    table = mt.tensor(np.arange(12.0).reshape(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.embedding_dim == 3
    np.testing.assert_array_equal(frozen(mt.tensor(np.array([2]))).numpy(), [[6.0, 7.0, 8.0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_errors():
    layer = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match="index 5 is out of range"):
        layer(mt.tensor(np.array([0, 5])))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        layer(mt.tensor(np.array([-1])))
    with pytest.raises(TypeError, match="integer indices"):
        layer(mt.tensor(np.array([0.0])))
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(5, 2, max_norm=1.0)
