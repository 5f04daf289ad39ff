/**
 * The native kernels (native/, the `native` backend) against tfjs's cpu backend: every replaced kernel on the
 * shapes the wasm kernels are checked on, matrix products with every transpose, batch and fused epilogue,
 * whole-model parameter and input gradients. Bar: ‖native − cpu‖∞ / ‖cpu‖∞ ≤ 1e-5 (three EAT training steps: 0.05, as
 * for stock wasm, see below).
 * Also: a fixed thread count gives the same bits every run, and two threads give the bits of one (work is split
 * by output rows only). Skipped, saying why, only where `npm run build` found no compiler (native/build/skipped.txt).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadWasmBackend } from '../shared/compute/backend.js';
import { loadNativeAddon, type NativeAddon } from '../shared/compute/native/addon.js';
import { NATIVE_BACKEND, registerNativeBackend } from '../shared/compute/native/kernels.js';
import { nativeSegmentedCrossEntropy, nativeSgdMomentumInPlace } from '../shared/compute/native/fused.js';
import { segmentedCrossEntropyReference } from '../shared/compute/webgpu/cross-entropy.js';
import { maxRelativeError } from './helpers/compare.js';
import { CONV_CASES, POOL_CASES, convLabel, convOutShape, onBackends, randomArray, randomConvCases, size, type ConvCase } from './helpers/kernel-cases.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Runs `f` on cpu and on native with the same inputs; returns [cpu, native]. */
async function onBoth(inputs: Float32Array[], shapes: number[][], f: (ts: tf.Tensor[]) => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  const [ref, got] = await onBackends(['cpu', NATIVE_BACKEND], inputs, shapes, f);
  return [ref!, got!];
}

function checkConv(c: ConvCase, seed: number): void {
  const outShape = convOutShape(c);
  it(`Conv2D, FusedConv2D (bias, relu), Conv2DBackpropFilter and Conv2DBackpropInput: ${convLabel(c)}`, async () => {
    const x = randomArray(size(c.x), seed);
    const w = randomArray(size(c.filter), seed + 1);
    const bias = randomArray(c.filter[3], seed + 2);
    const dy = randomArray(size(outShape), seed + 3);
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' as const };
    const cases: [string, Float32Array[], number[][], (ts: tf.Tensor[]) => tf.Tensor][] = [
      ['Conv2D', [x, w], [c.x, c.filter], ([xt, wt]) => tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.stride, c.pad)],
      [
        'FusedConv2D',
        [x, w, bias],
        [c.x, c.filter, [c.filter[3]]],
        ([xt, wt, bt]) => tf.fused.conv2d({ x: xt as tf.Tensor4D, filter: wt as tf.Tensor4D, strides: c.stride, pad: c.pad, bias: bt, activation: 'relu' }),
      ],
      ['Conv2DBackpropFilter', [x, dy], [c.x, outShape], ([xt, dyt]) => tf.engine().runKernel('Conv2DBackpropFilter', { x: xt!, dy: dyt! }, { ...attrs, filterShape: c.filter }) as tf.Tensor],
      ['Conv2DBackpropInput', [dy, w], [outShape, c.filter], ([dyt, wt]) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt!, filter: wt! }, { ...attrs, inputShape: c.x }) as tf.Tensor],
    ];
    for (const [name, inputs, shapes, f] of cases) {
      const [ref, got] = await onBoth(inputs, shapes, f);
      expect(got.length, name).to.equal(ref.length);
      expect(maxRelativeError(got, ref), name).to.be.below(1e-5);
    }
  });
}

describe('native kernels match the cpu backend', function () {
  this.timeout(120000);
  let addon: NativeAddon;
  before(async function () {
    try {
      addon = loadNativeAddon();
    } catch (err) {
      const why = (err as Error).message;
      // Only a build that was skipped for want of a compiler (and said so) may skip these tests.
      if (!/not built \(/.test(why) || /npm run build makes them/.test(why)) throw err;
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    // Registered directly: other tests in this process may have initialised the picker's choice already.
    await registerNativeBackend(loadWasmBackend);
    await tf.setBackend(NATIVE_BACKEND);
  });
  after(async () => {
    // Leave the process on wasm, where the other suites expect it.
    await loadWasmBackend();
  });

  it('the native backend runs the native kernels (a convolution the stock wasm kernel would give other bits)', async () => {
    // tfjs-wasm and native share one heap and one instance; native's Conv2D must be the addon's.
    expect(tf.getKernel('Conv2D', NATIVE_BACKEND)?.kernelFunc).to.not.equal(tf.getKernel('Conv2D', 'wasm')?.kernelFunc);
    expect(addon.isa()).to.match(/^(avx512|avx2\+fma|portable)$/);
  });

  for (const [i, c] of CONV_CASES.entries()) checkConv(c, 10 * i + 1);
  describe('seeded random configurations', () => {
    for (const { index, c } of randomConvCases()) checkConv(c, 1000 + 10 * index);
  });

  for (const c of POOL_CASES) {
    it(`MaxPool and MaxPoolGrad: x ${c.x.join('×')}, size ${String(c.size)}, stride ${String(c.stride)}, ${c.pad}`, async () => {
      // ReLU before the pool makes ties (zeros) common, so the tie-breaking rule is exercised.
      const x = randomArray(size(c.x), 5);
      const [rf, gf] = await onBoth([x], [c.x], ([xt]) => tf.maxPool(tf.relu(xt!) as tf.Tensor4D, c.size, c.stride, c.pad));
      expect(maxRelativeError(gf, rf)).to.be.below(1e-5);
      const [rg, gg] = await onBoth([x], [c.x], ([xt]) =>
        tf.grad((v: tf.Tensor) => {
          const p = tf.maxPool(tf.relu(v) as tf.Tensor4D, c.size, c.stride, c.pad);
          return tf.sum(tf.mul(p, tf.reshape(tf.range(1, 1 + size(p.shape)), p.shape)));
        })(xt!),
      );
      expect(maxRelativeError(gg, rg)).to.be.below(1e-5);
    });
  }

  const products: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [];
  for (const [m, k, n] of [
    [64, 320, 50],
    [7, 3, 5],
    [1, 17, 1],
    [33, 1, 40],
    [50, 64, 320],
  ] as const) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) products.push({ a: ta ? [k, m] : [m, k], b: tb ? [n, k] : [k, n], ta, tb });
    }
  }
  products.push({ a: [3, 5, 4], b: [3, 4, 6], ta: false, tb: false }, { a: [2, 4, 5], b: [4, 6], ta: true, tb: false }, { a: [5, 4], b: [3, 6, 4], ta: false, tb: true });
  for (const [i, p] of products.entries()) {
    it(`BatchMatMul and _FusedMatMul (bias, relu): a ${p.a.join('×')}${p.ta ? 'ᵀ' : ''} · b ${p.b.join('×')}${p.tb ? 'ᵀ' : ''}`, async () => {
      const a = randomArray(size(p.a), 50 + i);
      const b = randomArray(size(p.b), 60 + i);
      const n = p.tb ? p.b[p.b.length - 2]! : p.b[p.b.length - 1]!;
      const bias = randomArray(n, 70 + i);
      const [r1, g1] = await onBoth([a, b], [p.a, p.b], ([at, bt]) => tf.matMul(at!, bt!, p.ta, p.tb));
      expect(maxRelativeError(g1, r1)).to.be.below(1e-5);
      const [r2, g2] = await onBoth([a, b, bias], [p.a, p.b, [n]], ([at, bt, ct]) => tf.fused.matMul({ a: at!, b: bt!, transposeA: p.ta, transposeB: p.tb, bias: ct!, activation: 'relu' }));
      expect(maxRelativeError(g2, r2)).to.be.below(1e-5);
    });
  }

  it('bias add ([..., C] + [C], both orders) and the bias gradient (sum over all but the last axis), and the cases they pass on', async () => {
    const x = randomArray(4 * 6 * 6 * 10, 81);
    const b = randomArray(10, 82);
    for (const f of [
      ([xt, bt]: tf.Tensor[]) => tf.add(xt!, bt!),
      ([xt, bt]: tf.Tensor[]) => tf.add(bt!, xt!),
      ([xt]: tf.Tensor[]) => tf.sum(xt!, [0, 1, 2]),
      ([xt]: tf.Tensor[]) => tf.sum(xt!, [2, 0, 1], true),
    ]) {
      const [ref, got] = await onBoth([x, b], [[4, 6, 6, 10], [10]], f);
      expect(maxRelativeError(got, ref)).to.be.below(1e-5);
    }
    // Shapes the native kernels leave to the stock ones: general broadcasting, other axes.
    for (const f of [([xt]: tf.Tensor[]) => tf.add(xt!, tf.ones([6, 1])), ([xt]: tf.Tensor[]) => tf.sum(xt!, [1, 2])]) {
      const [ref, got] = await onBoth([x], [[4, 6, 6, 10]], f);
      expect(maxRelativeError(got, ref)).to.be.below(1e-5);
    }
  });

  it('the fused segmented cross-entropy: value and logit gradient as tfjs ops compute them, three segments', async () => {
    const rows = 64 + 16 + 64;
    const z = randomArray(rows * 10, 101).map((v) => 4 * v);
    const t = new Float32Array(rows * 10);
    for (let r = 0; r < rows; r++) t[r * 10 + ((r * 7) % 10)] = 1;
    const segments = [
      { rows: 64, weight: 1 / 64 },
      { rows: 16, weight: 0.7 / 16 },
      { rows: 64, weight: 1 / 64 },
    ];
    const run = (f: (a: tf.Tensor2D, b: tf.Tensor2D, s: typeof segments) => tf.Scalar): [Float32Array, Float32Array] =>
      tf.tidy(() => {
        const zt = tf.tensor2d(z, [rows, 10]);
        const tt = tf.tensor2d(t, [rows, 10]);
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor) => tf.mul(f(a as tf.Tensor2D, tt, segments), 3))([zt]);
        return [(value.dataSync() as Float32Array).slice(), (grads[0]!.dataSync() as Float32Array).slice()];
      });
    await tf.setBackend('cpu');
    const [rv, rg] = run(segmentedCrossEntropyReference);
    await tf.setBackend(NATIVE_BACKEND);
    const [gv, gg] = run(nativeSegmentedCrossEntropy);
    expect(maxRelativeError(gv, rv)).to.be.below(1e-5);
    expect(maxRelativeError(gg, rg)).to.be.below(1e-5);
  });

  it("the in-place momentum update: PyTorch's rule on every parameter, and nothing changed when a buffer is shared", async () => {
    await tf.setBackend(NATIVE_BACKEND);
    const sizes = [5, 1000, 17];
    const ws = sizes.map((n, k) => tf.tidy(() => tf.variable(tf.tensor1d(randomArray(n, 200 + k)), true, `native-sgd-${k}`)));
    const vs = sizes.map((n, k) => tf.tensor1d(randomArray(n, 210 + k)));
    const gs = sizes.map((n, k) => tf.tensor1d(randomArray(n, 220 + k)));
    try {
      // A second tensor on the first momentum buffer: writing it in place would change that tensor too.
      const alias = tf.reshape(vs[0]!, [5]);
      expect(nativeSgdMomentumInPlace(ws, gs, vs, 0.05, 0.9)).to.equal(false);
      expect(Array.from(ws[0]!.dataSync())).to.deep.equal(Array.from(randomArray(5, 200)));
      alias.dispose();
      expect(nativeSgdMomentumInPlace(ws, gs, vs, 0.05, 0.9)).to.equal(true);
      for (const [k, n] of sizes.entries()) {
        const [w0, v0, g0] = [randomArray(n, 200 + k), randomArray(n, 210 + k), randomArray(n, 220 + k)];
        const vRef = Float32Array.from(v0, (x, i) => 0.9 * x + g0[i]!);
        const wRef = Float32Array.from(w0, (x, i) => x - 0.05 * vRef[i]!);
        expect(maxRelativeError(vs[k]!.dataSync() as Float32Array, vRef)).to.be.below(1e-6);
        expect(maxRelativeError(ws[k]!.dataSync() as Float32Array, wRef)).to.be.below(1e-6);
      }
    } finally {
      for (const t of [...ws, ...vs, ...gs]) t.dispose();
    }
  });

  it('a fixed thread count gives the same bits every run, and two threads the bits of one', () => {
    // 10 output channels: a partial vector, whose whole-vector stores must stay inside each thread's pixels.
    const c = { x: [8, 28, 28, 3], filter: [5, 5, 3, 10] } as const;
    const run = (threads: number): Float32Array[] => {
      const prev = addon.setThreads(threads);
      try {
        return tf.tidy(() => {
          const x = tf.tensor4d(randomArray(size(c.x), 91), [...c.x]);
          const w = tf.tensor4d(randomArray(size(c.filter), 92), [...c.filter]);
          const y = tf.conv2d(x, w, 1, 'same');
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))))([x, w]);
          const m = tf.matMul(tf.reshape(y, [-1, 10]), tf.reshape(y, [-1, 10]), true, false);
          // A one-channel first layer takes its own filter-gradient path with one thread: same sums, same bits.
          const x1 = tf.tensor4d(randomArray(8 * 28 * 28, 93), [8, 28, 28, 1]);
          const w1 = tf.tensor4d(randomArray(5 * 5 * 10, 94), [5, 5, 1, 10]);
          const dw1 = tf.grad((b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x1, b as tf.Tensor4D, 1, 'valid'))))(w1);
          return [y, dx!, dw!, m, dw1].map((t) => (t.dataSync() as Float32Array).slice());
        });
      } finally {
        addon.setThreads(prev);
      }
    };
    const one = run(1);
    const again = run(1);
    const two = run(2);
    for (let i = 0; i < one.length; i++) {
      expect(Buffer.from(again[i]!.buffer).equals(Buffer.from(one[i]!.buffer)), `output ${i}, 1 thread twice`).to.equal(true);
      expect(Buffer.from(two[i]!.buffer).equals(Buffer.from(one[i]!.buffer)), `output ${i}, 2 threads vs 1`).to.equal(true);
    }
  });

  it('rejects arrays too short for the sizes given, with a clear error, and writes nothing', () => {
    const y = new Float32Array(4).fill(7);
    expect(() => addon.matMul(Int32Array.of(1, 1, 2, 2, 3, 0, 0, 0), new Float32Array(5), new Float32Array(6), null, 0, y)).to.throw(RangeError, /a: array too short/);
    expect(() => addon.conv2d(Int32Array.of(1, 4, 4, 1, 1, 2, 2, 3, 3, 1, 1, 1, 1, 0, 0, 0), new Float32Array(16), new Float32Array(9), null, 0, new Float32Array(3))).to.throw(
      RangeError,
      /y: array too short/,
    );
    expect(() => addon.maxPool(Int32Array.of(1, 2), new Float32Array(4), y)).to.throw(TypeError, /dims: expected an Int32Array of 12/);
    expect(() => addon.sumRows(new Float64Array(4) as unknown as Float32Array, y)).to.throw(TypeError, /x: expected a Float32Array/);
    expect(Array.from(y)).to.deep.equal([7, 7, 7, 7]);
  });
});

describe('native backend: whole models', function () {
  this.timeout(300000);
  it('parameter and input gradients of cnn-mnist, surrogate C and the MLP, and three full training steps, match the cpu backend within 1e-5', function () {
    try {
      loadNativeAddon();
    } catch (err) {
      if (!/not built \(/.test((err as Error).message) || /npm run build makes them/.test((err as Error).message)) throw err;
      this.skip();
    }
    const r = spawnSync(process.execPath, [path.join(here, 'helpers/gradient-check.js'), 'native'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { backend: string; cases: { model: string; worst: number }[] };
    expect(res.backend).to.equal('native');
    for (const c of res.cases) {
      // Three steps of EAT's loss go through sign(∇x) of FGSM, where a gradient within rounding of zero flips
      // sign on any backend that sums in another order: stock wasm is 0.019 off cpu there too. The gradients
      // themselves are held to 1e-5.
      expect(c.worst, c.model).to.be.below(/training steps/.test(c.model) ? 0.05 : 1e-5);
    }
  });
});
