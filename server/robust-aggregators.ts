/**
 * Plaintext robust aggregation rules by name, and the pieces of grouped secure aggregation that run on the
 * coordinator (threats-and-evaluation.md §4, §5). Each rule, with its paper, its constraints and its resolved
 * ambiguities, lives in its own module under shared/robust-rules/: `median.ts`, `trimmed-mean.ts`, `krum.ts`
 * (Krum and Multi-Krum), `norm-clip.ts`; `order-statistics.ts` holds what they share.
 *
 * - Grouping: threats-and-evaluation.md §5; the group-then-robust-rule structure is that of Karimireddy, He,
 *   Jaggi, "Byzantine-Robust Learning on Heterogeneous Datasets via Bucketing", ICLR 2022.
 * - Runtime constraints are checked against the updates received, which dropouts can make fewer than the
 *   configured cohort: Krum with m ≤ 2f + 2, a trim with 2b ≥ m or k > m throw rather than silently weaken the rule.
 * - `mean` propagates non-finite values, as it must; the robust rules treat them as the rule's module says.
 */
import type { AggregationConfig } from '../shared/federated/aggregation.js';
import { Rng } from '../shared/util/random.js';
import { checkUpdates, meanOf } from '../shared/robust-rules/order-statistics.js';
import { coordinateMedian } from '../shared/robust-rules/median.js';
import { coordinateTrimmedMean } from '../shared/robust-rules/trimmed-mean.js';
import { krum, multiKrum } from '../shared/robust-rules/krum.js';
import { normClip } from '../shared/robust-rules/norm-clip.js';

/** What a plaintext rule returns: the aggregate and what it learnt about the individual updates. */
export interface AggregateResult {
  /** The aggregated update, length d. */
  update: Float32Array;
  /** Krum / Multi-Krum: indices (into the input list) of the updates kept, ascending. */
  selected?: number[];
  /** Norm clipping: the fraction of updates whose norm exceeded τ, in [0, 1]. */
  clippedFraction?: number;
  /** Norm clipping: each update's L2 norm before clipping, in input order. */
  norms?: number[];
}

/**
 * Aggregates individual updates with a plaintext rule (threats-and-evaluation.md §4). Every update must have the
 * same length d; the list must be non-empty. Throws for `grouped`, which combines group sums (see `combineAcross`).
 */
export function aggregatePlaintext(cfg: AggregationConfig, updates: readonly Float32Array[]): AggregateResult {
  const d = checkUpdates(updates, cfg.rule);
  const m = updates.length;
  switch (cfg.rule) {
    case 'mean':
      return { update: meanOf(updates, d) };
    case 'median':
      return { update: coordinateMedian(updates, d) };
    case 'trimmed-mean':
      return { update: coordinateTrimmedMean(updates, d, cfg.trim ?? Math.floor(cfg.beta * m)) };
    case 'krum':
      return krum(updates, d, cfg.f);
    case 'multi-krum':
      return multiKrum(updates, d, cfg.f, cfg.k);
    case 'norm-clip':
      return normClip(updates, d, cfg.tau);
    case 'grouped':
      throw new Error("aggregatePlaintext: 'grouped' is not a plaintext rule; combine the group means with combineAcross");
  }
}

/**
 * Combines the group means of grouped secure aggregation coordinate-wise (threats-and-evaluation.md §5):
 * `median`, or the trimmed mean with b = ⌊beta·g⌋ for g group means (2b < g).
 */
export function combineAcross(across: 'median' | 'trimmed-mean', groupMeans: readonly Float32Array[], beta: number): Float32Array {
  const d = checkUpdates(groupMeans, `combineAcross(${across})`);
  if (across === 'median') return coordinateMedian(groupMeans, d);
  if (across !== 'trimmed-mean') throw new RangeError(`combineAcross: across must be 'median' or 'trimmed-mean', got ${String(across)}`);
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`combineAcross: beta must be in [0, 0.5), got ${beta}`);
  return coordinateTrimmedMean(groupMeans, d, Math.floor(beta * groupMeans.length));
}

/**
 * Splits a round's members at random into `groups` groups of ⌊m/g⌋ or ⌈m/g⌉ (the first m mod g groups are the
 * larger), each group's ids sorted. Deterministic for (seed, round, the set of members): members are sorted
 * (UTF-16 code-unit order) before the seeded shuffle, so the order in which they arrived does not matter.
 */
export function splitGroups(seed: number, round: number, members: readonly string[], groups: number): string[][] {
  const m = members.length;
  if (!Number.isSafeInteger(groups) || groups < 1 || groups > m) {
    throw new RangeError(`splitGroups: groups must be an integer in [1, ${m}] for ${m} members, got ${groups}`);
  }
  if (!Number.isSafeInteger(round) || round < 1) throw new RangeError(`splitGroups: round must be an integer ≥ 1 (rounds count from 1), got ${round}`);
  const order = [...members].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < m; i++) {
    if (order[i] === order[i - 1]) throw new RangeError(`splitGroups: member ${JSON.stringify(order[i])} is listed twice`);
  }
  new Rng(seed).fork('groups').fork(round).shuffle(order);
  const small = Math.floor(m / groups);
  const larger = m % groups;
  const out: string[][] = [];
  let at = 0;
  for (let g = 0; g < groups; g++) {
    const size = small + (g < larger ? 1 : 0);
    out.push(order.slice(at, at + size).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    at += size;
  }
  return out;
}
