"""The numerical families (delta_core/tasks/numeric.py, spec A.2.2 items 9-11).

Every level and colour mode of the level table is generated in full and every problem's solution is
judged on its own tests (one `judge` call per problem, so each ~200 KB arithmetic program is parsed
once). Then spot checks of the wording, the parameter order, the sizes and the semantics.
"""

from __future__ import annotations

import random

import pytest

from delta_core.judge import judge, judge_many
from delta_core.tasks import FAMILIES, LEVELS, generate, parameter_space
from delta_core.tasks.base import TWO_COLOUR_SUFFIX
from delta_core.tasks.cases import build_test_cases
from delta_core.tasks.levels import OPERAND_VALUES
from delta_core.tasks.numeric import FIXED_LONG
from delta_core.tasks.numeric_solutions import canonical, tape_value

NUMERIC = ("numerical_comparison", "numerical_max_min", "numerical_operations")
LEVEL_MODES = [(f, lev, mode) for f in NUMERIC for lev, L in LEVELS[f].items() for mode in L.colour_modes]


@pytest.mark.parametrize("family,level,mode", LEVEL_MODES, ids=["-".join(x) for x in LEVEL_MODES])
def test_every_problem_of_every_level_is_solved(family, level, mode):
    problems = generate(family, level, mode, n=None, seed=0)
    assert problems
    results = judge_many([(p.solution, p.tests()) for p in problems])
    failed = [(p.name, r.get("message")) for p, r in zip(problems, results) if not r["all_passed"]]
    assert not failed, failed[:5]
    for p in problems:
        assert 6 <= len(p.test_cases) <= 35
        assert p.criteria.endswith(TWO_COLOUR_SUFFIX) == (mode == "two_color")


@pytest.mark.parametrize(
    "family,level,size",
    [
        ("numerical_comparison", "easy", 315),
        ("numerical_comparison", "medium", 315),
        ("numerical_comparison", "hard", 1280),
        ("numerical_max_min", "medium", 512),
        ("numerical_operations", "easy", 7),
        ("numerical_operations", "medium", 21),
        ("numerical_operations", "hard", 14),
    ],
)
def test_level_sizes(family, level, size):
    assert len(parameter_space(family, level, "two_color")) == size
    assert LEVELS[family][level].colour_modes == ("two_color",)


def test_comparison_order_wording_and_tests():
    space = parameter_space("numerical_comparison", "easy", "two_color")
    # operator outer, in the order > >= < <= =; thresholds ascending
    assert [p["operator"] for p in space[::63]] == [">", ">=", "<", "<=", "="]
    assert [p["threshold"] for p in space[:3]] == [1, 2, 3] and space[62]["threshold"] == 63
    p = generate("numerical_comparison", "easy", "two_color", n=6)[5]
    assert p.criteria == (
        "Treat Blue as 1 and Red as 0. Accept if the binary number is greater than 6; reject otherwise."
        " The input tape carries only red/blue colors."
    )
    assert p.name == "Binary Greater Than 6" and p.difficulty == "hard" and p.difficulty_level == "easy"
    assert p.description == ""
    words = {q.params["operator"]: q.criteria for q in generate("numerical_comparison", "easy", "two_color")}
    assert "greater than or equal to" in words[">="] and "less than or equal to" in words["<="]
    assert "is less than " in words["<"] and "is equal to " in words["="]
    inputs = [c.input for c in p.test_cases]
    for v in (6, 5, 7, 4, 8, 12, 24, 56, 106):  # k, k±1, k±2, 2k, 4k, k+50, k+100
        assert canonical(v) in inputs
    for case in p.test_cases:
        assert case.expected_accepted == (tape_value(case.input) > 6)
        assert case.check_output is False and case.expected_output == ""


def test_comparison_tests_cover_leading_r_and_the_fixed_strings_for_large_thresholds():
    p = generate("numerical_comparison", "medium", "two_color", n=1)[0]  # > 64
    inputs = [c.input for c in p.test_cases]
    assert any(len(t) > 1 and t[0] == "R" for t in inputs)
    assert set(FIXED_LONG) <= set(inputs)  # the reference's eight fixed strings (k >= 8), up to 9 long
    assert max(len(t) for t in inputs) == 9
    assert 1 <= sum(c.expected_accepted for c in p.test_cases) < len(p.test_cases)


def test_max_min_wording_outputs_and_descriptions():
    problems = generate("numerical_max_min", "medium", "two_color")
    assert [p.params for p in problems[:2]] == [
        {"operation": "max", "operand": 1},
        {"operation": "max", "operand": 2},
    ]
    assert problems[256].params == {"operation": "min", "operand": 1}
    p = problems[5]  # max of 6
    assert p.criteria == (
        "Treat Blue as 1 and Red as 0. Output the maximum of 6 and input."
        " The input tape carries only red/blue colors."
    )
    minimum = problems[256 + 5].criteria
    assert minimum.startswith("Treat Blue as 1 and Red as 0. Output the minimum of 6 and input.")
    assert p.difficulty == "easy" and "maximum of it and 6" in p.description
    for case in p.test_cases:
        assert case.check_output and case.expected_accepted
        assert case.expected_output == canonical(max(tape_value(case.input), 6))
        assert not case.expected_output.startswith("R")
        assert case.description.startswith(f"Input '{case.input}' ({tape_value(case.input)}) should output")


def test_operations_wording_per_level():
    easy = generate("numerical_operations", "easy", "two_color")
    assert [p.params["operand"] for p in easy] == list(range(1, 8))
    assert "Apply floor division by 2^3 to the binary number and output the result." in easy[2].criteria
    medium = generate("numerical_operations", "medium", "two_color")
    assert [p.params["operation"] for p in medium[::7]] == ["and", "or", "xor"]
    assert "Apply bitwise AND with 1 to" in medium[0].criteria
    assert "Apply bitwise XOR with 64 to" in medium[20].criteria
    hard = generate("numerical_operations", "hard", "two_color")
    assert "Apply add 1 to" in hard[0].criteria and "Apply subtract 64 to" in hard[13].criteria
    assert hard[0].criteria.endswith(
        "If the result is zero or negative, output an empty tape. If the result is positive, output the "
        "binary representation (which will start with B). The input tape carries only red/blue colors."
    )
    assert all(p.difficulty == "medium" for p in easy + medium + hard)


def test_subtract_floors_at_empty_and_values_in_descriptions():
    p = generate("numerical_operations", "hard", "two_color")[13]  # subtract 64
    by_input = {c.input: c for c in p.test_cases}
    assert by_input["BRB"].expected_output == ""  # 5 - 64 <= 0
    assert by_input["BRRRRRRR"].expected_output == "BRRRRRR"  # 128 - 64 = 64
    assert by_input["BRB"].description == "Input 'BRB' (5) should output '' (0)"


def test_default_operations_space_has_83_problems_and_not_works():
    """The reference's default config: 2 arithmetic x 15 + 3 bitwise x 15 + NOT + 7 floor_div = 83."""
    fam = FAMILIES["numerical_operations"]
    settings = {
        "arithmetic_operations": ("add", "subtract"),
        "bitwise_operations": ("and", "or", "xor", "not"),
        "shift_operations": ("floor_div",),
        "operand_values": OPERAND_VALUES,
        "max_shift_power": 7,
    }
    space = fam.space(settings, ("R", "B"))
    assert len(space) == 83
    params = next(p for p in space if p["operation"] == "not")
    assert fam.criteria(params).startswith("Treat Blue as 1 and Red as 0. Apply bitwise NOT to")
    cases = build_test_cases(fam, params, ("R", "B"), random.Random(0))
    by_input = {c.input: c.expected_output for c in cases}
    assert by_input[""] == "BBBBBBBB"  # NOT 0 within 8 bits
    assert by_input["B"] == "BBBBBBBR"  # 1 -> 0b11111110
    long = next(t for t in by_input if len(t) > 8 and t[0] == "B")
    x = tape_value(long)
    assert by_input[long] == canonical(x ^ ((1 << x.bit_length()) - 1))
    assert judge(fam.solution(params, ("R", "B")), [c.to_dict() for c in cases])["all_passed"]
    # operands above 128 are dropped
    assert all(p["operand"] is None or p["operand"] <= 128 for p in space)


def test_generation_is_reproducible():
    a = generate("numerical_max_min", "medium", "two_color", n=3, seed=7)
    b = generate("numerical_max_min", "medium", "two_color", n=3, seed=7)
    assert a == b
    assert generate("numerical_max_min", "medium", "two_color", n=3, seed=8)[0].id != a[0].id
