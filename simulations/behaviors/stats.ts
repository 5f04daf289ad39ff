/**
 * Coordinate-wise statistics of a list of updates, in float64, shared by the update-poisoning behaviours
 * (update.ts) and the adaptive ones (adaptive.ts).
 */

/** The coordinate-wise mean of a non-empty list of equal-length vectors, in float64. */
export function meanOfVectors(vs: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(vs[0]!.length);
  for (const v of vs) for (let j = 0; j < out.length; j++) out[j] = out[j]! + v[j]!;
  for (let j = 0; j < out.length; j++) out[j] = out[j]! / vs.length;
  return out;
}

/** Coordinate-wise mean and population standard deviation (÷ n) in float64, two passes for stability. */
export function meanAndStd(vs: readonly ArrayLike<number>[]): { mu: Float64Array; sigma: Float64Array } {
  const mu = meanOfVectors(vs);
  const sigma = new Float64Array(mu.length);
  for (const v of vs) {
    for (let j = 0; j < mu.length; j++) {
      const e = v[j]! - mu[j]!;
      sigma[j] = sigma[j]! + e * e;
    }
  }
  for (let j = 0; j < sigma.length; j++) sigma[j] = Math.sqrt(sigma[j]! / vs.length);
  return { mu, sigma };
}

/** The L2 distance ‖a − b‖₂, accumulated in float64. */
export function l2Distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const e = a[j]! - b[j]!;
    s += e * e;
  }
  return Math.sqrt(s);
}

/** The dot product a·b in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}
