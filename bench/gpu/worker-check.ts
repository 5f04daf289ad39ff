/**
 * `node dist/bench/gpu/worker-check.js`: whether the WebGPU backend (Dawn's native addon) loads and computes in
 * a worker thread, as a simulation's GPU evaluation worker needs. Prints one JSON line.
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../shared/compute/backend.js';

if (isMainThread) {
  const w = new Worker(new URL(import.meta.url));
  const msg = await new Promise<unknown>((resolve) => {
    w.once('message', resolve);
    w.once('error', (e) => resolve({ ok: false, error: String(e) }));
  });
  console.log(JSON.stringify({ workerThread: msg }));
  await w.terminate();
} else {
  try {
    const c = await initBackend({ backend: 'webgpu', quiet: true });
    const t = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));
    const v = (await t.data())[0];
    parentPort!.postMessage({ ok: v === 64, backend: c.name, adapter: c.adapter, value: v });
  } catch (err) {
    parentPort!.postMessage({ ok: false, error: (err as Error).message });
  }
}
