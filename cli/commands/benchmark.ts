/** `rfl benchmark`: a resumable benchmark matrix (simulations/benchmark/cli.ts), here or on a queue's workers. */
import { BACKEND_OPTION, type CommandSpec } from '../spec.js';

const QUEUE = { help: 'the Redis that holds the queue of cells: redis://[user:password@]host[:port][/db], or rediss:// for TLS', arg: 'URL' };
const QUEUE_NAME = { help: 'BullMQ queue name; submitter and workers must use the same', arg: 'NAME', default: 'rfl-cells' };
const UNREACHABLE = {
  help: 'say that Redis is out of reach after this long without an answer (the run waits for it)',
  arg: 'S',
  kind: 'number',
  min: 0.5,
  max: 86400,
  unit: 's',
  default: '10',
} as const;

/** `rfl benchmark worker`: runs the cells of distributed matrices (simulations/benchmark/worker-cli.ts). */
export const benchmarkWorker: CommandSpec = {
  name: 'worker',
  summary: 'run cells of benchmark matrices submitted with rfl benchmark --queue (start any number, on any machines)',
  description:
    'Takes one cell at a time from the queue, runs it as a local matrix run would and sends its files back to the submitter. ' +
    'The machine needs the matrix’s data (and any model or extension module, at the same relative path). ' +
    'A worker killed mid-cell loses nothing: once its lock expires, another worker runs that cell from its start. ' +
    'SIGINT or SIGTERM stops it after the cell it is running; a second one stops it at once. docs/distributed.md.',
  options: {
    queue: { ...QUEUE, required: true },
    'queue-name': QUEUE_NAME,
    workers: { help: 'worker threads of each cell’s simulation', arg: 'N', kind: 'int', min: 1, max: 1024, defaultNote: "the matrix's, else one per core" },
    name: { help: 'the name progress and results show for this worker', arg: 'TEXT', defaultNote: '<hostname>:<pid>' },
    'lock-s': { help: 'lock on a running cell, renewed every half of it; a worker silent this long counts as gone', arg: 'S', kind: 'number', min: 1, max: 86400, unit: 's', default: '30' },
    'stalled-check-s': { help: 'how often to look for cells whose worker is gone (they go back to the queue)', arg: 'S', kind: 'number', min: 0.1, max: 86400, unit: 's', default: '30' },
    'max-stalled': { help: 'a cell whose worker was gone more often than this fails for good', arg: 'N', kind: 'int', min: 1, max: 1000, default: '2' },
    'unreachable-after-s': UNREACHABLE,
    backend: BACKEND_OPTION,
    'no-warm-up': { help: 'take cells at once: leave starting the cell thread, its backend and its simulation threads to the first cell (by default a tiny simulation warms them up first)' },
  },
  examples: ['rfl benchmark worker --queue redis://10.0.0.1:6379', 'rfl benchmark worker --queue redis://:secret@queue.lab:6379/2 --workers 4'],
  load: () => import('../../simulations/benchmark/worker-cli.js'),
};

export const benchmark: CommandSpec = {
  subcommands: [benchmarkWorker],
  name: 'benchmark',
  summary: 'run a benchmark matrix (defenses × threats × corruption levels × seeds), resumably',
  description:
    'Presets live in simulations/benchmark/presets/ (--config smoke is short for smoke.yaml). A finished cell is never run again: ' +
    'run the same command to continue an interrupted matrix. Then: rfl report DIR. ' +
    'With --queue, the unfinished cells go to a BullMQ queue in that Redis and run on workers (rfl benchmark worker), and this process writes each finished cell here exactly as a local run does (docs/distributed.md).',
  options: {
    config: { help: 'matrix file, or the name of a preset', arg: 'FILE|PRESET', required: true },
    out: { help: 'matrix directory (matrix.json, cells/)', arg: 'DIR', defaultNote: 'runs/benchmark-<name>' },
    set: { help: 'override a field of the matrix, e.g. --set base.rounds=30', arg: 'PATH=VALUE', repeatable: true },
    only: { help: 'run only cells whose id contains this text', arg: 'TEXT' },
    cells: { help: 'run exactly these cell ids, in this order (a priority list)', arg: 'ID,ID,…' },
    shard: { help: 'run every N-th cell from the K-th (0-based), so N processes share one matrix', arg: 'K/N' },
    workers: { help: 'worker threads per simulation (not with --queue: each worker sets its own)', arg: 'N', kind: 'int', min: 1, max: 1024, defaultNote: "the matrix's, else one per core" },
    queue: { ...QUEUE, defaultNote: 'none: every cell runs in this process' },
    'queue-name': QUEUE_NAME,
    attempts: { help: 'with --queue: attempts per cell when its simulation fails (a killed worker does not spend one)', arg: 'N', kind: 'int', min: 1, max: 100, default: '3' },
    'unreachable-after-s': UNREACHABLE,
  },
  examples: [
    'rfl benchmark --config smoke --out runs/smoke',
    'rfl benchmark --config evidence-fashion-mnist --set base.rounds=30 --set base.localEpochs=5 --shard 0/4',
    'rfl benchmark --config smoke --out runs/smoke --queue redis://10.0.0.1:6379   (then, on each machine: rfl benchmark worker --queue redis://10.0.0.1:6379)',
  ],
  load: () => import('../../simulations/benchmark/cli.js'),
};
