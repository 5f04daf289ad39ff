/**
 * The project's wasm kernels against tfjs's cpu backend, on shapes chosen to hit every code path: strides 1
 * and 2, valid / same / explicit padding, 1 to 8 channels, non-square inputs and filters, overlapping pools.
 * Bar: ‖wasm − cpu‖∞ / ‖cpu‖∞ ≤ 1e-5.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { maxRelativeError } from './helpers/compare.js';
import { WASM_KERNELS } from '../shared/compute/kernels/index.js';
import { CONV_CASES as convCases, POOL_CASES as poolCases, onBackends, randomArray, randomConvCases, size } from './helpers/kernel-cases.js';

/** Runs `f` on the cpu backend and on wasm, with the same inputs, and returns both outputs. */
async function onBoth(inputs: Float32Array[], shapes: number[][], f: (ts: tf.Tensor[]) => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  const [ref, got] = await onBackends(['cpu', 'wasm'], inputs, shapes, f);
  return [ref!, got!];
}

describe('wasm kernels match the cpu backend', function () {
  before(async function () {
    await initBackend({ backend: 'wasm', quiet: true });
  });
  after(async () => {
    await tf.setBackend('wasm');
  });

  it("the registered wasm kernels are the project's", () => {
    for (const k of WASM_KERNELS) expect(tf.getKernel(k.kernelName, 'wasm')?.kernelFunc, k.kernelName).to.equal(k.kernelFunc);
  });

  for (const c of convCases) {
    const label = `x ${c.x.join('×')}, filter ${c.filter.join('×')}, stride ${String(c.stride)}, pad ${JSON.stringify(c.pad)}`;
    const outShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.stride, c.pad).shape);

    it(`Conv2DBackpropFilter: ${label}`, async function () {
      const x = randomArray(size(c.x), 1);
      const dy = randomArray(size(outShape), 2);
      const [ref, got] = await onBoth(
        [x, dy],
        [c.x, outShape],
        ([xt, dyt]) =>
          tf.engine().runKernel(
            'Conv2DBackpropFilter',
            { x: xt!, dy: dyt! },
            {
              strides: c.stride,
              pad: c.pad,
              dataFormat: 'NHWC',
              filterShape: c.filter,
            },
          ) as tf.Tensor,
      );
      expect(got.length).to.equal(size(c.filter));
      expect(maxRelativeError(got, ref)).to.be.below(1e-5);
    });

    it(`Conv2DBackpropInput: ${label}`, async function () {
      const w = randomArray(size(c.filter), 3);
      const dy = randomArray(size(outShape), 4);
      const [ref, got] = await onBoth(
        [dy, w],
        [outShape, c.filter],
        ([dyt, wt]) =>
          tf.engine().runKernel(
            'Conv2DBackpropInput',
            { dy: dyt!, filter: wt! },
            {
              strides: c.stride,
              pad: c.pad,
              dataFormat: 'NHWC',
              inputShape: c.x,
            },
          ) as tf.Tensor,
      );
      expect(got.length).to.equal(size(c.x));
      expect(maxRelativeError(got, ref)).to.be.below(1e-5);
    });
  }

  for (const c of poolCases) {
    it(`MaxPoolGrad: x ${c.x.join('×')}, size ${String(c.size)}, stride ${String(c.stride)}, ${c.pad}`, async function () {
      // ReLU before the pool makes ties (zeros) common, so the tie-breaking rule is exercised.
      const x = randomArray(size(c.x), 5);
      const [ref, got] = await onBoth([x], [c.x], ([xt]) =>
        tf.grad((v: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.maxPool(tf.relu(v) as tf.Tensor4D, c.size, c.stride, c.pad),
              tf.range(1, 1 + size(tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.size, c.stride, c.pad).shape)).reshape(tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.size, c.stride, c.pad).shape),
            ),
          ),
        )(xt!),
      );
      expect(maxRelativeError(got, ref)).to.be.below(1e-5);
    });
  }

  // Seeded random configurations on top of the hand-picked ones: every stride, padding and size mix,
  // including asymmetric explicit pads and pads larger than K − 1 (the fallback of the stride-1 path).
  describe('seeded random configurations', function () {
    for (const { index: i, c } of randomConvCases()) {
      const stride = c.stride;
      const pad = c.pad;
      const outShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.stride, c.pad).shape);
      const label = `#${i}: x ${c.x.join('×')}, filter ${c.filter.join('×')}, stride ${String(stride)}, pad ${JSON.stringify(pad)}`;
      it(`Conv2DBackpropFilter and Conv2DBackpropInput ${label}`, async function () {
        const x = randomArray(size(c.x), 100 + i);
        const dy = randomArray(size(outShape), 200 + i);
        const wts = randomArray(size(c.filter), 300 + i);
        const [rf, gf] = await onBoth(
          [x, dy],
          [c.x, outShape],
          ([xt, dyt]) => tf.engine().runKernel('Conv2DBackpropFilter', { x: xt!, dy: dyt! }, { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter }) as tf.Tensor,
        );
        expect(maxRelativeError(gf, rf)).to.be.below(1e-5);
        const [ri, gi] = await onBoth(
          [dy, wts],
          [outShape, c.filter],
          ([dyt, wt]) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt!, filter: wt! }, { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }) as tf.Tensor,
        );
        expect(maxRelativeError(gi, ri)).to.be.below(1e-5);
      });
    }
  });

  it("a matMul on the same data before and after the filter kernel does not confuse tfjs-wasm's operator cache", async () => {
    const xs = randomArray(2 * 6 * 6, 1);
    const dys = randomArray(2 * 4 * 4 * 3, 2);
    // The reference: tfjs's cpu backend, the same three kernels on the same data.
    const run = async (backend: string): Promise<{ before: Float32Array; filter: Float32Array; after: Float32Array }> => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(xs, [2, 6, 6, 1]);
        const dy = tf.tensor4d(dys, [2, 4, 4, 3]);
        const colSums = (): Float32Array => (tf.matMul(tf.ones([1, 32]), tf.reshape(dy, [32, 3])).dataSync() as Float32Array).slice();
        const before = colSums();
        const g = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 1, 3] }) as tf.Tensor;
        const filter = (g.dataSync() as Float32Array).slice();
        return { before, filter, after: colSums() };
      });
    };
    const ref = await run('cpu');
    const got = await run('wasm');
    // The filter gradient is right, and the product after it reads the same data as the product before it: a
    // confused operator cache would hand the second matMul the filter kernel's buffers or shapes.
    expect(maxRelativeError(got.filter, ref.filter)).to.be.below(1e-5);
    expect(Math.max(...ref.filter.map(Math.abs))).to.be.above(1e-3);
    expect(maxRelativeError(got.before, ref.before)).to.be.below(1e-5);
    expect(Array.from(got.after)).to.deep.equal(Array.from(got.before));
  });
});
