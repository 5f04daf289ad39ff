/**
 * The training step's two fused operations on the `native` backend, the counterparts of the WebGPU ones
 * (shared/compute/webgpu/cross-entropy.ts, sgd.ts): the segmented cross-entropy as one native call forward
 * (loss and gradient together) instead of some fifteen tfjs kernels each way, and the momentum update in
 * place, one call per parameter instead of four kernels and three allocations.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { loadNativeAddon } from './addon.js';
import { NATIVE_BACKEND } from './kernels.js';

/** One block of rows of the loss and its weight (shared/compute/webgpu/cross-entropy.ts `LossSegment`). */
export interface RowSegment {
  rows: number;
  weight: number;
}

function nativeBackend(): BackendWasm | undefined {
  return tf.getBackend() === NATIVE_BACKEND ? (tf.backend() as unknown as BackendWasm) : undefined;
}

/** True when the active backend is `native`. */
export function nativeFusedAvailable(): boolean {
  return nativeBackend() !== undefined;
}

/**
 * Σ_k w_k · Σ_{rows r of segment k} CE(softmax(z_r), y_r), differentiable with respect to the logits (not the
 * labels). The forward call computes each row's loss and its gradient softmax(z_r)·Σy_r − y_r (in doubles); the
 * backward pass scales the kept gradient by dy·w_k.
 */
export function nativeSegmentedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor2D, segments: readonly RowSegment[]): tf.Scalar {
  const backend = nativeBackend();
  if (backend === undefined) throw new Error('nativeSegmentedCrossEntropy needs the native backend');
  const [rows, classes] = logits.shape;
  if (labels.shape[0] !== rows || labels.shape[1] !== classes) throw new Error(`segmented cross-entropy: labels ${labels.shape.join(',')} do not match logits ${logits.shape.join(',')}`);
  const weights = new Float64Array(rows);
  let r = 0;
  for (const s of segments) for (let i = 0; i < s.rows; i++) weights[r++] = s.weight;
  if (r !== rows) throw new Error(`segmented cross-entropy: segments cover ${r} rows, logits have ${rows}`);
  const addon = loadNativeAddon();
  const op = tf.customGrad(((z: tf.Tensor, y: tf.Tensor) => {
    const loss = new Float32Array(rows);
    const grad = new Float32Array(rows * classes);
    addon.softmaxCrossEntropy(backend.typedArrayFromHeap(z) as Float32Array, backend.typedArrayFromHeap(y) as Float32Array, loss, grad);
    let value = 0;
    for (let i = 0; i < rows; i++) value += weights[i]! * loss[i]!;
    return {
      value: tf.scalar(value),
      gradFunc: (dy: tf.Tensor) => {
        const scale = (backend.typedArrayFromHeap(dy) as Float32Array)[0]!;
        for (let i = 0; i < rows; i++) {
          const f = scale * weights[i]!;
          for (let j = 0; j < classes; j++) grad[i * classes + j]! *= f;
        }
        // The labels are data: no gradient; a placeholder scalar stands in (as in the WebGPU kernel).
        return [tf.tensor2d(grad, [rows, classes]), tf.scalar(0)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (z: tf.Tensor, y: tf.Tensor) => tf.Scalar;
  return op(logits, labels);
}

/** How often `nativeSgdMomentumInPlace` ran and declined (a shared buffer) since the process started. */
export const nativeSgdStats = { applied: 0, declined: 0 };

/**
 * The momentum step on every parameter, in place on the heap. Returns false, having changed nothing, unless the
 * backend is native and every weight and momentum buffer is owned by its tensor alone (writing a shared buffer
 * would change the other tensor too); the caller then takes tfjs's ops. In place is safe here because native's
 * own product and convolution kernels cache nothing about their weights (XNNPACK's stock ones would).
 */
export function nativeSgdMomentumInPlace(params: readonly tf.Variable[], grads: readonly tf.Tensor[], velocity: readonly tf.Tensor[], lr: number, mu: number): boolean {
  const backend = nativeBackend();
  if (backend === undefined) return false;
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    const v = velocity[i]!;
    if (grads[i]!.size !== p.size || v.size !== p.size) throw new Error(`sgdMomentumInPlace: parameter ${i} has ${p.size} values, gradient ${grads[i]!.size}, momentum ${v.size}`);
    if (p.dtype !== 'float32' || backend.refCount(p.dataId) !== 1 || backend.refCount(v.dataId) !== 1) {
      nativeSgdStats.declined++;
      return false;
    }
  }
  nativeSgdStats.applied++;
  const addon = loadNativeAddon();
  for (let i = 0; i < params.length; i++) {
    const view = (t: tf.Tensor): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
    addon.sgdMomentum(view(params[i]!), view(velocity[i]!), view(grads[i]!), lr, mu);
  }
  return true;
}
