/**
 * Client-side Decent_BVA statistics: what one ensemble member contributes to each secure sum of a BV step.
 *
 * Paper: Zhou, Wu, Wang and He, "Adversarial Robustness through Bias Variance Decomposition: A New Perspective
 * for Federated Learning" (arXiv 2009.09026; v1 "Robust Decentralized Learning for Neural Networks", Decent_BVA),
 * as re-derived from the reference code junwu6/FedBVA `models/BVDAttack.py` in docs/spec/decent-bva.md §3.2, §4.2.
 *
 * Ambiguities of the paper/reference resolved here (decent-bva.md §1, §9):
 * - Per-example gradients come from SUM-reduced objectives (the reference mean-reduces the bias over n_s, §9 #2).
 * - The variance contribution is ONE vector-Jacobian product ∇_X Σ_i ⟨Ω_i, p_k(x_i)⟩, not the reference's
 *   n_s·C backward passes (§9 #4); the reference's "+1" in the weight is exactly zero and dropped (§9 #3).
 * - Statistics are computed in inference mode (dropout off), never in training mode (§3.5, §9 #5). Our Model has
 *   no mode flag (the forward pass takes `training` per call), so this module keeps an explicit registry:
 *   a trainer marks a model with `setTrainingMode(model, true)` while it trains it and clears the mark
 *   afterwards; every statistics function refuses a marked model, and always runs the forward pass with
 *   `training: false` itself.
 *
 * Every function is pure given (model, inputs), runs inside tf.tidy (no tensor outlives the call) and returns
 * plain Float32Arrays, the form the secure sum (or the plaintext float sum) consumes.
 */
import * as tf from '@tensorflow/tfjs';
import { readInto, tensorFrom, type Model } from '../models/model.js';

/** Floor applied to y_m before the log (decent-bva.md §3.2): keeps log finite, so no −∞·0 = NaN. */
export const DEFAULT_TAU = 1e-6;

/**
 * The `reference` profile's "no floor": the smallest positive float32. Only a y_m that underflowed to exactly 0
 * is lifted (there the reference computes log 0 = −∞ and its gradient turns NaN); every other value is as is.
 */
export const REFERENCE_TAU = 1.401298464324817e-45;

/** Which bias gradient the ensemble uses (decent-bva.md §1 item 2). */
export type BiasOption = 'mean-ce' | 'ensemble';

/** The bias options, for validation. */
export const BIAS_OPTIONS: readonly BiasOption[] = ['mean-ce', 'ensemble'];

/** What phase 1 asks a client for. */
export interface Phase1Options {
  /** `mean-ce`: B_k = ∇_X Σ_i CE(p_k(x_i), t_i); `ensemble`: B_k = ∇_X Σ_i p_k,t_i(x_i). */
  bias: BiasOption;
  /** Include P_k = p_k(X) (n_s × C softmax). */
  includeP: boolean;
  /** Include the bias contribution B_k (n_s × d). */
  includeB: boolean;
  /**
   * The `reference` profile only (decent-bva.md §3.5, §9 #5): compute with dropout ON, with this seed's masks
   * for P and B alike (one draw per phase, as the reference's forward pass). Absent: inference mode.
   */
  dropoutSeed?: number;
}

/** One client's phase-1 segments; a segment is present exactly when it was asked for. */
export interface Phase1Contribution {
  /** Softmax predictions, n_s × C, row-major. */
  P?: Float32Array;
  /** Bias contribution, n_s × d (NHWC flattened per example). */
  B?: Float32Array;
}

/**
 * Marks `model` as being trained (true) or back in inference mode (false). Trainers bracket local training
 * with it, so that a statistics call that races a training loop, or forgets it is one, fails loudly instead of
 * mixing training-time weights and dropout semantics into the ensemble (decent-bva.md §3.5).
 */
export function setTrainingMode(model: Model, training: boolean): void {
  model.training = training;
}

/** True while `model` is marked as being trained (see `setTrainingMode`). */
export function isTrainingMode(model: Model): boolean {
  return model.training;
}

/** Throws when `model` is marked as being trained: Decent_BVA statistics need inference mode. */
export function assertInferenceMode(model: Model, where: string): void {
  if (model.training) {
    throw new Error(
      `${where}: model "${model.spec.name}" is in training mode; Decent_BVA statistics need inference mode ` + '(decent-bva.md §3.5): call setTrainingMode(model, false) when local training ends',
    );
  }
}

/** Checks X and returns (n, [H, W, C] of the model). */
function checkInputs(model: Model, X: Float32Array, n: number, where: string): [number, number, number] {
  const [h, w, c] = model.spec.inputShape;
  const d = h * w * c;
  if (!Number.isInteger(n) || n < 1) throw new Error(`${where}: n_s = ${n}; expected an integer ≥ 1`);
  if (X.length !== n * d) {
    throw new Error(`${where}: X has ${X.length} floats; expected n_s·d = ${n}·${d} = ${n * d} for input shape [${h}, ${w}, ${c}]`);
  }
  return [h, w, c];
}

/** One-hot [n, C] of integer labels (validated against C). */
function oneHot(labels: Uint8Array, numClasses: number, where: string): tf.Tensor2D {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= numClasses) throw new Error(`${where}: labels[${i}] = ${labels[i]}; expected < numClasses = ${numClasses}`);
  }
  return tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), numClasses).toFloat() as tf.Tensor2D;
}

/**
 * The forward pass of the statistics: inference mode, or (reference profile) dropout on with the given seed. The
 * model's own training mark is untouched either way: it guards against racing a training loop, not this choice.
 */
function forwardOptions(dropoutSeed: number | undefined): { training: boolean; dropoutSeed?: number } {
  if (dropoutSeed === undefined) return { training: false };
  if (!Number.isInteger(dropoutSeed) || dropoutSeed < 0) throw new Error(`BV statistics: dropoutSeed = ${dropoutSeed}; expected an integer ≥ 0`);
  return { training: true, dropoutSeed };
}

/** Copies a tensor into a fresh Float32Array (one copy on wasm and cpu). */
function toArray(t: tf.Tensor): Float32Array {
  const out = new Float32Array(t.size);
  readInto(t, out, 0);
  return out;
}

/**
 * Phase 1 of a BV step (decent-bva.md §4.2): P_k = p_k(X) and/or the bias contribution B_k, for the n_s
 * examples X (n_s × d, NHWC flattened) with labels t. Inference mode; sum-reduced, so row i of B_k is example
 * i's own gradient.
 */
export function phase1Contribution(model: Model, X: Float32Array, labels: Uint8Array, opts: Phase1Options): Phase1Contribution {
  const where = 'phase1Contribution';
  assertInferenceMode(model, where);
  if (!BIAS_OPTIONS.includes(opts.bias)) throw new Error(`${where}: bias = "${String(opts.bias)}"; expected one of ${BIAS_OPTIONS.join(', ')}`);
  if (!opts.includeP && !opts.includeB) throw new Error(`${where}: includeP = false and includeB = false; nothing to compute`);
  const n = labels.length;
  const [h, w, c] = checkInputs(model, X, n, where);
  const numClasses = model.spec.numClasses;
  const out: Phase1Contribution = {};
  tf.tidy(() => {
    const x = tensorFrom(X, [n, h, w, c]) as tf.Tensor4D;
    const y = oneHot(labels, numClasses, where);
    // The reference profile's training-mode pass: the same seed gives P and B the same dropout masks.
    const fwd = forwardOptions(opts.dropoutSeed);
    if (opts.includeP) {
      // The fused inference path: same function as the differentiable one (dropout is the identity in both).
      out.P = toArray(tf.softmax(opts.dropoutSeed === undefined ? model.predictLogits(x) : model.logits(x, fwd)));
    }
    if (opts.includeB) {
      const objective =
        opts.bias === 'mean-ce'
          ? // Σ_i CE(p_k(x_i), t_i) from the logits through log-softmax (stable; no log of a rounded softmax).
            (xx: tf.Tensor) => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(model.logits(xx as tf.Tensor4D, fwd)))))
          : // Σ_i p_k,t_i(x_i): the coordinator divides by K1·y_m,t_i to get ∇CE(y_m, t).
            (xx: tf.Tensor) => tf.sum(tf.mul(y, tf.softmax(model.logits(xx as tf.Tensor4D, fwd))));
      out.B = toArray(tf.grad(objective)(x));
    }
  });
  return out;
}

/**
 * Phase 2 of a BV step (decent-bva.md §3.2, §4.2): V_k = ∇_X Σ_i ⟨Ω_i, p_k(x_i)⟩ (n_s × d) as ONE
 * vector-Jacobian product. Row i is J_k(x_i)ᵀ Ω_i because examples do not interact in inference mode.
 * `omega` is n_s × C, normally `omegaFromMean(y_m)`.
 */
export function phase2Contribution(model: Model, X: Float32Array, omega: Float32Array, dropoutSeed?: number): Float32Array {
  const where = 'phase2Contribution';
  assertInferenceMode(model, where);
  const numClasses = model.spec.numClasses;
  if (omega.length % numClasses !== 0 || omega.length === 0) {
    throw new Error(`${where}: omega has ${omega.length} floats; expected n_s·C with C = ${numClasses}`);
  }
  const n = omega.length / numClasses;
  const [h, w, c] = checkInputs(model, X, n, where);
  for (let i = 0; i < omega.length; i++) {
    if (!Number.isFinite(omega[i]!)) throw new Error(`${where}: omega[${i}] = ${omega[i]}; expected a finite number (floor y_m before the log)`);
  }
  // The array is read outside the tidy: a tidy that returns a typed array walks every element looking for tensors
  // (tf-core's getTensorsInContainer), which cost as much as the gradient itself at n_s = 64.
  let V: Float32Array | undefined;
  tf.tidy(() => {
    const x = tensorFrom(X, [n, h, w, c]) as tf.Tensor4D;
    const om = tensorFrom(omega, [n, numClasses]);
    const fwd = forwardOptions(dropoutSeed);
    const objective = (xx: tf.Tensor) => tf.sum(tf.mul(om, tf.softmax(model.logits(xx as tf.Tensor4D, fwd))));
    V = toArray(tf.grad(objective)(x));
  });
  return V!;
}

/** Ω = log(max(y_m, τ)) elementwise (decent-bva.md §3.2): the phase-2 weight the coordinator broadcasts. */
export function omegaFromMean(yMean: Float32Array, tau = DEFAULT_TAU): Float32Array {
  if (!(tau > 0) || !Number.isFinite(tau)) throw new Error(`omegaFromMean: tau = ${tau}; expected a finite number > 0`);
  const out = new Float32Array(yMean.length);
  for (let i = 0; i < yMean.length; i++) {
    const y = yMean[i]!;
    if (Number.isNaN(y)) throw new Error(`omegaFromMean: yMean[${i}] = NaN`);
    out[i] = Math.log(Math.max(y, tau));
  }
  return out;
}
