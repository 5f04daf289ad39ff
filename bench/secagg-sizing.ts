/**
 * `rfl bench secagg-sizing [--samples N] [--ns 100,500,1000] [--dropouts 0,0.1,0.3] [--corrupted 0.05] [--out FILE]`
 *
 * SecAgg+ sized for its promise (shared/secagg/sizing.ts, docs/spec/secure-aggregation.md §8): for each cohort size
 * n and declared dropout rate, the (k, t) chosen, the analytic bounds on abort and privacy breach, and the abort rate
 * measured on the real Harary graph over `--samples` random drop sets (a fresh random labelling and a uniform drop
 * set of ⌈δn⌉ members each), beside the same measure for the fixed table of Google's finder (5 % dropout) that
 * `auto` used before. A drop set aborts when a dropped member keeps fewer than t live neighbours (its mask key
 * cannot be rebuilt) or a live one fewer than t live holders. Prints a table and writes JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { chooseGraphParams, dropSetAborts, hararyNeighbours } from '../shared/secagg/graph.js';
import { sizeSecAggPlus } from '../shared/secagg/sizing.js';
import { Rng } from '../shared/util/random.js';
import { intFlag } from '../shared/util/flags.js';

/** The options, in node:util parseArgs form (cli/commands/bench.ts documents them). */
export const OPTIONS = {
  samples: { type: 'string', default: '10000' },
  ns: { type: 'string', default: '100,500,1000' },
  dropouts: { type: 'string', default: '0.1,0.3' },
  corrupted: { type: 'string', default: '0.05' },
  seed: { type: 'string', default: '1' },
  out: { type: 'string', default: 'runs/bench-secagg-sizing.json' },
} satisfies ParseArgsOptionsConfig;

/** Measured abort count of (k, t) on n members over `samples` random drop sets of `drop` members. */
function measure(n: number, k: number, t: number, drop: number, samples: number, rng: Rng): number {
  let failures = 0;
  for (let s = 0; s < samples; s++) {
    const neighbours = hararyNeighbours(
      n,
      k,
      Uint8Array.from({ length: 32 }, () => rng.int(256)),
    );
    const dropped = new Set(Array.from(rng.sampleWithoutReplacement(n, drop), (i) => i + 1));
    if (dropSetAborts(neighbours, dropped, t)) failures++;
  }
  return failures;
}

/** Runs the command; `argv` is its arguments. */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const samples = intFlag('samples', values.samples, 1);
  const ns = values.ns.split(',').map((v) => intFlag('ns', v, 3));
  const dropouts = values.dropouts.split(',').map(Number);
  const corrupted = Number(values.corrupted);
  const rng = new Rng(intFlag('seed', values.seed, 0));
  const rows: Record<string, unknown>[] = [];
  console.log(`SecAgg+ sizing (semi-honest, corrupted ${corrupted}): ${samples} random drop sets per row`);
  console.log('    n  dropout |  k    t  bound abort  bound privacy  measured aborts | table k  t  table aborts');
  for (const n of ns) {
    for (const dropout of dropouts) {
      const p = sizeSecAggPlus({ n, dropout, corrupted, adversary: 'semi-honest' });
      const drop = Math.ceil(dropout * n);
      const t0 = performance.now();
      const failures = p.k + 1 >= n ? 0 : measure(n, p.k, p.t, drop, samples, rng);
      const ms = performance.now() - t0;
      let table: { k: number; t: number; failures: number } | undefined;
      try {
        const g = chooseGraphParams(n, 'semi-honest');
        table = { k: g.k, t: g.t, failures: measure(n, g.k, g.t, drop, samples, rng) };
      } catch {
        table = undefined;
      }
      rows.push({ n, dropout, corrupted, k: p.k, t: p.t, boundAbort: p.pAbort, boundPrivacy: p.pSecurity, samples, abortsMeasured: failures, measureMs: ms, table: table ?? null });
      console.log(
        `${String(n).padStart(5)}  ${dropout.toFixed(2).padStart(7)} | ${String(p.k).padStart(2)}  ${String(p.t).padStart(3)}  ${p.pAbort.toExponential(1).padStart(11)}  ${p.pSecurity.toExponential(1).padStart(13)}  ${String(failures).padStart(6)} / ${samples} | ${table !== undefined ? `${String(table.k).padStart(7)} ${String(table.t).padStart(2)}  ${table.failures} / ${samples}` : '      — (n below the table)'}`,
      );
    }
  }
  mkdirSync(path.dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), samples, rows }, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}
