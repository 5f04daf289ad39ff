/**
 * `rfl bench lockstep [--clients LIST] [--epochs N] [--examples N] [--batch N] [--shared N] [--reps N] [--dataset NAME] [--data DIR] [--backend NAME] [--out FILE]`
 *
 * The local training of one federated round of K clients of cnn-mnist (each `--examples` images of `--dataset`,
 * default the embedded MNIST, `--epochs` local epochs, minibatch `--batch`, momentum 0.9, plus the shared-set term of `--shared` images
 * as Fed_BVA's clients train), two ways on the same backend (WebGPU where a GPU is present):
 *  - sequential: one client after another, each exactly as `trainLocal` steps (shared/train/sgd.ts, with the
 *    backend's fused kernels), reading its losses asynchronously at the end;
 *  - lockstep: all K in one set of dispatches per step (shared/train/lockstep.ts).
 * Prints the wall time of each (median of `--reps` after one untimed run of each), their ratio, and how far apart
 * the two results are (relative to each client's update), and writes JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { initialWeights, Model, modelSpec } from '../shared/models/model.js';
import { batchFromArrays, disposeBatch, gatherBatch, type Batch, type ImageSource } from '../shared/train/batches.js';
import { epochOrder, sgdStepLoss, type TrainOptions } from '../shared/train/sgd.js';
import { trainLockstep, type LockstepClient, type LockstepOptions } from '../shared/train/lockstep.js';
import { intFlag } from '../shared/util/flags.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  clients: { type: 'string', default: '1,10' },
  epochs: { type: 'string', default: '5' },
  examples: { type: 'string', default: '600' },
  batch: { type: 'string', default: '64' },
  shared: { type: 'string', default: '64' },
  reps: { type: 'string', default: '3' },
  dataset: { type: 'string', default: 'mnist-embedded' },
  data: { type: 'string' },
  backend: { type: 'string' },
  out: { type: 'string', default: 'runs/bench-lockstep.json' },
} satisfies ParseArgsOptionsConfig;

/** trainLocal's steps without a synchronous read: the losses stay on the device until the end. */
async function trainSequential(model: Model, data: ImageSource, indices: Int32Array, o: TrainOptions): Promise<number> {
  const velocity = model.params.map((p) => tf.zerosLike(p));
  // A running sum, one addition per step: one tf.addN over every step's loss is a WebGPU shader with a storage buffer
  // per input, past the device's per-stage limit (8) beyond a few steps, and its invalid pipeline voids the command
  // buffer it was recorded in, training dispatches included.
  let sum: tf.Scalar = tf.scalar(0);
  model.training = true;
  let step = 0;
  try {
    for (let e = 0; e < o.epochs; e++) {
      const order = epochOrder(indices, o.seed, e);
      for (let start = 0; start < order.length; start += o.batchSize) {
        const batch = gatherBatch(data, order, start, Math.min(start + o.batchSize, order.length));
        try {
          const loss = sgdStepLoss(model, batch, velocity, o, step++);
          const next = tf.add(sum, loss) as tf.Scalar;
          tf.dispose([sum, loss]);
          sum = next;
        } finally {
          disposeBatch(batch);
        }
      }
    }
    return (await sum.data())[0]!;
  } finally {
    tf.dispose([...velocity, sum]);
    model.training = false;
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const ks = values.clients!.split(',').map((k) => intFlag('clients', k, 1));
  const epochs = intFlag('epochs', values.epochs, 1);
  const examples = intFlag('examples', values.examples, 1);
  const batchSize = intFlag('batch', values.batch, 1);
  const ns = intFlag('shared', values.shared, 0);
  const reps = intFlag('reps', values.reps, 1);
  const choice = await initBackend({ gpu: true, ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}) });
  // `synthetic`: seeded images, as many as the run needs (the timing does not depend on what the images show).
  const data =
    values.dataset === 'synthetic'
      ? makeSyntheticDataset({ count: Math.max(...ks) * examples + ns, testCount: 16, seed: 1 })
      : loadDataset(values.dataset!, values.data !== undefined ? { dir: values.data } : {});
  const spec = modelSpec('cnn-mnist');
  const w0 = initialWeights(spec, 1);
  const maxK = Math.max(...ks);
  if (maxK * examples + ns > data.train.count) throw new Error(`--clients ${maxK} × --examples ${examples} + --shared ${ns} exceeds the ${data.train.count} training images`);
  const d = 28 * 28;
  const sharedX = data.train.images.slice(0, ns * d);
  const sharedLabels = data.train.labels.slice(0, ns);
  const clientsOf = (K: number): LockstepClient[] =>
    Array.from({ length: K }, (_, k) => ({ data: data.train, indices: Int32Array.from({ length: examples }, (_, i) => ns + k * examples + i), seed: 1000 + k, weights: w0 }));
  const lockOpts: LockstepOptions = { epochs, batchSize, lr: 0.01, momentum: 0.9, ...(ns > 0 ? { sharedSet: { x: sharedX, labels: sharedLabels, weight: 1 } } : {}) };
  const stepsPerClient = epochs * Math.ceil(examples / batchSize);
  console.log(
    `local training of one round: K clients of cnn-mnist, ${examples} images of ${values.dataset} each, ${epochs} local epoch(s) of batch ${batchSize} (${stepsPerClient} steps a client), momentum 0.9, shared set ${ns}; backend ${choice.name}${choice.adapter !== undefined ? ` (${choice.adapter})` : ''}`,
  );

  async function sequential(K: number): Promise<{ ms: number; weights: Float32Array[] }> {
    const t0 = performance.now();
    const shared: Batch | undefined = ns > 0 ? batchFromArrays(sharedX, sharedLabels, data.train) : undefined;
    const weights: Float32Array[] = [];
    try {
      for (const cl of clientsOf(K)) {
        const m = new Model(spec, w0);
        try {
          await trainSequential(m, cl.data, cl.indices as Int32Array, {
            epochs,
            batchSize,
            lr: 0.01,
            momentum: 0.9,
            seed: cl.seed,
            ...(shared !== undefined ? { sharedSet: { x: shared.x, y: shared.y, weight: 1 } } : {}),
          });
          weights.push(await flatWeights(m));
        } finally {
          m.dispose();
        }
      }
    } finally {
      if (shared !== undefined) disposeBatch(shared);
    }
    return { ms: performance.now() - t0, weights };
  }

  async function lockstep(K: number): Promise<{ ms: number; weights: Float32Array[] }> {
    const t0 = performance.now();
    const r = await trainLockstep(spec, clientsOf(K), lockOpts);
    return { ms: performance.now() - t0, weights: r.weights };
  }

  const rows: Record<string, unknown>[] = [];
  console.log('      K   sequential s   lockstep s   speed-up   steps   lockstep ms/step   max |Δw| / |update|');
  for (const K of ks) {
    await sequential(K); // untimed: shader compilation and first allocations
    await lockstep(K);
    const seqMs: number[] = [];
    const lockMs: number[] = [];
    let seqW: Float32Array[] = [];
    let lockW: Float32Array[] = [];
    for (let r = 0; r < reps; r++) {
      const s = await sequential(K);
      seqMs.push(s.ms);
      seqW = s.weights;
      const l = await lockstep(K);
      lockMs.push(l.ms);
      lockW = l.weights;
    }
    const seq = median(seqMs);
    let worst = 0;
    seqW.forEach((w, k) => {
      let num = 0;
      let den = 0;
      for (let i = 0; i < w.length; i++) {
        num += (lockW[k]![i]! - w[i]!) ** 2;
        den += (w[i]! - w0[i]!) ** 2;
      }
      worst = Math.max(worst, Math.sqrt(num / den));
    });
    const lock = median(lockMs);
    console.log(
      `${String(K).padStart(7)}  ${(seq / 1000).toFixed(3).padStart(13)}  ${(lock / 1000).toFixed(3).padStart(11)}  ${(seq / lock).toFixed(2).padStart(8)}×  ${String(stepsPerClient).padStart(6)}  ${(lock / stepsPerClient).toFixed(2).padStart(17)}  ${worst.toExponential(2).padStart(20)}`,
    );
    rows.push({
      clients: K,
      sequentialMs: seq,
      lockstepMs: lock,
      speedup: seq / lock,
      sequentialRunsMs: seqMs,
      lockstepRunsMs: lockMs,
      lockstepMsPerStep: lock / stepsPerClient,
      maxRelativeDifference: worst,
    });
  }
  const result = {
    bench: 'lockstep',
    model: 'cnn-mnist',
    dataset: values.dataset,
    examplesPerClient: examples,
    epochs,
    batchSize,
    sharedSet: ns,
    stepsPerClient,
    reps,
    backend: choice.name,
    adapter: choice.adapter ?? null,
    rows,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, tfjs: tf.version.tfjs },
    date: new Date().toISOString(),
  };
  const out = values.out!;
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

/** A model's weights as one flat vector, read asynchronously (WebGPU cannot read synchronously in Node). */
async function flatWeights(m: Model): Promise<Float32Array> {
  const parts = await Promise.all(m.params.map((p) => p.data() as Promise<Float32Array>));
  const out = new Float32Array(m.spec.numParams);
  m.spec.layout.forEach((e, i) => out.set(parts[i]!, e.offset));
  return out;
}
