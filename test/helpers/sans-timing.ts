/**
 * A matrix's files and report with their timings masked, so that two runs of the same seeds compare equal exactly
 * when everything but elapsed times (and the dates and memory figures beside them) is byte-identical: how the
 * distributed-matrix tests show that `rfl report` cannot tell a queue run from a local one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** Fields of results.json that measure the run rather than its outcome. */
const MEASURED = ['wallMs', 'rssMb', 'connectedRssMb', 'roundMs', 'trainMs', 'bvaMs', 'secaggMs', 'otherMs', 'evalMs', 'clientUpdatesPerSec', 'connectMs'];

/** results.json's text with measured numbers, the date and the run directory (`runDir`, given) masked; every other byte kept. */
export function resultsSansTiming(text: string, runDir: string): string {
  let out = text.replace(new RegExp(`("(?:${MEASURED.join('|')})": )-?[0-9][0-9.e+-]*`, 'g'), '$1<measured>');
  out = out.replace(/("date": )"[^"]*"/, '$1<date>');
  return out.split(JSON.stringify(runDir)).join('<runDir>');
}

/**
 * A JSON-lines file with each line's `ms` (wall times) and `mainTensors` dropped: the latter counts every live
 * tensor of the process's main thread, which for a run inside the test process includes what earlier tests left.
 */
export function jsonlSansTiming(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const { ms: _ms, mainTensors: _mainTensors, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

/** The files of cell `id` under matrix directory `out` that a local and a queue run must share, timings masked. */
export function cellSansTiming(out: string, id: string): Record<string, unknown> {
  const dir = path.join(out, 'cells', id);
  const read = (f: string): string => readFileSync(path.join(dir, f), 'utf8');
  return {
    files: readdirSync(dir).sort(),
    'cell.json': read('cell.json'),
    'scenario.json': read('scenario.json'),
    'results.json': resultsSansTiming(read('results.json'), dir),
    'rounds.jsonl': jsonlSansTiming(read('rounds.jsonl')),
    'metrics.jsonl': jsonlSansTiming(read('metrics.jsonl')),
  };
}

/** Columns of the report's CSV files that hold timings, dates or memory. */
const TIMING_COLUMN = /^(timing\.|ms\.|wallMs$|rssMb$|connectedRssMb$|date$)/;

function csvSansTiming(text: string): string[][] {
  // The report's CSV quotes no field that these tests' cells produce with a comma, so a plain split is exact here.
  const rows = text
    .trim()
    .split('\n')
    .map((l) => l.split(','));
  const keep = rows[0]!.map((h) => !TIMING_COLUMN.test(h));
  return rows.map((r) => r.filter((_, k) => keep[k]));
}

/**
 * The report in `dir` (rfl report's output) without what measures the run: section 7 (cost: time per round) and
 * its chart, the timing columns and rows of the CSV files, and the dates.
 */
export function reportSansTiming(dir: string): Record<string, unknown> {
  const md = readFileSync(path.join(dir, 'report.md'), 'utf8');
  const cost = md.indexOf('\n## 7. Cost');
  const next = md.indexOf('\n## 8.', cost);
  const out: Record<string, unknown> = {
    'report.md': (md.slice(0, cost) + md.slice(next)).replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, '<date>'),
    'cells.csv': csvSansTiming(readFileSync(path.join(dir, 'cells.csv'), 'utf8')),
    'rounds.csv': csvSansTiming(readFileSync(path.join(dir, 'rounds.csv'), 'utf8')),
    'summary.csv': csvSansTiming(readFileSync(path.join(dir, 'summary.csv'), 'utf8')).filter((r) => !r.some((f) => /^(timing\.|wallMs|rssMb|connectedRssMb)/.test(f))),
  };
  for (const f of ['curves.csv', 'worst-case.csv', 'paired.csv']) out[f] = readFileSync(path.join(dir, f), 'utf8');
  for (const f of readdirSync(path.join(dir, 'charts')).filter((c) => c !== 'time.svg')) out[`charts/${f}`] = readFileSync(path.join(dir, 'charts', f), 'utf8');
  return out;
}
