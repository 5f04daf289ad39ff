/**
 * The in-process federated runner on tiny synthetic data: bit-for-bit repeatable per seed, each method's
 * shared-set rule and BV sum counts, no shared term in round 1 (or ever for fedavg), fedavg-at perturbing with
 * the aggregated model, flat tensor counts, and configuration errors that name the field.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { runFederated } from '../shared/federated/runner.js';
import { resolveConfig } from '../shared/federated/config.js';
import { METHOD_NAMES, METHODS } from '../shared/federated/methods.js';
import { Model, modelSpec } from '../shared/models/model.js';
import { gatherBatch, disposeBatch } from '../shared/train/batches.js';
import { fgsm } from '../shared/attacks/pgd.js';

describe('federated runner (in-process)', function () {
  const data = makeSyntheticDataset({ count: 300, testCount: 40, seed: 3 });
  const tiny = {
    numClients: 4,
    fraction: 0.5,
    rounds: 2,
    localEpochs: 1,
    batchSize: 32,
    lr: 0.05,
    sharedSetSize: 8,
    evalEvery: 2,
    evalAttacks: ['clean', 'fgsm'],
    finalAttacks: ['clean', 'fgsm'],
    seed: 5,
  };

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('is bit-for-bit repeatable for a seed, and differs for another seed', async () => {
    const a = await runFederated(data, { ...tiny, method: 'fed-bva' });
    const b = await runFederated(data, { ...tiny, method: 'fed-bva' });
    const c = await runFederated(data, { ...tiny, method: 'fed-bva', seed: 6 });
    expect(Buffer.from(a.weights.buffer).equals(Buffer.from(b.weights.buffer))).to.equal(true);
    expect(a.final).to.deep.equal(b.final);
    expect(a.rounds.map((r) => r.cohort)).to.deep.equal(b.rounds.map((r) => r.cohort));
    expect(Buffer.from(a.weights.buffer).equals(Buffer.from(c.weights.buffer))).to.equal(false);
  });

  it('draws the same cohorts and the same initial model for every method', async () => {
    const a = await runFederated(data, { ...tiny, method: 'fedavg' });
    const b = await runFederated(data, { ...tiny, method: 'eat' });
    expect(a.rounds.map((r) => r.cohort)).to.deep.equal(b.rounds.map((r) => r.cohort));
    expect(a.rounds[0]!.cohort).to.have.length(2); // m = max(⌊0.5·4⌋, 1)
    // Round 1 has no shared set for any method, so a method without local adversarial training
    // ends round 1 exactly where fedavg does.
    const a1 = await runFederated(data, { ...tiny, rounds: 1, method: 'fedavg' });
    const ds1 = await runFederated(data, { ...tiny, rounds: 1, method: 'fedavg-ds' });
    expect(Buffer.from(a1.weights.buffer).equals(Buffer.from(ds1.weights.buffer))).to.equal(true);
  });

  it('uses the shared set from round 2 on (never for fedavg) and counts BV sums per method', async () => {
    const expectedSums: Record<string, number> = {
      fedavg: 0,
      'fedavg-ds': 0,
      'fedavg-at': 0,
      'fed-bias': 1,
      'fed-variance': 2,
      'fed-bva': 2,
      eat: 0,
      'eat-fed-bva': 2,
      // BV-PGD with the default L = 10: 2L sums; the local-training methods add no sums of their own.
      'fed-bva-pgd': 20,
      'pgd-at': 0,
      trades: 0,
      'pgd-at-fed-bva': 2,
      'trades-fed-bva': 2,
    };
    expect(Object.keys(expectedSums)).to.have.members([...METHOD_NAMES]);
    for (const method of METHOD_NAMES) {
      const r = await runFederated(data, { ...tiny, method, evalAttacks: ['clean'], finalAttacks: ['clean'] });
      expect(
        r.rounds.map((x) => x.sharedSetUsed),
        method,
      ).to.deep.equal([false, METHODS[method].sharedSet !== 'none']);
      expect(
        r.rounds.map((x) => x.bvaSums),
        method,
      ).to.deep.equal([expectedSums[method], expectedSums[method]]);
    }
    const pgd = await runFederated(data, { ...tiny, method: 'fed-bva', rounds: 1, bva: { attack: 'pgd', steps: 3 }, evalAttacks: ['clean'], finalAttacks: ['clean'] });
    expect(pgd.rounds[0]!.bvaSums).to.equal(6); // 2L
  });

  it('fedavg-at perturbs D_s with FGSM on the aggregated model w_{t+1}; BV methods do not use it', async () => {
    let made: Float32Array | undefined;
    const r = await runFederated(data, { ...tiny, rounds: 1, method: 'fedavg-at' }, { onSharedSet: (_t, x) => (made = x) });
    const m = new Model(modelSpec('cnn-mnist'), r.weights); // w_2, the aggregate of round 1
    const rows = gatherBatch(data.train, r.sharedSet, 0, r.sharedSet.length);
    const expected = fgsm(m, rows.x, rows.y, 0.3);
    expect(Array.from(made!)).to.deep.equal(Array.from(expected.dataSync()));
    expected.dispose();
    disposeBatch(rows);
    let bva: Float32Array | undefined;
    await runFederated(data, { ...tiny, rounds: 1, method: 'fed-bva' }, { onSharedSet: (_t, x) => (bva = x) });
    m.dispose();
    let same = 0;
    for (let i = 0; i < bva!.length; i++) if (bva![i] === made![i]) same++;
    expect(same / bva!.length).to.be.below(0.9);
  });

  it('times its rounds and the run on the injected clock', async () => {
    let t = 0;
    const r = await runFederated(data, { ...tiny, method: 'fedavg', rounds: 1, evalAttacks: ['clean'], finalAttacks: ['clean'] }, {}, { clock: { now: () => (t += 5) } });
    // Every reading moves 5 ms: each span measured is a whole number of steps, and the run's wall time too.
    for (const v of [...Object.values(r.rounds[0]!.ms), r.wallMs]) expect(v % 5, String(v)).to.equal(0);
    expect(r.wallMs).to.be.above(0);
    const still = await runFederated(data, { ...tiny, method: 'fedavg', rounds: 1, evalAttacks: ['clean'], finalAttacks: ['clean'] }, {}, { clock: { now: () => 7 } });
    expect([...Object.values(still.rounds[0]!.ms), still.wallMs]).to.deep.equal([0, 0, 0, 0, 0]);
  });

  it('keeps tf.memory().numTensors flat across runs', async () => {
    await runFederated(data, { ...tiny, method: 'eat-fed-bva', rounds: 1 });
    const n = tf.memory().numTensors;
    await runFederated(data, { ...tiny, method: 'eat-fed-bva', rounds: 3, bva: { attack: 'pgd', steps: 2 } });
    expect(tf.memory().numTensors).to.equal(n);
  });

  it('rejects a bad configuration, naming the field and the value', () => {
    expect(() => resolveConfig({ method: 'fedprox' })).to.throw(/method = "fedprox".*fedavg, fedavg-ds/);
    expect(() => resolveConfig({ method: 'fedavg', fraction: 0 })).to.throw(/fraction = 0/);
    expect(() => resolveConfig({ method: 'fedavg', rounds: 1.5 })).to.throw(/rounds = 1.5/);
    expect(() => resolveConfig({ method: 'fed-bva', bva: { attack: 'cw' as 'pgd' } })).to.throw(/bva.attack = "cw"/);
    expect(() => resolveConfig({ method: 'fedavg', evalAttacks: ['pgd-7'] })).to.throw(/evalAttacks = "pgd-7"/);
  });
});
