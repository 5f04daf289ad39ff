/**
 * Local training: SGD with momentum, PyTorch's rule (v ← μ·v + g; w ← w − lr·v), a fresh momentum buffer
 * per call (decent-bva.md §5: a new optimiser every round), reshuffled every epoch, the last partial batch
 * kept. Extra loss terms (shared-set, adversarial) plug in as functions of the model and the batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import { disposeBatch, gatherBatch, type Batch, type ImageSource } from './batches.js';

/** An extra, mean-reduced loss term added to the minibatch cross-entropy (called inside the gradient scope). */
export type LossTerm = (model: Model, batch: Batch, step: number) => tf.Scalar;

/** Local training options; units and ranges as noted. */
export interface TrainOptions {
  /** Passes over the local data (≥ 1). */
  epochs: number;
  /** Examples per minibatch (≥ 1). */
  batchSize: number;
  /** Learning rate (> 0). */
  lr: number;
  /** Momentum μ in [0, 1). */
  momentum: number;
  /** Seed of the epoch shuffles and dropout masks. */
  seed: number;
  /** Extra loss terms; their sum is added to the minibatch loss. */
  extraLoss?: LossTerm[];
}

/** Defaults of the reference protocol (decent-bva.md §6). */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = { epochs: 1, batchSize: 64, lr: 0.01, momentum: 0.9, seed: 1 };

/** What a call to `trainLocal` did. */
export interface TrainResult {
  steps: number;
  examples: number;
  /** Mean minibatch loss over the last epoch. */
  meanLoss: number;
}

/** Validates training options, naming the bad field. */
export function checkTrainOptions(o: TrainOptions): void {
  const bad = (field: string, v: unknown, want: string): never => {
    throw new Error(`train options: ${field} = ${String(v)} is invalid; expected ${want}`);
  };
  if (!Number.isInteger(o.epochs) || o.epochs < 1) bad('epochs', o.epochs, 'an integer ≥ 1');
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) bad('batchSize', o.batchSize, 'an integer ≥ 1');
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) bad('lr', o.lr, 'a finite number > 0');
  if (!(o.momentum >= 0 && o.momentum < 1)) bad('momentum', o.momentum, 'a number in [0, 1)');
}

/** Deterministic Fisher–Yates shuffle of a copy of `idx` (mulberry32 stream from `seed`). */
function shuffled(idx: ArrayLike<number>, seed: number): Int32Array {
  const a = Int32Array.from(idx);
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/**
 * One SGD-with-momentum step on a batch; `velocity` holds the momentum buffers (updated in place).
 * Returns the loss value.
 */
export function sgdStep(model: Model, batch: Batch, velocity: tf.Tensor[], o: TrainOptions, step: number): number {
  const dropoutSeed = (o.seed * 1000003 + step * 7919) >>> 0;
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      let loss = tf.losses.softmaxCrossEntropy(batch.y, model.logits(batch.x, { training: true, dropoutSeed })) as tf.Scalar;
      for (const term of o.extraLoss ?? []) loss = tf.add(loss, term(model, batch, step));
      return loss;
    }, model.params);
    model.params.forEach((p, i) => {
      const g = grads[p.name]!;
      const v = o.momentum > 0 ? tf.add(tf.mul(velocity[i]!, o.momentum), g) : g;
      if (o.momentum > 0) {
        velocity[i]!.dispose();
        velocity[i] = tf.keep(v);
      }
      p.assign(tf.sub(p, tf.mul(v, o.lr)));
    });
    return value.dataSync()[0]!;
  });
}

/** Trains `model` in place on rows `indices` of `data`. */
export function trainLocal(model: Model, data: ImageSource, indices: ArrayLike<number>, options: Partial<TrainOptions> = {}): TrainResult {
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...options };
  checkTrainOptions(o);
  if (indices.length === 0) throw new Error('trainLocal: no training examples');
  const velocity = model.params.map((p) => tf.zerosLike(p));
  const wasTraining = model.training;
  model.training = true;
  let steps = 0;
  let lossSum = 0;
  let lossCount = 0;
  try {
    for (let e = 0; e < o.epochs; e++) {
      const order = shuffled(indices, (o.seed * 31 + e) >>> 0);
      lossSum = 0;
      lossCount = 0;
      for (let start = 0; start < order.length; start += o.batchSize) {
        const batch = gatherBatch(data, order, start, Math.min(start + o.batchSize, order.length));
        try {
          lossSum += sgdStep(model, batch, velocity, o, steps);
          lossCount++;
        } finally {
          disposeBatch(batch);
        }
        steps++;
      }
    }
  } finally {
    for (const v of velocity) v.dispose();
    model.training = wasTraining;
  }
  return { steps, examples: indices.length * o.epochs, meanLoss: lossSum / Math.max(1, lossCount) };
}
