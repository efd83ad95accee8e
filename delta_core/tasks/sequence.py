"""Sequence families (spec A.2.2, items 1-5): starts_with, ends_with, exact_sequence (acceptors),
append_sequence and prepend_sequence (transducers).

Solutions: the acceptors are DFAs (prefix matcher, KMP suffix automaton, exact matcher); append paints
the sequence (a painter adds at the end of the tape, so nothing has to be walked); prepend marks the
end of the input, paints the prefix, then rewrites the input colour by colour behind it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from typing import Any

from .base import Family, Params, random_tape, register
from .programs import DFA, DSLWriter, Rewriter, build_dfa, dfa_program, rewrite_program

__all__ = [
    "sequences",
    "kmp_step",
    "starts_dfa",
    "ends_dfa",
    "exact_dfa",
    "STARTS_WITH",
    "ENDS_WITH",
    "EXACT_SEQUENCE",
    "APPEND_SEQUENCE",
    "PREPEND_SEQUENCE",
]


def sequences(lengths: tuple[int, int], colours: tuple[str, ...]) -> list[str]:
    """Every sequence with length in `lengths` (inclusive), by length, then product order."""
    lo, hi = lengths
    return ["".join(p) for n in range(lo, hi + 1) for p in itertools.product(colours, repeat=n)]


def _sequence_space(settings: Mapping[str, Any], colours: tuple[str, ...]) -> list[Params]:
    return [{"sequence": s} for s in sequences(tuple(settings["sequence_lengths"]), colours)]


def _other(rng: random.Random, colours: tuple[str, ...], colour: str) -> str:
    return rng.choice([c for c in colours if c != colour])


def _changed_at(rng: random.Random, colours: tuple[str, ...], s: str, i: int) -> str:
    return s[:i] + _other(rng, colours, s[i]) + s[i + 1 :]


def kmp_step(s: str, matched: int, colour: str) -> int:
    """Length of the longest prefix of `s` that ends the text `s[:matched] + colour`."""
    text = s[:matched] + colour
    for k in range(min(len(s), len(text)), 0, -1):
        if text.endswith(s[:k]):
            return k
    return 0


# --- starts_with -------------------------------------------------------------------------------


def _starts_extra(p: Params, colours, rng) -> list[str]:
    s = p["sequence"]
    rand = lambda n: random_tape(rng, colours, n)  # noqa: E731
    other_first = next(c for c in colours if c != s[0])
    extra = [s, s + colours[0], other_first + s, s + rand(12), s * 3 + rand(3)]
    if len(s) > 1:
        extra.append(_changed_at(rng, colours, s, 0) + rand(6))
    extra.append(random_tape(rng, tuple(c for c in colours if c != s[0]), 12))
    return extra


def starts_dfa(p: Params, colours) -> DFA:
    s = p["sequence"]
    return build_dfa(
        0, lambda k, c: k if k == len(s) else (k + 1 if c == s[k] else None), lambda k: k == len(s), colours
    )


def _starts_solution(p: Params, colours) -> str:
    s = p["sequence"]
    return dfa_program(
        starts_dfa(p, colours), f"Accept tapes starting with {s}: state qK = first K colours matched."
    )


STARTS_WITH = register(
    Family(
        name="starts_with",
        difficulty="basic",
        kind="acceptor",
        space=_sequence_space,
        criteria=lambda p: f"Accept if the tape starts with {p['sequence']}; reject otherwise.",
        title=lambda p: f"Starts with {p['sequence']}",
        accepts=lambda p, tape: tape.startswith(p["sequence"]),
        extra_inputs=_starts_extra,
        solution=_starts_solution,
        rb_only_in_two_colour=True,
    )
)


# --- ends_with ---------------------------------------------------------------------------------


def _ends_extra(p: Params, colours, rng) -> list[str]:
    s = p["sequence"]
    rand = lambda n: random_tape(rng, colours, n)  # noqa: E731
    extra = [
        s,
        colours[0] + s,
        s + colours[0],
        rand(9) + s,
        rand(15) + s,
        s * 3 + rand(3) + s,
        s + rand(6),
        rand(3) + s + rand(6),
        rand(6) + s[:-1],
        rand(5) + _changed_at(rng, colours, s, len(s) - 1),
    ]
    absent = tuple(c for c in colours if c not in s)
    if absent:
        extra.append(random_tape(rng, absent, 12))
    return extra


def ends_dfa(p: Params, colours) -> DFA:
    s = p["sequence"]
    return build_dfa(0, lambda k, c: kmp_step(s, k, c), lambda k: k == len(s), colours)


def _ends_solution(p: Params, colours) -> str:
    s = p["sequence"]
    return dfa_program(
        ends_dfa(p, colours),
        f"Accept tapes ending with {s}: KMP automaton, qK = longest prefix of {s} just read.",
    )


ENDS_WITH = register(
    Family(
        name="ends_with",
        difficulty="medium",
        kind="acceptor",
        space=_sequence_space,
        criteria=lambda p: f"Accept if the tape ends with {p['sequence']}; reject otherwise.",
        title=lambda p: f"Ends with {p['sequence']}",
        accepts=lambda p, tape: tape.endswith(p["sequence"]),
        extra_inputs=_ends_extra,
        solution=_ends_solution,
        rb_only_in_two_colour=True,
    )
)


# --- exact_sequence ----------------------------------------------------------------------------


def _exact_extra(p: Params, colours, rng) -> list[str]:
    s = p["sequence"]
    rand = lambda n: random_tape(rng, colours, n)  # noqa: E731
    extra = [
        s,
        s[:-1],
        s + colours[0],
        _changed_at(rng, colours, s, 0),
        s + rand(9),
        rand(6) + s,
        rand(3) + s + rand(6),
    ]
    if len(s) >= 3:
        extra.append(_changed_at(rng, colours, s, len(s) // 2))
    extra += [rand(6), rand(12)]
    return extra


def exact_dfa(p: Params, colours) -> DFA:
    s = p["sequence"]
    return build_dfa(
        0, lambda k, c: k + 1 if k < len(s) and c == s[k] else None, lambda k: k == len(s), colours
    )


def _exact_solution(p: Params, colours) -> str:
    s = p["sequence"]
    return dfa_program(
        exact_dfa(p, colours),
        f"Accept exactly {s}: qK = first K colours matched; the tape must then be empty.",
    )


EXACT_SEQUENCE = register(
    Family(
        name="exact_sequence",
        difficulty="basic",
        kind="acceptor",
        space=_sequence_space,
        criteria=lambda p: f"Accept if the tape is exactly {p['sequence']}; reject otherwise.",
        title=lambda p: f"Exactly {p['sequence']}",
        accepts=lambda p, tape: tape == p["sequence"],
        extra_inputs=_exact_extra,
        solution=_exact_solution,
        rb_only_in_two_colour=True,
    )
)


# --- append_sequence ---------------------------------------------------------------------------


def _append_solution(p: Params, colours) -> str:
    out = DSLWriter(f"Append {p['sequence']}: painters add at the end of the tape, so just paint it.")
    out.start(out.paint_chain(p["sequence"], "paint", "end"))
    return out.text()


APPEND_SEQUENCE = register(
    Family(
        name="append_sequence",
        difficulty="basic",
        kind="transducer",
        space=_sequence_space,
        criteria=lambda p: (
            f"Accept any input and append the sequence '{p['sequence']}' to the end of the tape."
        ),
        title=lambda p: f"Append {p['sequence']}",
        transform=lambda p, tape: tape + p["sequence"],
        description=lambda p: (
            f"The machine should read any input sequence and append '{p['sequence']}' to the end."
        ),
        extra_inputs=lambda p, colours, rng: [
            "",
            colours[0],
            colours[0] + colours[1],
            *(random_tape(rng, colours, n) for n in (4, 8, 12, 15)),
        ],
        solution=_append_solution,
    )
)


# --- prepend_sequence --------------------------------------------------------------------------
# A mutation is {"kind": "keep"}, {"kind": "swap"} (R <-> B) or {"kind": "replace", "source": x,
# "target": y}, applied as Python's str.replace (left to right, non-overlapping).

KEEP = {"kind": "keep"}
SWAP = {"kind": "swap"}


def _replace(source: str, target: str) -> dict[str, str]:
    return {"kind": "replace", "source": source, "target": target}


# The reference's 19 medium-tier entries, duplicates included (B->R, B->B, R->R, R->B appear twice).
MEDIUM_MUTATIONS = [
    _replace("B", ""),
    _replace("R", ""),
    SWAP,
    *(_replace("B", x) for x in ("R", "B")),
    *(_replace("R", x) for x in ("R", "B")),
    *(_replace("B", x) for x in ("R", "B", "RR", "RB", "BR", "BB")),
    *(_replace("R", x) for x in ("R", "B", "RR", "RB", "BR", "BB")),
]
PAIRS = ("RR", "RB", "BR", "BB")
PATTERN_MUTATIONS = [_replace(src, tgt) for src in PAIRS for tgt in ("", "R", "B", *PAIRS) if tgt != src]


def _mutations(settings: Mapping[str, Any]) -> list[dict[str, str]]:
    if not settings.get("enable_mutations", True):
        return [KEEP]
    return PATTERN_MUTATIONS if settings.get("pattern_mutations", False) else MEDIUM_MUTATIONS


def _prepend_space(settings: Mapping[str, Any], colours) -> list[Params]:
    """Entry i pairs mutation i % M with prefix (i // M) % S, as the reference does: M x S entries."""
    mutations = _mutations(settings)
    prefixes = sequences(tuple(settings["sequence_lengths"]), colours)
    m = len(mutations)
    return [
        {"prefix": prefixes[(i // m) % len(prefixes)], "mutation": dict(mutations[i % m])}
        for i in range(m * len(prefixes))
    ]


def mutate(mutation: Mapping[str, str], tape: str) -> str:
    if mutation["kind"] == "keep":
        return tape
    if mutation["kind"] == "swap":
        return tape.translate(str.maketrans("RB", "BR"))
    return tape.replace(mutation["source"], mutation["target"])


def mutation_phrase(mutation: Mapping[str, str]) -> str | None:
    """The criteria phrase, or None for a mutation that changes nothing."""
    if mutation["kind"] == "keep":
        return None
    if mutation["kind"] == "swap":
        return "Swap color R&B"
    src, tgt = mutation["source"], mutation["target"]
    if src == tgt:
        return None
    if len(src) == 1:
        return f"Remove {src}" if not tgt else f"Change {src} to {tgt}"
    return f"Remove patterns {src}" if not tgt else f"Replace patterns {src} with {tgt}"


def _prepend_criteria(p: Params) -> str:
    phrase = mutation_phrase(p["mutation"])
    put = f"put '{p['prefix']}' at the beginning of the tape."
    return put[0].upper() + put[1:] if phrase is None else f"{phrase}, then {put}"


def _prepend_title(p: Params) -> str:
    phrase = mutation_phrase(p["mutation"])
    return f"Prepend {p['prefix']}" if phrase is None else f"{phrase}, prepend {p['prefix']}"


def _prepend_description(p: Params) -> str:
    phrase = mutation_phrase(p["mutation"])
    if phrase is None:
        return f"The machine should read any input sequence and put '{p['prefix']}' at its beginning."
    return (
        f"The machine should read any input sequence, apply '{phrase}' to it, "
        f"then put '{p['prefix']}' at its beginning."
    )


def _prepend_extra(p: Params, colours, rng) -> list[str]:
    c0, c1 = colours[0], colours[1]
    rand = lambda n: random_tape(rng, colours, n)  # noqa: E731
    return [
        "",
        c0,
        c1,
        c0 + c1,
        c1 + c0,
        c0 + c0,
        c1 + c1,
        rand(4),
        "BBB",
        "RRR",
        "BRBR",
        "RBRB",
        rand(8),
        rand(12),
    ]


def mutation_rewriter(mutation: Mapping[str, str]) -> Rewriter:
    """The mutation as a one-pass rewriter. A 2-colour pattern `ab` needs one colour of delay:
    state 1 means "an `a` was read and not painted yet"."""
    if mutation["kind"] == "keep":
        return Rewriter({(0, c): (0, c) for c in "RB"}, {0: ""})
    if mutation["kind"] == "swap":
        return Rewriter({(0, "R"): (0, "B"), (0, "B"): (0, "R")}, {0: ""})
    src, tgt = mutation["source"], mutation["target"]
    if len(src) == 1:
        return Rewriter({(0, c): (0, tgt if c == src else c) for c in "RB"}, {0: ""})
    a, b = src
    step = {}
    for c in "RB":
        step[(0, c)] = (1, "") if c == a else (0, c)
        # held `a`, then c: the pattern completes, or `a` is painted and c starts over
        step[(1, c)] = (0, tgt) if c == b else ((1, a) if c == a else (0, a + c))
    return Rewriter(step, {0: "", 1: a})


def _prepend_solution(p: Params, colours) -> str:
    if colours != ("R", "B"):
        raise ValueError("prepend_sequence solutions need a free marker colour: two-colour tapes only")
    phrase = mutation_phrase(p["mutation"]) or "keep the input"
    return rewrite_program(
        mutation_rewriter(p["mutation"]),
        p["prefix"],
        f"{phrase}, then put {p['prefix']} first. Mark the input's end with G, paint the prefix,\n"
        "then pull each input colour and paint its rewrite; pulling G means the input is used up.",
    )


PREPEND_SEQUENCE = register(
    Family(
        name="prepend_sequence",
        difficulty="basic",
        kind="transducer",
        space=_prepend_space,
        criteria=_prepend_criteria,
        title=_prepend_title,
        transform=lambda p, tape: p["prefix"] + mutate(p["mutation"], tape),
        description=_prepend_description,
        extra_inputs=_prepend_extra,
        solution=_prepend_solution,
    )
)
