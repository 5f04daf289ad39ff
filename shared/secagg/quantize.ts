/**
 * Quantisation of real vectors into the integers mod 2^32 that secure aggregation sums
 * (docs/spec/secure-aggregation.md §7).
 *
 * Paper: Bonawitz et al., CCS 2017 (arXiv 1611.04482), §3 assumes inputs are already integers in Z_R; the way
 * reals get there is left open. We follow Flower's SecAgg+ quantisation (clip to [−c, c], stochastic rounding to
 * R levels) with one correction: Flower documents outputs in [0, R − 1] yet its rounding can reach R, so the
 * headroom rule here counts R itself: n_max·R < 2^32 guarantees that the sum of n_max values in [0, R] never
 * wraps, so the unmasked Uint32 sum is the exact integer sum.
 */

import { randomFill } from './primitives.js';
import type { Rng } from '../util/random.js';
import { SecAggConfigError } from './errors.js';

/** 2^32, the modulus of every masked vector. */
export const MODULUS = 0x1_0000_0000;

/** Default clipping range c of model sums (Flower's clipping_range). */
export const DEFAULT_CLIPPING_RANGE = 8.0;

/** Default number of levels R of model sums, 2^22 (Flower's quantization_range). */
export const DEFAULT_QUANTIZATION_RANGE = 2 ** 22;

/** Default maxWeight: a client with this many examples or more gets weight 1. */
export const DEFAULT_MAX_WEIGHT = 1000;

/** What a segment holds: clipped reals, small non-negative integers, or the client's weight w ∈ [0, 1]. */
export type SegmentKind = 'signed' | 'count' | 'weight';

/**
 * A slice of the summed vector with its own encoding.
 * - `signed`: reals clipped to [−c, c], quantised to integers in [0, R].
 * - `count`: integers in [0, R] (R is the largest value one client may contribute; c is ignored).
 * - `weight`: one value w ∈ [0, 1], encoded round(w·R) (c is ignored; length must be 1).
 */
export interface Segment {
  /** Unique name within its spec, e.g. 'update', 'weight', 'clipped'. */
  name: string;
  /** Number of coordinates (≥ 1). */
  length: number;
  /** Clipping range c > 0 of a signed segment (ignored otherwise). */
  c: number;
  /** Levels R: per-client values lie in [0, R]; an integer in [1, 2^32 − 1] (≥ 2 for signed). */
  R: number;
  /** Encoding, see above. */
  kind: SegmentKind;
}

/** A vector's layout: its segments, in order. */
export type VectorSpec = readonly Segment[];

/** `stochastic` (unbiased, the default) or `half-up` (deterministic, for tests). */
export type Rounding = 'stochastic' | 'half-up';

/** The quantised values of one segment and how many inputs were clipped into range. */
export interface QuantizeResult {
  /** Integers in [0, R]. */
  values: Uint32Array;
  /** How many inputs lay outside the segment's range and were clipped. */
  clipped: number;
}

function fail(field: string, message: string): never {
  throw new SecAggConfigError(field, message);
}

function checkNMax(nMax: number): void {
  if (!Number.isSafeInteger(nMax) || nMax < 1) fail('nMax', `n_max must be an integer ≥ 1, got ${String(nMax)}`);
}

/** Largest power of two R with nMax·R < 2^32 (R = 2^22 for nMax = 1023); throws if it would be below 2. */
export function maxLevels(nMax: number): number {
  checkNMax(nMax);
  let R = 1;
  while (nMax * R * 2 < MODULUS) R *= 2;
  if (R < 2) fail('nMax', `n_max = ${nMax} leaves no room for R ≥ 2 levels below 2^32`);
  return R;
}

/** Resolves a quantisation range option: an integer ≥ 2, or 'max' for `maxLevels(nMax)`. */
export function resolveLevels(R: number | 'max', nMax: number): number {
  if (R === 'max') return maxLevels(nMax);
  if (!Number.isInteger(R) || R < 2 || R >= MODULUS) {
    fail('quantizationRange', `quantizationRange must be an integer in [2, 2^32) or 'max', got ${String(R)}`);
  }
  return R;
}

/** Checks one segment's fields; throws a config error naming the segment and field. */
export function validateSegment(seg: Segment): void {
  const at = `segments[${String(seg?.name)}]`;
  if (typeof seg !== 'object' || seg === null) fail('segments', `a segment must be an object, got ${String(seg)}`);
  if (typeof seg.name !== 'string' || seg.name === '') fail(`${at}.name`, `segment name must be a non-empty string`);
  if (seg.kind !== 'signed' && seg.kind !== 'count' && seg.kind !== 'weight') {
    fail(`${at}.kind`, `segment '${seg.name}' kind must be 'signed', 'count' or 'weight', got ${String(seg.kind)}`);
  }
  if (!Number.isSafeInteger(seg.length) || seg.length < 1) {
    fail(`${at}.length`, `segment '${seg.name}' length must be an integer ≥ 1, got ${String(seg.length)}`);
  }
  if (seg.kind === 'weight' && seg.length !== 1) {
    fail(`${at}.length`, `weight segment '${seg.name}' must have length 1, got ${seg.length}`);
  }
  const minR = seg.kind === 'signed' ? 2 : 1;
  if (!Number.isInteger(seg.R) || seg.R < minR || seg.R >= MODULUS) {
    fail(`${at}.R`, `segment '${seg.name}' R must be an integer in [${minR}, 2^32), got ${String(seg.R)}`);
  }
  if (seg.kind === 'signed' && !(typeof seg.c === 'number' && Number.isFinite(seg.c) && seg.c > 0)) {
    fail(`${at}.c`, `segment '${seg.name}' clipping range c must be a finite number > 0, got ${String(seg.c)}`);
  }
}

/** Checks every segment and that names are unique; throws a config error otherwise. */
export function validateSpec(spec: VectorSpec): void {
  // `spec as unknown`: narrowing a readonly array with Array.isArray would widen its elements to any.
  if (!Array.isArray(spec as unknown) || spec.length === 0) fail('segments', 'a vector spec needs at least one segment');
  const names = new Set<string>();
  for (const seg of spec) {
    validateSegment(seg);
    if (names.has(seg.name)) fail(`segments[${seg.name}].name`, `segment name '${seg.name}' appears twice`);
    names.add(seg.name);
  }
}

/**
 * The headroom rule n_max·R < 2^32 for every segment (§7), so sums of up to n_max inputs never wrap. Throws a
 * config error naming the segment, n_max and R.
 */
export function checkHeadroom(spec: VectorSpec, nMax: number): void {
  validateSpec(spec);
  checkNMax(nMax);
  for (const seg of spec) {
    if (nMax * seg.R >= MODULUS) {
      fail(
        `segments[${seg.name}].R`,
        `segment '${seg.name}' breaks the headroom rule n_max·R < 2^32: n_max = ${nMax}, R = ${seg.R} ` +
          `(n_max may be at most ${Math.floor((MODULUS - 1) / seg.R)}; R at most ${maxLevels(nMax)} as a power of two)`,
      );
    }
  }
}

/** Total number of words of a vector with this spec. */
export function vectorLength(spec: VectorSpec): number {
  let n = 0;
  for (const seg of spec) n += seg.length;
  return n;
}

/** Start offset of each segment, plus the total length as a last entry. */
export function segmentOffsets(spec: VectorSpec): number[] {
  const out = [0];
  for (const seg of spec) out.push(out[out.length - 1]! + seg.length);
  return out;
}

/** The words of segment `name` inside a vector (a view, not a copy). */
export function segmentView(spec: VectorSpec, vector: Uint32Array, name: string): Uint32Array {
  const offsets = segmentOffsets(spec);
  const i = spec.findIndex((s) => s.name === name);
  if (i < 0) fail('name', `no segment named '${name}'`);
  return vector.subarray(offsets[i]!, offsets[i + 1]!);
}

/**
 * Quantises one segment's values to integers in [0, R] (§7).
 * - signed: x' = clip(x, −c, c); s = (x' + c)·R/(2c); q = ⌊s⌋ + Bernoulli(s − ⌊s⌋) (`stochastic`, from `rng`
 *   or crypto randomness) or ⌊s + 1/2⌋ (`half-up`). ±Infinity clips; NaN throws.
 * - weight: w clipped to [0, 1], q = ⌊w·R + 1/2⌋ (deterministic, as §7 specifies round(w·R_w)).
 * - count: must be integers; values outside [0, R] are clipped.
 */
export function quantize(x: ArrayLike<number>, seg: Segment, rounding: Rounding = 'stochastic', rng?: Rng): QuantizeResult {
  validateSegment(seg);
  if (x.length !== seg.length) {
    fail(`segments[${seg.name}].length`, `segment '${seg.name}' expects ${seg.length} values, got ${x.length}`);
  }
  if (rounding !== 'stochastic' && rounding !== 'half-up') {
    fail('rounding', `rounding must be 'stochastic' or 'half-up', got ${String(rounding)}`);
  }
  const values = new Uint32Array(x.length);
  // One function per kind: the simulation's clients quantise all three kinds in turn, and one function for all
  // kept losing its optimised code to the branch it had not seen (140 deoptimisations in 10 rounds, every
  // double of the slow path boxed on the heap).
  const clipped = seg.kind === 'signed' ? quantizeSigned(x, seg, rounding, rng, values) : seg.kind === 'weight' ? quantizeWeight(x, seg, values) : quantizeCount(x, seg, values);
  return { values, clipped };
}

/** Why value i of `seg` is refused (a config error naming the segment). */
function badValue(seg: Segment, i: number, v: number, want: string): never {
  return fail(`${seg.name}[${i}]`, `segment '${seg.name}' value ${i} must be ${want}, got ${String(v)}`);
}

function quantizeSigned(x: ArrayLike<number>, seg: Segment, rounding: Rounding, rng: Rng | undefined, values: Uint32Array): number {
  // `+` makes R and c plain numbers for the compiler: segments reach here in objects of several shapes (parsed from
  // the wire, built locally), so a field read alone is of any type, and a loop variable that may take its value
  // (s = R, v = c) was then boxed on the heap for every element (14.8 bytes an element measured in a simulation).
  const R = +seg.R;
  let clipped = 0;
  const c = +seg.c;
  const scale = R / (2 * c);
  // One loop per source of randomness, each calling it directly: a shared closure returning a double made the
  // loop box every uniform draw (17 MB of garbage a round on a simulation's main thread).
  // Uniform draws come in batches of 1,024, from the seeded generator (exactly one draw an element, so its
  // state after is the same as with one call each) or from the OS CSPRNG.
  const stochastic = rounding === 'stochastic';
  const seeded = stochastic && rng !== undefined ? new Float64Array(Math.min(1024, x.length)) : undefined;
  const crypto = stochastic && rng === undefined ? new Uint32Array(1024) : undefined;
  let at = 0;
  let have = 0;
  for (let i = 0; i < x.length; i++) {
    let v = x[i]!;
    if (Number.isNaN(v)) badValue(seg, i, v, 'a number (not NaN)');
    if (v > c) {
      v = c;
      clipped++;
    } else if (v < -c) {
      v = -c;
      clipped++;
    }
    let s = (v + c) * scale;
    // Floating error could push s a hair outside [0, R]; clamp so q stays in range.
    if (s < 0) s = 0;
    else if (s > R) s = R;
    let q: number;
    if (!stochastic) q = Math.floor(s + 0.5);
    else {
      const f = Math.floor(s);
      if (at === have) {
        at = 0;
        if (seeded !== undefined) {
          have = Math.min(seeded.length, x.length - i);
          rng!.floats(seeded, have);
        } else {
          have = crypto!.length;
          randomFill(new Uint8Array(crypto!.buffer));
        }
      }
      // Crypto: 32 random bits, so P(round up) is off from the exact fraction by less than 2^−32.
      const u = seeded !== undefined ? seeded[at++]! : crypto![at++]! / MODULUS;
      q = u < s - f ? f + 1 : f;
    }
    values[i] = q > R ? R : q;
  }
  return clipped;
}

function quantizeWeight(x: ArrayLike<number>, seg: Segment, values: Uint32Array): number {
  const R = +seg.R;
  let clipped = 0;
  for (let i = 0; i < x.length; i++) {
    let w = x[i]!;
    if (Number.isNaN(w)) badValue(seg, i, w, 'a weight in [0, 1]');
    if (w > 1) {
      w = 1;
      clipped++;
    } else if (w < 0) {
      w = 0;
      clipped++;
    }
    values[i] = Math.min(R, Math.floor(w * R + 0.5));
  }
  return clipped;
}

function quantizeCount(x: ArrayLike<number>, seg: Segment, values: Uint32Array): number {
  const R = +seg.R;
  let clipped = 0;
  for (let i = 0; i < x.length; i++) {
    let v = x[i]!;
    if (!Number.isInteger(v) && Number.isFinite(v)) badValue(seg, i, v, 'an integer');
    if (Number.isNaN(v)) badValue(seg, i, v, 'an integer');
    if (v > R) {
      v = R;
      clipped++;
    } else if (v < 0) {
      v = 0;
      clipped++;
    }
    values[i] = v;
  }
  return clipped;
}

function checkCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) fail('n', `the number of inputs n must be an integer ≥ 0, got ${String(n)}`);
}

/**
 * Decodes the (unmasked, non-wrapped) sum of n quantised inputs of one segment:
 * signed Σx ≈ Σq·(2c/R) − n·c; weight Σw = Σq/R; count Σq. Per-coordinate error of the mean ≤ 2c/R.
 */
export function dequantizeSum(sum: Uint32Array, seg: Segment, n: number): Float64Array {
  validateSegment(seg);
  checkCount(n);
  if (sum.length !== seg.length) {
    fail(`segments[${seg.name}].length`, `segment '${seg.name}' expects ${seg.length} sum words, got ${sum.length}`);
  }
  const out = new Float64Array(sum.length);
  if (seg.kind === 'signed') {
    const step = (2 * seg.c) / seg.R;
    const offset = n * seg.c;
    for (let i = 0; i < sum.length; i++) out[i] = sum[i]! * step - offset;
  } else if (seg.kind === 'weight') {
    for (let i = 0; i < sum.length; i++) out[i] = sum[i]! / seg.R;
  } else {
    for (let i = 0; i < sum.length; i++) out[i] = sum[i]!;
  }
  return out;
}

/** Options of `encodeVector`. */
export interface EncodeOptions {
  /** Rounding of signed segments; default 'stochastic'. */
  rounding?: Rounding;
  /** Seeded source for stochastic rounding; default crypto randomness. */
  rng?: Rng;
}

/** A client's encoded vector and the clip count of each segment (same order as the spec). */
export interface EncodedVector {
  /** The concatenated quantised segments, ready to mask. */
  vector: Uint32Array;
  /** Clipped inputs per segment. */
  clipped: number[];
}

/** Quantises one value array per segment (in spec order) and concatenates them into one vector. */
export function encodeVector(spec: VectorSpec, values: readonly ArrayLike<number>[], opts: EncodeOptions = {}): EncodedVector {
  validateSpec(spec);
  if (values.length !== spec.length) {
    fail('values', `expected one value array per segment (${spec.length}), got ${values.length}`);
  }
  const vector = new Uint32Array(vectorLength(spec));
  const clipped: number[] = [];
  let at = 0;
  spec.forEach((seg, i) => {
    const r = quantize(values[i]!, seg, opts.rounding ?? 'stochastic', opts.rng);
    vector.set(r.values, at);
    clipped.push(r.clipped);
    at += seg.length;
  });
  return { vector, clipped };
}

/** Where an unmasked sum left the range honest inputs can reach (see `sumOutOfRange`). */
export interface SumRangeViolation {
  /** The first offending coordinate: its segment, index within the segment, value and the bound n·R. */
  segment: string;
  index: number;
  value: number;
  max: number;
  /** How many coordinates of the whole vector exceed their bound. */
  count: number;
}

/**
 * Checks an unmasked sum of n inputs against what n honest inputs can reach: each client's quantised value lies in
 * [0, R] of its segment, so every coordinate of the sum lies in [0, n·R] (the headroom rule keeps n·R < 2^32, so
 * an honest sum never wraps). A corrupt masked input (all zeros, a replay of an earlier round's, garbage) leaves a
 * mask that does not cancel, and the coordinate is then uniform in [0, 2^32): it lands inside [0, n·R] with
 * probability n·R/2^32 (below 1/2 while n·R < 2^31, near 1 for the model segment at n = 1,000), so a d-coordinate
 * vector escapes the check with probability (n·R/2^32)^d. The check
 * is necessary, not sufficient: a client that masks correctly can still send any in-range input (robust
 * aggregation and the grouped mode address that). Returns undefined when every coordinate is in range.
 */
export function sumOutOfRange(spec: VectorSpec, sum: Uint32Array, n: number): SumRangeViolation | undefined {
  validateSpec(spec);
  checkCount(n);
  let first: Omit<SumRangeViolation, 'count'> | undefined;
  let count = 0;
  let at = 0;
  for (const seg of spec) {
    const max = n * seg.R;
    for (let i = 0; i < seg.length; i++) {
      const v = sum[at + i]!;
      if (v > max) {
        count++;
        first ??= { segment: seg.name, index: i, value: v, max };
      }
    }
    at += seg.length;
  }
  return first === undefined ? undefined : { ...first, count };
}

/** Decodes an unmasked sum of n inputs into one Float64Array per segment (in spec order). */
export function decodeSum(spec: VectorSpec, sum: Uint32Array, n: number): Float64Array[] {
  validateSpec(spec);
  if (sum.length !== vectorLength(spec)) {
    fail('sum', `sum has ${sum.length} words, the spec describes ${vectorLength(spec)}`);
  }
  const offsets = segmentOffsets(spec);
  return spec.map((seg, i) => dequantizeSum(sum.subarray(offsets[i]!, offsets[i + 1]!), seg, n));
}

// ---------------------------------------------------------------------------------------------------------------
// Weighting (§7): w_u = min(numExamples/maxWeight, 1) travels in a `weight` segment; the update carries w_u·Δ_u.

/** w = min(numExamples / maxWeight, 1); uniform weighting sends w = 1. */
export function exampleWeight(numExamples: number, maxWeight: number = DEFAULT_MAX_WEIGHT): number {
  if (!(Number.isFinite(numExamples) && numExamples >= 0)) {
    fail('numExamples', `numExamples must be a finite number ≥ 0, got ${String(numExamples)}`);
  }
  if (!(Number.isFinite(maxWeight) && maxWeight > 0)) {
    fail('maxWeight', `maxWeight must be a finite number > 0, got ${String(maxWeight)}`);
  }
  return Math.min(numExamples / maxWeight, 1);
}

/**
 * The weight as it will be summed: q = round(w·R_w) and ŵ = q/R_w. Scale the update by ŵ (not w) so the
 * numerator Σŵ·Δ and the denominator Σq/R_w use the same weights.
 */
export function quantizedWeight(w: number, weightSeg: Segment): { q: number; w: number } {
  if (weightSeg.kind !== 'weight') fail(`segments[${weightSeg.name}].kind`, `segment '${weightSeg.name}' is not a weight segment`);
  const q = quantize([w], weightSeg, 'half-up').values[0]!;
  return { q, w: q / weightSeg.R };
}

/** w·clip(Δ, −c, c): the update a weighted client sends, clipped first (§7); reports how many were clipped. */
export function weightUpdate(delta: ArrayLike<number>, c: number, w: number): { values: Float64Array; clipped: number } {
  if (!(Number.isFinite(c) && c > 0)) fail('c', `clipping range c must be a finite number > 0, got ${String(c)}`);
  if (!(w >= 0 && w <= 1)) fail('w', `weight must lie in [0, 1], got ${String(w)}`);
  const values = new Float64Array(delta.length);
  let clipped = 0;
  for (let i = 0; i < delta.length; i++) {
    let d = delta[i]!;
    if (Number.isNaN(d)) fail(`delta[${i}]`, `update value ${i} is NaN`);
    if (d > c) {
      d = c;
      clipped++;
    } else if (d < -c) {
      d = -c;
      clipped++;
    }
    values[i] = w * d;
  }
  return { values, clipped };
}

/** The weighted mean deq(Σ wΔ) / Σw (§7); throws when the total weight is not positive. */
export function weightedMean(weightedSum: Float64Array, totalWeight: number): Float64Array {
  if (!(Number.isFinite(totalWeight) && totalWeight > 0)) {
    fail('totalWeight', `total weight must be a finite number > 0, got ${String(totalWeight)}`);
  }
  const out = new Float64Array(weightedSum.length);
  for (let i = 0; i < out.length; i++) out[i] = weightedSum[i]! / totalWeight;
  return out;
}

/** The standard model-sum spec: a signed 'update' segment of `length` and a one-word 'weight' segment. */
export function modelSpec(length: number, opts: { c?: number; R?: number; weightR?: number } = {}): Segment[] {
  const R = opts.R ?? DEFAULT_QUANTIZATION_RANGE;
  const spec: Segment[] = [
    { name: 'update', length, c: opts.c ?? DEFAULT_CLIPPING_RANGE, R, kind: 'signed' },
    { name: 'weight', length: 1, c: 1, R: opts.weightR ?? R, kind: 'weight' },
  ];
  validateSpec(spec);
  return spec;
}

// ---------------------------------------------------------------------------------------------------------------
// Arithmetic mod 2^32

function checkSameLength(a: Uint32Array, b: Uint32Array): void {
  if (a.length !== b.length) fail('length', `vectors must have the same length, got ${a.length} and ${b.length}`);
}

/** a ← a + b mod 2^32, in place; returns a. */
export function addInto(a: Uint32Array, b: Uint32Array): Uint32Array {
  checkSameLength(a, b);
  // The double sum is exact (< 2^33) and the Uint32Array store reduces it mod 2^32.
  for (let i = 0; i < a.length; i++) a[i] = a[i]! + b[i]!;
  return a;
}

/** a ← a − b mod 2^32, in place; returns a. */
export function subInto(a: Uint32Array, b: Uint32Array): Uint32Array {
  checkSameLength(a, b);
  for (let i = 0; i < a.length; i++) a[i] = a[i]! - b[i]!;
  return a;
}
