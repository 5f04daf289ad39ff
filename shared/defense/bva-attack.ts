/**
 * BV-FGSM and BV-PGD, the Decent_BVA attacks that build the shared set, driven through an abstract ensemble
 * that answers the two phase sums of each BV step; and the plaintext ensemble that answers them from client
 * models in memory (comparison mode, tests).
 *
 * Paper: Zhou, Wu, Wang and He, arXiv 2009.09026 (v1 Decent_BVA, v3 Fed_BVA), as re-derived from
 * junwu6/FedBVA `models/BVDAttack.py` in docs/spec/decent-bva.md §3.4 (step rules), §4.1 (plaintext mode) and
 * §4.2 (two phases per step). The reference computes everything on the coordinator from uploaded models and has
 * no BV-PGD; here the driver sees only sums, so a secure-aggregation ensemble can replace the plaintext one
 * unchanged, and BV-PGD is the project's definition (§3.4, §9 #7).
 *
 * Phases per method (§4.2): 'fed-bias' runs phase 1 only (B, plus P for the 'ensemble' bias); 'fed-variance'
 * runs phase 1 with P only, then phase 2; 'fed-bva' runs phase 1 with P and B, then phase 2. So BV-FGSM costs
 * 2 sums (1 for 'fed-bias') and BV-PGD-L costs 2L (L for 'fed-bias').
 */
import type { Model } from '../models/model.js';
import { Rng } from '../util/random.js';
import { decodePhase1, decodePhase2, phase1Spec, phase1Values, phase2Spec, phase2Values, quantizedSum, type BvaShape } from './bva-vectors.js';
import {
  batchRange,
  bvaDirection,
  bvFgsmStep,
  bvPgdStep,
  checkMethod,
  DEFAULT_LAMBDA,
  meanPrediction,
  needsPhase2,
  pgdRandomStart,
  pgdStartRng,
  phase1Request,
  type BvaMethod,
  type PixelRange,
  type Phase1Sums,
  type Phase2Sums,
} from './bva-combine.js';
import { BIAS_OPTIONS, DEFAULT_TAU, omegaFromMean, phase1Contribution, phase2Contribution, type BiasOption, type Phase1Contribution, type Phase1Options } from './bva-stats.js';

/** Phase 1 of BV step `step` (0-based): which segments to sum. */
export interface Phase1Request extends Phase1Options {
  /** The BV step l (0 for FGSM, 0 … L−1 for PGD); a secure ensemble names the sum `bva/<l>/p1`. */
  step: number;
}

/** Phase 2 of BV step `step` (0-based). */
export interface Phase2Request {
  /** The BV step l; a secure ensemble names the sum `bva/<l>/p2`. */
  step: number;
  /**
   * Reference profile: dropout on, with masks from this seed (mixed with each client's own seed), a draw
   * separate from phase 1's. Absent: inference mode.
   */
  dropoutSeed?: number;
}

/**
 * The ensemble as the BV driver sees it: two sums per step, each with its survivor count. Implemented in
 * plaintext by `plaintextEnsemble` and, later, by secure aggregation. Phase 2's cohort is phase 1's survivors.
 */
export interface BvaEnsemble {
  /** Σ_k P_k and/or Σ_k B_k at X (n_s × d) with labels t, over the K1 survivors (`count`). */
  phase1(X: Float32Array, labels: Uint8Array, req: Phase1Request): Promise<Phase1Sums>;
  /** Σ_k V_k at X with weights Ω (n_s × C), over the K2 survivors (`count`). */
  phase2(X: Float32Array, omega: Float32Array, req: Phase2Request): Promise<Phase2Sums>;
}

/** BV-FGSM options; omitted fields take `BVA_ATTACK_DEFAULTS`. */
export interface BvFgsmConfig {
  /** Which direction (decent-bva.md §3.3). */
  method: BvaMethod;
  /** Bias gradient option; default 'mean-ce'. */
  bias?: BiasOption;
  /** Weight of the variance term for 'fed-bva' (finite); default 0.64. */
  lambda?: number;
  /** L∞ radius in pixel units ([0, 1] scale), ≥ 0; default 0.3. */
  eps?: number;
  /** Floor of y_m before the log (> 0); default 1e-6. */
  tau?: number;
  /** Clip to [0, 1] (`unit`, default) or to the clean shared set's own [min, max] (`batch`, the reference's). */
  clip?: 'unit' | 'batch';
  /**
   * Reference profile: BV statistics with dropout on, one seed per (round, step, phase) from this base, so
   * phase 1 (y_m, bias) and phase 2 (variance) use separate draws as in the reference. Absent: inference mode.
   */
  dropoutSeed?: number;
}

/** BV-PGD options; omitted fields take `BVA_ATTACK_DEFAULTS` (alpha: 2.5·eps/steps). */
export interface BvPgdConfig extends BvFgsmConfig {
  /** Steps L (integer ≥ 1); default 10. */
  steps?: number;
  /** Step size α in pixel units (> 0); default 2.5·ε/L. */
  alpha?: number;
  /** Start from clip_[0,1](x + U(−ε, ε)); default true. */
  randomStart?: boolean;
  /** Run seed of the random start (required when randomStart). */
  seed?: number;
  /** Round number (integer ≥ 1) of the random start; default 1. */
  round?: number;
}

/** Defaults of the optional BV attack fields (decent-bva.md §1 items 4, 9; §3.4). */
export const BVA_ATTACK_DEFAULTS = {
  bias: 'mean-ce' as BiasOption,
  lambda: DEFAULT_LAMBDA,
  eps: 0.3,
  tau: DEFAULT_TAU,
  steps: 10,
  randomStart: true,
  round: 1,
} as const;

/** The outcome of a BV attack on the shared set. */
export interface BvaAttackResult {
  /** The perturbed shared set x̂ (n_s × d, NHWC flattened); its labels are the clean labels t. */
  xAdv: Float32Array;
  /** The direction g of the last step (n_s × d), for logging and tests. */
  direction: Float32Array;
  /** Ensemble sums run: phase-1 sums, phase-2 sums and their total. */
  sums: { phase1: number; phase2: number; total: number };
  /** Survivor counts per step: K1 of phase 1 and, when phase 2 ran, K2. */
  survivors: { step: number; k1: number; k2?: number }[];
}

/** BV-FGSM options with every default filled in. */
export interface ResolvedBvFgsmConfig {
  method: BvaMethod;
  bias: BiasOption;
  lambda: number;
  eps: number;
  tau: number;
  clip: 'unit' | 'batch';
  dropoutSeed: number | undefined;
}

/** Validates BV-FGSM options, naming the bad field; returns them with defaults filled in. */
export function resolveBvFgsmConfig(cfg: BvFgsmConfig): ResolvedBvFgsmConfig {
  checkMethod(cfg.method, 'BV attack');
  const o: ResolvedBvFgsmConfig = {
    method: cfg.method,
    bias: cfg.bias ?? BVA_ATTACK_DEFAULTS.bias,
    lambda: cfg.lambda ?? BVA_ATTACK_DEFAULTS.lambda,
    eps: cfg.eps ?? BVA_ATTACK_DEFAULTS.eps,
    tau: cfg.tau ?? BVA_ATTACK_DEFAULTS.tau,
    clip: cfg.clip ?? 'unit',
    dropoutSeed: cfg.dropoutSeed,
  };
  if (o.clip !== 'unit' && o.clip !== 'batch') throw new Error(`BV attack: clip = "${String(o.clip)}"; expected "unit" or "batch"`);
  if (o.dropoutSeed !== undefined && !(Number.isInteger(o.dropoutSeed) && o.dropoutSeed >= 0)) throw new Error(`BV attack: dropoutSeed = ${o.dropoutSeed}; expected an integer ≥ 0`);
  if (!BIAS_OPTIONS.includes(o.bias)) throw new Error(`BV attack: bias = "${String(o.bias)}"; expected one of ${BIAS_OPTIONS.join(', ')}`);
  if (!Number.isFinite(o.lambda)) throw new Error(`BV attack: lambda = ${o.lambda}; expected a finite number`);
  if (!(o.eps >= 0) || !Number.isFinite(o.eps)) throw new Error(`BV attack: eps = ${o.eps}; expected a finite number ≥ 0`);
  if (!(o.tau > 0) || !Number.isFinite(o.tau)) throw new Error(`BV attack: tau = ${o.tau}; expected a finite number > 0`);
  return o;
}

/** BV-PGD options with every default filled in (seed stays undefined without a random start). */
export interface ResolvedBvPgdConfig extends ResolvedBvFgsmConfig {
  steps: number;
  alpha: number;
  randomStart: boolean;
  seed: number | undefined;
  round: number;
}

/** Validates BV-PGD options, naming the bad field; returns them with defaults filled in. */
export function resolveBvPgdConfig(cfg: BvPgdConfig): ResolvedBvPgdConfig {
  const base = resolveBvFgsmConfig(cfg);
  const steps = cfg.steps ?? BVA_ATTACK_DEFAULTS.steps;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`BV-PGD: steps = ${steps}; expected an integer ≥ 1`);
  const alpha = cfg.alpha ?? (2.5 * base.eps) / steps;
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`BV-PGD: alpha = ${alpha}; expected a finite number > 0 (eps must be > 0 for the default)`);
  const randomStart = cfg.randomStart ?? BVA_ATTACK_DEFAULTS.randomStart;
  const round = cfg.round ?? BVA_ATTACK_DEFAULTS.round;
  if (!Number.isInteger(round) || round < 1) throw new Error(`BV-PGD: round = ${round}; expected an integer ≥ 1`);
  if (randomStart && (cfg.seed === undefined || !Number.isFinite(cfg.seed))) {
    throw new Error(`BV-PGD: seed = ${cfg.seed}; randomStart needs the run seed (a finite number)`);
  }
  return { ...base, steps, alpha, randomStart, seed: cfg.seed, round };
}

/** Shape facts checked once per attack. */
function checkShared(X: Float32Array, labels: Uint8Array, where: string): number {
  const n = labels.length;
  if (n === 0) throw new Error(`${where}: labels is empty; the shared set needs n_s ≥ 1 examples`);
  if (X.length === 0 || X.length % n !== 0) throw new Error(`${where}: X has ${X.length} floats; expected n_s·d with n_s = ${n}`);
  for (let i = 0; i < X.length; i++) {
    const v = X[i]!;
    if (!(v >= 0 && v <= 1)) throw new Error(`${where}: X[${i}] = ${v}; expected a pixel value in [0, 1]`);
  }
  return X.length / n;
}

function checkSum(arr: Float32Array | undefined, expected: number, what: string): void {
  if (arr !== undefined && arr.length !== expected) throw new Error(`BV ensemble: ${what} has ${arr.length} floats; expected ${expected}`);
}

type Counters = { phase1: number; phase2: number; survivors: BvaAttackResult['survivors'] };

/** One BV step at the points X: phase 1, Ω, phase 2 when the method needs it, then g (decent-bva.md §4.2). */
async function bvDirectionAt(ens: BvaEnsemble, X: Float32Array, labels: Uint8Array, o: ResolvedBvFgsmConfig, step: number, c: Counters): Promise<Float32Array> {
  const n = labels.length;
  const req = phase1Request(o.method, o.bias);
  const seeds = o.dropoutSeed === undefined ? undefined : phaseDropoutSeeds(o.dropoutSeed, step);
  const p1 = await ens.phase1(X, labels, { ...req, step, ...(seeds !== undefined ? { dropoutSeed: seeds.p1 } : {}) });
  c.phase1++;
  if (req.includeP && p1.sumP === undefined) throw new Error(`BV ensemble: phase 1 of step ${step} returned no sumP`);
  if (req.includeB && p1.sumB === undefined) throw new Error(`BV ensemble: phase 1 of step ${step} returned no sumB`);
  if (p1.sumP !== undefined && p1.sumP.length % n !== 0) throw new Error(`BV ensemble: sumP has ${p1.sumP.length} floats; expected n_s·C with n_s = ${n}`);
  checkSum(p1.sumB, X.length, 'sumB');
  let p2: Phase2Sums | undefined;
  if (needsPhase2(o.method)) {
    const omega = omegaFromMean(meanPrediction(p1.sumP!, p1.count), o.tau);
    p2 = await ens.phase2(X, omega, { step, ...(seeds !== undefined ? { dropoutSeed: seeds.p2 } : {}) });
    c.phase2++;
    checkSum(p2.sumV, X.length, 'sumV');
  }
  c.survivors.push(p2 === undefined ? { step, k1: p1.count } : { step, k1: p1.count, k2: p2.count });
  return bvaDirection(labels, p1, p2, o);
}

/** Separate dropout seeds of phase 1 and phase 2 of a step (reference profile), from the attack's base seed. */
export function phaseDropoutSeeds(base: number, step: number): { p1: number; p2: number } {
  const r = new Rng(base).fork('bva/dropout').fork(step);
  return { p1: r.nextUint32() >>> 1, p2: r.nextUint32() >>> 1 };
}

/** A client's own dropout seed for a phase: the phase's seed mixed with the client's training seed of the round. */
export function clientDropoutSeed(phaseSeed: number, clientSeed: number): number {
  return new Rng(phaseSeed).fork(clientSeed >>> 0).nextUint32() >>> 1;
}

function rangeOf(X: Float32Array, o: ResolvedBvFgsmConfig): PixelRange | undefined {
  return o.clip === 'batch' ? batchRange(X) : undefined;
}

function result(xAdv: Float32Array, direction: Float32Array, c: Counters): BvaAttackResult {
  return { xAdv, direction, sums: { phase1: c.phase1, phase2: c.phase2, total: c.phase1 + c.phase2 }, survivors: c.survivors };
}

/** BV-FGSM (decent-bva.md §3.4) on the clean shared set X (n_s × d) with labels t: one BV step at X. */
export async function bvFgsm(ensemble: BvaEnsemble, X: Float32Array, labels: Uint8Array, cfg: BvFgsmConfig): Promise<BvaAttackResult> {
  const o = resolveBvFgsmConfig(cfg);
  checkShared(X, labels, 'bvFgsm');
  const c: Counters = { phase1: 0, phase2: 0, survivors: [] };
  const g = await bvDirectionAt(ensemble, X, labels, o, 0, c);
  return result(bvFgsmStep(X, g, o.eps, rangeOf(X, o)), g, c);
}

/**
 * BV-PGD (decent-bva.md §3.4): from x̂⁽⁰⁾ (the seeded random start, or X), L steps
 * x̂ ← clip_[0,1](x + clip_[−ε,ε](x̂ + α·sign(g(x̂)) − x)); every step re-evaluates the ensemble at x̂.
 */
export async function bvPgd(ensemble: BvaEnsemble, X: Float32Array, labels: Uint8Array, cfg: BvPgdConfig): Promise<BvaAttackResult> {
  const o = resolveBvPgdConfig(cfg);
  checkShared(X, labels, 'bvPgd');
  const c: Counters = { phase1: 0, phase2: 0, survivors: [] };
  let xHat = o.randomStart ? pgdRandomStart(X, o.eps, pgdStartRng(o.seed!, o.round)) : X.slice();
  let g: Float32Array = new Float32Array(X.length);
  const range = rangeOf(X, o);
  for (let step = 0; step < o.steps; step++) {
    g = await bvDirectionAt(ensemble, xHat, labels, o, step, c);
    xHat = bvPgdStep(X, xHat, g, o.eps, o.alpha, range);
  }
  return result(xHat, g, c);
}

/** A survivor set: client indices, fixed or per BV step. */
export type SurvivorSpec = readonly number[] | ((step: number) => readonly number[]);

/** Injected survivor sets for `plaintextEnsemble` (to replay a secure-mode dropout pattern, decent-bva.md §4.1). */
export interface PlaintextSurvivors {
  /** Clients that answer phase 1 (indices into `models`); default all. */
  phase1?: SurvivorSpec;
  /** Clients that answer phase 2; must be a subset of that step's phase-1 survivors; default those survivors. */
  phase2?: SurvivorSpec;
}

function resolveSurvivors(spec: SurvivorSpec | undefined, step: number, fallback: readonly number[], limit: readonly number[], what: string): number[] {
  const s = spec === undefined ? fallback : typeof spec === 'function' ? spec(step) : spec;
  if (s.length === 0) throw new Error(`plaintextEnsemble: ${what} survivors of step ${step} are empty; a sum needs at least one client`);
  const seen = new Set<number>();
  for (const k of s) {
    if (!limit.includes(k)) throw new Error(`plaintextEnsemble: ${what} survivor ${k} of step ${step} is not in the cohort [${limit.join(', ')}]`);
    if (seen.has(k)) throw new Error(`plaintextEnsemble: ${what} survivor ${k} of step ${step} is listed twice`);
    seen.add(k);
  }
  return [...s];
}

/** The shared set's shape as the BV vector layouts need it. */
function shapeOf(model: Model, X: Float32Array, labels: Uint8Array): BvaShape {
  return { ns: labels.length, classes: model.spec.numClasses, inputSize: X.length / labels.length };
}

/** Whether every value of a contribution (absent counts as finite) is finite. */
function allFinite(v: Float32Array | undefined): boolean {
  if (v === undefined) return true;
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/** Sums float32 contributions in float64, in survivor order, then rounds once to float32. */
function sumInto(acc: Float64Array | undefined, v: Float32Array): Float64Array {
  const a = acc ?? new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) a[i] = a[i]! + v[i]!;
  return a;
}

/** Options of the plaintext ensemble. */
export interface PlaintextEnsembleOptions {
  /**
   * Tests only (decent-bva.md §4.1): sum through the secure path's quantiser (half-up rounding, R for cohorts of
   * up to `nMax`) instead of in float, so the result equals a secure-mode run bit for bit.
   */
  emulateQuantization?: { nMax: number };
  /**
   * Each model's training seed of the round (the seed a client mixes into a reference-profile dropout seed);
   * default the model's index. Only used when a phase asks for dropout.
   */
  clientSeeds?: readonly number[];
}

/**
 * The plaintext ensemble (decent-bva.md §4.1): each survivor's contribution is computed on its model with the
 * same `bva-stats` functions a client runs in secure mode, summed in float64 and rounded once to float32.
 * A model whose contribution is not finite (a corrupted upload of huge weights: its softmax overflows) is left out
 * of that step's sums, as a client in secure mode could not encode such an input, and phase 2 of the step runs
 * over the models phase 1 kept; only a step whose every model is left out is an error. The caller owns the models
 * (they are not disposed).
 */
export function plaintextEnsemble(models: readonly Model[], survivors: PlaintextSurvivors = {}, options: PlaintextEnsembleOptions = {}): BvaEnsemble {
  if (models.length === 0) throw new Error('plaintextEnsemble: models is empty; the ensemble needs at least one client');
  const all = models.map((_, k) => k);
  if (options.clientSeeds !== undefined && options.clientSeeds.length !== models.length) throw new Error(`plaintextEnsemble: ${options.clientSeeds.length} client seeds for ${models.length} models`);
  const seedOf = (k: number): number => options.clientSeeds?.[k] ?? k;
  // A phase's dropout seed becomes each client's own, as a client in secure mode derives it.
  const own = <R extends { dropoutSeed?: number }>(req: R, k: number): R => (req.dropoutSeed === undefined ? req : { ...req, dropoutSeed: clientDropoutSeed(req.dropoutSeed, seedOf(k)) });
  // Phase 2's cohort is the phase-1 survivors of the same step.
  const phase1Survivors = new Map<number, number[]>();
  return {
    async phase1(X, labels, req) {
      const survived = resolveSurvivors(survivors.phase1, req.step, all, all, 'phase-1');
      const kept: number[] = [];
      const contributions: Phase1Contribution[] = [];
      for (const k of survived) {
        const c = phase1Contribution(models[k]!, X, labels, own(req, k));
        if (!allFinite(c.P) || !allFinite(c.B)) continue;
        kept.push(k);
        contributions.push(c);
      }
      if (kept.length === 0) throw new Error(`plaintextEnsemble: step ${req.step}: every model's phase-1 statistics are non-finite`);
      phase1Survivors.set(req.step, kept);
      const q = options.emulateQuantization;
      if (q !== undefined) {
        const spec = phase1Spec(shapeOf(models[0]!, X, labels), req, q.nMax);
        const inputs = contributions.map((c) => phase1Values(c, spec));
        const { clipped: _clipped, ...sums } = decodePhase1(spec, quantizedSum(spec, inputs), kept.length);
        return sums;
      }
      let sumP: Float64Array | undefined;
      let sumB: Float64Array | undefined;
      for (const c of contributions) {
        if (c.P !== undefined) sumP = sumInto(sumP, c.P);
        if (c.B !== undefined) sumB = sumInto(sumB, c.B);
      }
      return {
        ...(sumP === undefined ? {} : { sumP: Float32Array.from(sumP) }),
        ...(sumB === undefined ? {} : { sumB: Float32Array.from(sumB) }),
        count: kept.length,
      };
    },
    async phase2(X, omega, req) {
      const u1 = phase1Survivors.get(req.step);
      if (u1 === undefined) throw new Error(`plaintextEnsemble: phase 2 of step ${req.step} before its phase 1`);
      const u2 = resolveSurvivors(survivors.phase2, req.step, u1, u1, 'phase-2');
      const contributions = u2.map((k) => phase2Contribution(models[k]!, X, omega, own(req, k).dropoutSeed)).filter((v) => allFinite(v));
      if (contributions.length === 0) throw new Error(`plaintextEnsemble: step ${req.step}: every model's phase-2 statistics are non-finite`);
      const q = options.emulateQuantization;
      if (q !== undefined) {
        const spec = phase2Spec(shapeOf(models[0]!, X, new Uint8Array(omega.length / models[0]!.spec.numClasses)), q.nMax);
        const { clipped: _clipped, ...sums } = decodePhase2(
          spec,
          quantizedSum(
            spec,
            contributions.map((v) => phase2Values(v)),
          ),
          contributions.length,
        );
        return sums;
      }
      let sumV: Float64Array | undefined;
      for (const v of contributions) sumV = sumInto(sumV, v);
      return { sumV: Float32Array.from(sumV!), count: contributions.length };
    },
  };
}
