"""BouncingSim transfer at CPU scale: a tiny Llama writes `expr` programs, trained with GRPO on the
real BouncingSim reward, evaluated before and after on the three generalisation axes (issue 10).

    python -m delta_core.experiments.transfer_bouncingsim --out book/results/transfer/bouncingsim [--seeds 0 1 2]

What one run does, per seed:

1. Scenes come from the project's generators (`families.generate_scene`), ground truth from the Box2D
   oracle at 0.1, 0.2, ... `horizon` s (default 0.5 s: 5 timestamps; the paper uses 15 up to 1.5 s, but
   at 1.5 s no program of the language passes a BASIC scene in full and at 0.8 s almost none does:
   the containers are triangles and squares, whose billiards a fold follows only briefly).
   Training scenes use seeds 0.., test scenes seeds 10000.., so no test scene is trained on.
2. The policy is a ~0.25M-parameter Llama (`delta_core.mini.build_model`) with a word-level tokenizer
   over this experiment's words (`build_tokenizer`: `mini.build_tokenizer` on an enumerated vocabulary).
   Its prompt is a short description of the scene's mechanisms (`scene_prompt`: "box spins. gravity.
   sides 4."); it answers with an `expr` program.
3. SFT warm start: prompts of BASIC training scenes paired with programs drawn *uniformly* from
   `PROGRAM_PRIOR` (13 programs: static, free flight, flight with gravity; each bare, folded into a
   box of half-width a - b or a, fixed or moving with the container, or folded along its own line of
   motion). The SFT model thus knows the language and these components but not which one suits which
   scene: its pass@1 is the prior's average.
4. GRPO with the project's trainer (`delta_core.train`, TRL's GRPOTrainer: on-policy, one update per
   batch, no KL, advantages normalised per group, token-level loss) on the training cells of a split,
   with the binary full-pass reward (the paper's BouncingSim setting, paper-facts §5), scored by the
   real sandbox and the 50 px rule (`train(..., scorer=...)`).
5. pass@1 and pass@k (k = samples per problem) on every test cell, before (SFT) and after (GRPO).

Splits (`AXES`): `exploratory` and `compositional` share one training split, `basic6` (the six single
families at BASIC, as `families.SPLITS["exploratory"]` and `["compositional_paper"]`); they test on
levels 1-4 of the same families and on the pairs AB, BC, CD, FG (BC, CD, FG are the paper's Fig. 9c
pairs). The compositional axis has a second split, `ab` (A and B at BASIC, tested on AB: the reference
README's split, `SPLITS["compositional"]`). `transformative` trains
on `bcd` (B, C, D at BASIC, as `SPLITS["transformative"]`) and tests on the periodic shuttle scenes
H, AH, BH, ABH (levels 0-2; AH/1, BH/2 and ABH/2 have no valid scene, and H scenes are the same for
every seed, so the axis has 9 scenes). The I family is left out: its balls move at 20-60 px/s, so over
the horizon even the static program passes, and it cannot tell transfer from no transfer.

What it can show: whether RL on one set of scenes moves the policy's choice among known program
components in a way that helps or hurts other sets (harder tiers, unseen compositions of trained
mechanisms, periodic scenes that need a component the training scenes do not reward). What it cannot
show: discovery of a new component (the policy writes only what the prior contains), anything about
LLM-scale reasoning, or the paper's 1.5 s horizon.

Resumable: each (train split, seed) piece is written to `<out>/pieces/` when it finishes and skipped
on the next run if it was made with the same parameters (else it is run again); `results.jsonl`, `summary.json` and `provenance.json` are rewritten (atomically)
from the pieces after each one. The trained weights are not kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..artifacts import atomic_write_text, git_commit, machine, read_json, read_jsonl
from ..bouncingsim.expr import ExprError, compile_program
from ..bouncingsim.scene import Scene, scene_from_dict, scene_to_dict
from ..rewards import completion_text
from ..sampling import SamplingConfig, derive_seed, generate_completions, sample_and_score

__all__ = ["MiniTransferConfig", "AXES", "TRAIN_SPLITS", "PROGRAM_PRIOR", "HORIZON", "scene_prompt",
           "build_tokenizer", "run", "summarise", "main"]

HORIZON = tuple(round(0.1 * k, 1) for k in range(1, 6))  # 0.1 ... 0.5 s (the default `horizon`)


def timestamps(horizon: float) -> tuple[float, ...]:
    """0.1, 0.2, ... up to `horizon` seconds."""
    return tuple(round(0.1 * k, 1) for k in range(1, int(round(horizon * 10)) + 1))

BASIC6 = tuple((f, 0) for f in "ABCDFG")
TRAIN_SPLITS: dict[str, tuple[tuple[str, int], ...]] = {
    "basic6": BASIC6,
    "bcd": (("B", 0), ("C", 0), ("D", 0)),
    "ab": (("A", 0), ("B", 0)),
}
# axis -> {"train": {train split: its test cells}, "claim": paper claim}; every split is also tested
# in-distribution (axis "id") on BASIC test scenes of its own training cells
AXES: dict[str, dict[str, Any]] = {
    "exploratory": {"train": {"basic6": tuple((f, lv) for lv in (1, 2, 3, 4) for f in "ABCDFG")}, "claim": "C12"},
    "compositional": {"train": {"basic6": (("AB", 0), ("BC", 0), ("CD", 0), ("FG", 0)), "ab": (("AB", 0),)},
                      "claim": "C13"},
    "transformative": {"train": {"bcd": tuple((f, lv) for f in ("H", "AH", "BH", "ABH") for lv in (0, 1, 2))},
                       "claim": "C14"},
}


def _program(term: str, wrap: str, moving: bool) -> str:
    gx = " + gx * t * t / 2" if term == "grav" else ""
    gy = " + gy * t * t / 2" if term == "grav" else ""
    if term == "static":
        return "x = x0\ny = y0"
    cx, cy = ("cx + dx", "cy + dy") if moving else ("cx", "cy")
    fx, fy = f"x0 + vx * t{gx}", f"y0 + vy * t{gy}"
    if wrap == "none":
        return f"x = {fx}\ny = {fy}"
    if wrap in ("box", "boxa"):
        h = "a - b" if wrap == "box" else "a"
        return f"h = {h}\nx = fold({fx}, {cx} - h, {cx} + h)\ny = fold({fy}, {cy} - h, {cy} + h)"
    # along the line of motion: the ball shuttles through the centre, |d| <= (a - b) in its direction
    return (f"s = sqrt(vx * vx + vy * vy)\nu = (a - b) / s\n"
            f"x = {cx} + fold(vx * t{gx}, -u * abs(vx), u * abs(vx))\n"
            f"y = {cy} + fold(vy * t{gy}, -u * abs(vy), u * abs(vy))")


PROGRAM_PRIOR: tuple[str, ...] = ("x = x0\ny = y0",) + tuple(
    _program(term, wrap, moving)
    for term in ("free", "grav") for wrap in ("none", "box", "boxa", "line") for moving in (False, True)
    if not (wrap == "none" and moving)
)


_PRIOR_SET = frozenset(PROGRAM_PRIOR)


@dataclass
class MiniTransferConfig:
    """Sizes of one run; defaults take 3-6 min per (split, seed) piece on a busy 2-core machine."""

    seeds: tuple[int, ...] = (0, 1, 2)
    train_scenes: int = 32  # per training cell
    test_problems: int = 12  # distinct scenes per test cell (fewer where the generator has fewer)
    samples: int = 8  # completions per test problem: pass@1 and pass@k with k = samples
    sft_steps: int = 250
    sft_batch: int = 32
    sft_lr: float = 1e-2
    grpo_steps: int = 60
    grpo_prompts: int = 8  # distinct scenes per step
    grpo_group: int = 8  # completions per scene
    grpo_lr: float = 2e-4
    temperature: float = 1.0
    max_new_tokens: int = 96
    reward: str = "binary"  # "binary" (full pass, the paper's BouncingSim setting), "dense", "dense_then_binary"
    horizon: float = 0.5  # seconds: timestamps 0.1, 0.2, ... horizon
    hidden_size: int = 96
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    sandbox_workers: int = 2
    splits: tuple[str, ...] = ("basic6", "bcd", "ab")

    def __post_init__(self) -> None:
        if self.reward not in ("binary", "dense", "dense_then_binary"):
            raise ValueError(f"reward={self.reward!r}: 'binary', 'dense' or 'dense_then_binary'")
        if not 0.1 <= self.horizon <= 1.5:
            raise ValueError(f"horizon={self.horizon}: must be in [0.1, 1.5] seconds")
        for name in ("train_scenes", "test_problems", "samples", "sft_batch", "grpo_prompts", "grpo_group"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        unknown = set(self.splits) - set(TRAIN_SPLITS)
        if unknown:
            raise ValueError(f"splits {sorted(unknown)} unknown; known: {sorted(TRAIN_SPLITS)}")


# ---------------------------------------------------------------------------------------------------
# Prompts and tokenizer

INSTRUCTION = "Write a program for predict position."


def scene_prompt(scene: Scene) -> str:
    """The policy's prompt: the scene's mechanisms as tags, then the container's number of sides."""
    tags = []
    if any(b.rotates for b in scene.balls):
        tags.append("ball spins")
    if any(c.omega or c.omega_amp for c in scene.containers):
        tags.append("box spins")
    if any(c.path is not None for c in scene.containers):
        tags.append("box moves")
    if scene.gravity != (0.0, 0.0):
        tags.append("gravity")
    if len(scene.containers) > 1:
        tags.append(f"boxes {len(scene.containers)}")
    if len(scene.balls) > 1:
        tags.append(f"balls {len(scene.balls)}")
    tags.append(f"sides {scene.containers[0].sides}")
    return INSTRUCTION + "\n" + ". ".join(tags) + "."


PRETOKENIZE = r" ?[A-Za-z_][A-Za-z_0-9]*| ?[0-9]| ?[^\w\s]|\n|[\s\S]"


def build_tokenizer():
    """`mini.build_tokenizer` over this experiment's own words: the prompt's words, the language's names,
    digits and operators (every piece of every prior program), printable ASCII."""
    import re

    from ..bouncingsim.expr import FUNCTIONS, SCENE_VARIABLES
    from ..mini import build_tokenizer as word_level_tokenizer

    pieces: set[str] = set()
    words = ["ball", "spins", "box", "moves", "gravity", "boxes", "balls", "sides", "h", "s", "u", "x", "y"]
    words += list(SCENE_VARIABLES) + list(FUNCTIONS) + INSTRUCTION.replace(".", "").split()
    for w in words:
        pieces.update({w, " " + w})
    for text in PROGRAM_PRIOR:
        pieces.update(re.findall(PRETOKENIZE, text))
    for code in range(32, 127):
        pieces.update({chr(code), " " + chr(code)})
    pieces.add("\n")
    return word_level_tokenizer(pieces, PRETOKENIZE)


# ---------------------------------------------------------------------------------------------------
# Scenes (cached: generation validates each scene with two Box2D runs)


def _cell_scenes(family: str, level: int, n: int, seed0: int, cache: Path | None, horizon: float = 0.5) -> list[dict]:
    """Up to n distinct (scene, ground truth) records of one cell, generated or read from the cache."""
    from ..bouncingsim.families import GenerationConfig, generate_scene
    from ..bouncingsim.oracle import ground_truth

    path = cache / f"{family}_{level}_{seed0}_{n}_{horizon}.json" if cache else None
    times = timestamps(horizon)
    if path and path.is_file():
        return read_json(path)
    # H scenes are drawn without randomness: one attempt decides, and every seed gives the same scene
    config = GenerationConfig(max_retries=1) if "H" in family else GenerationConfig()
    records, seen, seed, misses = [], set(), seed0, 0
    while len(records) < n and misses < 3:
        try:
            scene = generate_scene(family, level, seed, config)
        except RuntimeError:  # no valid scene (e.g. AH at level 1): the cell stays short or empty
            break
        seed += 1
        d = scene_to_dict(scene)
        key = json.dumps([d["balls"], d["containers"], d["gravity"]])
        if key in seen:
            misses += 1
            continue
        seen.add(key)
        records.append({"scene": d, "timestamps": list(times), "truth": ground_truth(scene, times)})
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(records))
    return records


def _gt(record: dict) -> dict:
    return {"timestamps": record["timestamps"], "positions": record["truth"], "tolerance": 50.0}


# ---------------------------------------------------------------------------------------------------
# Scoring


def score_programs(texts: Sequence[str], records: Sequence[dict], sandbox) -> list[tuple[float, float]]:
    """(full pass, dense pass rate) per (program text, scene record); a program that does not parse
    scores (0, 0) without running."""
    from ..bouncingsim.scoring import score_many

    compiled, index = [], []
    for i, (text, rec) in enumerate(zip(texts, records)):
        try:
            compiled.append(compile_program(text, scene_from_dict(rec["scene"])))
            index.append(i)
        except ExprError:
            pass
    out = [(0.0, 0.0)] * len(texts)
    if compiled:
        reports = score_many(compiled, [_gt(records[i]) for i in index], sandbox)
        for i, r in zip(index, reports):
            out[i] = (r.all_pass, r.pass_rate)
    return out


# ---------------------------------------------------------------------------------------------------
# Model, SFT, sampling, GRPO


def _chat(tok, prompt: str) -> str:
    return tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)


def _encode_pairs(tok, prompts: Sequence[str], completions: Sequence[str]):
    """Left-padded input ids, attention mask, and a mask of the completion tokens (the EOS included)."""
    import torch

    seqs, masks = [], []
    for p, c in zip(prompts, completions):
        a = tok(_chat(tok, p), add_special_tokens=False)["input_ids"]
        b = tok(c, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        seqs.append(a + b)
        masks.append([0] * len(a) + [1] * len(b))
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
    att = torch.zeros((len(seqs), width), dtype=torch.long)
    comp = torch.zeros((len(seqs), width), dtype=torch.float)
    for i, (s, m) in enumerate(zip(seqs, masks)):
        ids[i, width - len(s):] = torch.tensor(s)
        att[i, width - len(s):] = 1
        comp[i, width - len(s):] = torch.tensor(m, dtype=torch.float)
    return ids, att, comp


def _token_logps(model, ids, att):
    import torch

    logits = model(input_ids=ids, attention_mask=att).logits[:, :-1]
    return torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None]).squeeze(-1)


def sft(model, tok, prompts: Sequence[str], config: MiniTransferConfig, seed: int) -> None:
    """Cross-entropy on the completion tokens of (prompt, uniform prior program) pairs."""
    import torch

    rng = random.Random(f"sft:{seed}")
    opt = torch.optim.AdamW(model.parameters(), lr=config.sft_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.sft_lr, total_steps=config.sft_steps)
    model.train()
    for _ in range(config.sft_steps):
        ps = [rng.choice(prompts) for _ in range(config.sft_batch)]
        cs = [rng.choice(PROGRAM_PRIOR) for _ in range(config.sft_batch)]
        ids, att, comp = _encode_pairs(tok, ps, cs)
        logp = _token_logps(model, ids, att)
        loss = -(logp * comp[:, 1:]).sum() / comp[:, 1:].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


def sampling_config(config: MiniTransferConfig) -> SamplingConfig:
    """The policy's sampling settings, for rollouts and evaluation alike: `temperature`, no top-k or
    top-p cut, `max_new_tokens`."""
    return SamplingConfig(temperature=config.temperature, top_p=1.0, top_k=0, max_new_tokens=config.max_new_tokens,
                          batch_size=256)


def sample(model, tok, prompts: Sequence[str], config: MiniTransferConfig, seed: int) -> list[str]:
    """One sampled completion per prompt (`sampling.generate_completions`, the project's one sampling path)."""
    return [gens[0].text for gens in generate_completions(model, tok, prompts, 1, sampling_config(config), seed)]


def grpo(model_dir: Path, records: Sequence[dict], config: MiniTransferConfig, seed: int, sandbox,
         work: Path, log: list | None = None):
    """GRPO with the project's trainer (`delta_core.train`, TRL's GRPOTrainer) from the SFT model saved in
    `model_dir`: per step `grpo_prompts` scenes x `grpo_group` samples, the reward of `config.reward`
    scored by the sandbox and the 50 px rule, group-normalised advantages, token-level loss, one update per
    batch, no KL. Returns the trained model; appends one record per step to `log`."""
    import datasets

    from ..train import TrainConfig, train

    rows = [{"prompt": [{"role": "user", "content": scene_prompt(scene_from_dict(r["scene"]))}],
             "ground_truth": json.dumps(r), "id": f"{i}"} for i, r in enumerate(records)]
    prior_shares: list[float] = []

    def scorer(completions, ground_truth):
        texts = [completion_text(c) for c in completions]
        prior_shares.append(sum(t in _PRIOR_SET for t in texts) / len(texts))
        scores = score_programs(texts, [json.loads(g) for g in ground_truth], sandbox)
        return [dense for _, dense in scores], [full for full, _ in scores]

    schedule = {"binary": dict(schedule="binary"), "dense": dict(schedule="dense"),
                "dense_then_binary": dict(schedule="dense_then_binary", switch_step=config.grpo_steps // 2)}
    run_config = TrainConfig(
        model=str(model_dir), backend="cpu", dataset="bouncingsim (scene records)", output_dir=str(work),
        overwrite=True, save_final=False, save_steps=max(1, config.grpo_steps), save_total_limit=1, eval_steps=0,
        learning_rate=config.grpo_lr, lr_scheduler_type="constant", beta=0.0, num_generations=config.grpo_group,
        generation_batch_size=config.grpo_group * config.grpo_prompts,
        per_device_train_batch_size=config.grpo_group * config.grpo_prompts, temperature=config.temperature,
        top_p=1.0, top_k=0, max_completion_length=config.max_new_tokens, max_steps=config.grpo_steps, seed=seed,
        non_stop_penalty=False, cpu_threads=1, **schedule[config.reward])
    summary = train(run_config, datasets=(datasets.Dataset.from_list(rows), None), scorer=scorer)
    if log is not None:
        steps = [r for r in read_jsonl(summary["metrics_path"]) if r["kind"] == "train"]
        for record, prior in zip(steps, prior_shares):
            log.append({"step": record["step"], "binary_mean": record["binary_mean"],
                        "dense_mean": record["dense_mean"], "reward": record["phase"],
                        "frac_zero_std": record["frac_zero_std"], "frac_prior": prior,
                        "entropy": record["entropy"], "step_time": record["step_time"]})
    return summary["trainer"].model


def evaluate(model, tok, cells: dict, config: MiniTransferConfig, sandbox, seed: int = 0) -> dict[str, dict]:
    """Per cell "F/level": n_problems, pass@1, pass@k (k = samples), dense mean, per-problem pass@1, from
    `sampling.sample_and_score` with the BouncingSim scorer (the sandbox and the 50 px rule)."""

    def scorer(completions, row):
        return [(dense, full) for full, dense in score_programs(completions, [row["record"]] * len(completions), sandbox)]

    out = {}
    for key, records in cells.items():
        rows = [{"id": f"{key}#{i}", "prompt": scene_prompt(scene_from_dict(r["scene"])), "record": r}
                for i, r in enumerate(records)]
        scored = sample_and_score(model, tok, rows, config.samples, sampling_config(config),
                                  seed=derive_seed(seed, key), scorer=scorer)
        out[key] = {"n_problems": scored["n_problems"], "k": config.samples, "pass@1": scored["pass@1"],
                    "pass@k": scored[f"pass@{config.samples}"], "dense_mean": scored["dense_mean"],
                    "problem_pass1": [p["c"] / p["n"] for p in scored["per_problem"]]}
    return out


# ---------------------------------------------------------------------------------------------------
# The runner


def _cells_for(split: str) -> dict[str, tuple[tuple[str, int], ...]]:
    """axis -> test cells (ID cells first, labelled axis 'id'), for the axes trained on `split`."""
    out: dict[str, tuple] = {"id": TRAIN_SPLITS[split]}
    for axis, spec in AXES.items():
        if split in spec["train"]:
            out[axis] = spec["train"][split]
    return out


def run_piece(split: str, seed: int, config: MiniTransferConfig, cache: Path | None, progress=None) -> dict:
    """SFT, evaluate, GRPO on `split`, evaluate again; return the piece's rows and training log."""
    import torch

    from .. import mini
    from ..bouncingsim.sandbox import Sandbox

    torch.set_num_threads(1)
    t0 = time.time()
    train_records = [r for f, lv in TRAIN_SPLITS[split] for r in _cell_scenes(f, lv, config.train_scenes, 0, cache, config.horizon)]
    sft_prompts = sorted({scene_prompt(scene_from_dict(r["scene"]))
                          for f, lv in BASIC6 for r in _cell_scenes(f, lv, config.train_scenes, 0, cache, config.horizon)})
    axis_cells = _cells_for(split)
    cells = {f"{f}/{lv}": _cell_scenes(f, lv, config.test_problems, 10_000, cache, config.horizon)
             for cs in axis_cells.values() for f, lv in cs}
    cells = {key: records for key, records in cells.items() if records}  # AH/1, BH/2, ABH/2 have no valid scene
    tok = build_tokenizer()
    model = mini.build_model(tok, mini.MiniConfig(hidden_size=config.hidden_size, num_hidden_layers=config.layers,
                                                  num_attention_heads=config.heads,
                                                  intermediate_size=config.intermediate,
                                                  max_position_embeddings=256, seed=seed))
    torch.manual_seed(seed)
    key = json.dumps([seed, config.sft_steps, config.sft_batch, config.sft_lr, config.hidden_size, config.layers,
                      config.heads, config.intermediate, config.train_scenes, PROGRAM_PRIOR])
    sft_path = cache / f"sft_{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt" if cache else None
    if sft_path and sft_path.is_file():  # the SFT model of this seed is shared by every split
        model.load_state_dict(torch.load(sft_path))
    else:
        if progress:
            progress.set_postfix_str(f"{split} seed {seed}: SFT")
        sft(model, tok, sft_prompts, config, seed)
        if sft_path:
            sft_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = sft_path.with_name(sft_path.name + f".tmp{os.getpid()}")
            torch.save(model.state_dict(), tmp)
            os.replace(tmp, sft_path)
    if progress:
        progress.set_postfix_str(f"{split} seed {seed}: eval before")
    with Sandbox(workers=config.sandbox_workers) as sandbox, tempfile.TemporaryDirectory() as work:
        before = evaluate(model, tok, cells, config, sandbox, seed=derive_seed(seed, "before"))
        if progress:
            progress.set_postfix_str(f"{split} seed {seed}: GRPO")
        sft_dir = Path(work) / "sft"
        model.save_pretrained(sft_dir)
        tok.save_pretrained(sft_dir)
        log: list = []
        model = grpo(sft_dir, train_records, config, seed, sandbox, Path(work) / "grpo", log)
        if progress:
            progress.set_postfix_str(f"{split} seed {seed}: eval after")
        after = evaluate(model, tok, cells, config, sandbox, seed=derive_seed(seed, "after"))
    rows = []
    for axis, cs in axis_cells.items():
        for f, lv in cs:
            key = f"{f}/{lv}"
            if key not in cells:
                continue
            for stage, res in (("before", before[key]), ("after", after[key])):
                rows.append({"axis": axis, "train_split": split, "test_family": f, "test_level": lv, "seed": seed,
                             "stage": stage, **res})
    return {"split": split, "seed": seed, "rows": rows, "train_log": log, "wall_s": round(time.time() - t0, 1),
            "git_commit": git_commit()}


def _diff_ci(before: list[float], after: list[float], n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Paired percentile bootstrap of mean(after - before)."""
    from ..passk import bootstrap_ci

    return bootstrap_ci([a - b for a, b in zip(after, before)], n_boot=n_boot, seed=seed)


VERDICT_MARGIN = 0.05  # a pass@1 change smaller than this counts as "no transfer"
NEAR_ZERO = 0.1  # C14's "~0%" describes a base near 0; from a base above this the axis is "not comparable"


def verdict(axis: str, before: float, after: float, lo: float, hi: float) -> tuple[str, str]:
    """(verdict, why) for an axis from its pooled pass@1 gain and the gain's 95% interval [lo, hi], in
    the book's verdict vocabulary (`delta_core.experiments.fidelity.STATUSES`, shared with chapter 7).

    Exploratory and compositional (C12, C13: RL lifts the unseen cells by tens of points): reproduced
    when the interval is above 0, refuted when it rules out a gain of `VERDICT_MARGIN` or more.
    Transformative (C14: no transfer, ~0% after RL from a base near 0): not comparable when the base
    already passes more than `NEAR_ZERO` (a drop from there is forgetting, not a failure to transfer);
    otherwise reproduced when the interval rules out a gain of `VERDICT_MARGIN` or more, refuted when it
    lies above that margin. In-distribution ("id", C11: RL on BASIC groks BASIC): reproduced when pass@1
    goes from below `VERDICT_MARGIN` to >= 0.5 with the interval above 0, partly when the interval is
    above 0 otherwise, refuted when it rules out a gain of `VERDICT_MARGIN`. Anything else is
    "inconclusive": the interval is too wide for this scale to decide."""
    gain = f"pass@1 {before:.2f} -> {after:.2f}, gain 95% CI [{lo:+.2f}, {hi:+.2f}]"
    if axis == "id":  # C11: RL learns its own families (the paper: BASIC jumps to ~0.7)
        if lo > 0 and before < VERDICT_MARGIN and after >= 0.5:
            return "reproduced", f"RL on BASIC took its own held-out cells from ~0 to {after:.2f}: {gain}"
        if lo > 0:
            return "partly", (
                f"RL on BASIC raised its own held-out cells, but from a base that already passed {before:.2f} "
                f"(learning, not a jump from zero){'' if after >= 0.5 else ', and not to ~0.7'}: {gain}")
        if hi < VERDICT_MARGIN:
            return "refuted", f"the interval rules out a gain of {VERDICT_MARGIN:.2f} or more on the trained cells: {gain}"
        return "inconclusive", f"the interval is too wide to decide: {gain}"
    if axis in ("exploratory", "compositional"):
        if lo > 0:
            return "reproduced", f"RL on BASIC raised the unseen cells: {gain}"
        if hi < VERDICT_MARGIN:
            return "refuted", (f"the interval rules out a gain of {VERDICT_MARGIN:.2f} or more (the paper reports "
                               f"tens of points): {gain}")
        return "inconclusive", f"the interval is too wide to decide: {gain}"
    if before > NEAR_ZERO:
        return "not comparable", (f"the base already passes {before:.2f} of the periodic scenes, where the paper's "
                                  f"base is near 0; a drop from there is forgetting, not a failure to transfer: {gain}")
    if lo > VERDICT_MARGIN:
        return "refuted", f"RL on B, C, D raised the periodic scenes: {gain}"
    if hi < VERDICT_MARGIN:
        return "reproduced", f"the interval rules out a gain of {VERDICT_MARGIN:.2f} or more on the periodic scenes: {gain}"
    return "inconclusive", f"the interval is too wide to decide: {gain}"


# C11 (RL on BASIC groks) is read off the in-distribution cells of the BASIC split.
ID_SPLIT = "basic6"


def _paired(rows: Sequence[dict], axis: str, train_split: str | None = None) -> dict[tuple, dict]:
    """(seed, family, level, problem, split) -> {"before": pass@1, "after": pass@1} for `axis`."""
    pairs: dict[tuple, dict] = {}
    for r in rows:
        if r["axis"] != axis or (train_split is not None and r["train_split"] != train_split):
            continue
        for i, v in enumerate(r["problem_pass1"]):
            pairs.setdefault((r["seed"], r["test_family"], r["test_level"], i, r["train_split"]), {})[r["stage"]] = v
    return {key: p for key, p in pairs.items() if "before" in p and "after" in p}


def _gain_entry(pairs: dict[tuple, dict]) -> dict:
    from ..passk import bootstrap_ci

    b, a = [p["before"] for p in pairs.values()], [p["after"] for p in pairs.values()]
    lo, hi = _diff_ci(b, a)
    blo, bhi = bootstrap_ci(b)
    alo, ahi = bootstrap_ci(a)
    return {"before_pass1": sum(b) / len(b), "after_pass1": sum(a) / len(a), "ci_low": lo, "ci_high": hi,
            "before_ci": [blo, bhi], "after_ci": [alo, ahi], "n": len(b)}


def _breakdown(pairs: dict[tuple, dict], position: int) -> dict[str, dict]:
    """The gain per value of one key field (2: level, 1: family)."""
    out = {}
    for value in sorted({key[position] for key in pairs}, key=str):
        part = _gain_entry({k: p for k, p in pairs.items() if k[position] == value})
        out[str(value)] = {name: part[name] for name in ("before_pass1", "after_pass1", "ci_low", "ci_high")}
    return out


def _gains_text(parts: dict[str, dict]) -> str:
    return ", ".join(f"{name}: {d['after_pass1'] - d['before_pass1']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]"
                     for name, d in parts.items())


def summarise(rows: Sequence[dict]) -> dict:
    """Per axis: pooled pass@1 before/after over (seed, problem), the paired bootstrap CI of the gain,
    and the verdict against the paper's claim (`verdict`). Plus `id`: the same on the BASIC split's
    own (held-out) cells, for C11."""
    out = {}
    for axis in AXES:
        pairs = _paired(rows, axis)
        if not pairs:
            continue
        entry = _gain_entry(pairs)
        v, why = verdict(axis, entry["before_pass1"], entry["after_pass1"], entry["ci_low"], entry["ci_high"])
        by_level = {}
        if axis == "exploratory":  # C12 is also about shape: the gain per tier
            by_level = _breakdown(pairs, 2)
            why += "; gain by level: " + _gains_text(by_level)
        out[axis] = {**entry, "seeds": sorted({r["seed"] for r in rows if r["axis"] == axis}),
                     "claim": AXES[axis]["claim"], "verdict": v, "why": why, **({"by_level": by_level} if by_level else {})}
    pairs = _paired(rows, "id", ID_SPLIT)
    if pairs:
        entry = _gain_entry(pairs)
        v, why = verdict("id", entry["before_pass1"], entry["after_pass1"], entry["ci_low"], entry["ci_high"])
        by_family = _breakdown(pairs, 1)
        out["id"] = {**entry, "seeds": sorted({key[0] for key in pairs}), "train_split": ID_SPLIT, "claim": "C11",
                     "verdict": v, "why": why + "; gain by family: " + _gains_text(by_family), "by_family": by_family}
    return out


def run(out: str | os.PathLike, config: MiniTransferConfig = MiniTransferConfig(), cache: str | None = None,
        command: str | None = None, piece_fn=None) -> dict:
    """Run every missing (split, seed) piece, then rewrite results.jsonl, summary.json, provenance.json."""
    from tqdm.auto import tqdm

    out = Path(out)
    (out / "pieces").mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache) if cache else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "delta_core" / "transfer_mini"
    piece_fn = piece_fn or run_piece
    todo = [(s, seed) for seed in config.seeds for s in config.splits]
    t0 = time.time()
    ran = []
    bar = tqdm(todo, desc="transfer_mini", unit="piece")
    for split, seed in bar:
        path = out / "pieces" / f"{split}_seed{seed}.json"
        if path.is_file():
            made_with = read_json(path).get("config")
            if made_with == _piece_config(config, split):
                continue
            bar.write(f"{path.name}: made with other parameters ({made_with}); running it again")
        piece = {**piece_fn(split, seed, config, cache_dir, bar), "config": _piece_config(config, split)}
        atomic_write_text(path, json.dumps(piece))
        ran.append(f"{split}_seed{seed}")
        _write_outputs(out, config, command, time.time() - t0, ran)
    return _write_outputs(out, config, command, time.time() - t0, ran)


# What ran the GRPO of a piece (pieces made by the earlier hand-written loop lack it, so they are redone)
GRPO_TRAINER = "delta_core.train (TRL GRPOTrainer)"


def _piece_config(config: MiniTransferConfig, split: str) -> dict:
    """What a piece of `split` depends on: the parameters (all but which seeds and splits are run) and
    its cells."""
    cells = {axis: [list(c) for c in cs] for axis, cs in _cells_for(split).items()}
    return {**{k: v for k, v in asdict(config).items() if k not in ("seeds", "splits")}, "cells": cells,
            "grpo": GRPO_TRAINER}


def _write_outputs(out: Path, config: MiniTransferConfig, command: str | None, wall: float, ran: list) -> dict:
    pieces = [read_json(p) for p in sorted((out / "pieces").glob("*.json"))]
    rows = [r for p in pieces for r in p["rows"]]
    atomic_write_text(out / "results.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    summary = summarise(rows)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    prov_path = out / "provenance.json"
    old = read_json(prov_path) if prov_path.is_file() else {}
    prov = {
        "command": command or old.get("command"),
        "params": asdict(config),
        "timestamps_s": list(timestamps(config.horizon)),
        "program_prior": list(PROGRAM_PRIOR),
        "git_commit": git_commit(),
        "machine": machine(),
        # each piece's wall time and the commit it ran at (`git_commit` above wrote these summary files)
        "pieces": {f"{p['split']}_seed{p['seed']}": {"wall_s": p["wall_s"], "git_commit": p.get("git_commit")}
                   for p in pieces},
        # the last invocation that ran pieces (one that only rewrote the outputs keeps the previous one's)
        "last_run": {"wall_s": round(wall, 1), "pieces": ran} if ran or "last_run" not in old else old["last_run"],
        "wall_s_all_pieces": round(sum(p["wall_s"] for p in pieces), 1),
    }
    atomic_write_text(prov_path, json.dumps(prov, indent=2))
    return {"rows": rows, "summary": summary, "provenance": prov}


PROG = "python -m delta_core.experiments.transfer_bouncingsim"
# MiniTransferConfig sizes that must be >= 1 (sft_steps and grpo_steps may be 0: no SFT / no RL)
_AT_LEAST_ONE = ("train_scenes", "test_problems", "samples", "sft_batch", "grpo_prompts", "grpo_group",
                 "max_new_tokens", "hidden_size", "layers", "heads", "intermediate", "sandbox_workers")


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli import ArgumentParser, ensure_output_dir, fail, nonnegative_int, user_errors

    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="results folder (pieces/, results.jsonl, summary.json, provenance.json)")
    parser.add_argument("--seeds", type=nonnegative_int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--splits", nargs="+", default=list(MiniTransferConfig.splits), choices=sorted(TRAIN_SPLITS))
    parser.add_argument("--cache", default=None, help="scene cache folder (default ~/.cache/delta_core/transfer_mini)")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="override a MiniTransferConfig field")
    args = parser.parse_args(argv)
    fields = {f.name: f for f in MiniTransferConfig.__dataclass_fields__.values()}
    settable = sorted(name for name in fields if name not in ("seeds", "splits"))
    overrides: dict[str, Any] = {}
    for item in args.set:
        name, equals, value = item.partition("=")
        if not equals:
            fail(PROG, f"--set {item!r}: expected FIELD=VALUE, e.g. --set grpo_steps=20")
        if name not in settable:
            fail(PROG, f"--set {item!r}: unknown field {name!r}; choose from {', '.join(settable)} "
                       "(--seeds and --splits are options)")
        kind = type(getattr(MiniTransferConfig(), name))
        try:
            overrides[name] = kind(value)
        except ValueError:
            fail(PROG, f"--set {item!r}: {name} needs {'an integer' if kind is int else 'a ' + kind.__name__}, got {value!r}")
        number = overrides[name]
        if kind in (int, float) and (not math.isfinite(number) or number < 0):
            fail(PROG, f"--set {item!r}: {name} must be a finite number >= 0")
        if (name in _AT_LEAST_ONE and number < 1) or (kind is float and name != "horizon" and number <= 0):
            fail(PROG, f"--set {item!r}: {name} must be {'>= 1' if name in _AT_LEAST_ONE else '> 0'}")
    try:
        config = MiniTransferConfig(seeds=tuple(args.seeds), splits=tuple(args.splits), **overrides)
    except ValueError as err:
        fail(PROG, f"--set: {err}")
    ensure_output_dir(PROG, args.out, "--out")
    if args.cache is not None:
        ensure_output_dir(PROG, args.cache, "--cache")
    command = "python -m delta_core.experiments.transfer_bouncingsim " + " ".join(sys.argv[1:] if argv is None else argv)
    with user_errors(PROG, paths={"--out": args.out, "--cache": args.cache}):
        result = run(args.out, config, args.cache, command)
    for axis, s in result["summary"].items():
        print(f"{axis}: {s['verdict']} ({s['why']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
