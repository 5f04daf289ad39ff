/**
 * x + bias (bias along the last axis) whose bias gradient is one matrix product, for training on WebGPU:
 * ∂/∂bias = 1ᵀ · dy over the rows of dy viewed as [rows, channels]. tfjs reduces a broadcast addition's gradient
 * with a transpose and a sum (two dispatches) per bias; the product of a cached row of ones is one (tfjs picks
 * its reduction matmul for such small outputs). Only for training: a custom gradient computes every input's
 * gradient, so an input-gradient pass (attacks) keeps tf.add, whose bias gradient tfjs prunes.
 */
import * as tf from '@tensorflow/tfjs';

const ones = new Map<string, tf.Tensor2D>();

/** A kept [1, n] row of ones on the active backend (one upload per length). */
function onesRow(n: number): tf.Tensor2D {
  const key = `${tf.getBackend()}:${n}`;
  let t = ones.get(key);
  if (t === undefined || t.isDisposed) {
    t = tf.keep(tf.ones([1, n])) as tf.Tensor2D;
    ones.set(key, t);
  }
  return t;
}

/** Σ over the rows of x [rows, columns], as one product with a row of ones: shape [columns]. */
export function columnSums(x: tf.Tensor2D): tf.Tensor1D {
  const [rows, columns] = x.shape;
  return tf.reshape(tf.matMul(onesRow(rows), x), [columns]);
}

/** x + bias, bias of shape [channels] = x's last dimension. */
export const biasAddMatmulGrad = tf.customGrad(((x: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
  save([]);
  return {
    value: tf.add(x, bias),
    gradFunc: (dy: tf.Tensor) => {
      const channels = dy.shape[dy.shape.length - 1]!;
      const rows = dy.size / channels;
      return [tf.reshape(dy, x.shape), columnSums(tf.reshape(dy, [rows, channels]))];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, bias: tf.Tensor) => tf.Tensor;
