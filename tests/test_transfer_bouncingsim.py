"""The CPU-scale BouncingSim transfer runner (delta_core.experiments.transfer_bouncingsim): resume logic,
outputs, verdicts, tokenizer and prompts. The training itself is exercised by the book chapter."""

from __future__ import annotations

import json

import pytest

from delta_core.bouncingsim import generate_scene
from delta_core.experiments import transfer_bouncingsim as tm
from delta_core.bouncingsim.expr import parse


def _fake_piece(calls):
    def piece(split, seed, config, cache, progress=None):
        calls.append((split, seed))
        rows = []
        for axis, cells in tm._cells_for(split).items():
            for family, level in cells:
                for stage, value in (("before", 0.0), ("after", 0.5 if axis != "transformative" else 0.0)):
                    rows.append({"axis": axis, "train_split": split, "test_family": family, "test_level": level,
                                 "seed": seed, "stage": stage, "n_problems": 2, "k": 4, "pass@1": value,
                                 "pass@k": value, "dense_mean": value, "problem_pass1": [value, value]})
        return {"split": split, "seed": seed, "rows": rows, "train_log": [], "wall_s": 1.0}
    return piece


def test_resume_skips_finished_pieces(tmp_path):
    calls: list = []
    config = tm.MiniTransferConfig(seeds=(0, 1))
    tm.run(tmp_path, config, cache=str(tmp_path / "cache"), command="test", piece_fn=_fake_piece(calls))
    assert sorted(calls) == [("ab", 0), ("ab", 1), ("basic6", 0), ("basic6", 1), ("bcd", 0), ("bcd", 1)]

    calls.clear()
    tm.run(tmp_path, config, cache=str(tmp_path / "cache"), piece_fn=_fake_piece(calls))
    assert calls == []  # everything finished: nothing reruns

    (tmp_path / "pieces" / "bcd_seed1.json").unlink()
    result = tm.run(tmp_path, config, cache=str(tmp_path / "cache"), piece_fn=_fake_piece(calls))
    assert calls == [("bcd", 1)]
    assert result["provenance"]["last_run"]["pieces"] == ["bcd_seed1"]
    again = tm.run(tmp_path, config, cache=str(tmp_path / "cache"), piece_fn=_fake_piece(calls))
    assert again["provenance"]["last_run"]["pieces"] == ["bcd_seed1"]  # a rewrite keeps the last real run
    assert result["provenance"]["command"] == "test"  # kept from the first invocation

    calls.clear()
    changed = tm.MiniTransferConfig(seeds=(0,), splits=("bcd",), grpo_steps=7)
    tm.run(tmp_path, changed, cache=str(tmp_path / "cache"), piece_fn=_fake_piece(calls))
    assert calls == [("bcd", 0)]  # other parameters: that piece is not reused
    assert json.loads((tmp_path / "pieces" / "bcd_seed0.json").read_text())["config"]["grpo_steps"] == 7
    assert tm._cells_for("ab") == {"id": (("A", 0), ("B", 0)), "compositional": (("AB", 0),)}

    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {r["axis"] for r in rows} == {"id", "exploratory", "compositional", "transformative"}
    assert {r["seed"] for r in rows} == {0, 1}
    for key in ("axis", "train_split", "test_family", "seed", "stage", "n_problems", "k", "pass@1", "pass@k",
                "dense_mean"):
        assert all(key in r for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exploratory"]["verdict"] == "reproduced"
    assert set(summary["exploratory"]["by_level"]) == {"1", "2", "3", "4"} and "gain by level" in summary["exploratory"]["why"]
    assert summary["compositional"]["after_pass1"] == pytest.approx(0.5)
    # AB is tested after both basic6 and ab: the pairs of the two splits are kept apart
    assert summary["compositional"]["n"] == 2 * 2 * (len(tm.AXES["compositional"]["train"]["basic6"]) + 1)
    assert summary["transformative"]["verdict"] == "reproduced"  # no gain: the paper's C14
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert provenance["machine"]["cpu_count"] >= 1 and "params" in provenance
    assert not list((tmp_path / "pieces").glob("*.tmp*"))


def test_verdicts():
    assert tm.verdict("compositional", 0.1, 0.4, 0.2, 0.4)[0] == "reproduced"
    assert tm.verdict("compositional", 0.4, 0.1, -0.4, -0.2)[0] == "refuted"
    assert tm.verdict("exploratory", 0.1, 0.12, -0.05, 0.09)[0] == "inconclusive"
    assert tm.verdict("exploratory", 0.1, 0.1, -0.02, 0.02)[0] == "refuted"  # rules out a real gain
    assert tm.verdict("transformative", 0.1, 0.5, 0.3, 0.5)[0] == "refuted"
    assert tm.verdict("transformative", 0.05, 0.0, -0.1, -0.02)[0] == "reproduced"  # ~0 before and after
    assert tm.verdict("transformative", 0.1, 0.2, -0.1, 0.3)[0] == "inconclusive"
    assert tm.verdict("id", 0.45, 0.58, 0.1, 0.16)[0] == "partly"


def test_transformative_drop_from_a_base_that_already_passes_is_not_comparable():
    """C14's flattering case: a base at 56% that drops to 44% 'rules out a gain', yet the paper's ~0% is
    for a base near 0. The drop is forgetting: not comparable, never reproduced."""
    assert tm.verdict("transformative", 0.56, 0.44, -0.21, -0.05)[0] == "not comparable"
    assert tm.verdict("transformative", 0.3, 0.1, -0.3, -0.1)[0] == "not comparable"


def test_verdicts_use_the_books_vocabulary():
    from delta_core.experiments.fidelity import STATUSES

    cases = [(0.1, 0.4, 0.2, 0.4), (0.4, 0.1, -0.4, -0.2), (0.1, 0.12, -0.05, 0.09), (0.56, 0.44, -0.2, -0.05),
             (0.0, 0.6, 0.4, 0.8), (0.45, 0.58, 0.1, 0.16)]
    for axis in ("id", "exploratory", "compositional", "transformative"):
        for case in cases:
            assert tm.verdict(axis, *case)[0] in STATUSES


def test_program_prior_parses_and_tokenizes():
    tok = tm.build_tokenizer()
    for program in tm.PROGRAM_PRIOR:
        parse(program)
        ids = tok(program, add_special_tokens=False)["input_ids"]
        assert tok.unk_token_id not in ids
        assert tok.decode(ids) == program
    assert len(set(tm.PROGRAM_PRIOR)) == len(tm.PROGRAM_PRIOR)


def test_scene_prompt_tags():
    assert tm.scene_prompt(generate_scene("CD", 0, 0)).endswith("box moves. gravity. sides "
                                                                 f"{generate_scene('CD', 0, 0).containers[0].sides}.")
    assert "balls" in tm.scene_prompt(generate_scene("G", 0, 0))
    assert tm.scene_prompt(generate_scene("H", 1, 0)).splitlines()[1] == "sides 8."


def test_config_checks():
    with pytest.raises(ValueError, match="reward"):
        tm.MiniTransferConfig(reward="sometimes")
    with pytest.raises(ValueError, match="splits"):
        tm.MiniTransferConfig(splits=("nope",))
