/**
 * Adaptive robust clipping (ARC), a pre-aggregator: Allouah, Guerraoui, Gupta, Jellouli, Rizk, Stephan, "The
 * Vital Role of Gradient Clipping in Byzantine-Resilient Distributed Learning", arXiv 2405.14432, 2024,
 * Algorithm 1. With k = ⌊2 f (m − f) / m⌋, the k updates of largest L2 norm are scaled down to the norm of the
 * (k + 1)-th largest; the others are left as they are.
 *
 * Ambiguities resolved:
 * - k is computed in integers; ByzFL computes int((2f/m)·(m − f)) in floating point, which can round an exact
 *   integer down by one (none of the fixtures' cases does).
 * - Ties in norm are ordered by index (ByzFL's stable sort); a non-finite norm counts as +∞ and such an update is
 *   replaced by the zero vector when clipped.
 * - Condition f < m (`arcMinUpdates`; ByzFL allows f = m, which clips nothing); f defaults to the rule's f.
 * - ARC keeps one vector per client, so a rule after it still reports the ids it kept.
 * - Across groups: allowed (over the group means).
 */
import { checkF, l2Norm } from './distances.js';

/** ARC's condition f < m. */
export function arcMinUpdates(f: number): number {
  return f + 1;
}

/** How many updates ARC clips: ⌊2 f (m − f) / m⌋. */
export function arcClipCount(m: number, f: number): number {
  return Math.floor((2 * f * (m - f)) / m);
}

/** The m updates with the k largest clipped to the (k + 1)-th largest norm. */
export function arc(updates: readonly Float32Array[], d: number, f: number): Float32Array[] {
  const m = updates.length;
  checkF('arc', f, m, m >= arcMinUpdates(f), 'f < m updates');
  const norms = updates.map((u) => {
    const n = l2Norm(u, d);
    return n === n ? n : Infinity;
  });
  const k = arcClipCount(m, f);
  const out = updates.map((u) => u);
  if (k === 0) return out;
  const ascending = Array.from({ length: m }, (_, i) => i).sort((a, b) => norms[a]! - norms[b]! || a - b);
  const threshold = norms[ascending[m - k - 1]!]!;
  for (const i of ascending.slice(m - k)) {
    const n = norms[i]!;
    if (!(n > threshold)) continue;
    const c = new Float32Array(d);
    if (Number.isFinite(n)) {
      const w = threshold / n;
      const u = updates[i]!;
      for (let t = 0; t < d; t++) c[t] = u[t]! * w;
    }
    out[i] = c;
  }
  return out;
}
