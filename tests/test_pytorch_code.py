"""PyTorch CIFAR-10 code runs on minitorch_cifar with only its import lines changed, and computes what PyTorch does.

The samples under ``tests/pytorch_code/`` are PyTorch code as its users wrote it: the write-ups' (``writeup_*``,
shrunk to tiny data, slips of the write-ups' text fixed; each file's header says what changed), the PyTorch CIFAR-10
tutorial's and model definitions in the style of the popular CIFAR collections. Each runs twice: as it is, under
PyTorch, and with its import lines rewritten by the table of the README's "Coming from PyTorch" section, parsed from
the README here (so the two cannot drift), under minitorch_cifar, where importing torch fails. A sample is a list of
cells (``# %%`` splits a file into cells); after the cell that builds the model, PyTorch's weights are copied into
ours and the eval-mode outputs compared; at the end, everything printed (losses, accuracies: every number within
float32 tolerance, the words exactly), the final weights and the figures written are compared.

torchvision is not installed: on the PyTorch side a stand-in (``reference_torchvision``) reads the same CIFAR-10
files and transforms them with torch operations, as torchvision's code does, and PyTorch's DataLoader runs without
worker processes (the same batches, without their start-up time). Dropout layers are set to p=0 on both sides before
training (their random masks cannot be drawn alike); everything else runs as written.
"""
import ast
import contextlib
import io
import math
import pathlib
import pickle
import re
import sys
import types

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar.data import write_fake_cifar10

from helpers import check_against_torch, torch

plt = pytest.importorskip("matplotlib.pyplot")

# torch.Tensor's NumPy hooks predate NumPy 2's signatures: matplotlib warns when it converts PyTorch's tensors
pytestmark = [pytest.mark.filterwarnings("ignore:__array_wrap__ must accept:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True:UserWarning"),
              pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true:UserWarning")]

ROOT = pathlib.Path(__file__).resolve().parents[1]
CODE = pathlib.Path(__file__).resolve().parent / "pytorch_code"
SECTION = "## Coming from PyTorch"


# ---------------------------------------------------------------------- the README's table, and the rewrite by it
def readme_table():
    """The (PyTorch line, minitorch_cifar line) rows of the README's table of import lines."""
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"the README lost its section {SECTION!r}"
    section = text[text.index(SECTION):].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", section, re.M)
    assert rows, "the README's 'Coming from PyTorch' section holds no table of import lines"
    return rows


def bindings(line):
    """What an import line binds: name -> dotted path of the object (``import a.b as c``: c -> a.b)."""
    bound = {}
    for node in ast.parse(line).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name] = alias.name if alias.asname else alias.name.split(".")[0]
        else:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def module_mapping():
    """The table as module prefixes: 'torch' -> 'minitorch_cifar', 'torchvision' -> 'minitorch_cifar.vision' ..."""
    mapping = {}
    for theirs, ours in readme_table():
        left, right = bindings(theirs), bindings(ours)
        assert left.keys() == right.keys(), f"the README's row {theirs!r} -> {ours!r} binds other names"
        for name in left:
            a, b = left[name].split("."), right[name].split(".")
            while len(a) > 1 and len(b) > 1 and a[-1] == b[-1]:  # the common tail is the part carried over
                a, b = a[:-1], b[:-1]
            mapping[".".join(a)] = ".".join(b)
    return mapping


def mapped(module, mapping):
    """``module`` under the longest prefix of the mapping that names it, or None when it is no PyTorch module."""
    parts = module.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in mapping:
            return ".".join([mapping[prefix]] + parts[cut:])
    return None


def rewrite_imports(source, mapping):
    """``source`` with each import of a PyTorch module rewritten by ``mapping``; every other line as it was."""
    lines = source.splitlines(keepends=True)
    for node in sorted((n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))),
                       key=lambda n: n.lineno, reverse=True):
        indent = " " * node.col_offset
        if isinstance(node, ast.ImportFrom):
            target = mapped(node.module or "", mapping) if node.level == 0 else None
            if target is None:
                continue
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
            new = [f"from {target} import {names}"]
        else:
            if not any(mapped(a.name, mapping) for a in node.names):
                continue
            new = []
            for a in node.names:
                target = mapped(a.name, mapping)
                if target is None:
                    new.append(f"import {a.name}" + (f" as {a.asname}" if a.asname else ""))
                elif a.asname or "." not in a.name:
                    new.append(f"import {target} as {a.asname or a.name}")
                else:  # ``import torch.nn`` binds ``torch``
                    top = a.name.split(".")[0]
                    new += [f"import {target}", f"import {mapped(top, mapping)} as {top}"]
        lines[node.lineno - 1:node.end_lineno] = [indent + "; ".join(new) + "\n"]
    return "".join(lines)


def test_every_row_of_the_readme_table_is_the_rewrite_the_test_applies():
    mapping = module_mapping()
    assert mapping["torch"] == "minitorch_cifar" and mapping["torchvision"] == "minitorch_cifar.vision"
    for theirs, ours in readme_table():
        rewritten, printed = {}, {}
        exec(rewrite_imports(theirs, mapping), rewritten)
        exec(ours, printed)
        for name in bindings(theirs):
            assert rewritten[name] is printed[name], f"{theirs!r}: the rewrite binds {name} otherwise than {ours!r}"
    assert rewrite_imports("import numpy as np\nimport torch.nn\n", mapping) == (
        "import numpy as np\nimport minitorch_cifar.nn; import minitorch_cifar as torch\n")


# ------------------------------------------------------------ what the samples, and scripts like them, rely on
def test_an_element_is_a_view_so_counting_into_a_tensor_works():
    counts = mt.zeros(4)
    for label in (1, 3, 3, mt.tensor(3)):
        counts[label] += 1  # Python reads counts[label], adds in place, and writes it back
    np.testing.assert_array_equal(counts.numpy(), [0, 1, 0, 3])
    element = counts[3]
    element.mul_(2)
    assert counts[3].item() == 6.0 and element.shape == ()


def test_a_0d_result_converts_to_an_array_as_matplotlib_asks():
    total = mt.tensor([1.0, 2.0]).sum()
    for converted in (np.asarray(total), np.array(total, copy=None, subok=True), np.asarray([total, total])):
        assert isinstance(converted, np.ndarray) and converted.dtype == np.float32
    np.testing.assert_array_equal(np.asarray([total, total]), [3.0, 3.0])


def test_integer_tensors_divide_into_float32_as_in_pytorch():
    correct, total = mt.tensor([3, 1]), mt.tensor([4, 2])
    for ours, theirs in ((correct / total, torch.tensor([3, 1]) / torch.tensor([4, 2])),
                         (correct.sum() / 8, torch.tensor([3, 1]).sum() / 8), (6 / total, 6 / torch.tensor([4, 2])),
                         (mt.tensor([True, False]) / 2, torch.tensor([True, False]) / 2)):
        assert ours.dtype == np.float32 and theirs.dtype == torch.float32
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert (mt.tensor([1.0], dtype=mt.float64) / 2).dtype == np.float64


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**"])
def test_integer_tensors_with_floats_give_float32_as_in_pytorch(op):
    """NumPy promotes integers with a Python float (``one_hot(y) * 0.9``) or with float32 to float64; PyTorch to its
    default float32, and float64 only with a float64 tensor."""
    labels, theirs = mt.tensor([[1, 3], [4, 2]]), torch.tensor([[1, 3], [4, 2]])
    for ours_other, their_other in ((0.5, 0.5), (mt.ones(2), torch.ones(2)), (mt.tensor([True, False]) + 0.5,
                                                                             torch.tensor([True, False]) + 0.5)):
        for ours, expected in ((eval(f"labels {op} ours_other"), eval(f"theirs {op} their_other")),
                               (eval(f"ours_other {op} labels"), eval(f"their_other {op} theirs"))):
            assert ours.dtype == np.float32 and expected.dtype == torch.float32
            np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-6)
    assert eval(f"labels {op} mt.ones(2, dtype=mt.float64)").dtype == np.float64
    assert eval(f"labels {op} mt.ones(2, dtype=mt.float16)").dtype == np.float16  # the float tensor's dtype


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_and_any_as_in_pytorch(name):
    values = np.array([[1, 0, 2], [3, 4, 5]])
    for args in ((), (1,), (0, True)):
        ours, theirs = getattr(mt.tensor(values), name)(*args), getattr(torch.tensor(values), name)(*args)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert ours.dtype == np.bool_
    assert getattr(mt.tensor(values), name)(axis=1, keepdims=True).shape == (2, 1)


@pytest.mark.parametrize("clip", [
    lambda nn, ps: nn.utils.clip_grad_norm_(ps, 0.5), lambda nn, ps: nn.utils.clip_grad_norm_(ps, 100.0),
    lambda nn, ps: nn.utils.clip_grad_norm_(ps, 0.5, norm_type=1), lambda nn, ps: nn.utils.clip_grad_norm_(ps[0], 2.0),
    lambda nn, ps: nn.utils.clip_grad_norm_(iter(ps), 0.5, norm_type=math.inf),
    lambda nn, ps: nn.utils.clip_grad_value_(ps, 1.5)])
def test_gradient_clipping_as_in_pytorch(clip):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in ((3, 4), (5,), (2,))]
    sides = []
    for lib in (torch, mt):
        params = [lib.tensor(a, requires_grad=True) for a in arrays]
        sum((p ** 2).sum() * (k + 1) for k, p in enumerate(params[:2])).backward()  # the third has no gradient
        norm = clip(lib.nn, params)
        sides.append((norm, [p.grad for p in params[:2]]))
    (their_norm, their_grads), (our_norm, our_grads) = sides
    if their_norm is not None:
        np.testing.assert_allclose(our_norm.item(), their_norm.item(), rtol=1e-6)
    for ours, theirs in zip(our_grads, their_grads):  # the same float32 factor as PyTorch's: the same bits
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("rounding", [lambda x: x.floor(), lambda x: x.ceil(), lambda x: x.round(),
                                      lambda x: x.round(decimals=1)])
def test_rounding_has_pytorchs_zero_gradient(rounding):
    check_against_torch([np.array([-1.55, -0.5, 0.25, 1.5, 2.71])], rounding, rounding, dtype=np.float64)


def test_a_generator_seeded_as_pytorchs_splits_and_shuffles_as_numpys():
    dataset = mt.utils.data.TensorDataset(mt.arange(10))
    split = mt.utils.data.random_split(dataset, [0.8, 0.2], generator=mt.Generator().manual_seed(42))
    same = mt.utils.data.random_split(dataset, [0.8, 0.2], generator=np.random.default_rng(42))
    assert [part.indices for part in split] == [part.indices for part in same]
    batches = [mt.utils.data.DataLoader(dataset, 5, shuffle=True, generator=g)
               for g in (mt.Generator().manual_seed(1), np.random.default_rng(1))]
    assert [b[0].tolist() for b in batches[0]] == [b[0].tolist() for b in batches[1]]


# ---------------------------------------------------------------------- torchvision on the PyTorch side
def reference_torchvision():
    """The parts of torchvision the samples use, as torchvision computes them, in torch: ``datasets.CIFAR10`` (the
    images as (32, 32, 3) uint8 arrays, as minitorch_cifar gives them, instead of PIL images), ``transforms`` and
    ``utils.make_grid``."""
    class CIFAR10(torch.utils.data.Dataset):
        def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
            names = [f"data_batch_{k}" for k in range(1, 6)] if train else ["test_batch"]
            batches = []
            for name in names:  # the test's own files, written by write_fake_cifar10
                with open(pathlib.Path(root) / "cifar-10-batches-py" / name, "rb") as f:
                    batches.append(pickle.load(f, encoding="latin1"))
            self.data = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            self.targets = [label for b in batches for label in b["labels"]]
            self.transform, self.target_transform = transform, target_transform
            self.classes = list(mt.data.cifar.CLASSES)

        def __len__(self):
            return len(self.data)

        def __getitem__(self, index):
            image, target = self.data[index], self.targets[index]
            image = self.transform(image) if self.transform else image
            target = self.target_transform(target) if self.target_transform else target
            return image, target

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, image):
            for t in self.transforms:
                image = t(image)
            return image

    class ToTensor:
        def __call__(self, picture):  # torchvision.transforms.functional.to_tensor of an (H, W, C) uint8 array
            return torch.from_numpy(picture.transpose((2, 0, 1))).contiguous().to(torch.float32).div(255)

    class Normalize:
        def __init__(self, mean, std):
            self.mean, self.std = mean, std

        def __call__(self, tensor):  # torchvision.transforms.functional.normalize
            mean, std = torch.as_tensor(self.mean), torch.as_tensor(self.std)
            return tensor.sub(mean.view(-1, 1, 1)).div(std.view(-1, 1, 1))

    class Pad:
        def __init__(self, padding):
            self.padding = padding

        def __call__(self, picture):
            p = self.padding
            return np.pad(picture, ((p, p), (p, p), (0, 0)))

    class RandomCrop:
        def __init__(self, size):
            self.size = size

        def __call__(self, picture):
            top, left = (int(torch.randint(0, n - self.size + 1, ())) for n in picture.shape[:2])
            return picture[top:top + self.size, left:left + self.size]

    class RandomHorizontalFlip:
        def __init__(self, p=0.5):
            self.p = p

        def __call__(self, picture):
            return picture[:, ::-1].copy() if float(torch.rand(())) < self.p else picture

    def make_grid(tensor, nrow=8, padding=2, pad_value=0.0):  # torchvision.utils.make_grid for 3-channel batches
        count = tensor.size(0)
        columns = min(nrow, count)
        rows = int(math.ceil(count / columns))
        height, width = tensor.size(2) + padding, tensor.size(3) + padding
        grid = tensor.new_full((tensor.size(1), height * rows + padding, width * columns + padding), pad_value)
        for k in range(count):
            y, x = divmod(k, columns)
            grid[:, y * height + padding:(y + 1) * height, x * width + padding:(x + 1) * width] = tensor[k]
        return grid

    modules = {name: types.ModuleType(name) for name in ("torchvision", "torchvision.datasets",
                                                          "torchvision.transforms", "torchvision.utils")}
    modules["torchvision.datasets"].CIFAR10 = CIFAR10
    for cls in (Compose, ToTensor, Normalize, Pad, RandomCrop, RandomHorizontalFlip):
        setattr(modules["torchvision.transforms"], cls.__name__, cls)
    modules["torchvision.utils"].make_grid = make_grid
    for name in ("datasets", "transforms", "utils"):
        setattr(modules["torchvision"], name, modules[f"torchvision.{name}"])
    return modules


# ---------------------------------------------------------------------- running a sample on both sides
NUMBER = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?|-?\d+")


def cells(*files):
    """The cells of the sample files, in order: each file split at its ``# %%`` lines. A file given as
    ``(name, tag)`` gives its first cell and those whose ``# %% TAG ...`` line starts with the tag."""
    for entry in files:
        name, tag = entry if isinstance(entry, tuple) else (entry, None)
        parts = re.split(r"^# %%(.*)$", (CODE / name).read_text(), flags=re.M)
        yield parts[0]
        for header, cell in zip(parts[1::2], parts[2::2]):
            if tag is None or header.split()[:1] == [tag]:
                yield cell


def as_numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else mt.backend.to_device(
        value.array if isinstance(value, mt.Tensor) else np.asarray(value), "cpu")


class Side:
    """One framework's run of a sample: its namespace, its folder (the working directory) and what it printed."""

    def __init__(self, name, folder, inputs):
        self.name, self.folder, self.printed = name, folder, io.StringIO()
        self.namespace = {"__name__": "__main__", **{k: v.copy() for k, v in inputs.items()}}
        folder.mkdir()
        write_fake_cifar10(folder / "data", train_per_class=1, test_per_class=1, seed=0)

    def run(self, source, monkeypatch):
        with monkeypatch.context() as m:
            m.chdir(self.folder)
            if self.name == "torch":
                for module_name, module in reference_torchvision().items():
                    m.setitem(sys.modules, module_name, module)
                m.setattr(torch.utils.data, "DataLoader", InProcessLoader)
            else:  # an import the rewrite missed fails instead of running PyTorch
                for module_name in ("torch", "torchvision"):
                    m.setitem(sys.modules, module_name, None)
                m.setattr(mt.cuda, "is_available", torch.cuda.is_available)  # both take PyTorch's device branch
            with contextlib.redirect_stdout(self.printed):
                exec(compile(source, f"<{self.name} sample>", "exec"), self.namespace)


class InProcessLoader(torch.utils.data.DataLoader):
    """PyTorch's loader without worker processes (which only take time to start): the same batches."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "num_workers": 0})


def copy_weights(theirs, ours):
    """PyTorch's state dict into our model, through NumPy; both models' dropout then at p=0."""
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    for model in (theirs, ours):
        for module in model.modules():
            if type(module).__name__ in ("Dropout", "Dropout2d"):
                module.p = 0.0


def as_tuple(size):
    """``torch.Size([3, 32, 32])`` as our shapes print, a tuple: ``(3, 32, 32)`` (the README lists the difference)."""
    return repr(tuple(int(n) for n in re.findall(r"\d+", size.group(1))))


def assert_same_printout(theirs, ours, rtol=2e-4, atol=2e-5):
    """The same text, word for word, with every number equal within float32 tolerance."""
    theirs = re.sub(r"torch\.Size\(\[([\d, ]*)\]\)", as_tuple, theirs)
    assert NUMBER.sub("#", ours) == NUMBER.sub("#", theirs), f"printed:\n{ours}\nPyTorch printed:\n{theirs}"
    np.testing.assert_allclose([float(x) for x in NUMBER.findall(ours)],
                               [float(x) for x in NUMBER.findall(theirs)], rtol=rtol, atol=atol, err_msg=ours)


def assert_same_state(theirs, ours, rtol, atol):
    """Every parameter and buffer of the two models agrees."""
    expected = theirs.state_dict()
    got = ours.state_dict() if isinstance(ours, mt.nn.Module) else ours
    assert list(got) == list(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(as_numpy(got[key]), value.numpy(), rtol=rtol, atol=atol, err_msg=key)


@pytest.fixture(autouse=True)
def _figures_closed():
    """Figures of a sample stay open until it ends (closing one runs a garbage collection, which takes long)."""
    yield
    plt.close("all")


@pytest.fixture(autouse=True, scope="module")
def _torch_on_one_thread():
    """PyTorch on one thread: its tiny operations here only lose time to threads (the same results)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_sample(files, tmp_path, monkeypatch, inputs, model="net", rtol=2e-4, atol=2e-5, weights_atol=2e-4):
    """Run the sample's cells on both sides; returns the two sides for sample-specific checks."""
    mapping = module_mapping()
    theirs, ours = Side("torch", tmp_path / "torch", inputs), Side("ours", tmp_path / "ours", inputs)
    synced = False
    torch.manual_seed(0)
    mt.manual_seed(0)
    for cell in cells(*files):
        theirs.run(cell, monkeypatch)
        ours.run(rewrite_imports(cell, mapping), monkeypatch)
        if not synced and model in theirs.namespace:
            their_model, our_model = theirs.namespace[model], ours.namespace[model]
            copy_weights(their_model, our_model)
            check_eval_outputs(their_model, our_model, tiny_images(2, seed=1)["images"], rtol, atol)
            synced = True
    assert synced, f"no cell built {model!r}"
    assert_same_printout(theirs.printed.getvalue(), ours.printed.getvalue(), rtol, atol)
    assert_same_state(theirs.namespace[model], ours.namespace[model], rtol=10 * rtol, atol=weights_atol)
    return theirs, ours


def check_eval_outputs(theirs, ours, images, rtol, atol):
    """The two models, in eval mode, give the same outputs for ``images``; both are back in training mode after."""
    theirs.eval(), ours.eval()
    with torch.no_grad():
        expected = theirs(torch.tensor(images)).numpy()
    with mt.no_grad():
        got = ours(mt.tensor(images)).numpy()
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    theirs.train(), ours.train()


def tiny_images(count=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"images": rng.standard_normal((count, 3, 32, 32)).astype(np.float32),
            "labels": rng.integers(0, 10, count).astype(np.int64)}


# ResNet-18's gradients, through BatchNorm over two images, agree with PyTorch's to 1e-14 in float64 but only to
# about 1% in float32: its weights after two steps agree to 1e-3
@pytest.mark.parametrize("model_file, weights_atol", [
    ("resnet18.py", 1e-3), ("vgg.py", 2e-4), ("mobilenet.py", 2e-4), ("densenet.py", 2e-4), ("googlenet.py", 2e-4),
    ("senet.py", 2e-4)])
def test_collection_model_trains_as_in_pytorch(model_file, weights_atol, tmp_path, monkeypatch):
    run_sample([model_file, "train_loop.py"], tmp_path, monkeypatch, tiny_images(), weights_atol=weights_atol)


@pytest.mark.parametrize("model_file", ["mobilenet.py", "senet.py"])
def test_a_one_cycle_adamw_loop_with_clipping_trains_as_in_pytorch(model_file, tmp_path, monkeypatch):
    run_sample([model_file, "train_loop_onecycle.py"], tmp_path, monkeypatch, tiny_images(), weights_atol=4e-3)


def test_todays_blocks_and_training_tricks_run_as_in_pytorch(tmp_path, monkeypatch):
    """Chunked ShuffleNet units, GroupNorm, LayerNorm, Hardswish and SiLU, a ModuleDict of heads; mixup on one-hot
    targets, label smoothing by scatter_, distillation by kl_div, torch.norm of the gradients, top-k accuracy."""
    run_sample(["modern_blocks.py", "train_loop_tricks.py"], tmp_path, monkeypatch, tiny_images())


def test_an_autoencoder_trains_and_its_gradients_are_read_as_in_pytorch(tmp_path, monkeypatch):
    """ConvTranspose2d, bilinear Upsample and Embedding; RMSprop under CyclicLR; a Grad-CAM map from forward and full
    backward hooks, a tensor hook, a saliency map and an FGSM step from autograd.grad."""
    run_sample(["autoencoder.py", "train_loop_gradients.py"], tmp_path, monkeypatch, tiny_images())


def assert_same_figure(theirs, ours, name):
    """The figure ``name`` both sides wrote has the same pixels, but for a few: a curve drawn to the scale of its
    own narrow range (a loss over a few steps) shows float32's last digits."""
    expected, got = plt.imread(theirs.folder / name), plt.imread(ours.folder / name)
    assert got.shape == expected.shape, name
    differing = np.abs(got - expected).max(axis=-1) > 0.25
    assert differing.mean() < 1e-2, f"{name}: {differing.mean():.2%} of the pixels differ"


def test_pytorch_tutorial_runs_and_computes_as_in_pytorch(tmp_path, monkeypatch):
    theirs, ours = run_sample(["tutorial.py"], tmp_path, monkeypatch, {})
    assert "Finished Training" in ours.printed.getvalue()
    for name in ("images", "labels"):  # the last test batch, through ToTensor and Normalize on both sides
        np.testing.assert_allclose(as_numpy(ours.namespace[name]), as_numpy(theirs.namespace[name]), rtol=1e-6)
    assert_same_figure(theirs, ours, "images.png")


# Winograd F(4x4, 3x3), which the fast kernels run on 3x3 layers of 16+ channels with outputs of 8x8 or more,
# rounds differently from PyTorch's convolutions (a float32 error about 3x that of F(2x2, 3x3)); over the samples'
# training steps a weight may end a few 1e-4 away (a few 1e-3 through the ResNet's BatchNorm statistics).
def test_writeup_002_simplenet_dataset_plots_and_training(tmp_path, monkeypatch):
    theirs, ours = run_sample(["writeup_002_simplenet.py"], tmp_path, monkeypatch, {}, model="model",
                              weights_atol=5e-4)
    for figure in ("cifar10_samples.png", "class_distribution.png"):
        assert_same_figure(theirs, ours, figure)


def test_writeup_003_alexnet_notebook_trains_plots_saves_and_reloads(tmp_path, monkeypatch):
    theirs, ours = run_sample(["writeup_003_alexnet.py"], tmp_path, monkeypatch, {})
    assert "Total: " in ours.printed.getvalue() and "Sequential(" in ours.printed.getvalue()
    for figure in ("grid.png", "curves.png", "predictions.png"):
        assert_same_figure(theirs, ours, figure)
    reloaded = ours.namespace["model"]
    assert type(reloaded) is mt.nn.Sequential and reloaded is not ours.namespace["net"]
    assert_same_state(theirs.namespace["net"], reloaded, rtol=2e-3, atol=2e-4)


def test_writeup_001_resnet_lr_range_test_cosine_training_and_augmentation(tmp_path, monkeypatch):
    theirs, ours = run_sample(["writeup_001_resnet.py"], tmp_path, monkeypatch, {}, weights_atol=2e-3)
    assert "finish" in ours.printed.getvalue() and "Accuracy of  ship" in ours.printed.getvalue()
    assert_same_figure(theirs, ours, "lr_finder.png")
    # the augmentation: each of our images is a 32x32 window of PyTorch's padded image, mirrored or not
    plain = theirs.namespace["trainset"]
    padded = torch.nn.functional.pad(torch.stack([plain[i][0] for i in range(len(plain))]), (4, 4, 4, 4),
                                     value=-1.0)  # zero pixels, normalized
    images = ours.namespace["augmented_images"].numpy()
    np.testing.assert_array_equal(ours.namespace["augmented_labels"].numpy(), plain.targets)
    for image, source in zip(images, padded.numpy()):
        windows = [source[:, top:top + 32, left:left + 32] for top in range(9) for left in range(9)]
        assert any(np.allclose(image, w) or np.allclose(image, w[:, :, ::-1]) for w in windows)


# Adam's step, lr * m / sqrt(v), is about lr * sign(gradient) wherever a gradient is tiny or zero up to rounding
# (a convolution's bias before BatchNorm): there float32's rounding decides the sign, and a weight may differ by
# 4 lr after the four steps. cnn2 and cnn3 (Adam through BatchNorm over four images) agree with PyTorch to 1e-13 in
# float64, to 1e-3 in float32.
@pytest.mark.parametrize("network, rtol, weights_atol", [
    ("mlp_first", 2e-4, 2e-4), ("mlp_final", 2e-4, 4e-3), ("cnn1", 2e-4, 4e-3), ("cnn2", 1e-3, 4e-3),
    ("cnn3", 1e-3, 1.2e-2)])
def test_writeup_000_networks_train_as_in_pytorch(network, rtol, weights_atol, tmp_path, monkeypatch):
    theirs, ours = run_sample([("writeup_000_models.py", network)], tmp_path, monkeypatch, tiny_images(8),
                              model=f"{network}_net", rtol=rtol, weights_atol=weights_atol)
    assert_same_figure(theirs, ours, f"output/{network}_fig.png")
    csv_files = [side.folder / f"output/{network}_training_metrics.csv" for side in (theirs, ours)]
    expected, got = (np.loadtxt(f, delimiter=",", skiprows=1) for f in csv_files)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=2e-5)
    saved = mt.load(ours.folder / f"output/{network}.pth")
    assert_same_state(theirs.namespace[f"{network}_net"], saved, rtol=2e-3, atol=weights_atol)
