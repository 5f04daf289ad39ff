/**
 * `npm run benchmark -- --config FILE [--out DIR] [--set path=value ...] [--only SUBSTRING] [--workers N]`
 *
 * Runs every cell of a benchmark matrix (matrix.ts) with the simulation engine, one after another, each with
 * the whole worker pool. Resumable: a cell whose `results.json` exists is not run again; a cell left half-done
 * by an interrupted run is started over. Writes `matrix.json` and `cells/<id>/` (a simulation run directory plus
 * `cell.json`). Presets: simulations/benchmark/presets/ (`--config quick` is short for the preset file).
 * Then: `npm run report -- DIR --out DIR/report`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../shared/compute/backend.js';
import { loadDataset } from '../../shared/data/index.js';
import type { DatasetSplit } from '../../shared/data/dataset.js';
import { runSimulation } from '../engine.js';
import { expandMatrix, loadMatrix } from './matrix.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    out: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    only: { type: 'string' },
    workers: { type: 'string' },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const presets = path.resolve(here, '../../../simulations/benchmark/presets');
if (values.config === undefined) {
  console.error(`usage: npm run benchmark -- --config FILE|PRESET [--out DIR] [--set base.rounds=20 ...]; presets in ${path.relative(process.cwd(), presets)}`);
  process.exit(2);
}
const file = existsSync(values.config) ? values.config : path.join(presets, `${values.config}.yaml`);
try {
  const matrix = loadMatrix(file, values.set!);
  const cells = expandMatrix(matrix).filter((c) => values.only === undefined || c.id.includes(values.only));
  const out = values.out ?? path.join('runs', `benchmark-${matrix.name}`);
  mkdirSync(path.join(out, 'cells'), { recursive: true });
  const pkg = JSON.parse(readFileSync(path.resolve(here, '../../../package.json'), 'utf8')) as { version: string };
  const matrixFile = path.join(out, 'matrix.json');
  const meta = { name: matrix.name, description: matrix.description, config: matrix, overrides: values.set, createdAt: new Date().toISOString(), software: { node: process.version, tfjs: tf.version.tfjs, robustFl: pkg.version }, machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length } };
  if (existsSync(matrixFile)) {
    const before = JSON.parse(readFileSync(matrixFile, 'utf8')) as { config: unknown };
    if (JSON.stringify(before.config) !== JSON.stringify(matrix)) throw new Error(`${out} holds a different matrix (${matrixFile}); resume with the same --config and --set, or choose another --out`);
  } else writeFileSync(matrixFile, JSON.stringify(meta, null, 2) + '\n');
  await initBackend();
  const datasets = new Map<string, DatasetSplit>();
  const done = cells.filter((c) => existsSync(path.join(out, 'cells', c.id, 'results.json'))).length;
  console.log(`matrix ${matrix.name}: ${cells.length} cells (${matrix.defenses.length} defenses × ${matrix.threats.length} threats × corruption ${matrix.corruption.join('/')} × seeds ${matrix.seeds.join(',')}), ${done} already done; writing ${out}`);
  const t0 = performance.now();
  let k = 0;
  for (const cell of cells) {
    k++;
    const dir = path.join(out, 'cells', cell.id);
    const { scenario: _s, ...coords } = cell;
    if (existsSync(path.join(dir, 'results.json'))) {
      if (!existsSync(path.join(dir, 'cell.json'))) writeFileSync(path.join(dir, 'cell.json'), JSON.stringify(coords, null, 2) + '\n');
      continue;
    }
    // A cell without results was interrupted: its partial files would mix with a new run's.
    rmSync(dir, { recursive: true, force: true });
    const s = cell.scenario;
    const key = `${s.dataset}\u0000${s.dataDir ?? ''}`;
    if (!datasets.has(key)) datasets.set(key, loadDataset(s.dataset, s.dataDir !== undefined ? { dir: s.dataDir } : {}));
    const tc = performance.now();
    const r = await runSimulation({ scenario: s, runDir: dir, data: datasets.get(key)!, ...(values.workers !== undefined ? { workers: Number(values.workers) } : {}) });
    writeFileSync(path.join(dir, 'cell.json'), JSON.stringify(coords, null, 2) + '\n');
    const acc = Object.entries(r.final.accuracy).map(([a, v]) => `${a} ${(100 * v).toFixed(1)}`).join(', ');
    console.log(`[${k}/${cells.length}] ${cell.id}: ${acc}${r.final.asr !== undefined ? `, asr ${(100 * r.final.asr).toFixed(1)}` : ''} (${((performance.now() - tc) / 1000).toFixed(0)} s)`);
  }
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s; report: npm run report -- ${out} --out ${path.join(out, 'report')}`);
} catch (err) {
  const e = err as Error & { fields?: string[] };
  console.error(`benchmark: ${e.message}`);
  process.exit(e.fields !== undefined ? 2 : 1);
}
