"""``to_dot(tensor)``: the autograd graph behind a tensor as Graphviz DOT text."""
from ..autograd import Function
from ..tensor import Tensor

_STYLE = {  # node attributes by kind, in torchviz's colours
    "function": 'shape=box, style="rounded,filled", fillcolor=lightgrey',
    "parameter": "shape=box, style=filled, fillcolor=lightblue",
    "leaf": "shape=box",
    "output": "shape=ellipse, style=filled, fillcolor=darkolivegreen1",
    "constant": "shape=plaintext",
}


def to_dot(tensor, params=None):
    """Graphviz DOT text of the autograd graph that produced ``tensor``.

    Each op (``Function``) is a grey box named by its class (``MatMul``, ``Add``, ``ReLU``, ...), then the
    algorithm it ran where it has a choice (a convolution's ``im2col``, ``Winograd F(2x2,3x3)``, ...), then the
    shape of its output, with an edge from each of its inputs in order, so data flows input -> function -> output.
    Leaves that require a gradient are blue boxes with their shape and, when ``params``
    (``dict(model.named_parameters())``, or the model itself) holds them, their name; inputs that need no
    gradient (data, numbers) are the plain text "constant", since autograd keeps nothing of them; the result is
    green. The graph is the one backward walks: it links functions to the functions that made their inputs,
    keeping no intermediate arrays. Render with ``dot -Tpng graph.dot``.

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
    out_node = dot.tensor(tensor, names, is_output=True)
    if tensor.grad_fn is None:
        return dot.text()
    function_nodes, pending = {}, []

    def function_node(fn):
        if id(fn) not in function_nodes:
            if getattr(fn, "released", False):
                raise RuntimeError("to_dot(): the autograd graph of this tensor was freed by backward(); call "
                                   "to_dot() before backward(), or pass retain_graph=True to backward()")
            function_nodes[id(fn)] = dot.node("f", _function_label(fn), "function")
            pending.append(fn)
        return function_nodes[id(fn)]

    dot.edge(function_node(tensor.grad_fn), out_node)
    while pending:
        fn = pending.pop()
        for parent in fn.parents:
            if isinstance(parent, Function):
                source = function_node(parent)
            elif isinstance(parent, Tensor):
                source = dot.tensor(parent, names)
            else:
                source = dot.node("c", "constant", "constant")
            dot.edge(source, function_nodes[id(fn)])
    return dot.text()


def _function_label(fn):
    """The op's class, the algorithm it chose (when it records one as ``fn.algorithm``), its output's shape."""
    algorithm = getattr(fn, "algorithm", None)
    return "\n".join([type(fn).__name__] + ([algorithm] if algorithm else []) + [str(fn.out_shape)])


class _Dot:
    """Builds the DOT statements; each leaf tensor gets one node, however many ops use it."""

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


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
