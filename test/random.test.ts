import { expect } from 'chai';
import { Rng } from '../shared/util/random.js';

const DRAWS = 20_000;

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

function variance(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2;
  return s / (xs.length - 1);
}

function draws(n: number, f: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}

describe('Rng', () => {
  describe('determinism', () => {
    it('pins the first outputs of fixed seeds (regression across platforms and versions)', () => {
      const a = new Rng(2020);
      expect([a.nextUint32(), a.nextUint32(), a.nextUint32(), a.nextUint32()]).to.deep.equal([780472320, 1825504359, 4011613091, 2739271879]);
      const b = new Rng('decent-bva');
      expect([b.nextUint32(), b.nextUint32(), b.nextUint32()]).to.deep.equal([3795765417, 3257176936, 2616453891]);
      const c = new Rng(2020).fork('cohort').fork(3);
      expect([c.nextUint32(), c.nextUint32(), c.nextUint32()]).to.deep.equal([222483642, 639698477, 699565249]);
    });

    it('gives the same stream for the same seed and different streams for different seeds', () => {
      const seq = (seed: number | string): number[] => {
        const r = new Rng(seed);
        return Array.from({ length: 16 }, () => r.nextUint32());
      };
      expect(seq(7)).to.deep.equal(seq(7));
      expect(seq('abc')).to.deep.equal(seq('abc'));
      expect(seq(7)).to.not.deep.equal(seq(8));
      expect(seq(1)).to.not.deep.equal(seq('1'));
      expect(seq(0.5)).to.not.deep.equal(seq(0));
      expect(seq(-1)).to.not.deep.equal(seq(1));
      expect(seq(2 ** 40)).to.not.deep.equal(seq(2 ** 40 + 1));
    });

    it('rejects non-finite seeds with a message naming the value', () => {
      expect(() => new Rng(Number.NaN)).to.throw(RangeError, /seed .*NaN/);
      expect(() => new Rng(Infinity)).to.throw(RangeError, /Infinity/);
    });

    it('floats(out, n) is n calls of float(), in order, and leaves the generator where they would', () => {
      const a = new Rng(11);
      const b = a.clone();
      const out = new Float64Array(2500);
      a.floats(out, 2000);
      expect(Array.from(out.subarray(0, 2000))).to.deep.equal(Array.from(draws(2000, () => b.float())));
      expect(out[2000]).to.equal(0);
      expect(a.nextUint32()).to.equal(b.nextUint32());
      expect(() => a.floats(out, 2501)).to.throw(RangeError, /n = 2501/);
    });

    it('clone continues exactly where the original is', () => {
      const r = new Rng(3);
      r.normal(); // leaves a spare normal behind, which the clone must carry
      const c = r.clone();
      expect(draws(10, () => c.normal())).to.deep.equal(draws(10, () => r.normal()));
    });
  });

  describe('uniform draws', () => {
    it('float() lies in [0, 1) with mean ≈ 1/2 and variance ≈ 1/12', () => {
      const r = new Rng(11);
      const xs = draws(DRAWS, () => r.float());
      for (const x of xs) expect(x >= 0 && x < 1).to.equal(true);
      expect(mean(xs)).to.be.closeTo(0.5, 0.01); // sd of the mean ≈ 0.002
      expect(variance(xs)).to.be.closeTo(1 / 12, 0.003);
    });

    it('int(n) stays in [0, n) and hits every value about equally often', () => {
      const r = new Rng(12);
      const counts = new Array<number>(10).fill(0);
      for (let i = 0; i < DRAWS; i++) {
        const v = r.int(10);
        expect(Number.isInteger(v) && v >= 0 && v < 10).to.equal(true);
        counts[v]!++;
      }
      // Each count ~ Binomial(20000, 0.1): sd ≈ 42; 250 is ≈ 6 sd.
      for (const c of counts) expect(c).to.be.closeTo(DRAWS / 10, 250);
      expect(r.int(1)).to.equal(0);
    });

    it('int(n) handles n up to 2^53 and a non-power-of-two n near 2^32 without bias toward small values', () => {
      const r = new Rng(13);
      for (let i = 0; i < 1000; i++) {
        const big = r.int(2 ** 53);
        expect(Number.isSafeInteger(big) && big >= 0).to.equal(true);
        expect(r.int(2 ** 32)).to.be.lessThan(2 ** 32);
      }
      // With n = 3·2^30, plain `x % n` would put half the mass on [0, 2^30); rejection gives a third.
      const n = 3 * 2 ** 30;
      let low = 0;
      for (let i = 0; i < DRAWS; i++) if (r.int(n) < 2 ** 30) low++;
      expect(low / DRAWS).to.be.closeTo(1 / 3, 0.015);
    });

    it('int(n) rejects bad n with a message naming it', () => {
      const r = new Rng(1);
      expect(() => r.int(0)).to.throw(RangeError, /n must be .* got 0/);
      expect(() => r.int(1.5)).to.throw(RangeError, /got 1\.5/);
      expect(() => r.int(2 ** 54)).to.throw(RangeError);
    });
  });

  describe('normal, gamma, Dirichlet', () => {
    it('normal() has mean ≈ 0 and variance ≈ 1; normal(m, s) shifts and scales', () => {
      const r = new Rng(21);
      const xs = draws(DRAWS, () => r.normal());
      expect(mean(xs)).to.be.closeTo(0, 0.03);
      expect(variance(xs)).to.be.closeTo(1, 0.04);
      const ys = draws(DRAWS, () => r.normal(5, 2));
      expect(mean(ys)).to.be.closeTo(5, 0.06);
      expect(variance(ys)).to.be.closeTo(4, 0.2);
    });

    for (const shape of [0.1, 0.5, 1, 2.5, 9]) {
      it(`gamma(${shape}) is positive with mean ≈ shape and variance ≈ shape`, () => {
        const r = new Rng(`gamma-${shape}`);
        const xs = draws(DRAWS, () => r.gamma(shape));
        for (const x of xs) expect(x >= 0 && Number.isFinite(x)).to.equal(true);
        // sd of the mean is sqrt(shape / 20000); allow 5 sd.
        expect(mean(xs)).to.be.closeTo(shape, 5 * Math.sqrt(shape / DRAWS));
        expect(variance(xs)).to.be.closeTo(shape, shape * 0.15 + 0.02);
      });
    }

    it('gamma(shape, scale) has mean shape·scale; bad shapes are rejected', () => {
      const r = new Rng(22);
      expect(mean(draws(DRAWS, () => r.gamma(2, 3)))).to.be.closeTo(6, 0.15);
      expect(() => r.gamma(0)).to.throw(RangeError, /shape must be .* got 0/);
      expect(() => r.gamma(-1)).to.throw(RangeError, /got -1/);
      expect(() => r.gamma(1, 0)).to.throw(RangeError, /scale/);
    });

    it('dirichlet(alpha[]) sums to 1 with means ≈ alpha_i / Σalpha', () => {
      const r = new Rng(23);
      const alpha = [1, 2, 3, 4];
      const sums = new Float64Array(4);
      const n = 5000;
      for (let i = 0; i < n; i++) {
        const q = r.dirichlet(alpha);
        expect(q.length).to.equal(4);
        expect(q.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
        q.forEach((v, k) => (sums[k]! += v));
      }
      sums.forEach((s, k) => expect(s / n).to.be.closeTo(alpha[k]! / 10, 0.01));
    });

    it('dirichlet(alpha, k) stays a valid distribution for tiny alpha (no 0/0)', () => {
      const r = new Rng(24);
      for (let i = 0; i < 200; i++) {
        const q = r.dirichlet(0.001, 100);
        expect(q.length).to.equal(100);
        for (const v of q) expect(v >= 0 && v <= 1).to.equal(true);
        expect(q.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-9);
      }
      expect(() => r.dirichlet(0.5)).to.throw(RangeError, /k must be given/);
      expect(() => r.dirichlet([1, 0])).to.throw(RangeError, /alpha\[1\].*got 0/);
    });
  });

  describe('permutations and samples', () => {
    it('shuffle permutes in place, deterministically, for arrays and typed arrays', () => {
      const a = Array.from({ length: 50 }, (_, i) => i);
      const b = Int32Array.from(a);
      expect(new Rng(5).shuffle(a)).to.equal(a);
      new Rng(5).shuffle(b);
      expect(Array.from(b)).to.deep.equal(a);
      expect(a).to.not.deep.equal(Array.from({ length: 50 }, (_, i) => i));
      expect([...a].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    });

    it('shuffle puts each element in each position about equally often', () => {
      const r = new Rng(6);
      const counts = Array.from({ length: 4 }, () => new Array<number>(4).fill(0));
      for (let t = 0; t < DRAWS; t++) {
        const a = r.shuffle([0, 1, 2, 3]);
        a.forEach((v, pos) => counts[v]![pos]!++);
      }
      for (const row of counts) for (const c of row) expect(c).to.be.closeTo(DRAWS / 4, 300);
    });

    it('sampleWithoutReplacement returns k distinct values in [0, n), in draw order', () => {
      const r = new Rng(7);
      const s = r.sampleWithoutReplacement(1000, 100);
      expect(s).to.be.instanceOf(Int32Array);
      expect(new Set(s).size).to.equal(100);
      for (const v of s) expect(v >= 0 && v < 1000).to.equal(true);
      expect(Array.from(s)).to.not.deep.equal([...s].sort((a, b) => a - b)); // not sorted: draw order
      expect(Array.from(new Rng(8).sampleWithoutReplacement(10, 10)).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 10 }, (_, i) => i));
      expect(r.sampleWithoutReplacement(5, 0).length).to.equal(0);
      expect(() => r.sampleWithoutReplacement(5, 6)).to.throw(RangeError, /k must be .* got 6/);
    });

    it('sampleWithoutReplacement: the sparse (k ≪ n) and dense paths make identical draws', () => {
      const sparse = new Rng(9).sampleWithoutReplacement(1000, 10); // 4k < n: Map-based
      const dense = new Rng(9).sampleWithoutReplacement(1000, 600); // 4k ≥ n: array-based
      expect(Array.from(sparse)).to.deep.equal(Array.from(dense.subarray(0, 10)));
    });

    it('sampleWithoutReplacement includes each item with probability k/n', () => {
      const r = new Rng(10);
      const hits = new Array<number>(20).fill(0);
      for (let t = 0; t < 10_000; t++) for (const v of r.sampleWithoutReplacement(20, 5)) hits[v]!++;
      for (const h of hits) expect(h).to.be.closeTo(2500, 200);
    });

    it('permutation(n) is a permutation of 0 … n−1', () => {
      const p = new Rng(4).permutation(100);
      expect(Array.from(p).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    });
  });

  describe('fork', () => {
    it('depends only on the seed and the label, not on draws already made', () => {
      const a = new Rng(42);
      const before = a.fork('cohort').fork(3).nextUint32();
      for (let i = 0; i < 100; i++) a.nextUint32();
      expect(a.fork('cohort').fork(3).nextUint32()).to.equal(before);
      expect(new Rng(42).fork('cohort').fork(3).nextUint32()).to.equal(before);
    });

    it('gives different streams for different labels, label types, parents and the parent itself', () => {
      const root = new Rng(42);
      const first = (r: Rng): number[] => [r.nextUint32(), r.nextUint32()];
      const streams = [
        first(new Rng(42)),
        first(root.fork('a')),
        first(root.fork('b')),
        first(root.fork(1)),
        first(root.fork('1')),
        first(root.fork('a').fork('b')),
        first(root.fork('b').fork('a')),
        first(new Rng(43).fork('a')),
      ].map((s) => s.join(','));
      expect(new Set(streams).size).to.equal(streams.length);
    });

    it('sibling forks are uncorrelated', () => {
      const root = new Rng('independence');
      const a = root.fork(0);
      const b = root.fork(1);
      const xs = draws(DRAWS, () => a.float());
      const ys = draws(DRAWS, () => b.float());
      const mx = mean(xs);
      const my = mean(ys);
      let cov = 0;
      for (let i = 0; i < DRAWS; i++) cov += (xs[i]! - mx) * (ys[i]! - my);
      const corr = cov / (DRAWS - 1) / Math.sqrt(variance(xs) * variance(ys));
      expect(Math.abs(corr)).to.be.lessThan(0.03); // sd ≈ 0.007
    });
  });
});
