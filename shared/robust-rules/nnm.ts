/**
 * Nearest-neighbour mixing (NNM), a pre-aggregator: Allouah, Farhadkhani, Guerraoui, Gupta, Pinot, Stephan,
 * "Fixing by Mixing: A Recipe for Optimal Byzantine ML under Heterogeneity", AISTATS 2023, Algorithm 1. Each
 * update is replaced by the mean of its m − f nearest updates (L2, itself included); the m mixed vectors then go
 * to the aggregation rule.
 *
 * Ambiguities resolved:
 * - Condition f < m (ByzFL's; the paper's guarantees need m > 2f, which the rule after it usually demands anyway);
 *   stated once as `nnmMinUpdates`. Ties in distance go to the lower index; NaN distances are +∞.
 * - f defaults to the rule's f when the rule has one (`pre: ['nnm']` after `{ rule: 'krum', f: 2 }`).
 * - The mixed vectors no longer belong to one client each, so a rule that reports the ids it kept (Krum, MDA,
 *   MoNNA) reports none after NNM.
 * - Across groups: allowed (inside `across`, over the group means).
 */
import { checkF, pairwiseSquaredDistances, smallestK } from './distances.js';
import { meanOf } from './order-statistics.js';

/** NNM's condition f < m. */
export function nnmMinUpdates(f: number): number {
  return f + 1;
}

/** The m mixed updates: each the mean of its m − f nearest updates. */
export function nnm(updates: readonly Float32Array[], d: number, f: number): Float32Array[] {
  const m = updates.length;
  checkF('nnm', f, m, m >= nnmMinUpdates(f), 'f < m updates');
  const dist = pairwiseSquaredDistances(updates, d);
  return updates.map((_, i) => meanOf(updates, d, smallestK(dist.subarray(i * m, (i + 1) * m), m - f)));
}
