"""Fast execution of parsed programs: same results as `dsl.run_program`, compiled once per program.

`compile_program(program).run(tape)` returns `(finished, final_tape, path, rejection_reason)` exactly
as `run_program` would (tests/test_engine.py checks this on random programs and tapes). The C extension
`delta_core._fastdsl` does the work when it was built (`pip install -e .` with a C compiler); otherwise
`compile_program` falls back to the literal interpreter: same results, about 50x slower
(benchmarks/verifier.py).

How it works: `compile_tables` numbers every id the robot can reach from `start` (declared nodes, plus
the sinks `NONE` and, after parsing, the undeclared literal `END`) and writes one kind and five route
slots per id; `_fastdsl.Machine` runs the loop of `run_program` over those tables in C. Everything that
decides a result (NONE checked before lookup, `end` accepts, undeclared ids reject, first route listed
wins, a missing route goes to NONE) is settled here, in Python, once per program.
"""

from __future__ import annotations

from .dsl import MAX_ITERATIONS_REASON, MAX_PATH, NodeType, Program, run_program

try:  # the optional C accelerator (built by `pip install -e .` when a C compiler is present)
    from . import _fastdsl  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised on machines without a compiler
    _fastdsl = None

__all__ = [
    "HAVE_FAST_ENGINE",
    "CompiledProgram",
    "LiteralEngine",
    "compile_program",
    "compile_tables",
    "literal_engine",
]

HAVE_FAST_ENGINE = _fastdsl is not None

# The reasons `run_program` gives (delta_core/dsl.py).
NONE_REASON = "Routed to NONE"
UNKNOWN_REASON = "Unknown node: {}"

# Node kinds and route slots; the same numbers as the enums in delta_core/_fastdsl.c.
K_NEXT, K_END, K_PULLER_RB, K_PULLER_YG = 0, 1, 2, 3
K_NONE, K_UNKNOWN = 8, 9
_KIND = {
    NodeType.START: K_NEXT,
    NodeType.END: K_NEXT,  # only reachable by an id other than 'end' in a hand-built Program
    NodeType.PULLER_RB: K_PULLER_RB,
    NodeType.PULLER_YG: K_PULLER_YG,
    NodeType.PAINTER_RED: 4,
    NodeType.PAINTER_BLUE: 5,
    NodeType.PAINTER_YELLOW: 6,
    NodeType.PAINTER_GREEN: 7,
}
SLOTS = ("R", "B", "Y", "G", "EMPTY")  # a puller's five routes; START and painters use slot 0 (NEXT)


class LiteralEngine:
    """The reference-semantics interpreter behind the engine interface."""

    def __init__(self, program: Program, max_path: int = MAX_PATH):
        self.program = program
        self.max_path = max_path

    def run(self, tape: str) -> tuple[bool, str, list[str], str | None]:
        r = run_program(self.program, tape, self.max_path)
        return r.finished, r.final_tape, r.path, r.rejection_reason


def literal_engine(program: Program, max_path: int = MAX_PATH) -> LiteralEngine:
    return LiteralEngine(program, max_path)


class NotCompilable(ValueError):
    """A hand-built Program that `run_program` would crash on (a painter without a route, a node type
    that is not a NodeType); `compile_program` runs such programs with the literal engine."""


def compile_tables(program: Program) -> tuple[bytes, list[int], tuple[str, ...], tuple[str | None, ...]]:
    """`(kinds, routes, ids, reasons)` for `_fastdsl.Machine`: node `i` has kind `kinds[i]`, path entry
    `ids[i]`, routes `routes[5*i : 5*i+5]` (node indices, slots as in `SLOTS`) and, if it ends the run,
    the rejection reason `reasons[i]`. Node 0 is `start`. Only ids reachable from `start` are numbered.

    >>> from delta_core.dsl import parse_program
    >>> kinds, routes, ids, reasons = compile_tables(parse_program(
    ...     "START start:\\n    NEXT p\\nPULLER_RB p:\\n    [R] end\\n    [B] END\\nEND end"))
    >>> ids, list(kinds), routes[5:10]  # p: R -> end, B -> END (undeclared), Y, G, EMPTY -> NONE
    (('start', 'p', 'end', 'END', 'NONE'), [0, 2, 1, 9, 8], [2, 3, 4, 4, 4])
    >>> reasons
    (None, None, None, 'Unknown node: END', 'Routed to NONE')
    """
    nodes = program.nodes
    index: dict[str, int] = {}
    ids: list[str] = []

    def number(node_id: str) -> int:
        i = index.get(node_id)
        if i is None:
            i = index[node_id] = len(ids)
            ids.append(node_id)
        return i

    number("start")
    kinds = bytearray()
    routes: list[int] = []
    reasons: list[str | None] = []
    while len(kinds) < len(ids):  # ids[len(kinds)] is the next id to fill in, in numbering order
        node_id = ids[len(kinds)]
        here = len(kinds)
        node = nodes.get(node_id)
        reason = None
        out = [here] * 5  # unused slots point anywhere valid
        # The order of these tests is the order of the checks in run_program.
        if node_id == "NONE":
            kind, reason = K_NONE, NONE_REASON
        elif node_id == "end":
            kind = K_END
        elif node is None:
            kind, reason = K_UNKNOWN, UNKNOWN_REASON.format(node_id)
        elif not isinstance(node.type, NodeType):
            raise NotCompilable(f"node {node_id!r} has type {node.type!r}, not a NodeType")
        elif node.type.is_puller:
            kind = _KIND[node.type]
            for slot, condition in enumerate(SLOTS):
                target = node.target(condition)
                out[slot] = number("NONE" if target is None else target)
        else:
            if not node.routes:
                raise NotCompilable(f"{node.type.value} node {node_id!r} has no NEXT route")
            kind = _KIND[node.type]
            out[0] = number(node.routes[0][1])  # run_program follows the first route
        kinds.append(kind)
        routes.extend(out)
        reasons.append(reason)
    return bytes(kinds), routes, tuple(ids), tuple(reasons)


class CompiledProgram(_fastdsl.Machine if HAVE_FAST_ENGINE else object):  # type: ignore[misc]
    """A program compiled for the C engine. `run(tape)` is a C method: no Python runs per step.

    The path lists it returns are not tracked by the cyclic GC (a list of str cannot be in a cycle);
    a batch of long paths would otherwise slow every full collection down."""

    __slots__ = ("program",)

    def __init__(self, program: Program, max_path: int = MAX_PATH):
        if not HAVE_FAST_ENGINE:
            raise RuntimeError(
                "delta_core._fastdsl is not built: reinstall with a C compiler (pip install -e .)"
            )
        kinds, routes, ids, reasons = compile_tables(program)
        super().__init__(kinds, routes, ids, reasons, MAX_ITERATIONS_REASON, max_path)
        self.program = program

    def __repr__(self) -> str:
        return f"<CompiledProgram of {len(self.program.nodes)} nodes, max_path={self.max_path}>"


def compile_program(program: Program, max_path: int = MAX_PATH) -> CompiledProgram | LiteralEngine:
    """The fastest engine for `program`: a `CompiledProgram` when the C extension is built, else the
    literal interpreter. Both have `.run(tape) -> (finished, final_tape, path, rejection_reason)`."""
    if HAVE_FAST_ENGINE:
        try:
            return CompiledProgram(program, max_path)
        except NotCompilable:  # run_program's own behaviour (an exception) is the reference here
            pass
    return LiteralEngine(program, max_path)
