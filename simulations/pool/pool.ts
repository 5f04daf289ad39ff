/**
 * The simulation's worker pool (piscina, one thread per core by default). The training and test sets and the
 * clients' partition are copied once into shared memory and mapped by every worker, so a task carries only
 * weights and options (and a reference to that memory); workers keep the compute backend and the models warm
 * between tasks.
 *
 * Warm threads outlive a simulation: `close()` hands the pool's threads to a cache of this thread (process, or
 * BullMQ's sandbox thread), keyed by what a worker cannot switch (thread count, backend, GPU evaluation, extension
 * and model modules, the `RFL_*` environment the threads were started with), and the next `SimulationPool` with
 * the same key takes them instead of paying a fresh isolate (module loading, JIT, backend start-up) per simulation.
 * A pool that saw a task fail, a worker exit or the GPU worker give up is destroyed, never reused (an idle one at
 * once: a worker exiting while it waits in the cache); idle pools are destroyed after `IDLE_POOL_MS`, beyond
 * `MAX_IDLE_POOLS`, or when the process is about to exit, and never keep it alive. Before its threads go idle, each
 * worker leaves the closed simulation (disposes its models, drops its views of the data), so idle threads hold
 * none of its memory.
 * `RFL_POOL_REUSE=0` turns the cache off (every simulation starts and destroys its own threads).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { sharedHandle, type Dataset } from '../../shared/data/dataset.js';
import { SYNC_KINDS, withSeed, type AttackSpec } from '../../shared/attacks/robust-accuracy.js';
import { ActivityClock } from './activity.js';
import { BroadcastArrays, compact } from './broadcast-arrays.js';
import { LockstepBatcher, lockstepEligible } from './lockstep-batcher.js';
import type { BvaResult, BvaTask, EvalResult, EvalTask, HeldState, LockstepTrainResult, PoolInit, PoolSim, PoolTask, TrainResult, TrainTask, WorkerState } from './tasks.js';

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
  /**
   * Where clients train: 'gpu' sends every task lockstep training covers (SGD with the shared-set term, or EAT as
   * the default profile crafts it; no data poisoning: `lockstepEligible`) to the GPU worker in lockstep groups
   * (lockstep-batcher.ts); the rest, and all of them should the GPU worker fail, train on the CPU workers (see
   * `trainDevice`). Default 'cpu'.
   */
  trainDevice?: 'gpu' | 'cpu';
  /** Lockstep grouping on the GPU (lockstep-batcher.ts): quiet time in ms, most clients per group, the clock (tests). */
  lockstep?: { windowMs?: number; maxClients?: number; schedule?: (fn: () => void, ms: number) => () => void };
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

/** How long an idle pool's threads wait in the cache for the next simulation before they are destroyed. */
export const IDLE_POOL_MS = 60_000;

/** At most this many idle pools wait per thread (process); releasing one more destroys the longest idle. */
export const MAX_IDLE_POOLS = 2;

/** Whether `close()` keeps warm threads for the next simulation: yes unless `RFL_POOL_REUSE=0`. */
export function poolReuseEnabled(): boolean {
  return process.env['RFL_POOL_REUSE'] !== '0';
}

/** One set of warm threads: the CPU workers and, with GPU evaluation, the GPU worker. */
interface Threads {
  key: string;
  piscina: Piscina;
  gpu: Piscina | undefined;
  /** A task failed, a worker exited or the GPU worker was given up: destroy, never reuse. */
  broken: boolean;
  destroying: boolean;
  /** Set once destroyThreads ran (calling it again returns this). */
  destroyed: Promise<void> | undefined;
  /** The simulation using the threads (its GPU fallback), none while idle in the cache. */
  onGpuError: ((gpu: Piscina, err: Error) => void) | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** When it last went idle (performance.now()). */
  idleSince: number;
  /** Simulations these threads have served. */
  simulations: number;
}

/** Idle threads by key (several per key where simulations of one key ran side by side). */
const idle = new Map<string, Threads[]>();
let exitHook = false;
let simCounter = 0;

/** The cache key: everything a warm worker fixed at start-up. */
function keyOf(workers: number, init: PoolInit, gpuEval: boolean): string {
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith('RFL_') && k !== 'RFL_POOL_REUSE')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([workers, init.backend ?? null, gpuEval, init.extensions ?? [], init.modelModules ?? [], env]);
}

/** Destroys `t`'s threads (idempotent). */
function destroyThreads(t: Threads): Promise<void> {
  if (t.idleTimer !== undefined) clearTimeout(t.idleTimer);
  t.idleTimer = undefined;
  t.destroying = true;
  t.onGpuError = undefined;
  t.destroyed ??= Promise.all([t.piscina.destroy(), t.gpu?.destroy()]).then(() => undefined);
  return t.destroyed;
}

/** Takes `t` out of the idle cache and destroys it (not awaited: nothing waits for an idle pool). */
function discard(t: Threads): void {
  unlist(t);
  void destroyThreads(t).catch(() => undefined);
}

/** Takes `t` out of the idle cache (if it is there). */
function unlist(t: Threads): void {
  const list = idle.get(t.key);
  const i = list?.indexOf(t) ?? -1;
  if (i < 0) return;
  list!.splice(i, 1);
  if (list!.length === 0) idle.delete(t.key);
}

/** Threads for a new simulation: idle ones of the same key, or fresh ones. */
function acquire(workers: number, init: PoolInit, gpuEval: boolean, reuse: boolean): { threads: Threads; reused: boolean } {
  const key = keyOf(workers, init, gpuEval);
  let warm: Threads | undefined;
  for (const list = idle.get(key); reuse && warm === undefined && list !== undefined && list.length > 0;) {
    const t = list.pop()!;
    // Broken while idle (a worker exited before its listener could discard the pool): never reused.
    if (t.broken || t.destroying) void destroyThreads(t).catch(() => undefined);
    else warm = t;
  }
  if (idle.get(key)?.length === 0) idle.delete(key);
  if (warm !== undefined) {
    clearTimeout(warm.idleTimer);
    warm.idleTimer = undefined;
    warm.simulations++;
    return { threads: warm, reused: true };
  }
  const filename = new URL('./worker.js', import.meta.url).href;
  const piscina = new Piscina({
    filename,
    minThreads: workers,
    maxThreads: workers,
    // Warm workers stay: a round's tasks arrive in bursts with secure-aggregation gaps between them.
    idleTimeout: 24 * 3600 * 1000,
    workerData: init,
  });
  const gpu = gpuEval ? new Piscina({ filename, minThreads: 1, maxThreads: 1, idleTimeout: 24 * 3600 * 1000, workerData: { ...init, backend: 'webgpu' } }) : undefined;
  const t: Threads = { key, piscina, gpu, broken: false, destroying: false, destroyed: undefined, onGpuError: undefined, idleTimer: undefined, idleSince: 0, simulations: 1 };
  // A worker that exits (crashes) is replaced by piscina: the pool is not reused after that, and an idle one (in
  // the cache: its idle timer runs) is destroyed now rather than kept until it times out.
  piscina.on('workerDestroy', () => {
    if (t.destroying) return;
    t.broken = true;
    if (t.idleTimer !== undefined) discard(t);
  });
  // An error outside any task: as before the cache (no listener), it is the process's while a simulation runs;
  // an idle pool is just destroyed, and one being destroyed has nothing more to say.
  piscina.on('error', (err: Error) => {
    if (t.destroying) return;
    t.broken = true;
    if (t.idleTimer === undefined) throw err;
    discard(t);
  });
  if (gpu !== undefined) {
    // A worker that fails to start is reported as an 'error' event (it would crash the process unheard).
    gpu.on('error', (err: Error) => {
      if (t.destroying) return;
      t.broken = true;
      if (t.onGpuError !== undefined) t.onGpuError(gpu, err);
      else discard(t);
    });
  }
  return { threads: t, reused: false };
}

/** Puts `t` in the idle cache, to be destroyed after IDLE_POOL_MS unless a simulation takes it first. */
function release(t: Threads): void {
  t.onGpuError = undefined;
  t.idleTimer = setTimeout(() => discard(t), IDLE_POOL_MS);
  // Idle piscina threads are unref'd, and so is this timer: the cache never keeps the process alive.
  t.idleTimer.unref();
  t.idleSince = performance.now();
  const list = idle.get(t.key) ?? [];
  list.push(t);
  idle.set(t.key, list);
  const all = [...idle.values()].flat();
  if (all.length > MAX_IDLE_POOLS) {
    // Many kinds of simulation in one process (a test suite): the threads idle longest make room.
    const oldest = all.reduce((a, b) => (b.idleSince < a.idleSince ? b : a));
    discard(oldest);
  }
  if (!exitHook) {
    exitHook = true;
    // The event loop is empty: stop the idle threads cleanly (exit would terminate them anyway).
    process.on('beforeExit', () => {
      if (idle.size > 0) void destroyIdlePools();
    });
  }
}

/** Destroys every idle pool of this thread (also done by the idle timeout and before the process exits). */
export async function destroyIdlePools(): Promise<void> {
  const all = [...idle.values()].flat();
  idle.clear();
  await Promise.all(all.map((t) => destroyThreads(t).catch(() => undefined)));
}

/** The idle pools of this thread: their worker threads' ids and how many simulations each served (tests). */
export function idlePools(): { threadIds: number[]; gpuThreadIds: number[]; simulations: number }[] {
  return [...idle.values()].flat().map((t) => ({
    threadIds: t.piscina.threads.map((w) => w.threadId),
    gpuThreadIds: t.gpu?.threads.map((w) => w.threadId) ?? [],
    simulations: t.simulations,
  }));
}

/**
 * What each CPU worker of each idle pool holds (tests): one `held` probe per worker, which enters no simulation.
 * The probes leave the pools idle (and listed) as they were.
 */
export async function idleWorkers(): Promise<HeldState[][]> {
  return Promise.all([...idle.values()].flat().map((t) => Promise.all(t.piscina.threads.map(() => t.piscina.run(null, { name: 'held' }) as Promise<HeldState>))));
}

/** A pool of simulation workers. */
export class SimulationPool {
  readonly workers: number;
  /** Covered wall time of training, Decent_BVA statistics and evaluation tasks. */
  readonly clocks = { train: new ActivityClock(), bva: new ActivityClock(), eval: new ActivityClock() };
  /** Whether this pool took warm threads from an earlier simulation. */
  readonly reused: boolean;
  private readonly threads: Threads;
  private readonly sim: PoolSim;
  private readonly reuse: boolean;
  private gpu: Piscina | undefined;
  private inFlight = 0;
  private closed = false;
  /** Whether this simulation entered the CPU workers, or the GPU worker (then they leave it on close). */
  private entered = { cpu: false, gpu: false };
  /** Where evaluations run: 'gpu' while the GPU worker works, else 'cpu'. */
  evalDevice: 'gpu' | 'cpu' = 'cpu';
  /** Why the GPU evaluation worker was given up, if it was. */
  gpuFallbackReason: string | undefined;
  /** Where eligible training tasks go: 'gpu' while the GPU worker trains them in lockstep, else 'cpu'. */
  trainDevice: 'gpu' | 'cpu' = 'cpu';
  /** Training tasks the GPU worker ran in lockstep, and in how many groups. */
  readonly lockstep = { groups: 0, clients: 0 };
  private readonly batcher: LockstepBatcher<TrainResult> | undefined;
  private readonly evalOnGpu: boolean;
  /** The round's broadcast arrays (global weights, shared set, Decent_BVA probes) in shared memory, posted by reference. */
  readonly broadcast = new BroadcastArrays();

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
    this.sim = {
      id: `${process.pid}.${threadId}.${++simCounter}`,
      train: sharedHandle(opts.train),
      test: sharedHandle(opts.test),
      offsets: offsets.buffer as SharedArrayBuffer,
      indices: indices.buffer as SharedArrayBuffer,
    };
    const init: PoolInit = {
      ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
      ...(opts.extensions !== undefined && opts.extensions.length > 0 ? { extensions: opts.extensions.map((e) => path.resolve(e)) } : {}),
      ...(opts.modelModules !== undefined && opts.modelModules.length > 0 ? { modelModules: opts.modelModules.map((m) => path.resolve(m)) } : {}),
    };
    this.reuse = poolReuseEnabled();
    const trainOnGpu = opts.trainDevice === 'gpu';
    this.evalOnGpu = opts.gpuEval === true;
    const { threads, reused } = acquire(this.workers, init, this.evalOnGpu || trainOnGpu, this.reuse);
    this.threads = threads;
    this.reused = reused;
    if (threads.gpu !== undefined) {
      this.gpu = threads.gpu;
      if (this.evalOnGpu) this.evalDevice = 'gpu';
      if (trainOnGpu) {
        this.trainDevice = 'gpu';
        this.batcher = new LockstepBatcher<TrainResult>({ run: (tasks) => this.trainGroup(tasks), ...(opts.lockstep ?? {}) });
      }
      threads.onGpuError = (gpu, err) => this.dropGpu(gpu, err);
    }
  }

  /** The CPU workers' thread ids (tests: warm threads keep theirs from one simulation to the next). */
  get threadIds(): number[] {
    return this.threads.piscina.threads.map((w) => w.threadId);
  }

  /**
   * Local training of one client: in a lockstep group on the GPU worker where `trainDevice` is 'gpu' and lockstep
   * covers the task, else on the CPU workers. A group the GPU worker fails is trained on the CPU workers, and the
   * GPU is given up (`gpuFallbackReason`).
   */
  async train(task: Omit<TrainTask, 'kind'>): Promise<TrainResult> {
    const full: TrainTask = { kind: 'train', ...task };
    // A client without examples fails on any device with the same message: on the CPU, alone, rather than failing
    // a whole lockstep group and giving up the GPU.
    if (this.trainDevice !== 'gpu' || this.batcher === undefined || !lockstepEligible(full) || this.rowsOf(full.client) === 0) return this.timed(this.clocks.train, full);
    this.checkOpen();
    const done = this.clocks.train.begin();
    try {
      return await this.batcher.add(full);
    } catch (err) {
      // A pool closed meanwhile refuses the CPU too (checkOpen); the GPU is given up only while the pool is open.
      if (this.gpu !== undefined && !this.closed) this.dropGpu(this.gpu, err as Error);
      return this.timed(this.clocks.train, full);
    } finally {
      done();
    }
  }

  /** How many examples client `client` holds (its rows of the shared partition). */
  private rowsOf(client: number): number {
    const offsets = new Int32Array(this.sim.offsets);
    return client >= 0 && client + 1 < offsets.length ? offsets[client + 1]! - offsets[client]! : 0;
  }

  /** One lockstep group on the GPU worker: the tasks share model, options and shared set (lockstep-batcher.ts). */
  private async trainGroup(tasks: TrainTask[]): Promise<TrainResult[]> {
    const gpu = this.gpu;
    if (gpu === undefined) throw new Error(this.gpuFallbackReason ?? 'the GPU worker was given up');
    const first = tasks[0]!;
    const r = await this.post<LockstepTrainResult>(gpu, {
      kind: 'train-lockstep',
      model: first.model,
      clients: tasks.map((t) => ({ client: t.client, seed: t.train.seed, weights: t.weights })),
      ...(first.sharedSet !== undefined ? { sharedSet: first.sharedSet } : {}),
      train: first.train,
    });
    this.lockstep.groups++;
    this.lockstep.clients += tasks.length;
    return r.results;
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
    this.checkOpen();
    return Promise.all(Array.from({ length: probes }, () => this.threads.piscina.run(null, { name: 'numTensors' }) as Promise<number>));
  }

  /**
   * Each of `probes` worker calls' thread, simulation and tensor counts (piscina picks the workers; with all idle,
   * `probes` = workers reaches each once). The probe enters this simulation, as a task would.
   */
  async workerStates(probes = this.workers): Promise<WorkerState[]> {
    this.checkOpen();
    this.entered.cpu = true;
    return Promise.all(Array.from({ length: probes }, () => this.threads.piscina.run(this.sim, { name: 'state' }) as Promise<WorkerState>));
  }

  /**
   * Ends this simulation's use of the workers: they go back to the cache of warm threads for the next simulation,
   * unless reuse is off, a task failed, a worker exited, the GPU worker was given up or tasks are still running,
   * in which case they are destroyed. Before they go idle, each worker leaves this simulation (its models disposed,
   * its views of the data dropped). Calling it again does nothing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.broadcast.clear();
    const t = this.threads;
    t.onGpuError = undefined;
    // Tasks still gathering in a lockstep group count as in flight: they would reach the threads after this close.
    const idleNow = (): boolean =>
      !t.broken && !t.destroying && this.inFlight === 0 && (this.batcher?.waiting ?? 0) === 0 && t.piscina.queueSize === 0 && (t.gpu === undefined || t.gpu.queueSize === 0);
    if (this.reuse && idleNow()) {
      try {
        await this.leave();
      } catch {
        t.broken = true;
      }
      if (idleNow()) return release(t);
    }
    await destroyThreads(t);
  }

  /**
   * Tells every worker this simulation entered to leave it. One task per worker: piscina hands concurrent tasks
   * to idle workers one each (a worker that is handed a second only finds the simulation already left).
   */
  private async leave(): Promise<void> {
    const t = this.threads;
    const id = this.sim.id;
    const runs: Promise<unknown>[] = [];
    if (this.entered.cpu) for (let k = 0; k < this.workers; k++) runs.push(t.piscina.run(id, { name: 'leave' }));
    if (this.entered.gpu && t.gpu !== undefined) runs.push(t.gpu.run(id, { name: 'leave' }));
    await Promise.all(runs);
  }

  /** Gives up the GPU worker (once), recording why; evaluations and training go to the CPU workers from then on. */
  private dropGpu(gpu: Piscina, err: Error): void {
    if (this.gpu !== gpu) return;
    this.gpu = undefined;
    this.threads.broken = true;
    this.evalDevice = 'cpu';
    this.trainDevice = 'cpu';
    this.batcher?.flush();
    this.gpuFallbackReason = err.message;
    void gpu.destroy().catch(() => undefined);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('SimulationPool: closed (its threads may serve another simulation now)');
  }

  /**
   * `task` with its broadcast arrays (the global weights a round or an evaluation sends to every task, the shared
   * set, a Decent_BVA probe's arrays) shared, and any other view of a received message compacted (broadcast-arrays.ts).
   */
  private shareBroadcast(task: PoolTask): PoolTask {
    const b = this.broadcast;
    switch (task.kind) {
      case 'train':
        return { ...task, weights: b.share(task.weights), ...(task.sharedSet !== undefined ? { sharedSet: { x: b.share(task.sharedSet.x), labels: task.sharedSet.labels } } : {}) };
      case 'eval':
        return { ...task, weights: b.share(task.weights) };
      case 'bva': {
        // Its weights are the client's own trained ones, which no other task shares; the probe is the round's.
        const p = task.probe;
        const probe = p.kind === 'bva/p1' ? { ...p, X: b.share(p.X) } : { ...p, X: b.share(p.X), omega: b.share(p.omega) };
        return { ...task, weights: compact(task.weights), probe };
      }
      case 'train-lockstep':
        return task;
    }
  }

  /** `task` for the GPU worker: views of received messages compacted (its uploads are not known to take shared memory). */
  private compactForGpu(task: PoolTask): PoolTask {
    const sharedSet = (s: { x: Float32Array; labels: Uint8Array } | undefined) => (s !== undefined ? { sharedSet: { x: compact(s.x), labels: s.labels } } : {});
    switch (task.kind) {
      case 'train':
        return { ...task, weights: compact(task.weights), ...sharedSet(task.sharedSet) };
      case 'train-lockstep':
        return { ...task, clients: task.clients.map((c) => ({ ...c, weights: compact(c.weights) })), ...sharedSet(task.sharedSet) };
      case 'eval':
        return { ...task, weights: compact(task.weights) };
      case 'bva':
        return task;
    }
  }

  /** Runs `task` on `pool` for this simulation; a failure marks the threads broken (not reused). */
  private async post<R>(pool: Piscina, task: PoolTask): Promise<R> {
    this.checkOpen();
    if (pool === this.threads.gpu) this.entered.gpu = true;
    else this.entered.cpu = true;
    this.inFlight++;
    try {
      // The CPU workers get the broadcast arrays by reference (broadcast-arrays.ts); the GPU worker keeps cloned
      // ones, since its uploads are not known to accept views of shared memory.
      return (await pool.run({ sim: this.sim, task: pool === this.threads.gpu ? this.compactForGpu(task) : this.shareBroadcast(task) })) as R;
    } catch (err) {
      this.threads.broken = true;
      throw err;
    } finally {
      this.inFlight--;
    }
  }

  /** An evaluation task on the GPU worker, or on the CPU workers once the GPU worker has failed. */
  private async evalTask(task: EvalTask): Promise<EvalResult> {
    const gpu = this.evalOnGpu ? this.gpu : undefined;
    if (gpu !== undefined) {
      const done = this.clocks.eval.begin();
      try {
        return await this.post<EvalResult>(gpu, task);
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
      return await this.post<R>(this.threads.piscina, task);
    } finally {
      done();
    }
  }
}
