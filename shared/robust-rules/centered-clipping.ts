/**
 * Centered clipping: Karimireddy, He, Jaggi, "Learning from History for Byzantine Robust Optimization", ICML
 * 2021 (arXiv 2012.10333), §4, eq. (CC):
 *
 *   v ← v + (1/m) Σ_i (x_i − v) · min(1, τ / ‖x_i − v‖),  repeated L times,
 *
 * starting from the previous round's aggregate (the paper's v = the last aggregate momentum).
 *
 * Ambiguities resolved:
 * - The centre carries across rounds as the rule's state (`CenteredClippingState`): the first round starts from
 *   the zero update, as ByzFL's first call does. ByzFL keeps the centre in the aggregator object the same way.
 *   The coordinator checkpoints the centre after every completed round (float32, in the checkpoint's binary
 *   body: server/rule-state-codec.ts) and restores it on resume, so the rounds after a resume clip around the
 *   centre the uninterrupted run would; a checkpoint of format 1 or 2 (before rule states were saved) resumes
 *   from the zero centre, and the run log says so.
 * - The paper applies CC to worker momenta; here it clips the model updates Δ_k = w_k − w_t the clients send
 *   (client momentum lives inside local training).
 * - τ (`tau`, update-norm units, > 0) defaults to 10, L (`iterations`) to 1 (the paper's experiments use one
 *   iteration; ByzFL's defaults are τ = 100, L = 1).
 * - An update at distance 0 from the centre has factor 1; one whose distance is not finite gets factor 0 (it
 *   moves nothing). The mean divides by all m.
 * - Defined on any non-empty list of updates. Across groups: allowed (it only needs the group means; the centre
 *   is then the previous round's combined update).
 */

/** Default clipping radius τ and iteration count L. */
export const CC_DEFAULT_TAU = 10;
export const CC_DEFAULT_ITERATIONS = 1;

/** What centered clipping keeps between rounds. */
export interface CenteredClippingState {
  kind: 'centered-clipping';
  /** The last aggregate (the next round's starting centre). */
  center: Float32Array;
}

/** Centered clipping around `center` (zero when absent); returns the aggregate, which is also the next centre. */
export function centeredClipping(updates: readonly Float32Array[], d: number, tau: number, iterations: number, center?: Float32Array): Float32Array {
  if (!(tau > 0) || !Number.isFinite(tau)) throw new RangeError(`centered-clipping: tau must be a finite number > 0, got ${tau}`);
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`centered-clipping: iterations must be an integer ≥ 1, got ${iterations}`);
  const m = updates.length;
  const v = center !== undefined && center.length === d ? Float64Array.from(center) : new Float64Array(d);
  for (let it = 0; it < iterations; it++) {
    const step = new Float64Array(d);
    for (const u of updates) {
      let s = 0;
      for (let t = 0; t < d; t++) {
        const x = u[t]! - v[t]!;
        s += x * x;
      }
      const norm = Math.sqrt(s);
      const factor = !Number.isFinite(norm) ? 0 : norm === 0 ? 1 : Math.min(1, tau / norm);
      if (factor === 0) continue;
      for (let t = 0; t < d; t++) step[t] += factor * (u[t]! - v[t]!);
    }
    for (let t = 0; t < d; t++) v[t] += step[t]! / m;
  }
  return Float32Array.from(v);
}
