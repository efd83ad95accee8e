"""Judging throughput: the literal interpreter vs the compiled engine vs `judge_many`, on one workload.

    python benchmarks/verifier.py                 # the benchmark (< 1 min on 2 cores)
    python benchmarks/verifier.py --requests 600  # a bigger workload
    python benchmarks/verifier.py --fuzz 100000   # the documented 100k fuzz run (benchmarks/fuzz.py)

The workload is fixed and seeded (`--seed`, default 0): about 1/3 acceptors (starts-with, ends-with,
contains, exactly, parity; 4-10 nodes), 1/3 transducers judged with check_output=True (append, and
prepend with a mutation: keep, swap R/B, remove, double, ...), 1/3 broken factories that loop to the
1000-entry path limit (painter loops, rotate loops without an end marker, growing loops, pull loops),
plus a few programs that do not parse. Each request has 35 tests on tapes of length 0-20, like the
task generators' (spec A.2). A quarter of the acceptors and transducers carry one wrong route, like a
model's near-misses; the others are correct factories, and the run asserts they pass all their tests.

It measures, in one run and one process: (a) `judge(..., engine="literal")`, our line-by-line copy of
the reference interpreter, as the in-run baseline; (b) `judge(...)` with the compiled engine;
(c) `judge_many` on all cores. It asserts the three give identical responses and prints test cases/s,
(b)/(a), and (b) against the authors' figure of 3,900 test cases/s (shared/reference/figures-to-beat.md).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

from delta_core.engine import HAVE_FAST_ENGINE
from delta_core.judge import judge, judge_many

AUTHORS_TESTS_PER_S = 3_900  # the authors' verifier, in-process, one core (figures-to-beat.md)
TESTS_PER_REQUEST = 35
MAX_TAPE = 20

# ------------------------------------------------------------------------------------------------
# Program templates. Each returns DSL text; `Factory` pairs it with the function it computes.

PULLER = {"R": "PULLER_RB", "B": "PULLER_RB", "Y": "PULLER_YG", "G": "PULLER_YG"}
PAINTER = {"R": "PAINTER_RED", "B": "PAINTER_BLUE", "Y": "PAINTER_YELLOW", "G": "PAINTER_GREEN"}
OTHER = {"R": "B", "B": "R", "Y": "G", "G": "Y"}


def node(kind: str, node_id: str, *routes: str) -> str:
    """One declaration with its routes; END takes no colon."""
    if kind == "END":
        return f"END {node_id}"
    return "\n".join([f"{kind} {node_id}:"] + [f"    {r}" for r in routes])


def program(*nodes: str) -> str:
    return "\n".join(nodes)


def painters(colours: str, prefix: str, then: str) -> list[str]:
    """A chain of painters for `colours`, named prefix0, prefix1, ..., ending at `then`."""
    names = [f"{prefix}{i}" for i in range(len(colours))] + [then]
    return [node(PAINTER[c], names[i], f"NEXT {names[i + 1]}") for i, c in enumerate(colours)]


def first_of(colours: str, prefix: str, then: str) -> str:
    return f"{prefix}0" if colours else then


def starts_with(s: str, then: str = "end") -> str:
    """A chain of pullers: each consumes s[i] or rejects (other colour, empty tape, foreign colour)."""
    names = [f"p{i}" for i in range(len(s))] + [then]
    nodes = [node("START", "start", "NEXT p0")]
    for i, c in enumerate(s):
        nodes.append(node(PULLER[c], names[i], f"[{c}] {names[i + 1]}", f"[{OTHER[c]}] NONE", "[EMPTY] NONE"))
    return program(*nodes, node("END", "end"))


def exactly(s: str) -> str:
    """starts_with(s), then accept only if nothing is left (R/B tapes)."""
    return starts_with(s, then="last") + "\n" + node("PULLER_RB", "last", "[EMPTY] end")


def _kmp(s: str) -> list[dict[str, int]]:
    """delta[k][c]: the longest prefix of s that is a suffix of s[:k] + c (RB alphabet)."""
    delta = []
    for k in range(len(s) + 1):
        row = {}
        for c in "RB":
            t = s[:k] + c
            row[c] = max(j for j in range(len(s) + 1) if j <= len(t) and t.endswith(s[:j]))
        delta.append(row)
    return delta


def ends_with(s: str) -> str:
    """A KMP automaton over R/B: state k = longest prefix of s matched; accept at the end in state |s|."""
    delta = _kmp(s)
    nodes = [node("START", "start", "NEXT s0")]
    for k in range(len(s) + 1):
        nodes.append(node("PULLER_RB", f"s{k}", f"[R] s{delta[k]['R']}", f"[B] s{delta[k]['B']}",
                          f"[EMPTY] {'end' if k == len(s) else 'NONE'}"))
    return program(*nodes, node("END", "end"))


def contains(s: str) -> str:
    """The same automaton, accepting as soon as state |s| is reached."""
    delta = _kmp(s)
    names = [f"s{k}" for k in range(len(s))] + ["end"]
    nodes = [node("START", "start", "NEXT s0")]
    for k in range(len(s)):
        nodes.append(node("PULLER_RB", names[k], f"[R] {names[delta[k]['R']]}", f"[B] {names[delta[k]['B']]}",
                          "[EMPTY] NONE"))
    return program(*nodes, node("END", "end"))


def even_count(c: str) -> str:
    """Accept if the tape has an even number of `c` (RB tapes)."""
    o = OTHER[c]
    return program(
        node("START", "start", "NEXT even"),
        node("PULLER_RB", "even", f"[{c}] odd", f"[{o}] even", "[EMPTY] end"),
        node("PULLER_RB", "odd", f"[{c}] even", f"[{o}] odd", "[EMPTY] NONE"),
        node("END", "end"),
    )


def append(s: str) -> str:
    """Painters append at the end of the tape: start -> paint s -> end."""
    return program(node("START", "start", f"NEXT {first_of(s, 'a', 'end')}"), *painters(s, "a", "end"),
                   node("END", "end"))


def rotate(mapping: dict[str, str], on_empty: str) -> list[str]:
    """Puller q moves the front R/B to the back, repainted as mapping[colour]; EMPTY -> on_empty."""
    r, b = first_of(mapping["R"], "r", "q"), first_of(mapping["B"], "b", "q")
    return [node("PULLER_RB", "q", f"[R] {r}", f"[B] {b}", f"[EMPTY] {on_empty}"),
            *painters(mapping["R"], "r", "q"), *painters(mapping["B"], "b", "q")]


def prepend(p: str, mapping: dict[str, str]) -> str:
    """Output p + mapped(input), on R/B tapes: paint a Y marker, then p, then rotate the input colours
    to the back (each one repainted as mapping[colour]) until the marker is at the front; pull it."""
    return program(
        node("START", "start", "NEXT mark"),
        node("PAINTER_YELLOW", "mark", f"NEXT {first_of(p, 'p', 'q')}"),
        *painters(p, "p", "q"),
        *rotate(mapping, on_empty="marker"),
        node("PULLER_YG", "marker", "[Y] end"),
        node("END", "end"),
    )


MAPPINGS = {
    "keep": {"R": "R", "B": "B"},
    "swap": {"R": "B", "B": "R"},
    "remove_R": {"R": "", "B": "B"},
    "remove_B": {"R": "R", "B": ""},
    "double": {"R": "RR", "B": "BB"},
    "R_to_RB": {"R": "RB", "B": "B"},
    "B_to_RR": {"R": "R", "B": "RR"},
}

# Broken factories that run until the 1000-entry path limit on (almost) every tape.


def painter_loop(s: str) -> str:
    """Paints s forever: the last painter routes back to the first."""
    return program(node("START", "start", "NEXT a0"), *painters(s, "a", "a0"), node("END", "end"))


def rotate_forever(mapping: dict[str, str]) -> str:
    """prepend() without the end marker: rotates a non-empty R/B tape forever."""
    return program(
        node("START", "start", "NEXT q"),
        *rotate(mapping, on_empty="end"),
        node("END", "end"),
    )


def growing_loop(c: str) -> str:
    """Pulls one colour and paints two: the tape grows until the path limit."""
    return program(
        node("START", "start", "NEXT q"),
        node("PULLER_RB", "q", "[R] g0", "[B] g0", "[EMPTY] g0"),
        *painters(c + OTHER[c], "g", "q"),
        node("END", "end"),
    )


def pull_loop() -> str:
    """Consumes the tape, then spins on EMPTY."""
    return program(node("START", "start", "NEXT q"), node("PULLER_RB", "q", "[R] q", "[B] q", "[EMPTY] q"),
                   node("END", "end"))


INVALID = [
    "start start:\n    NEXT end\nEND end",                                # lower-case type
    "START start\n    NEXT end\nEND end",                                 # missing colon
    "```manufactoria\nSTART start:\n    NEXT end\nEND end\n```",          # fence with a language tag
    "START start:\n    NEXT p\nPULLER_RB p:\n    [R] q\nEND end",         # undefined target
    "START start:\n  NEXT end\nEND end",                                  # 2-space indent
    "START start:\n    NEXT p\nPULLER_RB p:\n    [Y] end\nEND end",       # Y on an R/B puller
]

# ------------------------------------------------------------------------------------------------
# The workload


def random_colours(rng: random.Random, n: int, alphabet: str = "RB") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def break_one_route(text: str, rng: random.Random) -> str:
    """A near-miss: point one route (not START's) at another target."""
    lines = text.split("\n")
    routes = [i for i, line in enumerate(lines) if line.startswith("    ") and i > 1]
    targets = sorted({line.split()[-1] for line in lines if line.startswith("    ")} | {"NONE", "end"})
    i = rng.choice(routes)
    head, _ = lines[i].rsplit(" ", 1)
    lines[i] = f"{head} {rng.choice(targets)}"
    return "\n".join(lines)


def acceptor(rng: random.Random) -> tuple[str, Callable[[str], bool], str, str]:
    """(dsl, predicate, alphabet, pattern) of a random acceptor with 4-10 nodes."""
    family = rng.choice(["starts_with", "starts_with4", "ends_with", "contains", "exactly", "even"])
    if family == "even":
        c = rng.choice("RB")
        return even_count(c), lambda t: t.count(c) % 2 == 0, "RB", ""
    alphabet = "RBYG" if family == "starts_with4" else "RB"
    s = random_colours(rng, rng.randint(2, 6), alphabet)
    if family.startswith("starts_with"):
        return starts_with(s), lambda t: t.startswith(s), alphabet, s
    if family == "ends_with":
        return ends_with(s), lambda t: t.endswith(s), alphabet, s
    if family == "contains":
        return contains(s), lambda t: s in t, alphabet, s
    return exactly(s), lambda t: t == s, alphabet, s


def acceptor_tests(
    rng: random.Random, predicate: Callable[[str], bool], alphabet: str, pattern: str
) -> list[dict]:
    """Random tapes, half of them with `pattern` planted (at the front, the back, inside, or alone)."""
    tests = []
    for i in range(TESTS_PER_REQUEST):
        if i % 2 and pattern:
            tape = random_colours(rng, rng.randint(0, MAX_TAPE - len(pattern)), alphabet)
            cut = rng.choice([0, len(tape), rng.randint(0, len(tape))])
            tape = pattern if i % 7 == 1 else tape[:cut] + pattern + tape[cut:]
        else:
            tape = random_colours(rng, rng.randint(0, MAX_TAPE), alphabet)
        tests.append({"input": tape, "expected_output": "", "expected_accepted": predicate(tape),
                      "check_output": False, "description": ""})
    return tests


def transducer(rng: random.Random) -> tuple[str, Callable[[str], str], str]:
    if rng.random() < 0.3:
        s = random_colours(rng, rng.randint(1, 5), "RBYG")
        return append(s), lambda t: t + s, "RBYG"
    p = random_colours(rng, rng.randint(0, 3))
    name = rng.choice(list(MAPPINGS))
    mapping = MAPPINGS[name]
    return prepend(p, mapping), lambda t: p + "".join(mapping[c] for c in t), "RB"


def transducer_tests(rng: random.Random, function: Callable[[str], str], alphabet: str) -> list[dict]:
    tests = []
    for _ in range(TESTS_PER_REQUEST):
        tape = random_colours(rng, rng.randint(0, MAX_TAPE), alphabet)
        out = function(tape)
        tests.append({"input": tape, "expected_output": out, "expected_accepted": True, "check_output": True,
                      "description": f"Input '{tape}' should output '{out}'"})
    return tests


def looper(rng: random.Random) -> str:
    kind = rng.choice(["painter_loop", "rotate_forever", "growing_loop", "pull_loop"])
    if kind == "painter_loop":
        return painter_loop(random_colours(rng, rng.randint(1, 4), "RBYG"))
    if kind == "rotate_forever":
        return rotate_forever(MAPPINGS[rng.choice(list(MAPPINGS))])
    if kind == "growing_loop":
        return growing_loop(rng.choice("RB"))
    return pull_loop()


def make_workload(n_requests: int, seed: int) -> tuple[list[tuple[str, list[dict]]], list[bool]]:
    """`n_requests` (dsl, test_cases) pairs, and for each whether it is a correct factory."""
    rng = random.Random(seed)
    requests, correct = [], []
    for i in range(n_requests):
        role = i % 3
        if i % 50 == 49:  # ~2% programs that do not parse
            dsl = INVALID[(i // 50) % len(INVALID)]
            requests.append((dsl, acceptor_tests(rng, lambda t: True, "RB", "")))
            correct.append(False)
            continue
        if role == 0:
            dsl, predicate, alphabet, pattern = acceptor(rng)
            tests = acceptor_tests(rng, predicate, alphabet, pattern)
        elif role == 1:
            dsl, function, alphabet = transducer(rng)
            tests = transducer_tests(rng, function, alphabet)
        else:  # a broken factory for an acceptor or a transducer task
            dsl = looper(rng)
            if rng.random() < 0.5:
                _, predicate, alphabet, pattern = acceptor(rng)
                tests = acceptor_tests(rng, predicate, alphabet, pattern)
            else:
                _, function, alphabet = transducer(rng)
                tests = transducer_tests(rng, function, alphabet)
        ok = role != 2
        if ok and rng.random() < 0.25:
            dsl, ok = break_one_route(dsl, rng), False
        requests.append((dsl, tests))
        correct.append(ok)
    return requests, correct


# ------------------------------------------------------------------------------------------------
# Measuring


def _git(*args: str) -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=here, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def machine() -> str:
    """nproc, CPU model, Python and git commit, for the record."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain"):
        commit += " (uncommitted changes)"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"machine: {cores} cores available (nproc), {model}; Python {platform.python_version()} "
            f"({platform.python_implementation()}); git {commit}")


def timed(fn, repeats: int = 1) -> tuple[float, object]:
    """Best wall time of `repeats` calls, and the last result. Garbage from earlier calls is
    collected before each call, so that no call pays for another's."""
    best, result = float("inf"), None
    for _ in range(repeats):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def benchmark(n_requests: int, seed: int, repeats: int, workers: int | None) -> int:
    requests, correct = make_workload(n_requests, seed)
    n_tests = sum(len(tests) for _, tests in requests)
    print(machine())
    print(f"workload: {len(requests)} requests, {n_tests} test cases (seed {seed}); "
          f"fast engine built: {HAVE_FAST_ENGINE}")

    # judge_many would stay in-process with the C engine when `workers` is unset: (c) measures the pool.
    workers = workers or os.cpu_count() or 1
    t_literal, literal = timed(lambda: [judge(d, t, engine="literal") for d, t in requests], 2)
    t_fast, fast = timed(lambda: [judge(d, t) for d, t in requests], repeats)
    # judge_many starts a process pool per call; give it the workload `repeats` times so that the
    # pool start-up is paid once, as in a training step that judges a whole batch.
    t_many, many = timed(lambda: judge_many(requests * repeats, workers=workers))
    t_many /= repeats

    assert fast == literal, "fast and literal judging differ"
    assert many[: len(requests)] == literal, "judge_many and literal judging differ"
    for response, ok, (dsl, _) in zip(literal, correct, requests):
        assert not ok or response["all_passed"], f"a correct factory failed its tests:\n{dsl}"

    paths = Counter()
    for response in literal:
        for r in response["results"]:
            reason = r["rejection_reason"] or "accepted"
            paths["max_path" if reason.startswith("Maximum") else "NONE" if "NONE" in reason else reason] += 1
    print(f"outcomes: {dict(paths)}; {sum(not r['valid'] for r in literal)} requests do not parse; "
          f"{sum(r['all_passed'] for r in literal)} requests pass all tests")

    def rate(seconds: float) -> float:
        return n_tests / seconds

    print(f"(a) literal judge, 1 process    {rate(t_literal):>11,.0f} test cases/s   "
          f"({t_literal:.2f} s, best of 2)")
    print(f"(b) fast judge, 1 process       {rate(t_fast):>11,.0f} test cases/s   "
          f"({t_fast:.3f} s, best of {repeats})")
    print(f"(c) judge_many, {workers} workers      {rate(t_many):>11,.0f} test cases/s   "
          f"({t_many * repeats:.2f} s for {repeats} copies)")
    print(f"(b)/(a) = {t_literal / t_fast:.1f}x; (b) vs the authors' {AUTHORS_TESTS_PER_S:,} test cases/s "
          f"= {rate(t_fast) / AUTHORS_TESTS_PER_S:.1f}x (goal >= 30x, stretch 50x)")
    print("results of (a), (b), (c) identical: yes")
    return 0


def fuzz(n_programs: int, seed: int) -> int:
    from fuzz import fuzz_judge  # benchmarks/fuzz.py, beside this script

    start = time.perf_counter()
    report = fuzz_judge(n_programs, seed, progress=True)
    print(f"{report.programs} programs ({report.valid} valid, {report.parse_errors} parse errors), "
          f"{report.runs} runs ({report.looped} hit the path limit) in {time.perf_counter() - start:.0f} s; "
          f"crashes and mismatches: {len(report.failures)}")
    for failure in report.failures[:20]:
        print("FAIL", failure)
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=360, help="requests in the workload (35 tests each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=10, help="runs of (b), copies for (c); best time kept")
    parser.add_argument("--workers", type=int, default=None, help="judge_many processes (default: all cores)")
    parser.add_argument("--fuzz", type=int, metavar="N", help="fuzz the judge with N random programs instead")
    args = parser.parse_args(argv)
    if args.fuzz is not None:
        return fuzz(args.fuzz, args.seed)
    return benchmark(args.requests, args.seed, args.repeats, args.workers)


if __name__ == "__main__":
    sys.exit(main())
