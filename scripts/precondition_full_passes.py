"""The base model's full-pass programs behind DELTA-mini v2's first precondition (the first target, pass@1024 > 0):
sample the problems that had a full pass again, with the precondition's seeds (problem i uses seed i), and print and
save the passing programs. (Precondition reports made since keep them: `full_pass_programs` of each problem.)

    python scripts/precondition_full_passes.py
    # writes book/results/delta_mini_v2/precondition_history/target_len5_sft1000/precondition_full_passes.json
"""
import json, torch
from delta_core.experiments import delta_mini as dm
from delta_core.experiments.precondition import judge_program
from delta_core.models import load_model
from delta_core.sampling import generate_completions
from delta_core.train import problem_rows
from delta_core.rewards import extract_program
torch.set_num_threads(1)
out = "book/results/delta_mini_v2"  # the base model
measured = f"{out}/precondition_history/target_len5_sft1000"  # the report, its settings, and where this writes
exp = dm.MiniExperiment.from_dict(json.load(open(f"{measured}/experiment.json")))
_, held = dm.target_split(exp)
cfg = dm.rl_config(exp, model=f"{out}/base", eval_batch_size=256)
L = load_model(f"{out}/base")
res = {}
SOLVED = {p["criteria"].split("'")[1] for p in json.load(open(f"{measured}/precondition.json"))["per_problem"] if p["c"] > 0}
for i, p in enumerate(held):
    if p.params["sequence"] not in SOLVED:
        continue
    row = problem_rows([p], "compact")[0]
    samples = generate_completions(L.model, L.tokenizer, [row["prompt"]], exp.base_k, cfg.sampling(exp.base_k), seed=0 + i)[0]
    for s in samples:
        prog = extract_program(s.text)
        d, b = judge_program(prog, p)
        if b == 1.0:
            print(p.params["sequence"], "FULL PASS"); print(prog)
            res[p.params["sequence"]] = prog
from delta_core.artifacts import provenance, write_json

write_json(f"{measured}/precondition_full_passes.json", {
    "what": "the base's full-pass programs found by the precondition (pass@1024), sampled again with the same seeds",
    "programs": res,
    "provenance": provenance("python scripts/precondition_full_passes.py", {"k": exp.base_k}, None)})
