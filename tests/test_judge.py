"""The judge returns the reference's /test_solution JSON; request errors name their field."""

import json
import subprocess
import sys

import pytest

from delta_core.judge import JudgeLimits, RequestError, judge, judge_many, judge_request, outputs_match

APPEND_B = "START start:\n    NEXT p\nPAINTER_BLUE p:\n    NEXT end\nEND end"
RESULT_KEYS = [
    "input", "expected_output", "actual_output", "expected_accepted", "actual_accepted",
    "check_output", "passed", "path", "rejection_reason", "description",
]


def test_valid_response_has_every_field_in_order():
    response = judge(APPEND_B, [{"input": "R", "expected_output": "RB", "description": "append"}])
    assert list(response) == ["valid", "all_passed", "results"]
    assert response["valid"] and response["all_passed"]
    result = response["results"][0]
    assert list(result) == RESULT_KEYS
    assert result == {
        "input": "R", "expected_output": "RB", "actual_output": "RB", "expected_accepted": True,
        "actual_accepted": True, "check_output": True, "passed": True, "path": ["start", "p", "end"],
        "rejection_reason": None, "description": "append",
    }


def test_parse_error_response():
    response = judge("START start\n    NEXT end\nEND end", [{"input": "R"}])
    assert response == {
        "valid": False, "all_passed": False,
        "message": "DSL Parse Error: Line 1: START nodes must have a colon (hint: write 'START start:')",
        "results": [],
    }


def test_request_defaults_are_the_reference_api_defaults():
    # expected_output "", expected_accepted True, check_output True: APPEND_B outputs "RB" != "" -> fail.
    result = judge(APPEND_B, [{"input": "R"}])["results"][0]
    assert (result["expected_output"], result["expected_accepted"], result["check_output"]) == ("", True, True)
    assert result["passed"] is False


def test_empty_test_list_passes_like_all_of_nothing():
    assert judge(APPEND_B, []) == {"valid": True, "all_passed": True, "results": []}


@pytest.mark.parametrize(
    "expected, actual, match",
    [
        ("RB", "RB", True),
        ("RB+", "RBBB", True),  # '+' switches to regex mode
        ("R.", "RB", True),
        ("R(B|Y)", "RY", True),
        ("R[B]", "RB", False),  # [ ] alone: exact equality
        ("R{1}", "R", False),  # { } alone: exact equality
        ("^RB$", "RB", False),
        ("R(B", "R(B", True),  # invalid regex: exact equality
        ("RB*", "RBX", False),  # fullmatch, not a prefix match
    ],
)
def test_regex_mode_only_when_special_characters_appear(expected, actual, match):
    assert outputs_match(expected, actual) is match


def test_expected_rejection_with_output_check_passes_when_rejected_or_output_differs():
    reject_all = "START start:\n    NEXT NONE\nEND end"
    case = {"input": "R", "expected_output": "RB", "expected_accepted": False, "check_output": True}
    assert judge(reject_all, [case])["results"][0]["passed"]  # rejected
    assert judge(APPEND_B, [dict(case, expected_output="RR")])["results"][0]["passed"]  # output differs
    assert not judge(APPEND_B, [case])["results"][0]["passed"]  # accepted with the right output


def test_acceptor_tests_ignore_the_output():
    case = {"input": "R", "expected_output": "zzz", "expected_accepted": True, "check_output": False}
    assert judge(APPEND_B, [case])["all_passed"]


@pytest.mark.parametrize(
    "tests, field",
    [
        ([{"expected_output": "R"}], "test_cases[0].input: field required"),
        ([{"input": 5}], "test_cases[0].input: expected a string"),
        ([{"input": "R"}, {"input": "R", "expected_accepted": "maybe"}], "test_cases[1].expected_accepted"),
        ([{"input": "R", "check_output": None}], "test_cases[0].check_output"),
        (["R"], "test_cases[0]: expected an object"),
        ("R", "test_cases: expected a list"),
    ],
)
def test_malformed_requests_name_the_field(tests, field):
    with pytest.raises(RequestError, match=field.replace("[", r"\[").replace("]", r"\]")):
        judge(APPEND_B, tests)


def test_lax_booleans_like_pydantic():
    result = judge(APPEND_B, [{"input": "R", "check_output": "false", "expected_accepted": 1}])
    assert result["results"][0]["check_output"] is False and result["all_passed"]


def test_limits_refuse_huge_inputs_with_a_clear_message():
    limits = JudgeLimits(max_tape_chars=10, max_tests=2, max_program_chars=200)
    with pytest.raises(RequestError, match=r"test_cases\[0\].input: 11 characters; the limit is 10"):
        judge(APPEND_B, [{"input": "R" * 11}], limits=limits)
    with pytest.raises(RequestError, match="3 tests; the limit is 2"):
        judge(APPEND_B, [{"input": "R"}] * 3, limits=limits)
    with pytest.raises(RequestError, match="dsl: 201 characters"):
        judge("#" * 201, [], limits=limits)
    with pytest.raises(ValueError, match="max_tests=0"):
        JudgeLimits(max_tests=0)


def test_judge_request_checks_the_body():
    body = {"dsl": APPEND_B, "test_cases": [{"input": "", "expected_output": "B"}], "max_execution_time": 1.0}
    assert judge_request(body)["all_passed"]
    with pytest.raises(RequestError, match="dsl: field required"):
        judge_request({"test_cases": []})
    with pytest.raises(RequestError, match="max_execution_time"):
        judge_request(dict(body, max_execution_time="soon"))


def test_literal_and_fast_engines_agree_on_a_request():
    tests = [{"input": t, "expected_output": t + "B"} for t in ["", "R", "RBYG", "x"]]
    assert judge(APPEND_B, tests) == judge(APPEND_B, tests, engine="literal")


def test_judge_many_keeps_order_and_isolates_bad_requests():
    requests = [(APPEND_B, [{"input": "R" * i, "expected_output": "R" * i + "B"}]) for i in range(40)]
    requests[7] = (APPEND_B, [{"nope": 1}])
    out = judge_many(requests, workers=2, chunksize=4)
    assert len(out) == 40 and all(r["all_passed"] for i, r in enumerate(out) if i != 7)
    assert out[7]["valid"] is False and out[7]["message"].startswith("Request error: test_cases[0].input")
    assert out[3]["results"][0]["input"] == "RRR"


def run_cli(*args, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "delta_core.judge", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_cli_reads_stdin_and_files(tmp_path):
    body = {"dsl": APPEND_B, "test_cases": [{"input": "R", "expected_output": "RB"}]}
    out = run_cli(stdin=json.dumps(body))
    assert out.returncode == 0 and json.loads(out.stdout)["all_passed"] is True
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    assert json.loads(run_cli(str(path)).stdout) == json.loads(out.stdout)


def test_cli_reports_bad_input_without_a_traceback():
    bad_json = run_cli(stdin="{not json")
    assert bad_json.returncode == 2 and "invalid JSON at line 1" in bad_json.stdout
    assert "Traceback" not in bad_json.stderr
    missing = run_cli(stdin=json.dumps({"dsl": APPEND_B}))
    assert missing.returncode == 2 and json.loads(missing.stdout) == {"detail": "test_cases: field required"}
    no_file = run_cli("/nonexistent/request.json")
    assert no_file.returncode == 2 and "cannot read" in no_file.stderr


# --- survivors of the hand mutation run (issue 22): expected values written from the spec ----------

_ACCEPT_ALL = "START start:\n    NEXT end\nEND end"  # accepts every tape, leaves it unchanged


def test_all_passed_is_false_when_an_early_case_fails_and_the_last_passes():
    # spec A.1: all_passed = all(result.passed); here the first case fails and the last passes
    tests = [
        {"input": "B", "expected_accepted": False, "check_output": False},  # accepted: fails
        {"input": "R", "expected_accepted": True, "check_output": False},  # accepted: passes
    ]
    r = judge(_ACCEPT_ALL, tests)
    assert [x["passed"] for x in r["results"]] == [False, True]
    assert r["all_passed"] is False
    # a middle failure too
    r = judge(_ACCEPT_ALL, [tests[1], tests[0], tests[1]])
    assert [x["passed"] for x in r["results"]] == [True, False, True] and r["all_passed"] is False


def test_pipe_alone_switches_output_comparison_to_regex_mode():
    # spec A.1: an expected output containing any of . + * ? | ( ) is a regex (re.fullmatch)
    assert outputs_match("R|B", "B") is True
    assert outputs_match("R|B", "R") is True
    assert outputs_match("R|B", "R|B") is False  # as a regex, "R|B" does not match the literal text
    assert outputs_match("R|B", "RB") is False
    r = judge(_ACCEPT_ALL, [{"input": "B", "expected_output": "R|B"}, {"input": "RB", "expected_output": "R|B"}])
    assert [x["passed"] for x in r["results"]] == [True, False]


# --- the slow (full) request check and the limits at their boundaries: survivors of benchmarks/mutation.py --


def test_lax_booleans_and_defaults_on_the_full_check_path():
    # one case with a string boolean sends the whole request through the full check (pydantic's lax bools)
    tests = [
        {"input": "R", "expected_accepted": "yes", "check_output": "false"},
        {"input": "R"},  # defaults: expected_accepted True, check_output True, expected_output ""
        {"input": "B", "expected_accepted": True, "check_output": False},  # real bools on this path too
        {"input": "R", "expected_accepted": 0, "check_output": 1},
        {"input": "R", "expected_accepted": 1, "check_output": 0},
    ]
    r = judge(_ACCEPT_ALL, tests)
    got = [(x["expected_accepted"], x["check_output"], x["passed"]) for x in r["results"]]
    assert got == [(True, False, True), (True, True, False), (True, False, True), (False, True, True),
                   (True, False, True)]
    assert [type(x["expected_accepted"]) for x in r["results"]] == [bool] * 5


@pytest.mark.parametrize("field, value", [
    ("expected_accepted", 2), ("expected_accepted", "maybe"), ("check_output", -1), ("expected_output", 5),
    ("description", 5), ("input", None),
])
def test_a_field_of_the_wrong_type_is_a_request_error(field, value):
    case = {"input": "R", field: value}
    with pytest.raises(RequestError, match=rf"test_cases\[0\]\.{field}"):
        judge(_ACCEPT_ALL, [case])


def test_max_tests_is_inclusive():
    limits = JudgeLimits(max_tests=2)
    assert len(judge(_ACCEPT_ALL, [{"input": "R"}] * 2, limits=limits)["results"]) == 2
    with pytest.raises(RequestError, match="3 tests; the limit is 2"):
        judge(_ACCEPT_ALL, [{"input": "R"}] * 3, limits=limits)


def test_judge_many_turns_a_bad_request_into_an_invalid_response():
    good = (_ACCEPT_ALL, [{"input": "R", "expected_output": "R"}])
    bad = (_ACCEPT_ALL, [{"expected_output": "R"}])  # no input
    out = judge_many([good, bad, good], workers=1)
    assert out[0]["all_passed"] is True and out[2] == out[0]
    assert out[1] == {"valid": False, "all_passed": False, "results": [],
                      "message": "Request error: test_cases[0].input: field required"}
