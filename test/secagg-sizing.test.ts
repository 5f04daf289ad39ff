/**
 * SecAgg+ sized for its promise (shared/secagg/sizing.ts): (k, t) from n, the declared dropout
 * rate and corrupted fraction, with abort ≤ 2^−20 and privacy breach ≤ 2^−40. Checked against an independent
 * source, Google's parameter finder as tabulated in secure-aggregation.md §8 (chooseGraphParams), and by sampling
 * random drop sets on the real Harary graph: the abort rate measured must sit within what the bound allows.
 */
import { expect } from 'chai';
import { chooseGraphParams, dropSetAborts, hararyNeighbours } from '../shared/secagg/graph.js';
import { hyperTailAbove, sizeSecAggPlus } from '../shared/secagg/sizing.js';
import { SecAggConfigError } from '../shared/secagg/errors.js';
import { Rng } from '../shared/util/random.js';

/** A seeded 32-byte session id (it fixes the graph's random labelling). */
const sessionId = (rng: Rng): Uint8Array => Uint8Array.from({ length: 32 }, () => rng.int(256));
/** 150 of 500 members (1-based), uniformly at random: a 30 % drop set. */
const dropSet = (rng: Rng): Set<number> => new Set(Array.from(rng.sampleWithoutReplacement(500, 150), (i) => i + 1));

describe('SecAgg+ sizing', () => {
  it('tells an aborting drop set from a survivable one', () => {
    // A ring of 5 with k = 2 (each member linked to its two neighbours), t = 2.
    const ring = [
      [1, 2, 5],
      [1, 2, 3],
      [2, 3, 4],
      [3, 4, 5],
      [1, 4, 5],
    ];
    expect(dropSetAborts(ring, new Set([1]), 2)).to.equal(false); // 1's key: 2 and 5 alive
    expect(dropSetAborts(ring, new Set([1, 2]), 2)).to.equal(true); // 1 keeps only 5 alive
  });

  it('computes hypergeometric tails exactly on small cases', () => {
    // N = 10, K = 4, k = 3: P[X > 1] = (C(4,2)C(6,1) + C(4,3)C(6,0)) / C(10,3) = (36 + 4) / 120.
    expect(hyperTailAbove(10, 4, 3, 1)).to.be.closeTo(40 / 120, 1e-12);
    expect(hyperTailAbove(10, 4, 3, 3)).to.equal(0);
    expect(hyperTailAbove(10, 0, 3, 0)).to.equal(0);
  });

  it("agrees with the tabulated parameters of Google's finder at 5 % dropout and 5 % corrupted where n is large", () => {
    const at = (n: number, adversary: 'semi-honest' | 'semi-malicious') => {
      const p = sizeSecAggPlus({ n, dropout: 0.05, corrupted: 0.05, adversary });
      return [p.k, p.t];
    };
    const table = (n: number, adversary: 'semi-honest' | 'semi-malicious') => {
      const r = chooseGraphParams(n, adversary);
      return [r.k, r.t];
    };
    expect(at(1_000_000, 'semi-honest')).to.deep.equal(table(1_000_000, 'semi-honest')); // 38, 22
    expect(at(10_000, 'semi-malicious')).to.deep.equal(table(10_000, 'semi-malicious')); // 62, 44
    expect(at(1_000_000, 'semi-malicious')).to.deep.equal(table(1_000_000, 'semi-malicious')); // 74, 52
    // n = 1,000 semi-honest: one degree step below the table's 30 at the same t = 17.
    expect(at(1000, 'semi-honest')).to.deep.equal([28, 17]);
  });

  it('carries 30 % dropout at n = 500 and 1,000 within the bounds, and refuses what no graph can carry', () => {
    const p500 = sizeSecAggPlus({ n: 500, dropout: 0.3, corrupted: 0.05, adversary: 'semi-honest' });
    expect(p500).to.deep.include({ k: 58, t: 20 });
    expect(p500.pAbort).to.be.at.most(2 ** -20);
    expect(p500.pSecurity).to.be.at.most(2 ** -40);
    const p1000 = sizeSecAggPlus({ n: 1000, dropout: 0.3, corrupted: 0.05, adversary: 'semi-honest' });
    expect(p1000.pAbort).to.be.at.most(2 ** -20);
    expect(() => sizeSecAggPlus({ n: 300, dropout: 0.6, corrupted: 0.2, adversary: 'semi-malicious' })).to.throw(SecAggConfigError, /no SecAgg\+ graph of n = 300 meets/);
  });

  it('aborts in none of 2,000 random 30 % drop sets at n = 500 (the bound allows 2^−20 each)', () => {
    const { k, t } = sizeSecAggPlus({ n: 500, dropout: 0.3, corrupted: 0.05, adversary: 'semi-honest' });
    const rng = new Rng(2020);
    let failures = 0;
    for (let s = 0; s < 2000; s++) if (dropSetAborts(hararyNeighbours(500, k, sessionId(rng)), dropSet(rng), t)) failures++;
    expect(failures).to.equal(0);
    // Whereas Google's table (k = 30, t = 17 for n = 1,000, here at n = 500) does abort at 30 %: the sizing matters.
    const old = chooseGraphParams(500, 'semi-honest');
    let oldFailures = 0;
    for (let s = 0; s < 200; s++) if (dropSetAborts(hararyNeighbours(500, old.k, sessionId(rng)), dropSet(rng), old.t)) oldFailures++;
    expect(oldFailures).to.be.greaterThan(100);
  });
});
