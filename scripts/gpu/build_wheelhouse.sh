#!/usr/bin/env bash
# Download the wheels the single-GPU run needs, for the device machine's Python, and cut them into pieces
# small enough to carry (the device tool sends at most 64 MiB a call). Run here, where PyPI is reachable:
#
#   bash scripts/gpu/build_wheelhouse.sh                       # cuda + model -> .gpu_wheelhouse/ (no Unsloth)
#   bash scripts/gpu/build_wheelhouse.sh --bundles core,model  # Unsloth instead (run_grokking.sh --backend unsloth)
#   bash scripts/gpu/build_wheelhouse.sh --bundles core,model,extras  # + bitsandbytes (QLoRA), torchao, ...
#   bash scripts/gpu/build_wheelhouse.sh --with-vllm           # also download vllm, to measure it (never carried)
#
# Layout written under --out (default .gpu_wheelhouse, ignored by git):
#   wheels/<bundle>/*.whl          what pip downloaded (--no-deps; every wheel pinned in requirements-gpu.txt)
#   pieces/payload.tar.part-NNN    `split -b <piece-mib>M` of one tar of wheels/ (bundles selected only);
#                                  small pieces (4 MiB) let carry_plan.py fill each call to its limit
#   manifest.tsv                   kind, bundle, path, bytes, sha256 of every wheel, of payload.tar and of
#                                  every piece (device_step.sh checks all three on the GPU machine)
#   vllm/                          with --with-vllm: the vllm wheel, measured, not in the payload
# Then `python3 scripts/gpu/carry_plan.py` prints the device calls. See scripts/gpu/README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=".gpu_wheelhouse"
python_version="3.12"          # the device image's python3 is 3.12.3 (KINDS.md, "pip list, as a session saw it")
platforms="manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64 manylinux_2_27_x86_64 manylinux_2_28_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux_2_35_x86_64 manylinux1_x86_64"
bundles="cuda,model"
piece_mib=4
with_vllm=0
requirements="$here/requirements-gpu.txt"
python="${PYTHON:-python3}"
offline_from=""                # a folder of wheels to copy instead of downloading (tests; no network)

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}"; cat <<EOF
Options:
  --out DIR              where to write (default $out)
  --python-version X.Y   the device machine's Python (default $python_version)
  --platform TAG         a manylinux tag pip may match; repeat for several (default: $platforms)
  --bundles a,b          bundles of requirements-gpu.txt to put in the payload (default $bundles)
  --piece-mib N          piece size in MiB (default $piece_mib; <= 63 so that a piece fits in one call)
  --requirements FILE    the pinned list (default scripts/gpu/requirements-gpu.txt)
  --with-vllm            also download the vllm bundle into OUT/vllm to measure it (it is never carried)
  --from-dir DIR         copy wheels from DIR instead of downloading (offline; used by the tests)
EOF
}

custom_platforms=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --python-version) python_version="$2"; shift 2 ;;
    --platform) custom_platforms="$custom_platforms $2"; shift 2 ;;
    --bundles) bundles="$2"; shift 2 ;;
    --piece-mib) piece_mib="$2"; shift 2 ;;
    --requirements) requirements="$2"; shift 2 ;;
    --with-vllm) with_vllm=1; shift ;;
    --from-dir) offline_from="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build_wheelhouse.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$custom_platforms" ] && platforms="$custom_platforms"
if ! [[ "$piece_mib" =~ ^[0-9]+$ ]] || [ "$piece_mib" -lt 1 ] || [ "$piece_mib" -gt 63 ]; then
  echo "build_wheelhouse.sh: --piece-mib must be 1..63 (one piece plus the working tree must fit a 64 MiB call)" >&2
  exit 2
fi

# requirements-gpu.txt: "BUNDLE NAME==VERSION" lines; '#' starts a comment.
reqs_of() {  # bundle -> its requirements, one a line
  awk -v b="$1" '{sub(/#.*/, "")} NF == 2 && $1 == b {print $2}' "$requirements"
}

platform_args=()
for p in $platforms; do platform_args+=(--platform "$p"); done
platform_args+=(--platform any)

fetch() {  # bundle dest
  local bundle="$1" dest="$2"
  mapfile -t reqs < <(reqs_of "$bundle")
  if [ "${#reqs[@]}" -eq 0 ]; then
    echo "build_wheelhouse.sh: bundle '$bundle' is not in $requirements" >&2
    exit 2
  fi
  mkdir -p "$dest"
  if [ -n "$offline_from" ]; then
    for r in "${reqs[@]}"; do
      local stem="${r%%==*}" version="${r#*==}"
      stem="$(printf '%s' "$stem" | sed 's/[-.]/_/g')"
      local match
      match="$(find "$offline_from" -maxdepth 1 -iname "${stem}-${version}-*.whl" | head -n 1)"
      [ -n "$match" ] || { echo "build_wheelhouse.sh: $r not in $offline_from" >&2; exit 1; }
      cp "$match" "$dest/"
    done
  else
    # One pip call per bundle; --no-deps: nothing but the pinned wheels (no resolver surprises).
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
      --python-version "$python_version" --implementation cp "${platform_args[@]}" \
      -d "$dest" "${reqs[@]}"
  fi
  echo "  $bundle: ${#reqs[@]} wheels, $(du -cb "$dest"/*.whl | tail -n 1 | cut -f1) bytes"
}

mkdir -p "$out"
rm -rf "$out/wheels" "$out/pieces" "$out/payload.tar"
echo "build_wheelhouse.sh: python $python_version, bundles $bundles, pieces of $piece_mib MiB -> $out"
IFS=',' read -r -a bundle_list <<< "$bundles"
for b in "${bundle_list[@]}"; do
  if [ "$b" = "vllm" ]; then
    echo "build_wheelhouse.sh: the vllm bundle cannot be installed on the device image (torch pin); use --with-vllm to measure it" >&2
    exit 2
  fi
  fetch "$b" "$out/wheels/$b"
done
if [ "$with_vllm" = 1 ]; then
  rm -rf "$out/vllm"
  fetch vllm "$out/vllm"
  for w in "$out"/vllm/*.whl; do
    echo "  vllm pins: $(unzip -p "$w" '*.dist-info/METADATA' | grep -E '^Requires-Dist: (torch|torchvision|torchaudio)==' | sed 's/Requires-Dist: //' | tr '\n' ' ')"
  done
fi

# One deterministic tar of all selected wheels, split into pieces.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out/payload.tar" -C "$out/wheels" .
mkdir -p "$out/pieces"
split -b "${piece_mib}M" -d -a 3 "$out/payload.tar" "$out/pieces/payload.tar.part-"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
manifest="$out/manifest.tsv"
{
  printf '# python=%s piece_mib=%s bundles=%s built=%s\n' "$python_version" "$piece_mib" "$bundles" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'kind\tbundle\tpath\tbytes\tsha256\n'
  (cd "$out/wheels" && find . -name '*.whl' | sed 's|^\./||' | sort) | while read -r rel; do
    printf 'wheel\t%s\t%s\t%s\t%s\n' "${rel%%/*}" "$rel" "$(size "$out/wheels/$rel")" "$(sha "$out/wheels/$rel")"
  done
  printf 'payload\t-\tpayload.tar\t%s\t%s\n' "$(size "$out/payload.tar")" "$(sha "$out/payload.tar")"
  for p in "$out"/pieces/payload.tar.part-*; do
    printf 'piece\t-\tpieces/%s\t%s\t%s\n' "$(basename "$p")" "$(size "$p")" "$(sha "$p")"
  done
  if [ "$with_vllm" = 1 ]; then
    for w in "$out"/vllm/*.whl; do
      printf 'measured\tvllm\tvllm/%s\t%s\t%s\n' "$(basename "$w")" "$(size "$w")" "$(sha "$w")"
    done
  fi
} > "$manifest"
rm -f "$out/payload.tar"   # the pieces are what travels; its sha256 is in the manifest

total=$(awk -F'\t' '$1 == "piece" {s += $4} END {print s + 0}' "$manifest")
count=$(awk -F'\t' '$1 == "piece"' "$manifest" | wc -l)
awk -v t="$total" -v n="$count" 'BEGIN {printf "payload: %.1f MiB in %d pieces\n", t / 1048576, n}'
echo "manifest: $manifest; next: python3 scripts/gpu/carry_plan.py --wheelhouse $out"
