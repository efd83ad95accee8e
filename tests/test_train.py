"""delta_core.train: config validation, the reward schedule, replay, curriculum, pass@k, and real CPU runs
(resume after SIGKILL; a warm-started tiny model whose dense reward rises under GRPO, and not with lr=0).

The runs use the tiny Llama of delta_core.mini, shrunk further (hidden 96, 2 layers, ~0.3M parameters)
so that each GRPO step takes about a second on 2 CPU cores.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

# trl comes with the cpu extra: a missing trl is an install error, not ~60 silently skipped tests.
import trl  # noqa: E402,F401

from delta_core import train as T  # noqa: E402
from delta_core.artifacts import read_json, read_jsonl  # noqa: E402
from delta_core.rewards import make_reward  # noqa: E402
from delta_core.sampling import score_samples  # noqa: E402
from delta_core.mini import MiniConfig, save_mini  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = MiniConfig(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256)

# A run small enough for a test: 4 prompts x 4 samples, 16-token completions, one thread.
FAST = dict(
    preset="cpu_tiny",
    num_generations=4,
    generation_batch_size=16,
    per_device_train_batch_size=16,
    max_completion_length=16,
    eval_k=2,
    eval_problems=2,
    save_final=False,
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(save_mini(tmp_path_factory.mktemp("mini") / "model", SMALL))


def cfg(**kw):
    base = {"model": "x", **FAST}
    base.update(kw)
    return T.load_config(None, base)


# ---------------------------------------------------------------- config


def test_configs_and_presets_validate():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        T.load_config(path)
    for name in T.PRESETS:
        T.load_config(None, {"preset": name, "model": "m", "switch_step": 3} if name in ("paper", "gpu_lora") else {"preset": name, "model": "m"})


def test_paper_defaults():
    c = T.TrainConfig(model="m", dataset="has", switch_step=10)
    assert (c.learning_rate, c.lr_scheduler_type, c.beta, c.epsilon_high) == (5e-7, "constant", 0.0, 0.3)
    assert (c.num_generations, c.generation_batch_size, c.temperature) == (16, 768, 1.0)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"not_a_field": 1}, "not_a_field"),
        ({"generation_batch_size": 18}, "generation_batch_size"),  # not divisible by num_generations=4
        ({"per_device_train_batch_size": 12}, "per_device_train_batch_size"),  # does not divide 16
        ({"num_generations": 1, "generation_batch_size": 16}, "num_generations"),
        ({"model": None}, "model"),
        ({"schedule": "dense_then_binary", "switch_step": None}, "switch_step"),
        ({"schedule": "dense", "switch_step": 3}, "schedule"),
        ({"switch_step": None, "switch_threshold": 1.5}, "switch_threshold"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"curriculum_levels": ["easy"], "curriculum_steps": [1]}, "curriculum_steps"),
        ({"backend": "tpu"}, "backend"),
        ({"backend": "unsloth", "lora_rank": 0}, "lora_rank"),
    ],
)
def test_bad_configs_name_the_field(overrides, field):
    with pytest.raises(T.ConfigError, match=field):
        cfg(**overrides)


def test_cli_overrides():
    c, resume = T.parse_cli(
        [str(ROOT / "configs/cpu_tiny.yaml"), "--set", "max_steps=3", "--learning_rate", "1e-4", "--eval_k=2", "--resume"]
    )
    assert (c.max_steps, c.learning_rate, c.eval_k, resume) == (3, 1e-4, 2, True)
    with pytest.raises(T.ConfigError, match="unknown config key"):
        T.parse_cli([str(ROOT / "configs/cpu_tiny.yaml"), "--lr", "1"])


def test_missing_model_fails_before_training(tmp_path):
    with pytest.raises(T.ConfigError, match="model="):
        T.train(cfg(model=str(tmp_path / "nope"), output_dir=str(tmp_path / "out")))
    assert not (tmp_path / "out" / "metrics.jsonl").exists()


@pytest.mark.parametrize("backend", ["unsloth", "cuda"])
def test_gpu_backend_without_cuda_is_a_clear_error(tmp_path, backend):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    c = cfg(backend=backend, lora_rank=8, output_dir=str(tmp_path))
    with pytest.raises(T.BackendUnavailableError, match=f"backend='{backend}' needs a CUDA GPU"):
        T.train(c)
    assert not (tmp_path / "metrics.jsonl").exists()
    assert "unsloth" not in sys.modules and "vllm" not in sys.modules


def test_unsloth_needs_vllm_only_when_use_vllm(monkeypatch, tmp_path):
    import importlib.util
    import types

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "vllm" else object() if name == "unsloth" else real_find_spec(name, *a))
    monkeypatch.setitem(sys.modules, "unsloth", types.ModuleType("unsloth"))  # as if imported first, as it must be
    with pytest.raises(T.BackendUnavailableError, match="`vllm`.*use_vllm=false"):
        T.run.require_unsloth(cfg(backend="unsloth", lora_rank=8, output_dir=str(tmp_path)))
    T.run.require_unsloth(cfg(backend="unsloth", lora_rank=8, use_vllm=False, output_dir=str(tmp_path)))  # no error
    monkeypatch.delitem(sys.modules, "unsloth")
    monkeypatch.setitem(sys.modules, "trl", sys.modules.get("trl") or types.ModuleType("trl"))
    with pytest.raises(T.BackendUnavailableError, match="before trl"):  # trl without unsloth before it
        T.run.require_unsloth(cfg(backend="unsloth", lora_rank=8, use_vllm=False, output_dir=str(tmp_path)))


# ---------------------------------------------------------------- rewards, schedule

TESTS = [
    {"input": "R", "expected_accepted": True, "check_output": False},
    {"input": "B", "expected_accepted": False, "check_output": False},
]
ACCEPT_ALL = "START start:\n    NEXT end\nEND end"


def test_reward_phases_follow_switch_step():
    reward = make_reward("scheduled", schedule=cfg(switch_step=2).make_schedule(), max_completion_length=16,
                           eos_id=0, non_stop_penalty=True)
    logged = {}
    for step, expected in [(1, 0.5), (2, 0.0)]:
        out = reward([ACCEPT_ALL], [TESTS], trainer_state=SimpleNamespace(global_step=step), log_metric=logged.__setitem__)
        assert out == [expected]
    assert logged["dense_reward"] == 0.5 and logged["binary_reward"] == 0.0 and logged["reward_phase"] == 1.0


def test_non_stop_penalty_zeroes_truncated_completions():
    reward = make_reward("scheduled", schedule=cfg(schedule="dense", switch_step=None).make_schedule(),
                           max_completion_length=3, eos_id=9, non_stop_penalty=True)
    state, logged = SimpleNamespace(global_step=0), {}
    assert reward([ACCEPT_ALL, ACCEPT_ALL], [TESTS, TESTS], trainer_state=state, completion_ids=[[1, 2, 3], [1, 9]],
                  log_metric=logged.__setitem__) == [0.0, 0.5]
    assert logged["truncated_frac"] == 0.5 and reward.last_binary == [0.0, 0.0]
    # without the penalty the truncated completion keeps its score; the share is still logged
    lenient = make_reward("scheduled", schedule=cfg(schedule="dense", switch_step=None).make_schedule(),
                            max_completion_length=3, eos_id=9)
    assert lenient([ACCEPT_ALL], [TESTS], trainer_state=state, completion_ids=[[1, 2, 3]]) == [0.5]


def test_threshold_schedule_is_switched_by_its_callback_and_read_by_the_reward():
    schedule = cfg(switch_step=None, switch_threshold=0.5, switch_window=1).make_schedule()
    reward = make_reward("scheduled", schedule=schedule)
    assert reward([ACCEPT_ALL], [TESTS], trainer_state=SimpleNamespace(global_step=4)) == [0.5]  # dense
    assert schedule.switch_step is None  # the reward only reads the phase
    callback = T.ScheduleCallback(schedule)
    # TRL's log after the 5th step: the step was dense (reward_phase 0) with batch mean 0.5
    callback.on_log(None, SimpleNamespace(global_step=5), None, logs={"loss": 0.1, "dense_reward": 0.5, "reward_phase": 0.0})
    assert schedule.switch_step == 5
    assert reward([ACCEPT_ALL], [TESTS], trainer_state=SimpleNamespace(global_step=5)) == [0.0]  # binary now
    # the end-of-training summary TRL logs last is not a step
    other = cfg(switch_step=None, switch_threshold=0.1, switch_window=1).make_schedule()
    T.ScheduleCallback(other).on_log(None, SimpleNamespace(global_step=9), None,
                                     logs={"train_runtime": 3.0, "loss": 0.1, "dense_reward": 0.9, "reward_phase": 0.0})
    assert other.switch_step is None


def test_baselines_never_switch():
    dense = cfg(schedule="dense", switch_step=None).make_schedule()
    binary = cfg(schedule="binary", switch_step=None).make_schedule()
    assert [dense.phase_at(s) for s in (0, 10**6)] == ["dense", "dense"]
    assert [binary.phase_at(s) for s in (0, 10**6)] == ["binary", "binary"]


def test_threshold_switch_is_recorded_and_restored():
    c = cfg(switch_step=None, switch_threshold=0.5, switch_window=2)
    s = c.make_schedule()
    for steps_done, mean in enumerate([0.2, 0.6, 0.5], start=1):
        s.observe(steps_done, mean)
    assert s.switch_step == 3 and s.phase_at(2) == "dense" and s.phase_at(3) == "binary"
    fresh = c.make_schedule()
    fresh.restore(json.loads(json.dumps(s.export())))  # what a checkpoint holds
    assert fresh.switch_step == 3


def test_threshold_window_spanning_a_restart_uses_the_restored_history():
    # window 2, threshold 0.5: step 1 (0.6) is heard before the checkpoint, step 2 (0.5) after the restart.
    # The mean of the two, (0.6 + 0.5) / 2 = 0.55 >= 0.5, switches from step 2 on, as an unbroken run does.
    c = cfg(switch_step=None, switch_threshold=0.5, switch_window=2)
    before = c.make_schedule()
    before.observe(1, 0.6)
    assert before.switch_step is None
    saved = json.loads(json.dumps(before.export()))  # what the checkpoint holds
    assert saved == {"switch_step": None, "history": [0.6], "switch_reason": None}
    after = c.make_schedule()
    after.restore(saved)
    assert list(after.history) == [0.6]
    after.observe(2, 0.5)
    assert after.switch_step == 2 and after.phase_at(1) == "dense" and after.phase_at(2) == "binary"
    # without the history the restart would have needed two more dense steps
    forgetful = c.make_schedule()
    forgetful.observe(2, 0.5)
    assert forgetful.switch_step is None


def _fake_checkpoint(root, step, state=None):
    ckpt = root / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    if state is not None:
        (ckpt / "trainer_state.json").write_text(json.dumps(state))
    return ckpt


def _saved_schedule(step, switch_step, history):
    return {"global_step": step, "stateful_callbacks": {"ScheduleCallback": {
        "args": {}, "attributes": {"switch_step": switch_step, "history": history}}}}


def test_last_checkpoint_is_the_newest_complete_one(tmp_path):
    assert T.last_checkpoint(tmp_path / "absent") is None
    assert T.last_checkpoint(tmp_path) is None
    _fake_checkpoint(tmp_path, 2, _saved_schedule(2, None, [0.1]))
    _fake_checkpoint(tmp_path, 10, _saved_schedule(10, None, [0.2]))  # newest: 10 > 2 (not "10" < "2")
    _fake_checkpoint(tmp_path, 9, _saved_schedule(9, None, [0.3]))
    _fake_checkpoint(tmp_path, 12)  # a save cut by a kill: no trainer_state.json
    (tmp_path / "checkpoint-final").mkdir()
    assert T.last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")


class _Restored(Exception):
    pass


def test_resume_restores_the_schedule_of_the_newest_checkpoint(tmp_path, monkeypatch):
    # Two checkpoints of a threshold run (window 2): step 4 heard 0.2 then 0.6; step 6 had switched at 5.
    # A resume takes checkpoint-6: switch at 5, history [0.6, 0.55]; checkpoint-4 would give no switch.
    from delta_core.train import run as R

    _fake_checkpoint(tmp_path, 4, _saved_schedule(4, None, [0.2, 0.6]))
    _fake_checkpoint(tmp_path, 6, _saved_schedule(6, 5, [0.6, 0.55]))
    (tmp_path / "metrics.jsonl").write_text("".join(
        json.dumps({"kind": "train", "step": s}) + "\n" for s in range(1, 9)))
    seen = {}

    def fake_make_reward(kind, **kw):
        seen["schedule"] = kw["schedule"]
        raise _Restored

    tokenizer = SimpleNamespace(pad_token="<pad>", eos_token="<eos>", eos_token_id=0, padding_side="right")
    monkeypatch.setattr("delta_core.models.resolve_spec", lambda spec: None)
    monkeypatch.setattr(R, "_load_cpu_model", lambda config: (None, tokenizer))
    monkeypatch.setattr(R, "make_reward", fake_make_reward)
    config = cfg(output_dir=str(tmp_path), switch_step=None, switch_threshold=0.5, switch_window=2,
                 lora_rank=0, cpu_threads=None, eval_steps=0)
    rows = [{"prompt": "p", "ground_truth": "[]"}] * config.prompts_per_step
    with pytest.raises(_Restored):
        T.train(config, resume=True, datasets=(rows, None))
    schedule = seen["schedule"]
    assert schedule.switch_step == 5 and list(schedule.history) == [0.6, 0.55]
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4, 5, 6]  # cut at 6


# ---------------------------------------------------------------- replay, curriculum


def _batch(advantages, completion_lengths, prompt_lengths, pad=0):
    import torch

    n = len(advantages)
    pw, cw = max(prompt_lengths), max(completion_lengths)
    prompt_ids = torch.full((n, pw), pad)
    prompt_mask = torch.zeros((n, pw), dtype=torch.long)
    completion_ids = torch.full((n, cw), pad)
    completion_mask = torch.zeros((n, cw), dtype=torch.long)
    for i, (p, c) in enumerate(zip(prompt_lengths, completion_lengths)):
        prompt_ids[i, pw - p :] = 100 + i
        prompt_mask[i, pw - p :] = 1
        completion_ids[i, :c] = 200 + i
        completion_mask[i, :c] = 1
    return {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": torch.tensor(advantages, dtype=torch.float),
        "num_items_in_batch": completion_mask.sum(),
    }


def test_replay_returns_a_prompts_successes_in_place_of_its_worst_failures():
    import torch

    buffer = T.ReplayBuffer(per_prompt=2)
    # Step 1: two groups of 3 (prompts of length 2 and 4). Group 0 has one full pass (row 0), group 1 none.
    first = _batch([0.0] * 6, [3, 2, 1, 1, 1, 1], [2, 2, 2, 4, 4, 4])
    first["prompt_ids"][0:3] = first["prompt_ids"][0]  # one prompt per group
    first["prompt_ids"][3:6] = first["prompt_ids"][3]
    out, replaced = buffer.apply(first, 3, [1.0, 0.2, 0.1, 0.0, 0.0, 0.0], [1.0, 0, 0, 0, 0, 0], pad_id=0)
    assert replaced == 0 and out is first and len(buffer) == 1  # a group never replays its own success
    # Step 2: group 0's prompt returns with no success: its worst failure (reward 0.0, row 1) takes the
    # stored trace, and the group's advantages are TRL's, recomputed from rewards [0.5, 1.0, 0.3].
    second = _batch([0.0] * 6, [4, 4, 4, 5, 5, 5], [2, 2, 2, 6, 6, 6])
    second["prompt_ids"][0:3] = second["prompt_ids"][0]  # unpadded [100, 100]: group 0's prompt of step 1
    second["prompt_ids"][3:6] = second["prompt_ids"][3]
    out, replaced = buffer.apply(second, 3, [0.5, 0.0, 0.3, 0.0, 0.0, 0.0], [0.0] * 6, pad_id=0, scale_rewards="group")
    assert replaced == 1
    assert out["completion_ids"][1, :3].tolist() == [200, 200, 200] and out["completion_mask"][1].tolist() == [1, 1, 1, 0, 0]
    assert out["completion_ids"][0, :4].tolist() == [200 + 0] * 4  # the others are untouched
    r = torch.tensor([0.5, 1.0, 0.3])
    expected = ((r - r.mean()) / (r.std() + 1e-4)).tolist()
    assert out["advantages"][:3].tolist() == pytest.approx(expected)
    assert out["advantages"][3:].tolist() == [0.0, 0.0, 0.0]  # group 1's prompt has nothing stored
    assert int(out["num_items_in_batch"]) == int(out["completion_mask"].sum()) == 4 + 3 + 4 + 15
    # without scaling: r - mean; an unknown scaling is refused
    again = T.ReplayBuffer(per_prompt=2)
    again.restore(buffer.export())  # the checkpointed state round-trips
    assert again.export() == buffer.export()
    out, _ = again.apply(second, 3, [0.5, 0.0, 0.3, 0.0, 0.0, 0.0], [0.0] * 6, pad_id=0, scale_rewards="none")
    assert out["advantages"][:3].tolist() == pytest.approx((r - r.mean()).tolist())
    with pytest.raises(ValueError, match="scale_rewards='batch'"):
        T.replay._advantages(r, 3, "batch")


def test_replay_keeps_the_most_recent_successes_per_prompt_and_refuses_batches_it_cannot_fill():
    buffer = T.ReplayBuffer(per_prompt=2, max_prompts=1)
    for length in (1, 2, 3):  # three successes of the same prompt: the last two are kept
        batch = _batch([0.0, 0.0], [length, 1], [2, 2])
        batch["prompt_ids"][1] = batch["prompt_ids"][0]
        buffer.apply(batch, 2, [1.0, 0.0], [1.0, 0.0], pad_id=0)
    (key, traces), = buffer.export()["traces"]
    assert [len(ids) for ids, _ in traces] == [2, 3]
    other = _batch([0.0, 0.0], [1, 1], [5, 5])
    buffer.apply(other, 2, [1.0, 0.0], [1.0, 0.0], pad_id=0)
    assert len(buffer) == 1 and buffer.export()["traces"][0][0] != key  # max_prompts=1: the older prompt went
    with_logps = _batch([0.0, 0.0], [1, 1], [2, 2])
    with_logps["old_per_token_logps"] = with_logps["completion_mask"].float()
    with pytest.raises(ValueError, match="old_per_token_logps"):
        buffer.apply(with_logps, 2, [0.0, 0.0], [0.0, 0.0], pad_id=0)
    with pytest.raises(ValueError, match="whole groups"):
        buffer.apply(_batch([0.0] * 3, [1] * 3, [2] * 3), 2, [0.0] * 3, [0.0] * 3, pad_id=0)


def test_curriculum_orders_training_data_by_level():
    c = cfg(
        family="prepend_sequence", level=None, curriculum_levels=["easy", "medium"], curriculum_steps=[0, 2], max_steps=4,
        colour_mode="two_color",
    )
    train_ds, eval_ds = T.build_datasets(c)
    per_step = c.prompts_per_step
    assert len(train_ds) == 4 * per_step
    assert train_ds["level"] == ["easy"] * 2 * per_step + ["medium"] * 2 * per_step
    assert set(eval_ds["level"]) == {"easy", "medium"}
    assert T.run._grpo_args(c, True).shuffle_dataset is False  # TRL's sampler keeps the order
    # a curriculum built by the caller (delta_core.experiments.recipe) asks for the same with ordered_data
    assert T.run._grpo_args(cfg(ordered_data=True), True).shuffle_dataset is False
    assert T.run._grpo_args(cfg(), True).shuffle_dataset is True


def test_the_rollouts_kv_cache_is_a_setting_delta_mini_sets_and_smollm2_does_not():
    # TRL's CPU rollouts use transformers' default cache unless told; DELTA-mini's tiny Llama decodes ~1.4x
    # faster with a preallocated one, SmolLM2 3x slower (benchmarks/generation_cache.py)
    from delta_core.experiments import smollm_sft
    from delta_core.experiments.delta_mini import MiniExperiment, rl_config

    assert T.run._grpo_args(cfg(), True).cache_implementation is None
    mini = rl_config(MiniExperiment(), model="x")
    assert mini.generation_cache == "static" and T.run._grpo_args(mini, True).cache_implementation == "static"
    assert smollm_sft.grpo_config(smollm_sft.SmolSFTExperiment(), MiniExperiment(), model="x").generation_cache is None
    with pytest.raises(T.ConfigError, match="generation_cache"):
        cfg(generation_cache="dynamic2")


# ---------------------------------------------------------------- real runs


def _train_steps(path):
    return [r["step"] for r in read_jsonl(path, missing_ok=True) if r["kind"] == "train"]


def test_resume_after_sigkill_loses_and_repeats_no_step(tiny_model, tmp_path):
    out = tmp_path / "run"
    args = [
        sys.executable, "-m", "delta_core.train", "--preset", "cpu_tiny", "--model", tiny_model,
        "--output_dir", str(out), "--max_steps", "8", "--save_steps", "2", "--switch_step", "3",
        "--eval_steps", "3", "--num_generations", "4", "--generation_batch_size", "16",
        "--per_device_train_batch_size", "16", "--max_completion_length", "16", "--eval_k", "2",
        "--eval_problems", "2", "--save_final", "false",
    ]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None:
            if any(s >= 3 for s in _train_steps(metrics)):
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    killed_at = max(_train_steps(metrics))
    assert killed_at < 8

    config, resume = T.parse_cli(args[3:] + ["--resume"])
    T.train(config, resume=resume)

    records = read_jsonl(metrics)
    assert _train_steps(metrics) == list(range(1, 9))  # each step once, in order
    assert [r["step"] for r in records if r["kind"] == "eval"] == [0, 3, 6]
    phases = {r["step"]: r["phase"] for r in records if r["kind"] == "train"}
    assert all(phases[s] == ("binary" if s > 3 else "dense") for s in phases)  # schedule continues right
    # The CPU path never imports the GPU stack.
    assert "unsloth" not in sys.modules and "vllm" not in sys.modules


@pytest.fixture(scope="module")
def warm_model(tiny_model, tmp_path_factory):
    from delta_core.mini import warm_start
    from delta_core.tasks import generate

    problems = [p for f in ("starts_with", "exact_sequence", "append_sequence") for p in generate(f, "basic", "two_color")]
    return str(warm_start(tiny_model, tmp_path_factory.mktemp("sft") / "model", problems, max_steps=80, learning_rate=5e-3))


def _dense_curve(model, out, lr):
    c = T.load_config(
        None,
        dict(preset="cpu_tiny", model=model, output_dir=str(out), schedule="dense", switch_step=None, max_steps=LEARN_STEPS,
             eval_steps=0, save_steps=1000, learning_rate=lr, save_final=False),
    )
    T.train(c)
    return [r["dense_mean"] for r in read_jsonl(out / "metrics.jsonl") if r["kind"] == "train"]


LEARN_STEPS = 10


def test_grpo_raises_dense_reward(warm_model, tmp_path):
    curve = _dense_curve(warm_model, tmp_path / "learn", lr=1e-3)
    first, last = sum(curve[:3]) / 3, sum(curve[-3:]) / 3
    assert last > first + 0.08, f"dense reward did not rise: {curve}"
    assert "unsloth" not in sys.modules and "vllm" not in sys.modules


def test_no_rise_with_zero_learning_rate(warm_model, tmp_path):
    # The control: the same run with lr=0 must fail the assertion above.
    curve = _dense_curve(warm_model, tmp_path / "frozen", lr=0.0)
    first, last = sum(curve[:3]) / 3, sum(curve[-3:]) / 3
    assert not last > first + 0.08, f"reward rose without learning: {curve}"


def test_score_samples_counts_full_passes_per_problem():
    rows = [{"id": "p0", "ground_truth": TESTS}, {"id": "p1", "ground_truth": TESTS}]
    # an accept-all program passes 1 of 2 tests; a program that accepts only R (rejects B) passes both
    accept_r = "START start:\n    NEXT p\nPULLER_RB p:\n    [R] end\nEND end"
    fence = "```\n{}\n```".format
    samples = [[fence(ACCEPT_ALL), fence(accept_r), fence(accept_r), "no program"], [fence(ACCEPT_ALL)] * 4]
    scored = score_samples(rows, samples, 4, criteria=["a", "b"], keep_examples=2)
    assert [p["c"] for p in scored["per_problem"]] == [2, 0]
    assert scored["per_problem"][0]["dense_mean"] == pytest.approx((0.5 + 1 + 1 + 0) / 4)
    assert scored["pass@1"] == pytest.approx((2 / 4 + 0) / 2) and scored["pass@4"] == pytest.approx(0.5)
    assert scored["problems_with_a_full_pass"] == 1
    assert scored["examples"] == [{"criteria": "a", "program": accept_r}]


# ---------------------------------------------------------------- steps without a learning signal


def _weights_after_each_step(tiny_model, tmp_path, skip: bool):
    """Two GRPO steps whose rewards come from a scorer: step 1 has reward spread in every group, step 2
    none (every completion scores 0.5). Returns the flattened weights after each step."""
    import datasets
    import torch
    from transformers import TrainerCallback

    calls = []

    def scorer(completions, ground_truth):
        calls.append(len(completions))
        if len(calls) == 1:
            values = [float(i % 2) for i in range(len(completions))]  # 0, 1, 0, 1 ... : spread in each group
        else:
            values = [0.5] * len(completions)  # every group ties: no learning signal
        return values, values

    snapshots = []

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            snapshots.append(torch.cat([p.detach().flatten().clone() for p in model.parameters()]))

    rows = [{"prompt": [{"role": "user", "content": f"Write a Manufactoria DSL program.\nprompt {i}"}],
             "ground_truth": "[]", "id": str(i)} for i in range(8)]
    config = cfg(model=tiny_model, dataset="scorer rows", family=None, level=None, output_dir=str(tmp_path / f"run_{skip}"), max_steps=2,
                 schedule="dense", switch_step=None, eval_steps=0, learning_rate=1e-2, save_steps=10,
                 skip_steps_without_signal=skip, seed=0, non_stop_penalty=False)  # a random model never stops
    summary = T.train(config, callbacks=[Snapshot()], datasets=(datasets.Dataset.from_list(rows), None), scorer=scorer)
    records = [r for r in read_jsonl(summary["metrics_path"]) if r["kind"] == "train"]
    return snapshots, [r["step_skipped"] for r in records], [r["frac_zero_std"] for r in records]


def test_a_step_without_reward_spread_does_not_move_the_weights(tiny_model, tmp_path):
    snapshots, skipped, zero_std = _weights_after_each_step(tiny_model, tmp_path, skip=True)
    assert zero_std == [0.0, 1.0] and skipped == [0.0, 1.0]
    assert torch_equal(snapshots[0], snapshots[1])  # step 2 had no signal: no optimizer step
    # the control: without the guard, Adam's momentum from step 1 moves the weights at step 2
    control, skipped, _ = _weights_after_each_step(tiny_model, tmp_path, skip=False)
    assert skipped == [0.0, 0.0] and not torch_equal(control[0], control[1])


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


# ---------------------------------------------------------------- callbacks without a model (mutation survivors)


def test_truncate_metrics_keeps_the_first_copy_up_to_the_step_and_counts_the_rest(tmp_path):
    from delta_core.train.callbacks import truncate_metrics

    path = tmp_path / "metrics.jsonl"
    lines = [{"kind": "eval", "step": 0}, {"kind": "train", "step": 1}, {"kind": "train", "step": 2},
             {"kind": "train", "step": 2}, {"kind": "train", "step": 3}, {"kind": "note"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert truncate_metrics(path, 2) == 2  # the repeated step 2 and step 3 go; a line without a step stays
    assert read_jsonl(path) == [lines[0], lines[1], lines[2], lines[5]]
    path.write_text(json.dumps({"kind": "note"}) + "\n")
    assert truncate_metrics(path, 0) == 0 and read_jsonl(path) == [{"kind": "note"}]
    assert truncate_metrics(tmp_path / "absent.jsonl", 5) == 0


def test_mean_of_skips_keys_logged_as_none():
    from delta_core.train.callbacks import _mean_of

    assert _mean_of({"kl": None, "loss": 2}, "kl", "loss") == 2.0
    assert _mean_of({"kl": None}, "kl") is None


def test_metrics_logger_writes_only_step_logs(tmp_path):
    logger = T.MetricsLogger(tmp_path / "m.jsonl")
    state = SimpleNamespace(global_step=3)
    logger.on_log(None, state, None, logs={"eval_runtime": 1.0})  # not a training step
    logger.on_log(None, state, None, logs={"train_runtime": 9.0, "loss": 0.1})  # the end-of-training summary
    assert read_jsonl(tmp_path / "m.jsonl", missing_ok=True) == []
    logger.on_log(None, state, None, logs={"loss": 0.5, "dense_reward": 0.25, "reward_phase": 0.0})
    (line,) = read_jsonl(tmp_path / "m.jsonl")
    assert line["step"] == 3 and line["phase"] == "dense" and line["dense_mean"] == 0.25 and line["loss"] == 0.5


def test_schedule_callback_checkpoints_the_schedule_and_ignores_logs_without_a_dense_mean():
    schedule = cfg(switch_step=None, switch_threshold=0.5, switch_window=1).make_schedule()
    callback = T.ScheduleCallback(schedule)
    callback.on_log(None, SimpleNamespace(global_step=2), None, logs={"loss": 0.1, "reward_phase": 0.0})
    assert list(schedule.history) == [] and schedule.switch_step is None  # no dense mean logged: nothing heard
    callback.on_log(None, SimpleNamespace(global_step=3), None, logs={"loss": 0.1, "dense_reward": 0.4, "reward_phase": 0.0})
    assert callback.state() == {"args": {}, "attributes": {"switch_step": None, "history": [0.4], "switch_reason": None}}


# ---------------------------------------------------------------- replay across a checkpoint


def _replay_run(tiny_model, out, max_steps, resume, restore=True, monkeypatch=None):
    """GRPO on 4 prompts, all of them every step, with a scorer that passes the first sample of each
    group: successes are stored at every step and replayed whenever the prompt returns."""
    import datasets

    def scorer(completions, ground_truth):
        values = [1.0 if i % 4 == 0 else 0.0 for i in range(len(completions))]
        return values, values

    rows = [{"prompt": [{"role": "user", "content": f"Write a Manufactoria DSL program.\nprompt {i}"}],
             "ground_truth": "[]", "id": str(i)} for i in range(4)]
    config = cfg(model=tiny_model, dataset="scorer rows", family=None, level=None, output_dir=str(out),
                 max_steps=max_steps, schedule="binary", switch_step=None, eval_steps=0, save_steps=2, seed=0,
                 replay=True, non_stop_penalty=False, overwrite=True)
    if not restore:  # the control: a resume that forgets the buffer
        monkeypatch.setattr(T.ReplayBuffer, "restore", lambda self, saved: None)
    T.train(config, resume=resume, datasets=(datasets.Dataset.from_list(rows), None), scorer=scorer)
    return {r["step"]: r["replayed_samples"] for r in read_jsonl(out / "metrics.jsonl") if r["kind"] == "train"}


def test_replay_buffer_survives_a_checkpoint_and_resume(tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "run"
    first = _replay_run(tiny_model, out, 2, resume=False)
    assert first[1] == 0 and first[2] == 4  # step 2: one failure of each prompt takes step 1's success
    saved = read_json(out / "checkpoint-2" / "trainer_state.json")["stateful_callbacks"]["ReplayCallback"]
    assert len(saved["attributes"]["traces"]) == 4
    resumed = _replay_run(tiny_model, out, 3, resume=True)
    assert resumed[3] >= 4  # the first step after the resume replays the checkpointed successes (1-2 a prompt)
    # the control: a resume without the restore has nothing to replay at its first step
    out2 = tmp_path / "run2"
    _replay_run(tiny_model, out2, 2, resume=False)
    forgetful = _replay_run(tiny_model, out2, 3, resume=True, restore=False, monkeypatch=monkeypatch)
    assert forgetful[3] == 0
