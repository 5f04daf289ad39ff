/**
 * Meamed (mean around the median): Xie, Koyejo, Gupta, "Generalized Byzantine-tolerant SGD", arXiv 1802.10116,
 * 2018, Definition 5 (mean around median): per coordinate, the mean of the m − f values closest to the
 * coordinate-wise median.
 *
 * Ambiguities resolved:
 * - The median of an even count is the mean of the two middle values (as `median.ts`, and as NumPy in ByzFL).
 * - Condition m > 2f (ByzFL's; `meamedMinUpdates`). Ties in distance to the median go to the value that is
 *   smaller (NaN counts as +∞ and is the farthest value).
 * - Across groups: allowed (coordinate-wise on the group means).
 */
import { checkF } from './distances.js';
import { gather, medianOf } from './order-statistics.js';

/** Meamed's condition m > 2f. */
export function meamedMinUpdates(f: number): number {
  return 2 * f + 1;
}

/** Coordinate-wise mean of the m − f values nearest the median. */
export function meamed(updates: readonly Float32Array[], d: number, f: number): Float32Array {
  const m = updates.length;
  checkF('meamed', f, m, m >= meamedMinUpdates(f), 'm > 2f updates');
  const k = m - f;
  const out = new Float32Array(d);
  const col = new Float64Array(m);
  const scratch = new Float64Array(m);
  for (let t = 0; t < d; t++) {
    gather(updates, t, col);
    scratch.set(col);
    const med = medianOf(scratch);
    // Sorted, the k nearest values form a window; slide it from the left edge as long as the right end is nearer.
    col.sort();
    let lo = 0;
    while (lo + k < m && Math.abs(col[lo + k]! - med) < Math.abs(col[lo]! - med)) lo++;
    let s = 0;
    for (let i = lo; i < lo + k; i++) s += col[i]!;
    out[t] = s / k;
  }
  return out;
}
