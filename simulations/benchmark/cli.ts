/**
 * `rfl benchmark --config FILE|PRESET [--out DIR] [--set path=value ...] [--only SUBSTRING] [--cells ID,ID,...] [--shard K/N] [--workers N]
 *  [--queue redis://host:port [--queue-name NAME] [--attempts N] [--unreachable-after-s S]]`
 *
 * With `--queue`, the cells run on workers (`rfl benchmark worker`, on any machines) through a BullMQ queue in
 * that Redis, and this process writes each finished cell into the matrix directory as a local run would
 * (queue/submit.ts; docs/distributed.md). Without it, everything runs here, and nothing needs Redis.
 *
 * `--cells` runs exactly the listed cells in the listed order (a priority list); `--shard` then splits that list.
 *
 * `--shard K/N` runs every N-th cell from the K-th (0-based), so N processes (or machines sharing the output
 * directory) split one matrix between them; matrix.json must already exist or be written by the first.
 *
 * Runs a benchmark matrix (matrix.ts) with the simulation engine, resumably (run.ts). Presets live in
 * simulations/benchmark/presets/ (`--config quick` is short for the preset file). Then:
 * `rfl report DIR`. `npm run benchmark --` is an alias.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { initBackend } from '../../shared/compute/backend.js';
import { expandMatrix, loadMatrix } from './matrix.js';
import { runMatrix } from './run.js';
import { UsageError } from '../../shared/util/usage-error.js';
import { intFlag, numberFlag } from '../../shared/util/flags.js';
import { DEFAULT_QUEUE_NAME } from './queue/protocol.js';
import { parseRedisTarget } from './queue/redis-target.js';

/** The preset names in `dir` (its .yaml files). */
export function presetNames(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => f.slice(0, -5))
        .sort()
    : [];
}

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  config: { type: 'string' },
  out: { type: 'string' },
  set: { type: 'string', multiple: true, default: [] },
  only: { type: 'string' },
  cells: { type: 'string' },
  shard: { type: 'string' },
  workers: { type: 'string' },
  queue: { type: 'string' },
  'queue-name': { type: 'string', default: DEFAULT_QUEUE_NAME },
  attempts: { type: 'string', default: '3' },
  'unreachable-after-s': { type: 'string', default: '10' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const here = path.dirname(fileURLToPath(import.meta.url));
  const presets = path.resolve(here, '../../../simulations/benchmark/presets');
  if (values.config === undefined) throw new UsageError(`--config: give a matrix file or a preset name (${presetNames(presets).join(', ')})`, ['config']);
  const file = existsSync(values.config) ? values.config : path.join(presets, `${values.config}.yaml`);
  if (!existsSync(file)) throw new UsageError(`--config ${values.config}: no such file, and no preset of that name (presets: ${presetNames(presets).join(', ')})`, ['config']);
  const matrix = loadMatrix(file, values.set!);
  const out = values.out ?? path.join('runs', `benchmark-${matrix.name}`);
  const cells = expandMatrix(matrix);
  let shard: { index: number; count: number } | undefined;
  if (values.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(values.shard);
    if (m === null || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard ${values.shard}: expected K/N with 0 ≤ K < N, e.g. 0/4`, ['shard']);
    shard = { index: Number(m[1]), count: Number(m[2]) };
  }
  const matching = cells.filter((c) => values.only === undefined || c.id.includes(values.only)).length;
  if (matching === 0) throw new Error(`--only ${values.only}: no cell id contains it (ids look like ${cells[0]?.id ?? '…'})`);
  const levels = matrix.threats.some((t) => (t as { behavior?: unknown }).behavior !== undefined) ? ` × corruption ${matrix.corruption.join('/')}` : '';
  console.log(
    `matrix ${matrix.name}: ${cells.length} cells (${matrix.defenses.length} defenses${matrix.heterogeneity !== undefined ? ` × ${matrix.heterogeneity.length} heterogeneities` : ''} × ${matrix.threats.length} threats${levels} × seeds ${matrix.seeds.join(',')})${values.only !== undefined ? `, ${matching} matching --only` : ''}; writing ${out}`,
  );
  const cellList =
    values.cells !== undefined
      ? values.cells
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : undefined;
  const t0 = performance.now();
  if (values.queue !== undefined) {
    if (values.workers !== undefined) throw new UsageError('--workers: with --queue, each worker sets its own threads (rfl benchmark worker --workers N)', ['workers', 'queue']);
    const target = parseRedisTarget(values.queue);
    // Loaded only here: a run without --queue never touches BullMQ or Redis.
    const { submitMatrix } = await import('./queue/submit.js');
    const summary = await submitMatrix(matrix, {
      out,
      target,
      queueName: values['queue-name']!,
      overrides: values.set!,
      attempts: intFlag('attempts', values.attempts, 1),
      lostAfterMs: 1000 * numberFlag('unreachable-after-s', values['unreachable-after-s'], 0.5, 86400),
      ...(values.only !== undefined ? { only: values.only } : {}),
      ...(cellList !== undefined ? { cells: cellList } : {}),
      ...(shard !== undefined ? { shard } : {}),
    });
    console.log(
      `ran ${summary.ran.length} cells on the queue's workers, ${summary.skipped.length} already done${summary.retried.length > 0 ? `, ${summary.retried.length} retried` : ''}, in ${((performance.now() - t0) / 1000).toFixed(0)} s; report: rfl report ${out}`,
    );
    if (summary.failed.length > 0)
      throw new Error(
        `${summary.failed.length} cell${summary.failed.length === 1 ? '' : 's'} failed (${summary.failed.map((f) => f.id).join(', ')}); the lines above say why; submit the matrix again to retry them`,
      );
    return;
  }
  await initBackend();
  const summary = await runMatrix(matrix, {
    out,
    overrides: values.set!,
    ...(values.only !== undefined ? { only: values.only } : {}),
    ...(cellList !== undefined ? { cells: cellList } : {}),
    ...(shard !== undefined ? { shard } : {}),
    ...(values.workers !== undefined ? { workers: Number(values.workers) } : {}),
    onCell: (cell, r, k, n, ms) => {
      const acc = Object.entries(r.final.accuracy)
        .map(([a, v]) => `${a} ${(100 * v).toFixed(1)}`)
        .join(', ');
      console.log(`[${k}/${n}] ${cell.id}: ${acc}${r.final.asr !== undefined ? `, asr ${(100 * r.final.asr).toFixed(1)}` : ''} (${(ms / 1000).toFixed(0)} s)`);
    },
  });
  console.log(`ran ${summary.ran.length} cells, ${summary.skipped.length} already done, in ${((performance.now() - t0) / 1000).toFixed(0)} s; report: rfl report ${out}`);
}
