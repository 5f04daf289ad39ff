/**
 * Whole-model gradients on the wasm backend (with the project's kernels) against the cpu backend: every
 * parameter gradient of a training step (dropout on, same masks) and the input gradient used by attacks.
 * Bar: ‖wasm − cpu‖∞ / ‖cpu‖∞ ≤ 1e-5 per tensor.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { initialWeights, Model, modelSpec } from '../shared/models/model.js';
import { lossInputGradient } from '../shared/attacks/input-gradient.js';
import { maxRelativeError } from './helpers/compare.js';

async function gradientsOn(backend: string, name: string, batch: number): Promise<{ params: Float32Array[]; input: Float32Array }> {
  await tf.setBackend(backend);
  const spec = modelSpec(name);
  const m = new Model(spec, initialWeights(spec, 9));
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 21) as tf.Tensor4D;
  const y = tf.tidy(() =>
    tf
      .oneHot(
        tf.tensor1d(
          Int32Array.from({ length: batch }, (_, i) => (i * 3) % 10),
          'int32',
        ),
        10,
      )
      .toFloat(),
  ) as tf.Tensor2D;
  const { grads, value } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, m.logits(x, { training: true, dropoutSeed: 77 })) as tf.Scalar, m.params);
  const params = m.params.map((p) => grads[p.name]!.dataSync().slice() as Float32Array);
  Object.values(grads).forEach((g) => g.dispose());
  value.dispose();
  const gx = lossInputGradient(m, x, y);
  const input = gx.dataSync().slice() as Float32Array;
  gx.dispose();
  x.dispose();
  y.dispose();
  m.dispose();
  return { params, input };
}

describe('model gradients: wasm matches cpu', function () {
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });
  after(async () => {
    await tf.setBackend('wasm');
  });

  it('an input gradient computes no parameter gradient (no Conv2DBackpropFilter, no weight MatMul grads)', async () => {
    await tf.setBackend('wasm');
    const m = new Model(modelSpec('cnn-mnist'), initialWeights(modelSpec('cnn-mnist'), 1));
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), 10).toFloat() as tf.Tensor2D;
    const info = await tf.profile(() => lossInputGradient(m, x, y));
    const names = new Set(info.kernelNames);
    expect(names.has('Conv2DBackpropInput')).to.equal(true);
    expect(names.has('Conv2DBackpropFilter')).to.equal(false);
    for (const t of [x, y]) t.dispose();
    (info.result as tf.Tensor).dispose();
    m.dispose();
  });

  for (const [name, batch] of [
    ['cnn-mnist', 16],
    ['surrogate-c', 4],
    ['mlp', 16],
  ] as const) {
    it(`${name}: parameter and input gradients within 1e-5`, async function () {
      const ref = await gradientsOn('cpu', name, batch);
      const got = await gradientsOn('wasm', name, batch);
      const spec = modelSpec(name);
      ref.params.forEach((r, i) => {
        const err = maxRelativeError(got.params[i]!, r);
        expect(err, `${spec.layout[i]!.name}`).to.be.below(1e-5);
      });
      expect(maxRelativeError(got.input, ref.input)).to.be.below(1e-5);
      // The gradients are not trivially zero.
      expect(Math.max(...ref.input.map(Math.abs))).to.be.above(1e-6);
    });
  }
});
