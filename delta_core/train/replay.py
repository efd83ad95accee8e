"""Experience replay of successful groups (TRL 1.14.2 has none: its old `GRPOWithReplayBuffer` is gone)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Keep groups that held a full pass and a learning signal; swap them in for all-equal groups.

    After TRL has scored a generation batch (`_generate_and_score_completions`), each group of
    `num_generations` rows is inspected: a group with some non-zero advantage and at least one full
    pass is copied into the buffer (most recent `size` kept); a group whose advantages are all zero
    (every sample got the same reward: no gradient) is replaced by a random buffered group, for at most
    `max_fraction` of the groups. Replayed rows keep their stored advantages; TRL's logged reward
    statistics are those of the fresh samples. Not saved in checkpoints (a resumed run refills it).
    """

    def __init__(self, size: int, max_fraction: float, seed: int = 0):
        self.groups: deque[dict[str, Any]] = deque(maxlen=size)
        self.max_fraction = max_fraction
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.groups)

    def apply(self, batch: dict[str, Any], num_generations: int, binary: Sequence[float], pad_id: int) -> tuple[dict[str, Any], int]:
        """Return (batch with zero-signal groups replaced, number of groups replaced)."""
        import torch

        adv = batch["advantages"]
        n_rows = adv.shape[0]
        if n_rows % num_generations or len(binary) != n_rows:
            return batch, 0
        n_groups = n_rows // num_generations
        rows = [_take_row(batch, i) for i in range(n_rows)]
        dead = []
        for g in range(n_groups):
            sl = slice(g * num_generations, (g + 1) * num_generations)
            signal = bool(adv[sl].abs().max() > 1e-6)
            if signal and max(binary[sl]) >= 1.0:
                self.groups.append({"rows": rows[sl]})
            elif not signal:
                dead.append(g)
        budget = min(len(dead), int(self.max_fraction * n_groups))
        if not self.groups or budget == 0:
            return batch, 0
        for g in self.rng.sample(dead, budget):
            stored = self.rng.choice(list(self.groups))["rows"]
            rows[g * num_generations : (g + 1) * num_generations] = stored
        merged = _stack_rows(rows, batch, pad_id)
        merged["num_items_in_batch"] = merged["completion_mask"].sum().to(torch.as_tensor(batch["num_items_in_batch"]).dtype)
        return merged, budget


def _take_row(batch: dict[str, Any], i: int) -> dict[str, Any]:
    """One row without its padding: prompt tensors lose their left padding, completion tensors their right."""
    import torch

    p_keep = batch["prompt_mask"][i].bool()
    c_len = int(batch["completion_mask"][i].sum().item())
    row = {}
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor) or value.dim() == 0 or key == "num_items_in_batch":
            continue
        if key in ("prompt_ids", "prompt_mask"):
            row[key] = value[i][p_keep].clone()
        elif value.dim() >= 2 and value.shape[1] == batch["completion_ids"].shape[1]:
            row[key] = value[i, :c_len].clone()
        else:
            row[key] = value[i].clone()
    return row


def _stack_rows(rows: list[dict[str, Any]], like: dict[str, Any], pad_id: int) -> dict[str, Any]:
    import torch

    out = dict(like)
    for key in rows[0]:
        values = [r[key] for r in rows]
        if key in ("prompt_ids", "prompt_mask"):  # left padding
            width = max(v.shape[0] for v in values)
            fill = pad_id if key == "prompt_ids" else 0
            out[key] = torch.stack([torch.cat([v.new_full((width - v.shape[0],), fill), v]) for v in values])
        elif values[0].dim() >= 1 and key in _completion_keys(like):  # right padding
            width = max(v.shape[0] for v in values)
            fill = pad_id if key == "completion_ids" else 0
            out[key] = torch.stack(
                [torch.cat([v, v.new_full((width - v.shape[0], *v.shape[1:]), fill)]) for v in values]
            )
        else:
            out[key] = torch.stack(values)
    return out


def _completion_keys(batch: dict[str, Any]) -> set[str]:
    import torch

    width = batch["completion_ids"].shape[1]
    return {
        k
        for k, v in batch.items()
        if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[1] == width and k not in ("prompt_ids", "prompt_mask")
    }
