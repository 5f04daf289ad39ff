/**
 * FGSM (Goodfellow et al., arXiv 1412.6572) and PGD (Madry et al., arXiv 1706.06083) under the L∞ threat
 * model, batched, on pixel space [0, 1]. PGD with several restarts keeps, per example, the first restart that
 * fools the model (the standard "worst of restarts" robust-accuracy protocol).
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import { lossInputGradient } from './input-gradient.js';
import { attackStep } from '../compute/webgpu/attack-step.js';

/** Valid pixel range (inputs are scaled to [0, 1]). */
export const PIXEL_MIN = 0;
/** Valid pixel range (inputs are scaled to [0, 1]). */
export const PIXEL_MAX = 1;

/** PGD options (L∞). */
export interface PgdOptions {
  /** Radius of the L∞ ball, in pixel units ([0, 1] scale). */
  eps: number;
  /** Step size per iteration, pixel units. */
  alpha: number;
  /** Iterations (≥ 1). */
  steps: number;
  /** Start from a uniform random point of the ball (default true). */
  randomStart?: boolean;
  /** Independent random restarts (≥ 1, default 1); more than 1 needs randomStart. */
  restarts?: number;
  /** Seed of the random starts. */
  seed?: number;
}

/** x + ε·sign(∇), clipped to the pixel range. ε = 0 returns x unchanged. */
export function fgsm(model: Model, x: tf.Tensor4D, yOneHot: tf.Tensor2D, eps: number): tf.Tensor4D {
  checkEps(eps);
  return tf.tidy(() => {
    if (eps === 0) return x.clone();
    const g = lossInputGradient(model, x, yOneHot);
    // One fused kernel on webgpu; tfjs's ops elsewhere.
    return (attackStep(x, g, eps, PIXEL_MIN, PIXEL_MAX) ?? tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), eps)), PIXEL_MIN, PIXEL_MAX)) as tf.Tensor4D;
  });
}

/** One projected run of PGD from `start`. */
function pgdRun(model: Model, x: tf.Tensor4D, yOneHot: tf.Tensor2D, start: tf.Tensor4D, o: PgdOptions): tf.Tensor4D {
  let adv = start.clone();
  const lo = tf.tidy(() => tf.maximum(tf.sub(x, o.eps), PIXEL_MIN));
  const hi = tf.tidy(() => tf.minimum(tf.add(x, o.eps), PIXEL_MAX));
  try {
    for (let s = 0; s < o.steps; s++) {
      const next = tf.tidy(() => {
        const g = lossInputGradient(model, adv, yOneHot);
        // Projection onto the ε-ball ∩ [0,1] is one clamp between the precomputed bounds (one fused kernel on webgpu).
        return (attackStep(adv, g, o.alpha, lo, hi) ?? tf.minimum(tf.maximum(tf.add(adv, tf.mul(tf.sign(g), o.alpha)), lo), hi)) as tf.Tensor4D;
      });
      adv.dispose();
      adv = next;
    }
  } finally {
    lo.dispose();
    hi.dispose();
  }
  return adv;
}

/** Checks PGD options, naming the bad field. */
export function checkPgdOptions(o: PgdOptions): void {
  checkEps(o.eps);
  if (!(o.alpha > 0) || !Number.isFinite(o.alpha)) throw new Error(`PGD: alpha = ${o.alpha}; expected a finite number > 0`);
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`PGD: steps = ${o.steps}; expected an integer ≥ 1`);
  const r = o.restarts ?? 1;
  if (!Number.isInteger(r) || r < 1) throw new Error(`PGD: restarts = ${r}; expected an integer ≥ 1`);
  if (r > 1 && o.randomStart === false) throw new Error('PGD: restarts > 1 need randomStart (they would all be identical)');
}

function checkEps(eps: number): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`attack: eps = ${eps}; expected a finite number ≥ 0`);
}

/**
 * PGD adversarial examples for a batch. With restarts, an example keeps the first restart that makes the
 * model misclassify it (or the last restart if none does).
 */
export function pgd(model: Model, x: tf.Tensor4D, yOneHot: tf.Tensor2D, options: PgdOptions): tf.Tensor4D {
  checkPgdOptions(options);
  const restarts = options.restarts ?? 1;
  const randomStart = options.randomStart ?? true;
  const seed = options.seed ?? 0;
  const labels = tf.tidy(() => tf.argMax(yOneHot, 1));
  let best: tf.Tensor4D | undefined;
  let fooled: tf.Tensor | undefined;
  try {
    for (let r = 0; r < restarts; r++) {
      const start = tf.tidy(() =>
        randomStart ? (tf.clipByValue(tf.add(x, tf.randomUniform(x.shape, -options.eps, options.eps, 'float32', seed * 7919 + r)), PIXEL_MIN, PIXEL_MAX) as tf.Tensor4D) : x.clone(),
      );
      const adv = pgdRun(model, x, yOneHot, start, options);
      start.dispose();
      if (best === undefined) {
        best = adv;
        if (restarts > 1) fooled = tf.tidy(() => tf.notEqual(tf.argMax(model.predictLogits(adv), 1), labels));
        continue;
      }
      const [nextBest, nextFooled] = tf.tidy((): [tf.Tensor4D, tf.Tensor] => {
        const wrong = tf.notEqual(tf.argMax(model.predictLogits(adv), 1), labels);
        // Keep earlier successes; take this restart where nothing has fooled the model yet.
        const take = tf.logicalNot(fooled!).reshape([-1, 1, 1, 1]);
        return [tf.where(tf.broadcastTo(take, x.shape), adv, best!) as tf.Tensor4D, tf.logicalOr(fooled!, wrong)];
      });
      adv.dispose();
      best.dispose();
      fooled!.dispose();
      best = nextBest;
      fooled = nextFooled;
    }
  } catch (err) {
    best?.dispose();
    throw err;
  } finally {
    labels.dispose();
    fooled?.dispose();
  }
  return best!;
}
