"""Regex families (spec A.2.2, items 12-13): regex_pattern and regex_same_num. Both acceptors.

regex_pattern: a concatenation of parts `(base)op`, op in + ? *. Solution: a Thompson NFA of the
pattern, determinised and minimised, compiled to pullers.

regex_same_num: `R{x}B{y}`, `B{x}R{y}`, `R{y}B{x}R{y}`, `B{x}R{y}B{x}` with x, y in n, n+1, n+2, n+3, 2n.
These languages are not regular, so the solution uses the tape as a queue, in passes:

- paint G at the end of the input (the pass marker);
- pass 0 checks the run structure and pulls the n = 1 expansion off the front of every run
  (pulling the first colours of a run instead of the last ones is fine, a run is all one colour),
  repainting the rest of each run behind the marker;
- every later pass pulls one more step (the coefficient of n: 1 or 2 colours) off every run;
- a pass that starts at the marker means every run ran out together: accept if the tape is then
  empty. A run that runs out early, or a colour out of place, rejects.

An input holding G or Y never passes: a Y is rejected where it is read, and an input G leaves a G on
the tape after our marker is pulled, so the final "tape empty" check fails. A pass over a tape of
length L costs about 2L path entries and there are n + 1 passes, so long inputs run into the
1000-entry path limit (and are then rejected): every template still accepts its expansions up to 42
colours; the generated tests (at most 24 colours) need at most 115 entries (tests/test_tasks.py).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping
from typing import Any

from .base import Family, Params, random_tape, register
from .programs import DSLWriter, build_dfa, dfa_program
from .sequence import sequences

__all__ = ["REGEX_PATTERN", "REGEX_SAME_NUM", "regex_dfa", "expand", "same_num_program"]

OPERATORS = ("+", "?", "*")
REGEX_HELP = (
    "'+' means one or more repetitions, '?' means zero or one occurrence, '*' means zero or more repetitions."
)


# --- regex_pattern -----------------------------------------------------------------------------
# params: {"parts": [[base, op], ...], "pattern": "(RB)+(Y)?"}


def _regex_space(settings: Mapping[str, Any], colours) -> list[Params]:
    parts = [(b, op) for b in sequences(tuple(settings["max_pattern_length"]), colours) for op in OPERATORS]
    return [
        {"parts": [list(part) for part in combo], "pattern": "".join(f"({b}){op}" for b, op in combo)}
        for combo in itertools.product(parts, repeat=settings["concatenation_count"])
    ]


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regex_extra(p: Params, colours, rng) -> list[str]:
    """Spec A.2.2b's ten kinds: minimal, typical and maximal matches, then near misses (a required
    part left out, parts reversed or interrupted, a base cut short) and a random tape."""
    parts = p["parts"]
    rand = lambda n: random_tape(rng, colours, n)  # noqa: E731
    minimal = {"+": lambda: 1, "?": lambda: rng.randint(0, 1), "*": lambda: rng.randint(0, 2)}
    typical = {"+": lambda: rng.randint(1, 3), "?": lambda: rng.randint(0, 1), "*": lambda: rng.randint(1, 3)}
    maximal = {"+": lambda: rng.randint(2, 4), "?": lambda: 1, "*": lambda: rng.randint(2, 4)}
    tapes = ["".join(b * reps[op]() for b, op in parts) for reps in (minimal, typical, maximal)]
    if len(parts) >= 2:
        b, op = parts[0]
        if op != "?":  # the first part alone
            tapes.append(b if op == "+" else b + b)
        *earlier, (b_last, op_last) = parts  # earlier + parts once, others dropped; the last once
        tapes.append("".join(b for b, op in earlier if op == "+") + b_last * (2 if op_last == "*" else 1))
    for i, (_, op) in enumerate(parts):  # each + part left out
        if op == "+":
            rest = "".join(b for j, (b, _) in enumerate(parts) if j != i)
            if rest:
                tapes.append(rest)
    if len(parts) >= 2:
        tapes.append("".join(b for b, _ in reversed(parts)))
        tapes.append("".join(b + (rand(1) if j < len(parts) - 1 else "") for j, (b, _) in enumerate(parts)))
    for b, _ in parts:
        if len(b) >= 2:
            pad = rand(3)
            tapes.append(pad + b[:-1] + pad)
    tapes.append(rand(rng.randint(5, 8)))
    return tapes


def _nfa(parts: list[list[str]]) -> tuple[dict[int, set[int]], dict[tuple[int, str], int], int]:
    """Thompson NFA: (epsilon moves, colour moves, final state); state 0 is the start."""
    eps: dict[int, set[int]] = {0: set()}
    moves: dict[tuple[int, str], int] = {}
    current = 0
    for base, op in parts:
        first = len(eps)
        eps[first] = set()
        eps[current].add(first)
        state = first
        for colour in base:
            moves[(state, colour)] = len(eps)
            state = len(eps)
            eps[state] = set()
        after = len(eps)
        eps[after] = set()
        eps[state].add(after)
        if op in "+*":
            eps[state].add(first)  # repeat the base
        if op in "?*":
            eps[first].add(after)  # skip the part
        current = after
    return eps, moves, current


def regex_dfa(parts: list[list[str]], colours: tuple[str, ...]):
    eps, moves, final = _nfa(parts)

    def closure(states) -> frozenset[int]:
        seen, todo = set(states), list(states)
        while todo:
            for t in eps[todo.pop()]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return frozenset(seen)

    def step(states: frozenset[int], colour: str) -> frozenset[int] | None:
        nxt = {moves[(s, colour)] for s in states if (s, colour) in moves}
        return closure(nxt) if nxt else None

    return build_dfa(closure({0}), step, lambda states: final in states, colours)


REGEX_PATTERN = register(
    Family(
        name="regex_pattern",
        difficulty="hard",
        kind="acceptor",
        space=_regex_space,
        criteria=lambda p: (
            f"Accept if the tape matches the regex pattern '{p['pattern']}' exactly; reject otherwise. "
            + REGEX_HELP
        ),
        title=lambda p: f"Regex {p['pattern']}",
        accepts=lambda p, tape: _compiled(p["pattern"]).fullmatch(tape) is not None,
        extra_inputs=_regex_extra,
        solution=lambda p, colours: dfa_program(
            regex_dfa(p["parts"], colours),
            f"Match {p['pattern']}: the pattern's automaton (Thompson NFA, determinised, minimised).",
        ),
    )
)


# --- regex_same_num ----------------------------------------------------------------------------
# params: {"template", "x", "y", "pattern", "runs": [[colour, a, b], ...]}: run i has a*n + b colours.

TEMPLATES = {
    "R{x}B{y}": "A block of R followed by a block of B",
    "B{x}R{y}": "A block of B followed by a block of R",
    "R{y}B{x}R{y}": "A symmetric pattern starting and ending with R",
    "B{x}R{y}B{x}": "A symmetric pattern starting and ending with B",
}
EXPRESSIONS = {"n": (1, 0), "n+1": (1, 1), "n+2": (1, 2), "n+3": (1, 3), "2n": (2, 0)}  # (a, b): a*n + b
MAX_N = 50  # the reference tries n = 1 .. min(50, len + 1)


def _same_num_space(settings: Mapping[str, Any], colours) -> list[Params]:
    space = []
    for template in TEMPLATES:
        for x, y in itertools.product(EXPRESSIONS, repeat=2):
            runs = [
                [colour, *EXPRESSIONS[x if var == "x" else y]]
                for colour, var in re.findall(r"([RB])\{([xy])\}", template)
            ]
            space.append(
                {
                    "template": template,
                    "x": x,
                    "y": y,
                    "pattern": template.replace("{x}", f"{{{x}}}").replace("{y}", f"{{{y}}}"),
                    "runs": runs,
                }
            )
    return space


def expand(p: Params, n: int) -> str:
    return "".join(colour * (a * n + b) for colour, a, b in p["runs"])


def _same_num_accepts(p: Params, tape: str) -> bool:
    return any(expand(p, n) == tape for n in range(1, min(MAX_N, len(tape) + 1) + 1))


def _same_num_extra(p: Params, colours, rng) -> list[str]:
    """Spec A.2.2b: the expansions for n = 1..4, then near misses built from them, "", each colour
    and three random tapes."""
    e1, e2 = expand(p, 1), expand(p, 2)
    tapes = [e1, e2, expand(p, 3), expand(p, 4), e1 + random_tape(rng, colours, 1), e1[:-1]]
    runs2 = [colour * (a * 2 + b) for colour, a, b in p["runs"]]
    reversed2 = "".join(reversed(runs2))
    if reversed2 != e1:
        tapes.append(reversed2)
    if len(e1) >= 4:
        r, b = e1.count("R"), e1.count("B")
        pairs = min(r, b)
        alternating = "RB" * pairs + "R" * (r - pairs) + "B" * (b - pairs)
        if alternating != e1:
            tapes.append(alternating)
    colour, a, b = p["runs"][0]
    tapes.append(colour * max(1, a * 2 + b - 1) + "".join(runs2[1:]))  # E(2), first run one short
    tapes += ["", *colours]
    tapes += [random_tape(rng, colours, rng.randint(2, 8)) for _ in range(3)]
    return tapes


def same_num_program(p: Params) -> str:
    runs = p["runs"]
    out = DSLWriter(
        f"{p['pattern']}, n >= 1. Mark the input's end with G. Pass 0 pulls the n = 1 expansion off\n"
        "every run and repaints the rest; each later pass pulls one more step of n off every run.\n"
        "A pass that finds only the marker accepts if the tape is then empty."
    )

    def strip_id(pass_: str, i: int, j: int) -> str:
        amount = runs[i][1] + runs[i][2] if pass_ == "a" else runs[i][1]
        return f"{pass_}{i}_{j}" if j < amount else f"{pass_}{i}_copy"

    out.start("mark")
    out.painter("G", "mark", "a0_0")
    for pass_ in ("a", "p"):  # a = pass 0, p = every later pass
        for i, (colour, a, b) in enumerate(runs):
            amount = a + b if pass_ == "a" else a
            for j in range(amount):
                routes = {colour: strip_id(pass_, i, j + 1)}
                if pass_ == "p" and i == 0 and j == 0:
                    routes["EMPTY"] = "p_done"  # only the marker is left
                out.puller("RB", f"{pass_}{i}_{j}", routes)
            routes = {colour: f"{pass_}{i}_paint"}
            if i + 1 < len(runs):
                routes[runs[i + 1][0]] = strip_id(pass_, i + 1, 1)  # first colour of the next run
            else:
                routes["EMPTY"] = f"{pass_}_marker"
            out.puller("RB", f"{pass_}{i}_copy", routes)
            out.painter(colour, f"{pass_}{i}_paint", f"{pass_}{i}_copy")
        out.puller("YG", f"{pass_}_marker", {"G": f"{pass_}_remark"})
        out.painter("G", f"{pass_}_remark", "p0_0")
    out.puller("YG", "p_done", {"G": "p_check"})
    out.puller("RB", "p_check", {"EMPTY": "p_check_yg"})
    out.puller("YG", "p_check_yg", {"EMPTY": "end"})
    return out.text()


REGEX_SAME_NUM = register(
    Family(
        name="regex_same_num",
        difficulty="hard",
        kind="acceptor",
        space=_same_num_space,
        criteria=lambda p: (
            f"Accept strings that match the pattern '{p['pattern']}' for any n ≥ 1. "
            f"{TEMPLATES[p['template']]}, where x={p['x']} and y={p['y']} for any positive integer n."
        ),
        title=lambda p: f"Pattern {p['pattern']}",
        accepts=_same_num_accepts,
        extra_inputs=_same_num_extra,
        solution=lambda p, colours: same_num_program(p),
    )
)
