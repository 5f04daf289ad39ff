/**
 * Auto-PGD (APGD) under the L∞ threat model, Croce & Hein, "Reliable evaluation of adversarial robustness with an
 * ensemble of diverse parameter-free attacks", ICML 2020 (arXiv 2003.01690), Algorithm 1, written from the paper:
 *
 * - step size η starts at 2ε, one per example;
 * - momentum: x^(k+1) = P(x^(k) + α·(z^(k+1) − x^(k)) + (1 − α)·(x^(k) − x^(k−1))), z^(k+1) = P(x^(k) + η·sign(∇f)),
 *   α = 0.75 (the first step has no momentum term);
 * - checkpoints w_j = ⌈p_j·N⌉ with p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06);
 * - at a checkpoint, η halves and the iterate restarts from the best point so far when (1) fewer than ρ·(w_j − w_{j−1})
 *   of the steps since the last checkpoint increased the loss (ρ = 0.75), or (2) η was not halved at the last
 *   checkpoint and the best loss has not improved since.
 *
 * P projects onto the ε-ball around x intersected with [0, 1]. The losses are cross-entropy, DLR, and targeted DLR
 * (`margin-losses.ts`). APGD-T runs targeted DLR once per target class: the top `targets` classes by clean logit
 * other than the true one. An example counts as broken as soon as any iterate is misclassified; the attack returns
 * that iterate (the first one found), else the point of highest loss.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import { lossGradient, type ApgdLoss } from './margin-losses.js';
import { PIXEL_MAX, PIXEL_MIN } from './pgd.js';

/** APGD options (L∞, pixel units on [0, 1]). */
export interface ApgdOptions {
  /** Radius of the L∞ ball, pixel units, in [0, 1]. */
  eps: number;
  /** Iterations N per run (≥ 1); 100 in AutoAttack. */
  steps: number;
  /** `ce` (APGD-CE), `dlr` (APGD-DLR) or `dlr-targeted` (APGD-T). */
  loss: ApgdLoss;
  /** APGD-T: target classes per example, the top ones by clean logit other than the true class (1 … C−1); 9 in AutoAttack. */
  targets?: number;
  /** Runs from independent random starts (≥ 1, default 1); an example is robust only if every run fails. */
  restarts?: number;
  /** Start at a random point of the ball (default true), else at x. */
  randomStart?: boolean;
  /** ρ, the fraction of loss-increasing steps below which η halves (default 0.75). */
  rho?: number;
  /** α, the momentum weight (default 0.75). */
  momentum?: number;
  /** Initial step size in units of ε (default 2: η⁰ = 2ε). */
  initialStep?: number;
  /** Seed of the random starts. */
  seed?: number;
}

/** The paper's constants. */
export const APGD_DEFAULTS = { rho: 0.75, momentum: 0.75, initialStep: 2, restarts: 1, randomStart: true, targets: 9 } as const;

/** Checks APGD options, naming the bad field. */
export function checkApgdOptions(o: ApgdOptions): void {
  if (!(o.eps >= 0 && o.eps <= 1)) throw new Error(`APGD: eps = ${o.eps}; expected a number in [0, 1]`);
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`APGD: steps = ${o.steps}; expected an integer ≥ 1`);
  if (o.loss !== 'ce' && o.loss !== 'dlr' && o.loss !== 'dlr-targeted') throw new Error(`APGD: loss = ${String(o.loss)}; expected ce, dlr or dlr-targeted`);
  const r = o.restarts ?? 1;
  if (!Number.isInteger(r) || r < 1) throw new Error(`APGD: restarts = ${r}; expected an integer ≥ 1`);
  if (o.targets !== undefined && (!Number.isInteger(o.targets) || o.targets < 1)) throw new Error(`APGD: targets = ${o.targets}; expected an integer ≥ 1`);
  const rho = o.rho ?? APGD_DEFAULTS.rho;
  if (!(rho > 0 && rho <= 1)) throw new Error(`APGD: rho = ${rho}; expected a number in (0, 1]`);
  const a = o.momentum ?? APGD_DEFAULTS.momentum;
  if (!(a > 0 && a <= 1)) throw new Error(`APGD: momentum = ${a}; expected a number in (0, 1]`);
  const s = o.initialStep ?? APGD_DEFAULTS.initialStep;
  if (!(s > 0 && Number.isFinite(s))) throw new Error(`APGD: initialStep = ${s}; expected a finite number > 0`);
}

/**
 * The checkpoints w_0 = 0 < w_1 < … ≤ N of an N-iteration run (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1}
 * − 0.03, 0.06), w_j = ⌈p_j·N⌉ for p_j ≤ 1), deduplicated. For N = 100: 0, 22, 41, 57, 70, 80, 87, 93, 99.
 */
export function apgdCheckpoints(n: number): number[] {
  const p = [0, 0.22];
  for (;;) {
    const next = p[p.length - 1]! + Math.max(p[p.length - 1]! - p[p.length - 2]! - 0.03, 0.06);
    if (next > 1) break;
    p.push(next);
  }
  // Rounded before the ceiling: 0.41·100 is 41.00000000000001 in floating point.
  const w = p.map((v) => Math.ceil(Math.round(v * n * 1e6) / 1e6));
  return [...new Set(w)].filter((v) => v <= n);
}

/** Mutable per-run state, one slot per example. */
interface RunState {
  eta: Float32Array;
  bestLoss: Float32Array;
  fooled: Uint8Array;
}

/** Rows where `mask` is 1 take `a`, the others `b` (new tensor). */
function pickRows<T extends tf.Tensor>(mask: Uint8Array, a: T, b: T): T {
  return tf.tidy(() => {
    const m = tf.tensor1d(Int32Array.from(mask), 'int32').cast('bool');
    return tf.where(tf.broadcastTo(m.reshape([-1, ...a.shape.slice(1).map(() => 1)]), a.shape), a, b) as T;
  });
}

/** Replaces `*old` by `next`, disposing the old tensor. */
function swap<T extends tf.Tensor>(old: T, next: T): T {
  if (old !== next) old.dispose();
  return next;
}

/**
 * One APGD run from `start` on a batch; returns the adversarial batch and which rows it broke. `targets` holds one
 * target class per row for `dlr-targeted`.
 */
function apgdRun(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>, start: tf.Tensor4D, o: ApgdOptions, targets: ArrayLike<number> | undefined): { adv: tf.Tensor4D; fooled: Uint8Array } {
  const n = x.shape[0];
  const N = o.steps;
  const rho = o.rho ?? APGD_DEFAULTS.rho;
  const alpha = o.momentum ?? APGD_DEFAULTS.momentum;
  const checkpoints = apgdCheckpoints(N);
  const st: RunState = { eta: new Float32Array(n).fill((o.initialStep ?? APGD_DEFAULTS.initialStep) * o.eps), bestLoss: new Float32Array(n), fooled: new Uint8Array(n) };
  const lo = tf.tidy(() => tf.maximum(tf.sub(x, o.eps), PIXEL_MIN)) as tf.Tensor4D;
  const hi = tf.tidy(() => tf.minimum(tf.add(x, o.eps), PIXEL_MAX)) as tf.Tensor4D;
  const project = (t: tf.Tensor4D): tf.Tensor4D => tf.minimum(tf.maximum(t, lo), hi);
  const etaT = (): tf.Tensor4D => tf.tensor4d(st.eta, [n, 1, 1, 1]);

  let cur = tf.tidy(() => project(start));
  let prev = cur.clone();
  const first = lossGradient(model, cur, labels, o.loss, targets);
  let grad = first.grad;
  let best = cur.clone();
  let bestGrad = grad.clone();
  let out = cur.clone();
  st.bestLoss.set(first.loss);
  let lastLoss = first.loss;
  for (let i = 0; i < n; i++) st.fooled[i] = first.pred[i] !== labels[i] ? 1 : 0;
  // Bookkeeping between checkpoints.
  let cp = 1;
  let lastCheckpoint = 0;
  const increases = new Int32Array(n);
  const bestAtCheckpoint = st.bestLoss.slice();
  const reducedAtCheckpoint = new Uint8Array(n);
  try {
    for (let k = 0; k < N; k++) {
      const next = tf.tidy(() => {
        const eta = etaT();
        const z = project(tf.add(cur, tf.mul(tf.sign(grad), eta)) as tf.Tensor4D);
        if (k === 0) return z;
        return project(tf.add(tf.add(cur, tf.mul(tf.sub(z, cur), alpha)), tf.mul(tf.sub(cur, prev), 1 - alpha)) as tf.Tensor4D);
      });
      prev = swap(prev, cur);
      cur = next;
      const r = lossGradient(model, cur, labels, o.loss, targets);
      grad = swap(grad, r.grad);
      const improved = new Uint8Array(n);
      const newlyFooled = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        if (r.loss[i]! > lastLoss[i]!) increases[i] = increases[i]! + 1;
        if (r.loss[i]! > st.bestLoss[i]!) {
          improved[i] = 1;
          st.bestLoss[i] = r.loss[i]!;
        }
        if (st.fooled[i] === 0 && r.pred[i] !== labels[i]) {
          newlyFooled[i] = 1;
          st.fooled[i] = 1;
        }
      }
      lastLoss = r.loss;
      if (improved.some((v) => v === 1)) {
        best = swap(best, pickRows(improved, cur, best));
        bestGrad = swap(bestGrad, pickRows(improved, grad, bestGrad));
      }
      if (newlyFooled.some((v) => v === 1)) out = swap(out, pickRows(newlyFooled, cur, out));
      // The iterate just computed is x^(k+1): a checkpoint when k + 1 = w_j.
      if (cp < checkpoints.length && k + 1 === checkpoints[cp]) {
        const span = checkpoints[cp]! - lastCheckpoint;
        const reduce = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          const oscillates = increases[i]! < rho * span;
          const stalled = reducedAtCheckpoint[i] === 0 && bestAtCheckpoint[i]! >= st.bestLoss[i]!;
          reduce[i] = oscillates || stalled ? 1 : 0;
          reducedAtCheckpoint[i] = reduce[i]!;
          bestAtCheckpoint[i] = st.bestLoss[i]!;
          increases[i] = 0;
          if (reduce[i] === 1) st.eta[i] = st.eta[i]! / 2;
        }
        if (reduce.some((v) => v === 1)) {
          // Restart from the best point, with its gradient (the momentum term keeps x^(k) − x^(k−1) of the paper).
          cur = swap(cur, pickRows(reduce, best, cur));
          grad = swap(grad, pickRows(reduce, bestGrad, grad));
        }
        lastCheckpoint = checkpoints[cp]!;
        cp++;
      }
    }
    // Unbroken rows return their highest-loss point.
    const notFooled = st.fooled.map((v) => 1 - v);
    const adv = pickRows(notFooled, best, out);
    return { adv, fooled: st.fooled };
  } finally {
    for (const t of [lo, hi, cur, prev, grad, best, bestGrad, out]) t.dispose();
  }
}

/** A random start: x + ε·u/‖u‖∞ with u uniform in [−1, 1]^d per example, clipped to [0, 1] (one coordinate on the sphere). */
function randomStartOf(x: tf.Tensor4D, eps: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const u = tf.randomUniform(x.shape, -1, 1, 'float32', seed);
    const scale = tf.max(tf.abs(u), [1, 2, 3], true);
    return tf.clipByValue(tf.add(x, tf.mul(tf.div(u, scale), eps)), PIXEL_MIN, PIXEL_MAX) as tf.Tensor4D;
  });
}

/** APGD with restarts for fixed per-row targets (or none); keeps the first run that breaks each row. */
function apgdRestarts(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>, o: ApgdOptions, targets: ArrayLike<number> | undefined, seed: number): { adv: tf.Tensor4D; fooled: Uint8Array } {
  return firstBreaks(o.restarts ?? APGD_DEFAULTS.restarts, x.shape[0], (r) => {
    const start = (o.randomStart ?? APGD_DEFAULTS.randomStart) ? randomStartOf(x, o.eps, seed * 7919 + r) : x.clone();
    try {
      return apgdRun(model, x, labels, start, o, targets);
    } finally {
      start.dispose();
    }
  });
}

/**
 * Runs `run(0)`, …, `run(n − 1)` and keeps, for each row, the adversarial example of the first run that broke it
 * (the first run's where none did): restarts and targets combine so. The runs' tensors are freed as they merge.
 */
function firstBreaks(n: number, rows: number, run: (k: number) => { adv: tf.Tensor4D; fooled: Uint8Array }): { adv: tf.Tensor4D; fooled: Uint8Array } {
  let adv: tf.Tensor4D | undefined;
  let fooled: Uint8Array = new Uint8Array(rows);
  try {
    for (let k = 0; k < n; k++) {
      const r = run(k);
      if (adv === undefined) {
        adv = r.adv;
        fooled = r.fooled;
        continue;
      }
      const take = fooled.map((f, i) => (f === 0 && r.fooled[i] === 1 ? 1 : 0));
      adv = swap(adv, pickRows(take, r.adv, adv));
      r.adv.dispose();
      fooled = fooled.map((f, i) => f | r.fooled[i]!);
    }
  } catch (err) {
    adv?.dispose();
    throw err;
  }
  return { adv: adv!, fooled };
}

/**
 * APGD adversarial examples for a batch (labels as integers). For `dlr-targeted` the run repeats for each of the
 * `targets` target classes (ranked by the clean logits, true class excluded), and each row keeps the first target
 * that breaks it. Returns the adversarial batch (owned by the caller) and the rows it broke.
 */
export function apgd(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>, options: ApgdOptions): { adv: tf.Tensor4D; fooled: Uint8Array } {
  checkApgdOptions(options);
  const seed = options.seed ?? 0;
  if (options.eps === 0) {
    const pred = tf.tidy(() => tf.argMax(model.predictLogits(x), 1).dataSync() as Int32Array);
    return { adv: x.clone(), fooled: Uint8Array.from(pred, (p, i) => (p !== labels[i] ? 1 : 0)) };
  }
  if (options.loss !== 'dlr-targeted') return apgdRestarts(model, x, labels, options, undefined, seed);
  const ranked = targetRanking(model, x, labels);
  const classes = ranked.length === 0 ? 0 : ranked[0]!.length;
  const count = Math.min(options.targets ?? APGD_DEFAULTS.targets, classes);
  return firstBreaks(count, x.shape[0], (t) =>
    apgdRestarts(
      model,
      x,
      labels,
      options,
      ranked.map((r) => r[t]!),
      seed * 31 + t,
    ),
  );
}

/** Per row, the classes other than the true one, by clean logit, largest first (ties to the lower index). */
export function targetRanking(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>): number[][] {
  const z = tf.tidy(() => model.predictLogits(x));
  const [b, c] = z.shape;
  const zv = z.dataSync();
  z.dispose();
  const out: number[][] = [];
  for (let i = 0; i < b; i++) {
    const order = Array.from({ length: c }, (_, j) => j).filter((j) => j !== labels[i]);
    order.sort((p, q) => zv[i * c + q]! - zv[i * c + p]! || p - q);
    out.push(order);
  }
  return out;
}
