import torch, sys; torch.set_num_threads(1)
from collections import Counter
from delta_core.grokking import MiniExperiment, target_split, _train_config
from delta_core.models import load_model
from delta_core.rewards import extract_program, score_completion
from delta_core.train import _hf_generate, _rows
exp = MiniExperiment(); tr, held = target_split(exp)
L = load_model(sys.argv[1])
tot=0
for p in held[:int(sys.argv[2])]:
    row = _rows([p], "compact")[0]
    text = L.tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    torch.manual_seed(0)
    outs = _hf_generate(L.model, L.tokenizer, [text], 32, _train_config(exp, model="-", eval_temperature=1.0))[0]
    progs = Counter(extract_program(o) for o in outs)
    sc = [score_completion(o, row["ground_truth"]) for o in outs]
    tot += sum(s[1] for s in sc)
    print(p.criteria[:70], "distinct", len(progs), "dense %.2f"%(sum(s[0] for s in sc)/32), "max %.2f"%max(s[0] for s in sc), "full", sum(s[1] for s in sc))
print("total full", tot)
print(progs.most_common(1)[0][0])
