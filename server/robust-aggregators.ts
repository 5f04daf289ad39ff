/**
 * Plaintext robust aggregation rules and the pieces of grouped secure aggregation that run on the coordinator
 * (threats-and-evaluation.md §4, §5).
 *
 * Sources:
 * - Coordinate-wise median and trimmed mean: Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust Distributed
 *   Learning: Towards Optimal Statistical Rates", ICML 2018 (arXiv 1803.01498), §3 (Definitions 1 and 2).
 * - Krum and Multi-Krum: Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine Learning with Adversaries: Byzantine
 *   Tolerant Gradient Descent", NeurIPS 2017, §4 (Krum) and §5 (Multi-Krum).
 * - Norm clipping with a fixed or median bound, and grouping: threats-and-evaluation.md §4 and §5; the group-then-
 *   robust-rule structure is that of Karimireddy, He, Jaggi, "Byzantine-Robust Learning on Heterogeneous Datasets
 *   via Bucketing", ICLR 2022.
 *
 * Ambiguities resolved:
 * - Krum's neighbour count: score(i) sums the squared L2 distances to the m − f − 2 nearest *other* updates, with
 *   the condition m > 2f + 2, as Blanchard et al. state it (threats-and-evaluation.md §4 marks both unverified;
 *   ByzFL uses m − f). Ties in score go to the lowest index.
 * - Median of an even count: the mean of the two middle values (Yin et al. leave it open).
 * - Trimmed mean: b = `trim` when given, else ⌊β·m⌋ with m the updates actually received.
 * - Multi-Krum's k defaults to m − f of the updates received; the `selected` indices are sorted ascending.
 * - Norm clipping is strict: an update is clipped (and counted in `clippedFraction`) only when its norm exceeds τ.
 *   With τ = 'median' the bound is the median norm of the round (mean of the two middle norms when m is even).
 * - Non-finite values, which only a faulty or malicious client sends: order statistics treat NaN as +∞, so a
 *   minority of NaN coordinates is trimmed like any outlier; Krum treats a NaN distance as +∞; norm clipping gives
 *   an update whose norm is not finite a weight of 0 (it counts as clipped). `mean` propagates them, as it must.
 * - Runtime constraints are checked against the updates received, which dropouts can make fewer than the
 *   configured cohort: Krum with m ≤ 2f + 2, a trim with 2b ≥ m or k > m throw rather than silently weaken the rule.
 *
 * Cost: one Float64 accumulator of length d for averaging rules and one scratch array of length m for order
 * statistics; Krum's pairwise distances are computed in coordinate blocks so each block of all m updates stays in
 * cache (m²/2 · d flops, one pass over memory).
 */
import { krumMinUpdates, trimmedMeanMinUpdates, type AggregationConfig } from '../shared/federated/aggregation.js';
import { Rng } from '../shared/util/random.js';

/** What a plaintext rule returns: the aggregate and what it learnt about the individual updates. */
export interface AggregateResult {
  /** The aggregated update, length d. */
  update: Float32Array;
  /** Krum / Multi-Krum: indices (into the input list) of the updates kept, ascending. */
  selected?: number[];
  /** Norm clipping: the fraction of updates whose norm exceeded τ, in [0, 1]. */
  clippedFraction?: number;
  /** Norm clipping: each update's L2 norm before clipping, in input order. */
  norms?: number[];
}

/** Coordinates per block in Krum's pairwise distances: 100 updates × 2048 × 4 bytes = 800 KiB. */
const KRUM_BLOCK = 2048;

/** Checks a non-empty list of equal-length updates and returns d. */
function checkUpdates(updates: readonly Float32Array[], what: string): number {
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
function select(a: Float64Array, lo: number, hi: number, k: number): void {
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
function gather(updates: readonly Float32Array[], t: number, scratch: Float64Array): void {
  for (let i = 0; i < scratch.length; i++) {
    const v = updates[i]![t]!;
    scratch[i] = v === v ? v : Infinity;
  }
}

/** The median of `scratch` (reordered in place); the mean of the two middle values when its length is even. */
function medianOf(scratch: Float64Array): number {
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

/** Coordinate-wise median of the updates (Yin et al., Definition 1). */
function coordinateMedian(updates: readonly Float32Array[], d: number): Float32Array {
  const out = new Float32Array(d);
  const scratch = new Float64Array(updates.length);
  for (let t = 0; t < d; t++) {
    gather(updates, t, scratch);
    out[t] = medianOf(scratch);
  }
  return out;
}

/** Coordinate-wise b-trimmed mean (Yin et al., Definition 2): drop the b largest and b smallest, average the rest. */
function coordinateTrimmedMean(updates: readonly Float32Array[], d: number, b: number): Float32Array {
  const m = updates.length;
  if (!Number.isSafeInteger(b) || b < 0 || m < trimmedMeanMinUpdates(b)) {
    throw new RangeError(`trimmed mean: trimming b = ${b} from each end of m = ${m} updates needs an integer b ≥ 0 with 2b < m`);
  }
  const out = new Float32Array(d);
  const scratch = new Float64Array(m);
  const keep = m - 2 * b;
  for (let t = 0; t < d; t++) {
    gather(updates, t, scratch);
    if (b > 0) {
      select(scratch, 0, m - 1, b);
      // Ranks b … m − b − 1 now lie in scratch[b..m − 1]; a second selection inside it isolates them.
      select(scratch, b, m - 1, m - b - 1);
    }
    let s = 0;
    for (let i = b; i < m - b; i++) s += scratch[i]!;
    out[t] = s / keep;
  }
  return out;
}

/** The uniform mean of the updates picked by `indices` (all of them by default), accumulated in Float64. */
function meanOf(updates: readonly Float32Array[], d: number, indices?: readonly number[], weights?: readonly number[]): Float32Array {
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

/** Krum scores (Blanchard et al., §4): for each update, the sum of squared distances to its m − f − 2 nearest others. */
function krumScores(updates: readonly Float32Array[], d: number, f: number, rule: string): Float64Array {
  const m = updates.length;
  if (!Number.isSafeInteger(f) || f < 0) throw new RangeError(`${rule}: f must be an integer ≥ 0, got ${f}`);
  if (m < krumMinUpdates(f)) {
    throw new RangeError(`${rule}: needs m > 2f + 2 updates (Blanchard et al.); got m = ${m} with f = ${f}`);
  }
  const dist = new Float64Array(m * m);
  for (let start = 0; start < d; start += KRUM_BLOCK) {
    const end = Math.min(d, start + KRUM_BLOCK);
    for (let i = 0; i < m; i++) {
      const a = updates[i]!;
      let j = i + 1;
      // Four partners at a time share each load of a[t] and give four independent sums (≈1.6× faster in V8).
      for (; j + 3 < m; j += 4) {
        const b0 = updates[j]!;
        const b1 = updates[j + 1]!;
        const b2 = updates[j + 2]!;
        const b3 = updates[j + 3]!;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let t = start; t < end; t++) {
          const v = a[t]!;
          const x0 = v - b0[t]!;
          const x1 = v - b1[t]!;
          const x2 = v - b2[t]!;
          const x3 = v - b3[t]!;
          s0 += x0 * x0;
          s1 += x1 * x1;
          s2 += x2 * x2;
          s3 += x3 * x3;
        }
        dist[i * m + j] += s0;
        dist[i * m + j + 1] += s1;
        dist[i * m + j + 2] += s2;
        dist[i * m + j + 3] += s3;
      }
      for (; j < m; j++) {
        const b = updates[j]!;
        let s = 0;
        for (let t = start; t < end; t++) {
          const x = a[t]! - b[t]!;
          s += x * x;
        }
        dist[i * m + j] += s;
      }
    }
  }
  const neighbours = m - f - 2;
  const scores = new Float64Array(m);
  const scratch = new Float64Array(m - 1);
  for (let i = 0; i < m; i++) {
    let n = 0;
    for (let j = 0; j < m; j++) {
      if (j === i) continue;
      const v = i < j ? dist[i * m + j]! : dist[j * m + i]!;
      scratch[n++] = v === v ? v : Infinity;
    }
    select(scratch, 0, m - 2, neighbours - 1);
    let s = 0;
    for (let k = 0; k < neighbours; k++) s += scratch[k]!;
    scores[i] = s;
  }
  return scores;
}

/** Indices 0 … m−1 ordered by ascending score, ties by index. */
function byScore(scores: Float64Array): number[] {
  return Array.from(scores, (_, i) => i).sort((x, y) => scores[x]! - scores[y]! || x - y);
}

/** L2 norm of each update, accumulated in Float64. */
function l2Norms(updates: readonly Float32Array[], d: number): number[] {
  return updates.map((u) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += u[t]! * u[t]!;
    return Math.sqrt(s);
  });
}

/**
 * Aggregates individual updates with a plaintext rule (threats-and-evaluation.md §4). Every update must have the
 * same length d; the list must be non-empty. Throws for `grouped`, which combines group sums (see `combineAcross`).
 */
export function aggregatePlaintext(cfg: AggregationConfig, updates: readonly Float32Array[]): AggregateResult {
  const d = checkUpdates(updates, cfg.rule);
  const m = updates.length;
  switch (cfg.rule) {
    case 'mean':
      return { update: meanOf(updates, d) };
    case 'median':
      return { update: coordinateMedian(updates, d) };
    case 'trimmed-mean':
      return { update: coordinateTrimmedMean(updates, d, cfg.trim ?? Math.floor(cfg.beta * m)) };
    case 'krum': {
      const scores = krumScores(updates, d, cfg.f, 'krum');
      const best = byScore(scores)[0]!;
      return { update: Float32Array.from(updates[best]!), selected: [best] };
    }
    case 'multi-krum': {
      const k = cfg.k ?? m - cfg.f;
      if (!Number.isSafeInteger(k) || k < 1 || k > m) throw new RangeError(`multi-krum: k must be an integer in [1, ${m}] for m = ${m} updates, got ${k}`);
      const scores = krumScores(updates, d, cfg.f, 'multi-krum');
      const selected = byScore(scores).slice(0, k).sort((x, y) => x - y);
      return { update: meanOf(updates, d, selected), selected };
    }
    case 'norm-clip': {
      const norms = l2Norms(updates, d);
      let tau: number;
      if (cfg.tau === 'median') tau = medianOf(Float64Array.from(norms, (v) => (v === v ? v : Infinity)));
      else tau = cfg.tau;
      if (!(tau >= 0)) throw new RangeError(`norm-clip: τ must be ≥ 0, got ${tau}`);
      let clipped = 0;
      const weights = norms.map((n) => {
        if (!Number.isFinite(n)) {
          clipped++;
          return 0; // no direction to keep: a non-finite update contributes nothing
        }
        if (n <= tau) return 1;
        clipped++;
        return tau / n;
      });
      return { update: meanOf(updates, d, undefined, weights), clippedFraction: clipped / m, norms };
    }
    case 'grouped':
      throw new Error("aggregatePlaintext: 'grouped' is not a plaintext rule; combine the group means with combineAcross");
  }
}

/**
 * Combines the group means of grouped secure aggregation coordinate-wise (threats-and-evaluation.md §5):
 * `median`, or the trimmed mean with b = ⌊beta·g⌋ for g group means (2b < g).
 */
export function combineAcross(across: 'median' | 'trimmed-mean', groupMeans: readonly Float32Array[], beta: number): Float32Array {
  const d = checkUpdates(groupMeans, `combineAcross(${across})`);
  if (across === 'median') return coordinateMedian(groupMeans, d);
  if (across !== 'trimmed-mean') throw new RangeError(`combineAcross: across must be 'median' or 'trimmed-mean', got ${String(across)}`);
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`combineAcross: beta must be in [0, 0.5), got ${beta}`);
  return coordinateTrimmedMean(groupMeans, d, Math.floor(beta * groupMeans.length));
}

/**
 * Splits a round's members at random into `groups` groups of ⌊m/g⌋ or ⌈m/g⌉ (the first m mod g groups are the
 * larger), each group's ids sorted. Deterministic for (seed, round, the set of members): members are sorted
 * (UTF-16 code-unit order) before the seeded shuffle, so the order in which they arrived does not matter.
 */
export function splitGroups(seed: number, round: number, members: readonly string[], groups: number): string[][] {
  const m = members.length;
  if (!Number.isSafeInteger(groups) || groups < 1 || groups > m) {
    throw new RangeError(`splitGroups: groups must be an integer in [1, ${m}] for ${m} members, got ${groups}`);
  }
  if (!Number.isSafeInteger(round) || round < 1) throw new RangeError(`splitGroups: round must be an integer ≥ 1 (rounds count from 1), got ${round}`);
  const order = [...members].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < m; i++) {
    if (order[i] === order[i - 1]) throw new RangeError(`splitGroups: member ${JSON.stringify(order[i])} is listed twice`);
  }
  new Rng(seed).fork('groups').fork(round).shuffle(order);
  const small = Math.floor(m / groups);
  const larger = m % groups;
  const out: string[][] = [];
  let at = 0;
  for (let g = 0; g < groups; g++) {
    const size = small + (g < larger ? 1 : 0);
    out.push(order.slice(at, at + size).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    at += size;
  }
  return out;
}
