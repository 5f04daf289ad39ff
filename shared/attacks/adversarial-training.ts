/**
 * The adversarial examples of local adversarial training, crafted from the current local weights once per
 * minibatch with no gradient through the crafting:
 * - `fgsm`: EAT's x + ε·sign(∇_x CE) (Tramèr et al., arXiv 1705.07204; the reference's EAT);
 * - `pgd`: Madry et al.'s PGD (arXiv 1706.06083) from a seeded uniform start, for PGD-AT;
 * - `trades`: TRADES' inner maximisation (Zhang et al., ICML 2019, arXiv 1901.08573): PGD on
 *   KL(p(x) ‖ p(x′)) from x + 0.001·N(0, 1), p(x) held fixed.
 *
 * Crafting is in inference mode with pixels clipped to [0, 1], unless the spec asks for the reference's EAT
 * behaviour (decent-bva.md §9 #12): `craftMode: 'train'` crafts with dropout on (its own masks, as a copy of the
 * model in training mode has), and `clip: 'batch'` clamps to the minibatch's [min, max].
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import type { ForwardOptions } from '../models/layers.js';
import { lossInputGradient } from './input-gradient.js';
import { fgsm, pgd, PIXEL_MAX, PIXEL_MIN } from './pgd.js';

/** How a client crafts its local adversarial examples and what loss it trains on; units and ranges as noted. */
export interface LocalAdversarialSpec {
  /** `fgsm` (EAT), `pgd` (PGD-AT) or `trades` (TRADES' KL maximisation). */
  attack: 'fgsm' | 'pgd' | 'trades';
  /** L∞ radius, pixel units, [0, 1]. */
  eps: number;
  /** PGD / TRADES steps, integer ≥ 1 (ignored by `fgsm`). */
  steps?: number;
  /** PGD / TRADES step size, pixel units, > 0; default 2.5·ε/steps (ignored by `fgsm`). */
  alpha?: number;
  /**
   * The minibatch loss: `clean+adv` = CE(x) + CE(x_adv) (EAT); `adv` = CE(x_adv) alone (Madry's PGD-AT);
   * `trades` = CE(x) + β·KL(p(x) ‖ p(x_adv)), batch-mean (TRADES).
   */
  loss: 'clean+adv' | 'adv' | 'trades';
  /** TRADES β ≥ 0 (the paper's default 6); only for `loss: 'trades'`. */
  beta?: number;
  /** Crafting with dropout off (`eval`, default) or on (`train`, the reference's EAT). */
  craftMode?: 'eval' | 'train';
  /** Clip to [0, 1] (`unit`, default) or to the minibatch's own [min, max] (`batch`, the reference's EAT). */
  clip?: 'unit' | 'batch';
}

/** Validates a spec, naming the bad field. */
export function checkLocalAdversarial(a: LocalAdversarialSpec, where = 'adversarial'): void {
  const bad = (field: string, v: unknown, want: string): never => {
    throw new Error(`${where}.${field} = ${JSON.stringify(v)} is invalid; expected ${want}`);
  };
  if (!['fgsm', 'pgd', 'trades'].includes(a.attack)) bad('attack', a.attack, '"fgsm", "pgd" or "trades"');
  if (!(a.eps >= 0 && a.eps <= 1)) bad('eps', a.eps, 'a number in [0, 1]');
  if (a.attack !== 'fgsm') {
    if (!Number.isInteger(a.steps) || a.steps! < 1) bad('steps', a.steps, 'an integer ≥ 1');
    if (a.alpha !== undefined && !(a.alpha > 0 && Number.isFinite(a.alpha))) bad('alpha', a.alpha, 'a finite number > 0');
    // The default step 2.5·ε/steps would be 0: PGD could not move.
    if (a.alpha === undefined && !(a.eps > 0)) bad('eps', a.eps, `a number in (0, 1] for ${a.attack} without an explicit alpha`);
    // TRADES' adversary always runs in inference mode (as the TRADES code crafts with model.eval()).
    if (a.attack === 'trades' && a.craftMode === 'train') bad('craftMode', a.craftMode, '"eval" (or nothing) for trades');
  }
  if (!['clean+adv', 'adv', 'trades'].includes(a.loss)) bad('loss', a.loss, '"clean+adv", "adv" or "trades"');
  if ((a.loss === 'trades') !== (a.attack === 'trades')) bad('loss', a.loss, 'loss "trades" exactly with attack "trades"');
  if (a.loss === 'trades' && !(a.beta !== undefined && a.beta >= 0 && Number.isFinite(a.beta))) bad('beta', a.beta, 'a finite number ≥ 0');
  if (a.craftMode !== undefined && a.craftMode !== 'eval' && a.craftMode !== 'train') bad('craftMode', a.craftMode, '"eval" or "train"');
  if (a.clip !== undefined && a.clip !== 'unit' && a.clip !== 'batch') bad('clip', a.clip, '"unit" or "batch"');
}

/** The PGD / TRADES step size: α, or 2.5·ε/steps (Madry's rule). */
export function stepSize(a: LocalAdversarialSpec): number {
  return a.alpha ?? (2.5 * a.eps) / (a.steps ?? 1);
}

/** Clipping bounds as scalars: [0, 1], or the batch's own [min, max]. The caller disposes of them. */
function bounds(x: tf.Tensor4D, clip: 'unit' | 'batch'): [tf.Scalar, tf.Scalar] {
  if (clip === 'unit') return [tf.scalar(PIXEL_MIN), tf.scalar(PIXEL_MAX)];
  return [tf.min(x) as tf.Scalar, tf.max(x) as tf.Scalar];
}

/**
 * The adversarial minibatch for local training (the caller disposes of it). `seed` fixes PGD's random start,
 * TRADES' Gaussian start and the dropout masks of training-mode crafting, so a client's training is
 * reproducible.
 */
export function craftLocalAdversarial(model: Model, x: tf.Tensor4D, yOneHot: tf.Tensor2D, a: LocalAdversarialSpec, seed: number): tf.Tensor4D {
  const craftMode = a.craftMode ?? 'eval';
  const clip = a.clip ?? 'unit';
  // The default settings take the attack library's own paths (fused kernels on webgpu, tested there).
  if (craftMode === 'eval' && clip === 'unit') {
    if (a.attack === 'fgsm') return fgsm(model, x, yOneHot, a.eps);
    if (a.attack === 'pgd') return pgd(model, x, yOneHot, { eps: a.eps, alpha: stepSize(a), steps: a.steps!, randomStart: true, seed });
  }
  if (a.attack === 'trades') return tradesAdversary(model, x, a, seed, clip);
  const fwd: ForwardOptions = craftMode === 'train' ? { training: true, dropoutSeed: seed >>> 0 } : {};
  return tf.tidy(() => {
    const [lo, hi] = bounds(x, clip);
    const ballLo = tf.maximum(tf.sub(x, a.eps), lo);
    const ballHi = tf.minimum(tf.add(x, a.eps), hi);
    if (a.attack === 'fgsm') {
      const g = lossInputGradient(model, x, yOneHot, fwd);
      return tf.minimum(tf.maximum(tf.add(x, tf.mul(tf.sign(g), a.eps)), lo), hi) as tf.Tensor4D;
    }
    let adv = tf.minimum(tf.maximum(tf.add(x, tf.randomUniform(x.shape, -a.eps, a.eps, 'float32', seed)), ballLo), ballHi) as tf.Tensor4D;
    const alpha = stepSize(a);
    for (let s = 0; s < a.steps!; s++) {
      // A fresh dropout draw per step in training mode, as each forward pass of a training-mode model has.
      const step = craftMode === 'train' ? { training: true, dropoutSeed: (seed + 7919 * (s + 1)) >>> 0 } : fwd;
      const g = lossInputGradient(model, adv, yOneHot, step);
      adv = tf.minimum(tf.maximum(tf.add(adv, tf.mul(tf.sign(g), alpha)), ballLo), ballHi) as tf.Tensor4D;
    }
    return adv;
  });
}

/**
 * TRADES' adversary: x′ maximising KL(p(x) ‖ p(x′)) over the ε-ball by `steps` signed steps of size α from
 * x + 0.001·N(0, 1), with p(x) from the inference-mode model and held fixed.
 */
function tradesAdversary(model: Model, x: tf.Tensor4D, a: LocalAdversarialSpec, seed: number, clip: 'unit' | 'batch'): tf.Tensor4D {
  return tf.tidy(() => {
    const [lo, hi] = bounds(x, clip);
    const ballLo = tf.maximum(tf.sub(x, a.eps), lo);
    const ballHi = tf.minimum(tf.add(x, a.eps), hi);
    const pNat = tf.softmax(model.predictLogits(x));
    // KL(p ‖ q) = Σ p·log p − Σ p·log q; only the second term depends on x′.
    const objective = (xx: tf.Tensor): tf.Scalar => tf.neg(tf.sum(tf.mul(pNat, tf.logSoftmax(model.logits(xx as tf.Tensor4D)))));
    const grad = tf.grad(objective);
    let adv = tf.minimum(tf.maximum(tf.add(x, tf.mul(tf.randomNormal(x.shape, 0, 1, 'float32', seed), 0.001)), ballLo), ballHi) as tf.Tensor4D;
    const alpha = stepSize(a);
    for (let s = 0; s < a.steps!; s++) {
      const g = grad(adv);
      adv = tf.minimum(tf.maximum(tf.add(adv, tf.mul(tf.sign(g), alpha)), ballLo), ballHi) as tf.Tensor4D;
    }
    return adv;
  });
}

/**
 * TRADES' robust term: the batch mean of KL(p(x) ‖ p(x_adv)) from the two logit blocks, differentiable in both.
 * No tidy of its own: it runs inside the training step's gradient scope, which owns the intermediates.
 */
export function tradesKl(cleanLogits: tf.Tensor2D, advLogits: tf.Tensor2D): tf.Scalar {
  const logP = tf.logSoftmax(cleanLogits);
  const logQ = tf.logSoftmax(advLogits);
  return tf.div(tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ))), cleanLogits.shape[0]) as tf.Scalar;
}
