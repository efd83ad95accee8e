"""Contains families (spec A.2.2, items 6-8 and 14): contains_count, contains_ordered,
contains_substring, not_contains. All acceptors; every solution is a DFA:

- contains_count: one counter per required colour, capped at its minimum (a product automaton);
- contains_ordered: how many colours of the subsequence have been found so far;
- contains_substring: the KMP automaton of the substring, accepting for good once it is seen;
- not_contains: one state that loops on every other colour.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from typing import Any

from .base import Family, Params, random_tape, register
from .programs import build_dfa, dfa_program
from .sequence import kmp_step, sequences

__all__ = ["CONTAINS_COUNT", "CONTAINS_ORDERED", "CONTAINS_SUBSTRING", "NOT_CONTAINS"]


def _shuffled(rng: random.Random, tape: str) -> str:
    colours = list(tape)
    rng.shuffle(colours)
    return "".join(colours)


def _sequence_space(settings: Mapping[str, Any], colours) -> list[Params]:
    return [{"sequence": s} for s in sequences(tuple(settings["sequence_lengths"]), colours)]


# --- contains_count ----------------------------------------------------------------------------
# params: {"counts": [[colour, minimum], ...]}, colours in colour-mode order.


def _count_space(settings: Mapping[str, Any], colours) -> list[Params]:
    """1, 2, then 3 distinct colours; each with a minimum >= 1; total minimum within the thresholds."""
    lo, hi = settings["count_thresholds"]
    space = []
    for k in (1, 2, 3):
        for chosen in itertools.combinations(colours, k):
            for mins in itertools.product(range(1, hi + 1), repeat=k):
                if lo <= sum(mins) <= hi:
                    space.append({"counts": [[c, m] for c, m in zip(chosen, mins, strict=True)]})
    return space


def _plural(m: int, colour: str) -> str:
    return f"{m} {colour}" + ("s" if m > 1 else "")


def _count_criteria(p: Params) -> str:
    needs = " and ".join(f"at least {_plural(m, c.lower())}" for c, m in p["counts"])
    return f"Accept if the tape has {needs}; reject otherwise."


def _count_title(p: Params) -> str:
    if len(p["counts"]) == 1:
        c, m = p["counts"][0]
        return f"At least {_plural(m, c)}"
    return "Need " + " and ".join(_plural(m, c) for c, m in p["counts"])


def _count_accepts(p: Params, tape: str) -> bool:
    return all(tape.count(c) >= m for c, m in p["counts"])


def _count_extra(p: Params, colours, rng) -> list[str]:
    """Ten constructions around the thresholds, each shuffled."""
    need = dict((c, m) for c, m in p["counts"])
    exact = "".join(c * m for c, m in need.items())
    rand = lambda n, pool=colours: random_tape(rng, tuple(pool), n)  # noqa: E731
    short_one = rng.choice(list(need))
    without = tuple(c for c in colours if c != short_one)
    others = tuple(c for c in colours if c not in need)
    one_short = "".join(c * (m - (c == short_one)) for c, m in need.items())
    tapes = [
        exact,  # exactly enough
        exact + rand(3),  # enough plus extras
        exact * 2,  # twice enough
        exact + rand(max(0, 12 - len(exact))),  # long
        exact + p["counts"][0][0] * max(0, 18 - len(exact)),  # biased towards one colour
        exact.replace(short_one, "") + rand(3, without),  # one required colour missing
        one_short,  # one colour one short
        rand(6, others) if others else "",  # none of the required colours
        "".join(c * (m - 1) for c, m in need.items()),  # every colour one short
        one_short + rand(max(0, 18 - len(one_short)), without),  # almost enough, long
    ]
    return [_shuffled(rng, t) for t in tapes]


def _count_solution(p: Params, colours) -> str:
    need = [(c, m) for c, m in p["counts"]]

    def step(counts: tuple[int, ...], colour: str) -> tuple[int, ...]:
        return tuple(min(n + (c == colour), m) for n, (c, m) in zip(counts, need, strict=True))

    def enough(counts: tuple[int, ...]) -> bool:
        return all(n == m for n, (_, m) in zip(counts, need, strict=True))

    dfa = build_dfa(tuple(0 for _ in need), step, enough, colours)
    return dfa_program(dfa, f"{_count_title(p)}: one counter per colour, capped at its minimum.")


CONTAINS_COUNT = register(
    Family(
        name="contains_count",
        difficulty="medium",
        kind="acceptor",
        space=_count_space,
        criteria=_count_criteria,
        title=_count_title,
        accepts=_count_accepts,
        extra_inputs=_count_extra,
        solution=_count_solution,
    )
)


# --- contains_ordered --------------------------------------------------------------------------


def _is_subsequence(s: str, tape: str) -> bool:
    it = iter(tape)
    return all(c in it for c in s)


def _ordered_extra(p: Params, colours, rng) -> list[str]:
    s = p["sequence"]
    rand = lambda n: random_tape(rng, colours, n)  # noqa: E731
    cut = rng.randrange(len(s))
    changed = s[:cut] + rng.choice([c for c in colours if c != s[cut]]) + s[cut + 1 :]
    return [
        s,
        "".join(c + rand(1) for c in s),  # one colour inserted after each
        rand(2) + "".join(c + rand(2) for c in s),  # spread out
        rand(3) + s + rand(3),
        s[:cut] + s[cut + 1 :],  # one colour missing
        s[::-1],  # reversed
        s[1:] + s[0],  # rotated
        s[:-1],
        s[1:],
        s + s,
        changed,
        "".join(c * 2 for c in s),  # every colour doubled
        rand(len(s)),
        rand(8),
        rand(12),
    ]


def _ordered_solution(p: Params, colours) -> str:
    s = p["sequence"]
    dfa = build_dfa(0, lambda k, c: k if k == len(s) else k + (c == s[k]), lambda k: k == len(s), colours)
    return dfa_program(dfa, f"Subsequence {s}: qK = first K colours of {s} found, in order.")


CONTAINS_ORDERED = register(
    Family(
        name="contains_ordered",
        difficulty="medium",
        kind="acceptor",
        space=_sequence_space,
        criteria=lambda p: (
            f"Accept if the tape contains the subsequence {p['sequence']} "
            "(does not have to be consecutive); reject otherwise."
        ),
        title=lambda p: f"Contains {p['sequence']} in order",
        accepts=lambda p, tape: _is_subsequence(p["sequence"], tape),
        extra_inputs=_ordered_extra,
        solution=_ordered_solution,
    )
)


# --- contains_substring ------------------------------------------------------------------------


def _substring_extra(p: Params, colours, rng) -> list[str]:
    s = p["sequence"]
    rand = lambda n: random_tape(rng, colours, n)  # noqa: E731
    cut = rng.randrange(len(s))
    half = len(s) // 2
    changed = s[:cut] + rng.choice([c for c in colours if c != s[cut]]) + s[cut + 1 :]
    return [
        s,
        rand(3) + s,
        s + rand(3),
        rand(4) + s + rand(4),
        changed,
        s[:half] + rand(1) + s[half:],  # one colour inserted inside
        s[::-1],
        s[:-1],
        s[1:],
        s[:-1] + rand(2) + s[-1],  # last colour split off
        s + s,
        s[:half] + rand(2) + s[half:] + rand(2),
        rand(6),
        rand(10),
        rand(12),
    ]


def _substring_solution(p: Params, colours) -> str:
    s = p["sequence"]
    dfa = build_dfa(0, lambda k, c: k if k == len(s) else kmp_step(s, k, c), lambda k: k == len(s), colours)
    return dfa_program(dfa, f"Contains {s}: KMP automaton, qK = longest prefix of {s} just read.")


CONTAINS_SUBSTRING = register(
    Family(
        name="contains_substring",
        difficulty="easy",
        kind="acceptor",
        space=_sequence_space,
        criteria=lambda p: (
            f"Accept if the tape contains the substring '{p['sequence']}' "
            "(must be consecutive); reject otherwise."
        ),
        title=lambda p: f"Contains '{p['sequence']}'",
        accepts=lambda p, tape: p["sequence"] in tape,
        extra_inputs=_substring_extra,
        solution=_substring_solution,
    )
)


# --- not_contains ------------------------------------------------------------------------------


def _not_contains_extra(p: Params, colours, rng) -> list[str]:
    c = p["colour"]
    others = tuple(x for x in colours if x != c)
    rand = lambda n, pool=colours: random_tape(rng, tuple(pool), n)  # noqa: E731
    return [
        c,
        c * 3,
        rand(6, others),
        c + rand(5, others),
        rand(3, others) + c + rand(3, others),
        rand(5, others) + c,
        rand(8),
        rand(12),
        rand(12, others),
    ]


def _not_contains_solution(p: Params, colours) -> str:
    c = p["colour"]
    dfa = build_dfa(0, lambda state, colour: None if colour == c else 0, lambda state: True, colours)
    return dfa_program(dfa, f"No {c}: read to the end; a {c} rejects.")


NOT_CONTAINS = register(
    Family(
        name="not_contains",
        difficulty="easy",
        kind="acceptor",
        space=lambda settings, colours: [{"colour": c} for c in colours],
        criteria=lambda p: f"Accept if the tape contains no {p['colour'].lower()}; reject otherwise.",
        title=lambda p: f"No {p['colour']}",
        accepts=lambda p, tape: p["colour"] not in tape,
        extra_inputs=_not_contains_extra,
        solution=_not_contains_solution,
    )
)
