#!/usr/bin/env bash
# Packs what a GPU machine without Node.js or network needs into .gpu/ (git-ignored; carried to the machine):
# an xz copy of this machine's node binary, the GPU scripts bundled with esbuild (ESM, one shared chunk),
# webgpu's dawn.node with its index.js, the Debian Vulkan loader and GL dispatch debs, Fashion-MNIST's test
# set and trained cnn-mnist weights (made here by bench:eval). Run from the repository root after `npm run build`.
set -euo pipefail
# CommonJS names some bundled packages still use (tfjs's wasm loader reads __dirname).
banner="import { createRequire as __cr } from 'module'; import { fileURLToPath as __fu } from 'url'; import { dirname as __dn } from 'path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);"
out=.gpu
rm -rf "$out/app" "$out/sim" "$out/node_modules" && mkdir -p "$out/app" "$out/node_modules/webgpu/dist/linux-x64" "$out/node_modules/@tensorflow/tfjs-backend-wasm/dist" "$out/debs" "$out/data"
# node without its symbol tables (strip: about 12 MB less), xz -9e: 22 MB instead of 24 MB in every device call.
if [ ! -f "$out/node.xz" ]; then
  cp "$(readlink -f "$(command -v node)")" "$out/node.bin" && { strip --strip-all "$out/node.bin" 2>/dev/null || true; }
  xz -T2 -9e -c "$out/node.bin" > "$out/node.xz" && rm "$out/node.bin"
fi
npx esbuild dist/bench/gpu/profile-kernels.js dist/bench/gpu/step-anatomy.js dist/bench/gpu/dispatch-costs.js dist/bench/gpu/submit-batching.js dist/bench/gpu/worker-check.js dist/test/helpers/gradient-check.js \
  --bundle --platform=node --format=esm --splitting --outdir="$out/app" --out-extension:.js=.mjs \
  --main-fields=module,main --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --banner:js="$banner" --log-level=warning
# The simulation check bundles without splitting, keeping dist's layout, so the pool finds ./worker.js.
echo '{"type":"module"}' > "$out/app/package.json"
npx esbuild dist/simulations/pool/gpu-check.js dist/simulations/pool/worker.js --bundle --platform=node --format=esm --minify-whitespace --minify-syntax \
  --outbase=dist --outdir="$out/sim" --main-fields=module,main --external:webgpu --external:piscina --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --banner:js="$banner" --log-level=warning
# rfl, every subcommand in one file (the matrix runner, the central baseline, bench compute and eval), beside a
# copy of the pool's worker. Run there as `$node .gpu/sim/cli/rfl.js <command> …`.
# The report's chart libraries (vega, vega-lite) stay out: reports are built here, from the cells that come
# back, and leaving them out keeps what a device call carries under its 64 MiB. Whitespace and syntax are
# minified (identifiers are kept: error names are part of the output).
npx esbuild dist/cli/rfl.js --bundle --platform=node --format=esm --minify-whitespace --minify-syntax \
  --outbase=dist --outdir="$out/sim" --main-fields=module,main --external:webgpu --external:piscina --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --external:vega --external:vega-lite --banner:js="$banner" --log-level=warning
cp "$out/sim/simulations/pool/worker.js" "$out/sim/cli/worker.js"
# run.ts reads the version from ../../../package.json of its own directory.
cp package.json "$out/package.json"
echo '{"type":"module"}' > "$out/sim/package.json"
# Shared by both bundles (resolved upwards from .gpu/app and .gpu/sim): Dawn, the wasm backend's binaries, and
# piscina (unbundled: it starts its own worker script from its own directory).
cp -r node_modules/piscina "$out/node_modules/"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$out/node_modules/webgpu/"
cp node_modules/@tensorflow/tfjs-backend-wasm/package.json "$out/node_modules/@tensorflow/tfjs-backend-wasm/"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$out/node_modules/@tensorflow/tfjs-backend-wasm/dist/"
[ -f "$out/dawn.node.xz" ] || xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$out/dawn.node.xz"
if ! ls "$out"/debs/*.deb >/dev/null 2>&1; then
  (cd "$out/debs" && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2)
fi
cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$out/data/"
# The project's native CPU kernels (npm run build; shared/compute/native/addon.ts): the device's CPU workers train
# on them (device-setup.sh points RFL_NATIVE_BUILD here); absent where this machine could not build them, and the
# picker then falls back to wasm there as here.
rm -rf "$out/native" && if [ -f native/build/Release/rfl_native.node ]; then mkdir -p "$out/native/build/Release" && cp native/build/Release/rfl_native.node "$out/native/build/Release/"; fi
# bench compute looks for ../../bench/torch_compute.py from .gpu/sim/cli/.
mkdir -p "$out/bench" && cp bench/torch_compute.py "$out/bench/"
[ -f "$out/data/cnn-fashion.f32" ] || node dist/cli/rfl.js bench eval --train-epochs 2 --save-weights "$out/data/cnn-fashion.f32" --attacks clean --count 1000 --workers 1 --out /tmp/rfl-train-weights.json
du -sh "$out"
