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
