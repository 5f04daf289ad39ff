/**
 * The browser build's shared/compute/native/fused.ts (scripts/build-browser.mjs maps one to the other): a page has
 * no native addon, so the native backend is never active there and the training step takes the tfjs ops.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { RowSegment } from './fused.js';

/** Never active in a browser. */
export function nativeFusedAvailable(): boolean {
  return false;
}

/** Unreachable in a browser (callers check `nativeFusedAvailable` first). */
export function nativeSegmentedCrossEntropy(_logits: tf.Tensor2D, _labels: tf.Tensor2D, _segments: readonly RowSegment[]): tf.Scalar {
  throw new Error('the native backend does not exist in a browser');
}

/** Declines: the caller takes tfjs's ops. */
export function nativeSgdMomentumInPlace(_params: readonly tf.Variable[], _grads: readonly tf.Tensor[], _velocity: readonly tf.Tensor[], _lr: number, _mu: number): boolean {
  return false;
}
