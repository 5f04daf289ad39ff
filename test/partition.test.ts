import { expect } from 'chai';
import { assertValidPartition, describePartition, formatPartitionSummary, partition, partitionDirichlet, partitionIid, partitionShards, sampleSharedSet } from '../shared/data/index.js';
import { Rng } from '../shared/util/random.js';
import { expectDataError } from './helpers/errors.js';

const N_TRAIN = 60_000;
const N_CLIENTS = 100;
const N_S = 64;

/** 60,000 labels, exactly 6,000 per class, in a seeded random order (like MNIST's training set). */
const LABELS = new Rng('labels').shuffle(Uint8Array.from({ length: N_TRAIN }, (_, i) => i % 10));
const D_S = sampleSharedSet(N_TRAIN, N_S, 2020);

function same(a: Int32Array[], b: Int32Array[]): boolean {
  return a.length === b.length && a.every((p, i) => p.length === b[i]!.length && p.every((v, j) => v === b[i]![j]));
}

describe('partitioners (decent-bva.md §7)', () => {
  describe('sampleSharedSet', () => {
    it('draws n_s distinct sorted indices, deterministically per seed', () => {
      expect(D_S).to.be.instanceOf(Int32Array);
      expect(D_S.length).to.equal(N_S);
      for (let i = 1; i < D_S.length; i++) expect(D_S[i]!).to.be.greaterThan(D_S[i - 1]!);
      expect(D_S[0]!).to.be.at.least(0);
      expect(D_S[N_S - 1]!).to.be.lessThan(N_TRAIN);
      expect(Array.from(sampleSharedSet(N_TRAIN, N_S, 2020))).to.deep.equal(Array.from(D_S));
      expect(Array.from(sampleSharedSet(N_TRAIN, N_S, 2021))).to.not.deep.equal(Array.from(D_S));
      expectDataError(() => sampleSharedSet(10, 11, 1), 'config', /size must be .* got 11/);
    });
  });

  describe('iid', () => {
    const parts = partitionIid(N_TRAIN, N_CLIENTS, 1, D_S);

    it('gives 100 clients 599 examples each and leaves 36 unused (n = 60,000, |D_s| = 64)', () => {
      expect(parts.length).to.equal(100);
      for (const p of parts) expect(p.length).to.equal(599);
      const used = parts.reduce((s, p) => s + p.length, 0);
      expect(used).to.equal(59_900);
      expect(N_TRAIN - N_S - used).to.equal(36);
    });

    it('parts are sorted, pairwise disjoint and never hold a D_s index', () => {
      assertValidPartition(parts, N_TRAIN, D_S);
    });

    it('is deterministic per seed and differs across seeds', () => {
      expect(same(parts, partitionIid(N_TRAIN, N_CLIENTS, 1, D_S))).to.equal(true);
      expect(same(parts, partitionIid(N_TRAIN, N_CLIENTS, 2, D_S))).to.equal(false);
    });

    it('spreads the classes evenly', () => {
      const summary = describePartition(parts, LABELS, 10);
      for (const h of summary.histograms) for (const c of h) expect(c).to.be.within(25, 100);
    });

    it('validates numClients and the exclude list', () => {
      expectDataError(() => partitionIid(100, 0, 1), 'config', /numClients must be .* got 0/);
      expectDataError(() => partitionIid(100, 2.5, 1), 'config', /numClients .* got 2\.5/);
      expectDataError(() => partitionIid(100, 101, 1), 'config', /numClients must be ≤ the 100 available .* got 101/);
      expectDataError(() => partitionIid(100, 2, 1, Int32Array.of(3, 100)), 'config', /exclude\[1\] .* got 100/);
      expectDataError(() => partitionIid(100, 2, 1, Int32Array.of(3, 3)), 'config', /repeat .* 3/);
    });
  });

  describe('shards', () => {
    const parts = partitionShards(LABELS, N_CLIENTS, 1, { exclude: D_S });

    it('gives each client 2 of 200 label-sorted shards of 300, minus D_s (so at most 600)', () => {
      expect(parts.length).to.equal(100);
      for (const p of parts) expect(p.length).to.be.within(600 - N_S, 600);
      // 200 × 300 covers all 60,000; only D_s is removed.
      expect(parts.reduce((s, p) => s + p.length, 0)).to.equal(N_TRAIN - N_S);
      // 6,000 per class is 20 whole shards per class, so every client sees at most 2 classes.
      const summary = describePartition(parts, LABELS, 10);
      for (const k of summary.classesPerClient) expect(k).to.be.within(1, 2);
      expect(summary.maxSize).to.be.at.most(600);
    });

    it('parts are sorted, pairwise disjoint and never hold a D_s index', () => {
      assertValidPartition(parts, N_TRAIN, D_S);
    });

    it('each client holds whole shards: its examples are contiguous blocks of the stable label sort', () => {
      const sortedByLabel = Array.from({ length: N_TRAIN }, (_, i) => i).sort((a, b) => LABELS[a]! - LABELS[b]! || a - b);
      const shardOf = new Int32Array(N_TRAIN);
      sortedByLabel.forEach((idx, pos) => (shardOf[idx] = Math.floor(pos / 300)));
      const inDs = new Set(D_S);
      for (const p of parts) {
        const shards = new Set(Array.from(p, (i) => shardOf[i]));
        expect(shards.size).to.equal(2);
        const expected = sortedByLabel.filter((i) => shards.has(shardOf[i]!) && !inDs.has(i)).sort((a, b) => a - b);
        expect(Array.from(p)).to.deep.equal(expected);
      }
    });

    it('is deterministic per seed and differs across seeds; shardsPerClient is configurable', () => {
      expect(same(parts, partitionShards(LABELS, N_CLIENTS, 1, { exclude: D_S }))).to.equal(true);
      expect(same(parts, partitionShards(LABELS, N_CLIENTS, 2, { exclude: D_S }))).to.equal(false);
      const four = partitionShards(LABELS, 50, 1, { shardsPerClient: 4 });
      for (const p of four) expect(p.length).to.equal(4 * 300);
      expectDataError(() => partitionShards(LABELS, 40_000, 1), 'config', /numClients .* got numClients = 40000/);
      expectDataError(() => partitionShards(LABELS, 10, 1, { shardsPerClient: 0 }), 'config', /shardsPerClient .* got 0/);
    });
  });

  describe('dirichlet', () => {
    it('respects minPartitionSize, uses every non-D_s example, and is disjoint from D_s', () => {
      for (const alpha of [0.1, 0.5, 10]) {
        const parts = partitionDirichlet(LABELS, N_CLIENTS, alpha, 1, { exclude: D_S });
        assertValidPartition(parts, N_TRAIN, D_S);
        const summary = describePartition(parts, LABELS, 10);
        expect(summary.minSize, `alpha ${alpha}`).to.be.at.least(10);
        expect(summary.total).to.equal(N_TRAIN - N_S);
      }
    });

    it('is more skewed for small alpha than for large', () => {
      const meanClasses = (alpha: number): number => {
        const s = describePartition(partitionDirichlet(LABELS, N_CLIENTS, alpha, 3, { exclude: D_S }), LABELS, 10);
        return s.classesPerClient.reduce((a, b) => a + b, 0) / s.numClients;
      };
      const skewed = meanClasses(0.1); // ≈ 5 of 10 classes per client
      expect(skewed).to.be.lessThan(7);
      expect(skewed).to.be.lessThan(meanClasses(0.5) - 2); // ≈ 9.3
      expect(meanClasses(100)).to.equal(10);
    });

    it('honours a larger minimum, and is deterministic per seed and differs across seeds', () => {
      const a = partitionDirichlet(LABELS, N_CLIENTS, 0.5, 9, { exclude: D_S, minPartitionSize: 200 });
      for (const p of a) expect(p.length).to.be.at.least(200);
      expect(same(a, partitionDirichlet(LABELS, N_CLIENTS, 0.5, 9, { exclude: D_S, minPartitionSize: 200 }))).to.equal(true);
      expect(same(a, partitionDirichlet(LABELS, N_CLIENTS, 0.5, 10, { exclude: D_S, minPartitionSize: 200 }))).to.equal(false);
    });

    it('fails cleanly with a config error naming alpha and minPartitionSize after maxDraws', () => {
      expectDataError(() => partitionDirichlet(LABELS, N_CLIENTS, 0.001, 1, { exclude: D_S }), 'config', /maxDraws = 100 .*alpha = 0\.001.*minPartitionSize = 10/);
      expectDataError(() => partitionDirichlet(LABELS, N_CLIENTS, 0.5, 1, { maxDraws: 3, minPartitionSize: 599 }), 'config', /maxDraws = 3 .*alpha = 0\.5.*minPartitionSize = 599/);
    });

    it('fails at once when the minimum cannot be met by counting', () => {
      expectDataError(() => partitionDirichlet(LABELS.subarray(0, 500), 100, 0.5, 1, { minPartitionSize: 10 }), 'config', /500 available .*100 clients .*minPartitionSize = 10 \(alpha = 0\.5\)/);
    });

    it('validates alpha and its options', () => {
      for (const alpha of [0, -1, Number.NaN, Infinity]) {
        expectDataError(() => partitionDirichlet(LABELS, 10, alpha, 1), 'config', new RegExp(`alpha must be .* got ${alpha}`));
      }
      expectDataError(() => partitionDirichlet(LABELS, 10, 0.5, 1, { minPartitionSize: -1 }), 'config', /minPartitionSize .* got -1/);
      expectDataError(() => partitionDirichlet(LABELS, 10, 0.5, 1, { maxDraws: 0 }), 'config', /maxDraws .* got 0/);
      expectDataError(() => partitionDirichlet([0, 1, -1], 1, 0.5, 1, { minPartitionSize: 0 }), 'config', /labels\[2\] .* got -1/);
    });
  });

  describe('partition (dispatcher) and helpers', () => {
    it('dispatches to the named partitioner with the same results', () => {
      expect(same(partition(LABELS, { kind: 'iid' }, 10, 4, D_S), partitionIid(N_TRAIN, 10, 4, D_S))).to.equal(true);
      expect(same(partition(LABELS, { kind: 'shards', shardsPerClient: 3 }, 10, 4, D_S), partitionShards(LABELS, 10, 4, { shardsPerClient: 3, exclude: D_S }))).to.equal(true);
      expect(same(partition(LABELS, { kind: 'dirichlet', alpha: 0.3, minPartitionSize: 50 }, 10, 4, D_S), partitionDirichlet(LABELS, 10, 0.3, 4, { minPartitionSize: 50, exclude: D_S }))).to.equal(
        true,
      );
      expectDataError(() => partition(LABELS, { kind: 'pathological' } as never, 10, 4), 'config', /partition\.kind .* got "pathological"/);
    });

    it('different partitioners with one seed do not share randomness with D_s', () => {
      // D_s and the IID permutation come from different forks of the same seed.
      const ds = sampleSharedSet(1000, 10, 5);
      const [first] = partitionIid(1000, 1, 5);
      expect(Array.from(first!.subarray(0, 10))).to.not.deep.equal(Array.from(ds));
    });

    it('describePartition reports sizes and label histograms; formatPartitionSummary prints them', () => {
      const parts = [Int32Array.of(0, 1, 2), Int32Array.of(5)];
      const labels = [0, 1, 1, 2, 2, 2];
      const s = describePartition(parts, labels);
      expect(s).to.deep.include({ numClients: 2, sizes: [3, 1], total: 4, minSize: 1, maxSize: 3, meanSize: 2 });
      expect(s.histograms).to.deep.equal([
        [1, 2, 0],
        [0, 0, 1],
      ]);
      expect(s.classesPerClient).to.deep.equal([2, 1]);
      const text = formatPartitionSummary(s, 1);
      expect(text).to.match(/2 clients, 4 examples/);
      expect(text).to.match(/client 0: 3 examples, 2 classes \[1 2 0\]/);
      expect(text).to.match(/1 more/);
    });

    it('assertValidPartition catches overlaps, unsorted parts and excluded indices', () => {
      expectDataError(() => assertValidPartition([Int32Array.of(1, 2), Int32Array.of(2)], 5), 'config', /parts\[0\] and parts\[1\] both hold index 2/);
      expectDataError(() => assertValidPartition([Int32Array.of(2, 1)], 5), 'config', /strictly ascending/);
      expectDataError(() => assertValidPartition([Int32Array.of(1)], 5, [1]), 'config', /excluded index 1/);
      expectDataError(() => assertValidPartition([Int32Array.of(5)], 5), 'config', /got 5/);
    });
  });
});
