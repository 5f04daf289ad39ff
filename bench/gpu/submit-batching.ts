/**
 * `node dist/bench/gpu/submit-batching.js [--rounds N] [--sizes 1,4,8,15,32]`: how tfjs-backend-webgpu's
 * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE (dispatches recorded before a submit; default 15) changes a cnn-mnist training
 * step at batch 64 and 1,024 and FGSM at 1,024. Submitting sooner lets the GPU start while the host is still
 * recording; each submit costs host time. The settings are interleaved round by round in one process so that a
 * noisy host affects them alike; prints, per setting, the median over rounds of each round's median (ms), and JSON.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../shared/compute/backend.js';
import { createModel } from '../../shared/models/model.js';
import { sgdStepLoss, DEFAULT_TRAIN_OPTIONS } from '../../shared/train/sgd.js';
import { batchFromArrays, type Batch } from '../../shared/train/batches.js';
import { fgsm } from '../../shared/attacks/pgd.js';
import { intFlag } from '../../shared/util/flags.js';
import { median, medianMsAsync } from '../timing.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, sizes: { type: 'string', default: '1,4,8,15,32' } } });
const rounds = intFlag('rounds', values.rounds, 1);
const sizes = values.sizes!.split(',').map((s) => intFlag('sizes', s, 1));
const choice = await initBackend({ gpu: true, backend: 'webgpu' });
const model = createModel('cnn-mnist', 1);
const velocity = model.params.map((p) => tf.zerosLike(p));
const batchOf = (n: number): Batch => {
  const xs = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  return batchFromArrays(
    xs,
    Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10),
    { height: 28, width: 28, channels: 1, numClasses: 10 },
  );
};
const small = batchOf(64);
const large = batchOf(1024);
let step = 0;
// Waits for a result by reading one number that depends on all of it (as bench:compute does).
const finish = async (t: tf.Tensor): Promise<void> => {
  const s = tf.sum(t);
  await s.data();
  s.dispose();
  t.dispose();
};
const ops: Record<string, () => Promise<void>> = {
  'train 64': () => finish(sgdStepLoss(model, small, velocity, DEFAULT_TRAIN_OPTIONS, step++)),
  'train 1024': () => finish(sgdStepLoss(model, large, velocity, DEFAULT_TRAIN_OPTIONS, step++)),
  'FGSM 1024': () => finish(fgsm(model, large.x, large.y, 0.3)),
};
const seen: Record<string, Record<string, number[]>> = {};
for (let r = 0; r < rounds; r++) {
  for (const size of sizes) {
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', size);
    for (const [name, op] of Object.entries(ops)) ((seen[size] ??= {})[name] ??= []).push(await medianMsAsync(op, 15, 3));
  }
}
const table = Object.fromEntries(sizes.map((s) => [s, Object.fromEntries(Object.entries(seen[s]!).map(([k, v]) => [k, Number(median(v).toFixed(2))]))]));
console.log(`submit batch size on ${choice.adapter ?? choice.name}, median over ${rounds} rounds of medians of 15 (ms)`);
for (const [s, row] of Object.entries(table))
  console.log(
    `  ${s.padStart(3)}  ${Object.entries(row)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join('   ')}`,
  );
console.log(JSON.stringify({ adapter: choice.adapter ?? null, rounds, table, tensors: tf.memory().numTensors }));
