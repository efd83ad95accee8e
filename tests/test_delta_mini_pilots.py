"""The pilots' rules (delta_core.experiments.delta_mini_pilots), on hand-written metric lines."""

from delta_core.experiments.delta_mini_pilots import CONTROL_RULE, LR_RULE, choose_lr, control_verdict


def _train(step, entropy, dense=0.5, full=0.0):
    return {"kind": "train", "step": step, "entropy": entropy, "dense_mean": dense, "binary_mean": full,
            "step_time": 2.0}


def test_lr_rule_takes_the_largest_rate_that_keeps_half_the_entropy():
    assert LR_RULE["min_entropy_ratio"] == 0.5
    runs = {
        "2e-05": [_train(1, 0.40), _train(30, 0.38)],
        "5e-05": [_train(1, 0.40), _train(30, 0.20)],  # exactly half: kept
        "0.0001": [_train(1, 0.40), _train(30, 0.19)],  # below half: collapsed
    }
    choice = choose_lr(runs)
    assert choice["chosen"] == "5e-05"
    assert choice["runs"]["0.0001"]["keeps_entropy"] is False and choice["runs"]["2e-05"]["keeps_entropy"]
    assert choice["runs"]["5e-05"]["ratio"] == 0.5
    # the order of the runs does not matter, and nothing kept means no choice
    assert choose_lr(dict(reversed(list(runs.items()))))["chosen"] == "5e-05"
    assert choose_lr({"1e-3": [_train(1, 0.4), _train(30, 0.01)]})["chosen"] is None


def test_control_learns_only_with_both_the_gain_and_the_ratio():
    def evals(*values):
        return [{"kind": "eval", "step": 10 * i, "pass@1": v} for i, v in enumerate(values)]

    assert CONTROL_RULE == {"min_gain": 0.10, "min_ratio": 2.0}
    assert control_verdict(evals(0.05, 0.08, 0.15))["learns"] is True  # +0.10 and 3x
    assert control_verdict(evals(0.05, 0.30, 0.14))["learns"] is False  # the last evaluation counts, not the best
    assert control_verdict(evals(0.30, 0.45))["learns"] is False  # +0.15 but 1.5x
    assert control_verdict(evals(0.0, 0.09))["learns"] is False  # 0 -> 0.09: below the gain
    assert control_verdict(evals(0.0))["learns"] is None
    v = control_verdict(evals(0.02, 0.5, 0.4))
    assert (v["first"], v["last"], v["best"], v["last_step"]) == (0.02, 0.4, 0.5, 20)


def test_control_runs_are_named_by_their_learning_rate():
    from delta_core.experiments.delta_mini_pilots import control_name

    assert control_name("binary", 1e-4, 0) == "control_binary_lr0.0001_s0"
    assert control_name("dense_then_binary", 2e-4, 2) == "control_dense_then_binary_lr0.0002_s2"


def test_lr_rule_v2_walks_the_grid_down_until_a_control_learns():
    from delta_core.experiments.delta_mini_pilots import next_lr_to_try

    grid = {"lr": {"runs": {"2e-05": {}, "0.0001": {}, "0.0002": {}, "0.0005": {}}}}
    assert next_lr_to_try(grid)["next"] == 5e-4  # nothing tried: the largest first
    failed = {**grid, "control": {"control_binary_lr0.0005_s0": {"learns": False},
                                  "control_binary_lr0.0001_s0": {"learns": False},
                                  "control_dense_then_binary_lr0.0002_s0": {"learns": True}}}  # not the binary arm
    step = next_lr_to_try(failed)
    assert step["next"] == 2e-4 and step["chosen"] is None
    learned = {**failed, "control": {**failed["control"], "control_binary_lr0.0002_s0": {"learns": True}}}
    assert next_lr_to_try(learned) == {"rule": next_lr_to_try(learned)["rule"], "chosen": 2e-4, "next": None,
                                       "tried": {5e-4: False, 1e-4: False, 2e-4: True}}
    # later seeds' controls (C9's spread) do not move the rule's choice, which seed 0's controls made
    reseeded = {**learned, "control": {**learned["control"], "control_binary_lr0.0002_s1": {"learns": False},
                                       "control_binary_lr0.0001_s2": {"learns": True}}}
    assert next_lr_to_try(reseeded)["chosen"] == 2e-4 and next_lr_to_try(reseeded)["tried"] == {5e-4: False, 1e-4: False, 2e-4: True}
    none = {**grid, "control": {f"control_binary_lr{lr}_s0": {"learns": False} for lr in ("2e-05", "0.0001", "0.0002", "0.0005")}}
    assert next_lr_to_try(none)["chosen"] is None and next_lr_to_try(none)["next"] is None


def test_a_finished_control_is_skipped_unless_given_more_steps(tmp_path, monkeypatch):
    """A run with done.json is not trained again for the same budget; asked for more steps it resumes from
    its checkpoint (not from the base) and its metric lines are copied again."""
    from delta_core.artifacts import write_json
    from delta_core.experiments import delta_mini_pilots as pilots
    from delta_core.experiments.delta_mini import MiniExperiment

    calls = []

    def fake_train(config, resume=False, datasets=None):
        calls.append((config.max_steps, resume))
        (tmp_path / "work" / "run").mkdir(parents=True, exist_ok=True)
        (tmp_path / "work" / "run" / "metrics.jsonl").write_text(f'{{"kind": "eval", "step": {config.max_steps}, "pass@1": 0.5}}\n')

    monkeypatch.setattr("delta_core.train.train", fake_train)
    monkeypatch.setattr("delta_core.train.last_checkpoint", lambda d: d / "checkpoint-80" if calls else None)
    exp = MiniExperiment(bridge="restart_or_stay", control="ends_with/medium")
    run = lambda steps: pilots.resumable_run(exp, tmp_path, "run", tmp_path / "work", None, False, max_steps=steps)  # noqa: E731
    assert run(80)[-1]["step"] == 80 and calls == [(80, False)]
    assert run(80)[-1]["step"] == 80 and calls == [(80, False)]  # done: not trained again
    assert run(40)[-1]["step"] == 80 and len(calls) == 1  # fewer steps than it took: still done
    assert run(160)[-1]["step"] == 160 and calls[-1] == (160, True)  # more: resumed from its checkpoint
    assert pilots.CONTROL_STEPS == 160


def test_a_control_short_of_its_budget_is_run_on_unless_it_collapsed():
    """A control that stopped before CONTROL_STEPS without learning is not a verdict yet, so lr rule v2
    names the same lr again; one that collapsed (held-out 0, training full-pass below its start) is."""
    from delta_core.experiments.delta_mini_pilots import CONTROL_STEPS, next_lr_to_try

    def run(last_eval, full_start, full_end, steps=80):
        trains = [_train(s, 0.03, full=full_start if s <= 10 else full_end) for s in range(1, steps + 1)]
        return trains + [{"kind": "eval", "step": 0, "pass@1": 0.008}, {"kind": "eval", "step": steps, "pass@1": last_eval}]

    rising = control_verdict(run(0.10, 0.09, 0.27))
    assert rising["learns"] is False and rising["collapsed"] is False and rising["complete"] is False
    fallen = control_verdict(run(0.0, 0.09, 0.02))
    assert fallen["collapsed"] is True and fallen["complete"] is True
    assert control_verdict(run(0.0, 0.02, 0.05))["collapsed"] is False  # training rate rose: not a collapse
    assert control_verdict(run(0.10, 0.09, 0.27, steps=CONTROL_STEPS))["complete"] is True
    grid = {"lr": {"runs": {"0.0001": {}, "0.0002": {}, "0.0005": {}}}}
    report = {**grid, "control": {"control_binary_lr0.0005_s0": fallen, "control_binary_lr0.0002_s0": fallen,
                                  "control_binary_lr0.0001_s0": rising}}
    assert next_lr_to_try(report)["next"] == 1e-4  # run 1e-4 on to its budget before trying a smaller lr
    report["control"]["control_binary_lr0.0001_s0"] = control_verdict(run(0.10, 0.09, 0.27, steps=CONTROL_STEPS))
    assert next_lr_to_try(report)["next"] is None and next_lr_to_try(report)["chosen"] is None
