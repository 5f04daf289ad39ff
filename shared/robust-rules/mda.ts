/**
 * Minimum-diameter averaging (MDA): El Mhamdi, Guerraoui, Guirguis, Hoang, Rouault, "Genuinely Distributed
 * Byzantine Machine Learning", PODC 2020 (the reference ByzFL cites; the rule goes back to El Mhamdi, Guerraoui,
 * Rouault's Byzantine SGD work of 2018). Among the subsets of m − f updates, take the one whose diameter
 * (largest pairwise L2 distance) is smallest and return its mean.
 *
 * Ambiguities resolved:
 * - Condition m > 2f (ByzFL's; stated once here as `mdaMinUpdates`).
 * - Ties in diameter go to the lexicographically first kept subset (ByzFL's enumeration order, which keeps the
 *   first strict improvement). A NaN distance counts as +∞.
 * - Cost: the rule enumerates the C(m, f) sets of f updates to drop, so it is refused at start-up when
 *   C(m, f) > `MDA_MAX_SUBSETS` (2,000,000) for the configured cohort. Each set's diameter is found by scanning the
 *   pairs in decreasing distance until one has both ends kept, which is usually a few pairs.
 * - Across groups: allowed (it only needs the group means) with m the number of groups.
 */
import { checkF, pairwiseSquaredDistances } from './distances.js';
import { meanOf } from './order-statistics.js';

/** MDA's condition m > 2f: the fewest updates it is defined on. */
export function mdaMinUpdates(f: number): number {
  return 2 * f + 1;
}

/** The largest number of subsets MDA will enumerate. */
export const MDA_MAX_SUBSETS = 2_000_000;

/** C(m, f), saturating at Infinity past 2^53. */
export function mdaSubsets(m: number, f: number): number {
  let c = 1;
  for (let i = 1; i <= f; i++) c = (c * (m - f + i)) / i;
  return Math.round(c);
}

/** MDA: the mean of the m − f updates of smallest diameter, and the kept indices ascending. */
export function mda(updates: readonly Float32Array[], d: number, f: number): { update: Float32Array; selected: number[] } {
  const m = updates.length;
  checkF('mda', f, m, m >= mdaMinUpdates(f), 'm > 2f updates (El Mhamdi et al.)');
  if (f === 0) return { update: meanOf(updates, d), selected: updates.map((_, i) => i) };
  const dist = pairwiseSquaredDistances(updates, d);
  // Pairs by decreasing distance (ties by (i, j) ascending, which does not change the diameter).
  const pairs: [number, number, number][] = [];
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) pairs.push([dist[i * m + j]!, i, j]);
  pairs.sort((a, b) => (b[0] === a[0] ? a[1] - b[1] || a[2] - b[2] : b[0] > a[0] ? 1 : -1));
  const dropped = new Uint8Array(m);
  let best = Infinity;
  let bestKept: number[] | undefined;
  const keptOf = (): number[] => {
    const k: number[] = [];
    for (let i = 0; i < m; i++) if (dropped[i] === 0) k.push(i);
    return k;
  };
  const lexLess = (a: number[], b: number[]): boolean => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
    return false;
  };
  const visit = (): void => {
    let diameter = 0;
    for (const [v, i, j] of pairs) {
      if (dropped[i] === 0 && dropped[j] === 0) {
        diameter = v;
        break;
      }
    }
    if (diameter < best) {
      best = diameter;
      bestKept = keptOf();
    } else if (diameter === best) {
      const kept = keptOf();
      if (bestKept === undefined || lexLess(kept, bestKept)) bestKept = kept;
    }
  };
  const choose = (from: number, left: number): void => {
    if (left === 0) return visit();
    for (let i = from; i <= m - left; i++) {
      dropped[i] = 1;
      choose(i + 1, left - 1);
      dropped[i] = 0;
    }
  };
  choose(0, f);
  const selected = bestKept!;
  return { update: meanOf(updates, d, selected), selected };
}
