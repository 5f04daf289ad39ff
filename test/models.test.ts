/** The model zoo: parameter counts (decent-bva.md §8), the flat weight codec, and train/inference modes. */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { createModel, initialWeights, Model, modelSpec } from '../shared/models/model.js';
import { MODEL_NAMES } from '../shared/models/zoo.js';
import { maxRelativeError } from './helpers/compare.js';

describe('models', function () {
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  const expected: Record<string, number> = {
    'cnn-mnist': 21_840,
    mlp: 199_210,
    linear: 7_850,
    'surrogate-a': 3_382_346,
    'surrogate-b': 893_258,
    'surrogate-c': 281_290,
    'surrogate-d': 669_706,
  };
  for (const name of MODEL_NAMES) {
    it(`${name} has ${expected[name]!.toLocaleString('en')} parameters and emits 10 logits`, () => {
      const spec = modelSpec(name);
      expect(spec.numParams).to.equal(expected[name]);
      const last = spec.layout[spec.layout.length - 1]!;
      expect(last.offset + last.size).to.equal(spec.numParams);
      const m = new Model(spec, initialWeights(spec, 3));
      const shape = tf.tidy(() => m.predictLogits(tf.zeros([2, 28, 28, 1]) as tf.Tensor4D).shape);
      m.dispose();
      expect(shape).to.deep.equal([2, 10]);
    });
  }

  it('names the flat layout and rejects a wrong-length or non-finite vector', () => {
    const spec = modelSpec('cnn-mnist');
    expect(spec.layout.map((e) => `${e.name}:${e.shape.join('x')}`)).to.deep.equal([
      'layer0/kernel:5x5x1x10',
      'layer0/bias:10',
      'layer3/kernel:5x5x10x20',
      'layer3/bias:20',
      'layer8/kernel:320x50',
      'layer8/bias:50',
      'layer10/kernel:50x10',
      'layer10/bias:10',
    ]);
    expect(() => new Model(spec, new Float32Array(5))).to.throw(/21840 parameters; got a weight vector of 5/);
    const w = initialWeights(spec, 1);
    w[7] = NaN;
    expect(() => new Model(spec, w)).to.throw(/weight 7 is NaN/);
    expect(() => modelSpec('resnet')).to.throw(/unknown model "resnet"/);
  });

  it('round-trips weights exactly through the flat vector, on wasm and cpu', async () => {
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const spec = modelSpec('cnn-mnist');
      const w = initialWeights(spec, 11);
      const m = new Model(spec, w);
      expect(Array.from(m.getWeights())).to.deep.equal(Array.from(w));
      const w2 = initialWeights(spec, 12);
      m.setWeights(w2);
      w2[0] = 123; // the model must hold its own copy
      expect(m.getWeights()[0]).to.not.equal(123);
      m.dispose();
    }
    await tf.setBackend('wasm');
  });

  it('is seeded: same seed, same weights; another seed, other weights', () => {
    const spec = modelSpec('cnn-mnist');
    expect(Array.from(initialWeights(spec, 5))).to.deep.equal(Array.from(initialWeights(spec, 5)));
    expect(Array.from(initialWeights(spec, 5))).to.not.deep.equal(Array.from(initialWeights(spec, 6)));
  });

  it('uses dropout only in training; fused inference equals the plain forward pass', () => {
    const m = createModel('cnn-mnist', 2);
    const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const a = tf.tidy(() => m.logits(x).dataSync().slice());
    const b = tf.tidy(() => m.logits(x).dataSync().slice());
    const fused = tf.tidy(() => m.predictLogits(x).dataSync().slice());
    const t1 = tf.tidy(() => m.logits(x, { training: true, dropoutSeed: 1 }).dataSync().slice());
    const t1again = tf.tidy(() => m.logits(x, { training: true, dropoutSeed: 1 }).dataSync().slice());
    const t2 = tf.tidy(() => m.logits(x, { training: true, dropoutSeed: 2 }).dataSync().slice());
    x.dispose();
    m.dispose();
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expect(maxRelativeError(fused, a)).to.be.below(1e-5);
    expect(Array.from(t1)).to.deep.equal(Array.from(t1again));
    expect(maxRelativeError(t1, a)).to.be.above(1e-3);
    expect(maxRelativeError(t2, t1)).to.be.above(1e-3);
  });
});
