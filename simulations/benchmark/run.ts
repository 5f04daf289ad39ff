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

/** Runs every cell of `matrix` not yet finished in `opts.out`. */
export async function runMatrix(matrix: MatrixConfig, opts: RunMatrixOptions): Promise<RunMatrixSummary> {
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
  const cells = listed.filter((_, k) => shard === undefined || k % shard.count === shard.index).filter((c) => opts.only === undefined || c.id.includes(opts.only));
  mkdirSync(path.join(opts.out, 'cells'), { recursive: true });
  const matrixFile = path.join(opts.out, 'matrix.json');
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
      throw new Error(`${opts.out} holds a different matrix (${matrixFile}); resume with the same configuration and overrides, or choose another output directory`);
  } else {
    const pkg = JSON.parse(readFileSync(path.resolve(here, '../../../package.json'), 'utf8')) as { version: string };
    const meta = {
      name: matrix.name,
      description: matrix.description,
      config: matrix,
      overrides: opts.overrides ?? [],
      createdAt: new Date().toISOString(),
      software: { node: process.version, tfjs: tf.version.tfjs, robustFl: pkg.version },
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length },
    };
    writeFileSync(matrixFile, JSON.stringify(meta, null, 2) + '\n');
  }
  const datasets = new Map<string, DatasetSplit>(opts.datasets ?? []);
  const summary: RunMatrixSummary = { cells: cells.length, ran: [], skipped: [] };
  let k = 0;
  for (const cell of cells) {
    k++;
    const dir = path.join(opts.out, 'cells', cell.id);
    const { scenario, ...coords } = cell;
    const writeCell = (): void => writeFileSync(path.join(dir, 'cell.json'), JSON.stringify(coords, null, 2) + '\n');
    if (existsSync(path.join(dir, 'results.json'))) {
      if (!existsSync(path.join(dir, 'cell.json'))) writeCell();
      summary.skipped.push(cell.id);
      continue;
    }
    // A cell without results was interrupted: it continues from its checkpoint, or, stopped before its first
    // round ended, starts over (its partial files would mix with a new run's).
    const resume = resumableRun(dir);
    if (!resume) rmSync(dir, { recursive: true, force: true });
    const key = scenario.dataDir !== undefined ? `${scenario.dataset}:${scenario.dataDir}` : scenario.dataset;
    if (!datasets.has(key)) datasets.set(key, loadDataset(scenario.dataset, scenario.dataDir !== undefined ? { dir: scenario.dataDir } : {}));
    const t0 = performance.now();
    const result = await runSimulation({
      scenario,
      runDir: dir,
      data: datasets.get(key)!,
      resume,
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
      ...(opts.log !== undefined ? { log: opts.log } : {}),
      ...(opts.onRound !== undefined ? { onRound: (r: SimRoundRecord) => opts.onRound!(cell, r) } : {}),
    });
    writeCell();
    summary.ran.push(cell.id);
    opts.onCell?.(cell, result, k, cells.length, performance.now() - t0);
  }
  return summary;
}
