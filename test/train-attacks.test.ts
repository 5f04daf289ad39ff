/**
 * Training and attacks on tiny synthetic data: training learns, attacks respect their geometry (ε-ball,
 * pixel range), FGSM with ε = 0 changes nothing, PGD with one full step from x is FGSM, restarts never help
 * the model, and attacks hurt a trained model.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { createModel, type Model } from '../shared/models/model.js';
import { checkTrainOptions, trainLocal, DEFAULT_TRAIN_OPTIONS } from '../shared/train/sgd.js';
import { accuracy } from '../shared/train/evaluate.js';
import { gatherBatch, disposeBatch, range } from '../shared/train/batches.js';
import { fgsm, pgd } from '../shared/attacks/pgd.js';
import { robustAccuracy } from '../shared/attacks/robust-accuracy.js';
import { maxRelativeError } from './helpers/compare.js';

describe('training and attacks', function () {
  const { train, test } = makeSyntheticDataset({ count: 600, testCount: 200, seed: 7, noise: 0.2 });
  let model: Model;

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    model = createModel('cnn-mnist', 1);
  });
  after(() => model.dispose());

  it('validates options, naming the field', () => {
    expect(() => checkTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, lr: -1 })).to.throw(/lr = -1/);
    expect(() => checkTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, batchSize: 0 })).to.throw(/batchSize = 0/);
    expect(() => checkTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, momentum: 1 })).to.throw(/momentum = 1/);
  });

  it('learns: test accuracy from chance to above 90 %', () => {
    const before = accuracy(model, test);
    const r = trainLocal(model, train, range(train.count), { epochs: 4, seed: 3, lr: 0.05 });
    const after = accuracy(model, test);
    expect(r.steps).to.equal(4 * Math.ceil(600 / 64)); // the last partial batch is kept
    expect(before).to.be.below(0.3);
    expect(after).to.be.above(0.9);
  });

  it('is deterministic for a seed', () => {
    const a = createModel('cnn-mnist', 4);
    const b = createModel('cnn-mnist', 4);
    trainLocal(a, train, range(128), { seed: 9 });
    trainLocal(b, train, range(128), { seed: 9 });
    expect(Array.from(a.getWeights())).to.deep.equal(Array.from(b.getWeights()));
    a.dispose();
    b.dispose();
  });

  it('marks the model as training during local training only, and adds extra loss terms', () => {
    const m = createModel('cnn-mnist', 8);
    const seen: boolean[] = [];
    trainLocal(m, train, range(100), {
      seed: 1,
      extraLoss: [
        (model) => {
          seen.push(model.training);
          return tf.scalar(0);
        },
      ],
    });
    expect(seen).to.have.length(Math.ceil(100 / 64));
    expect(seen.every((t) => t)).to.equal(true);
    expect(m.training).to.equal(false);
    m.dispose();
  });

  it('adds the shared-set term (β·CE on the whole set every step) and the EAT term in one pass', () => {
    const sharedRows = gatherBatch(test, range(16), 0, 16);
    const run = (extra: Partial<Parameters<typeof trainLocal>[3]>): Float32Array => {
      const m = createModel('cnn-mnist', 21);
      trainLocal(m, train, range(96), { seed: 2, lr: 0.05, ...extra });
      const w = m.getWeights();
      m.dispose();
      return w;
    };
    const plain = run({});
    // β = 0 concatenates the shared set but must not change the gradient (its rows carry zero loss).
    const zero = run({ sharedSet: { x: sharedRows.x, y: sharedRows.y, weight: 0 } });
    const withShared = run({ sharedSet: { x: sharedRows.x, y: sharedRows.y, weight: 1 } });
    const eat = run({ adversarial: { attack: 'fgsm', eps: 0.3, loss: 'clean+adv' } });
    disposeBatch(sharedRows);
    expect(maxRelativeError(zero, plain)).to.be.below(1e-5);
    expect(maxRelativeError(withShared, plain)).to.be.above(1e-4);
    expect(maxRelativeError(eat, plain)).to.be.above(1e-4);
    expect(() => checkTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, adversarial: { attack: 'fgsm', eps: -1, loss: 'clean+adv' } })).to.throw(/adversarial.eps = -1/);
  });

  it('FGSM with ε = 0 leaves images and accuracy unchanged', () => {
    const b = gatherBatch(test, range(64), 0, 64);
    const adv = fgsm(model, b.x, b.y, 0);
    expect(Array.from(adv.dataSync())).to.deep.equal(Array.from(b.x.dataSync()));
    adv.dispose();
    disposeBatch(b);
    expect(robustAccuracy(model, test, { kind: 'fgsm', eps: 0 })).to.equal(accuracy(model, test));
  });

  it('FGSM moves every pixel by ±ε, clips to [0,1], or leaves it (zero gradient)', () => {
    const b = gatherBatch(test, range(32), 0, 32);
    const adv = fgsm(model, b.x, b.y, 0.3);
    const x = b.x.dataSync();
    const a = adv.dataSync();
    let moved = 0;
    for (let i = 0; i < x.length; i++) {
      expect(a[i]).to.be.within(0, 1);
      const d = Math.abs(a[i]! - x[i]!);
      expect(d).to.be.at.most(0.3 + 1e-6);
      const clipped = a[i] === 0 || a[i] === 1;
      expect(Math.abs(d - 0.3) < 1e-6 || clipped || d === 0, `pixel ${i}: ${x[i]} → ${a[i]}`).to.equal(true);
      if (d > 0) moved++;
    }
    expect(moved).to.be.above(x.length / 2);
    adv.dispose();
    disposeBatch(b);
  });

  it('PGD stays in the ε-ball and the pixel range; one step of α = ε from x equals FGSM', () => {
    const b = gatherBatch(test, range(32), 0, 32);
    const adv = pgd(model, b.x, b.y, { eps: 0.2, alpha: 0.05, steps: 7, seed: 1 });
    const x = b.x.dataSync();
    const a = adv.dataSync();
    for (let i = 0; i < x.length; i++) {
      expect(a[i]).to.be.within(0, 1);
      expect(Math.abs(a[i]! - x[i]!)).to.be.at.most(0.2 + 1e-6);
    }
    const one = pgd(model, b.x, b.y, { eps: 0.3, alpha: 0.3, steps: 1, randomStart: false });
    const f = fgsm(model, b.x, b.y, 0.3);
    expect(Array.from(one.dataSync())).to.deep.equal(Array.from(f.dataSync()));
    for (const t of [adv, one, f]) t.dispose();
    disposeBatch(b);
  });

  it('attacks hurt the trained model, PGD at least as much as FGSM, and restarts never raise accuracy', () => {
    const idx = range(100);
    const clean = robustAccuracy(model, test, { kind: 'none' }, idx);
    const f = robustAccuracy(model, test, { kind: 'fgsm', eps: 0.3 }, idx);
    const p1 = robustAccuracy(model, test, { kind: 'pgd', eps: 0.3, alpha: 0.0375, steps: 20, seed: 5 }, idx);
    const p3 = robustAccuracy(model, test, { kind: 'pgd', eps: 0.3, alpha: 0.0375, steps: 20, restarts: 3, seed: 5 }, idx);
    expect(f).to.be.below(clean);
    expect(p1).to.be.at.most(f);
    expect(p3).to.be.at.most(p1);
  });

  it('rejects bad attack options by name', () => {
    const b = gatherBatch(test, range(4), 0, 4);
    expect(() => fgsm(model, b.x, b.y, -0.1)).to.throw(/eps = -0.1/);
    expect(() => pgd(model, b.x, b.y, { eps: 0.3, alpha: 0, steps: 3 })).to.throw(/alpha = 0/);
    expect(() => pgd(model, b.x, b.y, { eps: 0.3, alpha: 0.1, steps: 3, restarts: 2, randomStart: false })).to.throw(/restarts/);
    disposeBatch(b);
  });
});

describe('tensor hygiene', function () {
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('training, evaluation and attacks leave tf.memory().numTensors flat across repetitions', () => {
    const { train, test } = makeSyntheticDataset({ count: 128, testCount: 64, seed: 2 });
    const m = createModel('cnn-mnist', 1);
    const round = (r: number): void => {
      trainLocal(m, train, range(train.count), { seed: r });
      accuracy(m, test);
      robustAccuracy(m, test, { kind: 'fgsm', eps: 0.3 });
      robustAccuracy(m, test, { kind: 'pgd', eps: 0.3, alpha: 0.1, steps: 3, restarts: 2, seed: r });
    };
    round(0); // warm-up: lazily created kernels' state
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    // Kernel temporaries live on the wasm heap without being tensors: count the backend's data ids too.
    const dataIds = (): number => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const ids = dataIds();
    for (let r = 1; r <= 5; r++) {
      round(r);
      expect(tf.memory().numTensors, `after repetition ${r}`).to.equal(tensors);
      expect(tf.memory().numBytes, `after repetition ${r}`).to.equal(bytes);
      expect(dataIds(), `wasm data ids after repetition ${r}`).to.equal(ids);
    }
    m.dispose();
    expect(tf.memory().numTensors).to.equal(tensors - m.params.length);
  });
});
