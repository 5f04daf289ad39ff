/**
 * Loads the project's native CPU kernels (native/, built by `npm run build` through node-gyp) and describes
 * their calls. Every array is a Float32Array the kernel reads or writes in place: for the `native` backend, a
 * view of tfjs-wasm's heap, so nothing is copied. Sizes travel as one Int32Array.
 *
 * Where the build was skipped (no compiler, no Node headers) or failed, `loadNativeAddon` throws an error that
 * says so in one line and the backend picker falls back to wasm.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions (native/src/addon.cc documents each). */
export interface NativeAddon {
  /** The instruction set picked by cpuid at load: `avx512`, `avx2+fma` or `portable`. */
  isa(): string;
  /** Intra-op threads for the calling JavaScript thread's later kernels (1 to 256); returns the previous count. */
  setThreads(n: number): number;
  /** dims: [batchA, batchB, M, N, K, transposeA, transposeB, activation]; y = act(op(a)·op(b) + bias) per batch. */
  matMul(dims: Int32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, alpha: number, y: Float32Array): void;
  /** dims: the 15 convolution sizes (`convDims`) then the activation; y = act(conv(x, filter) + bias). */
  conv2d(dims: Int32Array, x: Float32Array, filter: Float32Array, bias: Float32Array | null, alpha: number, y: Float32Array): void;
  conv2dBackpropInput(dims: Int32Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  conv2dBackpropFilter(dims: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  /** dims: the 12 pooling sizes (`poolDims`). */
  maxPool(dims: Int32Array, x: Float32Array, y: Float32Array): void;
  maxPoolGrad(dims: Int32Array, x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** y = a + b, b broadcast over the rows of a. */
  addRows(a: Float32Array, b: Float32Array, y: Float32Array): void;
  /** y[j] = Σ_r x[r·n + j], n = y.length, summed in doubles. */
  sumRows(x: Float32Array, y: Float32Array): void;
  /** Per row: loss = −Σ t·log softmax(z); grad (optional) = softmax(z)·Σt − t. */
  softmaxCrossEntropy(logits: Float32Array, labels: Float32Array, loss: Float32Array, grad: Float32Array | null): void;
  /** In place: v ← μ·v + g; w ← w − lr·v (μ = 0: w ← w − lr·g, v untouched). */
  sgdMomentum(w: Float32Array, v: Float32Array, g: Float32Array, lr: number, mu: number): void;
  /** Whether this CPU has AES-NI, which `aesCtrMasks` needs. */
  aesCtrAvailable(): boolean;
  /**
   * The secure-aggregation mask PRG (native/src/aes_ctr.cc), for each term in order: target ← target ± PRG(key)
   * mod 2^32 (mode +1 or −1) or target ← PRG(key) (mode 0); `keys` holds 32 bytes a term.
   */
  aesCtrMasks(target: Uint32Array, keys: Uint8Array, modes: Int32Array): void;
}

/** Activation codes shared with native/src/kernels.h `Act`. */
export const NATIVE_ACTIVATIONS = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3 } as const;

/**
 * node-gyp's build folder: RFL_NATIVE_BUILD, else native/build in the repository (this file is
 * dist/shared/compute/native/addon.js once built, four folders below the root).
 */
export function nativeBuildDir(): string {
  const env = process.env['RFL_NATIVE_BUILD'];
  return env !== undefined && env !== '' ? path.resolve(env) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../native/build');
}

let addon: NativeAddon | undefined;

/**
 * The addon, loaded once per thread. Throws one line saying why where it is off (RFL_NATIVE=0) or not built
 * (the reason scripts/build-native.mjs left in skipped.txt).
 */
export function loadNativeAddon(): NativeAddon {
  if (addon !== undefined) return addon;
  if (process.env['RFL_NATIVE'] === '0') throw new Error('native kernels off (RFL_NATIVE=0)');
  const build = nativeBuildDir();
  const file = path.join(build, 'Release', 'rfl_native.node');
  if (!existsSync(file)) {
    const skipped = path.join(build, 'skipped.txt');
    const why = existsSync(skipped) ? readFileSync(skipped, 'utf8').trim() : 'npm run build makes them';
    throw new Error(`native kernels not built (${why})`);
  }
  addon = createRequire(import.meta.url)(file) as NativeAddon;
  return addon;
}
