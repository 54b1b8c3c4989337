"""The tour in docs/ cannot rot: its code runs, its links lead somewhere, the names it cites exist, and the
script that draws its pictures still draws them.

- Every ```python block of a page runs, in order, in one namespace per page (a page builds on its earlier
  blocks). A block whose first line is ``# not run: <why>`` only has to compile (the convention docs/README.md
  states).
- Every relative link (``[text](path)``, ``![alt](images/x.png)``) names a file or folder that exists; a link whose
  text is a code name (``[`reference_conv2d`](../minitorch_cifar/ops/conv.py)``) needs that name defined in the
  linked file.
- Every code span ``path/file.py::name`` (path from the repository root) names an existing file defining
  ``name``; every code span ``minitorch_cifar.a.b`` (or ``mt.a.b``) imports; every code span ``name()`` or
  ``a.b.name()`` names a function or class defined in the package (or the docs' script).
- Every ``>`` quote on the fast-paths page stands word for word in benchmarks/RESULTS.md (`` ... `` marks a cut),
  so that a figure quoted there is one measured, and a new measurement flags the page.
"""
import importlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
NOT_RUN = "# not run:"

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_FENCED = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)\)")
_SPAN = re.compile(r"`([^`\n]+)`")
_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?")


def _prose(text):
    """The page without its fenced blocks: where links and code spans are read."""
    return _FENCED.sub("", text)


def _defines(source, dotted):
    """Whether ``source`` defines ``dotted``: a def, class or top-level assignment; for ``Class.method``, the
    method after its class's line (``module.name``, such as ``nn.Conv2d``, needs only ``name``)."""
    *outer, name = dotted.split(".")
    if not re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{name}\b|^{name}\s*[:=]", source, re.M):
        return False
    owner = re.search(rf"^class\s+{outer[-1]}\b", source, re.M) if outer else None
    return owner is None or re.search(rf"^\s+def\s+{name}\b", source[owner.end():], re.M) is not None


def _package_sources():
    files = list((ROOT / "minitorch_cifar").rglob("*.py")) + [DOCS / "make_figures.py"]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def test_the_tour_has_its_pages_in_order():
    names = [p.name for p in PAGES]
    assert names == ["01_training_step.md", "02_write_an_op.md", "03_fast_paths.md", "04_reading_a_run.md",
                     "README.md"]
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    positions = [index.find(f"({name})") for name in names[:-1]]
    assert -1 not in positions and positions == sorted(positions), "docs/README.md lists the pages in order"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever a block writes lands here
    namespace = {"__name__": f"docs_{page.stem}"}
    blocks = _BLOCK.findall(page.read_text(encoding="utf-8"))
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{page.name}, python block {number}", "exec")
        if not block.startswith(NOT_RUN):
            exec(code, namespace)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_lead_somewhere(page):
    for text, target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.name}: link [{text}]({target}) leads nowhere"
        name = text.strip("`").removesuffix("()")
        if text.startswith("`") and path.suffix == ".py" and _NAME.fullmatch(name) and not name.endswith(".py"):
            assert _defines(path.read_text(encoding="utf-8"), name), f"{page.name}: {target} defines no {name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_named_code_exists(page):
    sources = None
    for span in _SPAN.findall(_prose(page.read_text(encoding="utf-8"))):
        if "::" in span:
            file, name = span.split("::")
            path = ROOT / file
            assert path.is_file(), f"{page.name}: `{span}`: no file {file}"
            assert _defines(path.read_text(encoding="utf-8"), name.removesuffix("()")), \
                f"{page.name}: `{span}`: {file} defines no {name}"
        elif re.fullmatch(r"(minitorch_cifar|mt)(\.\w+)+", span):
            parts = span.replace("mt.", "minitorch_cifar.", 1).split(".")
            for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
                try:
                    obj = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                for attribute in parts[cut:]:
                    assert hasattr(obj, attribute), f"{page.name}: `{span}`: no {attribute}"
                    obj = getattr(obj, attribute)
                break
        elif re.fullmatch(r"[A-Za-z_][\w.]*\(\)", span):
            sources = sources or _package_sources()
            name = span[:-2].rsplit(".", 1)[-1]
            assert re.search(rf"^\s*(?:def|class)\s+{name}\b", sources, re.M), \
                f"{page.name}: `{span}`: no function or class {name} in the package"


def _quotes(text):
    """The text of each blockquote (a run of lines starting with '>'), whitespace collapsed."""
    quotes, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith(">"):
            current.append(line[1:].strip())
        elif current:
            quotes.append(" ".join(current))
            current = []
    return quotes


def test_fast_paths_quote_the_measured_results():
    results = " ".join((ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8").split())
    quotes = _quotes((DOCS / "03_fast_paths.md").read_text(encoding="utf-8"))
    assert quotes, "the fast-paths page quotes its speed-ups from RESULTS.md"
    for quote in quotes:
        position = 0
        for fragment in quote.split(" ... "):
            found = results.find(" ".join(fragment.split()), position)
            assert found >= 0, f"not in benchmarks/RESULTS.md (in this order): {fragment!r}"
            position = found + len(fragment)


def _load_figure_script():
    spec = importlib.util.spec_from_file_location("make_figures", DOCS / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figure_script_draws_every_picture(tmp_path):
    """docs/make_figures.py on a tiny synthetic CIFAR-10 and a one-epoch run of it: every PNG is written."""
    from minitorch_cifar import cli
    from minitorch_cifar.data.synthetic import write_fake_cifar10
    import minitorch_cifar as mt

    data = write_fake_cifar10(tmp_path / "data", train_per_class=4, test_per_class=2)
    common = ["--model", "cnn2", "--data-dir", str(data), "--batch-size", "8", "--no-progress"]
    with mt.use_kernels("reference"):  # tiny shapes: the plain kernels need no compiling
        for lr, name in (("1e-3", "run"), ("1e-1", "fast")):
            assert cli.main(["train", *common, "--epochs", "2", "--lr", lr, "--out", str(tmp_path / name)]) in (0, None)
        assert cli.main(["lr-find", *common, "--num-iter", "20", "--out", str(tmp_path / "lr")]) in (0, None)
        out = tmp_path / "images"
        _load_figure_script().main(["--data-dir", str(data), "--run", str(tmp_path / "run"),
                                    "--lr-find", str(tmp_path / "lr"), "--compare", f"slow={tmp_path / 'run'}",
                                    f"fast={tmp_path / 'fast'}", "--out", str(out)])
    expected = {"im2col", "maxpool_grad", "graph_cnn2", "run_curves", "run_confusion", "run_per_class",
                "run_feature_maps", "run_filters", "lr_find", "run_compare"}
    assert {p.stem for p in out.glob("*.png")} == expected
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, png.name


def test_busiest_crop_finds_the_detail():
    """The im2col picture's crop is where the image varies most."""
    image = np.full((3, 32, 32), 128, np.uint8)
    image[:, 20:26, 3:9] = 255 * (np.add.outer(np.arange(6), np.arange(6)) % 2)  # a 6x6 checkerboard on grey
    assert _load_figure_script().busiest_crop(image) == (20, 3)


def test_graph_drawing_reads_to_dot_and_draws_data_downwards():
    """draw_graph's layout: to_dot's nodes with their kinds, every edge pointing to a lower row."""
    import minitorch_cifar as mt
    from minitorch_cifar import nn
    from minitorch_cifar.viz import to_dot
    from minitorch_cifar.viz.graph_plot import _rows, draw_graph, parse_dot

    layer = nn.Linear(3, 2)
    loss = nn.functional.cross_entropy(layer(mt.randn(4, 3)).relu(), mt.tensor([0, 1, 1, 0]))
    nodes, edges = parse_dot(to_dot(loss, layer))
    labels = {label.split("\n")[0]: kind for label, kind in nodes.values()}
    assert labels == {"()": "output", "LogLikelihood": "function", "ReLU": "function", "Linear": "function",
                      "weight": "parameter", "bias": "parameter", "constant": "constant"}
    assert len(edges) == len(nodes) - 1  # a tree: every node but the output feeds one op
    rows = _rows(nodes, edges)
    assert all(rows[source] < rows[target] for source, target in edges)
    figure = draw_graph(loss, params=layer)
    assert len(figure.axes[0].texts) == len(nodes)
