/**
 * `rfl benchmark --queue redis://host:port`: the submitting side of a distributed matrix. It puts every unfinished
 * cell on a BullMQ queue (one job per cell, the job id made of the matrix fingerprint and the cell id), follows the
 * jobs through QueueEvents (which worker runs which cell, at which round; stalls, retries, failures), and writes
 * each finished cell into the matrix directory exactly as a local run would (write-cell.ts), once.
 *
 * What BullMQ does: retries (`attempts`), stalled-job detection (a worker killed mid-cell loses its lock, and the
 * cell goes back to the queue to start over on another worker), one job per id. What this adds: Redis may lose
 * its data (a restart without persistence), so after Redis comes back, and every `reconcileMs`, every cell still
 * awaited is looked up and queued again if its job is gone; a completion missed while disconnected is found the
 * same way. The submitter may stop and start again at any time: finished jobs keep their results in Redis until it
 * has written them.
 */
import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Job, Queue, QueueEvents } from 'bullmq';
import { prepareScenario } from '../../scenario.js';
import type { Cell, MatrixConfig } from '../matrix.js';
import { cellDir, cellFinished, cellJson, prepareMatrixDir, selectCells } from '../run.js';
import { LINK_CHECK_KEY, LinkMonitor } from './link-monitor.js';
import { QueueProgress } from './progress.js';
import { CELL_JOB, CellProgressSchema, cellIdOf, DEFAULT_QUEUE_NAME, firstIssue, jobIdOf, matrixFingerprint, QUEUE_PROTOCOL, type CellJob } from './protocol.js';
import type { RedisTarget } from './redis-target.js';
import { CellResultError, writeCellOnce } from './write-cell.js';

/** Options of `submitMatrix`. */
export interface SubmitOptions {
  /** The matrix directory (matrix.json, cells/). */
  out: string;
  target: RedisTarget;
  /** BullMQ queue name (default `rfl-cells`); the workers must use the same. */
  queueName?: string;
  /** The overrides the matrix was loaded with (recorded in matrix.json). */
  overrides?: readonly string[];
  only?: string;
  cells?: readonly string[];
  shard?: { index: number; count: number };
  /** Attempts per cell before it counts as failed: a cell whose simulation throws is tried again (default 3). */
  attempts?: number;
  /** No answer from Redis for this long: say so (ms, default 10,000); also how long the first connection may take. */
  lostAfterMs?: number;
  /** How often every awaited cell is looked up in Redis (ms, default 10,000). */
  reconcileMs?: number;
  /** Progress and messages, one line each (default: stdout). */
  log?: (line: string) => void;
  /** Every change of the progress (tests act on it: they kill a worker running a given cell). */
  onProgress?: (p: QueueProgress) => void;
  /** Stops waiting (the cells stay queued, and a later submission picks them up) and closes the connections. */
  signal?: AbortSignal;
}

/** What `submitMatrix` did. */
export interface SubmitSummary {
  cells: number;
  /** Cells written from workers' results, in the order they were written. */
  ran: string[];
  /** Cells already finished in the matrix directory. */
  skipped: string[];
  /** Cells that failed for good (attempts spent, refused by a worker, or a result refused here), with why. */
  failed: { id: string; reason: string }[];
  /** Cells that went back to the queue at least once (a worker stalled, an attempt failed, a lost job). */
  retried: string[];
  /** Results dropped because their cell was already written (never counted twice). */
  duplicates: number;
  /** The worker that ran each written cell. */
  workers: Record<string, string>;
}

/** Runs the unfinished cells of `matrix` on the queue's workers; resolves once each is written or failed for good. */
export async function submitMatrix(matrix: MatrixConfig, opts: SubmitOptions): Promise<SubmitSummary> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const lostAfterMs = opts.lostAfterMs ?? 10_000;
  const selected = selectCells(matrix, opts);
  prepareMatrixDir(matrix, opts.out, opts.overrides ?? []);
  const fingerprint = matrixFingerprint(matrix);
  const summary: SubmitSummary = { cells: selected.length, ran: [], skipped: [], failed: [], retried: [], duplicates: 0, workers: {} };
  const awaited = new Map<string, Cell>();
  for (const cell of selected) {
    if (!cellFinished(opts.out, cell.id)) awaited.set(cell.id, cell);
    else {
      // As a local run does for a finished cell.
      const file = path.join(cellDir(opts.out, cell.id), 'cell.json');
      if (!existsSync(file)) writeFileSync(file, cellJson(cell));
      summary.skipped.push(cell.id);
    }
  }
  if (awaited.size === 0) return summary;
  // The scenario.json a local run of each cell writes: a worker's result must hold exactly this.
  const scenarioTexts = new Map<string, string>();
  for (const cell of awaited.values()) scenarioTexts.set(cell.id, JSON.stringify(await prepareScenario(cell.scenario), null, 2) + '\n');

  const queueName = opts.queueName ?? DEFAULT_QUEUE_NAME;
  const shown = `${opts.target.shown} (queue ${queueName})`;
  const queue = new Queue<CellJob>(queueName, { connection: opts.target.connection, streams: { events: { maxLen: 2000 } } });
  const seenErrors = new Set<string>();
  const monitor = new LinkMonitor({
    ping: async () => (await queue.client).get(LINK_CHECK_KEY),
    target: opts.target.shown,
    lostAfterMs,
    log,
    onBack: () => {
      seenErrors.clear();
      scheduleReconcile();
    },
  });
  const onError = (err: Error): void => {
    // Printed once each while Redis answers; while it does not, the monitor's one line says it all.
    if (monitor.noteError(err) && !seenErrors.has(err.message)) {
      seenErrors.add(err.message);
      log(`queue: Redis error: ${err.message}`);
    }
  };
  queue.on('error', onError);
  try {
    // A wrong address fails here, in one line, rather than waiting for ever.
    await Promise.race([
      queue.waitUntilReady(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`cannot reach Redis at ${shown} within ${lostAfterMs / 1000} s; start it (docs/distributed.md) or check --queue`)), lostAfterMs).unref(),
      ),
    ]);
  } catch (err) {
    await queue.close().catch(() => undefined);
    throw err;
  }
  // Created once Redis answers: QueueEvents cannot be closed before its connection is ready.
  const events = new QueueEvents(queueName, { connection: opts.target.connection });
  events.on('error', onError);

  const progress = new QueueProgress(awaited.size);
  const report = (): void => {
    log(progress.line());
    opts.onProgress?.(progress);
  };
  let finish!: () => void;
  let abort!: (err: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    abort = reject;
  });
  const onAbort = (): void => abort(new Error(`queue: stopped waiting for ${awaited.size} cell${awaited.size === 1 ? '' : 's'}; they stay queued, and submitting the matrix again picks them up`));
  if (opts.signal?.aborted === true) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // Every event and every look-up runs in turn, so two reports about one cell never interleave.
  let chain = Promise.resolve();
  const schedule = (step: () => Promise<void>): void => {
    chain = chain
      .then(step)
      .catch((err: unknown) => log(`queue: ${(err as Error).message}`))
      .then(() => {
        if (awaited.size === 0) finish();
      });
  };
  const jobOf = (id: string): string => jobIdOf(fingerprint, id);
  const attempts = opts.attempts ?? 3;
  const add = (cell: Cell): Promise<unknown> =>
    queue.add(
      CELL_JOB,
      { protocol: QUEUE_PROTOCOL, fingerprint, matrix: matrix as unknown as Record<string, unknown>, cell: cell.id },
      {
        jobId: jobOf(cell.id),
        attempts,
        backoff: { type: 'fixed', delay: 1000 },
        removeOnComplete: false,
        removeOnFail: false,
      },
    );

  const retried = (id: string): void => {
    if (!summary.retried.includes(id)) summary.retried.push(id);
  };
  const failFor = (id: string, reason: string): void => {
    awaited.delete(id);
    progress.running.delete(id);
    progress.failed++;
    summary.failed.push({ id, reason });
    log(`queue: cell ${id} failed: ${reason}`);
    report();
  };
  const running = async (id: string, job?: Job): Promise<void> => {
    const j = job ?? (await Job.fromId(queue, jobOf(id)));
    const cell = awaited.get(id);
    if (cell === undefined || j === undefined) return;
    progress.running.set(id, { worker: j.processedBy ?? 'a worker', round: 0, rounds: cell.scenario.federated.rounds });
    report();
  };
  const completed = async (id: string, job?: Job): Promise<void> => {
    const cell = awaited.get(id);
    if (cell === undefined) return;
    const j = job ?? (await Job.fromId(queue, jobOf(id)));
    if (j === undefined || (await j.getState()) !== 'completed') return;
    let outcome: 'written' | 'duplicate';
    let worker: string;
    try {
      ({ outcome, worker } = writeCellOnce(opts.out, cell, fingerprint, scenarioTexts.get(id)!, j.returnvalue));
    } catch (err) {
      if (!(err instanceof CellResultError)) throw err;
      // Removed, so that submitting the matrix again queues the cell anew.
      await j.remove().catch(() => undefined);
      failFor(id, err.message);
      return;
    }
    awaited.delete(id);
    progress.running.delete(id);
    progress.done++;
    if (outcome === 'duplicate') {
      summary.duplicates++;
      log(`queue: cell ${id}: a second result (from ${worker}) for a cell already written; dropped`);
    } else {
      summary.ran.push(id);
      summary.workers[id] = worker;
      const results = JSON.parse(readFileSync(path.join(cellDir(opts.out, id), 'results.json'), 'utf8')) as { final: { accuracy: Record<string, number>; asr?: number }; wallMs: number };
      const acc = Object.entries(results.final.accuracy)
        .map(([a, v]) => `${a} ${(100 * v).toFixed(1)}`)
        .join(', ');
      log(
        `[${progress.done}/${progress.total}] ${id}: ${acc}${results.final.asr !== undefined ? `, asr ${(100 * results.final.asr).toFixed(1)}` : ''} (${(results.wallMs / 1000).toFixed(0)} s on ${worker})`,
      );
    }
    report();
    // The cell is in the matrix directory now; its job (and its copy of the files) can go.
    await j.remove().catch(() => undefined);
  };
  const failed = async (id: string, job?: Job): Promise<void> => {
    if (!awaited.has(id)) return;
    const j = job ?? (await Job.fromId(queue, jobOf(id)));
    if (j === undefined) return;
    const state = await j.getState();
    if (state === 'failed') {
      await j.remove().catch(() => undefined);
      failFor(id, `${j.failedReason} (after ${j.attemptsMade} attempt${j.attemptsMade === 1 ? '' : 's'}; submit the matrix again to retry it)`);
    } else if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      const was = progress.running.get(id)?.worker;
      progress.running.delete(id);
      retried(id);
      log(`queue: cell ${id}: attempt ${j.attemptsMade} of ${attempts}${was !== undefined ? ` on ${was}` : ''} failed (${j.failedReason}); it goes back to the queue`);
      report();
    }
  };
  let reconciling = false;
  /** Looks every awaited cell up: gone jobs are queued again, missed completions and failures handled. */
  const reconcile = async (first = false): Promise<void> => {
    reconciling = false;
    for (const id of [...awaited.keys()]) {
      const cell = awaited.get(id);
      if (cell === undefined) continue;
      const state = await queue.getJobState(jobOf(id));
      if (state === 'completed') await completed(id);
      else if (state === 'failed' && first) {
        const j = await Job.fromId(queue, jobOf(id));
        log(`queue: cell ${id} failed in an earlier submission (${j?.failedReason ?? 'no reason kept'}); trying it again`);
        await j?.retry('failed');
      } else if (state === 'failed') await failed(id);
      else if (state === 'unknown') {
        if (progress.running.delete(id)) report();
        retried(id);
        log(`queue: cell ${id}: its job is gone from the queue (Redis restarted without its data?); queued again`);
        await add(cell);
      } else if (state === 'active' && !progress.running.has(id)) await running(id);
    }
  };
  const scheduleReconcile = (): void => {
    // One look-up pending at a time, however long Redis stays away.
    if (reconciling) return;
    reconciling = true;
    schedule(() => reconcile());
  };

  events.on('active', ({ jobId }) => {
    const id = cellIdOf(fingerprint, jobId);
    if (id !== undefined) schedule(() => running(id));
  });
  events.on('progress', ({ jobId, data }) => {
    const id = cellIdOf(fingerprint, jobId);
    if (id === undefined || !awaited.has(id)) return;
    const p = CellProgressSchema.safeParse(data);
    if (!p.success) {
      log(`queue: cell ${id}: ignored a malformed progress report (${firstIssue(p.error)})`);
      return;
    }
    const before = progress.running.get(id);
    if (before?.round === p.data.round && before.worker === p.data.worker) return;
    progress.running.set(id, { worker: p.data.worker, round: p.data.round, rounds: p.data.rounds });
    report();
  });
  events.on('stalled', ({ jobId }) => {
    const id = cellIdOf(fingerprint, jobId);
    if (id === undefined || !awaited.has(id)) return;
    const was = progress.running.get(id)?.worker;
    progress.running.delete(id);
    retried(id);
    log(`queue: cell ${id}: ${was ?? 'its worker'} stopped answering (its lock expired: killed, or cut off from Redis); the cell goes back to the queue and starts over`);
    report();
  });
  events.on('completed', ({ jobId }) => {
    const id = cellIdOf(fingerprint, jobId);
    if (id !== undefined) schedule(() => completed(id));
  });
  events.on('failed', ({ jobId }) => {
    const id = cellIdOf(fingerprint, jobId);
    if (id !== undefined) schedule(() => failed(id));
  });

  let timer: NodeJS.Timeout | undefined;
  try {
    await events.waitUntilReady();
    monitor.start();
    log(
      `queue: ${awaited.size} cell${awaited.size === 1 ? '' : 's'} to run on ${shown}${summary.skipped.length > 0 ? ` (${summary.skipped.length} already done)` : ''}; start workers with: rfl benchmark worker --queue ${opts.target.shown}${queueName !== DEFAULT_QUEUE_NAME ? ` --queue-name ${queueName}` : ''}`,
    );
    // QueueEvents is listening before any job exists, so no event of these jobs is missed.
    for (const cell of awaited.values()) await add(cell);
    report();
    schedule(() => reconcile(true));
    timer = setInterval(scheduleReconcile, opts.reconcileMs ?? 10_000);
    await finished;
    await chain;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (timer !== undefined) clearInterval(timer);
    monitor.stop();
    await events.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
    try {
      rmdirSync(path.join(opts.out, '.incoming'));
    } catch {
      // Absent, or not empty (another submitter writing): left as it is.
    }
  }
  return summary;
}
