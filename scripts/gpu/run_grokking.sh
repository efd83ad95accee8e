#!/usr/bin/env bash
# The single-GPU grokking run, end to end. On the device machine (after device_step.sh install):
#
#   bash scripts/gpu/run_grokking.sh              # SmolLM2-135M + its SFT adapter -> book/results/gpu/
#   bash scripts/gpu/run_grokking.sh --dry-run    # the same steps on CPU: a tiny random model, a 2-step adapter -> a temp dir
#
# Steps (grokking.py subcommands read configs/gpu_lora.yaml plus --set overrides):
#   1. provenance: GPU, versions, command, the adapter's SHA-256                  -> OUT/provenance.json
#   2. the start model: the base with the SFT adapter (book/results/smollm_sft/adapter) merged in
#      (python -m delta_core.experiments.smollm_sft merge)                        -> SCRATCH/start
#   3. pass@k of the start model on each split's held-out problems                -> OUT/baseline/passk.json (target),
#                                                                                    OUT/baseline/passk_control.json
#   4. GRPO arms, a fresh LoRA on the start model (--backend: cuda = TRL + PEFT on the GPU, unsloth = Unsloth;
#      auto = unsloth where it is installed, else cuda), DELTA-mini v2's data
#      (book/results/delta_mini_v2/experiment.json): control_binary, the positive control (binary reward on
#      the seen family chosen by --control, default: grokking.py control); dense_then_binary on its target (contains_substring/medium,
#      patterns with 2+ fallbacks); on a GPU both at once                         -> OUT/arms/<arm>/{metrics.jsonl,profile.json,...}
#   5. pass@k again with each arm's LoRA adapter                                  -> OUT/arms/<arm>/passk_final.json
#   6. summary.json and plots                                                     -> OUT/summary.json, OUT/plots/*.png
# Checkpoints, adapters and the merged model go to a scratch folder (--scratch), not into OUT.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dry_run=0
out=""
scratch=""
model="smollm2"
adapter=""        # default: book/results/smollm_sft/adapter (the dry run: a 2-step adapter of the tiny model)
mini_experiment="book/results/delta_mini_v2/experiment.json"
family=""         # set: the non-control arms train on this family's own split instead of the mini target
level=""
steps=""          # defaults below: GPU 60 / 10 / 16 / 16, dry run 3 / 1 / 2 / 2
switch_step=""
k=""
eval_problems=""
lr="1e-4"
arms="control_binary dense_then_binary"
time_budget=240
backend=auto
control=auto
parallel=1
extra=()

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}"; cat <<EOF
Options (GPU defaults; --dry-run shrinks every size):
  --out DIR            results (default book/results/gpu; --dry-run: a new temp dir, never book/results/gpu)
  --scratch DIR        checkpoints, adapters, the merged start model, the dry run's model (default: a temp dir)
  --model SPEC         delta_core.models spec of the base (default smollm2: the embedded SmolLM2-135M-Instruct)
  --adapter DIR|none   the SFT adapter merged into the base (default book/results/smollm_sft/adapter; none: the raw base)
  --mini-experiment F  DELTA-mini experiment.json whose target and control the arms use (default $mini_experiment)
  --arms "A B"         arms (default "$arms"): SCHEDULE trains on the target, control_SCHEDULE on the
                       positive control; SCHEDULE is dense_then_binary, binary or dense
  --family F --level L the non-control arms train on this family's own split instead of the mini target
  --steps N            GRPO steps per arm at most (default 60; dry run 3)
  --switch-step S      dense_then_binary: binary from step S (default 10; dry run 1)
  --lr LR              GRPO learning rate of the fresh LoRA (default $lr)
  --k K                samples per held-out problem for pass@k before/after (default 16; dry run 2)
  --eval-problems P    held-out problems evaluated, the first P of each split (default 16; dry run 2)
  --time-budget S      seconds of training per arm, then stop cleanly (default $time_budget)
  --backend B          GPU back-end: cuda (TRL + PEFT), unsloth, or auto (default: unsloth if installed, else cuda)
  --control F/L|auto   the positive control's seen family (default auto: grokking.py control, the start model's
                       highest pass@1 below 0.5 in book/results/smollm_sft/measure.json; the dry run: the mini's)
  --sequential         train the arms one after the other (the dry run always does)
  --set KEY=VALUE      any other delta_core.train field, for every arm (repeatable)
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1; shift ;;
    --out) out="$2"; shift 2 ;;
    --scratch) scratch="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --adapter) adapter="$2"; shift 2 ;;
    --mini-experiment) mini_experiment="$2"; shift 2 ;;
    --family) family="$2"; shift 2 ;;
    --level) level="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --switch-step) switch_step="$2"; shift 2 ;;
    --lr) lr="$2"; shift 2 ;;
    --k) k="$2"; shift 2 ;;
    --eval-problems) eval_problems="$2"; shift 2 ;;
    --arms) arms="$2"; shift 2 ;;
    --time-budget) time_budget="$2"; shift 2 ;;
    --sequential) parallel=0; shift ;;
    --backend) backend="$2"; shift 2 ;;
    --control) control="$2"; shift 2 ;;
    --set) extra+=(--set "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_grokking.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$family" ] && [ -z "$level" ]; then
  echo "run_grokking.sh: --family $family needs --level (e.g. --level easy)" >&2; exit 2
fi

split_of() {  # arm -> the data it trains on
  case "$1" in
    control_*) echo control ;;
    *) [ -n "$family" ] && echo family || echo target ;;
  esac
}
schedule_of() { echo "${1#control_}"; }
for arm in $arms; do
  case "$(schedule_of "$arm")" in
    dense_then_binary|binary|dense) ;;
    *) echo "run_grokking.sh: unknown arm $arm ([control_]dense_then_binary, binary or dense)" >&2; exit 2 ;;
  esac
done

if [ "$dry_run" = 1 ]; then
  steps="${steps:-3}"; switch_step="${switch_step:-1}"; k="${k:-2}"; eval_problems="${eval_problems:-2}"
else
  steps="${steps:-60}"; switch_step="${switch_step:-10}"; k="${k:-16}"; eval_problems="${eval_problems:-16}"
fi

cd "$root"
site="${DELTA_GPU_HOME:-/root/delta_gpu}/site"
export PYTHONPATH="$( [ -d "$site" ] && printf '%s:' "$site")$root${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
python="${PYTHON:-$( [ -x "$root/.venv/bin/python" ] && [ "$dry_run" = 1 ] && echo "$root/.venv/bin/python" || echo python3)}"
g() { "$python" "$root/scripts/gpu/grokking.py" "$@"; }
smol() { "$python" -m delta_core.experiments.smollm_sft "$@"; }

[ -n "$scratch" ] || scratch="$(mktemp -d "${TMPDIR:-/tmp}/delta_gpu_scratch.XXXXXX")"
mkdir -p "$scratch"
config="$root/configs/gpu_lora.yaml"

if [ "$dry_run" = 1 ]; then
  [ -n "$out" ] || out="$(mktemp -d "${TMPDIR:-/tmp}/delta_gpu_dry.XXXXXX")"
  case "$(realpath -m "$out")/" in
    "$(realpath -m "$root/book/results/gpu")"/*)
      echo "run_grokking.sh: --dry-run never writes into book/results/gpu (only real GPU results go there)" >&2
      exit 2 ;;
  esac
  # A tiny random-init Llama (delta_core.mini): the code path, not the learning, is what a dry run checks.
  "$python" -m delta_core.mini "$scratch/mini" > /dev/null
  model="$scratch/mini"
  if [ -z "$adapter" ]; then  # the SFT step itself, 2 steps on the tiny model: its adapter is merged below
    smol sft "$scratch/sft" --work "$scratch/sft_work" --model "$model" --no-progress --set sft_steps=2 \
      --set sft_batch_size=2 --set save_steps=2 --set sft_warmup_steps=0 --set lora_rank=4 \
      --set "mini_experiment=$mini_experiment" > "$scratch/sft.log" 2>&1 \
      || { echo "dry run: the SFT step failed, see $scratch/sft.log" >&2; tail -n 30 "$scratch/sft.log" >&2; exit 1; }
    adapter="$scratch/sft/adapter"
  fi
  sizes=(--set backend=cpu --set cpu_threads=1 --set lora_rank=8
          --set gradient_checkpointing=false --set num_generations=4 --set generation_batch_size=8
          --set per_device_train_batch_size=8 --set max_completion_length=24 --set eval_steps=2 --set eval_k=2
          --set eval_batch_size=8 --set learning_rate=1e-4)
  parallel=0
else
  [ -n "$out" ] || out="$root/book/results/gpu"
  "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "run_grokking.sh: no CUDA GPU here; use --dry-run" >&2; exit 2; }
  adapter="${adapter:-book/results/smollm_sft/adapter}"
  # SmolLM2-135M, a fresh LoRA on the merged SFT model: 8 prompts x 8 samples a step, the compact prompt the
  # SFT taught, 192-token completions (the longest SFT solution is 173), the rollouts' sampler everywhere.
  if [ "$backend" = auto ]; then
    "$python" -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('unsloth') else 1)" \
      && backend=unsloth || backend=cuda
  fi
  case "$backend" in cuda|unsloth) ;; *) echo "run_grokking.sh: --backend $backend: choose cuda, unsloth or auto" >&2; exit 2 ;; esac
  # cuda: a 135M model needs no activation checkpointing on one GPU (it only slows the step)
  sizes=(--set "backend=$backend" $( [ "$backend" = cuda ] && echo "--set gradient_checkpointing=false" )
         --set lora_rank=32 --set "learning_rate=$lr" --set num_generations=8
           --set generation_batch_size=64 --set per_device_train_batch_size=64 --set max_completion_length=192
           --set max_seq_length=512 --set eval_steps=10 --set eval_k=8 --set eval_batch_size=128)
fi
if [ "$adapter" != none ] && [ ! -f "$adapter/adapter_config.json" ]; then
  echo "run_grokking.sh: --adapter $adapter holds no adapter_config.json; make it with" \
       "python -m delta_core.experiments.smollm_sft sft book/results/smollm_sft (or give --adapter none)" >&2
  exit 2
fi
label="$( [ "$model" = smollm2 ] && echo SmolLM2-135M-Instruct || basename "$model")"
label="$label$( [ "$adapter" != none ] && echo " + SFT adapter" || true)"
mkdir -p "$out/baseline" "$out/arms"
echo "run_grokking.sh: out=$out scratch=$scratch model=$model adapter=$adapter arms=[$arms] backend=$( [ "$dry_run" = 1 ] && echo cpu || echo "$backend") dry_run=$dry_run"

arm_sets() {  # arm -> its --set flags
  case "$(schedule_of "$1")" in
    dense_then_binary) echo "--set schedule=dense_then_binary --set switch_step=$switch_step" ;;
    binary) echo "--set schedule=binary --set switch_step=null" ;;
    dense) echo "--set schedule=dense --set switch_step=null" ;;
  esac
}
data_of() { echo "--split $(split_of "$1") --mini-experiment $mini_experiment --control $control"; }
baseline_file() { [ "$1" = control ] && echo "$out/baseline/passk_control.json" || echo "$out/baseline/passk.json"; }

# Stopped from outside (`timeout` in the device command, a Ctrl-C): keep what the arms logged so far and
# summarise it, so that the results packed after the stop still hold every finished step.
exec 3>&1  # the script's own output: a trap can fire inside a step whose output goes to a log file
salvage() {
  trap - TERM INT
  exec 1>&3 2>&3
  echo "run_grokking.sh: stopped by a signal after $(( $(date +%s) - t0 ))s: saving the arms' metrics so far"
  for d in "$scratch"/runs/*/; do
    [ -f "$d/metrics.jsonl" ] || continue
    mkdir -p "$out/arms/$(basename "$d")"
    cp "$d/metrics.jsonl" "$out/arms/$(basename "$d")/"
    [ -f "$d/train_config.json" ] && cp "$d/train_config.json" "$out/arms/$(basename "$d")/"
  done
  timeout 60 "$python" "$root/scripts/gpu/grokking.py" summarize "$out" || true
  exit 124
}
if [ "$control" = auto ]; then  # chosen by a rule fixed before the run, from the CPU measurements (grokking.py control)
  control="$(g control --mini-experiment "$mini_experiment" \
             --measure "$( [ "$dry_run" = 1 ] && echo none || echo "$root/book/results/smollm_sft/measure.json")")"
fi
echo "run_grokking.sh: positive control $control"
t0=$(date +%s)
trap salvage TERM INT
g provenance --out "$out" $( [ "$dry_run" = 1 ] && echo --dry-run ) --adapter "$adapter" --model-label "$label" \
  --run-args "model=$model adapter=$adapter arms=$arms steps=$steps switch_step=$switch_step k=$k lr=$lr time_budget=$time_budget backend=$( [ "$dry_run" = 1 ] && echo cpu || echo "$backend") control=$control"
echo "[$(( $(date +%s) - t0 ))s] start model"
start="$model"
if [ "$adapter" != none ]; then
  start="$scratch/start"
  smol merge "$start" --model "$model" --adapter "$adapter" > "$scratch/merge.log" 2>&1 \
    || { echo "merging $adapter into $model failed, see $scratch/merge.log" >&2; tail -n 30 "$scratch/merge.log" >&2; exit 1; }
fi
common=(--set dataset=null --set "family=${family:-starts_with}" --set "level=${level:-basic}" --set prompt_style=compact
        --set switch_threshold=null --set overwrite=true --set save_steps=100000 --set save_total_limit=1
        --set "eval_problems=$eval_problems" --set "eval_max_problems=$eval_problems" --set "max_steps=$steps"
        "${sizes[@]}" --set "model=$start" "${extra[@]}")

baseline() {  # split: the start model's pass@k on its held-out problems
  # shellcheck disable=SC2046
  g passk "$config" "${common[@]}" $(arm_sets dense_then_binary) --split "$1" --mini-experiment "$mini_experiment" --control "$control" \
    --k "$k" --max-problems "$eval_problems" --out "$(baseline_file "$1")"
}
splits="$(for arm in $arms; do split_of "$arm"; done | sort -u)"
echo "[$(( $(date +%s) - t0 ))s] start model's pass@$k on: $(echo $splits)"
if [ "$parallel" = 1 ]; then
  pids=()
  for split in $splits; do baseline "$split" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid"; done
else
  for split in $splits; do baseline "$split"; done
fi

run_arm() {  # arm: train, copy the small artifacts, pass@k with the adapter
  local arm="$1" dir="$out/arms/$1"
  mkdir -p "$dir"
  # shellcheck disable=SC2046
  g train "$config" "${common[@]}" $(arm_sets "$arm") $(data_of "$arm") --set "output_dir=$scratch/runs/$arm" \
    --profile "$dir/profile.json" --time-budget "$time_budget" --arm "$arm" > "$dir/train.log" 2>&1 \
    || { echo "arm $arm: training failed, see $dir/train.log" >&2; tail -n 30 "$dir/train.log" >&2; return 1; }
  cp "$scratch/runs/$arm/metrics.jsonl" "$scratch/runs/$arm/train_config.json" "$dir/"
  # shellcheck disable=SC2046
  g passk "$config" "${common[@]}" $(arm_sets "$arm") $(data_of "$arm") --k "$k" --max-problems "$eval_problems" \
    --adapter "$scratch/runs/$arm/final" --out "$dir/passk_final.json" >> "$dir/train.log" 2>&1 \
    || { echo "arm $arm: final pass@k failed, see $dir/train.log" >&2; tail -n 30 "$dir/train.log" >&2; return 1; }
  echo "arm $arm: $(tail -n 1 "$dir/train.log")"
}

echo "[$(( $(date +%s) - t0 ))s] arms: $arms ($( [ "$parallel" = 1 ] && echo parallel || echo sequential))"
failed=0
if [ "$parallel" = 1 ]; then
  pids=()
  for arm in $arms; do run_arm "$arm" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
else
  for arm in $arms; do run_arm "$arm" || failed=1; done
fi
echo "[$(( $(date +%s) - t0 ))s] summary"
g summarize "$out"
echo "run_grokking.sh: done in $(( $(date +%s) - t0 ))s -> $out/summary.json"
exit "$failed"
