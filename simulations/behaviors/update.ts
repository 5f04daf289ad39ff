/**
 * Update poisoning (threats-and-evaluation.md §3) on a client's model update Δ = w_trained − w_global. Every
 * function returns a new Float32Array and leaves its inputs alone; arithmetic runs in float64 and is rounded to
 * float32 once per coordinate.
 *
 * Sources and the ambiguities resolved:
 * - Gaussian: ByzFL / Blades' Gaussian attack; the update is replaced, not perturbed.
 * - Sign flip: Blades `SignFlipAdversary`, ByzFL; `omniscient` flips the mean of the honest updates instead.
 * - Scale: Bagdasaryan et al., "How To Backdoor Federated Learning" (AISTATS 2020, arXiv 1807.00459), §4 model
 *   replacement with γ = n/η, here the cohort size m as FedML does; constrain-and-scale caps the factor so the
 *   scaled update's norm is at most S: γ = min(γ, S/‖Δ‖). The cap applies to a numeric γ too.
 * - ALIE: Baruch et al., "A Little Is Enough: Circumventing Defenses For Distributed Learning" (NeurIPS 2019,
 *   arXiv 1902.06156), Algorithm 1 with z_max of §3: s = ⌊m/2⌋ + 1 − f, z = Φ⁻¹((m − f − s)/(m − f)). σ is the
 *   POPULATION standard deviation over the honest updates (÷ n, not ÷ (n − 1) as torch.std would); the two
 *   differ by √(n/(n − 1)). Pitfall (§9): for small cohorts the auto z is tiny, e.g. exactly 0 for m = 10,
 *   f = 2, so ALIE then sends the honest mean; use a fixed z there.
 * - IPM: Xie, Koyejo, Gupta, "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner Product Manipulation"
 *   (UAI 2020, arXiv 1903.03936), −ε·mean(honest).
 * - Free rider: FedML's `zero` mode.
 * - Mimic, Opt-ALIE, Opt-IPM: adaptive.ts (they need the aggregation rule and state across rounds, from
 *   `ctx.adaptive`).
 * - Inf: ByzFL's `Inf` sends +∞ in every coordinate. A literal ∞ never reaches a rule here (the coordinator's
 *   wire validation refuses non-finite values, `f32FromWire`), so `value: 'max-float'` (the default) sends the
 *   largest finite float32, 3.4028234663852886e38, in every coordinate: it crosses the wire and tests the rules'
 *   arithmetic (the mean accumulates in float64, Krum's squared distances fit in float64); `value: 'infinity'`
 *   sends the literal +∞ to show the validation catching it; a number sends that magnitude.
 * `honest` is the round's honest updates from the simulation-only oracle; whether it includes the corrupted
 * clients' own honest updates is the caller's choice (the usual one: the m − f honest clients only).
 */
import type { Rng } from '../../shared/util/random.js';
import { behaviorOptions, implementationOf, isBuiltinBehavior, needsHonestUpdates, type AnyBehaviorSpec, type InfSpec, type RegisteredBehaviorSpec, type ScaleSpec } from './spec.js';
import type { AdaptiveAdversary } from './adaptive.js';
import { meanAndStd, meanOfVectors } from './stats.js';

/** What an update transform may use besides the client's own update. */
export interface UpdateContext {
  /** m, the round's cohort size (≥ 1). */
  m: number;
  /** f, the corrupted clients in the cohort (0 ≤ f ≤ m). */
  f: number;
  /** The round's honest updates (simulation-only oracle); required by ALIE, IPM and omniscient sign flip. */
  honest?: readonly Float32Array[];
  /** The generator of this client's draws this round (Gaussian noise). */
  rng: Rng;
  /**
   * The run's adaptive adversary, given to every behaviour that needs the honest updates (required by Mimic,
   * Opt-ALIE, Opt-IPM): the aggregation rule in use (`aggregation`), the run `seed`, `forecast(round, v)` (the
   * aggregate the coordinator would compute if the corrupted clients sent v) and the adaptive attacks' state.
   */
  adaptive?: AdaptiveAdversary;
  /** The round number (≥ 1; default 1); the adaptive adversary decides once per round. */
  round?: number;
  /** The honest clients' ids, one per `honest` update (default `honest-<i>`); Mimic records the one it copies. */
  honestIds?: readonly string[];
  /** The round's corrupted clients' ids (default f placeholders); adaptive attacks forecast one copy per id. */
  corruptedIds?: readonly string[];
}

/** The largest finite float32, 2¹²⁸ − 2¹⁰⁴: what `inf` sends by default. */
export const MAX_FLOAT32 = 3.4028234663852886e38;

/** The magnitude `inf` puts in every coordinate. */
export function infValue(spec: InfSpec): number {
  return spec.value === 'max-float' ? MAX_FLOAT32 : spec.value === 'infinity' ? Infinity : spec.value;
}

/**
 * The update a corrupted client sends in place of its own update `own` (a new array; identity kinds copy). A
 * registered behaviour runs its `transformUpdate` (identity when it has none).
 */
export function transformUpdate(spec: AnyBehaviorSpec, own: Float32Array, ctx: UpdateContext): Float32Array {
  const { m, f } = ctx;
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`transformUpdate: m must be an integer ≥ 1, got ${m}`);
  if (!Number.isInteger(f) || f < 0 || f > m) throw new RangeError(`transformUpdate: f must be an integer in [0, m = ${m}], got ${f}`);
  if (!isBuiltinBehavior(spec)) return registeredUpdate(spec, own, ctx);
  const honest = needsHonestUpdates(spec) ? checkHonest(spec, ctx.honest, own.length) : [];
  switch (spec.kind) {
    case 'gaussian':
      return gaussian(own.length, spec.mu, spec.sigma, ctx.rng);
    case 'sign-flip':
      return scaled(spec.omniscient ? meanOfVectors(honest) : own, -spec.s);
    case 'scale':
      return scaled(own, scaleGamma(spec, own, m));
    case 'mimic':
    case 'opt-alie':
    case 'opt-ipm': {
      if (ctx.adaptive === undefined) throw new Error(`behaviour ${spec.kind} needs the run's adaptive adversary (ctx.adaptive: the aggregation rule in use and state across rounds)`);
      const corrupted = ctx.corruptedIds ?? Array.from({ length: Math.max(1, f) }, (_, i) => `corrupted-${i}`);
      const choice = ctx.adaptive.choose(spec, { round: ctx.round ?? 1, honest, honestIds: ctx.honestIds ?? honest.map((_, i) => `honest-${i}`), corruptedIds: corrupted });
      return choice.update.slice();
    }
    case 'inf':
      return new Float32Array(own.length).fill(infValue(spec));
    case 'alie': {
      const z = spec.z === 'auto' ? alieAutoZ(m, f) : spec.z;
      const { mu, sigma } = meanAndStd(honest);
      const out = new Float32Array(own.length);
      for (let j = 0; j < out.length; j++) out[j] = mu[j]! + z * sigma[j]!;
      return out;
    }
    case 'ipm':
      return scaled(meanOfVectors(honest), -spec.eps);
    case 'free-rider':
      return new Float32Array(own.length);
    case 'backdoor':
      return spec.gamma === 1 ? own.slice() : scaled(own, spec.gamma);
    case 'label-flip':
    case 'crash':
    case 'straggler':
      return own.slice();
  }
}

/** The factor a `scale` behaviour multiplies Δ by: γ (m for `cohort`), capped at S/‖Δ‖₂ when S is set. */
export function scaleGamma(spec: ScaleSpec, update: Float32Array, m: number): number {
  const gamma = spec.gamma === 'cohort' ? m : spec.gamma;
  if (spec.S === undefined) return gamma;
  const norm = l2(update);
  // A zero update stays zero whatever γ is; S/0 = ∞ keeps the cap out of the way.
  return norm === 0 ? gamma : Math.min(gamma, spec.S / norm);
}

/**
 * Baruch et al.'s z_max for m clients of which f are corrupted: s = ⌊m/2⌋ + 1 − f supporters needed,
 * z = Φ⁻¹((m − f − s)/(m − f)). Defined only while 0 < (m − f − s)/(m − f) < 1, i.e. the corrupted clients are
 * a minority and m ≥ 3; throws otherwise (use a fixed z there).
 */
export function alieAutoZ(m: number, f: number): number {
  if (!Number.isInteger(m) || !Number.isInteger(f) || f < 1 || f >= m) {
    throw new RangeError(`ALIE z = 'auto' needs integers 1 ≤ f < m, got m = ${m}, f = ${f}`);
  }
  const s = Math.floor(m / 2) + 1 - f;
  const q = (m - f - s) / (m - f);
  if (!(q > 0 && q < 1)) {
    throw new RangeError(`ALIE z = 'auto' is undefined for m = ${m}, f = ${f}: Φ⁻¹((m − f − s)/(m − f)) with s = ${s} is Φ⁻¹(${q}); use a fixed z`);
  }
  return normalQuantile(q);
}

/**
 * Φ⁻¹(p), the standard normal quantile, by Peter J. Acklam's rational approximation ("An algorithm for computing
 * the inverse normal cumulative distribution function", 2003; relative error < 1.15·10⁻⁹ on (0, 1)), without the
 * optional refinement step. Exact at p = 0.5 (returns 0); ±∞ at 0 and 1.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  const tail = (q: number): number => (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < pLow) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - pLow) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/**
 * Applies an update-poisoning behaviour to a client's BV contributions (P, B, V; `poisonBva: true`, §2), each
 * array on its own, returning new arrays: Gaussian replaces each with N(μ, σ²) noise (drawn in array order),
 * sign flip sends −s·v, scale γ·v (γ numeric, or the cohort size `m` for `cohort`; S is a bound in update units and is
 * ignored here), a backdoor's γ scales likewise, the free rider sends zeros, and data-only or fault kinds copy.
 * ALIE, IPM, the omniscient sign flip and the adaptive attacks have no honest BV oracle, and Inf poisons the model
 * update only: they throw (refused at config time, see `poisonBvaSupported`). Pass the P, B and V arrays only: a segment of kind `count` (the clipped count of
 * `phase1Values`/`phase2Values`) must stay a non-negative integer, which noise or a sign flip would break.
 */
export function transformBvaContribution(spec: AnyBehaviorSpec, values: readonly Float32Array[], rng: Rng, m?: number): Float32Array[] {
  if (!isBuiltinBehavior(spec)) return registeredBva(spec, values, rng, m);
  if (needsHonestUpdates(spec)) {
    throw new Error(`poisonBva: behaviour ${spec.kind}${spec.kind === 'sign-flip' ? ' (omniscient)' : ''} needs the honest updates and cannot poison the BV statistics`);
  }
  if (spec.kind === 'inf') throw new Error('poisonBva: behaviour inf poisons the model update only');
  switch (spec.kind) {
    case 'gaussian':
      return values.map((v) => gaussian(v.length, spec.mu, spec.sigma, rng));
    case 'sign-flip':
      return values.map((v) => scaled(v, -spec.s));
    case 'scale': {
      let gamma = spec.gamma;
      if (gamma === 'cohort') {
        if (m === undefined || !Number.isInteger(m) || m < 1) {
          throw new RangeError(`poisonBva: scale with gamma = 'cohort' needs the cohort size m (an integer ≥ 1), got ${String(m)}`);
        }
        gamma = m;
      }
      const g = gamma;
      return values.map((v) => scaled(v, g));
    }
    case 'backdoor':
      return values.map((v) => (spec.gamma === 1 ? v.slice() : scaled(v, spec.gamma)));
    case 'free-rider':
      return values.map((v) => new Float32Array(v.length));
    default:
      return values.map((v) => v.slice());
  }
}

function registeredUpdate(spec: RegisteredBehaviorSpec, own: Float32Array, ctx: UpdateContext): Float32Array {
  const impl = implementationOf(spec);
  if (impl.transformUpdate === undefined) return own.slice();
  if (impl.needsHonestUpdates === true) checkHonest(spec, ctx.honest, own.length);
  // The client's own update is handed over as a copy, so an implementation that writes into it changes nothing.
  const out = impl.transformUpdate(own.slice(), behaviorOptions(spec), ctx);
  return checkVector(out, own.length, `behaviour ${spec.kind}: transformUpdate`);
}

function registeredBva(spec: RegisteredBehaviorSpec, values: readonly Float32Array[], rng: Rng, m: number | undefined): Float32Array[] {
  const impl = implementationOf(spec);
  if (impl.transformBva === undefined || impl.needsHonestUpdates === true) {
    throw new Error(`poisonBva: behaviour ${spec.kind} ${impl.needsHonestUpdates === true ? 'needs the honest updates' : 'has no transformBva'} and cannot poison the BV statistics`);
  }
  const out = impl.transformBva(
    values.map((v) => v.slice()),
    behaviorOptions(spec),
    { m: m ?? 1, rng },
  );
  if (!Array.isArray(out) || out.length !== values.length)
    throw new Error(`behaviour ${spec.kind}: transformBva must return ${values.length} arrays, got ${Array.isArray(out) ? out.length : typeof out}`);
  return out.map((v, i) => checkVector(v, values[i]!.length, `behaviour ${spec.kind}: transformBva array ${i}`));
}

function checkVector(v: unknown, length: number, what: string): Float32Array {
  if (!(v instanceof Float32Array))
    throw new Error(`${what} must return a Float32Array, got ${v === null ? 'null' : typeof v === 'object' ? ((v as object).constructor?.name ?? 'an object') : typeof v}`);
  if (v.length !== length) throw new Error(`${what} returned ${v.length} values; expected ${length}`);
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) throw new Error(`${what} returned a non-finite value ${v[i]} at ${i}`);
  return v;
}

function checkHonest(spec: AnyBehaviorSpec, honest: readonly Float32Array[] | undefined, d: number): readonly Float32Array[] {
  if (honest === undefined || honest.length === 0) {
    throw new Error(
      `behaviour ${spec.kind}${spec.kind === 'sign-flip' ? ' (omniscient)' : ''} needs the round's honest updates (ctx.honest, from the simulation-only oracle), got ${honest === undefined ? 'none' : 'an empty list'}`,
    );
  }
  honest.forEach((h, i) => {
    if (h.length !== d) throw new RangeError(`honest update ${i} has ${h.length} coordinates, the client's update has ${d}`);
  });
  return honest;
}

function gaussian(d: number, mu: number, sigma: number, rng: Rng): Float32Array {
  const out = new Float32Array(d);
  for (let j = 0; j < d; j++) out[j] = rng.normal(mu, sigma);
  return out;
}

function scaled(v: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let j = 0; j < v.length; j++) out[j] = k * v[j]!;
  return out;
}

function l2(v: Float32Array): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j]! * v[j]!;
  return Math.sqrt(s);
}
