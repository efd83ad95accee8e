"""Plan the device calls that carry the wheelhouse to the GPU machine and run the experiment there.

    python3 scripts/gpu/carry_plan.py                     # after scripts/gpu/build_wheelhouse.sh
    python3 scripts/gpu/carry_plan.py --json              # the same plan as JSON
    python3 scripts/gpu/carry_plan.py --upload-mib-s 4 --time-budget 180   # other assumptions

The device tool (/work/.library/device/README.md) sends, per `run` call, the working tree plus at most
8 `carry` paths, 64 MiB in all; one command runs at most 10 minutes; a session has 15 minutes of
device time, counted from asking for a machine to giving it back, idle time included; a machine
stays warm 30 s after a call and goes back after that (what was written on it is lost). So:

- the pieces of `manifest.tsv` are packed, in order, into batches that fit `64 MiB - tree - margin`
  (the tree is measured now: it grows as the project does, so plan right before the GPU session);
  each batch is staged as one folder of hard links, `<wheelhouse>/batches/callN/`, carried as one
  path (the first also holds the manifest), so the 8-path limit never binds;
- every call but the last runs `device_step.sh stash` (check sha256, move the pieces out of the repo);
- the last call stashes its pieces, reassembles and installs (`device_step.sh install`), runs
  `run_grokking.sh`, and packs book/results/gpu into $OUT/gpu_results.tgz;
- the SFT adapter the run starts from (`--adapter`, default book/results/smollm_sft/adapter, made by
  `python -m delta_core.experiments.smollm_sft sft`) travels too: committed (or untracked and not
  ignored) it is part of the working tree every call sends, and is counted there; ignored by git, it is
  carried as one more path by the last call. The plan gives its bytes and the SHA-256 of its weights
  (run_grokking.sh records the same in provenance.json), and does not fit when it is missing;
- the device time is estimated from stated assumptions (start, upload rate, the session's turnaround
  between calls), none of them measured here: no GPU machine was lent to the session that wrote this.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1 << 20
CALL_LIMIT_BYTES = 64 * MIB  # working tree + carried paths, per call
MAX_PATHS = 8  # carry paths per call
COMMAND_LIMIT_S = 600  # one command
COMMAND_CHARS = 2000  # one command's text
DEVICE_BUDGET_S = 900  # device time per session
WARM_S = 30  # a machine waits this long for the next call
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Entry:
    kind: str  # wheel | payload | piece | measured
    bundle: str
    path: str  # relative to the wheelhouse (wheels are relative to wheels/)
    bytes: int
    sha256: str


@dataclass
class Manifest:
    meta: dict[str, str]
    entries: list[Entry]

    def of(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind]


def read_manifest(path: str | os.PathLike) -> Manifest:
    """manifest.tsv of build_wheelhouse.sh: a '# key=value ...' line, a header, then one row per file."""
    meta: dict[str, str] = {}
    entries = []
    for line in Path(path).read_text().splitlines():
        if line.startswith("#"):
            meta.update(part.split("=", 1) for part in line[1:].split() if "=" in part)
            continue
        cols = line.split("\t")
        if len(cols) != 5 or cols[0] == "kind":
            continue
        entries.append(Entry(cols[0], cols[1], cols[2], int(cols[3]), cols[4]))
    return Manifest(meta, entries)


def tree_bytes(repo: str | os.PathLike = ROOT) -> int:
    """What every call sends besides the carried paths: tracked and untracked-not-ignored files."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    total = 0
    for name in filter(None, listed):
        p = Path(repo) / os.fsdecode(name)
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def in_tree(path: str | os.PathLike, repo: str | os.PathLike = ROOT) -> bool:
    """Whether git sends `path` with the working tree (tracked, or untracked and not ignored)."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "--cached", "--others", "--exclude-standard", "--", str(path)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return bool(listed.strip())


def adapter_plan(adapter: str, repo: str | os.PathLike = ROOT) -> dict:
    """How the SFT adapter reaches the device: its bytes, the SHA-256 of its weights, and whether it
    travels in the working tree or must be carried ("none": the run starts from the raw model)."""
    import hashlib

    if adapter == "none":
        return {"path": "none", "present": True, "bytes": 0, "in_tree": True}
    folder = Path(adapter) if Path(adapter).is_absolute() else Path(repo) / adapter
    weights = folder / "adapter_model.safetensors"
    if not (folder / "adapter_config.json").is_file() or not weights.is_file():
        return {"path": adapter, "present": False, "bytes": 0, "in_tree": False}
    if Path(os.path.relpath(folder.resolve(), Path(repo).resolve())).parts[:1] == ("..",):
        return {"path": adapter, "present": False, "bytes": 0, "in_tree": False, "outside_repo": True}
    return {
        "path": os.path.relpath(folder, repo),
        "present": True,
        "bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "in_tree": in_tree(weights, repo),
    }


@dataclass
class Batch:
    paths: list[str] = field(default_factory=list)  # relative to the repository root
    bytes: int = 0


def plan_batches(
    pieces: list[tuple[str, int]], budget: int, max_paths: int = MAX_PATHS, first: list[tuple[str, int]] = ()
) -> list[Batch]:
    """Pack (path, bytes) pieces in order into batches of at most `budget` bytes and `max_paths` paths.
    `first` (the manifest) opens the first batch. A piece larger than the budget is an error."""
    batches = [Batch()]
    for path, size in list(first):
        batches[0].paths.append(path)
        batches[0].bytes += size
    for path, size in pieces:
        if size > budget:
            raise ValueError(
                f"{path} is {size / MIB:.1f} MiB, over the {budget / MIB:.1f} MiB a call can carry: "
                "rebuild with a smaller --piece-mib"
            )
        last = batches[-1]
        if last.paths and (last.bytes + size > budget or len(last.paths) >= max_paths):
            last = Batch()
            batches.append(last)
        last.paths.append(path)
        last.bytes += size
    return batches


def stage(wheelhouse: Path, batches: list[Batch], repo: Path) -> list[str]:
    """Hard-link each batch's files into wheelhouse/batches/callN/ (old batches removed); their paths."""
    import shutil

    root = wheelhouse / "batches"
    shutil.rmtree(root, ignore_errors=True)
    folders = []
    for i, batch in enumerate(batches, 1):
        folder = root / f"call{i}"
        folder.mkdir(parents=True)
        for path in batch.paths:
            src = repo / path if not Path(path).is_absolute() else Path(path)
            try:
                os.link(src, folder / src.name)
            except OSError:  # another file system: copy
                shutil.copy2(src, folder / src.name)
        folders.append(os.path.relpath(folder, repo))
    return folders


def head_commit(repo: str | os.PathLike = ROOT) -> str | None:
    """HEAD's sha (what the device receives, when the tracked files are committed), or None outside git."""
    try:
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def uncommitted(repo: str | os.PathLike = ROOT) -> list[str]:
    """Tracked files changed in the work tree (not the index: slim_tree.sh stages deletions on purpose)."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "diff", "--name-only"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [line for line in out.splitlines() if line]


def run_args(args: argparse.Namespace) -> str:
    parts = [f"--time-budget {args.time_budget}", f"--adapter {args.adapter}"]
    if args.run_args:
        parts.append(args.run_args)
    return " ".join(parts)


def commands(batches: list[Batch], wheelhouse: str, args: argparse.Namespace) -> list[str]:
    env = "" if wheelhouse == ".gpu_wheelhouse" else f"DELTA_WHEELHOUSE={wheelhouse} "
    commit = head_commit(args.repo)
    given = f"DELTA_GIT_COMMIT={commit} " if commit else ""  # the device's copy has no .git: provenance reads this
    step = f"{env}bash scripts/gpu/device_step.sh"
    out = []
    for i, _ in enumerate(batches):
        if i < len(batches) - 1:
            out.append(f"{step} stash")
        else:
            out.append(
                "set -o pipefail; "
                f"{{ {step} stash && {step} install && "
                f"{given}timeout {args.run_limit_s} bash scripts/gpu/run_grokking.sh {run_args(args)}; }} "
                f"2>&1 | tee $OUT/log.txt; {step} pack book/results/gpu"
            )
    return out


def estimate(batches: list[Batch], tree: int, args: argparse.Namespace) -> dict[str, float]:
    """Device seconds, from the assumptions given on the command line (none measured here)."""
    calls = [args.call_fixed_s + (b.bytes + tree) / MIB / args.upload_mib_s for b in batches]
    experiment = args.time_budget + args.experiment_overhead_s
    last_command = args.install_s + experiment
    total = args.start_s + sum(calls) + args.turnaround_s * (len(batches) - 1) + last_command + args.release_s
    return {
        "start_s": args.start_s,
        "transfer_and_call_overhead_s": round(sum(calls), 1),
        "turnarounds_s": args.turnaround_s * (len(batches) - 1),
        "install_s": args.install_s,
        "experiment_s": experiment,
        "release_s": args.release_s,
        "last_command_s": last_command,
        "total_s": round(total, 1),
    }


def make_plan(args: argparse.Namespace) -> dict:
    wh = Path(args.wheelhouse)
    manifest = read_manifest(wh / "manifest.tsv")
    tree = args.tree_mib * MIB if args.tree_mib is not None else tree_bytes(args.repo)
    budget = int(CALL_LIMIT_BYTES - tree - args.margin_mib * MIB)
    rel = os.path.relpath(wh, args.repo) if wh.is_absolute() else str(wh)
    pieces = [(f"{rel}/{e.path}", e.bytes) for e in manifest.of("piece")]
    manifest_path = wh / "manifest.tsv"
    # One folder a call: the 8-path limit is on carried paths, not on the files inside them.
    batches = plan_batches(
        pieces, budget, max_paths=sys.maxsize, first=[(f"{rel}/manifest.tsv", manifest_path.stat().st_size)]
    )
    folders = stage(wh if wh.is_absolute() else Path(args.repo) / wh, batches, Path(args.repo))
    adapter = adapter_plan(args.adapter, args.repo)
    extra_carry: list[str] = []
    if adapter["present"] and not adapter["in_tree"]:  # ignored by git: the last call carries it
        if batches[-1].bytes + adapter["bytes"] > budget:
            batches.append(Batch())
            folders.append(None)
        batches[-1].bytes += adapter["bytes"]
        extra_carry = [adapter["path"]]
    cmds = commands(batches, rel, args)
    est = estimate(batches, tree, args)
    payload = sum(b for _, b in pieces)
    by_bundle: dict[str, int] = {}
    for e in manifest.of("wheel"):
        by_bundle[e.bundle] = by_bundle.get(e.bundle, 0) + e.bytes
    measured = manifest.of("measured")
    vllm_bytes = sum(e.bytes for e in measured if e.bundle == "vllm")
    problems = []
    if adapter.get("outside_repo"):
        problems.append(f"--adapter {args.adapter} is outside the repository: only its paths travel to the device")
    elif not adapter["present"]:
        problems.append(
            f"no adapter at {args.adapter} (adapter_config.json, adapter_model.safetensors): make it with "
            "python -m delta_core.experiments.smollm_sft sft book/results/smollm_sft, or pass --adapter none"
        )
    if est["total_s"] > args.device_budget_s:
        problems.append(
            f"estimated {est['total_s'] / 60:.1f} min > {args.device_budget_s / 60:.0f} min of device time"
        )
    if est["last_command_s"] > COMMAND_LIMIT_S - 30:
        problems.append(
            f"the last command needs ~{est['last_command_s']:.0f} s, over {COMMAND_LIMIT_S - 30} s "
            "(10-min limit less 30 s): lower --time-budget"
        )
    changed = uncommitted(args.repo)
    if changed:
        problems.append(f"{len(changed)} tracked file(s) differ from HEAD ({', '.join(changed[:3])}"
                        f"{', ...' if len(changed) > 3 else ''}): commit first, so that the provenance's commit is "
                        "what ran")
    too_long = [i + 1 for i, c in enumerate(cmds) if len(c) > COMMAND_CHARS]
    if too_long:
        problems.append(f"calls {too_long} have commands over {COMMAND_CHARS} characters")
    return {
        "wheelhouse": rel,
        "meta": manifest.meta,
        "tree_mib": round(tree / MIB, 2),
        "per_call_budget_mib": round(budget / MIB, 2),
        "payload_mib": round(payload / MIB, 1),
        "bundles_mib": {k: round(v / MIB, 1) for k, v in by_bundle.items()},
        "pieces": len(pieces),
        "adapter": adapter,
        "calls": [
            {
                "n": i + 1,
                "carry": ([folder] if folder else []) + (extra_carry if i == len(batches) - 1 else []),
                "files": [Path(p).name for p in b.paths],
                "carry_mib": round(b.bytes / MIB, 2),
                "sent_mib": round((b.bytes + tree) / MIB, 2),
                "command": c,
                "timeout_s": COMMAND_LIMIT_S if i == len(batches) - 1 else 120,
            }
            for i, (b, c, folder) in enumerate(zip(batches, cmds, folders))
        ],
        "estimate": est,
        "assumptions": {
            k: getattr(args, k)
            for k in (
                "start_s",
                "call_fixed_s",
                "upload_mib_s",
                "turnaround_s",
                "install_s",
                "experiment_overhead_s",
                "release_s",
            )
        },
        "device_budget_s": args.device_budget_s,
        "fits": not problems,
        "problems": problems,
        "vllm": {
            "measured_wheel_mib": round(vllm_bytes / MIB, 1) if vllm_bytes else None,
            "extra_calls_for_the_wheel_alone": math.ceil(vllm_bytes / budget) if vllm_bytes else None,
            "carried": False,
            "why": "vllm==0.31.0 requires torch==2.13.0 (plus torchvision 0.28.0, flashinfer, cutlass-dsl, ...); the "
            "device image has torch 2.11.0, so vLLM would need a second torch stack (over 1 GiB) carried "
            "too: it cannot fit 15 minutes. Rollouts and pass@k use Unsloth / transformers model.generate.",
        },
    }


def render(plan: dict) -> str:
    est, vllm = plan["estimate"], plan["vllm"]
    bundles = ", ".join(f"{k} {v} MiB" for k, v in plan["bundles_mib"].items())
    lines = [
        f"wheelhouse {plan['wheelhouse']}: payload {plan['payload_mib']} MiB in {plan['pieces']} pieces ({bundles})",
        f"working tree sent with every call: {plan['tree_mib']} MiB; carry budget per call: "
        + f"{plan['per_call_budget_mib']} MiB (one staged folder a call, of the {MAX_PATHS} paths allowed)",
        f"{len(plan['calls'])} device calls:",
    ]
    adapter = plan["adapter"]
    if adapter["path"] == "none":
        lines.insert(2, "adapter: none (the run starts from the raw model)")
    elif not adapter["present"]:
        lines.insert(2, f"adapter: MISSING at {adapter['path']}")
    else:
        how = "in the working tree (counted in it)" if adapter["in_tree"] else "carried by the last call"
        lines.insert(2, f"adapter {adapter['path']}: {adapter['bytes'] / MIB:.2f} MiB, {how}; "
                        f"weights sha256 {adapter['sha256'][:16]}...")
    for call in plan["calls"]:
        size = (
            f"{len(call['files'])} files, {call['carry_mib']} MiB; {call['sent_mib']} MiB sent with the tree"
        )
        lines.append(f"  call {call['n']}: carry {json.dumps(call['carry'])} ({size})")
        lines.append(f"          timeout_s {call['timeout_s']}; command: {call['command']}")
    assumptions = ", ".join(f"{k}={v}" for k, v in plan["assumptions"].items())
    parts = " + ".join(
        f"{label} {est[key]} s"
        for label, key in (
            ("start", "start_s"),
            ("calls", "transfer_and_call_overhead_s"),
            ("turnarounds", "turnarounds_s"),
            ("install", "install_s"),
            ("experiment", "experiment_s"),
            ("release", "release_s"),
        )
    )
    total = f"{est['total_s']} s ({est['total_s'] / 60:.1f} min) of {plan['device_budget_s'] / 60:.0f} min"
    lines += [
        "Make the calls back to back: a machine waits only 30 s for the next call, and a fresh one starts bare.",
        "Call give_back after the last one. Then: tar -xzf <files_at>/gpu_results.tgz -C book/results",
        "",
        f"Estimated device time (assumptions, not measurements: {assumptions}):",
        f"  {parts} = {total}",
        "  fits: " + ("yes" if plan["fits"] else "NO: " + "; ".join(plan["problems"])),
        "",
        "vLLM: not carried. " + vllm["why"],
    ]
    if vllm["measured_wheel_mib"]:
        lines.append(
            f"  (the vllm wheel alone is {vllm['measured_wheel_mib']} MiB: "
            f"{vllm['extra_calls_for_the_wheel_alone']} more calls before its dependencies)"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="carry_plan.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--wheelhouse", default=".gpu_wheelhouse")
    p.add_argument("--repo", default=str(ROOT), help="the checkout whose working tree travels")
    p.add_argument(
        "--tree-mib", type=float, default=None, help="working-tree size (default: measured with git)"
    )
    p.add_argument("--margin-mib", type=float, default=2.0, help="headroom left in every call (the tree may grow)")
    p.add_argument("--time-budget", type=int, default=300, help="run_grokking.sh --time-budget (s per arm)")
    p.add_argument("--run-args", default="", help="more run_grokking.sh options")
    p.add_argument("--run-limit-s", type=int, default=520,
                   help="run_grokking.sh is stopped (its metrics saved) after this many seconds, so that the pack "
                        "step still runs inside the device command's 600 s")
    p.add_argument(
        "--adapter",
        default="book/results/smollm_sft/adapter",
        help="the SFT adapter the run starts from (relative to --repo), or none for the raw model",
    )
    p.add_argument("--device-budget-s", type=float, default=DEVICE_BUDGET_S)
    p.add_argument(
        "--start-s", type=float, default=90, help="assumed: starting a machine ('a minute or more')"
    )
    p.add_argument("--call-fixed-s", type=float, default=10, help="assumed: per-call overhead besides upload")
    p.add_argument("--upload-mib-s", type=float, default=8, help="assumed: upload rate to the machine")
    p.add_argument(
        "--turnaround-s", type=float, default=20, help="assumed: the session's gap between calls (< 30)"
    )
    p.add_argument("--install-s", type=float, default=40, help="assumed: reassemble, verify, pip install")
    p.add_argument(
        "--experiment-overhead-s",
        type=float,
        default=200,
        help="assumed: imports, model conversion, baseline and final pass@k around the training budget",
    )
    p.add_argument("--release-s", type=float, default=5, help="assumed: give_back right after the last call")
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    print(json.dumps(plan, indent=1) if args.json else render(plan))
    return 0 if plan["fits"] else 1


if __name__ == "__main__":
    sys.exit(main())
