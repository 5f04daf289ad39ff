/**
 * A small, seeded, easily learnable image dataset for tests and smoke runs: each class is a fixed random block
 * pattern (a coarse grid of on/off cells, so convolutions and pooling see it) plus Gaussian pixel noise, clipped
 * to [0, 1]. Tiny models separate the classes within a few SGD steps; it says nothing about real-data accuracy.
 */
import { Rng, type RngSeed } from '../util/random.js';
import { DataError, type Dataset, type DatasetSplit } from './dataset.js';

/** Options for `makeSyntheticDataset`; omitted fields take `SYNTHETIC_DEFAULTS`. */
export interface SyntheticOptions {
  /** Training examples (≥ 1). */
  count: number;
  /** Test examples (≥ 0); default ceil(count / 5). */
  testCount?: number;
  /** Image height in pixels; default 28 (fits CNNMnist). */
  height?: number;
  /** Image width in pixels; default 28. */
  width?: number;
  /** Channels; default 1. */
  channels?: number;
  /** Classes (2 … 256); default 10. Labels are balanced to within one example per class. */
  numClasses?: number;
  /** Seed of prototypes, labels and noise. */
  seed: RngSeed;
  /** Standard deviation of the per-pixel Gaussian noise, in pixel units [0, 1]; default 0.15. */
  noise?: number;
  /** Prototype grid: cells per side (1 … min(height, width)); default 7 (4×4-pixel cells at 28×28). */
  cells?: number;
  /** Dataset name; default 'synthetic'. */
  name?: string;
}

/** Defaults of the optional `SyntheticOptions` fields. */
export const SYNTHETIC_DEFAULTS = {
  height: 28,
  width: 28,
  channels: 1,
  numClasses: 10,
  noise: 0.15,
  cells: 7,
  name: 'synthetic',
} as const;

/** Pixel levels of an "off" and an "on" prototype cell, before noise. */
const OFF = 0.1;
const ON = 0.8;

function checkInt(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new DataError('config', `synthetic.${field} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Makes a seeded synthetic train/test split; the same options always give the same bytes. */
export function makeSyntheticDataset(opts: SyntheticOptions): DatasetSplit {
  const count = checkInt('count', opts.count, 1);
  const testCount = checkInt('testCount', opts.testCount ?? Math.ceil(count / 5), 0);
  const height = checkInt('height', opts.height ?? SYNTHETIC_DEFAULTS.height, 1, 4096);
  const width = checkInt('width', opts.width ?? SYNTHETIC_DEFAULTS.width, 1, 4096);
  const channels = checkInt('channels', opts.channels ?? SYNTHETIC_DEFAULTS.channels, 1, 64);
  const numClasses = checkInt('numClasses', opts.numClasses ?? SYNTHETIC_DEFAULTS.numClasses, 2, 256);
  const cells = checkInt('cells', opts.cells ?? Math.min(SYNTHETIC_DEFAULTS.cells, height, width), 1, Math.min(height, width));
  const noise = opts.noise ?? SYNTHETIC_DEFAULTS.noise;
  if (typeof noise !== 'number' || !(noise >= 0 && Number.isFinite(noise))) {
    throw new DataError('config', `synthetic.noise must be a finite number ≥ 0, got ${String(noise)}`);
  }
  if (opts.seed === undefined) throw new DataError('config', 'synthetic.seed must be given, got undefined');
  const name = opts.name ?? SYNTHETIC_DEFAULTS.name;
  const rng = new Rng(opts.seed).fork('synthetic');
  const prototypes = makePrototypes(rng.fork('prototypes'), numClasses, height, width, channels, cells);
  const shape = { height, width, channels, numClasses };
  const make = (n: number, part: string): Dataset => {
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) labels[i] = i % numClasses;
    rng.fork(`${part}/labels`).shuffle(labels);
    const size = height * width * channels;
    const images = new Float32Array(n * size);
    const noiseRng = rng.fork(`${part}/noise`);
    for (let i = 0; i < n; i++) {
      const proto = prototypes[labels[i]!]!;
      for (let p = 0; p < size; p++) {
        const v = proto[p]! + (noise > 0 ? noise * noiseRng.normal() : 0);
        images[i * size + p] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
    return { name, images, labels, count: n, ...shape };
  };
  return { train: make(count, 'train'), test: make(testCount, 'test') };
}

/**
 * One block pattern per class. Patterns are redrawn (a bounded number of times) until pairwise distinct, so
 * with enough cells no two classes share a prototype.
 */
function makePrototypes(rng: Rng, numClasses: number, height: number, width: number, channels: number, cells: number): Float32Array[] {
  const gridSize = cells * cells * channels;
  const grids: Uint8Array[] = [];
  const seen = new Set<string>();
  for (let k = 0; k < numClasses; k++) {
    let grid = new Uint8Array(gridSize);
    for (let attempt = 0; attempt < 64; attempt++) {
      grid = new Uint8Array(gridSize);
      for (let g = 0; g < gridSize; g++) grid[g] = rng.bernoulli(0.5) ? 1 : 0;
      if (!seen.has(grid.join(''))) break;
    }
    seen.add(grid.join(''));
    grids.push(grid);
  }
  return grids.map((grid) => {
    const img = new Float32Array(height * width * channels);
    for (let y = 0; y < height; y++) {
      const cy = Math.floor((y * cells) / height);
      for (let x = 0; x < width; x++) {
        const cx = Math.floor((x * cells) / width);
        for (let c = 0; c < channels; c++) {
          img[(y * width + x) * channels + c] = grid[(cy * cells + cx) * channels + c] ? ON : OFF;
        }
      }
    }
    return img;
  });
}
