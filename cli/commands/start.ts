/** `rfl start`: the quick start (simulations/quickstart.ts). */
import type { CommandSpec } from '../spec.js';

export const start: CommandSpec = {
  name: 'start',
  summary: 'run the quick start: 20 virtual clients, Decent_BVA with secure aggregation, embedded MNIST (about 1 minute)',
  description:
    'Runs simulations/scenarios/quickstart.yaml end to end (a real coordinator, 20 socket.io clients, pairwise masking, a worker pool) and prints clean and attacked accuracy of the global model.',
  options: {
    out: { help: 'run directory for checkpoint, metrics and results', arg: 'DIR', defaultNote: 'runs/quickstart-<time>' },
    set: { help: 'override a scenario field, e.g. --set rounds=3', arg: 'PATH=VALUE', repeatable: true },
    'no-progress': { help: 'print one line per round instead of a progress bar' },
  },
  examples: ['rfl start', 'rfl start --set rounds=3 --no-progress'],
  load: () => import('../../simulations/quickstart.js'),
};
