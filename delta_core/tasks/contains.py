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
from .programs import DFA, build_dfa, dfa_program
from .sequence import kmp_step, sequences

__all__ = [
    "CONTAINS_COUNT",
    "CONTAINS_ORDERED",
    "CONTAINS_SUBSTRING",
    "NOT_CONTAINS",
    "count_dfa",
    "ordered_dfa",
    "substring_dfa",
    "not_contains_dfa",
]


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
    """Spec A.2.2b's ten constructions, each shuffled (E = every colour at its minimum, listed order)."""
    need = [(c, m) for c, m in p["counts"]]
    others = tuple(c for c in colours if c not in dict(need))
    rand = lambda n, pool=colours: random_tape(rng, tuple(pool), n)  # noqa: E731
    exact = "".join(c * m for c, m in need)
    first, rest = need[0], need[1:]
    first_short = first[0] * (first[1] - 1 if first[1] > 1 else first[1]) + "".join(c * m for c, m in rest)
    tapes = [exact, exact + "".join(c * rng.randint(1, 2) for c, _ in need)]
    if others:
        tapes.append(exact + rand(3, others))
    generous = "".join(c * (m + rng.randint(0, 2)) for c, m in need)
    if others and len(generous) < 12:
        generous += rand(12 - len(generous))
    tapes.append(generous)
    biased = "".join(
        rng.choice([c for c, _ in need]) if rng.random() < 0.6 else rand(1) for _ in range(18 - len(exact))
    )
    tapes.append(exact + biased)
    if len(need) >= 2:
        tapes.append("".join(c * m for c, m in need[:-1]) + (rand(5, others) if others else ""))
    tapes.append(first_short + (rand(3, others) if others else ""))
    if others:
        tapes.append(rand(12, others))
    all_short = "".join(c * (m - 1) for c, m in need)
    tapes.append(all_short + (rand(max(5, 12 - len(all_short)), others) if others else ""))
    tapes.append(first_short + rand(max(0, 18 - len(first_short))))
    return [_shuffled(rng, t) for t in tapes]


def count_dfa(p: Params, colours) -> DFA:
    need = [(c, m) for c, m in p["counts"]]

    def step(counts: tuple[int, ...], colour: str) -> tuple[int, ...]:
        return tuple(min(n + (c == colour), m) for n, (c, m) in zip(counts, need, strict=True))

    def enough(counts: tuple[int, ...]) -> bool:
        return all(n == m for n, (_, m) in zip(counts, need, strict=True))

    return build_dfa(tuple(0 for _ in need), step, enough, colours)


def _count_solution(p: Params, colours) -> str:
    return dfa_program(
        count_dfa(p, colours), f"{_count_title(p)}: one counter per colour, capped at its minimum."
    )


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


def _spread(s: str, gap) -> str:
    """`s` with `gap()` after every colour but the last."""
    return "".join(c + gap() for c in s[:-1]) + s[-1:]


def _ordered_extra(p: Params, colours, rng) -> list[str]:
    """Spec A.2.2b's fifteen kinds (`p + ... + p` pads both sides with one draw)."""
    s, n = p["sequence"], len(p["sequence"])
    rand = lambda k: random_tape(rng, colours, k)  # noqa: E731
    others = tuple(c for c in colours if c not in s)
    tapes = [s]
    if n >= 2:
        tapes += [s[: i + 1] + rand(1) + s[i + 1 :] for i in range(n - 1)]  # one colour inserted
        tapes.append(_spread(s, lambda: rand(1)))
    tapes += [s + rand(3), rand(6) + s]
    if n >= 2:
        tapes.append(
            rand(rng.randint(2, 4)) + _spread(s, lambda: rand(rng.randint(1, 3))) + rand(rng.randint(2, 4))
        )
        tapes.append(s[: n // 2] + rand(1) + s[n // 2 :] + rand(2) + s)
        tapes += [s[1:], s[:-1]]  # one colour short
    if n >= 3:
        tapes.append(s[: n // 2] + s[n // 2 + 1 :])  # the middle colour missing
    if n >= 2:
        pad = rand(rng.randint(2, 5))
        tapes.append(pad + s[::-1] + pad)  # reversed
    if n >= 3:
        pad = rand(3)
        tapes.append(pad + s[-1] + s[:-1] + pad)  # rotated
        pad = rand(9)
        tapes.append(pad + s[:-2] + s[-1] + pad)  # the second-to-last colour missing
    if others:
        tapes.append(random_tape(rng, others, 12))
    if n >= 3:
        pad = rand(18)
        tapes.append(pad + s[: n // 2] + s[n // 2 + 1 :] + pad)  # long, the middle colour missing
    return tapes


def ordered_dfa(p: Params, colours) -> DFA:
    s = p["sequence"]
    return build_dfa(0, lambda k, c: k if k == len(s) else k + (c == s[k]), lambda k: k == len(s), colours)


def _ordered_solution(p: Params, colours) -> str:
    s = p["sequence"]
    return dfa_program(
        ordered_dfa(p, colours), f"Subsequence {s}: qK = first K colours of {s} found, in order."
    )


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
    """Spec A.2.2b's fifteen kinds: padded occurrences on both sides, then near misses padded the
    same way (`p + ... + p` pads both sides with one draw)."""
    s, n = p["sequence"], len(p["sequence"])
    rand = lambda k: random_tape(rng, colours, k)  # noqa: E731
    others = tuple(c for c in colours if c not in s)
    tapes = [
        s,
        s + rand(3),
        rand(6) + s,
        rand(rng.randint(1, 3)) + s + rand(rng.randint(1, 3)),
        s + rand(rng.randint(1, 3)) + s,
        rand(rng.randint(3, 5)) + s + rand(rng.randint(3, 5)),
    ]
    if n >= 2 and len(set(s)) < n:
        tapes.append(s + s[1:])
    if n >= 2:
        tapes.append(_spread(s, lambda: rand(1)))  # as a subsequence only
        for i in range(1, n):
            pad = rand(rng.randint(3, 6))
            tapes.append(pad + s[:i] + pad)  # a proper prefix
        pad = rand(rng.randint(2, 4))
        tapes.append(pad + s[::-1] + pad)
    if n >= 3:
        t = s[::-1]
        if t == s:
            t = t[1] + t[0] + t[2:]
        pad = rand(3)
        tapes.append(pad + t + pad)
        tapes.append(s[: n // 2] + rand(1) + s[n // 2 :])
    if others:
        tapes.append(random_tape(rng, others, 12))
    if n >= 2:
        cut = rng.randint(1, n - 1)
        pad = rand(3)
        tapes.append(pad + s[:cut] + rand(1) + s[cut:] + pad)
        tapes.append(rand(2) + _spread(s, lambda: rand(1)) + rand(2))
    return tapes


def substring_dfa(p: Params, colours) -> DFA:
    s = p["sequence"]
    return build_dfa(0, lambda k, c: k if k == len(s) else kmp_step(s, k, c), lambda k: k == len(s), colours)


def _substring_solution(p: Params, colours) -> str:
    s = p["sequence"]
    return dfa_program(
        substring_dfa(p, colours), f"Contains {s}: KMP automaton, qK = longest prefix of {s} just read."
    )


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
    """Spec A.2.2b's eleven kinds (o0, o1: the first and second other colour)."""
    f = p["colour"]
    others = tuple(x for x in colours if x != f)
    o0, o1 = others[0], others[1] if len(others) > 1 else others[0]
    rand = lambda n: random_tape(rng, others, n)  # noqa: E731
    tapes = [o0, o0 + o0, f, rand(12)]
    if len(others) >= 2:
        tapes.append(rand(15))
    tapes += [o0 * 4 + o1 * 6, f + rand(9), rand(8) + f, rand(3) + f + rand(6)]
    where = set(rng.sample(range(12), 3))
    tapes.append("".join(f if i in where else rand(1) for i in range(12)))
    tapes.append(f * 9)
    return tapes


def not_contains_dfa(p: Params, colours) -> DFA:
    c = p["colour"]
    return build_dfa(0, lambda state, colour: None if colour == c else 0, lambda state: True, colours)


def _not_contains_solution(p: Params, colours) -> str:
    c = p["colour"]
    return dfa_program(not_contains_dfa(p, colours), f"No {c}: read to the end; a {c} rejects.")


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
