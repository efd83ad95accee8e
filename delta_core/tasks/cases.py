"""Test-case construction shared by every family (spec A.2.1), with a seeded RNG.

Acceptors: a fixed list of candidate tapes plus the family's own, deduplicated, labelled by the
family's predicate, topped up with random tapes until there are 3 accepted and 3 rejected (50 tries
per top-up, so it can fall short), and cut to 35. Transducers: the same candidates, each expecting the
transformed tape; random tapes are added until there are 6, then cut to 35.

The one deliberate difference from the reference: the "corner" draws use the problem's seeded
`random.Random` instead of numpy's unseeded global generator, so a problem can be regenerated.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from .base import Family, Params, TestCase, random_tape

__all__ = ["CaseConfig", "DEFAULT_CASES", "candidate_inputs", "build_test_cases"]


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
    cases = [TestCase(tape, "", ok, False, "") for tape, ok in labelled.items()]
    return tuple(cases[: config.max_test_cases])


def _transducer_cases(family, params, colours, rng, inputs, config) -> tuple[TestCase, ...]:
    tapes = list(inputs)
    low, high = config.random_length
    while len(tapes) < config.min_transducer_cases:
        tape = random_tape(rng, colours, rng.randint(low, high))
        if tape not in tapes:
            tapes.append(tape)
    cases = []
    for tape in tapes[: config.max_test_cases]:
        output = family.transform(params, tape)
        cases.append(TestCase(tape, output, True, True, family.describe_case(params, tape, output)))
    return tuple(cases)
