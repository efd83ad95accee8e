"""The training and held-out data of a run: `datasets.Dataset`s with `prompt` and `ground_truth`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import ConfigError, TrainConfig

__all__ = ["problem_rows", "family_split", "build_datasets"]


def _criteria_from_prompt(text: str) -> str:
    # The A.2.4 prompt ends with the task sentence after "# Task" and one line of instruction.
    return text.rsplit("\n\n", 1)[-1].strip()


def problem_rows(problems: Sequence[Any], style: str = "full") -> list[dict[str, Any]]:
    """Dataset rows of `problems` (`tasks.export.dataset_row`); style "compact" swaps in the tiny model's
    short prompt (`mini.compact_prompt`)."""
    from ..mini import compact_prompt
    from ..tasks.export import dataset_row

    rows = [dataset_row(p) for p in problems]
    if style == "compact":
        for row, problem in zip(rows, problems):
            criteria = getattr(problem, "criteria", None) or _criteria_from_prompt(row["prompt"][-1]["content"])
            row["prompt"] = [{"role": "user", "content": compact_prompt(criteria)}]
    return rows


def family_split(config: TrainConfig, level: str) -> tuple[list[Any], list[Any]]:
    """(train, held-out) problems of `config.family` at `level`: the parameter space shuffled with
    `data_seed`, the first `eval_problems` held out, at most `num_problems` kept for training."""
    from ..tasks import generate

    problems = generate(config.family, level, config.colour_mode, n=None, seed=config.data_seed)
    random.Random(config.data_seed).shuffle(problems)
    held = min(config.eval_problems, max(0, len(problems) - 1))
    train, test = problems[held:], problems[:held]
    if config.num_problems is not None:
        train = train[: config.num_problems]
    return train, test


def build_datasets(config: TrainConfig):
    """(train, eval) `datasets.Dataset`s with `prompt` (chat) and `ground_truth` columns, plus `level`.

    - `dataset` = an ensemble name: its train / test splits (`build_ensemble`, seed `data_seed`);
    - `dataset` = a JSONL path of HF records: all of it for training; `eval_dataset` (JSONL) for eval;
    - `family` + `level`: the level's parameter space, shuffled, `eval_problems` held out;
    - `family` + `curriculum_levels`: one pool per level; row t*P..(t+1)*P-1 (P = prompts per step)
      is drawn from the level active at step t, and the rows are not shuffled (`shuffle_dataset=False`),
      so TRL's sampler visits them in curriculum order. Eval holds out problems of every level.
    """
    import datasets

    from ..artifacts import read_jsonl
    from ..tasks import ENSEMBLES, build_ensemble

    style = config.prompt_style
    if config.dataset is not None:
        if config.dataset in ENSEMBLES:
            build = build_ensemble(config.dataset, seed=config.data_seed)
            train_rows = problem_rows([p for p, _ in build.train], style)
            eval_rows = problem_rows([p for p, _ in build.test][: config.eval_max_problems], style)
        elif Path(config.dataset).is_file():
            train_rows = problem_rows(read_jsonl(config.dataset), style)
            eval_rows = []
        else:
            raise ConfigError(
                f"dataset={config.dataset!r}: neither an ensemble ({sorted(ENSEMBLES)}) nor a JSONL file"
            )
        if config.eval_dataset is not None:
            eval_rows = problem_rows(read_jsonl(config.eval_dataset), style)
        for row in train_rows + eval_rows:
            row["level"] = row["difficulty"]
    elif config.curriculum_levels is None:
        train, test = family_split(config, config.level)
        train_rows, eval_rows = problem_rows(train, style), problem_rows(test, style)
        for row in train_rows + eval_rows:
            row["level"] = config.level
    else:
        per_step = config.prompts_per_step
        starts = list(config.curriculum_steps) + [config.max_steps]
        train_rows, eval_rows = [], []
        for level, begin, end in zip(config.curriculum_levels, starts, starts[1:]):
            train, test = family_split(config, level)
            pool = problem_rows(train, style)
            for row in pool + (test_rows := problem_rows(test, style)):
                row["level"] = level
            eval_rows += test_rows
            need = (end - begin) * per_step
            order = random.Random(f"{config.data_seed}-{level}")
            while need > 0:  # cycle through the pool, reshuffled each pass
                chunk = pool[:]
                order.shuffle(chunk)
                train_rows += chunk[:need]
                need -= len(chunk[:need])
    if not train_rows:
        raise ConfigError(f"dataset={config.dataset!r} family={config.family!r}: no training problems")
    if config.eval_max_problems is not None:
        eval_rows = eval_rows[: config.eval_max_problems]
    train_ds = datasets.Dataset.from_list(train_rows)
    eval_ds = datasets.Dataset.from_list(eval_rows) if eval_rows else None
    return train_ds, eval_ds
