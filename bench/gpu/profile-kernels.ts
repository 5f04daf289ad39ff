/**
 * `node dist/bench/gpu/profile-kernels.js [--backend NAME] [--batch N]`: where a cnn-mnist training step and an
 * FGSM gradient spend their time, per kernel (tf.profile; GPU kernel times where the backend measures them,
 * e.g. WebGPU with timestamp queries), averaged over 10 profiled runs after warm-up. Prints one table per
 * operation and a JSON line.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../shared/compute/backend.js';
import { createModel } from '../../shared/models/model.js';
import { sgdStepLoss, DEFAULT_TRAIN_OPTIONS } from '../../shared/train/sgd.js';
import { batchFromArrays } from '../../shared/train/batches.js';
import { fgsm } from '../../shared/attacks/pgd.js';

const { values } = parseArgs({ options: { backend: { type: 'string' }, batch: { type: 'string', default: '1024' } } });
const choice = await initBackend({ gpu: true, ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}) });
const n = Number(values.batch);
const xs = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
const b = batchFromArrays(
  xs,
  Uint8Array.from({ length: n }, (_, i) => i % 10),
  { height: 28, width: 28, channels: 1, numClasses: 10 },
);
const m = createModel('cnn-mnist', 1);
const vel = m.params.map((p) => tf.zerosLike(p));
// Reads are asynchronous: WebGPU in Node has no synchronous read.
const train = async (): Promise<void> => {
  const loss = sgdStepLoss(m, b, vel, DEFAULT_TRAIN_OPTIONS, 99);
  await loss.data();
  loss.dispose();
};
const attack = async (): Promise<void> => {
  const a = fgsm(m, b.x, b.y, 0.3);
  await a.data();
  a.dispose();
};
for (let i = 0; i < 5; i++) await train();
const ops: [string, () => Promise<void>][] = [
  ['train', train],
  ['fgsm', attack],
];
const report: Record<string, { wallMs: number; kernels: Record<string, number> }> = {};
for (const [name, f] of ops) {
  await f();
  const agg: Record<string, number> = {};
  let wall = 0;
  for (let r = 0; r < 10; r++) {
    const t0 = performance.now();
    const p = await tf.profile(f as unknown as () => tf.TensorContainer);
    wall += (performance.now() - t0) / 10;
    for (const k of p.kernels) {
      const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      agg[k.name] = (agg[k.name] ?? 0) + t / 10;
    }
  }
  report[name] = { wallMs: wall, kernels: agg };
  const total = Object.values(agg).reduce((a, v) => a + v, 0);
  console.log(`${name} at batch ${n} on ${choice.name}${choice.adapter !== undefined ? ` (${choice.adapter})` : ''}: kernel time ${total.toFixed(2)} ms (profiled wall ${wall.toFixed(1)} ms)`);
  for (const [k, v] of Object.entries(agg)
    .sort((a, c) => c[1] - a[1])
    .slice(0, 12))
    console.log(`  ${k.padEnd(28)} ${v.toFixed(3).padStart(8)} ms`);
}
console.log(JSON.stringify({ backend: choice.name, batch: n, report }));
