#!/bin/bash
# The recipe's arms (issue 20), one run after another on one core; two of these side by side use the cores.
# Each run resumes from its checkpoint under runs/recipe and is skipped once finished, so the script can be
# started again after a kill (or a session's end) and only does what is missing. ARM:SEED, e.g.
#
#   scripts/run_recipe_arms.sh switch_30:0 switch_60:0 switch_100:0     # one core
#   scripts/run_recipe_arms.sh replay:0 feedback:0 long:0               # the other
set -euo pipefail
cd "$(dirname "$0")/.."
for spec in "$@"; do
  .venv/bin/python -m delta_core.experiments.recipe run book/results/recipe "${spec%%:*}" --seed "${spec##*:}"
done
