#!/bin/bash
# DELTA-mini v2's arms, one run after another on one core; several of these side by side use the cores.
# Each run resumes from its last checkpoint under runs/delta_mini_v2 and is skipped once after.json exists,
# so the script can be started again after a kill (or a session's end) and only does what is missing.
#
#   scripts/run_delta_mini_v2_arms.sh dense_then_binary:0 binary:0 dense:0    # one core
#   scripts/run_delta_mini_v2_arms.sh dense_then_binary:1 binary:1 dense:1    # the other
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=book/results/delta_mini_v2
for spec in "$@"; do
  arm=${spec%%:*}; seed=${spec##*:}
  .venv/bin/python -m delta_core.experiments.delta_mini arms --out "$OUT" --work runs/delta_mini_v2 \
    --set "seeds=[$seed]" --set "arms=[\"$arm\"]"
done
