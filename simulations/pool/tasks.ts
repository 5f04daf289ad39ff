/**
 * The messages between a simulation and its worker threads: what a task carries and what it returns. Tasks are
 * plain data (structured-cloned); the datasets and the partition are not in them, they live in shared memory
 * that the workers map, carried by reference with every task (`PoolSim`).
 */
import type { SharedDatasetHandle } from '../../shared/data/dataset.js';
import type { TrainSpec } from '../../shared/protocol/events.js';
import type { BvaProbe } from '../../shared/defense/bva-vectors.js';
import type { VectorSpec } from '../../shared/secagg/quantize.js';
import type { AttackSpec } from '../../shared/attacks/robust-accuracy.js';
import type { AnyBehaviorSpec } from '../behaviors/index.js';

/**
 * What every worker receives once, as `workerData`: what a warm worker cannot switch (the backend it loaded, the
 * modules it imported), so the process's cache of idle pools keys on it (pool.ts).
 */
export interface PoolInit {
  /** Compute backend to load (default: the automatic choice). */
  backend?: string;
  /** Extension modules (absolute paths) to import before any task (simulations/extensions.ts). */
  extensions?: string[];
  /** Model modules (absolute paths) to register before any task (shared/models/registry.ts). */
  modelModules?: string[];
}

/**
 * One simulation's data, carried by each of its tasks: shared memory is shared, not copied, by the structured
 * clone, so this costs a few bytes; a worker maps it again only when `id` differs from its last task's.
 */
export interface PoolSim {
  /** Unique per `SimulationPool` (per simulation) in this thread. */
  id: string;
  train: SharedDatasetHandle;
  test: SharedDatasetHandle;
  /** Client k holds rows `indices[offsets[k] .. offsets[k+1])` of `train` (Int32, shared). */
  offsets: SharedArrayBuffer;
  indices: SharedArrayBuffer;
}

/** What the pool posts to a worker: a task and the simulation it belongs to. */
export interface PoolMessage {
  sim: PoolSim;
  task: PoolTask;
}

/** A worker's answer to the `state` probe (tests, leak checks). */
export interface WorkerState {
  threadId: number;
  /** The simulation whose data the worker holds (the probe's own, once it answered). */
  sim: string;
  /** Simulations this worker has served, the probe's included. */
  simulations: number;
  /** Live tensors now. */
  numTensors: number;
  /** Live tensors when it last switched simulations, after disposing the previous one's models. */
  idleTensors: number;
  /** Live tensors right after start-up (backend, extensions and model modules loaded). */
  startTensors: number;
  /** The compute backend the worker loaded (tf.getBackend()). */
  backend: string;
}

/** What an idle worker holds (the `held` probe, which enters no simulation): nothing of a simulation once released. */
export interface HeldState {
  threadId: number;
  /** The simulation whose data views it keeps, if any. */
  sim: string | undefined;
  /** Warm models it keeps. */
  models: number;
  numTensors: number;
  startTensors: number;
  /** The compute backend the worker loaded (tf.getBackend()). */
  backend: string;
}

/** Local training of one client for one round. */
export interface TrainTask {
  kind: 'train';
  client: number;
  model: string;
  weights: Float32Array;
  sharedSet?: { x: Float32Array; labels: Uint8Array };
  train: TrainSpec;
  /** A data-poisoning behaviour (label flipping, backdoor) applied to a copy of the client's examples. */
  poison?: { behavior: AnyBehaviorSpec; seed: number };
}

/** The outcome of a `TrainTask`. */
export interface TrainResult {
  weights: Float32Array;
  loss: number;
  numExamples: number;
  ms: number;
}

/**
 * Local training of several clients of one round together, in lockstep on the GPU worker (lockstep-batcher.ts):
 * the same model, options and shared set; each client its own data, seed and starting weights.
 */
export interface LockstepTrainTask {
  kind: 'train-lockstep';
  model: string;
  clients: { client: number; seed: number; weights: Float32Array }[];
  sharedSet?: { x: Float32Array; labels: Uint8Array };
  /** The options every client shares (their `seed` is each client's own, in `clients`). */
  train: TrainSpec;
}

/** The outcome of a `LockstepTrainTask`: one `TrainResult` per client, in order (`ms` is the group's). */
export interface LockstepTrainResult {
  results: TrainResult[];
  ms: number;
}

/** A client's Decent_BVA phase contribution from its trained model (decent-bva.md §4.2). */
export interface BvaTask {
  kind: 'bva';
  model: string;
  weights: Float32Array;
  spec: VectorSpec;
  probe: BvaProbe;
  /** The client's training seed of the round (mixed into a reference-profile probe's dropout seed). */
  clientSeed: number;
}

/** The outcome of a `BvaTask`. */
export interface BvaResult {
  values: Float32Array[];
  ms: number;
}

/** Evaluation of the global model on rows of the test set: correct counts per attack, and backdoor hits. */
export interface EvalTask {
  kind: 'eval';
  model: string;
  weights: Float32Array;
  /** Test rows to evaluate (one chunk; chunks are fixed-size so results do not depend on the worker count). */
  indices: Int32Array;
  attacks: { name: string; spec: AttackSpec }[];
  /** Rows per attack batch (500 on the CPU workers; the whole chunk on the GPU). */
  batchSize?: number;
  /** Backdoor success: stamp `trigger` on rows whose label is not `target` and count predictions of `target`. */
  backdoor?: { trigger: { row: number; col: number; size: number; value: number }; target: number };
}

/** The outcome of an `EvalTask`. */
export interface EvalResult {
  correct: Record<string, number>;
  /** Suites (AutoAttack, transfer from several surrogates): correct rows per component, by attack name. */
  components?: Record<string, Record<string, number>>;
  count: number;
  /** Rows with a label other than the backdoor target, and how many of them were classified as the target. */
  backdoor?: { eligible: number; hits: number };
  ms: number;
}

/** Any task. */
export type PoolTask = TrainTask | LockstepTrainTask | BvaTask | EvalTask;
