#!/bin/bash
# Every long CPU run of chapters 4b and 4c, in the order they were (and are) made, as two queues, one per
# core. Each item resumes from its checkpoint and is skipped once finished, so after a kill (or a session's
# end) the same command continues where it stopped:
#
#   nohup nice -n 19 scripts/run_queue.sh a > runs/queue_a.log 2>&1 &
#   nohup nice -n 19 scripts/run_queue.sh b > runs/queue_b.log 2>&1 &
#
# (scripts/start_queues.sh does both, after `make install` when .venv is absent.)
#
# Items: mini:ARM:SEED (DELTA-mini v2's arms), control:ARM:SEED (its positive control at the arms' lr),
# recipe:ARM:SEED (chapter 4c), an arm's three seeds in a row so that each claim's runs land together;
# a feedback run (~2 h: a feedback step costs ~5 plain ones) and a long run (400 steps) each fill queue a
# about as long as ~4 and ~2 plain runs fill queue b. Checkpoints (runs/) are not committed: a run cut by a
# new checkout starts again, so each session restarts the queues early enough for a feedback run to end;
# the switch-timing arms (the chapter's centrepiece), then the misaligned curriculum (C8), then the long runs
# (C15): 2026-12-04, a plain run is ~45 min a core, a long run ~100 min, so claims complete one by one;
# issue 21's CPU runs of SmolLM2 come first now that its adapter is committed: smol:measure:I/N and
# smol:precondition:I/N, sharded between the two queues, their per-problem records committed under
# book/results/smollm_sft/records so that a new checkout goes on where they stopped (smol:sft, first in
# queue a, is skipped once sft.json is there; smol:measure-raw:0/1, in no list now, measures the raw model
# alone, without an adapter). C15's long_ordered runs (2026-12-05, ~81 min each with all three at once on two
# cores) come last.
# After a run lands (or at a session's end), scripts/land_results.sh copies its metrics into book/results/
# and recomputes what reads them; then commit book/results/ and the goldens.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  # issue 21's measurements of SmolLM2 + its SFT adapter (made 2026-12-04) go first, a shard a queue: their
  # records are committed, so they survive a new checkout; the recipe's runs after them
  a) items="smol:sft smol:measure:0/2 smol:precondition:0/2
            mini:dense_then_binary:1 mini:dense_then_binary:0 mini:dense_then_binary:2 mini:dense:1 mini:dense:2
            recipe:replay:0 recipe:replay:1 recipe:replay:2 recipe:curriculum_aligned:0 recipe:switch_30:0
            recipe:feedback:0 recipe:feedback:2
            recipe:switch_dense:0 recipe:switch_dense:1 recipe:switch_dense:2 recipe:switch_100:2 recipe:switch_100:1
            recipe:curriculum_misaligned:2 recipe:curriculum_misaligned:0
            recipe:long:0 recipe:long:2 recipe:curriculum_misaligned:1
            recipe:long_ordered:0 recipe:long_ordered:2" ;;
  b) items="smol:measure:1/2 smol:precondition:1/2
            mini:dense:0 control:binary:1 control:dense_then_binary:1 control:binary:2 control:dense_then_binary:2
            mini:binary:0 mini:binary:1 mini:binary:2
            recipe:feedback:1
            recipe:switch_30:1 recipe:switch_30:2 recipe:curriculum_aligned:1 recipe:curriculum_aligned:2
            recipe:switch_60:0 recipe:switch_60:1 recipe:switch_60:2 recipe:switch_100:0
            recipe:curriculum_misaligned:1 recipe:curriculum_misaligned:0
            recipe:long:1
            recipe:switch_100:1 recipe:curriculum_misaligned:2
            recipe:switch_dense:0 recipe:switch_dense:1 recipe:switch_dense:2 recipe:long:0 recipe:long:2
            recipe:long_ordered:1 recipe:long_ordered:2" ;;
  *) echo "usage: scripts/run_queue.sh a|b [ITEM ...]   (one queue per core; ITEMs replace the queue's list)" >&2; exit 2 ;;
esac
[ $# -gt 1 ] && items="${*:2}"
MINI=book/results/delta_mini_v2
SMOL=book/results/smollm_sft
mkdir -p runs/locks
run_item() {
  case "$kind" in
    mini) [ -f "$MINI/runs/${arm}_s${seed}/after.json" ] && { echo "finished already"; return 0; }
          .venv/bin/python -m delta_core.experiments.delta_mini arms --out "$MINI" --work runs/delta_mini_v2 \
            --set "seeds=[$seed]" --set "arms=[\"$arm\"]" ;;
    control) .venv/bin/python -m delta_core.experiments.delta_mini_pilots control "$MINI" --arm "$arm" --seed "$seed" \
               --learning-rate "$(.venv/bin/python -c "import json; print(json.load(open('$MINI/experiment.json'))['learning_rate'])")" ;;
    recipe) .venv/bin/python -m delta_core.experiments.recipe run book/results/recipe "$arm" --seed "$seed" ;;
    smol) mkdir -p runs "$SMOL"
          # a finished step is not called again: each call would add a "skipped" line to provenance.json
          case "$arm" in sft|measure|precondition) [ -f "$SMOL/$arm.json" ] && { echo "finished already"; return 0; } ;; esac
          # the measurement records (small JSON lines) go under $SMOL/records, committed at a session's end,
          # so measurements that outlast a session go on in the next checkout; the SFT checkpoints stay in runs/
          if [ "$arm" = sft ]; then  # the second queue to get here waits for the first's SFT, then finds it made
            flock runs/smollm_sft.lock .venv/bin/python -m delta_core.experiments.smollm_sft sft "$SMOL"
          elif [ "$arm" = measure-raw ]; then  # the raw model needs no adapter: measured while the SFT runs
            .venv/bin/python -m delta_core.experiments.smollm_sft measure "$SMOL" --models raw --shard "$seed" --work "$SMOL/records"
          else
            .venv/bin/python -m delta_core.experiments.smollm_sft "$arm" "$SMOL" --shard "$seed" --work "$SMOL/records"
          fi ;;
  esac
}
for item in $items; do
  IFS=: read -r kind arm seed <<< "$item"
  echo "== $(date -u +%FT%TZ) $item"
  if [ "$item" = smol:sft ]; then run_item; continue; fi  # waits on its own lock (above)
  # an item the other queue is running now is skipped here, not run twice at once
  set +e; ( flock -n 9 || exit 75; run_item ) 9> "runs/locks/${item//[:\/]/_}.lock"; rc=$?; set -e
  if [ "$rc" = 75 ]; then echo "running in the other queue: skipped"; elif [ "$rc" != 0 ]; then exit "$rc"; fi
done
