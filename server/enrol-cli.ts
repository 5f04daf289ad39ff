/**
 * `rfl coordinator enrol --ids a,b,c [--keys-dir keys] [--out enrolment.json]`: makes one Ed25519 identity file per
 * client (mode 0600; hand `keys/<id>.key` to that client for `rfl client --identity-file`) and adds their public
 * keys to the enrolment file that `rfl coordinator --enrolment` admits (server/enrolment.ts).
 */
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { enrol } from './enrolment.js';
import { UsageError } from '../shared/util/usage-error.js';

/** The options, in node:util parseArgs form (cli/commands/coordinator.ts documents them). */
export const OPTIONS = {
  ids: { type: 'string' },
  'keys-dir': { type: 'string', default: 'keys' },
  out: { type: 'string', default: 'enrolment.json' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments. */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  if (values.ids === undefined) throw new UsageError('--ids: give the client ids to enrol, comma-separated (e.g. --ids alice,bob,carol)', ['ids']);
  const ids = values.ids
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const all = enrol(ids, values['keys-dir'], values.out);
  for (const id of ids) console.log(`enrolled ${id}: identity ${path.join(values['keys-dir'], `${id}.key`)} (give it to that client: rfl client --id ${id} --identity-file …)`);
  console.log(`${values.out}: ${all.size} enrolled clients; start the coordinator with --enrolment ${values.out}`);
}
