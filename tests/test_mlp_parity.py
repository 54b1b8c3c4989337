"""Issue 2's end-to-end check: a 3-layer MLP with PyTorch's initial weights (copied through state_dict),
trained 20 steps on the same float32 batches with cross-entropy, ends with PyTorch's losses and weights."""
import numpy as np
import pytest

import minitorch_cifar as mt
import minitorch_cifar.nn.functional as F
from minitorch_cifar import nn, optim

torch = pytest.importorskip("torch")

IN, HIDDEN, CLASSES, BATCH, STEPS = 48, 64, 10, 32, 20
OPTIMIZERS = {
    "SGD": dict(lr=0.05, momentum=0.9, weight_decay=5e-4),
    "Adam": dict(lr=3e-3),
    "AdamW": dict(lr=3e-3, weight_decay=1e-2),
}


def batches():
    """Four batches, seen five times each, of a learnable task: the label is the arg-max of a fixed
    random linear map of the input."""
    rng = np.random.default_rng(0)
    teacher = rng.standard_normal((IN, CLASSES))
    inputs = [rng.standard_normal((BATCH, IN)).astype(np.float32) for _ in range(4)]
    return [(x, (x @ teacher).argmax(axis=1)) for x in inputs] * (STEPS // 4)


def torch_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, HIDDEN),
                               torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))


def our_mlp():
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                         nn.Linear(HIDDEN, CLASSES))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_mlp_training_matches_torch(device, name):
    reference = torch_mlp()
    model = our_mlp()
    model.load_state_dict(reference.state_dict())
    model.to(device)
    opt = getattr(optim, name)(model.parameters(), **OPTIMIZERS[name])
    ref_opt = getattr(torch.optim, name)(reference.parameters(), foreach=False, **OPTIMIZERS[name])

    losses, ref_losses = [], []
    for x, y in batches():
        opt.zero_grad()
        loss = F.cross_entropy(model(mt.tensor(x, device=device)), mt.tensor(y, device=device))
        loss.backward()
        opt.step()
        losses.append(loss.item())

        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(y))
        ref_loss.backward()
        ref_opt.step()
        ref_losses.append(ref_loss.item())

    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, err_msg="losses")
    assert ref_losses[-1] < ref_losses[0] - 0.05, "the reference run should have learned something"
    expected = reference.state_dict()
    ours = model.state_dict()
    assert list(ours) == list(expected)
    for key, value in expected.items():
        weights, ref_weights = ours[key].numpy(), value.numpy()
        assert weights.dtype == np.float32
        np.testing.assert_allclose(weights, ref_weights, rtol=1e-5, atol=1e-5 * np.abs(ref_weights).max(),
                                   err_msg=key)
