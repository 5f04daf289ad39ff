#!/usr/bin/env bash
# Sets up Mesa's lavapipe (a Vulkan driver that runs on the CPU) in a folder, without root, so that the WebGPU
# backend, its fused kernels and test/webgpu.test.ts run on a machine with no GPU. Debian 12's Mesa 22.3 lacks a
# Vulkan feature Dawn requires (shaderUniform*ArrayDynamicIndexing), so Mesa comes from bookworm-backports
# (25.x); on Debian 13 or Ubuntu 24.04 the stock `mesa-vulkan-drivers` would do. Needs Debian's package servers.
# Usage: eval "$(bash bench/gpu/lavapipe.sh [DIR])"   (default DIR /tmp/rfl-lavapipe), then npm test as usual.
set -euo pipefail
dir=$(realpath -m "${1:-/tmp/rfl-lavapipe}")
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs" "$dir/root"
echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$dir/apt/sources.list"
apt=(-o "Dir::Etc::sourcelist=$dir/apt/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache")
if ! ls "$dir"/debs/mesa-vulkan-drivers_*.deb >/dev/null 2>&1; then
  apt-get "${apt[@]}" update >&2
  (cd "$dir/debs" && apt-get "${apt[@]}" download mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 >&2 && apt-get download libvulkan1 >&2)
  for f in "$dir"/debs/*.deb; do dpkg -x "$f" "$dir/root"; done
fi
lib="$dir/root/usr/lib/x86_64-linux-gnu"
cat > "$dir/lvp_icd.json" <<JSON
{ "file_format_version": "1.0.0", "ICD": { "library_path": "$lib/libvulkan_lvp.so", "api_version": "1.3.0" } }
JSON
echo "export LD_LIBRARY_PATH=$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} VK_DRIVER_FILES=$dir/lvp_icd.json"
