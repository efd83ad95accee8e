"""Manufactoria transfer summaries (delta_core.experiments.transfer_manufactoria): intervals and verdicts from result rows."""

import json

from delta_core.artifacts import drop_torn_tail, read_jsonl
from delta_core.experiments import transfer_manufactoria


def _row(axis, family, stage, seed, passes, k=4):
    return {"axis": axis, "train_split": "contains_substring/medium (dense_then_binary)", "test_family": family,
            "seed": seed, "stage": stage, "n_problems": len(passes), "k": k, "pass@1": sum(passes) / (k * len(passes)),
            "pass@k": sum(c > 0 for c in passes) / len(passes), "dense_mean": 0.5, "per_problem_c": passes,
            "problem_pass1": [c / k for c in passes]}


def _write(tmp_path, rows):
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_clear_gain_is_reproduced_and_no_gain_is_not(tmp_path):
    rows = [_row("exploratory", "contains_ordered/medium", "before", None, [0] * 12)]
    rows += [_row("exploratory", "contains_ordered/medium", "after", s, [4, 3, 4, 4, 3, 4, 4, 4, 3, 4, 4, 4]) for s in (0, 1, 2)]
    rows += [_row("compositional", "not_contains/easy", "before", None, [1, 0, 1, 0])]
    rows += [_row("compositional", "not_contains/easy", "after", s, [1, 0, 0, 1]) for s in (0, 1, 2)]
    rows += [_row("transformative", "prepend_sequence/easy", "before", None, [0] * 8)]
    rows += [_row("transformative", "prepend_sequence/easy", "after", s, [0] * 8) for s in (0, 1, 2)]
    _write(tmp_path, rows)
    summary = transfer_manufactoria.summarize_transfer(tmp_path)
    assert summary["exploratory"]["verdict"] == "reproduced"
    assert summary["exploratory"]["ci_low"] > 0.5
    assert summary["compositional"]["verdict"] == "inconclusive"  # the interval includes 0
    assert summary["compositional"]["ci_low"] <= 0 <= summary["compositional"]["ci_high"]
    assert summary["transformative"]["verdict"] == "reproduced"  # the paper's claim there is *no* transfer
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


def test_transfer_where_the_paper_finds_none_refutes_the_claim(tmp_path):
    rows = [_row("transformative", "numerical_comparison/easy", "before", None, [0] * 10)]
    rows += [_row("transformative", "numerical_comparison/easy", "after", s, [4] * 10) for s in (0, 1)]
    _write(tmp_path, rows)
    assert transfer_manufactoria.summarize_transfer(tmp_path)["transformative"]["verdict"] == "refuted"


def test_a_torn_last_line_is_dropped(tmp_path):
    good = _row("exploratory", "contains_count/medium", "before", None, [0, 1])
    (tmp_path / "results.jsonl").write_text(json.dumps(good) + "\n" + '{"axis": "explor')
    drop_torn_tail(tmp_path / "results.jsonl")
    assert read_jsonl(tmp_path / "results.jsonl") == [good]
    assert (tmp_path / "results.jsonl").read_text().endswith("\n")  # appends start on a fresh line


def test_no_verdict_on_transfer_when_rl_did_not_learn_its_own_family(tmp_path):
    rows = [_row("in_distribution", "contains_substring/medium", "before", None, [0] * 6)]
    rows += [_row("in_distribution", "contains_substring/medium", "after", s, [0] * 6) for s in (0, 1)]
    rows += [_row("transformative", "prepend_sequence/easy", "before", None, [0] * 8)]
    rows += [_row("transformative", "prepend_sequence/easy", "after", s, [0] * 8) for s in (0, 1)]
    _write(tmp_path, rows)
    summary = transfer_manufactoria.summarize_transfer(tmp_path)
    assert summary["in_distribution"]["verdict"] == "precondition"  # of the three others, not a claim
    assert summary["in_distribution"]["why"].startswith("not met")
    assert summary["transformative"]["verdict"] == "inconclusive"  # not "reproduced": nothing was learned
    assert "did not learn" in summary["transformative"]["why"]


def test_transformative_from_a_base_that_already_passes_is_not_comparable(tmp_path):
    """The paper's ~0% is for a base near 0: a drop from a base that already solves these problems is
    forgetting, and must not read as the claim reproduced."""
    rows = [_row("transformative", "prepend_sequence/easy", "before", None, [3] * 8)]
    rows += [_row("transformative", "prepend_sequence/easy", "after", s, [0] * 8) for s in (0, 1)]
    _write(tmp_path, rows)
    assert transfer_manufactoria.summarize_transfer(tmp_path)["transformative"]["verdict"] == "not comparable"
