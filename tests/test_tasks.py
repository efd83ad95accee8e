"""Every generated problem ships a solution that passes its own tests, and the solutions are right
beyond those tests (checked against the family's predicate or transform on every short tape)."""

import itertools

import pytest

from delta_core.dsl import parse_program
from delta_core.engine import compile_program
from delta_core.judge import judge
from delta_core.tasks import FAMILIES, LEVELS, generate, parameter_space
from delta_core.tasks.base import COLOUR_MODES
from delta_core.tasks.sequence import MEDIUM_MUTATIONS, PATTERN_MUTATIONS, mutate, mutation_rewriter

CONFIGS = [
    (family, level, mode)
    for family, levels in LEVELS.items()
    if family in FAMILIES
    for level, spec in levels.items()
    for mode in spec.colour_modes
]
# Spaces up to this size are generated whole; bigger ones (up to 63,504 problems) get a seeded random
# sample, which keeps this file near 20 s on one core.
FULL_SPACE_LIMIT = 2500
SAMPLE = 300


def _problems(family, level, mode, seed=7):
    if len(parameter_space(family, level, mode)) <= FULL_SPACE_LIMIT:
        return generate(family, level, mode, n=None, seed=seed)
    return generate(family, level, mode, n=SAMPLE, seed=seed, mode="random")


@pytest.mark.parametrize("family,level,mode", CONFIGS)
def test_every_solution_passes_its_tests(family, level, mode):
    problems = _problems(family, level, mode)
    failures = [p.name for p in problems if not judge(p.solution, p.tests())["all_passed"]]
    assert not failures, f"{len(failures)} of {len(problems)} fail, e.g. {failures[:5]}"


def _tapes(colours, max_len):
    for n in range(max_len + 1):
        for t in itertools.product(colours, repeat=n):
            yield "".join(t)


# Exhaustive lengths: all tapes up to 8 colours in two-colour mode (511), 5 in four-colour (1365).
MAX_LEN = {"two_color": 8, "four_color": 5}


@pytest.mark.parametrize("family,level,mode", CONFIGS)
def test_solutions_agree_with_the_family_on_every_short_tape(family, level, mode):
    fam = FAMILIES[family]
    tapes = list(_tapes(COLOUR_MODES[mode], MAX_LEN[mode]))
    n = min(12, len(parameter_space(family, level, mode)))
    for problem in generate(family, level, mode, n=n, seed=3, mode="random"):
        run = compile_program(parse_program(problem.solution)).run
        for tape in tapes:
            finished, output, _, _ = run(tape)
            if fam.kind == "acceptor":
                assert finished == fam.accepts(problem.params, tape), (problem.name, tape)
            else:
                assert finished and output == fam.transform(problem.params, tape), (problem.name, tape)


def test_regex_same_num_solutions_are_exact_on_longer_tapes():
    """All R/B tapes up to 10 colours, plus every expansion up to 40 colours (the path limit)."""
    tapes = list(_tapes("RB", 10))
    fam = FAMILIES["regex_same_num"]
    for problem in generate("regex_same_num", "hard", "four_color", seed=0):
        run = compile_program(parse_program(problem.solution)).run
        for tape in tapes:
            assert run(tape)[0] == fam.accepts(problem.params, tape), (problem.name, tape)
        for n in range(1, 30):
            tape = "".join(c * (a * n + b) for c, a, b in problem.params["runs"])
            if len(tape) > 40:
                break
            finished, _, path, _ = run(tape)
            assert finished, (problem.name, n, len(path))


def test_rb_only_problems_use_only_their_available_nodes():
    for family in ("starts_with", "exact_sequence", "ends_with"):
        for level in LEVELS[family]:
            for problem in generate(family, level, "two_color", n=None):
                used = {node.type.value for node in parse_program(problem.solution).nodes.values()}
                assert used <= set(problem.available_nodes), (problem.name, used)


@pytest.mark.parametrize("mutation", MEDIUM_MUTATIONS + PATTERN_MUTATIONS, ids=str)
def test_mutation_rewriters_match_str_replace(mutation):
    rewriter = mutation_rewriter(mutation)
    for tape in _tapes("RB", 9):
        assert rewriter.apply(tape) == mutate(mutation, tape), tape
