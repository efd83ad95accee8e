"""Bad input never crashes or hangs: property-based tests and the 10k-program fuzz run."""

import sys
from pathlib import Path
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delta_core.dsl import MAX_PATH, DSLSyntaxError, parse_program, run_program
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the fuzzer is a test tool there
from fuzz import fuzz_judge, mutate_program, random_program  # noqa: E402
from delta_core.judge import RequestError, judge

TOKENS = ["START", "END", "PULLER_RB", "PULLER_YG", "PAINTER_RED", "PAINTER_BLUE", "start", "end", "p", "q",
          "NONE", "NEXT", "[R]", "[B]", "[Y]", "[G]", "[EMPTY]", ":", " ", "    ", "\t", "\n", "#", "```", "é"]
dsl_soup = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)
tapes = st.text(alphabet=st.sampled_from("RBYGRBRBx é"), max_size=40)
programs = st.integers(min_value=0, max_value=2**32).map(lambda seed: random_program(random.Random(seed)))


@given(st.one_of(st.text(max_size=300), dsl_soup))
def test_parser_either_parses_or_raises_a_line_numbered_syntax_error(text):
    try:
        program = parse_program(text)
    except DSLSyntaxError as err:
        assert err.line is None or str(err).startswith(f"Line {err.line}: ")
        return
    # Parsed: the spec's invariants of a valid program hold (a START `start`, an END `end`, every
    # route to a declared node or NONE/END, START with exactly one route).
    assert program.nodes["start"].type.value == "START" and program.nodes["end"].type.value == "END"
    assert len(program.nodes["start"].routes) == 1
    assert all(t in program.nodes or t in ("NONE", "END") for n in program.nodes.values() for _, t in n.routes)
    assert program.source == text


@given(programs, tapes, st.integers(min_value=1, max_value=MAX_PATH))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_runs_respect_the_path_limit_and_the_tape_bound(text, tape, max_path):
    result = run_program(parse_program(text), tape, max_path)
    assert 1 <= len(result.path) <= max_path
    # At most one colour painted per path entry after the first (START paints nothing).
    assert len(result.final_tape) <= len(tape) + max_path - 1
    assert result.finished == (result.rejection_reason is None)
    assert result.finished == (result.path[-1] == "end")


@given(st.integers(min_value=0, max_value=2**32), st.lists(tapes, max_size=5))
def test_judge_never_crashes_on_mutated_programs(seed, inputs):
    rng = random.Random(seed)
    text = mutate_program(random_program(rng), rng)
    response = judge(text, [{"input": t, "expected_output": t} for t in inputs])
    assert response["valid"] or response["message"].startswith("DSL Parse Error: ")
    assert len(response["results"]) == (len(inputs) if response["valid"] else 0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
test_case_like = st.dictionaries(
    st.sampled_from(["input", "expected_output", "expected_accepted", "check_output", "description", "x"]),
    json_values,
)


@given(st.one_of(json_values, st.lists(test_case_like, max_size=4)))
def test_judge_answers_malformed_test_cases_with_a_request_error(test_cases):
    try:
        response = judge("START start:\n    NEXT end\nEND end", test_cases)
    except RequestError as err:
        assert str(err).split(":")[0].startswith("test_cases")
        return
    # Accepted: only a list of objects, each with a string `input`; one result per case, in order.
    assert isinstance(test_cases, list)
    assert all(isinstance(c, dict) and isinstance(c["input"], str) for c in test_cases)
    assert response["valid"] is True and [r["input"] for r in response["results"]] == [c["input"] for c in test_cases]
    # the program accepts every tape unchanged: a case fails only when it expects a rejection or another output
    assert all(r["actual_accepted"] and r["actual_output"] == r["input"] for r in response["results"])


def test_ten_thousand_program_fuzz_run():
    report = fuzz_judge(10_000, seed=2026)
    assert report.ok, report.failures[:5]
    # The run must exercise all three outcomes, or it tests nothing.
    assert report.valid > 3000 and report.parse_errors > 3000 and report.looped > 500
