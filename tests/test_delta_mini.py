"""DELTA-mini driver (delta_core.experiments.delta_mini): configuration, data splits, time-to-grok, summaries, resume."""

import json
import time

import pytest

from delta_core.experiments import delta_mini
from delta_core.artifacts import write_json
from delta_core.experiments.delta_mini import MiniExperiment, summarize, target_split, time_to_grok


def test_experiment_rejects_bad_fields_with_their_names():
    with pytest.raises(ValueError, match="target='ends_with'"):
        MiniExperiment(target="ends_with")
    with pytest.raises(ValueError, match="unseen"):
        MiniExperiment(target="starts_with/basic")
    with pytest.raises(ValueError, match="arms=.*'greedy'"):
        MiniExperiment(arms=["greedy"])
    with pytest.raises(ValueError, match="exactly one of `switch_step`"):
        MiniExperiment(switch_step=None)
    with pytest.raises(ValueError, match="unknown MiniExperiment field.*'steps'"):
        MiniExperiment.from_dict({"steps": 3})


def test_target_split_is_the_split_the_trainer_uses():
    from delta_core.train import build_datasets

    exp = MiniExperiment(held_out=6)
    train, held = target_split(exp)
    train_ds, eval_ds = build_datasets(delta_mini.rl_config(exp, model="unused"))
    assert len(held) == 6 == len(eval_ds)
    criteria = {p.criteria for p in held}
    assert all(c in {r["prompt"][-1]["content"].split("\n", 1)[1] for r in eval_ds} for c in criteria)
    assert not criteria & {p.criteria for p in train}


def test_seen_split_never_contains_the_target_family():
    exp = MiniExperiment()
    sft, held = delta_mini.seen_split(exp)
    assert {p.family for p in sft} == {s.split("/")[0] for s in exp.seen}
    assert exp.target.split("/")[0] not in {p.family for p in sft}
    assert all(len(v) == exp.seen_held_out for v in held.values())


def test_time_to_grok_is_the_first_crossing():
    evals = [{"step": 0, "pass@1": 0.0}, {"step": 10, "pass@1": 0.5}, {"step": 20, "pass@1": 0.95},
             {"step": 30, "pass@1": 0.7}, {"step": 40, "pass@1": 1.0}]
    assert time_to_grok(evals, 0.9) == 20
    assert time_to_grok(evals, 0.4) == 10
    assert time_to_grok(evals[:2], 0.9) is None


def _fake_run(out, arm, seed, curve, dense):
    run = out / "runs" / f"{arm}_s{seed}"
    run.mkdir(parents=True)
    now = time.time()
    lines = []
    for i, (p1, d) in enumerate(zip(curve, dense)):
        step = i * 10
        lines.append({"kind": "eval", "step": step, "time": now + step, "pass@1": p1, "pass@8": min(1.0, 2 * p1)})
        lines.append({"kind": "train", "step": step + 1, "time": now + step + 1, "dense_mean": d, "binary_mean": p1,
                      "frac_zero_std": 1.0 - d, "entropy": 0.1, "switch_step": 3 if arm == "dense_then_binary" else None})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    after = {"pass@1": curve[-1], "pass@4": curve[-1], "dense_mean": dense[-1], "per_problem": []}
    (run / "after.json").write_text(json.dumps({"arm": arm, "seed": seed, "target": after, "train_seconds": 5.0,
                                                "seen": {"starts_with/basic": {"pass@1": 0.8, "pass@4": 0.9}}}))


def test_summary_reports_each_arm_from_its_runs(tmp_path):
    exp = MiniExperiment(seeds=[0, 1], after_k=4)
    for seed in (0, 1):
        _fake_run(tmp_path, "binary", seed, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
        _fake_run(tmp_path, "dense", seed, [0.0, 0.1, 0.2], [0.5, 0.8, 0.9])
        _fake_run(tmp_path, "dense_then_binary", seed, [0.0, 0.3, 0.9 + 0.05 * seed], [0.5, 0.8, 0.95])
    summary = summarize(exp, tmp_path)
    arms = summary["arms"]
    assert arms["binary"]["final_full_pass_mean"] == 0.0 and arms["binary"]["seeds_grokked"] == 0
    assert arms["dense"]["final_full_pass_mean"] == pytest.approx(0.2)
    assert arms["dense_then_binary"]["time_to_grok"] == [20, 20]
    assert arms["dense_then_binary"]["final_full_pass_min"] == pytest.approx(0.9)
    assert arms["dense_then_binary"]["runs"][0]["switch_step"] == 3
    assert json.loads((tmp_path / "summary.json").read_text())["arms"].keys() == arms.keys()
    from delta_core.experiments.delta_mini_report import plot_all

    for path in plot_all(tmp_path):
        assert path.stat().st_size > 10_000  # a real figure, not an empty canvas


def test_plot_arms_names_every_baseline_with_its_value_in_the_legend(tmp_path):
    # the baselines were labels beside their lines, printed over each other when two were close (0.65, 0.69)
    from delta_core.experiments.delta_mini_report import plot_arms

    _fake_run(tmp_path, "dense_then_binary", 0, [0.0, 0.1, 0.2], [0.5, 0.6, 0.7])
    baselines = {"reject every tape": 0.648, "best single program": 0.693, "nearest": 0.92, "a": 0.1, "b": 0.2}
    fig = plot_arms(tmp_path, baselines)
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert all(f"{name} ({value:.2f})" in legend for name, value in baselines.items())
    assert not fig.axes[1].texts  # nothing printed on the plot itself


def test_a_finished_run_is_not_trained_again(tmp_path, monkeypatch):
    exp = MiniExperiment(seeds=[0])
    _fake_run(tmp_path, "dense", 0, [0.0, 0.5], [0.3, 0.6])

    def fail(*args, **kwargs):
        raise AssertionError("train() called for a run whose after.json exists")

    monkeypatch.setattr("delta_core.train.train", fail)
    assert delta_mini.run_arm(exp, tmp_path, "dense", 0, work=tmp_path / "work")["arm"] == "dense"


def test_changed_settings_refuse_to_mix_into_old_results(tmp_path):
    write_json(tmp_path / "experiment.json", {**vars(MiniExperiment()), "max_steps": 7})
    with pytest.raises(ValueError, match="max_steps"):
        delta_mini.run_all(MiniExperiment(), tmp_path, steps=())


def test_running_some_seeds_adds_to_the_record(tmp_path):
    delta_mini.run_all(MiniExperiment(seeds=[0], arms=["dense"]), tmp_path, steps=())
    delta_mini.run_all(MiniExperiment(seeds=[2], arms=["binary"]), tmp_path, steps=())
    saved = json.loads((tmp_path / "experiment.json").read_text())
    assert saved["seeds"] == [0, 2] and saved["arms"] == ["binary", "dense"]


# --- v2 (issue 18): the template bridge, older experiment.json files, settings the pilots choose -------


def test_one_colour_bridge_moves_exactly_the_one_colour_patterns_into_sft():
    exp = MiniExperiment(bridge="one_colour", bridge_repeat=3, held_out=32)
    train, held = target_split(exp)
    bridge = delta_mini.bridge_problems(exp)
    patterns = sorted(p.params["sequence"] for p in bridge)
    # every length 1..6, one colour: R, RR, ..., B, BB, ...
    assert patterns == sorted(c * n for c in "RB" for n in range(1, 7))
    kept = train + held
    assert len(held) == 32 and len(kept) == 126 - 12
    assert all(len(set(p.params["sequence"])) == 2 for p in kept)  # every kept problem needs a reset
    assert not {p.id for p in kept} & {p.id for p in bridge}
    sft, _ = delta_mini.seen_split(exp)
    assert sum(p.family == "contains_substring" for p in sft) == 3 * 12
    # the RL datasets are this split, with the compact prompt
    train_ds, eval_ds = delta_mini.target_datasets(exp)
    assert len(train_ds) == len(train) and len(eval_ds) == 32
    assert {r["prompt"][-1]["content"].split("\n", 1)[1] for r in eval_ds} == {p.criteria for p in held}
    with pytest.raises(ValueError, match="bridge='all'"):
        MiniExperiment(bridge="all")
    with pytest.raises(ValueError, match="control='contains_ordered/medium'.*seen"):
        MiniExperiment(control="contains_ordered/medium")


def test_an_experiment_json_older_than_the_v2_fields_still_matches_its_settings(tmp_path):
    v1 = {k: v for k, v in vars(MiniExperiment()).items()
          if k not in ("bridge", "bridge_repeat", "switch_on", "switch_window", "switch_min_solved", "control",
                       "model_size")}
    write_json(tmp_path / "experiment.json", v1)
    delta_mini.run_all(MiniExperiment.from_dict(v1), tmp_path, steps=())  # no "different settings" error
    write_json(tmp_path / "experiment.json", {**v1, "bridge": "one_colour"})
    with pytest.raises(ValueError, match="bridge"):
        delta_mini.run_all(MiniExperiment.from_dict(v1), tmp_path, steps=())


def test_learning_rate_may_change_until_the_first_arm_runs(tmp_path):
    write_json(tmp_path / "experiment.json", vars(MiniExperiment()))
    delta_mini.run_all(MiniExperiment(learning_rate=5e-5), tmp_path, steps=())  # the pilot chose it
    (tmp_path / "runs" / "dense_s0").mkdir(parents=True)
    (tmp_path / "runs" / "dense_s0" / "metrics.jsonl").write_text("")
    with pytest.raises(ValueError, match="learning_rate"):
        delta_mini.run_all(MiniExperiment(learning_rate=1e-4), tmp_path, steps=())


def test_v2_arms_refuse_to_start_without_a_precondition_report(tmp_path):
    from delta_core.train import ConfigError

    exp = MiniExperiment(bridge="one_colour", arms=["binary"], seeds=[0])
    with pytest.raises(ConfigError, match="precondition.json"):
        delta_mini.run_all(exp, tmp_path, steps=("arms",))


def test_restart_or_stay_bridge_keeps_exactly_the_patterns_that_need_a_fallback():
    from delta_core.dsl import parse_program, run_program
    from delta_core.experiments.precondition import reset_free_matcher

    exp = MiniExperiment(bridge="restart_or_stay", held_out=32)
    bridge = {p.params["sequence"] for p in delta_mini.bridge_problems(exp)}
    train, held = target_split(exp)
    kept = {p.params["sequence"] for p in train + held}
    # worked out by hand: after 'RR' an 'R' stays at q2, a 'B' finishes; after 'R' a 'B' restarts
    assert {"R", "RRB", "RBR", "BBBBBR"} <= bridge
    # 'RBRB': after 'RBR' another 'R' must go back to q1 ('R' read), neither q0 nor q3
    assert {"RBRB", "BBRR", "RRBRRB"} <= kept
    assert len(bridge) == 34 and len(kept) == 126 - 34 and not bridge & kept
    # every kept pattern really defeats both seen styles: restarting at q0 fails some tape
    for seq in sorted(kept)[:10]:
        program = parse_program(reset_free_matcher(seq, ("R", "B")))
        tapes = [seq[:i] + seq for i in range(1, len(seq))]  # a partial match, then the whole pattern
        assert not all(run_program(program, t).finished for t in tapes), seq


def test_runs_side_by_side_all_land_in_the_record(tmp_path, monkeypatch):
    """Two runners write the same experiment.json (arms and seeds united); under the folder lock no
    runner's seed is lost, even when every read happens before any write."""
    import threading

    write_json(tmp_path / "experiment.json", vars(MiniExperiment(seeds=[0], arms=["dense"])))
    barrier = threading.Barrier(6)
    real_read = delta_mini.read_json

    def slow_read(path):
        data = real_read(path)
        try:
            barrier.wait(timeout=0.5)  # without the lock every thread reads the old record first
        except threading.BrokenBarrierError:
            pass
        return data

    monkeypatch.setattr(delta_mini, "read_json", slow_read)
    threads = [threading.Thread(target=delta_mini.run_all, args=(MiniExperiment(seeds=[s], arms=["dense"]), tmp_path),
                                kwargs={"steps": ()}) for s in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads((tmp_path / "experiment.json").read_text())["seeds"] == [0, 1, 2, 3, 4, 5, 6]


def test_precondition_history_lists_every_measurement_with_its_base_and_target(tmp_path):
    from delta_core.experiments.delta_mini_report import precondition_history

    def report(parse, share, passes, solved, n=32):
        return {"k": 1024, "parse_rate": parse, "distinct_share": share, "pass@1024": solved / n, "n_problems": n,
                "problems_with_a_full_pass": solved, "dense_mean": 0.6, "passes": passes}

    write_json(tmp_path / "experiment.json", {"sft_steps": 1000, "target_min_length": 5, "target_min_fallbacks": 2})
    write_json(tmp_path / "precondition.json", report(0.95, 0.6, True, 0))
    old = tmp_path / "precondition_history" / "first_target_sft600"
    write_json(old / "experiment.json", {"sft_steps": 600, "target_min_length": 5})
    write_json(old / "precondition.json", {**report(0.9, 0.6, False, 1, n=15), "partial": {"measured": 15, "of": 32}})
    (tmp_path / "precondition_history" / "unmeasured").mkdir()
    table = precondition_history(tmp_path)
    assert list(table.index) == ["first_target_sft600", "current"]
    assert table.loc["first_target_sft600", "SFT steps"] == 600
    assert table.loc["first_target_sft600", "problems"] == "15 of 32 (stopped)"
    assert table.loc["first_target_sft600", "target patterns"] == "length >= 5, >= 1 fallbacks"
    assert table.loc["current", "target patterns"] == "length >= 5, >= 2 fallbacks"
    assert table.loc["current", "precondition"] == "passes" and table.loc["first_target_sft600", "problems solved"] == 1


def test_fallback_count_and_the_target_that_needs_two():
    """Worked out by hand: 'RRB' only advances, stays or restarts; 'RRBRB' falls back once (after 'RRBR'
    an 'R' leads to 'RR'); 'RBRBRB' twice (after 'RBR' and 'RBRBR' an 'R' leads to 'R')."""
    assert delta_mini.fallback_count("RRB") == 0
    assert delta_mini.fallback_count("RRBRB") == 1
    assert delta_mini.fallback_count("RBRBRB") == 2
    exp = MiniExperiment(bridge="restart_or_stay", target_min_length=5, target_min_fallbacks=2, held_out=32)
    train, held = target_split(exp)
    patterns = [p.params["sequence"] for p in train + held]
    assert len(held) == 32 and len(patterns) == len(set(patterns)) == 58
    assert "RBRBRB" in patterns and "RRBRB" not in patterns and "BBRBBB" not in patterns
    assert all(delta_mini.fallback_count(s) >= 2 and len(s) >= 5 for s in patterns)
    with pytest.raises(ValueError, match="target_min_fallbacks=2: only with bridge='restart_or_stay'"):
        MiniExperiment(target_min_fallbacks=2)


def test_the_target_selection_may_change_only_before_anything_is_measured_on_it(tmp_path):
    exp = MiniExperiment(bridge="restart_or_stay", target_min_length=5)
    write_json(tmp_path / "experiment.json", vars(exp))
    assert "target_min_fallbacks" in delta_mini._changeable(tmp_path)
    write_json(tmp_path / "base_eval.json", {})
    assert "target_min_fallbacks" not in delta_mini._changeable(tmp_path)
    assert "learning_rate" in delta_mini._changeable(tmp_path)


def test_every_chance_solve_of_the_first_target_needed_one_fallback_and_was_right():
    """The reason the target changed (chapter 4b), checked on the committed measurements: every problem
    the base solved in the first target's preconditions needs exactly one fallback, and its program is right
    on every tape up to 12 colours (not a hole in the tests)."""
    table = delta_mini.chance_solves("book/results/delta_mini_v2")
    first = table[table["measurement"].str.startswith("target_len5")]
    assert sorted(first["pattern"]) == ["BBBRBR", "BBRBBB", "RRBRB"]
    assert set(first["fallbacks"]) == {1} and set(first["program"]) == {"right on every tape up to 12 colours"}


def test_snapshot_copies_unfinished_runs_up_to_their_last_checkpoint(tmp_path):
    exp = MiniExperiment(bridge="restart_or_stay", seeds=[0, 1])
    work, out = tmp_path / "work", tmp_path / "out"
    (work / "binary_s0" / "checkpoint-1").mkdir(parents=True)
    (work / "binary_s0" / "checkpoint-1" / "trainer_state.json").write_text("{}")
    # step 2 comes after the last checkpoint (redone on resume); the last line is torn
    (work / "binary_s0" / "metrics.jsonl").write_text('{"kind": "train", "step": 1}\n{"kind": "train", "step": 2}\n{"kind": "train", "st')
    (work / "dense_s0").mkdir(parents=True)  # no checkpoint yet: nothing to copy
    (work / "dense_s0" / "metrics.jsonl").write_text('{"kind": "train", "step": 1}\n')
    (work / "dense_s1").mkdir(parents=True)
    (work / "dense_s1" / "metrics.jsonl").write_text('{"kind": "train", "step": 9}\n')
    write_json(out / "runs" / "dense_s1" / "after.json", {"done": True})  # finished: its own copy stays
    assert delta_mini.snapshot_runs(exp, out, work) == ["binary_s0"]
    assert (out / "runs" / "binary_s0" / "metrics.jsonl").read_text() == '{"kind": "train", "step": 1}\n'
    assert not (out / "runs" / "dense_s1" / "metrics.jsonl").exists()


def test_summary_of_a_v2_experiment_reads_the_base_target_at_after_k(tmp_path):
    """v2's base_eval.json measures the target at after_k (the precondition has pass@base_k)."""
    exp = MiniExperiment(bridge="restart_or_stay", after_k=32, base_k=1024)
    write_json(tmp_path / "base_eval.json", {"target": {"pass@32": 0.0, "dense_mean": 0.6},
                                             "seen": {"ends_with/easy": {"pass@1": 0.1, "pass@32": 0.5}}})
    summary = summarize(exp, tmp_path)
    assert summary["base"]["target_pass@32"] == 0.0 and summary["arms"] == {}
