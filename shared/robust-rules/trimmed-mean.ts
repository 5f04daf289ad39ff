/**
 * Coordinate-wise trimmed mean: Yin, Chen, Ramchandran, Bartlett, ICML 2018 (arXiv 1803.01498), §3, Definition 2.
 * b = `trim` when given, else ⌊β·m⌋ with m the updates actually received; it needs 2b < m (stated here once, as
 * `trimmedMeanMinUpdates`, for the validator, the round and the rule).
 */
import { gather, select } from './order-statistics.js';

/** The b-trimmed mean's condition 2b < m: the fewest updates that keep one after trimming b at each end. */
export function trimmedMeanMinUpdates(b: number): number {
  return 2 * b + 1;
}

/** Coordinate-wise b-trimmed mean (Yin et al., Definition 2): drop the b largest and b smallest, average the rest. */
export function coordinateTrimmedMean(updates: readonly Float32Array[], d: number, b: number): Float32Array {
  const m = updates.length;
  if (!Number.isSafeInteger(b) || b < 0 || m < trimmedMeanMinUpdates(b)) {
    throw new RangeError(`trimmed mean: trimming b = ${b} from each end of m = ${m} updates needs an integer b ≥ 0 with 2b < m`);
  }
  const out = new Float32Array(d);
  const scratch = new Float64Array(m);
  const keep = m - 2 * b;
  for (let t = 0; t < d; t++) {
    gather(updates, t, scratch);
    if (b > 0) {
      select(scratch, 0, m - 1, b);
      // Ranks b … m − b − 1 now lie in scratch[b..m − 1]; a second selection inside it isolates them.
      select(scratch, b, m - 1, m - b - 1);
    }
    let s = 0;
    for (let i = b; i < m - b; i++) s += scratch[i]!;
    out[t] = s / keep;
  }
  return out;
}
