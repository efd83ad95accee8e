"""What the single-GPU run found, for the book's GPU appendix (book/gpu.md): its verdicts by the criteria
fixed before the run, and one table row per arm, read from `book/results/gpu/` (scripts/gpu/run_grokking.sh).

    found = gpu_findings(Path("book/results/gpu"))
    found.text          # Markdown: not run yet, or where and how it ran and what each criterion says
    gpu_table(found.summary)   # a pandas DataFrame, one row per arm
    sft_findings(Path("book/results/smollm_sft"))   # Markdown: the adapter and its CPU measurements so far
    choose_control(mini_experiment, measure_json)   # the GPU run's positive control, by the rule below
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Criteria fixed before the run (book/gpu.md states them): the positive control "works" when its held-out
# pass@1 after training is at least CONTROL_GAIN above the start model's; the target "jumps" when its
# held-out pass@1 reaches JUMP (C5's threshold in book/claims.yaml).
CONTROL_GAIN = 0.05
JUMP = 0.5
# The paper's cost per sample, derived in scripts/gpu/README.md: 16 GPUs x ~259 s a step / 768 samples.
PAPER_GPU_SECONDS_PER_SAMPLE = 16 * 259 / 768


def choose_control(mini_experiment: str | Path, measure: str | Path | None) -> tuple[str, str]:
    """(family/level, why) of the GPU run's positive control, by a rule fixed before any GPU run: of the seen
    families, the one where the start model (SmolLM2 + its SFT adapter, `smollm_sft measure`: held-out problems
    of the seen families, the rollouts' sampler) has the highest pass@1 below 0.5. A control needs rare
    successes (pass@1 > 0, or the binary reward has no signal) and room to rise. Without measure.json, or when
    no family qualifies, the mini experiment's own `control`."""
    from .smollm_sft import read_mini

    mini = read_mini(mini_experiment, "--mini-experiment")
    path = Path(measure) if measure else None
    if path is None or not path.is_file():
        return mini.control, f"the mini experiment's control (no measurements at {measure})"
    report = _read(path)
    k = report.get("k")
    families = report.get("models", {}).get("sft", {}).get("families", {})
    fits = {spec: f["pass@1"] for spec, f in families.items() if spec in mini.seen and 0 < f["pass@1"] < 0.5}
    if not fits:
        return mini.control, f"the mini experiment's control (no seen family in {measure} has 0 < pass@1 < 0.5)"
    spec = max(fits, key=lambda s: (fits[s], s))
    own = families.get(mini.control, {})
    return spec, (f"the start model's highest pass@1 below 0.5 on the seen families ({_pct(fits[spec])}); the mini "
                  f"experiment's own control, {mini.control}, has pass@1 {_pct(own.get('pass@1'))} and pass@{k} "
                  f"{_pct(own.get(f'pass@{k}'))}")


@dataclass
class GpuFindings:
    ran: bool
    text: str
    summary: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def control_verdict(arm: dict[str, Any]) -> tuple[str, str]:
    """('works' | 'did not work' | 'not run', sentence) for the positive-control arm."""
    start = (arm.get("baseline_pass_at_k") or {}).get("pass@1")
    final = arm.get("final_full_pass")
    if start is None or final is None:
        return "not run", "The positive control has no before/after pass@1 (its arm did not finish)."
    gain = final - start
    verdict = "works" if gain >= CONTROL_GAIN else "did not work"
    return verdict, (f"**Positive control, binary reward on {arm.get('family')}/{arm.get('level')} ({verdict}):** "
                     f"held-out pass@1 {_pct(start)} before, {_pct(final)} after "
                     f"{arm.get('last_step', 0)} steps (a change of {100 * gain:+.1f} points; the criterion is "
                     f"+{100 * CONTROL_GAIN:.0f}).")


def target_verdict(arm: dict[str, Any]) -> tuple[str, str]:
    """('jump' | 'no jump' | 'not run', sentence) for the dense_then_binary arm on the target."""
    base = arm.get("baseline_pass_at_k") or {}
    final, best = arm.get("final_full_pass"), arm.get("max_heldout_full_pass")
    if final is None:
        return "not run", "The target arm has no final pass@1 (it did not finish)."
    k = base.get("k")
    lacks = base.get(f"pass@{k}") if k else None
    pre = ("" if lacks is None else
           f" The start model's pass@{k} on these problems was {_pct(lacks)}"
           + (": the target is a skill it lacks." if lacks == 0 else
              ": it already solves some, so the target is not a skill this model lacks."))
    verdict = "jump" if (best or 0) >= JUMP else "no jump"
    return verdict, (f"**Target, dense → binary ({verdict}):** held-out pass@1 {_pct(base.get('pass@1'))} before, "
                     f"{_pct(final)} after {arm.get('last_step', 0)} steps (switch at step {arm.get('switch_step')}), "
                     f"best {_pct(best)}; a jump needs {_pct(JUMP)}.{pre}")


def _attempts(folder: Path) -> str:
    """The sessions' tries to get a device (`device_attempts.jsonl`: a line per try, with its UTC time, what
    was asked and what the device service answered), as a Markdown list; empty when there is no log."""
    path = folder / "device_attempts.jsonl"
    if not path.is_file():
        return ""
    tries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    items = [f"- {t['utc']} UTC, asked `{t['asked']}`: {t['answer']}" for t in tries]
    return "\n\nWhy not yet: the tries to get a device so far, and what the device service answered:\n\n" + "\n".join(items)


def gpu_findings(folder: str | Path) -> GpuFindings:
    folder = Path(folder)
    summary = _read(folder / "summary.json")
    if not summary:
        return GpuFindings(False, "The GPU run has not been made yet: `book/results/gpu/summary.json` does not "
                                  "exist. The plan above is what it will run." + _attempts(folder))
    if summary.get("dry_run"):
        return GpuFindings(False, "`book/results/gpu/` holds a dry run's summary, which is not a result: "
                                  "it is ignored here.", summary)
    prov = _read(folder / "provenance.json")
    arms = summary.get("arms", {})
    lines = [f"The run was made on one **{summary.get('device')}** on {prov.get('started_at', 'an unrecorded date')}"
             f" from commit `{str(prov.get('git_commit') or 'unrecorded').split(' ')[0][:12]}`: "
             f"{summary.get('wall_s') or 0:.0f} s from the first step to the summary, model "
             f"{summary.get('model')}, back-end `{_backend(prov)}`."]
    verdicts = {}
    if "control_binary" in arms:
        verdicts["control"], sentence = control_verdict(arms["control_binary"])
        lines.append(sentence)
    if "dense_then_binary" in arms:
        verdicts["target"], sentence = target_verdict(arms["dense_then_binary"])
        lines.append(sentence)
    speed = [a for a in arms.values() if a.get("samples_per_s")]
    if speed:
        a = arms.get("dense_then_binary") or speed[0]
        per_sample = 1 / a["samples_per_s"]
        lines.append(f"**Cost:** {a.get('step_time_s') or 0:.1f} s a step of 64 samples, "
                     f"{per_sample:.3f} GPU-seconds a sample with two arms sharing the GPU, against the paper's "
                     f"{PAPER_GPU_SECONDS_PER_SAMPLE:.1f} (its samples are up to 43 times longer and its model 30 "
                     "times larger: the ratio measures the setups, not the method).")
    return GpuFindings(True, "\n\n".join(lines), summary, prov, verdicts)


def _backend(prov: dict[str, Any]) -> str:
    for part in str(prov.get("run_args", "")).split():
        if part.startswith("backend="):
            return part.split("=", 1)[1]
    return "unrecorded"


def gpu_table(summary: dict[str, Any]):
    """One row per arm: its data, steps, held-out pass@1 / pass@k before and after, speed."""
    import pandas as pd

    rows = []
    for name, a in summary.get("arms", {}).items():
        base, final = a.get("baseline_pass_at_k") or {}, a.get("final_pass_at_k") or {}
        k = base.get("k") or final.get("k")
        rows.append({
            "arm": name,
            "trains on": f"{a.get('family')}/{a.get('level')}",
            "steps": a.get("last_step"),
            "pass@1 before": base.get("pass@1"),
            "pass@1 after": a.get("final_full_pass"),
            f"pass@{k} before": base.get(f"pass@{k}"),
            f"pass@{k} after": final.get(f"pass@{k}"),
            "best held-out pass@1": a.get("max_heldout_full_pass"),
            "training full pass (last 5)": a.get("final_train_full_pass"),
            "s / step": a.get("step_time_s"),
            "samples / s": a.get("samples_per_s"),
        })
    return pd.DataFrame(rows).set_index("arm").round(3) if rows else pd.DataFrame()


def _threads(invocation: dict[str, Any]) -> str:
    command = str(invocation.get("command", ""))
    return "2 torch threads" if "cpu_threads=2" in command else "1 torch thread"


def sft_findings(folder: str | Path) -> str:
    """The SFT adapter the GPU run starts from (`smollm_sft sft`) and its CPU measurements (`measure`,
    `precondition`), or how far they have got: Markdown, numbers read from `book/results/smollm_sft/`."""
    from .smollm_sft import describe_measure

    folder = Path(folder)
    sft, prov = _read(folder / "sft.json"), _read(folder / "provenance.json")
    prov = next((i for i in prov.get("invocations", []) if i.get("step") == "sft" and not i.get("skipped")), prov)
    if not sft:
        return "The SFT adapter has not been made yet (`python -m delta_core.experiments.smollm_sft sft`)."
    parts = [f"**The adapter** ({sft['adapter_bytes'] / 1e6:.1f} MB in {sft['adapter_dtype']}, "
             f"{sft['trainable_parameters'] / 1e6:.2f}M parameters): {sft['steps']} steps over "
             f"{sft['sft_rows']} rows ({sft['epochs']:.1f} passes) on the CPU, {sft['seconds_per_step']:.1f} s a step "
             f"({_threads(prov)}); training loss {sft['loss_first10']:.2f} over the first ten steps, {sft['loss_last10']:.3f} over "
             f"the last ten, next-token accuracy {100 * sft['token_accuracy_last10']:.1f}% on the SFT rows."]
    measure = _read(folder / "measure.json")
    if measure.get("models"):
        parts.append("**What the SFT taught** (held-out problems of the seen families, the rollouts' sampler):\n\n"
                     "```text\n" + describe_measure(measure) + "\n```")
    else:
        done = len(list((folder / "records").glob("measure/**/*.jsonl"))) if (folder / "records").is_dir() else 0
        parts.append("**What the SFT taught:** not measured yet" + (f" ({done} record files so far)" if done else "")
                     + "; `smollm_sft measure` writes `measure.json`.")
    # dry_run_steps.json holds one entry per setting (e.g. "target_p2_g4"): the largest step measured
    runs = [r for r in _read(folder / "dry_run_steps.json").values() if isinstance(r, dict) and r.get("seconds_per_step")]
    if runs:
        steps = max(runs, key=lambda r: r.get("samples_per_step") or 0)
        samples = steps.get("samples_per_step")
        parts.append(f"**A GRPO step on this CPU** (`dry-run-steps`, {steps.get('cpu_threads')} thread): "
                     f"{steps['seconds_per_step']:.1f} s for {samples} samples, {steps.get('tokens_per_second')} "
                     f"tokens/s; a 64-sample step of the GPU run would take about "
                     f"{64 * steps['seconds_per_sample'] / 60:.0f} minutes here.")
    pre = _read(folder / "precondition.json")
    if pre.get("describe"):
        parts.append("**The precondition report** on the held-out target problems:\n\n```text\n"
                     + "\n".join(pre["describe"]) + "\n```")
    else:
        done = len(list((folder / "records" / "precondition").glob("problem_*.json")))
        parts.append("**The precondition report:** not measured yet" + (f" ({done} problems so far)" if done else "")
                     + "; `smollm_sft precondition` writes `precondition.json`.")
    return "\n\n".join(parts)
