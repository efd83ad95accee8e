#!/usr/bin/env bash
# Send less with every device call, for the length of a GPU session, without touching a file.
#
#   bash scripts/gpu/slim_tree.sh on     # untrack (index only) what the GPU run never reads, and ignore it
#   bash scripts/gpu/slim_tree.sh off    # track it again (git reset of those paths), drop the ignore lines
#   bash scripts/gpu/slim_tree.sh status # which state, and the bytes the device tool would send
#
# The device tool sends the working tree as git lists it: tracked files plus untracked files that are not
# ignored. The committed results of the CPU chapters (DELTA-mini's runs and models, the recipe's runs, the
# book's vendored JavaScript: ~37 MiB) would travel with every call and leave ~20 MiB a call for the wheels.
# `on` removes those paths from the index (`git rm --cached`: the files stay on disk, HEAD is unchanged) and
# lists them in .git/info/exclude between two marker lines, so that a call carries ~5 MiB of tree and the
# payload goes in two calls instead of five. `off` undoes both. Never commit while it is on: the commit
# would delete those files from the repository (`on` refuses when the index holds other staged changes).
set -euo pipefail
cd "$(dirname "$0")/../.."

# What the GPU run reads is delta_core/, scripts/gpu/, configs/, book/results/delta_mini_v2/experiment.json
# and book/results/smollm_sft/ (the adapter). These are large and read by no step of run_grokking.sh:
paths=(
  book/_static/vendor
  book/results/delta_mini
  book/results/delta_mini_v2/runs
  book/results/delta_mini_v2/base
  book/results/delta_mini_v2/pilots
  book/results/delta_mini_v2/precondition_history
  book/results/recipe
)
exclude=.git/info/exclude
begin="# >>> slim_tree.sh (GPU session): untracked for the device calls; 'slim_tree.sh off' restores"
end="# <<< slim_tree.sh"

tree_mib() {
  git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null \
    | awk '{s += $1} END {printf "%.1f", s / 1048576}'
}
is_on() { [ -f "$exclude" ] && grep -qxF "$begin" "$exclude"; }

case "${1:-status}" in
  on)
    if is_on; then echo "slim_tree: already on ($(tree_mib) MiB travel)"; exit 0; fi
    if ! git diff --cached --quiet; then
      echo "slim_tree: the index holds staged changes; commit or unstage them first (git status)" >&2; exit 1
    fi
    before="$(tree_mib)"
    mkdir -p "$(dirname "$exclude")"
    { echo "$begin"; for p in "${paths[@]}"; do echo "/$p/"; done; echo "$end"; } >> "$exclude"
    for p in "${paths[@]}"; do git rm -r -q --cached --ignore-unmatch -- "$p"; done
    echo "slim_tree: on: $before MiB -> $(tree_mib) MiB travel with each call; run 'slim_tree.sh off' after the session"
    ;;
  off)
    git reset -q -- "${paths[@]}"
    if is_on; then
      awk -v b="$begin" -v e="$end" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' "$exclude" > "$exclude.new"
      mv "$exclude.new" "$exclude"
    fi
    if git diff --cached --quiet -- "${paths[@]}"; then
      echo "slim_tree: off: every path tracked again ($(tree_mib) MiB travel)"
    else
      echo "slim_tree: off, but the index still differs from HEAD under the slimmed paths (git status)" >&2; exit 1
    fi
    ;;
  status)
    if is_on; then echo "slim_tree: on ($(tree_mib) MiB travel)"; else echo "slim_tree: off ($(tree_mib) MiB travel)"; fi
    ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
