"""Pictures of factories, and of a robot walking through one.

- `draw_program(program)`: the factory as a graph. Nodes are coloured by type, edges carry their
  condition (R/B/Y/G/EMPTY/NEXT), and the implicit NONE sink appears as a grey reject node. A puller
  condition with no route goes to NONE; those implicit routes are drawn dashed.
- `trace_program(program, tape)`: one `TraceStep` per path entry. It is built from `run_program`
  itself, so the trace cannot drift from the interpreter.
- `summarize(program_text, tape)`: one line with the parse error or the verdict, for quick experiments.
- `plot_trace(program, tape)`: the tape at every step as a row of coloured squares.
- `playground(program_text, tape)`: an ipywidgets editor that parses, runs and draws as you type
  (live in JupyterLab: `make lab`; tests/test_lab.py drives it in Chromium). Without a live kernel (a
  built HTML book), it still shows a static snapshot of the first result.

matplotlib figures are built with `matplotlib.figure.Figure` and never through pyplot. Jupyter shows
a returned figure once, and nothing piles up in pyplot's global figure list. Jupyter draws a bare Figure
only once the inline backend is active, so run `%matplotlib inline` first. Until then the figure
displays as its text repr.

Explained in notebooks/01_manufactoria_dsl.ipynb.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .dsl import (
    MAX_ITERATIONS_REASON,
    MAX_PATH,
    DSLSyntaxError,
    NodeType,
    Program,
    parse_program,
    run_program,
)

if TYPE_CHECKING:  # imported lazily at run time: matplotlib and networkx cost ~0.5 s to import
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "TAPE_COLOURS",
    "EXAMPLE_PROGRAM",
    "TraceStep",
    "trace_program",
    "summarize",
    "draw_program",
    "plot_trace",
    "playground_widget",
    "playground",
]

# ----------------------------------------------------------------------------------------------
# Colours and labels

TAPE_COLOURS = {"R": "#e53935", "B": "#1e88e5", "Y": "#fdd835", "G": "#43a047"}
_FOREIGN_COLOUR = "#9e9e9e"  # any character that is not R/B/Y/G (pullers treat it like a foreign colour)

# face colour, text colour, short label shown under the id
_NODE_STYLE: dict[NodeType, tuple[str, str, str]] = {
    NodeType.START: ("#ffffff", "#212121", "START"),
    NodeType.END: ("#37474f", "#ffffff", "END (accept)"),
    NodeType.PULLER_RB: ("#c9b6e4", "#212121", "pull R/B"),
    NodeType.PULLER_YG: ("#d4e79e", "#212121", "pull Y/G"),
    NodeType.PAINTER_RED: (TAPE_COLOURS["R"], "#ffffff", "paint R"),
    NodeType.PAINTER_BLUE: (TAPE_COLOURS["B"], "#ffffff", "paint B"),
    NodeType.PAINTER_YELLOW: (TAPE_COLOURS["Y"], "#212121", "paint Y"),
    NodeType.PAINTER_GREEN: (TAPE_COLOURS["G"], "#ffffff", "paint G"),
}
_REJECT_STYLE = ("#bdbdbd", "#212121")
_EDGE_COLOUR, _IMPLICIT_COLOUR, _HIGHLIGHT_COLOUR = "#546e7a", "#9e9e9e", "#ff7f0e"

# Graph keys for the sinks. They contain characters that a `\w+` node id cannot, so they never clash
# with a declared node (not even one declared with id NONE, which the runtime never reaches).
_NONE_KEY = "<NONE>"
_UNKNOWN_PREFIX = "<unknown>"

EXAMPLE_PROGRAM = """\
# Accept tapes that start with R and end with B.
START start:
    NEXT first
PULLER_RB first:
    [R] scan
    # no [B] or [EMPTY] route: those robots go to NONE
PULLER_RB scan:
    [R] last_r
    [B] last_b
PULLER_RB last_r:
    [R] last_r
    [B] last_b
PULLER_RB last_b:
    [R] last_r
    [B] last_b
    [EMPTY] end
END end"""


# ----------------------------------------------------------------------------------------------
# Traces

@dataclass(frozen=True)
class TraceStep:
    """The robot at one path entry. `step` counts path entries from 1 (the reference's limit is 1000
    entries, `start` and the terminal included); the tapes are what it holds on arrival and on leaving."""

    step: int
    node: str
    node_type: str  # a NodeType value, or "NONE" (the reject sink), or "UNKNOWN" (an undeclared id)
    tape_before: str
    action: str
    tape_after: str


def _node_type_name(program: Program, node_id: str) -> str:
    # Same order of checks as run_program: NONE before the lookup.
    if node_id == "NONE":
        return "NONE"
    node = program.nodes.get(node_id)
    return node.type.value if node is not None else "UNKNOWN"


def _describe(program: Program, node_id: str, before: str, after: str, next_id: str | None) -> str:
    """Put into words what happened at one node. It reads the tapes and the next id that
    `run_program` produced and never decides anything itself."""
    if node_id == "NONE":
        return "reject: Routed to NONE"
    if node_id == "end":
        return "accept"
    node = program.nodes.get(node_id)
    if node is None:
        return f"reject: Unknown node: {node_id}"
    kind = node.type
    if kind.is_puller:
        pair = "/".join(kind.colours)
        if after != before:  # the front colour was consumed
            condition, what = before[0], f"pull {before[0]}"
        elif not before:
            condition, what = "EMPTY", "tape empty"
        else:
            condition, what = "EMPTY", f"front {before[0]!r} is not {pair}, kept"
        target = node.target(condition)
        if target is None:
            return f"{what}, no [{condition}] route → NONE"
        return f"{what} → [{condition}] → {next_id or target}"
    target = node.routes[0][1]
    if kind.is_painter:
        return f"paint {kind.colours[0]} → {target}"
    return f"NEXT → {target}"


def trace_program(
    program: Program, tape: str, max_path: int = MAX_PATH, max_steps: int | None = None
) -> list[TraceStep]:
    """Record every path entry of `run_program(program, tape, max_path)`.

    The tape after step k is the final tape of `run_program(program, tape, max_path=k)`: a run cut
    off after k path entries. So the trace is `run_program` by construction. The steps are
    `result.path`, and the last `tape_after` is `result.final_tape`. The cost is quadratic in the
    path length: about half a second for the full 1000-entry limit. `max_steps` keeps only the first steps,
    which is cheap. Actions still describe the full run, so a step is marked as hitting the limit
    only if it really does.

    >>> p = parse_program("START start:\\n    NEXT p\\nPAINTER_RED p:\\n    NEXT end\\nEND end")
    >>> [(s.node, s.tape_after) for s in trace_program(p, "B")]
    [('start', 'B'), ('p', 'BR'), ('end', 'BR')]
    """
    result = run_program(program, tape, max_path)
    path = result.path
    n = len(path) if max_steps is None else min(max_steps, len(path))
    tapes = [tape] + [run_program(program, tape, max_path=k).final_tape for k in range(1, n + 1)]
    steps = []
    for i in range(n):
        next_id = path[i + 1] if i + 1 < len(path) else None
        action = _describe(program, path[i], tapes[i], tapes[i + 1], next_id)
        if i + 1 == len(path) and result.rejection_reason == MAX_ITERATIONS_REASON:
            action += f"; stop: {MAX_ITERATIONS_REASON} ({max_path} path entries)"
        node_type = _node_type_name(program, path[i])
        steps.append(TraceStep(i + 1, path[i], node_type, tapes[i], action, tapes[i + 1]))
    return steps


def summarize(program_text: str, tape: str, max_path: int = MAX_PATH) -> str:
    """One line saying what happens to `tape`: the parse error, or the verdict, final tape and path.

    >>> summarize("START start:\\n    NEXT end\\nEND end", "RB")
    "accepted; final tape 'RB'; path start → end"
    >>> summarize("START start\\n    NEXT end\\nEND end", "RB")
    "parse error: Line 1: START nodes must have a colon (hint: write 'START start:')"
    """
    try:
        program = parse_program(program_text)
    except DSLSyntaxError as err:
        return f"parse error: {err}"
    result = run_program(program, tape, max_path)
    path = result.path
    if len(path) > 12:
        path = [*path[:5], f"… ({len(path)} entries) …", *path[-3:]]
    verdict = "accepted" if result.finished else f"rejected ({result.rejection_reason})"
    return f"{verdict}; final tape {_clip(result.final_tape)}; path {' → '.join(path)}"


# ----------------------------------------------------------------------------------------------
# The factory as a graph

@dataclass(frozen=True)
class _Edge:
    source: str
    target: str  # a graph key: a declared id, _NONE_KEY, or _UNKNOWN_PREFIX + id
    label: str  # conditions joined by ",", e.g. "R,B"
    implicit: bool  # a puller condition with no route, which run_program sends to NONE


def _graph_key(program: Program, node_id: str) -> str:
    if node_id == "NONE":  # checked before the lookup, as at run time
        return _NONE_KEY
    if node_id in program.nodes:
        return node_id
    return _UNKNOWN_PREFIX + node_id


def _effective_edges(program: Program) -> list[_Edge]:
    """The routes that can actually be taken. For a duplicated condition the first route wins, so
    the dead duplicates are left out; a puller condition with no route becomes an implicit NONE edge."""
    edges: list[_Edge] = []
    for node in program.nodes.values():
        kind = node.type
        if kind is NodeType.END:
            continue
        if not kind.is_puller:
            edges.append(_Edge(node.id, _graph_key(program, node.routes[0][1]), "NEXT", False))
            continue
        groups: dict[tuple[str, bool], list[str]] = defaultdict(list)
        for condition in (*kind.colours, "EMPTY"):
            target = node.target(condition)
            key = _NONE_KEY if target is None else _graph_key(program, target)
            groups[(key, target is None)].append(condition)
        for (key, implicit), conditions in groups.items():
            edges.append(_Edge(node.id, key, ",".join(conditions), implicit))
    return edges


def _layers(program: Program, edges: list[_Edge]) -> tuple[dict[str, int], list[str]]:
    """Column of each graph node: its BFS depth from `start`. The terminals (end, NONE, unknown ids)
    share the last column, so every edge into a terminal points right. Also returns the nodes that
    `start` cannot reach: they get their own row (see `_positions`)."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(program.nodes)
    graph.add_edges_from((e.source, e.target) for e in edges)
    terminals = [k for k in graph if k == "end" or k.startswith("<")]
    inner = graph.subgraph(k for k in graph if k not in terminals)
    depth = dict(nx.single_source_shortest_path_length(inner, "start"))
    unreachable = [k for k in program.nodes if k in inner and k not in depth]
    last = max(depth.values()) + 1
    depth.update({k: last for k in terminals})
    depth.update({k: 1 + i for i, k in enumerate(unreachable)})
    return depth, unreachable


def _positions(
    edges: list[_Edge], layers: dict[str, int], unreachable: list[str], dx: float, dy: float
) -> dict[str, tuple[float, float]]:
    """Place the columns left to right. Within a column, nodes are sorted by the mean height of
    their predecessors, a one-pass barycentre heuristic that cuts most crossings. In the last
    column, end goes on top. Two nodes sit outside the columns. NONE goes below everything, so
    long implicit edges (which bow downwards, see draw_program) pass under the nodes in between.
    Unreachable nodes go in a row above everything, out of the way of the edges that matter."""
    order = {k: i for i, k in enumerate(layers)}
    preds: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        preds[e.target].append(e.source)
    columns: dict[int, list[str]] = defaultdict(list)
    for key, layer in layers.items():
        if key != _NONE_KEY and key not in unreachable:
            columns[layer].append(key)
    last = max(columns)

    def barycentre(k: str) -> float:
        ys = [pos[p][1] for p in preds[k] if p in pos]
        return -sum(ys) / len(ys) if ys else 0.0

    pos: dict[str, tuple[float, float]] = {}
    for layer in sorted(columns):
        keys = columns[layer]
        if layer == last:
            keys.sort(key=lambda k: (k != "end", order[k]))
        else:
            keys.sort(key=lambda k: (barycentre(k), order[k]))
        for i, key in enumerate(keys):
            pos[key] = (layer * dx, ((len(keys) - 1) / 2 - i) * dy)
    low, high = min(y for _, y in pos.values()), max(y for _, y in pos.values())
    if _NONE_KEY in layers:
        pos[_NONE_KEY] = (last * dx, low - dy)
    for key in unreachable:
        pos[key] = (layers[key] * dx, high + dy)
    return pos


def _node_text(program: Program, key: str) -> tuple[str, str, str, str]:
    """(id line, type line, face colour, text colour) for a graph node."""
    if key == _NONE_KEY:
        return "NONE", "reject", *_REJECT_STYLE
    if key.startswith(_UNKNOWN_PREFIX):
        return key[len(_UNKNOWN_PREFIX):], "unknown → reject", *_REJECT_STYLE
    face, text, short = _NODE_STYLE[program.nodes[key].type]
    return key, short, face, text


def _label_size(label: str) -> tuple[float, float]:
    return 0.125 * len(label) + 0.12, 0.3  # data units for 8 pt text at draw_program's scale, plus a margin


def _overlaps(xy: tuple[float, float], size: tuple[float, float], occupied: list[tuple[float, ...]]) -> int:
    """How many of the `occupied` (x, y, width, height) rectangles a label centred at `xy` would touch.
    `min` returns the first candidate that touches none, or failing that the least crowded."""
    (x, y), (w, h) = xy, size
    return sum(abs(x - ox) < (w + ow) / 2 and abs(y - oy) < (h + oh) / 2 for ox, oy, ow, oh in occupied)


def draw_program(program: Program, ax: Axes | None = None, highlight_path: list[str] | None = None) -> Figure:
    """Draw the factory as a graph and return the matplotlib Figure.

    Nodes are rounded boxes, one `FancyBboxPatch` each with `gid="node:<key>"`, coloured by type.
    Pullers are lilac (R/B) or lime (Y/G), and each painter has its own colour. Edges are
    `FancyArrowPatch`es with `gid="edge:<source>-><target>:<conditions>"`. Implicit routes to NONE
    (a puller condition with no route) are grey and dashed. Back edges and edges within a column
    curve so that their labels stay apart. `highlight_path` (a list of node ids, such as
    `run_program(...).path`) draws the edges and nodes it visits in orange.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    dx, dy, height = 3.2, 2.0, 0.8  # column spacing, row spacing, box height (data units)
    edges = _effective_edges(program)
    layers, unreachable = _layers(program, edges)
    pos = _positions(edges, layers, unreachable, dx, dy)

    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    if ax is None:
        inch = 0.62  # inches per data unit: 9 pt text fits the box widths below
        width = (max(xs) - min(xs) + 3.0) * inch + 0.3
        fig = Figure(figsize=(max(width, 5.0), (max(ys) - min(ys) + 3.0) * inch + 0.9))
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.88))
    fig = ax.figure

    visited_edges: set[tuple[str, str]] = set()
    visited_nodes: set[str] = set()
    if highlight_path:
        keys = [_graph_key(program, n) for n in highlight_path]
        visited_nodes = set(keys)
        visited_edges = set(zip(keys, keys[1:]))

    # Nodes
    boxes = {}
    for key, (x, y) in pos.items():
        name, short, face, text_colour = _node_text(program, key)
        if key in unreachable:
            short += " · unreachable"
        w = max(1.3, 0.125 * max(len(name), len(short) * 0.8) + 0.5)
        hot = key in visited_nodes
        box = FancyBboxPatch(
            (x - w / 2, y - height / 2), w, height, boxstyle="round,pad=0.04,rounding_size=0.18",
            facecolor=face, edgecolor=_HIGHLIGHT_COLOUR if hot else "#212121",
            linewidth=3.0 if hot else (2.2 if key == "start" else 1.0),
            linestyle="--" if face == _REJECT_STYLE[0] else "-", gid=f"node:{key}", zorder=3,
            alpha=0.55 if key in unreachable else 1.0,
        )
        ax.add_patch(box)
        boxes[key] = box
        ax.text(x, y + 0.13, name, ha="center", va="center", fontsize=9, weight="bold", color=text_colour,
                zorder=4)
        ax.text(x, y - 0.2, short, ha="center", va="center", fontsize=7, color=text_colour, zorder=4)

    # Edges. How much an edge curves depends on its pair of nodes and its direction.
    pair_count: dict[frozenset, int] = defaultdict(int)
    for e in edges:
        pair_count[frozenset((e.source, e.target))] += 1
    pair_seen: dict[tuple[str, str], int] = defaultdict(int)
    occupied = [(x, y, boxes[k].get_width() + 0.1, height + 0.1) for k, (x, y) in pos.items()]
    for e in edges:
        hot = (e.source, e.target) in visited_edges
        colour = _HIGHLIGHT_COLOUR if hot else (_IMPLICIT_COLOUR if e.implicit else _EDGE_COLOUR)
        style = dict(
            arrowstyle="-|>", mutation_scale=14, color=colour, linewidth=2.6 if hot else 1.3,
            linestyle="--" if e.implicit else "-", gid=f"edge:{e.source}->{e.target}:{e.label}",
            zorder=5 if hot else 2,
        )
        (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
        nth = pair_seen[(e.source, e.target)]
        pair_seen[(e.source, e.target)] += 1
        if e.source == e.target:
            # Self-loop: an arc over the box, or under it for nodes in the lower half of their column,
            # so it stays clear of the edges between stacked nodes.
            side = 1 if y1 >= 0 else -1
            rim = y1 + side * (height / 2 + 0.04)
            spread = 0.3 + 0.15 * nth
            arrow = FancyArrowPatch(
                (x1 - side * spread, rim), (x1 + side * spread, rim),
                connectionstyle=f"arc3,rad={-1.7 - 0.4 * nth}", **style,
            )
            label_xy = (x1, rim + side * (spread * (0.85 + 0.2 * nth) + 0.12))
            occupied.append((x1, rim + side * spread * 0.45, 2 * spread, spread * 0.9))
        else:
            # arc3 bends an edge to its right-hand side (seen along the edge) when rad > 0, so a
            # rightward edge bows downwards and two opposite edges between a pair take different sides.
            step = layers[e.target] - layers[e.source]
            if step == 1 and pair_count[frozenset((e.source, e.target))] == 1:
                rad = 0.0  # neighbouring columns, nothing else between this pair: straight
            elif step >= 1 or pair_count[frozenset((e.source, e.target))] > 1:
                rad = 0.2  # skips columns, or shares its pair with other edges
            else:
                rad = 0.35  # back edge or same column: bend well away from the straight line
            rad += 0.22 * nth
            arrow = FancyArrowPatch(
                (x1, y1), (x2, y2), connectionstyle=f"arc3,rad={rad}",
                patchA=boxes[e.source], patchB=boxes[e.target], shrinkA=2, shrinkB=2, **style,
            )
            # Points on matplotlib's arc3 quadratic Bezier: control point = midpoint + rad * (dy, -dx).
            # The label goes to the first point along the edge where it covers no box and no other label.
            cx, cy = (x1 + x2) / 2 + rad * (y2 - y1), (y1 + y2) / 2 - rad * (x2 - x1)
            candidates = [
                ((1 - t) ** 2 * x1 + 2 * t * (1 - t) * cx + t**2 * x2,
                 (1 - t) ** 2 * y1 + 2 * t * (1 - t) * cy + t**2 * y2)
                for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78)
            ]
            label_xy = min(candidates, key=lambda xy: _overlaps(xy, _label_size(e.label), occupied))
        occupied.append((*label_xy, *_label_size(e.label)))
        ax.add_patch(arrow)
        ax.text(
            *label_xy, e.label, ha="center", va="center", fontsize=8, color=colour,
            weight="bold" if hot else "normal", zorder=6,
            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.9),
        )

    # Legend: the node types present, plus the meaning of a dashed edge.
    present = {program.nodes[k].type for k in pos if k in program.nodes}
    handles = [
        Patch(facecolor=_NODE_STYLE[t][0], edgecolor="#212121", label=t.value)
        for t in NodeType
        if t in present
    ]
    if any(e.implicit for e in edges):
        handles.append(Line2D([], [], color=_IMPLICIT_COLOUR, linestyle="--", label="implicit → NONE"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(handles), 5),
              fontsize=7, frameon=False)

    ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
    ax.set_ylim(min(ys) - 1.2, max(ys) + 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


# ----------------------------------------------------------------------------------------------
# The tape, step by step

def _clip(tape: str, limit: int = 24) -> str:
    """repr of a tape, shortened in the middle when it is long."""
    if len(tape) <= limit:
        return repr(tape)
    return f"'{tape[:limit // 2]}…{tape[-limit // 2:]}' ({len(tape)} colours)"


def plot_trace(program: Program, tape: str, max_steps: int = 40) -> Figure:
    """Draw the tape the robot carries on arriving at each node, one row per path entry, as coloured
    squares (letters on top for colour-blind readers). The row labels give the step and the node,
    and the right margin says what the node did. Only the first `max_steps` rows are drawn; a note
    says how many were left out."""
    import numpy as np
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure

    result = run_program(program, tape)
    steps = trace_program(program, tape, max_steps=max_steps)
    width = max((len(s.node) for s in steps), default=0)
    rows = [(f"{s.step:>3}  {s.node:<{width}}", s.tape_before, s.action) for s in steps]
    if steps and steps[-1].node_type not in ("END", "NONE", "UNKNOWN"):
        # The last row drawn is not a terminal, so add the tape after it.
        more = len(result.path) - len(steps)
        note = f"… {more} more steps" if more else "stopped here"
        rows.append((f"after {steps[-1].step}", steps[-1].tape_after, note))

    max_cols = 60  # longer tapes are cut, with a note in the row's action text
    ncols = max(1, min(max_cols, max(len(t) for _, t, _ in rows)))
    rows = [(lbl, t, a if len(t) <= max_cols else f"{a}  [+{len(t) - max_cols} more]") for lbl, t, a in rows]
    grid = np.ones((len(rows), ncols, 3))
    for r, (_, t, _) in enumerate(rows):
        for c, ch in enumerate(t[:max_cols]):
            grid[r, c] = to_rgb(TAPE_COLOURS.get(ch, _FOREIGN_COLOUR))

    cell = 0.3  # inches per square
    label_w = 0.3 + 0.075 * max(len(lbl) for lbl, _, _ in rows)
    action_w = 0.3 + 0.062 * max(len(a) for _, _, a in rows)
    verdict = "accepted" if result.finished else f"rejected ({result.rejection_reason})"
    title = (f"tape {_clip(tape)}: {verdict}, final tape {_clip(result.final_tape)}, "
             f"{len(result.path)} path entries")
    grid_w, grid_h = ncols * cell, len(rows) * cell
    width = max(label_w + grid_w + action_w, 0.3 + 0.068 * len(title))
    height = grid_h + 0.8
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((label_w / width, 0.15 / height, grid_w / width, grid_h / height))
    ax.imshow(grid, aspect="auto", interpolation="nearest")
    for r, (_, t, action) in enumerate(rows):
        for c, ch in enumerate(t[:max_cols]):
            dark = ch in ("R", "B", "G") or ch not in TAPE_COLOURS
            ax.text(c, r, ch, ha="center", va="center", fontsize=7, color="white" if dark else "#212121")
        if not t:
            ax.text(-0.4, r, "(empty)", ha="left", va="center", fontsize=7, color="#757575", style="italic")
        ax.text(ncols - 0.5 + 0.15 / cell, r, action, ha="left", va="center", fontsize=7.5, clip_on=False)
    ax.set_yticks(range(len(rows)), [lbl for lbl, _, _ in rows], fontsize=8, family="monospace")
    ax.set_xticks([])
    ax.set_xticks(np.arange(-0.5, ncols), minor=True)
    ax.set_yticks(np.arange(-0.5, len(rows)), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle(
        title, x=0.02, y=1 - 0.12 / height, ha="left", va="top", fontsize=9,
    )
    return fig


# ----------------------------------------------------------------------------------------------
# Playground

def _tape_html(tape: str) -> str:
    if not tape:
        return '<span style="color:#757575;font-style:italic">(empty)</span>'
    cells = []
    for ch in tape:
        bg = TAPE_COLOURS.get(ch, _FOREIGN_COLOUR)
        fg = "#212121" if ch == "Y" else "white"
        cells.append(
            f'<span style="background:{bg};color:{fg};font-family:monospace;padding:0 3px;'
            f'margin-right:1px;border-radius:2px">{html.escape(ch)}</span>'
        )
    return "".join(cells)


def _trace_table_html(steps: list[TraceStep]) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
                   for h in ("step", "node", "type", "tape before", "action", "tape after"))
    body = []
    for s in steps:
        cells = (str(s.step), html.escape(s.node), s.node_type, _tape_html(s.tape_before),
                 html.escape(s.action), _tape_html(s.tape_after))
        row = "".join(f"<td style='text-align:left;padding:2px 8px'>{c}</td>" for c in cells)
        body.append(f"<tr>{row}</tr>")
    return f"<table style='border-collapse:collapse;font-size:90%'><tr>{head}</tr>{''.join(body)}</table>"


def _figure_png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _result_html(program_text: str, tape: str, max_steps: int) -> str:
    """Everything the playground shows for one (program, tape), as one HTML string. Parse errors
    are shown with the parser's message and hint. Nothing is raised for a bad program."""
    try:
        program = parse_program(program_text)
    except DSLSyntaxError as err:
        return (f"<div style='color:#b71c1c;font-family:monospace;white-space:pre-wrap'>"
                f"DSL Parse Error: {html.escape(str(err))}</div>")
    result = run_program(program, tape)
    verdict = ("<b style='color:#2e7d32'>accepted</b>" if result.finished
               else f"<b style='color:#b71c1c'>rejected</b> ({html.escape(str(result.rejection_reason))})")
    steps = trace_program(program, tape, max_steps=max_steps)
    shown = "" if len(steps) == len(result.path) else f" (first {len(steps)} of {len(result.path)} shown)"
    graph = draw_program(program, highlight_path=result.path)
    trace = plot_trace(program, tape, max_steps=max_steps)
    return (
        f"<p>Tape {_tape_html(tape)} → {verdict}; final tape {_tape_html(result.final_tape)}; "
        f"path of {len(result.path)} entries{shown}.</p>"
        f"<img src='data:image/png;base64,{_figure_png(graph)}' style='max-width:100%'/>"
        f"{_trace_table_html(steps)}"
        f"<img src='data:image/png;base64,{_figure_png(trace)}' style='max-width:100%'/>"
    )


def _playground_html(program_text: str, tape: str, max_steps: int) -> str:
    """`_result_html`, except that nothing escapes: in a live kernel an exception raised by a widget
    observer only reaches the kernel's log, and the widget would silently keep its old picture. Parse
    errors are already a message (`Line N: ...`); anything else is shown as one line in red too."""
    try:
        return _result_html(program_text, tape, max_steps)
    except Exception as err:  # noqa: BLE001 - shown to the reader instead of a traceback in the log
        return (f"<div style='color:#b71c1c;font-family:monospace;white-space:pre-wrap'>"
                f"Playground error: {html.escape(type(err).__name__)}: {html.escape(str(err))}</div>")


def playground_widget(program_text: str = EXAMPLE_PROGRAM, tape: str = "RBRB", max_steps: int = 40) -> Any:
    """Build (and do not display) the interactive editor: a Textarea for the program, a Text for the
    tape, and an Output that is redrawn whenever either changes. It returns the `ipywidgets.VBox`.

    The program box sends its value when it loses focus (`continuous_update=False`: one redraw per edit,
    not one per keystroke); the tape box on every keystroke. Each change calls the observer in the
    kernel, which sets the Output's `outputs` to the new page: the front end (JupyterLab's widget
    manager) redraws it from that state, so it works live, and it needs no kernel to be displayed
    (the state saved in a built book shows the first result). A bad program shows the parser's
    `Line N: ...` message in the Output, never a traceback."""
    import ipywidgets as widgets

    code = widgets.Textarea(
        value=program_text, description="program", continuous_update=False,
        layout=widgets.Layout(width="95%", height="18em"), style={"description_width": "60px"},
    )
    tape_box = widgets.Text(value=tape, description="tape", continuous_update=True,
                            style={"description_width": "60px"})
    out = widgets.Output()

    def refresh(_change: object = None) -> None:
        page = _playground_html(code.value, tape_box.value, max_steps)
        out.outputs = ({"output_type": "display_data", "metadata": {},
                        "data": {"text/html": page, "text/plain": "(see the HTML output)"}},)

    code.observe(refresh, names="value")
    tape_box.observe(refresh, names="value")
    refresh()
    return widgets.VBox([code, tape_box, out])


def playground(program_text: str = EXAMPLE_PROGRAM, tape: str = "RBRB", max_steps: int = 40,
               static_snapshot: bool = True) -> None:
    """Display the interactive playground. Edit the program or the tape and the result updates.

    With `static_snapshot`, a plain HTML render of the starting (program, tape) is shown below the
    widget. A built HTML book has no kernel to run the widget, and the snapshot still gives its
    readers the parse result, the graph, the trace table and the tape plot.
    """
    from IPython.display import HTML, display

    display(playground_widget(program_text, tape, max_steps))
    if static_snapshot:
        display(HTML(
            "<details open><summary><i>Static snapshot of the starting program and tape (this part does "
            "not update; it is what readers of the HTML book see)</i></summary>"
            f"{_result_html(program_text, tape, max_steps)}</details>"
        ))
