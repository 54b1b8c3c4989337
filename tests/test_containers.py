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


# ----------------------------------------------------------------------------- ModuleDict, ParameterList, ParameterDict
def lib_of(nn_):
    return mt if nn_ is nn else torch


def entries(container):
    """(key, shape) of every state_dict entry, in order."""
    return [(key, tuple(value.shape)) for key, value in container.state_dict().items()]


DICT_EDITS = {
    "set a new key": lambda d, nn_: d.__setitem__("new", nn_.Linear(9, 2)),
    "set a key again (keeps its place)": lambda d, nn_: d.__setitem__("b", nn_.Linear(9, 2)),
    "delete": lambda d, nn_: d.__delitem__("b"),
    "pop": lambda d, nn_: d.pop("a"),
    "update from a dict": lambda d, nn_: d.update({"z": nn_.Linear(7, 2), "b": nn_.Linear(8, 2)}),
    "update from pairs": lambda d, nn_: d.update([("y", nn_.Linear(7, 2)), ("a", nn_.Linear(8, 2))]),
    "clear, then set": lambda d, nn_: (d.clear(), d.__setitem__("c", nn_.Linear(5, 2))),
}


@pytest.mark.parametrize("edit", list(DICT_EDITS))
def test_module_dict_edits_give_pytorchs_order_and_keys(edit):
    def build(nn_):
        return nn_.ModuleDict({"b": nn_.Linear(1, 2), "act": nn_.ReLU(), "a": nn_.Linear(3, 2)})

    ours, theirs = build(nn), build(torch.nn)
    assert entries(ours) == entries(theirs)
    DICT_EDITS[edit](ours, nn), DICT_EDITS[edit](theirs, torch.nn)
    assert entries(ours) == entries(theirs)
    assert list(ours) == list(theirs) == list(ours.keys()) and len(ours) == len(theirs)
    assert [type(m).__name__ for m in ours.values()] == [type(m).__name__ for m in theirs.values()]
    assert [k for k, _ in ours.items()] == list(theirs.keys()) and ("a" in ours) == ("a" in theirs)
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)


def test_module_dict_takes_an_ordered_dict_pairs_and_another_module_dict():
    pairs = [("second", nn.Linear(2, 2)), ("first", nn.Linear(3, 2))]
    for source in (collections.OrderedDict(pairs), pairs, nn.ModuleDict(pairs)):
        assert list(nn.ModuleDict(source)) == ["second", "first"]
    assert len(nn.ModuleDict()) == 0


def build_parameter_list(nn_):
    lib = lib_of(nn_)
    plist = nn_.ParameterList([nn_.Parameter(lib.zeros(3, 4)), lib.ones(2)])  # a plain tensor becomes a Parameter
    plist.append(lib.zeros(5)).extend([nn_.Parameter(lib.zeros(1, 2)), lib.zeros(6)])
    plist[-2] = lib.ones(2, 2)
    return plist


def test_parameter_list_as_pytorchs():
    ours, theirs = build_parameter_list(nn), build_parameter_list(torch.nn)
    assert entries(ours) == entries(theirs) == [("0", (3, 4)), ("1", (2,)), ("2", (5,)), ("3", (2, 2)), ("4", (6,))]
    assert all(type(p) is nn.Parameter and p.requires_grad for p in ours)
    assert len(ours) == 5 and ours[-1] is list(ours)[4] is list(ours.parameters())[4]
    for part in (slice(1, 4), slice(None, None, -2)):
        assert type(ours[part]) is nn.ParameterList
        assert entries(ours[part]) == entries(theirs[part])
        assert ours[part][0] is ours[part.indices(5)[0]]  # the same Parameter objects
    assert repr(ours) == repr(theirs).replace("torch.", "")
    assert repr(ours[:1]) == repr(theirs[:1]).replace("torch.", "")  # one line
    tensor = mt.ones(3)
    ours.append(tensor)
    assert ours[-1].array is tensor.array  # wrapped, sharing memory
    with pytest.raises(IndexError, match="index 6 is out of range for a ParameterList of 6 parameters"):
        ours[6]


PARAMETER_DICT_EDITS = {
    "plain dict (sorted, as PyTorch)": lambda d, lib: d.update({"z": lib.zeros(1), "c": lib.zeros(2)}),
    "ordered dict": lambda d, lib: d.update(collections.OrderedDict([("z", lib.zeros(1)), ("c", lib.zeros(2))])),
    "pairs": lambda d, lib: d.update([("z", lib.zeros(1)), ("c", lib.zeros(2))]),
    "set a key again": lambda d, lib: d.__setitem__("b", lib.zeros(7)),
    "delete, pop": lambda d, lib: (d.__delitem__("b"), d.pop("a")),
    "clear": lambda d, lib: d.clear(),
}


@pytest.mark.parametrize("edit", list(PARAMETER_DICT_EDITS))
def test_parameter_dict_edits_give_pytorchs_order_and_keys(edit):
    def build(nn_):
        lib = lib_of(nn_)
        pdict = nn_.ParameterDict({"b": nn_.Parameter(lib.zeros(2, 3)), "a": lib.ones(4)})
        PARAMETER_DICT_EDITS[edit](pdict, lib)
        return pdict

    ours, theirs = build(nn), build(torch.nn)
    assert entries(ours) == entries(theirs)
    assert list(ours) == list(theirs.keys()) and [tuple(p.shape) for p in ours.values()] == [
        tuple(p.shape) for p in theirs.values()]
    assert all(type(p) is nn.Parameter for p in ours.values())
    assert repr(ours) == repr(theirs).replace("torch.FloatTensor", "float32")


def nested_model(nn_):
    """A model with every container, as CIFAR model code builds them."""
    lib = lib_of(nn_)
    model = nn_.Module()
    model.stages = nn_.ModuleDict({"stem": nn_.Conv2d(3, 4, 3),
                                   "head": nn_.Sequential(nn_.Flatten(), nn_.Linear(4, 2))})
    model.scales = nn_.ParameterList([lib.ones(4), lib.ones(2)])
    model.gates = nn_.ParameterDict({"gate": nn_.Parameter(lib.zeros(1, 4, 1, 1))})
    model.norms = nn_.ModuleList([nn_.GroupNorm(2, 4), nn_.LayerNorm(4)])
    return model


def test_nested_containers_load_pytorchs_state_dict_and_feed_the_optimizer():
    ours, theirs = nested_model(nn), nested_model(torch.nn)
    assert entries(ours) == entries(theirs)
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-1, 1)
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), err_msg=name)
    before = [p.detach().numpy().copy() for p in ours.parameters()]
    optimizer = mt.optim.SGD(ours.parameters(), lr=0.1)
    loss = sum((p * p).sum() for p in ours.parameters())
    loss.backward()
    optimizer.step()
    for old, p in zip(before, ours.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), old - 0.1 * 2 * old, rtol=1e-6)  # every one stepped


def test_reassigning_a_submodule_or_parameter_keeps_its_place_as_in_pytorch():
    def build(nn_):
        model = nn_.Module()
        model.conv1, model.fc = nn_.Conv2d(3, 4, 3), nn_.Linear(4, 2)
        model.scale = nn_.Parameter(lib_of(nn_).ones(1))
        model.conv1 = nn_.Conv2d(3, 4, 1)  # the CIFAR change of an ImageNet stem
        model.register_parameter("scale", nn_.Parameter(lib_of(nn_).ones(2)))
        return model

    assert entries(build(nn)) == entries(build(torch.nn))


@pytest.mark.parametrize("wrong, error, message", [
    (lambda: nn.ModuleDict({"a": 3}), TypeError, "ModuleDict holds Modules, got int"),
    (lambda: nn.ModuleDict({1: nn.ReLU()}), TypeError, "ModuleDict keys are strings, got int"),
    (lambda: nn.ModuleDict({"a.b": nn.ReLU()}), KeyError, "without '.'"),
    (lambda: nn.ModuleDict({"update": nn.ReLU()}), KeyError, "'update' is the name of an attribute"),
    (lambda: nn.ModuleDict(3), TypeError, "ModuleDict.update takes a mapping or an iterable"),
    (lambda: nn.ModuleDict([("a", nn.ReLU(), 1)]), TypeError, "element #0 is not a"),
    (lambda: nn.ModuleDict()["missing"], KeyError, "missing"),
    (lambda: nn.ParameterList([np.zeros(3)]), TypeError, "ParameterList holds Parameters .* got ndarray"),
    (lambda: nn.ParameterList().extend(mt.zeros(3)), TypeError, "extend takes an iterable of parameters, got Tensor"),
    (lambda: nn.ParameterList([mt.zeros(1)])[1], IndexError, "index 1 is out of range"),
    (lambda: nn.ParameterDict({"a": 1.0}), TypeError, "ParameterDict holds Parameters"),
    (lambda: nn.ParameterDict({2: mt.zeros(1)}), TypeError, "keys are strings"),
])
def test_wrong_entries_are_refused_clearly(wrong, error, message):
    with pytest.raises(error, match=message):
        wrong()
