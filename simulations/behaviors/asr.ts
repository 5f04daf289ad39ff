/**
 * Backdoor attack success rate (threats-and-evaluation.md §3, "Backdoor success rate"): among the test examples
 * whose true label is not the target, stamp the trigger (overwriting its pixels) and count the fraction the
 * model classifies as the target. Inference mode (fused kernels, no dropout); the model is never mutated.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../../shared/models/model.js';
import type { ImageSource } from '../../shared/train/batches.js';
import { stampTrigger } from './data.js';
import type { Trigger } from './spec.js';

/** A test set, optionally restricted to its first `count` examples (like `evalSubset`). */
export type AsrSource = ImageSource & { count?: number };

/**
 * The ASR in [0, 1] over `indices` (default: the first `count`, or all, examples) minus the target-labelled
 * ones; NaN when no example qualifies. Batches of `batchSize` rows are gathered into one buffer, stamped, and
 * classified; every tensor is freed before returning. Asynchronous, so it also runs on WebGPU (which in Node
 * has no synchronous read).
 */
export async function attackSuccessRate(model: Model, test: AsrSource, trigger: Trigger, target: number, indices?: ArrayLike<number>, batchSize = 500): Promise<number> {
  const total = test.labels.length;
  const count = test.count ?? total;
  if (!(Number.isInteger(count) && count >= 0 && count <= total)) throw new RangeError(`attackSuccessRate: count must be an integer in [0, ${total}], got ${count}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`attackSuccessRate: batchSize must be an integer ≥ 1, got ${batchSize}`);
  if (!(Number.isInteger(target) && target >= 0 && target < test.numClasses)) throw new RangeError(`attackSuccessRate: target ${target} is not a class in [0, ${test.numClasses})`);
  const rows: number[] = [];
  const n = indices === undefined ? count : indices.length;
  for (let i = 0; i < n; i++) {
    const row = indices === undefined ? i : indices[i]!;
    if (!(Number.isInteger(row) && row >= 0 && row < total)) throw new RangeError(`attackSuccessRate: index ${row} is not a row of a ${total}-example test set`);
    if (test.labels[row] !== target) rows.push(row);
  }
  if (rows.length === 0) return NaN;
  const { height: H, width: W, channels: C } = test;
  const d = H * W * C;
  const buffer = new Float32Array(Math.min(batchSize, rows.length) * d);
  let hits = 0;
  for (let start = 0; start < rows.length; start += batchSize) {
    const b = Math.min(batchSize, rows.length - start);
    for (let i = 0; i < b; i++) {
      const row = rows[start + i]!;
      buffer.set(test.images.subarray(row * d, row * d + d), i * d);
    }
    stampTrigger(buffer, b, test, trigger);
    const hitsT = tf.tidy(() => {
      // slice() because cpu and tfjs-node keep a reference to the array they are given, and the buffer is reused.
      const x = tf.tensor4d(buffer.slice(0, b * d), [b, H, W, C]);
      return model.predictLogits(x).argMax(-1).equal(tf.scalar(target, 'int32')).sum();
    });
    hits += await readScalar(hitsT);
  }
  return hits / rows.length;
}

/** Reads a scalar tensor and frees it. */
async function readScalar(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0]!;
  } finally {
    t.dispose();
  }
}
