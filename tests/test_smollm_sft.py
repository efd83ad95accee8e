"""delta_core.experiments.smollm_sft: the settings' checks, LoRA SFT that resumes after a kill, the merged
checkpoint, the sharded and resumable measurement records, and the precondition / GRPO steps end to end.

The model is the tiny Llama of delta_core.mini, shrunk as in test_train (its `tiny_model` fixture); the
135M SmolLM2 is never loaded here.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from delta_core.artifacts import read_json, read_jsonl, write_json
from delta_core.experiments import precondition as pc
from delta_core.experiments import smollm_sft as S
from delta_core.train.config import ConfigError

from test_train import SMALL, tiny_model  # noqa: F401  (the fixture: a ~0.3M-parameter random Llama)

# A run small enough for a test: 4 SFT steps of 2 rows, rank-4 LoRA, 24-token completions.
TINY = dict(sft_steps=4, sft_batch_size=2, save_steps=2, sft_warmup_steps=1, lora_rank=4, max_length=400,
            max_completion_length=24, measure_problems=2, measure_k=2, measure_families=["starts_with/basic"],
            precondition_k=2, precondition_problems=2, grpo_lora_rank=4)


def tiny(model: str, **kw) -> S.SmolSFTExperiment:
    return S.SmolSFTExperiment(model=model, **{**TINY, **kw})


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "field, value, needle",
    [
        ("sft_steps", 0, "sft_steps=0: must be an integer >= 1; e.g. --set sft_steps=250"),
        ("lora_rank", True, "lora_rank=True: must be an integer >= 1"),
        ("measure_k", 1, "measure_k=1: must be >= 2"),
        ("adapter_dtype", "int8", "adapter_dtype='int8': choose one of ['float32', 'float16', 'bfloat16']"),
        ("sft_learning_rate", 0, "sft_learning_rate=0: must be a number > 0"),
        ("lora_dropout", 1.0, "lora_dropout=1.0: must be a number in [0, 1)"),
        ("sft_warmup_steps", 300, "sft_warmup_steps=300: must be below sft_steps=250"),
        ("measure_families", ["ends_with"], "measure_families=['ends_with']: expected a non-empty list of 'family/level'"),
        ("precondition_problems", 0, "precondition_problems=0: must be an integer >= 1, or null"),
        ("mini_experiment", "exp.yaml", "mini_experiment='exp.yaml': expected the path of a DELTA-mini experiment.json"),
        ("model", " ", "model=' ': missing"),
    ],
)
def test_bad_settings_name_the_field_the_rule_and_a_fix(field, value, needle):
    with pytest.raises(ConfigError) as err:
        S.SmolSFTExperiment(**{field: value})
    assert needle in str(err.value)


def test_unknown_fields_and_a_bad_mini_experiment_are_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown SmolSFTExperiment field\(s\) \['sft_stpes'\]"):
        S.SmolSFTExperiment.from_dict({"sft_stpes": 3})
    with pytest.raises(ConfigError, match="mini_experiment='/nonexistent/e.json': no such file"):
        S.load_mini(S.SmolSFTExperiment(mini_experiment="/nonexistent/e.json"))
    with pytest.raises(ConfigError, match=r"measure_families=.*\['ends_with/hard'\] not among the seen families"):
        S.load_mini(S.SmolSFTExperiment(measure_families=["ends_with/hard"]))
    bad = tmp_path / "experiment.json"
    write_json(bad, {"seen": ["starts_with/basic"], "target": "starts_with/easy"})
    with pytest.raises(ConfigError, match="not a DELTA-mini experiment"):
        S.load_mini(S.SmolSFTExperiment(mini_experiment=str(bad)))


def test_the_sft_data_and_held_out_problems_are_delta_mini_v2s():
    """The SFT rows are build_base's (seen families less their held-out problems, plus the bridge); the
    measured problems are held out of them; the GRPO splits are the target's and the control's."""
    from delta_core.experiments.delta_mini import seen_split, target_split

    exp = S.SmolSFTExperiment()
    mini = S.load_mini(exp)
    train = S.sft_problems(mini)
    assert [p.id for p in train] == [p.id for p in seen_split(mini)[0]]
    measured = S.measure_problems(exp, mini)
    assert list(measured) == mini.seen and all(len(v) == exp.measure_problems for v in measured.values())
    assert not {p.id for v in measured.values() for p in v} & {p.id for p in train}
    target_train, target_held = S.grpo_datasets(mini, "target")
    assert [r["id"] for r in target_held] == [p.id for p in target_split(mini)[1]]
    control_train, control_held = S.grpo_datasets(mini, "control")
    assert {r["problem_family"] for r in control_held} == {mini.control.split("/")[0]}
    assert not {r["id"] for r in control_held} & {r["id"] for r in control_train}
    # every sampler here is the rollouts' own (TrainConfig.sampling of the GRPO config)
    sampling = S.sampling_config(exp, mini, 16)
    assert (sampling.temperature, sampling.top_p, sampling.top_k) == (mini.temperature, 1.0, 0)
    assert sampling.max_new_tokens == exp.max_completion_length and sampling.n_samples == 16
    with pytest.raises(ConfigError, match="split='nope'"):
        S.grpo_datasets(mini, "nope")


# ---------------------------------------------------------------- SFT, resumable


class Killed(Exception):
    """Stands in for a kill: raised from a callback after a metric line past the last checkpoint."""


def _killer(at_step: int):
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.global_step == at_step:
                raise Killed(at_step)

    return Kill()


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_sft_killed_and_run_again_continues_from_its_checkpoint(tiny_model, tmp_path):  # noqa: F811
    """A run killed at step 3 (checkpoint at 2, a metric line for 3 already written) and started again
    resumes at 2, logs each step once, and ends with the adapter of a run that was never killed."""
    exp = tiny(tiny_model)
    whole = S.run_sft(exp, tmp_path / "whole", tmp_path / "whole_work", progress=False)
    with pytest.raises(Killed):
        S.run_sft(exp, tmp_path / "out", tmp_path / "work", progress=False, callbacks=[_killer(3)])
    assert (tmp_path / "work" / "sft" / "checkpoint-2").is_dir()
    assert [r["step"] for r in read_jsonl(tmp_path / "out" / "sft_metrics.jsonl")] == [1, 2, 3]
    assert not (tmp_path / "out" / "sft.json").exists()

    summary = S.run_sft(exp, tmp_path / "out", tmp_path / "work", progress=False)
    assert summary["resumed_from"] == "checkpoint-2" and summary["steps"] == 4
    lines = read_jsonl(tmp_path / "out" / "sft_metrics.jsonl")
    assert [r["step"] for r in lines] == [1, 2, 3, 4]
    uninterrupted = read_jsonl(tmp_path / "whole" / "sft_metrics.jsonl")
    assert [r["loss"] for r in lines] == pytest.approx([r["loss"] for r in uninterrupted], rel=1e-4)
    a, b = _weights(tmp_path / "whole" / "adapter"), _weights(tmp_path / "out" / "adapter")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)

    # only the adapter is kept, stored in adapter_dtype, and its size is reported
    adapter = tmp_path / "out" / "adapter"
    assert sorted(p.name for p in adapter.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert {str(t.dtype) for t in b.values()} == {"torch.float16"}
    assert summary["adapter_bytes"] == sum(p.stat().st_size for p in adapter.iterdir()) == whole["adapter_bytes"]
    assert summary["adapter_sha256"] == S.adapter_sha256(adapter)
    assert summary["sft_rows"] == 670 and summary["sft_rows_by_family"]["contains_substring/medium"] == 136
    # finished: a further call trains nothing and returns the same summary
    assert S.run_sft(exp, tmp_path / "out", tmp_path / "work", progress=False) == summary


def test_a_second_sft_call_is_logged_as_skipped_and_keeps_the_provenance(tiny_model, tmp_path):  # noqa: F811
    """The queue calls `sft` again once the adapter exists: that call trains nothing, and provenance.json keeps
    the call that made the adapter (its command and wall time) at the top, the new one logged as skipped."""
    import json

    sets = [x for k, v in {**TINY, "sft_steps": 2}.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    args = ["sft", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--model", tiny_model, "--no-progress",
            *sets]
    assert S.main(args) == 0
    first = read_json(tmp_path / "out" / "provenance.json")
    assert S.main(args) == 0
    second = read_json(tmp_path / "out" / "provenance.json")
    assert second["wall_seconds"] == first["wall_seconds"] and second["command"] == first["command"]
    assert [call.get("skipped", False) for call in second["invocations"]] == [False, True]


def test_sft_refuses_a_max_length_that_would_cut_a_solution(tiny_model, tmp_path):  # noqa: F811
    with pytest.raises(ConfigError, match=r"max_length=50: the longest SFT row is \d+ tokens.*--set max_length="):
        S.run_sft(tiny(tiny_model, max_length=50), tmp_path / "o", tmp_path / "w", progress=False)


@pytest.fixture(scope="module")
def sft_out(tiny_model, tmp_path_factory):  # noqa: F811
    """OUT of a 2-step SFT of the tiny model (its adapter), shared by the tests below."""
    root = tmp_path_factory.mktemp("sft")
    exp = tiny(tiny_model, sft_steps=2, save_steps=2)
    S.run_sft(exp, root / "out", root / "work", progress=False)
    return exp, root / "out"


def test_the_merged_checkpoint_is_the_model_with_its_adapter(sft_out, tmp_path):
    import torch

    from delta_core.models import load_model

    exp, out = sft_out
    merged = S.merge_adapter(exp.model, out / "adapter", tmp_path / "merged")
    record = read_json(merged / "MERGED.json")
    assert record["adapter_sha256"] == S.adapter_sha256(out / "adapter")
    ids = torch.tensor([[5, 17, 42, 99, 3]])
    with torch.no_grad():
        adapted = load_model(exp.model, adapter=out / "adapter").model(ids).logits
        plain = load_model(exp.model).model(ids).logits
        from_merged = load_model(str(merged)).model(ids).logits
    assert not torch.allclose(adapted, plain)  # the adapter changes the model ...
    assert torch.allclose(adapted, from_merged, atol=1e-5)  # ... and the merged checkpoint is that model
    mtime = (merged / "config.json").stat().st_mtime_ns
    assert S.merge_adapter(exp.model, out / "adapter", merged) == merged  # the same merge: kept
    assert (merged / "config.json").stat().st_mtime_ns == mtime


# ---------------------------------------------------------------- measure: sharded records


def _fake_record(model, tokenizer, problem, row, index, k, sampling, seed=0):
    return {"index": index, "id": problem.id, "criteria": problem.criteria, "n": k, "c": int(index == 0),
            "parse_rate": 1.0 if model == "sft" else 0.25, "dense_mean": 0.5, "dense_max": 1.0,
            "distinct_programs": 1, "modal_program_share": 1.0, "full_pass_programs": [],
            "modal_program": f"program {index}", "parsed_programs": [f"program {index}"], "sample_seconds": 2.0,
            "judge_seconds": 0.0, "generated_tokens": 10}


def test_measure_shards_resume_after_a_kill_and_refuse_other_settings(tmp_path, monkeypatch):
    """Pairs (model, family) are split between shards; a problem's record is kept the moment it is
    measured, so a killed shard resumes after it; the report is written by the shard that completes it;
    records made with another adapter are an error, not mixed in."""
    calls = []

    def measured(model, *args, **kwargs):
        calls.append((model, args[1].id))
        return _fake_record(model, *args, **kwargs)

    monkeypatch.setattr(pc, "measure_problem", measured)
    monkeypatch.setattr(S, "_load", lambda exp, which, out: SimpleNamespace(model=which, tokenizer=None))
    out, work = tmp_path / "out", tmp_path / "work"
    (out / "adapter").mkdir(parents=True)
    (out / "adapter" / "adapter_config.json").write_text("{}")
    (out / "adapter" / "adapter_model.safetensors").write_bytes(b"adapter one")
    families = ["starts_with/basic", "ends_with/medium"]
    exp = S.SmolSFTExperiment(measure_problems=2, measure_k=4, measure_families=families)
    held = S.measure_problems(exp, S.load_mini(exp))

    assert S.measure(exp, out, work, shard=(0, 2), progress=False) is None  # pairs 0 and 2
    assert [m for m, _ in calls] == ["raw", "raw", "sft", "sft"]
    assert {i for _, i in calls} == {p.id for p in held["starts_with/basic"]}
    assert not (out / "measure.json").exists()

    def killed_on_second(model, *args, **kwargs):
        if len(calls) == 5:
            raise KeyboardInterrupt
        return measured(model, *args, **kwargs)

    monkeypatch.setattr(pc, "measure_problem", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        S.measure(exp, out, work, shard=(1, 2), progress=False)
    calls.clear()
    monkeypatch.setattr(pc, "measure_problem", measured)
    report = S.measure(exp, out, work, shard=(1, 2), progress=False)
    # the kill came during the second problem of (raw, ends_with/medium): its first was saved
    assert calls == [("raw", held["ends_with/medium"][1].id)] + [("sft", p.id) for p in held["ends_with/medium"]]
    family = report["models"]["sft"]["families"]["ends_with/medium"]
    assert family["pass@1"] == pytest.approx(0.5 * 1 / 4) and family["pass@4"] == pytest.approx(0.5)
    assert family["parse_rate"] == 1.0 and report["models"]["raw"]["families"]["ends_with/medium"]["parse_rate"] == 0.25
    assert family["tokens_per_second"] == 5.0 and report["models"]["raw"]["tokens_per_second"] == 5.0
    assert report["models"]["sft"]["adapter_sha256"] == S.adapter_sha256(out / "adapter")
    assert "parsed_programs" not in read_jsonl(work / "measure" / "raw" / "starts_with__basic.jsonl")[0]
    calls.clear()
    assert S.measure(exp, out, work, shard=(0, 1), progress=False) == report and calls == []  # nothing left

    (out / "adapter" / "adapter_model.safetensors").write_bytes(b"adapter two")
    with pytest.raises(ValueError, match=r"measured with other settings \(adapter_sha256\); delete it"):
        S.measure(exp, out, work, progress=False)
    with pytest.raises(ValueError, match="shard 2/2"):
        S.measure(exp, out, work, shard=(2, 2), progress=False)


def test_measure_and_precondition_on_a_real_model_and_adapter(sft_out, tmp_path):
    """The real path on the tiny model: raw and adapted models sampled and judged, the precondition
    report with its checks and baselines, records tagged with the adapter."""
    exp, out = sft_out
    import shutil

    shutil.copytree(out, tmp_path / "out")
    out, work = tmp_path / "out", tmp_path / "work"
    report = S.measure(exp, out, work, progress=False)
    for model in S.MODELS:
        family = report["models"][model]["families"]["starts_with/basic"]
        assert family["n_problems"] == 2 and family["k"] == 2 and 0 <= family["parse_rate"] <= 1
        assert family["generated_tokens"] > 0 and family["tokens_per_second"] > 0
    assert "ends_with/medium" not in report["models"]["raw"]["families"]  # measure_families limits it
    pre = S.precondition(exp, out, work, progress=False)
    assert pre["n_problems"] == 2 and pre["k"] == 2
    assert set(pre["checks"]) == {"reads_the_prompt", "conditions_on_the_pattern", "pass_at_K_is_zero"}
    assert pre["target"] == "contains_substring/medium" and pre["baselines"]["best_fixed"] > 0
    assert pre["describe"][0].startswith(("PASS", "FAIL")) and pre["adapter_sha256"] == S.adapter_sha256(out / "adapter")
    assert len(list((work / "precondition").glob("problem_*.json"))) == 2
    assert S.precondition(exp, out, work, progress=False) == pre  # written once; read back after


def test_a_measure_call_after_the_report_is_logged_as_skipped(sft_out, tmp_path):
    """Each queue restart calls `measure` again: once measure.json reports every asked model at this k, the call
    is logged as skipped and the top of provenance.json stays the call that measured (it was overwritten with a
    ~5 s "wall time" before)."""
    import json
    import shutil

    exp, out = sft_out
    shutil.copytree(out, tmp_path / "out")
    out = tmp_path / "out"
    write_json(out / "experiment.json", {k: v for k, v in S.asdict(exp).items()})
    args = ["measure", str(out), "--work", str(tmp_path / "work"), "--no-progress"]
    assert S.main(args + ["--models", "raw"]) == 0
    first = read_json(out / "provenance.json")
    assert S.main(args) == 0  # the adapted model is not in the report yet: measured, not skipped
    second = read_json(out / "provenance.json")
    assert second["command"] != first["command"] and not second["invocations"][-1].get("skipped")
    assert S.main(args) == 0
    third = read_json(out / "provenance.json")
    assert third["command"] == second["command"] and third["wall_seconds"] == second["wall_seconds"]
    assert [c.get("skipped", False) for c in third["invocations"] if c["step"] == "measure"] == [False, False, True]
    report = json.loads((out / "measure.json").read_text())
    assert set(report["models"]) == set(S.MODELS)
    (out / "measure.json").write_text(json.dumps({**report, "k": exp.measure_k + 1}))
    assert not S._measured_already(out / "measure.json", exp, ["raw"])  # another k: not the same measurement


def test_dry_run_steps_trains_grpo_from_the_merged_model(sft_out, tmp_path):
    exp, out = sft_out
    import shutil

    shutil.copytree(out, tmp_path / "out")
    result = S.dry_run_steps(exp, tmp_path / "out", tmp_path / "work", split="control", steps=2, prompts=2,
                             generations=2, progress=False)
    assert result["steps"] == 2 and result["family"] == "ends_with/medium" and result["samples_per_step"] == 4
    assert result["seconds_per_step"] > 0 and len(result["step_time_s"]) == 2
    assert read_json(tmp_path / "out" / "dry_run_steps.json")["control_p2_g2"] == result
    assert (tmp_path / "work" / "merged" / "MERGED.json").is_file()
