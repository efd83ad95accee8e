"""Random programs and tapes for fuzzing the parser, the interpreters and the judge.

`fuzz_judge(n_programs, seed)` judges `n_programs` random programs (valid factories and mutated,
mostly broken ones) on random tapes, runs each valid one through both engines, and counts every
outcome that breaks a promise of the judge: an exception other than a clean parse error, a path over
the limit, a tape that grew more than the path allows, or the two engines disagreeing.

    python benchmarks/fuzz.py 100000        # the documented 100k run (the test suite runs 10k)

A test tool, not part of the importable package: tests/test_fuzz.py and benchmarks/verifier.py import it
from this folder.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from delta_core.dsl import MAX_PATH, NodeType, parse_program, run_program
from delta_core.engine import compile_program
from delta_core.judge import judge

__all__ = ["random_program", "mutate_program", "random_tape", "FuzzReport", "fuzz_judge"]

_FOREIGN = ["x", "é", " ", "r", "0", "\t", "🙂"]


def random_program(rng: random.Random, max_nodes: int = 8) -> str:
    """A random *valid* factory: random node types and routes, including NONE, the literal END,
    self-loops, painter loops, duplicate conditions and nodes named NONE or END."""
    n = rng.randint(1, max_nodes)
    ids = [f"n{i}" for i in range(n)]
    if rng.random() < 0.1:
        ids[-1] = rng.choice(["NONE", "END", "é_1"])
    targets = ids + ["end", "end", "NONE", "END"]
    types = [rng.choice(list(NodeType)[2:]) for _ in ids]
    blocks = [f"START start:\n    NEXT {rng.choice(ids + ['end'])}"]
    for node_id, node_type in zip(ids, types):
        lines = [f"{node_type.value} {node_id}:"]
        if node_type.is_puller:
            conditions = list(node_type.colours) + ["EMPTY"]
            for _ in range(rng.randint(0, 4)):
                lines.append(f"    [{rng.choice(conditions)}] {rng.choice(targets)}")
        else:
            lines.append(f"{rng.choice(['    ', chr(9)])}NEXT {rng.choice(targets)}")
        blocks.append("\n".join(lines))
    blocks.append("END end")
    rng.shuffle(blocks)
    return "\n".join(blocks)


def mutate_program(text: str, rng: random.Random) -> str:
    """Break a program the way a language model might: drop, repeat or re-indent lines, change a
    character, cut it short, add fences or prose."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(8)
        i = rng.randrange(len(lines)) if lines else 0
        if op == 0 and lines:
            del lines[i]
        elif op == 1 and lines:
            lines.insert(i, lines[i])
        elif op == 2 and lines:
            lines[i] = rng.choice(["", " ", "  ", "   ", "\t", "        "]) + lines[i].lstrip()
        elif op == 3 and lines and lines[i]:
            j = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:j] + rng.choice(":#[] \tRBYGNEXT_é\r") + lines[i][j + 1 :]
        elif op == 4:
            lines = lines[: rng.randrange(len(lines) + 1)]
        elif op == 5:
            lines = [rng.choice(["```", "```manufactoria", "Here is the factory:"])] + lines + ["```"]
        elif op == 6:
            lines.insert(i, rng.choice(["# comment", "END end", "START start:", "    [R] end", "NEXT end"]))
        else:
            lines = [line.replace(rng.choice(["start", "end", "NEXT", ":", "    "]), "", 1) for line in lines]
    return "\n".join(lines)


def random_tape(rng: random.Random, max_len: int = 24) -> str:
    colours = "RB" if rng.random() < 0.5 else "RBYG"
    tape = [rng.choice(colours) for _ in range(rng.randint(0, max_len))]
    if tape and rng.random() < 0.15:
        tape[rng.randrange(len(tape))] = rng.choice(_FOREIGN)
    return "".join(tape)


@dataclass
class FuzzReport:
    programs: int = 0
    valid: int = 0
    parse_errors: int = 0
    runs: int = 0
    looped: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _check_program(text: str, tapes: list[str], report: FuzzReport) -> None:
    tests = [{"input": t, "expected_output": t, "check_output": bool(i % 2)} for i, t in enumerate(tapes)]
    try:
        response = judge(text, tests)
    except Exception as err:  # any exception here is a bug: that is what fuzzing looks for
        report.failures.append(f"judge raised {type(err).__name__}: {err} for {text!r}")
        return
    if not response["valid"]:
        report.parse_errors += 1
        if not response["message"].startswith("DSL Parse Error: "):
            report.failures.append(f"unexpected error message {response['message']!r} for {text!r}")
        return
    report.valid += 1
    program = parse_program(text)
    fast = compile_program(program)
    for tape, result in zip(tapes, response["results"]):
        report.runs += 1
        path, final = result["path"], result["actual_output"]
        if len(path) > MAX_PATH or len(final) > len(tape) + MAX_PATH:
            report.failures.append(f"limits broken: path {len(path)}, tape {len(final)} for {text!r} on {tape!r}")
        literal = run_program(program, tape)
        if fast.run(tape) != (literal.finished, literal.final_tape, literal.path, literal.rejection_reason):
            report.failures.append(f"engines disagree on {tape!r} for {text!r}")
        report.looped += literal.rejection_reason is not None and literal.rejection_reason.startswith("Maximum")


def fuzz_judge(n_programs: int, seed: int = 0, tapes_per_program: int = 4, progress: bool = False) -> FuzzReport:
    """Judge `n_programs` random programs (about half of them mutated) and report what broke."""
    rng = random.Random(seed)
    report = FuzzReport()
    for _ in tqdm(range(n_programs), disable=not progress, desc="fuzzing the judge"):
        text = random_program(rng)
        if rng.random() < 0.5:
            text = mutate_program(text, rng)
        report.programs += 1
        _check_program(text, [random_tape(rng) for _ in range(tapes_per_program)], report)
    return report


def main(argv: list[str] | None = None) -> int:
    from delta_core.cli import ArgumentParser, positive_int

    parser = ArgumentParser(prog="python benchmarks/fuzz.py", description="Fuzz the DSL judge.")
    parser.add_argument("n_programs", nargs="?", type=positive_int, default=10_000, help="random programs (>= 1)")
    parser.add_argument("seed", nargs="?", type=int, default=0)
    args = parser.parse_args(argv)
    report = fuzz_judge(args.n_programs, args.seed, progress=True)
    print(
        f"{report.programs} programs ({report.valid} valid, {report.parse_errors} parse errors), "
        f"{report.runs} runs ({report.looped} hit the path limit), {len(report.failures)} failures"
    )
    for failure in report.failures[:20]:
        print("FAIL", failure)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
