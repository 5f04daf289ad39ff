import { expect } from 'chai';
import { AGGREGATION_RULES, DEFAULT_AGGREGATION, aggregationRequires, resolveAggregation, type AggregationConfig } from '../shared/federated/aggregation.js';
import { Rng } from '../shared/util/random.js';
import { expectConfigError } from './helpers/errors.js';
import { aggregatePlaintext, combineAcross, splitGroups } from '../server/robust-aggregators.js';

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);

/** Asserts that every coordinate of `actual` is within `tol` of `expected`. */
function expectClose(actual: Float32Array, expected: number[], tol = 1e-6): void {
  expect(actual).to.be.instanceOf(Float32Array);
  expect(actual.length).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]!, `coordinate ${i}`).to.be.closeTo(expected[i]!, tol);
}

/** m random float32 vectors of length d, entries uniform in [lo, hi). */
function randomUpdates(rng: Rng, m: number, d: number, lo = -1, hi = 1): Float32Array[] {
  return Array.from({ length: m }, () => Float32Array.from({ length: d }, () => lo + (hi - lo) * rng.float()));
}

/** Sort-based reference for the coordinate-wise median and trimmed mean. */
function referenceOrderStat(updates: Float32Array[], b: number | 'median'): number[] {
  const m = updates.length;
  return Array.from(updates[0]!, (_, t) => {
    const col = updates.map((u) => u[t]!).sort((x, y) => x - y);
    if (b === 'median') return m % 2 === 1 ? col[(m - 1) / 2]! : (col[m / 2 - 1]! + col[m / 2]!) / 2;
    return col.slice(b, m - b).reduce((s, v) => s + v, 0) / (m - 2 * b);
  });
}

describe('robust aggregation (threats-and-evaluation.md §4, §5)', () => {
  describe('known answers on tiny vectors', () => {
    it('mean is the uniform mean', () => {
      const r = aggregatePlaintext({ rule: 'mean' }, [f32(1, 2), f32(3, 6), f32(5, -2)]);
      expectClose(r.update, [3, 2]);
    });

    it('median, odd m: the middle value of each coordinate', () => {
      const r = aggregatePlaintext({ rule: 'median' }, [f32(1, 5, -1), f32(2, 3, 0), f32(9, 4, 7)]);
      expect(Array.from(r.update)).to.deep.equal([2, 4, 0]);
    });

    it('median, even m: the mean of the two middle values', () => {
      const r = aggregatePlaintext({ rule: 'median' }, [f32(1, 10), f32(2, 20), f32(3, 30), f32(100, -5)]);
      expect(Array.from(r.update)).to.deep.equal([2.5, 15]);
    });

    it('trimmed mean with b = 1 drops the largest and smallest value of each coordinate', () => {
      const updates = [f32(1, -50), f32(2, 0), f32(3, 1), f32(4, 2), f32(100, 3)];
      expectClose(aggregatePlaintext({ rule: 'trimmed-mean', beta: 0.2, trim: 1 }, updates).update, [3, 1]);
      // b = ⌊0.2 · 5⌋ = 1 from β alone gives the same answer; β = 0 is the mean.
      expectClose(aggregatePlaintext({ rule: 'trimmed-mean', beta: 0.2 }, updates).update, [3, 1]);
      expectClose(aggregatePlaintext({ rule: 'trimmed-mean', beta: 0 }, updates).update, [22, -8.8], 1e-5);
    });

    // Honest values 0, 1, 2.5, 5 on the line (x, −x) and one outlier at 1e6. With m = 5 and f = 1 each score sums
    // the m − f − 2 = 2 smallest squared distances (doubled by the two coordinates): 0 → 2·(1 + 6.25) = 14.5,
    // 1 → 2·(1 + 2.25) = 6.5, 2.5 → 2·(2.25 + 6.25) = 17, 5 → 2·(6.25 + 16) = 44.5, outlier → ~1e12.
    const line = (v: number): Float32Array => f32(v, -v);
    const krumInput = [line(1e6), line(0), line(1), line(2.5), line(5)];

    it('krum picks the update at the centre of the honest cluster, not the huge outlier', () => {
      const r = aggregatePlaintext({ rule: 'krum', f: 1 }, krumInput);
      expect(r.selected).to.deep.equal([2]);
      expect(Array.from(r.update)).to.deep.equal([1, -1]);
      expect(r.update).to.not.equal(krumInput[2], 'krum must return a copy, not the input itself');
    });

    it('multi-krum averages the k lowest-scoring updates (k = m − f by default)', () => {
      const r2 = aggregatePlaintext({ rule: 'multi-krum', f: 1, k: 2 }, krumInput);
      expect(r2.selected).to.deep.equal([1, 2]);
      expectClose(r2.update, [0.5, -0.5]);
      const r4 = aggregatePlaintext({ rule: 'multi-krum', f: 1 }, krumInput);
      expect(r4.selected).to.deep.equal([1, 2, 3, 4]);
      expectClose(r4.update, [2.125, -2.125]);
    });

    it('norm-clip with a fixed τ rescales every update above τ, then averages', () => {
      const r = aggregatePlaintext({ rule: 'norm-clip', tau: 2 }, [f32(3, 4), f32(0, 1), f32(6, 8)]);
      // (3,4)·2/5 = (1.2, 1.6); (0,1) kept; (6,8)·2/10 = (1.2, 1.6).
      expectClose(r.update, [0.8, 1.4]);
      expect(r.norms).to.deep.equal([5, 1, 10]);
      expect(r.clippedFraction).to.be.closeTo(2 / 3, 1e-12);
    });

    it("norm-clip with τ = 'median' uses the round's median norm (mean of the two middle norms when m is even)", () => {
      const odd = aggregatePlaintext({ rule: 'norm-clip', tau: 'median' }, [f32(3, 4), f32(0, 1), f32(6, 8)]);
      // τ = 5: only (6,8) is clipped, to (3,4).
      expectClose(odd.update, [2, 3]);
      expect(odd.clippedFraction).to.be.closeTo(1 / 3, 1e-12);
      const even = aggregatePlaintext({ rule: 'norm-clip', tau: 'median' }, [f32(3, 4), f32(0, 1), f32(6, 8), f32(0, 2)]);
      // Norms 5, 1, 10, 2: τ = (2 + 5)/2 = 3.5; (3,4)·0.7 = (2.1, 2.8), (6,8)·0.35 = (2.1, 2.8).
      expectClose(even.update, [1.05, 2.15]); // ((2.1, 2.8) + (0, 1) + (2.1, 2.8) + (0, 2)) / 4
      expect(even.clippedFraction).to.equal(0.5);
      expect(even.norms).to.deep.equal([5, 1, 10, 2]);
    });

    it("refuses 'grouped' (not a plaintext rule), an empty list and mismatched lengths", () => {
      const grouped: AggregationConfig = { rule: 'grouped', groups: 2, across: 'median', beta: 0.2, minGroups: 1 };
      expect(() => aggregatePlaintext(grouped, [f32(1)])).to.throw(/not a plaintext rule/);
      expect(() => aggregatePlaintext({ rule: 'mean' }, [])).to.throw(/empty list/);
      expect(() => aggregatePlaintext({ rule: 'median' }, [f32(1, 2), f32(1, 2, 3)])).to.throw(/update 0 has 2 .* update 1 has 3/);
      expect(() => combineAcross('median', [], 0.2)).to.throw(/empty list/);
      expect(() => combineAcross('median', [f32(1), f32(1, 2)], 0.2)).to.throw(/differ in length/);
    });

    it('checks the constraints against the updates actually received (dropouts shrink m)', () => {
      const four = [f32(0), f32(1), f32(2), f32(3)];
      expect(() => aggregatePlaintext({ rule: 'krum', f: 1 }, four)).to.throw(/m > 2f \+ 2 .* m = 4 with f = 1/);
      expect(() => aggregatePlaintext({ rule: 'trimmed-mean', beta: 0.2, trim: 2 }, four)).to.throw(/2b < m/);
      expect(() => aggregatePlaintext({ rule: 'multi-krum', f: 0, k: 5 }, four)).to.throw(/k must be an integer in \[1, 4\]/);
    });
  });

  describe('order statistics agree with a sort-based reference (quickselect paths, ties, m up to 100)', () => {
    for (const m of [1, 2, 3, 7, 13, 14, 15, 50, 99, 100]) {
      it(`m = ${m}`, () => {
        const rng = new Rng('orderstat').fork(m);
        // Integer values in a small range give many ties (+ 0 turns −0 into 0); the rest are continuous.
        const updates = randomUpdates(rng, m, 64, -4, 4).map((u, i) => (i % 2 === 0 ? u.map((v) => Math.round(v) + 0) : u));
        expect(Array.from(aggregatePlaintext({ rule: 'median' }, updates).update)).to.deep.equal(Array.from(Float32Array.from(referenceOrderStat(updates, 'median'))));
        for (const b of [0, 1, Math.floor((m - 1) / 2)]) {
          if (2 * b >= m) continue;
          const got = aggregatePlaintext({ rule: 'trimmed-mean', beta: 0, trim: b }, updates).update;
          expectClose(got, referenceOrderStat(updates, b), 1e-5);
        }
      });
    }

    it('a minority of NaN coordinates is ordered as +∞ and trimmed like any outlier', () => {
      const updates = [f32(1, 0), f32(2, NaN), f32(3, 1), f32(NaN, 2), f32(5, 3)];
      expect(Array.from(aggregatePlaintext({ rule: 'median' }, updates).update)).to.deep.equal([3, 2]);
      expectClose(aggregatePlaintext({ rule: 'trimmed-mean', beta: 0, trim: 1 }, updates).update, [10 / 3, 2]);
    });
  });

  describe('krum agrees with a direct reference (blocked, four-at-a-time distances)', () => {
    /** Scores straight from the definition: squared distances to the m − f − 2 nearest others, summed. */
    function referenceScores(updates: Float32Array[], f: number): number[] {
      return updates.map((a, i) => {
        const dists = updates.flatMap((b, j) => (j === i ? [] : [a.reduce((s, v, t) => s + (v - b[t]!) ** 2, 0)]));
        return dists
          .sort((x, y) => x - y)
          .slice(0, updates.length - f - 2)
          .reduce((s, v) => s + v, 0);
      });
    }

    for (const [m, f] of [
      [4, 0],
      [9, 3],
      [13, 2],
      [14, 5],
    ] as const) {
      it(`m = ${m}, f = ${f}, d = 5000 (crosses the 2048-coordinate blocks)`, () => {
        const rng = new Rng('krum-ref').fork(m);
        const updates = randomUpdates(rng, m, 5000).map((u, i) => (i % 3 === 1 ? u.map((v) => v * 3 + 1) : u));
        const order = referenceScores(updates, f)
          .map((s, i) => [s, i] as const)
          .sort((x, y) => x[0] - y[0] || x[1] - y[1])
          .map(([, i]) => i);
        expect(aggregatePlaintext({ rule: 'krum', f }, updates).selected).to.deep.equal([order[0]]);
        const k = Math.max(1, m - f - 1);
        const multi = aggregatePlaintext({ rule: 'multi-krum', f, k }, updates);
        expect(multi.selected).to.deep.equal(order.slice(0, k).sort((x, y) => x - y));
      });
    }
  });

  describe('contract: m identical updates give that update back, under every rule', () => {
    const m = 7;
    const u = randomUpdates(new Rng('contract'), 1, 33, -10, 10)[0]!;
    const updates = Array.from({ length: m }, () => Float32Array.from(u));
    const rules: AggregationConfig[] = [
      { rule: 'mean' },
      { rule: 'median' },
      { rule: 'trimmed-mean', beta: 0.2 },
      { rule: 'trimmed-mean', beta: 0.2, trim: 3 },
      { rule: 'krum', f: 2 },
      { rule: 'multi-krum', f: 2 },
      { rule: 'multi-krum', f: 1, k: 3 },
      { rule: 'norm-clip', tau: 'median' },
      { rule: 'norm-clip', tau: 1e9 },
    ];
    for (const cfg of rules) {
      it(JSON.stringify(cfg), () => {
        const r = aggregatePlaintext(cfg, updates);
        expect(Array.from(r.update)).to.deep.equal(Array.from(u));
        if (cfg.rule === 'norm-clip') expect(r.clippedFraction).to.equal(0);
      });
    }

    it('combineAcross, median and trimmed mean', () => {
      for (const across of ['median', 'trimmed-mean'] as const) {
        expect(Array.from(combineAcross(across, updates, 0.3))).to.deep.equal(Array.from(u));
      }
    });
  });

  describe('robustness: f = 3 of m = 10 updates at 1e6', () => {
    const m = 10;
    const f = 3;
    const d = 50;
    const rng = new Rng('robustness');
    const honest = randomUpdates(rng, m - f, d);
    const updates = [...honest.slice(0, 4), ...Array.from({ length: f }, () => new Float32Array(d).fill(1e6)), ...honest.slice(4)];
    const withinHonestRange = (x: Float32Array): boolean => Array.from(x).every((v, t) => v >= Math.min(...honest.map((h) => h[t]!)) && v <= Math.max(...honest.map((h) => h[t]!)));

    it('median, trimmed mean (b = f) and krum stay within the honest range of every coordinate', () => {
      expect(withinHonestRange(aggregatePlaintext({ rule: 'median' }, updates).update)).to.equal(true);
      expect(withinHonestRange(aggregatePlaintext({ rule: 'trimmed-mean', beta: 0.3 }, updates).update)).to.equal(true);
      expect(withinHonestRange(aggregatePlaintext({ rule: 'trimmed-mean', beta: 0.2, trim: f }, updates).update)).to.equal(true);
      const krum = aggregatePlaintext({ rule: 'krum', f }, updates);
      expect(withinHonestRange(krum.update)).to.equal(true);
      expect(krum.selected![0]!).to.not.be.within(4, 6);
      const multi = aggregatePlaintext({ rule: 'multi-krum', f }, updates);
      expect(multi.selected).to.deep.equal([0, 1, 2, 3, 7, 8, 9]);
      expect(withinHonestRange(multi.update)).to.equal(true);
    });

    it('while the mean is dragged to about f/m · 1e6', () => {
      const mean = aggregatePlaintext({ rule: 'mean' }, updates).update;
      expect(withinHonestRange(mean)).to.equal(false);
      for (const v of mean) expect(v).to.be.closeTo(3e5, 1);
    });

    it('norm clipping at the median norm bounds each outlier to the median norm', () => {
      const r = aggregatePlaintext({ rule: 'norm-clip', tau: 'median' }, updates);
      expect(r.clippedFraction).to.be.closeTo(0.5, 1e-12);
      const tau =
        [...r.norms!]
          .sort((a, b) => a - b)
          .slice(4, 6)
          .reduce((s, v) => s + v, 0) / 2;
      let norm = 0;
      for (const v of r.update) norm += v * v;
      expect(Math.sqrt(norm)).to.be.at.most(tau + 1e-4);
    });
  });

  describe('combineAcross (grouped mode, across the group means)', () => {
    it('median of g group means', () => {
      expect(Array.from(combineAcross('median', [f32(1, 10), f32(2, 20), f32(100, -100)], 0.2))).to.deep.equal([2, 10]);
    });

    it('trimmed mean with b = ⌊β·g⌋', () => {
      const means = [f32(1), f32(2), f32(3), f32(100)];
      expectClose(combineAcross('trimmed-mean', means, 0.25), [2.5]); // b = 1
      expectClose(combineAcross('trimmed-mean', means, 0.2), [26.5]); // b = 0: the mean
      expect(() => combineAcross('trimmed-mean', means, 0.5)).to.throw(/beta must be in \[0, 0\.5\)/);
    });
  });

  describe('splitGroups', () => {
    const members = Array.from({ length: 23 }, (_, i) => `client-${String(i).padStart(2, '0')}`);

    it('makes g groups of ⌊m/g⌋ or ⌈m/g⌉, a partition of the members, each group sorted', () => {
      const groups = splitGroups(7, 1, members, 5);
      expect(groups.map((g) => g.length)).to.deep.equal([5, 5, 5, 4, 4]);
      expect(groups.flat().sort()).to.deep.equal(members);
      for (const g of groups) expect(g).to.deep.equal([...g].sort());
      for (const [m, g] of [
        [9, 3],
        [10, 3],
        [100, 10],
        [3, 1],
        [4, 4],
      ] as const) {
        const sizes = splitGroups(1, 1, members.concat(Array.from({ length: 100 }, (_, i) => `x${i}`)).slice(0, m), g).map((s) => s.length);
        expect(sizes.reduce((a, b) => a + b, 0)).to.equal(m);
        for (const s of sizes) expect(s).to.be.oneOf([Math.floor(m / g), Math.ceil(m / g)]);
      }
    });

    it('is deterministic for (seed, round, the set of members), whatever their order', () => {
      const a = splitGroups(7, 3, members, 4);
      expect(splitGroups(7, 3, members, 4)).to.deep.equal(a);
      expect(splitGroups(7, 3, [...members].reverse(), 4)).to.deep.equal(a);
      expect(splitGroups(8, 3, members, 4)).to.not.deep.equal(a);
    });

    it('gives different splits in different rounds', () => {
      const splits = new Set(Array.from({ length: 10 }, (_, r) => JSON.stringify(splitGroups(7, r + 1, members, 4))));
      expect(splits.size).to.equal(10);
    });

    it('refuses a bad group count, a repeated member and round 0', () => {
      expect(() => splitGroups(1, 1, members, 0)).to.throw(/groups must be an integer in \[1, 23\]/);
      expect(() => splitGroups(1, 1, members, 24)).to.throw(/groups must be an integer/);
      expect(() => splitGroups(1, 1, ['a', 'b', 'a'], 1)).to.throw(/"a" is listed twice/);
      expect(() => splitGroups(1, 0, members, 2)).to.throw(/round must be an integer ≥ 1/);
    });
  });

  describe('resolveAggregation', () => {
    const plain = { secure: false, cohortSize: 10 };
    const secure = { secure: true, cohortSize: 10 };

    it('fills defaults', () => {
      expect(DEFAULT_AGGREGATION).to.deep.equal({ rule: 'mean' });
      expect(resolveAggregation(undefined, secure)).to.deep.equal({ rule: 'mean' });
      expect(resolveAggregation({ rule: 'mean' }, secure)).to.deep.equal({ rule: 'mean' });
      expect(resolveAggregation('median', plain)).to.deep.equal({ rule: 'median' });
      expect(resolveAggregation({ rule: 'trimmed-mean' }, plain)).to.deep.equal({ rule: 'trimmed-mean', beta: 0.2 });
      expect(resolveAggregation({ rule: 'trimmed-mean', trim: 2 }, plain)).to.deep.equal({ rule: 'trimmed-mean', beta: 0.2, trim: 2 });
      expect(resolveAggregation({ rule: 'krum', f: 3 }, plain)).to.deep.equal({ rule: 'krum', f: 3 });
      // k is left out: its default m − f counts the updates actually received.
      expect(resolveAggregation({ rule: 'multi-krum', f: 2 }, plain)).to.deep.equal({ rule: 'multi-krum', f: 2 });
      expect(resolveAggregation({ rule: 'multi-krum', f: 2, k: 10 }, plain)).to.deep.equal({ rule: 'multi-krum', f: 2, k: 10 });
      expect(resolveAggregation({ rule: 'norm-clip' }, plain)).to.deep.equal({ rule: 'norm-clip', tau: 'median' });
      expect(resolveAggregation({ rule: 'norm-clip', tau: 0.5 }, plain)).to.deep.equal({ rule: 'norm-clip', tau: 0.5 });
      expect(resolveAggregation({ rule: 'grouped', groups: 3 }, secure)).to.deep.equal({
        rule: 'grouped',
        groups: 3,
        across: 'median',
        beta: 0.2,
        minGroups: 2,
      });
      expect(resolveAggregation({ rule: 'grouped', groups: 2, across: 'trimmed-mean', beta: 0, minGroups: 2 }, { secure: true, cohortSize: 6 })).to.deep.equal({
        rule: 'grouped',
        groups: 2,
        across: 'trimmed-mean',
        beta: 0,
        minGroups: 2,
      });
    });

    it('declares which rules need individual updates', () => {
      const requires = Object.fromEntries(AGGREGATION_RULES.map((r) => [r, aggregationRequires(r)]));
      expect(requires).to.deep.equal({
        mean: 'sum-only',
        median: 'plaintext',
        'trimmed-mean': 'plaintext',
        krum: 'plaintext',
        'multi-krum': 'plaintext',
        'norm-clip': 'plaintext',
        grouped: 'sum-only',
      });
    });

    for (const input of [{ rule: 'median' }, { rule: 'trimmed-mean' }, { rule: 'krum', f: 1 }, { rule: 'multi-krum', f: 1 }, { rule: 'norm-clip' }]) {
      it(`refuses ${input.rule} with secure aggregation, naming both fields`, () => {
        expectConfigError(() => resolveAggregation(input, secure), ['aggregation.rule', 'secure'], /aggregation\.rule/, /secure = true/, /only their sum/, /secure: false/, /'grouped'/);
      });
    }

    it('refuses grouped without secure aggregation and points to median / trimmed mean', () => {
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 2 }, plain), ['aggregation.rule', 'secure'], /needs secure = true/, /'median'/, /'trimmed-mean'/);
    });

    it('refuses krum and multi-krum with m ≤ 2f + 2, or without f', () => {
      expectConfigError(() => resolveAggregation({ rule: 'krum', f: 2 }, { secure: false, cohortSize: 6 }), ['aggregation.f'], /= 2 is invalid/, /m > 2f \+ 2/, /m = 6/, /f ≤ 1/);
      expect(resolveAggregation({ rule: 'krum', f: 2 }, { secure: false, cohortSize: 7 })).to.deep.equal({ rule: 'krum', f: 2 });
      expectConfigError(() => resolveAggregation({ rule: 'multi-krum', f: 0 }, { secure: false, cohortSize: 2 }), ['aggregation.f'], /at least 3/);
      expectConfigError(() => resolveAggregation({ rule: 'krum' }, plain), ['aggregation.f'], /no default/);
      expectConfigError(() => resolveAggregation({ rule: 'krum', f: 1.5 }, plain), ['aggregation.f'], /1\.5/, /integer ≥ 0/);
      expectConfigError(() => resolveAggregation({ rule: 'multi-krum', f: 1, k: 11 }, plain), ['aggregation.k'], /11/, /\[1, 10\]/);
      expectConfigError(() => resolveAggregation({ rule: 'multi-krum', f: 1, k: 0 }, plain), ['aggregation.k']);
    });

    it('refuses a trimmed mean with 2b ≥ m and a β outside [0, 0.5)', () => {
      expectConfigError(() => resolveAggregation({ rule: 'trimmed-mean', trim: 2 }, { secure: false, cohortSize: 4 }), ['aggregation.trim'], /= 2 is invalid/, /2b < m/, /trim ≤ 1/);
      expect(resolveAggregation({ rule: 'trimmed-mean', trim: 1 }, { secure: false, cohortSize: 4 })).to.deep.equal({ rule: 'trimmed-mean', beta: 0.2, trim: 1 });
      expectConfigError(() => resolveAggregation({ rule: 'trimmed-mean', beta: 0.5 }, plain), ['aggregation.beta'], /0\.5/, /\[0, 0\.5\)/);
      expectConfigError(() => resolveAggregation({ rule: 'trimmed-mean', beta: -0.1 }, plain), ['aggregation.beta']);
      expectConfigError(() => resolveAggregation({ rule: 'trimmed-mean', trim: -1 }, plain), ['aggregation.trim']);
    });

    it('refuses groups of fewer than 3 members, saying why', () => {
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 2 }, { secure: true, cohortSize: 5 }), ['aggregation.groups'], /= 2 is invalid/, /groups of 2/, /colluding/, /recovers/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 4 }, secure), ['aggregation.groups'], /groups ≤ 3/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 2 }, { secure: true, cohortSize: 4 }), ['aggregation.groups'], /too small/);
      expect(resolveAggregation({ rule: 'grouped', groups: 2 }, { secure: true, cohortSize: 6 })).to.include({ groups: 2 });
    });

    it('refuses other bad grouped parameters', () => {
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 1 }, secure), ['aggregation.groups'], /integer ≥ 2/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped' }, secure), ['aggregation.groups'], /no default/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 2.5 }, secure), ['aggregation.groups']);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 3, across: 'mean' }, secure), ['aggregation.across'], /"mean"/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 3, minGroups: 0 }, secure), ['aggregation.minGroups'], /\[1, 3\]/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 3, minGroups: 4 }, secure), ['aggregation.minGroups']);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 3, beta: 0.5 }, secure), ['aggregation.beta']);
    });

    it('refuses a bad norm-clip τ', () => {
      for (const tau of [0, -1, Infinity, NaN, 'mean', '1']) {
        expectConfigError(() => resolveAggregation({ rule: 'norm-clip', tau }, plain), ['aggregation.tau'], /finite number > 0 or 'median'/);
      }
    });

    it('refuses an unknown rule, listing the valid ones', () => {
      expectConfigError(() => resolveAggregation({ rule: 'bulyan' }, plain), ['aggregation.rule'], /"bulyan"/, /'mean', 'median', 'trimmed-mean', 'krum', 'multi-krum', 'norm-clip', 'grouped'/);
      expectConfigError(() => resolveAggregation({}, plain), ['aggregation.rule']);
      expectConfigError(() => resolveAggregation(42, plain), ['aggregation'], /42/);
      expectConfigError(() => resolveAggregation(null, plain), ['aggregation']);
    });

    it('refuses a field the rule does not take', () => {
      expectConfigError(() => resolveAggregation({ rule: 'median', f: 1 }, plain), ['aggregation.f'], /not a parameter of rule 'median'/, /takes none/);
      expectConfigError(() => resolveAggregation({ rule: 'krum', f: 1, beta: 0.1 }, plain), ['aggregation.beta'], /takes 'f'/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 2, tau: 1 }, { secure: true, cohortSize: 6 }), ['aggregation.tau'], /'groups', 'across', 'beta', 'minGroups'/);
    });
  });
});
