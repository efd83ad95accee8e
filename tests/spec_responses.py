"""Judge responses written by hand from spec A.1 (not computed by `judge`), shared by the service and Ray
tests: each backend must answer exactly these."""

# An accepted tape with its output checked,
# an expected rejection the robot does not give, a parse error, and the 1000-entry path limit.
_LOOP = "START start:\n    NEXT paint\nPAINTER_BLUE paint:\n    NEXT paint\nEND end"


def _result(tape, expected_output, expected_accepted, check_output, actual_output, actual_accepted, passed, path,
            reason=None):
    return {"input": tape, "expected_output": expected_output, "actual_output": actual_output,
            "expected_accepted": expected_accepted, "actual_accepted": actual_accepted, "check_output": check_output,
            "passed": passed, "path": path, "rejection_reason": reason, "description": ""}


HAND_CASES = [
    (
        "START start:\n    NEXT end\nEND end",
        [{"input": "RB", "expected_output": "RB"}, {"input": "B", "expected_accepted": False, "check_output": False}],
        {"valid": True, "all_passed": False, "results": [
            _result("RB", "RB", True, True, "RB", True, True, ["start", "end"]),
            _result("B", "", False, False, "B", True, False, ["start", "end"]),
        ]},
    ),
    (
        "START start\n    NEXT end\nEND end",
        [{"input": "R"}],
        {"valid": False, "all_passed": False, "results": [],
         "message": "DSL Parse Error: Line 1: START nodes must have a colon (hint: write 'START start:')"},
    ),
    (
        _LOOP,
        [{"input": "R", "expected_accepted": False, "check_output": False}],
        {"valid": True, "all_passed": True, "results": [
            _result("R", "", False, False, "R" + "B" * 999, False, True, ["start"] + ["paint"] * 999,
                    "Maximum iterations exceeded (possible infinite loop)"),
        ]},
    ),
]

