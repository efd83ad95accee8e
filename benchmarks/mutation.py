"""Mutation score of the core: one small bug at a time, each module against its own fast tests.

    python benchmarks/mutation.py                      # every module below
    python benchmarks/mutation.py judge passk          # some of them
    python benchmarks/mutation.py judge --list         # the mutants, without running anything
    python benchmarks/mutation.py judge --tests-rev HEAD~3   # the tests as they were at a git revision

A benchmark, not part of `make test` (benchmarks/README.md, "mutation.py"). For each module it parses
the source with `ast`, and inside the listed functions and classes (docstrings and f-string messages
excluded) applies one operator mutation at a time:

- comparisons: < <=, > >=, == !=, in / not in, is / is not swapped (each both ways);
- arithmetic: + -, * /, // /, % *; `and` / `or`; `not x` -> `x`;
- constants: an integer n -> n + 1, a float x -> x * 1.1 (0.0 -> 0.5), True / False swapped;
- `return X` -> `return None`, a subscript/slice bound [a:b] -> [a:b-1] (slices only).

Each mutant is written into a scratch copy of the repository (never the working tree), and the module's
tests run there with `python -m pytest -x` (PYTHONPATH pointing at the copy). Failing or timing out = killed.
The report lists every survivor with its line, so equivalent mutants can be told apart by hand; those
are listed, with the reason, in benchmarks/README.md. `--json FILE` writes the raw results.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_TRAIN_FAST = ["tests/test_train.py", "-k",
               "not sigkill and not grpo_raises and not zero_learning_rate and not reward_spread"]

# name -> (module file, the functions/classes mutated, the pytest arguments: that module's own fast tests)
MODULES: dict[str, tuple[str, list[str], list[str]]] = {
    "dsl": ("delta_core/dsl.py", ["_is_route_line", "_code_lines", "parse_program", "_parse_route", "run_program"],
            ["tests/test_dsl.py"]),
    "engine": ("delta_core/engine.py", ["compile_program", "literal_engine", "LiteralEngine"], ["tests/test_engine.py"]),
    "judge": ("delta_core/judge.py", ["_as_bool", "_well_formed_tests", "_normalise_tests", "outputs_match", "judge",
                                      "judge_request", "_judge_pair"], ["tests/test_judge.py"]),
    "passk": ("delta_core/passk.py", ["pass_at_k", "pass_at_k_curve", "default_k_list", "problem_table", "bootstrap_ci",
                                      "aggregate_pass_at_k", "hard_subset", "hard_subset_summary", "dense_summary"],
              ["tests/test_passk.py"]),
    "rewards": ("delta_core/rewards/functions.py", ["extract_fenced", "completion_text", "ground_truth_tests",
                                                     "scores_from_response", "score_batch", "make_reward"],
                ["tests/test_rewards.py"]),
    "schedule": ("delta_core/rewards/schedule.py", ["Schedule"], ["tests/test_rewards.py", *_TRAIN_FAST]),
    "cases": ("delta_core/tasks/cases.py", ["candidate_inputs", "build_test_cases", "_acceptor_cases", "_cut",
                                             "with_near_miss_tapes", "_transducer_cases"],
              ["tests/test_tasks_generate.py"]),
    "scoring": ("delta_core/bouncingsim/scoring.py", ["check_distance", "outcomes", "ScoreReport", "_ground_truth",
                                                       "score_many", "_scores"], ["tests/test_bouncingsim.py"]),
    "train_resume": ("delta_core/train/run.py", ["check_one_step", "last_checkpoint"], _TRAIN_FAST),
    "train_callbacks": ("delta_core/train/callbacks.py", ["truncate_metrics", "_mean_of", "_is_step_log",
                                                          "ScheduleCallback"], _TRAIN_FAST),
}

_CMP_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BIN_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
             ast.Mod: ast.Mult}


@dataclass
class Mutant:
    index: int  # the n-th mutation site of the module (stable while the source is)
    line: int
    what: str


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes not to mutate: docstrings, f-strings (messages), annotations."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            skip.update(id(n) for n in ast.walk(body[0]))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node))
        for attr in ("annotation", "returns"):
            ann = getattr(node, attr, None)
            if isinstance(ann, ast.AST):
                skip.update(id(n) for n in ast.walk(ann))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("ValueError", "RequestError",
                                                                                              "ConfigError", "TypeError"):
            skip.update(id(n) for n in ast.walk(node))  # an error's message text
    return skip


def _sites(tree: ast.Module, targets: list[str]) -> list[tuple[ast.AST, str, int]]:
    """(node, mutation kind, line) for every mutation site inside the target definitions, in walk order."""
    skip = _skipped_nodes(tree)
    roots = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in targets]
    missing = set(targets) - {n.name for n in roots}
    if missing:
        raise SystemExit(f"mutation.py: no top-level definition named {sorted(missing)}")
    sites = []
    for root in roots:
        for node in ast.walk(root):
            if id(node) in skip:
                continue
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.Compare):
                sites += [(node, f"cmp{i}", line) for i, op in enumerate(node.ops) if type(op) in _CMP_SWAP]
            elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAP:
                sites.append((node, "binop", line))
            elif isinstance(node, ast.BoolOp):
                sites.append((node, "boolop", line))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                sites.append((node, "not", line))
            elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
                sites.append((node, "const", line))
            elif isinstance(node, ast.Return) and node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None):
                sites.append((node, "return", line))
            elif isinstance(node, ast.Slice) and node.upper is not None:
                sites.append((node, "slice", line))
    return sites


def _apply(node: ast.AST, kind: str) -> str:
    """Mutate `node` in place; return a description."""
    if kind.startswith("cmp"):
        i = int(kind[3:])
        old = type(node.ops[i])
        node.ops[i] = _CMP_SWAP[old]()
        return f"{old.__name__} -> {_CMP_SWAP[old].__name__}"
    if kind == "binop":
        old = type(node.op)
        node.op = _BIN_SWAP[old]()
        return f"{old.__name__} -> {_BIN_SWAP[old].__name__}"
    if kind == "boolop":
        old = type(node.op)
        node.op = ast.Or() if old is ast.And else ast.And()
        return f"{old.__name__} -> {type(node.op).__name__}"
    if kind == "not":
        # replace `not x` by `x`: turn the UnaryOp into a no-op UAdd on a bool() call
        node.op = ast.UAdd()
        node.operand = ast.Call(ast.Name("bool", ast.Load()), [node.operand], [])
        return "not x -> x"
    if kind == "const":
        old = node.value
        if isinstance(old, bool):
            node.value = not old
        elif isinstance(old, int):
            node.value = old + 1
        else:
            node.value = old * 1.1 if old else 0.5
        return f"{old!r} -> {node.value!r}"
    if kind == "return":
        node.value = ast.Constant(None)
        return "return X -> return None"
    if kind == "slice":
        node.upper = ast.BinOp(node.upper, ast.Sub(), ast.Constant(1))
        return "[a:b] -> [a:b-1]"
    raise AssertionError(kind)


def mutants(source: str, targets: list[str]) -> list[tuple[Mutant, str]]:
    tree = ast.parse(source)
    out = []
    for index in range(len(_sites(tree, targets))):
        fresh = ast.parse(source)
        node, kind, line = _sites(fresh, targets)[index]
        what = _apply(node, kind)
        out.append((Mutant(index, line, what), ast.unparse(fresh)))
    return out


def _copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".venv", ".git", "_build", "__pycache__", ".pytest_cache", ".hypothesis",
                                    "mutants", "*.egg-info")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True, dirs_exist_ok=True)


def _pytest(copy_root: Path, args: list[str], timeout: float) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": str(copy_root), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args]
    start = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=copy_root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start
    status = {0: "survived", 1: "killed"}.get(r.returncode, f"error rc={r.returncode}")
    if r.returncode not in (0, 1):
        status += ": " + (r.stdout + r.stderr).strip().splitlines()[-1][:200] if (r.stdout + r.stderr).strip() else ""
    return status, time.perf_counter() - start


def run_module(name: str, copy_root: Path, tests_rev: str | None, only: list[int] | None) -> dict:
    rel, targets, args = MODULES[name]
    source = (ROOT / rel).read_text()
    if tests_rev:  # the tests as they were at that revision (read-only git)
        for arg in args:
            if arg.startswith("tests/") and arg.endswith(".py"):
                old = subprocess.run(["git", "show", f"{tests_rev}:{arg}"], cwd=ROOT, capture_output=True, text=True)
                if old.returncode == 0:
                    (copy_root / arg).write_text(old.stdout)
    base, seconds = _pytest(copy_root, args, timeout=1800)
    if base != "survived":
        raise SystemExit(f"mutation.py: {name}: the unmutated tests do not pass ({base}); fix that first")
    timeout = 3 * seconds + 20
    target = copy_root / rel
    results = []
    try:
        for mutant, text in mutants(source, targets):
            if only is not None and mutant.index not in only:
                continue
            target.write_text(text)
            status, took = _pytest(copy_root, args, timeout)
            killed = status in ("killed", "timeout") or status.startswith("error")
            results.append({"index": mutant.index, "line": mutant.line, "what": mutant.what, "status": status,
                            "killed": killed, "source_line": source.splitlines()[mutant.line - 1].strip()})
            mark = "." if killed else "S"
            print(mark, end="", flush=True)
    finally:
        target.write_text(source)
        for arg in args:  # put back the current tests
            if tests_rev and arg.startswith("tests/") and arg.endswith(".py"):
                shutil.copy(ROOT / arg, copy_root / arg)
    killed = sum(r["killed"] for r in results)
    print(f"\n{name}: {killed}/{len(results)} killed ({100 * killed / max(1, len(results)):.0f}%), "
          f"tests {seconds:.1f} s")
    for r in results:
        if not r["killed"]:
            print(f"  survived #{r['index']} {rel}:{r['line']}  {r['what']}   | {r['source_line'][:90]}")
    return {"module": name, "file": rel, "killed": killed, "total": len(results), "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULES)}")
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument("--only", type=lambda s: [int(x) for x in s.split(",")], help="mutant indices (one module)")
    parser.add_argument("--tests-rev", help="run the module's test files as of this git revision (a 'before' score)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    names = args.modules or list(MODULES)
    unknown = set(names) - set(MODULES)
    if unknown:
        parser.error(f"unknown module(s) {sorted(unknown)}; choose from {', '.join(MODULES)}")
    if args.list:
        for name in names:
            rel, targets, _ = MODULES[name]
            for m, _text in mutants((ROOT / rel).read_text(), targets):
                print(f"{name} #{m.index} {rel}:{m.line} {m.what}")
        return 0
    reports = []
    with tempfile.TemporaryDirectory(prefix="delta-mutation-") as tmp:
        copy_root = Path(tmp) / "repo"
        _copy_repo(copy_root)
        for name in names:
            reports.append(run_module(name, copy_root, args.tests_rev, args.only))
    print("\nmodule            killed / total")
    for r in reports:
        print(f"{r['module']:<17} {r['killed']:>6} / {r['total']:<5} {100 * r['killed'] / max(1, r['total']):.0f}%")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
