"""Smoke test of a multi-process launch: a few optimiser steps of a tiny model, then check that every
rank ran and that gradients were averaged across ranks (the parameters end identical everywhere).

    accelerate launch --num_processes 2 --cpu configs/multi_gpu/smoke_ddp.py --out /tmp/ddp   # CPU, gloo
    accelerate launch --config_file configs/multi_gpu/ddp.yaml configs/multi_gpu/smoke_ddp.py # GPUs, nccl

Each rank trains on different data (seeded by its rank), so identical parameters after the steps mean
the all-reduce worked. Rank 0 prints the verdict; every rank writes `rank<N>.json` under `--out`.
Run it before a long job on a new machine: it takes seconds.
"""

import argparse
import hashlib
import json
import os

import torch
from accelerate import Accelerator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None, help="folder for rank<N>.json (default: print only)")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()

    # cpu=True without CUDA: the launcher (torchrun) sets LOCAL_RANK, and Accelerate then runs gloo on CPU
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    rank, world = accelerator.process_index, accelerator.num_processes
    torch.manual_seed(0)  # same initial weights on every rank (DDP also broadcasts rank 0's)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    initial = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)

    data = torch.Generator().manual_seed(1000 + rank)  # different data per rank
    losses = []
    for _ in range(args.steps):
        x = torch.randn(32, 8, generator=data)  # (B, 8)
        y = x.sum(dim=1, keepdim=True)  # (B, 1)
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        accelerator.backward(loss)  # DDP all-reduces (averages) the gradients here
        optimizer.step()
        losses.append(loss.item())

    params = [p.detach().cpu() for p in accelerator.unwrap_model(model).parameters()]
    digest = hashlib.sha256(b"".join(p.numpy().tobytes() for p in params)).hexdigest()
    changed = any(not torch.equal(a, b) for a, b in zip(initial, params))
    # every rank's digest, gathered to all ranks: equal digests <=> identical parameters
    gathered = accelerator.gather(torch.tensor([int(digest[:15], 16)], dtype=torch.int64, device=accelerator.device))
    report = {
        "rank": rank,
        "world_size": world,
        "backend": str(getattr(accelerator.state, "backend", None)),
        "distributed_type": str(accelerator.distributed_type),
        "param_sha256": digest,
        "params_changed": changed,
        "all_ranks_equal": len(set(gathered.tolist())) == 1,
        "losses": losses,
        "pid": os.getpid(),
    }
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, f"rank{rank}.json"), "w") as f:
            json.dump(report, f)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        ok = report["all_ranks_equal"] and changed and world > 1
        print(f"{world} ranks, backend {report['backend']}: parameters identical on every rank: "
              f"{report['all_ranks_equal']}; changed by training: {changed} -> {'OK' if ok else 'FAILED'}")
    accelerator.end_training()


if __name__ == "__main__":
    main()
