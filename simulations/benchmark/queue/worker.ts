/**
 * `rfl benchmark worker --queue redis://host:port`: takes cells from the queue one at a time, runs each exactly as
 * a local matrix run does (run.ts `runCell`, in a scratch directory), reports its rounds as job progress, and
 * returns the cell's files as the job's result (protocol.ts). Start as many as you like, on any machines that reach
 * Redis and hold the matrix's data.
 *
 * A job is untrusted input: its payload is checked (schema, the matrix validated again, its fingerprint, the job
 * id) before anything runs, and a job that fails a check is failed for good with the reason (BullMQ's
 * UnrecoverableError: no retry), the worker going on with the next. Locks, their renewal and the stalled-job
 * check are BullMQ's: a worker killed mid-cell stops renewing its lock, and another worker's stalled check puts
 * the cell back in the queue, to start over.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { DatasetSplit } from '../../../shared/data/dataset.js';
import { expandMatrix, parseMatrix, type Cell } from '../matrix.js';
import { runCell } from '../run.js';
import { packRunDir } from './cell-files.js';
import { LINK_CHECK_KEY, LinkMonitor } from './link-monitor.js';
import { CELL_JOB, CellJobSchema, DEFAULT_QUEUE_NAME, firstIssue, jobIdOf, matrixFingerprint, QUEUE_PROTOCOL, type CellProgress, type CellResult } from './protocol.js';
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
  /** One line per event (default: stderr). */
  log?: (line: string) => void;
  /** Each completed round of a cell (tests stop the process here, mid-cell). */
  onRound?: (cell: string, round: number) => void;
}

/** A running worker. */
export interface CellWorker {
  name: string;
  /** Stops taking cells; with `force`, also abandons the one running (its lock expires and it is retried elsewhere). */
  close(force?: boolean): Promise<void>;
  /** The cell running now, if any. */
  current(): string | undefined;
}

/** Reads a job as a cell to run, or throws UnrecoverableError saying what is wrong with it. */
export function cellOfJob(job: Pick<Job, 'id' | 'name' | 'data'>): { cell: Cell; fingerprint: string; matrixName: string } {
  const refuse = (why: string): never => {
    throw new UnrecoverableError(`job ${job.id ?? '?'}: refused: ${why}`);
  };
  if (job.name !== CELL_JOB) refuse(`not a cell job (name ${JSON.stringify(job.name)}, expected ${CELL_JOB})`);
  const protocol = (job.data as { protocol?: unknown } | null)?.protocol;
  if (protocol !== QUEUE_PROTOCOL) refuse(`protocol ${JSON.stringify(protocol)}, this worker speaks ${QUEUE_PROTOCOL} (run the same robust-fl version on both sides)`);
  const parsed = CellJobSchema.safeParse(job.data);
  if (!parsed.success) return refuse(`malformed payload: ${firstIssue(parsed.error)}`);
  const { fingerprint, cell: id } = parsed.data;
  let matrix;
  try {
    matrix = parseMatrix(parsed.data.matrix);
  } catch (err) {
    return refuse(`its matrix does not validate: ${(err as Error).message}`);
  }
  if (matrixFingerprint(matrix) !== fingerprint) refuse(`its matrix's fingerprint is ${matrixFingerprint(matrix)}, not the ${fingerprint} it claims`);
  if (job.id !== jobIdOf(fingerprint, id)) refuse(`its id should be ${jobIdOf(fingerprint, id)}`);
  let cells: Cell[];
  try {
    cells = expandMatrix(matrix);
  } catch (err) {
    return refuse(`its matrix has an invalid cell: ${(err as Error).message}`);
  }
  const cell = cells.find((c) => c.id === id);
  if (cell === undefined) return refuse(`matrix ${matrix.name} has no cell ${id}`);
  return { cell, fingerprint, matrixName: matrix.name };
}

/** Starts taking cells from the queue. */
export async function startCellWorker(opts: CellWorkerOptions): Promise<CellWorker> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const name = opts.name ?? `${os.hostname()}:${process.pid}`;
  const queueName = opts.queueName ?? DEFAULT_QUEUE_NAME;
  const scratch = opts.scratch ?? os.tmpdir();
  const datasets = new Map<string, DatasetSplit>();
  let current: string | undefined;

  const processor = async (job: Job): Promise<CellResult> => {
    const { cell, fingerprint, matrixName } = cellOfJob(job);
    current = cell.id;
    const rounds = cell.scenario.federated.rounds;
    // Not awaited: while Redis is away a progress report waits for it, and the cell must not.
    const report = (round: number): void => {
      const p: CellProgress = { worker: name, round, rounds };
      job.updateProgress(p).catch(() => undefined);
    };
    log(
      `cell ${cell.id} of matrix ${matrixName}: running (attempt ${job.attemptsStarted}${job.stalledCounter > 0 ? `, after ${job.stalledCounter} stall${job.stalledCounter === 1 ? '' : 's'}` : ''})`,
    );
    report(0);
    const t0 = performance.now();
    const dir = mkdtempSync(path.join(scratch, 'rfl-cell-'));
    try {
      const run = path.join(dir, 'run');
      await runCell(cell, run, {
        datasets,
        resume: false,
        ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
        onRound: (r) => {
          report(r.round);
          opts.onRound?.(cell.id, r.round);
        },
      });
      const files = packRunDir(run);
      log(`cell ${cell.id}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s; sending its ${files.length} files back`);
      return { protocol: QUEUE_PROTOCOL, fingerprint, cell: cell.id, worker: name, files };
    } finally {
      current = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const worker = new Worker(queueName, processor, {
    connection: opts.target.connection,
    name,
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
  worker.on('failed', (job, err) => {
    if (job !== undefined) log(`job ${job.id}: failed: ${err.message}`);
  });
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
