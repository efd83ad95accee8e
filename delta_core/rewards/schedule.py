"""The reward schedule: dense, binary, or dense then binary (the DELTA recipe), in one object.

`Schedule` is the only place that knows the switching rule and the only place that validates a
schedule's settings (`TrainConfig`, `make_reward` and the experiments all build one):

- `phase_at(steps_done)`: "dense" or "binary" for the step after `steps_done` completed steps (the
  reward function reads it with `trainer_state.global_step`);
- `observe(steps_done, dense_mean)`: a threshold schedule hears the dense mean of each finished dense
  step and switches from the next step once the mean over the last `window` steps reaches the
  threshold. In training, `delta_core.train.ScheduleCallback` calls it and checkpoints the result
  (`export` / `restore`), so a resumed run does not decide the switch again.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["SCHEDULES", "Schedule"]

SCHEDULES = ("dense", "binary", "dense_then_binary")


class Schedule:
    """Where a reward schedule stands. `switch_step` is the number of completed steps from which the
    reward is binary (None: not switched, or never); `history` holds the recent dense means."""

    def __init__(self, kind: str = "dense_then_binary", switch_step: int | None = None,
                 switch_threshold: float | None = None, window: int = 5):
        # Every message: the field, its value, the rule, and how to fix it.
        if kind not in SCHEDULES:
            raise ValueError(f"schedule={kind!r}: choose one of {', '.join(SCHEDULES)}")
        if kind == "dense_then_binary":
            if (switch_step is None) == (switch_threshold is None):
                raise ValueError(f"switch_step={switch_step!r}: dense_then_binary needs exactly one of `switch_step` "
                                 f"(a step) and `switch_threshold` (a dense mean); got switch_threshold={switch_threshold!r}")
        elif switch_step is not None or switch_threshold is not None:
            raise ValueError(f"schedule={kind!r}: `switch_step` / `switch_threshold` only apply to "
                             "schedule='dense_then_binary'; set them to null")
        if switch_step is not None and (isinstance(switch_step, bool) or not isinstance(switch_step, int)
                                        or switch_step < 0):
            raise ValueError(f"switch_step={switch_step!r}: must be an integer >= 0 (0 = binary from the first step)")
        if switch_threshold is not None and not 0.0 < switch_threshold <= 1.0:
            raise ValueError(f"switch_threshold={switch_threshold!r}: must be in (0, 1]: it is compared to the "
                             "dense (pass-rate) mean")
        if window < 1:
            raise ValueError(f"switch_window={window!r}: must be >= 1")
        self.kind = kind
        self.threshold = switch_threshold
        self.window = window
        self.switch_step: int | None = {"dense": None, "binary": 0}.get(kind, switch_step)
        self.history: deque[float] = deque(maxlen=window)

    @classmethod
    def at_step(cls, switch_step: int) -> Schedule:
        """Dense before `switch_step` completed steps, binary from it on."""
        return cls("dense_then_binary", switch_step=switch_step)

    def phase_at(self, steps_done: int) -> str:
        """The phase of the step that follows `steps_done` completed steps."""
        return "binary" if self.switch_step is not None and steps_done >= self.switch_step else "dense"

    def observe(self, steps_done: int, dense_mean: float) -> None:
        """A threshold schedule: the dense step that brought the count to `steps_done` had this batch
        mean; once the mean of the last `window` of them reaches the threshold, binary from the next step."""
        if self.threshold is None or self.switch_step is not None:
            return
        self.history.append(dense_mean)
        if len(self.history) == self.window and sum(self.history) / self.window >= self.threshold:
            self.switch_step = steps_done

    def export(self) -> dict[str, Any]:
        return {"switch_step": self.switch_step, "history": list(self.history)}

    def restore(self, saved: dict[str, Any]) -> None:
        """Take back an `export`ed state (a checkpoint's); a fixed schedule has nothing to restore."""
        if self.kind == "dense_then_binary" and self.threshold is not None:
            self.switch_step = saved.get("switch_step")
            self.history = deque(saved.get("history", []), maxlen=self.window)

    def __repr__(self) -> str:
        return (f"Schedule({self.kind!r}, switch_step={self.switch_step}, switch_threshold={self.threshold}, "
                f"window={self.window})")
