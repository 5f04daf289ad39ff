/**
 * `npm run report -- RUN_DIR... --out DIR`
 *
 * Builds the robustness report (threats-and-evaluation.md §6) from benchmark matrix directories and/or single
 * simulation run directories: DIR/report.md, DIR/report.html, DIR/charts/*.svg and the CSV files.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildReport } from './build.js';

/** The usage line. */
export const USAGE =
  'usage: npm run report -- RUN_DIR... --out DIR\n  RUN_DIR  a benchmark matrix directory (matrix.json, cells/), a simulation run directory, or a folder of them\n  --out    where to write report.md, report.html, charts/ and the CSV files (default: <first RUN_DIR>/report)';

/** Parsed command line. */
export interface CliArgs {
  dirs: string[];
  out: string;
}

/** Parses argv (without node and the script); throws with the usage on a mistake. */
export function parseCli(argv: readonly string[]): CliArgs | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { out: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) return 'help';
  if (positionals.length === 0) throw new Error(`no RUN_DIR given\n${USAGE}`);
  return { dirs: positionals, out: values.out ?? path.join(positionals[0]!, 'report') };
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let args: CliArgs | 'help';
  try {
    args = parseCli(argv);
  } catch (err) {
    console.error(`report: ${(err as Error).message}`);
    return 2;
  }
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  try {
    const r = await buildReport(args.dirs, args.out);
    const cells = r.model.loaded.cells;
    const done = cells.filter((c) => c.results !== undefined).length;
    for (const w of r.warnings) console.warn(`warning: ${w}`);
    console.log(`report: ${done} of ${cells.length} cells finished; wrote ${r.files.length} files to ${args.out}`);
    console.log(`  ${path.join(args.out, 'report.html')}`);
    return 0;
  } catch (err) {
    console.error(`report: ${(err as Error).message}`);
    return 1;
  }
}

// Run only as the entry point, so tests can import parseCli and main.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
