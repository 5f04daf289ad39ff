/**
 * Minibatch assembly from a dataset held in flat typed arrays: one copy of the selected rows into a
 * reusable buffer, then one copy into the backend.
 */
import * as tf from '@tensorflow/tfjs';

/** The arrays a batch is gathered from (a Dataset satisfies it). */
export interface ImageSource {
  images: Float32Array;
  labels: Uint8Array;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
}

/** A batch on the backend: images [B,H,W,C] and one-hot labels [B,classes]. Dispose both. */
export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor2D;
  /** The integer labels, for accuracy counting on the JS side. */
  labels: Uint8Array;
}

/** Gathers rows `indices[start, end)` of the source into a batch. */
export function gatherBatch(src: ImageSource, indices: ArrayLike<number>, start: number, end: number): Batch {
  const d = src.height * src.width * src.channels;
  const n = end - start;
  const count = src.labels.length;
  if (!(start >= 0 && end <= indices.length && n >= 0)) throw new Error(`gatherBatch: rows [${start}, ${end}) outside 0..${indices.length}`);
  const xs = new Float32Array(n * d);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = indices[start + i]!;
    if (!(row >= 0 && row < count && Number.isInteger(row))) throw new Error(`gatherBatch: index ${row} is not a row of a ${count}-example dataset`);
    xs.set(src.images.subarray(row * d, row * d + d), i * d);
    labels[i] = src.labels[row]!;
  }
  return batchFromArrays(xs, labels, src);
}

/** Wraps already-gathered arrays as a batch. */
export function batchFromArrays(xs: Float32Array, labels: Uint8Array, shape: Pick<ImageSource, 'height' | 'width' | 'channels' | 'numClasses'>): Batch {
  const n = labels.length;
  const x = tf.tensor4d(xs, [n, shape.height, shape.width, shape.channels]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), shape.numClasses).toFloat() as tf.Tensor2D);
  return { x, y, labels };
}

/** Frees a batch's tensors. */
export function disposeBatch(b: Batch): void {
  b.x.dispose();
  b.y.dispose();
}

/** 0, 1, …, n−1 as an Int32Array. */
export function range(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
