/**
 * Local training: SGD with momentum, PyTorch's rule (v ← μ·v + g; w ← w − lr·v), a fresh momentum buffer
 * per call (decent-bva.md §5: a new optimiser every round), reshuffled every epoch, the last partial batch
 * kept.
 *
 * The client loss of decent-bva.md §5: L(w) = CE(f(x_b), y_b) + β·CE(f(X̂_s), t_s) [+ the local adversarial
 * term], each term mean-reduced, X̂_s the full shared set at every step. The local adversarial term
 * (`adversarial`, shared/attacks/adversarial-training.ts) is EAT's CE(f(x_b^adv), y_b) with x_b^adv = FGSM(x_b),
 * Madry's PGD-AT (the clean minibatch term is replaced by CE(f(x_b^adv), y_b)), or TRADES' β·KL(p(x_b) ‖
 * p(x_b^adv)); the examples are crafted from the current weights with no gradient through the crafting. The
 * minibatch, the shared set and the adversarial batch go through ONE forward/backward pass (concatenated), which
 * is cheaper than three and gives the same gradient (examples do not interact; dropout masks are per example).
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import { checkLocalAdversarial, craftLocalAdversarial, tradesKl, type LocalAdversarialSpec } from '../attacks/adversarial-training.js';
import { fusedCrossEntropyAvailable, segmentedCrossEntropy, type LossSegment } from '../compute/webgpu/cross-entropy.js';
import { sgdMomentumInPlace } from '../compute/webgpu/sgd.js';
import { nativeFusedAvailable, nativeSegmentedCrossEntropy, nativeSgdMomentumInPlace } from '../compute/native/fused.js';
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
  /** The shared-set term: β·CE(f(x), y) on the whole set at every step; absent when undefined. */
  sharedSet?: SharedSetTerm;
  /** Local adversarial training (EAT, PGD-AT, TRADES); absent: none. */
  adversarial?: LocalAdversarialSpec;
  /** Further loss terms (mean-reduced scalars); their sum is added to the loss. */
  extraLoss?: LossTerm[];
}

/** The (perturbed) shared set and its weight β in the client loss. The caller owns the tensors. */
export interface SharedSetTerm {
  /** Images [n_s, H, W, C]. */
  x: tf.Tensor4D;
  /** One-hot labels [n_s, classes]. */
  y: tf.Tensor2D;
  /** β ≥ 0 (decent-bva.md `sharedLossWeight`, default 1). */
  weight: number;
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
  if (o.sharedSet !== undefined && !(o.sharedSet.weight >= 0 && Number.isFinite(o.sharedSet.weight))) {
    bad('sharedSet.weight', o.sharedSet.weight, 'a finite number ≥ 0');
  }
  if (o.adversarial !== undefined) checkLocalAdversarial(o.adversarial, 'train options: adversarial');
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
 * The order a client visits `indices` in epoch `epoch` of training seeded `seed`: the one rule `trainLocal`, the
 * lockstep trainer and the benchmarks share. Fisher–Yates' swaps depend only on the length and the seed, so the
 * order of positions 0 … n − 1 is the permutation applied to any n rows.
 */
export function epochOrder(indices: ArrayLike<number>, seed: number, epoch: number): Int32Array {
  return shuffled(indices, (seed * 31 + epoch) >>> 0);
}

/**
 * One SGD-with-momentum step on a batch; `velocity` holds the momentum buffers (updated in place).
 * Returns the loss value (read synchronously; `sgdStepLoss` leaves it on the device).
 */
export function sgdStep(model: Model, batch: Batch, velocity: tf.Tensor[], o: TrainOptions, step: number): number {
  const loss = sgdStepLoss(model, batch, velocity, o, step);
  try {
    return loss.dataSync()[0]!;
  } finally {
    loss.dispose();
  }
}

/**
 * Constant scalars (learning rate, momentum, loss weights) kept on the backend: a plain number in an op becomes a
 * fresh tensor every time, which on a GPU is a buffer allocation and an upload per parameter per step.
 */
const constants = new Map<string, tf.Scalar>();
function constant(v: number): tf.Scalar {
  const key = `${tf.getBackend()}:${v}`;
  let s = constants.get(key);
  if (s === undefined || s.isDisposed) {
    s = tf.keep(tf.scalar(v));
    constants.set(key, s);
  }
  return s;
}

/**
 * `sgdStep` returning the loss as a scalar tensor the caller disposes: WebGPU in Node can only read tensors
 * asynchronously (`await loss.data()`).
 */
export function sgdStepLoss(model: Model, batch: Batch, velocity: tf.Tensor[], o: TrainOptions, step: number): tf.Scalar {
  const dropoutSeed = (o.seed * 1000003 + step * 7919) >>> 0;
  const a = o.adversarial;
  // Crafted before the gradient scope: a constant input to the step, as EAT, PGD-AT and TRADES prescribe.
  const adv = a !== undefined ? craftLocalAdversarial(model, batch.x, batch.y, a, (dropoutSeed ^ 0x5bd1e995) >>> 0) : undefined;
  // PGD-AT (Madry) trains on the adversarial minibatch instead of the clean one.
  const cleanTerm = a?.loss !== 'adv';
  try {
    return tf.tidy(() => {
      const n = batch.x.shape[0];
      const ns = o.sharedSet?.x.shape[0] ?? 0;
      // Rows of the one forward pass, in order: [clean minibatch], [shared set], [adversarial minibatch].
      const parts: tf.Tensor4D[] = [];
      if (cleanTerm) parts.push(batch.x);
      if (o.sharedSet !== undefined) parts.push(o.sharedSet.x);
      if (adv !== undefined) parts.push(adv);
      const xAll = parts.length > 1 ? (tf.concat(parts, 0) as tf.Tensor4D) : parts[0]!;
      const nClean = cleanTerm ? n : 0;
      // On webgpu and native the CE terms are one fused kernel (forward and backward) over the concatenated rows; TRADES'
      // KL term is not a cross-entropy against labels, so it takes tfjs's ops.
      const native = nativeFusedAvailable();
      const fused = (native || fusedCrossEntropyAvailable()) && a?.loss !== 'trades';
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.logits(xAll, { training: true, dropoutSeed, inputGradient: false });
        let loss: tf.Scalar;
        if (fused) {
          const labels: tf.Tensor2D[] = [];
          const segments: LossSegment[] = [];
          if (cleanTerm) {
            labels.push(batch.y);
            segments.push({ rows: n, weight: 1 / n });
          }
          if (o.sharedSet !== undefined) {
            labels.push(o.sharedSet.y);
            segments.push({ rows: ns, weight: o.sharedSet.weight / ns });
          }
          if (adv !== undefined) {
            labels.push(batch.y);
            segments.push({ rows: n, weight: 1 / n });
          }
          const all = labels.length > 1 ? (tf.concat(labels, 0) as tf.Tensor2D) : labels[0]!;
          loss = native ? nativeSegmentedCrossEntropy(logits, all, segments) : segmentedCrossEntropy(logits, all, segments);
        } else {
          const part = (start: number, size: number): tf.Tensor2D => (parts.length > 1 ? (tf.slice(logits, [start, 0], [size, -1]) as tf.Tensor2D) : logits);
          loss = tf.losses.softmaxCrossEntropy(batch.y, cleanTerm ? part(0, n) : part(nClean + ns, n)) as tf.Scalar;
          if (o.sharedSet !== undefined && o.sharedSet.weight > 0) {
            loss = tf.add(loss, tf.mul(tf.losses.softmaxCrossEntropy(o.sharedSet.y, part(nClean, ns)), constant(o.sharedSet.weight)));
          }
          if (adv !== undefined && a!.loss === 'clean+adv') loss = tf.add(loss, tf.losses.softmaxCrossEntropy(batch.y, part(nClean + ns, n)));
          if (adv !== undefined && a!.loss === 'trades') loss = tf.add(loss, tf.mul(tradesKl(part(0, n), part(nClean + ns, n)), constant(a!.beta!)));
        }
        for (const term of o.extraLoss ?? []) loss = tf.add(loss, term(model, batch, step));
        return loss;
      }, model.params);
      const gradList = model.params.map((p) => grads[p.name]!);
      // On webgpu: in place, one dispatch per two parameters instead of four tfjs kernels per parameter; on
      // native, one call per parameter.
      if (sgdMomentumInPlace(model.params, gradList, velocity, o.lr, o.momentum)) return value;
      if (nativeSgdMomentumInPlace(model.params, gradList, velocity, o.lr, o.momentum)) return value;
      model.params.forEach((p, i) => {
        const g = gradList[i]!;
        const v = o.momentum > 0 ? tf.add(tf.mul(velocity[i]!, constant(o.momentum)), g) : g;
        if (o.momentum > 0) {
          velocity[i]!.dispose();
          velocity[i] = tf.keep(v);
        }
        p.assign(tf.sub(p, tf.mul(v, constant(o.lr))));
      });
      return value;
    });
  } finally {
    adv?.dispose();
  }
}

/** Trains `model` in place on rows `indices` of `data`. */
/**
 * `stopAfterEpoch` (optional) is asked after each epoch with its mean loss; `true` ends the training there (the
 * surrogates stop a diverged run, whose NaN arithmetic would otherwise take many times longer to finish).
 */
export function trainLocal(
  model: Model,
  data: ImageSource,
  indices: ArrayLike<number>,
  options: Partial<TrainOptions> = {},
  stopAfterEpoch?: (epoch: number, meanLoss: number) => boolean,
): TrainResult {
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
      const order = epochOrder(indices, o.seed, e);
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
      if (stopAfterEpoch?.(e, lossSum / Math.max(1, lossCount)) === true) break;
    }
  } finally {
    for (const v of velocity) v.dispose();
    model.training = wasTraining;
  }
  return { steps, examples: indices.length * o.epochs, meanLoss: lossSum / Math.max(1, lossCount) };
}
