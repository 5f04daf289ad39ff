/**
 * `rfl bench eval [--weights FILE] [--data DIR] [--count N] [--attacks LIST] [--batch N] [--workers N] [--out FILE]`
 *
 * Wall time of a full robustness evaluation of `cnn-mnist`: clean accuracy and each attack (default the strong
 * protocol, PGD-40 × 5 restarts, α = 2.5·ε/40, ε = 0.3) over the first `--count` test images (default 10,000:
 * Fashion-MNIST's whole test set, read from `--data`, a directory holding its t10k files). On a GPU backend it
 * runs in the main thread in batches of `--batch` (default 10,000: the whole set at once); on the CPU it uses the
 * simulation's worker pool (`--workers`, default one per core) in chunks of 500, as simulations evaluate. The
 * weights are a raw float32 file (`--weights`; default: the seeded initial weights, trained for `--train-epochs`
 * on the training set when the directory holds it). Prints the figures and writes JSON.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { idxToDataset, readIdxFile } from '../shared/data/idx.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { Model, modelSpec, initialWeights } from '../shared/models/model.js';
import { robustAccuracyAsync, STANDARD_ATTACKS } from '../shared/attacks/robust-accuracy.js';
import { range } from '../shared/train/batches.js';
import { trainLocal } from '../shared/train/sgd.js';
import { SimulationPool } from '../simulations/pool/pool.js';
import { intFlag } from '../shared/util/flags.js';
import type { Dataset } from '../shared/data/dataset.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  weights: { type: 'string' },
  'save-weights': { type: 'string' },
  data: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
  count: { type: 'string', default: '10000' },
  attacks: { type: 'string', default: 'clean,pgd-strong' },
  batch: { type: 'string' },
  workers: { type: 'string' },
  'train-epochs': { type: 'string', default: '2' },
  backend: { type: 'string' },
  out: { type: 'string', default: 'runs/bench-eval.json' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const choice = await initBackend({ gpu: true, ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}) });
  const gpu = choice.name === 'webgpu' || choice.name === 'tfjs-node-gpu';

  /** The test split (and the training split, when present) of an IDX directory. */
  function load(dir: string): { test: Dataset; train?: Dataset } {
    if (!existsSync(dir)) {
      console.error(`${dir} not found: using synthetic data (install dataset-fashion-mnist for real figures)`);
      const s = makeSyntheticDataset({ count: 2000, testCount: 10000, seed: 1 });
      return { test: s.test, train: s.train };
    }
    // Only the test files are required (a GPU machine gets the test set and trained weights, nothing else).
    const file = (stem: string): string | undefined => [stem, `${stem}.gz`].map((n) => path.join(dir, n)).find((p) => existsSync(p));
    const [ti, tl, ri, rl] = ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte'].map(file);
    if (ti === undefined || tl === undefined) throw new Error(`${dir} holds no t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]`);
    const test = idxToDataset(readIdxFile(ti), readIdxFile(tl), { name: 'test' });
    const train = ri !== undefined && rl !== undefined ? idxToDataset(readIdxFile(ri), readIdxFile(rl), { name: 'train' }) : undefined;
    return { test, ...(train !== undefined ? { train } : {}) };
  }

  const { test, train } = load(values.data!);
  const count = Math.min(intFlag('count', values.count, 1), test.count);
  const spec = modelSpec('cnn-mnist', [test.height, test.width, test.channels], test.numClasses);
  let weights: Float32Array;
  let trainedHere = 0;
  if (values.weights !== undefined) {
    const buf = readFileSync(values.weights);
    weights = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
  } else {
    const m = new Model(spec, initialWeights(spec, 1));
    trainedHere = train !== undefined ? intFlag('train-epochs', values['train-epochs'], 0) : 0;
    if (trainedHere > 0) trainLocal(m, train!, range(train!.count), { epochs: trainedHere, batchSize: 64, lr: 0.01, momentum: 0.9, seed: 1 });
    weights = m.getWeights();
    m.dispose();
  }
  if (values['save-weights'] !== undefined) writeFileSync(values['save-weights'], Buffer.from(weights.buffer));
  const names = values.attacks!.split(',');
  for (const n of names) if (STANDARD_ATTACKS[n] === undefined) throw new Error(`--attacks: unknown attack ${n}; known: ${Object.keys(STANDARD_ATTACKS).join(', ')}`);

  const accuracy: Record<string, number> = {};
  const ms: Record<string, number> = {};
  let mode: string;
  if (gpu) {
    const batch = intFlag('batch', values.batch ?? '10000', 1);
    mode = `${choice.name} main thread, batches of ${batch}`;
    const model = new Model(spec, weights);
    // One warm-up batch per attack compiles the shaders; it is not timed.
    for (const n of names) {
      const a = STANDARD_ATTACKS[n]!;
      const s = a.kind === 'pgd' ? { ...a, steps: 1, restarts: 1, seed: 1 } : a;
      await robustAccuracyAsync(model, test, s, range(Math.min(batch, count)), batch);
    }
    for (const n of names) {
      const a = STANDARD_ATTACKS[n]!;
      const t0 = performance.now();
      accuracy[n] = await robustAccuracyAsync(model, test, a.kind === 'pgd' ? { ...a, seed: 1 } : a, range(count), batch);
      ms[n] = performance.now() - t0;
    }
    model.dispose();
  } else {
    const workers = values.workers !== undefined ? intFlag('workers', values.workers, 1) : undefined;
    const pool = new SimulationPool({ train: test, test, parts: [range(1)], ...(workers !== undefined ? { workers } : {}) });
    mode = `${choice.name}, worker pool of ${pool.workers}, chunks of 500`;
    await pool.evaluate('cnn-mnist', weights, 500, [{ name: 'clean', spec: STANDARD_ATTACKS['clean']! }], 1); // warm the workers
    for (const n of names) {
      const t0 = performance.now();
      const r = await pool.evaluate('cnn-mnist', weights, count, [{ name: n, spec: STANDARD_ATTACKS[n]! }], 1);
      ms[n] = performance.now() - t0;
      accuracy[n] = r.accuracy[n]!;
    }
    await pool.close();
  }
  console.log(`robustness evaluation of cnn-mnist on ${count} test images (${mode}; weights ${values.weights ?? `seeded, trained ${trainedHere} epochs here`}):`);
  for (const n of names) console.log(`  ${n.padEnd(12)} accuracy ${(100 * accuracy[n]!).toFixed(2).padStart(6)} %   ${(ms[n]! / 1000).toFixed(2).padStart(8)} s`);
  const result = {
    backend: choice.name,
    adapter: choice.adapter ?? null,
    mode,
    count,
    attacks: Object.fromEntries(names.map((n) => [n, STANDARD_ATTACKS[n]])),
    accuracy,
    ms,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, tfjs: tf.version.tfjs },
    date: new Date().toISOString(),
  };
  mkdirSync(path.dirname(path.resolve(values.out!)), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}
