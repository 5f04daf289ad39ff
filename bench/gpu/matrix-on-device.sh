#!/usr/bin/env bash
# Runs a benchmark matrix on a GPU machine without Node.js or network (the device machine: 16 CPU cores and a GPU),
# from the repository root, after bench/gpu/pack.sh and bench/gpu/pack-matrix.sh filled .gpu-matrix/ here and it was
# carried there.
#   bash bench/gpu/matrix-on-device.sh PRESET_OR_FILE MATRIX_DIR [--set path=value ...]
# SHARDS processes (default 4) each run every SHARDS-th cell with WORKERS worker threads (default 4), so the
# cohort's 10 clients of several cells keep the cores busy; evaluations go to the GPU worker. Each process stops
# after BUDGET_S seconds (default 480). Finished cells (results, not checkpoints, keys or logs) come back as
# $OUT/cells.tar.xz, the logs as $OUT/shard-K.log; unpack with `tar xJf cells.tar.xz -C MATRIX_DIR` and commit.
# A cell stopped between rounds comes back as its checkpoint and records in $OUT/partial.tar.xz: keep it with
# `bash bench/gpu/keep-partial.sh FOLDER` (the call's files) and carry .gpu-partial beside .gpu-matrix next time;
# the cell then continues from its last completed round.
# CELLS_FILE (optional): a priority list of cell ids, one per line (# comments), run in that order and split
# between the shards (benchmark --cells), e.g. bench/gpu/evidence-r30e5-cells.txt.
set -euo pipefail
OUT=${OUT:-gpu-out}
matrix=$1 dir=$2
shift 2
mkdir -p "$OUT" "$dir"
mkdir -p .gpu && tar xJf .gpu-matrix/app.tar.xz -C .gpu
# Cells stopped between rounds by an earlier call (bench/gpu/pack-partial.sh), continued from their checkpoints.
if [ -f .gpu-partial/partial.tar.xz ]; then tar xJf .gpu-partial/partial.tar.xz -C "$dir"; fi
cp .gpu-matrix/node.xz .gpu/node.xz
. bench/gpu/device-setup.sh
# The default Fashion-MNIST directory, as Debian's dataset-fashion-mnist lays it out: from .gpu-data/, carried by
# this call or by an earlier call to the same warm machine (pack-matrix.sh), or from an older .gpu-matrix/data/.
mkdir -p /usr/share/datasets/fashion-mnist
datadir=.gpu-data
[ -d "$datadir" ] || datadir=.gpu-matrix/data
[ -d "$datadir" ] || { echo "no Fashion-MNIST here: carry .gpu-data in this call or an earlier one to this machine" >&2; exit 1; }
for f in "$datadir"/*.xz; do xz -dc "$f" > "/usr/share/datasets/fashion-mnist/$(basename "$f" .xz)"; done
shards=${SHARDS:-4} workers=${WORKERS:-4} budget=${BUDGET_S:-480}
# Clients train on the CPU threads unless asked otherwise (RFL_TRAIN_DEVICE=auto: the cells lockstep training covers
# train on the GPU), so a matrix's cells all train where its committed cells did.
export RFL_TRAIN_DEVICE=${RFL_TRAIN_DEVICE:-cpu}
start=$SECONDS
# Only the listed cells not finished yet are split between the shards, so each call's shards get equal shares of
# what is left (all shards start together and see the same finished set, so no cell runs twice).
if [ -n "${CELLS_FILE:-}" ]; then
  pending=$(grep -v '^#' "$CELLS_FILE" | grep -v '^$' | while read -r id; do [ -f "$dir/cells/$id/results.json" ] || echo "$id"; done | paste -sd, -)
  [ -n "$pending" ] || { echo "every listed cell is finished"; exit 0; }
  set -- "$@" --cells "$pending"
fi
pids=()
for ((k = 0; k < shards; k++)); do
  timeout --signal=TERM "$budget" "$node" .gpu/sim/cli/rfl.js benchmark --config "$matrix" --out "$dir" --shard "$k/$shards" --workers "$workers" "$@" > "$OUT/shard-$k.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
# Only finished cells travel back (an interrupted one has no results.json).
(cd "$dir" && find cells -name results.json -printf '%h\n' | sort > /tmp/finished.txt && tar cJf "$OUT/cells.tar.xz" matrix.json $(sed 's|$|/cell.json|' /tmp/finished.txt) $(sed 's|$|/results.json|' /tmp/finished.txt) $(sed 's|$|/rounds.jsonl|' /tmp/finished.txt) $(sed 's|$|/metrics.jsonl|' /tmp/finished.txt) $(sed 's|$|/scenario.json|' /tmp/finished.txt))
echo "finished cells: $(wc -l < /tmp/finished.txt); shards ran $((SECONDS - start)) s (training on: $RFL_TRAIN_DEVICE)"
# Cells stopped between rounds: what resuming needs (simulations/engine.ts resumableRun), not their logs.
(cd "$dir" && find cells -name checkpoint.bin -printf '%h\n' | sort | while read -r d; do [ -f "$d/results.json" ] || echo "$d"; done > /tmp/partial.txt)
if [ -s /tmp/partial.txt ]; then
  (cd "$dir" && tar cJf "$OUT/partial.tar.xz" $(while read -r d; do for f in "$d"/*; do case "$f" in */simulation.log) ;; *) echo "$f" ;; esac; done; done < /tmp/partial.txt))
fi
echo "cells stopped between rounds (in partial.tar.xz): $(wc -l < /tmp/partial.txt)"
