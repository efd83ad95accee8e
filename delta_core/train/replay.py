"""Experience replay as the paper describes it (§3.3): successful traces come back with their prompt.

Every completion that passes all tests is kept under its prompt (the `per_prompt` most recent ones).
When that prompt is drawn again, up to `per_prompt` of its stored successes take the places of the
group's failed samples (the worst first), and the group's advantages are recomputed from its new
rewards, as TRL computes them (`(r - mean) / (std + 1e-4)` per group, or `r - mean` without scaling).
The replayed traces are off-policy: they were sampled by an older policy, which is the paper's
explanation for replay converging more slowly.

TRL 1.14.2 has no replay of its own. The buffer's state is token ids and rewards (JSON), checkpointed
with the run by `ReplayCallback` (a TRL stateful callback, like the reward schedule), so a run killed
and resumed keeps it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

__all__ = ["ReplayBuffer"]

# What a plain text GRPO batch of TRL 1.14.2 holds per row; a replayed trace can supply exactly these.
_KNOWN_KEYS = {"prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "advantages", "num_items_in_batch"}


class ReplayBuffer:
    """Successful traces per prompt: {prompt key: [(completion token ids, reward), ...] (most recent last)}.

    `max_prompts` bounds memory: the prompts used longest ago are dropped first."""

    def __init__(self, per_prompt: int = 3, max_prompts: int = 4096):
        if per_prompt < 1 or max_prompts < 1:
            raise ValueError(f"per_prompt={per_prompt}, max_prompts={max_prompts}: both must be >= 1")
        self.per_prompt = per_prompt
        self.max_prompts = max_prompts
        self.traces: OrderedDict[str, list[tuple[list[int], float]]] = OrderedDict()

    def __len__(self) -> int:
        """The number of prompts with stored successes."""
        return len(self.traces)

    def export(self) -> dict[str, Any]:
        return {"per_prompt": self.per_prompt, "traces": [[k, [[ids, r] for ids, r in v]] for k, v in self.traces.items()]}

    def restore(self, saved: dict[str, Any]) -> None:
        self.traces = OrderedDict((k, [(list(ids), float(r)) for ids, r in v]) for k, v in saved.get("traces", []))

    def _remember(self, key: str, ids: list[int], reward: float) -> None:
        kept = [t for t in self.traces.pop(key, []) if t[0] != ids] + [(ids, reward)]
        self.traces[key] = kept[-self.per_prompt:]
        while len(self.traces) > self.max_prompts:
            self.traces.popitem(last=False)

    def apply(self, batch: dict[str, Any], num_generations: int, rewards: Sequence[float], binary: Sequence[float],
              pad_id: int, scale_rewards: str = "group") -> tuple[dict[str, Any], int]:
        """Return (batch with stored successes in place of failed samples, number of samples replaced).

        `rewards` are the rewards the batch was scored with (its advantages came from them), `binary`
        the full-pass flags; both in batch order, groups of `num_generations` consecutive rows."""
        import torch

        n_rows = batch["advantages"].shape[0]
        if n_rows % num_generations or len(rewards) != n_rows or len(binary) != n_rows:
            raise ValueError(f"replay: {n_rows} rows, {len(rewards)} rewards, {len(binary)} flags, groups of "
                             f"{num_generations}: the batch is not whole groups with one reward each")
        extra = {k for k, v in batch.items() if hasattr(v, "dim") and v.dim() > 0} - _KNOWN_KEYS - {"old_per_token_logps"}
        if extra:
            raise ValueError(f"replay: the batch carries {sorted(extra)}, which a replayed trace cannot supply "
                             "(vLLM importance sampling, a reference model, images); turn replay off for this run")
        if batch.get("old_per_token_logps") is not None:
            raise ValueError("replay needs on-policy batches (no old_per_token_logps): keep steps_per_generation "
                             "equal to the gradient accumulation steps and num_iterations = 1")
        rows = [_take_row(batch, i) for i in range(n_rows)]
        new_rewards = [float(r) for r in rewards]
        replaced = 0
        for g in range(n_rows // num_generations):
            members = range(g * num_generations, (g + 1) * num_generations)
            key = _prompt_key(rows[members[0]]["prompt_ids"])
            stored = list(reversed(self.traces.get(key, [])))  # most recent first
            failed = sorted((i for i in members if binary[i] < 1.0), key=lambda i: new_rewards[i])
            fresh = [(rows[i]["completion_ids"].tolist(), new_rewards[i]) for i in members if binary[i] >= 1.0]
            for i, (ids, reward) in zip(failed, stored):
                rows[i] = _replayed_row(rows[i], ids)
                new_rewards[i] = reward
                replaced += 1
            for ids, reward in fresh:  # remembered after choosing, so a group never replays itself
                self._remember(key, ids, reward)
        if not replaced:
            return batch, 0
        merged = _stack_rows(rows, batch, pad_id)
        merged["advantages"] = _advantages(torch.tensor(new_rewards), num_generations, scale_rewards).to(
            batch["advantages"].dtype)
        merged["num_items_in_batch"] = merged["completion_mask"].sum().to(torch.as_tensor(batch["num_items_in_batch"]).dtype)
        return merged, replaced


def _advantages(rewards: Any, num_generations: int, scale_rewards: str) -> Any:
    """TRL 1.14.2's group advantages (its `scale_rewards` "group" or "none"; torch's unbiased std)."""
    grouped = rewards.view(-1, num_generations)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale_rewards == "group":
        centred = centred / (grouped.std(dim=1, keepdim=True) + 1e-4)
    elif scale_rewards != "none":
        raise ValueError(f"scale_rewards={scale_rewards!r}: replay recomputes group advantages; use 'group' or 'none'")
    return centred.reshape(-1)


def _prompt_key(prompt_ids: Any) -> str:
    return hashlib.sha1(",".join(map(str, prompt_ids.tolist())).encode()).hexdigest()[:16]


def _replayed_row(row: dict[str, Any], completion_ids: list[int]) -> dict[str, Any]:
    import torch

    out = dict(row)
    out["completion_ids"] = torch.tensor(completion_ids, dtype=row["completion_ids"].dtype)
    out["completion_mask"] = torch.ones(len(completion_ids), dtype=row["completion_mask"].dtype)
    return out


def _take_row(batch: dict[str, Any], i: int) -> dict[str, Any]:
    """One row without its padding: prompt tensors lose their left padding, completion tensors their right."""
    import torch

    p_keep = batch["prompt_mask"][i].bool()
    c_len = int(batch["completion_mask"][i].sum().item())
    row = {}
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor) or value.dim() == 0 or key in ("num_items_in_batch", "advantages"):
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
    completion_keys = _completion_keys(like)
    for key in rows[0]:
        values = [r[key] for r in rows]
        if key in ("prompt_ids", "prompt_mask"):  # left padding
            width = max(v.shape[0] for v in values)
            fill = pad_id if key == "prompt_ids" else 0
            out[key] = torch.stack([torch.cat([v.new_full((width - v.shape[0],), fill), v]) for v in values])
        elif values[0].dim() >= 1 and key in completion_keys:  # right padding
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
