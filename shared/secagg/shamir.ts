/**
 * Shamir secret sharing for secure aggregation (docs/spec/secure-aggregation.md §3.4), over the audited
 * `shamir-secret-sharing` package (GF(256), at most 255 shares, a share = secret bytes ‖ one x-coordinate byte).
 *
 * Paper: Bonawitz et al., CCS 2017 (arXiv 1611.04482), §3 and §4: t-out-of-n sharing of s_u^SK and b_u. The paper
 * assumes reconstruction from ≥ t honest shares; here shares may be missing or corrupt, so this module resolves
 * that gap: it counts usable shares itself (the library silently returns a wrong secret from fewer than t),
 * verifies every reconstruction with a caller-supplied check, and retries other t-subsets before giving up.
 */

import { combine, split } from 'shamir-secret-sharing';
import { SecAggConfigError, SecAggReconstructionError } from './errors.js';

/** The most shares the library (GF(256)) can produce. */
export const MAX_SHARES = 255;

/** Default number of t-subsets `combineVerified` tries before aborting (§3.4). */
export const DEFAULT_MAX_SUBSETS = 16;

/** The x-coordinate of a share (its last byte), which identifies the holder's evaluation point. */
export function shareX(share: Uint8Array): number {
  return share[share.length - 1]!;
}

function checkThreshold(holders: number, t: number): void {
  if (!Number.isInteger(holders) || holders < 2 || holders > MAX_SHARES) {
    throw new SecAggConfigError('holders', `holders must be an integer in [2, ${MAX_SHARES}], got ${String(holders)}`);
  }
  if (!Number.isInteger(t) || t < 2 || t > holders) {
    throw new SecAggConfigError('t', `threshold t must be an integer in [2, holders = ${holders}], got ${String(t)}`);
  }
}

/** Splits `secret` into `holders` shares, any t of which reconstruct it; 2 ≤ t ≤ holders ≤ 255. */
export async function splitSecret(secret: Uint8Array, holders: number, t: number): Promise<Uint8Array[]> {
  if (!(secret instanceof Uint8Array) || secret.length === 0) {
    throw new SecAggConfigError('secret', 'secret must be a non-empty Uint8Array');
  }
  checkThreshold(holders, t);
  // The library requires exactly Uint8Array, not a Buffer subclass.
  const shares = await split(new Uint8Array(secret), holders, t);
  return shares.map((s) => new Uint8Array(s));
}

/**
 * The order in which t-subsets (as index lists into `shares`) are tried. First come the cyclic windows
 * {o, o+1, …, o+t−1} mod m with offsets stepping by m − t: each window leaves out m − t shares, so
 * ⌈m / (m − t)⌉ windows are enough to leave out any single corrupt share, the commonest failure. Then the other
 * window offsets, then the remaining subsets in lexicographic order, until `limit` subsets.
 */
function* subsetOrder(m: number, t: number, limit: number): Generator<number[]> {
  let produced = 0;
  const seen = new Set<string>();
  const emit = (subset: number[]): boolean => {
    const key = [...subset].sort((a, b) => a - b).join(',');
    if (seen.has(key)) return false;
    seen.add(key);
    produced++;
    return true;
  };
  const gap = m - t;
  if (gap === 0) {
    const all = Array.from({ length: m }, (_, i) => i);
    if (emit(all)) yield all;
    return;
  }
  for (let shift = 0; shift < gap && produced < limit; shift++) {
    for (let o = shift; o < m && produced < limit; o += gap) {
      const w = Array.from({ length: t }, (_, i) => (o + i) % m);
      if (emit(w)) yield w;
    }
  }
  // Lexicographic t-combinations of 0..m−1.
  const c = Array.from({ length: t }, (_, i) => i);
  while (produced < limit) {
    const subset = [...c];
    if (emit(subset)) yield subset;
    let i = t - 1;
    while (i >= 0 && c[i] === m - t + i) i--;
    if (i < 0) return;
    c[i]!++;
    for (let j = i + 1; j < t; j++) c[j] = c[j - 1]! + 1;
  }
}

/**
 * Reconstructs a secret from shares of distinct holders and returns it only once `verify(secret)` accepts it.
 *
 * Shares that are not Uint8Arrays of `secretLength + 1` bytes are ignored. Fewer than t usable shares (counting
 * distinct x-coordinates) throw `SecAggReconstructionError('too-few-shares')` before the library is called,
 * because the library would silently return a wrong secret. When a reconstruction fails to verify, other
 * t-subsets are tried, up to `maxSubsets` in all; then it throws `SecAggReconstructionError('no-verified-subset')`.
 */
export async function combineVerified(
  shares: readonly Uint8Array[],
  t: number,
  verify: (secret: Uint8Array) => boolean,
  maxSubsets: number = DEFAULT_MAX_SUBSETS,
  secretLength = 32,
): Promise<Uint8Array> {
  if (!Number.isInteger(t) || t < 2 || t > MAX_SHARES) {
    throw new SecAggConfigError('t', `threshold t must be an integer in [2, ${MAX_SHARES}], got ${String(t)}`);
  }
  if (!Number.isInteger(maxSubsets) || maxSubsets < 1) {
    throw new SecAggConfigError('maxSubsets', `maxSubsets must be an integer ≥ 1, got ${String(maxSubsets)}`);
  }
  if (!Number.isInteger(secretLength) || secretLength < 1) {
    throw new SecAggConfigError('secretLength', `secretLength must be an integer ≥ 1, got ${String(secretLength)}`);
  }
  // Copy into plain Uint8Arrays: the library rejects Buffers, and callers must not see their inputs mutated.
  const usable = shares.filter((s) => s instanceof Uint8Array && s.length === secretLength + 1).map((s) => new Uint8Array(s));
  const distinctX = new Set(usable.map(shareX)).size;
  if (distinctX < t) {
    throw new SecAggReconstructionError('too-few-shares', { needed: t, got: distinctX, subsetsTried: 0 }, `need ${t} shares from distinct holders to reconstruct, got ${distinctX}`);
  }
  if (usable.length > MAX_SHARES) usable.length = MAX_SHARES;
  let tried = 0;
  for (const subset of subsetOrder(usable.length, t, maxSubsets)) {
    const picked = subset.map((i) => usable[i]!);
    // Two shares claiming one x-coordinate (a lying holder) cannot be interpolated together; skip the subset.
    if (new Set(picked.map(shareX)).size < t) continue;
    tried++;
    let secret: Uint8Array;
    try {
      secret = await combine(picked);
    } catch {
      continue;
    }
    if (verify(secret)) return secret;
    secret.fill(0);
  }
  throw new SecAggReconstructionError(
    'no-verified-subset',
    { needed: t, got: distinctX, subsetsTried: tried },
    `no reconstruction verified after trying ${tried} subsets of ${t} out of ${usable.length} shares`,
  );
}
