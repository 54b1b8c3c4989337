"""Sequential and ModuleList behave as PyTorch's lists of modules: the same edits give the same state_dict keys."""
import collections

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn

from helpers import torch


def layers(nn_):
    """Four layers with parameters, told apart by their in_features (1, 2, 3, 4)."""
    return [nn_.Linear(i, 2) for i in range(1, 5)]


def described(container):
    """The container as PyTorch or we would report it: (key, in_features) of each module, in order."""
    return [(key, m.in_features) for key, m in container.named_children()]


EDITS = {
    "append": lambda c, nn_: c.append(nn_.Linear(9, 2)),
    "extend": lambda c, nn_: c.extend([nn_.Linear(8, 2), nn_.Linear(9, 2)]),
    "insert at 1": lambda c, nn_: c.insert(1, nn_.Linear(9, 2)),
    "set item -2": lambda c, nn_: c.__setitem__(-2, nn_.Linear(9, 2)),
    "delete item 1": lambda c, nn_: c.__delitem__(1),
    "delete a slice": lambda c, nn_: c.__delitem__(slice(0, 4, 2)),
    "pop": lambda c, nn_: c.pop(1),
}


@pytest.mark.parametrize("kind", ["Sequential", "ModuleList"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_edits_give_pytorchs_order_and_keys(kind, edit):
    def build(nn_):
        modules = layers(nn_)
        return getattr(nn_, kind)(*modules) if kind == "Sequential" else nn_.ModuleList(modules)

    ours, theirs = build(nn), build(torch.nn)
    popped = EDITS[edit](ours, nn), EDITS[edit](theirs, torch.nn)
    assert described(ours) == described(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == len(theirs) and [m.in_features for m in ours] == [m.in_features for m in theirs]
    if edit == "pop":
        assert popped[0].in_features == popped[1].in_features == 2


@pytest.mark.parametrize("kind", ["Sequential", "ModuleList"])
def test_indexing_and_slicing_as_pytorch(kind):
    ours, theirs = (getattr(nn_, kind)(*layers(nn_)) if kind == "Sequential" else nn_.ModuleList(layers(nn_))
                    for nn_ in (nn, torch.nn))
    for index in (0, 2, -1, -4):
        assert ours[index].in_features == theirs[index].in_features
    for part in (slice(1, 3), slice(None, None, -2), slice(2, None)):
        assert type(ours[part]).__name__ == kind
        assert described(ours[part]) == described(theirs[part])  # Sequential keeps names, ModuleList renumbers
    with pytest.raises(IndexError, match="index 4 is out of range"):
        ours[4]
    with pytest.raises(TypeError, match="Modules"):
        ours[0] = mt.ones(2)


def test_named_sequential_keeps_its_names_and_runs_in_order():
    ours = nn.Sequential(collections.OrderedDict([("scale", nn.Linear(3, 3)), ("act", nn.ReLU())]))
    assert list(ours.state_dict()) == ["scale.weight", "scale.bias"]
    assert isinstance(ours[1:][0], nn.ReLU) and list(dict(ours[1:].named_children())) == ["act"]
    x = mt.randn(2, 3)
    expected = ours.scale(x).relu()
    np.testing.assert_array_equal(ours(x).detach().numpy(), expected.detach().numpy())
