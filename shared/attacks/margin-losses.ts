/**
 * Per-example losses of the parameter-free attacks (Croce & Hein, ICML 2020, arXiv 2003.01690), on logits z:
 * cross-entropy, the Difference of Logits Ratio (DLR) and its targeted form, and the margin z_y − max_{j≠y} z_j
 * that score-based attacks minimise. Each loss is written as sums of z against one-hot row masks computed from the
 * logits' order, so its gradient needs nothing beyond multiplication and logSumExp.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';

/** The loss an APGD run maximises. */
export type ApgdLoss = 'ce' | 'dlr' | 'dlr-targeted';
/** A row-wise objective: an APGD loss, or `logit-diff` z_t − z_y (FAB's boundary function; needs targets). */
export type RowObjective = ApgdLoss | 'logit-diff';

/** DLR's denominator guard, as in the paper (1e-12). */
const DLR_EPS = 1e-12;

/** Row-wise one-hot masks of the classes that the losses read, from logits `z` (row-major [B, C]). */
interface OrderMasks {
  /** Class with the largest logit other than y. */
  other: Float32Array;
  /** π1, π3, π4: the classes with the largest, third and fourth largest logits. */
  pi1: Float32Array;
  pi3: Float32Array;
  pi4: Float32Array;
  /** The predicted class per row. */
  pred: Int32Array;
}

function orderMasks(z: Float32Array, rows: number, classes: number, labels: ArrayLike<number>): OrderMasks {
  const n = rows * classes;
  const m: OrderMasks = { other: new Float32Array(n), pi1: new Float32Array(n), pi3: new Float32Array(n), pi4: new Float32Array(n), pred: new Int32Array(rows) };
  const order = Array.from({ length: classes }, (_, j) => j);
  for (let i = 0; i < rows; i++) {
    const o = i * classes;
    // Descending by logit, ties to the lower class index (a stable sort).
    order.sort((a, b) => z[o + b]! - z[o + a]! || a - b);
    m.pred[i] = order[0]!;
    m.pi1[o + order[0]!] = 1;
    if (classes > 2) m.pi3[o + order[2]!] = 1;
    if (classes > 3) m.pi4[o + order[3]!] = 1;
    const y = labels[i]!;
    m.other[o + (order[0] === y ? order[1]! : order[0]!)] = 1;
  }
  return m;
}

/** One forward and backward pass: the per-example loss, the predicted classes and ∇_x Σ loss. */
export interface LossGradient {
  /** ∇_x of the summed loss (each row is its own example's gradient). Owned by the caller. */
  grad: tf.Tensor4D;
  /** Per-example loss values. */
  loss: Float32Array;
  /** Predicted classes (argmax of the logits; ties to the lower index). */
  pred: Int32Array;
}

/**
 * Row-wise loss of `kind` from logits (differentiable) and masks read from their values. `targets` (class per row)
 * is required by `dlr-targeted`.
 */
function lossRows(kind: RowObjective, z: tf.Tensor2D, zv: Float32Array, labels: ArrayLike<number>, targets: ArrayLike<number> | undefined): { rows: tf.Tensor1D; pred: Int32Array } {
  const [b, c] = z.shape;
  const m = orderMasks(zv, b, c, labels);
  const yMask = new Float32Array(b * c);
  for (let i = 0; i < b; i++) yMask[i * c + labels[i]!] = 1;
  const pick = (mask: Float32Array): tf.Tensor1D => tf.sum(tf.mul(z, tf.tensor2d(mask, [b, c])), 1);
  const zy = pick(yMask);
  if (kind === 'ce') return { rows: tf.sub(tf.logSumExp(z, 1), zy), pred: m.pred };
  if (kind === 'logit-diff') {
    if (targets === undefined) throw new Error('logit difference: no target classes');
    const tm = new Float32Array(b * c);
    for (let i = 0; i < b; i++) tm[i * c + targets[i]!] = 1;
    return { rows: tf.sub(pick(tm), zy), pred: m.pred };
  }
  if (c < 4) throw new Error(`DLR loss: the model has ${c} classes; DLR needs at least 4`);
  if (kind === 'dlr') return { rows: tf.neg(tf.div(tf.sub(zy, pick(m.other)), tf.add(tf.sub(pick(m.pi1), pick(m.pi3)), DLR_EPS))), pred: m.pred };
  if (targets === undefined) throw new Error('targeted DLR loss: no target classes');
  const tMask = new Float32Array(b * c);
  for (let i = 0; i < b; i++) tMask[i * c + targets[i]!] = 1;
  const denom = tf.add(tf.sub(pick(m.pi1), tf.mul(tf.add(pick(m.pi3), pick(m.pi4)), 0.5)), DLR_EPS);
  return { rows: tf.neg(tf.div(tf.sub(zy, pick(tMask)), denom)), pred: m.pred };
}

/**
 * Loss, predictions and input gradient of `kind` at x, in inference mode. Reads the logits once (synchronously),
 * so it runs on backends with synchronous reads (cpu, wasm, tfjs-node).
 */
export function lossGradient(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>, kind: RowObjective, targets?: ArrayLike<number>): LossGradient {
  let loss: Float32Array = new Float32Array(0);
  let pred: Int32Array = new Int32Array(0);
  const grad = tf.tidy(() =>
    tf.grad((xx: tf.Tensor) => {
      const z = model.logits(xx as tf.Tensor4D);
      const r = lossRows(kind, z, z.dataSync() as Float32Array, labels, targets);
      loss = (r.rows.dataSync() as Float32Array).slice();
      pred = r.pred;
      return tf.sum(r.rows);
    })(x),
  ) as tf.Tensor4D;
  return { grad, loss, pred };
}

/** Margin z_y − max_{j≠y} z_j per row (negative: misclassified) and the predicted classes, from logits only. */
export function marginOf(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>): { margin: Float32Array; pred: Int32Array } {
  const z = tf.tidy(() => model.predictLogits(x));
  const [b, c] = z.shape;
  const zv = z.dataSync() as Float32Array;
  z.dispose();
  const margin = new Float32Array(b);
  const pred = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const y = labels[i]!;
    let best = -Infinity;
    let arg = 0;
    let top = -Infinity;
    for (let j = 0; j < c; j++) {
      const v = zv[i * c + j]!;
      if (v > top) {
        top = v;
        arg = j;
      }
      if (j !== y && v > best) best = v;
    }
    margin[i] = zv[i * c + y]! - best;
    pred[i] = arg;
  }
  return { margin, pred };
}
