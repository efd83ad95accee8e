#!/bin/bash
# After runs of scripts/run_queue.sh land (or at a session's end, for the runs in progress): copy their
# metrics into book/results/ and recompute everything that reads them, in dependency order, so the
# committed summaries, verdicts and the fidelity table's goldens agree with the committed runs (the
# rebuild tests, tests/test_results_rebuild.py, check that they do). Then commit book/results/ and
# tests/data/fidelity_table.*.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
MINI=book/results/delta_mini_v2
# DELTA-mini v2's runs are all committed: without their work folder here there is nothing new to copy,
# and recomputing its reports would only add provenance lines
if [ -d runs/delta_mini_v2 ]; then
  $py -m delta_core.experiments.delta_mini snapshot --out "$MINI" --work runs/delta_mini_v2
  $py -m delta_core.experiments.delta_mini summary --out "$MINI" > /dev/null
  $py -m delta_core.experiments.delta_mini_pilots report "$MINI" > /dev/null
  $py -m delta_core.experiments.delta_mini_verdict "$MINI" | tail -n 1
fi
$py -m delta_core.experiments.recipe summary book/results/recipe | tail -n 3
$py - <<'PY'
from delta_core.experiments.fidelity import evaluate_claims, to_html, to_markdown
rows = evaluate_claims("book/claims.yaml", ".")
open("tests/data/fidelity_table.md", "w").write(to_markdown(rows))
open("tests/data/fidelity_table.html", "w").write(to_html(rows))
print("\n".join(f"{r.id}: {r.status}" for r in rows))
PY
