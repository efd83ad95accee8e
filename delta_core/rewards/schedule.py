"""The reward schedule: dense, binary, or dense then binary (the DELTA recipe), in one object.

`Schedule` is the only place that knows the switching rule and the only place that validates a
schedule's settings (`TrainConfig`, `make_reward` and the experiments all build one):

- `phase_at(steps_done)`: "dense" or "binary" for the step after `steps_done` completed steps (the
  reward function reads it with `trainer_state.global_step`);
- `observe(steps_done, dense_mean, full_pass, solved)`: a threshold schedule hears each finished dense
  step and switches from the next step once its rule holds over the last `window` steps. In training,
  `delta_core.train.ScheduleCallback` calls it and checkpoints the result (`export` / `restore`), so a
  resumed run does not decide the switch again.

Three ways to switch a `dense_then_binary` schedule:

- `switch_step=N`: binary from step N on (the paper's fixed switch);
- `switch_threshold=t` (`switch_on="dense_mean"`): once the mean dense reward over `window` steps
  reaches t;
- `switch_on="full_pass"`, `switch_threshold=t`, optionally `switch_step=cap`: once the training
  full-pass rate over `window` steps reaches t *and* those steps solved at least `min_solved` distinct
  problems (a few lucky samples of one problem are not yet a skill), or at step `cap`, whichever
  comes first. DELTA-mini v2 uses it: switch when binary rewards would carry signal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["SCHEDULES", "SWITCH_ON", "Schedule"]

SCHEDULES = ("dense", "binary", "dense_then_binary")
SWITCH_ON = ("dense_mean", "full_pass")


class Schedule:
    """Where a reward schedule stands. `switch_step` is the number of completed steps from which the
    reward is binary (None: not switched, or never); `history` holds the recent dense means."""

    def __init__(self, kind: str = "dense_then_binary", switch_step: int | None = None,
                 switch_threshold: float | None = None, window: int = 5, switch_on: str = "dense_mean",
                 min_solved: int = 1):
        # Every message: the field, its value, the rule, and how to fix it.
        if kind not in SCHEDULES:
            raise ValueError(f"schedule={kind!r}: choose one of {', '.join(SCHEDULES)}")
        if switch_on not in SWITCH_ON:
            raise ValueError(f"switch_on={switch_on!r}: choose one of {', '.join(SWITCH_ON)}")
        if kind == "dense_then_binary" and switch_on == "full_pass":
            if switch_threshold is None:
                raise ValueError("switch_threshold=None: switch_on='full_pass' needs a full-pass rate to reach "
                                 "(e.g. 0.01); switch_step is then an optional step cap")
        elif kind == "dense_then_binary":
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
                             f"{'training full-pass rate' if switch_on == 'full_pass' else 'dense (pass-rate) mean'}")
        if window < 1:
            raise ValueError(f"switch_window={window!r}: must be >= 1")
        if min_solved < 1:
            raise ValueError(f"switch_min_solved={min_solved!r}: must be >= 1")
        self.kind = kind
        self.threshold = switch_threshold
        self.window = window
        self.switch_on = switch_on
        self.min_solved = min_solved
        # full_pass: switch_step is a cap; the switch itself is decided by observe()
        self.cap = switch_step if switch_on == "full_pass" and kind == "dense_then_binary" else None
        if self.cap is not None:
            switch_step = None
        self.switch_step: int | None = {"dense": None, "binary": 0}.get(kind, switch_step)
        self.history: deque[Any] = deque(maxlen=window)
        # why it switched: "step" (fixed), "rule" (the threshold held), "cap" (the rule never held)
        self.switch_reason: str | None = None if self.switch_step is None else "step"

    @classmethod
    def at_step(cls, switch_step: int) -> Schedule:
        """Dense before `switch_step` completed steps, binary from it on."""
        return cls("dense_then_binary", switch_step=switch_step)

    def phase_at(self, steps_done: int) -> str:
        """The phase of the step that follows `steps_done` completed steps."""
        if self.switch_step is None and self.cap is not None and steps_done >= self.cap:
            return "binary"
        return "binary" if self.switch_step is not None and steps_done >= self.switch_step else "dense"

    def observe(self, steps_done: int, dense_mean: float, full_pass: float | None = None,
                solved: Iterable[str] = ()) -> None:
        """A threshold schedule: the dense step that brought the count to `steps_done` had this batch
        dense mean, full-pass rate and set of `solved` problems (any hashable keys); once the rule holds
        over the last `window` of them, binary from the next step. A capped schedule records the cap as
        its switch step when it is reached."""
        if self.threshold is None or self.switch_step is not None:
            return
        if self.switch_on == "dense_mean":
            self.history.append(dense_mean)
            if len(self.history) == self.window and sum(self.history) / self.window >= self.threshold:
                self.switch_step, self.switch_reason = steps_done, "rule"
            return
        self.history.append([0.0 if full_pass is None else float(full_pass), sorted(set(map(str, solved)))])
        rates = [rate for rate, _ in self.history]
        distinct = set().union(*(keys for _, keys in self.history))
        if (len(self.history) == self.window and sum(rates) / self.window >= self.threshold
                and len(distinct) >= self.min_solved):
            self.switch_step, self.switch_reason = steps_done, "rule"
        elif self.cap is not None and steps_done >= self.cap:
            self.switch_step, self.switch_reason = self.cap, "cap"

    def export(self) -> dict[str, Any]:
        return {"switch_step": self.switch_step, "history": list(self.history), "switch_reason": self.switch_reason}

    def restore(self, saved: dict[str, Any]) -> None:
        """Take back an `export`ed state (a checkpoint's); a fixed schedule has nothing to restore."""
        if self.kind == "dense_then_binary" and self.threshold is not None:
            self.switch_step = saved.get("switch_step")
            self.history = deque(saved.get("history", []), maxlen=self.window)
            self.switch_reason = saved.get("switch_reason", None if self.switch_step is None else "rule")

    def __repr__(self) -> str:
        extra = "" if self.switch_on == "dense_mean" else (
            f", switch_on='full_pass', cap={self.cap}, min_solved={self.min_solved}")
        return (f"Schedule({self.kind!r}, switch_step={self.switch_step}, switch_threshold={self.threshold}, "
                f"window={self.window}{extra})")
