"""Generation: reproducibility, the level table, the shared test-case rules (spec A.2.1), the texts of
spec A.2.2, the record schemas and prompt of spec A.2.4, and clear errors for bad arguments."""

import doctest
import importlib
import json
import os
import random
import subprocess
import sys
import uuid

import pytest

from delta_core.tasks import FAMILIES, LEVELS, Problem, TestCase, build_prompt, generate, parameter_space
from delta_core.tasks.base import ALL_NODES, RB_ONLY_NODES, Family
from delta_core.tasks.cases import FIXED_INPUTS, CaseConfig, build_test_cases, candidate_inputs
from delta_core.tasks.generate import build_problem
from delta_core.tasks.sequence import MEDIUM_MUTATIONS, PATTERN_MUTATIONS

SUFFIX = " The input tape carries only red/blue colors."


def problem_with(family, params, level, mode="two_color"):
    """The problem for one chosen point of the parameter space."""
    return build_problem(FAMILIES[family], params, level, mode, 0, bytes(32))


def dump(problems):
    return json.dumps([p.to_hf_record() for p in problems], sort_keys=True)


# --- reproducibility ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["systematic", "random"])
def test_same_arguments_give_identical_json(mode):
    for family, level, colours in [
        ("contains_count", "easy", "four_color"),
        ("prepend_sequence", "hard", "two_color"),
        ("regex_same_num", "hard", "four_color"),
    ]:
        first = generate(family, level, colours, n=20, seed=11, mode=mode)
        again = generate(family, level, colours, n=20, seed=11, mode=mode)
        assert dump(first) == dump(again)


def test_output_does_not_depend_on_the_process_hash_seed():
    script = (
        "import hashlib, json\n"
        "from delta_core.tasks import generate\n"
        "configs = [('regex_pattern', 'hard', 'four_color'), ('contains_count', 'medium', 'four_color'),\n"
        "           ('prepend_sequence', 'hard', 'two_color')]\n"
        "records = [p.to_hf_record() for c in configs for p in generate(*c, n=40, seed=9, mode='random')]\n"
        "print(hashlib.sha256(json.dumps(records).encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1


def test_different_seeds_give_different_test_tapes_and_ids():
    a = generate("ends_with", "medium", "two_color", n=10, seed=1)
    b = generate("ends_with", "medium", "two_color", n=10, seed=2)
    assert [p.params for p in a] == [p.params for p in b]  # systematic: same parameters ...
    assert [p.tests() for p in a] != [p.tests() for p in b]  # ... but other random tapes
    assert not {p.id for p in a} & {p.id for p in b}


def test_a_problem_does_not_depend_on_how_many_were_generated():
    few = generate("regex_pattern", "medium", "four_color", n=5, seed=3)
    many = generate("regex_pattern", "medium", "four_color", n=50, seed=3)
    assert dump(few) == dump(many[:5])


def test_ids_are_unique_uuid4_strings():
    problems = generate("contains_ordered", "easy", "four_color", n=None, seed=0)
    ids = [p.id for p in problems]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert [p.index for p in problems] == list(range(len(problems)))


def test_random_mode_is_a_seeded_sample_of_the_space():
    space = parameter_space("contains_substring", "easy", "four_color")
    picked = [
        p.params for p in generate("contains_substring", "easy", "four_color", n=30, seed=5, mode="random")
    ]
    assert all(p in space for p in picked) and len({json.dumps(p) for p in picked}) == 30
    assert picked != space[:30]
    other = [
        p.params for p in generate("contains_substring", "easy", "four_color", n=30, seed=6, mode="random")
    ]
    assert picked != other


# --- the level table ---------------------------------------------------------------------------

EXPECTED_SIZES = {
    ("starts_with", "basic", "two_color"): 126,
    ("exact_sequence", "basic", "two_color"): 126,
    ("append_sequence", "basic", "four_color"): 5460,
    ("ends_with", "easy", "two_color"): 30,
    ("ends_with", "medium", "two_color"): 96,  # easy + medium = 126, split 107/19 train/test
    ("prepend_sequence", "easy", "two_color"): 30,
    ("prepend_sequence", "medium", "two_color"): 19 * 126,
    ("prepend_sequence", "hard", "two_color"): 720,
    ("contains_count", "easy", "four_color"): 194,
    ("contains_count", "easy", "two_color"): 27,
    ("contains_count", "medium", "four_color"): 1034,
    ("contains_ordered", "easy", "four_color"): 340,
    ("contains_substring", "easy", "four_color"): 340,
    ("contains_ordered", "medium", "four_color"): 5460,
    ("not_contains", "easy", "four_color"): 4,
    ("regex_pattern", "easy", "four_color"): 60,
    ("regex_pattern", "medium", "four_color"): 3600,
    ("regex_pattern", "hard", "four_color"): 63504,
    ("regex_same_num", "hard", "four_color"): 100,
}


@pytest.mark.parametrize(
    "key,size", EXPECTED_SIZES.items(), ids=lambda v: "-".join(v) if isinstance(v, tuple) else ""
)
def test_parameter_space_sizes(key, size):
    assert len(parameter_space(*key)) == size


def test_the_ensemble_counts_of_the_reference_come_out():
    """`has` = 194 + 340 + 340 four-colour problems; `ends` = 126 two-colour problems, 107 + 19."""
    has = sum(
        len(generate(f, "easy", "four_color", n=None))
        for f in ("contains_count", "contains_ordered", "contains_substring")
    )
    assert has == 874
    ends = sum(len(parameter_space("ends_with", level, "two_color")) for level in ("easy", "medium"))
    assert (ends, int(ends * 0.85), ends - int(ends * 0.85)) == (126, 107, 19)


def test_numerical_levels_are_in_the_table():
    assert LEVELS["numerical_comparison"]["easy"].settings["numerical_thresholds"] == (1, 63)
    ops = LEVELS["numerical_operations"]
    assert (
        ops["easy"].settings["shift_operations"] == ("floor_div",)
        and ops["easy"].settings["max_shift_power"] == 7
    )
    assert (
        len(ops["medium"].settings["bitwise_operations"]) * len(ops["medium"].settings["operand_values"])
        == 21
    )
    assert (
        len(ops["hard"].settings["arithmetic_operations"]) * len(ops["hard"].settings["operand_values"]) == 14
    )
    assert LEVELS["numerical_max_min"]["medium"].settings["operand_range"] == (1, 256)


def test_sequence_spaces_are_ordered_by_length_then_product_order():
    names = [p.params["sequence"] for p in generate("starts_with", "basic", "two_color", n=8)]
    assert names == ["R", "B", "RR", "RB", "BR", "BB", "RRR", "RRB"]
    four = [p["sequence"] for p in parameter_space("contains_substring", "easy", "four_color")[:6]]
    assert four == ["R", "B", "Y", "G", "RR", "RB"]


def test_contains_count_enumerates_singles_then_pairs_then_triples():
    counts = [p["counts"] for p in parameter_space("contains_count", "easy", "four_color")]
    sizes = [len(c) for c in counts]
    assert sizes == sorted(sizes) and sizes.count(1) == 24 and sizes.count(2) == 90 and sizes.count(3) == 80
    assert all(1 <= sum(m for _, m in c) <= 6 for c in counts)


def test_prepend_mutation_tiers():
    assert len(MEDIUM_MUTATIONS) == 19 and len(PATTERN_MUTATIONS) == 24
    space = parameter_space("prepend_sequence", "hard", "two_color")
    assert [p["mutation"] for p in space[:24]] == PATTERN_MUTATIONS  # entry i: mutation i % 24 ...
    assert {p["prefix"] for p in space[:24]} == {"R"} and space[24]["prefix"] == "B"  # ... prefix i // 24
    easy = parameter_space("prepend_sequence", "easy", "two_color")
    assert all(p["mutation"] == {"kind": "keep"} for p in easy)


# --- shared test-case rules --------------------------------------------------------------------


def test_candidates_start_with_the_fixed_list():
    fam = FAMILIES["starts_with"]
    inputs = candidate_inputs(fam, {"sequence": "YG"}, ("R", "B", "Y", "G"), random.Random(0))
    assert inputs[:3] == ["", "R", "RB"]
    assert all(s in inputs for s in FIXED_INPUTS)  # in four-colour mode too
    assert len(inputs) == len(set(inputs))


def test_at_most_35_tests_and_the_cap_is_reached():
    problems = generate("numerical_max_min", "medium", "two_color", n=None, seed=0)
    assert max(len(p.test_cases) for p in problems) == 35
    # a family with 60 candidate tapes is cut to the first 35, in order
    many = Family(
        name="many",
        difficulty="easy",
        kind="acceptor",
        space=lambda s, c: [{}],
        criteria=lambda p: "",
        title=lambda p: "",
        solution=lambda p, c: "",
        extra_inputs=lambda p, colours, rng: ["R" * n for n in range(2, 60)],
        accepts=lambda p, tape: len(tape) % 2 == 0,
    )
    rng = random.Random(0)
    cases = build_test_cases(many, {}, ("R", "B"), rng)
    assert len(cases) == 35
    assert [c.input for c in cases] == candidate_inputs(many, {}, ("R", "B"), random.Random(0))[:35]


def test_exact_sequence_has_exactly_one_accepted_case():
    for p in generate("exact_sequence", "basic", "two_color", n=None, seed=0):
        accepted = [c.input for c in p.test_cases if c.expected_accepted]
        assert accepted == [p.params["sequence"]]


def test_acceptors_are_topped_up_to_three_each_way_when_possible():
    for p in generate("contains_count", "easy", "four_color", n=None, seed=0):
        accepted = sum(c.expected_accepted for c in p.test_cases)
        assert accepted >= 3 and len(p.test_cases) - accepted >= 3
        assert all(
            not c.check_output and c.expected_output == "" and c.description == "" for c in p.test_cases
        )


def test_transducer_cases():
    for p in generate("prepend_sequence", "hard", "two_color", n=48, seed=0):
        assert 6 <= len(p.test_cases) <= 35
        for c in p.test_cases:
            assert c.expected_accepted and c.check_output
            assert c.description == f"Input '{c.input}' should output '{c.expected_output}'"


# --- texts of spec A.2.2 -----------------------------------------------------------------------


def test_spec_examples():
    p = problem_with("starts_with", {"sequence": "BB"}, "basic")
    assert p.criteria == "Accept if the tape starts with BB; reject otherwise." + SUFFIX
    assert p.name == "Starts with BB" and p.available_nodes == RB_ONLY_NODES and p.difficulty == "basic"

    p = problem_with("contains_count", {"counts": [["R", 2], ["G", 1]]}, "easy", "four_color")
    assert p.criteria == "Accept if the tape has at least 2 rs and at least 1 g; reject otherwise."
    assert p.name == "Need 2 Rs and 1 G"
    assert problem_with("contains_count", {"counts": [["R", 6]]}, "easy").name == "At least 6 Rs"

    p = problem_with(
        "prepend_sequence",
        {"prefix": "RRB", "mutation": {"kind": "replace", "source": "BB", "target": "R"}},
        "hard",
    )
    assert p.criteria == "Replace patterns BB with R, then put 'RRB' at the beginning of the tape." + SUFFIX
    keep = problem_with(
        "prepend_sequence",
        {"prefix": "B", "mutation": {"kind": "replace", "source": "R", "target": "R"}},
        "medium",
    )
    assert keep.criteria == "Put 'B' at the beginning of the tape." + SUFFIX
    phrases = {
        problem_with("prepend_sequence", {"prefix": "R", "mutation": m}, "medium").criteria.split(",")[0]
        for m in MEDIUM_MUTATIONS + PATTERN_MUTATIONS
    }
    assert {"Remove B", "Remove R", "Swap color R&B", "Change B to RB", "Remove patterns RB"} <= phrases

    p = problem_with(
        "regex_pattern", {"parts": [["RB", "+"], ["Y", "?"]], "pattern": "(RB)+(Y)?"}, "easy", "four_color"
    )
    assert p.criteria == (
        "Accept if the tape matches the regex pattern '(RB)+(Y)?' exactly; reject otherwise. "
        "'+' means one or more repetitions, '?' means zero or one occurrence, "
        "'*' means zero or more repetitions."
    )

    same = {p["pattern"]: p for p in parameter_space("regex_same_num", "hard", "four_color")}
    p = problem_with("regex_same_num", same["B{2n}R{n+1}B{2n}"], "hard", "four_color")
    assert p.criteria == (
        "Accept strings that match the pattern 'B{2n}R{n+1}B{2n}' for any n ≥ 1. A symmetric "
        "pattern starting and ending with B, where x=2n and y=n+1 for any positive integer n."
    )
    assert p.available_nodes == ALL_NODES and p.difficulty == "hard"

    p = problem_with("append_sequence", {"sequence": "RB"}, "basic")
    assert p.criteria == "Accept any input and append the sequence 'RB' to the end of the tape." + SUFFIX
    assert p.description == "The machine should read any input sequence and append 'RB' to the end."
    assert problem_with("not_contains", {"colour": "B"}, "easy", "four_color").criteria == (
        "Accept if the tape contains no b; reject otherwise."
    )


def test_available_nodes_rule():
    assert problem_with("ends_with", {"sequence": "R"}, "medium").available_nodes == RB_ONLY_NODES
    assert problem_with("ends_with", {"sequence": "R"}, "medium", "four_color").available_nodes == ALL_NODES
    assert problem_with("contains_ordered", {"sequence": "R"}, "easy").available_nodes == ALL_NODES


def test_regex_same_num_has_100_templates_and_four_accepted_expansions():
    problems = generate("regex_same_num", "hard", "four_color", n=None, seed=0)
    assert len({p.params["pattern"] for p in problems}) == 100
    assert all(sum(c.expected_accepted for c in p.test_cases) == 4 for p in problems)
    assert not problems[0].test_cases[0].expected_accepted  # "" is rejected


# --- records and prompt (spec A.2.4) -----------------------------------------------------------


def test_hf_record_schema():
    p = generate("contains_substring", "easy", "four_color", n=1, seed=0)[0]
    record = p.to_hf_record()
    assert list(record) == [
        "messages",
        "ground_truth",
        "dataset",
        "difficulty",
        "id",
        "problem_family",
        "name",
        "solution",
    ]
    assert record["messages"] == [{"content": build_prompt(p), "role": "user"}]
    assert record["dataset"] == "manufactoria" and record["difficulty"] == "easy"
    assert record["problem_family"] == "contains_substring" and record["ground_truth"] == p.tests()
    assert json.loads(json.dumps(record)) == record
    raw = p.to_record()
    assert (
        raw["pattern_type"] == "contains_substring" and raw["difficulty"] == "easy" and raw["solutions"] == []
    )


def test_prompt_variants_and_sections():
    acceptor = build_prompt(generate("starts_with", "basic", "two_color", n=1)[0])
    transducer = build_prompt(generate("append_sequence", "basic", "two_color", n=1)[0])
    assert "## Objective\n" in acceptor and "Objective (output check)" not in acceptor
    assert "## Objective (output check)" in transducer
    headings = [
        "# Manufactoria Solution DSL",
        "Game Mechanics",
        "## Objective",
        "## DSL Syntax",
        "## Node Types",
        "## Syntax Rules",
        "## Example",
        "# Task",
    ]
    positions = [acceptor.index(h) for h in headings]
    assert positions == sorted(positions)
    assert acceptor.endswith("Accept if the tape starts with R; reject otherwise." + SUFFIX)


def test_problem_and_testcase_are_exported():
    p = generate("not_contains", "easy", "two_color", n=1)[0]
    assert isinstance(p, Problem) and isinstance(p.test_cases[0], TestCase)


# --- bad arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,kwargs,needle",
    [
        (("starts", "basic", "two_color", 1), {}, "starts_with"),
        (("starts_with", "hard", "two_color", 1), {}, "'basic'"),
        (("starts_with", "basic", "three_color", 1), {}, "'four_color'"),
        (("prepend_sequence", "easy", "four_color", 1), {}, "'two_color'"),
        (("starts_with", "basic", "two_color", 0), {}, "positive int"),
        (("starts_with", "basic", "two_color", -3), {}, "positive int"),
        (("starts_with", "basic", "two_color", 2.0), {}, "positive int"),
        (("starts_with", "basic", "two_color", True), {}, "positive int"),
        (("starts_with", "basic", "two_color", 1), {"seed": "1"}, "seed"),
        (("starts_with", "basic", "two_color", 1), {"seed": 1.5}, "seed"),
        (("starts_with", "basic", "two_color", 1), {"mode": "shuffled"}, "'systematic', 'random'"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_choices(args, kwargs, needle):
    with pytest.raises(ValueError) as info:
        generate(*args, **kwargs)
    assert needle in str(info.value)


def test_too_many_problems_are_capped_with_a_warning():
    with pytest.warns(UserWarning, match="parameter space has 30"):
        problems = generate("ends_with", "easy", "two_color", n=1000)
    assert len(problems) == 30


def test_every_family_of_the_reference_is_registered():
    assert len(FAMILIES) == 14 and {"numerical_comparison", "numerical_max_min", "numerical_operations"} <= set(FAMILIES)


@pytest.mark.parametrize("module", ["", ".generate", ".programs", ".sequence"])
def test_doctests(module):
    mod = importlib.import_module(f"delta_core.tasks{module}")
    assert doctest.testmod(mod).failed == 0


# --- survivors of the hand mutation run (issue 22): exact counts from spec A.2.1 steps 3-4 ------------


def _fake_acceptor(accepts):
    return Family(name="fake_acceptor", difficulty="easy", kind="acceptor", space=lambda s, c: [{}],
                  criteria=lambda p: "", title=lambda p: "", solution=lambda p, c: "",
                  extra_inputs=lambda p, colours, rng: [], accepts=accepts)


def test_top_up_stops_at_exactly_three_accepted_tapes():
    # Accept tapes of length >= 3 that start with B. Of the candidates ("", R, RB, corners of length <= 2,
    # RB BR RBR BRB RRB BBR) only BRB and BBR are accepted: 2 < 3, so random tapes are tried until a third
    # accepted one is found, and no more (a fourth would be a bug). Rejected tapes are already >= 3, so
    # none is added for them. (The top-up may fall short after 50 tries; these seeds do not.)
    fam = _fake_acceptor(lambda p, tape: len(tape) >= 3 and tape[0] == "B")
    config = CaseConfig(near_miss_tapes=False)
    for seed in range(5):
        cases = build_test_cases(fam, {}, ("R", "B"), random.Random(seed), config)
        candidates = candidate_inputs(fam, {}, ("R", "B"), random.Random(seed), config)
        accepted = [c.input for c in cases if c.expected_accepted]
        assert len(accepted) == 3, (seed, accepted)
        assert accepted[:2] == ["BRB", "BBR"] and accepted[2] not in candidates and accepted[2][0] == "B"
        assert [c.input for c in cases if not c.expected_accepted] == [t for t in candidates if t not in ("BRB", "BBR")]
        assert len(cases) == len(candidates) + 1


def test_top_up_adds_exactly_three_rejected_tapes_when_none_is_rejected():
    # The same rule for rejected tapes. Reject tapes of length >= 4: no candidate is rejected (they are at
    # most 3 long), so random tapes are tried until exactly 3 rejected ones are found.
    config = CaseConfig(near_miss_tapes=False)
    fam = _fake_acceptor(lambda p, tape: len(tape) < 4)
    for seed in range(5):
        cases = build_test_cases(fam, {}, ("R", "B"), random.Random(seed), config)
        candidates = candidate_inputs(fam, {}, ("R", "B"), random.Random(seed), config)
        rejected = [c.input for c in cases if not c.expected_accepted]
        assert len(rejected) == 3 and all(len(t) >= 4 for t in rejected), (seed, rejected)
        assert [c.input for c in cases if c.expected_accepted] == candidates


def test_transducers_are_cut_to_exactly_35_cases():
    # 3 + corners + 7 fixed + 58 own candidates (all distinct lengths of R): far more than 35 -> exactly 35,
    # the first 35 candidates in order, each expecting its transformed tape.
    fam = Family(name="fake_transducer", difficulty="easy", kind="transducer", space=lambda s, c: [{}],
                 criteria=lambda p: "", title=lambda p: "", solution=lambda p, c: "",
                 extra_inputs=lambda p, colours, rng: ["R" * n for n in range(2, 60)],
                 transform=lambda p, tape: tape + "B")
    for near_miss in (False, True):
        cases = build_test_cases(fam, {}, ("R", "B"), random.Random(0), CaseConfig(near_miss_tapes=near_miss))
        assert len(cases) == 35
        expected = candidate_inputs(fam, {}, ("R", "B"), random.Random(0))[:35]
        assert [c.input for c in cases] == expected
        assert all(c.expected_output == c.input + "B" and c.expected_accepted and c.check_output for c in cases)


def test_top_up_draws_tape_lengths_by_the_reference_rule():
    # Nothing is ever accepted, so all 50 attempts of the accepted top-up are made (and fall short); the
    # rejected ones are already >= 3. Replay the rng by spec A.2.1 step 3: after the candidates, attempt a
    # draws a length uniform in [1, min(1 + (a // 10 + 1), 12)], then that many colours. The generator must
    # end in the same state (a wrong length rule draws a different number of colours).
    fam = _fake_acceptor(lambda p, tape: False)
    config = CaseConfig(near_miss_tapes=False)
    for seed in range(3):
        rng = random.Random(seed)
        cases = build_test_cases(fam, {}, ("R", "B"), rng, config)
        replay = random.Random(seed)
        candidates = candidate_inputs(fam, {}, ("R", "B"), replay, config)
        for attempt in range(50):
            length = replay.randint(1, min(1 + (attempt // 10 + 1), 12))
            for _ in range(length):
                replay.choice(("R", "B"))
        assert rng.getstate() == replay.getstate(), seed
        assert [c.input for c in cases] == candidates and not any(c.expected_accepted for c in cases)


def test_transducers_are_topped_up_to_the_minimum_with_distinct_tapes():
    # 8 distinct candidates in two-colour mode ("", R, RB, BR, RBR, BRB, RRB, BBR + corners): with a minimum
    # of 12, random distinct tapes are added until there are exactly 12
    fam = Family(name="fake_transducer", difficulty="easy", kind="transducer", space=lambda s, c: [{}],
                 criteria=lambda p: "", title=lambda p: "", solution=lambda p, c: "",
                 extra_inputs=lambda p, colours, rng: [], transform=lambda p, tape: tape)
    config = CaseConfig(near_miss_tapes=False, min_transducer_cases=12)
    for seed in range(3):
        cases = build_test_cases(fam, {}, ("R", "B"), random.Random(seed), config)
        inputs = [c.input for c in cases]
        assert len(inputs) == 12 and len(set(inputs)) == 12
        assert inputs[:8] == candidate_inputs(fam, {}, ("R", "B"), random.Random(seed), config)[:8]


def test_near_miss_tapes_go_last_and_the_last_originals_make_room(monkeypatch):
    from delta_core.tasks import cases as C

    answers = iter([["x"], []])  # the first check finds one near miss to separate, the second none
    monkeypatch.setattr(C, "distinguishing_inputs", lambda *args: next(answers))
    fam = _fake_acceptor(lambda p, tape: True)
    assert C.with_near_miss_tapes(fam, {}, ("R", "B"), ["a", "b", "c", "d", "e"], 4) == ["a", "b", "c", "x"]
    answers = iter([["x", "y"], ["z"], []])
    assert C.with_near_miss_tapes(fam, {}, ("R", "B"), ["a", "b", "c", "d", "e"], 5) == ["a", "b", "x", "y", "z"]
    # as many added tapes as the cap leaves no room for the problem's own: an error
    answers = iter([["w", "x", "y", "z"], []])
    with pytest.raises(ValueError, match="too many near-miss tapes to fit in 4 tests"):
        C.with_near_miss_tapes(fam, {}, ("R", "B"), ["a", "b", "c", "d", "e"], 4)
