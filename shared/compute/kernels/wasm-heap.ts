/**
 * Small helpers for kernels that read and write the wasm backend's heap directly.
 *
 * Why direct heap access: layout shuffles (transposes, padding, zero insertion, flips) written as one JS
 * pass over the heap are several times faster than chaining tfjs-wasm's generic Transpose/Pad kernels, and
 * they let a kernel build exactly the operand XNNPACK needs in a single copy.
 *
 * Invariant every caller must respect: `makeOutput` can grow the wasm memory, which detaches every typed
 * array view taken before it. Allocate all outputs first, then take views (`view`) and never keep a view
 * across another allocation or kernel call.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** A tensor as kernels see it (tfjs's TensorInfo). */
export type TensorInfo = tf.TensorInfo;

/** Float32 view of a tensor's bytes on the wasm heap; valid only until the next allocation. */
export function view(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Allocates an uninitialised float32 tensor on the wasm heap. */
export function alloc(backend: BackendWasm, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

/** Frees an intermediate tensor made inside a kernel (never an input the caller owns). */
export function free(backend: BackendWasm, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}

/** Explicit NHWC padding [[0,0],[top,bottom],[left,right],[0,0]]. */
export type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

/** Runs tfjs-wasm's own forward Conv2D (XNNPACK) on heap tensors, NHWC, stride 1, valid or explicit padding. */
export function xnnConv2d(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, dilations: [number, number], pad: 'valid' | ExplicitPad = 'valid'): TensorInfo {
  const conv = tf.getKernel('Conv2D', 'wasm');
  if (conv === undefined) throw new Error('tfjs-backend-wasm has no Conv2D kernel registered');
  return conv.kernelFunc({
    inputs: { x, filter },
    backend,
    attrs: { strides: [1, 1], pad, dataFormat: 'NHWC', dilations },
  }) as TensorInfo;
}

/** Runs tfjs-wasm's BatchMatMul on heap tensors: [1, M, K] × [1, K, N] → [1, M, N]. */
export function wasmMatMul(backend: BackendWasm, a: TensorInfo, b: TensorInfo): TensorInfo {
  const mm = tf.getKernel('BatchMatMul', 'wasm');
  if (mm === undefined) throw new Error('tfjs-backend-wasm has no BatchMatMul kernel registered');
  return mm.kernelFunc({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
}

/** The sizes of a convolution the kernels index with, in one flat record (from tfjs's Conv2DInfo). */
export interface ConvDims {
  B: number;
  H: number;
  W: number;
  Cin: number;
  Cout: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

/** Flattens tfjs's Conv2DInfo into the short names the kernels' index arithmetic uses. */
export function convDims(info: tf.backend_util.Conv2DInfo): ConvDims {
  return {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    Cin: info.inChannels,
    Cout: info.outChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    KH: info.filterHeight,
    KW: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/**
 * Up to this many input channels both backprop kernels take their GEMM path instead of an XNNPACK convolution:
 * XNNPACK is slow at 1-channel outputs and inputs (measured on cnn-mnist's first layer).
 */
export const SMALL_CIN = 2;
