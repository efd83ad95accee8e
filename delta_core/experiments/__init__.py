"""The book's experiments, built on the library (which never imports this package).

- `baseline`: pass@k of a model on every family and level (chapter 3)
- `delta_mini`: RL grokking end to end on a CPU: base model, precondition, the reward-schedule arms,
  summary (chapter 4b); `delta_mini_report` reads and plots its results, `delta_mini_inspect` looks
  at what a model writes
- `transfer_manufactoria`, `transfer_bouncingsim`: what RL on one family does to others, in both
  domains (chapter 6); `transfer_report` holds the chapter's tables, heatmaps and gain intervals
- `fidelity`: the paper's claims against the saved artifacts (chapter 7), in the book's one verdict
  vocabulary; `baselines`: what programs that ignore the prompt earn on a target's tests (its C3 rule)
- `headline`: the landing page's verdict, computed from the artifacts
- `smollm_sft`: SmolLM2-135M-Instruct taught the DSL on a CPU (LoRA SFT on DELTA-mini v2's seen
  families), its measurements and precondition report: the start model of the GPU run (`scripts/gpu`)

Each runs as `python -m delta_core.experiments.NAME --help`; results land under `book/results/`.
"""
