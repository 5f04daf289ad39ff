#!/usr/bin/env bash
# Packs what a benchmark matrix needs on the device machine (no Node.js, no network), in two git-ignored folders
# so that each device call stays under the 64 MiB it may carry with the working tree: .gpu-matrix/ (node (xz),
# rfl and the pool worker bundled by bench/gpu/pack.sh, Dawn and the Vulkan debs: about 28 MB) and .gpu-data/
# (Fashion-MNIST's four IDX files recompressed with xz: about 26 MB). The first call of a session carries
# .gpu-data alone (command `true`); the machine keeps ignored folders while warm, so the next call carries
# .gpu-matrix (and .gpu-partial) and finds the data in place (docs/gpu.md). Run after `npm run build` and
# `bash bench/gpu/pack.sh`.
set -euo pipefail
src=.gpu out=.gpu-matrix data=.gpu-data
[ -f "$src/sim/cli/rfl.js" ] || { echo "run bench/gpu/pack.sh first" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
cp "$src/node.xz" "$out/"
XZ_OPT=-9e tar cJf "$out/app.tar.xz" -C "$src" sim/cli/rfl.js sim/cli/worker.js sim/package.json package.json app node_modules debs dawn.node.xz $(cd "$src" && ls -d native 2>/dev/null)
if [ ! -d "$data" ]; then
  mkdir -p "$data"
  for f in /usr/share/datasets/fashion-mnist/*-ubyte.gz; do
    zcat "$f" | xz -T2 -9e -c > "$data/$(basename "$f" .gz).xz"
  done
fi
du -sh "$out" "$data"
