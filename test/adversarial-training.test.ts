/**
 * Local adversarial training (shared/attacks/adversarial-training.ts) and the profiles (shared/federated/profile.ts):
 * PGD-AT and TRADES examples stay in the ε-ball and the pixel range and raise their own objective above FGSM's
 * start; the reference's EAT crafting (dropout on, the batch's [min, max]) differs from the default and is
 * reproducible; each loss trains, and a training step leaves no tensor behind; the reference profile's settings.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { createModel, type Model } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { gatherBatch, disposeBatch, range, type Batch } from '../shared/train/batches.js';
import { checkLocalAdversarial, craftLocalAdversarial, stepSize, tradesKl, type LocalAdversarialSpec } from '../shared/attacks/adversarial-training.js';
import { lossInputGradient } from '../shared/attacks/input-gradient.js';
import { resolveConfig } from '../shared/federated/config.js';
import { bvaProfile, fgsmGlobalProfile, localAdversarial } from '../shared/federated/profile.js';
import { DEFAULT_TAU, REFERENCE_TAU } from '../shared/defense/bva-stats.js';
import { parseTrainRequest } from '../shared/protocol/schemas.js';

describe('local adversarial training and profiles', function () {
  this.timeout(120_000);
  let model: Model;
  let batch: Batch;
  const data = makeSyntheticDataset({ count: 256, testCount: 32, seed: 11 });

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    model = createModel('cnn-mnist', 3);
    trainLocal(model, data.train, range(256), { epochs: 2, lr: 0.05, seed: 2 });
    batch = gatherBatch(data.test, range(32), 0, 32);
  });
  after(() => {
    scratch?.dispose();
    disposeBatch(batch);
    model.dispose();
  });

  let scratch: Model | undefined;
  const createModelOnce = (): Model => (scratch ??= createModel('cnn-mnist', 9));
  const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
  const ce = (x: tf.Tensor4D): number => tf.tidy(() => tf.losses.softmaxCrossEntropy(batch.y, model.predictLogits(x)).dataSync()[0]!);

  for (const attack of ['pgd', 'trades'] as const) {
    it(`${attack}: examples stay in the ε-ball ∩ [0, 1] and are reproducible for a seed`, () => {
      const a: LocalAdversarialSpec = attack === 'pgd' ? { attack, eps: 0.1, steps: 5, loss: 'adv' } : { attack, eps: 0.1, steps: 5, loss: 'trades', beta: 6 };
      const x1 = craftLocalAdversarial(model, batch.x, batch.y, a, 7);
      const x2 = craftLocalAdversarial(model, batch.x, batch.y, a, 7);
      try {
        expect(maxAbsDiff(x1, batch.x)).to.be.at.most(0.1 + 1e-6);
        expect(maxAbsDiff(x1, batch.x)).to.be.above(0.05); // it moved
        expect(tf.min(x1).dataSync()[0]).to.be.at.least(0);
        expect(tf.max(x1).dataSync()[0]).to.be.at.most(1);
        expect(maxAbsDiff(x1, x2)).to.equal(0);
      } finally {
        tf.dispose([x1, x2]);
      }
    });
  }

  it('PGD raises the loss above FGSM at the same ε; TRADES raises KL(p(x) ‖ p(x′)) above the start', () => {
    const f = craftLocalAdversarial(model, batch.x, batch.y, { attack: 'fgsm', eps: 0.1, loss: 'clean+adv' }, 1);
    const p = craftLocalAdversarial(model, batch.x, batch.y, { attack: 'pgd', eps: 0.1, steps: 10, loss: 'adv' }, 1);
    const t1 = craftLocalAdversarial(model, batch.x, batch.y, { attack: 'trades', eps: 0.1, steps: 1, loss: 'trades', beta: 6 }, 1);
    const t10 = craftLocalAdversarial(model, batch.x, batch.y, { attack: 'trades', eps: 0.1, steps: 10, loss: 'trades', beta: 6 }, 1);
    try {
      expect(ce(p)).to.be.above(ce(f));
      expect(ce(f)).to.be.above(ce(batch.x));
      const kl = (x: tf.Tensor4D): number => tf.tidy(() => tradesKl(model.predictLogits(batch.x), model.predictLogits(x)).dataSync()[0]!);
      expect(kl(t10)).to.be.above(kl(t1));
      expect(kl(t1)).to.be.above(0);
    } finally {
      tf.dispose([f, p, t1, t10]);
    }
  });

  it("the reference's EAT crafting: dropout on (seeded, so reproducible) and clamped to the batch's [min, max]", () => {
    const ref: LocalAdversarialSpec = { attack: 'fgsm', eps: 0.3, loss: 'clean+adv', craftMode: 'train', clip: 'batch' };
    // A batch whose range is narrower than [0, 1]: the clamp must keep every pixel inside it.
    const narrow = tf.tidy(() => tf.add(tf.mul(batch.x, 0.5), 0.2)) as tf.Tensor4D;
    const [lo, hi] = [tf.min(narrow).dataSync()[0]!, tf.max(narrow).dataSync()[0]!];
    const a = craftLocalAdversarial(model, narrow, batch.y, ref, 5);
    const b = craftLocalAdversarial(model, narrow, batch.y, ref, 5);
    const c = craftLocalAdversarial(model, narrow, batch.y, ref, 6);
    const evalMode = craftLocalAdversarial(model, narrow, batch.y, { ...ref, craftMode: 'eval' }, 5);
    try {
      expect(tf.min(a).dataSync()[0]).to.be.at.least(lo);
      expect(tf.max(a).dataSync()[0]).to.be.at.most(hi);
      expect(maxAbsDiff(a, b)).to.equal(0);
      expect(maxAbsDiff(a, c)).to.be.above(0); // another dropout draw moves some signs
      expect(maxAbsDiff(a, evalMode)).to.be.above(0);
      // The training-mode gradient really used dropout: it differs from the inference-mode one.
      const g1 = lossInputGradient(model, narrow, batch.y, { training: true, dropoutSeed: 5 });
      const g0 = lossInputGradient(model, narrow, batch.y);
      expect(maxAbsDiff(g1, g0)).to.be.above(0);
      tf.dispose([g1, g0]);
    } finally {
      tf.dispose([narrow, a, b, c, evalMode]);
    }
  });

  for (const [name, a] of [
    ['EAT', { attack: 'fgsm', eps: 0.1, loss: 'clean+adv' }],
    ['PGD-AT', { attack: 'pgd', eps: 0.1, steps: 3, loss: 'adv' }],
    ['TRADES', { attack: 'trades', eps: 0.1, steps: 3, loss: 'trades', beta: 6 }],
  ] as [string, LocalAdversarialSpec][]) {
    it(`${name}: trains (finite loss, weights move, no tensor left behind) and differs from plain training`, () => {
      const m1 = createModel('cnn-mnist', 3);
      const m2 = createModel('cnn-mnist', 3);
      try {
        // A first call may add the step's cached constants (sgd.ts keeps lr, momentum and β on the backend).
        trainLocal(createModelOnce(), data.train, range(64), { epochs: 1, lr: 0.05, seed: 4, adversarial: a });
        const before = tf.memory().numTensors;
        const r = trainLocal(m1, data.train, range(128), { epochs: 1, lr: 0.05, seed: 4, adversarial: a });
        expect(tf.memory().numTensors).to.equal(before);
        trainLocal(m2, data.train, range(128), { epochs: 1, lr: 0.05, seed: 4 });
        expect(Number.isFinite(r.meanLoss)).to.equal(true);
        const w1 = m1.getWeights();
        const w2 = m2.getWeights();
        let diff = 0;
        for (let i = 0; i < w1.length; i++) diff = Math.max(diff, Math.abs(w1[i]! - w2[i]!));
        expect(diff).to.be.above(1e-4);
      } finally {
        m1.dispose();
        m2.dispose();
      }
    });
  }

  it('refuses a bad spec, naming the field', () => {
    expect(() => checkLocalAdversarial({ attack: 'pgd', eps: 0.3, loss: 'adv' })).to.throw(/adversarial.steps/);
    expect(() => checkLocalAdversarial({ attack: 'pgd', eps: 0.3, steps: 3, loss: 'trades', beta: 1 })).to.throw(/adversarial.loss/);
    expect(() => checkLocalAdversarial({ attack: 'trades', eps: 0.3, steps: 3, loss: 'trades' })).to.throw(/adversarial.beta/);
    expect(() => checkLocalAdversarial({ attack: 'fgsm', eps: 2, loss: 'clean+adv' })).to.throw(/adversarial.eps = 2/);
  });

  it('the wire refuses a bad local adversarial spec and carries a good one', () => {
    const req = (adversarial: unknown): unknown => ({
      round: 1,
      model: 'cnn-mnist',
      weights: new Uint8Array(8),
      train: { epochs: 1, batchSize: 64, lr: 0.01, momentum: 0.9, seed: 1, sharedLossWeight: 1, adversarial },
      returnWeights: false,
    });
    expect(parseTrainRequest(req({ attack: 'trades', eps: 0.1, steps: 10, loss: 'trades', beta: 6 })).train.adversarial?.beta).to.equal(6);
    expect(() => parseTrainRequest(req({ attack: 'pgd', eps: 0.1, loss: 'adv' }))).to.throw(/steps/);
    expect(() => parseTrainRequest(req({ attack: 'pgd', eps: 0.1, steps: 3, loss: 'trades', beta: 1 }))).to.throw(/loss/);
    expect(() => parseTrainRequest(req({ attack: 'fgsm', eps: 0.1, loss: 'clean+adv', extra: 1 }))).to.throw();
  });

  it('profiles: the reference fixes λ = 0.01·n_s, the floor, the batch clamp, dropout statistics and the crafting modes', () => {
    const d = resolveConfig({ method: 'fed-bva', sharedSetSize: 32 });
    const r = resolveConfig({ method: 'fed-bva', sharedSetSize: 32, profile: 'reference' });
    expect(bvaProfile(d, 3)).to.deep.equal({ lambda: 0.64, tau: DEFAULT_TAU, clip: 'unit' });
    const rp = bvaProfile(r, 3);
    expect(rp.lambda).to.be.closeTo(0.32, 1e-12);
    expect(rp.tau).to.equal(REFERENCE_TAU);
    expect(rp.clip).to.equal('batch');
    expect(rp.dropoutSeed).to.be.a('number');
    expect(bvaProfile(r, 4).dropoutSeed).to.not.equal(rp.dropoutSeed); // a fresh draw every round
    expect(localAdversarial(resolveConfig({ method: 'eat' }), 1)).to.deep.equal({ attack: 'fgsm', eps: 0.3, loss: 'clean+adv' });
    expect(localAdversarial(resolveConfig({ method: 'eat', profile: 'reference' }), 1)).to.include({ craftMode: 'train', clip: 'batch' });
    expect(localAdversarial(resolveConfig({ method: 'pgd-at-fed-bva', eps: 0.1 }), 1)).to.deep.equal({ attack: 'pgd', eps: 0.1, steps: 10, loss: 'adv' });
    expect(localAdversarial(resolveConfig({ method: 'trades', adversarialTraining: { steps: 5, tradesBeta: 3 } }), 1)).to.deep.equal({ attack: 'trades', eps: 0.3, steps: 5, loss: 'trades', beta: 3 });
    expect(localAdversarial(resolveConfig({ method: 'fed-bva' }), 1)).to.equal(undefined);
    // ε warm-up: round t trains at ε·min(1, t/R); EAT's FGSM (the paper's) is never ramped.
    const ramped = resolveConfig({ method: 'pgd-at', eps: 0.3, adversarialTraining: { epsRampRounds: 4 } });
    expect([1, 2, 3, 4, 5, 30].map((t) => localAdversarial(ramped, t)!.eps)).to.deep.equal([0.075, 0.15, 0.3 * 0.75, 0.3, 0.3, 0.3]);
    expect(stepSize(localAdversarial(ramped, 2)!)).to.be.closeTo((2.5 * 0.15) / 10, 1e-15);
    expect(localAdversarial(resolveConfig({ method: 'trades', adversarialTraining: { epsRampRounds: 10 } }), 5)!.eps).to.be.closeTo(0.15, 1e-15);
    expect(localAdversarial(resolveConfig({ method: 'eat', adversarialTraining: { epsRampRounds: 10 } }), 1)!.eps).to.equal(0.3);
    expect(localAdversarial(resolveConfig({ method: 'pgd-at', adversarialTraining: { epsRampRounds: 0 } }), 1)!.eps).to.equal(0.3);
    expect(() => resolveConfig({ method: 'pgd-at', adversarialTraining: { epsRampRounds: 2.5 } })).to.throw(/adversarialTraining\.epsRampRounds/);
    expect(() => resolveConfig({ method: 'pgd-at', adversarialTraining: { epsRampRounds: -1 } })).to.throw(/adversarialTraining\.epsRampRounds/);
    const at = resolveConfig({ method: 'fedavg-at', profile: 'reference' });
    expect(fgsmGlobalProfile(at, 10)).to.include({ craftMode: 'train', clip: 'batch' });
    expect(fgsmGlobalProfile(at, 11)).to.include({ craftMode: 'eval', clip: 'batch' });
    expect(fgsmGlobalProfile(resolveConfig({ method: 'fedavg-at' }), 3)).to.include({ craftMode: 'eval', clip: 'unit' });
    expect(resolveConfig({ method: 'fed-bva-pgd' }).bva.attack).to.equal('pgd');
    expect(() => resolveConfig({ method: 'fed-bva', profile: 'paper' as never })).to.throw(/profile/);
    expect(() => resolveConfig({ method: 'trades', adversarialTraining: { tradesBeta: -1 } })).to.throw(/tradesBeta/);
    // The wire's bounds hold in the configuration too, so clients never refuse a validated run mid-way.
    expect(() => resolveConfig({ method: 'pgd-at', adversarialTraining: { steps: 1001 } })).to.throw(/adversarialTraining.steps/);
    expect(() => resolveConfig({ method: 'pgd-at', eps: 0 })).to.throw(/eps = 0/);
    expect(() => resolveConfig({ method: 'fed-bva-pgd', bva: { attack: 'fgsm' } })).to.throw(/bva.attack/);
    expect(() => checkLocalAdversarial({ attack: 'trades', eps: 0.1, steps: 2, loss: 'trades', beta: 1, craftMode: 'train' })).to.throw(/craftMode/);
  });
});
