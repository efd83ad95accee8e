"""BouncingSim: oracle one-pass vs per-timestamp re-simulation, and sandboxed scoring throughput.

    python benchmarks/bouncingsim.py               # ~30 s on 2 cores
    python benchmarks/bouncingsim.py --scenes 400  # a bigger scoring workload

(1) Ground truth for the 15 timestamps 0.1 ... 1.5 s at dt = 1/4000 for one seeded scene per family
    (A B C D F G H I, level 1): `simulate` (one pass, 6,000 steps) vs `simulate_per_timestamp` (the
    reference's re-simulation from t = 0 for each timestamp, 48,000 steps), in the same run. Asserts
    identical positions and prints the ratio (8x is the arithmetic limit).
(2) Sandboxed scoring of a legitimate predict_position program (closed-form free flight with
    reflections off a circle), 15 timestamp tests a scene, with isolation on (separate processes,
    rlimits, audit hook, distance computed in the parent), as tests/s against the authors' ~220 tests/s
    (their fork-per-test scorer, shared/reference/figures-to-beat.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time

from delta_core.bouncingsim import Sandbox, generate_scene, make_record, simulate, simulate_per_timestamp
from delta_core.bouncingsim.scoring import score_many

AUTHORS_TESTS_PER_S = 220
FAMILIES = ("A", "B", "C", "D", "F", "G", "H", "I")

PROGRAM = """
import math
def predict_position(t):
    x, y, vx, vy, r = {x}, {y}, {vx}, {vy}, {r}
    for _ in range(50):  # closed-form flight; reflect off the container's incircle
        dx, dy = x - {cx}, y - {cy}
        a = vx * vx + vy * vy
        b = 2 * (dx * vx + dy * vy)
        c = dx * dx + dy * dy - r * r
        hit = (-b + math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
        if hit >= t:
            break
        x, y, t = x + vx * hit, y + vy * hit, t - hit
        nx, ny = (x - {cx}) / r, (y - {cy}) / r
        dot = vx * nx + vy * ny
        vx, vy = vx - 2 * dot * nx, vy - 2 * dot * ny
    return [[round(x + vx * t, 2), round(y + vy * t, 2)]]
"""


def machine() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "?", ""
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, commit {commit}{' (+changes)' if dirty else ''}"


def oracle_benchmark(level: int) -> None:
    scenes = [generate_scene(f, min(level, 2) if f == "H" else level, seed=0) for f in FAMILIES]
    t0 = time.perf_counter()
    one = [simulate(s) for s in scenes]
    t1 = time.perf_counter()
    per = [simulate_per_timestamp(s) for s in scenes]
    t2 = time.perf_counter()
    assert [a.positions for a in one] == [b.positions for b in per], "one-pass and per-timestamp positions differ"
    print(f"(1) oracle, {len(scenes)} scenes ({' '.join(FAMILIES)}), 15 timestamps each, positions identical")
    print(f"    per-timestamp re-simulation (reference): {(t2 - t1) / len(scenes) * 1000:7.1f} ms/scene")
    print(f"    one pass (ours):                          {(t1 - t0) / len(scenes) * 1000:7.1f} ms/scene")
    print(f"    ratio: {(t2 - t1) / (t1 - t0):.2f}x (8x is the step-count limit)")


def scoring_benchmark(n_scenes: int, workers: list[int]) -> None:
    records = [make_record(generate_scene("D" if i % 2 else "B", 0, seed=i), i) for i in range(8)]
    programs, truths = [], []
    for i in range(n_scenes):
        record = records[i % len(records)]
        scene = record["scene"]
        c, b = scene["containers"][0], scene["balls"][0]
        inr = c["diameter"] / 2 * __import__("math").cos(__import__("math").pi / c["sides"]) - b["radius"]
        programs.append(PROGRAM.format(x=b["position"][0], y=b["position"][1], vx=b["velocity"][0],
                                       vy=b["velocity"][1], r=inr, cx=c["center"][0], cy=c["center"][1]))
        truths.append(record["ground_truth"])
    print(f"(2) sandboxed scoring, {n_scenes} programs x 15 timestamp tests, isolation on")
    for w in workers:
        with Sandbox(workers=w) as sandbox:
            score_many(programs[:20], truths[:20], sandbox)  # warm up the workers
            t0 = time.perf_counter()
            reports = score_many(programs, truths, sandbox)
            elapsed = time.perf_counter() - t0
        tests = sum(len(r.outcomes) for r in reports)
        bad = sum(o != "passed" and not o.startswith("failed: mean distance") for r in reports for o in r.outcomes)
        assert bad == 0, f"{bad} tests did not run cleanly"
        passed = sum(o == "passed" for r in reports for o in r.outcomes)
        rate = tests / elapsed
        print(f"    {w} workers: {rate:8,.0f} tests/s = {rate / AUTHORS_TESTS_PER_S:5.1f}x the authors' ~220 "
              f"({passed / tests:.0%} of tests passed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 2 * (os.cpu_count() or 1)])
    args = parser.parse_args()
    print("machine:", machine())
    oracle_benchmark(args.level)
    scoring_benchmark(args.scenes, sorted(set(args.workers)))


if __name__ == "__main__":
    main()
