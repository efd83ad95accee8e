"""The multi-process training path, on CPU: `accelerate launch` starts 2 ranks of a tiny real training
script (configs/multi_gpu/smoke_ddp.py, gloo), and both ranks end with identical parameters although
each saw different data, so the gradients were all-reduced. Also checks the GPU launch configs parse."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "multi_gpu"
ACCELERATE = Path(sys.executable).with_name("accelerate")

# accelerate (via trl) and torch come with the cpu extra: a missing one is an install error, not a skip.
import accelerate  # noqa: E402,F401
import torch  # noqa: E402,F401


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_processes_train_in_sync(tmp_path):
    launcher = [str(ACCELERATE)] if ACCELERATE.exists() else [shutil.which("accelerate") or "accelerate"]
    command = [
        *launcher, "launch",
        "--config_file", str(CONFIGS / "cpu_2proc.yaml"),
        "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()),  # loopback rendezvous
        str(CONFIGS / "smoke_ddp.py"), "--out", str(tmp_path), "--steps", "3",  # 3 steps: enough to diverge unsynced
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # 2 ranks on 2 cores: 1 thread each
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert all(r["world_size"] == 2 and r["backend"] == "gloo" for r in reports)
    assert reports[0]["pid"] != reports[1]["pid"]
    # different data on each rank (different losses after the first step) ...
    assert reports[0]["losses"][1:] != reports[1]["losses"][1:]
    # ... yet the same parameters at the end, and not the initial ones: the gradients were averaged
    assert reports[0]["param_sha256"] == reports[1]["param_sha256"]
    assert all(r["params_changed"] and r["all_ranks_equal"] for r in reports)
    assert "OK" in done.stdout


@pytest.mark.parametrize("name, kind", [("ddp.yaml", "MULTI_GPU"), ("zero2.yaml", "DEEPSPEED")])
def test_gpu_launch_configs(name, kind):
    config = yaml.safe_load((CONFIGS / name).read_text())
    assert config["distributed_type"] == kind
    assert config["mixed_precision"] == "bf16" and config["use_cpu"] is False
    if kind == "DEEPSPEED":
        assert config["deepspeed_config"]["zero_stage"] == 2  # the authors' deepspeed_stage (spec A.3)


def test_readme_commands_name_existing_files():
    readme = (CONFIGS / "README.md").read_text()
    for name in ("ddp.yaml", "zero2.yaml", "cpu_2proc.yaml", "smoke_ddp.py"):
        assert f"configs/multi_gpu/{name}" in readme
        assert (CONFIGS / name).exists()
    assert "trl vllm-serve" in readme and "python -m delta_core.serve" in readme
