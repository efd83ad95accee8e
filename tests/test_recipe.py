"""delta_core.experiments.recipe (issue 20): settings, the curriculum's data order, each claim's verdict from
metric lines, and real tiny runs (a curriculum, a run continued past its budget) from DELTA-mini v2's base."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from delta_core.artifacts import read_json, read_jsonl, write_json
from delta_core.experiments import recipe as R

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "book" / "results" / "delta_mini_v2"


def test_settings_are_checked_with_the_rule_and_the_fix():
    with pytest.raises(ValueError, match=r"arms=.*'nope'.*unknown"):
        R.RecipeExperiment(arms=["nope"])
    with pytest.raises(ValueError, match="bridge_steps=160: must be in"):
        R.RecipeExperiment(bridge_steps=160)
    with pytest.raises(ValueError, match="long_steps=100: must be > steps=160"):
        R.RecipeExperiment(long_steps=100)
    with pytest.raises(ValueError, match=r"unknown RecipeExperiment field\(s\) \['stepz'\]"):
        R.RecipeExperiment.from_dict({"stepz": 3})
    with pytest.raises(FileNotFoundError, match="needs experiment.json and base/"):
        R._mini(R.RecipeExperiment(mini="/nonexistent"))


def test_every_arm_but_its_one_change_is_the_plain_control():
    # the fixed-switch arms must not keep the rule's full-pass trigger (with switch_on="full_pass" a
    # switch_step is only a cap, and every one of them would switch with the rule at step 10)
    for n in (30, 60, 100):
        assert R.ARMS[f"switch_{n}"]["overrides"] == {"switch_on": "dense_mean", "switch_threshold": None, "switch_step": n}
    assert R.ARMS["replay"]["overrides"] == {"replay": True}
    assert R.ARMS["feedback"]["overrides"] == {"feedback_max_iterations": 1}
    assert {R.ARMS[a]["pilot"] for a in ("binary", "rule")} == {"binary", "dense_then_binary"}


def test_curriculum_rows_come_in_step_order():
    from delta_core.tasks import generate

    bridge = generate("contains_ordered", "medium", "two_color", n=5, seed=0)
    train = generate("ends_with", "medium", "two_color", n=7, seed=0)
    held = train[:2]
    data, evals = R.curriculum_datasets(bridge, "bridge", train, held, "target", bridge_steps=3, steps=8, per_step=4)
    assert data["level"] == ["bridge"] * 12 + ["target"] * 20
    assert "subsequence" in data[0]["prompt"][0]["content"] and "ends with" in data[12]["prompt"][0]["content"]
    # each pool is used whole before any problem repeats
    assert len({r["prompt"][0]["content"] for r in data.select(range(5))}) == 5
    assert evals["level"] == ["target", "target"]


def _records(curve, steps=None, binary_from=None, full=0.1, feedback=None):
    steps = steps or curve[-1][0]
    trains = [{"kind": "train", "step": s, "phase": "binary" if binary_from is not None and s > binary_from else "dense",
               "binary_mean": full, "dense_mean": 0.8, "entropy": 0.02, "completion_length": 120,
               "replayed_samples": 0, "feedback_samples": feedback} for s in range(1, steps + 1)]
    return trains + [{"kind": "eval", "step": s, "pass@1": p} for s, p in curve]


def _curve(rise_at, final, steps=160):
    return [(s, 0.01 if s < rise_at else final) for s in range(0, steps + 1, 10)]


def test_run_stats_reads_grok_step_final_regressions_and_switch():
    records = _records([(0, 0.0), (10, 0.05), (20, 0.12), (30, 0.08), (40, 0.2), (50, 0.3)], binary_from=10)
    stats = R.run_stats(records, 50)
    assert stats["grok_step"] == 20 and stats["switch_step"] == 10 and stats["regressions"] == 1
    assert stats["final"] == pytest.approx((0.08 + 0.2 + 0.3) / 3)
    assert R.run_stats(records, 20)["curve"][-1] == (20, 0.12)  # a longer run is judged on the budget


def test_run_stats_reads_coverage_at_the_largest_k():
    records = _records([(0, 0.0), (10, 0.05), (20, 0.12), (30, 0.08)])
    assert R.run_stats(records, 30)["coverage_final"] is None  # no pass@k beyond k=1: no coverage
    for r, p32 in zip((r for r in records if r["kind"] == "eval"), (0.125, 0.25, 0.5, 0.375)):
        r.update({"pass@32": p32, "pass@4": 0.9})
    stats = R.run_stats(records, 30)
    assert stats["coverage_k"] == 32 and stats["coverage_first"] == 0.125
    assert stats["coverage_final"] == pytest.approx((0.25 + 0.5 + 0.375) / 3)


def _stats(rise_at, final, seeds=(0, 1, 2)):
    return {seed: R.run_stats(_records(_curve(rise_at, final)), 160) for seed in seeds}


def _verdicts(stats, long_runs=None, ordered=None, detector="committed"):
    """The verdicts from `stats`, the long arm's per-seed `collapse` (`long_runs`) and, when given, the
    long_ordered arm's (`ordered`); without it the recipe has no long_ordered arm. `detector`: C15's positive
    control, by default the committed pilot run that collapsed."""
    arms = [a for a in R.ARMS if ordered is not None or a != "long_ordered"]
    recipe = R.RecipeExperiment(mini=str(MINI), arms=arms)
    detector = R._detector(MINI) if detector == "committed" else detector
    return R._verdicts(stats, {"long": long_runs or {}, "long_ordered": ordered or {}}, recipe, None, detector)


def test_replay_and_feedback_verdicts_follow_the_fixed_criteria():
    plain = _stats(rise_at=80, final=0.2)
    # C6: earlier and ends lower -> reproduced; same time and level -> inconclusive; later -> refuted
    assert _verdicts({"rule": plain, "replay": _stats(40, 0.15)})["C6"]["status"] == "reproduced"
    assert _verdicts({"rule": plain, "replay": _stats(40, 0.2)})["C6"]["status"] == "partly"
    assert _verdicts({"rule": plain, "replay": _stats(80, 0.2)})["C6"]["status"] == "inconclusive"
    assert _verdicts({"rule": plain, "replay": _stats(120, 0.2)})["C6"]["status"] == "refuted"
    # a seed that never reaches the grok level counts as later than the budget, not as missing
    assert _verdicts({"rule": plain, "replay": _stats(999, 0.05)})["C6"]["earlier"] is False
    # C7 reads regressions: a curve that drops after its rise is less stable
    bumpy = {s: R.run_stats(_records([(x, 0.01 if x < 40 else (0.2 if (x // 10) % 2 else 0.1)) for x in range(0, 161, 10)]), 160)
             for s in (0, 1, 2)}
    c7 = _verdicts({"rule": plain, "feedback": bumpy})["C7"]
    assert c7["status"] == "reproduced" and c7["more regressions"] is True
    # an arm short of a seed is not judged
    assert _verdicts({"rule": plain, "replay": _stats(40, 0.15, seeds=(0, 1))})["C6"]["status"] == "not run"


def test_curriculum_and_collapse_verdicts():
    aligned, misaligned = _stats(60, 0.25), _stats(60, 0.1)
    assert _verdicts({"curriculum_aligned": aligned, "curriculum_misaligned": misaligned})["C8"]["status"] == "reproduced"
    assert _verdicts({"curriculum_aligned": misaligned, "curriculum_misaligned": aligned})["C8"]["status"] == "refuted"
    assert _verdicts({"curriculum_aligned": _stats(60, 0.11), "curriculum_misaligned": misaligned})["C8"]["status"] == "inconclusive"

    def long_run(collapses):
        trains = [{"kind": "train", "step": s, "binary_mean": (0.4 if s < 250 or not collapses else 0.05),
                   "entropy": 0.01, "completion_length": 120} for s in range(1, 401)]
        return R.collapse(trains + [{"kind": "eval", "step": 400, "pass@1": 0.1}], budget=160)

    fallen = long_run(True)
    assert fallen["collapsed"] and 250 <= fallen["fell_at"] <= 260 and fallen["last_step"] == 400
    assert long_run(False)["collapsed"] is False
    assert _verdicts({}, {0: fallen, 1: fallen, 2: long_run(False)})["C15"]["status"] == "reproduced"
    assert _verdicts({}, {0: long_run(False), 1: long_run(False), 2: long_run(False)})["C15"]["status"] == "refuted"
    assert _verdicts({}, {0: fallen})["C15"]["status"] == "not run"
    # runs still improving at their end never got past convergence: not a test of the claim (inconclusive),
    # while collapses still count
    rising = R.collapse([{"kind": "train", "step": s, "binary_mean": s / 1000, "entropy": 0.01, "completion_length": 120}
                         for s in range(1, 401)], budget=160)
    assert rising["peak_step"] == 400 and rising["collapsed"] is False
    c15 = _verdicts({}, {s: rising for s in (0, 1, 2)})["C15"]
    assert c15["status"] == "inconclusive" and "precondition not met: 0 of 3" in c15["reason"]
    assert "not shown past convergence, so not a test of the claim" in R.describe_verdict("C15", c15)
    assert c15["reason"].startswith("long: precondition not met")
    assert _verdicts({}, {0: fallen, 1: fallen, 2: rising})["C15"]["status"] == "reproduced"
    # the fidelity line names the seeds that fell and where, and entropy and length at the peak and the end
    c15 = _verdicts({}, {0: fallen, 1: fallen, 2: long_run(False)})["C15"]
    line = R.describe_verdict("C15", c15)
    assert line.startswith("the positive control (ends_with/medium), the rule's runs continued: reproduced: "
                           "2 of 3 seeds collapsed within 400 steps")
    assert f"seed 0: training full-pass below half its peak from step {fallen['fell_at']}; seed 1:" in line
    assert f"seed 1: training full-pass below half its peak from step {fallen['fell_at']})" in line and "seed 2:" not in line
    assert "40.0% at the others' budget (step 160)" in line and "entropy 0.0100 → 0.0100" in line and "output length 120 → 120 tokens" in line
    assert "below half" not in R.describe_verdict("C15", _verdicts({}, {s: long_run(False) for s in (0, 1, 2)})["C15"])
    # a run whose training holds but whose last held-out evaluation falls under half its best collapses too,
    # and the line says that it was the held-out evaluation
    held = R.collapse([{"kind": "train", "step": s, "binary_mean": 0.4, "entropy": 0.01, "completion_length": 120} for s in range(1, 401)]
                      + [{"kind": "eval", "step": 200, "pass@1": 0.12}, {"kind": "eval", "step": 400, "pass@1": 0.05}], budget=160)
    assert held["collapsed"] and held["fell_at"] is None
    line = R.describe_verdict("C15", _verdicts({}, {0: held, 1: long_run(False), 2: long_run(False)})["C15"])
    assert "partly: 1 of 3 seeds collapsed" in line and "seed 0: last held-out pass@1 5.0%, under half its best 12.0%" in line
    # C15 over its two arms, as fixed in CRITERIA before the long_ordered runs: the strongest status wins (one arm
    # showing a collapse is enough; "refuted" needs an arm past its peak and no collapse anywhere), and while an
    # arm runs, anything short of "reproduced" reads "inconclusive" with what it waits for
    ordered = lambda run: {s: R.collapse([dict(r) for r in run], budget=160) for s in (0, 1, 2)}  # noqa: E731
    flat = [{"kind": "train", "step": s, "binary_mean": 0.9, "entropy": 0.01, "completion_length": 120} for s in range(1, 301)]
    drop = [dict(r, binary_mean=0.1) if r["step"] > 200 else r for r in flat]
    risen = {s: rising for s in (0, 1, 2)}
    both = lambda long, other: _verdicts({}, long, ordered(other))["C15"]  # noqa: E731
    assert both(risen, flat)["status"] == "refuted" and both(risen, drop)["status"] == "reproduced"
    assert both({s: fallen for s in (0, 1, 2)}, flat)["status"] == "reproduced"
    assert both({0: fallen, 1: long_run(False), 2: long_run(False)}, flat)["status"] == "partly"
    assert both({s: long_run(False) for s in (0, 1, 2)}, flat)["status"] == "refuted"
    rising300 = [dict(r, binary_mean=r["step"] / 1000) for r in flat]
    c15 = both(risen, rising300)
    assert c15["status"] == "inconclusive" and "long_ordered: precondition not met" in c15["reason"]
    assert set(c15["arms"]) == {"long", "long_ordered"} and c15["arms"]["long_ordered"]["steps"] == 300
    line = R.describe_verdict("C15", both(risen, drop))
    assert " | contains_ordered/medium: reproduced: 3 of 3 seeds collapsed within 300 steps (140 past" in line
    # C15's positive control: the committed lr-5e-4 pilot, whose held-out pass@1 fell to 0, is flagged by the same
    # rule; a rule that flagged nothing could not refute, so without a firing detector "refuted" is "inconclusive"
    check = both(risen, flat)["detector"]
    assert check["collapsed"] is True and check["run"] == "pilots/control_binary_lr0.0005_s0" and check["fell_at"] == 11
    assert "flags its positive control, a run that did collapse" in R.describe_verdict("C15", both(risen, flat))
    unflagged = _verdicts({}, risen, ordered(flat), detector=R.collapse(flat))["C15"]
    assert unflagged["status"] == "inconclusive" and "did not flag its positive control" in unflagged["reason"]
    assert "does NOT flag" in R.describe_verdict("C15", unflagged)
    assert _verdicts({}, risen, ordered(drop), detector=None)["C15"]["status"] == "reproduced"  # a collapse needs no detector check
    # while long_ordered runs, a refutation waits, a reproduction does not
    waiting = _verdicts({}, {s: long_run(False) for s in (0, 1, 2)}, {0: R.collapse(flat)})["C15"]
    assert waiting["status"] == "inconclusive" and "long_ordered not finished (runs finished: [0] of [0, 1, 2])" in waiting["reason"]
    assert _verdicts({}, {s: fallen for s in (0, 1, 2)}, {0: R.collapse(flat)})["C15"]["status"] == "reproduced"
    assert "contains_ordered/medium: not finished" in R.describe_verdict("C15", waiting)
    c8 = _verdicts({"curriculum_aligned": aligned, "curriculum_misaligned": misaligned, "binary": aligned})["C8"]
    assert "aligned above in 3 of 3 seeds" in R.describe_verdict("C8", c8)


def test_c10_reads_the_target_arm_and_waits_for_every_seed(tmp_path):
    mini = tmp_path / "mini"
    write_json(mini / "experiment.json", {"seeds": [0, 1], "target": "contains_substring/medium"})
    assert R.c10_from_target(mini) is None
    for seed in (0, 1):
        run = mini / "runs" / f"dense_then_binary_s{seed}"
        write_json(run / "after.json", {})
        (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in _records([(0, 0.0), (10, 0.0)], binary_from=5, full=0.0)))
    assert R.c10_from_target(mini)["status"] == "reproduced"
    (mini / "runs" / "dense_then_binary_s1" / "metrics.jsonl").write_text(
        "\n".join(json.dumps(r) for r in _records([(0, 0.0), (10, 0.2)], binary_from=5, full=0.0)))
    assert R.c10_from_target(mini)["status"] == "refuted"


@pytest.fixture(scope="module")
def tiny_mini(tmp_path_factory):
    """DELTA-mini v2's committed base with a step made tiny (2 prompts x 2 samples, short completions)."""
    mini = tmp_path_factory.mktemp("mini")
    R.tiny_setting(mini, MINI)
    return mini


def test_real_runs_a_curriculum_and_a_run_continued_past_its_budget(tiny_mini, tmp_path):
    recipe = R.RecipeExperiment(mini=str(tiny_mini), mini_work=str(tmp_path / "mini_work"), steps=4, bridge_steps=2,
                                long_steps=6, seeds=[0])
    out, work = tmp_path / "out", tmp_path / "work"
    with pytest.raises(FileNotFoundError, match="the rule's finished run is not there"):
        R.run_arm(recipe, out, "long", 0, work, progress=False)
    rule = R.run_arm(recipe, out, "rule", 0, work, progress=False)
    long = R.run_arm(recipe, out, "long", 0, work, progress=False)
    steps = [r["step"] for r in long if r["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]  # the rule's 4 steps, then 2 more from its checkpoint
    assert [r for r in long if r["kind"] == "train"][:4] == [r for r in rule if r["kind"] == "train"]
    R.run_arm(recipe, out, "curriculum_aligned", 0, work, progress=False)
    config = read_json(work / "curriculum_aligned_s0" / "train_config.json")
    assert config["ordered_data"] is True and config["schedule"] == "binary"
    summary = R.summarize(recipe, out)
    assert summary["progress"] == {"rule": {0: 4}, "curriculum_aligned": {0: 4}, "long": {0: 6}}
    assert read_jsonl(out / "runs" / "long_s0" / "metrics.jsonl")[-1]["step"] == 6
    assert summary["long"]["0"]["replays_rule"] is True and summary["long"]["0"]["diverges_at"] is None
    # a new checkout has the rule's committed metrics but not its checkpoints: the long run is trained again
    # from step 0, and it is the same run (same seed, constant lr)
    shutil.rmtree(tmp_path / "mini_work")
    shutil.rmtree(out / "runs" / "long_s0")
    again = R.run_arm(recipe, out, "long", 0, tmp_path / "work2", progress=False)
    assert [r["step"] for r in again if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert R.summarize(recipe, out)["long"]["0"]["replays_rule"] is True


def test_replays_compares_rewards_loss_and_entropy_not_timings():
    rule = [{"kind": "train", "step": 1, "dense_mean": 0.5, "binary_mean": 0.0, "loss": 0.1, "entropy": 0.3, "step_time": 9.0}]
    same = [{**rule[0], "step_time": 3.0}, {**rule[0], "step": 2, "binary_mean": 0.5}]
    assert R.replays(same, rule) is True
    assert R.replays([{**rule[0], "loss": 0.2}], rule) is False
    assert R.replays(same, None) is None
    assert R.diverges_at(same, rule) is None and R.diverges_at(same, None) is None
    drifted = [*same[:1], {**rule[0], "step": 2, "binary_mean": 0.5}, {**rule[0], "step": 3, "loss": 0.7}]
    assert R.diverges_at(drifted, [*rule, {**rule[0], "step": 2, "binary_mean": 0.25}, {**rule[0], "step": 3}]) == 2


def test_a_bad_recipe_json_is_one_line_naming_the_field(tmp_path):
    from tests.test_cli_errors import assert_one_line_error, module

    write_json(tmp_path / "recipe.json", {"steps": 160, "bridge_steps": 0})
    assert_one_line_error(module("delta_core.experiments.recipe", "summary", str(tmp_path)),
                          "python -m delta_core.experiments.recipe", "bridge_steps=0", "must be in")
    write_json(tmp_path / "recipe.json", {"mini": str(tmp_path / "none")})
    assert_one_line_error(module("delta_core.experiments.recipe", "summary", str(tmp_path)),
                          "python -m delta_core.experiments.recipe", "needs experiment.json and base/")


def test_an_arm_on_a_family_the_base_never_saw_is_refused_naming_it(tiny_mini, tmp_path, monkeypatch):
    # the long_ordered and curriculum arms train on problems the base saw in SFT: a family outside the seen list
    # is a one-line error naming the arm, the family and the seen list, before any training
    recipe = R.RecipeExperiment(mini=str(tiny_mini), mini_work=str(tmp_path / "mw"), steps=2, bridge_steps=1, long_steps=3,
                                long_ordered_steps=3, seeds=[0])
    monkeypatch.setitem(R.ARMS, "long_ordered", {**R.ARMS["long_ordered"], "family": "prepend_sequence/basic"})
    monkeypatch.setitem(R.ARMS, "curriculum_aligned", {**R.ARMS["curriculum_aligned"], "bridge": "prepend_sequence/basic"})
    with pytest.raises(ValueError, match=r"arm 'long_ordered': its family prepend_sequence/basic is not one of .*seen families"):
        R.run_arm(recipe, tmp_path / "out", "long_ordered", 0, tmp_path / "work", progress=False)
    with pytest.raises(ValueError, match=r"arm 'curriculum_aligned': its bridge prepend_sequence/basic .*the bridge stage trains"):
        R.run_arm(recipe, tmp_path / "out", "curriculum_aligned", 0, tmp_path / "work", progress=False)
    assert not (tmp_path / "work").exists()


def test_a_run_from_the_command_line_records_the_commit_it_started_from(tiny_mini, tmp_path, monkeypatch):
    # a long run can end after later commits: its provenance names the code it ran, HEAD at its end beside it
    commits = iter(["started-here", "ended-here"])
    monkeypatch.setattr(R, "git_commit", lambda: next(commits))
    monkeypatch.setattr("delta_core.artifacts.git_commit", lambda: next(commits))
    out = tmp_path / "out"
    write_json(out / "recipe.json", {"mini": str(tiny_mini), "mini_work": str(tmp_path / "mw"), "steps": 2, "bridge_steps": 1,
                                     "long_steps": 3, "long_ordered_steps": 3, "seeds": [0], "arms": ["long_ordered"]})
    assert R.main(["run", str(out), "long_ordered", "--work", str(tmp_path / "work")]) == 0
    record = read_json(out / "provenance" / "long_ordered_s0.json")
    assert record["git_commit"] == "started-here" and record["git_commit_at_end"] == "ended-here"
    assert record["params"]["recipe"]["long_ordered_steps"] == 3
    assert [r["step"] for r in read_jsonl(out / "runs" / "long_ordered_s0" / "metrics.jsonl") if r["kind"] == "train"] == [1, 2, 3]


def test_the_feedback_arm_trains_its_loss_in_micro_batches_with_one_optimizer_step_a_generation(tiny_mini, tmp_path):
    recipe = R.RecipeExperiment(mini=str(tiny_mini), mini_work=str(tmp_path / "mini_work"), steps=2, bridge_steps=1,
                                long_steps=3, seeds=[0])
    lines = R.run_arm(recipe, tmp_path / "out", "feedback", 0, tmp_path / "work", progress=False)
    config = read_json(tmp_path / "work" / "feedback_s0" / "train_config.json")
    completions = config["generation_batch_size"]
    assert config["per_device_train_batch_size"] * R.ARMS["feedback"]["loss_micro_batches"] == completions
    assert [r["step"] for r in lines if r["kind"] == "train"] == [1, 2]  # optimizer steps, not micro-batches
    assert all(r.get("feedback_samples") is not None for r in lines if r["kind"] == "train")


def test_loss_pieces_divide_the_generation_batch():
    assert R.loss_pieces(128, 4) == 4
    assert R.loss_pieces(6, 4) == 3      # 4 does not divide 6: the largest count that does
    assert R.loss_pieces(7, 4) == 1      # a prime batch: one piece
    assert R.loss_pieces(128, 1) == 1


def test_spearman_handles_ties_and_constants():
    assert R.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert R.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert R.spearman([0, 0, 10, 10], [1, 2, 3, 4]) == pytest.approx(0.8944, abs=1e-4)  # tied ranks averaged
    assert R.spearman([1, 1, 1], [1, 2, 3]) is None


def _switched(switch_at, rise_at, final, seeds=(0, 1, 2)):
    return {seed: R.run_stats(_records(_curve(rise_at, final + 0.01 * seed), binary_from=switch_at), 160)
            for seed in seeds}


def test_switch_timing_reads_the_order_fixed_before_the_last_arms():
    """Each reading can come out: earlier better, later better, no clear order; and it waits for every arm."""
    arms = ["binary", "rule", "switch_30", "switch_60", "switch_100", "switch_dense"]
    at = {"binary": 0, "rule": 10, "switch_30": 30, "switch_60": 60, "switch_100": 100, "switch_dense": 50}

    def verdict(final_of, rise_of):
        stats = {a: _switched(at[a], rise_of(at[a]), final_of(at[a])) for a in arms}
        return _verdicts(stats)["switch_timing"]

    early = verdict(lambda s: 0.3 - 0.002 * s, lambda s: 40 + s)
    assert early["status"] == "measured" and early["order"]["final"] == "earlier is better"
    assert early["order"]["grok_step"] == "earlier is better" and early["order"]["best_arm"] == "binary"
    assert early["order"]["worst_arm"] == "switch_100" and early["order"]["best_and_worst_apart"] is True
    assert "final level: earlier is better (Spearman -0.9" in early["text"]
    late = verdict(lambda s: 0.1 + 0.002 * s, lambda s: 150 - s)
    assert late["order"]["final"] == "later is better" and late["order"]["grok_step"] == "later is better"
    flat = verdict(lambda s: 0.2, lambda s: 60)
    assert flat["order"]["final"] == "no clear order" and flat["order"]["best_and_worst_apart"] is False
    waiting = _verdicts({a: _switched(at[a], 60, 0.2) for a in arms[:3]})["switch_timing"]
    assert waiting["status"] == "not run" and "order" not in waiting


def test_training_full_pass_plot_smooths_each_run_then_averages_the_seeds():
    """The left panel of chapter 4c's switch figure: per run a 10-step rolling mean, then the seeds' mean."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from delta_core.experiments import recipe_report

    rows = [{"arm": "binary", "seed": seed, "label": recipe_report.LABELS["binary"], "step": step,
             "binary_mean": (1.0 if step % 2 else 0.0) if seed == 0 else 0.2} for seed in (0, 1) for step in range(1, 21)]
    ax = recipe_report.plot_train_full_pass(pd.DataFrame(rows), ["binary", "rule"])
    (line,) = [line for line in ax.get_lines() if len(line.get_xdata()) == 20]
    # seed 0 alternates 0/1 (its 10-step mean is 0.5 from step 10 on), seed 1 is 0.2: their mean is 0.35
    assert list(line.get_ydata())[-1] == pytest.approx(0.35)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [recipe_report.LABELS["binary"]]
    empty = recipe_report.plot_train_full_pass(pd.DataFrame(), ["binary"])
    assert empty.get_ylabel() == "training full-pass (10-step mean)"
