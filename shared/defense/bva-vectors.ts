/**
 * Decent_BVA's statistics as secure-aggregation vectors (decent-bva.md §4.2, "Quantisation of BV segments";
 * secure-aggregation.md §7): the segment layout of each phase's sum, the client-side encoding of a contribution
 * (with the count of clipped coordinates as a `count` segment), and the decoding of a sum back into the
 * `Phase1Sums` / `Phase2Sums` that `bvaDirection` consumes. Both ends use these functions, and so does the
 * plaintext path when it emulates quantisation, so the three agree bit for bit.
 */
import { addInto, decodeSum, encodeVector, maxLevels, type Rounding, type VectorSpec } from '../secagg/quantize.js';
import type { Phase1Sums, Phase2Sums } from './bva-combine.js';
import type { BiasOption, Phase1Contribution, Phase1Options } from './bva-stats.js';

/**
 * The probe a client receives with a BV phase sum (the sum's collectMasked payload). `dropoutSeed` (reference
 * profile only) asks for the statistics with dropout on; the client mixes it with its own round seed.
 */
export type BvaProbe =
  | { kind: 'bva/p1'; X: Float32Array; labels: Uint8Array; includeP: boolean; includeB: boolean; bias: BiasOption; dropoutSeed?: number }
  | { kind: 'bva/p2'; X: Float32Array; omega: Float32Array; dropoutSeed?: number };

/** Whether a collectMasked payload is a Decent_BVA probe with its arrays rebuilt (as `parseStageRequest` gives it). */
export function isBvaProbe(p: unknown): p is BvaProbe {
  if (p === null || typeof p !== 'object' || !('kind' in p) || !('X' in p) || !(p.X instanceof Float32Array)) return false;
  if (p.kind === 'bva/p1') return 'labels' in p && p.labels instanceof Uint8Array;
  return p.kind === 'bva/p2' && 'omega' in p && p.omega instanceof Float32Array;
}

/** Clipping range c of every BV segment (contributions are per-example probabilities and input gradients). */
export const BVA_CLIP = 1;

/** Shape of the shared set a round perturbs. */
export interface BvaShape {
  /** n_s, examples in the shared set. */
  ns: number;
  /** C, classes. */
  classes: number;
  /** d, input size (H·W·C). */
  inputSize: number;
}

/** Name of the secure sum of phase `phase` of BV step `step` (decent-bva.md §4.2). */
export function bvaPhaseName(step: number, phase: 1 | 2): string {
  return `bva/${step}/p${phase}`;
}

/**
 * Segments of phase 1: P (n_s × C) and/or B (n_s × d), then the clipped count; R is the largest power of two
 * with nMax·R < 2^32 (2^28 for cohorts of up to 15).
 */
export function phase1Spec(shape: BvaShape, opts: Pick<Phase1Options, 'includeP' | 'includeB'>, nMax: number): VectorSpec {
  const R = maxLevels(nMax);
  const spec: VectorSpec[number][] = [];
  if (opts.includeP) spec.push({ name: 'P', length: shape.ns * shape.classes, c: BVA_CLIP, R, kind: 'signed' });
  if (opts.includeB) spec.push({ name: 'B', length: shape.ns * shape.inputSize, c: BVA_CLIP, R, kind: 'signed' });
  spec.push(clippedSegment(shape.ns * (shape.classes + shape.inputSize)));
  return spec;
}

/** Segments of phase 2: V (n_s × d), then the clipped count. */
export function phase2Spec(shape: BvaShape, nMax: number): VectorSpec {
  return [{ name: 'V', length: shape.ns * shape.inputSize, c: BVA_CLIP, R: maxLevels(nMax), kind: 'signed' }, clippedSegment(shape.ns * shape.inputSize)];
}

function clippedSegment(maxPerClient: number): VectorSpec[number] {
  return { name: 'clipped', length: 1, c: 1, R: maxPerClient, kind: 'count' };
}

function countClipped(x: Float32Array): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i]! > BVA_CLIP || x[i]! < -BVA_CLIP) n++;
  return n;
}

/** A client's phase-1 values in spec order (P, B, clipped count). */
export function phase1Values(c: Phase1Contribution, spec: VectorSpec): Float32Array[] {
  return spec.map((seg) => {
    if (seg.name === 'P') return c.P!;
    if (seg.name === 'B') return c.B!;
    return Float32Array.of((c.P !== undefined ? countClipped(c.P) : 0) + (c.B !== undefined ? countClipped(c.B) : 0));
  });
}

/** A client's phase-2 values in spec order (V, clipped count). */
export function phase2Values(v: Float32Array): Float32Array[] {
  return [v, Float32Array.of(countClipped(v))];
}

/** A decoded phase sum with the total clipped count (logged by the coordinator). */
export interface DecodedPhase1 extends Phase1Sums {
  clipped: number;
}
/** A decoded phase-2 sum with the total clipped count. */
export interface DecodedPhase2 extends Phase2Sums {
  clipped: number;
}

/** Decodes phase-1 segment sums of `count` inputs. */
export function decodePhase1(spec: VectorSpec, sums: Float64Array[], count: number): DecodedPhase1 {
  const out: DecodedPhase1 = { count, clipped: 0 };
  spec.forEach((seg, i) => {
    if (seg.name === 'P') out.sumP = Float32Array.from(sums[i]!);
    else if (seg.name === 'B') out.sumB = Float32Array.from(sums[i]!);
    else out.clipped = sums[i]![0]!;
  });
  return out;
}

/** Decodes phase-2 segment sums of `count` inputs. */
export function decodePhase2(spec: VectorSpec, sums: Float64Array[], count: number): DecodedPhase2 {
  const v = spec.findIndex((s) => s.name === 'V');
  const c = spec.findIndex((s) => s.name === 'clipped');
  return { sumV: Float32Array.from(sums[v]!), count, clipped: sums[c]![0]! };
}

/**
 * What the secure sum computes, without the masks: quantise each input, add mod 2^32, decode. The plaintext
 * path's `emulateQuantization` (tests only, decent-bva.md §4.1) uses it to reproduce the secure result exactly.
 */
export function quantizedSum(spec: VectorSpec, inputs: readonly (readonly ArrayLike<number>[])[], rounding: Rounding = 'half-up'): Float64Array[] {
  let total: Uint32Array | undefined;
  for (const values of inputs) {
    const v = encodeVector(spec, values, { rounding }).vector;
    total = total === undefined ? v : addInto(total, v);
  }
  if (total === undefined) throw new Error('quantizedSum: no inputs');
  return decodeSum(spec, total, inputs.length);
}
