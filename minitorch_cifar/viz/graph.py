"""``to_dot(tensor)``: the autograd graph behind a tensor as Graphviz DOT text."""
import numbers

from ..tensor import Tensor

_STYLE = {  # node attributes by kind, in torchviz's colours
    "function": 'shape=box, style="rounded,filled", fillcolor=lightgrey',
    "parameter": "shape=box, style=filled, fillcolor=lightblue",
    "leaf": "shape=box",
    "tensor": "shape=ellipse, fontsize=9",
    "output": "shape=ellipse, style=filled, fillcolor=darkolivegreen1",
    "constant": "shape=plaintext",
}


def to_dot(tensor, params=None):
    """Graphviz DOT text of the autograd graph that produced ``tensor``.

    Each op (``Function``) is a grey box named by its class (``MatMul``, ``Add``, ``ReLU``, ...), with an edge
    from each of its inputs in order and an edge to the tensor it produced, so data flows
    input -> function -> output. Tensors show their shape; leaves that require a gradient are blue and, when
    ``params`` (``dict(model.named_parameters())``, or the model itself) holds them, named; the result is
    green; a plain number or array given to an op is a constant node. Render with ``dot -Tpng graph.dot``.

    Call it before ``backward()``: backward frees the graph as it goes (unless ``retain_graph=True``), and
    a freed graph raises an error here. Under ``no_grad`` or without inputs that require a gradient, no
    graph is recorded and the result is a lone tensor node.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot() takes a Tensor, got {type(tensor).__name__}")
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    names = {id(p): name for name, p in (params or {}).items()}
    dot = _Dot()
    pending, seen = [tensor], {id(tensor)}
    while pending:
        out = pending.pop()
        out_node = dot.tensor(out, names, is_output=out is tensor)
        creator = out._creator
        if creator is None:
            continue
        if getattr(creator, "released", False):
            raise RuntimeError("to_dot(): the autograd graph of this tensor was freed by backward(); call to_dot() "
                               "before backward(), or pass retain_graph=True to backward()")
        fn_node = dot.node("f", type(creator).__name__, "function")
        for x in creator.inputs:
            if isinstance(x, Tensor):
                dot.edge(dot.tensor(x, names), fn_node)
                if id(x) not in seen:
                    seen.add(id(x))
                    pending.append(x)
            else:
                dot.edge(dot.node("c", _constant_label(x), "constant"), fn_node)
        dot.edge(fn_node, out_node)
    return dot.text()


class _Dot:
    """Builds the DOT statements; each tensor gets one node, however many ops use it."""

    def __init__(self):
        self.lines, self.tensor_nodes, self.count = [], {}, 0

    def node(self, prefix, label, kind):
        self.count += 1
        name = f"{prefix}{self.count}"
        self.lines.append(f'  {name} [label="{_escape(label)}", {_STYLE[kind]}];')
        return name

    def tensor(self, t, names, is_output=False):
        if id(t) not in self.tensor_nodes:
            shape = str(t.shape)
            if is_output:
                kind, label = "output", shape
            elif t._creator is not None:
                kind, label = "tensor", shape
            elif id(t) in names:
                kind, label = "parameter", f"{names[id(t)]}\n{shape}"
            else:
                kind, label = ("parameter" if t.requires_grad else "leaf"), shape
            self.tensor_nodes[id(t)] = self.node("t", label, kind)
        return self.tensor_nodes[id(t)]

    def edge(self, source, target):
        self.lines.append(f"  {source} -> {target};")

    def text(self):
        header = ["digraph autograd {", '  node [fontname="Helvetica", fontsize=10];']
        return "\n".join(header + self.lines + ["}"]) + "\n"


def _constant_label(x):
    if isinstance(x, numbers.Number):
        return f"{x:g}" if isinstance(x, float) else str(x)
    if hasattr(x, "shape"):
        return f"constant {tuple(x.shape)}"
    return type(x).__name__


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
