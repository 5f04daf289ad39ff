/**
 * `rfl coordinator [--config FILE] [options]` (alias `npm run coordinator --`): starts a coordinator and runs the configured rounds.
 *
 * Options (command-line values override the config file's):
 *   --config FILE        JSON, checked by server/file-config.ts: { "federated": {…FederatedConfig}, "secure": true, "secagg": {…},
 *                        "aggregation": {…}, "tokens": […], "port": 8080, "host": "127.0.0.1", "runDir": "runs/coordinator",
 *                        "dataset": "mnist-embedded", "dataDir": "…", "minClients": 3, "timeoutsMs": { "train": 600000, … } }
 *   --port N             listen port (default 8080; 0 picks a free one)    --host H (default 127.0.0.1; 0.0.0.0 for every interface)
 *   --tokens A,B         accepted client tokens       --tokens-file F (one token per line)
 *   --observer-token T   the read-only observer namespace behind the live dashboard at /
 *   --run-dir DIR        checkpoints, metrics.jsonl, identities.json (default runs/coordinator)
 *   --resume DIR         continue the run in DIR from its last completed round
 *   --method NAME --rounds N --clients N --fraction F --local-epochs N --seed N --min-clients N --eval-every N
 *   --plaintext          no secure aggregation (comparison mode; clients upload weights)
 *   --aggregation JSON   e.g. '{"rule":"median"}' (plaintext) or '{"rule":"grouped","groups":3,"across":"median"}'
 *   --dataset NAME --data-dir DIR   the coordinator's data: D_s and the test set (default mnist-embedded)
 *   --enrolment FILE     admit only the enrolled clients (rfl coordinator enrol); else open enrolment by token, at
 *                        most --max-identities-per-token identities per token (default 1)   --max-connections N
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { initBackend } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { intFlag, numberFlag } from '../shared/util/flags.js';
import { resolveConfig } from '../shared/federated/config.js';
import { ConfigError } from '../shared/federated/errors.js';
import { DEFAULT_AGGREGATION, resolveAggregation } from '../shared/federated/aggregation.js';
import { cohortSizeOf } from '../shared/engine/round-engine.js';
import { Coordinator, type CoordinatorOptions } from './coordinator.js';
import { readFileConfig, type FileConfig } from './file-config.js';
import { readCheckpoint, RunStore } from './run-store.js';
import { readEnrolment } from './enrolment.js';
import { UsageError } from '../shared/util/usage-error.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  config: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  tokens: { type: 'string' },
  'tokens-file': { type: 'string' },
  'observer-token': { type: 'string' },
  'run-dir': { type: 'string' },
  resume: { type: 'string' },
  method: { type: 'string' },
  rounds: { type: 'string' },
  clients: { type: 'string' },
  fraction: { type: 'string' },
  'local-epochs': { type: 'string' },
  seed: { type: 'string' },
  'min-clients': { type: 'string' },
  'eval-every': { type: 'string' },
  plaintext: { type: 'boolean' },
  aggregation: { type: 'string' },
  dataset: { type: 'string' },
  'data-dir': { type: 'string' },
  enrolment: { type: 'string' },
  'max-identities-per-token': { type: 'string', default: '1' },
  'max-connections': { type: 'string', default: '10000' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });

  const file: FileConfig = values.config !== undefined ? readFileConfig(values.config) : {};
  // Flag → configuration field, each with its check.
  const flagged: [flag: string, field: string, value: unknown][] = [];
  if (values.method !== undefined) flagged.push(['method', 'method', values.method]);
  if (values.rounds !== undefined) flagged.push(['rounds', 'rounds', intFlag('rounds', values.rounds, 1)]);
  if (values.clients !== undefined) flagged.push(['clients', 'numClients', intFlag('clients', values.clients, 1)]);
  if (values.fraction !== undefined) flagged.push(['fraction', 'fraction', numberFlag('fraction', values.fraction, 0, 1)]);
  if (values['local-epochs'] !== undefined) flagged.push(['local-epochs', 'localEpochs', intFlag('local-epochs', values['local-epochs'], 1)]);
  if (values.seed !== undefined) flagged.push(['seed', 'seed', intFlag('seed', values.seed, 0)]);
  if (values['eval-every'] !== undefined) flagged.push(['eval-every', 'evalEvery', intFlag('eval-every', values['eval-every'], 1)]);

  let federated: Record<string, unknown>;
  if (values.resume !== undefined) {
    // A resumed run keeps the configuration it started with: the checkpoint's. A flag or config-file field that
    // says otherwise is a mistake, named, rather than silently ignored or silently applied.
    const store = existsSync(values.resume) ? new RunStore(values.resume) : undefined;
    if (store === undefined || !store.hasCheckpoint())
      throw new UsageError(`--resume ${values.resume}: no checkpoint.bin there, so nothing to resume; start a run with --run-dir ${values.resume}`, ['resume']);
    federated = { ...(readCheckpoint(store.checkpointPath()).config as unknown as Record<string, unknown>) };
    for (const [flag, field, value] of flagged) {
      if (JSON.stringify(federated[field]) !== JSON.stringify(value))
        throw new UsageError(`--${flag} ${String(value)} conflicts with the checkpoint's ${field} = ${JSON.stringify(federated[field])}: a resumed run keeps its configuration (drop --${flag})`, [
          flag,
        ]);
    }
    for (const [field, value] of Object.entries(file.federated ?? {})) {
      if (JSON.stringify(federated[field]) !== JSON.stringify(value))
        throw new UsageError(`--config federated.${field} = ${JSON.stringify(value)} conflicts with the checkpoint's ${JSON.stringify(federated[field])}: a resumed run keeps its configuration`, [
          'config',
        ]);
    }
  } else {
    federated = { method: 'fed-bva', numClients: 3, fraction: 1, rounds: 5, ...(file.federated ?? {}) };
    for (const [, field, value] of flagged) federated[field] = value;
  }
  const tokens = new Set<string>(file.tokens ?? []);
  for (const t of (values.tokens ?? '').split(',')) if (t.trim() !== '') tokens.add(t.trim());
  if (values['tokens-file'] !== undefined) {
    for (const line of readFileSync(values['tokens-file'], 'utf8').split('\n')) if (line.trim() !== '') tokens.add(line.trim());
  }
  const enrolment = values.enrolment !== undefined ? readEnrolment(values.enrolment) : undefined;
  if (tokens.size === 0 && enrolment === undefined)
    throw new UsageError('no client tokens: pass --tokens A,B or --tokens-file FILE (or "tokens" in --config), or admit enrolled clients with --enrolment FILE (rfl coordinator enrol)', ['tokens']);

  const runDir = values.resume ?? values['run-dir'] ?? file.runDir ?? 'runs/coordinator';
  if (values.resume === undefined && existsSync(path.join(runDir, 'checkpoint.bin'))) {
    throw new UsageError(`run directory ${runDir} already holds a run: continue it with --resume ${runDir}, or choose another --run-dir`, ['run-dir']);
  }
  // Everything a user can get wrong is checked before the compute backend loads (and prints its line), so that a
  // mistake is the one line printed: the aggregation JSON and rule, the federated configuration, the numbers, the data.
  const secure = values.plaintext === true ? false : (file.secure ?? true);
  const aggregation = values.aggregation !== undefined ? jsonFlag('aggregation', values.aggregation, `e.g. '{"rule":"median"}'`) : file.aggregation;
  resolveAggregation(aggregation ?? DEFAULT_AGGREGATION, { secure, cohortSize: cohortSizeOf(checkedConfig(federated)) });
  const minClients = values['min-clients'] !== undefined ? intFlag('min-clients', values['min-clients'], 1) : file.minClients;
  const maxIdentitiesPerToken = intFlag('max-identities-per-token', values['max-identities-per-token'], 1);
  const maxConnections = intFlag('max-connections', values['max-connections'], 1);
  const port = values.port !== undefined ? intFlag('port', values.port, 0) : (file.port ?? 8080);
  const datasetName = values.dataset ?? file.dataset ?? 'mnist-embedded';
  const dataDir = values['data-dir'] ?? file.dataDir;
  const data = loadDataset(datasetName, dataDir !== undefined ? { dir: dataDir } : {});
  await initBackend();
  const coordinator = new Coordinator({
    federated: federated as CoordinatorOptions['federated'],
    data,
    secure,
    ...(file.secagg !== undefined ? { secagg: file.secagg as CoordinatorOptions['secagg'] } : {}),
    ...(aggregation !== undefined ? { aggregation } : {}),
    tokens,
    runDir,
    resume: values.resume !== undefined,
    ...(minClients !== undefined ? { minClients } : {}),
    ...(enrolment !== undefined ? { enrolment } : {}),
    maxIdentitiesPerToken,
    ...(values['observer-token'] !== undefined ? { observerToken: values['observer-token'] } : {}),
    // A long evaluation must not stall the sockets (socket.io's ping window is about 45 s).
    evaluateInWorker: true,
    maxConnections,
    ...(file.timeoutsMs !== undefined ? { timeoutsMs: file.timeoutsMs } : {}),
  });
  const listening = await coordinator.listen(port, values.host ?? file.host ?? '127.0.0.1');
  const c = coordinator.config;
  console.error(
    `browser clients join at http://${values.host ?? file.host ?? '127.0.0.1'}:${listening}/join${values['observer-token'] !== undefined ? `; the live dashboard is http://${values.host ?? file.host ?? '127.0.0.1'}:${listening}/?token=<observer token>` : ''}`,
  );
  console.error(
    `coordinator listening on port ${listening}: ${c.method}, ${c.rounds} rounds, ${c.numClients} clients × fraction ${c.fraction}, ` +
      `${values.plaintext === true ? 'plaintext' : 'secure aggregation'} (${coordinator.aggregation.rule}), data ${datasetName}, run directory ${runDir}`,
  );
  process.on('SIGINT', () => void coordinator.close().then(() => process.exit(130)));
  await coordinator.run();
  console.error(`done: ${coordinator.completedRounds} rounds; checkpoint and metrics.jsonl in ${runDir}`);
  await coordinator.close();
}

/** The resolved federated configuration; a ConfigError naming the field (resolveConfig's own errors are plain). */
function checkedConfig(federated: Record<string, unknown>): ReturnType<typeof resolveConfig> {
  try {
    return resolveConfig(federated as CoordinatorOptions['federated']);
  } catch (err) {
    const field = /^config: ([\w.]+) = /.exec((err as Error).message)?.[1];
    if (field !== undefined) throw new ConfigError(field, (err as Error).message);
    throw err;
  }
}

/** A flag's JSON value; a UsageError naming the flag and showing the expected form otherwise. */
function jsonFlag(name: string, text: string, expected: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`--${name}: not valid JSON (${(err as Error).message}); expected ${expected}`, [name]);
  }
}
