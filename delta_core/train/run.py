"""One GRPO run: the model, the data, the reward and the callbacks handed to TRL's `GRPOTrainer`."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..artifacts import read_json, read_jsonl, write_json
from ..rewards import make_reward
from ..rewards.functions import Scorer
from .config import BackendUnavailableError, ConfigError, TrainConfig
from .data import build_datasets
from .replay import ReplayBuffer

__all__ = ["train", "last_checkpoint", "require_unsloth", "check_one_step"]


def check_one_step(config: TrainConfig, n_train: int) -> None:
    """A run that cannot take a single step is an error that says why and what to set: TRL would
    otherwise train 0 steps and exit as if it had finished."""
    if n_train < config.prompts_per_step:
        raise ConfigError(
            f"generation_batch_size={config.generation_batch_size}: one step needs "
            f"{config.prompts_per_step} distinct prompts (generation_batch_size / num_generations = "
            f"{config.generation_batch_size} / {config.num_generations}), but the training data has {n_train}; "
            f"set generation_batch_size <= {max(1, n_train) * config.num_generations} (and per_device_train_batch_size "
            "to divide it), or train on more problems"
        )


def _trainer_class():
    from trl import GRPOTrainer

    class DeltaGRPOTrainer(GRPOTrainer):
        """TRL's GRPOTrainer plus the optional replay of successful groups (see `ReplayBuffer`) and, with
        `skip_without_signal`, no optimizer step for a batch in which no group has reward spread. It keeps
        the rows being rolled out in `rollout_inputs`: TRL's `rollout_func` gets only their prompts, and
        the feedback rollout (`FeedbackRollout`) needs their tests."""

        def __init__(self, *args, replay: ReplayBuffer | None = None, delta_reward: Any = None,
                     replay_counts: dict | None = None, skip_without_signal: bool = False, **kwargs):
            super().__init__(*args, **kwargs)
            self.replay = replay
            self.delta_reward = delta_reward
            self.replay_counts = replay_counts if replay_counts is not None else {}
            self.skip_without_signal = skip_without_signal
            self.no_signal = False  # the batch being trained on has all advantages 0
            self.rollout_inputs: list[dict] | None = None  # the dataset rows being rolled out, in order

        def _generate_and_score_completions(self, inputs):
            self.rollout_inputs = inputs
            batch = super()._generate_and_score_completions(inputs)
            if self.replay is not None and self.model.training:
                pad_id = self.processing_class.pad_token_id
                batch, replaced = self.replay.apply(batch, self.num_generations, self.delta_reward.last_rewards,
                                                    self.delta_reward.last_binary, pad_id, self.scale_rewards)
                # Logged with the step this batch trains (global_step counts completed steps).
                self.replay_counts[self.state.global_step + 1] = replaced
                self._metrics["train"]["replay/samples_replayed"].append(float(replaced))
                self._metrics["train"]["replay/prompts_stored"].append(float(len(self.replay)))
            if self.model.training:
                self.no_signal = bool(batch["advantages"].abs().max() <= 1e-12)
                skipped = self.no_signal and self.skip_without_signal
                self._metrics["train"]["step_skipped"].append(1.0 if skipped else 0.0)
            return batch

        def create_optimizer(self, *args, **kwargs):
            # Every group tied: the policy gradient is 0, but Adam's running moments would still move the
            # weights (and decay the policy while nothing is learned). Such a step is not taken. (One
            # generation per optimizer step, as every config here has: steps_per_generation defaults to the
            # gradient accumulation steps.)
            optimizer = super().create_optimizer(*args, **kwargs)
            take_step = optimizer.step

            def step(*step_args, **step_kwargs):
                if self.skip_without_signal and self.no_signal:
                    return None
                return take_step(*step_args, **step_kwargs)

            optimizer.step = step
            return optimizer

    return DeltaGRPOTrainer


def require_cuda(config: TrainConfig) -> None:
    """A GPU back-end ('cuda', 'unsloth') fails clearly, before any model loads, where no CUDA GPU is visible."""
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            f"backend={config.backend!r} needs a CUDA GPU and none is visible (torch.cuda.is_available() is False); "
            "use backend='cpu' (e.g. --preset cpu_tiny) on this machine"
        )


def require_unsloth(config: TrainConfig) -> None:
    """Fail clearly, before importing anything heavy, when the unsloth back-end cannot run here."""
    require_cuda(config)
    packages = ("unsloth", "vllm") if config.use_vllm else ("unsloth",)
    for package in packages:
        if importlib.util.find_spec(package) is None:
            hint = " or set use_vllm=false (rollouts from Unsloth's model.generate)" if package == "vllm" else ""
            raise BackendUnavailableError(
                f"backend='unsloth' needs the `{package}` package: pip install {' '.join(packages)} "
                f"(on a CUDA machine){hint}"
            )
    # Unsloth patches trl when it is imported first; trl imported without unsloth would stay unpatched.
    if "trl" in sys.modules and "unsloth" not in sys.modules:
        raise BackendUnavailableError(
            "backend='unsloth': trl is already imported in this process, but unsloth must be imported before trl "
            "to patch it; start a fresh process (python -m delta_core.train ...)"
        )


def _load_cpu_model(config: TrainConfig):
    from ..models import load_model

    loaded = load_model(config.model, dtype=config.dtype)
    return loaded.model, loaded.tokenizer


def _grpo_args(config: TrainConfig, has_eval: bool):
    from trl import GRPOConfig

    gpu = config.backend == "unsloth"
    extra: dict[str, Any] = {}
    if gpu:
        extra.update(use_vllm=config.use_vllm, vllm_mode="colocate", vllm_gpu_memory_utilization=config.gpu_memory_utilization,
                     bf16=True)
    elif config.backend == "cuda":  # the cpu path's model and trainer on the GPU: fp32 master weights, bf16 autocast
        import torch

        extra.update(use_cpu=False, use_vllm=False, bf16=torch.cuda.is_bf16_supported(),
                     cache_implementation=config.generation_cache)
    else:
        extra.update(use_cpu=True, bf16=False, cache_implementation=config.generation_cache)
    return GRPOConfig(
        output_dir=config.output_dir,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        beta=config.beta,
        epsilon=config.epsilon,
        epsilon_high=config.epsilon_high,
        num_generations=config.num_generations,
        generation_batch_size=config.generation_batch_size,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=config.top_k,
        max_completion_length=config.max_completion_length,
        loss_type=config.loss_type,
        scale_rewards=config.scale_rewards,
        max_steps=config.max_steps,
        seed=config.seed,
        data_seed=config.seed,
        gradient_checkpointing=config.gradient_checkpointing,
        max_grad_norm=config.max_grad_norm,
        shuffle_dataset=config.curriculum_levels is None and not config.ordered_data,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="no",  # pass@k evaluation is PassKEval's job
        report_to="none",
        disable_tqdm=not config.progress_bar,
        log_completions=False,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        **extra,
    )


def last_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The highest `checkpoint-N` holding trainer_state.json (written last, so a save cut by a kill is skipped)."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    done = [
        (int(p.name.split("-")[1]), p)
        for p in root.glob("checkpoint-*")
        if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return str(max(done)[1]) if done else None


def train(config: TrainConfig, resume: bool = False, callbacks: Sequence[Any] = (),
          datasets: tuple[Any, Any] | None = None, scorer: Scorer | None = None) -> dict[str, Any]:
    """Run GRPO as configured; return a summary (last train/eval records, paths, seconds, the trainer).

    `resume=True` continues from the last `checkpoint-*` in `output_dir` (error if there is none),
    drops the metric lines written after it, and restores the reward schedule.

    Another domain brings its own data and scores: `datasets` = (train, eval or None) `datasets.Dataset`s
    with `prompt` and `ground_truth` columns (then `config.dataset` is only a label), and `scorer`
    (`(completions, ground_truth) -> (dense scores, binary scores)`, as `rewards.make_reward` takes it).
    The held-out pass@k evaluation judges Manufactoria programs, so such a run sets `eval_steps=0`."""
    start = time.perf_counter()
    out = Path(config.output_dir)
    checkpoint = last_checkpoint(config.output_dir)
    if resume and checkpoint is None:
        raise ConfigError(f"output_dir={config.output_dir!r}: --resume given but it holds no checkpoint-* directory")
    if not resume and checkpoint is not None and not config.overwrite:
        raise ConfigError(
            f"output_dir={config.output_dir!r} already holds {Path(checkpoint).name}: pass --resume to continue, "
            "choose a new output_dir, or set overwrite=true"
        )

    # 0. The data (cheap, and a run that cannot take one step fails here, before any model loads).
    train_ds, eval_ds = datasets if datasets is not None else build_datasets(config)
    if scorer is not None and config.feedback_max_iterations:
        raise ConfigError(f"feedback_max_iterations={config.feedback_max_iterations}: the feedback is the "
                          "Manufactoria judge's verdict on the program; with a scorer of another domain set it to 0")
    if scorer is not None and config.eval_steps and eval_ds is not None:
        raise ConfigError(f"eval_steps={config.eval_steps}: the held-out pass@k judges Manufactoria programs; "
                          "with a scorer of another domain set eval_steps=0 and evaluate the model yourself")
    check_one_step(config, len(train_ds))

    # 1. The model: unsloth (GPU) must be imported before trl; the cpu path never imports it.
    if config.backend == "unsloth":
        require_unsloth(config)
        from . import gpu  # imports unsloth, then nothing from trl

        model, tokenizer = gpu.load_model_and_tokenizer(config)
        peft_config = None  # Unsloth already attached the LoRA adapters
    else:
        from ..models import ModelUnavailableError, resolve_spec

        if config.backend == "cuda":
            require_cuda(config)
        elif config.cpu_threads is not None:
            import torch

            torch.set_num_threads(config.cpu_threads)
        try:  # a missing model fails here, before trl is imported
            resolve_spec(config.model)
            model, tokenizer = _load_cpu_model(config)
        except ModelUnavailableError as err:
            raise ConfigError(f"model={config.model!r}: {err}") from err
        peft_config = None
        if config.lora_rank > 0:
            from peft import LoraConfig

            peft_config = LoraConfig(
                r=config.lora_rank,
                lora_alpha=config.lora_alpha or 2 * config.lora_rank,
                target_modules="all-linear",
                task_type="CAUSAL_LM",
            )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"

    # 2. Rewards, logs.
    from .callbacks import MetricsLogger, PassKEval, ReplayCallback, ScheduleCallback, truncate_metrics

    schedule = config.make_schedule()
    metrics_path = out / config.metrics_file
    if resume:
        trainer_state = read_json(Path(checkpoint) / "trainer_state.json")
        truncate_metrics(metrics_path, trainer_state["global_step"])
        saved = trainer_state.get("stateful_callbacks", {})
        saved = saved.get("ScheduleCallback") or saved.get("RewardScheduleCallback") or {}  # the older name too
        schedule.restore(saved.get("attributes", {}))
    elif metrics_path.exists():
        metrics_path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "train_config.json", config.to_dict())

    # One reward function whatever the arm: the schedule decides the phase ("dense" never switches,
    # "binary" is switched from step 0), so every run logs the same columns.
    reward = make_reward(
        "scheduled",
        schedule=schedule,
        max_completion_length=config.max_completion_length,
        eos_id=tokenizer.eos_token_id,
        non_stop_penalty=config.non_stop_penalty,
        scorer=scorer,
    )
    replay_counts: dict[int, int] = {}
    logger = MetricsLogger(metrics_path, schedule, replay_counts)
    # The schedule's callback first: a step's metric line then shows the switch that step caused.
    all_callbacks = [ScheduleCallback(schedule, reward), logger]
    if config.eval_steps and eval_ds is not None:
        inference = None
        if config.backend == "unsloth":
            from . import gpu

            inference = gpu.inference_mode
        all_callbacks.append(PassKEval(config, eval_ds, tokenizer, logger, inference))
    all_callbacks += list(callbacks)

    # 3. TRL.
    trainer_cls = _trainer_class()
    replay = ReplayBuffer(config.replay_per_prompt, config.replay_buffer_size) if config.replay else None
    if replay is not None and resume:  # the buffer is checkpointed with the run (ReplayCallback)
        saved_replay = trainer_state.get("stateful_callbacks", {}).get("ReplayCallback", {})
        replay.restore(saved_replay.get("attributes", {}))
    if replay is not None:
        all_callbacks.append(ReplayCallback(replay))
    trained_reward, feedback = reward, {}
    if config.feedback_max_iterations:  # (never on the unsloth path, whose patched trainer is left as it is)
        from .feedback import FeedbackRollout, score_final_turn

        # TRL scores what our rollout says is the final turn; the callbacks and replay read `reward` itself.
        trained_reward, feedback = score_final_turn(reward), {"rollout_func": FeedbackRollout(config)}
    with warnings.catch_warnings():
        # TRL 1.14.2 (pinned) marks rollout_func experimental; its contract is the pinned source's (feedback.py)
        warnings.filterwarnings("ignore", message="You are using 'rollout_func'", category=UserWarning)
        trainer = trainer_cls(
            model=model,
            reward_funcs=[trained_reward],
            args=_grpo_args(config, eval_ds is not None),
            train_dataset=train_ds,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=all_callbacks,
            **feedback,
            replay=replay,
            delta_reward=reward,
            replay_counts=replay_counts,
            skip_without_signal=config.skip_steps_without_signal,
        )
    # Every step is in metrics.jsonl: TRL's printed log dicts (its PrinterCallback when there is no progress
    # bar) would only flood a notebook's output.
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.train(resume_from_checkpoint=checkpoint if resume else None)
    if config.save_final:
        trainer.save_model(str(out / "final"))
        tokenizer.save_pretrained(str(out / "final"))
    records = read_jsonl(metrics_path, missing_ok=True)
    trains = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    return {
        "metrics_path": str(metrics_path),
        "output_dir": str(out),
        "steps": trains[-1]["step"] if trains else 0,
        "last_train": trains[-1] if trains else None,
        "last_eval": evals[-1] if evals else None,
        "switch_step": schedule.switch_step,
        "seconds": time.perf_counter() - start,
        "trainer": trainer,
    }
