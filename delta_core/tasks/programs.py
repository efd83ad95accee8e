"""Building blocks for the reference solutions: a DSL writer, DFAs compiled to pullers, and
one-pass tape rewriters (the queue trick: mark the end, pull every colour, paint what it becomes).

DFA compilation. A state becomes a `PULLER_RB` node; in four-colour mode a `PULLER_YG` node hangs off
its EMPTY route (EMPTY at `PULLER_RB` means "tape empty or front is Y/G", and `PULLER_YG` then sees
only Y, G or an empty tape). States that accept every continuation route straight to `end`, dead
states to `NONE`, so the robot stops reading as soon as the answer is known. Each colour costs at
most two path entries, so tapes of up to ~490 colours fit the 1000-entry path limit. A two-colour
program has no `PULLER_YG`: its EMPTY routes assume the tape holds only R and B, as two-colour
tests do.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["PAINTERS", "DSLWriter", "DFA", "build_dfa", "dfa_program", "Rewriter", "rewrite_program"]

PAINTERS = {"R": "PAINTER_RED", "B": "PAINTER_BLUE", "Y": "PAINTER_YELLOW", "G": "PAINTER_GREEN"}


class DSLWriter:
    """Collects node declarations and prints them as DSL text (START first, END last)."""

    def __init__(self, comment: str = ""):
        self.lines: list[str] = [f"# {line}" for line in comment.splitlines()]
        self.ids: set[str] = {"end"}  # END end is written by text()

    def _declare(self, kind: str, node_id: str, routes: Iterable[tuple[str, str]]) -> None:
        if node_id in self.ids:
            raise ValueError(f"duplicate node id {node_id!r}")
        self.ids.add(node_id)
        if self.lines:
            self.lines.append("")
        self.lines.append(f"{kind} {node_id}:")
        self.lines.extend(f"    {cond} {target}" for cond, target in routes)

    def start(self, target: str) -> None:
        self._declare("START", "start", [("NEXT", target)])

    def puller(self, pair: str, node_id: str, routes: Mapping[str, str]) -> None:
        """`pair` is "RB" or "YG"; routes to NONE are left out (a missing route goes to NONE)."""
        order = (*pair, "EMPTY")
        self._declare(
            f"PULLER_{pair}",
            node_id,
            [(f"[{c}]", routes[c]) for c in order if routes.get(c, "NONE") != "NONE"],
        )

    def painter(self, colour: str, node_id: str, target: str) -> None:
        self._declare(PAINTERS[colour], node_id, [("NEXT", target)])

    @staticmethod
    def chain_id(colours: str, prefix: str, target: str) -> str:
        """The id `paint_chain(colours, prefix, target)` returns, known before it is written."""
        return f"{prefix}_0" if colours else target

    def paint_chain(self, colours: str, prefix: str, target: str) -> str:
        """Painters for `colours` in order, ids `prefix_0`, `prefix_1`, ...; returns the first id
        (or `target` itself when there is nothing to paint)."""
        for i, colour in enumerate(colours):
            self.painter(colour, f"{prefix}_{i}", f"{prefix}_{i + 1}" if i + 1 < len(colours) else target)
        return self.chain_id(colours, prefix, target)

    def text(self) -> str:
        return "\n".join([*self.lines, "", "END end"]) + "\n"


# ----------------------------------------------------------------------------------------------
# DFAs


@dataclass(frozen=True)
class DFA:
    """A complete DFA over `alphabet`; states are 0..n-1, `delta[s][colour]` the next state."""

    alphabet: tuple[str, ...]
    delta: tuple[dict[str, int], ...]
    accepting: frozenset[int]
    start: int = 0

    def accepts(self, tape: str) -> bool:
        state = self.start
        for colour in tape:
            if colour not in self.delta[state]:
                return False
            state = self.delta[state][colour]
        return state in self.accepting

    def minimized(self) -> DFA:
        """Moore partition refinement, states renumbered in breadth-first order from the start."""
        block = [int(s in self.accepting) for s in range(len(self.delta))]
        while True:
            signature = [
                (block[s], *(block[self.delta[s][c]] for c in self.alphabet)) for s in range(len(block))
            ]
            numbering: dict[tuple, int] = {}
            refined = [numbering.setdefault(sig, len(numbering)) for sig in signature]
            if len(numbering) == len(set(block)):
                break
            block = refined
        order = [block[self.start]]  # BFS over blocks
        seen = {block[self.start]: 0}
        representative = {}
        for s in range(len(block)):
            representative.setdefault(block[s], s)
        for b in order:
            for c in self.alphabet:
                nb = block[self.delta[representative[b]][c]]
                if nb not in seen:
                    seen[nb] = len(order)
                    order.append(nb)
        delta = tuple(
            {c: seen[block[self.delta[representative[b]][c]]] for c in self.alphabet} for b in order
        )
        accepting = frozenset(seen[block[s]] for s in self.accepting if block[s] in seen)
        return DFA(self.alphabet, delta, accepting, 0)

    def _closure(self, states: set[int]) -> set[int]:
        todo = list(states)
        while todo:
            s = todo.pop()
            for t in self.delta[s].values():
                if t not in states:
                    states.add(t)
                    todo.append(t)
        return states

    def classify(self) -> tuple[set[int], set[int]]:
        """(dead states: no accepting state reachable, universal states: every reachable state accepts)."""
        dead, universal = set(), set()
        for s in range(len(self.delta)):
            reach = self._closure({s})
            if not reach & self.accepting:
                dead.add(s)
            if reach <= self.accepting:
                universal.add(s)
        return dead, universal


def build_dfa(
    start: Hashable,
    step: Callable[[Hashable, str], Hashable | None],
    accepting: Callable[[Hashable], bool],
    alphabet: tuple[str, ...],
) -> DFA:
    """Explore the states reachable from `start` (`step` returns None for the dead state); minimise."""
    index = {start: 0}
    states = [start]
    delta: list[dict[str, int]] = []
    dead = None
    for state in states:  # grows while we iterate
        row = {}
        for c in alphabet:
            nxt = None if state is _DEAD else step(state, c)
            if nxt is None:
                if dead is None:
                    dead = len(states)
                    states.append(_DEAD)
                    index[_DEAD] = dead
                row[c] = dead
                continue
            if nxt not in index:
                index[nxt] = len(states)
                states.append(nxt)
            row[c] = index[nxt]
        delta.append(row)
    accepting_ids = frozenset(i for i, s in enumerate(states) if s is not _DEAD and accepting(s))
    return DFA(alphabet, tuple(delta), accepting_ids).minimized()


class _Dead:
    def __repr__(self) -> str:
        return "DEAD"


_DEAD = _Dead()


def dfa_program(dfa: DFA, comment: str = "") -> str:
    """Compile a DFA to DSL: one PULLER_RB per live state, plus a PULLER_YG in four-colour mode."""
    dead, universal = dfa.classify()
    four = len(dfa.alphabet) > 2

    def target(s: int) -> str:
        return "end" if s in universal else "NONE" if s in dead else f"q{s}"

    out = DSLWriter(comment)
    out.start(target(dfa.start))
    for s, row in enumerate(dfa.delta):
        if s in dead or s in universal:
            continue
        accept_here = "end" if s in dfa.accepting else "NONE"
        needs_yg = four and (accept_here == "end" or any(target(row[c]) != "NONE" for c in "YG"))
        out.puller(
            "RB",
            f"q{s}",
            {"R": target(row["R"]), "B": target(row["B"]), "EMPTY": f"q{s}_yg" if needs_yg else accept_here},
        )
        if needs_yg:
            out.puller("YG", f"q{s}_yg", {"Y": target(row["Y"]), "G": target(row["G"]), "EMPTY": accept_here})
    return out.text()


# ----------------------------------------------------------------------------------------------
# One-pass rewriters (two-colour tapes only: G marks the end of the input)


@dataclass(frozen=True)
class Rewriter:
    """A sequential transducer over R/B: `step[(state, colour)] = (next state, colours to paint)`,
    `flush[state]` = colours to paint when the input ends. State 0 is the start."""

    step: Mapping[tuple[int, str], tuple[int, str]]
    flush: Mapping[int, str]

    def apply(self, tape: str) -> str:
        state, out = 0, []
        for colour in tape:
            state, painted = self.step[(state, colour)]
            out.append(painted)
        return "".join(out) + self.flush[state]


def rewrite_program(rewriter: Rewriter, prefix: str = "", comment: str = "") -> str:
    """Output `prefix + rewriter(input)` for an R/B input.

    Paint the end marker G, then the prefix; the tape is now `input G prefix`. Pull the input one
    colour at a time and paint its rewrite at the end; pulling G means the input is used up, so paint
    the final flush and accept. The tape then reads `prefix + rewrite(input)`.
    """
    out = DSLWriter(comment)
    out.start("mark")
    out.painter("G", "mark", out.chain_id(prefix, "prefix", "s0"))
    out.paint_chain(prefix, "prefix", "s0")
    for state in sorted(rewriter.flush):
        chains = {
            c: (rewriter.step[(state, c)][1], f"s{state}{c}", f"s{rewriter.step[(state, c)][0]}")
            for c in "RB"
        }
        chains["EMPTY"] = (rewriter.flush[state], f"s{state}_flush", "end")
        out.puller(
            "RB", f"s{state}", {c: out.chain_id(*chains[c]) for c in "RB"} | {"EMPTY": f"s{state}_end"}
        )
        out.puller("YG", f"s{state}_end", {"G": out.chain_id(*chains["EMPTY"])})
        for chain in chains.values():
            out.paint_chain(*chain)
    return out.text()
