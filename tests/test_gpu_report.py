"""The GPU appendix's verdicts (delta_core.experiments.gpu_report): each criterion fixed before the run can
come out either way, a missing or dry-run summary is never shown as a result."""

import json

from delta_core.experiments.gpu_report import control_verdict, gpu_findings, gpu_table, target_verdict


def arm(before, after, best=None, k=16, before_k=0.0, steps=40):
    return {"baseline_pass_at_k": {"k": k, "pass@1": before, f"pass@{k}": before_k}, "final_full_pass": after,
            "max_heldout_full_pass": best if best is not None else after, "last_step": steps, "switch_step": 10,
            "final_pass_at_k": {"k": k, "pass@1": after, f"pass@{k}": 0.5}, "family": "ends_with", "level": "medium",
            "samples_per_s": 20.0, "step_time_s": 3.2}


def test_control_criterion_both_ways():
    assert control_verdict(arm(0.30, 0.36))[0] == "works"
    assert control_verdict(arm(0.30, 0.34))[0] == "did not work"
    assert control_verdict(arm(0.30, 0.20))[0] == "did not work"
    assert control_verdict(arm(0.30, None))[0] == "not run"


def test_target_criterion_and_precondition():
    verdict, text = target_verdict(arm(0.0, 0.02, best=0.03, before_k=0.0))
    assert verdict == "no jump" and "a skill it lacks" in text
    verdict, text = target_verdict(arm(0.0, 0.6, best=0.6, before_k=0.0625))
    assert verdict == "jump" and "not a skill this model lacks" in text


def test_findings_not_run_dry_run_and_real(tmp_path):
    assert not gpu_findings(tmp_path).ran and "Why not" not in gpu_findings(tmp_path).text
    tries = [{"utc": "2026-12-04 20:47", "asked": "run", "answer": "no new device machine is lent at present"},
             {"utc": "2026-12-04 22:49", "asked": "status", "answer": "not drawn"}]
    (tmp_path / "device_attempts.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tries))
    text = gpu_findings(tmp_path).text
    assert "Why not yet" in text and "- 2026-12-04 22:49 UTC, asked `status`: not drawn" in text
    summary = {"dry_run": True, "device": "cpu", "arms": {}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    found = gpu_findings(tmp_path)
    assert not found.ran and "dry run" in found.text
    summary.update(dry_run=False, device="NVIDIA H200", model="SmolLM2", wall_s=400.0,
                   arms={"control_binary": arm(0.3, 0.4), "dense_then_binary": arm(0.0, 0.0)})
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "provenance.json").write_text(json.dumps({"git_commit": "abc123 (DELTA_GIT_COMMIT: ...)",
                                                          "run_args": "k=16 backend=cuda"}))
    found = gpu_findings(tmp_path)
    assert found.ran and found.verdicts == {"control": "works", "target": "no jump"}
    assert "`abc123`" in found.text and "`cuda`" in found.text and "NVIDIA H200" in found.text
    table = gpu_table(found.summary)
    assert list(table.index) == ["control_binary", "dense_then_binary"]
    assert table.loc["control_binary", "pass@1 after"] == 0.4


def test_sft_findings_report_what_exists(tmp_path):
    from delta_core.experiments.gpu_report import sft_findings

    assert "not been made yet" in sft_findings(tmp_path)
    (tmp_path / "sft.json").write_text(json.dumps({
        "adapter_bytes": 4939872, "adapter_dtype": "float16", "trainable_parameters": 2442240, "steps": 250,
        "sft_rows": 670, "epochs": 2.99, "seconds_per_step": 10.11, "loss_first10": 1.417, "loss_last10": 0.0359,
        "token_accuracy_last10": 0.9839}))
    (tmp_path / "provenance.json").write_text(json.dumps({"invocations": [
        {"step": "sft", "command": "python -m delta_core.experiments.smollm_sft sft OUT --set cpu_threads=2"}]}))
    text = sft_findings(tmp_path)
    assert "4.9 MB" in text and "10.1 s a step (2 torch threads)" in text and "98.4%" in text
    assert "What the SFT taught:** not measured yet" in text and "precondition report:** not measured yet" in text
    (tmp_path / "dry_run_steps.json").write_text(json.dumps({"target_p2_g4": {
        "samples_per_step": 8, "seconds_per_step": 55.53, "seconds_per_sample": 6.94, "tokens_per_second": 21.6,
        "cpu_threads": 1}}))
    assert "55.5 s for 8 samples, 21.6 tokens/s" in sft_findings(tmp_path) and "about 7 minutes" in sft_findings(tmp_path)
    (tmp_path / "precondition.json").write_text(json.dumps({"describe": ["pass@64 = 0.000 on 32 problems"]}))
    assert "pass@64 = 0.000 on 32 problems" in sft_findings(tmp_path)
