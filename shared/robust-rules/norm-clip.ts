/**
 * Norm clipping with a fixed or median bound τ (threats-and-evaluation.md §4): each update is scaled to norm at
 * most τ, then averaged. Strict: an update is clipped (and counted) only when its norm exceeds τ. With
 * τ = 'median' the bound is the median norm of the round (mean of the two middle norms when m is even). An update
 * whose norm is not finite gets weight 0 (it counts as clipped). Defined on any non-empty list of updates.
 */
import { meanOf, medianOf } from './order-statistics.js';

/** L2 norm of each update, accumulated in Float64. */
function l2Norms(updates: readonly Float32Array[], d: number): number[] {
  return updates.map((u) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += u[t]! * u[t]!;
    return Math.sqrt(s);
  });
}

/** The norm-clipped mean, the fraction of updates clipped, and each update's norm before clipping. */
export function normClip(updates: readonly Float32Array[], d: number, bound: number | 'median'): { update: Float32Array; clippedFraction: number; norms: number[] } {
  const m = updates.length;
  const norms = l2Norms(updates, d);
  let tau: number;
  if (bound === 'median') tau = medianOf(Float64Array.from(norms, (v) => (v === v ? v : Infinity)));
  else tau = bound;
  if (!(tau >= 0)) throw new RangeError(`norm-clip: τ must be ≥ 0, got ${tau}`);
  let clipped = 0;
  const weights = norms.map((n) => {
    if (!Number.isFinite(n)) {
      clipped++;
      return 0; // no direction to keep: a non-finite update contributes nothing
    }
    if (n <= tau) return 1;
    clipped++;
    return tau / n;
  });
  return { update: meanOf(updates, d, undefined, weights), clippedFraction: clipped / m, norms };
}
