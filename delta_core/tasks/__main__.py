"""Command line for the task generators.

    python -m delta_core.tasks build --out DIR [--seed S] [--ensembles a,b]
        writes DIR/<ensemble>_train.jsonl, DIR/<ensemble>_test.jsonl, DIR/<ensemble>_metadata.json
    python -m delta_core.tasks show FAMILY [--level L] [--colour-mode M] [--seed S] [--index I]
        prints one sample problem: criteria, tests, solution

Bad arguments exit with status 2 and one line on stderr naming the argument and the valid choices
(`delta_core.cli`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..cli import ArgumentParser, ensure_output_dir, nonnegative_int, user_errors
from .base import FAMILIES
from .ensembles import ENSEMBLES, build_ensemble
from .export import write_ensemble
from .generate import generate
from .levels import LEVELS


PROG = "python -m delta_core.tasks"


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{build,show}")

    build = sub.add_parser("build", help="write the ensembles as JSONL train/test files")
    build.add_argument("--out", required=True, help="output directory (created if missing)")
    build.add_argument("--seed", type=int, default=0, help="problem-generation seed (default 0)")
    build.add_argument(
        "--ensembles",
        default=",".join(ENSEMBLES),
        help=f"comma-separated subset of: {','.join(ENSEMBLES)} (default: all)",
    )
    build.add_argument("--quiet", action="store_true", help="no progress bar")

    show = sub.add_parser("show", help="print one sample problem of a family")
    show.add_argument("family", help=f"one of: {', '.join(sorted(FAMILIES))}")
    show.add_argument("--level", help="difficulty level (default: the family's first)")
    show.add_argument("--colour-mode", "--color-mode", dest="colour_mode", help="two_color or four_color")
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--index", type=nonnegative_int, default=0, help="position in the level's parameter space")
    return parser, {"build": build, "show": show}


def _build(args, parser) -> int:
    names = [n.strip() for n in args.ensembles.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENSEMBLES]
    if unknown or not names:
        parser.error(f"--ensembles: unknown {unknown or names!r}; choose from {', '.join(ENSEMBLES)}")
    ensure_output_dir(parser.prog, args.out, "--out")  # a bad --out fails now, not after the first ensemble
    from tqdm import tqdm

    total = sum(len(ENSEMBLES[n].specs) for n in names)
    with tqdm(total=total, desc="ensembles", unit="spec", disable=args.quiet, file=sys.stderr) as bar:
        for name in names:
            bar.set_postfix_str(name)
            build = build_ensemble(name, seed=args.seed, progress=lambda spec: bar.update(1))
            paths = write_ensemble(build, args.out)
            bar.write(f"{name}: train {len(build.train)}, test {len(build.test)} -> {paths[0].parent}")
    return 0


def _show(args, parser) -> int:
    if args.family not in FAMILIES:
        parser.error(f"unknown family {args.family!r}; choose from {', '.join(sorted(FAMILIES))}")
    levels = LEVELS[args.family]
    level = args.level or next(iter(levels))
    if level not in levels:
        parser.error(f"--level {level!r} is not offered for {args.family}; choose from {', '.join(levels)}")
    modes = levels[level].colour_modes
    mode = args.colour_mode or modes[0]
    if mode not in modes:
        parser.error(
            f"--colour-mode {mode!r} is not offered for {args.family} {level}; choose from {', '.join(modes)}"
        )
    problems = generate(args.family, level, mode, seed=args.seed)
    if not 0 <= args.index < len(problems):
        parser.error(f"--index {args.index}: the level has {len(problems)} problems (0..{len(problems) - 1})")
    p = problems[args.index]
    print(f"{p.name}  [{p.family} / {p.difficulty_level} / {p.color_mode}]  id {p.id}")
    print(f"Criteria: {p.criteria}")
    if p.description:
        print(f"Description: {p.description}")
    print(f"\nTests ({len(p.test_cases)}):")
    width = max([len(repr(c.input)) for c in p.test_cases] + [5])
    for c in p.test_cases:
        verdict = "accept" if c.expected_accepted else "reject"
        output = f"  -> {c.expected_output!r}" if c.check_output else ""
        print(f"  {c.input!r:<{width}}  {verdict}{output}")
    lines = p.solution.splitlines()
    print(f"\nSolution ({len(lines)} lines, {len(p.solution)} chars):")
    shown = lines if len(lines) <= 80 else lines[:60] + [f"... ({len(lines) - 60} more lines)"]
    print("\n".join(shown))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser, subparsers = _parser()
    args = parser.parse_args(argv)
    sub = subparsers[args.command]  # errors print the subcommand's usage
    try:
        with user_errors(sub.prog, paths={"--out": getattr(args, "out", None)}):  # a write under --out that fails
            return _build(args, sub) if args.command == "build" else _show(args, sub)
    except BrokenPipeError:  # e.g. `show ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
