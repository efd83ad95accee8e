"""Reward functions: the reward client's fence rule, dense/binary scores, the schedule, TRL's contract."""

import json
from collections import defaultdict

import pytest

from delta_core.rewards import (
    REWARD_FUNCS,
    binary_reward,
    dense_reward,
    extract_program,
    make_reward,
    scheduled_reward,
    score_completion,
)

# Accepts tapes starting with R (a starts_with "R" solution).
STARTS_WITH_R = "START start:\n    NEXT p\nPULLER_RB p:\n    [R] end\nEND end"
TESTS = [
    {"input": "R", "expected_accepted": True, "check_output": False},
    {"input": "RB", "expected_accepted": True, "check_output": False},
    {"input": "B", "expected_accepted": False, "check_output": False},
    {"input": "", "expected_accepted": False, "check_output": False},
]
ACCEPT_ALL = "START start:\n    NEXT end\nEND end"


def fenced(code, tag="manufactoria"):
    return f"Let me think.\n```{tag}\n{code}\n```\nDone."


def test_extract_takes_the_last_fenced_block():
    text = fenced("draft") + "\nFinal:\n" + fenced(STARTS_WITH_R)
    assert extract_program(text) == STARTS_WITH_R


def test_extract_accepts_bare_fences_and_falls_back_to_the_whole_text():
    assert extract_program(fenced(STARTS_WITH_R, tag="")) == STARTS_WITH_R
    assert extract_program(STARTS_WITH_R) == STARTS_WITH_R


def test_python_fence_keeps_its_tag_and_fails_to_parse():
    assert extract_program(fenced(STARTS_WITH_R, tag="python")).startswith("python")
    assert score_completion(fenced(STARTS_WITH_R, tag="python"), TESTS) == (0.0, 0.0)


def test_scores_dense_and_binary():
    assert score_completion(fenced(STARTS_WITH_R), TESTS) == (1.0, 1.0)
    assert score_completion(fenced(ACCEPT_ALL), TESTS) == (0.5, 0.0)
    assert score_completion("no program here", TESTS) == (0.0, 0.0)
    # An empty test list makes the reference's pass-rate division fail: it scores 0.
    assert score_completion(fenced(ACCEPT_ALL), []) == (0.0, 0.0)


def test_ground_truth_may_be_a_json_string_and_completions_may_be_chat_messages():
    chat = [{"role": "assistant", "content": fenced(ACCEPT_ALL)}]
    assert dense_reward([chat], [json.dumps(TESTS)]) == [0.5]


def trl_kwargs(step, logged):
    """The keywords TRL 1.14's GRPOTrainer._calculate_rewards passes besides the dataset columns."""
    from transformers import TrainerState

    state = TrainerState()
    state.global_step = step
    return {
        "prompts": ["p1", "p2"],
        "completion_ids": [[1], [2]],
        "trainer_state": state,
        "log_extra": lambda column, values: None,
        "log_metric": lambda name, value: logged[name].append(value),
    }


def test_each_reward_logs_the_other():
    logged = defaultdict(list)
    completions = [fenced(STARTS_WITH_R), fenced(ACCEPT_ALL)]
    assert dense_reward(completions=completions, ground_truth=[TESTS, TESTS], **trl_kwargs(0, logged)) == [1.0, 0.5]
    assert logged["binary_reward"] == [0.5]
    assert binary_reward(completions=completions, ground_truth=[TESTS, TESTS], **trl_kwargs(0, logged)) == [1.0, 0.0]
    assert logged["dense_reward"] == [0.75]


@pytest.mark.parametrize("step, expected, phase", [(0, [1.0, 0.5], 0.0), (4, [1.0, 0.5], 0.0), (5, [1.0, 0.0], 1.0)])
def test_scheduled_reward_switches_at_the_step(step, expected, phase):
    logged = defaultdict(list)
    reward = scheduled_reward(switch_step=5)
    completions = [fenced(STARTS_WITH_R), fenced(ACCEPT_ALL)]
    assert reward(completions=completions, ground_truth=[TESTS, TESTS], **trl_kwargs(step, logged)) == expected
    assert logged["reward_phase"] == [phase]
    assert logged["dense_reward"] == [0.75] and logged["binary_reward"] == [0.5]
    assert reward.__name__ == "scheduled_reward"  # TRL logs rewards under the function's name


def test_scheduled_reward_refuses_bad_arguments():
    with pytest.raises(ValueError, match="switch_step=-1"):
        scheduled_reward(-1)
    with pytest.raises(ValueError, match="trainer_state"):
        scheduled_reward(3)([fenced(ACCEPT_ALL)], [TESTS])
    from delta_core.rewards import Schedule, make_reward

    with pytest.raises(ValueError, match="exactly one of switch_step"):
        make_reward("scheduled", switch_step=3, schedule=Schedule.at_step(3))
    with pytest.raises(ValueError, match="exactly one of switch_step"):
        make_reward("scheduled")
    with pytest.raises(ValueError, match="only for kind='scheduled'"):
        make_reward("dense", schedule=Schedule.at_step(3))
    with pytest.raises(ValueError, match="needs max_completion_length"):
        make_reward("dense", non_stop_penalty=True)


def test_mismatched_columns_are_a_clear_error():
    with pytest.raises(ValueError, match="2 completions but 1 ground_truth"):
        dense_reward(["a", "b"], [TESTS])


def test_registry_names():
    assert REWARD_FUNCS == {"dense": dense_reward, "binary": binary_reward}


# --- survivors of the hand mutation run (issue 22) ---------------------------------------------------

_PASS_ALL = "START start:\n    NEXT end\nEND end"  # accepts every tape
_ONE_ACCEPT = [{"input": "R", "expected_accepted": True, "check_output": False}]  # _PASS_ALL passes it


def test_non_stop_penalty_zeroes_a_truncated_completion_in_the_binary_phase():
    # spec A.3: a completion that used every token without EOS scores 0 in both modes. ids of length 3 = the
    # limit, not ending in eos 9: truncated; [1, 9] ended; [1, 2, 9] used every token but ended: not truncated.
    ids = [[1, 2, 3], [1, 9], [1, 2, 9]]
    completions, gts = [_PASS_ALL] * 3, [_ONE_ACCEPT] * 3
    binary = make_reward("binary", max_completion_length=3, eos_id=9, non_stop_penalty=True)
    assert binary(completions, gts, completion_ids=ids) == [0.0, 1.0, 1.0]
    assert binary.last_binary == [0.0, 1.0, 1.0]
    dense = make_reward("dense", max_completion_length=3, eos_id=9, non_stop_penalty=True)
    assert dense(completions, gts, completion_ids=ids) == [0.0, 1.0, 1.0]
    # a scheduled reward in its binary phase (switch at step 0)
    from types import SimpleNamespace

    scheduled = make_reward("scheduled", switch_step=0, max_completion_length=3, eos_id=9, non_stop_penalty=True)
    logged = {}
    out = scheduled(completions, gts, completion_ids=ids, trainer_state=SimpleNamespace(global_step=0),
                    log_metric=logged.__setitem__)
    assert out == [0.0, 1.0, 1.0] and logged["reward_phase"] == 1.0
    assert logged["truncated_frac"] == pytest.approx(1 / 3)
    # without the penalty the truncated completion keeps its full pass
    lenient = make_reward("binary", max_completion_length=3, eos_id=9)
    assert lenient(completions, gts, completion_ids=ids) == [1.0, 1.0, 1.0]


def test_completion_text_refuses_what_is_not_a_completion():
    from delta_core.rewards import completion_text

    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    for bad in ([], ["plain text in a list"], 5):
        with pytest.raises(TypeError, match="completion: expected a string or a list of messages"):
            completion_text(bad)


def test_a_scheduled_reward_exposes_its_schedule():
    reward = scheduled_reward(10)
    assert reward.switch_step == 10 and reward.schedule.switch_step == 10
    assert reward.schedule.phase_at(9) == "dense" and reward.schedule.phase_at(10) == "binary"
    assert not hasattr(make_reward("dense"), "schedule") and not hasattr(make_reward("binary"), "switch_step")


def test_truncation_rule_without_completion_ids_truncates_nothing():
    # TRL always passes completion_ids; a caller that does not gets no truncation (and no crash)
    logged = {}
    reward = make_reward("binary", max_completion_length=3, eos_id=9, non_stop_penalty=True)
    assert reward([_PASS_ALL, _PASS_ALL], [_ONE_ACCEPT] * 2, log_metric=logged.__setitem__) == [1.0, 1.0]
    assert logged["truncated_frac"] == 0.0


# --- the Schedule: survivors of benchmarks/mutation.py ------------------------------------------------


def test_schedule_default_window_and_repr_match_the_training_config():
    from delta_core.rewards import Schedule
    from delta_core.train.config import TrainConfig

    s = Schedule(switch_threshold=0.5)
    assert s.window == 5 == TrainConfig.switch_window  # one default for both
    assert repr(Schedule.at_step(3)) == "Schedule('dense_then_binary', switch_step=3, switch_threshold=None, window=5)"


def test_a_switched_or_fixed_schedule_ignores_later_observations():
    from delta_core.rewards import Schedule

    s = Schedule(switch_threshold=0.5, window=1)
    s.observe(1, 0.6)
    assert s.switch_step == 1
    s.observe(2, 0.9)  # already switched: stays at 1
    assert s.switch_step == 1 and list(s.history) == [0.6]
    fixed = Schedule.at_step(10)
    for step in range(1, 8):  # a step schedule hears dense means too (the callback calls it): no effect
        fixed.observe(step, 1.0)
    assert fixed.switch_step == 10 and list(fixed.history) == []


def test_restoring_a_fixed_schedule_changes_nothing():
    from delta_core.rewards import Schedule

    saved = {"switch_step": None, "history": [0.9]}  # e.g. a checkpoint of a threshold run
    for s, phases in [(Schedule("binary"), ["binary", "binary"]), (Schedule.at_step(7), ["dense", "binary"]),
                      (Schedule("dense"), ["dense", "dense"])]:
        s.restore(saved)
        assert [s.phase_at(0), s.phase_at(7)] == phases and list(s.history) == []


def test_switch_threshold_must_lie_in_the_half_open_unit_interval():
    from delta_core.rewards import Schedule

    for ok in (1e-9, 0.5, 1.0):  # (0, 1]: 1.0 = every test of every sample passes
        assert Schedule(switch_threshold=ok).threshold == ok
    for bad in (0.0, -0.1, 1.0000001, 1.1):
        with pytest.raises(ValueError, match=r"switch_threshold=.*must be in \(0, 1\]"):
            Schedule(switch_threshold=bad)


# --- the full-pass switch (DELTA-mini v2): rate over a window, distinct problems, a step cap -----------


def test_full_pass_switch_needs_the_rate_and_enough_distinct_problems():
    from delta_core.rewards import Schedule

    s = Schedule(switch_on="full_pass", switch_threshold=0.01, window=3, min_solved=3)
    # a high rate from one problem alone is not a skill: no switch
    for step in (1, 2, 3, 4):
        s.observe(step, 0.5, 0.05, {"p1"})
    assert s.switch_step is None and s.phase_at(4) == "dense"
    # three distinct problems within the window but a mean rate of 0.02/3 < 0.01: no switch
    s2 = Schedule(switch_on="full_pass", switch_threshold=0.01, window=3, min_solved=3)
    for step, key in ((1, "a"), (2, "b"), (3, "c")):
        s2.observe(step, 0.5, 0.02 if step == 1 else 0.0, {key})
    assert s2.switch_step is None
    # rate 0.01 mean and 3 problems within the last 3 steps: binary from the next step
    s.observe(5, 0.5, 0.0, {"p2"})
    s.observe(6, 0.5, 0.0, {"p3"})
    assert s.switch_step == 6 and s.phase_at(5) == "dense" and s.phase_at(6) == "binary"
    assert s.switch_reason == "rule"
    # problems solved before the window do not count
    s3 = Schedule(switch_on="full_pass", switch_threshold=0.01, window=2, min_solved=2)
    s3.observe(1, 0.5, 0.1, {"a"})
    s3.observe(2, 0.5, 0.1, {"b"})
    assert s3.switch_step == 2
    s4 = Schedule(switch_on="full_pass", switch_threshold=0.01, window=2, min_solved=2)
    s4.observe(1, 0.5, 0.1, {"a"})
    s4.observe(2, 0.5, 0.1, set())
    s4.observe(3, 0.5, 0.1, {"b"})  # window now steps 2-3: only "b"
    assert s4.switch_step is None


def test_full_pass_switch_falls_back_to_its_step_cap_and_survives_a_checkpoint():
    from delta_core.rewards import Schedule

    s = Schedule(switch_step=4, switch_on="full_pass", switch_threshold=0.5, window=2, min_solved=1)
    assert s.cap == 4 and s.switch_step is None
    assert [s.phase_at(n) for n in (0, 3, 4, 9)] == ["dense", "dense", "binary", "binary"]
    for step in (1, 2, 3):
        s.observe(step, 0.2, 0.0, ())
    assert s.switch_step is None
    s.observe(4, 0.2, 0.0, ())
    assert s.switch_step == 4 and s.switch_reason == "cap"  # the cap is recorded as the switch
    saved = s.export()
    fresh = Schedule(switch_step=4, switch_on="full_pass", switch_threshold=0.5, window=2)
    fresh.restore(saved)
    assert fresh.switch_step == 4 and list(fresh.history) == list(s.history) and fresh.switch_reason == "cap"
    half = Schedule(switch_on="full_pass", switch_threshold=0.5, window=2, min_solved=1)
    half.observe(1, 0.0, 1.0, {"x"})
    resumed = Schedule(switch_on="full_pass", switch_threshold=0.5, window=2, min_solved=1)
    resumed.restore(half.export())
    resumed.observe(2, 0.0, 0.0, ())  # (1.0 + 0.0) / 2 = 0.5 with the restored step 1
    assert resumed.switch_step == 2


def test_full_pass_switch_settings_are_validated():
    from delta_core.rewards import Schedule
    from delta_core.train.config import ConfigError, TrainConfig

    with pytest.raises(ValueError, match="switch_on='full_pass' needs a full-pass rate"):
        Schedule(switch_step=5, switch_on="full_pass")
    with pytest.raises(ValueError, match="switch_on='nope'"):
        Schedule(switch_threshold=0.1, switch_on="nope")
    with pytest.raises(ValueError, match="switch_min_solved=0"):
        Schedule(switch_threshold=0.1, switch_on="full_pass", min_solved=0)
    with pytest.raises(ValueError, match="training full-pass rate"):
        Schedule(switch_threshold=2.0, switch_on="full_pass")
    with pytest.raises(ConfigError, match="switch_on"):
        TrainConfig(model="m", family="ends_with", level="easy", switch_on="full_pass", switch_step=5)
    config = TrainConfig(model="m", family="ends_with", level="easy", switch_on="full_pass",
                         switch_threshold=0.01, switch_step=50, switch_window=10, switch_min_solved=3)
    made = config.make_schedule()
    assert (made.cap, made.threshold, made.window, made.min_solved) == (50, 0.01, 10, 3)


def test_reward_records_solved_prompts_distinct_programs_and_judge_time():
    from delta_core.rewards import make_reward

    ok = "```\nSTART start:\n    NEXT end\nEND end\n```"
    bad = "```\nSTART start:\n    NEXT nowhere\n```"
    tests = [{"input": "R", "expected_accepted": True, "expected_output": "R", "check_output": False}]
    logged = {}
    reward = make_reward("dense")
    prompts = [[{"role": "user", "content": "p1"}], [{"role": "user", "content": "p1"}],
               [{"role": "user", "content": "p2"}]]
    reward([ok, ok, bad], [tests] * 3, prompts=prompts, log_metric=logged.__setitem__)
    assert len(reward.solved) == 1  # p1 solved (twice), p2 not
    assert logged["distinct_programs"] == pytest.approx(2 / 3)
    assert logged["judge_seconds"] >= 0.0
