#!/usr/bin/env bash
# After a device call of bench/gpu/matrix-on-device.sh: keeps the cells it stopped between rounds (its
# partial.tar.xz: checkpoints and records) in .gpu-partial/ (git-ignored) for the next call, which carries
# .gpu-partial beside .gpu-matrix and continues those cells from their last completed round. They stay out of the
# matrix directory here, so nothing half-done is ever committed or read by a report.
#   bash bench/gpu/keep-partial.sh FOLDER_OF_THE_CALLS_FILES
set -euo pipefail
from=$(find "$1" -name partial.tar.xz | head -1)
rm -rf .gpu-partial && mkdir -p .gpu-partial
if [ -z "$from" ]; then echo "no cell stopped between rounds: .gpu-partial is empty"; exit 0; fi
cp "$from" .gpu-partial/partial.tar.xz
echo "kept $(tar tJf .gpu-partial/partial.tar.xz | grep -c checkpoint.bin) cell(s) stopped between rounds in .gpu-partial ($(du -h .gpu-partial/partial.tar.xz | cut -f1))"
