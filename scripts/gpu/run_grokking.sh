#!/usr/bin/env bash
# The single-GPU grokking run, end to end. On the device machine (after device_step.sh install):
#
#   bash scripts/gpu/run_grokking.sh                   # SmolLM2-135M, contains_ordered/easy -> book/results/gpu/
#   bash scripts/gpu/run_grokking.sh --dry-run         # the same steps on CPU with a tiny random model -> a temp dir
#
# Steps (each a subcommand of scripts/gpu/grokking.py, reading configs/gpu_lora.yaml plus --set overrides):
#   1. provenance: GPU, versions, command                          -> OUT/provenance.json
#   2. baseline pass@k on the held-out problems (vLLM if importable, else model.generate) -> OUT/baseline/passk.json
#   3. GRPO arms with backend=unsloth (LoRA): dense_then_binary (dense until --switch-step, then binary)
#      and binary; on a GPU both at once (one 135M model each)     -> OUT/arms/<arm>/{metrics.jsonl,profile.json,...}
#   4. pass@k again with each arm's LoRA adapter                  -> OUT/arms/<arm>/passk_final.json
#   5. summary.json and plots                                     -> OUT/summary.json, OUT/plots/*.png
# Checkpoints and adapters go to a scratch folder (--scratch), not into OUT.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dry_run=0
out=""
scratch=""
model="smollm2"
family="contains_ordered"
level="easy"
steps=""          # defaults below: GPU 60 / 20 / 32 / 16, dry run 3 / 1 / 2 / 2
switch_step=""
k=""
eval_problems=""
arms="dense_then_binary binary"
time_budget=240
parallel=1
extra=()

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}"; cat <<EOF
Options (GPU defaults; --dry-run shrinks every size):
  --out DIR            results (default book/results/gpu; --dry-run: a new temp dir, never book/results/gpu)
  --scratch DIR        checkpoints, adapters, the dry run's model (default: a temp dir)
  --model SPEC         delta_core.models spec (default smollm2: the embedded SmolLM2-135M-Instruct)
  --family F --level L task family and level (default $family / $level)
  --steps N            GRPO steps per arm at most (default 60; dry run 3)
  --switch-step S      dense_then_binary: binary from step S (default 20; dry run 1)
  --k K                samples per held-out problem for pass@k before/after (default 32; dry run 2)
  --eval-problems P    held-out problems (default 16; dry run 2)
  --arms "A B"         arms to train (default "$arms")
  --time-budget S      seconds of training per arm, then stop cleanly (default $time_budget)
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
    --family) family="$2"; shift 2 ;;
    --level) level="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --switch-step) switch_step="$2"; shift 2 ;;
    --k) k="$2"; shift 2 ;;
    --eval-problems) eval_problems="$2"; shift 2 ;;
    --arms) arms="$2"; shift 2 ;;
    --time-budget) time_budget="$2"; shift 2 ;;
    --sequential) parallel=0; shift ;;
    --set) extra+=(--set "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_grokking.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$dry_run" = 1 ]; then
  steps="${steps:-3}"; switch_step="${switch_step:-1}"; k="${k:-2}"; eval_problems="${eval_problems:-2}"
else
  steps="${steps:-60}"; switch_step="${switch_step:-20}"; k="${k:-32}"; eval_problems="${eval_problems:-16}"
fi

cd "$root"
site="${DELTA_GPU_HOME:-/root/delta_gpu}/site"
export PYTHONPATH="$( [ -d "$site" ] && printf '%s:' "$site")$root${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
python="${PYTHON:-$( [ -x "$root/.venv/bin/python" ] && [ "$dry_run" = 1 ] && echo "$root/.venv/bin/python" || echo python3)}"
g() { "$python" "$root/scripts/gpu/grokking.py" "$@"; }

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
  [ "$family" = contains_ordered ] && family=starts_with && level=basic
  # A tiny random-init Llama (delta_core.mini): the code path, not the learning, is what a dry run checks.
  "$python" -m delta_core.mini "$scratch/mini" > /dev/null
  model="$scratch/mini"
  sizes=(--set backend=cpu --set cpu_threads=1 --set prompt_style=compact --set lora_rank=8
          --set gradient_checkpointing=false --set num_generations=4 --set generation_batch_size=8
          --set per_device_train_batch_size=8 --set max_completion_length=24 --set eval_steps=2 --set eval_k=2
          --set eval_batch_size=8 --set learning_rate=1e-4)
  parallel=0
else
  [ -n "$out" ] || out="$root/book/results/gpu"
  "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "run_grokking.sh: no CUDA GPU here; use --dry-run" >&2; exit 2; }
  # SmolLM2-135M with LoRA: 8 prompts x 8 samples a step, 256-token completions, the A.2.4 prompt.
  sizes=(--set prompt_style=full --set lora_rank=32 --set learning_rate=5e-5 --set num_generations=8
           --set generation_batch_size=64 --set per_device_train_batch_size=64 --set max_completion_length=256
           --set max_seq_length=2048 --set eval_steps=10 --set eval_k=8 --set eval_batch_size=128)
fi
common=(--set dataset=null --set "family=$family" --set "level=$level" --set switch_threshold=null
        --set overwrite=true --set save_steps=100000 --set save_total_limit=1 --set "eval_problems=$eval_problems"
        --set "max_steps=$steps" "${sizes[@]}" --set "model=$model" "${extra[@]}")
mkdir -p "$out/baseline" "$out/arms"
echo "run_grokking.sh: out=$out scratch=$scratch model=$model family=$family/$level arms=[$arms] dry_run=$dry_run"

arm_sets() {  # arm -> its --set flags
  case "$1" in
    dense_then_binary) echo "--set schedule=dense_then_binary --set switch_step=$switch_step" ;;
    binary) echo "--set schedule=binary --set switch_step=null" ;;
    dense) echo "--set schedule=dense --set switch_step=null" ;;
    *) echo "run_grokking.sh: unknown arm $1 (dense_then_binary, binary, dense)" >&2; return 2 ;;
  esac
}

t0=$(date +%s)
g provenance --out "$out" $( [ "$dry_run" = 1 ] && echo --dry-run ) \
  --run-args "model=$model family=$family level=$level steps=$steps switch_step=$switch_step k=$k arms=$arms time_budget=$time_budget"
echo "[$(( $(date +%s) - t0 ))s] baseline pass@$k"
g passk "$config" "${common[@]}" $(arm_sets dense_then_binary) --k "$k" --out "$out/baseline/passk.json"

run_arm() {  # arm: train, copy the small artifacts, pass@k with the adapter
  local arm="$1" dir="$out/arms/$1"
  mkdir -p "$dir"
  # shellcheck disable=SC2046
  g train "$config" "${common[@]}" $(arm_sets "$arm") --set "output_dir=$scratch/runs/$arm" \
    --profile "$dir/profile.json" --time-budget "$time_budget" --arm "$arm" > "$dir/train.log" 2>&1 \
    || { echo "arm $arm: training failed, see $dir/train.log" >&2; tail -n 30 "$dir/train.log" >&2; return 1; }
  cp "$scratch/runs/$arm/metrics.jsonl" "$scratch/runs/$arm/train_config.json" "$dir/"
  # shellcheck disable=SC2046
  g passk "$config" "${common[@]}" $(arm_sets "$arm") --k "$k" --adapter "$scratch/runs/$arm/final" \
    --out "$dir/passk_final.json" >> "$dir/train.log" 2>&1 \
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
