/**
 * Adaptive Byzantine attacks (threats-and-evaluation.md §3, "Adaptive attacks"): behaviours that look at the
 * round's honest updates *and* the aggregation rule in use before choosing what to send. Simulation-only, like
 * the honest oracle they read (nothing under server/ or client/ imports this); the aggregation rule is the
 * coordinator's own, called through server/robust-aggregators.ts, so the attacker's forecast of the aggregate is
 * the rule's real output on the updates it will receive.
 *
 * - **Opt-ALIE / Opt-IPM** (ByzFL's optimised ALIE and IPM, LPD-EPFL/byzfl `attack_optimizers.LineMaximize`):
 *   every corrupted client sends the same vector v(x), ALIE's μ + x·σ or IPM's −x·mean(honest); the strength x is
 *   chosen to maximise ‖agg(honest ∪ f copies of v(x)) − mean(honest)‖₂, the distance between the aggregate the
 *   coordinator will compute and the honest mean. Resolutions:
 *   - The search is ours, not ByzFL's expand-then-contract line search: a geometric grid over [0, max]
 *     (max·2⁻ᵏ), the point 0 and the fixed behaviour's default strength (ALIE z = 1.5, IPM ε = 0.1, clamped to
 *     max), then a golden-section refinement of the bracket around the best grid point with the remaining
 *     evaluations. The best point seen is kept (ties go to the smaller strength), so the result is never worse,
 *     by the objective, than the fixed-strength attack at its default, nor than any grid point; the objective of
 *     the rules is not unimodal (order statistics and Krum's selection jump), so no search of a few dozen points
 *     is exact.
 *   - The strength is bounded by `zMax` / `epsMax`: against the plain mean the objective grows without bound,
 *     so the search ends at the bound there.
 *   - The aggregate is forecast over the honest updates the oracle saw plus f identical copies (f = the round's
 *     corrupted clients), every client assumed to deliver. Grouped secure aggregation is forecast with the
 *     coordinator's own seeded split (`splitGroups` with the run seed and the round) and plain group means;
 *     the quantiser's rounding and its per-coordinate clip are not modelled.
 *   - A rule that is undefined for the round (Krum with m ≤ 2f + 2, say) throws for every candidate; the attack
 *     then sends the fixed behaviour's default strength (the real round aborts at `aggregate` anyway).
 * - **Mimic** (Karimireddy, He, Jaggi, "Byzantine-Robust Learning on Heterogeneous Datasets via Bucketing",
 *   ICLR 2022, §3 and the authors' `MimicVariantAttacker`, epfml/byzantine-robust-noniid-optimizer): every
 *   corrupted client sends an exact copy of one honest client's update, the honest client that sticks out most
 *   along the top principal direction z of the honest updates, which over-weights that client's data and
 *   starves the rest. z is estimated during a warm-up of `warmup` rounds by an online power iteration on the
 *   centred honest updates around their running mean μ (z₀ a seeded N(0, I) draw, one power step on round 1;
 *   afterwards z ← (t·z + ẑ/‖ẑ‖)/(t + 1), normalised, with ẑ = Σᵢ ((hᵢ − μ)·z)(hᵢ − μ)). In a warm-up round the
 *   target is argmaxᵢ hᵢ·z of that round (the authors' code, signed, not ByzFL's |hᵢ·z|); after the warm-up the
 *   last target is kept. Resolution for cross-device cohorts (a fresh cohort each round, which the paper's
 *   full-participation setting never meets): when the kept target is not among the round's honest clients,
 *   the round's argmaxᵢ hᵢ·z with the frozen z is copied instead (recorded as `fallback`), and the kept target
 *   is unchanged. The warm-up counts rounds in which the attackers act (rounds without a corrupted client or
 *   without an honest one are not seen).
 */
import type { AggregationConfig } from '../../shared/federated/aggregation.js';
import { Rng } from '../../shared/util/random.js';
import { aggregatePlaintext, combineAcross, splitGroups } from '../../server/robust-aggregators.js';
import { dot, l2Distance, meanAndStd, meanOfVectors } from './stats.js';
import type { MimicSpec, OptAlieSpec, OptIpmSpec } from './spec.js';

/** The adaptive behaviours. */
export type AdaptiveSpec = MimicSpec | OptAlieSpec | OptIpmSpec;

/** What an adaptive attacker sees of one round (the simulation-only oracle plus the corruption plan). */
export interface AdaptiveRound {
  /** The round number (≥ 1); grouped aggregation's split depends on it. */
  round: number;
  /** The round's honest updates Δ = w_trained − w_global, in `honestIds` order (at least one). */
  honest: readonly Float32Array[];
  /** The honest clients' ids, one per update. */
  honestIds: readonly string[];
  /** The round's corrupted clients' ids (at least one): f copies of the malicious vector are forecast. */
  corruptedIds: readonly string[];
}

/** What an adaptive attacker decided in a round (recorded as `adversary` in rounds.jsonl, less `update`). */
export interface AdaptiveChoice {
  kind: AdaptiveSpec['kind'];
  /** The update every corrupted client sends this round. */
  update: Float32Array;
  /** Opt-ALIE's z or Opt-IPM's ε chosen. */
  factor?: number;
  /** Opt-*: the forecast ‖aggregate − mean(honest)‖₂ at `factor` (update units). */
  distance?: number;
  /** Opt-*: the aggregator evaluations spent. */
  evaluations?: number;
  /** Opt-*: true when every candidate made the rule throw and the default strength was sent. */
  fellBack?: boolean;
  /** Mimic: the honest client copied. */
  target?: string;
  /** Mimic: `warmup` (z still learnt; the target is this round's argmax), `fixed` (the kept target), `fallback`. */
  phase?: 'warmup' | 'fixed' | 'fallback';
}

/** An `AdaptiveChoice` without the vector, as rounds.jsonl records it. */
export type AdaptiveRecord = Omit<AdaptiveChoice, 'update'>;

/** The default strengths of the fixed-strength attacks, always among Opt-*'s candidates. */
export const FIXED_ALIE_Z = 1.5;
export const FIXED_IPM_EPS = 0.1;

/**
 * The aggregate the coordinator computes from `honest` plus f = `corruptedIds.length` copies of `malicious`,
 * with the rule `aggregation` (defaults filled, as the coordinator resolved it). `grouped` forecasts the
 * coordinator's seeded split of all m = honest + corrupted members with the run `seed`, g = min(groups, ⌊m/3⌋),
 * the plain mean of each group and `combineAcross`.
 */
export function forecastAggregate(aggregation: AggregationConfig, r: AdaptiveRound, malicious: Float32Array, seed: number): Float32Array {
  const f = r.corruptedIds.length;
  if (aggregation.rule !== 'grouped') {
    const updates: Float32Array[] = [...r.honest];
    for (let i = 0; i < f; i++) updates.push(malicious);
    // The coordinator's context as far as an attacker can know it: the run seed and round (bucketing's shuffle)
    // and the ids (FoolsGold). A rule's state and FLTrust's / MoNNA's root update are the server's own: without
    // them a stateful rule is forecast as in its first round, and a root-based rule throws, so the attack falls
    // back to its default strength.
    const ids = [...r.honestIds, ...r.corruptedIds];
    return aggregatePlaintext(aggregation, updates, { seed, round: r.round, ids }).update;
  }
  const byId = new Map<string, Float32Array>();
  r.honestIds.forEach((id, i) => byId.set(id, r.honest[i]!));
  for (const id of r.corruptedIds) byId.set(id, malicious);
  const members = [...byId.keys()];
  const g = Math.min(aggregation.groups, Math.floor(members.length / 3));
  if (g < 1) throw new RangeError(`forecastAggregate: ${members.length} members cannot form a group of 3`);
  const means = splitGroups(seed, r.round, members, g).map((ids) => Float32Array.from(meanOfVectors(ids.map((id) => byId.get(id)!))));
  return combineAcross(aggregation.across, means, aggregation.beta, { seed, round: r.round });
}

/** Options of `maximizeStrength`. */
export interface StrengthSearch {
  /** The upper end of the strengths searched, [0, max] (> 0). */
  max: number;
  /** The objective evaluations allowed (integer ≥ 4). */
  evals: number;
  /** A strength always evaluated (the fixed attack's default), clamped into [0, max]. */
  fixed: number;
}

/** The best strength found, its objective, and the evaluations spent; `factor` is `undefined` if all threw. */
export interface StrengthResult {
  factor: number | undefined;
  value: number;
  evaluations: number;
}

const INV_PHI = (Math.sqrt(5) - 1) / 2;

/**
 * Maximises `objective` over [0, max] with at most `evals` evaluations: a geometric grid {0, max·2⁻ᵏ} plus the
 * fixed point (about half the budget), then golden-section search on the bracket between the best grid point's
 * neighbours. Deterministic; keeps the best point ever evaluated (ties to the smaller strength). An evaluation
 * that throws counts as −∞.
 */
export function maximizeStrength(objective: (x: number) => number, opts: StrengthSearch): StrengthResult {
  const { max, evals } = opts;
  if (!(Number.isFinite(max) && max > 0)) throw new RangeError(`maximizeStrength: max must be a finite number > 0, got ${max}`);
  if (!(Number.isInteger(evals) && evals >= 4)) throw new RangeError(`maximizeStrength: evals must be an integer ≥ 4, got ${evals}`);
  let used = 0;
  let best: number | undefined;
  let bestValue = -Infinity;
  const evaluate = (x: number): number => {
    used++;
    let v: number;
    try {
      v = objective(x);
    } catch {
      v = -Infinity;
    }
    if (Number.isNaN(v)) v = -Infinity;
    if (v > -Infinity && (v > bestValue || (v === bestValue && x < best!))) {
      best = x;
      bestValue = v;
    }
    return v;
  };
  const coarse = Math.max(2, Math.floor(evals / 2) - 2);
  const grid = [0, Math.min(Math.max(opts.fixed, 0), max)];
  for (let k = 0; k < coarse; k++) grid.push(max / 2 ** k);
  const points = [...new Set(grid)].sort((a, b) => a - b);
  const values = points.map(evaluate);
  let bi = 0;
  for (let i = 1; i < points.length; i++) if (values[i]! > values[bi]!) bi = i;
  let a = points[Math.max(0, bi - 1)]!;
  let b = points[Math.min(points.length - 1, bi + 1)]!;
  if (b > a && used < evals) {
    let c = b - INV_PHI * (b - a);
    let d = a + INV_PHI * (b - a);
    let fc = evaluate(c);
    let fd = used < evals ? evaluate(d) : -Infinity;
    while (used < evals) {
      if (fc >= fd) {
        b = d;
        d = c;
        fd = fc;
        c = b - INV_PHI * (b - a);
        fc = evaluate(c);
      } else {
        a = c;
        c = d;
        fc = fd;
        d = a + INV_PHI * (b - a);
        fd = evaluate(d);
      }
    }
  }
  return { factor: best, value: bestValue, evaluations: used };
}

/** ALIE's vector μ + z·σ over the honest updates (population σ), rounded to float32 once per coordinate. */
export function alieVector(mu: Float64Array, sigma: Float64Array, z: number): Float32Array {
  const out = new Float32Array(mu.length);
  for (let j = 0; j < out.length; j++) out[j] = mu[j]! + z * sigma[j]!;
  return out;
}

/** IPM's vector −ε·mean(honest). */
export function ipmVector(mean: Float64Array, eps: number): Float32Array {
  const out = new Float32Array(mean.length);
  for (let j = 0; j < out.length; j++) out[j] = -eps * mean[j]!;
  return out;
}

/** Opt-ALIE or Opt-IPM for one round: the strength that maximises the forecast distance, and the vector. */
export function optimizeStrength(spec: OptAlieSpec | OptIpmSpec, aggregation: AggregationConfig, r: AdaptiveRound, seed: number): AdaptiveChoice {
  checkRound(r);
  const { mu, sigma } = meanAndStd(r.honest);
  const vector = spec.kind === 'opt-alie' ? (x: number) => alieVector(mu, sigma, x) : (x: number) => ipmVector(mu, x);
  const fixed = spec.kind === 'opt-alie' ? FIXED_ALIE_Z : FIXED_IPM_EPS;
  const max = spec.kind === 'opt-alie' ? spec.zMax : spec.epsMax;
  const found = maximizeStrength((x) => l2Distance(forecastAggregate(aggregation, r, vector(x), seed), mu), { max, evals: spec.evals, fixed });
  const factor = found.factor ?? Math.min(fixed, max);
  return {
    kind: spec.kind,
    update: vector(factor),
    factor,
    ...(found.factor !== undefined ? { distance: found.value } : {}),
    evaluations: found.evaluations,
    ...(found.factor === undefined ? { fellBack: true } : {}),
  };
}

/** Mimic's state across rounds: the running mean μ, the direction z, the rounds seen t and the kept target. */
export class MimicTracker {
  private t = 0;
  private mu: Float64Array | undefined;
  private z: Float64Array | undefined;
  private target: string | undefined;

  constructor(
    /** Warm-up rounds (≥ 1) during which z is learnt and the target is each round's argmax. */
    private readonly warmup: number,
    /** The draw of z₀. */
    private readonly rng: Rng,
  ) {
    if (!(Number.isInteger(warmup) && warmup >= 1)) throw new RangeError(`MimicTracker: warmup must be an integer ≥ 1, got ${warmup}`);
  }

  /** The rounds seen so far. */
  get rounds(): number {
    return this.t;
  }

  /** The current direction z (a copy), once a round has been seen. */
  direction(): Float64Array | undefined {
    return this.z?.slice();
  }

  /** Sees one round's honest updates and returns the index (into `honest`) of the client to copy, and why. */
  choose(honest: readonly Float32Array[], ids: readonly string[]): { index: number; phase: 'warmup' | 'fixed' | 'fallback' } {
    if (honest.length === 0 || honest.length !== ids.length) throw new RangeError(`MimicTracker: need one id per honest update and at least one, got ${honest.length} updates, ${ids.length} ids`);
    const d = honest[0]!.length;
    const mean = meanOfVectors(honest);
    const t = this.t;
    if (t === 0) {
      this.mu = mean;
      const z0 = new Float64Array(d);
      for (let j = 0; j < d; j++) z0[j] = this.rng.normal();
      this.z = normalised(this.powerStep(honest, z0)) ?? normalised(z0)!;
    } else if (t < this.warmup) {
      const mu = this.mu!;
      for (let j = 0; j < d; j++) mu[j] = (t / (t + 1)) * mu[j]! + mean[j]! / (t + 1);
      const step = normalised(this.powerStep(honest, this.z!));
      if (step !== undefined) {
        const z = this.z!;
        for (let j = 0; j < d; j++) z[j] = (t / (t + 1)) * z[j]! + step[j]! / (t + 1);
        this.z = normalised(z) ?? z;
      }
    }
    this.t++;
    const argmax = (): number => {
      let bi = 0;
      let bv = -Infinity;
      honest.forEach((h, i) => {
        const v = dot(h, this.z!);
        if (v > bv) {
          bv = v;
          bi = i;
        }
      });
      return bi;
    };
    if (t < this.warmup) {
      const index = argmax();
      this.target = ids[index]!;
      return { index, phase: 'warmup' };
    }
    const kept = ids.indexOf(this.target!);
    return kept >= 0 ? { index: kept, phase: 'fixed' } : { index: argmax(), phase: 'fallback' };
  }

  /** Σᵢ ((hᵢ − μ)·z)(hᵢ − μ). */
  private powerStep(honest: readonly Float32Array[], z: Float64Array): Float64Array {
    const mu = this.mu!;
    const out = new Float64Array(mu.length);
    const dev = new Float64Array(mu.length);
    for (const h of honest) {
      for (let j = 0; j < dev.length; j++) dev[j] = h[j]! - mu[j]!;
      const w = dot(dev, z);
      for (let j = 0; j < dev.length; j++) out[j] = out[j]! + w * dev[j]!;
    }
    return out;
  }
}

function normalised(v: Float64Array): Float64Array | undefined {
  const n = Math.sqrt(dot(v, v));
  if (!(n > 0 && Number.isFinite(n))) return undefined;
  for (let j = 0; j < v.length; j++) v[j] = v[j]! / n;
  return v;
}

function checkRound(r: AdaptiveRound): void {
  if (r.honest.length === 0) throw new Error(`round ${r.round}: an adaptive attack needs at least one honest update`);
  if (r.honestIds.length !== r.honest.length) throw new RangeError(`round ${r.round}: ${r.honest.length} honest updates but ${r.honestIds.length} ids`);
  if (r.corruptedIds.length === 0) throw new RangeError(`round ${r.round}: an adaptive attack needs at least one corrupted client`);
}

/**
 * A run's adaptive adversary: the aggregation rule in use and the run seed (the omniscient view the honest
 * oracle does not carry), Mimic's state across rounds, and one decision per round that every corrupted client
 * of the round sends (computed by the first to ask, then memoised).
 */
export class AdaptiveAdversary {
  private mimic: MimicTracker | undefined;
  private readonly memo = new Map<number, AdaptiveChoice>();

  constructor(
    /** The coordinator's aggregation rule, defaults filled (`Scenario.aggregation`). */
    readonly aggregation: AggregationConfig,
    /** The run seed: Mimic's z₀ and grouped aggregation's split derive from it. */
    readonly seed: number,
  ) {}

  /**
   * The aggregate the coordinator would compute this round if the corrupted clients sent `malicious` (see
   * `forecastAggregate`): what a registered behaviour with `needsHonestUpdates` can use to adapt to the rule.
   */
  forecast(r: AdaptiveRound, malicious: Float32Array): Float32Array {
    checkRound(r);
    return forecastAggregate(this.aggregation, r, malicious, this.seed);
  }

  /** The round's decision for `spec` (the same object for every corrupted client of the round). */
  choose(spec: AdaptiveSpec, r: AdaptiveRound): AdaptiveChoice {
    const known = this.memo.get(r.round);
    if (known !== undefined) return known;
    checkRound(r);
    let choice: AdaptiveChoice;
    if (spec.kind === 'mimic') {
      this.mimic ??= new MimicTracker(spec.warmup, new Rng(this.seed).fork('mimic-direction'));
      const { index, phase } = this.mimic.choose(r.honest, r.honestIds);
      choice = { kind: 'mimic', update: r.honest[index]!.slice(), target: r.honestIds[index]!, phase };
    } else choice = optimizeStrength(spec, this.aggregation, r, this.seed);
    this.memo.set(r.round, choice);
    return choice;
  }

  /** What was decided in `round`, for the round's record (undefined when no corrupted client asked). */
  record(round: number): AdaptiveRecord | undefined {
    const c = this.memo.get(round);
    if (c === undefined) return undefined;
    const { update: _u, ...rest } = c;
    return rest;
  }

  /** Forgets the decisions of rounds up to `round` (Mimic's state is kept). */
  endRound(round: number): void {
    for (const r of [...this.memo.keys()]) if (r <= round) this.memo.delete(r);
  }
}
