import { expect } from 'chai';
import { AGGREGATION_RULES, DEFAULT_AGGREGATION, aggregationRequires, minUpdates, resolveAggregation, type AggregationConfig } from '../shared/federated/aggregation.js';
import { Rng } from '../shared/util/random.js';
import { expectConfigError } from './helpers/errors.js';
import { expandMatrix, parseMatrix } from '../simulations/benchmark/matrix.js';
import { resolveScenario } from '../simulations/scenario.js';
import { ConfigError } from '../shared/federated/errors.js';
import { aggregatePlaintext, combineAcross, splitGroups, type AggregateContext } from '../server/robust-aggregators.js';

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);

/** The uniform mean of a list of vectors. */
function meanOf(xs: readonly Float32Array[]): Float32Array {
  return Float32Array.from(xs[0]!, (_, t) => xs.reduce((s, x) => s + x[t]!, 0) / xs.length);
}

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
      { rule: 'geometric-median', nu: 1e-6, iterations: 3 },
      { rule: 'geometric-median', nu: 0.1, iterations: 10 },
      { rule: 'centered-clipping', tau: 1e9, iterations: 1 },
      { rule: 'centered-clipping', tau: 1e9, iterations: 3 },
      { rule: 'mda', f: 3 },
      { rule: 'monna', f: 3, rootSize: 100 },
      { rule: 'meamed', f: 3 },
      { rule: 'fltrust', rootSize: 100 },
      { rule: 'foolsgold', kappa: 1 },
      { rule: 'mean', pre: [{ name: 'nnm', f: 2 }] },
      { rule: 'median', pre: [{ name: 'bucketing', s: 2 }] },
      { rule: 'krum', f: 1, pre: [{ name: 'nnm', f: 1 }] },
      { rule: 'trimmed-mean', beta: 0.2, pre: [{ name: 'arc', f: 2 }] },
      {
        rule: 'geometric-median',
        nu: 1e-6,
        iterations: 3,
        pre: [
          { name: 'bucketing', s: 3 },
          { name: 'nnm', f: 1 },
          { name: 'arc', f: 1 },
        ],
      },
    ];
    // FLTrust rescales every update to the root update's norm: with the root equal to u, u comes back. MoNNA's
    // pivot may be anything; FoolsGold needs ids.
    const ctx = { root: Float32Array.from(u), ids: updates.map((_, i) => `c${i}`), seed: 3, round: 2 };
    for (const cfg of rules) {
      it(JSON.stringify(cfg), () => {
        const r = aggregatePlaintext(cfg, updates, ctx);
        // Averages of identical float32 values in float64 come back exactly; Weiszfeld's weights and the
        // rescalings leave at most one float32 rounding.
        expectClose(r.update, Array.from(u), 1e-5 * 10);
        if (cfg.rule !== 'geometric-median' && cfg.rule !== 'fltrust' && cfg.rule !== 'foolsgold') expect(Array.from(r.update)).to.deep.equal(Array.from(u));
        if (cfg.rule === 'norm-clip') expect(r.clippedFraction).to.equal(0);
      });
    }

    it('a second round of FoolsGold (histories carried) still gives the update back', () => {
      const cfg: AggregationConfig = { rule: 'foolsgold', kappa: 1 };
      const first = aggregatePlaintext(cfg, updates, ctx);
      expect(first.state).to.not.equal(undefined);
      expectClose(aggregatePlaintext(cfg, updates, { ...ctx, state: first.state! }).update, Array.from(u), 1e-4);
    });

    it('centered clipping moves its centre at most τ per iteration, so it reaches u after ⌈‖u‖/τ⌉ iterations, carried across rounds', () => {
      // The contract's exception: from the zero centre, identical updates u come back only within τ·L of it.
      const norm = Math.hypot(...u);
      const cfg: AggregationConfig = { rule: 'centered-clipping', tau: norm / 2.5, iterations: 1 };
      let state: AggregateContext['state'];
      const fractions = [0.4, 0.8, 1, 1];
      for (const want of fractions) {
        const r = aggregatePlaintext(cfg, updates, state !== undefined ? { state } : {});
        expectClose(
          r.update,
          Array.from(u, (v) => want * v),
          1e-4,
        );
        state = r.state;
      }
    });

    it('combineAcross, median and trimmed mean, and every rule across allows', () => {
      for (const across of ['median', 'trimmed-mean'] as const) {
        expect(Array.from(combineAcross(across, updates, 0.3))).to.deep.equal(Array.from(u));
      }
      for (const across of [
        'geometric-median',
        { rule: 'centered-clipping', tau: 1e9 },
        'mda',
        'meamed',
        'krum',
        'multi-krum',
        'norm-clip',
        { rule: 'median', pre: [{ name: 'nnm', f: 1 }] },
        { rule: 'meamed', f: 1, pre: [{ name: 'bucketing', s: 2 }] },
      ]) {
        const cfg = resolveAggregation(
          { rule: 'grouped', groups: 7, across: typeof across === 'string' && /krum|mda|meamed/.test(across) ? { rule: across, f: 1 } : across },
          { secure: true, cohortSize: 21 },
        );
        if (cfg.rule !== 'grouped') throw new Error('expected grouped');
        expectClose(combineAcross(cfg.across, updates, cfg.beta), Array.from(u), 1e-4);
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

    it('MDA, MoNNA, MeaMed and the NNM and ARC pre-aggregators stay within (or, for the geometric median and centered clipping, near) the honest range', () => {
      const ctx = { root: meanOf(honest), ids: updates.map((_, i) => `c${i}`) };
      for (const cfg of [
        { rule: 'mda', f },
        { rule: 'monna', f, rootSize: 100 },
        { rule: 'meamed', f },
        { rule: 'median', pre: [{ name: 'nnm', f }] },
        { rule: 'multi-krum', f: 1, pre: [{ name: 'arc', f }] },
        { rule: 'mean', pre: [{ name: 'arc', f }] },
      ] as AggregationConfig[]) {
        expect(withinHonestRange(aggregatePlaintext(cfg, updates, ctx).update), JSON.stringify(cfg)).to.equal(true);
      }
      // MDA and MoNNA keep exactly the honest updates.
      expect(aggregatePlaintext({ rule: 'mda', f }, updates).selected).to.deep.equal([0, 1, 2, 3, 7, 8, 9]);
      expect(aggregatePlaintext({ rule: 'monna', f, rootSize: 100 }, updates, ctx).selected).to.deep.equal([0, 1, 2, 3, 7, 8, 9]);
      // Weiszfeld from zero weighs each point by 1/distance, so an outlier pulls with a unit vector however far it
      // is: the result moves a bounded distance (here < 2) from the honest updates' own, and not at all further
      // when the outliers go from 1e6 to 1e9. Centered clipping bounds each outlier's pull by τ/m.
      const gap = (x: Float32Array, y: Float32Array): number => Math.hypot(...Array.from(x, (v, t) => v - y[t]!));
      const gm: AggregationConfig = { rule: 'geometric-median', nu: 1e-6, iterations: 3 };
      const far = updates.map((x) => (x[0] === 1e6 ? new Float32Array(d).fill(1e9) : x));
      expect(gap(aggregatePlaintext(gm, updates).update, aggregatePlaintext(gm, honest).update)).to.be.below(2);
      expect(gap(aggregatePlaintext(gm, updates).update, aggregatePlaintext(gm, far).update)).to.be.below(1e-2);
      const cc: AggregationConfig = { rule: 'centered-clipping', tau: 1, iterations: 1 };
      const ccHonest = aggregatePlaintext(cc, honest).update.map((v) => (v * (m - f)) / m);
      expect(gap(aggregatePlaintext(cc, updates).update, ccHonest)).to.be.at.most((f * 1) / m + 1e-6);
      // FLTrust's aggregate is a convex combination of vectors rescaled to the root update's norm.
      const ft = aggregatePlaintext({ rule: 'fltrust', rootSize: 100 }, updates, ctx);
      expect(Math.hypot(...ft.update)).to.be.at.most(Math.hypot(...ctx.root) * (1 + 1e-6));
      // FoolsGold does not target outliers but sybils: three identical attackers get weight 0.
      const sybils = [...honest.slice(0, 4), ...Array.from({ length: 3 }, () => new Float32Array(d).fill(1e6))];
      const fg = aggregatePlaintext({ rule: 'foolsgold', kappa: 1 }, sybils, { ids: sybils.map((_, i) => `c${i}`) });
      expect(fg.weights!.slice(4)).to.deep.equal([0, 0, 0]);
      expect(withinHonestRange(fg.update)).to.equal(true);
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
        'geometric-median': 'plaintext',
        'centered-clipping': 'plaintext',
        mda: 'plaintext',
        monna: 'plaintext',
        meamed: 'plaintext',
        fltrust: 'plaintext',
        foolsgold: 'plaintext',
        grouped: 'sum-only',
      });
    });

    for (const input of [
      { rule: 'median' },
      { rule: 'trimmed-mean' },
      { rule: 'krum', f: 1 },
      { rule: 'multi-krum', f: 1 },
      { rule: 'norm-clip' },
      { rule: 'geometric-median' },
      { rule: 'centered-clipping' },
      { rule: 'mda', f: 1 },
      { rule: 'monna', f: 1 },
      { rule: 'meamed', f: 1 },
      { rule: 'fltrust' },
      { rule: 'foolsgold' },
      { rule: 'mean', pre: ['nnm'] },
    ]) {
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
      expectConfigError(
        () => resolveAggregation({ rule: 'bulyan' }, plain),
        ['aggregation.rule'],
        /"bulyan"/,
        /'mean', 'median', 'trimmed-mean', 'krum', 'multi-krum', 'norm-clip', 'geometric-median', 'centered-clipping', 'mda', 'monna', 'meamed', 'fltrust', 'foolsgold', 'grouped'/,
      );
      expectConfigError(() => resolveAggregation({}, plain), ['aggregation.rule']);
      expectConfigError(() => resolveAggregation(42, plain), ['aggregation'], /42/);
      expectConfigError(() => resolveAggregation(null, plain), ['aggregation']);
    });

    it('fills the defaults of the geometric median, centered clipping, MDA, MoNNA, MeaMed, FLTrust, FoolsGold and the pre-aggregators', () => {
      expect(resolveAggregation('geometric-median', plain)).to.deep.equal({ rule: 'geometric-median', nu: 1e-6, iterations: 3 });
      expect(resolveAggregation({ rule: 'centered-clipping' }, plain)).to.deep.equal({ rule: 'centered-clipping', tau: 10, iterations: 1 });
      expect(resolveAggregation({ rule: 'mda', f: 2 }, plain)).to.deep.equal({ rule: 'mda', f: 2 });
      expect(resolveAggregation({ rule: 'monna', f: 2 }, plain)).to.deep.equal({ rule: 'monna', f: 2, rootSize: 100 });
      expect(resolveAggregation({ rule: 'meamed', f: 4 }, plain)).to.deep.equal({ rule: 'meamed', f: 4 });
      expect(resolveAggregation({ rule: 'fltrust', rootSize: 50 }, plain)).to.deep.equal({ rule: 'fltrust', rootSize: 50 });
      expect(resolveAggregation({ rule: 'foolsgold' }, plain)).to.deep.equal({ rule: 'foolsgold', kappa: 1 });
      // A pre-aggregator's f defaults to the rule's; names and objects mix.
      expect(resolveAggregation({ rule: 'krum', f: 1, pre: ['nnm'] }, plain)).to.deep.equal({ rule: 'krum', f: 1, pre: [{ name: 'nnm', f: 1 }] });
      expect(resolveAggregation({ rule: 'median', pre: [{ name: 'bucketing' }, { name: 'arc', f: 2 }] }, plain)).to.deep.equal({
        rule: 'median',
        pre: [
          { name: 'bucketing', s: 2 },
          { name: 'arc', f: 2 },
        ],
      });
      expect(resolveAggregation({ rule: 'median', pre: [] }, plain)).to.deep.equal({ rule: 'median' });
      expect(resolveAggregation({ rule: 'mean', pre: ['bucketing'] }, plain)).to.deep.equal({ rule: 'mean', pre: [{ name: 'bucketing', s: 2 }] });
    });

    it('checks the rule against the vectors its pre-aggregators leave (bucketing: ⌈m/s⌉), and minUpdates counts back', () => {
      // m = 10 in buckets of 2 leaves 5 vectors: Krum needs 5 > 2f + 2, so f = 1 passes and f = 2 does not.
      expect(resolveAggregation({ rule: 'krum', f: 1, pre: [{ name: 'bucketing', s: 2 }] }, plain)).to.deep.include({ f: 1 });
      expectConfigError(() => resolveAggregation({ rule: 'krum', f: 2, pre: [{ name: 'bucketing', s: 2 }] }, plain), ['aggregation.f'], /after bucketing, the rule sees 5 of the 10/, /f ≤ 1/);
      expect(minUpdates(resolveAggregation({ rule: 'krum', f: 1, pre: [{ name: 'bucketing', s: 2 }] }, plain))).to.equal(9);
      expect(minUpdates(resolveAggregation({ rule: 'mda', f: 2, pre: ['nnm'] }, plain))).to.equal(5);
      expect(minUpdates(resolveAggregation({ rule: 'median', pre: [{ name: 'nnm', f: 6 }] }, plain))).to.equal(7);
      expect(minUpdates({ rule: 'meamed', f: 3 })).to.equal(7);
    });

    it('refuses a bad parameter of a robust rule or pre-aggregator, naming the field', () => {
      expectConfigError(() => resolveAggregation({ rule: 'mda' }, plain), ['aggregation.f'], /no default/);
      expectConfigError(() => resolveAggregation({ rule: 'mda', f: 5 }, plain), ['aggregation.f'], /m > 2f/, /m = 10/, /f ≤ 4/);
      expectConfigError(() => resolveAggregation({ rule: 'mda', f: 20 }, { secure: false, cohortSize: 100 }), ['aggregation.f'], /C\(m, f\) ≤ 2,000,000/, /geometric-median/);
      expectConfigError(() => resolveAggregation({ rule: 'meamed', f: 5 }, plain), ['aggregation.f'], /m > 2f/);
      expectConfigError(() => resolveAggregation({ rule: 'monna', f: 1, rootSize: 0 }, plain), ['aggregation.rootSize'], /integer ≥ 1/);
      expectConfigError(() => resolveAggregation({ rule: 'geometric-median', nu: -1 }, plain), ['aggregation.nu'], /≥ 0/);
      expectConfigError(() => resolveAggregation({ rule: 'geometric-median', iterations: 0 }, plain), ['aggregation.iterations'], /\[1, 1000\]/);
      expectConfigError(() => resolveAggregation({ rule: 'centered-clipping', tau: 0 }, plain), ['aggregation.tau'], /> 0/);
      expectConfigError(() => resolveAggregation({ rule: 'foolsgold', kappa: 'high' }, plain), ['aggregation.kappa']);
      expectConfigError(() => resolveAggregation({ rule: 'foolsgold', pre: [{ name: 'nnm', f: 1 }] }, plain), ['aggregation.pre'], /history per client/);
      expectConfigError(() => resolveAggregation({ rule: 'median', pre: 'nnm' }, plain), ['aggregation.pre'], /a list of pre-aggregators/);
      expectConfigError(() => resolveAggregation({ rule: 'median', pre: ['nnn'] }, plain), ['aggregation.pre[0].name'], /"nnn"/, /'nnm', 'bucketing', 'arc'/);
      expectConfigError(() => resolveAggregation({ rule: 'median', pre: ['nnm'] }, plain), ['aggregation.pre[0].f'], /no f to inherit/);
      expectConfigError(() => resolveAggregation({ rule: 'median', pre: [{ name: 'arc', f: 10 }] }, plain), ['aggregation.pre[0].f'], /f < m/, /f ≤ 9/);
      expectConfigError(() => resolveAggregation({ rule: 'median', pre: [{ name: 'bucketing', s: 0 }] }, plain), ['aggregation.pre[0].s'], /integer ≥ 1/);
      expectConfigError(() => resolveAggregation({ rule: 'median', pre: [{ name: 'bucketing', f: 1 }] }, plain), ['aggregation.pre[0].f'], /takes 's'/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 2, pre: ['nnm'] }, { secure: true, cohortSize: 6 }), ['aggregation.pre'], /inside across/);
    });

    it('grouped takes any rule across that needs only the group means, validated against g, and refuses the others by name', () => {
      const s12 = { secure: true, cohortSize: 30 };
      expect(resolveAggregation({ rule: 'grouped', groups: 10, across: 'geometric-median' }, s12)).to.deep.include({ across: { rule: 'geometric-median', nu: 1e-6, iterations: 3 } });
      expect(resolveAggregation({ rule: 'grouped', groups: 10, across: { rule: 'krum', f: 2, pre: ['nnm'] } }, s12)).to.deep.include({ across: { rule: 'krum', f: 2, pre: [{ name: 'nnm', f: 2 }] } });
      expect(resolveAggregation({ rule: 'grouped', groups: 5, across: { rule: 'centered-clipping', tau: 1 } }, s12)).to.deep.include({ across: { rule: 'centered-clipping', tau: 1, iterations: 1 } });
      // Krum across g = 5 groups needs 5 > 2f + 2.
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 5, across: { rule: 'krum', f: 2 } }, s12), ['aggregation.across.f'], /g > 2f \+ 2/, /grouped with g = 5/, /f ≤ 1/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 5, across: { rule: 'mda' } }, s12), ['aggregation.across.f'], /no default/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 5, across: { rule: 'median', tau: 1 } }, s12), ['aggregation.across.tau'], /not a parameter/);
      for (const refused of ['fltrust', 'monna', 'foolsgold']) {
        expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 5, across: refused }, s12), ['aggregation.across'], new RegExp(`"${refused}" cannot combine group means`));
        expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 5, across: { rule: refused, f: 1 } }, s12), ['aggregation.across.rule']);
      }
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 5, across: 'foolsgold' }, s12), ['aggregation.across'], /redrawn every round/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 5, across: 'mean-ish' }, s12), ['aggregation.across'], /'geometric-median'/);
    });

    it('refuses a field the rule does not take', () => {
      expectConfigError(() => resolveAggregation({ rule: 'median', f: 1 }, plain), ['aggregation.f'], /not a parameter of rule 'median'/, /takes none/);
      expectConfigError(() => resolveAggregation({ rule: 'krum', f: 1, beta: 0.1 }, plain), ['aggregation.beta'], /takes 'f'/);
      expectConfigError(() => resolveAggregation({ rule: 'grouped', groups: 2, tau: 1 }, { secure: true, cohortSize: 6 }), ['aggregation.tau'], /'groups', 'across', 'beta', 'minGroups'/);
    });
  });

  describe('the robust rules and pre-aggregators from scenarios and benchmark matrices', () => {
    const base = { dataset: 'synthetic', model: 'linear', method: 'fedavg', secure: false, numClients: 20, fraction: 0.5, rounds: 1, sharedSetSize: 8, seed: 1, workers: 1 };

    it('a scenario takes every new rule, pre-aggregators and a rule object across groups', () => {
      expect(resolveScenario({ ...base, aggregation: { rule: 'fltrust' } }).aggregation).to.deep.equal({ rule: 'fltrust', rootSize: 100 });
      expect(resolveScenario({ ...base, aggregation: { rule: 'krum', f: 2, pre: ['nnm'] } }).aggregation).to.deep.equal({ rule: 'krum', f: 2, pre: [{ name: 'nnm', f: 2 }] });
      expect(resolveScenario({ ...base, secure: true, aggregation: { rule: 'grouped', groups: 3, across: 'geometric-median' } }).aggregation).to.deep.include({
        across: { rule: 'geometric-median', nu: 1e-6, iterations: 3 },
      });
      expectConfigError(() => resolveScenario({ ...base, aggregation: { rule: 'mda', f: 5 } }), ['aggregation.f'], /m = 10/);
    });

    it('a matrix crosses the new rules as defenses, and a bad parameter names the cell and the field', () => {
      const matrix = {
        name: 'rules',
        base,
        defenses: [
          { name: 'geomed', aggregation: { rule: 'geometric-median' } },
          { name: 'cc', aggregation: { rule: 'centered-clipping', tau: 1 } },
          { name: 'nnm-meamed', aggregation: { rule: 'meamed', f: 2, pre: ['nnm'] } },
          { name: 'bucket-krum', aggregation: { rule: 'krum', f: 1, pre: [{ name: 'bucketing', s: 2 }] } },
          { name: 'foolsgold', aggregation: { rule: 'foolsgold' } },
        ],
        threats: [{ name: 'none' }],
      };
      const cells = expandMatrix(parseMatrix(matrix));
      expect(cells.map((c) => c.scenario.aggregation.rule)).to.deep.equal(['geometric-median', 'centered-clipping', 'meamed', 'krum', 'foolsgold']);
      let caught: unknown;
      try {
        expandMatrix(parseMatrix({ ...matrix, defenses: [{ name: 'bad', aggregation: { rule: 'krum', f: 2, pre: [{ name: 'bucketing', s: 2 }] } }] }));
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ConfigError);
      expect((caught as ConfigError).fields).to.deep.equal(['aggregation.f']);
      expect((caught as ConfigError).message)
        .to.match(/matrix cell bad/)
        .and.match(/after bucketing, the rule sees 5 of the 10/);
    });
  });
});
