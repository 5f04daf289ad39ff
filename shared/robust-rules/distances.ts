/**
 * Pairwise and point-to-set Euclidean distances over updates, shared by MDA, MoNNA, NNM, FoolsGold and FLTrust.
 * Accumulated in Float64; a NaN distance (only a faulty or malicious client sends NaN) counts as +∞, as in Krum.
 */

/** ‖a − b‖² in Float64, NaN as +∞. */
export function squaredDistance(a: ArrayLike<number>, b: ArrayLike<number>, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) {
    const x = a[t]! - b[t]!;
    s += x * x;
  }
  return s === s ? s : Infinity;
}

/** ‖a‖ in Float64 (NaN stays NaN: callers decide what a non-finite norm means). */
export function l2Norm(a: ArrayLike<number>, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += a[t]! * a[t]!;
  return Math.sqrt(s);
}

/** ⟨a, b⟩ in Float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += a[t]! * b[t]!;
  return s;
}

/** The m × m matrix of squared distances (row-major, symmetric, zero diagonal), NaN as +∞. */
export function pairwiseSquaredDistances(updates: readonly ArrayLike<number>[], d: number): Float64Array {
  const m = updates.length;
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      const v = squaredDistance(updates[i]!, updates[j]!, d);
      out[i * m + j] = v;
      out[j * m + i] = v;
    }
  }
  return out;
}

/** The indices of the k smallest `keys` (ties to the lower index), ascending by key. */
export function smallestK(keys: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: keys.length }, (_, i) => i)
    .sort((x, y) => keys[x]! - keys[y]! || x - y)
    .slice(0, k);
}

/** Whether every coordinate of `u` is finite. */
export function allFinite(u: ArrayLike<number>, d: number): boolean {
  for (let t = 0; t < d; t++) if (!Number.isFinite(u[t]!)) return false;
  return true;
}

/** Checks f as an integer ≥ 0 with `ok(f)`, else throws a RangeError naming the rule and its condition. */
export function checkF(rule: string, f: number, m: number, ok: boolean, condition: string): void {
  if (!Number.isSafeInteger(f) || f < 0) throw new RangeError(`${rule}: f must be an integer ≥ 0, got ${f}`);
  if (!ok) throw new RangeError(`${rule}: needs ${condition}; got m = ${m} with f = ${f}`);
}
