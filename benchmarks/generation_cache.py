"""Decoding speed: transformers' default KV cache vs a preallocated ("static") one, on one workload, side
by side: the measurement behind `TrainConfig.generation_cache` ("static" for DELTA-mini, the default for
SmolLM2; `delta_core.sampling.KV_CACHES`).

    python benchmarks/generation_cache.py                      # DELTA-mini v2's base, two shapes (~1 min, 1 thread)
    python benchmarks/generation_cache.py --model smollm2 --shape rollouts --new-tokens 64   # ~2 min

The two shapes are the two batched decodes of a GRPO step on the CPU: the rollouts (128 samples of a
~100-token prompt) and the feedback continuations of chapter 4c (112 samples of a ~450-token prompt +
completion + feedback). Each decodes `--new-tokens` tokens (176, DELTA-mini's completion limit; no early
end of turn, so both caches do the same work) from random token ids, with one seed. The run asserts that
both caches draw the same tokens, so a speed is never printed for different samples, and prints
seconds (best of `--repeats`) and the ratio default / static.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"rollouts": (128, 100), "feedback continuations": (112, 450)}


def decode(model, ids, new_tokens: int, cache: str | None):
    import torch
    from transformers import GenerationConfig

    settings = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, temperature=1.0, top_k=0,
                    top_p=1.0, pad_token_id=0)
    if cache is not None:
        settings["cache_implementation"] = cache
    torch.manual_seed(0)
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=GenerationConfig(**settings))
    return time.perf_counter() - started, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "book/results/delta_mini_v2/base"),
                        help="a delta_core.models spec: a checkpoint folder, smollm2, a .gguf, an HF id on disk")
    parser.add_argument("--shape", choices=list(SHAPES), action="append", help="default: every shape")
    parser.add_argument("--new-tokens", type=int, default=176)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a GRPO run uses 1)")
    args = parser.parse_args(argv)
    import torch

    sys.path.insert(0, str(ROOT))
    from delta_core.models import ModelUnavailableError, load_model

    torch.set_num_threads(args.threads)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"machine: {platform.processor() or platform.machine()}, torch threads {args.threads}, python "
          f"{platform.python_version()}, commit {commit}; model {args.model}; {args.new_tokens} new tokens")
    try:
        model = load_model(args.model, dtype="float32").model.eval()
    except ModelUnavailableError as err:
        parser.error(f"--model {args.model}: {err}")
    vocab = model.config.vocab_size
    print(f"{'shape':<24} {'batch x prompt':>15} {'default s':>10} {'static s':>9} {'default/static':>15}")
    for name in args.shape or list(SHAPES):
        batch, prompt = SHAPES[name]
        ids = torch.randint(5, vocab, (batch, prompt), generator=torch.Generator().manual_seed(1))
        best = {}
        outs = {}
        for cache in (None, "static"):
            times = []
            for _ in range(args.repeats):
                seconds, outs[cache] = decode(model, ids, args.new_tokens, cache)
                times.append(seconds)
            best[cache] = min(times)
        if not torch.equal(outs[None], outs["static"]):
            print(f"{name}: the two caches drew different tokens; no speed is reported", file=sys.stderr)
            return 1
        print(f"{name:<24} {f'{batch} x {prompt}':>15} {best[None]:>10.1f} {best['static']:>9.1f} "
              f"{best[None] / best['static']:>14.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
