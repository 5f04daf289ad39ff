/** Accuracy of a model on a dataset, in inference mode and in batches. */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import { gatherBatch, disposeBatch, range, type ImageSource } from './batches.js';

/** Predicted classes for a batch of images (inference mode). */
export function predictClasses(model: Model, x: tf.Tensor4D): Int32Array {
  return tf.tidy(() => tf.argMax(model.predictLogits(x), 1).dataSync() as Int32Array).slice();
}

/** `predictClasses` read asynchronously (the only way to read a WebGPU tensor in Node). */
export async function predictClassesAsync(model: Model, x: tf.Tensor4D): Promise<Int32Array> {
  const t = tf.tidy(() => tf.argMax(model.predictLogits(x), 1));
  try {
    return (await t.data()) as Int32Array;
  } finally {
    t.dispose();
  }
}

/** Counts predictions equal to `labels`. */
export function countCorrect(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) c++;
  return c;
}

/** Fraction of rows (default: all) that the model classifies correctly. */
export function accuracy(model: Model, data: ImageSource, indices: ArrayLike<number> = range(data.labels.length), batchSize = 1000): number {
  if (indices.length === 0) throw new Error('accuracy: empty evaluation set');
  let correct = 0;
  for (let s = 0; s < indices.length; s += batchSize) {
    const b = gatherBatch(data, indices, s, Math.min(s + batchSize, indices.length));
    try {
      correct += countCorrect(predictClasses(model, b.x), b.labels);
    } finally {
      disposeBatch(b);
    }
  }
  return correct / indices.length;
}
