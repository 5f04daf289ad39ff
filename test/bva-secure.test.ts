/**
 * Decent_BVA in secure mode against the plaintext path (decent-bva.md §11 item 5): the same client models and
 * backend give a bit-identical perturbed shared set when the plaintext path emulates the quantiser, with and
 * without a client dropping between phase 1 and phase 2, and at least 99.9 % identical coordinates against
 * float plaintext; for BV-FGSM and BV-PGD-3.
 */
import { expect } from 'chai';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { createModel, type Model } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { range } from '../shared/train/batches.js';
import { bvFgsm, bvPgd, plaintextEnsemble, type BvaEnsemble } from '../shared/defense/bva-attack.js';
import type { BvaProbe, BvaShape } from '../shared/defense/bva-vectors.js';
import { SecAggClientRound } from '../client/secagg-client.js';
import { bvaInputs } from '../client/bva-inputs.js';
import { SecureSumSession } from '../server/secagg-session.js';
import { plannedBvaSums, secureEnsemble, type BvaSumInfo } from '../server/secure-bva-ensemble.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import type { StageSender } from '../shared/engine/transport.js';

describe('Decent_BVA over secure aggregation', function () {
  const K = 4;
  const ns = 8;
  let models: Model[];
  let X: Float32Array;
  let labels: Uint8Array;
  const shape: BvaShape = { ns, classes: 10, inputSize: 784 };

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    const { train, test } = makeSyntheticDataset({ count: 400, testCount: ns, seed: 4 });
    models = Array.from({ length: K }, (_, k) => {
      const m = createModel('cnn-mnist', 1);
      trainLocal(
        m,
        train,
        range(400).filter((i) => i % K === k),
        { epochs: 2, lr: 0.05, seed: 10 + k },
      );
      return m;
    });
    X = test.images.slice();
    labels = test.labels.slice();
  });
  after(() => models.forEach((m) => m.dispose()));

  /** A secure ensemble over real client stage machines; `dropAt` makes a client vanish at a sum. */
  async function secure(method: 'fed-bva' | 'fed-bias' | 'fed-variance', steps: number, dropAt?: { client: number; phase: string }): Promise<{ ens: BvaEnsemble; sums: BvaSumInfo[] }> {
    const ids = models.map((_, k) => `c${k}`);
    const identities = ids.map(() => identityKeyPair());
    const runId = new Uint8Array(16).fill(9);
    const clients = ids.map(
      (id, k) =>
        new SecAggClientRound(
          {
            clientId: id,
            identity: identities[k]!,
            peerIdentity: (p) => identities[ids.indexOf(p)]?.publicKey,
            input: (_phase, spec, payload) => bvaInputs(models[k]!, spec, payload as BvaProbe, k),
            rounding: 'half-up',
          },
          runId,
          1,
        ),
    );
    const dead = new Set<number>();
    const send: StageSender = async (stage, id, req) => {
      const k = ids.indexOf(id);
      if (dropAt !== undefined && dropAt.client === k && stage === 'collectMasked' && req.env.phase === dropAt.phase) dead.add(k);
      if (dead.has(k)) throw new Error('dropped');
      return clients[k]!.handle(stage, req);
    };
    const session = new SecureSumSession(
      {
        runId,
        round: 1,
        cohort: ids,
        identity: (id) => identities[ids.indexOf(id)]?.publicKey,
        plannedSums: plannedBvaSums(method, 'mean-ce', steps, shape, K),
      },
      send,
    );
    await session.start();
    const sums: BvaSumInfo[] = [];
    return { ens: secureEnsemble(session, shape, K, (i) => sums.push(i)), sums };
  }

  const identical = (a: Float32Array, b: Float32Array): number => {
    let same = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
    return same / a.length;
  };

  for (const method of ['fed-bva', 'fed-bias', 'fed-variance'] as const) {
    it(`${method} BV-FGSM: secure = plaintext with emulated quantisation, bit for bit; ≥ 99.9 % of float plaintext`, async () => {
      const { ens, sums } = await secure(method, 1);
      const s = await bvFgsm(ens, X, labels, { method });
      const q = await bvFgsm(plaintextEnsemble(models, {}, { emulateQuantization: { nMax: K } }), X, labels, { method });
      const f = await bvFgsm(plaintextEnsemble(models), X, labels, { method });
      expect(identical(s.xAdv, q.xAdv)).to.equal(1);
      expect(identical(s.xAdv, f.xAdv)).to.be.at.least(0.999);
      expect(identical(s.xAdv, X)).to.be.below(0.5); // the set really was perturbed
      expect(sums.map((x) => x.phase)).to.deep.equal(method === 'fed-bias' ? ['bva/0/p1'] : ['bva/0/p1', 'bva/0/p2']);
      for (const x of sums) expect(x.clippedFraction).to.be.below(1e-3);
    });
  }

  it('BV-PGD-3 (random start): secure = emulated plaintext bit for bit (6 secure sums)', async () => {
    const { ens, sums } = await secure('fed-bva', 3);
    const cfg = { method: 'fed-bva' as const, steps: 3, seed: 7, round: 2 };
    const s = await bvPgd(ens, X, labels, cfg);
    const q = await bvPgd(plaintextEnsemble(models, {}, { emulateQuantization: { nMax: K } }), X, labels, cfg);
    expect(identical(s.xAdv, q.xAdv)).to.equal(1);
    expect(sums).to.have.length(6);
  });

  it('a client dropping between phase 1 and phase 2: phase 2 restarts without it and matches the plaintext survivors', async () => {
    const { ens, sums } = await secure('fed-bva', 1, { client: 3, phase: 'bva/0/p2' });
    const s = await bvFgsm(ens, X, labels, { method: 'fed-bva' });
    expect(sums.map((x) => [x.survivors, x.attempts])).to.deep.equal([
      [4, 1],
      [3, 2],
    ]);
    const q = await bvFgsm(plaintextEnsemble(models, { phase1: [0, 1, 2, 3], phase2: [0, 1, 2] }, { emulateQuantization: { nMax: K } }), X, labels, { method: 'fed-bva' });
    expect(identical(s.xAdv, q.xAdv)).to.equal(1);
    // Normalising phase 2 by K1 instead of K2 would have changed the result.
    const wrong = await bvFgsm(plaintextEnsemble(models, { phase1: [0, 1, 2, 3], phase2: [0, 1, 2, 3] }, { emulateQuantization: { nMax: K } }), X, labels, { method: 'fed-bva' });
    expect(identical(s.xAdv, wrong.xAdv)).to.be.below(1);
  });

  it('reference profile (dropout on, own masks per client and phase): secure = emulated plaintext bit for bit, and it moves the set', async () => {
    // Each client mixes the phase's seed with its own round seed (here its index, as bvaInputs is given k).
    const cfg = { method: 'fed-bva' as const, dropoutSeed: 12345, clip: 'batch' as const, lambda: 0.01 * ns };
    const { ens } = await secure('fed-bva', 1);
    const s = await bvFgsm(ens, X, labels, cfg);
    const q = await bvFgsm(plaintextEnsemble(models, {}, { emulateQuantization: { nMax: K }, clientSeeds: [0, 1, 2, 3] }), X, labels, cfg);
    expect(identical(s.xAdv, q.xAdv)).to.equal(1);
    // Dropout changes the statistics: the inference-mode set differs, and so does another seed's.
    const evalMode = await bvFgsm(plaintextEnsemble(models), X, labels, { method: 'fed-bva', clip: 'batch', lambda: 0.01 * ns });
    const otherSeed = await bvFgsm(plaintextEnsemble(models, {}, { clientSeeds: [0, 1, 2, 3] }), X, labels, { ...cfg, dropoutSeed: 999 });
    expect(identical(q.xAdv, evalMode.xAdv)).to.be.below(0.999);
    expect(identical(q.xAdv, otherSeed.xAdv)).to.be.below(0.999);
    // The same seeds give the same set (the masks are seeded, not drawn from Math.random).
    const again = await bvFgsm(plaintextEnsemble(models, {}, { emulateQuantization: { nMax: K }, clientSeeds: [0, 1, 2, 3] }), X, labels, cfg);
    expect(identical(q.xAdv, again.xAdv)).to.equal(1);
  });
});
