/**
 * What a queue worker does with one job: read it as a cell (refusing a bad one, `cellOfJob`), run the cell exactly
 * as a local matrix run does (run.ts `runCell`, in a scratch folder), report its rounds as job progress, and return
 * the cell's files (protocol.ts `CellResult`). It runs inside BullMQ's sandbox, on a worker thread of the worker
 * process (cell-sandbox.ts), so that a simulation's own work on its thread never delays the renewal of the job's
 * lock, which the worker's main thread does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { initBackend, type BackendName } from '../../../shared/compute/backend.js';
import type { DatasetSplit } from '../../../shared/data/dataset.js';
import { expandMatrix, parseMatrix, type Cell } from '../matrix.js';
import { runCell } from '../run.js';
import { packRunDir } from './cell-files.js';
import { CELL_JOB, CellJobSchema, firstIssue, jobIdOf, matrixFingerprint, QUEUE_PROTOCOL, type CellProgress, type CellResult } from './protocol.js';

/** The settings a worker hands its processor (as the sandbox thread's workerData). */
export interface CellProcessorSettings {
  /** The worker's name, carried by progress and results. */
  name: string;
  /** Worker threads of each cell's simulation (default: the matrix's, else one per core). */
  workers?: number;
  /** Where cells run before their files are sent back (default: the system's temporary folder). */
  scratch?: string;
  backend?: BackendName;
  /** Run warm-up.ts's tiny simulation when the sandbox thread starts, before the first cell (default true). */
  warmUp?: boolean;
}

/** The parts of a BullMQ job (in the sandbox: a SandboxedJob) the processor uses. */
export type CellJobLike = Pick<Job, 'id' | 'name' | 'data' | 'attemptsStarted' | 'stalledCounter'> & { updateProgress(value: object): Promise<void> };

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

/** Datasets loaded by earlier cells of this thread (a worker keeps its thread between cells). */
const datasets = new Map<string, DatasetSplit>();

/** Runs a job's cell; `onRound` is told each completed round (tests stop the process there). */
export async function processCell(job: CellJobLike, s: CellProcessorSettings, onRound?: (cell: string, round: number) => void): Promise<CellResult> {
  const { cell, fingerprint, matrixName } = cellOfJob(job);
  await initBackend({ quiet: true, ...(s.backend !== undefined ? { backend: s.backend } : {}) });
  const rounds = cell.scenario.federated.rounds;
  // Not awaited: while Redis is away a progress report waits for it, and the cell must not.
  const report = (round: number): void => {
    const p: CellProgress = { worker: s.name, round, rounds };
    job.updateProgress(p).catch(() => undefined);
  };
  console.error(
    `cell ${cell.id} of matrix ${matrixName}: running (attempt ${job.attemptsStarted}${job.stalledCounter > 0 ? `, after ${job.stalledCounter} stall${job.stalledCounter === 1 ? '' : 's'}` : ''})`,
  );
  report(0);
  const t0 = performance.now();
  const dir = mkdtempSync(path.join(s.scratch ?? os.tmpdir(), 'rfl-cell-'));
  try {
    const run = path.join(dir, 'run');
    await runCell(cell, run, {
      datasets,
      resume: false,
      ...(s.workers !== undefined ? { workers: s.workers } : {}),
      // The pool's workers compute on the worker's backend too, and results.json names the one they used.
      ...(s.backend !== undefined ? { backend: s.backend } : {}),
      onRound: (r) => {
        report(r.round);
        onRound?.(cell.id, r.round);
      },
    });
    const files = packRunDir(run);
    console.error(`cell ${cell.id}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s; sending its ${files.length} files back`);
    return { protocol: QUEUE_PROTOCOL, fingerprint, cell: cell.id, worker: s.name, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
