/**
 * Coordinator-side Decent_BVA: the BV direction g from the phase SUMS only, and the BV-FGSM / BV-PGD step rules.
 *
 * Paper: Zhou, Wu, Wang and He, arXiv 2009.09026 (v1 "Robust Decentralized Learning for Neural Networks",
 * Decent_BVA; v3 CIKM 2022, Fed_BVA), as re-derived from junwu6/FedBVA `models/BVDAttack.py` in
 * docs/spec/decent-bva.md §3.2–§3.4 and §4.2–§4.3.
 *
 * Ambiguities resolved here:
 * - Scaling: both terms are per example and g = ∇B + λ·∇V with λ = 0.64 by default, which has the sign of the
 *   reference's (1/64)·∇B + 0.01·∇V (mean-reduced bias over 64 examples, unreduced variance; §3.3).
 * - Dropouts between phases: y_m and ∇B are normalised by phase 1's survivor count K1, ∇V by phase 2's K2 (§4.3).
 * - BV-PGD does not exist in the reference; its start, step and projection are the project's (§3.4, §9 #7).
 * - Pixels are clipped to [0, 1] (§9 #8); the `reference` profile passes the clean batch's [min, max] as the
 *   range instead, as the reference clamps (`PixelRange`).
 *
 * Everything here works on plain Float32Arrays (no tensors): it runs on the coordinator, which never holds a
 * client model. Arithmetic is in float64; every array it produces (y_m, ∇B, ∇V, g, x̂) is stored as float32.
 */
import { PIXEL_MAX, PIXEL_MIN } from '../attacks/pgd.js';
import { Rng } from '../util/random.js';
import { BIAS_OPTIONS, DEFAULT_TAU, type BiasOption, type Phase1Options } from './bva-stats.js';

/** The Decent_BVA methods that perturb the shared set with a BV attack (decent-bva.md §2). */
export type BvaMethod = 'fed-bva' | 'fed-bias' | 'fed-variance';

/** The BV methods, for validation. */
export const BVA_METHODS: readonly BvaMethod[] = ['fed-bva', 'fed-bias', 'fed-variance'];

/** Default weight of the variance term in g = ∇B + λ·∇V (decent-bva.md §3.3: the reference's c2·n_s = 0.01·64). */
export const DEFAULT_LAMBDA = 0.64;

/** The result of a phase-1 sum: ΣP and/or ΣB over the K1 survivors. */
export interface Phase1Sums {
  /** Σ_k P_k, n_s × C (present when phase 1 carried P). */
  sumP?: Float32Array;
  /** Σ_k B_k, n_s × d (present when phase 1 carried B). */
  sumB?: Float32Array;
  /** K1, the number of clients in the sum (≥ 1). */
  count: number;
}

/** The result of a phase-2 sum: ΣV over the K2 survivors. */
export interface Phase2Sums {
  /** Σ_k V_k, n_s × d. */
  sumV: Float32Array;
  /** K2, the number of clients in the sum (≥ 1). */
  count: number;
}

/** What g needs besides the sums. */
export interface DirectionOptions {
  /** Which combination (decent-bva.md §3.3). */
  method: BvaMethod;
  /** Bias option (decent-bva.md §3.2); default 'mean-ce'. */
  bias?: BiasOption;
  /** Weight of the variance term for 'fed-bva' (any finite number); default 0.64. */
  lambda?: number;
  /** Floor of y_m,t in the 'ensemble' bias division; default 1e-6 (as for Ω). */
  tau?: number;
}

/** The segments phase 1 must carry for a method (decent-bva.md §4.2, "Phases per method"). */
export function phase1Request(method: BvaMethod, bias: BiasOption): Phase1Options {
  checkMethod(method, 'phase1Request');
  checkBias(bias, 'phase1Request');
  switch (method) {
    case 'fed-bias':
      // 'ensemble' divides by y_m,t, so it needs P too.
      return { bias, includeP: bias === 'ensemble', includeB: true };
    case 'fed-variance':
      return { bias, includeP: true, includeB: false };
    case 'fed-bva':
      return { bias, includeP: true, includeB: true };
  }
}

/** True when the method runs phase 2 (every method but 'fed-bias'). */
export function needsPhase2(method: BvaMethod): boolean {
  checkMethod(method, 'needsPhase2');
  return method !== 'fed-bias';
}

/** The secure-sum name of phase `phase` of BV step `step` (0-based), as decent-bva.md §4.2 names them. */
export function bvaSumName(step: number, phase: 1 | 2): string {
  return `bva/${step}/p${phase}`;
}

/** y_m = ΣP / K1 (n_s × C). */
export function meanPrediction(sumP: Float32Array, count: number): Float32Array {
  checkCount(count, 'meanPrediction: count');
  const out = new Float32Array(sumP.length);
  for (let i = 0; i < sumP.length; i++) out[i] = sumP[i]! / count;
  return out;
}

/**
 * ∇B (n_s × d): ΣB / K1 for 'mean-ce'; −ΣB_i / (K1·max(y_m,t_i, τ)) for 'ensemble' (decent-bva.md §4.2). The
 * floor is ours: without it an underflowed y_m,t would turn row i into ±∞ or NaN.
 */
export function biasGradient(sumB: Float32Array, count: number, bias: BiasOption, ctx: { labels: Uint8Array; yMean?: Float32Array; tau?: number }): Float32Array {
  checkCount(count, 'biasGradient: count');
  checkBias(bias, 'biasGradient');
  const n = ctx.labels.length;
  if (n === 0 || sumB.length % n !== 0) throw new Error(`biasGradient: sumB has ${sumB.length} floats; expected a multiple of n_s = ${n}`);
  const d = sumB.length / n;
  const out = new Float32Array(sumB.length);
  if (bias === 'mean-ce') {
    for (let j = 0; j < sumB.length; j++) out[j] = sumB[j]! / count;
    return out;
  }
  const y = ctx.yMean;
  if (y === undefined) throw new Error("biasGradient: bias = 'ensemble' needs yMean (phase 1 must carry P)");
  if (y.length % n !== 0) throw new Error(`biasGradient: yMean has ${y.length} floats; expected n_s·C with n_s = ${n}`);
  const numClasses = y.length / n;
  const tau = ctx.tau ?? DEFAULT_TAU;
  for (let i = 0; i < n; i++) {
    const t = ctx.labels[i]!;
    if (t >= numClasses) throw new Error(`biasGradient: labels[${i}] = ${t}; expected < C = ${numClasses}`);
    const scale = -1 / (count * Math.max(y[i * numClasses + t]!, tau));
    for (let j = i * d; j < (i + 1) * d; j++) out[j] = sumB[j]! * scale;
  }
  return out;
}

/** ∇V = −ΣV / K2 (n_s × d), the gradient of the entropy of y_m (decent-bva.md §3.2). */
export function varianceGradient(sumV: Float32Array, count: number): Float32Array {
  checkCount(count, 'varianceGradient: count');
  const out = new Float32Array(sumV.length);
  for (let i = 0; i < sumV.length; i++) out[i] = -sumV[i]! / count;
  return out;
}

/**
 * The BV direction g (n_s × d) from the sums: ∇B + λ·∇V ('fed-bva'), ∇B ('fed-bias') or ∇V ('fed-variance').
 * Each quantity is normalised by its own survivor count (K1 for y_m and ∇B, K2 for ∇V).
 */
export function bvaDirection(labels: Uint8Array, p1: Phase1Sums, p2: Phase2Sums | undefined, opts: DirectionOptions): Float32Array {
  const method = opts.method;
  const bias = opts.bias ?? 'mean-ce';
  const lambda = opts.lambda ?? DEFAULT_LAMBDA;
  checkMethod(method, 'bvaDirection');
  checkBias(bias, 'bvaDirection');
  if (!Number.isFinite(lambda)) throw new Error(`bvaDirection: lambda = ${lambda}; expected a finite number`);
  const req = phase1Request(method, bias);
  if (req.includeP && p1.sumP === undefined) throw new Error(`bvaDirection: method ${method} with bias ${bias} needs sumP from phase 1`);
  if (req.includeB && p1.sumB === undefined) throw new Error(`bvaDirection: method ${method} needs sumB from phase 1`);
  if (needsPhase2(method) && p2 === undefined) throw new Error(`bvaDirection: method ${method} needs the phase-2 sum`);
  const yMean = p1.sumP === undefined ? undefined : meanPrediction(p1.sumP, p1.count);
  const gB = req.includeB ? biasGradient(p1.sumB!, p1.count, bias, { labels, yMean, tau: opts.tau }) : undefined;
  const gV = needsPhase2(method) ? varianceGradient(p2!.sumV, p2!.count) : undefined;
  if (method === 'fed-bias') return gB!;
  if (method === 'fed-variance') return gV!;
  if (gB!.length !== gV!.length) throw new Error(`bvaDirection: sumB has ${gB!.length} floats but sumV has ${gV!.length}`);
  const g = new Float32Array(gB!.length);
  for (let i = 0; i < g.length; i++) g[i] = gB![i]! + lambda * gV![i]!;
  return g;
}

/** sign with sign(0) = 0 (a coordinate with zero gradient does not move, decent-bva.md §3.4). */
function sign(v: number): number {
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

/** The range perturbed pixels are clipped to: [0, 1] by default; the clean batch's [min, max] in the reference profile. */
export interface PixelRange {
  min: number;
  max: number;
}

/** The valid pixel range [0, 1]. */
export const UNIT_RANGE: PixelRange = { min: PIXEL_MIN, max: PIXEL_MAX };

/** The batch's own [min, max] (the reference's `torch.clamp(x_adv, x.min(), x.max())`). */
export function batchRange(x: ArrayLike<number>): PixelRange {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(min <= max)) throw new Error('batchRange: empty batch');
  return { min, max };
}

/** BV-FGSM (decent-bva.md §3.4): x̂ = clip_[0,1](x + ε·sign(g)), sign(0) = 0; `range` replaces [0, 1]. */
export function bvFgsmStep(x: Float32Array, g: Float32Array, eps: number, range: PixelRange = UNIT_RANGE): Float32Array {
  checkEps(eps, 'bvFgsmStep');
  checkSameLength(x, g, 'bvFgsmStep', 'g');
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.min(Math.max(x[i]! + eps * sign(g[i]!), range.min), range.max);
  }
  return out;
}

/**
 * One BV-PGD step (decent-bva.md §3.4): clip_[0,1](x + clip_[−ε,ε](x̂ + α·sign(g) − x)). Computed as one clamp of
 * x̂ + α·sign(g) between max(x − ε, 0) and min(x + ε, 1), the same set since x ∈ [0, 1]; this form never
 * forms (x + δ) − x, so with x̂ = x and α = ε it rounds exactly as `bvFgsmStep` does.
 */
export function bvPgdStep(x: Float32Array, xHat: Float32Array, g: Float32Array, eps: number, alpha: number, range: PixelRange = UNIT_RANGE): Float32Array {
  checkEps(eps, 'bvPgdStep');
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`bvPgdStep: alpha = ${alpha}; expected a finite number > 0`);
  checkSameLength(x, xHat, 'bvPgdStep', 'xHat');
  checkSameLength(x, g, 'bvPgdStep', 'g');
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const lo = Math.max(x[i]! - eps, range.min);
    const hi = Math.min(x[i]! + eps, range.max);
    out[i] = Math.min(Math.max(xHat[i]! + alpha * sign(g[i]!), lo), hi);
  }
  return out;
}

/**
 * The random-start generator of BV-PGD for a round: `new Rng(runSeed).fork('bva/pgd-start').fork(round)`.
 * It depends only on the run seed and the round number (decent-bva.md §3.4), so plaintext and secure mode, and
 * every method of a comparison, start from the same point; the coordinator draws it, clients never do (§10).
 */
export function pgdStartRng(runSeed: number, round: number): Rng {
  if (!Number.isInteger(round) || round < 1) throw new Error(`pgdStartRng: round = ${round}; expected an integer ≥ 1 (rounds count from 1)`);
  return new Rng(runSeed).fork('bva/pgd-start').fork(round);
}

/**
 * The BV-PGD start x̂⁽⁰⁾ = clip_[0,1](x + U(−ε, ε)^d), one draw per coordinate in array order (example-major,
 * NHWC), U = ε·(2·rng.float() − 1).
 */
export function pgdRandomStart(x: Float32Array, eps: number, rng: Rng): Float32Array {
  checkEps(eps, 'pgdRandomStart');
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.min(Math.max(x[i]! + eps * (2 * rng.float() - 1), PIXEL_MIN), PIXEL_MAX);
  }
  return out;
}

/** Throws unless `method` is a BV method. */
export function checkMethod(method: string, where: string): asserts method is BvaMethod {
  if (!(BVA_METHODS as readonly string[]).includes(method)) {
    throw new Error(`${where}: method = "${method}"; expected one of ${BVA_METHODS.join(', ')}`);
  }
}

function checkBias(bias: string, where: string): void {
  if (!(BIAS_OPTIONS as readonly string[]).includes(bias)) {
    throw new Error(`${where}: bias = "${bias}"; expected one of ${BIAS_OPTIONS.join(', ')}`);
  }
}

function checkCount(count: number, what: string): void {
  if (!Number.isInteger(count) || count < 1) throw new Error(`${what} = ${count}; expected an integer ≥ 1 (survivors of the sum)`);
}

function checkEps(eps: number, where: string): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${where}: eps = ${eps}; expected a finite number ≥ 0`);
}

function checkSameLength(x: Float32Array, other: Float32Array, where: string, name: string): void {
  if (other.length !== x.length) throw new Error(`${where}: ${name} has ${other.length} floats; x has ${x.length}`);
}
