/** `rfl benchmark`: a resumable benchmark matrix (simulations/benchmark/cli.ts). */
import type { CommandSpec } from '../spec.js';

export const benchmark: CommandSpec = {
  name: 'benchmark',
  summary: 'run a benchmark matrix (defenses × threats × corruption levels × seeds), resumably',
  description:
    'Presets live in simulations/benchmark/presets/ (--config smoke is short for smoke.yaml). A finished cell is never run again: ' +
    'run the same command to continue an interrupted matrix. Then: rfl report DIR.',
  options: {
    config: { help: 'matrix file, or the name of a preset', arg: 'FILE|PRESET' },
    out: { help: 'matrix directory (matrix.json, cells/)', arg: 'DIR', defaultNote: 'runs/benchmark-<name>' },
    set: { help: 'override a field of the matrix, e.g. --set base.rounds=30', arg: 'PATH=VALUE', repeatable: true },
    only: { help: 'run only cells whose id contains this text', arg: 'TEXT' },
    cells: { help: 'run exactly these cell ids, in this order (a priority list)', arg: 'ID,ID,…' },
    shard: { help: 'run every N-th cell from the K-th (0-based), so N processes share one matrix', arg: 'K/N' },
    workers: { help: 'worker threads per simulation', arg: 'N', kind: 'int', min: 1, max: 1024, defaultNote: "the matrix's, else one per core" },
  },
  examples: ['rfl benchmark --config smoke --out runs/smoke', 'rfl benchmark --config evidence-fashion-mnist --set base.rounds=30 --set base.localEpochs=5 --shard 0/4'],
  load: () => import('../../simulations/benchmark/cli.js'),
};
