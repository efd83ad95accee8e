"""delta_core.experiments.headline: the landing page's verdict, read from DELTA-mini v2 when it has
landed, else computed from the first attempt's committed summary and target tests."""

import json
import shutil
from pathlib import Path

import pytest

from delta_core.experiments import headline

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "book" / "results" / "delta_mini"


def v1_copy(root: Path, **base) -> Path:
    """The committed v1 summary and held-out target tests under a synthetic root, base fields overridden."""
    out = root / headline.V1_DIR
    out.mkdir(parents=True)
    summary = json.loads((V1 / "summary.json").read_text())
    summary["base"].update(base)
    (out / "summary.json").write_text(json.dumps(summary))
    shutil.copy(V1 / "held_out_target.jsonl", out / "held_out_target.jsonl")
    return out


def test_the_committed_first_attempt_is_inconclusive_with_its_reason():
    """Today's book (no v2 verdict committed): the verdict is computed, never 'refuted' and never a jump."""
    if (ROOT / headline.V2_VERDICT).is_file():
        pytest.skip("DELTA-mini v2 has written its verdict: the landing page shows that one")
    h = headline.grokking_headline(ROOT)
    assert h.source == "v1" and h.verdict == "inconclusive"
    assert h.numbers["runs"] == 9 and h.numbers["best_full_pass_max"] == 0.0
    assert "found no held-out full pass" in h.reason
    assert "precondition was not met" in h.reason and "could not read the target prompt" in h.reason
    assert f"{h.numbers['base_dense']:.2f}" in h.reason  # the number comes from the summary
    assert "DELTA-mini v2) is in progress" in h.reason


def test_a_base_that_reads_the_prompt_is_not_blamed(tmp_path):
    """The precondition is computed: a base scoring above accept-all and reject-all could read the
    question, and the reason must not say it could not."""
    v1_copy(tmp_path, target_dense_mean=0.75)
    h = headline.grokking_headline(tmp_path)
    assert "could not read" not in h.reason and "no held-out full pass" in h.reason
    v1_copy(tmp_path / "low", target_dense_mean=0.01)
    assert "could not read" in headline.grokking_headline(tmp_path / "low").reason


def test_the_v2_verdict_wins_when_present(tmp_path):
    v1_copy(tmp_path)
    path = tmp_path / headline.V2_VERDICT
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"verdict": "refuted", "reason": "no seed reached 10% after 300 binary steps",
                                "numbers": {"seeds": 3}}))
    h = headline.grokking_headline(tmp_path)
    assert (h.verdict, h.reason, h.numbers, h.source) == (
        "refuted", "no seed reached 10% after 300 binary steps", {"seeds": 3}, "v2")


@pytest.mark.parametrize("bad", [{"verdict": "reproduced", "reason": "x"}, {"verdict": "jump", "reason": ""}])
def test_a_malformed_v2_verdict_is_refused(tmp_path, bad):
    path = tmp_path / headline.V2_VERDICT
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError):
        headline.grokking_headline(tmp_path)


def test_nothing_saved_is_not_run(tmp_path):
    assert headline.grokking_headline(tmp_path).verdict == "not run"


def test_transfer_headline_uses_the_books_vocabulary():
    from delta_core.experiments.fidelity import STATUSES

    axes = headline.transfer_headline(ROOT)
    assert {a["claim"] for a in axes} == {"C11", "C12", "C13", "C14"}
    assert all(a["verdict"] in STATUSES for a in axes)
    assert headline.transfer_headline(Path("/nonexistent")) == []


def test_the_figure_caption_says_only_what_the_numbers_show(tmp_path):
    v1_copy(tmp_path, target_dense_mean=0.75)
    n = headline.first_attempt_numbers(tmp_path)
    caption = headline.first_attempt_caption(n)
    assert "could not read" not in caption  # this base scored above the constant answers
    assert "No run passed every test" in caption  # v1: 0 held-out full passes
    n["best_full_pass_max"] = 0.2
    assert "No run passed every test" not in headline.first_attempt_caption(n)
