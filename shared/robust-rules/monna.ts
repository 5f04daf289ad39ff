/**
 * MoNNA (nearest-neighbour averaging around a trusted vector): Farhadkhani, Guerraoui, Gupta, Hoang, Pinot,
 * Stephan, "Robust Collaborative Learning with Linear Gradient Overhead", ICML 2023, as implemented in ByzFL
 * (Allouah et al.): the mean of the m − f updates nearest (L2) to a pivot that the aggregator trusts.
 *
 * Ambiguities resolved:
 * - The pivot: in the paper each honest node uses its own (momentum) vector; the coordinator has none of its own
 *   in federated learning, so the pivot is the coordinator's root update, the same one FLTrust uses (trained on
 *   a root set drawn like the shared set: server/engine/root-update.ts). ByzFL takes the pivot as the index of
 *   one of the inputs; the fixtures pass that input as the pivot.
 * - The momentum of the paper's name lives in the clients' local SGD; the rule is the nearest-neighbour average.
 * - Condition m > 2f (ByzFL's; `monnaMinUpdates`). Ties in distance go to the lower index; NaN distances are +∞.
 * - Across groups: refused. The pivot is the root update, which grouped secure aggregation does not compute
 *   (its coordinator trains nothing in plaintext); see `ACROSS_REFUSALS` in shared/federated/aggregation.ts.
 */
import { checkF, smallestK, squaredDistance } from './distances.js';
import { meanOf } from './order-statistics.js';

/** MoNNA's condition m > 2f. */
export function monnaMinUpdates(f: number): number {
  return 2 * f + 1;
}

/** The mean of the m − f updates nearest the pivot, and their indices ascending. */
export function monna(updates: readonly Float32Array[], d: number, f: number, pivot: Float32Array): { update: Float32Array; selected: number[] } {
  const m = updates.length;
  checkF('monna', f, m, m >= monnaMinUpdates(f), 'm > 2f updates');
  if (pivot.length !== d) throw new RangeError(`monna: the pivot has ${pivot.length} coordinates, the updates ${d}`);
  const dist = updates.map((u) => squaredDistance(u, pivot, d));
  const selected = smallestK(dist, m - f).sort((a, b) => a - b);
  return { update: meanOf(updates, d, selected), selected };
}
