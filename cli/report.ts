/** `rfl report DIR... [--out DIR]`: builds the report and says where it is. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { buildReport } from '../simulations/report/build.js';
import { UsageError } from '../shared/util/usage-error.js';

/** The options, in node:util parseArgs form (cli/commands/report.ts documents them). */
export const OPTIONS = {
  out: { type: 'string' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments. */
export async function main(argv: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true });
  if (positionals.length === 0) throw new UsageError('give at least one matrix or run directory, e.g. rfl report runs/smoke', ['dir']);
  for (const dir of positionals) {
    if (!existsSync(dir)) throw new UsageError(`${dir}: no such directory; give a benchmark matrix directory (matrix.json, cells/) or a simulation run directory, e.g. rfl report runs/smoke`, ['dir']);
  }
  const out = values.out ?? path.join(positionals[0]!, 'report');
  const r = await buildReport(positionals, out);
  const cells = r.model.loaded.cells;
  const done = cells.filter((c) => c.results !== undefined).length;
  for (const w of r.warnings) console.warn(`warning: ${w}`);
  console.log(`report: ${done} of ${cells.length} cells finished; wrote ${r.files.length} files to ${out}`);
  console.log(`  open ${path.join(out, 'report.html')}`);
}
