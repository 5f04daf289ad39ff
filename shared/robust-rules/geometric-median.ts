/**
 * Geometric median by the smoothed Weiszfeld algorithm (RFA): Pillutla, Kakade, Harchaoui, "Robust Aggregation
 * for Federated Learning", IEEE Transactions on Signal Processing 70, 2022 (arXiv 1912.13445), Algorithm 2
 * (smoothed Weiszfeld) with uniform weights α_i = 1/m.
 *
 *   z ← Σ_i β_i x_i / Σ_i β_i,  β_i = α_i / max(ν, ‖x_i − z‖),  repeated T times.
 *
 * Ambiguities resolved:
 * - Start point: the zero update (ByzFL's choice; the paper leaves v⁽⁰⁾ free). With a fixed, small T the start
 *   matters: the mean, another natural start, sits f/m of the way to far-away outliers, and three iterations
 *   from it do not get back to the honest cluster (1e6-sized outliers in test/robust-aggregation.test.ts), while
 *   from zero (no step) the first iteration already weighs those outliers by 1/distance.
 * - A fixed number of iterations T (`iterations`, default 3; ByzFL's default too) and no early stop on the
 *   objective; ν (`nu`, in update-norm units) defaults to 1e-6, small against update norms so that the result
 *   is the (unsmoothed) Weiszfeld iterate unless an update sits on z (ByzFL's default is 0.1).
 * - An update with a non-finite coordinate is left out (ByzFL drops rows with ±∞); with none left the result is
 *   the zero update (no step).
 * - Defined on any non-empty list of updates (breakdown point 1/2: tolerates f < m/2 without needing f).
 * - Across groups (grouped secure aggregation): allowed; it only needs the group means.
 */
import { allFinite } from './distances.js';

/** Default smoothing ν (update-norm units) and iteration count T. */
export const GEOMED_DEFAULT_NU = 1e-6;
export const GEOMED_DEFAULT_ITERATIONS = 3;

/** The smoothed-Weiszfeld geometric median of the updates. */
export function geometricMedian(updates: readonly Float32Array[], d: number, nu: number, iterations: number): Float32Array {
  if (!(nu >= 0) || !Number.isFinite(nu)) throw new RangeError(`geometric-median: nu must be a finite number ≥ 0, got ${nu}`);
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`geometric-median: iterations must be an integer ≥ 1, got ${iterations}`);
  const xs = updates.filter((u) => allFinite(u, d));
  const m = xs.length;
  if (m === 0) return new Float32Array(d);
  let z = new Float64Array(d);
  const beta = new Float64Array(m);
  for (let it = 0; it < iterations; it++) {
    let total = 0;
    for (let i = 0; i < m; i++) {
      const u = xs[i]!;
      let s = 0;
      for (let t = 0; t < d; t++) {
        const x = u[t]! - z[t]!;
        s += x * x;
      }
      beta[i] = 1 / m / Math.max(nu, Math.sqrt(s));
      total += beta[i]!;
    }
    const next = new Float64Array(d);
    for (let i = 0; i < m; i++) {
      const u = xs[i]!;
      const w = beta[i]! / total;
      for (let t = 0; t < d; t++) next[t] += w * u[t]!;
    }
    z = next;
  }
  return Float32Array.from(z);
}
