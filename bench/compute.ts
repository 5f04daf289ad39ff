/**
 * `npm run bench:compute -- [--out FILE] [--reps N] [--warmup N] [--backend NAME] [--batch N]`
 *
 * Median milliseconds (after warm-up) of the three operations everything else is built on, for `cnn-mnist`
 * on one thread: one SGD-with-momentum training step at batch 64, one FGSM input gradient of 64 images, and
 * inference on 1,000 images. Where PyTorch is importable, the same three on PyTorch (bench/torch_compute.py),
 * in the same invocation, and the ratios ours / PyTorch (lower is better; 1.0 = as fast as PyTorch).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { createModel } from '../shared/models/model.js';
import { sgdStep, DEFAULT_TRAIN_OPTIONS } from '../shared/train/sgd.js';
import { batchFromArrays } from '../shared/train/batches.js';
import { fgsm } from '../shared/attacks/pgd.js';
import { medianMs } from './timing.js';
import { intFlag } from '../shared/util/flags.js';
import { runTorch } from './torch-runner.js';

interface Figures {
  trainStepMs: number;
  fgsmMs: number;
  infer1000Ms: number;
}

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'runs/bench-compute.json' },
    reps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    backend: { type: 'string' },
  },
});
const reps = intFlag('reps', values.reps, 20);
const warmup = intFlag('warmup', values.warmup, 0);
const batch = intFlag('batch', values.batch, 1);

const choice = await initBackend(values.backend !== undefined ? { backend: values.backend as BackendName } : {});

function randomImages(n: number, seed: number): Float32Array {
  return tf.tidy(() => tf.randomUniform([n * 784], 0, 1, 'float32', seed).dataSync() as Float32Array).slice();
}
const labels = Uint8Array.from({ length: batch }, (_, i) => (i * 7) % 10);
const shape = { height: 28, width: 28, channels: 1, numClasses: 10 };
const b = batchFromArrays(randomImages(batch, 1), labels, shape);
const big = batchFromArrays(randomImages(1000, 2), Uint8Array.from({ length: 1000 }, (_, i) => i % 10), shape);
const model = createModel('cnn-mnist', 1);
const velocity = model.params.map((p) => tf.zerosLike(p));
let step = 0;

const ours: Figures = {
  trainStepMs: medianMs(() => {
    sgdStep(model, b, velocity, DEFAULT_TRAIN_OPTIONS, step++);
  }, reps, warmup),
  fgsmMs: medianMs(() => {
    const adv = fgsm(model, b.x, b.y, 0.3);
    adv.dataSync();
    adv.dispose();
  }, reps, warmup),
  infer1000Ms: medianMs(() => {
    tf.tidy(() => tf.argMax(model.predictLogits(big.x), 1).dataSync());
  }, reps, warmup),
};

const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.resolve(here, '../../bench/torch_compute.py');
const torch = runTorch<Figures & { version: string; threads: number }>(script, { reps, warmup, batch, inferCount: 1000, threads: 1 });
const ratio = (a: number, t: number): number => Math.round((a / t) * 1000) / 1000;
const result = {
  backend: choice.name,
  backendReason: choice.reason,
  model: 'cnn-mnist',
  batch,
  reps,
  warmup,
  threads: 1,
  ...ours,
  torch: torch.ok ? { version: torch.result.version, threads: torch.result.threads, trainStepMs: torch.result.trainStepMs, fgsmMs: torch.result.fgsmMs, infer1000Ms: torch.result.infer1000Ms } : null,
  torchUnavailable: torch.ok ? undefined : torch.reason,
  ratios: torch.ok
    ? { trainStep: ratio(ours.trainStepMs, torch.result.trainStepMs), fgsm: ratio(ours.fgsmMs, torch.result.fgsmMs), infer1000: ratio(ours.infer1000Ms, torch.result.infer1000Ms) }
    : null,
  machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, tfjs: tf.version.tfjs },
  date: new Date().toISOString(),
};

const fmt = (v: number): string => v.toFixed(2).padStart(8);
console.log(`cnn-mnist, batch ${batch}, 1 thread, median of ${reps} after ${warmup} warm-up (ms)`);
console.log(`operation        ${choice.name.padStart(8)}  ${'pytorch'.padStart(8)}   ratio`);
for (const [k, label] of [['trainStepMs', 'train step'], ['fgsmMs', 'FGSM grad'], ['infer1000Ms', 'infer 1000']] as const) {
  const t = result.torch?.[k];
  console.log(`${label.padEnd(15)} ${fmt(ours[k])}  ${t !== undefined ? fmt(t) : '       -'}   ${t !== undefined ? (ours[k] / t).toFixed(2) + '×' : '-'}`);
}
if (!torch.ok) console.log(`PyTorch: ${torch.reason}`);
mkdirSync(path.dirname(path.resolve(values.out!)), { recursive: true });
writeFileSync(values.out!, JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${values.out}`);
