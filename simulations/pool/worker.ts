/**
 * A simulation worker thread (piscina): loads the compute backend and the user's modules once, maps a simulation's
 * shared datasets when its first task arrives, keeps one model per architecture warm, and runs the tasks of
 * `tasks.ts` for whichever client the round needs (the GPU worker: evaluations, and lockstep training of several
 * clients at once). A warm worker serves simulation after simulation (pool.ts keeps
 * idle pools): when a task of another simulation arrives, it disposes the previous one's models and maps the new
 * data, so nothing of one simulation (no tensor, no view) reaches the next. When a simulation closes its pool, each
 * worker is told to `leave` it (its models disposed, its views dropped), so an idle warm worker holds only what its
 * modules cache for good.
 */
import { threadId, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../shared/compute/backend.js';
import { datasetFromShared, type Dataset } from '../../shared/data/dataset.js';
import { Model, modelSpec } from '../../shared/models/model.js';
import { loadModelModule } from '../../shared/models/module-loader.js';
import { loadExtensions } from '../extensions.js';
import { trainLocal } from '../../shared/train/sgd.js';
import { batchFromArrays, disposeBatch, range, type ImageSource } from '../../shared/train/batches.js';
import { robustCountAsync } from '../../shared/attacks/robust-accuracy.js';
import { bvaInputs } from '../../client/bva-inputs.js';
import { trainOptionsOf } from '../../client/trainer.js';
import { Rng } from '../../shared/util/random.js';
import { attackSuccessRate, poisonLocalData } from '../behaviors/index.js';
import { trainLockstep, type LockstepClient } from '../../shared/train/lockstep.js';
import type { BvaResult, BvaTask, EvalResult, EvalTask, HeldState, LockstepTrainResult, LockstepTrainTask, PoolInit, PoolMessage, PoolSim, TrainResult, TrainTask, WorkerState } from './tasks.js';

const data = workerData as PoolInit;
// The GPU evaluation worker asks for webgpu; its tasks read tensors asynchronously (runEval), as WebGPU needs.
await initBackend({ quiet: true, ...(data.backend !== undefined ? { backend: data.backend as BackendName } : {}) });
// The user's modules register their models and behaviours in this thread too (registrations are per thread).
await loadExtensions(data.extensions ?? []);
for (const m of data.modelModules ?? []) await loadModelModule(m);
const startTensors = tf.memory().numTensors;

/** The current simulation's data, as views of its shared memory. */
interface SimViews {
  id: string;
  train: Dataset;
  test: Dataset;
  offsets: Int32Array;
  indices: Int32Array;
}
let sim: SimViews | undefined;
let simulations = 0;
let idleTensors = startTensors;
const models = new Map<string, Model>();

/** Disposes the current simulation's models and drops its data views. */
function forget(): void {
  for (const m of models.values()) m.dispose();
  models.clear();
  sim = undefined;
}

/** Makes `s` the current simulation: disposes the previous one's models and maps `s`'s data (once per simulation). */
function enter(s: PoolSim): SimViews {
  if (sim?.id === s.id) return sim;
  forget();
  idleTensors = tf.memory().numTensors;
  sim = { id: s.id, train: datasetFromShared(s.train), test: datasetFromShared(s.test), offsets: new Int32Array(s.offsets), indices: new Int32Array(s.indices) };
  simulations++;
  return sim;
}

/** The warm model of an architecture, loaded with `weights`. */
function modelWith(name: string, weights: Float32Array): Model {
  const train = sim!.train;
  let m = models.get(name);
  if (m === undefined) {
    m = new Model(modelSpec(name, [train.height, train.width, train.channels], train.numClasses), weights);
    models.set(name, m);
  } else m.setWeights(weights);
  return m;
}

function runTrain(task: TrainTask): TrainResult {
  const t0 = performance.now();
  const { train, offsets, indices } = sim!;
  const rows = indices.subarray(offsets[task.client]!, offsets[task.client + 1]!);
  if (rows.length === 0) throw new Error(`client ${task.client} holds no examples`);
  let source: ImageSource = train;
  let local: ArrayLike<number> = rows;
  if (task.poison !== undefined) {
    // Poisoning works on a private copy of the client's rows; the shared dataset is never written.
    const d = train.height * train.width * train.channels;
    const images = new Float32Array(rows.length * d);
    const labels = new Uint8Array(rows.length);
    rows.forEach((r, i) => {
      images.set(train.images.subarray(r * d, r * d + d), i * d);
      labels[i] = train.labels[r]!;
    });
    const poisoned = poisonLocalData(
      task.poison.behavior,
      { images, labels, height: train.height, width: train.width, channels: train.channels, numClasses: train.numClasses },
      new Rng(task.poison.seed),
    );
    source = { ...poisoned, height: train.height, width: train.width, channels: train.channels, numClasses: train.numClasses };
    local = range(rows.length);
  }
  const model = modelWith(task.model, task.weights);
  const shared = task.sharedSet !== undefined ? batchFromArrays(task.sharedSet.x, task.sharedSet.labels, train) : undefined;
  try {
    const r = trainLocal(model, source, local, trainOptionsOf(task.train, shared));
    return { weights: model.getWeights(), loss: r.meanLoss, numExamples: rows.length, ms: performance.now() - t0 };
  } finally {
    if (shared !== undefined) disposeBatch(shared);
  }
}

/** Several clients' local training together (shared/train/lockstep.ts), on this worker's backend (the GPU worker's webgpu). */
async function runLockstep(task: LockstepTrainTask): Promise<LockstepTrainResult> {
  const t0 = performance.now();
  const { train, offsets, indices } = sim!;
  const spec = modelSpec(task.model, [train.height, train.width, train.channels], train.numClasses);
  const clients: LockstepClient[] = task.clients.map((c) => {
    const rows = indices.subarray(offsets[c.client]!, offsets[c.client + 1]!);
    if (rows.length === 0) throw new Error(`client ${c.client} holds no examples`);
    return { data: train, indices: rows, seed: c.seed, weights: c.weights };
  });
  const o = task.train;
  const r = await trainLockstep(spec, clients, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    momentum: o.momentum,
    ...(task.sharedSet !== undefined ? { sharedSet: { x: task.sharedSet.x, labels: task.sharedSet.labels, weight: o.sharedLossWeight } } : {}),
    // The batcher sends only what lockstep covers (lockstepEligible): EAT's FGSM as the default profile crafts it.
    ...(o.adversarial !== undefined ? { adversarial: { eps: o.adversarial.eps } } : {}),
  });
  const ms = performance.now() - t0;
  return { results: r.weights.map((weights, k) => ({ weights, loss: r.results[k]!.meanLoss, numExamples: clients[k]!.indices.length, ms })), ms };
}

function runBva(task: BvaTask): BvaResult {
  const t0 = performance.now();
  const values = bvaInputs(modelWith(task.model, task.weights), task.spec, task.probe, task.clientSeed);
  return { values, ms: performance.now() - t0 };
}

async function runEval(task: EvalTask): Promise<EvalResult> {
  const t0 = performance.now();
  const test = sim!.test;
  const model = modelWith(task.model, task.weights);
  const correct: Record<string, number> = {};
  const components: Record<string, Record<string, number>> = {};
  const batch = task.batchSize ?? 500;
  for (const a of task.attacks) {
    const r = await robustCountAsync(model, test, a.spec, task.indices, batch);
    correct[a.name] = r.correct;
    if (r.components !== undefined) components[a.name] = r.components;
  }
  const out: EvalResult = { correct, count: task.indices.length, ms: 0, ...(Object.keys(components).length > 0 ? { components } : {}) };
  if (task.backdoor !== undefined) {
    const eligible = Int32Array.from(Array.from(task.indices).filter((r) => test.labels[r] !== task.backdoor!.target));
    const hits = eligible.length === 0 ? 0 : Math.round((await attackSuccessRate(model, test, task.backdoor.trigger, task.backdoor.target, eligible)) * eligible.length);
    out.backdoor = { eligible: eligible.length, hits };
  }
  out.ms = performance.now() - t0;
  return out;
}

/** The piscina handler. Results are small (a model's weights, a BV vector), so structured cloning is fine. */
export default function handle({ sim: s, task }: PoolMessage): TrainResult | BvaResult | Promise<EvalResult> | Promise<LockstepTrainResult> {
  enter(s);
  switch (task.kind) {
    case 'train':
      return runTrain(task);
    case 'train-lockstep':
      return runLockstep(task);
    case 'bva':
      return runBva(task);
    case 'eval':
      return runEval(task);
  }
}

/** Live tensors in this worker (for leak checks). */
export function numTensors(): number {
  return tf.memory().numTensors;
}

/** This worker's thread, simulation and tensor counts, after entering `s` (tests and leak checks). */
export function state(s: PoolSim): WorkerState {
  enter(s);
  return { threadId, sim: s.id, simulations, numTensors: tf.memory().numTensors, idleTensors, startTensors, backend: tf.getBackend() };
}

/**
 * Leaves simulation `id` (its pool closed): disposes its models and drops its data views, so the idle worker keeps
 * no memory of it. A worker already in another simulation (a later one took the pool first) keeps that one.
 */
export function leave(id: string): HeldState {
  if (sim?.id === id) forget();
  return held();
}

/** What this worker holds now, entering no simulation (tests). */
export function held(): HeldState {
  return { threadId, sim: sim?.id, models: models.size, numTensors: tf.memory().numTensors, startTensors, backend: tf.getBackend() };
}
