/**
 * Lockstep training (shared/train/lockstep.ts) against the same clients trained one by one with `trainLocal` on
 * wasm: unequal data (so unequal step counts and a short last minibatch), dropout and channel dropout, momentum
 * and the shared-set term, and EAT. The lockstep side runs on the cpu backend here; on webgpu it is checked against
 * the cpu backend by test/helpers/gradient-check.ts (test/webgpu.test.ts, where Vulkan is present), and timed by
 * `rfl bench lockstep`.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { initialWeights, Model, modelSpec } from '../shared/models/model.js';
import { registerModel } from '../shared/models/registry.js';
import { trainLocal } from '../shared/train/sgd.js';
import { batchFromArrays, disposeBatch } from '../shared/train/batches.js';
import { checkLockstepModel, trainLockstep, type LockstepClient } from '../shared/train/lockstep.js';

describe('lockstep training of K clients', function () {
  this.timeout(240_000);
  // A small layer model with every layer kind lockstep training covers (a multi-channel convolution, channel
  // dropout, pooling, dropout), on 12×12 images, so the cpu backend's depthwise convolutions stay quick; the last
  // test runs cnn-mnist itself.
  registerModel('lockstep-tiny', {
    layers: [
      { kind: 'conv', filters: 4, kernel: 3 },
      { kind: 'channel-dropout', rate: 0.5 },
      { kind: 'maxpool', size: 2 },
      { kind: 'relu' },
      { kind: 'conv', filters: 6, kernel: 3, activation: 'tanh' },
      { kind: 'flatten' },
      { kind: 'dense', units: 16, activation: 'relu' },
      { kind: 'dropout', rate: 0.5 },
      { kind: 'dense', units: 10 },
    ],
  });
  const data = makeSyntheticDataset({ count: 400, testCount: 16, seed: 5, height: 12, width: 12 });
  const spec = modelSpec('lockstep-tiny', [12, 12, 1]);
  const start = initialWeights(spec, 3);
  // Unequal clients: 5, 4, 2 and 2 steps of batch 32 (the last one a single example), disjoint rows.
  const sizes = [150, 100, 40, 33];
  const clients: LockstepClient[] = [];
  let at = 0;
  sizes.forEach((n, k) => {
    clients.push({ data: data.train, indices: Int32Array.from({ length: n }, (_, i) => at + i), seed: 100 + k, weights: start });
    at += n;
  });
  const shared = { x: data.test.images.slice(0, 16 * 144), labels: data.test.labels.slice(0, 16), weight: 1 };
  const opts = { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9 };

  /** Each client trained alone with trainLocal on wasm: weights and mean loss. */
  const eat = { attack: 'fgsm' as const, eps: 0.3, loss: 'clean+adv' as const };
  async function separately(withShared: boolean, sp = spec, cls = clients, from = start, src = data, adversarial = false, backend = 'wasm'): Promise<{ weights: Float32Array[]; losses: number[] }> {
    await tf.setBackend(backend);
    const weights: Float32Array[] = [];
    const losses: number[] = [];
    for (const cl of cls) {
      const m = new Model(sp, from);
      const s = withShared ? batchFromArrays(src.test.images.slice(0, 16 * sp.inputShape[0] * sp.inputShape[1]), src.test.labels.slice(0, 16), src.train) : undefined;
      try {
        const r = trainLocal(m, cl.data, cl.indices, {
          ...opts,
          seed: cl.seed,
          ...(s !== undefined ? { sharedSet: { x: s.x, y: s.y, weight: shared.weight } } : {}),
          ...(adversarial ? { adversarial: eat } : {}),
        });
        weights.push(m.getWeights());
        losses.push(r.meanLoss);
      } finally {
        if (s !== undefined) disposeBatch(s);
        m.dispose();
      }
    }
    return { weights, losses };
  }

  const norm = (a: Float32Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
  const diff = (a: Float32Array, b: Float32Array): Float32Array => a.map((v, i) => v - b[i]!);

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });
  // Whatever runs next in this process finds the backend it chose.
  let previous = '';
  before(() => (previous = tf.getBackend()));
  after(async () => {
    await tf.setBackend(previous);
  });

  for (const withShared of [false, true]) {
    it(`equals ${clients.length} separate trainings on wasm to 1e-4 relative error${withShared ? ', with the shared-set term' : ''}`, async () => {
      const ref = await separately(withShared);
      await tf.setBackend('cpu');
      const before = tf.memory().numTensors;
      const r = await trainLockstep(spec, clients, { ...opts, ...(withShared ? { sharedSet: shared } : {}) });
      expect(tf.memory().numTensors, 'tensors left behind').to.equal(before);
      expect(r.steps).to.equal(5);
      expect(r.results.map((x) => x.steps)).to.deep.equal([5, 4, 2, 2]);
      clients.forEach((_, k) => {
        const update = norm(diff(ref.weights[k]!, start));
        const err = norm(diff(r.weights[k]!, ref.weights[k]!));
        expect(update, `client ${k} moved`).to.be.above(1e-3);
        expect(err / norm(ref.weights[k]!), `client ${k}: weights`).to.be.below(1e-4);
        // Stricter: against the size of the update itself.
        expect(err / update, `client ${k}: update`).to.be.below(1e-3);
        expect(r.results[k]!.meanLoss).to.be.closeTo(ref.losses[k]!, 1e-4 * Math.abs(ref.losses[k]!));
      });
    });
  }

  // Against trainLocal on the same (cpu) backend: FGSM's sign(∇) turns a rounding difference in a near-zero
  // gradient into a 2ε pixel change, so trainLocal itself on wasm and on cpu differs by 1.2e-3 of client 1's update
  // here, the same as lockstep on cpu against trainLocal on wasm.
  it('with EAT (FGSM adversarial minibatches crafted for all clients in one pass) equals separate trainings to 1e-4', async () => {
    const ref = await separately(true, spec, clients, start, data, true, 'cpu');
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const r = await trainLockstep(spec, clients, { ...opts, sharedSet: shared, adversarial: { eps: eat.eps } });
    expect(tf.memory().numTensors, 'tensors left behind').to.equal(before);
    const plain = await separately(true);
    clients.forEach((_, k) => {
      const update = norm(diff(ref.weights[k]!, start));
      const err = norm(diff(r.weights[k]!, ref.weights[k]!));
      // The adversarial term matters: training without it lands elsewhere.
      expect(norm(diff(plain.weights[k]!, ref.weights[k]!)) / update, `client ${k}: EAT changes the update`).to.be.above(1e-2);
      expect(err / norm(ref.weights[k]!), `client ${k}: weights`).to.be.below(1e-4);
      expect(err / update, `client ${k}: update`).to.be.below(1e-3);
      expect(r.results[k]!.meanLoss).to.be.closeTo(ref.losses[k]!, 1e-4 * Math.abs(ref.losses[k]!));
    });
  });

  it('a client with fewer steps is masked, not dropped: its result does not depend on the others', async () => {
    await tf.setBackend('cpu');
    const together = await trainLockstep(spec, clients, opts);
    const alone = await trainLockstep(spec, [clients[2]!], opts);
    const err = norm(diff(together.weights[2]!, alone.weights[0]!)) / norm(diff(alone.weights[0]!, start));
    expect(err).to.be.below(1e-5);
  });

  it('cnn-mnist: 2 clients of 3 and 2 steps, with the shared set, equal their separate trainings to 1e-4', async () => {
    const mnistLike = makeSyntheticDataset({ count: 100, testCount: 16, seed: 6 });
    const cnn = modelSpec('cnn-mnist');
    const w0 = initialWeights(cnn, 4);
    const two: LockstepClient[] = [
      { data: mnistLike.train, indices: Int32Array.from({ length: 70 }, (_, i) => i), seed: 7, weights: w0 },
      { data: mnistLike.train, indices: Int32Array.from({ length: 30 }, (_, i) => 70 + i), seed: 8, weights: w0 },
    ];
    const ref = await separately(true, cnn, two, w0, mnistLike);
    await tf.setBackend('cpu');
    const r = await trainLockstep(cnn, two, { ...opts, sharedSet: { x: mnistLike.test.images.slice(0, 16 * 784), labels: mnistLike.test.labels.slice(0, 16), weight: 1 } });
    two.forEach((_, k) => {
      const err = norm(diff(r.weights[k]!, ref.weights[k]!));
      expect(err / norm(ref.weights[k]!), `client ${k}: weights`).to.be.below(1e-4);
      expect(err / norm(diff(ref.weights[k]!, w0)), `client ${k}: update`).to.be.below(1e-3);
    });
  });

  it('refuses what it does not cover, saying why', () => {
    expect(() => checkLockstepModel({ ...spec, layers: [] })).to.throw(/function model/);
    expect(() => checkLockstepModel({ ...spec, layers: [{ kind: 'conv', filters: 2, kernel: 3 }] })).to.throw(/no flatten layer/);
    expect(() => checkLockstepModel({ ...spec, layers: [{ kind: 'dense', units: 3 }, { kind: 'flatten' }] })).to.throw(/dense layer before its flatten/);
    return trainLockstep(spec, [], opts).then(
      () => expect.fail('no clients accepted'),
      (e: Error) => expect(e.message).to.match(/no clients/),
    );
  });
});
