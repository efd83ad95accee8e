"""The Manufactoria DSL: parser and the literal (reference-semantics) interpreter.

A factory moves a robot carrying a tape of colours (R, B, Y, G) through nodes.
Pullers read and remove the front colour, painters append a colour at the end,
and the robot is accepted when it reaches `end`.

This module follows the authors' verifier bit for bit where a behaviour decides
a reward (spec: shared/reference/delta-reference.md, section A.1). Every quirk is
named in a comment below and has a test in tests/test_dsl.py. The fast engine in
`delta_core.engine` runs the same semantics and is checked against
`run_program` by differential tests.

Explained in notebooks/01_manufactoria_dsl.ipynb.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

__all__ = [
    "COLOURS",
    "MAX_PATH",
    "NODE_TYPES",
    "NodeType",
    "Node",
    "Program",
    "DSLSyntaxError",
    "ExecutionResult",
    "parse_program",
    "run_program",
]

COLOURS = ("R", "B", "Y", "G")
# The reference counts path entries, the start node and the terminal included.
MAX_PATH = 1000
MAX_ITERATIONS_REASON = "Maximum iterations exceeded (possible infinite loop)"


class NodeType(str, enum.Enum):
    START = "START"
    END = "END"
    PULLER_RB = "PULLER_RB"
    PULLER_YG = "PULLER_YG"
    PAINTER_RED = "PAINTER_RED"
    PAINTER_BLUE = "PAINTER_BLUE"
    PAINTER_YELLOW = "PAINTER_YELLOW"
    PAINTER_GREEN = "PAINTER_GREEN"

    @property
    def is_puller(self) -> bool:
        return self in (NodeType.PULLER_RB, NodeType.PULLER_YG)

    @property
    def is_painter(self) -> bool:
        return self.value.startswith("PAINTER_")

    @property
    def colours(self) -> tuple[str, ...]:
        """Colours a puller consumes (its pair), or the one colour a painter paints."""
        return _NODE_COLOURS[self]


# The DSL's node-type keywords, in declaration order: the one list that tasks.base and mini derive from.
NODE_TYPES: tuple[str, ...] = tuple(t.value for t in NodeType)

_NODE_COLOURS = {
    NodeType.START: (),
    NodeType.END: (),
    NodeType.PULLER_RB: ("R", "B"),
    NodeType.PULLER_YG: ("Y", "G"),
    NodeType.PAINTER_RED: ("R",),
    NodeType.PAINTER_BLUE: ("B",),
    NodeType.PAINTER_YELLOW: ("Y",),
    NodeType.PAINTER_GREEN: ("G",),
}


@dataclass(frozen=True)
class Node:
    """One declared node. `routes` maps a condition (R/B/Y/G/EMPTY for pullers, NEXT otherwise) to a
    target id, in source order; the first route listed for a condition wins, as in the reference."""

    id: str
    type: NodeType
    line: int
    routes: tuple[tuple[str, str], ...] = ()

    def target(self, condition: str) -> str | None:
        for cond, target in self.routes:
            if cond == condition:
                return target
        return None


@dataclass(frozen=True)
class Program:
    """A parsed factory: nodes by id, in declaration order."""

    nodes: dict[str, Node]
    source: str = field(default="", repr=False, compare=False)

    def __getitem__(self, node_id: str) -> Node:
        return self.nodes[node_id]


class DSLSyntaxError(ValueError):
    """A program the reference parser rejects. `str(err)` starts with `Line N:` (when the error has a
    line) followed by the reference's message; `hint` says how to fix it, where we can tell.

    `line` is the reference's: lines are counted after a bare ``` fence line is dropped, and a bad
    route of a puller, START or painter carries its node's declaration line (the hint names its own)."""

    def __init__(self, message: str, line: int | None = None, hint: str | None = None):
        self.line = line
        self.reason = message
        self.hint = hint
        text = f"Line {line}: {message}" if line is not None else message
        if hint:
            text += f" (hint: {hint})"
        super().__init__(text)


@dataclass
class ExecutionResult:
    finished: bool
    final_tape: str
    path: list[str]
    rejection_reason: str | None


# ----------------------------------------------------------------------------------------------
# Parser

# Declaration: keyword, whitespace, \w+ id (Unicode word characters), optional colon directly after
# the id, optional whitespace, optional comment. `start :` (space before the colon) does not match.
_DECLARATION = re.compile(r"(\w+)\s+(\w+)(:?)\s*(#.*)?")
_PULLER_ROUTE = re.compile(r"\[(\w+)\]\s+(\w+)\s*(#.*)?")
_NEXT_ROUTE = re.compile(r"NEXT\s+(\w+)\s*(#.*)?")
_PULLER_CONDITIONS = {
    NodeType.PULLER_RB: ("R", "B", "EMPTY"),
    NodeType.PULLER_YG: ("Y", "G", "EMPTY"),
}


def _is_route_line(raw: str) -> bool:
    # Quirk: a line belongs to the declaration above it only if the *raw* line starts with four
    # spaces or a tab. One to three spaces make it a (failing) declaration.
    return raw.startswith("    ") or raw.startswith("\t")


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, raw line) of the lines the parser looks at."""
    lines = text.strip().split("\n")
    # Quirk: only a *bare* ``` first/last line is dropped; ```manufactoria stays and fails to parse.
    if lines and lines[0].strip() == "```":
        lines = lines[1:]
    if lines and lines[-1].strip() == "```":
        lines = lines[:-1]
    # Quirk: lines are numbered *after* the fences are dropped, so with a leading ``` line every error
    # names the line one above the one in the text. Blank and comment lines keep their numbers.
    numbered = enumerate(lines, start=1)
    return [(n, raw) for n, raw in numbered if raw.strip() and not raw.strip().startswith("#")]


def _declaration_hint(stripped: str) -> str | None:
    if stripped.startswith("```"):
        return "remove the ``` fence lines around the code; only a bare ``` line is ignored"
    head = stripped.split()[0] if stripped.split() else ""
    if head.upper() in NodeType.__members__ and head not in NodeType.__members__:
        return f"node types are upper case: write {head.upper()}"
    if head.startswith("[") or head == "NEXT":
        return "a route must be indented by 4 spaces or a tab under its node"
    spaced_colon = re.fullmatch(r"(\w+)\s+(\w+)\s+:.*", stripped)
    if spaced_colon:
        return f"no space between the id and the colon: write '{spaced_colon[1]} {spaced_colon[2]}:'"
    return "a declaration is 'TYPE id:' with TYPE one of " + ", ".join(NODE_TYPES)


def parse_program(text: str) -> Program:
    """Parse DSL source into a `Program`, or raise `DSLSyntaxError` ("Line N: ...").

    >>> p = parse_program("START start:\\n    NEXT end\\nEND end")
    >>> sorted(p.nodes)
    ['end', 'start']
    """
    if not isinstance(text, str):
        raise DSLSyntaxError(f"Program must be a string, got {type(text).__name__}")
    lines = _code_lines(text)
    if not lines:
        raise DSLSyntaxError("Empty program")

    nodes: dict[str, Node] = {}
    i = 0
    while i < len(lines):
        line_no, raw = lines[i]
        stripped = raw.strip()
        match = _DECLARATION.fullmatch(stripped)
        if not match or match.group(1) not in NodeType.__members__:
            raise DSLSyntaxError(
                f"Invalid node declaration: {stripped!r}", line_no, _declaration_hint(stripped)
            )
        node_type = NodeType(match.group(1))
        node_id = match.group(2)
        # Colon rule: looks for ':' anywhere in the raw line before the first '#'.
        has_colon = ":" in raw.split("#", 1)[0]
        if node_type is NodeType.END and has_colon:
            raise DSLSyntaxError("END nodes should not have a colon", line_no, "write 'END end'")
        if node_type is not NodeType.END and not has_colon:
            raise DSLSyntaxError(
                f"{node_type.value} nodes must have a colon", line_no, f"write '{node_type.value} {node_id}:'"
            )
        if node_type is NodeType.START and node_id != "start":
            raise DSLSyntaxError("START node must have ID 'start'", line_no, "write 'START start:'")
        if node_type is NodeType.END and node_id != "end":
            raise DSLSyntaxError("END node must have ID 'end'", line_no, "write 'END end'")
        if node_id in nodes:
            raise DSLSyntaxError(
                f"Duplicate node ID: {node_id}", line_no, f"first declared on line {nodes[node_id].line}"
            )

        routes: list[tuple[str, str]] = []
        i += 1
        while i < len(lines) and _is_route_line(lines[i][1]):
            route_line_no, route_raw = lines[i]
            routes.append(_parse_route(node_type, node_id, route_raw.strip(), line_no, route_line_no))
            i += 1

        if node_type in (NodeType.START,) or node_type.is_painter:
            if len(routes) != 1:
                raise DSLSyntaxError(
                    f"{node_type.value} node must have exactly one NEXT route",
                    line_no,
                    f"found {len(routes)}; add one line '    NEXT target' indented by 4 spaces",
                )
        nodes[node_id] = Node(node_id, node_type, line_no, tuple(routes))

    if "start" not in nodes:
        raise DSLSyntaxError("Program must have a START node", hint="add 'START start:' with a NEXT route")
    if "end" not in nodes:
        raise DSLSyntaxError("Program must have an END node", hint="add a line 'END end'")
    for node in nodes.values():
        for _, target in node.routes:
            # Quirk: 'END' (upper case) passes this check but is rejected at run time.
            if target not in nodes and target not in ("NONE", "END"):
                raise DSLSyntaxError(
                    f"Node '{node.id}' references undefined node '{target}'", node.line
                )
    return Program(nodes, source=text)


def _parse_route(
    node_type: NodeType, node_id: str, stripped: str, header_line: int, route_line: int
) -> tuple[str, str]:
    """One route of the node declared on `header_line`; the route itself is on `route_line`."""
    if node_type is NodeType.END:
        raise DSLSyntaxError("END nodes cannot have routes", route_line, "unindent the next declaration")
    # Quirk: an invalid route of a puller, START or painter is reported at its node's declaration
    # line, not at its own; the hint names the route's line.
    where = f"the route on line {route_line}"
    if node_type.is_puller:
        match = _PULLER_ROUTE.fullmatch(stripped)
        allowed = _PULLER_CONDITIONS[node_type]
        if not match:
            raise DSLSyntaxError(
                f"Invalid route for {node_type.value} node '{node_id}': {stripped!r}",
                header_line,
                f"{where}: puller routes look like '[{allowed[0]}] target'",
            )
        condition, target = match.group(1), match.group(2)
        if condition not in allowed:
            raise DSLSyntaxError(
                f"Invalid condition '{condition}' for {node_type.value}", header_line,
                f"{where}: {node_type.value} accepts only " + ", ".join(allowed),
            )
        return condition, target
    match = _NEXT_ROUTE.fullmatch(stripped)
    if not match:
        raise DSLSyntaxError(
            f"Invalid route for {node_type.value} node '{node_id}': {stripped!r}",
            header_line,
            f"{where}: START and painter nodes take one route 'NEXT target'",
        )
    return "NEXT", match.group(1)


# ----------------------------------------------------------------------------------------------
# The literal interpreter: one loop iteration per path entry, exactly as the reference.

def run_program(program: Program, tape: str, max_path: int = MAX_PATH) -> ExecutionResult:
    """Run a robot carrying `tape` through `program`.

    >>> run_program(parse_program("START start:\\n    NEXT p\\nPAINTER_RED p:\\n    NEXT end\\nEND end"), "B")
    ExecutionResult(finished=True, final_tape='BR', path=['start', 'p', 'end'], rejection_reason=None)
    """
    nodes = program.nodes
    path: list[str] = []
    current = "start"
    for _ in range(max_path):
        path.append(current)
        # Quirk: NONE is checked before the lookup, so a node declared with id NONE is unreachable.
        if current == "NONE":
            return ExecutionResult(False, tape, path, "Routed to NONE")
        if current == "end":
            return ExecutionResult(True, tape, path, None)
        node = nodes.get(current)
        if node is None:
            # Quirk: a route to the literal 'END' parses, but only 'end' is the END node.
            return ExecutionResult(False, tape, path, f"Unknown node: {current}")
        kind = node.type
        if kind.is_puller:
            if not tape:
                target = node.target("EMPTY")
            elif tape[0] in kind.colours:
                # Quirk: the colour stays consumed even when it has no route (-> NONE).
                target = node.target(tape[0])
                tape = tape[1:]
            else:
                # Quirk: a foreign colour (or any other character) takes EMPTY without consuming.
                target = node.target("EMPTY")
            current = target if target is not None else "NONE"
        else:
            if kind.is_painter:
                tape = tape + kind.colours[0]
            # START and painters have exactly one route: NEXT.
            current = node.routes[0][1]
    return ExecutionResult(False, tape, path, MAX_ITERATIONS_REASON)
