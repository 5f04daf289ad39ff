/**
 * The simulation's worker pool (piscina, one thread per core by default). The training and test sets and the
 * clients' partition are copied once into shared memory and mapped by every worker, so a task carries only
 * weights and options; workers keep the compute backend and the models warm between tasks.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Piscina } from 'piscina';
import { sharedHandle, type Dataset } from '../../shared/data/dataset.js';
import { SYNC_KINDS, withSeed, type AttackSpec } from '../../shared/attacks/robust-accuracy.js';
import { ActivityClock } from './activity.js';
import type { BvaResult, BvaTask, EvalResult, EvalTask, PoolData, TrainResult, TrainTask } from './tasks.js';

/** Options of a `SimulationPool`. */
export interface SimulationPoolOptions {
  train: Dataset;
  test: Dataset;
  /** Client k's rows of `train`. */
  parts: readonly ArrayLike<number>[];
  /** Worker threads (≥ 1); default one per core. */
  workers?: number;
  /** Compute backend for the workers (default: the automatic choice). */
  backend?: string;
  /**
   * Run evaluations (the attacks over the test set) on the GPU: one more worker thread with the webgpu backend.
   * If it cannot start, evaluations fall back to the CPU workers (see `evalDevice`).
   */
  gpuEval?: boolean;
  /** Extension modules every worker imports at start (simulations/extensions.ts); paths from the current directory. */
  extensions?: readonly string[];
  /** Model modules every worker registers at start (`loadModelModule`); paths from the current directory. */
  modelModules?: readonly string[];
}

/** Rows per evaluation task: fixed, so the random starts of PGD (seeded per chunk) do not depend on the worker count. */
export const EVAL_CHUNK = 500;
/**
 * Rows per evaluation task on the GPU, attacked as one batch: a GPU is ten times faster on 10,000 rows at once
 * than in batches of 500 (strong PGD on an H200: 2.3 s against 21.5 s). PGD's random starts are then drawn per
 * 5,000 rows instead of per 500, so a GPU figure and a CPU figure differ by sampling noise, not systematically.
 */
export const GPU_EVAL_CHUNK = 5000;

/** What an evaluation of the global model found. */
export interface PoolEvaluation {
  /** Accuracy per attack name, in [0, 1]. */
  accuracy: Record<string, number>;
  /** Test images each attack ran on (the first ones). */
  counts: Record<string, number>;
  /** Suites: accuracy per component (AutoAttack cumulative, transfer per surrogate), by attack name. */
  components?: Record<string, Record<string, number>>;
  /** Backdoor attack success rate over the non-target test rows, when asked. */
  asr?: number;
  ms: number;
}

/** A pool of simulation workers. */
export class SimulationPool {
  readonly workers: number;
  /** Covered wall time of training, Decent_BVA statistics and evaluation tasks. */
  readonly clocks = { train: new ActivityClock(), bva: new ActivityClock(), eval: new ActivityClock() };
  private readonly piscina: Piscina;
  private gpu: Piscina | undefined;
  /** Where evaluations run: 'gpu' while the GPU worker works, else 'cpu'. */
  evalDevice: 'gpu' | 'cpu' = 'cpu';
  /** Why the GPU evaluation worker was given up, if it was. */
  gpuFallbackReason: string | undefined;

  constructor(opts: SimulationPoolOptions) {
    this.workers = opts.workers ?? (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
    if (!Number.isInteger(this.workers) || this.workers < 1) throw new Error(`workers = ${this.workers}: expected an integer ≥ 1`);
    const total = opts.parts.reduce((a, p) => a + p.length, 0);
    const offsets = new Int32Array(new SharedArrayBuffer(4 * (opts.parts.length + 1)));
    const indices = new Int32Array(new SharedArrayBuffer(4 * Math.max(total, 1)));
    let at = 0;
    opts.parts.forEach((p, k) => {
      offsets[k] = at;
      indices.set(Array.from(p), at);
      at += p.length;
    });
    offsets[opts.parts.length] = at;
    const workerData: PoolData = {
      train: sharedHandle(opts.train),
      test: sharedHandle(opts.test),
      offsets: offsets.buffer as SharedArrayBuffer,
      indices: indices.buffer as SharedArrayBuffer,
      ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
      ...(opts.extensions !== undefined && opts.extensions.length > 0 ? { extensions: opts.extensions.map((e) => path.resolve(e)) } : {}),
      ...(opts.modelModules !== undefined && opts.modelModules.length > 0 ? { modelModules: opts.modelModules.map((m) => path.resolve(m)) } : {}),
    };
    this.piscina = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: this.workers,
      maxThreads: this.workers,
      // Warm workers stay: a round's tasks arrive in bursts with secure-aggregation gaps between them.
      idleTimeout: 24 * 3600 * 1000,
      workerData,
    });
    if (opts.gpuEval === true) {
      const gpu = new Piscina({
        filename: new URL('./worker.js', import.meta.url).href,
        minThreads: 1,
        maxThreads: 1,
        idleTimeout: 24 * 3600 * 1000,
        workerData: { ...workerData, backend: 'webgpu' },
      });
      // A worker that fails to start is reported as an 'error' event (it would crash the process unheard).
      gpu.on('error', (err: Error) => this.dropGpu(gpu, err));
      this.gpu = gpu;
      this.evalDevice = 'gpu';
    }
  }

  /** Local training of one client. */
  train(task: Omit<TrainTask, 'kind'>): Promise<TrainResult> {
    return this.timed(this.clocks.train, { kind: 'train', ...task });
  }

  /** A client's Decent_BVA contribution from its trained weights. */
  bva(task: Omit<BvaTask, 'kind'>): Promise<BvaResult> {
    return this.timed(this.clocks.bva, { kind: 'bva', ...task });
  }

  /**
   * Accuracy of `weights` under each attack on test rows [0, count) (or [0, a.count) for an attack given its own
   * smaller count), in chunks of EVAL_CHUNK spread over the workers; random starts derive from `seed` and the chunk,
   * so the result does not depend on the worker count. Attacks that read tensors synchronously (the AutoAttack
   * family, transfer) run on the CPU workers even when evaluations run on the GPU.
   */
  async evaluate(
    model: string,
    weights: Float32Array,
    count: number,
    attacks: { name: string; spec: AttackSpec; count?: number }[],
    seed: number,
    backdoor?: EvalTask['backdoor'],
  ): Promise<PoolEvaluation> {
    const t0 = performance.now();
    const countOf = (a: { count?: number }): number => Math.min(a.count ?? count, count);
    // One group of tasks per (image count, device); the backdoor rides with the first group over all `count` rows.
    const groups = new Map<string, { n: number; cpu: boolean; attacks: { name: string; spec: AttackSpec }[] }>();
    for (const a of attacks) {
      const cpu = this.evalDevice === 'gpu' && SYNC_KINDS.has(a.spec.kind);
      const key = `${countOf(a)}/${cpu}`;
      const g = groups.get(key) ?? { n: countOf(a), cpu, attacks: [] };
      g.attacks.push({ name: a.name, spec: a.spec });
      groups.set(key, g);
    }
    if (backdoor !== undefined && ![...groups.values()].some((g) => g.n === count && !g.cpu)) groups.set(`${count}/false`, { n: count, cpu: false, attacks: [] });
    const tasks: Promise<EvalResult>[] = [];
    let withBackdoor = false;
    for (const g of groups.values()) {
      const chunk = this.evalDevice === 'gpu' && !g.cpu ? GPU_EVAL_CHUNK : EVAL_CHUNK;
      const bd: boolean = backdoor !== undefined && !withBackdoor && g.n === count && !g.cpu;
      withBackdoor ||= bd;
      for (let s = 0, k = 0; s < g.n; s += chunk, k++) {
        const rows = new Int32Array(Math.min(chunk, g.n - s));
        for (let i = 0; i < rows.length; i++) rows[i] = s + i;
        const chunkAttacks = g.attacks.map((a) => ({ name: a.name, spec: withSeed(a.spec, (seed * 7919 + k) >>> 0) }));
        const task: EvalTask = { kind: 'eval', model, weights, indices: rows, attacks: chunkAttacks, batchSize: Math.min(chunk, rows.length), ...(bd ? { backdoor } : {}) };
        tasks.push(g.cpu ? this.timed<EvalResult>(this.clocks.eval, { ...task, batchSize: EVAL_CHUNK }) : this.evalTask(task));
      }
    }
    const results = await Promise.all(tasks);
    const accuracy: Record<string, number> = {};
    const counts: Record<string, number> = {};
    const components: Record<string, Record<string, number>> = {};
    for (const a of attacks) {
      const n = countOf(a);
      counts[a.name] = n;
      accuracy[a.name] = results.reduce((s, r) => s + (r.correct[a.name] ?? 0), 0) / n;
      for (const r of results) for (const [c, v] of Object.entries(r.components?.[a.name] ?? {})) (components[a.name] ??= {})[c] = (components[a.name]?.[c] ?? 0) + v / n;
    }
    const out: PoolEvaluation = { accuracy, counts, ms: performance.now() - t0, ...(Object.keys(components).length > 0 ? { components } : {}) };
    if (backdoor !== undefined) {
      const eligible = results.reduce((s, r) => s + (r.backdoor?.eligible ?? 0), 0);
      out.asr = eligible === 0 ? 0 : results.reduce((s, r) => s + (r.backdoor?.hits ?? 0), 0) / eligible;
    }
    return out;
  }

  /** Live tensors in each of `probes` worker calls (a leak check; piscina picks the workers). */
  async numTensors(probes = this.workers): Promise<number[]> {
    return Promise.all(Array.from({ length: probes }, () => this.piscina.run(null, { name: 'numTensors' }) as Promise<number>));
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all([this.piscina.destroy(), this.gpu?.destroy()]);
  }

  /** Gives up the GPU worker (once), recording why; evaluations go to the CPU workers from then on. */
  private dropGpu(gpu: Piscina, err: Error): void {
    if (this.gpu !== gpu) return;
    this.gpu = undefined;
    this.evalDevice = 'cpu';
    this.gpuFallbackReason = err.message;
    void gpu.destroy().catch(() => undefined);
  }

  /** An evaluation task on the GPU worker, or on the CPU workers once the GPU worker has failed. */
  private async evalTask(task: EvalTask): Promise<EvalResult> {
    const gpu = this.gpu;
    if (gpu !== undefined) {
      const done = this.clocks.eval.begin();
      try {
        return (await gpu.run(task)) as EvalResult;
      } catch (err) {
        // A GPU that cannot start (no adapter, driver trouble) must not lose the run: the CPU workers take over.
        this.dropGpu(gpu, err as Error);
      } finally {
        done();
      }
    }
    return this.timed<EvalResult>(this.clocks.eval, { ...task, batchSize: EVAL_CHUNK });
  }

  private async timed<R>(clock: ActivityClock, task: TrainTask | BvaTask | EvalTask): Promise<R> {
    const done = clock.begin();
    try {
      return (await this.piscina.run(task)) as R;
    } finally {
      done();
    }
  }
}
