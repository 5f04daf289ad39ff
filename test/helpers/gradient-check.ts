/**
 * `node dist/test/helpers/gradient-check.js BACKEND`: whole-model gradients (every parameter gradient of a
 * training step with dropout on and the same masks, and the loss's input gradient) on BACKEND against the cpu
 * backend, for cnn-mnist (batch 64), surrogate C (batch 8) and the MLP, and with RFL_GRADCHECK_ALL=1 surrogates A, B
 * and D too; and lockstep training of 4 clients (shared/train/lockstep.ts); prints one JSON line. Run in its own process
 * because a process initialises one backend (test/webgpu.test.ts, and by hand on a GPU machine).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../shared/compute/backend.js';
import { initialWeights, Model, modelSpec } from '../../shared/models/model.js';
import { lossInputGradient } from '../../shared/attacks/input-gradient.js';
import { maxRelativeError } from './compare.js';
import { sgdStepLoss, type TrainOptions } from '../../shared/train/sgd.js';
import { webgpuInternals } from '../../shared/compute/webgpu/internals.js';
import { inPlaceSgdStats, sgdMomentumInPlace } from '../../shared/compute/webgpu/sgd.js';
import { attackStep } from '../../shared/compute/webgpu/attack-step.js';
import { makeSyntheticDataset } from '../../shared/data/synthetic.js';
import { trainLockstep, type LockstepClient } from '../../shared/train/lockstep.js';

/**
 * Lockstep training (shared/train/lockstep.ts) of 4 unequal cnn-mnist clients (5, 4, 2 and 2 steps of batch 32,
 * the last a single example) with the shared-set term and momentum: each client's weight change.
 */
async function lockstepDeltas(): Promise<Float32Array[]> {
  const data = makeSyntheticDataset({ count: 323, testCount: 16, seed: 5 });
  const spec = modelSpec('cnn-mnist');
  const w0 = initialWeights(spec, 3);
  let at = 0;
  const clients: LockstepClient[] = [150, 100, 40, 33].map((n, k) => {
    const c = { data: data.train, indices: Int32Array.from({ length: n }, (_, i) => at + i), seed: 100 + k, weights: w0 };
    at += n;
    return c;
  });
  const shared = { x: data.test.images.slice(0, 16 * 784), labels: data.test.labels.slice(0, 16), weight: 1 };
  const r = await trainLockstep(spec, clients, { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, sharedSet: shared });
  return r.weights.map((w) => Float32Array.from(w, (v, i) => v - w0[i]!));
}

async function gradients(name: string, batch: number): Promise<{ params: Float32Array[]; input: Float32Array }> {
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
  // Asynchronous reads: WebGPU in Node has no synchronous one.
  const params = await Promise.all(m.params.map(async (p) => (await grads[p.name]!.data()).slice() as Float32Array));
  Object.values(grads).forEach((g) => g.dispose());
  value.dispose();
  const gx = lossInputGradient(m, x, y);
  const input = (await gx.data()).slice() as Float32Array;
  for (const t of [gx, x, y]) t.dispose();
  m.dispose();
  return { params, input };
}

/**
 * Three SGD-with-momentum steps of the full client loss (minibatch, a shared set with β = 0.7 and EAT's FGSM
 * batch), which on webgpu take the fused cross-entropy, the in-place momentum update and the first layer without
 * an input gradient: the weight change and the three losses.
 */
async function trainingSteps(batch: number): Promise<{ delta: Float32Array; losses: Float32Array }> {
  const spec = modelSpec('cnn-mnist');
  const w0 = initialWeights(spec, 5);
  const m = new Model(spec, w0);
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 31) as tf.Tensor4D;
  const y = tf.tidy(() =>
    tf
      .oneHot(
        tf.tensor1d(
          Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10),
          'int32',
        ),
        10,
      )
      .toFloat(),
  ) as tf.Tensor2D;
  const sx = tf.randomUniform([16, 28, 28, 1], 0, 1, 'float32', 32) as tf.Tensor4D;
  const sy = tf.tidy(() =>
    tf
      .oneHot(
        tf.tensor1d(
          Int32Array.from({ length: 16 }, (_, i) => i % 10),
          'int32',
        ),
        10,
      )
      .toFloat(),
  ) as tf.Tensor2D;
  const o: TrainOptions = { epochs: 1, batchSize: batch, lr: 0.05, momentum: 0.9, seed: 3, sharedSet: { x: sx, y: sy, weight: 0.7 }, adversarial: { attack: 'fgsm', eps: 0.1, loss: 'clean+adv' } };
  const velocity = m.params.map((p) => tf.zerosLike(p));
  const losses = new Float32Array(3);
  for (let s = 0; s < 3; s++) {
    const loss = sgdStepLoss(m, { x, y, labels: Uint8Array.from({ length: batch }, (_, i) => (i * 7) % 10) }, velocity, o, s);
    losses[s] = (await loss.data())[0]!;
    loss.dispose();
  }
  const delta = new Float32Array(spec.numParams);
  for (const [i, e] of spec.layout.entries()) {
    const v = await m.params[i]!.data();
    for (let k = 0; k < e.size; k++) delta[e.offset + k] = v[k]! - w0[e.offset + k]!;
  }
  for (const t of [...velocity, x, y, sx, sy]) t.dispose();
  m.dispose();
  return { delta, losses };
}

const backend = process.argv[2] as BackendName | undefined;
if (backend === undefined) throw new Error('usage: gradient-check.js BACKEND');
const cases = [
  ['cnn-mnist', 64],
  ['surrogate-c', 8],
  ['mlp', 64],
  // Surrogates A, B and D on request (RFL_GRADCHECK_ALL=1): the cpu backend's reference for their wide
  // convolutions takes minutes, too long for every test run.
  ...(process.env['RFL_GRADCHECK_ALL'] === '1'
    ? ([
        ['surrogate-a', 8],
        ['surrogate-b', 8],
        ['surrogate-d', 8],
      ] as const)
    : []),
] as const;
await tf.setBackend('cpu');
const ref: Awaited<ReturnType<typeof gradients>>[] = [];
for (const [n, b] of cases) ref.push(await gradients(n, b));
const refSteps = await trainingSteps(32);
const refLockstep = await lockstepDeltas();
const choice = await initBackend({ backend, quiet: true });
const out: { model: string; batch: number; params: { name: string; maxRel: number }[]; input: number; worst: number }[] = [];
for (const [i, [name, batch]] of cases.entries()) {
  const got = await gradients(name, batch);
  const spec = modelSpec(name);
  const params = ref[i]!.params.map((r, j) => ({ name: spec.layout[j]!.name, maxRel: maxRelativeError(got.params[j]!, r) }));
  out.push({ model: name, batch, params, input: maxRelativeError(got.input, ref[i]!.input), worst: Math.max(maxRelativeError(got.input, ref[i]!.input), ...params.map((p) => p.maxRel)) });
}
const steps = await trainingSteps(32);
// The in-place momentum update on an odd number of parameters (the last dispatch has one slot), against the
// rule computed here in float64: w − lr·(μ·v + g).
const sizes = [5, 1000, 17];
const rand = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 131 + i * 7.3));
// Made in a tidy, so that each variable alone owns its buffer (else the update would decline, as it must).
const ws = sizes.map((n, k) => tf.tidy(() => tf.variable(tf.tensor1d(rand(n, k)), true, `sgd-check-${k}`)));
const vs = sizes.map((n, k) => tf.tensor1d(rand(n, k + 10)));
const gs = sizes.map((n, k) => tf.tensor1d(rand(n, k + 20)));
const ran = sgdMomentumInPlace(ws, gs, vs, 0.05, 0.9);
let sgdErr = ran || backend !== 'webgpu' ? 0 : Infinity;
if (ran) {
  for (const [k, n] of sizes.entries()) {
    const [w, v] = [await ws[k]!.data(), await vs[k]!.data()];
    const [w0, v0, g0] = [rand(n, k), rand(n, k + 10), rand(n, k + 20)];
    const vRef = Float32Array.from(v0, (x, i) => 0.9 * x + g0[i]!);
    const wRef = Float32Array.from(w0, (x, i) => x - 0.05 * vRef[i]!);
    sgdErr = Math.max(sgdErr, maxRelativeError(v as Float32Array, vRef), maxRelativeError(w as Float32Array, wRef));
  }
}
for (const t of [...ws, ...vs, ...gs]) t.dispose();
out.push({ model: 'in-place momentum update, 3 parameters', batch: 0, params: [{ name: 'weights and momentum', maxRel: sgdErr }], input: 0, worst: sgdErr });
const stepErr = { delta: maxRelativeError(steps.delta, refSteps.delta), losses: maxRelativeError(steps.losses, refSteps.losses) };
out.push({
  model: 'cnn-mnist, 3 training steps (weight change, losses)',
  batch: 32,
  params: [{ name: 'weight change', maxRel: stepErr.delta }],
  input: stepErr.losses,
  worst: Math.max(stepErr.delta, stepErr.losses),
});
// The fused attack step (FGSM's scalar bounds, PGD's tensor bounds) against tfjs's ops on the same backend.
let stepErr2 = 0;
{
  const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 41);
  const g = tf.randomNormal([8, 28, 28, 1], 0, 1, 'float32', 42);
  const lo = tf.maximum(tf.sub(x, 0.3), 0);
  const hi = tf.minimum(tf.add(x, 0.3), 1);
  const pairs: [tf.Tensor | undefined, tf.Tensor][] = [
    [attackStep(x, g, 0.3, 0, 1), tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), 0.3)), 0, 1)],
    [attackStep(x, g, 0.01, lo, hi), tf.minimum(tf.maximum(tf.add(x, tf.mul(tf.sign(g), 0.01)), lo), hi)],
  ];
  for (const [fused, ref] of pairs) {
    if (fused === undefined) {
      if (backend === 'webgpu') stepErr2 = Infinity;
      continue;
    }
    stepErr2 = Math.max(stepErr2, maxRelativeError((await fused.data()) as Float32Array, (await ref.data()) as Float32Array));
    fused.dispose();
  }
  for (const t of [x, g, lo, hi, ...pairs.map((p) => p[1])]) t.dispose();
}
out.push({ model: 'fused attack step (FGSM and PGD projection) vs tfjs ops', batch: 8, params: [{ name: 'adversarial images', maxRel: stepErr2 }], input: 0, worst: stepErr2 });
// Whether the fused WebGPU kernels ran (they fall back to tfjs's ops if tfjs's internals ever change).
const fusedKernels = webgpuInternals() !== undefined && inPlaceSgdStats.applied === 4 && inPlaceSgdStats.declined === 0;
// Lockstep training on the backend (its im2col, col2im, per-client sums and epilogue kernels on webgpu) against
// the cpu backend's; its 5 steps take the in-place momentum update too.
const lockstep = await lockstepDeltas();
const lockstepErr = Math.max(...lockstep.map((d, k) => maxRelativeError(d, refLockstep[k]!)));
out.push({ model: 'lockstep training of 4 unequal cnn-mnist clients, 5 steps (weight changes)', batch: 32, params: [{ name: 'weight change', maxRel: lockstepErr }], input: 0, worst: lockstepErr });
const lockstepFused = webgpuInternals() === undefined || (inPlaceSgdStats.applied === 4 + 5 && inPlaceSgdStats.declined === 0);
console.log(JSON.stringify({ backend: choice.name, adapter: choice.adapter ?? null, fusedKernels: fusedKernels && lockstepFused, cases: out, worst: Math.max(...out.map((c) => c.worst)) }));
