/**
 * The sparse neighbour graph of SecAgg+ and the threshold rules (docs/spec/secure-aggregation.md §6, §8).
 *
 * Paper: Bell, Bonawitz, Gascón, Lepoint, Raykova, "Secure Single-Server Aggregation with (Poly)Logarithmic
 * Overhead", ACM CCS 2020, §3 (masks and shares only along a random k-regular graph). The paper draws the graph
 * at random; like Google's fcp/secagg (`secret_sharing_harary_graph`) we use a Harary graph over a random
 * permutation, and resolve "who draws the permutation" by seeding it from the session id, so every client can
 * recompute and check its own neighbour list.
 */

import { aes256Ctr, type KeystreamCipher } from './primitives.js';
import { LABELS, KEY_BYTES } from './labels.js';
import { sha256 } from './session-id.js';
import { concatBytes, str } from './encoding.js';
import { SecAggConfigError } from './errors.js';
import { MAX_SHARES } from './shamir.js';

/** The adversary of Google's graph-parameter finder. */
export type GraphAdversary = 'semi-honest' | 'semi-malicious';

/** The coordinator threat model of §2, which sets the default threshold. */
export type ThreatModel = 'honest-but-curious' | 'active';

function fail(field: string, message: string): never {
  throw new SecAggConfigError(field, message);
}

/** Reads uniform integers from the AES-256-CTR keystream of a 32-byte seed (portable: WebCrypto has AES-CTR). */
class KeystreamInts {
  readonly #cipher: KeystreamCipher;
  readonly #zeros = new Uint8Array(4096);
  #view: DataView = new DataView(new ArrayBuffer(0));
  #at = 0;

  constructor(seed: Uint8Array) {
    this.#cipher = aes256Ctr(seed, new Uint8Array(16));
  }

  #word(): number {
    if (this.#at + 4 > this.#view.byteLength) {
      const chunk = this.#cipher.update(this.#zeros);
      this.#view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.#at = 0;
    }
    const w = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return w;
  }

  /** Uniform on [0, m) for 1 ≤ m ≤ 2^32, by rejection (no modulo bias). */
  below(m: number): number {
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % m);
    for (;;) {
      const w = this.#word();
      if (w < limit) return w % m;
    }
  }
}

/**
 * The ring order of member indices 1..n: a Fisher–Yates shuffle of [1, …, n] (i from n−1 down to 1, swap with
 * j uniform on [0, i], by rejection sampling) driven by the little-endian uint32 words of the AES-256-CTR
 * keystream (IV 0^16) keyed by SHA-256(str("fl-secagg/v1/graph") ‖ sessionId).
 */
export function graphPermutation(n: number, sessionId: Uint8Array): number[] {
  if (!Number.isSafeInteger(n) || n < 1) fail('n', `n must be an integer ≥ 1, got ${String(n)}`);
  if (!(sessionId instanceof Uint8Array) || sessionId.length !== KEY_BYTES) {
    fail('sessionId', `sessionId must be ${KEY_BYTES} bytes`);
  }
  const ints = new KeystreamInts(sha256(concatBytes(str(LABELS.graph), sessionId)));
  const perm = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = n - 1; i > 0; i--) {
    const j = ints.below(i + 1);
    const tmp = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = tmp;
  }
  return perm;
}

/**
 * Harary graph H(k, n) on the permuted ring: each member is linked to its k/2 predecessors, its k/2 successors
 * and itself. Returns, for member index i (1..n), `result[i − 1]` = its k + 1 neighbours' indices, ascending,
 * i included. k must be even, 2 ≤ k ≤ n − 1 and k + 1 ≤ 255 (one Shamir share per neighbour).
 */
export function hararyNeighbours(n: number, k: number, sessionId: Uint8Array): number[][] {
  if (!Number.isSafeInteger(n) || n < 3) fail('n', `the Harary graph needs n ≥ 3 members, got ${String(n)}`);
  if (!Number.isInteger(k) || k < 2 || k % 2 !== 0) fail('k', `degree k must be an even integer ≥ 2, got ${String(k)}`);
  if (k > n - 1) fail('k', `degree k = ${k} needs more than k + 1 = ${k + 1} members, got n = ${n}`);
  if (k + 1 > MAX_SHARES) fail('k', `numShares k + 1 = ${k + 1} exceeds ${MAX_SHARES}`);
  const ring = graphPermutation(n, sessionId);
  const out: number[][] = Array.from({ length: n }, () => []);
  for (let p = 0; p < n; p++) {
    const list = out[ring[p]! - 1]!;
    list.push(ring[p]!);
    for (let d = 1; d <= k / 2; d++) list.push(ring[(p + d) % n]!, ring[(p - d + n) % n]!);
    list.sort((a, b) => a - b);
  }
  return out;
}

/** The complete graph in the same shape as `hararyNeighbours`: everyone's list is 1..n. */
export function completeNeighbours(n: number): number[][] {
  if (!Number.isSafeInteger(n) || n < 1) fail('n', `n must be an integer ≥ 1, got ${String(n)}`);
  const all = Array.from({ length: n }, (_, i) => i + 1);
  return Array.from({ length: n }, () => [...all]);
}

/**
 * Survivors (indices) that have fewer than t surviving neighbours, themselves included (Flower's check: the
 * sum must abort if this is non-empty, since such a member's secrets could not be reconstructed).
 */
export function neighboursBelowThreshold(neighbours: readonly (readonly number[])[], survivors: ReadonlySet<number>, t: number): number[] {
  const out: number[] = [];
  for (const u of survivors) {
    const list = neighbours[u - 1];
    if (list === undefined) fail('survivors', `survivor ${u} is not a member index 1..${neighbours.length}`);
    let alive = 0;
    for (const v of list) if (survivors.has(v)) alive++;
    if (alive < t) out.push(u);
  }
  return out.sort((a, b) => a - b);
}

/** (degree k, threshold t) of one row of §8's table. */
export interface GraphParams {
  /** Even degree k; numShares = k + 1. */
  k: number;
  /** Threshold t, counted against the k + 1 holders. */
  t: number;
  /** The tabulated cohort size whose parameters were used. */
  tableN: number;
}

// Google's graph-parameter finder at 5 % adversarial and 5 % dropout, statistical security 2^−40, failure
// probability 2^−20 (§8). Rows the document leaves empty ('—') are absent.
const GRAPH_TABLE: Record<GraphAdversary, readonly { n: number; k: number; t: number }[]> = {
  'semi-honest': [
    { n: 100, k: 12, t: 6 },
    { n: 1_000, k: 30, t: 17 },
    { n: 1_000_000, k: 38, t: 22 },
  ],
  'semi-malicious': [
    { n: 100, k: 16, t: 11 },
    { n: 10_000, k: 62, t: 44 },
    { n: 1_000_000, k: 74, t: 52 },
  ],
};

/**
 * (k, t) for a cohort of n from §8's table, without interpolation: the row of the smallest tabulated n' ≥ n for
 * this adversary. The required degree grows with n, so a larger row's parameters are conservative (e.g.
 * semi-malicious n = 1,000 uses the n = 10^4 row, 62/44). Refused: n < 3, n > 10^6 (no data), and any row whose
 * k + 1 exceeds n (use the complete graph) or 255.
 */
export function chooseGraphParams(n: number, adversary: GraphAdversary): GraphParams {
  if (!Number.isSafeInteger(n) || n < 3) fail('n', `cohort size n must be an integer ≥ 3, got ${String(n)}`);
  const rows = GRAPH_TABLE[adversary];
  if (rows === undefined) fail('adversary', `adversary must be 'semi-honest' or 'semi-malicious', got ${String(adversary)}`);
  const row = rows.find((r) => r.n >= n);
  if (row === undefined) {
    fail('n', `no graph parameters for n = ${n} (${adversary}): the table stops at n = ${rows[rows.length - 1]!.n}`);
  }
  if (row.k + 1 > n) {
    fail('n', `n = ${n} is too small for the ${adversary} Harary graph (k + 1 = ${row.k + 1}); use the complete graph`);
  }
  if (row.k + 1 > MAX_SHARES) fail('k', `numShares k + 1 = ${row.k + 1} exceeds ${MAX_SHARES}`);
  return { k: row.k, t: row.t, tableN: row.n };
}

/** Default threshold (§6): ⌊n/2⌋ + 1 (honest-but-curious) or ⌊2n/3⌋ + 1 (active); n = cohort or k + 1 holders. */
export function defaultThreshold(n: number, threatModel: ThreatModel): number {
  if (!Number.isSafeInteger(n) || n < 3) fail('n', `secure aggregation needs n ≥ 3 holders, got ${String(n)}`);
  if (threatModel === 'honest-but-curious') return Math.floor(n / 2) + 1;
  if (threatModel === 'active') return Math.floor((2 * n) / 3) + 1;
  return fail('threatModel', `threatModel must be 'honest-but-curious' or 'active', got ${String(threatModel)}`);
}

/**
 * Resolves `reconstructionThreshold` against n holders: undefined gives the default; an integer ≥ 2 is taken as
 * is; a fraction in (0, 1) gives ⌈fraction·n⌉. The result must satisfy 2 ≤ t ≤ n, else a config error.
 */
export function resolveThreshold(value: number | undefined, n: number, threatModel: ThreatModel): number {
  const fallback = defaultThreshold(n, threatModel);
  if (value === undefined) return fallback;
  let t: number;
  if (Number.isInteger(value)) t = value;
  else if (typeof value === 'number' && value > 0 && value < 1) t = Math.ceil(value * n);
  else {
    return fail('reconstructionThreshold', `reconstructionThreshold must be an integer ≥ 2 or a fraction in (0, 1), got ${String(value)}`);
  }
  if (t < 2 || t > n) {
    fail('reconstructionThreshold', `reconstructionThreshold resolves to t = ${t}, which must lie in [2, n = ${n}] (value ${value})`);
  }
  return t;
}

/**
 * Whether dropping the members `dropped` (1-based) makes a sum abort on this graph: a dropped member keeps fewer than
 * t live neighbours (its mask key cannot be rebuilt), or a live one fewer than t live holders, itself included.
 * The event SecAgg+ sizing bounds (sizing.ts), measured by sampling.
 */
export function dropSetAborts(neighbours: readonly (readonly number[])[], dropped: ReadonlySet<number>, t: number): boolean {
  for (let u = 1; u <= neighbours.length; u++) {
    let live = 0;
    for (const v of neighbours[u - 1]!) if (v !== u && !dropped.has(v)) live++;
    if (dropped.has(u) ? live < t : live + 1 < t) return true;
  }
  return false;
}
