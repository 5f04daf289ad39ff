#!/usr/bin/env node
/**
 * `rfl`, the one command of robust-fl (`npx rfl --help`; the package's bin). The program is cli/program.ts;
 * this file only runs it and turns what escapes a command (a socket handler's throw, say) into one line too.
 */
import { errorLine, exitCodeOf } from './errors.js';
import { run } from './program.js';
import { tuneGc } from '../shared/util/gc-tuning.js';

const fatal = (err: unknown): void => {
  console.error(errorLine(err));
  if (process.argv.includes('--debug') && err instanceof Error && err.stack !== undefined) console.error(err.stack);
  process.exit(exitCodeOf(err));
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
// Before any command runs (the imports above only load code): the process moves megabytes of ArrayBuffers a
// round (shared/util/gc-tuning.ts).
try {
  tuneGc();
} catch (err) {
  fatal(err);
}
process.exitCode = await run(process.argv.slice(2));
