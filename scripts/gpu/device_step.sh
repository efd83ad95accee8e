#!/usr/bin/env bash
# Runs ON the device machine, inside the commands that scripts/gpu/carry_plan.py prints.
#
#   bash scripts/gpu/device_step.sh stash      move carried pieces (and manifest) out of the repo into
#                                              $DELTA_GPU_HOME, checking each piece's sha256
#   bash scripts/gpu/device_step.sh install    all pieces there? cat them, check payload.tar's sha256,
#                                              untar, check every wheel's sha256, then
#                                              pip install --no-index --no-deps --target $DELTA_GPU_HOME/site
#   bash scripts/gpu/device_step.sh pack DIR   tar DIR into $OUT/gpu_results.tgz (one file comes back)
#
# Carried folders land in the repository as $DELTA_WHEELHOUSE/batches/callN (default wheelhouse
# .gpu_wheelhouse; pieces directly under $DELTA_WHEELHOUSE/pieces are taken too); stash moves them
# to $DELTA_GPU_HOME (default /root/delta_gpu), outside the repository, where they stay while the machine
# is warm. After install: export PYTHONPATH=$DELTA_GPU_HOME/site:$PWD (run_grokking.sh does it).
# `install --no-pip` stops after the checks (tests run it on CPU).
set -euo pipefail

home="${DELTA_GPU_HOME:-/root/delta_gpu}"
wh="${DELTA_WHEELHOUSE:-.gpu_wheelhouse}"
python="${PYTHON:-python3}"
step="${1:-}"
shift || true

die() { echo "device_step: $*" >&2; exit 1; }
want_sha() {  # manifest kind path -> sha256
  awk -F'\t' -v k="$2" -v p="$3" '$1 == k && $3 == p {print $5}' "$1"
}
pieces_in() { awk -F'\t' '$1 == "piece" {print $3}' "$1"; }

case "$step" in
  stash)
    mkdir -p "$home/pieces"
    shopt -s nullglob
    for m in "$wh"/manifest.tsv "$wh"/batches/*/manifest.tsv; do
      [ -f "$m" ] || continue
      cat "$m" > "$home/manifest.tsv.new" && mv -f "$home/manifest.tsv.new" "$home/manifest.tsv" && rm -f "$m"
    done
    [ -f "$home/manifest.tsv" ] || die "no manifest: the first call carries it ($wh/batches/call1)"
    for p in "$wh"/pieces/payload.tar.part-* "$wh"/batches/*/payload.tar.part-*; do
      rel="pieces/$(basename "$p")"
      want="$(want_sha "$home/manifest.tsv" piece "$rel")"
      [ -n "$want" ] || die "$rel is not in the manifest (a piece of another build?)"
      got="$(sha256sum "$p" | cut -d' ' -f1)"
      [ "$got" = "$want" ] || die "$rel: sha256 $got, manifest says $want (carry it again)"
      mv -f "$p" "$home/$rel"
    done
    have=0; total=0; missing=""
    while read -r rel; do
      total=$((total + 1))
      if [ -f "$home/$rel" ]; then have=$((have + 1)); else missing="$missing $(basename "$rel")"; fi
    done < <(pieces_in "$home/manifest.tsv")
    echo "stash: $have/$total pieces in $home${missing:+ ($(echo $missing | wc -w) still to carry)}"
    ;;
  install)
    no_pip=0
    [ "${1:-}" = "--no-pip" ] && no_pip=1
    manifest="$home/manifest.tsv"
    [ -f "$manifest" ] || die "no manifest in $home: run the carry calls first"
    mapfile -t rels < <(pieces_in "$manifest")
    for rel in "${rels[@]}"; do
      [ -f "$home/$rel" ] || die "missing $rel: a carry call was skipped, or the machine was restarted (start over)"
    done
    for rel in "${rels[@]}"; do cat "$home/$rel"; done > "$home/payload.tar"
    got="$(sha256sum "$home/payload.tar" | cut -d' ' -f1)"
    [ "$got" = "$(want_sha "$manifest" payload payload.tar)" ] || die "payload.tar sha256 mismatch after reassembly"
    rm -rf "$home/wheels"; mkdir -p "$home/wheels"
    tar -xf "$home/payload.tar" -C "$home/wheels"
    rm -f "$home/payload.tar"
    n=0
    while IFS=$'\t' read -r kind _ rel _ sha; do
      [ "$kind" = wheel ] || continue
      [ "$(sha256sum "$home/wheels/$rel" | cut -d' ' -f1)" = "$sha" ] || die "wheel $rel: sha256 mismatch"
      n=$((n + 1))
    done < "$manifest"
    echo "install: payload and $n wheels verified (sha256)"
    if [ "$no_pip" = 0 ]; then
      # --no-deps: the image provides the rest (requirements-gpu.txt names what it lacks).
      "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$home/site" "$home"/wheels/*/*.whl
      echo "install: $n wheels -> $home/site; export PYTHONPATH=$home/site:\$PWD"
    fi
    ;;
  pack)
    src="${1:?pack needs the results folder}"
    [ -n "${OUT:-}" ] || die "OUT is not set (only the device tool sets it)"
    tar -czf "$OUT/gpu_results.tgz" -C "$(dirname "$src")" "$(basename "$src")"
    echo "pack: $src -> \$OUT/gpu_results.tgz ($(stat -c %s "$OUT/gpu_results.tgz") bytes)"
    ;;
  *)
    sed -n '2,14p' "${BASH_SOURCE[0]}"
    exit 2
    ;;
esac
