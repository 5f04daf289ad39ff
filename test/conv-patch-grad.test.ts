/**
 * The patch-product convolution gradient (shared/compute/webgpu/conv-patch-grad.ts, used for training on WebGPU) equals
 * tf.conv2d's own gradients. Run here on the wasm backend: the construction is backend-independent, and
 * test/webgpu.test.ts checks the whole model on a GPU where one exists.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { conv2dPatchGrad } from '../shared/compute/webgpu/conv-patch-grad.js';
import { maxRelativeError } from './helpers/compare.js';

describe('patch-product convolution gradient', () => {
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  for (const [b, h, w, cin, k, cout] of [
    [3, 12, 12, 4, 5, 6],
    [8, 28, 28, 1, 5, 10],
    [2, 9, 7, 3, 3, 2],
  ] as const) {
    it(`input and filter gradients equal tf.conv2d's (x ${b}×${h}×${w}×${cin}, filter ${k}×${k}×${cin}×${cout})`, () => {
      const x = tf.randomUniform([b, h, w, cin], -1, 1, 'float32', 1) as tf.Tensor4D;
      const f = tf.randomUniform([k, k, cin, cout], -1, 1, 'float32', 2) as tf.Tensor4D;
      const r = tf.randomUniform([b, h - k + 1, w - k + 1, cout], -1, 1, 'float32', 3);
      const loss =
        (conv: (a: tf.Tensor4D, c: tf.Tensor4D) => tf.Tensor4D) =>
        (a: tf.Tensor, c: tf.Tensor): tf.Scalar =>
          tf.sum(tf.mul(conv(a as tf.Tensor4D, c as tf.Tensor4D), r));
      const ref = tf.grads(loss((a, c) => tf.conv2d(a, c, 1, 'valid')))([x, f]);
      const got = tf.grads(loss(conv2dPatchGrad))([x, f]);
      expect(maxRelativeError(got[0]!.dataSync(), ref[0]!.dataSync()), 'dx').to.be.below(1e-5);
      expect(maxRelativeError(got[1]!.dataSync(), ref[1]!.dataSync()), 'dw').to.be.below(1e-5);
      expect(maxRelativeError(conv2dPatchGrad(x, f).dataSync(), tf.conv2d(x, f, 1, 'valid').dataSync()), 'forward').to.equal(0);
      tf.dispose([x, f, r, ...ref, ...got]);
    });
  }
});
