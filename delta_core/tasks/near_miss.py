"""Near misses: the programs for a *neighbouring* language, and tests that tell them apart.

A binary reward has a hole when a program for a different language passes every test of a problem:
`(R)+(B)*` passes the tests of `(R)+(B)?` unless one of them has two B's at the end. For each family,
`near_misses(family, params, colours)` lists the standard wrong parameters (the same family with one
parameter nudged, or a sibling family with the same parameter):

- starts_with / ends_with: the other end, contains_substring, exact_sequence; one colour shorter,
  one longer; ends_with also its automaton without fallbacks;
- exact_sequence: starts_with, ends_with, contains_substring, contains_ordered; one shorter, one longer;
- contains_substring: contains_ordered (the subsequence), starts_with, ends_with, exact_sequence; one
  colour shorter at either end; the KMP automaton without fallbacks to a partial match, and the
  prefix matcher that restarts on every mismatch (automata only, `AUTOMATON_ONLY`);
- contains_ordered: contains_substring, the colour counts (order ignored), starts_with, ends_with; one
  colour shorter at either end;
- contains_count: each minimum one lower (a minimum of 1 dropped) and one higher; the counts as a
  subsequence;
- not_contains: another forbidden colour; "does not start / end with it", "no two in a row", "at most
  one" (automata complemented);
- regex_pattern: one part's operator swapped for each other one of `+ ? *`;
- regex_same_num: x or y replaced by each other expression of n (n, n+1, n+2, n+3, 2n);
- numerical_comparison: every operator at k-1, k, k+1 (k >= 0);
- numerical_max_min: the other operation; the operand one lower, one higher;
- numerical_operations: the operand one lower, one higher; add <-> subtract; and / or / xor swapped;
  NOT vs XOR 255;
- append_sequence: one colour shorter at either end, one longer; prepend instead (two-colour);
- prepend_sequence: the prefix one shorter or longer; the mutation's target swapped, or no mutation;
  append instead of prepend.

Each wrong solution is built by the family's own solution builder (a negated language is its
automaton, complemented). A near miss whose language equals the true one (`>= k` and `> k-1`; the
medium tier's no-op `R -> R`) is not a miss and is skipped: `witness` proves the difference with the
shortest distinguishing tape (breadth-first over the product automaton for the regular families; the
expansions for regex_same_num; every short tape for transducers) or returns None.

`distinguishing_inputs` gives the tapes a problem's tests need so that every near miss fails at least
one of them (`cases.py` appends them, spec A.2.1's cut respected); `stats.near_miss_report` measures how
many wrong solutions a level's tests still accept, by judging the wrong programs on each problem's tests.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .base import FAMILIES, Params
from .contains import count_dfa, not_contains_dfa, ordered_dfa, substring_dfa
from .programs import DFA, build_dfa, dfa_program
from .regex import EXPRESSIONS, expand, regex_dfa
from .sequence import ends_dfa, exact_dfa, kmp_step, starts_dfa

__all__ = [
    "NearMiss",
    "near_misses",
    "language_dfa",
    "witness",
    "separated",
    "distinguishing_inputs",
]


@dataclass(frozen=True)
class NearMiss:
    """A wrong language: `family` with `params` (complemented when `negate`); `kind` groups misses
    of the same sort in reports ("op ? -> *", "k+1", "suffix", ...)."""

    kind: str
    family: str
    params: Params
    negate: bool = False

    def label(self, tape: str) -> bool | str:
        """Acceptors: whether the tape is accepted; transducers: the output."""
        if self.family in AUTOMATON_ONLY:  # a wrong automaton, not a family: run it
            dfa = language_dfa(self.family, self.params, tuple(sorted(set(tape) | {"R", "B"})))
            return dfa.accepts(tape) != self.negate
        fam = FAMILIES[self.family]
        if fam.kind == "acceptor":
            return fam.accepts(self.params, tape) != self.negate
        return fam.transform(self.params, tape)

    def program(self, colours: tuple[str, ...]) -> str:
        return _program(self.family, _key(self.params), self.negate, colours)


def _key(params: Params) -> str:
    return json.dumps(params, sort_keys=True)


@functools.lru_cache(maxsize=8192)
def _program(family: str, key: str, negate: bool, colours: tuple[str, ...]) -> str:
    params = json.loads(key)
    if family in AUTOMATON_ONLY:
        dfa = language_dfa(family, params, colours)
        return dfa_program(_complement(dfa) if negate else dfa, AUTOMATON_ONLY[family][1].format(**params))
    if not negate:
        return FAMILIES[family].solution(params, colours)
    dfa = language_dfa(family, params, colours)
    return dfa_program(
        _complement(dfa), f"Not ({FAMILIES[family].title(params)}): the automaton, complemented."
    )


def _complement(dfa: DFA) -> DFA:
    return DFA(
        dfa.alphabet, dfa.delta, frozenset(range(len(dfa.delta))) - dfa.accepting, dfa.start
    ).minimized()


# --- the languages as automata (regular acceptor families) -------------------------------------


def _comparison_dfa(p: Params, colours) -> DFA:
    """The value read so far, capped at k + 1 (above k every operator's answer is fixed)."""
    op, k = p["operator"], p["threshold"]
    test = {">": k.__lt__, ">=": k.__le__, "<": k.__gt__, "<=": k.__ge__, "=": k.__eq__}[op]
    return build_dfa(0, lambda v, c: min(2 * v + (c == "B"), k + 1), test, colours)


def _pattern_without_fallback(absorbing: bool, restart_always: bool):
    """The KMP automaton of a pattern (contains: accepting for good once seen; ends_with: not) with
    its *fallbacks* removed: a transition to a partial match other than the state itself goes back to
    q0 instead; with `restart_always`, every non-advancing transition does (a prefix matcher without
    resets). These are the programs a model writes when it knows prefix matchers and subsequence
    matchers but not the failure function; tests must tell them apart from the real automaton."""

    def dfa(p: Params, colours) -> DFA:
        s = p["sequence"]
        n = len(s)

        def step(k: int, c: str) -> int:
            if absorbing and k == n:
                return n
            j = kmp_step(s, k, c)  # k == n too (ends_with goes on after a match)
            if k < n and j == k + 1:
                return j
            if restart_always:
                return 0
            return j if j in (0, k) else 0

        return build_dfa(0, step, lambda k: k == n, colours)

    return dfa


def _one_edge_changed(absorbing: bool):
    """The KMP automaton of a pattern with one transition redirected: params `edge` = [state, colour,
    new target]. Every such program must fail some test: a model that gets one fallback wrong (after
    'RRRRB', an 'R' sent to q4 instead of q1) otherwise passes them all."""

    def dfa(p: Params, colours) -> DFA:
        s, (k0, c0, j0) = p["sequence"], p["edge"]
        n = len(s)

        def step(k: int, c: str) -> int:
            if (k, c) == (k0, c0):
                return j0
            return n if absorbing and k == n else kmp_step(s, k, c)

        return build_dfa(0, step, lambda k: k == n, colours)

    return dfa


# Wrong automata that are no family's solution: name -> (automaton builder, program comment).
AUTOMATON_ONLY: dict[str, tuple[Callable[[Params, tuple[str, ...]], DFA], str]] = {
    "contains_substring_no_fallback": (_pattern_without_fallback(True, False),
                                       "Contains {sequence}, but a mismatch never falls back to a partial match."),
    "contains_substring_restart": (_pattern_without_fallback(True, True),
                                   "Contains {sequence} as a prefix matcher that restarts at q0 on any mismatch."),
    "ends_with_no_fallback": (_pattern_without_fallback(False, False),
                              "Ends with {sequence}, but a mismatch never falls back to a partial match."),
    "contains_substring_edge": (_one_edge_changed(True), "Contains {sequence}, one transition changed: {edge}."),
    "ends_with_edge": (_one_edge_changed(False), "Ends with {sequence}, one transition changed: {edge}."),
}


def _edge_misses(family: str, s: str, colours) -> list[NearMiss]:
    """Every one-transition mutant of the pattern's KMP automaton (`_one_edge_changed`), in two-colour
    mode (with four colours a length-5 pattern has 144 of them, and their witnesses do not fit in the
    35 tests of spec A.2.1's cut)."""
    if len(colours) != 2:
        return []
    n = len(s)
    states = range(n) if family == "contains_substring" else range(n + 1)
    return [NearMiss("one transition", f"{family}_edge", {"sequence": s, "edge": [k, c, j]})
            for k in states for c in colours for j in range(n + 1) if j != kmp_step(s, k, c)]


LANGUAGE_DFAS: dict[str, Callable[[Params, tuple[str, ...]], DFA]] = {
    **{name: builder for name, (builder, _) in AUTOMATON_ONLY.items()},
    "starts_with": starts_dfa,
    "ends_with": ends_dfa,
    "exact_sequence": exact_dfa,
    "contains_count": count_dfa,
    "contains_ordered": ordered_dfa,
    "contains_substring": substring_dfa,
    "not_contains": not_contains_dfa,
    "regex_pattern": lambda p, colours: regex_dfa(p["parts"], colours),
    "numerical_comparison": _comparison_dfa,
}


def language_dfa(family: str, params: Params, colours: tuple[str, ...]) -> DFA:
    return _dfa(family, _key(params), colours)


@functools.lru_cache(maxsize=16384)
def _dfa(family: str, key: str, colours: tuple[str, ...]) -> DFA:
    return LANGUAGE_DFAS[family](json.loads(key), colours)


# --- near misses per family --------------------------------------------------------------------


def _seq(kind: str, family: str, s: str) -> NearMiss | None:
    return NearMiss(kind, family, {"sequence": s}) if s else None


def _sequence_misses(family: str, s: str, colours) -> list[NearMiss | None]:
    misses: list[NearMiss | None] = []
    if family == "starts_with":
        misses += [_seq("suffix", "ends_with", s), _seq("substring", "contains_substring", s)]
        misses += [_seq("exact", "exact_sequence", s), _seq("shorter", "starts_with", s[:-1])]
        misses += [_seq("longer", "starts_with", s + c) for c in colours]
    elif family == "ends_with":
        misses += [_seq("prefix", "starts_with", s), _seq("substring", "contains_substring", s)]
        misses += [_seq("exact", "exact_sequence", s), _seq("shorter", "ends_with", s[1:])]
        misses += [_seq("longer", "ends_with", c + s) for c in colours]
        misses += [_seq("no fallback", "ends_with_no_fallback", s)]
        misses += _edge_misses(family, s, colours)
    elif family == "exact_sequence":
        misses += [_seq("prefix", "starts_with", s), _seq("suffix", "ends_with", s)]
        misses += [_seq("substring", "contains_substring", s), _seq("subsequence", "contains_ordered", s)]
        misses += [_seq("shorter", "exact_sequence", s[:-1])]
        misses += [_seq("longer", "exact_sequence", s + c) for c in colours]
    elif family == "contains_substring":
        misses += [_seq("subsequence", "contains_ordered", s), _seq("prefix", "starts_with", s)]
        misses += [_seq("suffix", "ends_with", s), _seq("exact", "exact_sequence", s)]
        misses += [_seq("shorter", "contains_substring", t) for t in (s[:-1], s[1:])]
        misses += [_seq("no fallback", "contains_substring_no_fallback", s),
                   _seq("restart", "contains_substring_restart", s)]
        misses += _edge_misses(family, s, colours)
    elif family == "contains_ordered":
        counts = [[c, s.count(c)] for c in colours if c in s]
        misses += [_seq("substring", "contains_substring", s)]
        misses += [NearMiss("counts", "contains_count", {"counts": counts})]
        misses += [_seq("prefix", "starts_with", s), _seq("suffix", "ends_with", s)]
        misses += [_seq("shorter", "contains_ordered", t) for t in (s[:-1], s[1:])]
    return misses


def _count_misses(p: Params, colours) -> list[NearMiss | None]:
    counts = p["counts"]
    misses: list[NearMiss | None] = []
    for i, (c, m) in enumerate(counts):
        lower = [list(x) for x in counts]
        if m > 1:
            lower[i][1] = m - 1
        else:
            del lower[i]
        higher = [list(x) for x in counts]
        higher[i][1] = m + 1
        misses += [NearMiss("count-1", "contains_count", {"counts": lower})]
        misses += [NearMiss("count+1", "contains_count", {"counts": higher})]
    if len(counts) > 1:
        misses.append(_seq("ordered", "contains_ordered", "".join(c * m for c, m in counts)))
    return misses


def _not_contains_misses(p: Params, colours) -> list[NearMiss | None]:
    f = p["colour"]
    misses: list[NearMiss | None] = [
        NearMiss("other colour", "not_contains", {"colour": c}) for c in colours if c != f
    ]
    misses += [
        NearMiss("first only", "starts_with", {"sequence": f}, negate=True),
        NearMiss("last only", "ends_with", {"sequence": f}, negate=True),
        NearMiss("no two in a row", "contains_substring", {"sequence": f + f}, negate=True),
        NearMiss("at most one", "contains_count", {"counts": [[f, 2]]}, negate=True),
    ]
    return misses


def _regex_misses(p: Params, colours) -> list[NearMiss | None]:
    misses: list[NearMiss | None] = []
    for i, (base, op) in enumerate(p["parts"]):
        for other in "+?*":
            if other != op:
                parts = [list(x) for x in p["parts"]]
                parts[i][1] = other
                pattern = "".join(f"({b}){o}" for b, o in parts)
                misses.append(
                    NearMiss(f"op {op} -> {other}", "regex_pattern", {"parts": parts, "pattern": pattern})
                )
    return misses


@functools.lru_cache(maxsize=1)
def _same_num_index() -> dict[tuple[str, str, str], Params]:
    fam = FAMILIES["regex_same_num"]
    return {(q["template"], q["x"], q["y"]): q for q in fam.space({}, ("R", "B"))}


def _same_num_misses(p: Params, colours) -> list[NearMiss | None]:
    index = _same_num_index()
    misses: list[NearMiss | None] = []
    for var in ("x", "y"):
        if f"{{{var}}}" not in p["template"]:
            continue
        for expr in EXPRESSIONS:
            if expr != p[var]:
                key = (p["template"], expr if var == "x" else p["x"], expr if var == "y" else p["y"])
                misses.append(NearMiss(f"{var} changed", "regex_same_num", index[key]))
    return misses


def _comparison_misses(p: Params, colours) -> list[NearMiss | None]:
    op, k = p["operator"], p["threshold"]
    misses: list[NearMiss | None] = []
    for other, d in itertools.product((">", ">=", "<", "<=", "="), (-1, 0, 1)):
        if (other, d) != (op, 0) and k + d >= 0:
            kind = f"k{d:+d}" if other == op else f"{op} -> {other}" + (f", k{d:+d}" if d else "")
            misses.append(NearMiss(kind, "numerical_comparison", {"operator": other, "threshold": k + d}))
    return misses


def _max_min_misses(p: Params, colours) -> list[NearMiss | None]:
    op, k = p["operation"], p["operand"]
    other = "min" if op == "max" else "max"
    misses: list[NearMiss | None] = [
        NearMiss("max <-> min", "numerical_max_min", {"operation": other, "operand": k})
    ]
    misses += [
        NearMiss(f"k{d:+d}", "numerical_max_min", {"operation": op, "operand": k + d})
        for d in (-1, 1)
        if k + d >= 1
    ]
    return misses


def _operations_misses(p: Params, colours) -> list[NearMiss | None]:
    op, k = p["operation"], p["operand"]

    def nm(kind: str, o: str, operand: int | None) -> NearMiss:
        return NearMiss(kind, "numerical_operations", {"operation": o, "operand": operand})

    if op == "not":
        return [nm("not -> xor 255", "xor", 255)]
    top = 10 if op == "floor_div" else 255
    misses: list[NearMiss | None] = [nm(f"k{d:+d}", op, k + d) for d in (-1, 1) if 1 <= k + d <= top]
    if op in ("add", "subtract"):
        misses.append(nm("add <-> subtract", "subtract" if op == "add" else "add", k))
    if op in ("and", "or", "xor"):
        misses += [nm(f"{op} -> {o}", o, k) for o in ("and", "or", "xor") if o != op]
    return misses


def _append_misses(p: Params, colours) -> list[NearMiss | None]:
    s = p["sequence"]
    misses: list[NearMiss | None] = [_seq("shorter", "append_sequence", t) for t in (s[:-1], s[1:])]
    misses += [_seq("longer", "append_sequence", s + c) for c in colours]
    if tuple(colours) == ("R", "B"):
        misses.append(NearMiss("prepend", "prepend_sequence", {"prefix": s, "mutation": {"kind": "keep"}}))
    return misses


TARGETS = ("", "R", "B", "RR", "RB", "BR", "BB")


def _prepend_misses(p: Params, colours) -> list[NearMiss | None]:
    prefix, mutation = p["prefix"], p["mutation"]

    def nm(kind: str, pre: str, mut: dict) -> NearMiss:
        return NearMiss(kind, "prepend_sequence", {"prefix": pre, "mutation": mut})

    misses: list[NearMiss | None] = []
    if len(prefix) > 1:
        misses.append(nm("prefix shorter", prefix[:-1], mutation))
    misses += [nm("prefix longer", prefix + c, mutation) for c in "RB"]
    if mutation["kind"] == "replace":
        src, tgt = mutation["source"], mutation["target"]
        misses += [
            nm("other target", prefix, {"kind": "replace", "source": src, "target": t})
            for t in TARGETS
            if t != tgt
        ]
    if mutation["kind"] != "keep":
        misses.append(nm("no mutation", prefix, {"kind": "keep"}))
    else:
        misses.append(NearMiss("append", "append_sequence", {"sequence": prefix}))
    return misses


NEAR_MISSES: dict[str, Callable[[Params, tuple[str, ...]], list[NearMiss | None]]] = {
    **{
        f: functools.partial(
            lambda p, colours, family: _sequence_misses(family, p["sequence"], colours), family=f
        )
        for f in ("starts_with", "ends_with", "exact_sequence", "contains_substring", "contains_ordered")
    },
    "contains_count": _count_misses,
    "not_contains": _not_contains_misses,
    "regex_pattern": _regex_misses,
    "regex_same_num": _same_num_misses,
    "numerical_comparison": _comparison_misses,
    "numerical_max_min": _max_min_misses,
    "numerical_operations": _operations_misses,
    "append_sequence": _append_misses,
    "prepend_sequence": _prepend_misses,
}


def near_misses(family: str, params: Params, colours: tuple[str, ...]) -> list[NearMiss]:
    """The standard wrong languages for one problem (see the module docstring), in a fixed order,
    without duplicates and without the problem's own parameters (none for a family not listed)."""
    true_key = (family, _key(params), False)
    seen, out = {true_key}, []
    for miss in NEAR_MISSES.get(family, lambda p, c: [])(params, colours):
        if miss is None:
            continue
        key = (miss.family, _key(miss.params), miss.negate)
        if key not in seen:
            seen.add(key)
            out.append(miss)
    return out


# --- telling languages apart -------------------------------------------------------------------


def _product_witness(a: DFA, b: DFA, colours: tuple[str, ...]) -> str | None:
    """Shortest tape (then first in colour order) accepted by exactly one of two DFAs; None if equal."""
    start = (a.start, b.start)
    parent: dict[tuple[int, int], tuple[tuple[int, int], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if (state[0] in a.accepting) != (state[1] in b.accepting):
            tape = []
            while parent[state] is not None:
                state, colour = parent[state]  # type: ignore[misc]
                tape.append(colour)
            return "".join(reversed(tape))
        for c in colours:
            nxt = (a.delta[state[0]][c], b.delta[state[1]][c])
            if nxt not in parent:
                parent[nxt] = (state, c)
                queue.append(nxt)
    return None


SHORT_TAPES = {2: 10, 4: 6}  # exhaustive witness search: every tape up to this length


def _short_tapes(colours: tuple[str, ...]):
    for n in range(SHORT_TAPES.get(len(colours), 6) + 1):
        for t in itertools.product(colours, repeat=n):
            yield "".join(t)


def witness(true: NearMiss, wrong: NearMiss, colours: tuple[str, ...]) -> str | None:
    """A tape on which the two languages differ (the shortest one for regular languages), or None
    if none exists (for transducers and regex_same_num: none among the tapes searched)."""
    if true.family in LANGUAGE_DFAS and wrong.family in LANGUAGE_DFAS:
        a = language_dfa(true.family, true.params, colours)
        b = language_dfa(wrong.family, wrong.params, colours)
        if true.negate:
            a = _complement(a)
        if wrong.negate:
            b = _complement(b)
        return _product_witness(a, b, colours)
    if "regex_same_num" in (true.family, wrong.family):
        candidates = sorted(
            {
                expand(m.params, n)
                for m in (true, wrong)
                if m.family == "regex_same_num"
                for n in range(1, 30)
            },
            key=lambda t: (len(t), t),
        )
        return next((t for t in candidates if true.label(t) != wrong.label(t)), None)
    return next((t for t in _short_tapes(colours) if true.label(t) != wrong.label(t)), None)


def separated(true: NearMiss, wrong: NearMiss, tapes: Sequence[str]) -> bool:
    """Whether some tape tells the two apart (labels, or outputs, differ)."""
    return any(true.label(t) != wrong.label(t) for t in tapes)


def distinguishing_inputs(
    family: str, params: Params, colours: tuple[str, ...], tapes: Sequence[str]
) -> list[str]:
    """Tapes to add to `tapes` so that every near miss of the problem is told apart by some tape:
    for each near miss, in order, that the tapes so far do not separate, its witness."""
    true = NearMiss("true", family, params)
    added: list[str] = []
    for miss in near_misses(family, params, colours):
        if separated(true, miss, [*tapes, *added]):
            continue
        w = witness(true, miss, colours)
        if w is not None:
            added.append(w)
    return added
