/**
 * Coordinate-wise median: Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust Distributed Learning: Towards
 * Optimal Statistical Rates", ICML 2018 (arXiv 1803.01498), §3, Definition 1. The median of an even count is the
 * mean of the two middle values (Yin et al. leave it open). Defined on any non-empty list of updates.
 */
import { gather, medianOf } from './order-statistics.js';

/** Coordinate-wise median of the updates (Yin et al., Definition 1). */
export function coordinateMedian(updates: readonly Float32Array[], d: number): Float32Array {
  const out = new Float32Array(d);
  const scratch = new Float64Array(updates.length);
  for (let t = 0; t < d; t++) {
    gather(updates, t, scratch);
    out[t] = medianOf(scratch);
  }
  return out;
}
