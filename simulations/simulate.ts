/**
 * `npm run simulate -- --config FILE [overrides]`: runs a simulated federation from a scenario file.
 *
 *   --config FILE       scenario (JSON or YAML; see simulations/scenarios/)
 *   --set PATH=VALUE    override any scenario field, e.g. --set rounds=5 --set corrupted.fraction=0.3 (repeatable)
 *   --rounds N --clients N --method M --seed N --workers N    shorthands for --set
 *   --out DIR           run directory (default runs/<scenario>-<time>)
 *   --url URL --token T join an external coordinator instead of starting one
 *   --backend NAME      compute backend (wasm, cpu, …)
 *   --no-progress       one line per round instead of the progress bar
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { BackendName } from '../shared/compute/backend.js';
import { loadScenario } from './scenario.js';
import { runSimulation } from './engine.js';
import { createProgress } from './progress.js';
import { summaryLines } from './summary.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string' },
    clients: { type: 'string' },
    method: { type: 'string' },
    seed: { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    backend: { type: 'string' },
    'no-progress': { type: 'boolean', default: false },
  },
});
if (values.config === undefined) {
  console.error('usage: npm run simulate -- --config FILE [--set path=value ...] [--out DIR]; scenarios ship in simulations/scenarios/');
  process.exit(2);
}
const overrides = [...values.set!];
for (const [flag, field] of [['rounds', 'rounds'], ['clients', 'numClients'], ['method', 'method'], ['seed', 'seed'], ['workers', 'workers']] as const) {
  if (values[flag] !== undefined) overrides.push(`${field}=${values[flag]}`);
}
try {
  const scenario = loadScenario(values.config, overrides);
  const runDir = values.out ?? path.join('runs', `${scenario.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  console.error(`scenario ${scenario.name}: ${scenario.federated.method}, ${scenario.federated.numClients} clients, ${scenario.federated.fraction} per round, ${scenario.federated.rounds} rounds, ` +
    `${scenario.secure ? 'secure aggregation' : 'plaintext'} (${scenario.aggregation.rule})${scenario.corrupted !== undefined ? `, ${scenario.corrupted.fraction * 100} % ${scenario.corrupted.behavior.kind}` : ''}; writing ${runDir}`);
  const progress = createProgress(scenario.federated.rounds, values['no-progress'] ? false : undefined);
  const result = await runSimulation({
    scenario,
    runDir,
    ...(values.url !== undefined ? { url: values.url } : {}),
    ...(values.token !== undefined ? { token: values.token } : {}),
    ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}),
    onPhase: progress.onPhase,
    onRound: progress.onRound,
  });
  progress.stop();
  for (const line of summaryLines(result)) console.log(line);
} catch (err) {
  const e = err as Error & { fields?: string[] };
  console.error(`simulate: ${e.message}`);
  process.exit(e.fields !== undefined ? 2 : 1);
}
