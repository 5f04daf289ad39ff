#!/usr/bin/env bash
# The GPU-training measurements on the GPU machine (no Node.js, no network), from the repository root, with .gpu-matrix/
# carried (bench/gpu/pack-matrix.sh) and Fashion-MNIST from .gpu-data/ (this call or an earlier one to the same warm
# machine). Writes under $OUT:
#   gradcheck.json              gradients and lockstep training on webgpu against the cpu backend
#   bench-lockstep.json         K clients one after another vs in lockstep (rfl bench lockstep), K = 1, 10, 20
#   round-time.tar.xz           round-time-METHOD-DEVICE/{results.json,rounds.jsonl,scenario.json} of
#                               bench/gpu/round-time.yaml, METHOD fed-bva and eat-fed-bva, clients training on the
#                               GPU (lockstep) or on the 16 CPU cores (one archive: a call brings back few files)
# STEPS (default "gradcheck lockstep rounds") picks parts.
set -euo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT" .gpu
tar xJf .gpu-matrix/app.tar.xz -C .gpu
cp .gpu-matrix/node.xz .gpu/node.xz
. bench/gpu/device-setup.sh
mkdir -p /usr/share/datasets/fashion-mnist
for f in .gpu-data/*.xz; do xz -dc "$f" > "/usr/share/datasets/fashion-mnist/$(basename "$f" .xz)"; done
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/gpu.txt" || true
steps=${STEPS:-gradcheck lockstep rounds}
rfl=".gpu/sim/cli/rfl.js"
for step in $steps; do
  case $step in
    gradcheck) "$node" .gpu/app/test/helpers/gradient-check.mjs webgpu > "$OUT/gradcheck.json" ;;
    lockstep) "$node" "$rfl" bench lockstep --backend webgpu --dataset synthetic --clients 1,10,20 --out "$OUT/bench-lockstep.json" 2>&1 | grep -v '^Warning' ;;
    rounds)
      for method in fed-bva eat-fed-bva; do
        for device in gpu cpu; do
          dir="$OUT/round-time-$method-$device"
          "$node" "$rfl" simulate --config bench/gpu/round-time.yaml --method "$method" --set trainDevice=$device --out "$dir" --no-progress 2>&1 | grep -v '^Warning' | tail -4
        done
      done
      (cd "$OUT" && tar cJf round-time.tar.xz round-time-*/results.json round-time-*/rounds.jsonl round-time-*/scenario.json && rm -rf round-time-*/)
      ;;
  esac
done
