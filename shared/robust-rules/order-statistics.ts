/**
 * Order statistics and averages over a list of updates, shared by the coordinate-wise rules, Krum and norm
 * clipping. Non-finite values, which only a faulty or malicious client sends, are ordered as +∞, so a minority of
 * NaN coordinates is trimmed like any outlier.
 */

/** Checks a non-empty list of equal-length updates and returns d. */
export function checkUpdates(updates: readonly Float32Array[], what: string): number {
  if (updates.length === 0) throw new Error(`${what}: no updates to aggregate (got an empty list)`);
  const d = updates[0]!.length;
  for (let i = 1; i < updates.length; i++) {
    if (updates[i]!.length !== d) {
      throw new Error(`${what}: updates differ in length: update 0 has ${d} coordinates, update ${i} has ${updates[i]!.length}`);
    }
  }
  return d;
}

/**
 * Partially orders `a[lo..hi]` (inclusive) so that a[k] is the value of rank k, everything before it ≤ a[k] and
 * everything after it ≥ a[k] (Hoare's quickselect with a median-of-three pivot). Entries must not be NaN.
 */
export function select(a: Float64Array, lo: number, hi: number, k: number): void {
  while (hi - lo > 12) {
    const mid = (lo + hi) >>> 1;
    // Median of three into a[mid]; a[lo] ≤ pivot ≤ a[hi] then bounds both scans below.
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    // Now a[lo..j] ≤ pivot ≤ a[i..hi], and every entry strictly between j and i equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
  for (let i = lo + 1; i <= hi; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= lo && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/** Copies coordinate t of every update into `scratch`, NaN as +∞ so that the order is total. */
export function gather(updates: readonly Float32Array[], t: number, scratch: Float64Array): void {
  for (let i = 0; i < scratch.length; i++) {
    const v = updates[i]![t]!;
    scratch[i] = v === v ? v : Infinity;
  }
}

/** The median of `scratch` (reordered in place); the mean of the two middle values when its length is even. */
export function medianOf(scratch: Float64Array): number {
  const m = scratch.length;
  const h = m >>> 1;
  if (m % 2 === 1) {
    select(scratch, 0, m - 1, h);
    return scratch[h]!;
  }
  select(scratch, 0, m - 1, h - 1);
  let upper = scratch[h]!;
  for (let i = h + 1; i < m; i++) if (scratch[i]! < upper) upper = scratch[i]!;
  return (scratch[h - 1]! + upper) / 2;
}

/** The uniform mean of the updates picked by `indices` (all of them by default), accumulated in Float64. */
export function meanOf(updates: readonly Float32Array[], d: number, indices?: readonly number[], weights?: readonly number[]): Float32Array {
  const acc = new Float64Array(d);
  const pick = indices ?? updates.map((_, i) => i);
  for (let n = 0; n < pick.length; n++) {
    const u = updates[pick[n]!]!;
    const w = weights === undefined ? 1 : weights[n]!;
    if (w === 0) continue;
    if (w === 1) for (let t = 0; t < d; t++) acc[t] += u[t]!;
    else for (let t = 0; t < d; t++) acc[t] += w * u[t]!;
  }
  const out = new Float32Array(d);
  const count = pick.length;
  for (let t = 0; t < d; t++) out[t] = acc[t]! / count;
  return out;
}
