/**
 * Bucketing, a pre-aggregator: Karimireddy, He, Jaggi, "Byzantine-Robust Learning on Heterogeneous Datasets via
 * Bucketing", ICLR 2022, Algorithm 1. The updates are shuffled at random and split into ⌈m/s⌉ buckets of s
 * consecutive updates (the last one smaller when s does not divide m); each bucket's mean goes to the rule.
 *
 * Ambiguities resolved:
 * - The shuffle is seeded by the run seed and the round (`bucketOrder`), so a run is reproducible; ByzFL uses
 *   NumPy's global generator. The fixtures record ByzFL's permutation and pass it to `bucketing`. It is the only
 *   random state of a pre-aggregator, and a function of (seed, round, place): a run resumed from a checkpoint
 *   shuffles each later round exactly as the uninterrupted run does, with nothing to checkpoint.
 * - The last, incomplete bucket is kept (ByzFL does too); the rule then sees ⌈m/s⌉ vectors, so its condition
 *   (e.g. Krum's m > 2f + 2) is checked against ⌈m/s⌉, at start-up for the cohort and in each round.
 * - s (`s`, default 2, the paper's experiments' bucket size) is an integer ≥ 1; s = 1 only shuffles.
 * - Mixed vectors belong to no single client: rules that report kept ids report none after bucketing.
 * - Across groups: allowed (buckets of group means).
 */
import { Rng } from '../util/random.js';
import { meanOf } from './order-statistics.js';

/** Default bucket size s. */
export const BUCKETING_DEFAULT_S = 2;

/** How many vectors bucketing leaves: ⌈m/s⌉. */
export function bucketCount(m: number, s: number): number {
  return Math.ceil(m / s);
}

/** The seeded permutation of 0 … m−1 for round `round` of a run seeded `seed` (`step`: the pre-aggregator's place). */
export function bucketOrder(seed: number, round: number, m: number, step = 0): number[] {
  const order = Array.from({ length: m }, (_, i) => i);
  new Rng(seed).fork('bucketing').fork(round).fork(step).shuffle(order);
  return order;
}

/** The bucket means, for the updates taken in `order` (a permutation of 0 … m−1). */
export function bucketing(updates: readonly Float32Array[], d: number, s: number, order: readonly number[]): Float32Array[] {
  const m = updates.length;
  if (!Number.isSafeInteger(s) || s < 1) throw new RangeError(`bucketing: s must be an integer ≥ 1, got ${s}`);
  if (order.length !== m || new Set(order).size !== m || order.some((i) => !(i >= 0 && i < m))) {
    throw new RangeError(`bucketing: order must be a permutation of 0 … ${m - 1}`);
  }
  const out: Float32Array[] = [];
  for (let at = 0; at < m; at += s) out.push(meanOf(updates, d, order.slice(at, Math.min(m, at + s))));
  return out;
}
