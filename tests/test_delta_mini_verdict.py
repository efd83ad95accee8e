"""DELTA-mini v2's verdict rules (delta_core.experiments.delta_mini_verdict) on hand-written runs."""

from delta_core.experiments.delta_mini_verdict import CRITERIA, decide, seed_jump


def run(curve, switch=100, reason="rule", last=None, zero_std=0.5):
    """Metric lines: evals every 10 steps with the given pass@1 values, train lines with a switch."""
    last = last if last is not None else 10 * (len(curve) - 1)
    lines = [{"kind": "eval", "step": 10 * i, "pass@1": v} for i, v in enumerate(curve)]
    for step in range(1, last + 1):
        switched = switch is not None and step > switch
        lines.append({"kind": "train", "step": step, "phase": "binary" if switched else "dense",
                      "switch_step": switch if switched or (switch is not None and step == switch) else None,
                      "switch_reason": reason, "frac_zero_std": zero_std})
    return lines


PLATEAU_THEN_JUMP = [0.0] * 11 + [0.0] * 6 + [0.12, 0.3, 0.55, 0.8]  # switch at 100, flat to 160, jump 170-190
FLAT = [0.0] * 41  # 400 steps, nothing


def test_a_seed_jumps_only_after_a_long_enough_plateau_and_fast_enough():
    jump = seed_jump(run(PLATEAU_THEN_JUMP))
    assert jump["jump"] and jump["first_step_at_jump_from"] == 170 and jump["first_step_at_jump_to"] == 190
    assert jump["plateau_steps"] >= CRITERIA["plateau_steps"]
    # climbing right after the switch: no plateau, no jump
    early = [0.0] * 11 + [0.12, 0.3, 0.55]
    assert not seed_jump(run(early))["jump"]
    # a slow climb: 10% at 170, 50% only at 260 (> 50 steps later)
    slow = [0.0] * 17 + [0.12, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.48, 0.52]
    assert not seed_jump(run(slow))["jump"]
    # no switch at all (a dense-only run): nothing to judge
    assert seed_jump(run(FLAT, switch=None))["jump"] is False


def _arms(dtb, dense=FLAT, binary=FLAT):
    return {"dense_then_binary": {s: run(c) for s, c in enumerate(dtb)},
            "dense": {s: run(dense, switch=None) for s in range(3)},
            "binary": {s: run(binary, switch=0) for s in range(3)}}


GOOD_PRE = {"passes": True}


def test_jump_needs_two_seeds_and_low_control_arms():
    result = decide(_arms([PLATEAU_THEN_JUMP, PLATEAU_THEN_JUMP, FLAT]), GOOD_PRE, True)
    assert result["verdict"] == "jump"
    one = decide(_arms([PLATEAU_THEN_JUMP, FLAT, FLAT]), GOOD_PRE, True)
    assert one["verdict"] != "jump"
    dense_high = decide(_arms([PLATEAU_THEN_JUMP] * 3, dense=[0.0] * 40 + [0.2]), GOOD_PRE, True)
    assert dense_high["verdict"] != "jump" and not dense_high["checks"]["dense_only_low"]


def test_refuted_only_when_the_test_was_fair():
    flat = _arms([FLAT, FLAT, FLAT])  # switch at 100 by the rule, 300 binary steps, spread in half the groups
    assert decide(flat, GOOD_PRE, True)["verdict"] == "refuted"
    for precondition, control, why in [({"passes": False}, True, "passing precondition"),
                                       (GOOD_PRE, False, "control that learns"), (None, True, "precondition report (not measured yet)")]:
        result = decide(flat, precondition, control)
        assert result["verdict"] == "inconclusive" and why in result["reason"]
    capped = {**flat, "dense_then_binary": {s: run(FLAT, reason="cap") for s in range(3)}}
    assert "switch rule firing" in decide(capped, GOOD_PRE, True)["reason"]
    tied = {**flat, "dense_then_binary": {s: run(FLAT, zero_std=1.0) for s in range(3)}}
    assert "binary steps with reward spread" in decide(tied, GOOD_PRE, True)["reason"]
    short = {**flat, "dense_then_binary": {s: run([0.0] * 31) for s in range(3)}}  # 200 binary steps only
    assert "enough binary steps in 3 seeds" in decide(short, GOOD_PRE, True)["reason"]
    assert decide({}, GOOD_PRE, True)["verdict"] == "inconclusive"


def test_no_verdict_before_every_arm_has_finished_its_seeds():
    # a dense-only or binary-only arm cut short could still cross its bound: neither "jump" nor "refuted" yet
    jumping, flat = _arms([PLATEAU_THEN_JUMP, PLATEAU_THEN_JUMP, FLAT]), _arms([FLAT, FLAT, FLAT])
    partial = {"binary": 1, "dense": 3, "dense_then_binary": 3}
    for runs, verdict_when_finished in [(jumping, "jump"), (flat, "refuted")]:
        assert decide(runs, GOOD_PRE, True, finished={a: 3 for a in partial})["verdict"] == verdict_when_finished
        result = decide(runs, GOOD_PRE, True, finished=partial)
        assert result["verdict"] == "inconclusive", verdict_when_finished
        assert "every arm finished in 3 seeds (binary 1, dense 3, dense→binary 3)" in result["reason"]
        assert result["numbers"]["finished_seeds"] == partial


def test_a_failed_precondition_is_named_with_its_numbers():
    report = {"passes": False, "k": 1024, "checks": {"reads_the_prompt": True, "conditions_on_the_pattern": False,
                                                     "pass_at_K_is_zero": False},
              "parse_rate": 0.95, "distinct_modal_programs": 15, "n_problems": 32, "pass@1024": 0.0625,
              "problems_with_a_full_pass": 2}
    reason = decide({}, report, True)["reason"]
    assert "distinct programs 15/32" in reason and "pass@1024 0.0625 (2 of 32" in reason and "parse rate" not in reason


def test_the_reason_says_whether_the_setting_or_only_the_runs_are_missing():
    short = _arms([[0.0] * 31] * 3)  # a fair setting, runs short of their binary steps
    assert decide(short, GOOD_PRE, True)["reason"].startswith("A fair setting, runs not finished. Missing:")
    assert decide(short, {"passes": False}, True)["reason"].startswith("Not yet a fair test. Missing:")
    assert decide(short, GOOD_PRE, False)["reason"].startswith("Not yet a fair test. Missing:")
