"""Reward functions for GRPO on Manufactoria, with TRL's reward-function contract.

- `functions`: extracting the program, scoring a completion, and the reward functions themselves
  (`dense_reward`, `binary_reward`, `scheduled_reward`, `make_reward`);
- `schedule`: `Schedule`, the dense -> binary switch (one object: the reward reads its phase, the
  trainer's callback decides a threshold switch and checkpoints it);
- `backends`: where the judging is done (in this process, over HTTP, on Ray) and `make_reward` on
  any of them.

Everything public of `functions` and `schedule` is importable from `delta_core.rewards` itself.
"""

from .functions import (
    REWARD_FUNCS,
    binary_reward,
    completion_text,
    dense_reward,
    extract_fenced,
    extract_program,
    ground_truth_tests,
    judge_in_process,
    make_reward,
    score_batch,
    score_completion,
    scheduled_reward,
    scores_from_response,
)
from .schedule import SCHEDULES, Schedule

__all__ = [
    "extract_fenced",
    "extract_program",
    "completion_text",
    "ground_truth_tests",
    "scores_from_response",
    "score_completion",
    "score_batch",
    "judge_in_process",
    "make_reward",
    "dense_reward",
    "binary_reward",
    "scheduled_reward",
    "REWARD_FUNCS",
    "SCHEDULES",
    "Schedule",
]
