/**
 * Partitioners: pure, seeded functions from training labels to per-client lists of training-set indices.
 * Normative spec: docs/spec/decent-bva.md §7 (Data). Reference: GitHub junwu6/FedBVA `utils/sampling.py`
 * (Zhou, Wu, Wang and He, arXiv 2009.09026).
 *
 * Resolutions of the reference's ambiguities (decent-bva.md §9, item 14):
 * - Everything is seeded; the reference seeds NumPy with 2020 for IID and leaves shards unseeded.
 * - Parts are sorted Int32Arrays, not Python sets, so results are byte-comparable and cheap to post to workers.
 * - The label sort for shards is stable (NumPy's default argsort is not), so shard contents are well defined.
 * - D_s is drawn first and removed from every client; `dirichlet(α)` is not in the reference (§7).
 *
 * Each partitioner draws from its own fork of the seed (e.g. `new Rng(seed).fork('iid')`), so using one seed for
 * D_s and for the partition does not correlate them.
 */
import { Rng, type RngSeed } from '../util/random.js';
import { DataError } from './dataset.js';

/** How to split the training set between clients (decent-bva.md §7). */
export type PartitionSpec = { kind: 'iid' } | { kind: 'shards'; shardsPerClient?: number } | { kind: 'dirichlet'; alpha: number; minPartitionSize?: number; maxDraws?: number };

/** Defaults from decent-bva.md §1, item 11 and §7. */
export const PARTITION_DEFAULTS = {
  /** n_s, the size of the shared set D_s. */
  sharedSetSize: 64,
  /** Shards per client for `shards`. */
  shardsPerClient: 2,
  /** Concentration α for `dirichlet`. */
  alpha: 0.5,
  /** Fewest examples any client may hold under `dirichlet` before a redraw. */
  minPartitionSize: 10,
  /** Dirichlet draws before giving up with a config error. */
  maxDraws: 100,
} as const;

/** Options of `partitionShards`. */
export interface ShardsOptions {
  /** Shards per client (≥ 1); default 2. */
  shardsPerClient?: number;
  /** Sorted or unsorted training indices to remove from every client (normally D_s). */
  exclude?: ArrayLike<number>;
}

/** Options of `partitionDirichlet`. */
export interface DirichletOptions {
  /** Fewest examples any client may hold (≥ 0); default 10. */
  minPartitionSize?: number;
  /** Training indices to remove before splitting (normally D_s). */
  exclude?: ArrayLike<number>;
  /** Draws to try before failing (≥ 1); default 100. */
  maxDraws?: number;
}

function checkInt(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new DataError('config', `${field} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** A mask of length n marking the excluded indices; rejects out-of-range or repeated entries. */
function excludeMask(n: number, exclude: ArrayLike<number> | undefined): { mask: Uint8Array; size: number } {
  const mask = new Uint8Array(n);
  if (!exclude) return { mask, size: 0 };
  for (let i = 0; i < exclude.length; i++) {
    const idx = exclude[i]!;
    if (!Number.isInteger(idx) || idx < 0 || idx >= n) {
      throw new DataError('config', `exclude[${i}] must be an integer index in [0, ${n}), got ${idx}`);
    }
    if (mask[idx]) throw new DataError('config', `exclude must not repeat an index, got ${idx} twice`);
    mask[idx] = 1;
  }
  return { mask, size: exclude.length };
}

function checkLabels(labels: ArrayLike<number>): number {
  let numClasses = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y > 0xffff) {
      throw new DataError('config', `labels[${i}] must be a non-negative integer class, got ${y}`);
    }
    if (y + 1 > numClasses) numClasses = y + 1;
  }
  return numClasses;
}

function sorted(values: Int32Array): Int32Array {
  return values.sort();
}

/**
 * D_s: `size` distinct training indices drawn uniformly (seeded) from [0, n), sorted ascending.
 * Draws from `new Rng(seed).fork('shared-set')`.
 */
export function sampleSharedSet(n: number, size: number, seed: RngSeed): Int32Array {
  checkInt('n', n, 0, 0x7fffffff);
  checkInt('size', size, 0, n);
  return sorted(new Rng(seed).fork('shared-set').sampleWithoutReplacement(n, size));
}

/**
 * `iid`: the n − |exclude| remaining examples in N disjoint random parts of ⌊(n − |exclude|)/N⌋ each; the
 * remainder stays unused (599 each and 36 unused for n = 60,000, |D_s| = 64, N = 100).
 */
export function partitionIid(n: number, numClients: number, seed: RngSeed, exclude?: ArrayLike<number>): Int32Array[] {
  checkInt('n', n, 0, 0x7fffffff);
  checkInt('numClients', numClients, 1);
  const { mask, size: excluded } = excludeMask(n, exclude);
  const available = n - excluded;
  const perClient = Math.floor(available / numClients);
  if (perClient < 1) {
    throw new DataError('config', `numClients must be ≤ the ${available} available examples (n = ${n} minus ${excluded} excluded) for iid, got ${numClients}`);
  }
  const pool = new Int32Array(available);
  for (let i = 0, j = 0; i < n; i++) if (!mask[i]) pool[j++] = i;
  new Rng(seed).fork('iid').shuffle(pool);
  return Array.from({ length: numClients }, (_, c) => sorted(pool.slice(c * perClient, (c + 1) * perClient)));
}

/**
 * `shards`: stable-sort all n indices by label, cut shardsPerClient·N shards of ⌊n/(shardsPerClient·N)⌋, give
 * each client shardsPerClient random shards, then remove `exclude` (so a client holds at most
 * shardsPerClient·shardSize). Indices past the last whole shard stay unused.
 */
export function partitionShards(labels: ArrayLike<number>, numClients: number, seed: RngSeed, opts: ShardsOptions = {}): Int32Array[] {
  checkInt('numClients', numClients, 1);
  const shardsPerClient = checkInt('shardsPerClient', opts.shardsPerClient ?? PARTITION_DEFAULTS.shardsPerClient, 1);
  const n = labels.length;
  const numClasses = checkLabels(labels);
  const { mask } = excludeMask(n, opts.exclude);
  const numShards = shardsPerClient * numClients;
  const shardSize = Math.floor(n / numShards);
  if (shardSize < 1) {
    throw new DataError('config', `numClients must leave shards of ≥ 1 example: n = ${n} over shardsPerClient·numClients = ${numShards} shards, got numClients = ${numClients}`);
  }
  const byLabel = stableSortByLabel(labels, numClasses);
  const shardOrder = new Rng(seed).fork('shards').permutation(numShards);
  return Array.from({ length: numClients }, (_, c) => {
    const part = new Int32Array(shardsPerClient * shardSize);
    let size = 0;
    for (let s = 0; s < shardsPerClient; s++) {
      const start = shardOrder[c * shardsPerClient + s]! * shardSize;
      for (let p = start; p < start + shardSize; p++) {
        const idx = byLabel[p]!;
        if (!mask[idx]) part[size++] = idx;
      }
    }
    return sorted(part.slice(0, size));
  });
}

/** Counting sort of 0 … n−1 by label; ties keep index order, which is what makes it stable. */
function stableSortByLabel(labels: ArrayLike<number>, numClasses: number): Int32Array {
  const starts = new Int32Array(numClasses + 1);
  for (let i = 0; i < labels.length; i++) starts[labels[i]! + 1]!++;
  for (let k = 0; k < numClasses; k++) starts[k + 1]! += starts[k]!;
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[starts[labels[i]!]!++] = i;
  return out;
}

/**
 * `dirichlet(α)`: for each class draw q ~ Dir(α·1_N) and split that class's shuffled indices (without `exclude`)
 * among the N clients in proportion to q; redraw everything if any client gets fewer than minPartitionSize, and
 * after maxDraws draws fail with a 'config' DataError naming alpha and minPartitionSize.
 * Draw d uses `new Rng(seed).fork('dirichlet').fork(d)`, so the accepted partition does not depend on maxDraws.
 */
export function partitionDirichlet(labels: ArrayLike<number>, numClients: number, alpha: number, seed: RngSeed, opts: DirichletOptions = {}): Int32Array[] {
  checkInt('numClients', numClients, 1);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) {
    throw new DataError('config', `alpha must be a finite number > 0, got ${String(alpha)}`);
  }
  const minSize = checkInt('minPartitionSize', opts.minPartitionSize ?? PARTITION_DEFAULTS.minPartitionSize, 0);
  const maxDraws = checkInt('maxDraws', opts.maxDraws ?? PARTITION_DEFAULTS.maxDraws, 1);
  const n = labels.length;
  const numClasses = checkLabels(labels);
  const { mask, size: excluded } = excludeMask(n, opts.exclude);
  const available = n - excluded;
  if (available < numClients * minSize) {
    throw new DataError(
      'config',
      `dirichlet partition impossible: ${available} available examples cannot give each of ${numClients} clients ` +
        `minPartitionSize = ${minSize} (alpha = ${alpha}); lower minPartitionSize or numClients`,
    );
  }
  const byClass: Int32Array[] = [];
  {
    const counts = new Int32Array(numClasses);
    for (let i = 0; i < n; i++) if (!mask[i]) counts[labels[i]!]!++;
    const fill = new Int32Array(numClasses);
    for (let k = 0; k < numClasses; k++) byClass.push(new Int32Array(counts[k]!));
    for (let i = 0; i < n; i++) if (!mask[i]) byClass[labels[i]!]![fill[labels[i]!]!++] = i;
  }

  const root = new Rng(seed).fork('dirichlet');
  let bestMin = -1;
  for (let draw = 0; draw < maxDraws; draw++) {
    const rng = root.fork(draw);
    // cuts[k][c] … cuts[k][c + 1] is client c's slice of class k's shuffled indices.
    const cuts = byClass.map((members, k) => proportionalCuts(rng.fork('q').fork(k).dirichlet(alpha, numClients), members.length));
    const sizes = new Int32Array(numClients);
    for (const cut of cuts) for (let c = 0; c < numClients; c++) sizes[c]! += cut[c + 1]! - cut[c]!;
    const smallest = sizes.reduce((a, b) => Math.min(a, b), Number.MAX_SAFE_INTEGER);
    bestMin = Math.max(bestMin, smallest);
    if (smallest < minSize) continue;
    const parts = Array.from({ length: numClients }, (_, c) => new Int32Array(sizes[c]!));
    const fill = new Int32Array(numClients);
    byClass.forEach((members, k) => {
      const shuffled = rng.fork('shuffle').fork(k).shuffle(members.slice());
      const cut = cuts[k]!;
      for (let c = 0; c < numClients; c++) {
        parts[c]!.set(shuffled.subarray(cut[c]!, cut[c + 1]!), fill[c]!);
        fill[c]! += cut[c + 1]! - cut[c]!;
      }
    });
    return parts.map(sorted);
  }
  throw new DataError(
    'config',
    `dirichlet partition failed: none of maxDraws = ${maxDraws} draws with alpha = ${alpha} gave all ${numClients} clients ` +
      `minPartitionSize = ${minSize} examples (best draw's smallest client: ${bestMin}); raise alpha, lower minPartitionSize or numClients`,
  );
}

/** Cut points 0 = b_0 ≤ … ≤ b_N = m with b_c = ⌊m·(q_0 + … + q_{c−1})⌋ (as NumPy's split of cumsum·m). */
function proportionalCuts(q: Float64Array, m: number): Int32Array {
  const cuts = new Int32Array(q.length + 1);
  let cum = 0;
  for (let c = 1; c < q.length; c++) {
    cum += q[c - 1]!;
    cuts[c] = Math.max(cuts[c - 1]!, Math.min(m, Math.floor(cum * m)));
  }
  cuts[q.length] = m;
  return cuts;
}

/** Runs the partitioner `spec` names; `exclude` (normally D_s) is removed from every client. */
export function partition(labels: ArrayLike<number>, spec: PartitionSpec, numClients: number, seed: RngSeed, exclude?: ArrayLike<number>): Int32Array[] {
  const kind = (spec as { kind?: unknown } | undefined)?.kind;
  switch (spec?.kind) {
    case 'iid':
      return partitionIid(labels.length, numClients, seed, exclude);
    case 'shards':
      return partitionShards(labels, numClients, seed, {
        ...(spec.shardsPerClient === undefined ? {} : { shardsPerClient: spec.shardsPerClient }),
        ...(exclude === undefined ? {} : { exclude }),
      });
    case 'dirichlet':
      return partitionDirichlet(labels, numClients, spec.alpha, seed, {
        ...(spec.minPartitionSize === undefined ? {} : { minPartitionSize: spec.minPartitionSize }),
        ...(spec.maxDraws === undefined ? {} : { maxDraws: spec.maxDraws }),
        ...(exclude === undefined ? {} : { exclude }),
      });
    default:
      throw new DataError('config', `partition.kind must be 'iid', 'shards' or 'dirichlet', got ${JSON.stringify(kind)}`);
  }
}

/**
 * Checks the §7 invariants: every part strictly ascending, in [0, n), parts pairwise disjoint, and no part holding
 * an excluded index. Throws a 'config' DataError naming the first violation.
 */
export function assertValidPartition(parts: readonly ArrayLike<number>[], n: number, exclude?: ArrayLike<number>): void {
  const { mask } = excludeMask(n, exclude);
  const owner = new Int32Array(n).fill(-1);
  parts.forEach((part, c) => {
    for (let i = 0; i < part.length; i++) {
      const idx = part[i]!;
      if (!Number.isInteger(idx) || idx < 0 || idx >= n) {
        throw new DataError('config', `parts[${c}][${i}] must be an index in [0, ${n}), got ${idx}`);
      }
      if (i > 0 && idx <= part[i - 1]!) {
        throw new DataError('config', `parts[${c}] must be strictly ascending, got ${part[i - 1]} then ${idx} at ${i}`);
      }
      if (mask[idx]) throw new DataError('config', `parts[${c}] must not hold excluded index ${idx}`);
      if (owner[idx] !== -1) throw new DataError('config', `parts[${owner[idx]}] and parts[${c}] both hold index ${idx}`);
      owner[idx] = c;
    }
  });
}

/** Per-client sizes and label histograms of a partition, for logs and tests. */
export interface PartitionSummary {
  /** Number of parts (clients). */
  numClients: number;
  /** Examples held by each client. */
  sizes: number[];
  /** histograms[c][k]: examples of class k held by client c. */
  histograms: number[][];
  /** Sum of sizes. */
  total: number;
  /** Smallest part. */
  minSize: number;
  /** Largest part. */
  maxSize: number;
  /** Mean part size. */
  meanSize: number;
  /** Number of distinct classes each client holds (a quick non-IID measure). */
  classesPerClient: number[];
}

/** Summarises a partition against the training labels; numClasses defaults to the largest label + 1. */
export function describePartition(parts: readonly ArrayLike<number>[], labels: ArrayLike<number>, numClasses: number = checkLabels(labels)): PartitionSummary {
  const histograms = parts.map((part) => {
    const h = new Array<number>(numClasses).fill(0);
    for (let i = 0; i < part.length; i++) {
      const y = labels[part[i]!];
      if (y === undefined || y >= numClasses) {
        throw new DataError('config', `parts entry ${part[i]} must index a label in [0, ${numClasses}), got ${String(y)}`);
      }
      h[y]!++;
    }
    return h;
  });
  const sizes = parts.map((p) => p.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  return {
    numClients: parts.length,
    sizes,
    histograms,
    total,
    minSize: sizes.length ? sizes.reduce((a, b) => Math.min(a, b)) : 0,
    maxSize: sizes.length ? sizes.reduce((a, b) => Math.max(a, b)) : 0,
    meanSize: sizes.length ? total / sizes.length : 0,
    classesPerClient: histograms.map((h) => h.filter((v) => v > 0).length),
  };
}

/** A short multi-line text form of a summary: totals, then one line per client up to `maxClients`. */
export function formatPartitionSummary(summary: PartitionSummary, maxClients = 10): string {
  const lines = [`${summary.numClients} clients, ${summary.total} examples; size min ${summary.minSize} / mean ` + `${summary.meanSize.toFixed(1)} / max ${summary.maxSize}`];
  for (let c = 0; c < Math.min(maxClients, summary.numClients); c++) {
    lines.push(`  client ${c}: ${summary.sizes[c]} examples, ${summary.classesPerClient[c]} classes [${summary.histograms[c]!.join(' ')}]`);
  }
  if (summary.numClients > maxClients) lines.push(`  … ${summary.numClients - maxClients} more`);
  return lines.join('\n');
}
