/**
 * The `native` tfjs backend: tfjs-wasm's backend and memory, with the heavy kernels (convolutions and their
 * gradients, matrix products, max-pooling and its gradient, bias adds and bias gradients, and Identity) replaced by the
 * project's C++ kernels (native/). Each native kernel receives views of the wasm heap and writes its output
 * there, so tensors never leave the heap and every other operation (elementwise, reductions, random numbers)
 * stays XNNPACK's. Cases the native kernels do not cover (NCHW, other activations, general broadcasting) call
 * the stock wasm kernel.
 *
 * Why this design rather than a backend of its own: a full tfjs backend has some 150 kernels; the training
 * step, FGSM/PGD, the Decent_BVA statistics and inference spend over 90 % of their time in the ten replaced
 * here (measured with tf.profile on cnn-mnist), and the wasm heap is plain memory the addon can address.
 *
 * Registration: the wasm backend's instance is registered a second time under the name `native`, with a copy
 * of every wasm kernel for that name and the native ones on top. Both names share one instance and one heap,
 * so tensors need no move between them, and tests can compare `native` with `wasm` and `cpu` in one process.
 */
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { loadNativeAddon, NATIVE_ACTIVATIONS, type NativeAddon } from './addon.js';

/** The backend name tfjs knows the native kernels by. */
export const NATIVE_BACKEND = 'native';

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap };

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** tfjs's Conv2DInfo as the 15 sizes the addon indexes with. */
function convDims(info: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  );
}

function poolDims(info: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  );
}

function view(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** An activation the addon applies itself, or undefined (then the stock kernel runs). */
function nativeActivation(name: unknown): number | undefined {
  if (name === undefined || name === null || name === 'linear') return NATIVE_ACTIVATIONS.linear;
  if (name === 'relu' || name === 'relu6' || name === 'leakyrelu') return NATIVE_ACTIVATIONS[name];
  return undefined;
}

/** A bias the addon can add: float32 with exactly one value per output channel. */
function channelBias(bias: TensorInfo | undefined, channels: number): boolean {
  return bias === undefined || (bias.dtype === 'float32' && size(bias.shape) === channels && bias.shape[bias.shape.length - 1] === channels);
}

/** Builds every native kernel config; `stock(name)` is the wasm kernel a case falls back to. */
function nativeKernels(addon: NativeAddon, stock: (name: string) => tf.KernelFunc): tf.KernelConfig[] {
  const fallback = (name: string, args: KernelArgs): TensorInfo | TensorInfo[] => stock(name)(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo | TensorInfo[];

  function conv(name: string, args: KernelArgs, fused: boolean): TensorInfo | TensorInfo[] {
    const { backend } = args;
    const x = args.inputs['x'] as TensorInfo;
    const filter = args.inputs['filter'] as TensorInfo;
    const bias = args.inputs['bias'] as TensorInfo | undefined;
    const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
    const act = fused ? nativeActivation(attrs.activation) : NATIVE_ACTIVATIONS.linear;
    if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || filter.dtype !== 'float32' || act === undefined || args.inputs['preluActivationWeights'] !== undefined) {
      return fallback(name, args);
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    if (!channelBias(bias, info.outChannels)) return fallback(name, args);
    const out = backend.makeOutput(info.outShape, 'float32');
    if (size(info.outShape) === 0) return out;
    const dims = new Int32Array(16);
    dims.set(convDims(info));
    dims[15] = act;
    addon.conv2d(dims, view(backend, x), view(backend, filter), bias !== undefined ? view(backend, bias) : null, attrs.leakyreluAlpha ?? 0.2, view(backend, out));
    return out;
  }

  function matMul(name: string, args: KernelArgs, fused: boolean): TensorInfo | TensorInfo[] {
    const { backend } = args;
    const a = args.inputs['a'] as TensorInfo;
    const b = args.inputs['b'] as TensorInfo;
    const bias = args.inputs['bias'] as TensorInfo | undefined;
    const attrs = args.attrs as unknown as tf._FusedMatMulAttrs;
    const act = fused ? nativeActivation(attrs.activation) : NATIVE_ACTIVATIONS.linear;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || act === undefined || args.inputs['preluActivationWeights'] !== undefined || a.shape.length < 2 || b.shape.length < 2) {
      return fallback(name, args);
    }
    const ra = a.shape.length;
    const rb = b.shape.length;
    const M = attrs.transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const K = attrs.transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const K2 = attrs.transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const N = attrs.transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    // Same batch on both sides, or one side unbatched; anything else (general broadcasting) is the stock kernel's.
    if (K !== K2 || (batchA !== batchB && batchA !== 1 && batchB !== 1) || !channelBias(bias, N)) return fallback(name, args);
    const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (size(outer) !== Math.max(batchA, batchB)) return fallback(name, args);
    const out = backend.makeOutput([...outer, M, N], 'float32');
    if (M * N * Math.max(batchA, batchB) === 0) return out;
    const dims = Int32Array.of(batchA, batchB, M, N, K, attrs.transposeA ? 1 : 0, attrs.transposeB ? 1 : 0, act);
    addon.matMul(dims, view(backend, a), view(backend, b), bias !== undefined ? view(backend, bias) : null, attrs.leakyreluAlpha ?? 0.2, view(backend, out));
    return out;
  }

  const kernel = (kernelName: string, f: (args: KernelArgs) => TensorInfo | TensorInfo[]): tf.KernelConfig => ({
    kernelName,
    backendName: NATIVE_BACKEND,
    kernelFunc: f as unknown as tf.KernelFunc,
  });

  return [
    kernel(tf.Conv2D, (args) => conv(tf.Conv2D, args, false)),
    kernel(tf.FusedConv2D, (args) => conv(tf.FusedConv2D, args, true)),
    kernel(tf.BatchMatMul, (args) => matMul(tf.BatchMatMul, args, false)),
    kernel(tf._FusedMatMul, (args) => matMul(tf._FusedMatMul, args, true)),
    kernel(tf.Conv2DBackpropInput, (args) => {
      const { backend } = args;
      const dy = args.inputs['dy'] as TensorInfo;
      const filter = args.inputs['filter'] as TensorInfo;
      const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
      if (attrs.dataFormat === 'NCHW' || dy.dtype !== 'float32' || filter.dtype !== 'float32') return fallback(tf.Conv2DBackpropInput, args);
      const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      const out = backend.makeOutput(attrs.inputShape, 'float32');
      if (size(attrs.inputShape) === 0) return out;
      addon.conv2dBackpropInput(convDims(info), view(backend, dy), view(backend, filter), view(backend, out));
      return out;
    }),
    kernel(tf.Conv2DBackpropFilter, (args) => {
      const { backend } = args;
      const x = args.inputs['x'] as TensorInfo;
      const dy = args.inputs['dy'] as TensorInfo;
      const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || dy.dtype !== 'float32') return fallback(tf.Conv2DBackpropFilter, args);
      const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      const out = backend.makeOutput(attrs.filterShape, 'float32');
      if (size(attrs.filterShape) === 0) return out;
      addon.conv2dBackpropFilter(convDims(info), view(backend, x), view(backend, dy), view(backend, out));
      return out;
    }),
    kernel(tf.MaxPool, (args) => {
      const { backend } = args;
      const x = args.inputs['x'] as TensorInfo;
      const attrs = args.attrs as unknown as tf.MaxPoolAttrs;
      if (x.dtype !== 'float32') return fallback(tf.MaxPool, args);
      const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      const out = backend.makeOutput(info.outShape, 'float32');
      if (size(info.outShape) === 0) return out;
      addon.maxPool(poolDims(info), view(backend, x), view(backend, out));
      return out;
    }),
    kernel(tf.MaxPoolGrad, (args) => {
      const { backend } = args;
      const dy = args.inputs['dy'] as TensorInfo;
      const input = args.inputs['input'] as TensorInfo;
      const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
      if (input.dtype !== 'float32' || dy.dtype !== 'float32') return fallback(tf.MaxPoolGrad, args);
      const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      const out = backend.makeOutput(input.shape, 'float32');
      if (size(input.shape) === 0) return out;
      addon.maxPoolGrad(poolDims(info), view(backend, input), view(backend, dy), view(backend, out));
      return out;
    }),
    // A bias add, [..., C] + [C] (either order): XNNPACK's broadcasting add is several times slower on it.
    kernel(tf.Add, (args) => {
      const { backend } = args;
      let a = args.inputs['a'] as TensorInfo;
      let b = args.inputs['b'] as TensorInfo;
      if (b.shape.length > a.shape.length) [a, b] = [b, a];
      const c = a.shape[a.shape.length - 1];
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || b.shape.length !== 1 || c !== b.shape[0] || a.shape.length < 2 || size(a.shape) === 0) return fallback(tf.Add, args);
      const out = backend.makeOutput(a.shape, 'float32');
      addon.addRows(view(backend, a), view(backend, b), view(backend, out));
      return out;
    }),
    // Identity shares the input's memory (as the cpu backend does) where stock wasm copies it: gradients pass
    // many tensors through unchanged.
    kernel(tf.Identity, (args) => {
      const x = args.inputs['x'] as TensorInfo;
      if (x.dtype === 'string') return fallback(tf.Identity, args);
      args.backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }),
    // The bias gradient: a sum over every axis but the last.
    kernel(tf.Sum, (args) => {
      const { backend } = args;
      const x = args.inputs['x'] as TensorInfo;
      const attrs = args.attrs as unknown as tf.SumAttrs;
      const r = x.shape.length;
      const axes = tf.util.parseAxisParam(attrs.axis, x.shape);
      const leading = r >= 2 && axes.length === r - 1 && [...axes].sort((p, q) => p - q).every((v, i) => v === i);
      if (x.dtype !== 'float32' || !leading || size(x.shape) === 0) return fallback(tf.Sum, args);
      const c = x.shape[r - 1]!;
      const out = backend.makeOutput(attrs.keepDims ? [...new Array<number>(r - 1).fill(1), c] : [c], 'float32');
      addon.sumRows(view(backend, x), view(backend, out));
      return out;
    }),
  ];
}

let registered: Promise<string> | undefined;

/**
 * Registers the `native` backend over tfjs-wasm (initialising wasm if needed) and returns the instruction set
 * the addon picked. Throws, registering nothing, where the addon is not built or does not load.
 */
export function registerNativeBackend(initWasm: () => Promise<void>): Promise<string> {
  registered ??= (async () => {
    const addon = loadNativeAddon();
    await initWasm();
    const instance = tf.findBackend('wasm');
    if (instance === null) throw new Error('tfjs-backend-wasm did not initialise');
    const natives = nativeKernels(addon, (name) => {
      const k = tf.getKernel(name, 'wasm');
      if (k === undefined) throw new Error(`tfjs-backend-wasm has no ${name} kernel to fall back to`);
      return k.kernelFunc;
    });
    const replaced = new Set(natives.map((k) => k.kernelName));
    for (const k of tf.getKernelsForBackend('wasm')) {
      if (!replaced.has(k.kernelName) && tf.getKernel(k.kernelName, NATIVE_BACKEND) === undefined) tf.registerKernel({ ...k, backendName: NATIVE_BACKEND });
    }
    for (const k of natives) {
      if (tf.getKernel(k.kernelName, NATIVE_BACKEND) !== undefined) tf.unregisterKernel(k.kernelName, NATIVE_BACKEND);
      tf.registerKernel(k);
    }
    tf.registerBackend(NATIVE_BACKEND, () => instance);
    // Intra-op threads for the main thread only (a coordinator generating Decent_BVA's set alone); worker
    // threads keep one compute thread each, so a pool of N workers uses N cores.
    const threads = process.env['RFL_NATIVE_THREADS'];
    if (isMainThread && threads !== undefined && threads !== '') {
      const n = Number(threads);
      if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`RFL_NATIVE_THREADS=${threads}: expected an integer from 1 to 256`);
      addon.setThreads(n);
    }
    return addon.isa();
  })();
  registered.catch(() => (registered = undefined));
  return registered;
}
