/**
 * `rfl client-host --url URL --token TOKEN [--workers N] [--name TEXT] [--max-retries N] [--backend NAME]`
 *
 * Runs a share of the virtual clients of `rfl simulate --hosts N` on this machine, with its own worker pool
 * (hosts/client-host.ts), until the run ends. docs/distributed.md.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { BackendName } from '../shared/compute/backend.js';
import { intFlag } from '../shared/util/flags.js';
import { UsageError } from '../shared/util/usage-error.js';
import { runClientHost } from './hosts/client-host.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/client-host.ts). */
export const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  workers: { type: 'string' },
  name: { type: 'string' },
  'max-retries': { type: 'string', default: '30' },
  backend: { type: 'string' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  if (values.url === undefined) throw new UsageError('--url: give the coordinator that rfl simulate --hosts printed, e.g. --url http://10.0.0.1:8080', ['url']);
  if (!/^https?:\/\/[^/]+\/?$/.test(values.url)) throw new UsageError(`--url ${values.url}: expected http://host:port`, ['url']);
  if (values.token === undefined || values.token === '') throw new UsageError('--token: give the token rfl simulate --hosts printed (or was given)', ['token']);
  const summary = await runClientHost({
    url: values.url,
    token: values.token,
    maxRetries: intFlag('max-retries', values['max-retries'], 1),
    ...(values.workers !== undefined ? { workers: intFlag('workers', values.workers, 1) } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}),
  });
  console.log(`ran share ${summary.share + 1} of ${summary.of}: ${summary.clients} virtual clients`);
}
