/**
 * The input gradient every attack is built on: ∇_x Σ_i CE(f(x_i), y_i), in inference mode, sum-reduced so
 * that each row is that example's own gradient (a mean would rescale it by 1/B).
 *
 * Only the input is differentiated: tfjs's tape prunes every op that is not on the path from x, so no
 * parameter gradient is computed (the model uses plain conv/matmul ops for exactly this reason).
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';

/** ∇_x of the summed cross-entropy at x (same shape as x). */
export function lossInputGradient(model: Model, x: tf.Tensor4D, yOneHot: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() =>
    tf.grad((xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(yOneHot, model.logits(xx as tf.Tensor4D), undefined, undefined, tf.Reduction.SUM))(x),
  ) as tf.Tensor4D;
}
