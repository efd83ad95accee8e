"""scripts/gpu: the wheelhouse pieces, the carry plan, the device steps, and the CPU dry run of the
single-GPU grokking run (same steps as on the GPU, tiny random model, a temp dir)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / "scripts" / "gpu"
MIB = 1 << 20


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, GPU / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


carry_plan = _module("carry_plan")


def test_batches_respect_bytes_paths_and_order():
    pieces = [
        (f"p{i:03d}", size) for i, size in enumerate([30 * MIB, 20 * MIB, 25 * MIB, 1 * MIB] + [2 * MIB] * 20)
    ]
    budget = 56 * MIB
    batches = carry_plan.plan_batches(pieces, budget, max_paths=8, first=[("manifest.tsv", 5000)])
    assert batches[0].paths[0] == "manifest.tsv"
    assert all(b.bytes <= budget and len(b.paths) <= 8 for b in batches)
    flat = [p for b in batches for p in b.paths if p != "manifest.tsv"]
    assert flat == [p for p, _ in pieces]  # every piece once, in order
    assert sum(b.bytes for b in batches) == sum(s for _, s in pieces) + 5000
    with pytest.raises(ValueError, match="smaller --piece-mib"):
        carry_plan.plan_batches([("big", 60 * MIB)], budget)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheelhouse_pieces_plan_and_device_steps_reassemble(tmp_path):
    """Offline: fake wheels -> build_wheelhouse.sh (1 MiB pieces) -> carry_plan (a small per-call budget)
    -> each call's folder "carried" into a fresh repo copy -> device_step.sh stash / install --no-pip."""
    src = tmp_path / "src"
    src.mkdir()
    rng = __import__("random").Random(0)
    wheels = {
        "alpha-1.0-py3-none-any.whl": 2_500_000,
        "beta_pkg-2.1-py3-none-any.whl": 700_000,
        "gamma-0.3-cp312-cp312-manylinux_2_17_x86_64.whl": 1_900_000,
    }
    for name, size in wheels.items():
        (src / name).write_bytes(rng.randbytes(size))
    reqs = tmp_path / "req.txt"
    reqs.write_text("# test\ncore alpha==1.0\ncore beta-pkg==2.1\nmodel gamma==0.3\nvllm never==1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    wh = repo / ".wh"
    build = subprocess.run(
        [
            "bash",
            str(GPU / "build_wheelhouse.sh"),
            "--requirements",
            str(reqs),
            "--from-dir",
            str(src),
            "--out",
            str(wh),
            "--piece-mib",
            "1",
            "--bundles",
            "core,model",
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    manifest = carry_plan.read_manifest(wh / "manifest.tsv")
    pieces = manifest.of("piece")
    assert len(pieces) == 5 and all(p.bytes <= MIB for p in pieces)
    assert {Path(w.path).name for w in manifest.of("wheel")} == set(wheels)
    for w in manifest.of("wheel"):
        assert w.sha256 == _sha(src / Path(w.path).name)

    # A 61 MiB working tree leaves 2.5 MiB a call: several calls.
    plan = carry_plan.make_plan(
        carry_plan.parse_args(
            ["--wheelhouse", str(wh), "--repo", str(repo), "--tree-mib", "61", "--margin-mib", "0.5"]
        )
    )
    assert plan["per_call_budget_mib"] == 2.5
    assert len(plan["calls"]) >= 2
    for call in plan["calls"]:
        assert len(call["carry"]) <= carry_plan.MAX_PATHS
        assert call["sent_mib"] <= 64
        assert len(call["command"]) <= carry_plan.COMMAND_CHARS
    assert "run_grokking.sh" in plan["calls"][-1]["command"] and "install" in plan["calls"][-1]["command"]
    staged = [f for call in plan["calls"] for f in call["files"]]
    assert sorted(staged) == sorted(["manifest.tsv"] + [Path(p.path).name for p in pieces])

    # The device side: a bare copy of the repo receives one carried folder per call.
    device = tmp_path / "device"
    home = tmp_path / "home"
    env = {**os.environ, "DELTA_GPU_HOME": str(home), "DELTA_WHEELHOUSE": ".wh"}
    for call in plan["calls"]:
        (rel,) = call["carry"]
        target = device / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-r", str(repo / rel), str(target)], check=True)
        out = subprocess.run(
            ["bash", str(GPU / "device_step.sh"), "stash"],
            cwd=device,
            env=env,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
    assert f"{len(pieces)}/{len(pieces)} pieces" in out.stdout
    done = subprocess.run(
        ["bash", str(GPU / "device_step.sh"), "install", "--no-pip"],
        cwd=device,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for name in wheels:
        (got,) = home.glob(f"wheels/*/{name}")
        assert got.read_bytes() == (src / name).read_bytes()

    # A corrupted piece is refused at stash time.
    bad = device / ".wh" / "batches" / "call1"
    bad.mkdir(parents=True, exist_ok=True)
    first = Path(pieces[0].path).name
    (bad / first).write_bytes(b"not the piece")
    out = subprocess.run(
        ["bash", str(GPU / "device_step.sh"), "stash"], cwd=device, env=env, capture_output=True, text=True
    )
    assert out.returncode != 0 and "sha256" in out.stderr


def test_dry_run_writes_the_gpu_layout_without_unsloth_or_vllm(tmp_path):
    """run_grokking.sh --dry-run: every step on CPU, same artifacts, and no step loads unsloth or vllm
    (each step reports the GPU-only modules it loaded; where they are installed, this is a real check)."""
    out = tmp_path / "out"
    report = tmp_path / "imports.jsonl"
    env = {**os.environ, "DELTA_GPU_HOME": str(tmp_path / "nohome"), "DELTA_GPU_IMPORT_REPORT": str(report)}
    run = subprocess.run(
        [
            "bash",
            str(GPU / "run_grokking.sh"),
            "--dry-run",
            "--out",
            str(out),
            "--scratch",
            str(tmp_path / "s"),
            "--arms",
            "dense_then_binary",
            "--steps",
            "2",
            "--switch-step",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    steps = [json.loads(line) for line in report.read_text().splitlines()]
    assert [s["step"] for s in steps] == ["control", "provenance", "passk", "train", "passk", "summarize"]
    assert all(s["gpu_modules"] == [] for s in steps)
    for rel in (
        "provenance.json",
        "summary.json",
        "baseline/passk.json",
        "plots/curves.png",
        "plots/passk.png",
        "arms/dense_then_binary/metrics.jsonl",
        "arms/dense_then_binary/profile.json",
        "arms/dense_then_binary/passk_final.json",
        "arms/dense_then_binary/train_config.json",
    ):
        assert (out / rel).is_file(), rel
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dry_run"] is True and summary["device"] == "cpu"
    assert {"pass@1", "k", "n_problems"} <= set(summary["baseline_pass_at_k"])
    arm = summary["arms"]["dense_then_binary"]
    for key in (
        "final_full_pass",
        "first_step_full_pass_ge_0.5",
        "step_first_50",
        "switch_step",
        "last_step",
        "final_dense_mean",
        "step_time_s",
        "peak_memory_gib",
        "tokens_per_s",
        "samples_per_s",
    ):
        assert key in arm, key
    assert arm["last_step"] == 2 and arm["switch_step"] == 1 and arm["step_time_s"] > 0
    for key in ("step_time_s", "peak_memory_gib", "tokens_per_s", "runs"):
        assert key in summary
    assert summary["runs"][0]["final_full_pass"] == arm["final_full_pass"]
    profile = json.loads((out / "arms/dense_then_binary/profile.json").read_text())
    assert profile["vllm"] == "off" and profile["backend"] == "cpu"


def test_dry_run_refuses_the_real_results_folder(tmp_path):
    run = subprocess.run(
        [
            "bash",
            str(GPU / "run_grokking.sh"),
            "--dry-run",
            "--out",
            str(ROOT / "book/results/gpu"),
            "--scratch",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "never writes into book/results/gpu" in run.stderr
    assert (
        not (ROOT / "book/results/gpu/summary.json").exists()
        or "dry_run" not in (ROOT / "book/results/gpu/summary.json").read_text()
    )


def test_unsloth_backend_gets_a_checkpoint_it_can_load(tmp_path):
    """train_gpu.model_location (run with a stand-in `unsloth`, in a subprocess so that no test sees it):
    a checkpoint directory passes through; a .gguf spec becomes delta_core.models' converted checkpoint."""
    stub = tmp_path / "stub"
    (stub / "unsloth").mkdir(parents=True)
    (stub / "unsloth" / "__init__.py").write_text(
        "class FastLanguageModel:\n"
        "    seen = {}\n"
        "    @staticmethod\n"
        "    def from_pretrained(**kwargs):\n"
        "        FastLanguageModel.seen.update(kwargs)\n"
        "        return 'model', 'tokenizer'\n"
        "    @staticmethod\n"
        "    def get_peft_model(model, **kwargs):\n"
        "        return model\n"
    )
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    code = f"""
from pathlib import Path
from delta_core import models
from delta_core.train import gpu as train_gpu
gguf = Path({str(tmp_path / "m.gguf")!r})
target = models.gguf_cache_path(gguf)
target.mkdir(parents=True)
(target / "config.json").write_text("{{}}")  # already converted: nothing to dequantise
assert train_gpu.model_location({str(tmp_path / "ckpt")!r}) == str(Path({str(tmp_path / "ckpt")!r}).resolve())
assert train_gpu.model_location(str(gguf)) == str(target)
assert train_gpu.model_location("Org/some-model") == "Org/some-model"
from types import SimpleNamespace
config = SimpleNamespace(model=str(gguf), max_seq_length=64, load_in_4bit=False, lora_rank=8, lora_alpha=None,
                         gpu_memory_utilization=0.5, gradient_checkpointing=False, seed=0, use_vllm=False)
train_gpu.load_model_and_tokenizer(config)
assert train_gpu.FastLanguageModel.seen["model_name"] == str(target)
assert train_gpu.FastLanguageModel.seen["fast_inference"] is False  # use_vllm=False: no vLLM engine
try:
    train_gpu.model_location({str(tmp_path / "missing.gguf")!r})
except models.ModelUnavailableError:
    print("ok")
"""
    env = {**os.environ, "PYTHONPATH": f"{stub}:{ROOT}", "DELTA_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_default_dry_run_merges_the_sft_adapter_and_trains_the_control_and_the_target(tmp_path):
    """The default arms (issue 21): the SFT step makes an adapter of the tiny model, it is merged into the
    start model, and the positive control (DELTA-mini v2's `control`) and dense->binary on its target train
    from it; each arm is compared with the start model on its own held-out problems; C5 reads the target's."""
    out, scratch = tmp_path / "out", tmp_path / "s"
    report = tmp_path / "imports.jsonl"
    env = {**os.environ, "DELTA_GPU_HOME": str(tmp_path / "nohome"), "DELTA_GPU_IMPORT_REPORT": str(report)}
    run = subprocess.run(
        ["bash", str(GPU / "run_grokking.sh"), "--dry-run", "--out", str(out), "--scratch", str(scratch),
         "--steps", "2", "--switch-step", "1"],
        capture_output=True, text=True, env=env, timeout=400,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    steps = [json.loads(line) for line in report.read_text().splitlines()]
    assert [s["step"] for s in steps] == ["control", "provenance", "passk", "passk", "train", "passk", "train", "passk", "summarize"]
    assert all(s["gpu_modules"] == [] for s in steps)
    mini = json.loads((ROOT / "book/results/delta_mini_v2/experiment.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["arms"]) == {"control_binary", "dense_then_binary"}
    control, target = summary["arms"]["control_binary"], summary["arms"]["dense_then_binary"]
    assert (control["split"], f"{control['family']}/{control['level']}", control["schedule"]) == (
        "control", mini["control"], "binary")
    assert (target["split"], f"{target['family']}/{target['level']}") == ("target", mini["target"])
    assert control["baseline_pass_at_k"]["family"] == mini["control"].split("/")[0]
    assert target["baseline_pass_at_k"]["family"] == mini["target"].split("/")[0]
    assert (out / "baseline/passk_control.json").is_file() and summary["baseline_pass_at_k"]["family"] == "contains_substring"
    runs = {r["arm"]: r for r in summary["runs"]}
    assert runs["dense_then_binary"]["family"] == "contains_substring" and runs["control_binary"]["split"] == "control"
    # the start model is the base with the SFT adapter merged in, and provenance names that adapter
    merged = json.loads((scratch / "start" / "MERGED.json").read_text())
    assert summary["adapter"]["sha256"] == merged["adapter_sha256"]
    assert json.loads((scratch / "runs/dense_then_binary/train_config.json").read_text())["model"] == str(scratch / "start")
    assert summary["model"] == "mini + SFT adapter"


def _fake_wheelhouse(tmp_path: Path) -> tuple[Path, Path]:
    src, repo = tmp_path / "src", tmp_path / "repo"
    src.mkdir()
    (src / "alpha-1.0-py3-none-any.whl").write_bytes(__import__("random").Random(1).randbytes(300_000))
    reqs = tmp_path / "req.txt"
    reqs.write_text("core alpha==1.0\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    build = subprocess.run(
        ["bash", str(GPU / "build_wheelhouse.sh"), "--requirements", str(reqs), "--from-dir", str(src),
         "--out", str(repo / ".wh"), "--piece-mib", "1", "--bundles", "core"],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    (repo / ".gitignore").write_text(".wh/\n")
    return repo, repo / ".wh"


def test_carry_plan_sends_the_sft_adapter_and_refuses_to_plan_without_it(tmp_path):
    repo, wh = _fake_wheelhouse(tmp_path)
    args = ["--wheelhouse", str(wh), "--repo", str(repo), "--tree-mib", "10"]
    plan = carry_plan.make_plan(carry_plan.parse_args(args))
    assert not plan["fits"] and plan["adapter"]["present"] is False
    assert any("no adapter at book/results/smollm_sft/adapter" in p for p in plan["problems"])

    adapter = repo / "book/results/smollm_sft/adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"w" * 5000)
    plan = carry_plan.make_plan(carry_plan.parse_args(args))
    # untracked and not ignored: it travels in the working tree with every call; the run is told where it is
    assert plan["fits"], plan["problems"]
    assert plan["adapter"] == {"path": "book/results/smollm_sft/adapter", "present": True, "bytes": 5002,
                               "sha256": hashlib.sha256(b"w" * 5000).hexdigest(), "in_tree": True}
    assert all(len(call["carry"]) == 1 for call in plan["calls"])
    assert "timeout 520 bash scripts/gpu/run_grokking.sh --time-budget 300 --adapter book/results/smollm_sft/adapter" \
        in plan["calls"][-1]["command"]
    assert "adapter book/results/smollm_sft/adapter" in carry_plan.render(plan)

    # ignored by git: the last call carries it as one more path, and its bytes count against that call
    (repo / ".gitignore").write_text(".wh/\nbook/results/smollm_sft/\n")
    plan = carry_plan.make_plan(carry_plan.parse_args(args))
    assert plan["adapter"]["in_tree"] is False
    assert plan["calls"][-1]["carry"][-1] == "book/results/smollm_sft/adapter"
    assert plan["calls"][-1]["carry_mib"] * MIB >= 5002
    assert "carried by the last call" in carry_plan.render(plan)

    plan = carry_plan.make_plan(carry_plan.parse_args(args + ["--adapter", "none"]))
    assert plan["fits"] and "--adapter none" in plan["calls"][-1]["command"]


def test_the_positive_control_is_chosen_by_the_measured_rule(tmp_path):
    """grokking.py control: the seen family with the start model's highest pass@1 below 0.5; none qualifying
    (or no measurements) leaves the mini experiment's own control."""
    mini = json.loads((ROOT / "book/results/delta_mini_v2/experiment.json").read_text())

    def choose(families):
        path = tmp_path / "measure.json"
        path.write_text(json.dumps({"models": {"sft": {"families": families}}}))
        run = subprocess.run([sys.executable, str(GPU / "grokking.py"), "control", "--measure", str(path)],
                             capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    seen = mini["seen"]
    assert choose({seen[0]: {"pass@1": 0.1}, seen[1]: {"pass@1": 0.3}, seen[2]: {"pass@1": 0.7}}) == seen[1]
    assert choose({seen[0]: {"pass@1": 0.0}, seen[2]: {"pass@1": 0.9}}) == mini["control"]
    assert choose({"not_a_family/basic": {"pass@1": 0.2}}) == mini["control"]
    assert choose({}) == mini["control"]
