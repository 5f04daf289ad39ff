/**
 * FoolsGold: Fung, Yoon, Beschastnikh, "The Limitations of Federated Learning in Sybil Settings", RAID 2020,
 * Algorithm 1. Each client's history H_i is the sum of its updates over the rounds it took part in; clients whose
 * histories point the same way (sybils) get small learning-rate weights α_i:
 *
 *   cs_ij = cos(H_i, H_j) (i ≠ j), cs_ii = 0;  v_i = max_j cs_ij;
 *   pardoning: cs_ij ← cs_ij · v_i / v_j when v_j > v_i;
 *   α_i = 1 − max_j cs_ij, clipped to [0, 1];  α ← α / max α;  α_i = 0.99 where α_i = 1;
 *   α_i ← κ (ln(α_i / (1 − α_i)) + 0.5), clipped to [0, 1];
 *   aggregate = Σ_i α_i Δ_i / Σ_i α_i.
 *
 * Ambiguities resolved:
 * - The history is per client id and lives in the rule's state (`FoolsGoldState`), across rounds; the round's
 *   similarities are between the clients of this round. The coordinator checkpoints it after every completed
 *   round, every history as Float64 in the checkpoint's binary body (server/rule-state-codec.ts), and restores it
 *   on resume, so a resumed run weighs the clients exactly as the uninterrupted run does. A checkpoint of format
 *   1 or 2 (before rule states were saved) resumes with every history empty, and the run log says so.
 * - The aggregate is normalised by Σ α_i, so that with every α_i = 1 it is the mean (Algorithm 1 writes
 *   Σ α_i Δ_i, whose size grows with the number of honest clients); when every α_i = 0 it is the zero update.
 *   α ← α / max α with max α = 0 leaves α = 0.
 * - The optional feature-importance weighting of the paper (§5) and its indicative-feature filter are not used.
 * - κ (`kappa`, default 1, the paper's confidence) scales the logit. A client with one update only (m = 1) gets
 *   α = 1 (no one to be similar to).
 * - cs_ii = 0, as the authors' code computes it (cosine matrix − I): a row's maximum is at least 0, so negative
 *   similarity counts as none, and pardoning never divides by 0 (it rescales only when v_j > v_i ≥ 0).
 * - A history of norm 0 has cosine 0 with every other; an update with a non-finite coordinate is not added to
 *   its history and gets α = 0.
 * - Memory: one Float64 history of d coordinates per client ever seen (8·d bytes each: 175 KB for cnn-mnist's
 *   21,840 parameters, 17 MB for 100 clients), and as much again in every checkpoint (written without copying
 *   the histories; a resume copies each once out of the file).
 * - ByzFL has no FoolsGold: the fixtures come from an independent NumPy reference of Algorithm 1.
 * - Across groups: refused. The groups are redrawn every round, so a group mean has no identity to keep a
 *   history for (see `ACROSS_REFUSALS` in shared/federated/aggregation.ts).
 */
import { allFinite, dot, l2Norm } from './distances.js';

/** Default confidence κ. */
export const FOOLSGOLD_DEFAULT_KAPPA = 1;

/** Per-client histories (sums of updates), by client id. The arrays are never mutated once stored. */
export interface FoolsGoldState {
  kind: 'foolsgold';
  history: ReadonlyMap<string, Float64Array>;
}

/** FoolsGold's aggregate, each update's weight α_i, and the new state (the input state is left as it was). */
export function foolsgold(
  updates: readonly Float32Array[],
  d: number,
  ids: readonly string[],
  kappa: number,
  state?: FoolsGoldState,
): { update: Float32Array; weights: number[]; state: FoolsGoldState } {
  const m = updates.length;
  if (ids.length !== m) throw new RangeError(`foolsgold: needs one client id per update, got ${ids.length} ids for ${m} updates`);
  if (new Set(ids).size !== m) throw new RangeError('foolsgold: a client id appears twice in one round');
  if (!(kappa > 0) || !Number.isFinite(kappa)) throw new RangeError(`foolsgold: kappa must be a finite number > 0, got ${kappa}`);
  const history = new Map(state?.history ?? []);
  const finite = updates.map((u) => allFinite(u, d));
  const hs = updates.map((u, i) => {
    const old = history.get(ids[i]!);
    if (!finite[i]) return old ?? new Float64Array(d);
    const h = old !== undefined ? Float64Array.from(old) : new Float64Array(d);
    for (let t = 0; t < d; t++) h[t] += u[t]!;
    history.set(ids[i]!, h);
    return h;
  });
  const norms = hs.map((h) => l2Norm(h, d));
  const cs = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      const c = norms[i]! > 0 && norms[j]! > 0 ? dot(hs[i]!, hs[j]!, d) / (norms[i]! * norms[j]!) : 0;
      cs[i * m + j] = c;
      cs[j * m + i] = c;
    }
  }
  const maxOf = (i: number): number => {
    let v = 0; // the diagonal: cs − I in the reference code leaves 0 there, so a row's maximum is at least 0
    for (let j = 0; j < m; j++) if (j !== i && cs[i * m + j]! > v) v = cs[i * m + j]!;
    return v;
  };
  const v = Array.from({ length: m }, (_, i) => maxOf(i));
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j && v[j]! > v[i]!) cs[i * m + j] = (cs[i * m + j]! * v[i]!) / v[j]!;
  let alpha = Array.from({ length: m }, (_, i) => Math.min(1, Math.max(0, 1 - maxOf(i))));
  const top = Math.max(...alpha);
  alpha = alpha.map((a) => (top > 0 ? a / top : 0));
  alpha = alpha.map((a) => {
    const c = a === 1 ? 0.99 : a;
    const l = kappa * (Math.log(c / (1 - c)) + 0.5);
    return l === l ? Math.min(1, Math.max(0, l)) : 0;
  });
  alpha = alpha.map((a, i) => (finite[i] ? a : 0));
  const total = alpha.reduce((s, a) => s + a, 0);
  const acc = new Float64Array(d);
  updates.forEach((u, i) => {
    const a = alpha[i]!;
    if (a === 0) return;
    for (let t = 0; t < d; t++) acc[t] += a * u[t]!;
  });
  const out = new Float32Array(d);
  if (total > 0) for (let t = 0; t < d; t++) out[t] = acc[t]! / total;
  return { update: out, weights: alpha, state: { kind: 'foolsgold', history } };
}
