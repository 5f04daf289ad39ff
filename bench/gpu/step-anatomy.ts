/**
 * `node dist/bench/gpu/step-anatomy.js [--batch N] [--steps N]`: what one cnn-mnist training step costs on the
 * host with the webgpu backend: GPU dispatches per step (every compute dispatch, tfjs's and ours), host time to
 * record the step (the call returns before the GPU finishes) and the whole step including the wait for the loss.
 * Dispatch-bound steps show recordMs ≈ totalMs and a cost per dispatch of tens of microseconds. Prints one JSON line.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../shared/compute/backend.js';
import { createModel } from '../../shared/models/model.js';
import { sgdStepLoss, DEFAULT_TRAIN_OPTIONS } from '../../shared/train/sgd.js';
import { batchFromArrays } from '../../shared/train/batches.js';
import { intFlag } from '../../shared/util/flags.js';
import { bindGroupCacheStats } from '../../shared/compute/webgpu/bind-group-cache.js';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '64' }, steps: { type: 'string', default: '50' } } });
const n = intFlag('batch', values.batch!, 1);
const steps = intFlag('steps', values.steps!, 1);
const choice = await initBackend({ gpu: true, backend: 'webgpu' });
// Count at the encoder: Dawn's pass encoder class is a global once the backend is up.
const encoder = (globalThis as unknown as { GPUComputePassEncoder?: { prototype: { dispatchWorkgroups: (...a: number[]) => void } } }).GPUComputePassEncoder;
if (encoder === undefined) throw new Error('GPUComputePassEncoder is not defined: is the webgpu backend active?');
let dispatches = 0;
const dispatch = encoder.prototype.dispatchWorkgroups;
encoder.prototype.dispatchWorkgroups = function (this: unknown, ...a: number[]) {
  dispatches++;
  return dispatch.apply(this, a);
};
const xs = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
const batch = batchFromArrays(
  xs,
  Uint8Array.from({ length: n }, (_, i) => i % 10),
  { height: 28, width: 28, channels: 1, numClasses: 10 },
);
const model = createModel('cnn-mnist', 1);
const velocity = model.params.map((p) => tf.zerosLike(p));
const step = async (i: number): Promise<[number, number]> => {
  const t0 = performance.now();
  const loss = sgdStepLoss(model, batch, velocity, DEFAULT_TRAIN_OPTIONS, i);
  const t1 = performance.now();
  await loss.data();
  loss.dispose();
  return [t1 - t0, performance.now() - t0];
};
for (let i = 0; i < 5; i++) await step(i);
const tensorsBefore = tf.memory().numTensors;
dispatches = 0;
const cacheBefore = { ...bindGroupCacheStats };
const record: number[] = [];
const total: number[] = [];
for (let i = 0; i < steps; i++) {
  const [r, t] = await step(i);
  record.push(r);
  total.push(t);
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(
  JSON.stringify({
    backend: choice.name,
    adapter: choice.adapter ?? null,
    batch: n,
    steps,
    dispatchesPerStep: dispatches / steps,
    recordMs: median(record),
    totalMs: median(total),
    usPerDispatch: (1000 * median(record)) / (dispatches / steps),
    tensorGrowth: tf.memory().numTensors - tensorsBefore,
    bindGroupCache: { hits: bindGroupCacheStats.hits - cacheBefore.hits, misses: bindGroupCacheStats.misses - cacheBefore.misses },
  }),
);
