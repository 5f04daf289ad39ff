/**
 * Runs a benchmark matrix cell by cell with the simulation engine, each cell with the whole worker pool.
 * Resumable: a cell whose `results.json` exists is not run again; a cell left half-done by an interrupted run
 * continues from its last completed round (engine.ts `resumableRun`; its checkpoint is kept beside it), or is
 * started over when it stopped before its first. Writes `matrix.json` and `cells/<id>/` (a simulation run
 * directory plus `cell.json`).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../../shared/data/index.js';
import type { DatasetSplit } from '../../shared/data/dataset.js';
import type { BackendName } from '../../shared/compute/backend.js';
import { resumableRun, runSimulation, type SimRoundRecord, type SimulationResult } from '../engine.js';
import { expandMatrix, parseMatrix, type Cell, type MatrixConfig } from './matrix.js';

/** Options of `runMatrix`. */
export interface RunMatrixOptions {
  /** Output directory (created). */
  out: string;
  /** Run only cells whose id contains this. */
  only?: string;
  /**
   * Run only these cells, by exact id, in this order (a priority list: the cells a comparison needs first).
   * `shard` then splits this list rather than the matrix. An id the matrix does not have is an error.
   */
  cells?: readonly string[];
  /**
   * Run only shard `index` of `count` (cells whose position in the matrix is ≡ index mod count), so several
   * processes or machines can share one matrix directory; each writes only its own cells.
   */
  shard?: { index: number; count: number };
  /** Worker threads per simulation. */
  workers?: number;
  /** The overrides the matrix was loaded with (recorded in matrix.json). */
  overrides?: readonly string[];
  /** Datasets by name, already loaded (tests pass synthetic data); others are loaded by name. */
  datasets?: ReadonlyMap<string, DatasetSplit>;
  /** Each finished cell (skipped ones are not reported). */
  onCell?: (cell: Cell, result: SimulationResult, index: number, total: number, ms: number) => void;
  /** Each completed round of a cell (progress displays; tests stop a process here). */
  onRound?: (cell: Cell, record: SimRoundRecord) => void;
  /** Log sink of the simulations (default: their simulation.log). */
  log?: (line: string) => void;
}

/** What `runMatrix` did. */
export interface RunMatrixSummary {
  cells: number;
  ran: string[];
  skipped: string[];
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The cells `opts` selects, in run order: the priority list or the matrix, then the shard, then `only`. */
export function selectCells(matrix: MatrixConfig, opts: Pick<RunMatrixOptions, 'only' | 'cells' | 'shard'>): Cell[] {
  const shard = opts.shard;
  const all = expandMatrix(matrix);
  const listed =
    opts.cells === undefined
      ? all
      : opts.cells.map((id) => {
          const cell = all.find((c) => c.id === id);
          if (cell === undefined) throw new Error(`cell ${id}: the matrix has no such cell (ids look like ${all[0]?.id ?? '…'})`);
          return cell;
        });
  return listed.filter((_, k) => shard === undefined || k % shard.count === shard.index).filter((c) => opts.only === undefined || c.id.includes(opts.only));
}

/**
 * Creates `out/cells/` and writes `out/matrix.json` (configuration, overrides, software, machine), or checks that
 * the matrix already there is this one: a directory holds one matrix, whoever runs its cells.
 */
export function prepareMatrixDir(matrix: MatrixConfig, out: string, overrides: readonly string[] = []): void {
  mkdirSync(path.join(out, 'cells'), { recursive: true });
  const matrixFile = path.join(out, 'matrix.json');
  if (existsSync(matrixFile)) {
    const before = JSON.parse(readFileSync(matrixFile, 'utf8')) as { config: unknown };
    // Re-parsed, so a matrix written before a field existed compares with that field's default.
    let stored: unknown = before.config;
    try {
      stored = parseMatrix(before.config);
    } catch {
      // An unparseable stored matrix simply differs.
    }
    if (JSON.stringify(stored) !== JSON.stringify(matrix))
      throw new Error(`${out} holds a different matrix (${matrixFile}); resume with the same configuration and overrides, or choose another output directory`);
  } else {
    const pkg = JSON.parse(readFileSync(path.resolve(here, '../../../package.json'), 'utf8')) as { version: string };
    const meta = {
      name: matrix.name,
      description: matrix.description,
      config: matrix,
      overrides,
      createdAt: new Date().toISOString(),
      software: { node: process.version, tfjs: tf.version.tfjs, robustFl: pkg.version },
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length },
    };
    writeFileSync(matrixFile, JSON.stringify(meta, null, 2) + '\n');
  }
}

/** A cell's directory in a matrix directory. */
export function cellDir(out: string, id: string): string {
  return path.join(out, 'cells', id);
}

/** Whether a cell of the matrix in `out` is finished (its results.json exists). */
export function cellFinished(out: string, id: string): boolean {
  return existsSync(path.join(cellDir(out, id), 'results.json'));
}

/** The text of a cell's `cell.json`: its coordinates (every field of the cell but its scenario). */
export function cellJson(cell: Cell): string {
  const { scenario: _scenario, ...coords } = cell;
  return JSON.stringify(coords, null, 2) + '\n';
}

/** Options of `runCell`: those of `runMatrix` that concern one cell, and whether to resume. */
export interface RunCellOptions {
  /** Loaded datasets by key (`name` or `name:dataDir`); a dataset not there is loaded and added. */
  datasets: Map<string, DatasetSplit>;
  workers?: number;
  /** Compute backend of the simulation: its main thread and its pool's workers (default: the automatic choice). */
  backend?: BackendName;
  log?: (line: string) => void;
  onRound?: (record: SimRoundRecord) => void;
  /** Continue the run in `dir` from its checkpoint (engine.ts `resumableRun`). */
  resume: boolean;
}

/**
 * Runs one cell into `dir` (a simulation run directory) and writes its `cell.json` beside the run's files: what
 * a matrix directory holds per cell, whether the cell ran here or on a queue worker (queue/worker.ts).
 */
export async function runCell(cell: Cell, dir: string, opts: RunCellOptions): Promise<SimulationResult> {
  const { scenario } = cell;
  const key = scenario.dataDir !== undefined ? `${scenario.dataset}:${scenario.dataDir}` : scenario.dataset;
  if (!opts.datasets.has(key)) opts.datasets.set(key, loadDataset(scenario.dataset, scenario.dataDir !== undefined ? { dir: scenario.dataDir } : {}));
  const result = await runSimulation({
    scenario,
    runDir: dir,
    data: opts.datasets.get(key)!,
    resume: opts.resume,
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
    ...(opts.onRound !== undefined ? { onRound: opts.onRound } : {}),
  });
  writeFileSync(path.join(dir, 'cell.json'), cellJson(cell));
  return result;
}

/** Runs every cell of `matrix` not yet finished in `opts.out`. */
export async function runMatrix(matrix: MatrixConfig, opts: RunMatrixOptions): Promise<RunMatrixSummary> {
  const cells = selectCells(matrix, opts);
  prepareMatrixDir(matrix, opts.out, opts.overrides ?? []);
  const datasets = new Map<string, DatasetSplit>(opts.datasets ?? []);
  const summary: RunMatrixSummary = { cells: cells.length, ran: [], skipped: [] };
  let k = 0;
  for (const cell of cells) {
    k++;
    const dir = cellDir(opts.out, cell.id);
    if (cellFinished(opts.out, cell.id)) {
      if (!existsSync(path.join(dir, 'cell.json'))) writeFileSync(path.join(dir, 'cell.json'), cellJson(cell));
      summary.skipped.push(cell.id);
      continue;
    }
    // A cell without results was interrupted: it continues from its checkpoint, or, stopped before its first
    // round ended, starts over (its partial files would mix with a new run's).
    const resume = resumableRun(dir);
    if (!resume) rmSync(dir, { recursive: true, force: true });
    const t0 = performance.now();
    const result = await runCell(cell, dir, {
      datasets,
      resume,
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
      ...(opts.log !== undefined ? { log: opts.log } : {}),
      ...(opts.onRound !== undefined ? { onRound: (r: SimRoundRecord) => opts.onRound!(cell, r) } : {}),
    });
    summary.ran.push(cell.id);
    opts.onCell?.(cell, result, k, cells.length, performance.now() - t0);
  }
  return summary;
}
