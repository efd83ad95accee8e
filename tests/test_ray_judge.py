"""Distributed judging on a local Ray cluster gives exactly the in-process responses and rewards."""

import json
from types import SimpleNamespace

import pytest

import ray  # the serve extra: a missing ray is an install error, not a skip

from delta_core import rewards  # noqa: E402
from delta_core.judge import RequestError, judge  # noqa: E402
from delta_core.rewards.backends import InProcessJudge, RayJudge, make_reward  # noqa: E402
from delta_core.tasks.generate import generate  # noqa: E402

LOOPING = "START start:\n    NEXT paint\nPAINTER_BLUE paint:\n    NEXT paint\nEND end"


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def batch():
    """Real problems with their solutions, and broken programs on the same tests."""
    pairs = []
    for family, level, colours in [("ends_with", "medium", "two_color"), ("contains_substring", "easy", "four_color"),
                                   ("prepend_sequence", "easy", "two_color"), ("numerical_operations", "easy", "two_color")]:
        for p in generate(family, level, colours, n=5, seed=7, mode="random"):
            tests = p.tests()
            pairs += [
                (p.solution, tests),
                (p.solution.replace("NEXT end", "NEXT NONE", 1), tests),  # wrong routing
                (p.solution.replace("START start:", "START start", 1), tests),  # parse error
                (LOOPING, tests),  # runs every test to the 1000-entry limit
            ]
    return pairs


def test_ray_judge_equals_in_process(cluster):
    pairs = batch()
    expected = InProcessJudge()(pairs)
    assert expected == [judge(d, t) for d, t in pairs]
    assert all(r["all_passed"] for r in expected[::4])  # the solutions pass
    assert not any(r["valid"] for r in expected[2::4])  # the parse errors do not parse
    assert RayJudge(chunksize=7)(pairs) == expected  # 7: slices that do not divide the batch


def test_ray_rewards_equal_in_process(cluster):
    pairs = batch()
    completions = [[{"role": "assistant", "content": f"```manufactoria\n{d}\n```"}] for d, _ in pairs]
    truth = [json.dumps(t) for _, t in pairs]
    backend = RayJudge()
    for kind, reference in [("dense", rewards.dense_reward), ("binary", rewards.binary_reward)]:
        logged, logged_ref = [], []
        ours = make_reward(kind, backend)(completions, truth, log_metric=lambda k, v: logged.append((k, v)))
        theirs = reference(completions, truth, log_metric=lambda k, v: logged_ref.append((k, v)))
        # judge_seconds is a wall time: it is logged by both, with different values
        timed = lambda log: [(k, v) for k, v in log if k != "judge_seconds"]  # noqa: E731
        assert ours == theirs and timed(logged) == timed(logged_ref)
        assert [k for k, _ in logged] == [k for k, _ in logged_ref]
    for step in (9, 10):
        state = SimpleNamespace(global_step=step)
        assert make_reward("scheduled", backend, switch_step=10)(completions, truth, trainer_state=state) == \
            rewards.scheduled_reward(10)(completions, truth, trainer_state=state)


def test_ray_malformed_ground_truth_raises_like_in_process(cluster):
    bad = [("START start:\n    NEXT end\nEND end", [{"expected_output": "R"}])]  # no `input`
    with pytest.raises(RequestError, match="input"):
        InProcessJudge()(bad)
    with pytest.raises(RequestError, match="input"):
        RayJudge()(bad)


from spec_responses import HAND_CASES  # noqa: E402  (tests/spec_responses.py)

def test_ray_judge_matches_hand_written_responses(cluster):
    pairs = [(d, t) for d, t, _ in HAND_CASES]
    assert RayJudge(chunksize=1)(pairs) == [e for _, _, e in HAND_CASES]
