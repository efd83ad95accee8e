"""Ensembles, splits, export and the CLI (delta_core/tasks/{ensembles,export,__main__}.py; spec A.2.3-A.2.4).

The key acceptance check: every problem of every shipped ensemble has a solution that passes all its
tests (judged on all cores with `judge_many`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from delta_core.judge import judge_many
from delta_core.rewards import binary_reward, dense_reward
from delta_core.tasks import FAMILIES, LEVELS, build_prompt, generate
from delta_core.tasks.__main__ import main as cli_main
from delta_core.tasks.ensembles import ENSEMBLES, SPLITS, build_ensemble, level_file_size, resolve
from delta_core.tasks.export import (
    atomic_write_text,
    ensemble_metadata,
    hf_record,
    read_jsonl,
    to_dataset,
    write_ensemble,
    write_jsonl,
)

HF_KEYS = {"messages", "ground_truth", "dataset", "difficulty", "id", "problem_family", "name"}

# (train, test) of our builds; equal to the reference's published counts wherever it has them.
EXPECTED = {
    "basic_mix": (348, 27),
    "has": (742, 132),
    "regex": (561, 99),
    "compr": (535, 95),
    "ends": (107, 19),
    "prepend": (595, 105),  # no published counts: overwritten by mutate (both named prepend_sequence)
    "mutate": (612, 108),
    "minmax": (501, 11),
    "add": (0, 14),
    "bit_op": (0, 21),
    "fdiv": (0, 7),
    "symm": (0, 100),
}


@pytest.fixture(scope="module")
def builds():
    return {name: build_ensemble(name, seed=0) for name in ENSEMBLES}


def test_twelve_ensembles_with_distinct_names():
    assert list(ENSEMBLES) == list(EXPECTED)
    assert len({e.name for e in ENSEMBLES.values()}) == 12
    assert ENSEMBLES["prepend"].reference_name == ENSEMBLES["mutate"].reference_name == "prepend_sequence"
    assert ENSEMBLES["compr"].seed == 456
    assert all(e.seed == 42 for n, e in ENSEMBLES.items() if n != "compr")
    for e in ENSEMBLES.values():
        for s in e.specs:
            assert s.family in FAMILIES and s.colour_mode in LEVELS[s.family][s.level].colour_modes


def test_sizes_match_the_reference(builds):
    for name, build in builds.items():
        counts = (len(build.train), len(build.test))
        assert counts == EXPECTED[name], name
        if ENSEMBLES[name].reference_counts is not None:
            assert counts == ENSEMBLES[name].reference_counts, name


def test_every_shipped_problem_is_solved_by_its_solution(builds):
    problems = [p for build in builds.values() for p in build.problems]
    assert len(problems) == sum(a + b for a, b in EXPECTED.values())
    results = judge_many([(p.solution, p.tests()) for p in problems])
    failed = [(p.family, p.name, r.get("message")) for p, r in zip(problems, results) if not r["all_passed"]]
    assert not failed, failed[:5]
    assert all(r["valid"] and r["results"] for r in results)


def test_no_duplicates_and_sources_are_tagged(builds):
    for name, build in builds.items():
        ids = [p.id for p in build.problems]
        assert len(set(ids)) == len(ids), name
        for p, source in build.train + build.test:
            assert source["family"] == p.family and source["difficulty"] == p.difficulty_level
            assert source["color_mode"] == p.color_mode
            stem = f"{p.family}_{p.color_mode}_{p.difficulty_level}"
            assert source["file_path"] == f"problems/difficulty/{stem}.jsonl"


def test_sampling_follows_the_reference_rule(builds):
    """random.Random(seed).sample over the level file (first min(1000, space) problems), then shuffle."""
    import random

    build = builds["regex"]
    rng = random.Random(42)
    easy = list(range(level_file_size("regex_pattern", "easy", "four_color")))  # 60 <= requested: all
    medium_file = generate("regex_pattern", "medium", "four_color", n=1000, seed=0)
    assert len(medium_file) == 1000 == level_file_size("regex_pattern", "medium", "four_color")
    medium = [medium_file[i] for i in rng.sample(range(1000), 600)]
    expected = generate("regex_pattern", "easy", "four_color", seed=0)[: len(easy)] + medium
    rng.shuffle(expected)
    assert build.problems == expected


def test_ratio_zero_puts_everything_in_test(builds):
    for name in ("add", "bit_op", "fdiv", "symm"):
        assert builds[name].train == []


def test_splits_table():
    assert list(SPLITS) == [
        "explorative_1", "explorative_2", "explorative_3", "compositional_1", "compositional_2",
        "transformative_1", "transformative_2", "transformative_3",
    ]  # fmt: skip
    ood = SPLITS["explorative_1"].test[0]
    assert ood.name == "contains_ood_mix_test" and not ood.available and "no config" in ood.reason
    comp2 = {ref.name: ref.count for ref in SPLITS["compositional_2"].test}
    assert comp2 == {
        "numerical_comparison_test": 50,
        "prepend_sequence_test": 50,
        "numerical_operations_two_color_easy": 7,
        "numerical_operations_two_color_medium": 21,
        "numerical_operations_two_color_hard": 14,
        "numerical_max_min_two_color_medium": 50,
    }
    for split in SPLITS.values():
        assert split.train[0].source == ("ensemble", "basic_mix", "train")
        for ref in split.train + split.test:
            if not ref.available:
                assert ref.source == ()
                continue
            if ref.source[0] == "ensemble":
                assert ref.source[1] in ENSEMBLES and ref.source[2] in ("train", "test")
            else:
                _, family, level, mode = ref.source
                assert mode in LEVELS[family][level].colour_modes
                assert ref.name == f"{family}_{mode}_{level}"
        for ref in split.test:
            assert ref.count is not None
    with pytest.raises(ValueError, match="contains_ood_mix_test is not available"):
        resolve(ood)
    assert len(resolve(SPLITS["compositional_2"].test[2])) == 7  # numerical_operations easy
    assert [p.id for p in resolve(SPLITS["explorative_2"].test[0])] == [
        p.id for p, _ in build_ensemble("compr").test
    ]
    mapped = {ref.name: ref.source[1] for s in SPLITS.values() for ref in s.train}
    assert mapped == {
        "basic_mix": "basic_mix",
        "contains_mix": "has",
        "numerical_comparison": "compr",
        "regex_pattern": "regex",
        "prepend_sequence": "mutate",
    }


# --- files, CLI --------------------------------------------------------------------------------

SUBSET = "basic_mix,compr,fdiv"


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_cli_build_is_deterministic(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert cli_main(["build", "--out", str(a), "--ensembles", SUBSET, "--quiet"]) == 0
    assert cli_main(["build", "--out", str(b), "--ensembles", SUBSET, "--quiet"]) == 0
    assert cli_main(["build", "--out", str(c), "--ensembles", SUBSET, "--quiet", "--seed", "1"]) == 0
    files_a = _files(a)
    assert sorted(files_a) == sorted(
        f"{n}_{part}" for n in SUBSET.split(",") for part in ("train.jsonl", "test.jsonl", "metadata.json")
    )
    assert files_a == _files(b)
    files_c = _files(c)
    assert files_c["basic_mix_train.jsonl"] != files_a["basic_mix_train.jsonl"]
    assert not [p for p in a.iterdir() if p.name.startswith(".")]  # no temp files left

    train = read_jsonl(a / "basic_mix_train.jsonl")
    test = read_jsonl(a / "basic_mix_test.jsonl")
    assert (len(train), len(test)) == (348, 27)
    meta = json.loads((a / "basic_mix_metadata.json").read_text())
    assert meta["train_count"] == 348 and meta["test_count"] == 27 and meta["sampling_seed"] == 42
    assert meta["generation_seed"] == 0 and meta["reference_counts"] == [348, 27]
    assert [s["taken"] for s in meta["specs"]] == [125, 125, 125]
    assert read_jsonl(a / "fdiv_train.jsonl") == [] and len(read_jsonl(a / "fdiv_test.jsonl")) == 7


def test_hf_record_schema(builds):
    p, source = builds["compr"].train[0]
    record = hf_record(p, source)
    assert set(record) == HF_KEYS | {"solution", "_ensemble_source"}
    assert record["messages"] == [{"content": build_prompt(p), "role": "user"}]
    assert record["dataset"] == "manufactoria" and record["difficulty"] in ("easy", "medium")
    assert record["problem_family"] == "numerical_comparison" and record["name"] == p.name
    assert record["ground_truth"] == p.tests() and record["solution"] == p.solution
    assert set(record["ground_truth"][0]) == {
        "input", "expected_output", "expected_accepted", "check_output", "description",
    }  # fmt: skip
    assert json.loads(json.dumps(record)) == record


def test_cli_show(capsys):
    assert cli_main(["show", "numerical_comparison", "--level", "easy", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "Criteria: Treat Blue as 1 and Red as 0. Accept if the binary number is greater than 1" in out
    assert "Tests (" in out and "Solution (" in out and "START start:" in out
    assert cli_main(["show", "starts_with"]) == 0  # defaults: first level, first colour mode
    assert "Starts with R" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["show", "nope"], "choose from append_sequence"),
        (["show", "starts_with", "--level", "hard"], "choose from basic"),
        (["show", "prepend_sequence", "--colour-mode", "four_color"], "choose from two_color"),
        (["show", "starts_with", "--index", "999"], "the level has 126 problems"),
        (["build", "--out", "x", "--ensembles", "bogus"], "choose from basic_mix, has"),
        (["build"], "--out"),
        (["frobnicate"], "invalid choice"),
        (["show", "starts_with", "--seed", "x"], "invalid int value"),
    ],
)
def test_cli_bad_arguments_exit_2_with_choices(argv, needle, capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(argv)
    assert info.value.code == 2
    assert needle in capsys.readouterr().err


def test_cli_as_a_module_has_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "delta_core.tasks", "show", "numerical_operations", "--level", "bogus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "choose from easy, medium, hard" in result.stderr


def test_writes_are_atomic(tmp_path, monkeypatch):
    target = tmp_path / "data.jsonl"
    write_jsonl(target, [{"a": 1}])
    before = target.read_bytes()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the run dies between writing the temp file and renaming it

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_jsonl(target, [{"a": 2}, {"b": 3}])
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]  # the temp file is cleaned up
    monkeypatch.undo()
    atomic_write_text(tmp_path / "sub" / "x.txt", "hello")
    assert (tmp_path / "sub" / "x.txt").read_text() == "hello"
    assert read_jsonl(target) == [{"a": 1}]


def test_write_ensemble_and_metadata(tmp_path, builds):
    paths = write_ensemble(builds["symm"], tmp_path)
    assert [p.name for p in paths] == ["symm_train.jsonl", "symm_test.jsonl", "symm_metadata.json"]
    meta = ensemble_metadata(builds["symm"])
    assert json.loads(paths[2].read_text()) == meta and meta["total_count"] == 100
    assert read_jsonl(paths[0]) == [] and len(read_jsonl(paths[1])) == 100


# --- datasets.Dataset for GRPO -----------------------------------------------------------------


def _completion(solution: str) -> list[dict]:
    return [{"role": "assistant", "content": f"Here it is:\n```manufactoria\n{solution}\n```"}]


@pytest.mark.parametrize("as_json", [False, True])
def test_to_dataset_rows_feed_the_reward_functions(builds, as_json):
    import datasets  # the cpu extra
    problems = [p for p, _ in builds["basic_mix"].test[:4]] + [p for p, _ in builds["add"].test[:2]]
    ds = to_dataset(problems, ground_truth_as_json=as_json)
    assert isinstance(ds, datasets.Dataset) and len(ds) == 6
    assert set(ds.column_names) == {
        "prompt", "ground_truth", "id", "problem_family", "name", "difficulty", "solution",
    }  # fmt: skip
    for row, p in zip(ds, problems):
        assert row["prompt"] == [{"role": "user", "content": build_prompt(p)}]
        gt = json.loads(row["ground_truth"]) if as_json else row["ground_truth"]
        assert gt == p.tests()  # Arrow gives back exactly the test-case dicts
        assert row["id"] == p.id and row["problem_family"] == p.family and row["solution"] == p.solution
        assert dense_reward([_completion(row["solution"])], [row["ground_truth"]]) == [1.0]
    batch = ds[:6]
    assert binary_reward([_completion(s) for s in batch["solution"]], batch["ground_truth"]) == [1.0] * 6
    accept_all = _completion("START start:\n    NEXT end\nEND end")
    assert dense_reward([accept_all], [ds[0]["ground_truth"]])[0] < 1.0


def test_to_dataset_from_written_records(tmp_path, builds):
    write_ensemble(builds["fdiv"], tmp_path)
    ds = to_dataset(read_jsonl(tmp_path / "fdiv_test.jsonl"))
    assert len(ds) == 7 and ds[0]["problem_family"] == "numerical_operations"
    assert dense_reward([_completion(ds[0]["solution"])], [ds[0]["ground_truth"]]) == [1.0]
