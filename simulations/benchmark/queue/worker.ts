/**
 * `rfl benchmark worker --queue redis://host:port`: takes cells from the queue one at a time, runs each exactly as
 * a local matrix run does, reports its rounds as job progress, and returns the cell's files as the job's result
 * (cell-processor.ts, protocol.ts). Start as many as you like, on any machines that reach Redis and hold the
 * matrix's data.
 *
 * The cell runs in BullMQ's sandbox on a worker thread (cell-sandbox.ts), so this thread stays free for what keeps
 * the job: BullMQ renews the job's lock from here, however long a simulation keeps its own thread busy (training a
 * transfer attack's surrogates, decoding a dataset). Locks, their renewal and the stalled-job check are BullMQ's: a
 * worker killed mid-cell stops renewing its lock, and another worker's stalled check puts the cell back in the
 * queue, to start over. A job is untrusted input: a job that fails its checks is failed for good with the reason
 * (BullMQ's UnrecoverableError: no retry), and the worker goes on with the next.
 */
import * as os from 'node:os';
import { Worker } from 'bullmq';
import type { BackendName } from '../../../shared/compute/backend.js';
import type { CellProcessorSettings } from './cell-processor.js';
import { LINK_CHECK_KEY, LinkMonitor } from './link-monitor.js';
import { DEFAULT_QUEUE_NAME } from './protocol.js';
import type { RedisTarget } from './redis-target.js';

/** Options of `startCellWorker`. */
export interface CellWorkerOptions {
  target: RedisTarget;
  queueName?: string;
  /** The name progress and results carry (default `<hostname>:<pid>`). */
  name?: string;
  /** Worker threads of each cell's simulation (default: the matrix's, else one per core). */
  workers?: number;
  /** How long the lock on a running cell lasts without renewal (ms, default 30,000; renewed every half of it). */
  lockMs?: number;
  /** How often this worker looks for cells whose worker stopped renewing its lock (ms, default 30,000). */
  stalledCheckMs?: number;
  /** A cell that stalled more often than this fails for good (default 2). */
  maxStalled?: number;
  /** No answer from Redis for this long: say so (ms, default 10,000). */
  lostAfterMs?: number;
  /** Where cells run before their files are sent back (default: the system's temporary folder). */
  scratch?: string;
  /** Compute backend of the cells' simulations. */
  backend?: BackendName;
  /** One line per event (default: stderr; the cells' own lines go to stderr from their thread). */
  log?: (line: string) => void;
  /** The sandbox's processor module (default cell-sandbox.js; a test's stops the process mid-cell). */
  processorFile?: URL;
  /**
   * Start the sandbox thread and warm it up (warm-up.ts) before taking the first cell (default true); false leaves
   * both to the first cell, as BullMQ does by itself.
   */
  warmUp?: boolean;
}

/** The part of BullMQ's (internal) child pool the warm start uses. */
interface SandboxPool {
  retain(processFile: string): Promise<object>;
  release(child: object): void;
}

function isSandboxPool(x: unknown): x is SandboxPool {
  return typeof x === 'object' && x !== null && typeof Reflect.get(x, 'retain') === 'function' && typeof Reflect.get(x, 'release') === 'function';
}

/** A running worker. */
export interface CellWorker {
  name: string;
  /** Stops taking cells; with `force`, also abandons the one running (its lock expires and it is retried elsewhere). */
  close(force?: boolean): Promise<void>;
  /** The id of the job (`<fingerprint>.<cell id>`) running now, if any. */
  current(): string | undefined;
}

/** Starts taking cells from the queue. */
export async function startCellWorker(opts: CellWorkerOptions): Promise<CellWorker> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const name = opts.name ?? `${os.hostname()}:${process.pid}`;
  const queueName = opts.queueName ?? DEFAULT_QUEUE_NAME;
  let current: string | undefined;
  const settings: CellProcessorSettings = {
    name,
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    ...(opts.scratch !== undefined ? { scratch: opts.scratch } : {}),
    ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    warmUp: opts.warmUp ?? true,
  };

  const processorFile = opts.processorFile ?? new URL('./cell-sandbox.js', import.meta.url);
  const worker = new Worker(queueName, processorFile, {
    connection: opts.target.connection,
    name,
    useWorkerThreads: true,
    workerThreadsOptions: { workerData: settings },
    // One cell at a time: a cell's simulation already uses every worker thread it is given.
    concurrency: 1,
    lockDuration: opts.lockMs ?? 30_000,
    stalledInterval: opts.stalledCheckMs ?? 30_000,
    maxStalledCount: opts.maxStalled ?? 2,
    autorun: false,
  });
  const monitor = new LinkMonitor({ ping: async () => (await worker.client).get(LINK_CHECK_KEY), target: opts.target.shown, lostAfterMs: opts.lostAfterMs ?? 10_000, log });
  const seen = new Set<string>();
  worker.on('error', (err) => {
    const lost = /Missing (lock|key) for job (\S+?)\.? /.exec(`${err.message} `);
    if (lost !== null) {
      // BullMQ refused this worker's completion: the cell is no longer its to report.
      const key = `lost:${lost[2]}`;
      if (!seen.has(key)) {
        seen.add(key);
        log(
          `job ${lost[2]}: this worker can no longer report it (${lost[1] === 'lock' ? 'another worker took it over after this one lost its lock' : 'the queue lost the job, Redis having restarted without its data'}); its result is dropped and the cell runs again from the queue`,
        );
      }
      return;
    }
    if (monitor.noteError(err) && !seen.has(err.message)) {
      seen.add(err.message);
      log(`queue: Redis error: ${err.message}`);
    }
  });
  worker.on('lockRenewalFailed', (ids: string[]) => {
    for (const id of ids) log(`job ${id}: this worker lost its lock (Redis was out of reach longer than the lock lasts); the cell goes back to the queue, and this run's result will be refused`);
  });
  worker.on('active', (job) => (current = job.id));
  worker.on('completed', () => (current = undefined));
  worker.on('failed', (job, err) => {
    current = undefined;
    if (job !== undefined) log(`job ${job.id}: failed: ${err.message}`);
  });
  if (settings.warmUp === true) {
    // BullMQ starts a sandbox thread when the first job arrives. Starting it here, through the child pool the
    // worker's sandbox takes its threads from (BullMQ keys it by the processor's URL), and handing it back
    // leaves it idle in that pool: the first cell takes it with its warm-up done. The pool is not public API, so
    // its shape is checked and the worker goes on without it where a BullMQ version differs.
    const pool: unknown = Reflect.get(worker, 'childPool');
    if (isSandboxPool(pool)) {
      try {
        pool.release(await pool.retain(processorFile.href));
      } catch (err) {
        // BullMQ starts another thread for the first cell, as it would have anyway.
        log(`worker ${name}: could not start the cell thread ahead (${(err as Error).message}); the first cell starts it`);
      }
    } else {
      log(`worker ${name}: this BullMQ version's sandbox pool is not reachable; the first cell starts and warms its thread up`);
    }
  }
  void worker.run().catch((err: unknown) => log(`queue: the worker stopped: ${(err as Error).message}`));
  monitor.start();
  log(`worker ${name}: taking cells from ${opts.target.shown} (queue ${queueName})`);
  return {
    name,
    current: () => current,
    close: async (force = false) => {
      monitor.stop();
      await worker.close(force);
    },
  };
}
