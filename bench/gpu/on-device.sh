#!/usr/bin/env bash
# Runs on a GPU machine without Node.js or network, from the repository root, after bench/gpu/pack.sh filled
# .gpu/ here and .gpu/ was copied there. Sets up the Vulkan loader and node, then runs the GPU measurements and
# writes their output under $OUT (default ./gpu-out): the gradient check, the training step's anatomy at batch 64
# and 1,024 (with tfjs's default submit batching and with one submit per step), and bench:compute with PyTorch.
set -euo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
node=/tmp/rfl-node
[ -x "$node" ] || { xz -dc .gpu/node.xz > "$node"; chmod +x "$node"; }
dawn=.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || xz -dc .gpu/dawn.node.xz > "$dawn"
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/gpu.txt" || true
"$node" .gpu/app/test/helpers/gradient-check.mjs webgpu > "$OUT/gradcheck.json"
for b in 64 1024; do
  "$node" .gpu/app/bench/gpu/step-anatomy.mjs --batch "$b" | tail -1 > "$OUT/step-anatomy-$b.json"
  RFL_WEBGPU_FLAGS='{"WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE":1000}' "$node" .gpu/app/bench/gpu/step-anatomy.mjs --batch "$b" | tail -1 > "$OUT/step-anatomy-$b-one-submit.json"
done
"$node" .gpu/app/bench/compute.mjs --backend webgpu --out "$OUT/bench-compute-gpu.json"
