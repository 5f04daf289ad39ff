/**
 * `npm start`: the quick start. A federation of 20 virtual clients on the embedded MNIST digits runs Decent_BVA
 * (fed-bva) with real secure aggregation for 10 rounds (scenarios/quickstart.yaml), then prints clean and
 * attacked accuracy of the global model. Everything is real: the coordinator, 20 socket.io client sessions with
 * their own identities, pairwise masking, and a worker pool doing the training.
 *
 * Options: --out DIR (run directory, default runs/quickstart-<time>), --set path=value (scenario overrides),
 * --no-progress.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { loadScenario } from './scenario.js';
import { initBackend } from '../shared/compute/backend.js';
import { runSimulation } from './engine.js';
import { createProgress } from './progress.js';
import { summaryLines } from './summary.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  out: { type: 'string' },
  set: { type: 'string', multiple: true, default: [] },
  'no-progress': { type: 'boolean', default: false },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const here = path.dirname(fileURLToPath(import.meta.url));
  const file = path.resolve(here, '../../simulations/scenarios/quickstart.yaml');
  const scenario = loadScenario(file, values.set);
  const runDir = values.out ?? path.join('runs', `quickstart-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const f = scenario.federated;
  await initBackend();
  console.log(
    `Quick start: ${f.numClients} virtual clients on ${scenario.dataset}, ${f.method} with secure aggregation, ` +
      `${Math.max(Math.floor(f.fraction * f.numClients), 1)} clients per round, ${f.rounds} rounds of ${f.localEpochs} local epochs (scenario ${path.relative(process.cwd(), file)})`,
  );
  const progress = createProgress(f.rounds, values['no-progress'] ? false : undefined);
  const result = await runSimulation({ scenario, runDir, onPhase: progress.onPhase, onRound: progress.onRound });
  progress.stop();
  for (const line of summaryLines(result)) console.log(line);
  console.log('Next: `npx rfl simulate --config simulations/scenarios/<scenario>.yaml` (see simulations/scenarios/README.md), `npx rfl --help`.');
}
