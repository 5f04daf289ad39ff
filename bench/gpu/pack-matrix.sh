#!/usr/bin/env bash
# Packs what a benchmark matrix needs on the device machine (no Node.js, no network) into .gpu-matrix/ (git-ignored,
# carried), small enough for the 64 MiB a device call may carry: node (xz), rfl and the pool worker bundled
# by bench/gpu/pack.sh, Dawn and the Vulkan debs, and Fashion-MNIST's four
# IDX files recompressed with xz. Run after `npm run build` and `bash bench/gpu/pack.sh`.
set -euo pipefail
src=.gpu out=.gpu-matrix
[ -f "$src/sim/cli/rfl.js" ] || { echo "run bench/gpu/pack.sh first" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out/data"
cp "$src/node.xz" "$out/"
tar cJf "$out/app.tar.xz" -C "$src" sim/cli/rfl.js sim/cli/worker.js sim/package.json package.json node_modules debs dawn.node.xz
for f in /usr/share/datasets/fashion-mnist/*-ubyte.gz; do
  zcat "$f" | xz -T2 -9 -c > "$out/data/$(basename "$f" .gz).xz"
done
du -sh "$out"
