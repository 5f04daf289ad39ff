#!/usr/bin/env bash
# Runs on a GPU machine without Node.js or network, from the repository root, after bench/gpu/pack.sh filled
# .gpu/ here and .gpu/ was copied there. Sets up the Vulkan loader and node, then runs the GPU measurements and
# writes their output under $OUT (default ./gpu-out):
#   gradcheck.json                 whole-model gradients and three training steps against the cpu backend
#   step-anatomy-{64,1024}.json    dispatches per training step, host time to record it, whole step
#   bench-compute-gpu-{1,2,3}.json bench:compute three times (with PyTorch CUDA where importable)
#   bench-eval-gpu.json            full robustness evaluation of 10,000 Fashion-MNIST test images (strong PGD)
#   gpu-sim-check.json             a small simulation whose evaluations run in the GPU worker
# With RFL_GPU_QUICK=1 it stops after bench:compute.
set -euo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
. bench/gpu/device-setup.sh
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/gpu.txt" || true
"$node" .gpu/app/test/helpers/gradient-check.mjs webgpu > "$OUT/gradcheck.json"
for b in 64 1024; do "$node" .gpu/app/bench/gpu/step-anatomy.mjs --batch "$b" | tail -1 > "$OUT/step-anatomy-$b.json"; done
for r in 1 2 3; do "$node" .gpu/sim/cli/rfl.js bench compute --backend webgpu --out "$OUT/bench-compute-gpu-$r.json"; done
[ "${RFL_GPU_QUICK:-}" = 1 ] && exit 0
"$node" .gpu/sim/cli/rfl.js bench eval --data .gpu/data --weights .gpu/data/cnn-fashion.f32 --out "$OUT/bench-eval-gpu.json"
"$node" .gpu/sim/simulations/pool/gpu-check.js | tail -1 > "$OUT/gpu-sim-check.json"
