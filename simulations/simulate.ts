/**
 * `rfl simulate [--config FILE] [options]` (alias `npm run simulate --`): runs a simulated federation from a
 * scenario file (default: the quick start's). `rfl simulate --help` lists the options with units and ranges;
 * `--model`, `--data` and `--extension` bring your own model, dataset and behaviours (docs/own-model.md).
 * `--hosts N [--host ADDR] [--port N]` keeps the coordinator here and spreads the virtual clients over N client
 * hosts (`rfl client-host`, simulations/hosts/; docs/distributed.md).
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { loadScenario } from './scenario.js';
import { runSimulation } from './engine.js';
import { createProgress } from './progress.js';
import { summaryLines } from './summary.js';
import { intFlag } from '../shared/util/flags.js';
import { cohortSizeOf } from '../shared/engine/round-engine.js';
import { UsageError } from '../shared/util/usage-error.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The scenario `rfl simulate` runs when no --config is given: the quick start's. */
export const DEFAULT_SCENARIO = 'simulations/scenarios/quickstart.yaml';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true, default: [] },
  rounds: { type: 'string' },
  clients: { type: 'string' },
  method: { type: 'string' },
  seed: { type: 'string' },
  workers: { type: 'string' },
  model: { type: 'string' },
  data: { type: 'string' },
  extension: { type: 'string', multiple: true, default: [] },
  out: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  hosts: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '0' },
  backend: { type: 'string' },
  'no-progress': { type: 'boolean', default: false },
} satisfies ParseArgsOptionsConfig;

/** The scenario overrides the shorthand flags stand for, after the explicit --set ones (so shorthands win). */
export function shorthandOverrides(values: {
  set?: string[];
  rounds?: string;
  clients?: string;
  method?: string;
  seed?: string;
  workers?: string;
  model?: string;
  data?: string;
  extension?: string[];
}): string[] {
  const overrides = [...(values.set ?? [])];
  for (const [flag, field] of [
    ['rounds', 'rounds'],
    ['clients', 'numClients'],
    ['method', 'method'],
    ['seed', 'seed'],
    ['workers', 'workers'],
  ] as const) {
    if (values[flag] !== undefined) overrides.push(`${field}=${values[flag]}`);
  }
  // Names and paths stay strings whatever they look like (the values are parsed as YAML: `yes`, `123`).
  for (const [flag, field] of [
    ['model', 'model'],
    ['data', 'dataset'],
  ] as const) {
    if (values[flag] !== undefined) overrides.push(`${field}=${JSON.stringify(values[flag])}`);
  }
  // A list value travels as a JSON array (the --set values are parsed as YAML, of which JSON is a part).
  if (values.extension !== undefined && values.extension.length > 0) overrides.push(`extensions=${JSON.stringify(values.extension)}`);
  return overrides;
}

/** Runs the command; `argv` is its arguments (without node and the script). Errors propagate to rfl. */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const hosts = values.hosts !== undefined ? intFlag('hosts', values.hosts, 1) : undefined;
  if (values.url !== undefined && values.token === undefined) throw new UsageError('--url: joining an external coordinator needs --token (a client token it accepts)', ['url', 'token']);
  if (hosts !== undefined && values.url !== undefined) throw new UsageError('--hosts: spreads the clients of this simulation’s own coordinator; not with --url', ['hosts', 'url']);
  if (hosts === undefined && (values.host !== '127.0.0.1' || values.port !== '0'))
    throw new UsageError('--host and --port place the coordinator for client hosts: give --hosts N too', ['host', 'port']);
  const port = intFlag('port', values.port, 0);
  if (port > 65535) throw new UsageError(`--port ${port}: expected an integer in [0, 65535]`, ['port']);
  const config = values.config ?? path.resolve(here, '../..', DEFAULT_SCENARIO);
  const scenario = loadScenario(config, shorthandOverrides(values));
  const runDir = values.out ?? path.join('runs', `${scenario.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  // The backend line (short; --verbose for the long form) before the run, as the other commands print it.
  await initBackend(values.backend !== undefined ? { backend: values.backend as BackendName } : {});
  const f = scenario.federated;
  console.error(
    `scenario ${scenario.name}: ${f.method} on ${f.model} with ${scenario.dataset}, ${f.numClients} clients, ${cohortSizeOf(f)} per round, ${f.rounds} round${f.rounds === 1 ? '' : 's'}, ` +
      `${scenario.secure ? 'secure aggregation' : 'plaintext'} (${scenario.aggregation.rule})${scenario.corrupted !== undefined ? `, ${scenario.corrupted.fraction * 100} % ${scenario.corrupted.behavior.kind}` : ''}; writing ${runDir}`,
  );
  const progress = createProgress(scenario.federated.rounds, values['no-progress'] ? false : undefined);
  try {
    const result = await runSimulation({
      scenario,
      runDir,
      ...(values.url !== undefined ? { url: values.url } : {}),
      ...(values.token !== undefined ? { token: values.token } : {}),
      ...(hosts !== undefined
        ? {
            hosts,
            listen: { host: values.host!, port },
            onListening: ({ url, token }: { url: string; token: string }) =>
              console.error(`waiting for ${hosts} client host${hosts === 1 ? '' : 's'}; on each machine run: rfl client-host --url ${url} --token ${token}`),
          }
        : {}),
      ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}),
      onPhase: progress.onPhase,
      onRound: progress.onRound,
    });
    progress.stop();
    for (const line of summaryLines(result)) console.log(line);
  } finally {
    // Idempotent: also clears the progress bar when the run fails, so the error line stands alone.
    progress.stop();
  }
}
