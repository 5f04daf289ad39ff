/**
 * FLTrust: Cao, Fang, Liu, Gong, "FLTrust: Byzantine-robust Federated Learning via Trust Bootstrapping", NDSS
 * 2021, Algorithm 1 (§III-C). The server holds a small clean root dataset and trains its own update g_0 from the
 * current model each round; each client update g_i gets the trust score TS_i = ReLU(cos(g_i, g_0)), is rescaled
 * to the norm of g_0, and the aggregate is Σ_i TS_i · (‖g_0‖/‖g_i‖) g_i / Σ_j TS_j.
 *
 * Ambiguities resolved:
 * - The root update: the coordinator trains the current global model on a root set of `rootSize` examples
 *   (default 100, the paper's root dataset size) drawn from the training split like the shared set, with a seed
 *   of its own (`sampleRootSet`), for the same local epochs, batch size, learning rate and momentum as the
 *   clients, without the shared-set term (server/engine/root-update.ts). The paper samples the root set from
 *   the union of the clients' data; here the training split plays that role, as it does for the shared set.
 *   Nothing carries across rounds: the root set and each round's training seed derive from the run seed (and
 *   the round), so a run resumed from a checkpoint computes the same root updates and there is no rule state to
 *   save (MoNNA's pivot, the same root update, likewise).
 * - Every TS_i = 0 (no update points the server's way): the aggregate is the zero update (no step); the paper
 *   leaves 0/0 open. A client update of norm 0 or with a non-finite coordinate gets TS = 0; a root update of
 *   norm 0 gives the zero update.
 * - The paper's global learning rate α multiplies the aggregate; here it is 1, as for every rule.
 * - ByzFL has no FLTrust: the fixtures come from an independent NumPy reference of Algorithm 1.
 * - Defined on any non-empty list of updates. Across groups: refused, since grouped secure aggregation computes
 *   no root update (see `ACROSS_REFUSALS` in shared/federated/aggregation.ts).
 */
import { allFinite, dot, l2Norm } from './distances.js';

/** Default root-set size (examples), the paper's 100. */
export const FLTRUST_DEFAULT_ROOT_SIZE = 100;

/** The FLTrust aggregate, and each update's trust score in input order. */
export function fltrust(updates: readonly Float32Array[], d: number, root: Float32Array): { update: Float32Array; trust: number[] } {
  if (root.length !== d) throw new RangeError(`fltrust: the root update has ${root.length} coordinates, the updates ${d}`);
  const n0 = l2Norm(root, d);
  const acc = new Float64Array(d);
  const trust = updates.map(() => 0);
  if (!(n0 > 0) || !Number.isFinite(n0)) return { update: new Float32Array(d), trust };
  let total = 0;
  updates.forEach((u, i) => {
    if (!allFinite(u, d)) return;
    const ni = l2Norm(u, d);
    if (!(ni > 0) || !Number.isFinite(ni)) return;
    const ts = Math.max(0, dot(u, root, d) / (ni * n0));
    trust[i] = ts;
    if (ts === 0) return;
    total += ts;
    const w = (ts * n0) / ni;
    for (let t = 0; t < d; t++) acc[t] += w * u[t]!;
  });
  const out = new Float32Array(d);
  if (total > 0) for (let t = 0; t < d; t++) out[t] = acc[t]! / total;
  return { update: out, trust };
}
