"""Judge a DSL program against test cases: the reference's `POST /test_solution`, as a function.

`judge(dsl, test_cases)` returns exactly the JSON the authors' verifier answers (spec A.1):

    valid DSL:   {"valid": true, "all_passed": bool, "results": [ {input, expected_output,
                  actual_output, expected_accepted, actual_accepted, check_output, passed, path,
                  rejection_reason, description}, ... ]}
    parse error: {"valid": false, "all_passed": false, "message": "DSL Parse Error: Line N: ...",
                  "results": []}

Malformed requests (a missing `input`, a tape that is not a string, ...) raise `RequestError`, whose
message names the field, the way the reference's pydantic model answers HTTP 422.

CLI: `python -m delta_core.judge < request.json` (or a file argument) prints the response JSON.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from .dsl import DSLSyntaxError, parse_program
from .engine import HAVE_FAST_ENGINE, compile_program, literal_engine

__all__ = ["RequestError", "JudgeLimits", "judge", "judge_request", "judge_many", "outputs_match"]

# Characters that switch output comparison to regex mode (spec A.1); [ ] { } ^ $ alone do not.
_REGEX_TRIGGERS = frozenset(".+*?|()")


class RequestError(ValueError):
    """A request the reference API would refuse with HTTP 422. The message names the field."""


@dataclass(frozen=True)
class JudgeLimits:
    """Bounds that keep one request cheap. The reference has none; ours refuse with a clear message.

    The defaults are far above anything real data holds (≤35 tests, tapes of a few dozen colours,
    and generated reference solutions of up to ~200 KB for the arithmetic families), so they never
    change a reward; they only refuse inputs that would cost seconds to read.
    """

    max_program_chars: int = 1_000_000
    max_tests: int = 10_000
    max_tape_chars: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_program_chars", "max_tests", "max_tape_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"JudgeLimits.{name}={value!r}: must be a positive integer")


DEFAULT_LIMITS = JudgeLimits()

# pydantic's lax bool parsing, which the reference request model uses.
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RequestError(f"{where}: expected a boolean, got {value!r}")


def _as_str(value: Any, where: str, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise RequestError(f"{where}: expected a string, got {type(value).__name__} {value!r:.60}")
    if limit is not None and len(value) > limit:
        raise RequestError(f"{where}: {len(value):,} characters; the limit is {limit:,}")
    return value


def _well_formed_tests(test_cases: Sequence[Any], max_tape: int) -> list[tuple[str, str, bool, bool, str]] | None:
    """The common case, checked cheaply: plain dicts whose fields already have their exact types.
    Returns None at the first case that needs the full check (which then names the bad field)."""
    tests = []
    for case in test_cases:
        if type(case) is not dict:
            return None
        tape = case.get("input")
        expected_output = case.get("expected_output", "")
        expected_accepted = case.get("expected_accepted", True)
        check_output = case.get("check_output", True)
        description = case.get("description", "")
        if not (
            type(tape) is str and type(expected_output) is str and type(description) is str
            and type(expected_accepted) is bool and type(check_output) is bool
            and len(tape) <= max_tape and len(expected_output) <= max_tape
        ):
            return None
        tests.append((tape, expected_output, expected_accepted, check_output, description))
    return tests


def _normalise_tests(test_cases: Any, limits: JudgeLimits) -> list[tuple[str, str, bool, bool, str]]:
    if isinstance(test_cases, Iterable) and not isinstance(test_cases, (str, bytes, Mapping, Sequence)):
        test_cases = list(test_cases)  # a generator of test cases is fine
    if not isinstance(test_cases, Sequence) or isinstance(test_cases, (str, bytes)):
        raise RequestError(f"test_cases: expected a list of test cases, got {type(test_cases).__name__}")
    if len(test_cases) > limits.max_tests:
        raise RequestError(f"test_cases: {len(test_cases):,} tests; the limit is {limits.max_tests:,}")
    fast = _well_formed_tests(test_cases, limits.max_tape_chars)
    if fast is not None:
        return fast
    tests = []
    for i, case in enumerate(test_cases):
        where = f"test_cases[{i}]"
        if not isinstance(case, Mapping):
            raise RequestError(f"{where}: expected an object, got {type(case).__name__}")
        if "input" not in case:
            raise RequestError(f"{where}.input: field required")
        tests.append(
            (
                _as_str(case["input"], f"{where}.input", limits.max_tape_chars),
                _as_str(case.get("expected_output", ""), f"{where}.expected_output", limits.max_tape_chars),
                _as_bool(case.get("expected_accepted", True), f"{where}.expected_accepted"),
                _as_bool(case.get("check_output", True), f"{where}.check_output"),
                _as_str(case.get("description", ""), f"{where}.description"),
            )
        )
    return tests


@functools.lru_cache(maxsize=4096)
def _compiled_pattern(expected: str) -> re.Pattern[str] | None:
    try:
        return re.compile(expected)
    except re.error:
        return None


def outputs_match(expected_output: str, actual_output: str) -> bool:
    """The reference's output comparison: `re.fullmatch` when the expected output contains one of
    `. + * ? | ( )` (falling back to equality if it is not a valid regex), else exact equality."""
    if _REGEX_TRIGGERS.isdisjoint(expected_output):
        return expected_output == actual_output
    pattern = _compiled_pattern(expected_output)
    if pattern is None:
        return expected_output == actual_output
    return pattern.fullmatch(actual_output) is not None


def judge(
    dsl: str,
    test_cases: Iterable[Mapping[str, Any]],
    *,
    limits: JudgeLimits = DEFAULT_LIMITS,
    engine: str = "fast",
) -> dict[str, Any]:
    """Judge `dsl` on `test_cases` (dicts with `input` and optional `expected_output`,
    `expected_accepted`, `check_output`, `description`); return the reference's response dict.

    `engine="literal"` runs the slow, line-by-line interpreter (`dsl.run_program`) instead of the
    compiled one; results are identical (tests/test_engine.py), it exists for benchmarks and audits.

    >>> r = judge("START start:\\n    NEXT end\\nEND end", [{"input": "R", "check_output": False}])
    >>> r["valid"], r["all_passed"], r["results"][0]["path"]
    (True, True, ['start', 'end'])
    """
    dsl = _as_str(dsl, "dsl", limits.max_program_chars)
    tests = _normalise_tests(test_cases, limits)
    if engine not in ("fast", "literal"):
        raise ValueError(f"engine={engine!r}: must be 'fast' or 'literal'")
    try:
        program = parse_program(dsl)
    except DSLSyntaxError as err:
        return {"valid": False, "all_passed": False, "message": f"DSL Parse Error: {err}", "results": []}
    run = compile_program(program).run if engine == "fast" else literal_engine(program).run

    results = []
    all_passed = True
    for tape, expected_output, expected_accepted, check_output, description in tests:
        finished, final_tape, path, reason = run(tape)
        if check_output:
            # Quirk: (match and finished) == expected; so expected_accepted=False passes when the robot
            # is rejected *or* its output differs.
            passed = (finished and outputs_match(expected_output, final_tape)) == expected_accepted
        else:
            passed = finished == expected_accepted
        all_passed = all_passed and passed
        results.append(
            {
                "input": tape,
                "expected_output": expected_output,
                "actual_output": final_tape,
                "expected_accepted": expected_accepted,
                "actual_accepted": finished,
                "check_output": check_output,
                "passed": passed,
                "path": path,
                "rejection_reason": reason,
                "description": description,
            }
        )
    # all([]) is True in the reference: an empty test list passes.
    return {"valid": True, "all_passed": all_passed, "results": results}


def judge_request(request: Mapping[str, Any], *, limits: JudgeLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Judge a whole request body `{"dsl", "test_cases", "max_execution_time"}` (spec A.1).

    `max_execution_time` is accepted and, as in the reference, unused: every run is bounded by the
    1000-entry path limit, so no request can run long."""
    if not isinstance(request, Mapping):
        raise RequestError(f"body: expected a JSON object, got {type(request).__name__}")
    for key in ("dsl", "test_cases"):
        if key not in request:
            raise RequestError(f"{key}: field required")
    if "max_execution_time" in request:
        value = request["max_execution_time"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestError(f"max_execution_time: expected a number, got {value!r}")
    return judge(request["dsl"], request["test_cases"], limits=limits)


def _judge_pair(pair: tuple[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    dsl, test_cases = pair
    try:
        return judge(dsl, test_cases)
    except RequestError as err:  # keep one bad request from sinking the batch
        return {"valid": False, "all_passed": False, "message": f"Request error: {err}", "results": []}


def judge_many(
    requests: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
    *,
    workers: int | None = None,
    chunksize: int = 16,
) -> list[dict[str, Any]]:
    """Judge many `(dsl, test_cases)` pairs, in order, in `workers` processes. `workers=None` picks
    what is fastest here: in-process with the C engine, all cores with the literal fallback. A malformed request gives a `valid: false` result with a `Request error:` message
    instead of raising, so one bad item cannot lose the others."""
    if workers is None:
        # With the C engine a test costs a few microseconds, and shipping 1000-entry paths back from
        # worker processes costs more than judging them (benchmarks/README.md): stay in-process.
        workers = 1 if HAVE_FAST_ENGINE else (os.cpu_count() or 1)
    if workers == 1 or len(requests) < 2 * chunksize:
        return [_judge_pair(pair) for pair in requests]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_judge_pair, requests, chunksize=chunksize))


PROG = "python -m delta_core.judge"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m delta_core.judge [request.json]`: print the response JSON of one request.

    A request the reference would refuse (bad JSON, a missing field) prints its 422 body
    `{"detail": ...}` on stdout, like the HTTP service, and one line `PROG: error: ...` on stderr;
    exit status 2. An unreadable file, or no input at all (stdin a terminal), is the stderr line only."""
    from pathlib import Path

    from .cli import ArgumentParser, fail, reader_gone

    parser = ArgumentParser(
        prog=PROG,
        description="Judge one request {dsl, test_cases[, max_execution_time]} (spec A.1) and print the response JSON.",
    )
    parser.add_argument("request", nargs="?", default="-", help="a JSON request file ('-' or none: read stdin)")
    args = parser.parse_args(argv)
    if args.request == "-":
        source = "stdin"
        try:
            interactive = sys.stdin is None or sys.stdin.isatty()
        except (AttributeError, OSError, ValueError):
            interactive = False
        if interactive:
            fail(PROG, "no request: give a JSON file (python -m delta_core.judge request.json) or pipe one on stdin")
        try:
            text = sys.stdin.read()
        except UnicodeDecodeError as err:
            fail(PROG, f"stdin: not UTF-8 text ({err.reason} at byte {err.start})")
    else:
        source = args.request
        try:
            text = Path(args.request).read_text(encoding="utf-8")
        except OSError as err:
            fail(PROG, f"request file {args.request}: cannot read it ({err.strerror or err})")
        except UnicodeDecodeError as err:
            fail(PROG, f"request file {args.request}: not UTF-8 text ({err.reason} at byte {err.start})")

    def refuse(detail: str) -> None:  # the reference's 422 body on stdout, the one-line error on stderr
        print(json.dumps({"detail": detail}), flush=True)
        fail(PROG, f"{source}: {detail}")

    try:
        request = json.loads(text)
    except json.JSONDecodeError as err:
        empty = " (the input is empty)" if not text.strip() else ""
        refuse(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}{empty}")
    try:
        response = judge_request(request)
    except RequestError as err:
        refuse(str(err))
    with reader_gone():
        print(json.dumps(response), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
