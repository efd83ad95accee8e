"""Test-case construction shared by every family (spec A.2.1), with a seeded RNG.

Acceptors: a fixed list of candidate tapes plus the family's own, deduplicated, labelled by the
family's predicate, topped up with random tapes until there are 3 accepted and 3 rejected (50 tries
per top-up, so it can fall short), and cut to 35. Transducers: the same candidates, each expecting the
transformed tape; random tapes are added until there are 6, then cut to 35.

Two deliberate differences from the reference:

- the "corner" draws use the problem's seeded `random.Random` instead of numpy's unseeded global
  generator, so a problem can be regenerated;
- *near-miss tapes* (ours): after the cut, every standard near miss of the problem (`near_miss.py`:
  `(R)+(B)*` for `(R)+(B)?`, a count one lower, the subsequence for the substring, ...) must fail at
  least one test. For each one that passes them all, its shortest distinguishing tape is appended,
  labelled like any other. They fit in the 35 tests: acceptor lists stay at or under 32 before them,
  and where the cut binds (numerical_max_min) they replace the last cases, never each other.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from .base import Family, Params, TestCase, random_tape
from .near_miss import distinguishing_inputs

__all__ = ["CaseConfig", "DEFAULT_CASES", "candidate_inputs", "build_test_cases", "with_near_miss_tapes"]


@dataclass(frozen=True)
class CaseConfig:
    """The reference's defaults (spec A.2.1)."""

    max_test_cases: int = 35  # every problem is cut to this many tests
    min_accepted: int = 3  # acceptors are topped up to this many accepted tapes ...
    min_rejected: int = 3  # ... and this many rejected ones
    max_attempts: int = 50  # random tapes tried per top-up before giving up
    corner_draws: int = 5  # draws, with replacement, from "", single colours and 2-colour tapes
    min_transducer_cases: int = 6  # transducers get random tapes until they have this many
    random_length: tuple[int, int] = (1, 12)  # length range of a transducer's random tapes
    near_miss_tapes: bool = True  # ours: add the tapes that tell the near misses apart (False: the reference)


DEFAULT_CASES = CaseConfig()

# Always tried, in both colour modes, after the corner draws (the second "" is deduplicated away).
FIXED_INPUTS = ("RB", "BR", "RBR", "BRB", "RRB", "BBR", "")


def candidate_inputs(
    family: Family,
    params: Params,
    colours: tuple[str, ...],
    rng: random.Random,
    config: CaseConfig = DEFAULT_CASES,
) -> list[str]:
    """The deterministic candidates, then the family's own, deduplicated in order."""
    c0, c1 = colours[0], colours[1]
    corner_pool = ["", *colours, *("".join(p) for p in itertools.product(colours, repeat=2))]
    corners = [rng.choice(corner_pool) for _ in range(config.corner_draws)]
    inputs = ["", c0, c0 + c1, *corners, *FIXED_INPUTS, *family.extra_inputs(params, colours, rng)]
    return list(dict.fromkeys(inputs))


def build_test_cases(
    family: Family,
    params: Params,
    colours: tuple[str, ...],
    rng: random.Random,
    config: CaseConfig = DEFAULT_CASES,
) -> tuple[TestCase, ...]:
    inputs = candidate_inputs(family, params, colours, rng, config)
    if family.kind == "transducer":
        return _transducer_cases(family, params, colours, rng, inputs, config)
    return _acceptor_cases(family, params, colours, rng, inputs, config)


def _acceptor_cases(family, params, colours, rng, inputs, config) -> tuple[TestCase, ...]:
    labelled = {tape: family.accepts(params, tape) for tape in inputs}
    for wanted, minimum in ((True, config.min_accepted), (False, config.min_rejected)):
        for attempt in range(config.max_attempts):
            if sum(ok == wanted for ok in labelled.values()) >= minimum:
                break
            # The reference's length rule: short tapes first, one colour longer every 10 attempts.
            length = rng.randint(1, min(1 + (attempt // 10 + 1), config.random_length[1]))
            tape = random_tape(rng, colours, length)
            if tape not in labelled and family.accepts(params, tape) == wanted:
                labelled[tape] = wanted
    tapes = _cut(family, params, colours, list(labelled), config)
    return tuple(TestCase(tape, "", family.accepts(params, tape), False, "") for tape in tapes)


def _cut(family, params, colours, tapes: list[str], config: CaseConfig) -> list[str]:
    if config.near_miss_tapes:
        return with_near_miss_tapes(family, params, colours, tapes, config.max_test_cases)
    return tapes[: config.max_test_cases]


def with_near_miss_tapes(
    family: Family, params: Params, colours: tuple[str, ...], tapes: list[str], cap: int
) -> list[str]:
    """`tapes` cut to `cap`, plus the distinguishing tapes of the near misses they do not separate.
    Added tapes go last; if the total would pass `cap`, the last of the original tapes make room."""
    chosen = tapes[:cap]
    added: list[str] = []
    for _ in range(cap):
        more = distinguishing_inputs(family.name, params, colours, chosen)
        if not more:
            return chosen
        added += more
        if len(added) >= cap:
            raise ValueError(f"{family.name} {params}: too many near-miss tapes to fit in {cap} tests")
        chosen = [t for t in tapes if t not in added][: cap - len(added)] + added
    raise AssertionError("unreachable")


def _transducer_cases(family, params, colours, rng, inputs, config) -> tuple[TestCase, ...]:
    tapes = list(inputs)
    low, high = config.random_length
    while len(tapes) < config.min_transducer_cases:
        tape = random_tape(rng, colours, rng.randint(low, high))
        if tape not in tapes:
            tapes.append(tape)
    cases = []
    for tape in _cut(family, params, colours, tapes, config):
        output = family.transform(params, tape)
        cases.append(TestCase(tape, output, True, True, family.describe_case(params, tape, output)))
    return tuple(cases)
