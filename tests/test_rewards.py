"""Reward functions: the reward client's fence rule, dense/binary scores, the schedule, TRL's contract."""

import json
from collections import defaultdict

import pytest

from delta_core.rewards import (
    REWARD_FUNCS,
    binary_reward,
    dense_reward,
    extract_program,
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
