"""The records and the family description shared by every task generator, and the one registry.

A *family* (spec A.2.2) is a kind of puzzle (`starts_with`, `regex_pattern`, ...). A family knows how
to enumerate its parameter space for a level, how to phrase a problem, how to label a tape (the
predicate of an acceptor, the transform of a transducer), which extra test tapes to try, and how to
build a DSL program that solves the problem. `generate.py` turns a family plus a level into `Problem`s.

Adding a family: build a `Family` in a module of this package and call `register(family)` at import
time; `delta_core/tasks/__init__.py` imports the module. Its level table goes in `levels.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..dsl import NODE_TYPES, NodeType

__all__ = [
    "COLOUR_MODES",
    "ALL_NODES",
    "RB_ONLY_NODES",
    "Params",
    "TestCase",
    "Problem",
    "Family",
    "FAMILIES",
    "register",
    "random_tape",
]

# Colour modes (spec A.2.3): two-colour tapes use R and B only, four-colour tapes all four colours.
COLOUR_MODES: dict[str, tuple[str, ...]] = {
    "two_color": ("R", "B"),
    "four_color": ("R", "B", "Y", "G"),
}
TWO_COLOUR_SUFFIX = " The input tape carries only red/blue colors."

# Every node type, in the DSL's order (defined once, in dsl.py).
ALL_NODES: tuple[str, ...] = NODE_TYPES
# What two-colour starts_with / exact_sequence / ends_with list as available (never enforced).
RB_ONLY_NODES: tuple[str, ...] = tuple(t.value for t in (NodeType.START, NodeType.END, NodeType.PULLER_RB))

Params = dict[str, Any]  # one point of a family's parameter space; plain JSON values only


def random_tape(rng: random.Random, colours: tuple[str, ...], length: int) -> str:
    """`length` colours drawn uniformly, with replacement, from `colours`."""
    return "".join(rng.choice(colours) for _ in range(length))


@dataclass(frozen=True)
class TestCase:
    """One test in the judge's format (spec A.1 request JSON)."""

    __test__ = False  # not a pytest test class

    input: str
    expected_output: str = ""
    expected_accepted: bool = True
    check_output: bool = False
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "expected_output": self.expected_output,
            "expected_accepted": self.expected_accepted,
            "check_output": self.check_output,
            "description": self.description,
        }


@dataclass(frozen=True)
class Problem:
    """One generated puzzle, with the DSL program that solves it.

    `family` is the reference's `pattern_type`; `difficulty` is the family's intrinsic difficulty and
    `difficulty_level` the level it was generated at (spec A.2.4).
    """

    id: str
    index: int
    name: str
    family: str
    criteria: str
    description: str
    test_cases: tuple[TestCase, ...]
    solution: str
    difficulty: str
    difficulty_level: str
    color_mode: str
    params: Params = field(default_factory=dict)
    available_nodes: tuple[str, ...] = ALL_NODES

    def tests(self) -> list[dict[str, Any]]:
        """The test cases as judge dicts (`delta_core.judge.judge(problem.solution, problem.tests())`)."""
        return [case.to_dict() for case in self.test_cases]

    def to_record(self) -> dict[str, Any]:
        """The raw problem record of spec A.2.4, without the timestamps (which would break
        reproducibility) and with our extras `params` and `solution`."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "criteria": self.criteria,
            "available_nodes": list(self.available_nodes),
            "test_cases": self.tests(),
            "solutions": [],
            "difficulty": self.difficulty,
            "problem_type": self.family,
            "index": self.index,
            "color_mode": self.color_mode,
            "difficulty_level": self.difficulty_level,
            "pattern_type": self.family,
            "params": self.params,
            "solution": self.solution,
        }

    def to_hf_record(self) -> dict[str, Any]:
        """The HF-wrapped record of spec A.2.4 (one user turn holding the prompt), plus `solution`."""
        from .prompt import build_prompt  # prompt imports this module

        return {
            "messages": [{"content": build_prompt(self), "role": "user"}],
            "ground_truth": self.tests(),
            "dataset": "manufactoria",
            "difficulty": str(self.difficulty_level),
            "id": self.id,
            "problem_family": self.family,
            "name": self.name,
            "solution": self.solution,
        }


@dataclass(frozen=True)
class Family:
    """Everything `generate` needs to know about one family.

    Every callable takes the problem's `params` first; `colours` is the colour mode's tuple.
    Exactly one of `accepts` (acceptors) and `transform` (transducers) is set.
    """

    name: str  # the reference's pattern_type, e.g. "starts_with"
    difficulty: str  # intrinsic difficulty stored in every record (spec A.2.2)
    kind: str  # "acceptor" or "transducer"
    # (level settings from levels.py, colours) -> the full parameter space, in its fixed order
    space: Callable[[Mapping[str, Any], tuple[str, ...]], list[Params]]
    criteria: Callable[[Params], str]  # the task sentence, before the two-colour suffix
    title: Callable[[Params], str]  # the record's `name`
    # (params, colours, rng) -> family-specific test inputs, added after the shared ones (spec A.2.1)
    extra_inputs: Callable[[Params, tuple[str, ...], random.Random], list[str]]
    # (params, colours) -> DSL text that passes every test of the problem
    solution: Callable[[Params, tuple[str, ...]], str]
    accepts: Callable[[Params, str], bool] | None = None
    transform: Callable[[Params, str], str] | None = None
    # transducers only: the record's `description`, and the text of each test
    description: Callable[[Params], str] | None = None
    case_description: Callable[[Params, str, str], str] | None = None
    # two-colour problems of this family list only START, END, PULLER_RB as available
    rb_only_in_two_colour: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("acceptor", "transducer"):
            raise ValueError(f"Family {self.name!r}: kind={self.kind!r}; use 'acceptor' or 'transducer'")
        if self.kind == "acceptor" and (self.accepts is None or self.transform is not None):
            raise ValueError(f"Family {self.name!r}: an acceptor needs `accepts` and no `transform`")
        if self.kind == "transducer" and (self.transform is None or self.accepts is not None):
            raise ValueError(f"Family {self.name!r}: a transducer needs `transform` and no `accepts`")

    def available_nodes(self, colour_mode: str) -> tuple[str, ...]:
        return RB_ONLY_NODES if self.rb_only_in_two_colour and colour_mode == "two_color" else ALL_NODES

    def describe_case(self, params: Params, tape: str, output: str) -> str:
        if self.case_description is not None:
            return self.case_description(params, tape, output)
        return f"Input '{tape}' should output '{output}'"


# The one registry: family name -> Family, filled by the family modules at import time.
FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.name in FAMILIES:
        raise ValueError(f"Family {family.name!r} is registered twice")
    FAMILIES[family.name] = family
    return family
