/**
 * `rfl bench browser`'s figures (bench/browser.ts): a run's medians leave round 1 (warm-up) and rounds that did
 * not complete out, and every round's figures are kept. The benchmark itself is run by hand, never in tests.
 */
import { expect } from 'chai';
import { summariseRun } from '../bench/browser.js';
import type { RoundMetrics } from '../server/coordinator.js';

const round = (r: number, status: 'completed' | 'aborted', ms: Record<string, number>): RoundMetrics => ({ round: r, status, cohort: ['a', 'b'], trained: 2, dropouts: 0, ms, bytesSent: 0 });

describe('bench browser: a run’s figures', () => {
  it('leaves round 1 and rounds that did not complete out of the medians, and keeps every round', () => {
    const rounds = [
      round(1, 'completed', { train: 5000, keyAgreement: 5000 }),
      round(2, 'completed', { train: 300, keyAgreement: 100 }),
      round(3, 'aborted', { train: 9000 }),
      round(4, 'completed', { train: 500, keyAgreement: 100, total: 99999 }),
      round(5, 'completed', { train: 400, keyAgreement: 300 }),
    ];
    const run = summariseRun(2, 'browser', 1, rounds);
    expect(run.timedRounds).to.deep.equal([2, 4, 5]);
    // Round totals 400, 600 and 700 (the `total` entry is not a step): median 600; training 300, 500, 400: 400.
    expect(run.roundMs).to.equal(600);
    expect(run.trainMs).to.equal(400);
    expect(run.rounds.map((r) => [r.round, r.status, r.totalMs])).to.deep.equal([
      [1, 'completed', 10000],
      [2, 'completed', 400],
      [3, 'aborted', 9000],
      [4, 'completed', 600],
      [5, 'completed', 700],
    ]);
    expect({ pair: run.pair, kind: run.kind, position: run.position }).to.deep.equal({ pair: 2, kind: 'browser', position: 1 });
  });

  it('refuses a run with no completed round after warm-up', () => {
    expect(() => summariseRun(1, 'node', 2, [round(1, 'completed', { train: 1 }), round(2, 'aborted', { train: 1 })])).to.throw(
      'node run of pair 1: no completed round after the warm-up round (statuses completed, aborted)',
    );
  });
});
