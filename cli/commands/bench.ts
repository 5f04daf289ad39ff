/**
 * `rfl bench <name>`: the performance benchmarks (bench/). Each prints its figures beside the peer measured in
 * the same run where one is installed (PyTorch, the reference code) and writes them as JSON.
 */
import { BACKEND_OPTION, type CommandSpec } from '../spec.js';

const out = (def?: string) => ({ help: 'write the figures as JSON to this file', arg: 'FILE', ...(def !== undefined ? { default: def } : {}) });

export const benches: readonly CommandSpec[] = [
  {
    name: 'compute',
    summary: 'one training step, one FGSM gradient and inference of cnn-mnist, beside PyTorch when installed',
    description: 'Median milliseconds after warm-up, on one thread; on a GPU backend also at a large batch, beside PyTorch on CUDA where it sees a GPU.',
    options: {
      out: out('runs/bench-compute.json'),
      reps: { help: 'timed repetitions', arg: 'N', kind: 'int', min: 1, max: 100000, default: '30' },
      warmup: { help: 'untimed repetitions first', arg: 'N', kind: 'int', min: 0, max: 100000, default: '5' },
      batch: { help: 'batch of the training step and the FGSM gradient', arg: 'N', kind: 'int', min: 1, max: 65536, unit: 'images', default: '64' },
      backend: BACKEND_OPTION,
      large: { help: 'the large batch of a GPU backend', arg: 'N', kind: 'int', min: 1, max: 1048576, unit: 'images', defaultNote: '1024' },
    },
    load: () => import('../../bench/compute.js'),
  },
  {
    name: 'bva',
    summary: "time to build the BV-FGSM shared set: the project's single-VJP path against the reference's per-class loop",
    options: {
      out: out('runs/bench-bva.json'),
      clients: { help: 'client models K', arg: 'N', kind: 'int', min: 1, max: 1000, default: '10' },
      ns: { help: 'shared-set size n_s', arg: 'N', kind: 'int', min: 1, max: 10000, unit: 'images', default: '64' },
      reps: { help: 'timed repetitions of the fast path', arg: 'N', kind: 'int', min: 1, max: 10000, default: '10' },
      warmup: { help: 'untimed repetitions first', arg: 'N', kind: 'int', min: 0, max: 10000, default: '2' },
      'naive-models': {
        help: 'run the naive path on this many clients and scale linearly',
        arg: 'N',
        kind: 'int',
        min: 1,
        max: 1000,
        defaultNote: 'all K when the probe predicts at most --naive-budget-s',
      },
      'naive-budget-s': { help: 'time the naive path may take on all clients', arg: 'S', kind: 'number', min: 0, max: 86400, unit: 's', default: '180' },
      'per-client': { help: 'training examples per client', arg: 'N', kind: 'int', min: 1, max: 100000, unit: 'images', default: '700' },
      epochs: { help: 'training epochs of each client model', arg: 'N', kind: 'int', min: 0, max: 1000, default: '5' },
      lr: { help: 'learning rate of the client models', arg: 'X', kind: 'number', min: 0, max: 10, default: '0.05' },
      seed: { help: 'seed', arg: 'N', kind: 'int', min: 0, max: 4294967295, default: '2020' },
      backend: BACKEND_OPTION,
    },
    load: () => import('../../bench/bva.js'),
  },
  {
    name: 'secagg',
    summary: 'end-to-end cost of one secure-aggregation round over n, d, dropout and graph (full, SecAgg+)',
    options: {
      out: out(),
      quick: { help: 'n ∈ {10, 100}, d = 10^4 only' },
      'max-s': { help: 'skip a configuration whose estimated time exceeds this', arg: 'S', kind: 'number', min: 0, max: 86400, unit: 's', default: '180' },
      seed: { help: 'seed', arg: 'N', kind: 'int', min: 0, max: 4294967295, default: '1' },
      modes: { help: 'subset of the modes, comma-separated (full, secagg+)', arg: 'LIST', defaultNote: 'both' },
      threads: { help: "the coordinator's mask-expansion worker threads (0: on its own thread)", arg: 'N', kind: 'int', min: 0, max: 256, defaultNote: 'the machine’s parallelism, at most 16' },
      ns: { help: 'client counts n, comma-separated, from 10,100,500,1000', arg: 'LIST', defaultNote: '10,100,500' },
      ds: { help: 'vector lengths d, comma-separated, from 10000,100000,1000000', arg: 'LIST', defaultNote: '10000,100000' },
      dropouts: { help: 'subset of the dropout fractions, comma-separated', arg: 'LIST', defaultNote: '0,0.1,0.3' },
    },
    load: () => import('../../bench/secagg.js'),
  },
  {
    name: 'browser',
    summary: 'browser clients in chromium against Node clients: round time of a secure fed-bva federation, and the join bundle’s gzipped size',
    options: {
      rounds: { help: 'rounds of each federation (round 1, the warm-up, is left out of the medians)', arg: 'N', kind: 'int', min: 2, max: 1000, default: '3' },
      count: { help: 'synthetic training images', arg: 'N', kind: 'int', min: 50, max: 100000, unit: 'images', default: '600' },
      repeat: { help: 'pairs of runs (Node then browser, then browser then Node, …); figures are medians over the runs', arg: 'N', kind: 'int', min: 1, max: 100, default: '3' },
      out: out('runs/bench-browser.json'),
    },
    load: () => import('../../bench/browser.js'),
  },
  {
    name: 'secagg-sizing',
    summary: 'SecAgg+ (k, t) sized for n, dropout and corruption: bounds, and the abort rate measured over random drop sets',
    options: {
      samples: { help: 'random drop sets per row (each with a fresh graph labelling)', arg: 'N', kind: 'int', min: 1, max: 10000000, default: '10000' },
      ns: { help: 'cohort sizes n, comma-separated', arg: 'LIST', default: '100,500,1000' },
      dropouts: { help: 'declared dropout rates, comma-separated', arg: 'LIST', default: '0.1,0.3' },
      corrupted: { help: 'declared corrupted fraction', arg: 'F', kind: 'number', min: 0, max: 0.99, default: '0.05' },
      seed: { help: 'seed of the labellings and drop sets', arg: 'N', kind: 'int', min: 0, max: 4294967295, default: '1' },
      out: out('runs/bench-secagg-sizing.json'),
    },
    load: () => import('../../bench/secagg-sizing.js'),
  },
  {
    name: 'secagg-primitives',
    summary: 'AES-CTR mask expansion, X25519, HKDF and Shamir split/combine throughput',
    options: {
      out: out(),
      reps: { help: 'timed repetitions (the median is reported)', arg: 'N', kind: 'int', min: 1, max: 10000, default: '7' },
      words: { help: 'mask length for the expansion rate', arg: 'N', kind: 'int', min: 1, max: 1073741824, unit: '32-bit words', default: String(1 << 22) },
    },
    load: () => import('../../bench/secagg-primitives.js'),
  },
  {
    name: 'sim',
    summary: "the simulation engine's round split (training, Decent_BVA, secure aggregation) and its scale in clients",
    options: {
      out: out('runs/bench-sim.json'),
      rounds: { help: 'rounds timed per worker count', arg: 'N', kind: 'int', min: 1, max: 10000, default: '5' },
      dataset: { help: 'dataset name', arg: 'NAME', default: 'mnist-embedded' },
      'max-clients': { help: 'connected virtual clients of the scale run', arg: 'N', kind: 'int', min: 1, max: 1000000, default: '1000' },
      'max-rounds': { help: 'rounds of the scale run', arg: 'N', kind: 'int', min: 1, max: 10000, default: '3' },
      workers: { help: 'worker counts to time, comma-separated', arg: 'LIST', default: '1,2' },
    },
    load: () => import('../../bench/sim.js'),
  },
  {
    name: 'lockstep',
    summary: "one round's local training of K clients: one after another, then in lockstep (one set of dispatches per step for all K), on the GPU where present",
    description:
      'cnn-mnist, each client its own images, seed, dropout masks and momentum; prints the wall time of both ways, their ratio and how far their weights are apart. ' +
      'The bar it is held to on the GPU machine: lockstep ≥ 5× sequential at K = 10.',
    options: {
      out: out('runs/bench-lockstep.json'),
      clients: { help: 'client counts K to time, comma-separated', arg: 'LIST', default: '1,10' },
      epochs: { help: 'local epochs', arg: 'N', kind: 'int', min: 1, max: 1000, default: '5' },
      examples: { help: 'images per client', arg: 'N', kind: 'int', min: 1, max: 100000, unit: 'images', default: '600' },
      batch: { help: 'minibatch size', arg: 'N', kind: 'int', min: 1, max: 65536, unit: 'images', default: '64' },
      shared: { help: 'shared-set size n_s in every client loss (0: none)', arg: 'N', kind: 'int', min: 0, max: 10000, unit: 'images', default: '64' },
      reps: { help: 'timed repetitions of each way (the median is reported)', arg: 'N', kind: 'int', min: 1, max: 100, default: '3' },
      dataset: { help: 'dataset name (mnist-embedded, fashion-mnist)', arg: 'NAME', default: 'mnist-embedded' },
      data: { help: "directory of the dataset's IDX files (fashion-mnist)", arg: 'DIR' },
      backend: BACKEND_OPTION,
    },
    load: () => import('../../bench/lockstep.js'),
  },
  {
    name: 'queue',
    summary: 'a matrix of small cells through a BullMQ queue in a local redis-server: wall time on 1 worker process, then 2, and their ratio',
    description:
      'Starts redis-server (Debian package redis-server) on a free loopback port without persistence, and stops it at the end. Each worker runs one simulation thread; ' +
      'the clock runs from the first job queued to the last cell written, with the workers already started and warmed up (unless --no-warm-up). The bar it is held to: a ratio ≤ 0.6 on 2 cores.',
    options: {
      out: out('runs/bench-queue.json'),
      cells: { help: 'cells of the matrix (seeds 1…N of one small fedavg cell)', arg: 'N', kind: 'int', min: 2, max: 1000, default: '16' },
      rounds: { help: 'rounds of each cell', arg: 'N', kind: 'int', min: 1, max: 1000, default: '2' },
      'local-epochs': { help: 'local epochs per round of each cell', arg: 'N', kind: 'int', min: 1, max: 1000, default: '1' },
      embedded: { help: 'also time the same matrix run in this process without a queue' },
      repeat: { help: 'pairs of runs (1 worker, then 2), alternating; the bar is checked on the median ratio', arg: 'N', kind: 'int', min: 1, max: 100, default: '1' },
      'no-warm-up': { help: 'start the workers with --no-warm-up: each first cell starts its thread, backend and simulation threads' },
    },
    load: () => import('../../bench/queue.js'),
  },
  {
    name: 'eval',
    summary: 'wall time of a full robustness evaluation (clean and strong PGD over 10,000 images)',
    options: {
      weights: { help: 'raw float32 weights of cnn-mnist', arg: 'FILE', defaultNote: 'the seeded initial weights, trained for --train-epochs' },
      'save-weights': { help: 'write the weights used to this file', arg: 'FILE' },
      data: { help: "directory of Fashion-MNIST's IDX files", arg: 'DIR', default: '/usr/share/datasets/fashion-mnist' },
      count: { help: 'test images evaluated', arg: 'N', kind: 'int', min: 1, max: 1000000, unit: 'images', default: '10000' },
      attacks: { help: 'attacks, comma-separated', arg: 'LIST', default: 'clean,pgd-strong' },
      batch: { help: 'batch on a GPU backend', arg: 'N', kind: 'int', min: 1, max: 1000000, unit: 'images', defaultNote: '10000' },
      workers: { help: 'worker threads on the CPU', arg: 'N', kind: 'int', min: 1, max: 1024, defaultNote: 'one per core' },
      'train-epochs': { help: 'training epochs when no --weights are given', arg: 'N', kind: 'int', min: 0, max: 1000, default: '2' },
      backend: BACKEND_OPTION,
      out: out('runs/bench-eval.json'),
    },
    load: () => import('../../bench/eval-speed.js'),
  },
  {
    name: 'attack-crosscheck',
    summary: 'PGD-20 and APGD-CE on the same CNN and images in TF.js and in an independent PyTorch implementation',
    description:
      'Trains cnn-mnist on the embedded digits, runs both attacks here and in bench/python/attack_crosscheck.py (Debian python3-torch), prints both robust accuracies and whether they agree within 1 point, and writes JSON. Skips the PyTorch side, with the reason, when no Python can import torch.',
    options: {
      epochs: { help: 'training epochs of the CNN', arg: 'N', kind: 'int', min: 0, max: 1000, default: '3' },
      count: { help: 'test images attacked (the first ones)', arg: 'N', kind: 'int', min: 1, max: 2000, unit: 'images', default: '500' },
      eps: { help: 'L∞ radius of both attacks', arg: 'X', kind: 'number', min: 0, max: 1, unit: 'pixels on [0, 1]', default: '0.1' },
      'random-start': { help: 'start both attacks at a random point of the ball (each side its own generator) instead of at x' },
      seed: { help: 'seed of the training and the random starts', arg: 'N', kind: 'int', min: 0, max: 4294967295, default: '1' },
      python: { help: 'the Python with torch, tried first', arg: 'PATH', default: '/usr/bin/python3' },
      backend: BACKEND_OPTION,
      out: out('docs/benchmarks/attack-crosscheck/attack-crosscheck.json'),
    },
    load: () => import('../../bench/attack-crosscheck.js'),
  },
  {
    name: 'bva-compare',
    summary: 'every method of docs/spec/decent-bva.md §2 on the same data, cohorts and seed: one accuracy table',
    options: {
      dataset: { help: 'dataset name', arg: 'NAME', default: 'mnist-embedded' },
      'data-dir': { help: "directory of the dataset's IDX files", arg: 'DIR' },
      methods: { help: 'methods, comma-separated', arg: 'LIST', defaultNote: 'every method' },
      clients: { help: 'clients N', arg: 'N', kind: 'int', min: 1, max: 100000, default: '10' },
      fraction: { help: 'fraction per round', arg: 'F', kind: 'number', min: 0, max: 1, default: '0.5' },
      rounds: { help: 'rounds', arg: 'N', kind: 'int', min: 1, max: 100000, default: '15' },
      'local-epochs': { help: 'local epochs per round', arg: 'N', kind: 'int', min: 1, max: 10000, default: '2' },
      'bva-attack': { help: "the shared set's perturbation", arg: 'KIND', choices: ['fgsm', 'pgd'], default: 'fgsm' },
      'eval-subset': { help: 'test images evaluated', arg: 'N', kind: 'int', min: 1, max: 1000000, unit: 'images', default: '1000' },
      seed: { help: 'seed', arg: 'N', kind: 'int', min: 0, max: 4294967295, default: '1' },
      backend: BACKEND_OPTION,
      out: out('runs/bva-compare.json'),
    },
    load: () => import('../../simulations/bva-compare.js'),
  },
];
