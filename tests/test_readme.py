"""The README's code runs as printed: its custom Function example is extracted and executed."""
import pathlib
import re

import numpy as np

from helpers import torch

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- README example: a custom Function (run by tests/test_readme.py) -->"


def readme_example():
    text = README.read_text()
    assert MARKER in text, "the README lost the marker before its custom Function example"
    return re.search(r"```python\n(.*?)```", text[text.index(MARKER):], re.S).group(1)


def test_custom_function_example_runs_and_computes_swish(capsys):
    namespace = {}
    exec(compile(readme_example(), str(README), "exec"), namespace)  # gradcheck inside raises if backward is wrong
    assert capsys.readouterr().out.strip() == "<SwishBackward>"
    x = namespace["x"]
    expected = torch.nn.functional.silu(torch.tensor(x.detach().numpy()))
    np.testing.assert_allclose(namespace["Swish"].apply(x).detach().numpy(), expected.numpy(), rtol=1e-12)
