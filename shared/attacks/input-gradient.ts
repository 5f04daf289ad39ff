/**
 * The input gradient every attack is built on: ∇_x Σ_i CE(f(x_i), y_i), in inference mode, sum-reduced so
 * that each row is that example's own gradient (a mean would rescale it by 1/B).
 *
 * Only the input is differentiated: tfjs's tape prunes every op that is not on the path from x, so no
 * parameter gradient is computed (the model uses plain conv/matmul ops for exactly this reason).
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import type { ForwardOptions } from '../models/layers.js';
import { fusedCrossEntropyAvailable, segmentedCrossEntropy } from '../compute/webgpu/cross-entropy.js';
import { nativeFusedAvailable, nativeSegmentedCrossEntropy } from '../compute/native/fused.js';

/**
 * ∇_x of the summed cross-entropy at x (same shape as x). `fwd` is inference mode by default; the reference
 * profile's EAT and FedAvg_AT crafting pass a training-mode pass with its own dropout seed.
 */
export function lossInputGradient(model: Model, x: tf.Tensor4D, yOneHot: tf.Tensor2D, fwd: ForwardOptions = {}): tf.Tensor4D {
  // On webgpu and native the loss's gradient is one fused kernel instead of about twenty (its value is never read here).
  const all = [{ rows: x.shape[0], weight: 1 }];
  const loss = nativeFusedAvailable()
    ? (logits: tf.Tensor2D): tf.Scalar => nativeSegmentedCrossEntropy(logits, yOneHot, all)
    : fusedCrossEntropyAvailable()
      ? (logits: tf.Tensor2D): tf.Scalar => segmentedCrossEntropy(logits, yOneHot, all, { gradientOnly: true })
      : (logits: tf.Tensor2D): tf.Scalar => tf.losses.softmaxCrossEntropy(yOneHot, logits, undefined, undefined, tf.Reduction.SUM) as tf.Scalar;
  return tf.tidy(() => tf.grad((xx: tf.Tensor) => loss(model.logits(xx as tf.Tensor4D, fwd)))(x)) as tf.Tensor4D;
}
