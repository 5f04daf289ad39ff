#!/usr/bin/env node
// How much slower one cnn-mnist training step gets when N threads each train at once (the pool-scaling bar):
//   node scripts/contention.mjs [N] [--backend native|wasm]
// Each worker thread warms up (30 steps), then times 200 steps at batch 64 and prints its mean. Compare N = 1 with
// N = 2 on a 2-core machine: the difference is what the cores cost each other, with no simulation around it.
// Needs a build (npm run build).
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

if (isMainThread) {
  const n = Number(process.argv[2] ?? 1);
  const at = process.argv.indexOf('--backend');
  const backend = at >= 0 ? process.argv[at + 1] : 'native';
  const workers = Array.from({ length: n }, () => new Worker(new URL(import.meta.url), { workerData: { backend } }));
  const ms = await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  console.log(`${backend}, ${n} thread(s) at once: ms per training step ${ms.map((x) => x.toFixed(2)).join(', ')}`);
  for (const w of workers) await w.terminate();
} else {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../dist/shared/compute/backend.js');
  const { createModel } = await import('../dist/shared/models/model.js');
  const { sgdStepLoss, DEFAULT_TRAIN_OPTIONS } = await import('../dist/shared/train/sgd.js');
  const { batchFromArrays } = await import('../dist/shared/train/batches.js');
  await initBackend({ backend: workerData.backend, quiet: true });
  const n = 64;
  const x = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  const batch = batchFromArrays(
    x,
    Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10),
    { height: 28, width: 28, channels: 1, numClasses: 10 },
  );
  const model = createModel('cnn-mnist', 1);
  const velocity = model.params.map((p) => tf.zerosLike(p));
  let step = 0;
  const run = () => {
    const loss = sgdStepLoss(model, batch, velocity, DEFAULT_TRAIN_OPTIONS, step++);
    loss.dataSync();
    loss.dispose();
  };
  for (let i = 0; i < 30; i++) run();
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) run();
  parentPort.postMessage((performance.now() - t0) / 200);
}
