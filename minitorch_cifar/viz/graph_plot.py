"""``draw_graph(tensor)``: the autograd graph of ``to_dot`` drawn with matplotlib alone, no Graphviz needed.

The drawing reads the DOT text ``to_dot`` writes, so both show the same graph. Layout, top to bottom as data
flows: each op sits one row below the lowest op that feeds it, and each leaf (a parameter, a constant) sits
in the row just above the first op that uses it, beside the ops of that row.
"""
import re

from .graph import _STYLE, to_dot

_NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
_EDGE = re.compile(r"^\s*(\w+) -> (\w+);$")
_COLOURS = {"function": "lightgrey", "parameter": "lightblue", "leaf": "white", "output": "#caff70",
            "constant": "none"}
_COLUMN, _ROW, _BOX_W, _BOX_H = 1.75, 0.72, 1.55, 0.5  # inches


def parse_dot(text):
    """(nodes, edges) of DOT text from ``to_dot``: nodes maps a name to (label, kind), edges lists (source, target)."""
    kinds = {style: kind for kind, style in _STYLE.items()}
    nodes, edges = {}, []
    for line in text.splitlines():
        if match := _NODE.match(line):
            name, label, style = match.groups()
            nodes[name] = (label.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\"), kinds[style])
        elif match := _EDGE.match(line):
            edges.append(match.groups())
    return nodes, edges


def _rows(nodes, edges):
    """Each node's row: ops by their longest path from the leaves, leaves just above their first consumer."""
    inputs = {name: [s for s, t in edges if t == name] for name in nodes}
    row = {}

    def depth(name):  # the graph is a DAG, a few dozen nodes deep: recursion is fine
        if name not in row:
            row[name] = 1 + max((depth(s) for s in inputs[name]), default=-1)
        return row[name]

    for name in nodes:
        depth(name)
    for name, (_, kind) in nodes.items():
        if not inputs[name] and kind != "function":
            row[name] = min(row[t] for s, t in edges if s == name) - 1
    top = min(row.values())
    return {name: r - top for name, r in row.items()}


def draw_graph(tensor_or_dot, path=None, params=None, title=None):
    """Draw the graph behind a tensor (``params`` names its parameters, as in ``to_dot``), or given DOT text,
    as a matplotlib Figure; saved as PNG given ``path``. Call it before ``backward()``, as ``to_dot``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .plots import save_figure
    text = tensor_or_dot if isinstance(tensor_or_dot, str) else to_dot(tensor_or_dot, params)
    nodes, edges = parse_dot(text)
    rows = _rows(nodes, edges)
    columns = {}
    for r in sorted(set(rows.values())):  # in each row the ops first, then the leaves, left to right
        members = sorted((name for name in nodes if rows[name] == r), key=lambda n: nodes[n][1] == "function",
                         reverse=True)
        columns.update((name, i) for i, name in enumerate(members))
    width, height = max(columns.values()) + 1, max(rows.values()) + 1
    fig = plt.figure(figsize=(width * _COLUMN + 0.2, height * _ROW + 0.2 + (0.3 if title else 0)))
    ax = fig.add_axes((0, 0, 1, 1 - (0.3 / fig.get_figheight() if title else 0)))
    ax.set_xlim(-0.1 - _COLUMN / 2, width * _COLUMN - _COLUMN / 2 + 0.1)
    ax.set_ylim(-(height - 1) * _ROW - _ROW / 2 - 0.1, _ROW / 2 + 0.1)
    ax.set_axis_off()
    centre = {name: (columns[name] * _COLUMN, -rows[name] * _ROW) for name in nodes}
    for name, (label, kind) in nodes.items():
        x, y = centre[name]
        style = "round,pad=0,rounding_size=0.12" if kind in ("function", "output") else "square,pad=0"
        ax.add_patch(FancyBboxPatch((x - _BOX_W / 2, y - _BOX_H / 2), _BOX_W, _BOX_H, boxstyle=style,
                                    facecolor=_COLOURS[kind], edgecolor="none" if kind == "constant" else "black",
                                    linewidth=0.6))
        ax.text(x, y, label, ha="center", va="center", fontsize=7, linespacing=1.15)
    for source, target in edges:
        (xs, ys), (xt, yt) = centre[source], centre[target]
        # into the top of the box (its right half from a column to the right), around the boxes in between
        end = (xt + _BOX_W * 0.3 * ((xs > xt) - (xs < xt)), yt + _BOX_H / 2)
        bend = 0.3 if xs == xt and rows[target] - rows[source] > 1 else 0.0
        ax.add_patch(FancyArrowPatch((xs, ys - _BOX_H / 2), end, arrowstyle="-|>",
                                     mutation_scale=7, linewidth=0.6, connectionstyle=f"arc3,rad={bend}"))
    if title:
        fig.suptitle(title, fontsize=9)
    if path is not None:
        save_figure(fig, path)
    return fig
