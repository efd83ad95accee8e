"""Writing problems out: HF-schema JSONL records (spec A.2.4) and a `datasets.Dataset` for TRL's GRPO.

- `hf_record(problem)`: the 7 columns of the published HF data (`messages` with one user turn holding
  `build_prompt`, `ground_truth`, `dataset`="manufactoria", `difficulty`, `id`, `problem_family`,
  `name`) plus our `solution` (and `_ensemble_source` when given).
- `write_jsonl(path, records)` / `write_json(path, obj)`: atomic (a temp file in the same directory,
  then `os.replace`), so a killed run never leaves a half-written file. (The reference writes one JSON
  *array* per file; we write JSON Lines, one record per line.)
- `to_dataset(problems)`: columns `prompt` (chat format: a list of {"role", "content"}), `ground_truth`
  (the list of test-case dicts that `delta_core.rewards` reads), `id`, `problem_family`, `name`,
  `difficulty`, `solution`. Arrow stores the test cases as a list of structs and gives back exactly
  the same dicts (every test has the same five keys); `ground_truth_as_json=True` stores a JSON string
  instead, which the reward functions accept too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..artifacts import atomic_write_text, read_jsonl
from .base import Problem

__all__ = [
    "hf_record",
    "write_jsonl",
    "write_json",
    "read_jsonl",
    "to_dataset",
    "dataset_row",
    "atomic_write_text",
    "ensemble_metadata",
    "write_ensemble",
]


def hf_record(problem: Problem, source: Mapping[str, Any] | None = None) -> dict[str, Any]:
    record = problem.to_hf_record()
    if source is not None:
        record["_ensemble_source"] = dict(source)
    return record


def write_jsonl(path: str | os.PathLike, records: Iterable[Mapping[str, Any]]) -> Path:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return atomic_write_text(path, text)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def dataset_row(item: Problem | Mapping[str, Any], as_json: bool = False) -> dict[str, Any]:
    """One training row: `prompt` (chat messages), `ground_truth` (test cases, or their JSON text), `id`,
    `problem_family`, `name`, `difficulty`, `solution`."""
    record = hf_record(item) if isinstance(item, Problem) else dict(item)
    tests = record["ground_truth"]
    return {
        "prompt": [{"role": m["role"], "content": m["content"]} for m in record["messages"]],
        "ground_truth": json.dumps(tests) if as_json else tests,
        "id": record["id"],
        "problem_family": record["problem_family"],
        "name": record["name"],
        "difficulty": record["difficulty"],
        "solution": record.get("solution", ""),
    }


def to_dataset(problems: Sequence[Problem | Mapping[str, Any]], ground_truth_as_json: bool = False):
    """A `datasets.Dataset` ready for TRL's `GRPOTrainer` (needs the `datasets` package, extra `cpu`).
    Takes `Problem`s or HF records (e.g. `read_jsonl` of a built file)."""
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("to_dataset needs the `datasets` package: pip install 'delta_core[cpu]'") from err
    return datasets.Dataset.from_list([dataset_row(p, ground_truth_as_json) for p in problems])


def ensemble_metadata(build) -> dict[str, Any]:
    """The `<name>_metadata.json` content of a built ensemble (no timestamps: builds are reproducible)."""
    e = build.ensemble
    return {
        "name": e.name,
        "reference_name": e.reference_name,
        "generation_seed": build.seed,
        "sampling_seed": e.seed,
        "train_ratio": e.train_ratio,
        "shuffle": True,
        "train_count": len(build.train),
        "test_count": len(build.test),
        "total_count": len(build.train) + len(build.test),
        "reference_counts": list(e.reference_counts) if e.reference_counts is not None else None,
        "specs": build.per_spec,
        "note": e.note,
    }


def write_ensemble(build, out_dir: str | os.PathLike) -> list[Path]:
    """Write `<name>_train.jsonl`, `<name>_test.jsonl` and `<name>_metadata.json` under `out_dir`."""
    out = Path(out_dir)
    name = build.ensemble.name
    return [
        write_jsonl(out / f"{name}_train.jsonl", (hf_record(p, s) for p, s in build.train)),
        write_jsonl(out / f"{name}_test.jsonl", (hf_record(p, s) for p, s in build.test)),
        write_json(out / f"{name}_metadata.json", ensemble_metadata(build)),
    ]
