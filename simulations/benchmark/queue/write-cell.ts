/**
 * The submitting side's one way into a matrix directory: a worker's result for a cell is checked whole, then the
 * cell is written exactly once, as a local run would have written it (`cells/<id>/`: the run's files and
 * `cell.json`). A result that fails a check changes nothing; a second result for a finished cell (a job that
 * completed again after a retry, a second submitter) is dropped, so no cell is ever counted twice.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ResultsFileSchema, RoundLineSchema } from '../../report/files.js';
import type { Cell } from '../matrix.js';
import { cellDir, cellFinished, cellJson } from '../run.js';
import { unpackFiles } from './cell-files.js';
import { CellResultSchema, firstIssue } from './protocol.js';

/** A result the submitter refuses; the message names the cell, the worker when known, and what is wrong. */
export class CellResultError extends Error {
  override readonly name = 'CellResultError';
}

/** Files every finished run directory holds (engine.ts and the coordinator's run store write them). */
const REQUIRED = ['cell.json', 'scenario.json', 'results.json', 'rounds.jsonl', 'metrics.jsonl'] as const;

/**
 * Checks `raw` (a job's return value, untrusted) as the result of `cell` of the matrix `fingerprint`, and writes
 * the cell into `out` unless it is already finished there. `scenarioText` is the `scenario.json` a local run of the
 * cell writes (the prepared scenario): a worker that ran anything else is refused. Returns what happened, and the
 * worker's name.
 */
export function writeCellOnce(out: string, cell: Cell, fingerprint: string, scenarioText: string, raw: unknown): { outcome: 'written' | 'duplicate'; worker: string } {
  const parsed = CellResultSchema.safeParse(raw);
  if (!parsed.success) throw new CellResultError(`cell ${cell.id}: the result is malformed (${firstIssue(parsed.error)}); nothing written`);
  const result = parsed.data;
  const from = `cell ${cell.id}: the result from worker ${JSON.stringify(result.worker)}`;
  if (result.fingerprint !== fingerprint || result.cell !== cell.id)
    throw new CellResultError(`${from} is for cell ${result.cell} of matrix ${result.fingerprint}, not for this one (${fingerprint}); nothing written`);
  let files: Map<string, Buffer>;
  try {
    files = unpackFiles(result.files);
  } catch (err) {
    throw new CellResultError(`${from}: ${(err as Error).message}; nothing written`);
  }
  for (const name of REQUIRED) if (!files.has(name)) throw new CellResultError(`${from} lacks ${name}; nothing written`);
  const text = (name: string): string => files.get(name)!.toString('utf8');
  if (text('cell.json') !== cellJson(cell)) throw new CellResultError(`${from} holds other cell coordinates (cell.json); nothing written`);
  if (text('scenario.json') !== scenarioText)
    throw new CellResultError(`${from} ran another scenario than this cell's (scenario.json differs: is the worker's robust-fl another version?); nothing written`);
  let results: Record<string, unknown>;
  try {
    results = JSON.parse(text('results.json')) as Record<string, unknown>;
  } catch (err) {
    throw new CellResultError(`${from}: results.json is not JSON (${(err as Error).message}); nothing written`);
  }
  const checked = ResultsFileSchema.safeParse(results);
  if (!checked.success) throw new CellResultError(`${from}: results.json: ${firstIssue(checked.error)}; nothing written`);
  if (checked.data.scenario !== cell.id) throw new CellResultError(`${from}: results.json is not this cell's run; nothing written`);
  text('rounds.jsonl')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .forEach((line, k) => {
      let ok: boolean;
      try {
        ok = RoundLineSchema.safeParse(JSON.parse(line)).success;
      } catch {
        ok = false;
      }
      if (!ok) throw new CellResultError(`${from}: rounds.jsonl line ${k + 1} is not a round record; nothing written`);
    });

  const dir = cellDir(out, cell.id);
  if (cellFinished(out, cell.id)) return { outcome: 'duplicate', worker: result.worker };
  // results.json records no run directory (engine.ts), so the worker's file is the one a local run writes. One
  // from an older worker that still names its scratch folder loses that field; every other byte is the worker's
  // (the round trip through JSON.parse and JSON.stringify keeps key order and numbers exactly).
  if ('runDir' in results) {
    delete results['runDir'];
    files.set('results.json', Buffer.from(JSON.stringify(results, null, 2) + '\n'));
  }
  // Written aside, then renamed into place in one step: the matrix never shows a half-written cell, and of two
  // results racing for one cell only one rename can land.
  const incoming = path.join(out, '.incoming', `${cell.id}.${randomBytes(6).toString('hex')}`);
  mkdirSync(incoming, { recursive: true });
  mkdirSync(path.dirname(dir), { recursive: true });
  try {
    for (const [name, content] of files) writeFileSync(path.join(incoming, name), content);
    if (cellFinished(out, cell.id)) return { outcome: 'duplicate', worker: result.worker };
    // An unfinished directory is what an interrupted local run left; a queued cell starts over, so it goes.
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(incoming, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && cellFinished(out, cell.id)) return { outcome: 'duplicate', worker: result.worker };
      throw err;
    }
    return { outcome: 'written', worker: result.worker };
  } finally {
    rmSync(incoming, { recursive: true, force: true });
  }
}
