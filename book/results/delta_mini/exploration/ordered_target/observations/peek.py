"""The most common program of a trained DELTA-mini model for some held-out target problems (8 samples at
temperature 1 each), and how much of each problem's tests it passes.
    python peek.py MODEL_DIR EXPERIMENT_JSON INDICES   (e.g. 0,4,10,12)"""
import json
import sys
from collections import Counter

import torch

from delta_core.grokking import MiniExperiment, _train_config, target_split
from delta_core.models import load_model
from delta_core.rewards import extract_program, score_completion
from delta_core.train import _hf_generate, _rows

torch.set_num_threads(1)
exp = MiniExperiment.from_dict(json.load(open(sys.argv[2])))
_, held = target_split(exp)
loaded = load_model(sys.argv[1])
for index in map(int, sys.argv[3].split(",")):
    problem = held[index]
    row = _rows([problem], "compact")[0]
    text = loaded.tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    torch.manual_seed(0)
    outs = _hf_generate(loaded.model, loaded.tokenizer, [text], 8, _train_config(exp, model="-"))[0]
    program, count = Counter(extract_program(o) for o in outs).most_common(1)[0]
    dense, full = score_completion(program, row["ground_truth"])
    print(f"## {problem.criteria.split(';')[0]}: {count}/8 samples wrote this program; "
          f"it passes {dense:.0%} of the tests (full pass: {bool(full)})")
    print(program, end="\n\n")
